"""Rule set ``accuracy``: fused forms that save roundings where nothing overflows or cancels.

==================  ====================================  =====================================
rule                naive                                 stable
==================  ====================================  =====================================
sigmoid_product     sigmoid(u) sigmoid(-u)                dsigmoid(u)
sigmoid_difference  k sigmoid(u) - k sigmoid(-u)          k tanh(u/2)
sinh_ratio          k exp(c x - L) - k exp(-c x - L),     k sinh_ratio(c, x, y)
                    L = logsumexp(+-c x, +-c y)
swish_gradient      k sigmoid(u) + k u dsigmoid(u)        k dswish(u)
gaussian_square     exp(-a^2 b^2)                         sqrt(pi)/2 derf(a, b)
gelu_gradient       k Phi(u) + k u phi(u)                 k dgelu(u)
hypot_root          k (1 + a) x + k hypot(m, (1 - a) x)   k lin_hypot(x, m, a)
==================  ====================================  =====================================

* ``sigmoid(u) sigmoid(-u)`` (the derivative of every sigmoid, and ``1 - tanh^2`` after the
  ``tanh_complement`` rule): two rounded sigmoids and their product round three times
  (1.5-1.8 ulp measured); ``dsigmoid`` (:mod:`symsmooth.functions.fused`, helper
  ``_dsigmoid``) is ``e/(1 + e)^2`` with ``e = exp(-|u|)`` divided once in double-double
  (0.5 ulp).  Its naive rewrite ``exp(-u)/(1 + exp(-u))^2`` overflows to NaN for
  ``u < -709.8``; the worked example of the rule is that form, which the ``sigmoid`` rule of
  ``exp_log`` first turns into the product this rule fuses.
* ``sigmoid(u) - sigmoid(-u) = tanh(u/2)`` (the gradient of ``log(2 cosh)``, produced by the
  ``softmax_pair`` rule): the difference of two rounded sigmoids cancels at small ``u``
  (``1/2 - 1/2``; 9e15 ulp measured at ``|u| < 1e-8``); ``tanh`` has no cancellation.
* ``exp(u - L) - exp(-u - L)`` with ``L = logsumexp(u, -u, v, -v)`` (the gradient of the pair
  logsumexp ``L/c``, ``u = c x``, ``v = c y``) ``= sinh(u)/(cosh u + cosh v)``:
  ``sinh_ratio(c, x, y)`` (helper ``_sinh_ratio``) divides by ``exp(max(|u|, |v|))/2`` and
  takes ``c x`` and ``c (|x| - |y|)`` in double-double, so neither the rounded ``L`` (~|L| eps
  through ``exp``: 776 ulp at ``|u| ~ 700``) nor the overflow of ``c x`` (``inf - inf``) enters.
  This rule is in phase ``preempt``, so it runs before ``exp_difference`` (phase ``compound``),
  which would otherwise factor the difference around the rounded ``L``.
* ``sigmoid(u) + u dsigmoid(u)`` (the swish gradient) cancels near its root ``u = -1.2785``
  (3.06 ulp in ``moderate``, 1e15 at the double nearest the root); ``dswish`` (helper
  ``_dswish``) is ``e (1 + u + e)/(1 + e)^2`` (``u < 0``, ``e = exp(u)``) with ``1 + u + e``
  in double-double and one division: 0.5 ulp beyond ``1e-3`` of the root.
* ``exp(-a^2 b^2)`` (the gradient of ``erf(a b)``): ``exp`` multiplies the relative rounding of
  ``a^2 b^2`` (two or three products) by ``a^2 b^2``, 88 ulp measured at ``a b ~ 20``;
  ``derf(a, b) = 2/sqrt(pi) exp(-(a b)^2)`` (helper ``_derf``) forms ``a b`` and its square
  exactly (TwoProduct) and rounds once.  Matched only where ``a b`` is a product of at most
  two factors and a power-of-two coefficient (so ``a`` and ``b`` are exact doubles); the
  ``2/sqrt(pi)`` of the erf gradient cancels against the rule's ``sqrt(pi)/2``.
* ``Phi(u) + u phi(u)`` (the GELU gradient) cancels near its root ``u = -0.7518`` (13.6 ulp
  in gelu's ``moderate`` grid, 380 ulp at ``u = -0.75``); ``dgelu`` (helper ``_dgelu``): a
  Taylor series about the root with ``u - u0`` and the leading steps in double-double for
  ``-1.5 <= u < 0``, Laplace's continued fraction (positive terms) below: ~0.6 ulp.
* ``(1 + a) x + hypot(m, (1 - a) x)`` (SMU-1) cancels near its root ``x = -m/(2 sqrt a)``
  (11 ulp in smu1's ``moderate``); ``lin_hypot`` (helper ``_lin_hypot``) is
  ``(m^2 - 4 a x^2)/(hypot - (1 + a) x)`` there, the difference of squares in double-double
  from the exact inputs.

References
----------
LogExpFunctions.jl (``logistic``, ``log1pexp``); J.-M. Muller et al., *Handbook of
Floating-Point Arithmetic*, 2nd ed. (2018), 4.3-4.4 (TwoSum, TwoProduct, exact division
remainder).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import sigmoid
>>> from symsmooth.stabilization import stabilize
>>> z = sp.Symbol("z", real=True); k = sp.Symbol("k", positive=True)
>>> stabilize(4 * k * sigmoid(2 * z) * sigmoid(-2 * z)).expr
4*k*dsigmoid(2*z)
>>> stabilize(k * sigmoid(2 * k * z) - k * sigmoid(-2 * k * z)).expr
k*tanh(k*z)
>>> from symsmooth.functions import logsumexp
>>> y = sp.Symbol("y", real=True)
>>> L = logsumexp(2 * k * z, -2 * k * z, 2 * k * y, -2 * k * y)
>>> stabilize(sp.exp(2 * k * z - L) - sp.exp(-2 * k * z - L)).expr
sinh_ratio(2*k, z, y)
>>> stabilize(2 * k * sp.exp(-(k**2) * z**2) / sp.sqrt(sp.pi)).expr
k*derf(k, z)
>>> from symsmooth.functions import Phi, phi
>>> stabilize(Phi(z / k) + z * phi(z / k) / k).expr
dgelu(z/k)
>>> from symsmooth.functions.special import hypot
>>> stabilize(z * (1 + k) / 2 + hypot(y, z * (1 - k)) / 2).expr
lin_hypot(z, y, k)/2
"""

