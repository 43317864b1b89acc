"""Gradients and Hessians in closed vector form, for scalar and n-ary (``Sum``) expressions.

The recipe: rewrite stable primitives to exp/log (:func:`symsmooth.functions.naive`),
differentiate with SymPy with respect to a symbol or a generic vector element ``x[j]``
(SymPy then writes ``Sum(KroneckerDelta(i, j) f(i), (i, 1, n))``), collapse those sums to
``f(j)`` (:func:`collapse_deltas`, valid for ``1 <= j <= n``), and rewrite the result to stable
form (:func:`stable_form`): ``Sum(exp(h_i))`` becomes ``exp(LogSumExpOver(h_i))``
(:class:`symsmooth.functions.LogSumExpOver`),
``1 + exp(L)`` becomes ``exp(softplus(L))`` and exponentials are merged, so a softmax reads
``exp(x_j - LSE(x))`` and never divides two overflowing sums.

References
----------
Catalog P3: the gradient of ``(1/k) log sum exp(k x_i)`` is ``softmax(k x)``, its Hessian
``k (diag p - p p^T)``.  J. R. Magnus, H. Neudecker, *Matrix Differential Calculus*, Wiley 2019.

Examples
--------
>>> import sympy as sp
>>> x = sp.IndexedBase("x", real=True)
>>> i = sp.Symbol("i", integer=True); n = sp.Symbol("n", integer=True, positive=True)
>>> gradient(sp.log(sp.Sum(sp.exp(x[i]), (i, 1, n))), x)
exp(x[j] - LogSumExpOver(x[i], (i, 1, n)))
>>> y = sp.Symbol("y", real=True)
>>> gradient(sp.log(1 + sp.exp(y)), y)
sigmoid(y)
"""

from __future__ import annotations

from functools import singledispatch

import sympy as sp

from symsmooth.errors import DerivationError
from symsmooth.functions import LogSumExpOver, logsumexp, naive, sigmoid, softplus
from symsmooth.magnitudes import guarded

INDEX_NAMES = ("j", "l", "m", "r", "q")


def fresh_indices(expr: sp.Basic, count: int) -> tuple[sp.Symbol, ...]:
    """``count`` integer symbols (``j, l, ...``) not free in ``expr``."""
    taken = {s.name for s in expr.atoms(sp.Symbol)}  # free and bound (summation) symbols
    names = [name for name in INDEX_NAMES if name not in taken]
    if len(names) < count:
        raise DerivationError(f"no free index names left among {INDEX_NAMES}; rename symbols")
    return tuple(sp.Symbol(name, integer=True) for name in names[:count])


# --- collapsing sums over KroneckerDelta ---------------------------------------------------


def _delta_partner(term: sp.Expr, i: sp.Symbol):
    """``(delta, other)`` for a factor ``KroneckerDelta(i, other)`` of ``term``, else None."""
    for d in sp.Mul.make_args(term):
        if isinstance(d, sp.KroneckerDelta) and i in d.args:
            other = d.args[1] if d.args[0] == i else d.args[0]
            if i not in other.free_symbols:
                return d, other
    return None


def _collapse_term(term: sp.Expr, limits: list) -> sp.Expr:
    """Sum ``term`` over ``limits``, summing out every delta of a summation index."""
    limits = list(limits)
    progress = True
    while progress:
        progress = False
        for k, (i, _, _) in enumerate(limits):
            found = _delta_partner(term, i)
            if found is not None:
                delta, other = found
                term = (term / delta).xreplace({i: other})
                limits.pop(k)
                progress = True
                break
    if not limits:
        return term
    coeff, dep = term.as_independent(*[lim[0] for lim in limits], as_Add=False)
    return coeff * sp.Sum(dep, *limits)


def _collapse_sum(s: sp.Sum) -> sp.Expr:
    """``Sum(KroneckerDelta(i, j) f(i), (i, a, b)) -> f(j)`` (for ``a <= j <= b``).

    Terms without such a delta keep their sum, with the factors free of the summation
    indices pulled out (so a delta of an outer index reaches the outer sum).
    """
    body = sp.expand_mul(s.function)
    return sp.Add(*[_collapse_term(t, s.limits) for t in sp.Add.make_args(body)])


