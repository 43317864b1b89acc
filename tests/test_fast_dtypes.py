"""The public name ``softplus`` and the loop ``softplus_fast`` apply exactly the ufunc's dtype
rules: each case is run through the ufunc ``softplus_ufunc`` itself and both entry points must
give the same dtype, shape and values, or raise the same exception type."""

from __future__ import annotations

import numpy as np
import pytest

from symsmooth.codegen.render import load_module


@pytest.fixture(scope="module")
def softplus():
    return load_module("softplus")


CASES = {
    "float16 -> float32": ((np.float16([1, 2]), 1.0), {}),
    "float32 with a Python scalar": ((np.float32([1, 2]), 2.0), {}),
    "Python scalars": ((2.0, 1.0), {}),
    "Python list": (([1, 2], 1), {}),
    "nested list": (([[1.0, -2.0], [3.0, 4.0]], 0.5), {}),
    "int64": ((np.int64([1, 2]), 1), {}),
    "float32 with a float64 scalar": ((np.ones(2, np.float32), np.float64(1)), {}),
    "broadcast": ((np.ones((2, 3)), np.linspace(0.5, 2, 3)), {}),
    "complex array": ((np.ones(2, complex), 1.0), {}),
    "complex scalar": ((1j, 1.0), {}),
    "int64 out": ((np.ones(2), 1.0), {"out": np.empty(2, np.int64)}),
    "float32 out": ((np.ones(2), 1.0), {"out": np.empty(2, np.float32)}),
    "out of the wrong shape": ((np.ones(2), 1.0), {"out": np.empty(3)}),
    "out as a list": ((np.ones(2), 1.0), {"out": [0.0, 0.0]}),
    "float32 out of float32": ((np.float32([1, -3]), 2.0), {"out": np.empty(2, np.float32)}),
    "non-contiguous": ((np.arange(8.0)[::2], 1.5), {}),
    "int scalar k": ((np.linspace(-3, 3, 5), 2), {}),
    "huge int k": ((np.ones(2), 2**60), {}),
    "0-d array": ((np.array(1.5), 2.0), {}),
}


def _outcome(fn, args, kwargs):
    kwargs = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    try:
        y = fn(*args, **kwargs)
    except Exception as exc:  # the ufunc's own refusal is the reference
        return ("error", isinstance(exc, TypeError), isinstance(exc, ValueError))
    return ("value", type(y), np.asarray(y).dtype, np.shape(y), np.asarray(y))


@pytest.mark.parametrize("entry", ["softplus", "softplus_fast"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_follows_the_ufunc(softplus, case, entry):
    ufunc, fast = softplus.softplus_ufunc, getattr(softplus, entry)
    args, kwargs = CASES[case]
    want, got = _outcome(ufunc, args, kwargs), _outcome(fast, args, kwargs)
    assert got[:-1] == want[:-1] if want[0] == "value" else got == want, (want, got)
    if want[0] == "value":
        np.testing.assert_allclose(got[-1], want[-1], rtol=2e-16 if want[2] == np.float64 else 0)


def test_complex_and_unsafe_out_are_refused(softplus):
    fast = softplus.softplus_fast
    with pytest.raises(TypeError):
        fast(np.array([1 + 2j]), 1.0)
    with pytest.raises(TypeError, match="same_kind"):
        fast(np.ones(2), 1.0, out=np.empty(2, np.int64))
