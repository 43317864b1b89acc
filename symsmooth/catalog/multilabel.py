"""The ZLPR multi-label loss (article 8) as a smooth surrogate, with hard and soft labels.

Article 8 (kexue.fm/archives/7359, eq:final) turns "every negative score below 0, every
positive score above 0" into ``log(1 + sum_neg e^{s_i}) + log(1 + sum_pos e^{-s_j})``: each
term is a log-sum-exp over a class set plus the threshold class ``s_0 = 0``.  With a sharpness
``k`` (``k = 1`` is the published loss),

``L_k = (1/k) [log(1 + sum_i (1 - t_i) e^{k s_i}) + log(1 + sum_i t_i e^{-k s_i})]``

tends to the hinge-like target ``max(0, max_neg s_i) + max(0, max_pos (-s_j))`` as
``k -> oo``.  Labels ``t`` are an ``IndexedBase``: ``t_i = 1`` marks a positive class.

Bound (hard labels).  Each log term is a log-sum-exp over ``m + 1`` values (``m`` class
scores and the threshold 0), so it exceeds its max by between 0 and ``log(m + 1)/k``
(kexue.fm/archives/9070).  Hence ``0 <= L_k - target <= (log(1 + n_neg) + log(1 + n_pos))/k``
with equality at ``s = 0``.  Over the label splits ``n_neg + n_pos = n`` the largest value is
``log((1 + floor(n/2)) (1 + ceil(n/2)))/k <= 2 log(1 + n/2)/k`` (:func:`uniform_bound`).

Soft labels (kexue.fm/archives/9064): ``t_i in [0, 1]`` weight the exponentials; the
limit ignores the weights, so the target takes the max over the classes with ``t_i > 0``
(resp. ``t_i < 1``).  A positive weight below 1 can also pull the loss *below* the target,
by up to ``-log t_i/k`` per term; see :func:`zlpr_soft`.

Examples
--------
>>> from symsmooth import catalog
>>> catalog.get("zlpr").limit
oo
"""

from __future__ import annotations

import sympy as sp

from symsmooth.catalog import entry
from symsmooth.functions.targets import MaxOver, MinOver
from symsmooth.records import Smoothing
from symsmooth.symbols import S, T, i, k, n

ART8 = "kexue.fm/archives/7359 eq:final (ZLPR)"
SOFT = "kexue.fm/archives/9064 (soft-label ZLPR)"
SIZES = (1, 2, 3, 4, 6)
SHARP = (0.05, 1.0, 20.0)


def _sum(term: sp.Expr) -> sp.Expr:
    return sp.Sum(term, (i, 1, n))


def uniform_bound(size: int | sp.Expr) -> sp.Expr:
    """The sup of the hard-label ZLPR error over all scores and label splits, times ``k``.

    ``max_{a=0..n} log((1 + a)(1 + n - a)) = log((1 + floor(n/2))(1 + ceil(n/2)))`` because
    ``(1 + a)(1 + n - a)`` is a concave parabola in ``a`` peaking at ``a = n/2``.

    Examples
    --------
    >>> uniform_bound(4)
    2*log(3)
    """
    half = sp.floor(sp.S(size) / 2)
    return sp.expand_log(sp.log((1 + half) * (1 + size - half)), force=True)


def _score_cases(size: int) -> list[list[float]]:
    """Score vectors: all zero (the bound), ties, mixed signs, huge and tiny magnitudes."""
    ramp = [float(v) - size / 2 for v in range(size)]
    return [
        [0.0] * size,
        [1.0] * size,
        [-1.0] * size,
        ramp,
        [3e3 * v for v in ramp],
        [1e-9 * (v + 1) for v in range(size)],
        [(-1.0) ** v * 40 for v in range(size)],
    ]


def _label_cases(size: int, soft: bool) -> list[list[float]]:
    cases = [[1.0] * size, [0.0] * size, [float(v % 2) for v in range(size)]]
    if soft:
        cases += [
            [0.5] * size,
            [1e-6] + [0.3] * (size - 1),
            [(v + 0.5) / size for v in range(size)],
        ]
    return cases


