"""Code generation targets: one :class:`Target` per target (CPU, CUDA), one registry; and the
native targets (torch, jax), each a module of its own.

A target names the section of a generated module it renders and how it adds its template
variables to a kernel's context, given the spec's :class:`~symsmooth.codegen.kinds.base.Kind`.
The CPU target is always rendered (the CUDA kernels recompile the CPU module's scalar code);
targets render in the order of :data:`TARGETS`.  A new target is one :class:`Target` here
plus a template per kind.

The native targets (:data:`NATIVE_TARGETS`, :mod:`symsmooth.codegen.native`) write
``<name>_torch.py`` / ``<name>_jax.py`` beside the CPU module, need no CPU module, and take
elementwise kernels for now; :func:`split_targets` separates a request into the two groups.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> from symsmooth.codegen.spec import make_spec
>>> x, k = sp.symbols("x k", real=True)
>>> spec = make_spec("sp1", softplus(k * x) / k, inputs=(x,), params=(k,))
>>> ctx = context(spec, ("cpu", "cuda"))
>>> ctx["cores"][0]["lines"], ctx["cuda_kernels"]
(['return _softplus(k*x)/k'], ['_cuda_sp1', '_cuda_sp1_grad'])
>>> [t.template(kind(spec.kind)) for t in REGISTRY.values()]
['elementwise.py.j2', 'cuda_elementwise.py.j2']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from symsmooth.codegen.emit import kernel_context
from symsmooth.codegen.kinds import Kind, kind
from symsmooth.errors import CodegenError


@dataclass(frozen=True)
class Target:
    """One code generation target.

    Attributes
    ----------
    name : str
        As given to ``ss.generate(..., targets=...)`` and ``--target``.
    extend : callable
        ``(spec, kind, ctx) -> dict``: the variables this target adds to ``ctx`` (the context
        of the targets before it; empty for the CPU target).
    template : callable
        ``kind -> str``: the template of this target's section for a kind.
    """

    name: str
    extend: Callable[..., dict]
    template: Callable[[Kind], str]


CPU = Target("cpu", lambda spec, k, ctx: kernel_context(spec, k), lambda k: k.template)
"""The CPU module: scalar cores, ufuncs and row loops (``@njit``)."""
CUDA = Target("cuda", lambda spec, k, ctx: k.cuda_context(spec, ctx), lambda k: k.cuda_template)
"""The ``<name>_cuda`` launchers and ``@cuda.jit`` kernels (compiled lazily)."""

REGISTRY: dict[str, Target] = {t.name: t for t in (CPU, CUDA)}
"""Target name -> :class:`Target`, in rendering order."""
TARGETS = tuple(REGISTRY)
"""Code generation targets; DESIGN.md: ``ss.generate(..., targets=("cpu", "cuda"))``."""


@dataclass(frozen=True)
class NativeTarget:
    """One native code generation target: a module of its own, ``<name>_<target>.py``
    (rendered by :mod:`symsmooth.codegen.native`).

    Attributes
    ----------
    name : str
        As given to ``--target`` and ``ss.generate(..., targets=...)``.
    templates : dict
        Kernel kind -> the template of its modules.
    needs : str
        What a generated module imports (for its header).
    rule_base : tuple of str
        The base functions its template's custom derivative rule of a row map calls (the
        pivoted VJP, :mod:`symsmooth.codegen.native_pivot`).
    linear_rule : bool
        Whether that rule is transposed by the framework (JAX: the JVP is the transpose of the
        VJP, and reverse mode transposes it back), so what depends on the cotangent takes the
        linear error-free transformations and every statement sits behind a barrier
        (:data:`symsmooth.codegen.native_row_nodes.LINEAR_ROW_NODES`,
        :func:`symsmooth.codegen.native_pivot.pivot_gradient`).
    """

    name: str
    templates: dict
    needs: str
    rule_base: tuple = ()
    linear_rule: bool = False

    def template(self, kind: str) -> str:
        """The template of this target's modules of ``kind``."""
        return self.templates[kind]


NATIVE_TARGETS: dict[str, NativeTarget] = {
    "torch": NativeTarget(
        "torch",
        {
            "elementwise": "torch_elementwise.py.j2",
            "reduction": "torch_reduction.py.j2",
            "iteration": "torch_iteration.py.j2",
        },
        "torch",
        ("param_term",),
    ),
    "jax": NativeTarget(
        "jax",
        {
            "elementwise": "jax_elementwise.py.j2",
            "reduction": "jax_reduction.py.j2",
            "iteration": "jax_iteration.py.j2",
        },
        "jax",
        linear_rule=True,
    ),
}
"""Native target name -> :class:`NativeTarget` (printers: :data:`symsmooth.codegen.
native_printer.PRINTERS`)."""


def split_targets(targets) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(module targets, native targets)`` of a request, each in registry order; an unknown
    name is a :class:`CodegenError` naming every target.

    >>> split_targets(["torch", "cpu", "jax"])
    (('cpu',), ('torch', 'jax'))
    >>> split_targets(["torch"])
    ((), ('torch',))
    """
    wanted = set(targets)
    unknown = sorted(wanted - set(TARGETS) - set(NATIVE_TARGETS))
    if unknown:
        raise CodegenError(
            f"targets {sorted(wanted)}: known targets are {', '.join(TARGETS)} (one module; "
            f"'cpu' is always included) and the native {', '.join(NATIVE_TARGETS)} (a module "
            "each); use --target cpu|cuda|all|torch|jax"
        )
    module = tuple(t for t in TARGETS if t in wanted)
    native = tuple(t for t in NATIVE_TARGETS if t in wanted)
    return module, native


def check_targets(targets) -> tuple[str, ...]:
    """``targets`` as a tuple, or a :class:`CodegenError` naming the known ones.

    >>> check_targets(["cuda", "cpu"])
    ('cpu', 'cuda')
    """
    chosen = tuple(t for t in TARGETS if t in set(targets))
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown or "cpu" not in chosen:
        raise CodegenError(
            f"targets {sorted(set(targets))}: known targets are {', '.join(TARGETS)}, and "
            "'cpu' is always included (the CUDA kernels reuse the CPU module's scalar code); "
            "use --target cpu|cuda|all"
        )
    return chosen


def context(spec, targets=("cpu",)) -> dict:
    """Template variables of ``spec`` for ``targets`` (without the header fields): each
    target's variables added in turn, the CPU target's first."""
    k = kind(spec.kind)
    ctx: dict = {}
    for name in check_targets(targets):
        ctx.update(REGISTRY[name].extend(spec, k, ctx))
    return ctx
