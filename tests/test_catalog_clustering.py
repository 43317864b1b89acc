"""Known answers for the K-means soft-min and the IMLE loss (symsmooth/catalog/clustering.py).

References: direct mpmath sums, article 6's Gaussian-smoothed density (items 2-5) evaluated
from points in the plane, article 4's soft-min gradient (item 11, KM1), and the G1 bracket
``[min d - 2 sigma^2 ln N, min d]``.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from symsmooth import catalog
from symsmooth.catalog.clustering import D
from symsmooth.symbols import M, j, n, sigma

DPS = 40


def instance(expr: sp.Expr, size: int, values: dict):
    """``expr`` with ``n = size`` expanded, as an mpmath function of ``d[1..size]``."""
    body = expr.subs(n, size).doit().subs({s: sp.Float(v, DPS + 10) for s, v in values.items()})
    args = [D[m] for m in range(1, size + 1)]
    fn = sp.lambdify(args, body, "mpmath")
    return lambda ds: fn(*[mp.mpf(v) for v in ds])


def rows(seed: int = 0):
    rng = np.random.default_rng(seed)
    for size in (1, 2, 4, 7):
        yield [float(v) for v in rng.random(size) * 10]
        yield [3.25] * size  # an n-way tie
        yield [0.5] + [0.5 + 1e-12] * (size - 1)


def test_entries_are_reductions_over_distances():
    for name in ("kmeans_smoothed_min", "imle_nearest_neighbour"):
        record = catalog.get(name)
        assert record.kind == "reduction" and record.size == n and record.index == j
        assert record.variables == (D,)
        assert record.target.subs(n, 3).doit() == sp.Min(D[1], D[2], D[3])


@pytest.mark.parametrize("mv", [0.5, 3, 40])
def test_kmeans_soft_min_matches_direct_sum_and_bracket(mv):
    record = catalog.get("kmeans_smoothed_min")
    with mp.workdps(DPS):
        for ds in rows():
            f = instance(record.expr, len(ds), {M: mv})
            ref = -mp.log(mp.fsum(mp.exp(-mv * mp.mpf(d)) for d in ds)) / mv
            assert abs(f(ds) - ref) < mp.mpf(10) ** -30
            low = min(ds) - mp.log(len(ds)) / mv
            assert low - mp.mpf(10) ** -30 <= ref <= min(ds) + mp.mpf(10) ** -30
            if len(set(ds)) == 1:  # n-way tie: the lower end exactly
                assert abs(ref - low) < mp.mpf(10) ** -30


@pytest.mark.parametrize("sv", [0.1, 1, 2.5])
def test_imle_bracket_g1(sv):
    record = catalog.get("imle_nearest_neighbour")
    with mp.workdps(DPS):
        for ds in rows(1):
            f = instance(record.expr, len(ds), {sigma: sv})
            value, lo = f(ds), min(ds) - 2 * mp.mpf(sv) ** 2 * mp.log(len(ds))
            assert lo - mp.mpf(10) ** -30 <= value <= min(ds) + mp.mpf(10) ** -30
            if len(set(ds)) == 1:
                assert abs(value - lo) < mp.mpf(10) ** -30


def test_imle_is_minus_two_sigma_squared_log_of_smoothed_density():
    """Article 6 items 2-5: with q(x) = (1/N) sum_j N(x; G(z_j), sigma^2 I) in d dimensions,
    -2 sigma^2 log q(x) = IMLE(d_j = ||x - G_j||^2) + 2 sigma^2 log N
    + d sigma^2 log(2 pi sigma^2)."""
    rng = np.random.default_rng(5)
    record = catalog.get("imle_nearest_neighbour")
    dim, count, sv = 2, 5, mp.mpf("0.7")
    with mp.workdps(DPS):
        x0 = [mp.mpf(float(v)) for v in rng.normal(size=dim)]
        fakes = [[mp.mpf(float(v)) for v in rng.normal(size=dim)] for _ in range(count)]

        def density(point):
            total = 0
            for g in fakes:
                sq = mp.fsum((a - b) ** 2 for a, b in zip(point, g, strict=True))
                total += mp.exp(-sq / (2 * sv**2)) / (2 * mp.pi * sv**2) ** (dim / 2)
            return total / count

        ds = [mp.fsum((a - b) ** 2 for a, b in zip(x0, g, strict=True)) for g in fakes]
        f = instance(record.expr, count, {sigma: sv})
        lhs = -2 * sv**2 * mp.log(density(x0))
        rhs = f(ds) + 2 * sv**2 * mp.log(count) + dim * sv**2 * mp.log(2 * mp.pi * sv**2)
        assert abs(lhs - rhs) < mp.mpf(10) ** -30


def test_imle_is_kmeans_with_m_one_over_two_sigma_squared():
    a = catalog.get("imle_nearest_neighbour").expr
    b = catalog.get("kmeans_smoothed_min").expr.subs(M, 1 / (2 * sigma**2))
    assert sp.simplify(a.subs(n, 4).doit() - b.subs(n, 4).doit()) == 0


def test_kmeans_gradient_is_soft_min_assignment():
    """Article 4 item 11 (KM1): dL/dd_j = exp(-M d_j) / sum_l exp(-M d_l)."""
    record = catalog.get("kmeans_smoothed_min")
    size, mv = 4, 2
    body = record.expr.subs({n: size, M: mv}).doit()
    ds = [0.3, 1.1, 0.35, 4.0]
    with mp.workdps(DPS):
        weights = [mp.exp(-mv * mp.mpf(d)) for d in ds]
        total = mp.fsum(weights)
        for m in range(1, size + 1):
            grad = sp.lambdify([D[q] for q in range(1, size + 1)], sp.diff(body, D[m]), "mpmath")
            assert abs(grad(*[mp.mpf(d) for d in ds]) - weights[m - 1] / total) < 1e-30


def test_limit_recovers_min_along_a_sequence():
    record = catalog.get("kmeans_smoothed_min")
    ds = [2.0, 0.75, 0.7501, 9.0]
    with mp.workdps(DPS):
        values = [instance(record.expr, 4, {M: mv})(ds) for mv in (1, 1e2, 1e4, 1e6)]
        errors = [abs(v - mp.mpf(0.75)) for v in values]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-6


def test_a_smaller_bound_fails_at_a_tie():
    """Test the test: 0.99 log(n)/M is exceeded at the recorded n-way ties."""
    record = catalog.get("kmeans_smoothed_min")
    for point in record.attained:
        size, ds, mv = point[n], point[D], point[M]
        with mp.workdps(DPS):
            err = min(ds) - instance(record.expr, size, {M: mv})(ds)
            assert err > mp.mpf("0.99") * mp.log(size) / mv
