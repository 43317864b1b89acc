"""Rule set ``erf_tails``: ``1 +- erf`` written without cancellation.

``erf(z)`` rounds to ``+-1`` in float64 once ``|z| > 5.9`` (float32: ``|z| > 3.9``, see
:mod:`symsmooth.stabilization.thresholds`), so ``1 - erf(z)`` and ``1 + erf(-z)`` lose every digit
in the tails.  The rewrite uses the complementary function, computed directly:

* ``k - k erf(z) -> k erfc(z)``;
* ``k + k erf(z) -> 2 k Phi(sqrt(2) z)``: this is ``k erfc(-z)``, but SymPy rewrites
  ``erfc(-z)`` to ``2 - erfc(z)`` on construction, which would bring the cancellation back, so
  the normal CDF :class:`~symsmooth.functions.Phi` (evaluated as ``erfc(-z/sqrt 2)/2``) carries
  it.  ``x erf(x/(sqrt 2 s)) + x`` becomes ``2 x Phi(x/s)``.

GELU ``x (1 + erf(x/sqrt 2))/2`` becomes ``x Phi(x)``, accurate to the conditioning of ``Phi``
(about ``2 x^2`` ulps, from the rounding of ``x/sqrt 2``) down to the underflow at ``x = -38.5``;
the naive form is 0 below ``x = -8.4``.  ReLU * Gaussian
``(x erf(x/(sqrt 2 s)) + x + sqrt(2/pi) s exp(-x^2/2s^2))/2`` becomes
``x Phi(x/s) + s exp(-x^2/2s^2)/sqrt(2 pi)``: for ``t = x/s < -6`` the naive form returns the
``phi`` term alone (relative error ~1, e.g. 100x too large at ``t = -10``); the rewritten one
still subtracts two terms ``t^2`` times larger than the result, each carrying a ``t^2 eps``
error, so its relative error is about ``t^4 eps/2`` (measured: 2.1e3 ulp at ``t = -8``,
8.7e5 ulp = 1e-10 relative at ``t = -37``).  A few-ulp tail needs the asymptotic series
``phi(t) (1/t^2 - 3/t^4 + 15/t^6 - ...)`` or ``erfcx`` as a regime branch (not in ``math``).
At ``x = -40 s`` the exact value (~1e-352 s) is below the float64 subnormals.

References
----------
M. Abramowitz, I. A. Stegun, *Handbook of Mathematical Functions* (1964), 7.1.2 and 26.2.29
(erfc = 1 - erf; Phi(z) = erfc(-z/sqrt 2)/2).
W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969)
631-637 (erfc evaluated directly in the tail, without forming 1 - erf).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.stabilization import stabilize
>>> x = sp.Symbol("x", real=True); s = sp.Symbol("s", positive=True)
>>> stabilize(x * sp.erf(x / (sp.sqrt(2) * s)) + x, "erf_tails").expr
2*x*Phi(x/s)
>>> stabilize(1 - sp.erf(x), "erf_tails").expr
erfc(x)
"""

from __future__ import annotations

import sympy as sp

from symsmooth.functions import Phi
from symsmooth.stabilization.matchers import complement_pair
from symsmooth.stabilization.rules import Rule, register_rule_set, register_rules

PHASE = "elementary"
"""The phase of this module's rules (:mod:`symsmooth.stabilization.phases`)."""

x, z = sp.symbols("x z", real=True)

CODY = (
    "Abramowitz & Stegun 7.1.2, 26.2.29; W. J. Cody, Math. Comp. 23 (1969) 631-637 "
    "(erfc computed directly in the tail)"
)


def _matcher(sign: int):
    def match(node: sp.Add) -> dict | None:
        return complement_pair(node, sp.erf, signs=(sign,))

    return match


def _build(k: sp.Expr, z: sp.Expr, s: int, rest: sp.Expr) -> sp.Expr:
    """``k erf(z) + s k``: ``2 k Phi(sqrt2 z)`` for ``s = 1``, ``-k erfc(z)`` for ``s = -1``."""
    tail = 2 * k * Phi(sp.sqrt(2) * z) if s == 1 else -k * sp.erfc(z)
    return tail + rest


ONE_PLUS_ERF = Rule(
    name="one_plus_erf",
    phase=PHASE,
    head=sp.Add,
    match=_matcher(1),
    build=_build,
    citation=CODY,
    description="k + k erf(z) -> 2 k Phi(sqrt(2) z), i.e. k erfc(-z) (SymPy folds erfc(-z))",
    naive=x * sp.erf(x / sp.sqrt(2)) + x,
    hard_inputs=({x: -37.0}, {x: -10.0}),
    failure="erf(x/sqrt2) rounds to -1 for x < -8.4: x erf + x = 0 instead of 2 x Phi(x)",
)

ONE_MINUS_ERF = Rule(
    name="one_minus_erf",
    phase=PHASE,
    head=sp.Add,
    match=_matcher(-1),
    build=_build,
    citation=CODY,
    description="k - k erf(z) -> k erfc(z)",
    naive=1 - sp.erf(z),
    hard_inputs=({z: 8.0}, {z: 26.0}),
    failure="erf(z) rounds to 1 for z > 5.9: 1 - erf(z) = 0 instead of erfc(z)",
)

RULES = register_rules((ONE_PLUS_ERF, ONE_MINUS_ERF))

ERF_TAILS = register_rule_set(
    "erf_tails", RULES, "1 +- erf(z) in erfc / Phi form (no cancellation in the tails)"
)
