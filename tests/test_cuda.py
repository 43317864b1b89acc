"""CUDA kernels of every catalog entry: Numba's simulator, PTX for sm_80/sm_90, and a real GPU.

The simulator must be chosen before ``numba.cuda`` is first imported, so the kernels run in
child processes (``tests/test_cuda_runner.py``) started once per session, concurrently; each
test reads its kernel's results.  In the simulator every CUDA kernel is measured against the
mpmath reference with the CPU kernel's own verification
(:func:`symsmooth.verification.kernels.measure`, small grids) and against the CPU kernel at
the same points.  The simulator checks no types, so every kernel is also compiled to PTX
(:mod:`symsmooth.codegen.cuda_check`).  ``pytest -m gpu`` runs the same measurement on a real
GPU when one is present.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from symsmooth import catalog, pipeline
from symsmooth.codegen.cuda import check_targets, render_cuda
from symsmooth.errors import CodegenError

# one xdist worker runs every CUDA test (README: --dist loadfile), so the session fixtures
# (simulator and PTX runs in child processes, minutes each) run once, not once per worker
pytestmark = pytest.mark.cuda
HAVE_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None
needs_numba_cuda = pytest.mark.skipif(
    not HAVE_NUMBA_CUDA, reason="numba-cuda not installed (pip install -e '.[cuda]')"
)
RUNNER = Path(__file__).with_name("test_cuda_runner.py")
sys.path.insert(0, str(RUNNER.parent))
from test_cuda_runner import user_specs  # noqa: E402

NAMES = catalog.names() + sorted(user_specs())


def _start(mode: str, folder: Path, names, simulate: bool) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if simulate:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return subprocess.Popen(
        [sys.executable, str(RUNNER), mode, str(folder), *names],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _collect(proc: subprocess.Popen, timeout: float) -> dict:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"CUDA runner timed out after {timeout} s: {err[-3000:]}")
    if proc.returncode != 0:
        pytest.fail(f"CUDA runner failed ({proc.returncode}): {err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


GENERATION_ERRORS: dict[str, str] = {}


GENERATED = RUNNER.parents[1] / "generated"


@pytest.fixture(scope="session")
def modules(tmp_path_factory):
    """The folders of the modules, joined by ``os.pathsep``: the catalog's are the committed
    ``generated/`` (both targets; tests/test_generated_golden.py proves them current, and the
    children share the Numba cache the other tests of the session fill there), the
    user-defined reductions' are generated here with both targets.  A catalog entry absent from
    ``generated/`` is one the CPU code generator rejects (its CPU tests report it)."""
    folder = tmp_path_factory.mktemp("generated_cuda")
    for name, spec in user_specs().items():
        try:
            pipeline.generate([spec], out=folder, targets=("cpu", "cuda"))
        except CodegenError as exc:
            GENERATION_ERRORS[name] = str(exc)
    for name in catalog.names():
        if not (GENERATED / f"{name}.py").is_file():
            GENERATION_ERRORS[name] = "rejected by the code generator (absent from generated/)"
    return f"{GENERATED}{os.pathsep}{folder}"


def _generated(name: str) -> None:
    if name in GENERATION_ERRORS:
        pytest.skip(f"no CPU kernel either: {GENERATION_ERRORS[name][:200]}")


@pytest.fixture(scope="session")
def runs(modules):
    """Simulator, PTX and launcher-API runs, started together (they use one core each)."""
    if not HAVE_NUMBA_CUDA:
        pytest.skip("numba-cuda not installed")
    names = [n for n in NAMES if n not in GENERATION_ERRORS]
    # both children import every module (the CPU ufuncs compile at import, into the folder's
    # Numba cache): walking the names in opposite orders, each finds the other's half cached
    procs = {
        "sim": _start("sim", modules, names, simulate=True),
        "ptx": _start("ptx", modules, names[::-1], simulate=False),
    }
    results = {mode: _collect(proc, timeout=1800) for mode, proc in procs.items()}
    results["api"] = _collect(_start("api", modules, [], simulate=True), timeout=300)
    return results


# --- every kernel, in the simulator and as PTX ------------------------------------------------


@needs_numba_cuda
@pytest.mark.parametrize("name", NAMES)
def test_simulated_kernel_matches_cpu_and_mpmath(runs, name):
    """Each CUDA kernel in every float64 regime of the CPU kernel's verification:
    within its ulp target of mpmath, or within 4x + 4 ulps of the larger of the target and the
    CPU kernel's error at the same points (summation order differs); where the CPU kernel itself
    misses its target by more than 4x (an ill-conditioned stable form), finite where it is.
    float32 values equal the CPU kernel's to 1 ulp (both round the float64 result once; the
    CPU kernel's float32 accuracy is checked by its own tests)."""
    _generated(name)
    result = runs["sim"][name]
    assert result["error"] is None, result["error"]
    assert {r["dtype"] for r in result["rows"]} == {"float64"}
    assert any(k.endswith("float32") for k in result["distance"]), result["distance"]
    distance = result["distance"]
    assert distance and all(d < float("inf") for d in distance.values()), distance
    for r in result["rows"]:
        if r["max_ulp"] > r["target"]:
            assert r["cpu_max_ulp"] is not None, r
            if r["cpu_max_ulp"] > 4 * r["target"]:
                # the stable form itself is ill-conditioned here (the CPU kernel misses its
                # target by more than 4x; see its verification report): CUDA's summation order
                # changes the rounding noise, so only its kind is compared
                assert r["max_ulp"] < float("inf") or r["cpu_max_ulp"] == float("inf"), r
            else:
                assert r["max_ulp"] <= 4 * max(r["target"], r["cpu_max_ulp"]) + 4, r
    values32 = [d for k, d in distance.items() if k.endswith("float32") and "grad" not in k]
    assert values32 and max(values32) <= 1, distance


