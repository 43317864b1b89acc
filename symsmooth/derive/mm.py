"""EM / MM: Jensen majorizers of ``-sum log sum`` objectives and closed-form M-steps.

An objective ``L(theta) = -sum_i a_i log sum_j q_ij(theta)`` (``q > 0``) -- a mixture
log-likelihood (pLSA) or the smoothed minimum ``-(1/M) sum_i log sum_j exp(-M d_ij)``
(soft K-means, Capsule routing, IMLE) -- is majorized at ``theta_n`` by Jensen's inequality
with the weights ``C_ij = q_ij(theta_n) / sum_l q_il(theta_n)`` (posterior, or softmin)::

    L(theta) <= Q(theta | theta_n) = -sum_i a_i sum_j C_ij (log q_ij(theta) - log C_ij),

with equality at ``theta = theta_n``.  Minimising ``Q`` (the weights held fixed) never increases
``L``: ``L(theta_{n+1}) <= Q(theta_{n+1}|theta_n) <= Q(theta_n|theta_n) = L(theta_n)``.

References
----------
Su Jianlin, kexue.fm/archives/4277 (article 4), items 5-13 (catalog EM1-EM3, KM1-KM3);
kexue.fm/archives/5112 (article 5).  D. R. Hunter, K. Lange, "A tutorial on MM algorithms",
The American Statistician 58 (2004) 30-37.

Examples
--------
>>> import sympy as sp
>>> x, c = sp.IndexedBase("x", real=True), sp.IndexedBase("c", real=True)
>>> i, j = sp.symbols("i j", integer=True)
>>> N, K = sp.symbols("N K", integer=True, positive=True)
>>> M = sp.Symbol("M", positive=True)
>>> obj = smoothed_min_objective("kmeans_1d", (x[i] - c[j]) ** 2, M, (i, 1, N), (j, 1, K), (c,))
>>> d = majorize(obj)
>>> [s.check.passed for s in d.steps]
[True, True, True]
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.budget import budgeted
from symsmooth.derive.checks import CheckContext
from symsmooth.derive.gradients import collapse_deltas
from symsmooth.derive.record import Builder, Derivation
from symsmooth.errors import DerivationError


@dataclass(frozen=True)
class LogSumObjective:
    """``L(theta) = -sum_{i in outer} a_i log sum_{j in inner} q_ij(theta)``.

    Attributes
    ----------
    name : str
    weight : sympy.Expr
        ``a_i`` (``1/M`` for a smoothed minimum, ``p~(x, y)`` for a likelihood).
    component : sympy.Expr
        ``q_ij(theta) > 0``.
    outer, inner : tuple
        Limits ``(i, lo, hi)`` (``outer`` may hold several: ``((x, 1, X), (y, 1, Y))``).
    params : tuple
        The optimised ``IndexedBase``/``Symbol`` objects ``theta``.
    kind : str
        ``"posterior"`` or ``"softmin"``: what the Jensen weights are called.
    source : str
    """

    name: str
    weight: sp.Expr
    component: sp.Expr
    outer: tuple
    inner: tuple
    params: tuple
    kind: str = "posterior"
    source: str = "kexue.fm/archives/4277 (article 4)"

    @property
    def outer_limits(self) -> tuple:
        return self.outer if isinstance(self.outer[0], tuple) else (self.outer,)

    def expr(self) -> sp.Expr:
        """The objective as a SymPy expression."""
        inner = sp.log(sp.Sum(self.component, self.inner))
        return -sp.Sum(self.weight * inner, *self.outer_limits)


def smoothed_min_objective(
    name: str,
    distance: sp.Expr,
    M: sp.Expr,
    outer,
    inner,
    params,
    source: str = "kexue.fm/archives/4277 (article 4), item 10",
):
    """``-(1/M) sum_i log sum_j exp(-M d_ij)``: the smoothed ``sum_i min_j d_ij``."""
    return LogSumObjective(
        name, 1 / M, sp.exp(-M * distance), outer, inner, params, "softmin", source
    )


def current(theta):
    """The value of a parameter at the current iterate: ``c -> c_n``."""
    cls = sp.IndexedBase if isinstance(theta, sp.IndexedBase) else sp.Symbol
    name = theta.label.name if isinstance(theta, sp.IndexedBase) else theta.name
    assumptions = (
        theta.label.assumptions0 if isinstance(theta, sp.IndexedBase) else theta.assumptions0
    )
    return cls(f"{name}_n", **assumptions)


def at_current(expr: sp.Basic, params) -> sp.Basic:
    """``expr`` with every parameter replaced by its current value."""
    return expr.xreplace({p: current(p) for p in params})


def weights(obj: LogSumObjective) -> sp.Expr:
    """Jensen weights ``C_ij = q_ij(theta_n) / sum_l q_il(theta_n)`` (explicit form)."""
    j = obj.inner[0]
    l = sp.Symbol(f"{j.name}'", integer=True)
    q_n = at_current(obj.component, obj.params)
    return q_n / sp.Sum(q_n.xreplace({j: l}), (l, *obj.inner[1:]))


def surrogate(obj: LogSumObjective, C: sp.Expr | None = None) -> sp.Expr:
    """``Q(theta | theta_n) = -sum_i a_i sum_j C_ij (log q_ij(theta) - log C_ij)``."""
    C = weights(obj) if C is None else C
    inner = sp.Sum(C * (sp.log(obj.component) - sp.log(C)), obj.inner)
    return -sp.Sum(obj.weight * inner, *obj.outer_limits)


@budgeted("derive")
def majorize(obj: LogSumObjective, context: CheckContext | None = None) -> Derivation:
    """Jensen majorizer of ``obj`` at ``theta_n``: weights, touching, lying above.

    Returns
    -------
    Derivation
        Outputs ``objective``, ``weights``, ``surrogate``; every step checked numerically.
    """
    b = Builder(
        f"{obj.name}_majorizer",
        f"Jensen majorizer of the {obj.name} objective",
        obj.source,
        context or CheckContext(points=4, sizes=(2, 3)),
    )
    L, C, Q = obj.expr(), weights(obj), surrogate(obj)
    b.step(
        f"The {obj.kind} weights C_ij sum to one over j.",
        sp.Sum(C, obj.inner),
        1,
        "C_ij = q_ij(theta_n) / sum_l q_il(theta_n)",
    )
    b.step(
        "Jensen: log sum_j q_ij = log sum_j C_ij (q_ij / C_ij) >= sum_j C_ij log(q_ij / C_ij),"
        " so the surrogate lies above the objective for every theta.",
        L,
        Q,
        "concavity of log with the weights C_ij (Hunter & Lange 2004)",
        relation="<=",
    )
    b.step(
        "The surrogate touches the objective at the current point theta = theta_n.",
        at_current(L, obj.params),
        at_current(Q, obj.params),
        "q_ij(theta_n) / C_ij = sum_l q_il(theta_n) does not depend on j",
    )
    return b.build(sp.Le(L, Q, evaluate=False), {"objective": L, "weights": C, "surrogate": Q})


# --- solving the M-step --------------------------------------------------------------------


def split_sums(expr: sp.Basic) -> sp.Basic:
    """``Sum(a*f_i + g_i) -> a*Sum(f_i) + Sum(g_i)``: pull factors free of the index out."""

    def rule(s: sp.Sum):
        variables = [lim[0] for lim in s.limits]
        count = sp.Mul(*[hi - lo + 1 for _, lo, hi in s.limits])
        out = []
        for term in sp.Add.make_args(sp.expand_mul(s.function)):
            coeff, dep = term.as_independent(*variables, as_Add=False)
            out.append(coeff * (sp.Sum(dep, *s.limits) if dep != 1 else count))
        return sp.Add(*out)

    return expr.replace(lambda e: isinstance(e, sp.Sum), rule)


def solve_stationary(expr: sp.Expr, element: sp.Basic, extra: sp.Expr = 0) -> sp.Expr:
    """Solve ``d expr / d element + extra = 0`` for ``element`` (sums split first).

    Raises
    ------
    DerivationError
        When SymPy finds no unique closed form.
    """
    eq = split_sums(collapse_deltas(sp.diff(expr, element)) + extra)
    solutions = sp.solve(eq, element)
    if len(solutions) != 1:
        raise DerivationError(
            f"no unique closed-form M-step for {element} ({len(solutions)} solutions of "
            f"{sp.sstr(eq)} = 0); use a numeric inner solver, or a different distance"
        )
    return sp.factor_terms(solutions[0])


def _element_of(obj: LogSumObjective, theta):
    """A generic element of parameter ``theta`` (fresh index names), as used in ``q_ij``."""
    if isinstance(theta, sp.Symbol):
        return theta
    uses = [t for t in obj.component.atoms(sp.Indexed) if t.base == theta]
    if not uses:
        raise DerivationError(f"parameter {theta} does not occur in {obj.component}")
    taken = {s.name for s in obj.expr().atoms(sp.Symbol)}
    names = [n for n in ("a", "b", "r", "s", "u", "v", "w") if n not in taken]
    return theta[tuple(sp.Symbol(n, integer=True) for n in names[: len(uses[0].indices)])]


@budgeted("derive")
def em_step(obj: LogSumObjective, context: CheckContext | None = None) -> Derivation:
    """MM step: the Jensen majorizer, then ``argmin Q`` in closed form for each parameter.

    The weights are held fixed as ``C[i, j]`` (an ``IndexedBase``); parameters must be
    unconstrained (for normalised ones, as in pLSA, add the Lagrange term as in
    :func:`symsmooth.derive.examples.plsa_em`).

    Examples
    --------
    >>> import sympy as sp
    >>> x, c = sp.IndexedBase("x", real=True), sp.IndexedBase("c", real=True)
    >>> i, j = sp.symbols("i j", integer=True)
    >>> N, K = sp.symbols("N K", integer=True, positive=True)
    >>> obj = smoothed_min_objective("km", (x[i] - c[j])**2, sp.Symbol("M", positive=True),
    ...                              (i, 1, N), (j, 1, K), (c,))
    >>> em_step(obj).update
    Eq(c_{n+1}[a], Sum(C[i, a]*x[i], (i, 1, N))/Sum(C[i, a], (i, 1, N)))
    """
    ctx = context or CheckContext(points=3, sizes=(2, 3))
    maj = majorize(obj, ctx)
    b = Builder(f"{obj.name}_em", f"MM / EM step for the {obj.name} objective", obj.source, ctx)
    b.steps.extend(maj.steps)
    C = sp.IndexedBase("C", positive=True)
    idx = tuple(lim[0] for lim in obj.outer_limits) + (obj.inner[0],)
    Q = -sp.Sum(obj.weight * C[idx] * sp.log(obj.component), *obj.outer_limits, obj.inner)
    Q = split_sums(sp.expand_log(Q, force=True))
    updates = {}
    for theta in obj.params:
        element = _element_of(obj, theta)
        new = solve_stationary(Q, element)
        grad = collapse_deltas(sp.diff(Q, element))
        b.step(
            f"M-step: sp.solve(dQ/d{element} = 0) with the weights C fixed.",
            sp.Subs(grad, element, new),
            0,
            "the surrogate is minimised in closed form",
        )
        name = theta.label.name if isinstance(theta, sp.IndexedBase) else theta.name
        nxt = (
            sp.IndexedBase(f"{name}_{{n+1}}")[element.indices]
            if isinstance(element, sp.Indexed)
            else sp.Symbol(f"{name}_{{n+1}}")
        )
        updates[str(element)] = sp.Eq(nxt, new, evaluate=False)
    b.note(
        "L(theta_{n+1}) <= Q(theta_{n+1} | theta_n) <= Q(theta_n | theta_n) = L(theta_n): "
        "the objective never increases (Hunter & Lange 2004)."
    )
    first = next(iter(updates.values()))
    return b.build(
        first, {**updates, "weights": sp.Eq(C[idx], maj["weights"]), "surrogate": maj["surrogate"]}
    )
