"""Native PyTorch and JAX modules: ``<name>_torch.py`` and ``<name>_jax.py`` for elementwise
kernels (issue #15).

The bridges (:mod:`symsmooth.torch`, :mod:`symsmooth.jax`) call the Numba kernels from a model;
those calls cannot fuse with it (``torch.compile``, XLA), cannot run on a TPU and need host
callbacks in JAX.  A native module is the same stable form written in framework ops: the
spec's stabilized value and its derived stable gradients (every input and every parameter)
printed by :class:`~symsmooth.codegen.native_printer.TorchPrinter` or
:class:`~symsmooth.codegen.native_printer.JaxPrinter`, each primitive a small function printed
from its recipe (:mod:`symsmooth.codegen.recipes`), with the hand-written base of
:mod:`symsmooth.runtime.torch_native` / :mod:`symsmooth.runtime.jax_native`.

**Gradients** are the derived ones, attached to the value: a ``torch.autograd.Function`` whose
backward multiplies the cotangent by ``<name>_grad_<v>`` (summed back to each operand's shape),
a ``jax.custom_jvp`` whose rule is the sum of the partials times the tangents.  So the first
derivatives are the stabilized forms the Numba kernels verify (the parameter partials with
their Euler gaps collapsed: autodiff of ``softplus(k x)/k`` in ``k`` cancels catastrophically),
never autodiff of a ``where`` whose untaken branch overflows.  Higher derivatives are autodiff
of those partials, whose recipes write every branch on a clamped argument ("double where").

Layout lives in ``templates/torch_elementwise.py.j2`` and ``templates/jax_elementwise.py.j2``;
names in :mod:`symsmooth.codegen.names`.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> from symsmooth.codegen.spec import make_spec
>>> x, k = sp.symbols("x k", real=True)
>>> spec = make_spec("sp1", softplus(k * x) / k, inputs=(x,), params=(k,))
>>> ctx = native_context(spec, "torch")
>>> ctx["value"]["lines"], [g["name"] for g in ctx["grads"]]
(['return _softplus(k*x)/k'], ['sp1_grad_x', 'sp1_grad_k'])
>>> "def _softplus(z):" in render_native(spec, "jax")
True
"""

from __future__ import annotations

import ast
from functools import partial
from pathlib import Path
from types import ModuleType

from symsmooth.codegen.api import native_record
from symsmooth.codegen.emit import Return, lines, statements
from symsmooth.codegen.formatting import format_source
from symsmooth.codegen.importing import atomic_write, import_generated
from symsmooth.codegen.kinds.reduction import label_checks
from symsmooth.codegen.names import (
    comment_text,
    grad_function,
    native_function_class,
    native_module,
    native_private,
    native_public_names,
    public_names,
)
from symsmooth.codegen.native_paramgrad import covered_params, param_derivatives
from symsmooth.codegen.native_pivot import COTANGENT_ROWS, pivot_gradient
from symsmooth.codegen.native_printer import PRINTERS, base_sources, helper_sources
from symsmooth.codegen.native_rows import KEEP_ROWS, rows_statements
from symsmooth.codegen.render import environment, template_hash
from symsmooth.codegen.targets import NATIVE_TARGETS
from symsmooth.errors import CodegenError
from symsmooth.identifiers import check_name
from symsmooth.version import __version__

REDUCTION_BASE = (
    "operands",
    "result_dtype",
    "narrow",
    "to_rows",
    "per_row",
    "row_any",
    "kept",
    "empty_fill",
    "from_rows",
    "vjp",
)
"""The base functions every reduction module calls from its template (the label check joins
where the kernel has a class label)."""

ISSUE = "issue #15"
"""Where the native targets' missing parts are tracked (reductions, iterations)."""