def collapse_deltas(expr: sp.Basic) -> sp.Basic:
    """Collapse every ``Sum`` of a ``KroneckerDelta`` with its summation index.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.IndexedBase("x"); i, j = sp.symbols("i j", integer=True); n = sp.Symbol("n")
    >>> collapse_deltas(sp.Sum(sp.KroneckerDelta(i, j) * x[i] ** 2, (i, 1, n)))
    x[j]**2
    """
    previous = None
    while previous != expr:
        previous = expr
        expr = expr.replace(
            lambda e: isinstance(e, sp.Sum) and e.function.has(sp.KroneckerDelta), _collapse_sum
        )
    return expr


# --- stable form ---------------------------------------------------------------------------


def _positive_weight(w: sp.Expr) -> bool:
    """``w`` is known positive, or is ``1 - t`` with ``t`` positive (a soft label in (0, 1))."""
    if w.has(sp.exp, sp.KroneckerDelta, sp.Sum):
        return False
    if w == 1 or w.is_positive:
        return True
    rest = w - 1
    return bool(w.is_Add and (-rest).is_positive)


def _sum_to_exp_lse(s: sp.Sum):
    """``Sum(c * w_i * exp(h_i)) -> c * exp(LogSumExpOver(h_i + log w_i))`` when it fits."""
    if len(s.limits) != 1:
        return s
    i = s.limits[0][0]
    coeff, dep = s.function.as_independent(i, as_Add=False)
    exps = [f for f in sp.Mul.make_args(dep) if isinstance(f, sp.exp)]
    if not exps:
        return s
    weight = sp.Mul(*[f for f in sp.Mul.make_args(dep) if not isinstance(f, sp.exp)])
    if weight.is_negative or (weight.is_Add and weight.as_coeff_Add()[0].is_negative):
        coeff, weight = -coeff, sp.expand(-weight)  # t_i - 1 -> -(1 - t_i)
    if not _positive_weight(weight):
        return s
    exponent = sp.Add(*[f.args[0] for f in exps]) + (sp.log(weight) if weight != 1 else 0)
    return coeff * sp.exp(LogSumExpOver(exponent, s.limits[0]))


def _is_exp_sum(e) -> bool:
    terms = sp.Add.make_args(e)
    return (
        isinstance(e, sp.Add)
        and len(terms) >= 2
        and all(isinstance(t, sp.exp) or t == 1 for t in terms)
    )


def _add_to_exp_lse(e: sp.Add) -> sp.Expr:
    """``exp(a) + exp(b) + 1 -> exp(logsumexp(a, b, 0))``; ``1 + exp(z) -> exp(softplus(z))``."""
    args = [t.args[0] if isinstance(t, sp.exp) else sp.S.Zero for t in sp.Add.make_args(e)]
    if len(args) == 2 and sp.S.Zero in args:
        return sp.exp(softplus(args[1] if args[0] == 0 else args[0]))
    return sp.exp(logsumexp(*args))


def _exp_to_sigmoid(e: sp.exp) -> sp.Expr:
    """``exp(z - softplus(z)) -> sigmoid(z)``, ``exp(-softplus(z)) -> sigmoid(-z)``."""
    terms = sp.Add.make_args(e.args[0])
    for t in terms:
        if isinstance(-t, softplus):
            rest = sp.Add(*[u for u in terms if u is not t])
            z = (-t).args[0]
            if rest == z:
                return sigmoid(z)
            if rest == 0:
                return sigmoid(-z)
    return e


def stable_form(expr: sp.Basic) -> sp.Basic:
    """Rewrite sums and ratios of exponentials into the stable primitives.

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True)
    >>> stable_form(sp.exp(z) / (1 + sp.exp(z)))
    sigmoid(z)
    >>> stable_form(sp.log(sp.exp(z) + sp.exp(2 * z)))
    logsumexp(z, 2*z)
    """
    expr = collapse_deltas(expr)
    expr = expr.replace(lambda e: isinstance(e, sp.Sum) and e.function.has(sp.exp), _sum_to_exp_lse)
    expr = expr.replace(_is_exp_sum, _add_to_exp_lse)
    expr = sp.powsimp(sp.expand_mul(expr), combine="exp", deep=True)
    expr = expr.replace(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.exp),
        lambda e: e.args[0].args[0],
    )
    expr = expr.replace(
        lambda e: isinstance(e, sp.exp) and e.args[0].has(softplus), _exp_to_sigmoid
    )
    return expr


