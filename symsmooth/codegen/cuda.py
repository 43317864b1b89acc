"""CUDA kernels from the same :class:`~symsmooth.codegen.spec.KernelSpec` as the CPU kernels.

The CPU context (:data:`symsmooth.codegen.targets.CPU`) already holds every formula; the CUDA
target (:data:`~symsmooth.codegen.targets.CUDA`, built per kind in
:mod:`symsmooth.codegen.kinds`) adds what the ``@cuda.jit`` templates need on top of it
(keys prefixed ``cuda_``): the device functions to recompile, the kernel names, per-element
loads that up-cast to float64, the size of the shared-memory state of a row reduction, and the
typed signatures used by the PTX check (:mod:`symsmooth.codegen.cuda_check`).

The generated CUDA code compiles lazily: importing a generated module never imports
``numba.cuda``.  The scalar helpers and cores are the very functions of the CPU kernel,
recompiled by ``cuda.jit(device=True)`` from their Python code (``py_func``), so the CPU and
GPU paths cannot drift apart.

Row reductions follow the online normalizer of Milakov and Gimelshein (arXiv:1805.02867): each
thread keeps ``(M_g, s_k, c_k)`` (running maximum, scaled sum, TwoSum compensation) over a
strided part of the row; states are merged with ``s = s_a exp(M_a - M) + s_b exp(M_b - M)``
first across a warp (``cuda.shfl_down_sync``), then across warps through shared memory.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> from symsmooth.codegen.spec import make_spec
>>> x, k = sp.symbols("x k", real=True)
>>> spec = make_spec("sp1", softplus(k * x) / k, inputs=(x,), params=(k,))
>>> text = render_cuda(spec)
>>> "def sp1_cuda(x, k):" in text and "def _cuda_sp1(" in text
True
>>> cuda_context(spec)["cuda_signatures"]["_cuda_sp1"][0]
'void(float32[::1], int64, float64, float32[::1], int64, float64, float64[::1], int64)'
"""

from __future__ import annotations

from symsmooth.codegen.kinds import kind
from symsmooth.codegen.kinds.base import DTYPES
from symsmooth.codegen.render import environment, render_template
from symsmooth.codegen.spec import KernelSpec
from symsmooth.codegen.targets import TARGETS, check_targets, context

__all__ = ["DTYPES", "TARGETS", "check_targets", "cuda_context", "render_cuda", "template_name"]


def cuda_context(spec: KernelSpec, ctx: dict | None = None) -> dict:
    """The ``cuda_*`` template variables of ``spec`` (``ctx``: its CPU context, if computed)."""
    ctx = context(spec) if ctx is None else ctx
    return kind(spec.kind).cuda_context(spec, ctx)


def template_name(kind_name: str) -> str:
    """The CUDA template included by the CPU template of ``kind_name``."""
    return kind(kind_name).cuda_template


def render_cuda(spec: KernelSpec) -> str:
    """The CUDA section alone (CPU context plus ``cuda_*`` keys), for inspection and tests."""
    ctx = context(spec, TARGETS)
    ctx.update(kind=spec.kind, inputs=spec.input_names, targets=TARGETS)
    return render_template(environment().get_template(template_name(spec.kind)), ctx)
