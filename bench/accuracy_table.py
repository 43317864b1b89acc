"""Accuracy table: max ulp of every elementwise kernel over the parameter grid, next to NumPy/SciPy.

Run from the repository root (a few minutes on 2 cores; the Arb references come from the
reference cache of ``symsmooth verify`` when it holds them)::

    python bench/accuracy_table.py                     # prints the markdown table
    python bench/accuracy_table.py --out other/folder  # kernels of another generated/ folder

The points are exactly those of ``symsmooth verify NAME --grid``: the regimes of
:mod:`symsmooth.verification.grids` (plus antiparallel pairs for two-input kernels) at every
parameter value of :func:`symsmooth.verification.regimes.parameter_points` (the sharpness/width
over ``SHARPNESS_GRID`` and the domain edges), with the same certified Arb references
(:func:`symsmooth.verification.points.elementwise_cases`).  Each cell is the largest ulp error
over all of them (``inf``: an infinite or NaN result where the exact value is finite; points
outside the real domain are not counted).  The peers are the forms a NumPy/SciPy user writes
given ``k*x`` (``np.logaddexp(0, k*x)/k``, ``scipy.special.expit``, ``erf``-based GELU as
torch's exact ``gelu``), evaluated in the data's dtype (float32 arithmetic for float32 data, as
NumPy and torch do); their gradients are the library forms of the analytic derivative.  torch
itself is not used (not installed here); its formulas are those of the erf/sigmoid peers.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.special as sps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symsmooth import catalog, pipeline  # noqa: E402
from symsmooth.verification.cache import NOT_REAL, ReferenceCache, default_dir  # noqa: E402
from symsmooth.verification.kernels import MINIMUM_PER_REGIME  # noqa: E402
from symsmooth.verification.points import elementwise_cases  # noqa: E402
from symsmooth.verification.regimes import GRID_FRACTION, parameter_points  # noqa: E402
from symsmooth.verification.ulp import ulp_errors  # noqa: E402

SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _dsig(z):
    s = sps.expit(z)
    return s * (1 - s)


def _phi(z):
    return np.exp(-0.5 * z * z) * z.dtype.type(INV_SQRT_2PI)


def _t(x, value):
    """``value`` in the dtype of ``x`` (a float32 peer stays in float32 arithmetic)."""
    return np.asarray(x).dtype.type(value)


PEERS = {
    # name: (formula as printed, value(x, *params), {part: gradient(x, *params)})
    "softplus": (
        "np.logaddexp(0, k*x)/k; expit(k*x)",
        lambda x, k: np.logaddexp(0, k * x) / k,
        {"grad_x": lambda x, k: sps.expit(k * x)},
    ),
    "soft_heaviside": (
        "expit(k*x); k*s*(1-s)",
        lambda x, k: sps.expit(k * x),
        {"grad_x": lambda x, k: k * _dsig(k * x)},
    ),
    "swish": (
        "x*expit(k*x); s + k*x*s*(1-s)",
        lambda x, k: x * sps.expit(k * x),
        {"grad_x": lambda x, k: sps.expit(k * x) + k * x * _dsig(k * x)},
    ),
    "gelu": (
        "x/2*(1 + erf(x/(sigma*sqrt2))) (torch); Phi + z*phi(z)",
        lambda x, s: 0.5 * x * (1 + sps.erf(x / (s * _t(x, SQRT2)))),
        {"grad_x": lambda x, s: sps.ndtr(x / s) + (x / s) * _phi(x / s)},
    ),
    "relu_gaussian": (
        "x*ndtr(x/sigma) + sigma*phi(x/sigma); ndtr(x/sigma)",
        lambda x, s: x * sps.ndtr(x / s) + s * _phi(x / s),
        {"grad_x": lambda x, s: sps.ndtr(x / s)},
    ),
    "sau": (
        "alpha*x + (1-alpha)*relu_gaussian; alpha + (1-alpha)*ndtr",
        lambda x, s, a: a * x + (1 - a) * (x * sps.ndtr(x / s) + s * _phi(x / s)),
        {"grad_x": lambda x, s, a: a + (1 - a) * sps.ndtr(x / s)},
    ),
    "smu": (
        "((1+alpha)x + (1-alpha)x erf(mu(1-alpha)x))/2",
        lambda x, m, a: ((1 + a) * x + (1 - a) * x * sps.erf(m * (1 - a) * x)) / 2,
        {
            "grad_x": lambda x, m, a: (
                (
                    (1 + a)
                    + (1 - a) * sps.erf(m * (1 - a) * x)
                    + (1 - a) ** 2
                    * m
                    * x
                    * _t(x, TWO_OVER_SQRT_PI)
                    * np.exp(-((m * (1 - a) * x) ** 2))
                )
                / 2
            )
        },
    ),
    "smu1": (
        "((1+alpha)x + sqrt((1-alpha)^2 x^2 + mu^2))/2",
        lambda x, m, a: ((1 + a) * x + np.sqrt(((1 - a) * x) ** 2 + m * m)) / 2,
        {
            "grad_x": lambda x, m, a: (
                ((1 + a) + (1 - a) ** 2 * x / np.sqrt(((1 - a) * x) ** 2 + m * m)) / 2
            )
        },
    ),
    "soft_sign_tanh": (
        "np.tanh(k*x); k*(1 - tanh^2)",
        lambda x, k: np.tanh(k * x),
        {"grad_x": lambda x, k: k * (1 - np.tanh(k * x) ** 2)},
    ),
    "soft_sign_erf": (
        "erf(k*x); 2k/sqrt(pi) exp(-(kx)^2)",
        lambda x, k: sps.erf(k * x),
        {"grad_x": lambda x, k: k * _t(x, TWO_OVER_SQRT_PI) * np.exp(-((k * x) ** 2))},
    ),
    "soft_sign_arctan": (
        "2/pi*arctan(k*x); 2k/(pi(1 + (kx)^2))",
        lambda x, k: _t(x, 2 / math.pi) * np.arctan(k * x),
        {"grad_x": lambda x, k: _t(x, 2 / math.pi) * k / (1 + (k * x) ** 2)},
    ),
    "abs_xtanh": (
        "x*tanh(k*x)",
        lambda x, k: x * np.tanh(k * x),
        {"grad_x": lambda x, k: np.tanh(k * x) + k * x * (1 - np.tanh(k * x) ** 2)},
    ),
    "abs_xerf": (
        "x*erf(k*x)",
        lambda x, k: x * sps.erf(k * x),
        {
            "grad_x": lambda x, k: (
                sps.erf(k * x) + k * x * _t(x, TWO_OVER_SQRT_PI) * np.exp(-((k * x) ** 2))
            )
        },
    ),
    "abs_logcosh": (
        "(np.logaddexp(kx, -kx) - log 2)/k; tanh(kx)",
        lambda x, k: (np.logaddexp(k * x, -k * x) - _t(x, math.log(2))) / k,
        {"grad_x": lambda x, k: np.tanh(k * x)},
    ),
    "smooth_abs_log2cosh": (
        "np.logaddexp(kx, -kx)/k; tanh(kx)",
        lambda x, k: np.logaddexp(k * x, -k * x) / k,
        {"grad_x": lambda x, k: np.tanh(k * x)},
    ),
    "smooth_abs_logistic": (
        "2*np.logaddexp(kx/2, -kx/2)/k; tanh(kx/2)",
        lambda x, k: 2 * np.logaddexp(k * x / 2, -k * x / 2) / k,
        {"grad_x": lambda x, k: np.tanh(k * x / 2)},
    ),
    "abs_sqrt": (
        "np.hypot(x, mu); x/hypot",
        lambda x, m: np.hypot(x, m),
        {"grad_x": lambda x, m: x / np.hypot(x, m)},
    ),
    "max_pair_logsumexp": (
        "np.logaddexp(kx, ky)/k; expit(k(x-y))",
        lambda x, y, k: np.logaddexp(k * x, k * y) / k,
        {
            "grad_x": lambda x, y, k: sps.expit(k * (x - y)),
            "grad_y": lambda x, y, k: sps.expit(k * (y - x)),
        },
    ),
    "max_abs_pair_logsumexp": (
        "logsumexp(+-2kx, +-2ky)/(2k); softmax weights",
        lambda x, y, k: (
            sps.logsumexp(np.stack([2 * k * x, -2 * k * x, 2 * k * y, -2 * k * y]), 0) / (2 * k)
        ),
        {
            "grad_x": lambda x, y, k: _lse_weights(x, y, k, 0),
            "grad_y": lambda x, y, k: _lse_weights(x, y, k, 1),
        },
    ),
    "max_pair_double_exp": (
        "log(np.logaddexp(exp(kx), exp(ky)))/k",
        lambda x, y, k: np.log(np.logaddexp(np.exp(k * x), np.exp(k * y))) / k,
        {},
    ),
}
"""The NumPy/SciPy peer of each kernel; a kernel without one (max_pair_odd_power) is listed
with its own errors only."""


def _lse_weights(x, y, k, which):
    z = np.stack([2 * k * x, -2 * k * x, 2 * k * y, -2 * k * y])
    w = sps.softmax(z, axis=0)
    return (w[0] - w[1]) if which == 0 else (w[2] - w[3])


def _max_ulp(computed, refs, dtype) -> tuple[float, int]:
    """Largest ulp error over the points with a real reference (None, NOT_REAL: not counted),
    and the index of its point (-1: none)."""
    keep = [j for j, r in enumerate(refs) if r is not None and r is not NOT_REAL]
    if not keep:
        return 0.0, -1
    got = np.asarray(computed, dtype=np.float64).reshape(-1)[keep].astype(dtype)
    err = ulp_errors(got, [refs[j] for j in keep], dtype)
    err = np.where(np.isnan(err), np.inf, err)
    at = int(np.argmax(err))
    return float(err[at]), keep[at]


def measure_kernel(name: str, out: str, store: ReferenceCache, per_regime: int) -> dict:
    """``{(who, part, dtype): (max ulp, where)}`` for the kernel (who ``"symsmooth"``) and its
    peer (``"peer"``), ``part`` ``"value"`` or ``"grad"`` (the largest over the partials),
    ``where`` the regime, part and point of the largest error."""
    record = catalog.get(name)
    spec = pipeline.kernel_spec(record)
    module = pipeline.load(spec.name, out)
    fns = {"value": getattr(module, name)} | {
        f"grad_{v}": getattr(module, f"{name}_grad_{v}") for v in spec.input_names
    }
    peer = PEERS.get(name)
    integer = bool(record.param.is_integer)  # max_pair_odd_power: k an integer
    points = parameter_points(
        name, str(record.param), tuple(spec.param_names), dict(record.fixed), integer=integer
    )
    worst: dict = {}
    for j, point in enumerate(points):
        params = tuple(float(point[p]) for p in spec.param_names)
        count = per_regime if j == 0 else max(MINIMUM_PER_REGIME, per_regime // GRID_FRACTION)
        for dt in (np.dtype(np.float64), np.dtype(np.float32)):
            for case in elementwise_cases(spec, params, dt, count, store):
                part = "value" if case.part == "value" else "grad"
                runs = [("symsmooth", fns[case.part])]
                if peer is not None:
                    form = peer[1] if case.part == "value" else peer[2].get(case.part)
                    runs += [("peer", form)] if form is not None else []
                for who, fn in runs:
                    err, at = _max_ulp(fn(*case.args), case.refs, dt)
                    key = (who, part, dt.name)
                    if key not in worst or err > worst[key][0]:
                        inputs = ", ".join(f"{float(c[at])!r}" for c in case.columns)
                        where = f"{case.part} {case.regime} at ({inputs}), {point}"
                        worst[key] = (err, where if at >= 0 else "")
    return worst


def _cell(value) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "inf"
    return f"{value:.3g}" if value < 1e4 else f"{value:.1e}"


def table(names, out: str, per_regime: int, log=None) -> str:
    """The markdown table; ``log`` (a file) also gets the worst input of every cell."""
    store = ReferenceCache(default_dir())
    header = (
        "| kernel | value f64 | grad f64 | value f32 | grad f32 | NumPy/SciPy peer "
        "(value; grad) |\n|---|---|---|---|---|---|\n"
    )
    lines = []
    for name in names:
        w = measure_kernel(name, out, store, per_regime)
        cells = []
        for part, dt in (
            ("value", "float64"),
            ("grad", "float64"),
            ("value", "float32"),
            ("grad", "float32"),
        ):
            ours, theirs = w.get(("symsmooth", part, dt)), w.get(("peer", part, dt))
            cells.append(_cell(ours[0]) + (f" / {_cell(theirs[0])}" if theirs else ""))
            for who, got in (("symsmooth", ours), ("peer", theirs)):
                if log is not None and got:
                    print(f"{name} {who} {dt}: {_cell(got[0])} ulp, {got[1]}", file=log)
        formula = PEERS[name][0] if name in PEERS else "no library form"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | `{formula}` |")
    return header + "\n".join(lines)


def elementwise_names() -> list[str]:
    return [n for n in pipeline.catalog_names() if pipeline.kernel_spec(n).kind == "elementwise"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="kernels (default: every elementwise one)")
    parser.add_argument("--out", default="generated", help="folder of generated modules")
    parser.add_argument("--per-regime", type=int, default=48, help="as symsmooth verify")
    parser.add_argument("--worst", action="store_true", help="print each cell's worst input")
    args = parser.parse_args(argv)
    names = args.names or elementwise_names()
    start = time.perf_counter()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        text = table(names, args.out, args.per_regime, sys.stderr if args.worst else None)
    print(text)
    print(f"\n({len(names)} kernels, {time.perf_counter() - start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
