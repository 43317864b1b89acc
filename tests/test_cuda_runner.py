"""Child process of tests/test_cuda.py (and of bench/bench_cuda.py): runs the CUDA kernels of
generated modules and prints one JSON object.  It holds no tests itself.

``NUMBA_ENABLE_CUDASIM`` must be decided before ``numba.cuda`` is first imported, so every run
that uses the simulator is a process of its own::

    NUMBA_ENABLE_CUDASIM=1 python tests/test_cuda_runner.py sim DIR NAME...   # simulator
    python tests/test_cuda_runner.py sim DIR NAME...                          # a real GPU
    python tests/test_cuda_runner.py ptx DIR NAME...                          # PTX, no GPU needed
    NUMBA_ENABLE_CUDASIM=1 python tests/test_cuda_runner.py api DIR           # launcher semantics

``sim`` measures ``<name>_cuda`` / ``<name>_grad_cuda`` against mpmath with
:func:`symsmooth.verification.kernels.measure` (the CPU kernel's own verification, on small grids),
and records the largest ulp distance between the CUDA and the CPU outputs at the same points.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def ulp_distance(a, b) -> float:
    """Largest distance in ulps of ``a``'s dtype between two arrays (NaN == NaN, inf == inf)."""
    a, b = np.asarray(a), np.asarray(b)
    dtype = a.dtype if a.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    a, b = a.astype(dtype).ravel(), b.astype(dtype).ravel()
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if same.all():
        return 0.0
    a, b = a[~same], b[~same]
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    spacing = np.spacing(np.maximum(np.abs(a), np.abs(b)))
    return float(np.max(np.abs(a.astype(np.float64) - b) / spacing))


def _where(folders: str, name: str) -> str:
    """The first of ``folders`` (joined by ``os.pathsep``) that holds ``name.py``."""
    for folder in folders.split(os.pathsep):
        if (Path(folder) / f"{name}.py").is_file():
            return folder
    raise FileNotFoundError(f"{name}.py is in none of {folders}")


def _picker(j: int):
    return lambda g: g[j] if isinstance(g, tuple) else g


class Recorder:
    """Module stand-in for :func:`measure`: calls the CUDA launcher, records its ulp distance
    to the CPU function at the same arguments, returns the CUDA result."""

    def __init__(self, spec, module):
        self.distance = {}
        name = spec.name
        if spec.kind != "elementwise":  # reductions and iterations: one row input
            setattr(self, name, self._wrap(f"{name}", module, f"{name}_cuda", name))
            setattr(
                self,
                f"{name}_grad",
                self._wrap("grad", module, f"{name}_grad_cuda", f"{name}_grad"),
            )
            return
        setattr(self, name, self._wrap("value", module, f"{name}_cuda", name))
        for j, v in enumerate(spec.input_names):
            pick = _picker(j)
            setattr(
                self,
                f"{name}_grad_{v}",
                self._wrap(f"grad_{v}", module, f"{name}_grad_cuda", f"{name}_grad_{v}", pick),
            )

    def _wrap(self, part, module, cuda_name, cpu_name, pick=lambda g: g):
        cuda_fn, cpu_fn = getattr(module, cuda_name), getattr(module, cpu_name)

        def call(*args, **kwargs):
            got = pick(cuda_fn(*args, **kwargs))
            want = cpu_fn(*args, **kwargs)
            parts = zip(got, want, strict=True) if isinstance(got, tuple) else [(got, want)]
            for g, w in parts:
                dtype = np.asarray(w).dtype.name
                key = f"{part}/{dtype}"
                if np.asarray(g).dtype != np.asarray(w).dtype or np.shape(g) != np.shape(w):
                    self.distance[key] = float("inf")
                    continue
                self.distance[key] = max(self.distance.get(key, 0.0), ulp_distance(g, w))
            return got

        return call


def user_specs() -> dict:
    """Reductions a user writes (no catalog entry, no hand-written kernel): the Boltzmann
    operator sum(x e^{kx}) / sum(e^{kx}) and mellowmax log((1/n) sum e^{w x}) / w."""
    import sympy as sp

    from symsmooth.codegen.spec import make_spec

    x = sp.IndexedBase("x", real=True)
    i = sp.Symbol("i", integer=True, positive=True)
    n = sp.Symbol("n", integer=True, positive=True)
    k, w = sp.Symbol("k", positive=True), sp.Symbol("w", positive=True)
    total = lambda f: sp.Sum(f, (i, 1, n))  # noqa: E731
    boltzmann = total(x[i] * sp.exp(k * x[i])) / total(sp.exp(k * x[i]))
    mellowmax = sp.log(total(sp.exp(w * x[i])) / n) / w
    return {
        "boltzmann": make_spec("boltzmann", boltzmann, (x,), (k,), index=i, size=n),
        "mellowmax": make_spec("mellowmax", mellowmax, (x,), (w,), index=i, size=n),
    }