@needs_numba_cuda
@pytest.mark.parametrize("name", NAMES)
def test_kernel_compiles_to_ptx(runs, name):
    """Value and gradient kernels type-check and lower to PTX for sm_80 (float32, float64);
    the value kernel for sm_90 (float64)."""
    _generated(name)
    result = runs["ptx"][name]
    assert result["error"] is None, result["error"]
    compiled = {(k, tuple(cc)) for k, _, cc, _ in result["compiled"]}
    kernels = {k for k, _ in compiled}
    assert len(kernels) == 2 and len(result["compiled"]) == 5, result["compiled"]
    assert all(size > 1000 for *_, size in result["compiled"])
    assert {cc for _, cc in compiled} == {(8, 0), (9, 0)}
    assert len({k for k, cc in compiled if cc == (9, 0)}) == 1


def test_ptx_check_refuses_a_kernel_the_module_lacks():
    from types import SimpleNamespace

    from symsmooth.codegen.cuda_check import compile_module_ptx

    module = SimpleNamespace(__name__="m", _CUDA_SIGNATURES={"_cuda_rows_m": ["void()"] * 2})
    with pytest.raises(KeyError, match="m has no CUDA kernel _cuda_grad_rows_m"):
        compile_module_ptx(module, kernels=("_cuda_rows_m", "_cuda_grad_rows_m"))


# --- launcher semantics (simulator) -------------------------------------------------------------


@needs_numba_cuda
def test_import_does_not_load_numba_cuda(runs):
    assert runs["api"]["imported_numba_cuda_at_load"] is False


@needs_numba_cuda
def test_simulated_blocks_run_with_a_short_switch_interval_restored_after(runs):
    # numba-cuda's BlockManager polls its threads holding the GIL for whole 5 ms intervals
    # (a row kernel 3x slower); the runtime runs each block at 0.1 ms and restores the
    # interpreter's interval (symsmooth/runtime/cuda_host.py, _quicken_simulated_blocks)
    before, during, after = runs["api"]["switch_interval"]
    assert len(during) == 1 and during[0] == pytest.approx(1e-4) and after == before > 1e-4


@needs_numba_cuda
def test_device_arrays_stay_on_the_device(runs):
    api = runs["api"]
    assert api["device_out_type"] == "FakeCUDAArray"  # the simulator's device array
    assert api["device_out_shape"] == [2, 3]
    assert api["device_vs_cpu"] <= 1
    assert api["grad_device"] <= 4
    assert api["elementwise_device"][0] == "FakeCUDAArray"
    assert api["elementwise_device"][1] == 0


@needs_numba_cuda
def test_launch_shapes_params_and_dtypes(runs):
    api = runs["api"]
    assert all(d <= 1 for d in api["blocks"].values()), api["blocks"]
    assert api["per_row_params"] <= 1
    assert api["float32_dtype"] == "float32" and api["float32_vs_cpu"] == 0
    # a softmax VJP p * (G - sum G p) cancels where G ~ sum G p, so it is compared with the CPU
    # kernel relative to its terms |G| p (the row sum's order differs: threads, then warps)
    assert api["rowmap_cotangent"] <= 1e-13
    assert api["broadcast"] == 0 and api["broadcast_shape"] == [3, 4]
    assert api["grid_stride"] == 0
    assert "multiple of 32" in api["bad_block"]
    assert "broadcast" in api["bad_device_broadcast"]


