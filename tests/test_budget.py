"""symsmooth.budget: per-stage deadlines, their nesting and configuration, and the conversion of
SymPy's give-ups (recursion, not implemented, decimal errors) into a clean BudgetError."""

from __future__ import annotations

import decimal
import signal
import time

import pytest
import sympy as sp

from symsmooth import budget
from symsmooth.errors import BudgetError, SymsmoothError


@pytest.fixture(autouse=True)
def _default_deadline(monkeypatch):
    monkeypatch.delenv("SYMSMOOTH_DEADLINE", raising=False)
    budget.set_deadline(None)
    yield
    budget.set_deadline(None)


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_expiry_names_the_stage_and_the_remedy():
    start = time.monotonic()
    with pytest.raises(BudgetError) as info:
        with budget.deadline("convolve", 0.2):
            _spin(5)
    assert time.monotonic() - start < 2
    assert info.value.stage == "convolve"
    assert "stopped after 0.2 s" in str(info.value)
    assert "SYMSMOOTH_DEADLINE" in str(info.value)


def test_inner_deadline_never_extends_the_outer_one():
    start = time.monotonic()
    with pytest.raises(BudgetError) as info:
        with budget.deadline("outer", 0.3):
            with budget.deadline("inner", 30):
                _spin(5)
    assert time.monotonic() - start < 2
    assert info.value.stage == "outer"  # the outer one expired: it reports, not the inner


def test_inner_deadline_expiring_first_reports_itself_and_outer_continues():
    with budget.deadline("outer", 10):
        with pytest.raises(BudgetError) as info:
            with budget.deadline("inner", 0.2):
                _spin(5)
        assert info.value.stage == "inner"
        _spin(0.3)  # the outer alarm is still armed for its own (later) expiry: no error here
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0  # nothing left armed afterwards


def test_set_deadline_and_environment(monkeypatch):
    assert budget.stage_seconds() == budget.DEFAULT_SECONDS
    monkeypatch.setenv("SYMSMOOTH_DEADLINE", "7.5")
    assert budget.stage_seconds() == 7.5
    monkeypatch.setenv("SYMSMOOTH_DEADLINE", "off")
    assert budget.stage_seconds() is None
    budget.set_deadline(2)  # the process setting wins over the environment
    assert budget.stage_seconds() == 2
    budget.set_deadline(0)
    assert budget.stage_seconds() is None
    budget.set_deadline(None)
    monkeypatch.setenv("SYMSMOOTH_DEADLINE", "soon")
    with pytest.raises(BudgetError, match="not a number of seconds"):
        budget.stage_seconds()
    with pytest.raises(BudgetError, match=">= 0"):
        budget.set_deadline(-1)


def test_environment_deadline_applies_to_a_stage(monkeypatch):
    monkeypatch.setenv("SYMSMOOTH_DEADLINE", "0.2")
    start = time.monotonic()
    with pytest.raises(BudgetError, match="stopped after 0.2 s"):
        with budget.deadline("stabilize"):
            _spin(5)
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(
    "error, words",
    [
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (NotImplementedError("sorted roots not supported over ZZ[pi]"), "SymPy cannot do this"),
        (decimal.InvalidOperation(), "out of range"),
        (decimal.Overflow(), "out of range"),
        (MemoryError(), "too large for memory"),
    ],
)
def test_sympy_give_ups_become_budget_errors(error, words):
    with pytest.raises(BudgetError, match=words) as info:
        with budget.deadline("derive", 5):
            raise error
    assert info.value.stage == "derive"
    assert isinstance(info.value, SymsmoothError)  # the CLI prints it and exits 2


def test_real_decimal_error_from_sympy_is_converted():
    # erfc(1e10) is a Float of about 10**(-4.3e19); formatting it raises InvalidOperation
    tiny = sp.erfc(sp.Float(1e10))
    with pytest.raises(BudgetError, match="out of range"):
        with budget.deadline("demo", 5):
            format(tiny, "")


def test_other_errors_pass_through_unchanged():
    with pytest.raises(KeyError):
        with budget.deadline("demo", 5):
            raise KeyError("x")


def test_decorator_and_result():
    @budget.budgeted("demo")
    def add(a, b):
        return a + b

    assert add(2, 3) == 5
    assert add.__name__ == "add"


def test_an_outer_alarm_is_rearmed_afterwards():
    """A test-timeout plugin's alarm (someone else's SIGALRM) survives a stage."""
    fired = []

    def outer_handler(signum, frame):
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, outer_handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        with budget.deadline("demo", 5):
            _spin(0.1)
        assert signal.getsignal(signal.SIGALRM) is outer_handler
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 0 < left < 1.0
        _spin(left + 0.2)
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_deadline_firing_inside_a_gc_callback_is_not_lost():
    # JAX registers a gc callback; a deadline that fires while one runs must not raise there
    # (Python swallows it: "Exception ignored in ...", and the deadline would never stop the
    # stage; inside ast.parse it broke the compiler: SystemError) but fire again after it
    import gc

    calls = []

    def slow_callback(phase, info):
        if phase == "start" and not calls:
            calls.append(phase)
            _spin(0.4)  # the 0.1 s deadline fires in here

    gc.callbacks.append(slow_callback)
    try:
        with pytest.raises(BudgetError) as info:  # without the retry: no error, the spin ends
            with budget.deadline("parse", 0.1):
                gc.collect()
                _spin(5)
        assert calls == ["start"]
        assert info.value.stage == "parse"
    finally:
        gc.callbacks.remove(slow_callback)
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
