"""Host-side helpers of the CUDA launchers: lazy compilation, device views, launch shapes.

``numba.cuda`` is imported on the first call of a ``*_cuda`` launcher (:func:`_cuda`), so a
generated module imports without a GPU or numba-cuda.  :func:`_cuda_build` compiles the module's
scalar helpers and cores as CUDA device functions and its kernels with ``cuda.jit``, each
rebound into a namespace holding ``numba.cuda`` as ``cuda`` (and, in the simulator, a ``math``
that returns IEEE results where Python's raises: :class:`_SimulatedMath`).  The code generator
(:mod:`symsmooth.codegen.host`) copies the source of each function here that a generated
module calls, with the functions they call.  They read module constants of the generated module:
``_NAME`` (the kernel's name, in messages), ``_CUDA`` (the built kernels), ``_CUDA_DEVICE``,
``_CUDA_KERNELS`` (the functions to compile) and ``_CUDA_SHUFFLE`` (the GPU and simulator warp
shuffle, empty when no kernel shuffles); the values below only stand for them here.

Examples
--------
>>> import numpy as np
>>> _cuda_dtype([np.float32, np.float32]), _cuda_dtype([np.float32, np.float64])
(dtype('float32'), dtype('float64'))
>>> _cuda_view(None, np.zeros(3)) is None
True
>>> _SimulatedMath().log(0.0), _SimulatedMath().exp(1000.0)
(-inf, inf)
"""

from __future__ import annotations

import math

import numpy as np
from numba import float64

cuda = None
"""Stands for ``numba.cuda`` in the kernels (bound by :func:`_cuda_build`)."""
_NAME = "kernel"
_CUDA: dict = {}
_CUDA_DEVICE: tuple = ()
_CUDA_KERNELS: tuple = ()
_CUDA_SHUFFLE: tuple = ()


def _shfl_down_gpu(value, delta):
    return cuda.shfl_down_sync(0xFFFFFFFF, value, delta)


def _shfl_down_sim(value, delta):
    """Numba's simulator has no warp shuffles: the same exchange through shared memory.  Every
    thread of the block calls it equally often (the kernels keep the combine uniform)."""
    buf = cuda.shared.array(1024, float64)
    t = cuda.threadIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    cuda.syncthreads()
    buf[t] = value
    cuda.syncthreads()
    if t % 32 + delta < 32:
        return buf[t + delta]
    return value


def _cuda_simulated(cuda):
    """Whether ``cuda`` is Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)."""
    return getattr(cuda.jit, "__module__", "").startswith("numba.cuda.simulator")


def _lock_simulated_shared_arrays():
    """Serialize the simulator's shared-array allocation: numba-cuda's ``FakeCUDAShared.array``
    looks its array up by the calling line and stores a new one without a lock, so two threads
    of a block that reach the line together can each allocate one (uninitialised memory the
    other threads never write: a kernel read garbage, an inf, in one suite run of four under
    load).  The same lookup under a lock; patched once, in the simulator only."""
    import sys
    import threading
    import traceback

    from numba.cuda import types
    from numba.cuda.np import numpy_support
    from numba.cuda.simulator import kernelapi

    shared = kernelapi.FakeCUDAShared
    if getattr(shared.array, "locked", False):
        return
    unlocked, lock = shared.array, threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:  # dynamic shared memory, or its error
            return unlocked(self, shape, dtype, alignment)
        caller = traceback.extract_stack(sys._getframe())[-2][0:2]  # the kernel's line
        with lock:
            if caller not in self._allocations:
                if isinstance(dtype, types.Type):
                    dtype = numpy_support.as_dtype(dtype)
                self._allocations[caller] = np.empty(shape, dtype)
            return self._allocations[caller]

    array.locked = True
    shared.array = array


def _quicken_simulated_blocks():
    """Run each simulated block with a 0.1 ms GIL switch interval (the interpreter's own
    restored after it): numba-cuda's ``BlockManager.run`` polls its block's threads in a busy
    loop, and with the default 5 ms interval that loop holds the GIL whole intervals while the
    threads, parked at a ``syncthreads``, wait for it (a row kernel ran 3x slower: 27.5 s
    against 8.7 s for soft argmax, zlpr and softplus in tests/test_cuda_runner.py).  Patched
    once, in the simulator only; the kernels compute the same."""
    import sys
    import threading

    from numba.cuda.simulator import kernel

    manager = kernel.BlockManager
    if getattr(manager.run, "quick", False):
        return
    slow, lock, state = manager.run, threading.Lock(), {"running": 0, "saved": None}

    def run(self, grid_point, *args):
        with lock:  # blocks run from several threads: the first sets, the last restores
            if state["running"] == 0:
                state["saved"] = sys.getswitchinterval()
                sys.setswitchinterval(1e-4)
            state["running"] += 1
        try:
            return slow(self, grid_point, *args)
        finally:
            with lock:
                state["running"] -= 1
                if state["running"] == 0:
                    sys.setswitchinterval(state["saved"])

    run.quick = True
    manager.run = run


