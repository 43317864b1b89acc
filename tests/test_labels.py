"""Class labels of the generated classification kernels: 1-based, as the catalog's sums
(``Sum(..., (i, 1, n))``) and docs/codegen.md say; anything else is a ValueError before any work,
and an empty row (no class) too."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys

import mpmath
import numpy as np
import pytest

from symsmooth.codegen.render import load_module

X = np.array([[0.2, 1.0, -0.5], [3.0, -1.0, 0.0]])


@pytest.fixture(scope="module", params=["cross_entropy_lse", "smooth_accuracy"])
def kernel(request):
    module = load_module(request.param)
    return request.param, getattr(module, request.param), getattr(module, request.param + "_grad")


def _reference(name: str, row, k: float, t: int) -> float:
    """mpmath at 50 digits (lse - x_t cancels in double precision)."""
    with mpmath.workdps(50):
        row = [mpmath.mpf(float(v)) for v in row]
        lse = mpmath.log(sum(mpmath.exp(k * v) for v in row)) / k
        if name == "cross_entropy_lse":
            return float(lse - row[t - 1])  # 1-based
        return float(mpmath.exp(k * row[t - 1] - k * lse))


def test_labels_are_one_based(kernel):
    name, fn, _ = kernel
    for t in (1, 2, 3):
        want = [_reference(name, row, 1.5, t) for row in X]
        np.testing.assert_allclose(fn(X, 1.5, t), want, rtol=1e-14)
    per_row = np.array([3, 1])
    want = [_reference(name, row, 1.0, int(t)) for row, t in zip(X, per_row, strict=True)]
    np.testing.assert_allclose(fn(X, 1.0, per_row), want, rtol=1e-14)


@pytest.mark.parametrize("label", [0, 4, -1, 2.5, math.nan, math.inf, np.array([1, 4])])
def test_bad_labels_raise(kernel, label):
    name, fn, grad = kernel
    for f in (fn, grad):
        with pytest.raises(ValueError, match="not a class index.*1-based"):
            f(X, 1.0, label)


def test_non_numeric_label_raises(kernel):
    _, fn, _ = kernel
    with pytest.raises(ValueError, match="integer class index"):
        fn(X, 1.0, "2")


def test_empty_row_is_refused(kernel):
    _, fn, _ = kernel
    with pytest.raises(ValueError, match="row of length 0"):
        fn(np.empty((2, 0)), 1.0, 1)


def test_empty_rows_of_other_reductions_follow_the_formula():
    """An empty row evaluates the formula with empty sums (documented in the module docstring
    and docs/codegen.md): logsumexp -> log(0)/k = -inf; soft argmax -> 0/0 = NaN."""
    lse = load_module("logsumexp_max").logsumexp_max
    argmax = load_module("soft_argmax").soft_argmax
    assert np.all(lse(np.empty((2, 0)), 1.0) == -np.inf)
    with np.errstate(all="ignore"):
        assert np.all(np.isnan(argmax(np.empty((2, 0)), 1.0)))


_CUDA_SNIPPET = """
import numpy as np
from symsmooth.codegen.render import load_module
X = np.array([[0.2, 1.0, -0.5], [3.0, -1.0, 0.0]])
for name in ("cross_entropy_lse", "smooth_accuracy"):
    module = load_module(name)
    cpu, launchers = getattr(module, name), (name + "_cuda", name + "_grad_cuda")
    gap = np.abs(getattr(module, name + "_cuda")(X, 1.5, 2) - cpu(X, 1.5, 2))
    print(name, "ok", float(np.max(gap)))
    for launcher in launchers:
        for label in (0, 4, 2.5, float("nan")):
            try:
                getattr(module, launcher)(X, 1.0, label)
                print(launcher, label, "accepted")
            except ValueError as exc:
                print(launcher, label, "refused", "1-based" in str(exc))
"""


@pytest.mark.cuda
@pytest.mark.skipif(
    importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda not installed"
)
def test_cuda_launchers_check_labels_like_the_cpu():
    """The CUDA launchers refuse the same labels (checked on the host before any launch), in
    Numba's simulator (chosen before numba.cuda is imported, so in a child process)."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _CUDA_SNIPPET], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    values = [line.split() for line in lines if " ok " in line]
    assert len(values) == 2 and all(float(v[2]) < 1e-15 for v in values), lines
    refusals = [line for line in lines if " ok " not in line]
    assert len(refusals) == 2 * 2 * 4, lines
    assert all(line.endswith("refused True") for line in refusals), lines