def label_samples(soft: bool) -> callable:
    """``samples(rng, count)`` for the ZLPR entries: hard labels in {0, 1}, soft in [0, 1]."""

    def samples(rng, count: int) -> list[dict]:
        points = [
            {n: size, S: s, T: t, k: p}
            for size in SIZES
            for s in _score_cases(size)
            for t in _label_cases(size, soft)
            for p in SHARP
        ]
        while len(points) < count:
            size = SIZES[int(rng.integers(len(SIZES)))]
            scale = 10 ** rng.uniform(-2, 2)
            s = [float(v) for v in scale * rng.standard_normal(size)]
            t = rng.random(size) if soft else rng.integers(0, 2, size)
            t = [float(v) for v in t]
            points.append({n: size, S: s, T: t, k: SHARP[int(rng.integers(len(SHARP)))]})
        return points

    return samples


def _hard_labels(point) -> bool:
    return all(v in (0, 1) for v in point[T])


def _soft_labels(point) -> bool:
    return all(0 <= v <= 1 for v in point[T])


def _zero_scores(labels: list) -> dict:
    return {n: len(labels), S: [0.0] * len(labels), T: labels, k: 1}


@entry("zlpr")
def zlpr() -> Smoothing:
    """ZLPR loss with hard labels and sharpness ``k`` (``k = 1``: article 8 eq:final).

    Target ``max(0, max_neg s_i) + max(0, max_pos (-s_j))``, written with ``(1 - t_i) s_i``
    and ``-t_i s_i`` so that the other set's entries become 0, below or at the threshold.
    The bound ``(log(1 + n_neg) + log(1 + n_pos))/k`` (module docstring) is the exact sup for
    the given labels, attained at ``s = 0``.

    Examples
    --------
    >>> r = zlpr()
    >>> r.bound.subs({n: 4, k: 1}).doit().subs({T[1]: 1, T[2]: 0, T[3]: 1, T[4]: 0})
    2*log(3)
    >>> r.expr.subs({n: 1, k: 1}).doit().subs({T[1]: 1})
    log(1 + exp(-s[1]))
    """
    expr = (
        sp.log(1 + _sum((1 - T[i]) * sp.exp(k * S[i]))) + sp.log(1 + _sum(T[i] * sp.exp(-k * S[i])))
    ) / k
    target = sp.Max(0, MaxOver((1 - T[i]) * S[i], (i, 1, n))) + sp.Max(
        0, MaxOver(-T[i] * S[i], (i, 1, n))
    )
    bound = (sp.log(1 + _sum(1 - T[i])) + sp.log(1 + _sum(T[i]))) / k
    return Smoothing(
        name="zlpr", target=target, expr=expr, variables=(S, T), param=k, limit=sp.oo,
        bound=bound, source=f"{ART8}; Su et al., ZLPR, arXiv:2208.02955",
        domain="real scores s_1..s_n, labels t_i in {0, 1}; 0 <= L_k - target",
        kind="reduction", size=n, index=i,
        attained=(_zero_scores([1, 0, 1, 0]), _zero_scores([0, 0, 0]), _zero_scores([1])),
        samples=label_samples(soft=False), valid=_hard_labels,
        description="multi-label softmax + cross-entropy with threshold class 0",
    )  # fmt: skip


def _positive_min(weight: sp.Expr) -> sp.Expr:
    """``min`` of ``weight_i`` over the ``i`` with ``weight_i > 0``; 1 if there are none."""
    return MinOver(weight + 1 - sp.sign(weight), (i, 1, n))


