"""The generated soft_k_max kernel (a fixed-count iteration of a row map).

References: a direct mpmath transcription of the recursion [A2, item 6] written here (values
at 50 digits; gradients by ``mpmath.diff`` at 60 digits), the catalog record's unrolled
expression for n = 5, the known values of the catalog docs, the invariant ``sum = top`` and,
for long rows, :class:`symsmooth.verification.iteration.IterationReference` (the step's exact normal
form in mpmath).  CUDA: the same kernel in Numba's simulator at several thread counts, in a
child process (the simulator must be chosen before numba.cuda is imported); its PTX for sm_80
and sm_90 is compiled with every catalog kernel's (tests/test_cuda.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import mpmath
import numpy as np
import pytest

from symsmooth import catalog, pipeline
from symsmooth.codegen.iteration import IterationSpec, iteration_spec
from symsmooth.codegen.render import load_module, write
from symsmooth.errors import CodegenError
from symsmooth.symbols import X, j, k, n
from symsmooth.verification.claims import value as claim_value
from symsmooth.verification.iteration import IterationReference
from symsmooth.verification.ulp import ulp_error

HAVE_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated_skm")
    write(pipeline.kernel_spec("soft_k_max"), out)
    return load_module("soft_k_max", out), out


def soft_top(values, kv=1.0, top=2, dps=50):
    """The recursion, transcribed: y = x - min x; p = 0; top times p += softmax(k (1-p) y);
    -inf entries are absent (output 0)."""
    with mpmath.workdps(dps):
        x = [mpmath.mpf(v) for v in values]
        act = [i for i, v in enumerate(x) if v != -mpmath.inf]
        out = [mpmath.mpf(0)] * len(x)
        if not act:
            return out
        lo = min(x[i] for i in act)
        y = {i: x[i] - lo for i in act}
        p = {i: mpmath.mpf(0) for i in act}
        for _ in range(top):
            w = {i: mpmath.exp(kv * (1 - p[i]) * y[i]) for i in act}
            total = mpmath.fsum(w.values())
            p = {i: p[i] + w[i] / total for i in act}
        for i in act:
            out[i] = p[i]
        return out


def vjp_by_diff(values, cot, kv=1.0, top=2):
    """sum_j cot_j dp_j/dx_i by mpmath.diff (central differences at 60 digits)."""
    with mpmath.workdps(60):
        grads = []
        for i in range(len(values)):

            def f(t, i=i):
                row = [mpmath.mpf(v) for v in values]
                row[i] = t
                return mpmath.fsum(
                    c * p for c, p in zip(cot, soft_top(row, kv, top, 80), strict=True)
                )

            grads.append(mpmath.diff(f, mpmath.mpf(values[i])))
        return grads


def test_pipeline_builds_an_iteration_spec():
    spec = pipeline.kernel_spec("soft_k_max")
    assert isinstance(spec, IterationSpec) and spec.kind == "iteration"
    assert spec.step.plan.rowmap and len(spec.step.plan.sums) == 1


def test_a_record_without_iteration_is_a_clear_error():
    with pytest.raises(CodegenError, match=r"has no iteration.*iteration=symsmooth\.records"):
        iteration_spec(catalog.get("softplus"))


def test_the_algorithm_is_data_on_the_record():
    it = catalog.get("soft_k_max").iteration
    assert (it.shift, it.init, it.count, it.count_default) == ("min", 0, "top", 2)
    spec = pipeline.kernel_spec("soft_k_max")
    assert spec.step.expr == it.step and (spec.shift, spec.count) == ("min", "top")


def test_known_values(mod):
    m, _ = mod
    got = m.soft_k_max(np.array([2.0, 1, 4, 5, 3]), 1.0)
    assert got == pytest.approx([0.141024, 0.053175, 0.647255, 0.814181, 0.344366], abs=5e-7)
    got = m.soft_k_max(np.array([0.0, 100, 100.5]), 1.0)
    assert got == pytest.approx([0.0, 1.3775, 0.6225], abs=5e-5)


def test_matches_the_catalog_records_unrolled_expression(mod):
    m, _ = mod
    record = catalog.get("soft_k_max")
    rng = np.random.default_rng(3)
    for kv in (0.5, 1.0, 3.0):
        row = rng.normal(0, 2, 5)
        got = m.soft_k_max(row, kv)
        for jj in range(5):
            exact = claim_value(record.expr, {n: 5, X: list(row), k: kv, j: jj + 1})
            assert ulp_error(got[jj], exact) <= 16


@pytest.mark.parametrize("kv", [0.3, 1.0, 4.0])
@pytest.mark.parametrize("top", [1, 2, 3])
def test_values_against_mpmath_and_sum_is_top(mod, kv, top):
    m, _ = mod
    rng = np.random.default_rng(int(10 * kv) + top)
    x = rng.normal(0, 2, (4, 9))
    got = m.soft_k_max(x, kv, top=top)
    for r in range(4):
        exact = soft_top(x[r], kv, top)
        worst = max(ulp_error(g, e) for g, e in zip(got[r], exact, strict=True))
        assert worst <= 32, worst  # see docs/codegen.md: ~cond(x) ulps
        assert got[r].sum() == pytest.approx(top, rel=4e-16 * x.shape[1])


def test_top_one_is_softmax(mod):
    m, _ = mod
    x = np.array([[0.5, -1.0, 2.0, 2.5, 0.0]])
    e = [mpmath.exp(2 * mpmath.mpf(v)) for v in x[0]]
    got = m.soft_k_max(x, 2.0, top=1)[0]
    assert max(ulp_error(g, w / mpmath.fsum(e)) for g, w in zip(got, e, strict=True)) <= 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_against_mpmath_diff(mod, seed):
    m, _ = mod
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.5, 6)
    cot = rng.standard_normal(6)
    got = m.soft_k_max_grad(x, 1.3, cotangent=cot)
    exact = vjp_by_diff(x, cot, 1.3)
    scale = max(abs(float(e)) for e in exact)
    for g, e in zip(
        got, exact, strict=True
    ):  # absolute, relative to the largest entry: a VJP cancels
        assert abs(g - float(e)) <= 64 * np.finfo(float).eps * scale
    ones = m.soft_k_max_grad(x, 1.3)  # sum p = top is constant
    assert np.max(np.abs(ones)) <= 1e-14


def test_float32_rounds_the_float64_result_once(mod):
    m, _ = mod
    x = np.random.default_rng(5).normal(0, 2, (3, 8)).astype(np.float32)
    got = m.soft_k_max(x, 1.0)
    assert got.dtype == np.float32
    for r in range(3):
        exact = soft_top(x[r].astype(np.float64), 1.0)
        assert max(ulp_error(g, e, np.float32) for g, e in zip(got[r], exact, strict=True)) <= 1
    assert m.soft_k_max_grad(x, 1.0).dtype == np.float32


def test_long_rows(mod):
    m, _ = mod
    x = np.random.default_rng(11).normal(0, 3, 10_000)
    cot = np.random.default_rng(12).standard_normal(10_000)
    got = m.soft_k_max(x, 1.0)
    assert got.sum() == pytest.approx(2.0, rel=1e-13)
    picks = [0, 17, int(np.argmax(x)), int(np.argmin(x)), 9_999]
    exact = soft_top(x, 1.0, dps=30)
    assert max(ulp_error(got[i], exact[i]) for i in picks) <= 64
    ref = IterationReference(pipeline.kernel_spec("soft_k_max"), (1.0,))
    g_exact = ref.gradient(x, cot)
    g = m.soft_k_max_grad(x, 1.0, cotangent=cot)
    scale = max(abs(float(v)) for v in g_exact)
    assert max(abs(g[i] - float(g_exact[i])) for i in picks) <= 256 * 2.3e-16 * scale


def test_neg_inf_entries_are_absent(mod):
    m, _ = mod
    x = np.array([-np.inf, 2.0, 1.0, -np.inf, 4.0, 5.0, 3.0])
    got = m.soft_k_max(x, 1.0)
    assert got[[0, 3]].tolist() == [0.0, 0.0]
    exact = soft_top([2.0, 1, 4, 5, 3], 1.0)
    assert max(ulp_error(g, e) for g, e in zip(got[[1, 2, 4, 5, 6]], exact, strict=True)) <= 8
    cot = np.arange(7.0)
    g = m.soft_k_max_grad(x, 1.0, cotangent=cot)
    assert g[[0, 3]].tolist() == [0.0, 0.0]
    dense = vjp_by_diff([2.0, 1, 4, 5, 3], cot[[1, 2, 4, 5, 6]], 1.0)
    assert np.allclose(g[[1, 2, 4, 5, 6]], [float(v) for v in dense], rtol=0, atol=1e-14)


def test_edge_rows(mod):
    m, _ = mod
    assert m.soft_k_max(np.full(3, -np.inf), 1.0).tolist() == [0.0, 0.0, 0.0]
    assert m.soft_k_max_grad(np.full(3, -np.inf), 1.0).tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(m.soft_k_max(np.array([1.0, np.nan, 2.0]), 1.0)).all()
    assert m.soft_k_max(np.empty((2, 0)), 1.0).shape == (2, 0)
    assert m.soft_k_max(np.full(4, 0.75), 1.0) == pytest.approx([0.5] * 4, abs=1e-16)
    with pytest.raises(ValueError, match="top"):
        m.soft_k_max(np.ones(3), 1.0, top=-1)


def test_non_contiguous_and_batched(mod):
    m, _ = mod
    x = np.random.default_rng(2).normal(0, 1, (2, 3, 10))[:, :, ::2]
    got = m.soft_k_max(x, np.array([1.0, 2.0, 0.5]))
    assert got.shape == (2, 3, 5)
    want = m.soft_k_max(np.ascontiguousarray(x[1, 2]), 0.5)
    assert np.array_equal(got[1, 2], want)


def test_verify_reports_by_regime():
    report = pipeline.verify("soft_k_max", long_n=512, grad_points=16)
    regimes = {r.regime for r in report.rows}
    assert {"moderate", "long", "wide", "with_neg_inf", "ties"} <= regimes
    assert {r.part for r in report.rows} == {"value", "grad_x", "grad_k"}  # grad_k: the VJP in k
    f32 = [r for r in report.rows if r.dtype == "float32" and r.part == "value"]
    assert f32 and max(r.max_ulp for r in f32) <= 1.0
    mod64 = {r.regime: r.max_ulp for r in report.rows if r.dtype == "float64" and r.part == "value"}
    assert mod64["shifted_up"] <= 4 and mod64["with_neg_inf"] <= 4 and mod64["ties"] <= 4


# --- CUDA ----------------------------------------------------------------------------------

_SIM = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from symsmooth.codegen.render import load_module
    m = load_module("soft_k_max", sys.argv[1])
    rng = np.random.default_rng(4)
    x = rng.normal(0, 2, (5, 19)); x[1, ::4] = -np.inf; x[3, 2] = x[3, 9] = x[3].min() - 1
    x[4] = -np.inf
    cot = rng.standard_normal(x.shape)
    out = {}
    # None: the simulator's default, 2 threads per row; 32 threads (a warp) for one count
    # only: the simulator runs each thread in Python, so that case is most of the cost
    for tx, tops in ((None, (1, 2, 3)), (1, (1, 2, 3)), (32, (2,))):
        b = None if tx is None else (tx,)
        for top in tops:
            v = m.soft_k_max_cuda(x, 1.3, top=top, block=b)
            g = m.soft_k_max_grad_cuda(x, 1.3, cotangent=cot, top=top, block=b)
            out[f"{tx}/{top}"] = [
                float(np.max(np.abs(v - m.soft_k_max(x, 1.3, top=top)))),
                float(np.max(np.abs(g - m.soft_k_max_grad(x, 1.3, cotangent=cot, top=top)))),
            ]
    x32 = x.astype(np.float32)
    ks = np.array([1.0, 2, 3, 4, 5])
    v32 = m.soft_k_max_cuda(x32, ks)
    out["f32"] = [str(v32.dtype), float(np.max(np.abs(v32 - m.soft_k_max(x32, ks))))]
    out["known"] = m.soft_k_max_cuda(np.array([2.0, 1, 4, 5, 3]), 1.0).tolist()
    print(json.dumps(out))
    """
)


def _child(code, folder, simulate):
    env = {kk: v for kk, v in os.environ.items() if kk != "NUMBA_ENABLE_CUDASIM"}
    if simulate:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.cuda
@pytest.mark.skipif(not HAVE_NUMBA_CUDA, reason="numba-cuda not installed")
def test_cuda_simulator_matches_cpu(mod):
    _, folder = mod
    out = _child(_SIM, folder, simulate=True)
    for key, pair in out.items():
        if key in ("f32", "known"):
            continue
        dv, dg = pair
        assert dv <= 4e-16 and dg <= 4e-15, (key, dv, dg)  # summation order differs
    assert out["f32"][0] == "float32" and out["f32"][1] <= 6e-8
    assert out["known"] == pytest.approx(
        [0.141024, 0.053175, 0.647255, 0.814181, 0.344366], abs=5e-7
    )
