"""The exact-arguments stage: a primitive of a product or quotient of doubles gets it exactly.

After the rules reached their fixed point, every call ``f(c a b)`` or ``f(c a/b)`` of a function
``f`` with an exact-argument form (:data:`symsmooth.functions.EXACT_FORMS`), where ``a`` and
``b`` are symbols (kernel inputs and parameters: exact doubles) and ``c`` is a signed power of
two (so ``c a`` is exact too), becomes ``f_xp(c a, b)`` or ``f_xq(c a, b)`` (and
``f_xp(a, b)/a`` becomes ``f_xd(a, b)`` where ``f`` has that form): its helper forms
the argument as a double-double and evaluates ``f`` at the exact value instead of at
``fl(a b)``, whose rounding costs ``|a b| eps/2`` relative through ``exp`` (350 ulp at
``a b ~ -700``) and ``(a b)^2 eps`` through ``erfc``.

This is a stage, not a rule of the engine: it runs once the rules are done (a rule matching
``sigmoid(u) sigmoid(-u)`` must see the plain ``sigmoid`` first), and :func:`plain_arguments`
undoes it, so a derivative of a stage output is stabilized from the plain form.
Dispatch is by the function's name through the registry's table; nothing here lists functions.

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision",
Numer. Math. 18 (1971) 224-242 (TwoProduct).  T. Ogita, S. M. Rump, S. Oishi, "Accurate sum and
dot product", SIAM J. Sci. Comput. 26 (2005) 1955-1988 (error-free transformations).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import sigmoid, softplus
>>> k, x, s = sp.symbols("k x s", positive=True)
>>> exact_arguments(softplus(k * x) / k + sigmoid(-2 * k * x) + sp.erf(x / s))
(erf(x/s) + sigmoid_xp(-2*k, x) + softplus_xd(k, x), ('exact_arguments',))
>>> plain_arguments(exact_arguments(softplus(k * x))[0])
softplus(k*x)
"""

from __future__ import annotations

import sympy as sp

from symsmooth.functions import EXACT_FORMS, ExactArgument

STAGE = "exact_arguments"
"""The name the stage records in :attr:`Stabilized.applied` when it changed something."""


def _power_of_two(c: sp.Expr) -> bool:
    """Whether the number ``c`` is +-2**j (so multiplying a double by it is exact)."""
    if not c.is_Rational or c == 0:
        return False
    p, q = abs(c.p), c.q
    return p & (p - 1) == 0 and q & (q - 1) == 0


def _exact_operand(e: sp.Expr) -> bool:
    return isinstance(e, sp.Symbol) and not e.is_integer


def split(arg: sp.Expr) -> tuple[str, sp.Expr, sp.Expr] | None:
    """``("product", c a, b)`` for ``arg = c a b``, ``("quotient", c a, b)`` for ``c a/b``
    (``a``, ``b`` symbols, ``c`` a signed power of two), else ``None``.

    >>> k, x = sp.symbols("k x", real=True)
    >>> split(-k * x / 2), split(x / k), split(3 * k * x)
    (('product', -k/2, x), ('quotient', x, k), None)
    """
    if not isinstance(arg, sp.Mul):
        return None
    c, rest = arg.as_coeff_mul()
    if not _power_of_two(c) or len(rest) != 2:
        return None
    plain = [f for f in rest if _exact_operand(f)]
    inverse = [f.base for f in rest if isinstance(f, sp.Pow) and f.exp == -1]
    if len(plain) == 2:
        return "product", c * plain[0], plain[1]
    if len(plain) == 1 and len(inverse) == 1 and _exact_operand(inverse[0]):
        return "quotient", c * plain[0], inverse[0]
    return None


