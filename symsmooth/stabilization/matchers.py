"""Structural matchers shared by the rule modules.

They read SymPy's canonical forms (``1 - exp(z)`` is ``Add(1, Mul(-1, exp(z)))``, a numeric
factor is distributed over a sum, ``erf(-z)`` is ``-erf(z)``) and return plain bindings; they
never build the replacement.

Examples
--------
>>> import sympy as sp
>>> a, b = sp.symbols("a b", real=True)
>>> sorted(exp_sum_exponents(2 + sp.exp(a) + 3 * sp.exp(b)), key=str)
[a, b + log(3), log(2)]
>>> exp_sum_exponents(a + sp.exp(b)) is None
True
"""

from __future__ import annotations

import sympy as sp

from symsmooth.functions import LogSumExpOver


def term_exponent(term: sp.Expr) -> sp.Expr | None:
    """``u`` such that ``term == exp(u)``, for ``c * exp(a) * exp(b) ...`` with ``c > 0``.

    A positive number ``c`` alone gives ``log(c)``; ``Sum(c * exp(v), limits)`` gives
    ``LogSumExpOver(v + log c, limits)``; anything else gives ``None``.

    Examples
    --------
    >>> import sympy as sp
    >>> a = sp.Symbol("a", real=True)
    >>> term_exponent(sp.exp(a) / 2)
    a - log(2)
    >>> term_exponent(-sp.exp(a)) is None
    True
    """
    if isinstance(term, sp.Sum):
        inner = term_exponent(term.function)
        if inner is None or not term.function.has(sp.exp):
            return None
        return LogSumExpOver(inner, *term.limits)
    factors = sp.Mul.make_args(term)
    exps = [f.args[0] for f in factors if isinstance(f, sp.exp)]
    coef = sp.Mul(*[f for f in factors if not isinstance(f, sp.exp)])
    if not exps and not coef.is_number:
        return None
    if coef.is_positive is not True:
        return None
    return sp.Add(*exps) + sp.expand_log(sp.log(coef))


def exp_sum_exponents(add: sp.Basic, min_terms: int = 2) -> tuple[sp.Expr, ...] | None:
    """Exponents ``(u1, ..., un)`` with ``add == exp(u1) + ... + exp(un)``, else ``None``.

    Every term must be a positive multiple of exponentials, a positive number, or a ``Sum`` of
    positive multiples of exponentials; at least one term must hold an exponential, and there
    must be ``min_terms`` terms (a lone ``Sum`` always qualifies).
    """
    terms = sp.Add.make_args(add)
    lone_sum = len(terms) == 1 and isinstance(terms[0], sp.Sum)
    if (len(terms) < min_terms and not lone_sum) or not any(t.has(sp.exp) for t in terms):
        return None
    exponents = tuple(term_exponent(t) for t in terms)
    if any(u is None for u in exponents):
        return None
    return exponents


def split_factor(term: sp.Expr, func: type) -> tuple[sp.Expr, sp.Expr] | None:
    """``(k, z)`` with ``term == k * func(z)`` (first such factor), else ``None``."""
    factors = sp.Mul.make_args(term)
    for i, f in enumerate(factors):
        if isinstance(f, func):
            return sp.Mul(*(factors[:i] + factors[i + 1 :])), f.args[0]
    return None


def complement_pair(add: sp.Basic, func: type, signs: tuple[int, ...] = (1, -1)) -> dict | None:
    """Find ``k * func(z)`` and ``s * k`` (``s`` in ``signs``) among the terms of ``add``.

    Returns ``{"k", "z", "s", "rest"}`` with ``add == k*func(z) + s*k + rest``; every term of
    ``s*k`` must appear literally among the other terms (no partial cancellation).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> complement_pair(x * sp.erf(x) / 2 + x / 2 + 1, sp.erf)
    {'k': x/2, 'z': x, 's': 1, 'rest': 1}
    """
    if not isinstance(add, sp.Add):
        return None
    terms = sp.Add.make_args(add)
    for i, term in enumerate(terms):
        split = split_factor(term, func)
        if split is None:
            continue
        k, z = split
        others = terms[:i] + terms[i + 1 :]
        for s in signs:
            wanted = sp.Add.make_args(sp.expand(s * k))
            if all(w in others for w in wanted):
                rest = list(others)
                for w in wanted:
                    rest.remove(w)
                return {"k": k, "z": z, "s": s, "rest": sp.Add(*rest)}
    return None


def is_max_shifted(exponents: tuple[sp.Expr, ...]) -> bool:
    """True when the exponents already read ``u_i - Max(u_1, ..., u_n)`` (nothing to shift).

    Examples
    --------
    >>> import sympy as sp
    >>> a, b = sp.symbols("a b", real=True)
    >>> m = sp.Max(a, b)
    >>> is_max_shifted((a - m, b - m)), is_max_shifted((a, b))
    (True, False)
    """
    maxima = {t for u in exponents for t in sp.Add.make_args(-u) if isinstance(t, sp.Max)}
    for m in maxima:
        if {sp.expand(u + m) for u in exponents} <= set(m.args) | {sp.S.Zero}:
            return True
    return False


def max_shifted(exponents: tuple[sp.Expr, ...]) -> tuple[sp.Expr, tuple[sp.Expr, ...]]:
    """``(M, (u_i - M))`` with ``M = Max(u_i)``: the shift that keeps every ``exp`` <= 1.

    Numbers among the exponents stay in ``M`` (``Max(0, z)``), so ``1 + exp(z)`` shifts to
    ``exp(-Max(0, z)) + exp(z - Max(0, z))``.
    """
    m = sp.Max(*exponents)
    return m, tuple(u - m for u in exponents)