def check_native(spec, target: str):
    """The :class:`NativeTarget` ``target`` for ``spec``, or a :class:`CodegenError`: an
    unknown target, or a kind the native targets do not take yet."""
    if target not in NATIVE_TARGETS:
        raise CodegenError(f"no native target {target!r}; known: {', '.join(NATIVE_TARGETS)}")
    if spec.kind not in CONTEXTS:
        raise CodegenError(
            f"{spec.name} is a {spec.kind} kernel: the {target} target takes "
            f"{', '.join(CONTEXTS)} kernels only ({ISSUE}); use `--target cpu` and the "
            f"{target} bridge (docs/{target}.md) meanwhile"
        )
    return NATIVE_TARGETS[target]


def _function(name: str, private: str, expr, printer) -> dict:
    stmts = statements([expr], ["_out"], "_c")
    stmts = stmts[:-1] + [Return(stmts[-1].expr)]
    return {"name": name, "private": private, "lines": lines(stmts, printer)}


def native_context(spec, target: str) -> dict:
    """The template variables of ``spec``'s ``target`` module (without the header fields),
    by kind: :func:`elementwise_context` or :func:`reduction_context`."""
    check_native(spec, target)
    return CONTEXTS[spec.kind](spec, target)


def elementwise_context(spec, target: str) -> dict:
    """The template variables of ``spec``'s ``target`` module (without the header fields):
    the value and every partial as private functions of printed lines, the helpers and base
    functions they call, the public names and which operand each partial belongs to."""
    check_native(spec, target)
    printer = PRINTERS[target]()
    name = spec.name
    value = _function(name, native_private(name), spec.stable, printer)
    grads = []
    pairs = list(zip(spec.input_names, spec.input_codes, spec.stable_gradients, strict=True))
    grad_params = dict(zip(spec.grad_param_names, spec.stable_param_gradients, strict=True))
    pairs += [
        (p, c, grad_params[p])
        for p, c in zip(spec.param_names, spec.param_codes, strict=True)
        if p in grad_params
    ]
    for user, code, expr in pairs:
        public = f"{name}_grad_{user}"
        grads.append({**_function(public, native_private(name, user), expr, printer), "of": code})
    by_code = {g["of"]: g for g in grads}
    operands = [
        {"code": code, "index": j, "grad": by_code[code]["private"] if code in by_code else None}
        for j, code in enumerate(spec.input_codes + spec.param_codes)
    ]
    helpers = helper_sources(printer)  # before the base: the recipes call base functions too
    privates = {value["private"], *(g["private"] for g in grads)}
    clash = sorted(
        ({f"_{h}" for h in printer.helpers} | {f"_{b}" for b in printer.base}) & privates
    )
    if clash:
        raise CodegenError(
            f"{name}: the {target} module would define {', '.join(clash)} twice (a primitive's "
            "helper and the kernel's own function); rename the kernel"
        )
    return {
        "name": name,
        "args": ", ".join(spec.input_codes + spec.param_codes),
        "value": value,
        "grads": grads,
        "input_grads": grads[: len(spec.input_names)],
        "operands": operands,
        "function_class": native_function_class(name),
        "helpers": helpers,
        "base": base_sources(printer),
        "public": native_public_names(name, spec.input_names, spec.grad_param_names),
    }


def render_native(spec, target: str) -> str:
    """The text of ``<out>/<name>_<target>.py``."""
    chosen = check_native(spec, target)
    ctx = native_context(spec, target)
    command = spec.command or f"symsmooth gen {spec.name}"
    ctx.update(
        version=__version__,
        target=target,
        needs_only=chosen.needs,
        command=comment_text(f"{command} --target {target}"),
        construction=comment_text(spec.construction),
        kind=spec.kind,
        header_inputs=spec.input_names,
        header_params=spec.param_names,
        template_name=chosen.template(spec.kind),
        template_hash=template_hash(chosen.template(spec.kind)),
        source_hash=spec.source_hash,
        applied=spec.applied,
        api=repr(native_record(spec, target)),
    )
    template = environment().get_template(chosen.template(spec.kind))
    first = template.render(**ctx, uses=_Everything())
    text = template.render(**ctx, uses=_loaded(first))
    return format_source(_tidy(text), f"{spec.name}_{target}")


