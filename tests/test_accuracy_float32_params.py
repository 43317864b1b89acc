"""float32 inputs with a parameter other than 1: accurate for the parameter the user passed.

Issue #12 (``symsmooth verify --grid``): the float32 parts missed at k != 1 (softplus 25 ulp,
swish 35, gelu 38, relu_gaussian 39, soft_heaviside 23; float64 fine).  Cause: the ufuncs'
float32 loop was ``float32(float32, float32)``, so NumPy cast a Python-float ``k`` to float32
before the float64 core: ``softplus(x32, 0.9)`` was accurate for ``float32(0.9) = 0.9 (1 -
2.6e-8)``, which costs ``|k x| * 2.6e-8`` relative (25 ulp at ``x = -86.7``), while the
``_fast`` path and the CUDA kernels took ``k`` exactly.  Now every loop takes the parameters as
float64 (``fd->f``).  References: closed forms in Arb ball arithmetic (python-flint) at the
exact float64 parameter, independent of the catalog expressions and of the verifier.
"""

from __future__ import annotations

import flint
import numpy as np
import pytest
from flint import arb

from symsmooth.codegen.render import load_module
from symsmooth.verification.balls import to_mpf
from symsmooth.verification.ulp import ulp_errors

PREC = 400
PARAMS = (0.1, 0.37, 0.9)
"""Grid values that float32 cannot hold (each rounds by 1.3e-8 to 2.6e-8 relative)."""


@pytest.fixture(autouse=True)
def _arb_precision():
    """Arb's precision is global: set it per test, so no other module's setting leaks in."""
    with flint.ctx.workprec(PREC):
        yield


def _sigmoid(z: arb) -> arb:
    return 1 / (1 + (-z).exp())


def _gauss_cdf_times(x: arb, s: arb) -> arb:
    """x Phi(x / s) = x erfc(-x / (s sqrt 2)) / 2 (erfc: no cancellation in the left tail)."""
    return x * (-x / (s * arb(2).sqrt())).erfc() / 2


REFERENCES = {
    # name: (value, partial in x), at exact arb inputs (x, parameter)
    "softplus": (
        lambda x, k: (k * x).exp().log1p() / k,
        lambda x, k: _sigmoid(k * x),
    ),
    "soft_heaviside": (
        lambda x, k: _sigmoid(k * x),
        lambda x, k: k * _sigmoid(k * x) * _sigmoid(-k * x),
    ),
    "swish": (
        lambda x, k: x * _sigmoid(k * x),
        lambda x, k: _sigmoid(k * x) + k * x * _sigmoid(k * x) * _sigmoid(-k * x),
    ),
    "gelu": (
        _gauss_cdf_times,
        lambda x, s: (
            (-x / (s * arb(2).sqrt())).erfc() / 2
            + x * (-(x * x) / (2 * s * s)).exp() / (s * (2 * arb.pi()).sqrt())
        ),
    ),
    "relu_gaussian": (
        lambda x, s: (
            s * (-(x * x) / (2 * s * s)).exp() / (2 * arb.pi()).sqrt() + _gauss_cdf_times(x, s)
        ),
        lambda x, s: (-x / (s * arb(2).sqrt())).erfc() / 2,
    ),
}


def _inputs(p: float) -> np.ndarray:
    """float32 x with |p x| (or |x / p|) up to ~110: both tails down to float32 subnormals."""
    scale = max(p, 1 / p)
    tails = [-np.logspace(0.5, 2.04, 24), np.logspace(0.5, 2, 8)]
    x = np.concatenate([np.linspace(-5, 5, 21), *tails])
    return np.unique((x * scale).astype(np.float32))


def _errors(fn, ref, p_kernel, p_exact: float) -> np.ndarray:
    x = _inputs(p_exact)
    got = np.asarray(fn(x, p_kernel))
    assert got.dtype == np.float32
    refs = [to_mpf(ref(arb(float(v)), arb(p_exact))) for v in x]
    return ulp_errors(got, refs, np.float32)


@pytest.fixture(scope="module")
def modules():
    return {name: load_module(name) for name in REFERENCES}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_float32_exact_parameter_within_half_ulp_and_float32_parameter_misses(modules, name):
    """Kernel (float32 x, Python-float parameter) vs Arb at that parameter: <= 1 ulp, value and
    gradient.  The old loop's input, the parameter rounded to float32, misses by > 4 ulp."""
    module = modules[name]
    value_ref, grad_ref = REFERENCES[name]
    parts = ((getattr(module, name), value_ref), (getattr(module, f"{name}_grad_x"), grad_ref))
    rounded = 0.0
    for fn, ref in parts:
        for p in PARAMS:
            assert np.max(_errors(fn, ref, p, p)) <= 1.0, (name, fn.__name__, p)
            rounded = max(rounded, np.max(_errors(fn, ref, np.float32(p), p)))
    assert rounded > 4.0, (name, rounded)


def test_float32_loops_take_float64_parameters(modules):
    for name, module in modules.items():
        assert getattr(module, name).types == ["fd->f", "dd->d"], name


def test_fast_path_agrees_with_the_ufunc_in_float32(modules):
    """_fast took k exactly all along: with k rounded by the ufunc they differed by ~25 ulp."""
    softplus, fast = modules["softplus"].softplus, modules["softplus"].softplus_fast
    x = -np.linspace(60, 90, 31, dtype=np.float32)
    a, b = softplus(x, 0.9), fast(x, 0.9)
    assert a.dtype == b.dtype == np.float32
    spacing = np.spacing(np.abs(a))
    assert np.max(np.abs(a.astype(np.float64) - b) / spacing) <= 1.0


def test_float32_inputs_keep_float32_whatever_the_parameter_dtype(modules):
    """The output dtype follows the inputs (as the CUDA kernels): a float64 parameter array no
    longer promotes float32 data to float64; float64 data with a float32 parameter stays
    float64 and uses the float32 value exactly."""
    softplus = modules["softplus"].softplus
    x32 = np.array([-80.0, 1.0], np.float32)
    for k in (0.9, np.float64(0.9), np.full(2, 0.9), np.float32(0.9), 3):
        assert softplus(x32, k).dtype == np.float32, k
    assert softplus(x32, 0.9)[0] != softplus(x32, np.float32(0.9))[0]  # 0.9 is used as given
    assert softplus(x32.astype(np.float64), np.float32(0.9)).dtype == np.float64
