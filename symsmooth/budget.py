"""Deadlines for the symbolic stages: a clean error instead of a hang or a traceback.

SymPy can take minutes (or forever) on short inputs: ``Max(x, sigmoid(-exp(9999)))`` compares
numbers with thousands of digits, a 40-piece ``Piecewise`` recurses past Python's limit, and
``erfc(1e10)`` raises ``decimal.InvalidOperation`` from deep inside ``evalf``.  Every symbolic
stage (parse, simplify, convolve, stabilize, derive, gen) therefore runs inside
:func:`deadline`, which turns

* running past the stage's time limit,
* :class:`RecursionError`, :class:`NotImplementedError`, :class:`MemoryError`,
* :mod:`decimal` errors (``InvalidOperation``, ``Overflow``),

into one :class:`~symsmooth.errors.BudgetError` naming the stage and what to try (the CLI
prints it and exits 2).  Deadlines nest: an inner stage never extends an outer one.

The limit is :data:`DEFAULT_SECONDS` per stage, or ``$SYMSMOOTH_DEADLINE`` (seconds; ``0`` or
``off``: no limit), or what :func:`set_deadline` set.  It is enforced with ``SIGALRM``
(``setitimer``), so only in the main thread of a process on POSIX systems; elsewhere the stage
runs without a time limit (the error conversions still apply).

Examples
--------
>>> import sympy as sp
>>> with deadline("simplify", 5):
...     sp.simplify(sp.sin(sp.Symbol("x")) ** 2 + sp.cos(sp.Symbol("x")) ** 2)
1
>>> try:
...     with deadline("demo", 5):
...         raise RecursionError("maximum recursion depth exceeded")
... except BudgetError as exc:
...     print(str(exc)[:60])
demo: the expression is nested too deeply for SymPy (maximum
"""

from __future__ import annotations

import decimal
import functools
import gc
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from symsmooth.errors import BudgetError

DEFAULT_SECONDS = 20.0
"""Default time limit of one symbolic stage, in seconds (the slowest catalog entry's slowest
stage takes about 3 s on a loaded 2-core machine)."""

_ENV = "SYMSMOOTH_DEADLINE"
_override: float | None = None
_active: list[float] = []  # absolute expiry times (time.monotonic) of the open deadlines

F = TypeVar("F", bound=Callable)


class _Expired(BaseException):
    """Raised by the alarm; a BaseException so SymPy's ``except Exception`` cannot swallow it."""


