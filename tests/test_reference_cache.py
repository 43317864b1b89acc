"""The reference cache cannot lie: every tampered entry is detected and recomputed, and the
report equals the untampered one; a report never says ok having compared fewer points than it
was asked to; references never execute a symbol's name; non-real references expect NaN.

The kernels measured here are NumPy stand-ins for generated modules (``measure`` only needs
callables named like a generated module's), so no Numba compile is needed.
"""

from __future__ import annotations

import builtins
import json
import types
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

from symsmooth import pipeline
from symsmooth.errors import VerificationError
from symsmooth.functions import softplus
from symsmooth.text.formula import parse
from symsmooth.verification import points
from symsmooth.verification.cache import (
    NOT_REAL,
    Coverage,
    ReferenceCache,
    ReferenceCacheWarning,
    _checksum,
)
from symsmooth.verification.exact import ElementwiseReference
from symsmooth.verification.kernels import MeasureOptionError, measure
from symsmooth.verification.reference import evaluate, safe_lambdify
from symsmooth.verification.report import Report, ReportRow

PER_REGIME = 6
DTYPES = (np.float64,)


def _softplus_module(spec):
    """softplus(k x) / k and its derivative in NumPy, named like the generated module."""

    def value(x, k):
        return np.logaddexp(0, k * x) / k

    def grad(x, k):
        return np.exp(-np.logaddexp(0, -k * x))

    def grad_k(x, k):  # d/dk softplus(k x)/k = (x sigmoid(k x) - softplus(k x)/k)/k
        return (x * grad(x, k) - value(x, k)) / k

    return types.SimpleNamespace(
        **{spec.name: value, f"{spec.name}_grad_x": grad, f"{spec.name}_grad_k": grad_k}
    )


@pytest.fixture(scope="module")
def softplus_kernel():
    spec = pipeline.kernel_spec("softplus")
    return spec, _softplus_module(spec)


@pytest.fixture(autouse=True)
def _fresh_warning_budget(monkeypatch):
    monkeypatch.setattr(ReferenceCache, "warnings_shown", 0)


@pytest.fixture(scope="module")
def baseline(softplus_kernel):
    """The untampered report, with no cache at all."""
    spec, module = softplus_kernel
    return measure(spec, module, per_regime=PER_REGIME, dtypes=DTYPES, cache=ReferenceCache(None))


def _entries(folder):
    return sorted(folder.rglob("*.json"))


def _recompute_checksum(entry: dict) -> dict:
    entry["checksum"] = _checksum(entry["covers"], entry["values"])
    return entry


def _drop_last(entry):
    entry["values"] = entry["values"][:-1]
    return json.dumps(entry)


def _drop_last_consistently(entry):
    """Shortened with count and checksum updated: a well-formed entry for fewer points."""
    entry["values"] = entry["values"][:-1]
    entry["covers"]["count"] -= 1
    return json.dumps(_recompute_checksum(entry))


def _flip_value(entry):
    """One mantissa changed, checksum left as it was."""
    first = next(v for v in entry["values"] if isinstance(v, list) and v[1] != "0")
    first[1] = format(int(first[1], 16) ^ 0b10, "x")
    return json.dumps(entry)


def _flip_value_and_checksum(entry):
    """A forged value whose checksum was recomputed but whose encoding is not a number."""
    entry["values"][0] = ["evil", "0", "0", 0]
    return json.dumps(_recompute_checksum(entry))


def _other_inputs(entry):
    """The coverage of other points (inputs hash changed), checksum recomputed."""
    entry["covers"]["inputs"] = "0" * 64
    return json.dumps(_recompute_checksum(entry))


def _huge_mantissa(entry):
    entry["values"][0] = [0, "f" * 100_001, "0", 400_004]
    return json.dumps(_recompute_checksum(entry))