def reduction_context(spec, target: str) -> dict:
    """The template variables of a reduction's ``target`` module: the rows function's lines
    (:func:`symsmooth.codegen.native_rows.rows_statements`), the helpers and base functions
    they call, the label checks and the public gradient functions."""
    printer = PRINTERS[target]()
    printer.template_base = REDUCTION_BASE
    name = spec.name
    vectors, params = list(spec.input_codes), list(spec.param_codes)
    body = lines(rows_statements(spec), printer)
    private = native_private(name)
    pgrad = None
    linear = NATIVE_TARGETS[target].linear_rule
    pivoted = rows_statements(spec, partial(pivot_gradient, linear=linear), frozen_pivots=False)
    if pivoted is not None:
        pgrad = {
            "private": native_private(f"{name}_pivot_grad"),
            "attached": native_private(f"{name}_attached"),
            "rule": native_private(f"{name}_pivoted"),
            "lines": lines(pivoted, printer),
            # a row map's VJP has no per-row surrogate: a custom rule (docs/targets.md)
            "cotangent": str(COTANGENT_ROWS) if spec.plan.rowmap else None,
            "params": _param_rows(spec, pivoted, linear, printer),
        }
        printer.base.update({"frozen", "row_sum"})
        covered = pgrad["params"]["covered"] if pgrad["params"] else ()
        if spec.plan.rowmap:
            if set(params) - set(covered):  # the rest join by forward mode
                printer.base.update(NATIVE_TARGETS[target].rule_base)
        else:  # the attached gradient's perturbations (templates: <target>_reduction.py.j2)
            printer.base.add("tangent_only")
            if covered:
                printer.base.add("tangent_times")
    helpers = helper_sources(printer)
    clash = sorted(
        ({f"_{h}" for h in printer.helpers} | {f"_{b}" for b in printer.base}) & {private}
    )
    if clash:
        raise CodegenError(f"{name}: the {target} module would define {clash[0]} twice; rename it")
    rowmap = spec.plan.rowmap
    what = "vector-Jacobian product" if rowmap else "gradient"
    multi = len(vectors) > 1
    grads = [
        {
            "name": grad_function(name, user if multi else None),
            "of": code,
            "index": j,
            "param": False,
            "doc": f"the {what} in ``{user}``, shaped like the input",
        }
        for j, (code, user) in enumerate(zip(vectors, spec.input_names, strict=True))
    ]
    for user in spec.public_param_names:
        code = params[spec.param_names.index(user)]
        grads.append(
            {
                "name": grad_function(name, user),
                "of": code,
                "index": len(vectors) + params.index(code),
                "param": True,
                "doc": f"the derivative in the parameter ``{user}``, one value per row",
            }
        )
    labels = [
        {"code": params[at], "name": label, "first": first, "offset": offset}
        for at, label, first, offset in label_checks(spec)
    ]
    if labels:
        printer.base.add("check_label")
    return {
        "name": name,
        "args": ", ".join(vectors + params),
        "row_args": ", ".join([*vectors, *params, str(KEEP_ROWS)]),
        "vectors": vectors,
        "params": params,
        "private": private,
        "lines": body,
        "pgrad": pgrad,
        "value_rows": pgrad["attached"] if pgrad else private,
        "rowmap": rowmap,
        "zero": bool(labels),
        "labels": labels,
        "grads": grads,
        "multi": multi,
        "helpers": helpers,
        "base": base_sources(printer),
        "public": public_names(
            name, "reduction", spec.input_names, ("cpu",), spec.public_param_names
        ),
    }


