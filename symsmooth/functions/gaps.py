r"""Euler gaps ``F(z) - z F'(z)``: parameter derivatives of scaled smoothings without cancellation.

A sharpness parameter enters as ``F(k u)/k`` and a width as ``s F(u/s)``; differentiating gives

.. math::

    \frac{d}{dk}\frac{F(k u)}{k} = -\frac{G_F(k u)}{k^2}, \qquad
    \frac{d}{ds}\, s F(u/s) = G_F(u/s), \qquad G_F(z) = F(z) - \sum_i z_i \partial_i F(z),

two terms of size ``|z|`` whose difference is bounded: ``x sigmoid(k x)/k - softplus(k x)/k**2``
returns 0 instead of ``-51 e^{-50}`` at ``k x = 50``.  :func:`collapse_gaps` finds the pair in a
derivative and writes the gap as one primitive whose runtime helper
(:mod:`symsmooth.runtime.gaps`) sums terms of one sign:

========================  =====================================================================
``F``                     ``G_F``
========================  =====================================================================
``softplus``              :class:`softplus_gap`: the binary entropy of ``sigmoid(z)``
``logsumexp``             :class:`logsumexp_gap`: the entropy of ``softmax(z)``
``logcosh``               :class:`logcosh_gap` ``= H(sigmoid(2 z)) - log 2``
``relu_gauss``            ``phi`` (``t Phi(t) + phi(t) - t Phi(t)``)
``silu``                  ``-z**2 dsigmoid(z)`` (swish: ``silu(k x)/k``)
========================  =====================================================================

It also collapses the linear identities that appear beside them: a *reflection*
``F(z) - z = F(-z)`` (``softplus``, ``relu_gauss``: the mixing weight of SAU), a
*complement* ``1 - F(u) = F(-u)`` (``sigmoid``, ``Phi``: SMU's ``alpha``) and the cosine gap
``1 - w/hypot(m, w)`` (:class:`hypot_gap`, SMU-1's ``alpha``).  A pair is collapsed
only where both of its terms are present with matching coefficients (the rest of the
derivative is unchanged), so the rewrite is an identity; the stabilizer runs afterwards.

References
----------
C. E. Shannon, "A mathematical theory of communication", Bell Syst. Tech. J. 27 (1948) (the
entropy: ``log softmax_i = z_i - LSE``).  L. Euler's homogeneous function theorem (the gap is
what is left of ``F`` by its tangent at ``z`` through 0).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.functions import softplus, sigmoid
>>> k, x = sp.symbols("k x", positive=True)
>>> collapse_gaps(sp.diff(softplus(k * x) / k, k))
-softplus_gap(k*x)/k**2
>>> collapse_gaps(x * sigmoid(k * x))  # no pair: unchanged
x*sigmoid(k*x)
>>> sp.N(softplus_gap(50), 15)
9.83662422461598e-21
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import ArgumentIndexError

from symsmooth.functions.base import StablePrimitive, _one_arg
from symsmooth.functions.double_exp import dloglse_exp, loglse_exp
from symsmooth.functions.elementary import Phi, logsumexp, phi, sigmoid, softplus
from symsmooth.functions.fused import dsigmoid, silu
from symsmooth.functions.special import hypot, logcosh, relu_gauss
from symsmooth.runtime.gaps import (
    _hypot_gap,
    _hypot_gap_times,
    _logcosh_gap,
    _loglse_exp_gap,
    _softplus_gap,
)


def _mp_softplus_gap(z):
    a = abs(mpmath.mpf(z))
    return mpmath.log1p(mpmath.exp(-a)) + a / (1 + mpmath.exp(a))


def _mp_logcosh_gap(z):
    z = mpmath.mpf(z)
    with mpmath.extraprec(2 * mpmath.mp.prec + int(mpmath.log(abs(z) + 2, 2)) + 20):
        return +(mpmath.log(mpmath.cosh(z)) - z * mpmath.tanh(z))


def _mp_logsumexp_gap(*a):
    a = [mpmath.mpf(v) for v in a]
    m = max(a)
    s = mpmath.fsum(mpmath.exp(v - m) for v in a)
    lse = m + mpmath.log(s)
    return mpmath.fsum(mpmath.exp(v - lse) * (lse - v) for v in a)


def _np_logsumexp_gap(*a):
    a = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in a])
    stacked = np.stack(a)
    m = stacked.max(axis=0)
    w = np.exp(stacked - m)
    s = w.sum(axis=0)
    return np.log(s) + (w * (m - stacked)).sum(axis=0) / s


class softplus_gap(StablePrimitive):
    """``softplus(z) - z sigmoid(z)``: the binary entropy of ``sigmoid(z)``, even, in
    ``(0, log 2]``; summed as ``softplus(-|z|) + |z| sigmoid(-|z|)``.

    Examples
    --------
    >>> import sympy as sp
    >>> softplus_gap(-sp.Symbol("z")), softplus_gap(0)
    (softplus_gap(z), log(2))
    """

    runtime_helper = "softplus_gap"
    numpy_impl = np.vectorize(_softplus_gap, otypes=[np.float64])
    mpmath_impl = _mp_softplus_gap
    nargs = 1

    def fdiff(self, argindex=1):
        z = _one_arg(self, argindex)
        return -z * dsigmoid(z)

    @classmethod
    def eval(cls, z):
        if z.could_extract_minus_sign():
            return cls(-z)
        return {sp.S.Zero: sp.log(2), sp.oo: sp.S.Zero, sp.nan: sp.nan}.get(z)

    def _naive(self, z):
        return sp.log(1 + sp.exp(z)) - z / (1 + sp.exp(-z))


class logcosh_gap(StablePrimitive):
    """``logcosh(z) - z tanh(z)`` in ``[-log 2, 0]``, even: ``H(sigmoid(2 z)) - log 2``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(logcosh_gap(sp.Rational(1, 100)), 12)
    -4.99975001111e-5
    """

    runtime_helper = "logcosh_gap"
    numpy_impl = np.vectorize(_logcosh_gap, otypes=[np.float64])
    mpmath_impl = _mp_logcosh_gap
    nargs = 1

    def fdiff(self, argindex=1):
        z = _one_arg(self, argindex)
        return -4 * z * dsigmoid(2 * z)

    @classmethod
    def eval(cls, z):
        if z.could_extract_minus_sign():
            return cls(-z)
        return {sp.S.Zero: sp.S.Zero, sp.oo: -sp.log(2), sp.nan: sp.nan}.get(z)

    def _naive(self, z):
        return sp.log(sp.cosh(z)) - z * sp.tanh(z)


class logsumexp_gap(StablePrimitive):
    """``logsumexp(z) - sum_i z_i softmax(z)_i``: the entropy of ``softmax(z)``, in
    ``[0, log n]``.  Two arguments are the binary case ``softplus_gap(z_0 - z_1)``
    (:func:`collapse_gaps` writes that one).

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(logsumexp_gap(0, 0, 0), 12)
    1.09861228867
    """

    runtime_helper = "logsumexp_gap{arity}"
    numpy_impl = _np_logsumexp_gap
    mpmath_impl = _mp_logsumexp_gap

    @classmethod
    def eval(cls, *args):
        return sp.S.Zero if len(args) == 1 else None

    def fdiff(self, argindex=1):
        if not 1 <= argindex <= len(self.args):
            raise ArgumentIndexError(self, argindex)
        lse = logsumexp(*self.args)
        mean = sp.Add(*[a * sp.exp(a - lse) for a in self.args])
        a = self.args[argindex - 1]
        return -sp.exp(a - lse) * (a - mean)

    def _naive(self, *args):
        total = sp.Add(*[sp.exp(a) for a in args])
        return sp.log(total) - sp.Add(*[a * sp.exp(a) for a in args]) / total


def _mp_loglse_exp_gap(u, v):
    u, v = mpmath.mpf(u), mpmath.mpf(v)
    with mpmath.extraprec(2 * mpmath.mp.prec + 60):  # the terms cancel to about e^-max
        eu, ev = mpmath.exp(u), mpmath.exp(v)
        big = max(eu, ev)
        s = mpmath.exp(eu - big) + mpmath.exp(ev - big)
        lse = big + mpmath.log(s)
        du = eu * mpmath.exp(eu - big) / (s * lse)
        dv = ev * mpmath.exp(ev - big) / (s * lse)
        return +(mpmath.log(lse) - u * du - v * dv)


class loglse_exp_gap(StablePrimitive):
    """``loglse_exp(u, v) - u d/du - v d/dv``: the gap of max_pair_double_exp's
    ``log(log(e^(e^u) + e^(e^v)))``, a sum of nonnegative terms for ``max(u, v) > 0``
    (:func:`symsmooth.runtime.gaps._loglse_exp_gap`)."""

    runtime_helper = "loglse_exp_gap"
    numpy_impl = np.vectorize(_loglse_exp_gap, otypes=[np.float64])
    mpmath_impl = _mp_loglse_exp_gap
    nargs = 2

    def fdiff(self, argindex=1):
        u, v = self.args
        whole = loglse_exp(u, v) - u * dloglse_exp(u, v) - v * dloglse_exp(v, u)
        return sp.diff(whole, self.args[argindex - 1])

    def _naive(self, u, v):
        return (loglse_exp(u, v) - u * dloglse_exp(u, v) - v * dloglse_exp(v, u)).rewrite("naive")


def exact_factors(term: sp.Expr) -> tuple | None:
    """``(c a, b)`` for ``term = c a b`` with ``a``, ``b`` non-integer symbols (exact doubles)
    and ``c`` a signed power of two (so ``c a`` is exact too), else ``None``.

    >>> k, x = sp.symbols("k x", real=True)
    >>> exact_factors(-2 * k * x), exact_factors(3 * k * x)
    ((-2*k, x), None)
    """
    c, rest = term.as_coeff_mul()
    if not c.is_Rational or c == 0 or len(rest) != 2:
        return None
    p, q = abs(c.p), c.q
    if p & (p - 1) or q & (q - 1):
        return None
    if not all(isinstance(f, sp.Symbol) and not f.is_integer for f in rest):
        return None
    return c * rest[0], rest[1]


def _mp_logsumexp_gap_xp(*ab):
    return _mp_logsumexp_gap(
        *[mpmath.mpf(a) * mpmath.mpf(b) for a, b in zip(ab[::2], ab[1::2], strict=True)]
    )


class logsumexp_gap_xp(StablePrimitive):
    """``logsumexp_gap(a0 b0, a1 b1, a2 b2, a3 b3)`` with every product exact (TwoProduct;
    the distances to the maximum as double-doubles): max_abs_pair_logsumexp's gap, where
    ``fl(2 k x) - fl(2 k y)`` would cost ``|k x| eps`` absolute in the exponents."""

    runtime_helper = "logsumexp_gap_xp4"
    numpy_impl = staticmethod(
        lambda *ab: _np_logsumexp_gap(*[a * b for a, b in zip(ab[::2], ab[1::2], strict=True)])
    )
    mpmath_impl = _mp_logsumexp_gap_xp
    nargs = 8

    def plain(self) -> sp.Expr:
        """The gap at the products."""
        a = self.args
        return logsumexp_gap(*[a[i] * a[i + 1] for i in range(0, len(a), 2)])

    def fdiff(self, argindex=1):
        u = [sp.Dummy(real=True) for _ in self.args]
        form = logsumexp_gap(*[u[i] * u[i + 1] for i in range(0, len(u), 2)])
        return sp.diff(form, u[argindex - 1]).xreplace(dict(zip(u, self.args, strict=True)))

    def _naive(self, *ab):
        return self.plain().rewrite("naive")


def _exact_gap(gap: sp.Expr) -> sp.Expr:
    """``logsumexp_gap`` of two arguments as ``softplus_gap`` of their difference, of four
    exact products as :class:`logsumexp_gap_xp` (its helper)."""
    if isinstance(gap, logsumexp_gap) and len(gap.args) == 2:
        return softplus_gap(gap.args[0] - gap.args[1])
    if not isinstance(gap, logsumexp_gap) or len(gap.args) != 4:
        return gap
    pairs = [exact_factors(a) for a in gap.args]
    return gap if None in pairs else logsumexp_gap_xp(*[f for pair in pairs for f in pair])


def _mp_hypot_gap(m, w):
    m, w = mpmath.mpf(m), mpmath.mpf(w)
    h = mpmath.hypot(m, w)
    return m * m / (h * (h + w)) if w > 0 else 1 - w / h


class hypot_gap(StablePrimitive):
    """``1 - w/hypot(m, w)`` in ``[0, 2]``: ``m**2/(h (h + w))`` for ``w > 0`` (no cancellation).

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(hypot_gap(1, 10**8), 12)
    5.00000000000e-17
    """

    runtime_helper = "hypot_gap"
    numpy_impl = np.vectorize(_hypot_gap, otypes=[np.float64])
    mpmath_impl = staticmethod(lambda m, w: _mp_hypot_gap(m, w))
    nargs = 2

    def fdiff(self, argindex=1):
        m, w = self.args
        h = hypot(m, w)
        if argindex == 1:
            return m * w / h**3
        if argindex == 2:
            return -(m**2) / h**3
        raise ArgumentIndexError(self, argindex)

    def _naive(self, m, w):
        return 1 - w / sp.sqrt(m**2 + w**2)


class hypot_gap_times(StablePrimitive):
    """``c (1 - w/hypot(m, w))``: :class:`hypot_gap` times a factor, formed so that a large
    ``c`` meets the tiny gap before it underflows (``(m/h)(m (c/(h + w)))`` for ``w > 0``).

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(hypot_gap_times(10**300, 1, 10**300), 6)
    5.00000e-301
    """

    runtime_helper = "hypot_gap_times"
    numpy_impl = np.vectorize(_hypot_gap_times, otypes=[np.float64])
    mpmath_impl = staticmethod(lambda c, m, w: mpmath.mpf(c) * _mp_hypot_gap(m, w))
    nargs = 3

    def fdiff(self, argindex=1):
        c, m, w = self.args
        return sp.diff(c * hypot_gap(m, w), self.args[argindex - 1])

    def _naive(self, c, m, w):
        return c * (1 - w / sp.sqrt(m**2 + w**2))


GAPS: dict[type, object] = {
    softplus: softplus_gap,
    logsumexp: logsumexp_gap,
    logcosh: logcosh_gap,
    relu_gauss: phi,
    loglse_exp: loglse_exp_gap,
    silu: lambda z: -(z**2) * dsigmoid(z),  # z sigmoid(z) - z (sigmoid + z sigmoid') (swish)
}
"""``F`` -> the primitive of its gap ``G_F(z) = F(z) - sum z_i dF/dz_i`` (same arguments)."""

REFLECTIONS = (softplus, relu_gauss)
"""Functions with ``F(z) - z = F(-z)``."""

COMPLEMENTS = (sigmoid, Phi)
"""Functions with ``1 - F(u) = F(-u)``."""


def _expand(expr: sp.Expr) -> sp.Expr:
    """``expr`` with products of sums distributed, the function calls left whole (their
    arguments as written: ``Phi(u (1 - a))`` is not split into ``Phi(u - u a)``)."""
    calls = {f: sp.Dummy() for f in expr.atoms(sp.Function)}
    back = {d: f for f, d in calls.items()}
    return sp.expand_mul(expr.xreplace(calls)).xreplace(back)


def _terms(expr: sp.Expr) -> tuple:
    return sp.Add.make_args(_expand(expr))


def _coefficient(terms, atom) -> sp.Expr:
    """The sum of ``term/atom`` over the terms that have ``atom`` as a plain factor."""
    return sp.Add(*[t / atom for t in terms if atom in sp.Mul.make_args(t)])


def _gap(expr: sp.Expr, atom) -> sp.Expr | None:
    terms = _terms(expr)
    alpha = _coefficient(terms, atom)
    if alpha == 0:
        return None
    partials = [atom.fdiff(i) for i in range(1, len(atom.args) + 1)]
    tangent = sp.Add(*[z * d for z, d in zip(atom.args, partials, strict=True)])
    rest = sp.Add(*_terms(sp.Add(*terms) - _expand(alpha * (atom - tangent))))
    if rest.has(atom) or any(rest.has(d) for d in partials):
        return None
    return sp.factor_terms(rest) + alpha * _exact_gap(GAPS[type(atom)](*atom.args))


def _linear(expr: sp.Expr, atom, shift, replacement) -> sp.Expr | None:
    """``alpha atom + rest`` -> ``alpha replacement + (rest + alpha shift)`` where adding
    ``alpha shift`` cancels a term of ``rest`` (``atom - shift == replacement``)."""
    terms = _terms(expr)
    alpha = _coefficient(terms, atom)
    if alpha == 0:
        return None
    rest = [t for t in terms if atom not in sp.Mul.make_args(t)]
    joined = [t for t in _terms(sp.Add(*rest) + _expand(alpha * shift)) if t != 0]
    if len(joined) >= len(rest):
        return None
    return sp.factor_terms(sp.Add(*joined)) + alpha * replacement


def _ratio(expr: sp.Expr, atom) -> sp.Expr | None:
    """``c - c w/hypot(m, w) + rest`` -> ``c hypot_gap(m, w) + rest`` (either argument as
    ``w``)."""
    terms = _terms(expr)
    inverse = 1 / atom
    beta = _coefficient(terms, inverse)
    if beta == 0:
        return None
    rest = [t for t in terms if inverse not in sp.Mul.make_args(t)]
    for m, w in (atom.args, atom.args[::-1]):
        c = sp.cancel(-beta / w)
        if c.has(atom):
            continue
        joined = [t for t in _terms(sp.Add(*rest) - c) if t != 0]
        if len(joined) < len(rest):
            return sp.factor_terms(sp.Add(*joined)) + hypot_gap_times(c, m, w)
    return None


def _rewrites(atom):
    f = type(atom)
    if f is hypot:
        yield lambda e: _ratio(e, atom)
    if f in GAPS:
        yield lambda e: _gap(e, atom)
    if f in REFLECTIONS:
        z = atom.args[0]
        yield lambda e: _linear(e, atom, z, f(-z))
    if f in COMPLEMENTS:
        u = atom.args[0]
        yield lambda e: _linear(e, atom, 1, -f(-u))


def _root(term: sp.Expr) -> sp.Expr | None:
    """``r`` with ``r**2 == term`` where ``term`` is a product of even powers (times a square
    rational), else ``None``."""
    c, factors = term.as_coeff_mul()
    if not c.is_Rational or c <= 0:
        return None
    root_c = sp.sqrt(c)
    if not root_c.is_Rational:
        return None
    out = [root_c]
    for f in factors:
        base, e = f.as_base_exp()
        if not (e.is_Integer and e % 2 == 0):
            return None
        out.append(base ** (e // 2))
    return sp.Mul(*out)


def _hypot_of(node):
    """``sqrt(a**2 + b**2)**(+-1)`` -> ``hypot(a, b)**(+-1)`` (as the ``hypot`` rule)."""
    if not (isinstance(node, sp.Pow) and abs(node.exp) == sp.S.Half and node.base.is_Add):
        return node
    terms = node.base.args
    roots = [_root(t) for t in terms]
    if len(terms) != 2 or None in roots:
        return node
    return hypot(*roots) ** (2 * node.exp)


def collapse_gaps(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every gap pair ``alpha (F(z) - z F'(z))`` written ``alpha G_F(z)``, and the
    reflections and complements of the module docstring collapsed (to a fixed point; each
    rewrite removes a term, so it ends)."""
    kinds = tuple({*GAPS, *REFLECTIONS, *COMPLEMENTS, hypot})
    # exact-argument forms back at their base functions (functions.exact; the stabilizer's
    # exact-arguments stage forms them again): relu_gauss_xq(x, s) is relu_gauss(x/s) here
    expr = expr.xreplace(
        {e: e.plain() for e in expr.atoms(StablePrimitive) if callable(getattr(e, "plain", None))}
    ).replace(lambda n: isinstance(n, sp.Pow), _hypot_of)
    original = expr
    changed, found = True, False
    while changed:
        changed = False
        for atom in sorted(expr.atoms(*kinds), key=sp.default_sort_key):
            for rewrite in _rewrites(atom):
                new = rewrite(expr)
                if new is not None and new != expr:
                    expr, changed, found = new, True, True
                    break
            if changed:
                break
    return expr if found else original