@entry("zlpr_soft")
def zlpr_soft() -> Smoothing:
    """ZLPR with soft labels ``t_i in [0, 1]`` (post 9064), sharpness ``k``.

    ``l_k = (1/k)[log(1 + sum t_i e^{-k s_i}) + log(1 + sum (1 - t_i) e^{k s_i})]`` tends to
    ``max(0, max_{t_i > 0} (-s_i)) + max(0, max_{t_i < 1} s_i)``.  For each term, with ``m``
    its target and ``a`` the index where the max is reached,
    ``max(1, t_a e^{k m}) <= 1 + sum t_i e^{-k s_i} <= (1 + sum t_i) e^{k m}``, so

    ``log(min_{t>0} t) + log(min_{t<1} (1 - t)) <= k (l_k - target)
    <= log(1 + sum t) + log(1 + sum (1 - t))``

    and the bound is the larger magnitude of the two ends.  The upper end is attained at
    ``s = 0``.  The lower end is approached (``s_a -> -oo`` at the smallest ``t_a``,
    ``s_b -> +oo`` at the largest ``t_b < 1``, the other scores sent to the harmless side)
    when ``a != b`` can be chosen; if only one class has ``0 < t < 1`` the true infimum is
    higher and the bound is loose.  So the bound is the exact sup when the upper end is the
    larger (e.g. hard labels, or ``t = 1/2``), and attained there at ``s = 0``.

    Examples
    --------
    >>> r = zlpr_soft()
    >>> half = r.expr.subs({n: 1, k: 1}).doit().subs({T[1]: sp.S.Half, S[1]: 0})
    >>> sp.simplify(half - 2 * sp.log(sp.Rational(3, 2)))
    0
    """
    expr = (
        sp.log(1 + _sum(T[i] * sp.exp(-k * S[i]))) + sp.log(1 + _sum((1 - T[i]) * sp.exp(k * S[i])))
    ) / k
    target = sp.Max(0, MaxOver(-sp.sign(T[i]) * S[i], (i, 1, n))) + sp.Max(
        0, MaxOver(sp.sign(1 - T[i]) * S[i], (i, 1, n))
    )
    upper = sp.log(1 + _sum(T[i])) + sp.log(1 + _sum(1 - T[i]))
    lower = sp.log(_positive_min(T[i])) + sp.log(_positive_min(1 - T[i]))
    return Smoothing(
        name="zlpr_soft", target=target, expr=expr, variables=(S, T), param=k, limit=sp.oo,
        bound=sp.Max(upper, -lower) / k, source=f"{SOFT}; {ART8}",
        domain="real scores, soft labels t_i in [0, 1]; hard labels give zlpr exactly",
        kind="reduction", size=n, index=i,
        attained=tuple(map(_zero_scores, ([0.5, 0.5, 0.5], [0.5, 1, 0, 0.5], [0.4, 0.6, 1, 0]))),
        samples=label_samples(soft=True), valid=_soft_labels,
        description="ZLPR multi-label loss with soft labels",
    )  # fmt: skip


def subset_partition(scores: list, size: int) -> sp.Expr:
    """``Z_K = sum_{i_1 < ... < i_K} e^{s_i1 + ... + s_iK}`` by Newton's identities (article 8
    item 3, Z5): ``K Z_K = sum_{m=1}^{K} (-1)^(m-1) Z_{K-m} P_m`` with ``P_m = sum_i e^{m s_i}``.

    The normaliser of the ``K``-subset softmax, in ``O(K^2 n)`` instead of ``C(n, K)`` terms.

    Examples
    --------
    >>> a, b, c = sp.symbols("a b c", real=True)
    >>> pairs = sp.exp(a + b) + sp.exp(a + c) + sp.exp(b + c)
    >>> sp.simplify(subset_partition([a, b, c], 2) - pairs)
    0
    """
    powers = [sp.Add(*(sp.exp(m * s) for s in scores)) for m in range(size + 1)]
    z = [sp.S.One]
    for order in range(1, size + 1):
        terms = ((-1) ** (m - 1) * z[order - m] * powers[m] for m in range(1, order + 1))
        z.append(sp.Add(*terms) / order)
    return z[size]


def padded_partition(scores: list, size: int, threshold: sp.Expr) -> sp.Expr:
    """``Zbar_K`` for at most ``K`` labels padded with the class ``0`` of score ``threshold``
    (article 8 item 4, Z6): ``Zbar_K = Z_K + e^{s_0} Zbar_{K-1}``, ``Zbar_0 = 1``.

    Examples
    --------
    >>> a, s0 = sp.symbols("a s0", real=True)
    >>> sp.expand(padded_partition([a], 2, s0))
    exp(a)*exp(s0) + exp(2*s0)
    """
    total = sp.S.One
    for order in range(1, size + 1):
        total = subset_partition(scores, order) + sp.exp(threshold) * total
    return total
