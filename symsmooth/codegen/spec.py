"""``KernelSpec``: everything code generation needs, built from a Smoothing or an expression.

A spec keeps the exact expression (the verification reference), its stabilized form, the
gradients (exact and stable) and the rules the stabilizer applied.  Reductions also keep their
:class:`~symsmooth.codegen.normalform.ReductionPlan` and the stable pieces of the one-pass
kernel (see :mod:`symsmooth.codegen.reduction`).

The stabilizer is passed in (``stabilizer(expr) -> (stable_expr, applied_rule_names)``), so this
stage does not import :mod:`symsmooth.stabilization`; :mod:`symsmooth.pipeline` wires the two.

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus
>>> x, k = sp.symbols("x k", real=True)
>>> spec = make_spec("sp1", softplus(k * x) / k, inputs=(x,), params=(k,))
>>> spec.kind, spec.input_names, spec.param_names
('elementwise', ('x',), ('k',))
>>> spec.stable_gradients
(sigmoid(k*x),)
>>> len(spec.source_hash)
64
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from symsmooth import identifiers
from symsmooth.codegen import names as naming
from symsmooth.codegen.normalform import ReductionPlan, decompose
from symsmooth.errors import CodegenError
from symsmooth.functions.gaps import collapse_gaps
from symsmooth.functions.scaling import fuse_scaled

Stabilizer = Callable[[sp.Expr], tuple[sp.Expr, tuple[str, ...]]]


def identity_stabilizer(expr: sp.Expr) -> tuple[sp.Expr, tuple[str, ...]]:
    """The stabilizer that changes nothing (used when none is given)."""
    return expr, ()


@dataclass(frozen=True)
class KernelSpec:
    """One kernel to generate.

    Attributes
    ----------
    name : str
        Module and function name (a Python identifier).
    kind : {"elementwise", "reduction"}
    inputs : tuple
        ``Symbol`` per scalar input (elementwise) or ``IndexedBase`` per row input (reduction).
    params : tuple of Symbol
        Scalar parameters, after the inputs in every generated signature.
    expr : sympy.Expr
        The exact (unstabilized) expression: the verification reference.
    gradients : tuple of sympy.Expr
        Exact partial derivatives per input (elementwise only; reductions differentiate through
        ``plan`` at verification time).
    stable : sympy.Expr
        Stabilized value (elementwise) or the shifted outer function (reduction).
    stable_gradients : tuple of sympy.Expr
        Stabilized partials per input (elementwise).
    applied : tuple of str
        Stabilization rules applied, sorted, without repeats.
    source_hash : str
        sha256 of ``srepr(expr)``.
    construction : str
        One line for the generated header.
    command : str
        The command that regenerates the module.
    plan : ReductionPlan or None
    pieces : object or None
        Stable pieces of the reduction kernel (:class:`~symsmooth.codegen.reduction.Pieces`).
    renamed : tuple of (str, str)
        ``(code name, user name)`` of every input or parameter printed under a mangled name
        (:mod:`symsmooth.codegen.names`).  ``inputs``, ``params``, ``expr`` and everything
        derived from them hold the code names; ``input_names`` and ``param_names`` give the
        user's names back (they name the public functions, ``f_grad_<input>``).
    param_gradients : tuple of sympy.Expr
        Exact partial derivatives per differentiable parameter (:attr:`grad_params`: every
        parameter that is not integer-valued; labels and integer exponents have none);
        elementwise only.
    stable_param_gradients : tuple of sympy.Expr
        Their stabilized forms: the derivative of the stable value with every Euler gap
        ``F(z) - z F'(z)`` collapsed (:func:`symsmooth.functions.gaps.collapse_gaps`), then
        stabilized (rules and exact arguments) like the input partials.
    reduction_param_grads : tuple of ParamGrad
        Reductions: ``d value / d p`` per differentiable parameter, with every shift at its
        group's pivot (:mod:`symsmooth.codegen.paramgrad`); the kernels ``f_grad_<p>``.
    """

    name: str
    kind: str
    inputs: tuple
    params: tuple
    expr: sp.Expr
    gradients: tuple
    stable: sp.Expr
    stable_gradients: tuple
    applied: tuple
    source_hash: str
    construction: str = ""
    command: str = ""
    plan: ReductionPlan | None = field(default=None, compare=False)
    pieces: object = field(default=None, compare=False, repr=False)
    renamed: tuple = field(default=(), compare=False)
    param_gradients: tuple = ()
    stable_param_gradients: tuple = ()
    reduction_param_grads: tuple = field(default=(), compare=False, repr=False)

    @property
    def input_codes(self) -> tuple[str, ...]:
        """The inputs as printed in the generated code."""
        return tuple(str(getattr(v, "label", v)) for v in self.inputs)

    @property
    def param_codes(self) -> tuple[str, ...]:
        """The parameters as printed in the generated code."""
        return tuple(str(p) for p in self.params)

    @property
    def input_names(self) -> tuple[str, ...]:
        """The user's input names."""
        return tuple(map(naming.user_name, self.input_codes))

    @property
    def param_names(self) -> tuple[str, ...]:
        """The user's parameter names."""
        return tuple(map(naming.user_name, self.param_codes))

    @property
    def grad_params(self) -> tuple:
        """The parameters with a derivative (:func:`differentiable`)."""
        return differentiable(self.params)

    @property
    def grad_param_names(self) -> tuple[str, ...]:
        """The user's names of :attr:`grad_params` (they name ``f_grad_<param>``)."""
        return tuple(naming.user_name(str(p)) for p in self.grad_params)

    @property
    def public_param_names(self) -> tuple[str, ...]:
        """The user's names of the parameters the module has ``f_grad_<param>`` for: a
        reduction's derived ones (:attr:`reduction_param_grads`), else :attr:`grad_param_names`."""
        if self.kind == "reduction":
            return tuple(naming.user_name(str(g.param)) for g in self.reduction_param_grads)
        return self.grad_param_names