from __future__ import annotations

import sympy as sp

from symsmooth.functions import Phi, logsumexp, phi, sigmoid
from symsmooth.functions.fused import derf, dgelu, dsigmoid, dswish, lin_hypot, silu, sinh_ratio
from symsmooth.functions.special import hypot
from symsmooth.stabilization.rules import Rule, register_rule_set, register_rules

PHASE = "fused"
"""The phase of this module's rules (:mod:`symsmooth.stabilization.phases`)."""

u = sp.Symbol("u", real=True)
v = sp.Symbol("v", real=True)


def _match_sigmoid_product(node: sp.Mul) -> dict | None:
    factors = list(sp.Mul.make_args(node))
    sig = [(i, f.args[0]) for i, f in enumerate(factors) if isinstance(f, sigmoid)]
    for i, a in sig:
        for j, b in sig:
            if i < j and sp.expand(a + b) == 0:
                rest = [f for m, f in enumerate(factors) if m not in (i, j)]
                return {"u": a, "rest": sp.Mul(*rest)}
    return None


SIGMOID_PRODUCT = Rule(
    name="sigmoid_product",
    phase=PHASE,
    head=sp.Mul,
    match=_match_sigmoid_product,
    build=lambda u, rest: rest * dsigmoid(u),
    citation="sigmoid(u) sigmoid(-u) = e/(1 + e)^2, e = exp(-|u|); LogExpFunctions.jl; "
    "Muller et al. 2018, 4.3-4.4 (one division of double-double operands)",
    description="sigmoid(u) sigmoid(-u) -> dsigmoid(u) (one rounding instead of three)",
    naive=sp.exp(-u) / (1 + sp.exp(-u)) ** 2,
    hard_inputs=({u: -720.0}, {u: -750.0}),
    failure="exp(-u) overflows for u < -709.8: inf/inf = nan (the result is exp(u))",
)


