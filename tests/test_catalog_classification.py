"""Known answers for article 2's softmax family and article 7's cross-entropy (catalog.md §2, §7).

References are independent mpmath/numpy computations written out here.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from symsmooth import catalog
from symsmooth.catalog.classification import Z, label, soft_k_max_record, soft_k_max_vector
from symsmooth.symbols import T, X, i, j, k, n
from symsmooth.verification.claims import value
from symsmooth.verification.reference import evaluate, instantiate

mp = mpmath.mpf
VECTOR = [2, 1, 4, 5, 3]


@pytest.fixture(autouse=True)
def _precision():
    with mpmath.workdps(70):
        yield


def softmax(values, kv=1):
    weights = [mpmath.exp(kv * mp(v)) for v in values]
    total = mpmath.fsum(weights)
    return [w / total for w in weights]


def soft_k_max_reference(values, top, kv=1):
    """The post's recursion, written out independently (catalog.md §2 item 6)."""
    low = min(mp(v) for v in values)
    shifted = [kv * (mp(v) - low) for v in values]
    p = [mp(0)] * len(values)
    for _ in range(top):
        q = softmax([(1 - pm) * sm for pm, sm in zip(p, shifted, strict=True)])
        p = [pm + qm for pm, qm in zip(p, q, strict=True)]
    return p


def test_softmax_known_values_and_target():
    record = catalog.get("softmax_onehot_argmax")
    got = [float(evaluate(record.expr, {n: 5, X: VECTOR, k: 1, j: m})) for m in range(1, 6)]
    assert got == pytest.approx([0.031685, 0.011656, 0.234122, 0.636409, 0.086129], abs=6e-7)
    onehot = [int(evaluate(record.target, {n: 5, X: VECTOR, j: m})) for m in range(1, 6)]
    assert onehot == [0, 0, 0, 1, 0]


def test_softmax_shift_invariance_and_reference():
    record = catalog.get("softmax_onehot_argmax")
    rng = np.random.default_rng(0)
    for size in (1, 3, 8):
        values = list(rng.normal(0, 3, size))
        for m in range(1, size + 1):
            base = evaluate(record.expr, {n: size, X: values, k: 2.5, j: m})
            moved = [mp(v) + mp(17.5) for v in values]  # exact at 70 digits
            shifted = evaluate(record.expr, {n: size, X: moved, k: 2.5, j: m})
            assert abs(base - shifted) < mp(10) ** -45
            assert abs(base - softmax(values, 2.5)[m - 1]) < mp(10) ** -45


def test_softmax_gap_bound():
    """|softmax_j - [j = argmax]| <= (n - 1) exp(-k delta), delta the top gap (derived)."""
    record = catalog.get("softmax_onehot_argmax")
    rng = np.random.default_rng(1)
    for _ in range(30):
        size = int(rng.integers(2, 9))
        values = list(rng.normal(0, 2, size))
        kv = float(10.0 ** rng.uniform(-1, 2))
        ordered = sorted(values, reverse=True)
        bound = (size - 1) * mpmath.exp(-kv * (mp(ordered[0]) - mp(ordered[1])))
        winner = values.index(ordered[0]) + 1
        for m in range(1, size + 1):
            p = evaluate(record.expr, {n: size, X: values, k: kv, j: m})
            assert abs(p - (m == winner)) <= bound * (1 + mp(10) ** -40)


def test_soft_argmax_known_values_and_limit():
    record = catalog.get("soft_argmax")
    at = {kv: evaluate(record.expr, {n: 5, X: VECTOR, k: kv}) for kv in (1, 10, 100)}
    assert float(at[1]) == pytest.approx(3.733640, abs=6e-7)
    assert float(at[10]) == pytest.approx(3.999955, abs=6e-7)
    reference = mpmath.fsum(m * p for m, p in enumerate(softmax(VECTOR, 10), start=1))
    assert abs(at[10] - reference) < mp(10) ** -45
    assert abs(at[100] - 4) < 1e-40
    assert evaluate(record.target, {n: 5, X: VECTOR}) == 4


def test_soft_argmax_tie_tends_to_mean_index():
    """Outside the valid domain: a tie at positions 2 and 4 gives 3, not the first index 2."""
    record = catalog.get("soft_argmax")
    value = evaluate(record.expr, {n: 4, X: [0, 5, 1, 5], k: 100})
    assert abs(value - 3) < 1e-40
    assert evaluate(record.target, {n: 4, X: [0, 5, 1, 5]}) == 2


def test_smooth_accuracy_batch_mean_tends_to_hard_accuracy():
    record = catalog.get("smooth_accuracy")
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 1, (40, 4))
    labels = rng.integers(1, 5, 40)
    hard = float(np.mean(np.argmax(logits, axis=1) + 1 == labels))
    for kv, tol in ((1.0, None), (1e4, 1e-12)):
        values = [
            evaluate(record.expr, {n: 4, X: list(row), label: int(t), k: kv})
            for row, t in zip(logits, labels, strict=True)
        ]
        references = [softmax(row, kv)[int(t) - 1] for row, t in zip(logits, labels, strict=True)]
        assert max(abs(a - b) for a, b in zip(values, references, strict=True)) < mp(10) ** -45
        if tol:
            assert abs(mpmath.fsum(values) / 40 - hard) < tol
    targets = [
        evaluate(record.target, {n: 4, X: list(row), label: int(t)})
        for row, t in zip(logits, labels, strict=True)
    ]
    assert float(np.mean(targets)) == hard