def _pair(node: sp.Basic) -> sp.Basic:
    """``f(c1 a b + c2 c d)`` -> ``f_pp(c1 a, b, c2 c, d)`` where ``f`` has a pair form."""
    arg = node.args[0]
    form = EXACT_FORMS.get((type(node).__name__, "pair"))
    if form is None or not isinstance(arg, sp.Add) or len(arg.args) != 2:
        return node
    parts = [split(t) for t in sorted(arg.args, key=sp.default_sort_key)]
    if any(p is None or p[0] != "product" for p in parts):
        return node
    (_, a, b), (_, c, d) = parts
    return form(a, b, c, d)


def _exact_node(node: sp.Basic) -> sp.Basic:
    if not isinstance(node, sp.Function) or len(node.args) != 1:
        return node
    parts = split(node.args[0])
    if parts is None:
        return _pair(node)
    operation, a, b = parts
    form = EXACT_FORMS.get((type(node).__name__, operation))
    return node if form is None else form(a, b)


def _scaled(node: sp.Basic) -> sp.Basic:
    """``f_xp(a, b) * a**-1 * rest`` -> ``f_xd(a, b) * rest`` where ``f`` has a scaled form, and
    ``f_xp(c s, b) * s**-2 * rest`` -> ``c**2 f_xsq(c s, b) * rest`` (``c`` a power of two or 1)
    where it has a ``scaled2`` form."""
    if not isinstance(node, sp.Mul):
        return node
    factors = list(node.args)
    for at, f in enumerate(factors):
        if not (isinstance(f, ExactArgument) and f.operation == "product"):
            continue
        base = type(f).base.__name__
        form = EXACT_FORMS.get((base, "scaled"))
        for a, b in (f.args, f.args[::-1]):  # a product: either factor may be the scale
            if form is not None and 1 / a in factors:
                factors[at] = form(a, b)
                factors.remove(1 / a)
                return sp.Mul(*factors)
        form = EXACT_FORMS.get((base, "scaled2"))
        for a, b in (f.args, f.args[::-1]):
            c, s = a.as_coeff_Mul()
            if form is not None and s**-2 in factors and (c == 1 or _power_of_two(c)):
                factors[at] = c**2 * form(a, b)
                factors.remove(s**-2)
                return sp.Mul(*factors)
    return node


def _scaled_pair(node: sp.Basic) -> sp.Basic:
    """``f(a b, a c) * a**-1 * rest`` -> ``f_xd2(a, b, c) * rest`` (the pair logsumexp)."""
    if not isinstance(node, sp.Mul):
        return node
    factors = list(node.args)
    for at, f in enumerate(factors):
        form = EXACT_FORMS.get((type(f).__name__, "scaled_pair"))
        if form is None or len(f.args) != 2:
            continue
        parts = [split(g) for g in f.args]
        if any(p is None or p[0] != "product" for p in parts):
            continue
        (_, a1, b1), (_, a2, b2) = parts
        for scale, one in ((a1, b1), (b1, a1)):
            other = b2 if a2 == scale else (a2 if b2 == scale else None)
            if other is not None and 1 / scale in factors:
                factors[at] = form(scale, one, other)
                factors.remove(1 / scale)
                return sp.Mul(*factors)
    return node


def _rebuild(expr: sp.Basic, node) -> sp.Basic:
    if expr.is_Atom or not expr.args:
        return expr
    args = tuple(_rebuild(a, node) for a in expr.args)
    if args != expr.args:
        expr = expr.func(*args)
    return node(expr)


def exact_arguments(expr: sp.Expr) -> tuple[sp.Expr, tuple[str, ...]]:
    """``expr`` with every eligible ``f(c a b)``, ``f(c a/b)`` in its exact-argument form, and
    ``("exact_arguments",)`` when something changed (else ``()``).  The input is not modified."""
    out = _rebuild(expr, lambda n: _scaled_pair(_scaled(_exact_node(n))))
    return out, ((STAGE,) if out != expr else ())


def plain_arguments(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every exact-argument form back at its base function (the inverse)."""
    return _rebuild(expr, lambda n: n.plain() if isinstance(n, ExactArgument) else n)