def _match_product_rule(cdf: type, density: type):
    """A matcher of ``k F(u) + k u f(u)`` (``d/du u F(u)`` times ``k``, ``f = F'``) with
    ``F = cdf`` and ``f = density``: the sum that cancels at the root of ``F(u) + u f(u)``.

    Examples
    --------
    >>> import sympy as sp
    >>> k, u = sp.symbols("k u", real=True)
    >>> _match_product_rule(Phi, phi)(k * Phi(u) + k * u * phi(u))
    {'k': k, 'u': u}
    """

    def match(node: sp.Add) -> dict | None:
        terms = sp.Add.make_args(node)
        if len(terms) != 2:
            return None
        for first, prod in (terms, terms[::-1]):
            c, s = first.as_independent(cdf, as_Add=False)
            d = [f for f in sp.Mul.make_args(prod) if isinstance(f, density)]
            if isinstance(s, cdf) and len(d) == 1 and d[0].args[0] == s.args[0]:
                u = s.args[0]
                if sp.expand(prod / d[0] - c * u) == 0:
                    return {"k": c, "u": u}
        return None

    return match


SWISH_GRADIENT = Rule(
    name="swish_gradient",
    phase=PHASE,
    head=sp.Add,
    match=_match_product_rule(sigmoid, dsigmoid),
    build=lambda k, u: k * dswish(u),
    citation="sigmoid(u) + u dsigmoid(u) = e (1 + u + e)/(1 + e)^2, e = exp(u) (u < 0); "
    "Ramachandran et al. 2017 (swish); Muller et al. 2018, 4.3-4.4 (double-double operands)",
    description="k sigmoid(u) + k u dsigmoid(u) -> k dswish(u) (no cancellation at u = -1.2785)",
    naive=sigmoid(u) + u * dsigmoid(u),
    hard_inputs=({u: -1.278}, {u: -1.2785}),
    failure="the two terms cancel near the root u = -1.2785 (1810 ulp at u = -1.278)",
)


GELU_GRADIENT = Rule(
    name="gelu_gradient",
    phase=PHASE,
    head=sp.Add,
    match=_match_product_rule(Phi, phi),
    build=lambda k, u: k * dgelu(u),
    citation="d/du u Phi(u) = Phi(u) + u phi(u); Hendrycks & Gimpel 2016 (GELU); Laplace "
    "continued fraction of the Mills ratio (Abramowitz-Stegun 26.2.14); Muller et al. 2018, "
    "ch. 14 (double-double)",
    description="k Phi(u) + k u phi(u) -> k dgelu(u) (no cancellation at u = -0.7518)",
    naive=Phi(u) + u * phi(u),
    hard_inputs=({u: -0.7517915}, {u: -0.75179152469}),
    failure="the two terms cancel near the root u = -0.7518 (~1e4 ulp at u = -0.7517915)",
)


def _match_hypot_root(node: sp.Add) -> dict | None:
    terms = sp.Add.make_args(node)
    if len(terms) != 2:
        return None
    for lin, hyp in (terms, terms[::-1]):
        k, h = hyp.as_independent(hypot, as_Add=False)
        if not isinstance(h, hypot):
            continue
        for m, r in (h.args, h.args[::-1]):
            x = [f for f in sp.Mul.make_args(r) if f.is_Symbol]
            if len(x) != 1 or not m.free_symbols:
                continue
            x = x[0]
            a = 1 - sp.cancel(r / x)
            if x in a.free_symbols or m.has(x):
                continue
            if sp.expand(lin - k * (1 + a) * x) == 0:
                return {"k": k, "x": x, "m": m, "a": a}
    return None


HYPOT_ROOT = Rule(
    name="hypot_root",
    phase=PHASE,
    head=sp.Add,
    match=_match_hypot_root,
    build=lambda k, x, m, a: k * lin_hypot(x, m, a),
    citation="p + sqrt(m^2 + r^2) = (m^2 + r^2 - p^2)/(sqrt(m^2 + r^2) - p), p = (1 + a) x, "
    "r = (1 - a) x: m^2 - 4 a x^2 (Biswas et al. 2021, SMU-1); Dekker 1971 (TwoProduct)",
    description="k (1 + a) x + k hypot(m, (1 - a) x) -> k lin_hypot(x, m, a) (no cancellation at "
    "the root x = -m/(2 sqrt a))",
    naive=(1 + v) * u + hypot(sp.Symbol("m", positive=True), (1 - v) * u),
    hard_inputs=(
        {u: -1.0000000001, sp.Symbol("m", positive=True): 1.0, v: 0.25},
        {u: -2.00000001, sp.Symbol("m", positive=True): 2.0, v: 0.25},
    ),
    failure="the two terms cancel near the root x = -m/(2 sqrt a) (~1e6 ulp at 1e-10 of it)",
)


