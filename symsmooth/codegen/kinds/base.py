"""The record of one kernel kind and what the CUDA signatures of every kind share.

A kind (``elementwise``, ``reduction``, ``iteration``) is one module of this package that
builds the kind's CPU template context from a spec and a printer and its CUDA context from
that CPU context; :class:`Kind` names the two builders and the two templates.  The registry
is :data:`symsmooth.codegen.kinds.KINDS`.

Examples
--------
>>> k = Kind("demo", lambda spec, printer: {}, lambda spec, ctx: {}, "demo.py.j2")
>>> k.cuda_template
'cuda_demo.py.j2'
>>> operand_sig("float32")
['float64', 'float32[::1]', 'int64']
>>> kernel_pair("_v", "_g", ["_h"], lambda t, grad: f"void({t}, {grad})")["cuda_signatures"]["_g"]
['void(float32, True)', 'void(float64, True)']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DTYPES = ("float32", "float64")
"""The data dtypes of the typed CUDA signatures (float32 first)."""


@dataclass(frozen=True)
class Kind:
    """One kernel kind.

    Attributes
    ----------
    name : str
        The ``spec.kind`` it serves.
    cpu_context : callable
        ``(spec, printer) -> dict``: the template variables of the CPU template (formulas as
        statements or printed text; helpers the printer used are recorded on it).
    cuda_context : callable
        ``(spec, cpu_ctx) -> dict``: the ``cuda_*`` variables, from the finished CPU context.
    template : str
        The CPU template (it includes :attr:`cuda_template` when CUDA is a target).
    """

    name: str
    cpu_context: Callable[..., dict]
    cuda_context: Callable[..., dict]
    template: str

    @property
    def cuda_template(self) -> str:
        """The CUDA template of this kind (included by :attr:`template`)."""
        return f"cuda_{self.name}.py.j2"


def operand_sig(dtype: str) -> list[str]:
    """(value, array, mode): a scalar, an array read at each element (mode 1) or at 0 (mode 2)."""
    return ["float64", f"{dtype}[::1]", "int64"]


def kernel_pair(value_kernel: str, grad_kernel: str, device, sig) -> dict:
    """The ``cuda_*`` entries every kind has: its value and gradient kernels, the device
    functions they recompile, and the typed signatures for the PTX check, ``sig(dtype, grad)``
    for each dtype of :data:`DTYPES`."""
    return {
        "cuda_value_kernel": value_kernel,
        "cuda_grad_kernel": grad_kernel,
        "cuda_device": list(device),
        "cuda_kernels": [value_kernel, grad_kernel],
        "cuda_signatures": {
            value_kernel: [sig(t, False) for t in DTYPES],
            grad_kernel: [sig(t, True) for t in DTYPES],
        },
    }
