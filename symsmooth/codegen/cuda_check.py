"""Ahead-of-time PTX compilation of a generated module's CUDA kernels, with or without a GPU.

Numba's CUDA simulator runs kernels as Python and checks no types, so every kernel is also
compiled to PTX with :func:`numba.cuda.compile_ptx` for explicit compute capabilities.  That
needs only the CUDA toolkit wheels (NVVM), not a driver — except that a kernel calling a
``cuda.jit(device=True)`` function makes Numba ask the current device for its compute capability
(``numba.cuda.dispatcher.get_current_device``).  Without a GPU we answer with the capability
being compiled for (:func:`assumed_device`); the device functions are compiled into the
kernel's own module, so the PTX is the one a GPU of that capability would get.

Use it in a process where ``NUMBA_ENABLE_CUDASIM`` is not set (the simulator's ``compile_ptx``
is a stub).

Examples
--------
>>> import numba.cuda.dispatcher as dispatcher
>>> with assumed_device((9, 0)):
...     dispatcher.get_current_device().compute_capability
(9, 0)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace

CAPABILITIES = ((8, 0), (9, 0))
"""sm_80 (A100) and sm_90 (H100/H200): the architectures the PTX check covers."""


@dataclass(frozen=True)
class PtxResult:
    """One compiled kernel: its name, signature, compute capability and PTX size in bytes."""

    kernel: str
    signature: str
    cc: tuple
    size: int


@contextlib.contextmanager
def assumed_device(cc: tuple):
    """Make Numba's CUDA dispatcher see a device of capability ``cc`` when none is present.

    Only the dispatcher's lookup is replaced, and only when no GPU is available; it is
    restored on exit.
    """
    from numba import cuda
    from numba.cuda import dispatcher

    if cuda.is_available():
        yield
        return
    original = dispatcher.get_current_device
    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=tuple(cc))
    try:
        yield
    finally:
        dispatcher.get_current_device = original


def compile_module_ptx(
    module: ModuleType, ccs=CAPABILITIES, dtypes=("float32", "float64"), kernels=None
) -> list[PtxResult]:
    """Compile every kernel of a generated module (or those named in ``kernels``) to PTX for
    each capability in ``ccs``.

    Signatures come from the module's ``_CUDA_SIGNATURES`` (one per data dtype, float32 first).
    Raises whatever Numba raises on a typing or lowering error, and a KeyError naming a kernel
    the module does not have.
    """
    unknown = sorted(set(kernels or ()) - set(module._CUDA_SIGNATURES))
    if unknown:
        raise KeyError(f"{module.__name__} has no CUDA kernel {unknown[0]}")
    from numba import cuda

    index = {"float32": 0, "float64": 1}
    results = []
    built = module._cuda_build(cuda)
    for cc in ccs:
        with assumed_device(cc):
            for name, signatures in module._CUDA_SIGNATURES.items():
                if kernels is not None and name not in kernels:
                    continue
                for dtype in dtypes:
                    signature = signatures[index[dtype]]
                    pyfunc = built[name].py_func
                    ptx, _ = cuda.compile_ptx(pyfunc, signature, device=False, cc=cc)
                    results.append(PtxResult(name, signature, tuple(cc), len(ptx)))
    return results