def _power_of_two(c: sp.Expr) -> bool:
    return c.is_Rational and c > 0 and all(n & (n - 1) == 0 for n in (c.p, c.q))


def _match_gaussian_square(node: sp.exp) -> dict | None:
    """``exp(-r^2 f^2 g^2)``, ``f, g`` symbols, ``r`` a power of two -> ``a = r f, b = g``
    (``a`` and ``b`` exact doubles; ``g = 1`` drops: ``exp(-r^2 f^2)`` -> ``a = r, b = f``)."""
    c, rest = node.args[0].as_coeff_Mul()
    if not c < 0 or not _power_of_two(sp.sqrt(-c)):
        return None
    roots = [f.base for f in sp.Mul.make_args(rest) if f.is_Pow and f.exp == 2]
    if len(roots) != len(sp.Mul.make_args(rest)) or not 1 <= len(roots) <= 2:
        return None
    if not all(b.is_Symbol and b.is_real for b in roots):
        return None
    if len(roots) == 1:
        return {"a": sp.sqrt(-c), "b": roots[0]}
    return {"a": sp.sqrt(-c) * roots[0], "b": roots[1]}


GAUSSIAN_SQUARE = Rule(
    name="gaussian_square",
    phase=PHASE,
    head=sp.exp,
    match=_match_gaussian_square,
    build=lambda a, b: sp.sqrt(sp.pi) / 2 * derf(a, b),
    citation="erf'(z) = 2/sqrt(pi) exp(-z^2) (Abramowitz-Stegun 7.1.19); z = a b and z^2 "
    "formed exactly: Dekker 1971 (TwoProduct); Muller et al. 2018, 4.4",
    description="exp(-a^2 b^2) -> sqrt(pi)/2 derf(a, b) (a b and its square exact, one rounding)",
    naive=sp.exp(-(u**2) * v**2),
    hard_inputs=(
        {u: 2.278788990865567, v: 11.616831542802226},
        {u: 4.12056646686114, v: -6.430860953659567},
    ),
    failure="a^2 b^2 ~ 700 rounds (up to 1.5 eps relative); exp multiplies that by a^2 b^2: "
    "~1600 ulp at these points",
)


