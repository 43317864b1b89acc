"""The host-side runtime (``symsmooth/runtime/cpu_host.py``, ``cuda_host.py``, ``cuda_launch.py``)
as plain functions, and its emission by need (``symsmooth/codegen/host.py``).

The CPU functions are called with NumPy arrays and compared with what NumPy's own ufunc
machinery does; the CUDA functions run in Numba's CUDA simulator in a child process (the
simulator must be chosen before ``numba.cuda`` is imported), with a tiny kernel of their own.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from symsmooth import pipeline
from symsmooth.codegen.host import HOST_DEFS, host_needed, host_runtime
from symsmooth.runtime import cpu_host, cuda_host, cuda_launch

ROOT = Path(__file__).resolve().parents[1]


# --- emission -------------------------------------------------------------------------------


def test_every_host_def_is_emitted_from_its_real_source():
    assert len(HOST_DEFS) >= 25
    for name, d in HOST_DEFS.items():
        obj = getattr(__import__(d.module, fromlist=[name]), name)
        assert d.source == inspect.getsource(obj), name


def test_requirements_are_computed_from_the_calls():
    names = [d.name for d in host_needed({"_cuda_rows"})]
    assert names == [
        "_check_labels",
        "_cuda_view",
        "_cuda_dtype",
        "_cuda_flat",
        "_cuda_host_data",
        "_cuda_params",
        "_cuda_rows",
    ]
    # a def decorated by a chosen one comes along; its private imports are listed
    host = host_runtime({"_at"})
    assert "def _at_overload(a, i):" in host["cpu"]
    assert host["imports"] == [
        "from numba import types as _types",
        "from numba.extending import overload as _overload",
    ]
    assert host_runtime({"len", "np"})["cpu"] == ""


@pytest.mark.parametrize(
    "name, present, absent",
    [
        ("softplus", ["_fast_operands", "_cuda_operands", "_cuda_launch"], ["_prepare", "_shfl"]),
        ("logsumexp_max", ["_prepare", "_cuda_rows", "_shfl_down_sim"], ["_fast_operands"]),
        ("soft_k_max", ["_iter_prepare", "_cuda_iter_rows"], ["_shfl_down", "_cuda_rows("]),
    ],
)
def test_a_module_carries_only_the_host_code_it_calls(tmp_path, name, present, absent):
    (path,) = pipeline.generate([name], out=tmp_path)
    text = path.read_text()
    for part in present:
        assert f"def {part}" in text, part
    for part in absent:
        assert f"def {part}" not in text, part
    (cpu,) = pipeline.generate([name], out=tmp_path / "cpu", targets=("cpu",))
    assert "def _cuda" not in cpu.read_text()


# --- CPU host functions with NumPy arrays ---------------------------------------------------


@pytest.mark.parametrize(
    "values, out",
    [
        ((np.arange(6.0).reshape(2, 3), 2.0), None),
        ((np.float32(1.5), np.arange(3, dtype=np.float32)), None),
        ((np.arange(3), 1), None),
        ((np.ones((2, 1)), np.ones(4)), np.empty((2, 4))),
        ((np.ones(3), 2.0), np.empty((2, 3), dtype=np.float32)),
    ],
)
def test_fast_operands_follow_the_ufunc(values, out):
    flat, res, shape, dtype, direct = cpu_host._fast_operands(np.add, values, out)
    expect = np.add(*values) if out is None else np.add(*values, out=np.empty_like(out))
    assert shape == expect.shape and dtype == expect.dtype
    assert res.dtype == np.float64 and res.size == expect.size
    assert direct == (out is not None and out.dtype == np.float64)
    for f, v in zip(flat, values, strict=True):
        a = np.asarray(v)
        if a.size == 1:
            assert isinstance(f, float) and f == a.reshape(-1)[0]
        else:
            assert f.shape == (expect.size,) and f.dtype == np.float64
            np.testing.assert_array_equal(f, np.broadcast_to(a, shape).reshape(-1))


def test_fast_operands_refuse_what_the_ufunc_refuses():
    with pytest.raises(TypeError):
        cpu_host._fast_operands(np.add, (np.ones(3), 1.0), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="non-broadcastable output"):
        cpu_host._fast_operands(np.add, (np.ones((2, 3)), 1.0), np.empty(3))
    with pytest.raises(TypeError):  # an unsafe out= cast, refused by the ufunc itself
        cpu_host._fast_operands(np.add, (np.ones(3), 1.0), np.empty(3, dtype=np.int64))


def test_at_is_an_index_or_the_scalar_in_compiled_code():
    @njit
    def pick(a, i):
        return cpu_host._at(a, i)

    assert pick(np.array([3.0, 4.0]), 1) == 4.0
    assert pick(2.5, 1) == 2.5


def test_prepare_lays_out_rows_and_checks_labels(monkeypatch):
    monkeypatch.setattr(cpu_host, "_NAME", "demo")
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)[:, :, ::2]  # not contiguous
    rows, per_row, shape, dtype = cpu_host._prepare((x,), (np.array([1.0, 2.0, 3.0]),))
    assert shape == (2, 3, 2) and dtype is np.float32
    assert rows[0].flags.c_contiguous and rows[0].dtype == np.float64
    np.testing.assert_array_equal(rows[0], x.reshape(6, 2))
    np.testing.assert_array_equal(per_row[0], np.tile([1.0, 2.0, 3.0], 2))
    with pytest.raises(ValueError, match="demo: inputs must have at least one axis"):
        cpu_host._prepare((np.float64(1.0),))
    monkeypatch.setattr(cpu_host, "_LABELS", ((0, "t", 1, 0),))
    cpu_host._check_labels([np.array([1, 4])], 4)
    for bad in (0, 5, 2.5, np.nan):
        with pytest.raises(ValueError, match="demo: label t = .* is not a class index"):
            cpu_host._check_labels([np.array([1.0, bad])], 4)
    with pytest.raises(ValueError, match="must be an integer class index"):
        cpu_host._check_labels([np.array(["a"])], 4)


def test_a_scalar_and_a_per_row_parameter_share_one_compiled_kernel():
    # Numba types a read-only array apart: a per-row k came through np.broadcast_to read-only
    # (as it still does: below), a scalar k as a writable copy, and the row kernel compiled
    # twice (seconds for a pivoted gradient); _prepare passes every input read-only
    assert not np.broadcast_to(np.asarray(2.0), (3,)).flags.writeable
    x = np.random.default_rng(2).standard_normal((3, 5))
    rows, per_row, *_ = cpu_host._prepare((x,), (2.0,))
    rows2, per_row2, *_ = cpu_host._prepare((x,), (np.array([1.0, 2.0, 3.0]),))
    assert not any(a.flags.writeable for a in (*rows, *per_row, *rows2, *per_row2))
    mod = pipeline.load("logsumexp_max")  # the committed module (other tests may call it too)
    for k in (2.0, np.array([1.0, 2.0, 3.0]), np.float32(0.5)):
        for v in (x, x.copy(), np.broadcast_to(x[:1], x.shape)):
            mod.logsumexp_max(v, k)
    unmasked = [s for s in mod._rows_logsumexp_max.signatures if str(s[2]) == "none"]
    assert len(unmasked) == 1, unmasked


def test_iteration_count_and_rows(monkeypatch):
    monkeypatch.setattr(cpu_host, "_NAME", "it")
    monkeypatch.setattr(cpu_host, "_COUNT", "steps")
    assert cpu_host._iter_count(np.float64(2.0), "it") == 2
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match=r"it_cuda: steps must be an integer >= 0"):
            cpu_host._iter_count(bad, "it_cuda")
    rows, per_row, shape, dtype, count = cpu_host._iter_prepare(np.ones((2, 2, 3)), (0.5,), 3)
    assert rows.shape == (4, 3) and per_row[0].tolist() == [0.5] * 4 and count == 3
    assert shape == (2, 2, 3) and dtype is np.float64
    with pytest.raises(ValueError, match="it: the input must have at least one axis"):
        cpu_host._iter_prepare(1.0, (), 1)


def test_launch_shapes_without_a_gpu():
    gpu, sim = {"simulator": False}, {"simulator": True}
    assert cuda_launch._cuda_block(gpu, 10**5, None) == (256, 1)
    assert cuda_launch._cuda_block(gpu, 10, None) == (32, 8)
    assert cuda_launch._cuda_block(sim, 10, (4, 2)) == (4, 2)
    with pytest.raises(ValueError, match="multiple of 32"):
        cuda_launch._cuda_block(gpu, 10, (16, 1))
    assert cuda_launch._cuda_iter_threads(gpu, 2000, None) == 256
    with pytest.raises(ValueError, match="a power of two from 32 to 256"):
        cuda_launch._cuda_iter_threads(gpu, 10, 48)
    assert cuda_host._cuda_dtype([]) == np.float64


# --- CUDA host functions in the simulator ---------------------------------------------------

SIMULATED = textwrap.dedent(
    """
    import json, math
    import numpy as np
    from symsmooth.runtime import cpu_host, cuda_host, cuda_launch

    def _twice(v):
        return 2.0 * v

    def _kern(out, n, a_val, a_arr, a_mode):
        i = cuda.grid(1)
        if i < n:
            a = a_val if a_mode == 0 else a_arr[i if a_mode == 1 else 0]
            out[i] = _twice(a) + math.log(0.0 * a + 1.0)

    def _warp(out, x):
        t = cuda.threadIdx.x
        out[t] = _shfl_down(x[t], 1)

    for m in (cpu_host, cuda_host, cuda_launch):
        m._NAME = "demo"
    cuda_host._CUDA_DEVICE = (_twice,)
    cuda_host._CUDA_KERNELS = (_kern, _warp)
    cuda_host._CUDA_SHUFFLE = (cuda_host._shfl_down_gpu, cuda_host._shfl_down_sim)
    st = cuda_host._cuda()
    cuda = st["cuda"]
    res = {"simulator": st["simulator"]}
    ops, shape, dtype, proto = cuda_launch._cuda_operands(
        st, (np.arange(4.0, dtype=np.float32), 1.0), 1
    )
    res["operands"] = [shape, str(dtype), proto is None, [int(o) for o in ops[2::3]]]
    out, view = cuda_host._cuda_empty(st, proto, (4,), np.float64)
    cuda_launch._cuda_launch(st, st["_kern"], [cuda_host._cuda_flat(view)], 4, ops[:3])
    res["kernel"] = cuda_host._cuda_result(out, proto, (4,)).tolist()
    dev = cuda.to_device(np.arange(6.0).reshape(2, 3))
    cpu_host._LABELS = cuda_launch._LABELS = ((0, "t", 1, 0),)
    rows, pops, rshape, rdtype, rproto = cuda_launch._cuda_rows(st, (dev,), (np.array([1, 3]),))
    res["rows"] = [rows[0].shape, rshape, str(rdtype), rproto is dev, [int(o) for o in pops[2::3]]]
    try:
        cuda_launch._cuda_rows(st, (dev,), (np.array([1, 4]),))
    except ValueError as exc:
        res["label"] = str(exc)
    res["cotangent"] = [int(c[2]) for c in (
        cuda_launch._cuda_cotangent(st, None, (2, 3), (2, 3)),
        cuda_launch._cuda_cotangent(st, np.ones(3), (2, 3), (2, 3)),
        cuda_launch._cuda_cotangent(st, dev, (2, 3), (2, 3)),
    )]
    try:
        cuda_host._cuda_flat(cuda_host._cuda_view(cuda, dev)[:, ::2])
    except ValueError as exc:
        res["flat"] = str(exc)
    w = cuda.device_array(32, dtype=np.float64)
    st["_warp"][1, 32](w, cuda.to_device(np.arange(32.0)))
    res["shuffle"] = w.copy_to_host().tolist()
    it_rows = cuda_launch._cuda_iter_rows(st, np.ones((2, 5)), (np.array([1.0, 2.0]),))
    res["iter_rows"] = [it_rows[0].shape, it_rows[2], [int(o) for o in it_rows[1][2::3]]]
    print(json.dumps(res))
    """
)


def test_cuda_host_functions_in_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", SIMULATED], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    res = json.loads(done.stdout.strip().splitlines()[-1])
    assert res["simulator"] is True
    assert res["operands"] == [[4], "float32", True, [1, 0]]
    assert res["kernel"] == [0.0, 2.0, 4.0, 6.0]  # math.log(1.0) through _SimulatedMath
    assert res["rows"] == [[2, 3], [2, 3], "float64", True, [1]]
    assert "demo: label t = 4 is not a class index" in res["label"]
    assert res["cotangent"] == [0, 1, 1]
    assert "demo_cuda: device arrays must be C-contiguous" in res["flat"]
    assert res["shuffle"] == [float(t + 1) for t in range(31)] + [31.0]
    assert res["iter_rows"] == [[2, 5], [2, 5], [1]]


SHARED_RACE = textwrap.dedent(
    """
    import json, threading, time
    import numpy as np
    from numba.cuda.simulator import kernelapi
    from symsmooth.runtime import cuda_host

    class Slow:  # np.empty gives the other threads the GIL between lookup and store
        def __getattr__(self, name):
            return getattr(np, name)

        def empty(self, *args):
            time.sleep(0.02)
            return np.empty(*args)

    def allocations():
        shared, got = kernelapi.FakeCUDAShared(0), []

        def thread():  # every thread of a block reaches the same line: one array for all
            got.append(id(shared.array(8, np.float64)))

        threads = [threading.Thread(target=thread) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return len(set(got))

    kernelapi.np = cuda_host.np = Slow()
    before = allocations()
    cuda_host._lock_simulated_shared_arrays()
    cuda_host._lock_simulated_shared_arrays()  # patched once
    print(json.dumps([before, allocations()]))
    """
)


def test_the_simulators_shared_arrays_are_one_per_line_under_a_lock():
    # numba-cuda's simulator allocates a shared array on a line's first use without a lock:
    # threads that reach it together get arrays of their own (a kernel of the suite read an
    # uninitialised one, an inf, under load); _cuda_build locks it in the simulator
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", SHARED_RACE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert before > 1  # the unlocked lookup: several arrays for one line
    assert after == 1


# --- the one TwoSum of every compensated sum (runtime/double_double.py) ---------------------


def test_two_sum_is_error_free():
    from fractions import Fraction

    from symsmooth.runtime.double_double import _two_sum

    rng = np.random.default_rng(3)
    a = rng.normal(size=400) * 10.0 ** rng.integers(-300, 300, size=400)
    b = rng.normal(size=400) * 10.0 ** rng.integers(-300, 300, size=400)
    pairs = list(zip(a, b, strict=True)) + [(1.0, 2.0**-60), (2.0**-60, 1.0), (1e308, -1e308)]
    for x, y in pairs:
        s, e = _two_sum(float(x), float(y))
        assert s == float(x) + float(y)
        assert Fraction(s) + Fraction(e) == Fraction(float(x)) + Fraction(float(y))
    # the naive compensation (y - (s - x)) loses the error when |y| > |x|
    s, e = _two_sum(2.0**-60, 1.0)
    assert e == 2.0**-60 and (1.0 - (s - 2.0**-60)) != 2.0**-60


def test_online_step_is_one_function_of_codegen():
    from symsmooth.codegen.kinds.reduction import online_lines

    lines = online_lines(
        [{"index": 0, "sums": [0, 1]}], [{"index": 0, "term": "E0"}, {"index": 1, "term": "x_e"}]
    )
    assert lines[:6] == [
        "if _h0 > M0:",
        "    _r = math.exp(M0 - _h0)",
        "    s0 = s0 * _r",
        "    c0 = c0 * _r",
        "    s1 = s1 * _r",
        "    c1 = c1 * _r",
    ]
    assert lines[-2:] == ["s1, _e = _two_sum(s1, x_e)", "c1 += _e"]
    for template in ("reduction", "iteration", "cuda_reduction", "cuda_iteration"):
        text = (ROOT / "templates" / f"{template}.py.j2").read_text()
        assert "online_lines" in text and "math.exp({{ shift_var" not in text, template
        assert "_bp" not in text, template