@needs_numba_cuda
def test_masks_match_cpu(runs):
    """``where=`` on the launchers: masked entries (NaN, +inf, 1e300 there) join no sum and
    get gradient 0, a fully masked row gives -inf (log-sum-exp) or 0 (a loss, a 0/0 value),
    host and device masks, labels checked as on the CPU (tests/test_cuda_runner.py)."""
    api = runs["api"]
    for key in ("lse", "lse_device_mask", "ce", "soft_argmax", "softmax"):
        assert api[f"mask_{key}"] <= 2, (key, api[f"mask_{key}"])
    for key in ("lse_grad", "ce_grad", "softmax_vjp"):
        assert api[f"mask_{key}"] <= 8, (key, api[f"mask_{key}"])
    assert api["mask_empty_rows"] == [float("-inf"), 0.0, 0.0]
    assert api["mask_masked_grads_zero"] is True
    assert "selects a masked entry" in api["mask_bad_label"]
    assert "device mask must have the inputs' shape" in api["mask_device_shape"]


@needs_numba_cuda
def test_edge_semantics_match_cpu(runs):
    """-inf rows, +inf entries, NaN, empty rows and no rows behave as on the CPU."""
    api = runs["api"]
    assert api["edges"] == 0 and api["edges_grad"] == 0
    assert api["empty_rows"] == 0
    assert api["no_rows_shape"] == [0]


# --- no GPU: a clear error; targets ---------------------------------------------------------------


@needs_numba_cuda
def test_without_gpu_the_error_says_what_to_do(modules):
    code = (
        f"import sys; sys.path.insert(0, {str(RUNNER.parents[1])!r})\n"
        "from symsmooth.codegen.render import load_module\n"
        f"m = load_module('softplus', {str(GENERATED)!r})\n"
        "from numba import cuda\n"
        "if cuda.is_available():\n"
        "    print('GPU'); raise SystemExit\n"
        "try:\n"
        "    m.softplus_cuda([1.0], 1.0)\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    if out.stdout.strip() == "GPU":
        pytest.skip("a GPU is present")
    assert "no CUDA GPU found: use softplus() for the CPU kernel" in out.stdout, out.stderr
    assert "NUMBA_ENABLE_CUDASIM=1" in out.stdout


def test_targets_are_checked():
    assert check_targets(["cuda", "cpu"]) == ("cpu", "cuda")
    with pytest.raises(CodegenError, match="known targets are cpu, cuda"):
        check_targets(["gpu"])
    with pytest.raises(CodegenError, match="'cpu' is always included"):
        check_targets(["cuda"])


def test_cpu_target_has_no_cuda_section(tmp_path):
    (path,) = pipeline.generate(["softplus"], out=tmp_path, targets=("cpu",))
    assert "_cuda" not in path.read_text()
    (path,) = pipeline.generate(["softplus"], out=tmp_path)
    text = path.read_text()
    assert "def softplus_cuda(x, k):" in text and "def softplus_grad_cuda(x, k):" in text


def test_cli_gen_target(tmp_path):
    from symsmooth.cli import main

    for target, has_cuda in (("cpu", False), ("cuda", True), ("all", True)):
        folder = tmp_path / target
        with pytest.raises(SystemExit) as stop:
            main(["gen", "softplus", "--out", str(folder), "--target", target])
        assert stop.value.code in (0, None)
        assert ("def softplus_cuda" in (folder / "softplus.py").read_text()) is has_cuda


def test_cuda_section_reuses_the_cpu_scalar_code():
    """The CUDA section recompiles the CPU helpers and cores; it prints no formula of its own."""
    spec = pipeline.kernel_spec("relu_gaussian")
    text = render_cuda(spec)
    assert "_core_relu_gaussian, " in text and "_Phi, " in text
    assert "math.erfc" not in text


# --- a real GPU ---------------------------------------------------------------------------------


def _gpu_present() -> bool:
    if not HAVE_NUMBA_CUDA or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    code = "from numba import cuda; print(cuda.is_available())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    return out.stdout.strip() == "True"


@pytest.mark.gpu
def test_every_kernel_on_a_gpu(modules):
    """On real hardware (libdevice exp/log/erfc instead of the host libm), every kernel meets
    the same targets as its CPU twin, or stays within 4 ulps of it where the CPU misses too."""
    if not _gpu_present():
        pytest.skip("no CUDA GPU")
    names = [n for n in NAMES if n not in GENERATION_ERRORS]
    result = _collect(_start("sim", modules, names, simulate=False), timeout=1800)
    bad = {}
    for name, r in result.items():
        if r["error"] is not None:
            bad[name] = r["error"]
            continue
        values = [d for k, d in r["distance"].items() if not k.startswith("grad")]
        if max(values) > 4:
            bad[name] = r["distance"]
    assert not bad, bad