def _scaled_exp(term: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """``(coefficient, argument)`` of ``coefficient * exp(argument)``, or ``None``."""
    coef, rest = term.as_independent(sp.exp, as_Add=False)
    return (coef, rest.args[0]) if isinstance(rest, sp.exp) else None


def _pair_logsumexp(arg: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """``(s, L)`` for ``arg = s - L``, ``L = logsumexp`` of four arguments ``+-u, +-v``."""
    lse = [t for t in sp.Add.make_args(arg) if (-t).func is logsumexp]
    if len(lse) != 1 or len((-lse[0]).args) != 4:
        return None
    L = -lse[0]
    args = set(L.args)
    if any(-a not in args for a in args):
        return None
    return sp.expand(arg + L), L


def _match_sinh_ratio(node: sp.Add) -> dict | None:
    terms = sp.Add.make_args(node)
    if len(terms) != 2:
        return None
    parts = [_scaled_exp(t) for t in terms]
    if any(p is None for p in parts):
        return None
    (c1, a1), (c2, a2) = parts
    p1, p2 = _pair_logsumexp(a1), _pair_logsumexp(a2)
    if p1 is None or p2 is None or p1[1] != p2[1] or sp.expand(p1[0] + p2[0]) != 0:
        return None
    if sp.expand(c1 + c2) != 0:
        return None
    w = p1[0]
    others = [a for a in p1[1].args if sp.expand(a - w) != 0 and sp.expand(a + w) != 0]
    if len(others) != 2:
        return None
    scale = sp.gcd(w, others[0])
    x, y = sp.cancel(w / scale), sp.cancel(others[0] / scale)
    if not (scale.is_positive and x.is_real and y.is_real):
        return None
    return {"k": c1, "c": scale, "x": x, "y": y}


def _match_sigmoid_difference(node: sp.Add) -> dict | None:
    terms = sp.Add.make_args(node)
    if len(terms) != 2:
        return None
    parts = []
    for t in terms:
        coef, rest = t.as_independent(sigmoid, as_Add=False)
        if not isinstance(rest, sigmoid):
            return None
        parts.append((coef, rest.args[0]))
    (c1, a1), (c2, a2) = parts
    if sp.expand(c1 + c2) != 0 or sp.expand(a1 + a2) != 0:
        return None
    return {"k": c1, "u": a1}


SIGMOID_DIFFERENCE = Rule(
    name="sigmoid_difference",
    phase=PHASE,
    head=sp.Add,
    match=_match_sigmoid_difference,
    build=lambda k, u: k * sp.tanh(u / 2),
    citation="sigmoid(u) - sigmoid(-u) = 2 sigmoid(u) - 1 = tanh(u/2); "
    "Abramowitz-Stegun 4.5.5 (tanh as a ratio of exponentials)",
    description="k sigmoid(u) - k sigmoid(-u) -> k tanh(u/2) (no cancellation at small u)",
    naive=sigmoid(u) - sigmoid(-u),
    hard_inputs=({u: 1e-20}, {u: -3e-17}),
    failure="both sigmoids round to 1/2: the difference is 0 (the result is u/2)",
)

_L = logsumexp(u, -u, v, -v)

SINH_RATIO = Rule(
    name="sinh_ratio",
    phase="preempt",
    head=sp.Add,
    match=_match_sinh_ratio,
    build=lambda k, c, x, y: k * sinh_ratio(c, x, y),
    citation="(e^u - e^-u)/(e^u + e^-u + e^v + e^-v) = sinh u/(cosh u + cosh v) (Su 2015, "
    "https://kexue.fm/archives/3290); Muller et al. 2018, 4.3-4.4 (double-double operands)",
    description="exp(u - L) - exp(-u - L), L = logsumexp(+-u, +-v) -> sinh_ratio(c, x, y), "
    "u = c x, v = c y (no rounded L, no overflow)",
    naive=sp.exp(u - _L) - sp.exp(-u - _L),
    hard_inputs=({u: 1e-20, v: 3.0}, {u: 800.0, v: 801.0}),
    failure="u tiny: both exps equal exp(-L) and cancel (0 instead of u/(1 + cosh v)); "
    "u > 710: exp(u) overflows (the naive logsumexp is inf, inf - inf = nan)",
)


def _match_silu(node: sp.Mul) -> dict | None:
    """``v sigmoid(v w) rest`` (``v`` a symbol, ``w`` free of it): the swish ``x sigmoid(k x)``."""
    factors = list(sp.Mul.make_args(node))
    for i, f in enumerate(factors):
        if not isinstance(f, sigmoid):
            continue
        arg = f.args[0]
        for j, v in enumerate(factors):
            if j == i or not isinstance(v, sp.Symbol) or not arg.has(v):
                continue
            w = sp.cancel(arg / v)
            # w divides the result: only a factor of known sign (a sharpness k > 0), never an
            # input (k sigmoid(k x) is not silu(k x)/x, which is 0/0 at x = 0)
            if not w.has(v) and (w.is_positive or w.is_negative):
                rest = [g for m, g in enumerate(factors) if m not in (i, j)]
                return {"u": arg, "w": w, "rest": sp.Mul(*rest)}
    return None


SILU = Rule(
    name="silu",
    phase=PHASE,
    head=sp.Mul,
    match=_match_silu,
    build=lambda u, w, rest: rest * silu(u) / w,
    citation="x sigmoid(k x) = silu(k x)/k (Elfwing et al. 2018; Ramachandran et al. 2017, "
    "Swish); rounded once, the subnormal tail as exp(k x + log|x|)",
    description="x sigmoid(k x) -> silu(k x)/k (one rounding; no subnormal sigmoid times x)",
    naive=u / (1 + sp.exp(-u)),
    hard_inputs=({u: -743.5}, {u: -740.0}),
    failure="sigmoid(u) is subnormal (few bits) for u < -708: u sigmoid(u) loses up to 321 ulp",
)

RULES = register_rules(
    (
        SILU,
        SINH_RATIO,
        SIGMOID_DIFFERENCE,
        SIGMOID_PRODUCT,
        SWISH_GRADIENT,
        GAUSSIAN_SQUARE,
        GELU_GRADIENT,
        HYPOT_ROOT,
    )
)

ACCURACY = register_rule_set(
    "accuracy",
    RULES,
    "fused forms: sinh_ratio, sigmoid difference as tanh, sigmoid products as dsigmoid, "
    "the swish gradient as dswish, exp(-a^2 b^2) as derf, the GELU gradient as dgelu, "
    "SMU-1 as lin_hypot",
)
