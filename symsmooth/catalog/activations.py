"""Elementwise smoothings: ``|x|``, ReLU, leaky ReLU, ``sign`` and the Heaviside step.

Two routes lead to each smooth activation (kexue.fm/archives/8718, "two routes" in the
catalog notes): convolve the target with an approximate identity (softplus, ReLU * Gaussian,
SAU), or write the target as ``x`` times a step (``|x| = x sign(x)``, ``ReLU = x theta(x)``),
smooth only the step and multiply back (``x tanh(kx)``, ``x erf(kx)``, Swish, GELU, SMU).

Every bound below is the exact ``sup_x |expr - target|``.  For the "multiply back" route the
error is ``|x|`` times a step tail, so with ``u = k|x|`` the sup is ``c/k`` where ``c`` is the
maximum of a one-variable function; the constants are:

* ``max_u u (1 - tanh u) = max_u u sigmoid(-u) = W(1/e) = 0.27846...`` (Lambert W).  Setting
  the derivative of ``v/(1 + e^v)`` to zero gives ``(v - 1) e^(v - 1) = 1/e``, so
  ``v* = 1 + W(1/e)`` and the maximum is ``v* - 1 = W(1/e)``; ``u(1 - tanh u) = 2u/(1 + e^(2u))``
  is the same function at ``v = 2u``.
* ``max_v v erfc(v) = C_ERF = 0.24037...`` at ``v* = V_ERF = 0.53159...``, where
  ``erfc(v*) = 2 v* exp(-v*^2)/sqrt(pi)`` (derivative zero); no closed form is known.  Both
  numbers were computed with ``mpmath.findroot`` at 90 digits and are stored to 60; the tests
  recompute them independently by maximising the error curve.

Examples
--------
>>> from symsmooth import catalog
>>> catalog.get("swish").bound
LambertW(exp(-1))/k
>>> round(float(C_ERF), 12)
0.240375586831
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy as sp

from symsmooth.catalog import entry
from symsmooth.records import Smoothing
from symsmooth.symbols import alpha, k, mu, sigma, x

V_ERF = sp.Float("0.531596885149393222726191312346044772010524797842339465829984", 60)
"""Maximiser of ``v erfc(v)``: the root of ``erfc(v) = 2 v exp(-v**2)/sqrt(pi)``."""
C_ERF = sp.Float("0.240375586831011016770525300079556993732947035231435147981592", 60)
"""``max_v v erfc(v) = V_ERF * erfc(V_ERF)``."""
C_GELU = (C_ERF / sp.sqrt(2)).evalf(60)
"""``max_u u Q(u) = C_ERF/sqrt(2)`` (``Q`` the Gaussian tail, ``u = sqrt(2) v``): GELU."""
W_E = sp.LambertW(sp.exp(-1))
"""``max_u u/(1 + e^u) = W(1/e)``, attained at ``u = 1 + W(1/e)``."""

ALPHA = sp.Rational(1, 4)
"""Leaky slope used in checks and plots (SMU paper's default is 0.25)."""

SMU = "Biswas et al., Smooth Maximum Unit, arXiv:2111.04682"
SAU = "Biswas et al., SAU: smooth activation function using convolution, arXiv:2109.13210"
ART1 = "kexue.fm/archives/3290"
ART3 = "kexue.fm/archives/8718"

SHARP = (0.01, 1.0, 3.0, 100.0, 1e4)
"""Sample values of a sharpness parameter (limit ``oo``); the natural ``x`` scale is ``1/k``."""
WIDTH = (1e-4, 0.01, 0.5, 1.0, 10.0)
"""Sample values of a width parameter (limit ``0``); the natural ``x`` scale is the width."""
ALPHAS = (0.0, 0.25, 0.5, 0.9)


def scalar_samples(
    param: sp.Symbol,
    values: Sequence[float],
    scale: Callable[[float], float],
    special: Callable[[float], Sequence] = lambda p: (),
    extra: dict | None = None,
) -> Callable:
    """A ``samples(rng, count)`` for one scalar input ``x``.

    Each parameter value gets ``x = 0``, tiny and huge magnitudes, multiples of the natural
    scale ``scale(p)``, the points ``special(p)`` where the sup error is attained, and random
    log-uniform magnitudes of both signs up to ``count`` points in all.
    """

    def samples(rng, count: int) -> list[dict]:
        points = []
        for p in values:
            c = scale(p)
            mags = [1e-30, 1e-8, 0.1 * c, 0.5 * c, c, 2 * c, 10 * c, 40 * c, 1e6, 1e12]
            xs = [0.0, *special(p), *mags, *(-m for m in mags)]
            points += [{x: v, param: p, **(extra or {})} for v in xs]
        while len(points) < count:
            p = values[int(rng.integers(len(values)))]
            v = float(rng.choice([-1, 1]) * scale(p) * 10 ** rng.uniform(-3, 2))
            points.append({x: v, param: p, **(extra or {})})
        return points

    return samples


def _sharp(special=lambda p: ()):
    return lambda param: scalar_samples(param, SHARP, lambda p: 1 / p, special)


def _width(special=lambda p: ()):
    return lambda param: scalar_samples(param, WIDTH, lambda p: p, special)


def _leaky_samples(param, values, scale, special=lambda p, a: ()):
    """Samples for the leaky entries: every leaky slope in ``ALPHAS`` (the bound holds for all)."""
    parts = [
        scalar_samples(param, values, scale, lambda p, a=a: special(p, a), {alpha: a})
        for a in ALPHAS
    ]

    def samples(rng, count: int) -> list[dict]:
        share = max(1, count // len(parts))
        return [pt for part in parts for pt in part(rng, share)]

    return samples


def _abs_record(name, expr, param, limit, bound, attained, samples, source, domain, description):
    return Smoothing(
        name=name, target=sp.Abs(x), expr=expr, variables=(x,), param=param, limit=limit,
        bound=bound, source=source, domain=domain, attained=attained,
        samples=samples(param), description=description,
    )  # fmt: skip


@entry("abs_sqrt")
def abs_sqrt() -> Smoothing:
    """``|x| ~ sqrt(x^2 + mu^2)``; error in ``(0, mu]``, the sup ``mu`` attained at ``x = 0``.

    Source: SMU paper (arXiv:2111.04682), the ``|z|`` approximation behind SMU-1.

    Examples
    --------
    >>> r = abs_sqrt()
    >>> r.expr, r.bound, r.limit
    (sqrt(mu**2 + x**2), mu, 0)
    """
    return _abs_record(
        "abs_sqrt", sp.sqrt(x**2 + mu**2), mu, sp.S.Zero, mu, ({x: 0, mu: 1}, {x: 0, mu: 0.01}),
        _width(), SMU + " (|z| ~ sqrt(z^2 + mu^2))", "all real x",
        "square-root smoothing of |x| (pseudo-Huber)",
    )  # fmt: skip


@entry("abs_xtanh")
def abs_xtanh() -> Smoothing:
    """``|x| ~ x tanh(kx)``: ``x sign(x)`` with ``sign ~ tanh``; error ``-|x|(1 - tanh k|x|)``.

    The sup is ``W(1/e)/k = 0.27846.../k`` (module docstring), attained at
    ``x = +-(1 + W(1/e))/(2k)``.

    Examples
    --------
    >>> r = abs_xtanh()
    >>> r.bound
    LambertW(exp(-1))/k
    >>> r.attained[0][x]
    LambertW(exp(-1))/2 + 1/2
    """
    at = (1 + W_E) / 2
    return _abs_record(
        "abs_xtanh", x * sp.tanh(k * x), k, sp.oo, W_E / k,
        ({x: at, k: 1}, {x: -at, k: 1}, {x: at / 100, k: 100}),
        _sharp(lambda p: ((1 + W_E) / (2 * p), -(1 + W_E) / (2 * p))),
        f"{ART1} eqs (4)-(5) (sign = 2 theta - 1 ~ tanh) with the x-times-step route of "
        f"{ART3} eq (10)", "all real x", "|x| as x times a tanh soft sign",
    )  # fmt: skip


@entry("abs_xerf")
def abs_xerf() -> Smoothing:
    """``|x| ~ x erf(kx)``: error ``-|x| erfc(k|x|)``, sup ``C_ERF/k`` at ``x = +-V_ERF/k``.

    Examples
    --------
    >>> r = abs_xerf()
    >>> r.expr
    x*erf(k*x)
    >>> round(float(r.bound.subs(k, 1)), 12)
    0.240375586831
    """
    return _abs_record(
        "abs_xerf", x * sp.erf(k * x), k, sp.oo, C_ERF / k,
        ({x: V_ERF, k: 1}, {x: -V_ERF, k: 1}, {x: V_ERF / 10, k: 10}),
        _sharp(lambda p: (V_ERF / p, -V_ERF / p)),
        SMU + " (|z| ~ z erf(mu z), the |.| inside SMU)", "all real x",
        "|x| as x times an erf soft sign",
    )  # fmt: skip


@entry("abs_logcosh")
def abs_logcosh() -> Smoothing:
    """``|x| ~ (1/k) log cosh(kx)``; error ``(1/k) log((1 + e^(-2k|x|))/2)`` in ``(-ln2/k, 0]``.

    The sup ``ln 2/k`` is approached as ``x -> +-oo`` and never attained: ``attained`` lists
    far-out points where ``|error|`` is within ``e^(-2k|x|)/(k ln 2)`` relative of it (the
    domain says "attained in the limit").  This is article 1's eq (7), ``(1/k) log(2 cosh kx)``,
    shifted down by ``ln 2/k``.

    Examples
    --------
    >>> r = abs_logcosh()
    >>> r.bound, r.attained[0]
    (log(2)/k, {x: 30, k: 1})
    """
    far = ({x: 30, k: 1}, {x: -30, k: 1}, {x: 0.5, k: 100})
    return _abs_record(
        "abs_logcosh", sp.log(sp.cosh(k * x)) / k, k, sp.oo, sp.log(2) / k, far, _sharp(),
        f"{ART1} eq (7) minus ln(2)/k", "all real x; the sup ln(2)/k is attained in the limit "
        "|x| -> oo (never at a finite x)", "log-cosh smoothing of |x|",
    )  # fmt: skip


def _relu(name, expr, param, limit, bound, attained, samples, source, description, domain=None):
    return Smoothing(
        name=name, target=sp.Max(x, 0), expr=expr, variables=(x,), param=param, limit=limit,
        bound=bound, source=source, domain=domain or "all real x", attained=attained,
        samples=samples(param), description=description,
    )  # fmt: skip


@entry("softplus")
def softplus() -> Smoothing:
    """Softplus ``(1/k) log(1 + e^(kx))`` = ReLU convolved with the logistic density (K1).

    Error ``(1/k) log(1 + e^(-k|x|))`` in ``(0, ln2/k]``, the sup at ``x = 0``.

    Examples
    --------
    >>> r = softplus()
    >>> r.target, r.bound
    (Max(0, x), log(2)/k)
    """
    return _relu(
        "softplus", sp.log(1 + sp.exp(k * x)) / k, k, sp.oo, sp.log(2) / k,
        ({x: 0, k: 1}, {x: 0, k: 1000}), _sharp(), f"{ART3} eq (8)",
        "ReLU * logistic kernel (softplus)",
    )  # fmt: skip


@entry("relu_gaussian")
def relu_gaussian() -> Smoothing:
    """ReLU * Gaussian: ``x Phi(x/sigma) + sigma phi(x/sigma)`` (article 3 eq (9), K2).

    The error ``sigma (phi(u) - u Q(u))`` (``u = |x|/sigma``) is even, positive and largest at
    ``x = 0``: ``sigma/sqrt(2 pi)``.

    Examples
    --------
    >>> r = relu_gaussian()
    >>> r.bound
    sqrt(2)*sigma/(2*sqrt(pi))
    """
    expr = (
        x * sp.erf(x / (sp.sqrt(2) * sigma))
        + x
        + sp.sqrt(2 / sp.pi) * sigma * sp.exp(-(x**2) / (2 * sigma**2))
    ) / 2
    return _relu(
        "relu_gaussian", expr, sigma, sp.S.Zero, sigma / sp.sqrt(2 * sp.pi),
        ({x: 0, sigma: 1}, {x: 0, sigma: 0.001}), _width(), f"{ART3} eq (9); {SAU}",
        "ReLU * Gaussian kernel",
    )  # fmt: skip


@entry("swish")
def swish() -> Smoothing:
    """Swish ``x sigmoid(kx)`` = ``x`` times the logistic-smoothed step (article 3 eq (10), K4).

    Error ``-|x| sigmoid(-k|x|)``; sup ``W(1/e)/k`` at ``x = +-(1 + W(1/e))/k``.
    Ramachandran, Zoph & Le, "Searching for activation functions", arXiv:1710.05941 (2017).

    Examples
    --------
    >>> r = swish()
    >>> r.expr
    x/(1 + exp(-k*x))
    """
    at = 1 + W_E
    return _relu(
        "swish", x / (1 + sp.exp(-k * x)), k, sp.oo, W_E / k,
        ({x: at, k: 1}, {x: -at, k: 1}, {x: at / 50, k: 50}),
        _sharp(lambda p: (at / p, -at / p)),
        f"{ART3} eq (10); Ramachandran et al. 2017, arXiv:1710.05941", "Swish / SiLU",
    )  # fmt: skip


@entry("gelu")
def gelu() -> Smoothing:
    """GELU ``x Phi(x/sigma)`` = ``x`` times the Gaussian-smoothed step (article 3 eq (11), K3).

    Error ``-|x| Q(|x|/sigma)``, ``Q = erfc(./sqrt 2)/2``; with ``v = |x|/(sqrt(2) sigma)`` it is
    ``-sigma v erfc(v)/sqrt(2)``, so the sup is ``C_ERF sigma/sqrt(2) = 0.16997... sigma`` at
    ``x = +-sqrt(2) V_ERF sigma``.  Hendrycks & Gimpel 2016, arXiv:1606.08415.

    Examples
    --------
    >>> r = gelu()
    >>> round(float(r.bound.subs(sigma, 1)), 10)
    0.1699712075
    """
    at = sp.sqrt(2) * V_ERF
    return _relu(
        "gelu", x * (1 + sp.erf(x / (sp.sqrt(2) * sigma))) / 2, sigma, sp.S.Zero,
        C_GELU * sigma, ({x: at, sigma: 1}, {x: -at, sigma: 1}),
        _width(lambda p: (at * p, -at * p)),
        f"{ART3} eq (11); Hendrycks & Gimpel 2016, arXiv:1606.08415", "GELU",
    )  # fmt: skip


def _leaky(name, expr, param, limit, bound, attained, samples, source, description):
    return Smoothing(
        name=name, target=sp.Max(x, alpha * x), expr=expr, variables=(x,), param=param,
        limit=limit, bound=bound, source=source, fixed=((alpha, ALPHA),), attained=attained,
        samples=samples, valid=lambda pt: 0 <= pt.get(alpha, ALPHA) < 1,
        domain="all real x, leaky slope 0 <= alpha < 1", description=description,
    )  # fmt: skip


@entry("smu")
def smu() -> Smoothing:
    """SMU ``((1+a)x + (1-a) x erf(mu (1-a) x))/2`` -> leaky ReLU ``max(x, a x)`` as mu -> oo.

    It is ``max(x, ax) = ((1+a)x + |(1-a)x|)/2`` with ``|z| ~ z erf(mu z)``, so the error is
    ``(1-a)/2`` times that of ``abs_xerf`` at ``k = mu (1-a)``: sup ``C_ERF/(2 mu)`` for every
    ``a < 1``, at ``x = +-V_ERF/(mu (1-a))``.

    Examples
    --------
    >>> r = smu()
    >>> r.target, r.fixed
    (Max(x, alpha*x), ((alpha, 1/4),))
    """
    # alpha x + (1 - alpha) x (1 + erf(z))/2 (the same function): the leaky part stays apart,
    # so one_plus_erf sees x + x erf(z) and forms x Phi (no cancellation for x << 0, alpha = 0)
    expr = alpha * x + (1 - alpha) * (x + x * sp.erf(mu * (1 - alpha) * x)) / 2
    at = V_ERF / (1 - ALPHA)
    return _leaky(
        "smu", expr, mu, sp.oo, C_ERF / (2 * mu),
        ({x: at, mu: 1, alpha: ALPHA}, {x: -at, mu: 1, alpha: ALPHA}),
        _leaky_samples(mu, SHARP, lambda p: 1 / p, lambda p, a: (V_ERF / (p * (1 - a)),)),
        SMU + " eq (SMU)", "Smooth Maximum Unit",
    )  # fmt: skip


@entry("smu1")
def smu1() -> Smoothing:
    """SMU-1 ``((1+a)x + sqrt(((1-a)x)^2 + mu^2))/2`` -> ``max(x, a x)`` as mu -> 0.

    Error ``(sqrt(((1-a)x)^2 + mu^2) - (1-a)|x|)/2`` in ``(0, mu/2]``, the sup at ``x = 0``.

    Examples
    --------
    >>> smu1().bound
    mu/2
    """
    expr = ((1 + alpha) * x + sp.sqrt(((1 - alpha) * x) ** 2 + mu**2)) / 2
    return _leaky(
        "smu1", expr, mu, sp.S.Zero, mu / 2,
        ({x: 0, mu: 1, alpha: ALPHA}, {x: 0, mu: 0.01, alpha: 0}),
        _leaky_samples(mu, WIDTH, lambda p: p), SMU + " eq (SMU-1)", "Smooth Maximum Unit 1",
    )  # fmt: skip


@entry("sau")
def sau() -> Smoothing:
    """SAU: leaky ReLU * Gaussian (K10) ``= a x + (1 - a)(ReLU * Gaussian)``.

    ``((1+a)/2) x + ((1-a)/2) x erf(x/(sqrt2 sigma)) + (1-a) sigma/sqrt(2 pi) e^(-x^2/2sigma^2)``;
    error ``(1-a)`` times that of ``relu_gaussian``: sup ``(1-a) sigma/sqrt(2 pi)`` at ``x = 0``.

    Examples
    --------
    >>> r = sau()
    >>> r.bound.subs(r.fixed_values)
    3*sqrt(2)*sigma/(8*sqrt(pi))
    """
    # alpha x + (1 - alpha) relu_gaussian(x): the leaky part apart, so the stabilizer sees
    # relu_gaussian's own sum (one_plus_erf, relu_gauss: no cancellation for x << 0)
    relu = (
        x * sp.erf(x / (sp.sqrt(2) * sigma))
        + x
        + sp.sqrt(2 / sp.pi) * sigma * sp.exp(-(x**2) / (2 * sigma**2))
    ) / 2
    expr = alpha * x + (1 - alpha) * relu
    return _leaky(
        "sau", expr, sigma, sp.S.Zero, (1 - alpha) * sigma / sp.sqrt(2 * sp.pi),
        ({x: 0, sigma: 1, alpha: ALPHA}, {x: 0, sigma: 0.01, alpha: 0}),
        _leaky_samples(sigma, WIDTH, lambda p: p), SAU + f"; {ART3} (K10)",
        "Smooth Activation Unit: leaky ReLU * Gaussian",
    )  # fmt: skip


def _step(name, target, expr, source, description, domain):
    return Smoothing(
        name=name, target=target, expr=expr, variables=(x,), param=k, limit=sp.oo, bound=None,
        source=source, domain=domain, samples=_sharp()(k), description=description,
    )  # fmt: skip


_POINTWISE = (
    "pointwise for x != 0, not uniform: the sup error is 1 for every k (x -> 0); "
    "at x = 0 the surrogate equals the target"
)


@entry("soft_sign_tanh")
def soft_sign_tanh() -> Smoothing:
    """``sign(x) ~ tanh(kx) = 2 sigmoid(2kx) - 1`` (article 1 eqs (4)-(5)); no uniform bound.

    Examples
    --------
    >>> soft_sign_tanh().bound is None
    True
    """
    return _step(
        "soft_sign_tanh", sp.sign(x), sp.tanh(k * x), f"{ART1} eqs (4)-(5)",
        "tanh soft sign", _POINTWISE + " (sign(0) = 0 = tanh(0))",
    )  # fmt: skip


@entry("soft_sign_erf")
def soft_sign_erf() -> Smoothing:
    """``sign(x) ~ erf(kx)``: the sign convolved with a Gaussian of width ``1/(sqrt2 k)``.

    Examples
    --------
    >>> soft_sign_erf().expr
    erf(k*x)
    """
    return _step(
        "soft_sign_erf", sp.sign(x), sp.erf(k * x), f"{ART3} eq (4) kernel; {SMU}",
        "erf soft sign", _POINTWISE + " (sign(0) = 0 = erf(0))",
    )  # fmt: skip


@entry("soft_sign_arctan")
def soft_sign_arctan() -> Smoothing:
    """``sign(x) ~ (2/pi) arctan(kx)``: sign convolved with the Cauchy kernel (article 3 eq (5)).

    Examples
    --------
    >>> soft_sign_arctan().expr
    2*atan(k*x)/pi
    """
    return _step(
        "soft_sign_arctan", sp.sign(x), 2 * sp.atan(k * x) / sp.pi, f"{ART3} eq (5) kernel",
        "arctan soft sign", _POINTWISE + " (sign(0) = 0 = arctan(0)); the error decays only "
        "like 2/(pi k |x|)",
    )  # fmt: skip


@entry("soft_heaviside")
def soft_heaviside() -> Smoothing:
    """``theta(x) ~ sigmoid(kx) = 1/(1 + e^(-kx))`` (article 1 eq (5), article 3 eq (7)).

    The limit is pointwise with ``theta(0) = 1/2``; the sup error is 1/2 for every ``k``.

    Examples
    --------
    >>> r = soft_heaviside()
    >>> r.target, r.target.subs(x, 0)
    (Heaviside(x), 1/2)
    """
    return _step(
        "soft_heaviside", sp.Heaviside(x, sp.S.Half), 1 / (1 + sp.exp(-k * x)),
        f"{ART1} eq (5); {ART3} eq (7)", "logistic soft step",
        "pointwise for x != 0, not uniform: the sup error is 1/2 for every k (x -> 0); at "
        "x = 0 both are 1/2",
    )  # fmt: skip