def stage_seconds() -> float | None:
    """The time limit of one stage now (``None``: no limit).

    Examples
    --------
    >>> previous = set_deadline(3.5)
    >>> stage_seconds()
    3.5
    >>> _ = set_deadline(previous)
    """
    if _override is not None:
        return _override if _override > 0 else None
    text = os.environ.get(_ENV, "").strip().lower()
    if not text:
        return DEFAULT_SECONDS
    if text in ("off", "none", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise BudgetError(
            "configuration", f"${_ENV}={text!r} is not a number of seconds (or 'off')"
        ) from None
    return value if value > 0 else None


def set_deadline(seconds: float | None) -> float | None:
    """Set the per-stage time limit for this process (``None``: back to the default or
    ``$SYMSMOOTH_DEADLINE``; ``0``: no limit).  Returns the setting it replaced, so a caller
    can restore it.

    Examples
    --------
    >>> previous = set_deadline(2.0)
    >>> stage_seconds()
    2.0
    >>> set_deadline(previous)
    2.0
    """
    global _override
    if seconds is not None and not seconds >= 0:
        raise BudgetError("configuration", f"a deadline is a number of seconds >= 0, not {seconds}")
    previous, _override = _override, seconds
    return previous


def configured() -> float | None:
    """What :func:`set_deadline` set for this process (``None``: nothing set)."""
    return _override


def can_time() -> bool:
    """Whether :func:`deadline` can enforce a time limit here (SIGALRM, main thread)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def remaining() -> float:
    """Seconds left before the soonest enclosing :func:`deadline` expires (``inf`` if none),
    for a stage that can stop early with a partial result (the stabilization search)."""
    return min(_active) - time.monotonic() if _active else math.inf


def _arm(now: float) -> None:
    # a deadline already past has fired: its _Expired is on its way out to it, and arming it
    # again would raise a second one inside the handler that reports the first
    future = [t for t in _active if t > now]
    if future:
        signal.setitimer(signal.ITIMER_REAL, max(min(future) - now, 1e-4))
    else:
        signal.setitimer(signal.ITIMER_REAL, 0)


RETRY_SECONDS = 0.01
"""How soon a deadline that fired inside a garbage-collector callback fires again."""


def _in_gc_callback(frame, depth: int = 32) -> bool:
    """Whether ``frame`` (or one of its ``depth`` callers) runs a :data:`gc.callbacks`
    function: an exception raised there is swallowed ("Exception ignored in ...", and in
    CPython 3.11 it can leave a running ``compile`` in a broken state: ``SystemError: AST
    constructor recursion depth mismatch``)."""
    codes = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    codes.discard(None)
    while frame is not None and depth > 0 and codes:
        if frame.f_code in codes:
            return True
        frame, depth = frame.f_back, depth - 1
    return False


def _expire(signum, frame):
    # JAX (and others) register gc callbacks, which run whenever a collection happens, also
    # inside SymPy or ast.parse: raising there would lose the deadline, so fire again shortly
    if _in_gc_callback(frame):
        signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)
        return
    raise _Expired


_HINTS = {
    RecursionError: "the expression is nested too deeply for SymPy ({exc}); simplify it or "
    "split it into smaller pieces",
    NotImplementedError: "SymPy cannot do this ({exc}); rewrite the expression (for example "
    "with fewer pieces or without this function)",
    MemoryError: "the expression grew too large for memory; simplify it",
    decimal.DecimalException: "a number is out of range for SymPy's evaluation ({exc}); use "
    "smaller constants",
}


@contextmanager
def deadline(stage: str, seconds: float | None = None) -> Iterator[None]:
    """Run the body as symbolic stage ``stage`` under a time limit and error conversions.

    Parameters
    ----------
    stage : str
        Named in the error: ``"parse"``, ``"convolve"``, ``"stabilize"``, ``"gen"``, ...
    seconds : float, optional
        Time limit; default :func:`stage_seconds`.  An enclosing deadline that ends sooner
        still applies.

    Raises
    ------
    BudgetError
        On expiry, or when the body raises one of the errors listed in the module docstring.
    """
    limit = stage_seconds() if seconds is None else (seconds if seconds > 0 else None)
    timed = limit is not None and can_time()
    if timed:
        now = time.monotonic()
        own = now + limit
        outermost = not _active
        if outermost:  # someone else's alarm (a test-timeout plugin): re-armed afterwards
            outer_handler = signal.getsignal(signal.SIGALRM)
            outer_pending = signal.getitimer(signal.ITIMER_REAL)[0]
            signal.signal(signal.SIGALRM, _expire)
        _active.append(own)
        _arm(now)
    try:
        yield
    except _Expired:
        if timed and time.monotonic() >= own - 1e-3:
            raise BudgetError(
                stage,
                f"stopped after {limit:g} s (the deadline of one symbolic stage); simplify the "
                f"input, or raise the limit with ${_ENV}=<seconds> or --deadline",
            ) from None
        raise  # an enclosing deadline expired: it reports
    except BudgetError:
        raise
    except (RecursionError, NotImplementedError, MemoryError, decimal.DecimalException) as exc:
        hint = next(h for cls, h in _HINTS.items() if isinstance(exc, cls))
        raise BudgetError(stage, hint.format(exc=str(exc)[:120] or type(exc).__name__)) from None
    finally:
        if timed:
            _active.remove(own)
            _arm(time.monotonic())
            if outermost:
                signal.signal(signal.SIGALRM, outer_handler or signal.SIG_DFL)
                if outer_pending:
                    left = outer_pending - (time.monotonic() - now)
                    signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))


def budgeted(stage: str) -> Callable[[F], F]:
    """Decorator: run the function under :func:`deadline` ``(stage)``.

    Examples
    --------
    >>> @budgeted("demo")
    ... def deep():
    ...     raise NotImplementedError("no closed form")
    >>> try:
    ...     deep()
    ... except BudgetError as exc:
    ...     print(exc.stage)
    demo
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with deadline(stage):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