def _spec(name):
    from symsmooth import pipeline

    users = user_specs()
    return users[name] if name in users else pipeline.kernel_spec(name)


def float32_runs(spec, recorder) -> None:
    """float32 inputs through the recorder (CUDA vs CPU distance only; the CPU kernel's float32
    accuracy is its own tests' business): every elementwise regime in one launch, and the
    moderate and -inf rows of a reduction."""
    from symsmooth.verification.grids import elementwise_grid, row_grid

    params = [1.0] * len(spec.params)
    f32 = np.float32
    if spec.kind == "elementwise":
        grid = np.concatenate(list(elementwise_grid(f32, 3).values()))
        rng = np.random.default_rng(1)
        cols = [grid] + [rng.permutation(grid) for _ in spec.inputs[1:]]
        getattr(recorder, spec.name)(*cols, *params)
        for v in spec.input_names:
            getattr(recorder, f"{spec.name}_grad_{v}")(*cols, *params)
        return
    grids = row_grid(len(spec.inputs), f32, long_n=64)
    for regime in ("moderate", "with_neg_inf"):
        mats = grids[regime]
        getattr(recorder, spec.name)(*mats, *params)
        getattr(recorder, f"{spec.name}_grad")(*mats, *params)


def sim(folder: str, names: list[str]) -> dict:
    from symsmooth.codegen.render import load_module
    from symsmooth.verification.kernels import measure

    out = {}
    for name in names:
        start = time.perf_counter()
        try:
            spec = _spec(name)
            module = load_module(name, _where(folder, name))
            recorder = Recorder(spec, module)
            options = dict(per_regime=4, long_n=96, grad_points=12, dtypes=(np.float64,))
            report = measure(spec, recorder, **options)
            float32_runs(spec, recorder)
            # where CUDA misses a target, the CPU kernel's error at the same points (no sim)
            cpu = {}
            if not report.ok:
                cpu = {
                    (r.part, r.dtype, r.regime): r.max_ulp
                    for r in measure(spec, module, **options).rows
                }
            rows = [
                dict(
                    part=r.part,
                    dtype=r.dtype,
                    regime=r.regime,
                    max_ulp=r.max_ulp,
                    target=r.target,
                    cpu_max_ulp=cpu.get((r.part, r.dtype, r.regime)),
                )
                for r in report.rows
            ]
            out[name] = dict(rows=rows, distance=recorder.distance, error=None)
        except Exception as exc:  # noqa: BLE001 - reported per kernel to the parent
            out[name] = dict(rows=[], distance={}, error=f"{type(exc).__name__}: {exc}")
        out[name]["seconds"] = time.perf_counter() - start
    return out


def ptx(folder: str, names: list[str]) -> dict:
    from symsmooth.codegen.cuda_check import compile_module_ptx
    from symsmooth.codegen.render import load_module

    out = {}
    for name in names:
        start = time.perf_counter()
        try:
            module = load_module(name, _where(folder, name))
            # float32 and float64 for sm_80, the value kernel in float64 for sm_90 (the data
            # dtype only changes the loads; the capability only the final PTX, and the
            # gradient kernel calls the value's helpers): keeps the catalog check short
            results = compile_module_ptx(module, ccs=[(8, 0)])
            value = next(iter(module._CUDA_SIGNATURES))
            results += compile_module_ptx(
                module, ccs=[(9, 0)], dtypes=("float64",), kernels=(value,)
            )
            out[name] = dict(
                compiled=[[r.kernel, r.signature, list(r.cc), r.size] for r in results],
                error=None,
            )
        except Exception as exc:  # noqa: BLE001
            out[name] = dict(compiled=[], error=f"{type(exc).__name__}: {str(exc)[:3000]}")
        out[name]["seconds"] = time.perf_counter() - start
    return out


