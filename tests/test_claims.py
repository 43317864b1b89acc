"""Every catalog claim is checked, and the checker itself is shown to fail on wrong claims.

Parametrized over ``catalog.names()`` at import, so new entries are covered automatically.
The slowest check is printed at the end of the module (and ``pytest --durations`` shows it).
"""

from __future__ import annotations

import dataclasses
import time

import mpmath
import pytest
import sympy as sp

from symsmooth import catalog
from symsmooth.symbols import x, y
from symsmooth.verification.claims import check_bound, check_domain, check_limit, value

NAMES = catalog.names()
BOUNDED = [name for name in NAMES if catalog.get(name).bound is not None]
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def slowest_check(request):
    """Report the slowest single claim check of the run."""
    yield
    if TIMES:
        name, seconds = max(TIMES.items(), key=lambda item: item[1])
        line = (
            f"\nclaims: {len(NAMES)} entries, slowest check {name} {seconds:.2f} s, "
            f"total {sum(TIMES.values()):.1f} s"
        )
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(line)


def _timed(label: str, check, *args, **kwargs):
    start = time.perf_counter()
    result = check(*args, **kwargs)
    TIMES[label] = time.perf_counter() - start
    return result


def test_catalog_is_not_empty():
    assert len(NAMES) >= 20
    assert {"logsumexp_max", "max_pair_logsumexp", "cross_entropy_lse"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_limit(name):
    record = catalog.get(name)
    result = _timed(f"{name} limit", check_limit, record)
    assert result.ok, result.detail
    assert result.checked >= 4, result.detail


@pytest.mark.parametrize("name", NAMES)
def test_bound(name):
    record = catalog.get(name)
    if record.bound is None:
        reason = f"{record.domain} {record.description}".lower()
        assert any(word in reason for word in ("bound", "uniform", "sup")), (
            f"{name} claims no bound: say why in its domain or description"
        )
        return
    result = _timed(f"{name} bound", check_bound, record, count=200)
    assert result.ok, result.detail
    assert result.checked >= 200
    assert result.worst == pytest.approx(1.0, abs=1e-12), "the bound must be sharp"


@pytest.mark.parametrize("name", BOUNDED)
def test_halved_bound_fails(name):
    record = catalog.get(name)
    wrong = dataclasses.replace(record, bound=record.bound / 2)
    result = check_bound(wrong, count=40)
    assert not result.ok
    assert "bound" in result.detail


@pytest.mark.parametrize("name", ["max_pair_logsumexp", "logsumexp_max", "smooth_abs_logistic"])
def test_slightly_loose_bound_fails_attainment(name):
    """A bound 1e-6 too large still holds everywhere but is no longer attained."""
    record = catalog.get(name)
    loose = dataclasses.replace(record, bound=record.bound * (1 + sp.Rational(1, 10**6)))
    result = check_bound(loose, count=40)
    assert not result.ok
    assert "vs bound" in result.detail


@pytest.mark.parametrize("name", NAMES)
def test_wrong_target_fails(name):
    record = catalog.get(name)
    wrong = dataclasses.replace(record, target=record.target + sp.Rational(1, 10))
    result = check_limit(wrong, symbolic_budget=0)
    assert not result.ok, result.detail


def test_wrong_target_fails_symbolically():
    record = catalog.get("max_pair_logsumexp")
    assert check_limit(record).method == "symbolic"
    wrong = dataclasses.replace(record, target=sp.Min(x, y))
    result = check_limit(wrong)
    assert not result.ok
    assert "symbolic limit differs" in result.detail


def test_odd_power_domain_failure():
    """Eq (13) tends to the signed entry of largest |.|: catalog.md §1 item 12."""
    record = catalog.get("max_pair_odd_power")
    points = [{x: 1, y: -2}, {x: -1, y: -3}, {x: 1, y: -1}]
    result = check_domain(record, points)
    assert result.ok, result.detail
    expected = [-2, -3, 0]
    for (point, target, values), want in zip(result.data, expected, strict=True):
        assert target == max(point[x], point[y])
        assert abs(values[-1] - want) < 1e-4
    # independent closed form at k = 10: -(2^21 - 1)^(1/21) for (1, -2)
    with mpmath.workdps(40):
        closed = -mpmath.root(mpmath.mpf(2) ** 21 - 1, 21)
        assert abs(result.data[0][2][0] - closed) < mpmath.mpf(10) ** -35
    k_odd = record.param
    for kv in (1, 2, 5, 40):
        assert value(record.expr, {x: 1, y: -1, k_odd: kv}) == 0


def test_double_exp_domain_failure():
    """Eq (14) tends to max(x, y, 0): k = 40 at (-1, -3) gives (1/40) log log 2 ~ -0.009163."""
    record = catalog.get("max_pair_double_exp")
    k = record.param
    at_40 = value(record.expr, {x: -1, y: -3, k: 40}, dps=40)
    with mpmath.workdps(40):
        assert abs(at_40 - mpmath.log(mpmath.log(2)) / 40) < 1e-18
    assert float(at_40) == pytest.approx(-0.0091628, abs=1e-7)
    result = check_domain(record, [{x: -1, y: -3}, {x: -0.5, y: -0.5}])
    assert result.ok, result.detail
    for _, target, values in result.data:
        assert target < 0 and abs(values[-1]) < 1e-6  # the limit is 0, not max(x, y)


def test_domain_check_rejects_valid_points():
    record = catalog.get("max_pair_odd_power")
    assert not check_domain(record, [{x: 2, y: 1}]).ok
