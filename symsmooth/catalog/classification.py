"""Smooth classification quantities: article 2's softmax family and article 7's cross-entropy.

Sources:

* [A2] Su Jianlin, "函数光滑化杂谈：不可导函数的可导逼近" (2019),
  https://kexue.fm/archives/6620, items numbered as in the catalog (§2 of catalog.md).
* [A7] Su Jianlin, "Seq2Seq中Exposure Bias现象的浅析与对策" (2020),
  https://kexue.fm/archives/7259, item 2.

Every entry multiplies the logits by the sharpness ``k`` (the articles absorb it, ``k = 1``).
Vectors are 1-based, as in the articles.

Examples
--------
>>> from symsmooth.catalog.classification import soft_argmax
>>> soft_argmax().target
ArgMaxOver(x[i], (i, 1, n))
"""

from __future__ import annotations

import sympy as sp

from symsmooth.catalog import entry
from symsmooth.functions.targets import ArgMaxOver, MaxOver, onehot_argmax
from symsmooth.records import Iteration, Smoothing
from symsmooth.symbols import T, X, i, j, k, n

A2 = "Su Jianlin, 函数光滑化杂谈 (2019), https://kexue.fm/archives/6620"
A7 = "Su Jianlin, Seq2Seq中Exposure Bias现象的浅析与对策 (2020), https://kexue.fm/archives/7259"

label = sp.Symbol("t", integer=True, positive=True)
"""The target class index ``t`` (1-based) of accuracy and cross-entropy."""
Z = sp.IndexedBase("z", real=True)
"""Binary-classifier logits of the soft F1 (probability ``sigmoid(k z)``)."""

_SIZES = (1, 2, 3, 5, 8)


def _partition() -> sp.Expr:
    return sp.Sum(sp.exp(k * X[i]), (i, 1, n))


def _values(point) -> list:
    return list(point[X])[: int(point[n])]


def _unique_max(point) -> bool:
    values = sorted(_values(point), reverse=True)
    return len(values) == 1 or values[0] > values[1]


def _class_samples(index: sp.Symbol):
    """Vectors with distinct, tied and extreme entries, plus a class index in 1..n."""

    def samples(rng, count: int) -> list[dict]:
        points = []
        for m in range(count):
            size = _SIZES[m % len(_SIZES)]
            kv = float((0.5, 1, 3, 10, 1e3)[m % 5])
            pattern = m % 6
            if pattern == 0:
                values = [1.5] * size  # n-way tie (invalid: no unique max)
            elif pattern == 1:
                values = list(rng.normal(0, 1, size) * 1e300)
            else:
                values = list(rng.normal(0, 3, size) / kv)
            points.append({n: size, X: values, k: kv, index: int(rng.integers(1, size + 1))})
        return points

    return samples


@entry("softmax_onehot_argmax")
def softmax_onehot_argmax() -> Smoothing:
    r"""Softmax as the smooth one-hot of the argmax, element ``j`` [A2, item 2].

    .. math:: p_j = e^{k x_j} / \sum_i e^{k x_i} \to [j = \operatorname{argmax}_i x_i]

    Valid for vectors with a **unique** maximum (at a tie the limit splits the mass evenly).
    No ``k``-only bound: the sup of the error is ``1 - 1/n``, approached as the entries
    approach a tie.  With the gap ``delta = x_max - x_second > 0`` [derived]:
    ``|p_j - [j = argmax]| <= (n - 1) e^{-k delta}``.

    Examples
    --------
    >>> from symsmooth.verification.reference import evaluate
    >>> r = softmax_onehot_argmax()
    >>> [round(float(evaluate(r.expr, {n: 5, X: [2, 1, 4, 5, 3], k: 1, j: m})), 6)
    ...  for m in range(1, 6)]
    [0.031685, 0.011656, 0.234122, 0.636409, 0.086129]
    >>> int(evaluate(r.target, {n: 5, X: [2, 1, 4, 5, 3], j: 4}))
    1
    """
    return Smoothing(
        name="softmax_onehot_argmax",
        target=onehot_argmax(X[i], i, j, 1, n),
        expr=sp.exp(k * X[j]) / _partition(),
        variables=(X,),
        param=k,
        limit=sp.oo,
        bound=None,
        source=f"{A2}, item 2 (onehot(argmax) ~ softmax)",
        domain=(
            "vectors with a unique maximum; at a tie the limit is 1/(number tied) on the tied "
            "entries. No k-only bound (sup error 1 - 1/n near ties); with gap delta between "
            "the two largest entries the error is <= (n - 1) exp(-k delta)"
        ),
        kind="reduction",
        size=n,
        index=i,
        samples=_class_samples(j),
        valid=_unique_max,
        description="element j of softmax(kx), the smooth one-hot of argmax",
    )


