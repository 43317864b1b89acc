"""silu(z) = z sigmoid(z): the swish value rounded once, subnormal results included (issue
#12: 321 ulp at x = -743.5).  Against Arb balls; the old form x * sigmoid(k x) fails there."""

from __future__ import annotations

import flint
import numpy as np
import pytest
from flint import arb

import symsmooth as ss
from symsmooth.runtime.exact import _sigmoid_xp, _silu_xd
from symsmooth.verification.balls import to_mpf
from symsmooth.verification.ulp import ulp_error


@pytest.fixture(autouse=True)
def _precision():
    with flint.ctx.workprec(600):
        yield


def _exact(x: float, k: float):
    a, b = arb(k), arb(x)
    return to_mpf(b / (1 + (-(a * b)).exp()))


POINTS = [(-743.5, 1.0), (-715.48, 1.0), (-709.9, 1.0), (-250.3, 3.0), (-2.5, 0.37), (7.0, 10.0)]


@pytest.mark.parametrize("x, k", POINTS)
def test_silu_helper_rounds_once(x, k):
    assert ulp_error(_silu_xd(k, x), _exact(x, k)) <= 0.75


def test_the_product_of_a_subnormal_sigmoid_fails():
    assert ulp_error(-743.5 * _sigmoid_xp(-743.5, 1.0), _exact(-743.5, 1.0)) > 100


def test_swish_kernel_and_fast_loop_meet_the_target_in_the_tail():
    m = ss.load("swish")
    x = np.array([p[0] for p in POINTS])
    k = np.array([p[1] for p in POINTS])
    for fn in (m.swish, m.swish_fast):
        got = fn(x, k)
        worst = max(ulp_error(float(g), _exact(*p)) for g, p in zip(got, POINTS, strict=True))
        assert worst <= 1.0, fn
