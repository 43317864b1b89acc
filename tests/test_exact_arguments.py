"""Exact arguments (#12 item 1): kernels of ``k x`` and ``x/sigma`` accurate for the exact inputs.

The generated kernels (``generated/``) are measured against certified ball-arithmetic
references (:mod:`arb_exact`, python-flint) at parameters other than 1, on points whose results
are normal doubles; the naive form (the same helper fed ``fl(k x)``, as before) is shown to
fail where the exact-argument form holds.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp
from arb_exact import KERNELS, max_ulps, points, reference, ulps_at

from symsmooth.codegen.render import load_module
from symsmooth.functions import EXACT_FORMS, sigmoid, softplus
from symsmooth.runtime.double_double import _sigmoid
from symsmooth.runtime.exact import _sigmoid_xp, _softplus2, _two_quotient
from symsmooth.runtime.scalar import _softplus
from symsmooth.stabilization import stabilize
from symsmooth.stabilization.exact_args import exact_arguments, plain_arguments, split
from symsmooth.verification.ulp import ulp_error

GENERATED = Path(__file__).resolve().parents[1] / "generated"
TARGET = {
    "softplus": (1.0, 1.0),
    "swish": (1.75, 1.5),
    "soft_heaviside": (1.0, 2.0),
    "soft_sign_tanh": (2.0, 1.5),
    "gelu": (2.5, 1.0),
    "relu_gaussian": (2.25, 2.0),
}
"""Kernel -> (value, gradient) max ulp allowed of the libm ufuncs ``<f>_ufunc`` (measured
maxima + margin, see docs)."""
FAST_TARGET = {**TARGET, "softplus": (1.25, 1.0)}
"""The same for the public names, the ``_fast`` loops: softplus's branch-free exp/log1p
(symsmooth.runtime.fastmath) adds up to 0.5 ulp (1.12 measured at k = 3); swish's fast core
(0.98 measured) stays within its ufunc target; the other kernels run the ufunc's cores."""


def _load(name):
    return load_module(name, GENERATED)  # the generator's loader (its Numba cache keys)


@pytest.mark.parametrize("name", sorted(TARGET))
@pytest.mark.parametrize("p", [0.37, 3.0, 100.0])
def test_kernel_accurate_for_the_exact_inputs(name, p):
    xs = points(KERNELS[name][2], p, 60, seed=int(p * 100))
    module = _load(name)
    value, grad = max_ulps(module, name, p, xs)
    assert value <= FAST_TARGET[name][0] and grad <= FAST_TARGET[name][1], (value, grad)
    ufuncs = SimpleNamespace(
        **{
            name: getattr(module, f"{name}_ufunc"),
            f"{name}_grad_x": getattr(module, f"{name}_grad_x_ufunc"),
        }
    )
    value, grad = max_ulps(ufuncs, name, p, xs)
    assert value <= TARGET[name][0] and grad <= TARGET[name][1], (value, grad)


def test_softplus_issue_point():
    """softplus(x = -36.9, k = 3): 53 ulp before (issue #12), now within 1."""
    value, grad = ulps_at(_load("softplus"), "softplus", -36.9, 3.0)
    assert value <= 1.0 and grad <= 0.5
    exact = reference(KERNELS["softplus"][0], -36.9, 3.0)
    assert ulp_error(_softplus(3.0 * -36.9) / 3.0, exact) > 20  # the rounded k x


@pytest.mark.parametrize("x", [-230.3, -199.7, 150.7 / 3])
def test_naive_rounded_product_fails_where_exact_holds(x):
    exact = reference(KERNELS["soft_heaviside"][0], x, 3.0)
    assert ulp_error(_sigmoid(3.0 * x), exact) > 10 or x > 0  # exp(fl(k x)): ~|k x|/2 ulp
    assert ulp_error(_sigmoid_xp(x, 3.0), exact) <= 0.5 + 1e-6


def test_helpers_low_part():
    q, r = _two_quotient(1.0, 3.0)
    assert q + r == q and r != 0.0
    assert _softplus2(0.0, 0.0) == np.log(2.0)
    assert _softplus2(float("nan"), 0.0) != _softplus2(float("nan"), 0.0)


def test_stage_rewrites_and_undoes():
    k, x, s = sp.symbols("k x s", positive=True)
    out, applied = exact_arguments(softplus(k * x) / k + sigmoid(3 * k * x))
    assert applied == ("exact_arguments",)
    assert out.has(EXACT_FORMS[("softplus", "scaled")]) and out.has(sigmoid(3 * k * x))
    assert plain_arguments(out) == softplus(k * x) / k + sigmoid(3 * k * x)
    assert split(x / s) == ("quotient", x, s) and split(sp.sqrt(2) * x) is None
    # the rules see the base function: the stage runs after their fixed point
    grad = sp.diff(out, x)
    assert stabilize(grad, exact_arguments=True).expr.has(EXACT_FORMS[("sigmoid", "product")])
    assert stabilize(softplus(k * x)).expr == softplus(k * x)  # off unless asked


@pytest.mark.parametrize("name", ["softplus_xp", "softplus_xd", "sigmoid_xp", "dsigmoid_xp"])
def test_fast_twins_within_two_ulp_of_the_helpers(name):
    """The branch-free SIMD twins (runtime/fastmath.py) against the scalar helpers."""
    import symsmooth.runtime.exact as rt
    import symsmooth.runtime.fastmath as fm

    scalar, fast = getattr(rt, f"_{name}"), getattr(fm, f"_fast_{name}")
    for k in (0.37, 3.0, 1e4):
        for x in points("exp", k, 40, seed=3):
            want, got = scalar(k, x), fast(k, x)
            assert abs(got - want) <= 2 * np.spacing(abs(want)) or (want == got), (k, x)