# --- gradient and Hessian ------------------------------------------------------------------


@singledispatch
def _element(var, expr: sp.Basic, index: sp.Symbol):
    """The differentiation variable for ``var`` (a symbol or ``x[index]``)."""
    raise DerivationError(
        f"cannot differentiate with respect to {var!r} ({type(var).__name__}); pass a Symbol, "
        "an IndexedBase (vector), an element x[j], or a tuple of these"
    )


@_element.register
def _(var: sp.Symbol, expr, index):
    return var


@_element.register
def _(var: sp.IndexedBase, expr, index):
    return var[index]


@_element.register
def _(var: sp.Indexed, expr, index):
    return var


def _bound_symbols(expr: sp.Basic) -> set:
    return {lim[0] for node in expr.atoms(sp.Sum, LogSumExpOver) for lim in node.limits}


def raw_derivative(expr: sp.Basic, *elements: sp.Basic) -> sp.Basic:
    """Plain ``sp.diff`` of the naive form, then deltas collapsed.

    Raises
    ------
    DerivationError
        When an element's index is also a summation index of ``expr`` (SymPy would then
        confuse the two).
    """
    clash = set().union(*(e.free_symbols for e in elements)) & _bound_symbols(expr)
    if clash:
        raise DerivationError(
            f"index {sorted(map(str, clash))} of {elements} is also a summation index of the "
            "expression; differentiate with respect to an element with a different index name"
        )
    return collapse_deltas(sp.diff(naive(expr), *elements))


def _as_tuple(vars) -> tuple:
    return tuple(vars) if isinstance(vars, (list, tuple)) else (vars,)


@guarded("derive")
def gradient(expr: sp.Basic, vars, indices: tuple | None = None):
    """Gradient of ``expr`` in closed, stable form.

    Parameters
    ----------
    expr : sympy.Expr
        Scalar or n-ary (``Sum`` over an ``IndexedBase``) expression.
    vars : Symbol, IndexedBase, Indexed, or a sequence of these
        A vector ``x`` (IndexedBase) gives the component ``d expr / d x[j]`` with a fresh index
        ``j`` (from :func:`fresh_indices`); a list of symbols gives a column ``Matrix``.
    indices : tuple of Symbol, optional
        Index symbols to use instead of fresh ones.

    Returns
    -------
    sympy.Expr, Matrix, or tuple
    """
    items = _as_tuple(vars)
    if all(isinstance(v, sp.Symbol) for v in items) and isinstance(vars, (list, tuple)):
        return sp.Matrix([gradient(expr, v) for v in items])
    (index,) = indices or fresh_indices(expr, 1)
    parts = tuple(stable_form(raw_derivative(expr, _element(v, expr, index))) for v in items)
    return parts if isinstance(vars, (list, tuple)) else parts[0]


@guarded("derive")
def hessian(expr: sp.Basic, vars, indices: tuple | None = None):
    """Hessian of ``expr`` in closed, stable form.

    A vector ``x`` gives the entry ``d^2 expr / d x[j] d x[l]`` (with ``KroneckerDelta(j, l)``
    for the diagonal); a list of symbols or of vectors gives a ``Matrix`` (of blocks).

    Examples
    --------
    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> hessian(x**2 * y, [x, y])
    Matrix([
    [2*y, 2*x],
    [2*x,   0]])
    """
    items = _as_tuple(vars)
    j, l = indices or fresh_indices(expr, 2)
    rows = [
        [
            stable_form(raw_derivative(expr, _element(a, expr, j), _element(b, expr, l)))
            for b in items
        ]
        for a in items
    ]
    if isinstance(vars, (list, tuple)):
        return sp.Matrix(rows)
    return rows[0][0]