@entry("soft_argmax")
def soft_argmax() -> Smoothing:
    r"""Soft argmax ``sum_i i softmax(kx)_i`` (1-based) [A2, item 3].

    Tends to ``argmax(x)`` for a unique maximum; at a tie it tends to the mean of the tied
    indices.  No bound (the error depends on the gap and on ``n``).  Known values
    ([2, 1, 4, 5, 3]): 3.733640 at ``k = 1``, 3.999955 at ``k = 10``.

    Examples
    --------
    >>> from symsmooth.verification.reference import evaluate
    >>> r = soft_argmax()
    >>> [round(float(evaluate(r.expr, {n: 5, X: [2, 1, 4, 5, 3], k: kv})), 6) for kv in (1, 10)]
    [3.73364, 3.999955]
    """
    return Smoothing(
        name="soft_argmax",
        target=ArgMaxOver(X[i], (i, 1, n)),
        expr=sp.Sum(i * sp.exp(k * X[i]), (i, 1, n)) / _partition(),
        variables=(X,),
        param=k,
        limit=sp.oo,
        bound=None,
        source=f"{A2}, item 3",
        domain=(
            "vectors with a unique maximum; at a tie the limit is the mean of the tied "
            "indices, not the first one. No k-only bound (gap dependent)"
        ),
        kind="reduction",
        size=n,
        index=i,
        samples=_class_samples(j),
        valid=_unique_max,
        description="1-based soft argmax: expected index under softmax(kx)",
    )


@entry("smooth_accuracy")
def smooth_accuracy() -> Smoothing:
    r"""Smooth accuracy of one sample: the predicted probability of the target class [A2, item 4].

    .. math:: \langle 1_t, \operatorname{softmax}(kx) \rangle = e^{k x_t}/\sum_i e^{k x_i}
              \to [\operatorname{argmax} x = t]

    The batch accuracy is the mean of this quantity over the samples (linear, so the limit
    carries over).  Valid for a unique maximum; no ``k``-only bound (see
    :func:`softmax_onehot_argmax` for the gap bound ``(n - 1) e^{-k delta}``).

    Examples
    --------
    >>> from symsmooth.verification.reference import evaluate
    >>> r = smooth_accuracy()
    >>> point = {n: 3, X: [0.2, 1.0, -0.5], label: 2}
    >>> [round(float(evaluate(r.expr, {**point, k: kv})), 6) for kv in (1, 10, 100)]
    [0.597922, 0.999664, 1.0]
    >>> int(evaluate(r.target, point))
    1
    """
    return Smoothing(
        name="smooth_accuracy",
        target=sp.KroneckerDelta(label, ArgMaxOver(X[i], (i, 1, n))),
        expr=sp.exp(k * X[label]) / _partition(),
        variables=(X,),
        param=k,
        limit=sp.oo,
        bound=None,
        source=f"{A2}, item 4",
        domain=(
            "logits with a unique maximum; the batch accuracy is the mean over samples. "
            "No k-only bound (gap dependent)"
        ),
        kind="reduction",
        size=n,
        index=i,
        samples=_class_samples(label),
        valid=_unique_max,
        description="probability of the target class t: the smooth per-sample accuracy",
    )


def _hard_f1_prediction(z: sp.Expr) -> sp.Expr:
    return sp.Heaviside(z, 0)  # predicted positive iff z > 0


def _f1(prob) -> sp.Expr:
    return 2 * sp.Sum(T[i] * prob, (i, 1, n)) / sp.Sum(T[i] + prob, (i, 1, n))


def _f1_valid(point) -> bool:
    size = int(point[n])
    labels = list(point[T])[:size]
    scores = list(point[Z])[:size]
    return set(labels) <= {0, 1} and sum(labels) >= 1 and all(v != 0 for v in scores)


def _f1_samples(rng, count: int) -> list[dict]:
    points = []
    for m in range(count):
        size = _SIZES[m % len(_SIZES)]
        kv = float((0.5, 1, 3, 10, 1e3)[m % 5])
        labels = [int(v) for v in rng.integers(0, 2, size)]
        if m % 7 != 6:  # keep a positive label, except a few invalid points
            labels[int(rng.integers(size))] = 1
        scores = list(rng.normal(0, 3, size) / kv)
        if m % 11 == 10:
            scores[0] = 0.0  # the breakpoint (invalid: the limit is p = 1/2 there)
        points.append({n: size, T: labels, Z: scores, k: kv})
    return points