def api(folder: str) -> dict:
    """Launcher semantics in the simulator: device in -> device out, shapes, dtypes, blocks."""
    from symsmooth.codegen.render import load_module

    lse = load_module("logsumexp_max", _where(folder, "logsumexp_max"))
    before = "numba.cuda" in sys.modules
    from numba import cuda

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 37)) * 5
    res = {"imported_numba_cuda_at_load": before}
    dev = cuda.to_device(x)
    interval = sys.getswitchinterval()
    seen = []  # the switch interval while a block runs (the runtime's quickened BlockManager)
    probe = cuda.jit(lambda out: seen.append(sys.getswitchinterval()))
    got = lse.logsumexp_max_cuda(dev, 2.0)
    probe[1, 1](np.zeros(1))
    res["switch_interval"] = [interval, sorted(set(seen)), sys.getswitchinterval()]
    res["device_out_type"] = type(got).__name__
    res["device_out_shape"] = list(got.shape)
    res["device_vs_cpu"] = ulp_distance(got.copy_to_host(), lse.logsumexp_max(x, 2.0))
    res["blocks"] = {
        str(b): ulp_distance(lse.logsumexp_max_cuda(x, 2.0, block=b), lse.logsumexp_max(x, 2.0))
        for b in [(1, 3), (4, 4), (32, 1), (64, 1), (32, 2)]
    }
    k_rows = np.linspace(0.5, 3.0, 6).reshape(2, 3)
    res["per_row_params"] = ulp_distance(
        lse.logsumexp_max_cuda(x, k_rows), lse.logsumexp_max(x, k_rows)
    )
    x32 = x.astype(np.float32)
    got32 = lse.logsumexp_max_cuda(x32, 2.0)
    res["float32_dtype"] = got32.dtype.name
    res["float32_vs_cpu"] = ulp_distance(got32, lse.logsumexp_max(x32, 2.0))
    res["grad_device"] = ulp_distance(
        lse.logsumexp_max_grad_cuda(cuda.to_device(x32), 2.0).copy_to_host(),
        lse.logsumexp_max_grad(x32, 2.0),
    )
    edge = np.array([[-np.inf] * 5, [np.inf, 1.0, np.inf, 0.0, 2.0], [np.nan, 0.0, 1.0, 2.0, 3.0]])
    res["edges"] = ulp_distance(lse.logsumexp_max_cuda(edge, 1.0), lse.logsumexp_max(edge, 1.0))
    res["edges_grad"] = ulp_distance(
        lse.logsumexp_max_grad_cuda(edge, 1.0), lse.logsumexp_max_grad(edge, 1.0)
    )
    empty = np.zeros((3, 0))
    res["empty_rows"] = ulp_distance(
        lse.logsumexp_max_cuda(empty, 1.0), lse.logsumexp_max(empty, 1.0)
    )
    res["no_rows_shape"] = list(lse.logsumexp_max_cuda(np.zeros((0, 4)), 1.0).shape)
    try:
        lse.logsumexp_max_cuda(x, 1.0, block=(48, 1))
        res["bad_block"] = "accepted"
    except ValueError as exc:
        res["bad_block"] = str(exc)

    sm = load_module("softmax_onehot_argmax", _where(folder, "softmax_onehot_argmax"))
    cot = rng.standard_normal(x.shape)
    # a VJP p * (G - sum G p) cancels: compare on the scale of its terms, |G| p
    got = sm.softmax_onehot_argmax_grad_cuda(x, 1.5, cotangent=cot, block=(64, 1))
    want = sm.softmax_onehot_argmax_grad(x, 1.5, cotangent=cot)
    scale = np.abs(cot) * sm.softmax_onehot_argmax(x, 1.5) + np.finfo(float).tiny
    res["rowmap_cotangent"] = float(np.max(np.abs(got - want) / scale))
    sp = load_module("softplus", _where(folder, "softplus"))
    xs = rng.standard_normal((3, 1)) * 20
    ks = np.array([0.5, 1.0, 2.0, 4.0])
    res["broadcast"] = ulp_distance(sp.softplus_cuda(xs, ks), sp.softplus_ufunc(xs, ks))
    res["broadcast_shape"] = list(sp.softplus_cuda(xs, ks).shape)
    dx = cuda.to_device(np.ascontiguousarray(np.broadcast_to(xs, (3, 4))))
    got = sp.softplus_cuda(dx, cuda.to_device(np.array([2.0])))
    res["elementwise_device"] = [
        type(got).__name__,
        ulp_distance(got.copy_to_host(), sp.softplus_ufunc(xs, 2.0) + 0 * ks),
    ]
    try:
        sp.softplus_cuda(dx, cuda.to_device(ks[:3]))
        res["bad_device_broadcast"] = "accepted"
    except ValueError as exc:
        res["bad_device_broadcast"] = str(exc)
    big = rng.standard_normal(1000) * 30
    res["grid_stride"] = ulp_distance(sp.softplus_cuda(big, 1.0), sp.softplus_ufunc(big, 1.0))
    res.update(_masks(folder, rng, lse, sm))
    return res


