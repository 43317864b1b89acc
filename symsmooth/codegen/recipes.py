r"""Recipes: every stable primitive as a framework-neutral SymPy body, for the native targets.

The native PyTorch and JAX modules (:mod:`symsmooth.codegen.native`) compute a kernel's stable
form with whole-array framework ops, so each primitive becomes a small function of tensors
(``_softplus(z)``).  Its body is written once, here, as SymPy: assignments and a result over
elementary functions, :class:`~sympy.Piecewise` branches (printed as ``where``), ``Min``/``Max``
against a number (printed as clamps) and the few nodes below that SymPy cannot say (the
rounding errors of a product, a sum and a quotient, a finiteness test, ``erfcx``); the torch
and JAX printers (:mod:`symsmooth.codegen.native_printer`) print the same recipe.

**Safe branches** (the "double where" of BoTorch's ``safe_math`` and optax's ``safe_norm``):
every branch of a ``Piecewise`` is written on an argument clamped into that branch's own
region (``exp(Min(z, -37))`` in the branch ``z <= -37``), so no branch overflows or produces
NaN where it is not taken, and autodiff through the recipe (second derivatives: the first come
from the derived gradients) never multiplies a zero cotangent by an infinity.

**Exact arguments**: the primitives ``f_xp(a, b) = f(a b)`` and their kin
(:mod:`symsmooth.functions.exact`) print as ``f(p) + e f'(p)`` with ``p = fl(a b)`` and ``e`` its
rounding error (Dekker's TwoProduct, :mod:`symsmooth.runtime.torch_native`): the first-order
term of the exact argument, which the Numba helpers take into their double-double evaluation;
``f'`` is the primitive's own stable derivative.  One generic recipe serves every exact form.

The thresholds are the float64 ones of :mod:`symsmooth.runtime.scalar` (Maechler 2012); each is
also safe in float32, where the modules compute natively (no float64 needed: TPUs have none).

Examples
--------
>>> r = recipe("softplus", 1)
>>> r.helper, [str(a) for a in r.args]
('softplus', ['z'])
>>> r.result.args[0]
(exp(Min(-37, z)), z <= -37)
>>> recipe("logsumexp", 3).helper, len(recipe("logsumexp", 3).body)
('logsumexp3', 1)
>>> recipe("softplus_xd", 2).result
(correction(e*sigmoid(P)) + softplus(P))/a
>>> recipe("softmin", 1)
Traceback (most recent call last):
...
symsmooth.errors.CodegenError: no native recipe for the primitive 'softmin'; ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.logic.boolalg import BooleanFunction

from symsmooth.errors import CodegenError
from symsmooth.functions import (
    PRIMITIVES,
    ExactArgument,
    Phi,
    dloglse_exp,
    hypot,
    hypot_gap,
    logcosh,
    loglse_exp,
    logsumexp,
    phi,
    recip1p_sq,
    sigmoid,
    softplus,
)

# --- nodes a recipe needs besides SymPy's own --------------------------------------------------


class two_prod_err(sp.Function):
    """The rounding error of ``a*b`` (``a*b = fl(a*b) + err`` exactly; no derivative)."""

    nargs = 2


class two_sum_err(sp.Function):
    """The rounding error of ``a + b`` (TwoSum; no derivative)."""

    nargs = 2


class quot_err(sp.Function):
    """``a/b - fl(a/b)`` to twice the working precision (no derivative)."""

    nargs = 2


class correction(sp.Function):
    """A first-order rounding correction ``e f'(p)``: 0 where it is not finite (``f'`` may
    overflow where ``f`` does not, ``(2 - p^2) phi(p)`` at ``p = 1e300``), and without
    derivative (its derivative ``e f''(p)`` is below the rounding of ``f``'s)."""

    nargs = 1


class even_abs(sp.Function):
    """``|z|`` for an even smooth function ``g(|z|)``: ``z`` where ``z >= 0``, so autodiff at 0
    takes the right branch's derivatives, which are ``g``'s (``abs`` has derivative 0 there:
    the second derivative of ``dsigmoid(|z|)`` at 0 would come out 0, not -1/8)."""

    nargs = 1


class sub2(sp.Function):
    """``(z - hi) - lo``: a difference with a two-part constant, in this order (SymPy would
    reorder the sum, XLA fold the two constants into one)."""

    nargs = 3


class by_dtype(sp.Function):
    """``by_dtype(t, v64, v32)``: ``v64`` where ``t`` is float64, else ``v32``."""

    nargs = 3


class erfcx(sp.Function):
    """The scaled complementary error function ``exp(z^2) erfc(z)``."""

    nargs = 1


class div(sp.Function):
    """``a/b`` as written (SymPy would fold ``(t/a)/a`` into ``t*a**(-2)``)."""

    nargs = 2


class hypot_op(sp.Function):
    """The framework's own ``hypot`` (no overflow of the squares)."""

    nargs = 2


class finite(BooleanFunction):
    """True where the argument is finite (not inf, not NaN)."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        return None


class isnan(BooleanFunction):
    """True where the argument is NaN (a first branch that keeps NaN: SymPy would fold the
    last branch of ``Abs(z) <= 40``, ``Abs(z) > 40`` into ``True``)."""

    nargs = 1

    @classmethod
    def eval(cls, x):
        return None


NODES: dict[str, type] = {
    c.__name__: c
    for c in (two_prod_err, two_sum_err, quot_err, correction, sub2, by_dtype, erfcx, div)
    + (hypot_op, even_abs, finite, isnan)
}
"""The recipe-only nodes; the printers print each (the first six as calls of the runtime
base, :mod:`symsmooth.runtime.torch_native`)."""


@dataclass(frozen=True)
class Recipe:
    """One helper of a native module: ``def _<helper>(<args>)``, its assignments and result.

    Attributes
    ----------
    helper : str
        The function's name without the leading ``_`` (``logsumexp3`` for three arguments).
    args : tuple of Symbol
    body : tuple of (Symbol, Expr)
        Assignments in order.
    result : Expr
    """

    helper: str
    args: tuple
    body: tuple
    result: sp.Expr


def _where(*pairs) -> sp.Expr:
    return sp.Piecewise(*pairs)


def _clamp(x, lo=None, hi=None):
    if hi is not None:
        x = sp.Min(x, hi)
    if lo is not None:
        x = sp.Max(x, lo)
    return x


def _f(v: float) -> sp.Float:
    return sp.Float(v, 17)


LN2 = _f(0.6931471805599453)
SQRT1_2 = _f(0.7071067811865476)
INV_SQRT_2PI = _f(0.3989422804014327)
TWO_INV_SQRT_PI = _f(1.1283791670955126)
SQRT_PI_2 = _f(1.2533141373155003)


def _low_part(value) -> by_dtype:
    """``value()`` (an mpmath expression, evaluated at 200 bits) minus its rounding to the
    working dtype, by dtype."""
    with mpmath.workprec(200):
        v = mpmath.mpf(value())
        lo64 = float(v - mpmath.mpf(float(v)))
        lo32 = float(v - mpmath.mpf(float(np.float32(float(v)))))
    return lambda t: by_dtype(t, _f(lo64), _f(lo32))


_SQRT1_2_LO = _low_part(lambda: mpmath.sqrt(2) / 2)


def _root_dswish():
    return -1 - mpmath.lambertw(mpmath.exp(-1)).real  # 1 + z + exp(z) = 0


def _root_dgelu():
    return mpmath.findroot(lambda t: mpmath.ncdf(t) + t * mpmath.npdf(t), -0.75)


def _two_part(value):
    """``(hi, lo)`` of ``value()`` (mpmath at 200 bits): the float64 literal and its low part
    by dtype."""
    with mpmath.workprec(200):
        hi = float(mpmath.mpf(value()))
    return _f(hi), _low_part(value)


DSWISH_ROOT = _two_part(_root_dswish)
"""The root ``z0 = -1 - W(1/e) = -1.2785`` of ``1 + z + exp(z)`` (the swish gradient's zero)."""
DGELU_ROOT = _two_part(_root_dgelu)
"""The root ``t0 = -0.7518`` of ``Phi(t) + t phi(t)`` (the GELU gradient's zero)."""

z, a, b, c, d, t, u, v, x, y, m, n, w = sp.symbols("z a b c d t u v x y m n w")
e, s, g, h, r, q, p, A_, E, K, M, P, Q, S, T = sp.symbols("e s g h r q p A E K M P Q S T")


def _one(name, arg, result, *body) -> Recipe:
    return Recipe(name, (arg,), tuple(body), result)


# --- the elementary primitives --------------------------------------------------------------


def _softplus(arity):  # Maechler 2012 regimes, as runtime.scalar._softplus
    return _one(
        "softplus",
        z,
        _where(
            (sp.exp(_clamp(z, hi=-37)), z <= -37),
            (log1p(sp.exp(_clamp(z, hi=18))), z <= 18),
            (z + sp.exp(-_clamp(z, lo=18)), z <= _f(33.3)),
            (z, True),
        ),
    )


def _sigmoid(arity):  # exp only of -|z|; no Abs (its derivative at 0 would be 0)
    return _one(
        "sigmoid",
        z,
        _where((1 / (1 + p), z >= 0), (q / (1 + q), True)),
        (p, sp.exp(-_clamp(z, lo=0))),
        (q, sp.exp(_clamp(z, hi=0))),
    )


def _log_sigmoid(arity):
    return _one("log_sigmoid", z, -softplus(-z))


def _log1mexp(arity):  # Maechler 2012, eq. (7): the switch at -log 2
    return _one(
        "log1mexp",
        z,
        _where(
            (sp.log(-expm1(_clamp(z, lo=-LN2))), z > -LN2),
            (log1p(-sp.exp(_clamp(z, hi=-LN2))), True),
        ),
    )


def _logsumexp(arity):
    args = sp.symbols(f"a0:{arity}")
    if arity == 1:
        return Recipe("logsumexp1", args, (), args[0])
    if arity > 2:  # a fold of the pair: one rounding per argument
        body, last = [], args[0]
        for j, arg in enumerate(args[1:-1]):
            body.append((sp.Symbol(f"fold{j}"), logsumexp(last, arg)))
            last = body[-1][0]
        return Recipe(f"logsumexp{arity}", args, tuple(body), logsumexp(last, args[-1]))
    a0, a1 = args  # the larger plus log1p(exp(smaller - larger)), in two consistent branches
    safe = [_where((arg, finite(M)), (0, True)) for arg in args]
    return Recipe(
        "logsumexp2",
        args,
        ((M, sp.Max(a0, a1)), (P, safe[0]), (Q, safe[1]), (d, P - Q)),
        _where(
            (P + log1p(sp.exp(-_clamp(d, lo=0))), sp.And(finite(M), P >= Q)),
            (Q + log1p(sp.exp(_clamp(d, hi=0))), finite(M)),
            (M, True),
        ),
    )


def _Phi(arity):
    """erfc(u)/2, u = -z/sqrt 2 formed with its rounding error du (the product and the
    constant's low part), fed back through erfc'(u) = -2/sqrt(pi) exp(-u^2) (otherwise the
    rounding costs ~z^2/2 ulps in the lower tail).  For u > 1, erfc(u) = exp(-u^2) erfcx(u) with
    u^2 = p + pe exact (some framework erfc lose 1e5 ulp near u = 27; erfcx keeps 3)."""
    zc = _clamp(z, -40, 40)
    uc = _clamp(u, lo=1)
    near = (sp.erfc(_clamp(u, hi=1)) - e * TWO_INV_SQRT_PI * sp.exp(-u * u)) / 2
    tail = sp.exp(-p) * (1 - two_prod_err(uc, uc)) * (erfcx(uc) - e * TWO_INV_SQRT_PI) / 2
    return _one(
        "Phi",
        z,
        _where((z, isnan(z)), (T, sp.Abs(z) <= 40), (1, z > 40), (0, True)),
        (u, -zc * SQRT1_2),
        (e, two_prod_err(-zc, SQRT1_2) - zc * _SQRT1_2_LO(z)),
        (p, uc * uc),
        (T, _where((near, u <= 1), (tail, True))),
    )


def _phi(arity):  # exp(-z^2/2)/sqrt(2 pi) with z^2 = p + e exact: exp(-p/2)(1 - e/2)
    zc = _clamp(z, -40, 40)
    return _one(
        "phi",
        z,
        _where((z, isnan(z)), (T, sp.Abs(z) <= 40), (0, True)),
        (T, sp.exp(-zc * zc / 2) * (1 - two_prod_err(zc, zc) / 2) * INV_SQRT_2PI),
    )


# --- fused and special primitives -------------------------------------------------------------


def _dsigmoid(arity):
    return _one("dsigmoid", z, e / (1 + e) ** 2, (e, sp.exp(-even_abs(z))))


def _silu(arity):
    return _one("silu", z, z * sigmoid(z))


def _dswish(arity):
    """(1 + e + z e)/(1 + e)^2 for z >= 0 (positive terms); e (1 + z + e)/(1 + e)^2 below,
    with 1 + z + exp(z) = d + c expm1(d), d = z - z0, c = exp(z0) = -(1 + z0) (z0 the root):
    two terms of one sign, so no cancellation at the root (the plain sum lost 1660 ulp)."""
    hi, lo = DSWISH_ROOT
    with mpmath.workprec(200):
        scale = _f(float(mpmath.exp(_root_dswish())))
    zc = _clamp(z, -800, 746)  # beyond: 1 (e < 2**-1076) and 0 (|z| e^z < 2**-1075)
    return _one(
        "dswish",
        z,
        _where(
            (z, isnan(z)),
            (1, z > 746),
            (0, z < -800),
            ((1 + e + zc * e) / (1 + e) ** 2, z >= 0),
            (e * (d + scale * expm1(d)) / (1 + e) ** 2, True),
        ),
        (e, sp.exp(-even_abs(zc))),
        (d, sub2(_clamp(zc, hi=0), hi, lo(z))),  # z - hi is exact near the root (Sterbenz)
    )


def _derf(arity):  # 2/sqrt(pi) exp(-(a b)^2), a b and its square with their rounding errors
    pc = _clamp(p, -_f(27.5), _f(27.5))
    return Recipe(
        "derf",
        (a, b),
        ((p, a * b), (e, two_prod_err(a, b)), (s, pc * pc), (h, two_prod_err(pc, pc) + 2 * pc * e)),
        _where(
            (p, isnan(p)),
            (sp.exp(-s) * (1 - h) * TWO_INV_SQRT_PI, sp.Abs(p) <= _f(27.5)),
            (0, True),
        ),
    )


_DGELU_TAYLOR = (
    -4.0514385281601486e-17,
    -1.3507094681149317e-16,
    1.0789662518230159e-15,
    4.578167824271334e-15,
    -2.5871508475507507e-14,
    -1.3820118240601056e-13,
    5.482292964742324e-13,
    3.725967039270119e-12,
    -9.950340824808053e-12,
    -8.950037692726255e-11,
    1.4506418938779426e-10,
    1.90319840501314e-09,
    -1.396942086426202e-09,
    -3.5459866461783865e-08,
    -1.6044265494246427e-09,
    5.702764979242107e-07,
    4.3284506257392273e-07,
    -7.74846130700372e-06,
    -1.121438018842664e-05,
    8.615947861116571e-05,
    0.00018633974623233514,
    -0.0007448268386746817,
    -0.002239538068073497,
    0.004539228379125415,
    0.019421679838189067,
    -0.014771522148244337,
    -0.1140082332972217,
    -0.018199676398671087,
    0.388284982990552,
    0.4314939923140469,
)
"""Taylor coefficients of ``Phi(t) + t phi(t)`` about its root ``t0`` (highest first; the
last two are c2 and c1): the series of :func:`symsmooth.runtime.double_double._dgelu` (mpmath,
60 digits, degree 30, truncation below 2**-62 for ``|t - t0| <= 0.76``)."""


def _dgelu(arity):
    """Phi(t) + t phi(t): positive terms for t >= 0, the Taylor series about the root for
    -1.5 <= t < 0 (the plain sum lost 150 ulp there), the plain sum below (no cancellation:
    -t phi(t) dominates)."""
    hi, lo = DGELU_ROOT
    series = _f(_DGELU_TAYLOR[0])
    for coef in _DGELU_TAYLOR[1:]:
        series = series * d + _f(coef)
    tp, tn = _clamp(t, 0, 40), _clamp(t, -40, -_f(1.5))
    return _one(
        "dgelu",
        t,
        _where(
            (t, isnan(t)),
            (1, t > 40),  # Phi(t) + t phi(t) rounds to 1
            (0, t < -40),  # |t| phi(t) < 2**-1075
            (Phi(tp) + tp * phi(tp), t >= 0),
            (d * series, t >= -_f(1.5)),
            (Phi(tn) + tn * phi(tn), True),
        ),
        (d, sub2(_clamp(t, -_f(1.5), 0), hi, lo(t))),  # t - hi exact for t in [-1.5, -0.376]
    )


def _lin_hypot(arity):  # (m^2 - 4 a x^2)/(hypot - (1 + a) x) where the plain sum cancels
    return Recipe(
        "lin_hypot",
        (x, m, a),
        ((s, 1 + a), (h, hypot(m, (1 - a) * x))),
        _where(((m * m - 4 * a * x * x) / (h - s * x), x * s < 0), (x * s + h, True)),
    )


def _sinh_ratio(arity):
    """Divided by exp(max(c|x|, c|y|))/2 (as functions.fused.np_sinh_ratio), the exponents'
    differences formed as c (|x| - |y|), not c|x| - c|y|, and that product's rounding error
    fed back into the numerator's exp(min(d, 0)) (else ~|d| ulps: 256 at d = -510)."""
    A, D, U, Y = sp.symbols("A D U Y")
    return Recipe(
        "sinh_ratio",
        (c, x, y),
        (
            (A, c * sp.Abs(x)),
            (Y, sp.Abs(x) - sp.Abs(y)),
            (D, c * Y),  # A - B
            (e, two_prod_err(c, Y) + c * two_sum_err(sp.Abs(x), -sp.Abs(y))),
            (U, c * (sp.Abs(x) + sp.Abs(y))),  # A + B
            (M, c * sp.Max(sp.Abs(x), sp.Abs(y))),
            (E, sp.exp(_clamp(D, hi=0))),
        ),
        -expm1(-2 * A)
        * (E + correction(_where((E * e, D < 0), (0, True))))
        * sp.sign(x)
        / (1 + sp.exp(-2 * M) + sp.exp(-sp.Abs(D)) + sp.exp(-U)),
    )


def _logcosh(arity):  # log1p(2 sinh(a/2)^2) below 1, a - log 2 + log1p(exp(-2a)) above
    low = _clamp(a, hi=1)
    return _one(
        "logcosh",
        z,
        _where(
            (log1p(2 * sp.sinh(low / 2) ** 2), a <= 1),
            (h + log1p(sp.exp(-2 * a)), True),
        ),
        (a, even_abs(z)),
        (h, sub2(a, LN2, _f(2.3190468138462996e-17))),  # log 2 in two parts (to ~1e-32)
    )


_RELU_GAUSS_FIT = (
    -1.0316153106463215e-14,
    1.6380949585310622e-13,
    -9.768420500601264e-13,
    1.0111338881176908e-12,
    2.1800706173237565e-11,
    -1.479327499040004e-10,
    3.460209698059915e-10,
    7.560663853965783e-10,
    -7.426546417498745e-09,
    1.2403039640674545e-08,
    7.798358721272155e-08,
    -4.669399034490417e-07,
    3.173353470325235e-07,
    6.614802718491095e-06,
    -2.767536481559588e-05,
    -2.0713295245580825e-05,
    0.0005721012077148337,
    -0.0015746430540095771,
    -0.007524886650786822,
    0.08873003724205208,
    0.5707963267948967,
)
"""``1/g(a) = 1 + sqrt(pi/2) a + a^2 Q(a)`` on ``[0, 1.5]``: the degree-22 fit of
:func:`symsmooth.runtime.scalar._relu_gauss` (Chebyshev nodes, mpmath at 60 digits), Horner
coefficients of ``Q`` from the highest."""

_RELU_GAUSS_MID = (
    7.751925490583298,
    3.586561121704902,
    0.2564294892289336,
    0.002250558725152087,
    -0.0001628638509802599,
    9.078458219361555e-06,
    -3.204740200988828e-07,
    -2.9276587330334977e-09,
    1.5608796687986923e-09,
    -1.4014818816314032e-10,
    6.989996332294072e-12,
    -6.323971683162324e-14,
    -2.5962444343747663e-14,
    2.9273975782632808e-15,
    -1.7491119881829363e-16,
    3.888880336911147e-18,
    4.365269894059801e-19,
)
"""``1/g(a)`` on ``[1.5, 3]`` in Chebyshev polynomials of ``x = (a - 2.25)/0.75`` (degree 16,
interpolated at the Chebyshev nodes in mpmath at 50 digits; 0.3 * 2**-53 relative with the
float64 Clenshaw sum, below the rounding; the erfcx form 1 - a R(a) lost up to 26 ulp)."""

CF_TERMS = 56
"""Terms of Laplace's continued fraction for ``a >= 3``: relative error below 2**-58 there
(against mpmath; 232 terms would be needed at ``a = 1.5``)."""


def _relu_gauss(arity):
    """t Phi(t) + phi(t) = phi(a) g(a), a = -t < 0: fits of 1/g for a <= 1.5 (the Numba
    helper's) and for 1.5 < a <= 3 (Chebyshev, Clenshaw's sum), Laplace's continued fraction
    above (A&S 26.2.14, g = K/(a + K), K = 1/(a + 2/(a + 3/...)))."""
    A1, A2, A3, T0, X, B1, B2 = sp.symbols("A1 A2 A3 T0 X B1 B2")
    fit = _f(_RELU_GAUSS_FIT[0])
    for coef in _RELU_GAUSS_FIT[1:]:
        fit = fit * A1 + _f(coef)
    body = [
        (a, -t),
        (T0, _clamp(t, lo=0)),
        (A1, _clamp(a, 0, _f(1.5))),
        (A2, _clamp(a, _f(1.5), 3)),
        (A3, _clamp(a, 3, 40)),
        (q, fit),
        (X, (A2 - _f(2.25)) / _f(0.75)),
        (B1, sp.S.Zero),
        (B2, sp.S.Zero),
    ]
    for coef in _RELU_GAUSS_MID[:0:-1]:  # Clenshaw: b_k = c_k + 2 x b_(k+1) - b_(k+2)
        body += [(h, _f(coef) + 2 * X * B1 - B2), (B2, B1), (B1, h)]
    body.append((G := sp.Symbol("G"), _f(_RELU_GAUSS_MID[0]) + X * B1 - B2))
    body.append((r, sp.S.Zero))
    for k in range(CF_TERMS, 1, -1):
        body.append((r, k / (A3 + r)))
    body.append((K, 1 / (A3 + r)))
    return _one(
        "relu_gauss",
        t,
        _where(
            (t, isnan(t)),
            (T0 * Phi(T0) + phi(T0), t >= 0),
            (phi(A1) / (1 + A1 * (SQRT_PI_2 + A1 * q)), a <= _f(1.5)),
            (phi(A2) / G, a <= 3),
            (phi(A3) * K / (A3 + K), a <= 40),
            (0, True),
        ),
        *body,
    )


def _hypot(arity):
    return Recipe("hypot", (a, b), (), hypot_op(a, b))


# --- Euler gaps F(z) - z F'(z) (functions.gaps) --------------------------------------------


def _softplus_gap(arity):  # log1p(e) + |z| e/(1 + e), e = exp(-|z|): positive terms
    ac = _clamp(a, hi=800)  # e = 0 beyond: a e would be inf 0 at z = inf
    return _one("softplus_gap", z, log1p(e) + ac * e / (1 + e), (a, even_abs(z)), (e, sp.exp(-a)))


def _logcosh_gap(arity):  # above 1: -log 2 + log1p(E) + 2 a E/(1 + E), E = exp(-2a)
    low = _clamp(a, hi=1)
    return _one(
        "logcosh_gap",
        z,
        _where(
            (logcosh(low) - low * sp.tanh(low), a <= 1),
            (-LN2 + log1p(E) + 2 * _clamp(a, hi=800) * E / (1 + E), True),
        ),
        (a, even_abs(z)),
        (E, sp.exp(-2 * _clamp(a, lo=1))),
    )


def _gap_of_distances(dists, lows=None) -> list:
    """Assignments ending in ``G = log c + log1p(r/c) + sum e_i d_i/(c + r)`` for distances
    ``d_i = m - a_i >= 0`` to the maximum (c the count of zeros, r the sum of the other weights
    e_i = exp(-d_i)): every term >= 0, so a tiny gap keeps its digits (the log of a rounded sum
    lost them all; runtime.exact._logsumexp_gap_xp4).  ``lows``: the distances' low parts
    (``exp(-d - l) = exp(-d)(1 - l)``: a rounded distance of 300 costs 300 ulps in its
    weight)."""
    weights = sp.symbols(f"w0:{len(dists)}")
    lows = lows or [sp.S.Zero] * len(dists)
    C, R = sp.symbols("C R")
    body = [(wj, sp.exp(-dj) * (1 - lj)) for wj, dj, lj in zip(weights, dists, lows, strict=True)]
    body.append((C, sp.Add(*[_where((1, sp.Eq(dj, 0)), (0, True)) for dj in dists])))
    pairs = list(zip(weights, dists, strict=True))
    body.append((R, sp.Add(*[_where((0, sp.Eq(dj, 0)), (wj, True)) for wj, dj in pairs])))
    spread = sp.Add(*[wj * (dj + lj) for (wj, dj), lj in zip(pairs, lows, strict=True)])
    return body + [(sp.Symbol("G"), sp.log(C) + log1p(R / C) + spread / (C + R))]


def _logsumexp_gap(arity):
    args = sp.symbols(f"a0:{arity}")
    dists = sp.symbols(f"d0:{arity}")
    body = [(M, sp.Max(*args)), (P, _where((M, finite(M)), (0, True)))]
    body += [(dj, P - aj) for dj, aj in zip(dists, args, strict=True)]
    body += _gap_of_distances(dists)
    return Recipe(f"logsumexp_gap{arity}", args, tuple(body), sp.Symbol("G"))


def _logsumexp_gap_xp(arity):
    """logsumexp_gap of the products a_2j a_2j+1, the distances to the largest formed with the
    products' rounding errors, (m - p_i) + (e_m - e_i) (a rounded product of 1e3 costs ~1e3
    ulps in a weight exp(-d): 237 measured)."""
    args = sp.symbols(f"a0:{arity}")
    count = arity // 2
    prods, errs, dists = (sp.symbols(f"{v}0:{count}") for v in ("p", "e", "d"))
    body = [(pj, args[2 * j] * args[2 * j + 1]) for j, pj in enumerate(prods)]
    body += [(ej, two_prod_err(args[2 * j], args[2 * j + 1])) for j, ej in enumerate(errs)]
    body += [(M, sp.Max(*prods)), (P, _where((M, finite(M)), (0, True)))]
    body.append(
        (E, _where(*[(ej, sp.Eq(pj, P)) for pj, ej in zip(prods, errs, strict=True)], (0, True)))
    )
    lows = sp.symbols(f"l0:{count}")
    body += [(dj, P - pj) for dj, pj in zip(dists, prods, strict=True)]
    body += [
        (lj, correction(two_sum_err(P, -pj) + (E - ej)))
        for lj, pj, ej in zip(lows, prods, errs, strict=True)
    ]
    body += _gap_of_distances(dists, lows)
    return Recipe("logsumexp_gap_xp", args, tuple(body), sp.Symbol("G"))


def _hypot_gap(arity):  # 1 - w/h = m^2/(h (h + w)) for w > 0 (no cancellation)
    return Recipe(
        "hypot_gap",
        (m, w),
        ((h, hypot(m, w)),),
        _where((m * m / (h * (h + w)), w > 0), (1 - w / h, True)),
    )


def _hypot_gap_times(arity):
    return Recipe("hypot_gap_times", (c, m, w), (), c * hypot_gap(m, w))


# --- double exponentials (functions.double_exp; runtime.scalar._loglse_exp) ----------------


def _tail(mm, dd):
    """log1p(e^-m log1p(exp(e^(m + d) - e^m))) for m > 0, d <= 0 (no e^m is formed)."""
    gg = mm + sp.log(-expm1(_clamp(dd, hi=-_f(1e-300))))
    inner = _where((0, gg > 7), (log1p(sp.exp(-sp.exp(_clamp(gg, hi=7)))), True))
    tt = _where((LN2, sp.Eq(dd, 0)), (inner, True))
    return log1p(sp.exp(-mm) * tt), gg


def _loglse_exp(arity):
    mn = _clamp(M, hi=0)
    mp_ = _clamp(M, lo=0)
    tail, _ = _tail(mp_, d)
    return Recipe(
        "loglse_exp",
        (u, v),
        ((M, sp.Max(u, v)), (d, sp.Min(u, v) - M), (E, sp.exp(mn))),
        _where(
            (sp.log(E + log1p(sp.exp(sp.exp(mn + d) - E))), M <= 0),
            (M + tail, M > 0),
            (u + v, True),
        ),
    )


def _dloglse_exp(arity):
    mp_ = _clamp(M, lo=0)
    un, vn = _clamp(u, hi=0), _clamp(v, hi=0)
    tail, gg = _tail(mp_, d)
    gc = _clamp(gg, hi=7)
    zz = _where((sp.exp(gc), u >= v), (-sp.exp(gc), True))
    big = _where((sp.exp(A_), u > v), (0, True))
    return Recipe(
        "dloglse_exp",
        (u, v),
        ((M, sp.Max(u, v)), (d, sp.Min(u, v) - M), (A_, (u - mp_) - tail)),
        _where(
            (sp.exp(un - loglse_exp(un, vn)) / (1 + sp.exp(sp.exp(vn) - sp.exp(un))), M <= 0),
            (_where((sp.Rational(1, 2), sp.Eq(u, v)), (1, u > v), (0, True)), sp.Eq(M, sp.oo)),
            (big, sp.And(M > 0, gg > 7)),
            (sp.exp(A_) / (1 + sp.exp(-zz)), M > 0),
            (u + v, True),
        ),
    )


def _loglse_exp_gap(arity):
    """F - u F_u - v F_v, F = loglse_exp(u, v): for a = max > 0 it is log1p(r) + (a r +
    s (a - b e^d))/(1 + r), every term >= 0 (runtime.gaps._loglse_exp_gap: r = e^-a log1p(
    exp(e^b - e^a)), s = sigmoid(e^b - e^a), d = b - a); the difference as written below."""
    B_, R = sp.symbols("B R")
    gc = _clamp(g, hi=7)
    tt = _where((LN2, sp.Eq(d, 0)), (0, g > 7), (log1p(sp.exp(-sp.exp(gc))), True))
    ss = _where((sp.Rational(1, 2), sp.Eq(d, 0)), (0, g > 7), (1 / (1 + sp.exp(sp.exp(gc))), True))
    ap = _clamp(M, lo=0)
    return Recipe(
        "loglse_exp_gap",
        (u, v),
        (
            (M, sp.Max(u, v)),
            (B_, sp.Min(u, v)),
            (d, B_ - M),
            (g, ap + sp.log(-expm1(_clamp(d, hi=-_f(1e-300))))),
            (R, sp.exp(-ap) * tt),
        ),
        _where(
            (loglse_exp(u, v) - u * dloglse_exp(u, v) - v * dloglse_exp(v, u), M <= 0),
            (0, sp.And(sp.Eq(M, sp.oo), B_ < M)),
            (log1p(R) + (ap * R + ss * (ap - B_ * sp.exp(d))) / (1 + R), M > 0),
            (u + v, True),
        ),
    )


# --- scaling primitives (functions.scaling) ----------------------------------------------------


def _recip1p_sq(arity):  # 1/(1 + u^2), u = |a b|; above 1e150 1/u/u (no overflow of u^2)
    big = _clamp(p, lo=_f(1e150))
    low = _clamp(p, hi=_f(1e150))
    return Recipe(
        "recip1p_sq",
        (a, b),
        ((p, even_abs(a * b)),),
        _where((1 / (1 + low * low), p <= _f(1e150)), (div(div(1, big), big), True)),
    )


def _recip1p_sq_x(arity):
    return Recipe(
        "recip1p_sq_x",
        (a, b),
        ((p, a * b),),
        _where((b * recip1p_sq(a, b), sp.Abs(p) <= _f(1e150)), (div(1, a * p), True)),
    )


def _odd_parts(xx, yy, nn):
    """m = max(|x|, |y|) (1 where 0) and s = (x/m)^n + (y/m)^n for an odd n."""
    return [
        (M, sp.Max(sp.Abs(xx), sp.Abs(yy))),
        (P, _where((M, M > 0), (1, True))),
        (S, sp.sign(xx) * sp.Abs(xx / P) ** nn + sp.sign(yy) * sp.Abs(yy / P) ** nn),
    ]


def _odd_root_sum(arity):
    return Recipe(
        "odd_root_sum",
        (x, y, n),
        tuple(_odd_parts(x, y, n)),
        _where((P * sp.sign(S) * sp.Abs(S) ** (1 / n), sp.And(M > 0, finite(M))), (x + y, True)),
    )


def _odd_root_sum_grad(arity):  # (x/f)^(n-1) = (x/m)^(n-1) / |s|^((n-1)/n)
    return Recipe(
        "odd_root_sum_grad",
        (x, y, n),
        tuple(_odd_parts(x, y, n)),
        sp.Abs(x / P) ** (n - 1) / sp.Abs(S) ** ((n - 1) / n),
    )


# --- exact arguments: f(p) + e f'(p) -----------------------------------------------------


def _derivatives(base, count: int, at) -> list:
    dummies = sp.symbols(f"_d0:{count}")
    f = base(*dummies)
    subs = dict(zip(dummies, at, strict=True))
    return [sp.diff(f, dv).xreplace(subs) for dv in dummies]


def _exact(cls: type[ExactArgument], arity: int) -> Recipe:
    """``f(p) + e f'(p)``: the exact-argument primitive ``cls`` to first order in the
    rounding error ``e`` of its argument (``|e| <= ulp(p)/2``: the second-order term is below
    ``2**-100`` relative wherever ``f''/f`` is moderate)."""
    op, base, name = cls.operation, cls.base, cls.__name__
    if op == "pair":
        args = (a, b, c, d)
        body = ((P, a * b), (Q, c * d), (S, P + Q))
        err = two_prod_err(a, b) + two_prod_err(c, d) + two_sum_err(P, Q)
        fix = correction(e * _derivatives(base, 1, [S])[0])
        return Recipe(name, args, body + ((e, err),), base(S) + fix)
    if op == "scaled_pair":
        args = (a, b, c)
        body = ((P, a * b), (Q, a * c), (e, two_prod_err(a, b)), (h, two_prod_err(a, c)))
        dp, dq = _derivatives(base, 2, [P, Q])
        return Recipe(name, args, body, (base(P, Q) + correction(e * dp + h * dq)) / a)
    args = (a, b)
    if op == "quotient":
        body = ((P, a / b), (e, quot_err(a, b)))
    else:
        body = ((P, a * b), (e, two_prod_err(a, b)))
    value = base(P) + correction(e * _derivatives(base, 1, [P])[0])
    if op == "scaled":
        value = value / a
    elif op == "scaled2":
        value = div(div(value, a), a)
    elif op not in ("product", "quotient"):
        raise CodegenError(f"{name}: no native recipe for the exact operation {op!r}")
    return Recipe(name, args, body, value)


RECIPES: dict[str, Callable[[int], Recipe]] = {
    "softplus": _softplus,
    "sigmoid": _sigmoid,
    "log_sigmoid": _log_sigmoid,
    "log1mexp": _log1mexp,
    "logsumexp": _logsumexp,
    "Phi": _Phi,
    "phi": _phi,
    "dsigmoid": _dsigmoid,
    "silu": _silu,
    "dswish": _dswish,
    "derf": _derf,
    "dgelu": _dgelu,
    "lin_hypot": _lin_hypot,
    "sinh_ratio": _sinh_ratio,
    "logcosh": _logcosh,
    "hypot": _hypot,
    "relu_gauss": _relu_gauss,
    "softplus_gap": _softplus_gap,
    "logcosh_gap": _logcosh_gap,
    "logsumexp_gap": _logsumexp_gap,
    "logsumexp_gap_xp": _logsumexp_gap_xp,
    "hypot_gap": _hypot_gap,
    "hypot_gap_times": _hypot_gap_times,
    "loglse_exp": _loglse_exp,
    "dloglse_exp": _dloglse_exp,
    "loglse_exp_gap": _loglse_exp_gap,
    "recip1p_sq": _recip1p_sq,
    "recip1p_sq_x": _recip1p_sq_x,
    "odd_root_sum": _odd_root_sum,
    "odd_root_sum_grad": _odd_root_sum_grad,
}
"""Primitive name -> ``arity -> Recipe``.  The exact-argument primitives need no entry: every
:class:`~symsmooth.functions.exact.ExactArgument` has the generic recipe :func:`_exact`."""


def has_recipe(name: str) -> bool:
    """Whether the primitive ``name`` has a native recipe (its own or the exact-form one)."""
    if name in RECIPES:
        return True
    cls = PRIMITIVES.get(name)
    return cls is not None and issubclass(cls, ExactArgument)


@cache
def recipe(name: str, arity: int) -> Recipe:
    """The recipe of the primitive ``name`` called with ``arity`` arguments."""
    if name in RECIPES:
        return RECIPES[name](arity)
    cls = PRIMITIVES.get(name)
    if cls is not None and issubclass(cls, ExactArgument):
        return _exact(cls, arity)
    raise CodegenError(
        f"no native recipe for the primitive {name!r}; the torch and jax targets print every "
        "primitive from a recipe: add a function returning its Recipe to RECIPES in "
        "symsmooth/codegen/recipes.py (SymPy over elementary functions, Piecewise branches "
        "written on clamped arguments)"
    )


def helper_name(name: str, arity: int) -> str:
    """The native helper a call of primitive ``name`` with ``arity`` arguments prints as."""
    return recipe(name, arity).helper
