"""Smoothed nearest-centre minima: the K-means soft-min and the IMLE nearest-neighbour loss.

Both replace ``min_j d_j`` over distances ``d_1 .. d_n`` by a scaled negative log-sum-exp,
``-(1/M) log sum_j exp(-M d_j)``.  Since ``max_j z_j <= log sum_j e^{z_j} <= max_j z_j + log n``
(kexue.fm/archives/9070), the surrogate lies in ``[min_j d_j - log(n)/M, min_j d_j]``, with
the lower end reached exactly when all ``n`` distances tie.  IMLE is the same construction
with ``M = 1/(2 sigma^2)``.

Examples
--------
>>> from symsmooth import catalog
>>> catalog.get("kmeans_smoothed_min").bound
log(n)/M
"""

from __future__ import annotations

import sympy as sp

from symsmooth.catalog import entry
from symsmooth.functions.targets import MinOver
from symsmooth.records import Smoothing
from symsmooth.symbols import M, j, n, sigma

D = sp.IndexedBase("d", real=True)
"""Distances ``d[1] .. d[n]`` from one point to the ``n`` centres (or generated samples)."""

SIZES = (1, 2, 3, 5, 8)


def distance_samples(param: sp.Symbol, values: tuple) -> callable:
    """``samples(rng, count)`` for a soft-min over ``n`` distances.

    Covers ``n``-way ties (where the bound is attained), two-way ties, one clear winner, huge
    and tiny distances, negative values (the bound holds for any reals), and random draws.
    """

    def structured(size: int, p: float) -> list[dict]:
        cases = [
            [1.0] * size,
            [0.0] * size,
            [1e6] * size,
            [3.0] + [3.0 + 1e-9] * (size - 1),
            [0.5, 0.5] + [7.0] * (size - 2) if size >= 2 else [0.5],
            [float(v) for v in range(size)],
            [1e-12 * (v + 1) for v in range(size)],
            [-2.0] + [1e6] * (size - 1),
        ]
        return [{n: size, D: c, param: p} for c in cases]

    def samples(rng, count: int) -> list[dict]:
        points = [pt for size in SIZES for p in values for pt in structured(size, p)]
        while len(points) < count:
            size = SIZES[int(rng.integers(len(SIZES)))]
            p = values[int(rng.integers(len(values)))]
            scale = 10 ** rng.uniform(-3, 3)
            points.append({n: size, D: [float(v) for v in scale * rng.random(size)], param: p})
        return points

    return samples


def tie_points(param: sp.Symbol, values: tuple) -> tuple:
    """Points where the bound is attained: ``n``-way ties."""
    return tuple({n: size, D: [2.5] * size, param: p} for size in (2, 3, 7) for p in values)


@entry("kmeans_smoothed_min")
def kmeans_smoothed_min() -> Smoothing:
    """K-means soft-min ``-(1/M) log sum_j exp(-M d_j)`` -> ``min_j d_j`` as ``M -> oo``.

    Article 4 item 10 (kexue.fm/archives/4277) smooths each point's distance to its nearest
    centre this way; article 5 item 4 (kexue.fm/archives/5112) does the same with ``K`` for
    ``M``.  The gradient weights are the soft-min assignments ``softmax_j(-M d_j)``.
    The surrogate is below the min by at most ``log(n)/M``, exactly that at an ``n``-way tie.

    Examples
    --------
    >>> r = kmeans_smoothed_min()
    >>> r.expr
    -log(Sum(exp(-M*d[j]), (j, 1, n)))/M
    >>> tie = r.expr.subs({n: 3, M: 2}).doit().subs({D[1]: 5, D[2]: 5, D[3]: 5})
    >>> sp.simplify(tie - 5 + sp.log(3) / 2)
    0
    """
    expr = -sp.log(sp.Sum(sp.exp(-M * D[j]), (j, 1, n))) / M
    values = (0.01, 1.0, 100.0)
    return Smoothing(
        name="kmeans_smoothed_min", target=MinOver(D[j], (j, 1, n)), expr=expr, variables=(D,),
        param=M, limit=sp.oo, bound=sp.log(n) / M,
        source="kexue.fm/archives/4277 item 10; kexue.fm/archives/5112 item 4",
        domain="all real distances d_1..d_n (n >= 1); the surrogate is <= the min",
        kind="reduction", size=n, index=j, attained=tie_points(M, values),
        samples=distance_samples(M, values), description="log-sum-exp soft-min of K-means",
    )  # fmt: skip


@entry("imle_nearest_neighbour")
def imle_nearest_neighbour() -> Smoothing:
    """IMLE loss ``-2 sigma^2 log sum_j exp(-d_j/(2 sigma^2))`` -> ``min_j d_j`` as sigma -> 0.

    Article 6 (kexue.fm/archives/6394) items 4-6: maximum likelihood with the Gaussian-smoothed
    sample density, Monte-Carlo estimated, is ``-log sum_j exp(-||x - G(z_j)||^2/(2 sigma^2))``
    per real sample ``x``; times ``2 sigma^2`` it lies in
    ``[min_j d_j - 2 sigma^2 ln N, min_j d_j]`` (G1), with ``d_j = ||x - G(z_j)||^2`` and
    ``N = n`` generated samples.  The lower end is attained at an ``N``-way tie.

    Examples
    --------
    >>> r = imle_nearest_neighbour()
    >>> r.bound
    2*sigma**2*log(n)
    """
    expr = -2 * sigma**2 * sp.log(sp.Sum(sp.exp(-D[j] / (2 * sigma**2)), (j, 1, n)))
    values = (0.01, 0.5, 3.0)
    return Smoothing(
        name="imle_nearest_neighbour", target=MinOver(D[j], (j, 1, n)), expr=expr,
        variables=(D,), param=sigma, limit=sp.S.Zero, bound=2 * sigma**2 * sp.log(n),
        source="kexue.fm/archives/6394 items 4-6 (G1)",
        domain="all real d_1..d_n (squared distances, so >= 0 in use); the surrogate is "
        "<= the min", kind="reduction", size=n, index=j, attained=tie_points(sigma, values),
        samples=distance_samples(sigma, values),
        description="IMLE: Gaussian-smoothed log-likelihood -> nearest-neighbour loss",
    )  # fmt: skip