def public_params(kind: str, params) -> list[str]:
    """The names of the parameters a kernel of ``kind`` has public derivatives in (``f_grad_k``):
    the :func:`differentiable` ones of an elementwise kernel or a reduction."""
    return [_label(p) for p in differentiable(params)] if kind in PARAM_GRAD_KINDS else []


PARAM_GRAD_KINDS = ("elementwise", "reduction", "iteration")
"""Kernel kinds with parameter derivatives ``f_grad_<p>``."""


def differentiable(params) -> tuple:
    """The parameters a kernel is differentiated in: every one that is not integer-valued
    (a label ``x[t]`` indexes the row; an integer exponent such as max_pair_odd_power's ``k``
    has no neighbouring values, and the kernel is NaN off the integers).

    >>> k, t = sp.Symbol("k", positive=True), sp.Symbol("t", integer=True)
    >>> differentiable((k, t))
    (k,)
    """
    return tuple(p for p in params if not p.is_integer)


def source_hash(expr: sp.Expr) -> str:
    """sha256 of ``srepr(expr)``: stable across runs and machines."""
    return hashlib.sha256(sp.srepr(expr).encode()).hexdigest()


def _label(v) -> str:
    return str(getattr(v, "label", v))


def check_names(name: str, inputs, params, kind: str) -> None:
    """Refuse a kernel whose kernel, input or parameter names are not valid user names
    (:func:`symsmooth.identifiers.check_name`), repeat, or give two equal public names."""
    identifiers.check_name(name, "kernel")
    for v in inputs:
        identifiers.check_name(_label(v), "input")
    for p in params:
        identifiers.check_name(_label(p), "parameter")
    identifiers.check_distinct([_label(v) for v in (*inputs, *params)], "input or parameter")
    # the CPU names here; the CUDA launchers' names are checked when rendering with them
    naming.check_public(
        name,
        kind,
        [_label(v) for v in inputs],
        targets=("cpu",),
        params=public_params(kind, params),
    )