@entry("soft_f1")
def soft_f1() -> Smoothing:
    r"""Soft positive-class F1 ``2 sum t p / sum (t + p)``, ``p = sigmoid(k z)`` [A2, item 5].

    Labels ``t in {0, 1}``; ``z`` are logits.  With hard predictions ``p in {0, 1}`` the
    formula is exactly F1 = 2TP/(2TP + FP + FN) (catalog P2), so the target is the hard F1
    with ``p = [z > 0]``.  Valid when no logit is exactly 0 (there ``p -> 1/2``) and at
    least one label is positive (else 0/0).  No bound.  The post warns it is a biased
    batch estimate (the sum sits in the denominator).

    Examples
    --------
    >>> from symsmooth.verification.reference import evaluate
    >>> r = soft_f1()
    >>> point = {n: 4, T: [1, 0, 1, 1], Z: [2.0, 0.5, -1.0, 3.0]}
    >>> import mpmath
    >>> print(mpmath.nstr(evaluate(r.target, point), 10))  # TP = 2, FP = 1, FN = 1
    0.6666666667
    >>> print(mpmath.nstr(evaluate(r.expr, {**point, k: 100}), 10))
    0.6666666667
    """
    prob = 1 / (1 + sp.exp(-k * Z[i]))
    return Smoothing(
        name="soft_f1",
        target=_f1(_hard_f1_prediction(Z[i])),
        expr=_f1(prob),
        variables=(Z, T),
        param=k,
        limit=sp.oo,
        bound=None,
        source=f"{A2}, item 5",
        domain=(
            "labels t in {0, 1} with at least one positive; logits z != 0 (at z = 0 the "
            "probability tends to 1/2, not a hard prediction). No bound"
        ),
        kind="reduction",
        size=n,
        index=i,
        samples=_f1_samples,
        valid=_f1_valid,
        description="soft F1 of a binary classifier, exact for hard predictions",
    )


@entry("cross_entropy_lse")
def cross_entropy_lse() -> Smoothing:
    r"""Cross-entropy as a smooth ``max(x) - x_t``: ``(1/k) log sum_i e^{k x_i} - x_t`` [A7].

    At ``k = 1`` this is ``-log softmax(x)_t = LSE(x) - x_t``.  Bounds [derived from the
    log-sum-exp bound, https://kexue.fm/archives/9070]: ``max(x) - x_t < CE_k <= max(x) -
    x_t + log(n)/k``, with equality at an n-way tie (for any ``t``).  The gradient is
    ``softmax(kx) - onehot(t)`` (derived by the derive stage).

    Examples
    --------
    >>> from symsmooth.verification.reference import evaluate
    >>> r = cross_entropy_lse()
    >>> point = {n: 3, X: [1.0, 3.0, 2.0], label: 3, k: 1}
    >>> import mpmath
    >>> print(mpmath.nstr(evaluate(r.expr, point), 12), evaluate(r.target, point))
    1.40760596444 1.0
    """
    return Smoothing(
        name="cross_entropy_lse",
        target=MaxOver(X[i], (i, 1, n)) - X[label],
        expr=sp.log(_partition()) / k - X[label],
        variables=(X,),
        param=k,
        limit=sp.oo,
        bound=sp.log(n) / k,
        source=f"{A7}, item 2 (-log p_t = LSE(x) - x_t ~ max(x) - x_t)",
        domain="all real logits, t in 1..n; error one-signed in (0, log(n)/k]",
        kind="reduction",
        size=n,
        index=i,
        attained=(
            {n: 1, X: [0.25], label: 1},
            {n: 3, X: [2, 2, 2], label: 2},
            {n: 5, X: [-1.5] * 5, label: 5},
        ),
        description="cross-entropy of logits x for class t, scaled by 1/k",
    )


def soft_k_max_vector(top: int, size: int) -> list[sp.Expr]:
    """The soft-``top``-max of ``k x`` as ``size`` explicit expressions [A2, item 6].

    The post's recursion on ``k x``: ``x <- x - min(x)``; ``p = 0``; repeat ``top`` times:
    ``p <- p + softmax(k (1 - p) * x)``.  The result sums to ``top`` exactly but its entries
    are not bounded by 1.

    Examples
    --------
    >>> from symsmooth.verification.claims import value
    >>> p = soft_k_max_vector(2, 3)
    >>> [round(float(value(e, {X: [0, 100, 100.5], k: 1})), 4) for e in p]
    [0.0, 1.3775, 0.6225]
    """
    entries = [X[m] for m in range(1, size + 1)]
    shifted = [e - sp.Min(*entries) for e in entries]
    p = [sp.S.Zero] * size
    for _ in range(top):
        weights = [sp.exp(k * (1 - pm) * sm) for pm, sm in zip(p, shifted, strict=True)]
        total = sp.Add(*weights)
        p = [pm + wm / total for pm, wm in zip(p, weights, strict=True)]
    return p


