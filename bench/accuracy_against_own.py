"""The accuracy table of the native reductions next to a framework's own formulations, shared
by ``bench_native_reductions.py`` (torch) and ``bench_native_jax.py`` (``jax.nn``).

Both are measured with symsmooth's verifier (:func:`symsmooth.verification.kernels.measure`:
the grid and Arb-certified references of ``symsmooth verify NAME --target T``, ``k = 1``,
long rows of 2000).  Nothing here is asserted by the tests."""

from __future__ import annotations

import tempfile
from pathlib import Path

from symsmooth import pipeline

PARTS = ("value", "grad_x", "grad_k")


def compare(owns: dict, target: str, own_label: str) -> list[str]:
    """Markdown lines: max ulp per part and dtype (the worst regime in parentheses above 4 ulp)
    of the own formulations ``owns`` (name -> a module called as the verifier calls a kernel
    module) and of the native ``target`` modules of the same names (generated into a
    temporary folder), then every regime where the native module is worse than the own
    formulation and above 4 ulp (a max over the regimes can hide one)."""
    from symsmooth.verification.kernels import measure
    from symsmooth.verification.native_targets import numpy_facade

    columns = [f"{own_label} f64", f"native {target} f64", f"{own_label} f32"]
    columns.append(f"native {target} f32")
    lines = ["| kernel | part | " + " | ".join(columns) + " |", "|---|---|" + "---|" * 4]
    out = Path(tempfile.mkdtemp(prefix=f"bench_own_{target}_"))
    pipeline.generate(list(owns), out=out, targets=("cpu", target))
    worse = []
    for name, own in owns.items():
        worst, regimes = {}, {}
        modules = {"own": own, "native": pipeline.load_native(name, target, out)}
        for which, module in modules.items():
            report = measure(pipeline.kernel_spec(name), numpy_facade(module, target), long_n=2000)
            for r in report.rows:
                if r.max_ulp >= worst.get((r.part, r.dtype, which), (-1.0, ""))[0]:
                    worst[r.part, r.dtype, which] = (r.max_ulp, r.regime)
                seen = regimes.setdefault((r.part, r.dtype, r.regime), {})
                seen[which] = max(r.max_ulp, seen.get(which, 0.0))
        for part in PARTS:
            cells = [worst[part, d, w] for d in ("float64", "float32") for w in ("own", "native")]
            text = [f"{u:.3g} ({where})" if u > 4 else f"{u:.2f}" for u, where in cells]
            lines.append(f"| {name} | {part} | " + " | ".join(text) + " |")
        for (part, dtype, regime), u in regimes.items():
            if u.get("native", 0.0) > max(u.get("own", 0.0), 4.0):
                worse.append(
                    f"{name} {part} {dtype} {regime}: native {u['native']:.3g}, "
                    f"{own_label} {u.get('own', float('nan')):.3g}"
                )
    lines.append(f"native worse than {own_label} (> 4 ulp): " + ("; ".join(worse) or "none"))
    return lines