TAMPER = {
    "replaced by []": lambda entry: "[]",
    "replaced by {}": lambda entry: "{}",
    "shortened": _drop_last,
    "shortened, count and checksum updated": _drop_last_consistently,
    "corrupt JSON": lambda entry: json.dumps(entry)[: len(json.dumps(entry)) // 2],
    "not UTF-8": lambda entry: b"\xff\xfe\x00garbage",
    "value flipped, checksum kept": _flip_value,
    "value not a number, checksum updated": _flip_value_and_checksum,
    "made for other inputs": _other_inputs,
    "old format (a bare list)": lambda entry: json.dumps(entry["values"]),
    "huge mantissa": _huge_mantissa,
    "format 3": lambda entry: json.dumps({**entry, "format": 3}),
}


@pytest.mark.parametrize("how", list(TAMPER))
def test_a_tampered_entry_is_detected_recomputed_and_reported_as_before(
    how, tmp_path, softplus_kernel, baseline, monkeypatch
):
    spec, module = softplus_kernel
    store = ReferenceCache(tmp_path / "refs")
    first = measure(spec, module, per_regime=PER_REGIME, dtypes=DTYPES, cache=store)
    assert first.rows == baseline.rows
    files = _entries(tmp_path / "refs")
    assert len(files) == 6 * 3  # regimes x (value, grad_x, grad_k)
    for path in files:  # every entry tampered: nothing may be read from the cache
        text = TAMPER[how](json.loads(path.read_text()))
        (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    calls = []
    original = points._point_references
    monkeypatch.setattr(points, "_point_references", lambda *a: calls.append(1) or original(*a))
    with pytest.warns(ReferenceCacheWarning) as caught:
        again = measure(spec, module, per_regime=PER_REGIME, dtypes=DTYPES, cache=store)
    assert again.rows == baseline.rows  # same ulp results, every point compared
    assert len(calls) == len(files)  # each one recomputed
    message = str(caught[0].message)
    assert str(tmp_path / "refs") in message and "delete" in message and "\n" not in message
    # the recomputed entries are good again: a third run reads them all, silently
    monkeypatch.setattr(points, "ElementwiseReference", None)  # would fail if called
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReferenceCacheWarning)
        third = measure(spec, module, per_regime=PER_REGIME, dtypes=DTYPES, cache=store)
    assert third.rows == baseline.rows


def test_an_entry_copied_under_another_key_is_refused(tmp_path, softplus_kernel, baseline):
    """Two regimes' entries swapped: each names its own key and inputs, so both are refused."""
    spec, module = softplus_kernel
    store = ReferenceCache(tmp_path / "refs")
    measure(spec, module, per_regime=PER_REGIME, dtypes=DTYPES, cache=store)
    a, b = _entries(tmp_path / "refs")[:2]
    text_a, text_b = a.read_text(), b.read_text()
    a.write_text(text_b)
    b.write_text(text_a)
    with pytest.warns(ReferenceCacheWarning, match="other points"):
        again = measure(spec, module, per_regime=PER_REGIME, dtypes=DTYPES, cache=store)
    assert again.rows == baseline.rows


def test_warnings_are_capped_per_process(tmp_path):
    store = ReferenceCache(tmp_path)
    covers = Coverage("demo", "e", "i", 1)
    for j in range(30):
        key = store.key("demo", j)
        store._path(key).parent.mkdir(parents=True, exist_ok=True)
        store._path(key).write_text("[]")
    with pytest.warns(ReferenceCacheWarning) as caught:
        for j in range(30):
            assert store.lookup(store.key("demo", j), lambda j=j: [mpmath.mpf(j)], covers) == [j]
    assert len(caught) == 10


def test_round_trip_keeps_special_values_and_markers(tmp_path):
    store = ReferenceCache(tmp_path)
    values = [
        mpmath.mpf(1) / 3,
        -mpmath.inf,
        mpmath.inf,
        mpmath.mpf(0),
        mpmath.mpf(2) ** -5000,
        None,
        NOT_REAL,
    ]
    covers = Coverage("demo", "e", "i", len(values))
    key = store.key("demo")
    store.put(key, values, covers)
    assert store.get(key, covers) == values
    with pytest.warns(ReferenceCacheWarning, match="other points"):
        assert store.get(key, Coverage("demo", "e", "i", len(values) - 1)) is None
    assert not list(tmp_path.rglob(".tmp-*"))  # the temporary file was renamed


def test_a_failing_write_leaves_the_previous_entry(tmp_path, monkeypatch):
    """The entry is written to a temporary file and renamed: a writer failing in between
    leaves the old entry intact (and no temporary file)."""
    import os

    store = ReferenceCache(tmp_path)
    covers = Coverage("demo", "e", "i", 1)
    key = store.key("demo")
    store.put(key, [mpmath.mpf(1)], covers)

    def crash(*args):
        raise OSError("killed between write and replace")

    monkeypatch.setattr(os, "replace", crash)
    store.put(key, [mpmath.mpf(2)], covers)
    assert store.get(key, covers) == [1]
    assert {p.name for p in tmp_path.rglob("*")} == {key[:2], f"{key}.json"}


def test_a_cache_that_returns_too_few_references_cannot_report(softplus_kernel):
    """Even a buggy cache object cannot make measure compare fewer points than requested."""
    spec, module = softplus_kernel

    class Short(ReferenceCache):
        def lookup(self, key, compute, covers):
            return list(compute())[:-1]

    with pytest.raises(VerificationError, match="partial comparison"):
        measure(spec, module, per_regime=PER_REGIME, dtypes=DTYPES, cache=Short(None))


def test_rows_that_compared_fewer_points_are_never_ok():
    full = ReportRow("f", "value", "float64", "tiny", 48, 0.0, 0.0, 1.0, requested=48)
    skipped = ReportRow("f", "value", "float64", "huge", 40, 0.0, 0.0, 1.0, 48, skipped=8)
    nothing = ReportRow("f", "value", "float64", "tiny", 0, 0.0, 0.0, 1.0, requested=48)
    short = ReportRow("f", "value", "float64", "tiny", 47, 0.0, 0.0, 1.0, requested=48)
    assert full.ok and skipped.ok
    assert not nothing.ok and not short.ok
    report = Report("f", "elementwise", (full, short))
    assert not report.ok and report.incomplete() == (short,)
    assert "95/96 points compared" in report.summary()
    assert "1 row(s) compared fewer points than requested" in report.summary()
    assert not Report("f", "elementwise", ()).ok
    assert "nothing compared" in Report("f", "elementwise", ()).summary()


def test_report_counts_every_point_of_every_regime(softplus_kernel, baseline):
    from symsmooth.verification.grids import elementwise_grid

    sizes = {k: v.size for k, v in elementwise_grid(np.float64, PER_REGIME).items()}
    for row in baseline.rows:
        assert row.requested == sizes[row.regime] == row.count
    assert baseline.incomplete() == ()
    parts = 3  # value, grad_x, grad_k
    total = sum(sizes.values()) * parts
    assert f"{total}/{total} points" in baseline.summary()


@pytest.mark.parametrize("per_regime", [0, -1, 3, 2.5, True])
def test_per_regime_below_four_is_refused(per_regime, softplus_kernel):
    spec, module = softplus_kernel
    with pytest.raises(MeasureOptionError, match="at least 4"):
        measure(spec, module, per_regime=per_regime, cache=ReferenceCache(None))


# -- outside the real domain: log(x) at negative x ----------------------------------------


def _log_kernel(value):
    spec = pipeline.spec_from_expression(parse("log(x)"), "lg")
    return spec, types.SimpleNamespace(lg=value, lg_grad_x=lambda x: 1.0 / x)


def test_log_of_negative_samples_expects_nan():
    """log(x) on grids of both signs: the negative points have no real value; a kernel that
    returns NaN there passes, with the points counted and named in the regime label."""
    from symsmooth.verification.grids import elementwise_grid

    negative = int(np.sum(elementwise_grid(np.float64, 8)["moderate"] < 0))
    spec, module = _log_kernel(np.log)
    report = measure(spec, module, per_regime=8, dtypes=DTYPES, cache=ReferenceCache(None))
    moderate = next(r for r in report.rows if r.part == "value" and "moderate" in r.regime)
    assert 0 < negative < 8
    assert moderate.regime == f"moderate ({negative} outside the real domain: NaN expected)"
    assert moderate.count == moderate.requested == 8
    assert report.ok
    grad = next(r for r in report.rows if r.part == "grad_x" and r.regime.startswith("moderate"))
    assert grad.regime == "moderate"  # 1/x is real at negative x


def test_a_kernel_inventing_values_outside_the_domain_fails():
    spec, module = _log_kernel(lambda x: np.log(np.abs(x)))
    report = measure(spec, module, per_regime=8, dtypes=DTYPES, cache=ReferenceCache(None))
    assert not report.ok
    assert report.worst("value", "float64") == np.inf


def test_exact_reference_marks_non_real_values():
    x = sp.Symbol("x")
    ref = ElementwiseReference(sp.log(x), (x,), ())
    assert ref.value([-1.0]) is NOT_REAL
    assert ref.value([0.0]) == -mpmath.inf
    with mpmath.workdps(60):
        assert abs(ref.value([2.0]) - mpmath.log(2)) < mpmath.log(2) * 2.0**-64


# -- names are never code ------------------------------------------------------------------

HOSTILE = "__import__('builtins').setattr(__import__('builtins'), 'SYMSMOOTH_PWNED', 1) or x"


@pytest.fixture
def recorder(monkeypatch):
    """Fails the test if a name executes: no os.system, no marker on builtins."""
    import os

    def refuse(*args, **kwargs):
        raise AssertionError(f"executed: os.system{args}")

    monkeypatch.setattr(os, "system", refuse)
    yield
    assert not hasattr(builtins, "SYMSMOOTH_PWNED"), "a symbol name ran as code"


@pytest.mark.parametrize(
    "name", [HOSTILE, "x; import os", "lambda", "exp", "_ref_arg1", "x y", "1x"]
)
def test_hostile_argument_names_evaluate_correctly(name, recorder):
    """Arguments with any name are evaluated as the numbers they are given."""
    x, k = sp.Symbol(name), sp.Symbol("k")
    ref = ElementwiseReference(softplus(k * x) / k, (x,), (k,))
    with mpmath.workdps(40):
        expect = mpmath.log1p(mpmath.exp(mpmath.mpf(3))) / 1.5
    assert abs(ref.value([2.0, 1.5]) - expect) < mpmath.mpf(10) ** -30
    assert abs(evaluate(2 * x + 1, {x: 4.0}) - 9) < 1e-40


@pytest.mark.parametrize("name", [HOSTILE, "x; import os", "lambda", "_ref_arg0"])
def test_hostile_free_symbol_is_refused_not_printed(name, recorder):
    """A symbol that is not an argument would be printed into the lambdified source: refused."""
    x, free = sp.Symbol("x"), sp.Symbol(name)
    with pytest.raises(ValueError, match="cannot evaluate a symbol named"):
        safe_lambdify([x], x + free, "mpmath")
    with pytest.raises(ValueError):
        ElementwiseReference(x * free, (x,), ())


def test_hostile_function_name_is_refused(recorder):
    x = sp.Symbol("x")
    evil = sp.Function("__import__('os').system")
    with pytest.raises(ValueError, match="cannot evaluate a function named"):
        safe_lambdify([x], evil(x), "mpmath")