def soft_k_max_iteration(top: int = 2) -> Iteration:
    """The recursion of [A2, item 6] as data: ``y = x - min(x)``; ``p = 0``; ``top`` times
    ``p_j <- p_j + exp(k (1 - p_j) y_j) / sum_i exp(k (1 - p_i) y_i)``.

    Kernels are generated from it (:func:`symsmooth.codegen.iteration.iteration_spec`); the
    count argument is ``top``, default ``top``.

    Examples
    --------
    >>> it = soft_k_max_iteration()
    >>> it.step
    exp(k*(1 - p[j])*y[j])/Sum(exp(k*(1 - p[i])*y[i]), (i, 1, n)) + p[j]
    >>> it.shift, it.init, it.count, it.count_default
    ('min', 0, 'top', 2)
    """
    y, p = sp.IndexedBase("y", real=True), sp.IndexedBase("p", real=True)

    def h(m):
        return k * (1 - p[m]) * y[m]

    step = p[j] + sp.exp(h(j)) / sp.Sum(sp.exp(h(i)), (i, 1, n))
    return Iteration(
        step,
        data=y,
        state=p,
        subscript=j,
        index=i,
        size=n,
        init=0,
        shift="min",
        count="top",
        count_default=top,
    )


def _top_valid(top: int, size: int):
    def valid(point) -> bool:
        ranked = sorted(_values(point), reverse=True)
        return int(point[n]) == size and len(set(ranked[: top + 1])) == top + 1

    return valid


def _top_samples(size: int):
    def samples(rng, count: int) -> list[dict]:
        points = []
        for m in range(count):
            kv = float((0.5, 1, 3, 10, 1e3)[m % 5])
            values = list(rng.normal(0, 3, size) / kv)
            if m % 9 == 8:
                values[1] = values[0]  # a tie (invalid when it sits at the top-k boundary)
            points.append({n: size, X: values, k: kv, j: int(rng.integers(1, size + 1))})
        return points

    return samples


def soft_k_max_record(top: int = 2, size: int = 5) -> Smoothing:
    r"""Record of soft-``top``-max over ``size`` entries, element ``j`` [A2, item 6].

    The recursion is an algorithm: the record carries it as data in ``iteration``
    (:func:`soft_k_max_iteration`, any row length; kernels are generated from it), and its
    closed forms are built for a concrete ``top`` and ``size``: ``expr`` is the unrolled
    recursion (``sum_m [j = m] p_m``) and the target is
    the hard top-``top`` indicator ``[#{i: x_i > x_j} < top]``.  Valid when the ``top + 1``
    largest entries are distinct.  Only piecewise smooth (the ``x - min(x)`` shift has kinks
    where the minimum switches).  No bound: entries can exceed 1 (soft-2-max([0, 100,
    100.5]) = [0, 1.3775, 0.6225]).

    Examples
    --------
    >>> from symsmooth.verification.claims import value  # evaluate(), with Min expanded cheaply
    >>> r = soft_k_max_record(2, 5)
    >>> point = {n: 5, X: [2, 1, 4, 5, 3], k: 1}
    >>> [round(float(value(r.expr, {**point, j: m})), 6) for m in range(1, 6)]
    [0.141024, 0.053175, 0.647255, 0.814181, 0.344366]
    >>> [int(value(r.target, {**point, j: m})) for m in range(1, 6)]
    [0, 0, 1, 1, 0]
    """
    vector = soft_k_max_vector(top, size)
    larger = sp.Sum(sp.Heaviside(X[i] - X[j], 0), (i, 1, n))
    return Smoothing(
        name="soft_k_max",
        target=sp.Heaviside(top - sp.Rational(1, 2) - larger, 0),
        expr=sp.Add(*[sp.KroneckerDelta(j, m) * pm for m, pm in enumerate(vector, start=1)]),
        variables=(X,),
        param=k,
        limit=sp.oo,
        bound=None,
        source=f"{A2}, item 6 (recursive soft-k-max)",
        domain=(
            f"built for top = {top}, n = {size}; valid when the {top + 1} largest entries are "
            "distinct. Sum of entries is exactly top, but entries can exceed 1 "
            "(soft-2-max([0, 100, 100.5]) = [0, 1.3775, 0.6225]); no bound"
        ),
        kind="reduction",
        size=n,
        index=i,
        fixed=((n, size),),
        samples=_top_samples(size),
        valid=_top_valid(top, size),
        description=f"element j of the recursive soft-{top}-max of {size} entries",
        iteration=soft_k_max_iteration(top),
    )


@entry("soft_k_max")
def soft_k_max() -> Smoothing:
    """Soft-2-max over 5 entries; see :func:`soft_k_max_record` for other sizes.

    Examples
    --------
    >>> soft_k_max().fixed
    ((n, 5),)
    """
    return soft_k_max_record(2, 5)