class _SimulatedMath:
    """``math`` for the simulator, which runs kernels as Python: where Python's math raises
    (log(0), exp(1000)), the IEEE result a GPU returns (NumPy's, without warnings)."""

    def __getattr__(self, name):
        fn = getattr(math, name)
        if not callable(fn):
            return fn

        def call(*args):
            try:
                return fn(*args)
            except (ValueError, OverflowError):
                alt = getattr(np, {"atan": "arctan", "pow": "power"}.get(name, name))
                with np.errstate(all="ignore"):
                    return float(alt(*args))

        return call


def _cuda_build(cuda):
    """Dispatchers of the kernels (compiled on first launch): {function name: dispatcher}."""
    import types

    from numba import float64, int64

    ns = {"math": math, "cuda": cuda, "float64": float64, "int64": int64}
    if _cuda_simulated(cuda):
        ns["math"] = _SimulatedMath()
        _lock_simulated_shared_arrays()
        _quicken_simulated_blocks()

    def rebind(fn):
        fn = getattr(fn, "py_func", fn)
        return types.FunctionType(fn.__code__, ns, fn.__name__)

    for fn in _CUDA_DEVICE:
        ns[fn.__name__] = cuda.jit(device=True)(rebind(fn))
    if _CUDA_SHUFFLE:
        gpu, simulated = _CUDA_SHUFFLE
        shuffle = simulated if _cuda_simulated(cuda) else gpu
        ns["_shfl_down"] = cuda.jit(device=True)(rebind(shuffle))
    for fn in _CUDA_KERNELS:
        ns[fn.__name__] = cuda.jit(rebind(fn))
    return ns


def _cuda():
    """The compiled kernels and numba.cuda (built once); a clear error without a GPU."""
    if not _CUDA:
        try:
            from numba import cuda
        except ImportError as exc:  # pragma: no cover - numba without its CUDA target
            raise RuntimeError(
                f"{_NAME}_cuda needs numba-cuda "
                f"(pip install 'numba-cuda[cu12]'); use {_NAME}() for the CPU kernel"
            ) from exc
        if not cuda.is_available():
            raise RuntimeError(
                f"no CUDA GPU found: use {_NAME}() for the CPU kernel, or set "
                "NUMBA_ENABLE_CUDASIM=1 to run the CUDA kernel in the simulator"
            )
        kernels = _cuda_build(cuda)
        kernels["cuda"] = cuda
        kernels["simulator"] = _cuda_simulated(cuda)
        # stands for the array of an operand passed as a scalar (never read)
        kernels["dummy"] = cuda.to_device(np.zeros(1, dtype=np.float64))
        kernels["dummy2"] = cuda.to_device(np.zeros((1, 1), dtype=np.float64))
        _CUDA.update(kernels)
    return _CUDA


def _cuda_view(cuda, a):
    """A Numba device-array view of GPU data (Numba, CuPy, PyTorch: anything with
    __cuda_array_interface__; no copy), or None for host data."""
    if hasattr(a, "__cuda_array_interface__"):
        return cuda.as_cuda_array(a)
    if type(a).__name__ == "FakeCUDAArray":  # a device array of the simulator
        return a
    return None


def _cuda_dtype(dtypes):
    """float32 when every array is float32 (computed in float64, rounded once), else float64."""
    dtypes = [np.dtype(d) for d in dtypes]
    if dtypes and all(d == np.float32 for d in dtypes):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _cuda_flat(view):
    """A 1-D view of a C-contiguous device array (no copy)."""
    if view.ndim != 1 and not view.is_c_contiguous():
        raise ValueError(
            f"{_NAME}_cuda: device arrays must be C-contiguous "
            "(e.g. x.contiguous() in PyTorch, cupy.ascontiguousarray(x)); "
            "host arrays may have any layout"
        )
    return view.reshape(view.size) if view.ndim != 1 else view


def _cuda_host_data(a):
    """A C-contiguous float32/float64 host array (float32 stays float32: the kernel up-casts)."""
    a = np.asarray(a)
    return np.ascontiguousarray(a, dtype=np.float32 if a.dtype == np.float32 else np.float64)


def _cuda_empty(st, proto, shape, dtype):
    """A new device array like ``proto`` (torch tensor, CuPy array, Numba device array), and
    its Numba view."""
    cuda = st["cuda"]
    kind = type(proto).__module__.split(".")[0] if proto is not None else ""
    if kind == "torch":
        import torch

        out = torch.empty(shape, dtype=getattr(torch, np.dtype(dtype).name), device=proto.device)
        return out, cuda.as_cuda_array(out)
    if kind == "cupy":
        import cupy

        with cupy.cuda.Device(proto.device.id):
            out = cupy.empty(shape, dtype=dtype)
        return out, cuda.as_cuda_array(out)
    out = cuda.device_array(shape, dtype=dtype)
    return out, out


def _cuda_result(out, proto, shape):
    """Device output for device input; a host array (copied back) for host input."""
    if proto is None:
        return out.copy_to_host().reshape(shape)
    return out