def _renamed_symbol(s, code: str):
    if isinstance(s, sp.IndexedBase):
        return sp.IndexedBase(code, **s.assumptions0)
    return sp.Symbol(code, **s.assumptions0)


def code_symbols(name: str, kind: str, inputs, params, expr, keep=()) -> dict:
    """``{user symbol: code symbol}`` for every input and parameter that
    :func:`symsmooth.codegen.names.code_name` prints under a mangled name (``keep``: symbols
    left alone, the reduction's index and size and the row-map subscript ``j``)."""
    public = naming.public_names(
        name, kind, [_label(v) for v in inputs], params=public_params(kind, params)
    )
    mapping = {}
    for s in (*inputs, *params):
        if s in keep:
            continue
        code = naming.code_name(_label(s), kind, public)
        if code != _label(s):
            mapping[s] = _renamed_symbol(s, code)
    if any(isinstance(s, sp.IndexedBase) for s in mapping):  # Indexed entries use the base
        mapping.update(
            {s.label: mapping[s].label for s in list(mapping) if isinstance(s, sp.IndexedBase)}
        )
    return mapping


def _check_free(expr: sp.Expr, allowed: set, name: str) -> None:
    extra = {s for s in expr.free_symbols if s not in allowed and not isinstance(s, sp.Idx)}
    extra -= {a for a in expr.atoms(sp.Indexed)}
    extra = {s for s in extra if not any(s in ib.free_symbols for ib in allowed)}
    if extra:
        raise CodegenError(
            f"{name}: symbols {', '.join(sorted(map(str, extra)))} are neither inputs nor "
            "parameters; pass them as params (e.g. --param k) or substitute a value"
        )


def _drop_deltas(expr: sp.Expr) -> sp.Expr:
    return expr.replace(sp.DiracDelta, lambda *args: sp.S.Zero) if expr.has(sp.DiracDelta) else expr


def split_squares(expr: sp.Expr, inputs) -> sp.Expr:
    """Every product ``x**2 f`` of an input's square and a function written ``x (x f)``
    (unevaluated): a parameter partial such as swish's ``x**2 dsigmoid(k x)`` would evaluate
    ``x**2 = inf`` at ``|x| > 1.3e154`` where ``f`` underflows to 0 (``inf * 0 = NaN``; the exact
    value is 0), while ``x (x f)`` rounds the same two products.

    >>> x, k = sp.symbols("x k", real=True)
    >>> split_squares(x**2 * sp.exp(-k * x) / 3, [x])
    x*(x*exp(-k*x)/3)
    """
    squares = {v**2 for v in inputs if isinstance(v, sp.Symbol)}

    def split(node):
        if not isinstance(node, sp.Mul):
            return node
        factors = list(node.args)
        square = next((f for f in factors if f in squares), None)
        if square is None or not any(f.has(sp.Function) for f in factors if f is not square):
            return node
        factors.remove(square)
        return sp.Mul(square.base, sp.UnevaluatedExpr(sp.Mul(square.base, *factors)))

    return expr.replace(lambda n: isinstance(n, sp.Mul), split)


def _stabilize_all(stabilizer: Stabilizer, exprs) -> tuple[tuple, tuple[str, ...]]:
    out, applied = [], set()
    for e in exprs:
        stable, rules = stabilizer(e)
        out.append(stable)
        applied.update(rules)
    return tuple(out), tuple(sorted(applied))


Refiner = Callable[[tuple, tuple, tuple], tuple[sp.Expr, tuple[str, ...]]]
"""``(forms, inputs, params) -> (expr, notes)``: a measuring stage after the rules; ``forms``
are equal expressions (the rules' stable form first, then the exact one)."""


def _refine_all(refine: Refiner, exprs, inputs, params) -> tuple[list, tuple[str, ...]]:
    out, notes = [], []
    parts = ["value", *(f"grad_{naming.user_name(str(v))}" for v in inputs)]
    for part, e in zip(parts, exprs, strict=True):
        refined, said = refine(e, inputs, params)
        out.append(refined)
        notes += [f"{part} {n}" for n in said]
    return out, tuple(notes)