def _masks(folder: str, rng, lse, sm) -> dict:
    """``where=`` on the launchers against the CPU functions: masked entries hold values that
    would show (NaN, +inf, 1e300), a row is fully masked, the mask is a host or a device
    array; labels (cross-entropy), a 0/0 value (soft argmax), a pivoted gradient."""
    from numba import cuda

    from symsmooth.codegen.render import load_module

    x = rng.standard_normal((5, 23)) * 4
    keep = rng.random(x.shape) < 0.7
    keep[1] = False
    keep[2, :] = True
    x[~keep] = np.where(rng.random((~keep).sum()) < 0.5, np.nan, 1e300)
    x[3, ~keep[3]] = np.inf
    t = np.array([int(np.flatnonzero(keep[r])[0]) + 1 if keep[r].any() else 1 for r in range(5)])
    cot = rng.standard_normal(x.shape)
    ce = load_module("cross_entropy_lse", _where(folder, "cross_entropy_lse"))
    sa = load_module("soft_argmax", _where(folder, "soft_argmax"))
    dev = cuda.to_device(keep)
    pairs = {
        "lse": (lse.logsumexp_max_cuda(x, 1.7, where=keep), lse.logsumexp_max(x, 1.7, where=keep)),
        "lse_device_mask": (
            lse.logsumexp_max_cuda(x, 1.7, where=dev),
            lse.logsumexp_max(x, 1.7, where=keep),
        ),
        "lse_grad": (
            lse.logsumexp_max_grad_cuda(x, 1.7, where=keep),
            lse.logsumexp_max_grad(x, 1.7, where=keep),
        ),
        "softmax": (
            sm.softmax_onehot_argmax_cuda(x, 0.6, where=keep[0]),
            sm.softmax_onehot_argmax(x, 0.6, where=keep[0]),
        ),
        "softmax_vjp": (
            sm.softmax_onehot_argmax_grad_cuda(x, 0.6, cotangent=cot, where=keep),
            sm.softmax_onehot_argmax_grad(x, 0.6, cotangent=cot, where=keep),
        ),
        "ce": (
            ce.cross_entropy_lse_cuda(x, 1.3, t, where=keep),
            ce.cross_entropy_lse(x, 1.3, t, where=keep),
        ),
        "ce_grad": (
            ce.cross_entropy_lse_grad_cuda(x, 1.3, t, where=keep),
            ce.cross_entropy_lse_grad(x, 1.3, t, where=keep),
        ),
        "soft_argmax": (
            sa.soft_argmax_cuda(x, 2.0, where=keep),
            sa.soft_argmax(x, 2.0, where=keep),
        ),
    }
    res = {f"mask_{k}": ulp_distance(a, b) for k, (a, b) in pairs.items()}
    res["mask_empty_rows"] = [
        float(pairs["lse"][0][1]),
        float(pairs["ce"][0][1]),
        float(pairs["soft_argmax"][0][1]),
    ]
    res["mask_masked_grads_zero"] = bool(
        not pairs["lse_grad"][0][~keep].any() and not pairs["ce_grad"][0][~keep].any()
    )
    bad = t.copy()
    bad[0] = int(np.flatnonzero(~keep[0])[0]) + 1  # a label on a masked entry of row 0
    try:
        ce.cross_entropy_lse_cuda(x, 1.3, bad, where=keep)
        res["mask_bad_label"] = "accepted"
    except ValueError as exc:
        res["mask_bad_label"] = str(exc)
    try:
        lse.logsumexp_max_cuda(x, 1.7, where=cuda.to_device(keep[0]))
        res["mask_device_shape"] = "accepted"
    except ValueError as exc:
        res["mask_device_shape"] = str(exc)
    return res


def main(argv: list[str]) -> None:
    warnings.simplefilter("ignore")  # the simulator evaluates inf - inf etc. in NumPy scalars
    mode, folder, names = argv[0], argv[1], argv[2:]
    result = {"sim": sim, "ptx": ptx}[mode](folder, names) if mode != "api" else api(folder)
    sys.stdout.write("\n" + json.dumps(result, default=float) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main(sys.argv[1:])