def hard_f1(labels, scores) -> float:
    """F1 by counting (catalog P2): 2 TP / (2 TP + FP + FN), predictions [z > 0]."""
    predicted = [s > 0 for s in scores]
    tp = sum(1 for t, p in zip(labels, predicted, strict=True) if t and p)
    fp = sum(1 for t, p in zip(labels, predicted, strict=True) if not t and p)
    fn = sum(1 for t, p in zip(labels, predicted, strict=True) if t and not p)
    return 2 * tp / (2 * tp + fp + fn)


def test_p2_soft_f1_formula_is_exact_for_hard_predictions():
    record = catalog.get("soft_f1")
    rng = np.random.default_rng(3)
    for size in (1, 2, 5, 9, 16):
        labels = [int(v) for v in rng.integers(0, 2, size)]
        labels[0] = 1
        scores = [float(v) for v in rng.normal(0, 2, size)]
        point = {n: size, T: labels, Z: scores}
        assert float(evaluate(record.target, point)) == pytest.approx(
            hard_f1(labels, scores), abs=1e-15
        )
        soft = evaluate(record.expr, {**point, k: 1e5})
        assert abs(soft - hard_f1(labels, scores)) < 1e-6
        with mpmath.workdps(60):
            p = [1 / (1 + mpmath.exp(-2 * mp(s))) for s in scores]
            direct = (
                2
                * mpmath.fsum(t * q for t, q in zip(labels, p, strict=True))
                / mpmath.fsum(t + q for t, q in zip(labels, p, strict=True))
            )
        assert abs(evaluate(record.expr, {**point, k: 2}) - direct) < mp(10) ** -45


def test_soft_k_max_known_values_and_invariant():
    record = catalog.get("soft_k_max")
    got = [value(record.expr, {n: 5, X: VECTOR, k: 1, j: m}) for m in range(1, 6)]
    assert [float(v) for v in got] == pytest.approx(
        [0.141024, 0.053175, 0.647255, 0.814181, 0.344366], abs=6e-7
    )
    assert abs(mpmath.fsum(got) - 2) < mp(10) ** -45
    scaled = [float(value(record.expr, {n: 5, X: VECTOR, k: 10, j: m})) for m in range(1, 6)]
    assert scaled == pytest.approx([0, 0, 1, 0.99996, 0.00005], abs=6e-6)


def test_soft_k_max_matches_reference_recursion():
    rng = np.random.default_rng(4)
    for top, size in ((1, 3), (2, 5), (3, 4)):
        vector = soft_k_max_vector(top, size)
        for _ in range(4):
            values = list(rng.normal(0, 3, size))
            kv = float(10.0 ** rng.uniform(-1, 1))
            reference = soft_k_max_reference(values, top, kv)
            got = [value(e, {X: values, k: kv}) for e in vector]
            assert max(abs(a - b) for a, b in zip(got, reference, strict=True)) < mp(10) ** -45
            assert abs(mpmath.fsum(got) - top) < mp(10) ** -45


def test_soft_k_max_entries_can_exceed_one():
    vector = soft_k_max_vector(2, 3)
    got = [float(value(e, {X: [0, 100, 100.5], k: 1})) for e in vector]
    assert got == pytest.approx([0, 1.3775, 0.6225], abs=6e-5)
    assert got == pytest.approx(
        [float(v) for v in soft_k_max_reference([0, 100, 100.5], 2)], abs=1e-15
    )


def test_soft_k_max_hard_limit_other_sizes():
    record = soft_k_max_record(3, 4)
    rng = np.random.default_rng(5)
    values = list(rng.normal(0, 1, 4))
    top3 = set(np.argsort(values)[-3:] + 1)
    for m in range(1, 5):
        point = {n: 4, X: values, j: m}
        assert int(value(record.target, point)) == (m in top3)
        assert abs(value(record.expr, {**point, k: 1e4}) - (m in top3)) < 1e-6


def test_cross_entropy_bounds_and_reference():
    record = catalog.get("cross_entropy_lse")
    rng = np.random.default_rng(6)
    for size in (1, 2, 4, 7):
        values = list(rng.normal(0, 2, size))
        for t in range(1, size + 1):
            point = {n: size, X: values, label: t, k: 1}
            ce = evaluate(record.expr, point)
            assert abs(ce + mpmath.log(softmax(values)[t - 1])) < mp(10) ** -45
            gap = max(values) - values[t - 1]
            assert gap <= ce <= gap + mpmath.log(size) + mp(10) ** -45
            if size > 1:
                assert ce > gap
    tie = evaluate(record.expr, {n: 4, X: [0.5] * 4, label: 3, k: 7})
    assert abs(tie - mpmath.log(4) / 7) < mp(10) ** -45


def test_p3_logsumexp_gradient_is_softmax():
    record = catalog.get("logsumexp_max")
    body = instantiate(record.expr, {n: 3})
    point = {X: [0.3, -1.2, 2.0], k: 1.7}
    for m in range(1, 4):
        grad = sp.diff(body, X[m])
        assert abs(evaluate(grad, point) - softmax(point[X], 1.7)[m - 1]) < mp(10) ** -45
    assert i in record.expr.atoms(sp.Symbol) | {i}