def make_spec(
    name: str,
    expr: sp.Expr,
    inputs: tuple,
    params: tuple = (),
    *,
    kind: str | None = None,
    index: sp.Symbol | None = None,
    size: sp.Symbol | None = None,
    stabilizer: Stabilizer | None = None,
    construction: str = "",
    command: str | None = None,
    refine: Refiner | None = None,
    param_grads: bool = True,
) -> KernelSpec:
    """Build a :class:`KernelSpec` from an exact expression.

    ``param_grads=False``: a reduction without its parameter derivatives (the step of an
    iteration, whose own derivatives the iteration kind writes).

    ``refine((stable, exact), inputs, params) -> (expr, notes)`` (elementwise kernels) runs
    after the stabilizer on the value and on each gradient: the pipeline passes the measuring search
    (:mod:`symsmooth.stabilization.search`) for a user's derivation.

    ``kind`` defaults to ``"reduction"`` when any input is an ``IndexedBase``.  Names are
    checked first (:func:`check_names`: a :class:`~symsmooth.errors.InvalidNameError` before
    any work); inputs and parameters whose names could meet the generator's own are renamed
    (:mod:`symsmooth.codegen.names`).
    """
    stabilizer = stabilizer or identity_stabilizer
    inputs, params = tuple(inputs), tuple(params)
    if kind is None:
        kind = "reduction" if any(isinstance(v, sp.IndexedBase) for v in inputs) else "elementwise"
    check_names(name, inputs, params, kind)
    hashed = source_hash(expr)
    construction = construction or f"{name} = {sp.sstr(expr)}"
    keep = {index, size} | {
        s for s in expr.free_symbols if str(s) in ROW_MAP_INDEX_NAMES and s.is_integer
    }
    rename = code_symbols(name, kind, inputs, params, expr, keep)
    renamed = tuple((_label(rename[s]), _label(s)) for s in (*inputs, *params) if s in rename)
    if rename:
        expr = expr.xreplace(rename)
        inputs = tuple(rename.get(v, v) for v in inputs)
        params = tuple(rename.get(p, p) for p in params)
    allowed = set(inputs) | set(params) | ({size} if size is not None else set())
    allowed |= {index} if index is not None else set()
    if kind == "reduction":
        allowed |= {s for s in expr.free_symbols if str(s) in ROW_MAP_INDEX_NAMES and s.is_integer}
    _check_free(expr, allowed, name)
    command = command or f"symsmooth gen {name}"
    common = dict(
        name=name,
        kind=kind,
        inputs=inputs,
        params=params,
        expr=expr,
        source_hash=hashed,
        construction=construction,
        command=command,
        renamed=renamed,
    )
    if kind == "elementwise":
        (stable,), applied = _stabilize_all(stabilizer, [expr])
        # almost-everywhere derivatives: DiracDelta terms (from sign, Heaviside, Abs) vanish
        # off a null set and have no floating-point value; the gradient of the value's stable
        # form (before any regime split of the search: each gradient is searched itself)
        grads = tuple(_drop_deltas(sp.diff(stable, v)) for v in inputs)
        stable_grads, applied2 = _stabilize_all(stabilizer, grads)
        if refine is not None:  # each from the rules' form and from the exact one
            exact = [_drop_deltas(sp.diff(expr, v)) for v in inputs]
            pairs = [(stable, expr), *zip(stable_grads, exact, strict=True)]
            (stable, *stable_grads), notes = _refine_all(refine, pairs, inputs, params)
            stable_grads = tuple(stable_grads)
            applied2 = tuple(applied2) + notes
        exact_grads = tuple(_drop_deltas(sp.diff(expr, v)) for v in inputs)
        dparams = differentiable(params)
        # parameter partials: the stable value differentiated, its Euler gaps F(z) - z F'(z)
        # collapsed before any rule rewrites the derivative's pieces (functions.gaps), then
        # stabilized like the input partials
        raw = tuple(collapse_gaps(_drop_deltas(sp.diff(stable, p))) for p in dparams)
        stable_pgrads, applied3 = _stabilize_all(stabilizer, raw)
        stable_pgrads = tuple(split_squares(fuse_scaled(g), inputs) for g in stable_pgrads)
        exact_pgrads = tuple(_drop_deltas(sp.diff(expr, p)) for p in dparams)
        applied = tuple(sorted(set(applied) | set(applied2) | set(applied3)))
        return KernelSpec(
            gradients=exact_grads,
            stable=stable,
            stable_gradients=stable_grads,
            applied=applied,
            param_gradients=exact_pgrads,
            stable_param_gradients=stable_pgrads,
            **common,
        )
    if kind != "reduction":
        raise CodegenError(f"{name}: kind must be 'elementwise' or 'reduction', got {kind!r}")
    if index is None or size is None:
        raise CodegenError(f"{name}: a reduction needs its summation index and size symbol")
    from symsmooth.codegen.paramgrad import param_gradient
    from symsmooth.codegen.reduction import pieces

    vectors = tuple(v for v in inputs if isinstance(v, sp.IndexedBase))
    labels = tuple(p for p in params if p.is_integer)
    plan = decompose(expr, vectors, index, size, labels)
    kernel_pieces, applied = pieces(plan, params, stabilizer)
    derived, notes = [], []
    for p in differentiable(params) if param_grads else ():
        try:  # a user's reduction the derivation does not cover keeps its value and gradient
            derived.append(param_gradient(plan, kernel_pieces, params, p, stabilizer))
        except (CodegenError, TypeError, ValueError, NotImplementedError) as exc:
            notes.append(f"grad_{naming.user_name(str(p))} not derived ({type(exc).__name__})")
    applied = tuple(applied) + tuple(notes)
    return KernelSpec(
        gradients=(),
        stable=kernel_pieces.value,
        stable_gradients=(),
        applied=applied,
        plan=plan,
        pieces=kernel_pieces,
        reduction_param_grads=tuple(derived),
        **common,
    )