def _param_rows(spec, pivoted: list, linear: bool, printer) -> dict | None:
    """The rows function of the parameter derivatives that have a compensated pivoted form
    (:mod:`symsmooth.codegen.native_paramgrad`), or ``None`` (all by autodiff).  Taken only
    where its rows have a pivot exactly where the input gradient's do (the template masks
    both with the one flag).  A scalar reduction takes it only when every parameter is
    covered: its attached form reads the input gradient at the live parameters, and the mixed
    derivatives of a parameter left to autodiff would be lost (templates:
    ``<target>_reduction.py.j2``)."""
    covered = covered_params(spec)
    public = {spec.param_codes[spec.param_names.index(u)] for u in spec.public_param_names}
    if not covered or (not spec.plan.rowmap and public - set(covered)):
        return None
    stmts = rows_statements(spec, partial(param_derivatives, linear=linear), frozen_pivots=False)
    if stmts is None or stmts[-1].expr.args[-1] != pivoted[-1].expr.args[-1]:
        return None
    return {
        "private": native_private(f"{spec.name}_pivot_param_grad"),
        "lines": lines(stmts, printer),
        "covered": covered,
        "index": {p: j for j, p in enumerate(covered)},
    }


def iteration_context(spec, target: str) -> dict:
    """The template variables of an iteration's ``target`` module: the step's rows function
    (a row map over the shifted input and the state, :func:`rows_statements`), the layout of
    the loop and the public gradient functions."""
    printer = PRINTERS[target]()
    printer.template_base = (*REDUCTION_BASE, "pre_shift", "present", "steps")
    step = spec.step
    name = spec.name
    data, state = step.input_codes
    params = list(spec.param_names)
    body = lines(rows_statements(step), printer)
    helpers = helper_sources(printer)
    private = native_private(f"{name}_step")
    x = spec.input_names[0]
    shifted = {"min": f"{x} - min({x})", "max": f"{x} - max({x})", "none": x}[spec.shift]
    return {
        "name": name,
        "input": x,
        "params": params,
        "args": ", ".join([x, *params]),
        "row_args": ", ".join([data, state, *step.param_codes, str(KEEP_ROWS)]),
        "data": data,
        "state": state,
        "private": private,
        "lines": body,
        "count": spec.count,
        "count_default": spec.count_default,
        "init": repr(float(spec.init)),
        "shift": spec.shift,
        "shifted": shifted,
        "param_grads": [
            {"name": p, "code": p, "index": 1 + params.index(p)} for p in spec.public_param_names
        ],
        "helpers": helpers,
        "base": base_sources(printer),
        "public": public_names(
            name, "iteration", spec.input_names, ("cpu",), spec.public_param_names
        ),
    }


CONTEXTS = {
    "elementwise": elementwise_context,
    "reduction": reduction_context,
    "iteration": iteration_context,
}
"""Kernel kind -> the template variables of its native modules."""


class _Everything:
    def __contains__(self, name: object) -> bool:
        return True


def _loaded(text: str) -> set[str]:
    tree = ast.parse(text)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _tidy(text: str) -> str:
    out: list[str] = []
    for line in (raw.rstrip() for raw in text.splitlines()):
        if line == "" and len(out) >= 2 and out[-1] == "" and out[-2] == "":
            continue
        out.append(line)
    return "\n".join(out).strip("\n") + "\n"


def write_native(spec, out="generated", target: str = "torch") -> Path:
    """Render ``spec`` into ``out/<name>_<target>.py`` (rewritten only when it changed)."""
    check_name(spec.name, "kernel")
    text = render_native(spec, target)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{native_module(spec.name, target)}.py"
    if not (path.is_file() and path.read_text() == text):
        atomic_write(path, text)
    return path


def load_native(name: str, target: str, out="generated") -> ModuleType:
    """Import ``out/<name>_<target>.py`` by file path."""
    check_name(name, "kernel")
    module = native_module(name, target)
    path = Path(out) / f"{module}.py"
    if not path.is_file():
        raise CodegenError(
            f"no generated module {path}; run `symsmooth gen {name} --target {target} "
            f"--out {out}` first"
        )
    return import_generated(module, path)