ROW_MAP_INDEX_NAMES = ("j",)
"""Names of a free subscript that makes a reduction a row map (softmax(x)_j); any other free
integer subscript (``x[t]``) is a *label*: a per-row integer parameter."""


def label_symbols(expr: sp.Expr, index, size, known=()) -> list:
    """Integer subscripts outside sums that are labels (see :data:`ROW_MAP_INDEX_NAMES`)."""
    found = set()
    for ind in expr.atoms(sp.Indexed):
        for sub in ind.indices:
            if (
                isinstance(sub, sp.Symbol)
                and sub.is_integer
                and sub not in (index, size)
                and str(sub) not in ROW_MAP_INDEX_NAMES
                and sub not in known
            ):
                found.add(sub)
    return sorted(found, key=str)


def spec_from_smoothing(
    smoothing,
    stabilizer: Stabilizer | None = None,
    command: str | None = None,
    refine: Refiner | None = None,
) -> KernelSpec:
    """The spec of a :class:`~symsmooth.records.Smoothing` (catalog entry or derived record).

    Parameters are ``smoothing.param`` followed by the ``fixed`` symbols in name order.
    """
    params = [smoothing.param] if smoothing.param is not None else []
    params += sorted((s for s, _ in smoothing.fixed), key=str)
    params = [p for p in params if p in smoothing.expr.free_symbols]
    if smoothing.kind == "reduction":
        params += label_symbols(smoothing.expr, smoothing.index, smoothing.size, params)
    source = f" ({smoothing.source})" if smoothing.source else ""
    construction = f"{smoothing.name} = {sp.sstr(smoothing.expr)}{source}"
    return make_spec(
        smoothing.name,
        smoothing.expr,
        inputs=tuple(smoothing.variables),
        params=tuple(params),
        kind=smoothing.kind,
        index=smoothing.index,
        size=smoothing.size,
        stabilizer=stabilizer,
        construction=construction,
        command=command,
        refine=refine,
    )
