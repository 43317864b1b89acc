r"""The base class of every stable primitive, and the one registry it fills by subclassing.

A stable primitive is a :class:`sympy.Function` subclass of :class:`StablePrimitive` that
declares, as class attributes, everything the layers above it need:

* ``runtime_helper``: the name of its scalar function in :mod:`symsmooth.runtime` without the
  leading underscore (``"softplus"`` for ``_softplus``; ``"logsumexp{arity}"`` is formatted
  with the number of arguments; ``None`` where the printer writes a ``math`` function, as
  ``hypot`` prints ``math.hypot``);
* ``numpy_impl`` and ``mpmath_impl``: its stable NumPy implementation (broadcasting, used by
  ``lambdify(..., "numpy")``) and its mpmath implementation at the current working precision
  (used by ``evalf`` and the verification references).

An optional ``math_impl`` (a scalar ``math`` implementation) joins :data:`MATH_MODULE`.

Defining the class registers it (``__init_subclass__``) in :data:`PRIMITIVES`, and its
implementations in :data:`NUMPY_MODULE`, :data:`MPMATH_MODULE`, :data:`MATH_MODULE` and
:data:`RUNTIME_HELPERS`: no
module mutates a table of another, and the parser, the record reader, the printer and the
references read these. An intermediate base class says ``_abstract = True`` and is not
registered; a concrete class that forgets an attribute fails when it is defined, and looking up
an unknown name raises :class:`UnknownPrimitiveError` saying how to add one.

This module imports nothing from symsmooth but :mod:`symsmooth.errors`.

Examples
--------
>>> import sympy as sp
>>> import symsmooth.functions  # defines (and so registers) the built-in primitives
>>> PRIMITIVES["softplus"].runtime_helper, MPMATH_MODULE["softplus"].__name__
('softplus', 'mp_softplus')
>>> PRIMITIVES["softmin"]
Traceback (most recent call last):
...
symsmooth.functions.base.UnknownPrimitiveError: unknown stable primitive 'softmin'; ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import mpmath
import sympy as sp
from mpmath.libmp import prec_to_dps
from sympy.core.function import ArgumentIndexError

from symsmooth.errors import SymsmoothError

_REFINEMENTS = 6
"""Precision doublings tried by ``evalf`` before it returns the last value."""

_DECLARED = ("runtime_helper", "numpy_impl", "mpmath_impl")
"""The class attributes every registered primitive declares in its own body."""


class UnknownPrimitiveError(SymsmoothError, KeyError):
    """A name that no registered stable primitive has."""

    def __init__(self, name: str, known):
        super().__init__(
            f"unknown stable primitive {name!r}; known: {', '.join(sorted(known))}. To add one, "
            "subclass symsmooth.functions.base.StablePrimitive and declare runtime_helper (its "
            "function in symsmooth/runtime/), numpy_impl and mpmath_impl"
        )

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


_CHANGES = [0]
"""How many times a registry table has changed (the key of every :class:`LiveTable` cache)."""


class RegistryTable(dict):
    """A registry's ``name -> value`` table: a plain ``dict`` (``lambdify`` accepts it as a
    module namespace) that counts its changes, so views built from it know when to rebuild."""

    def __setitem__(self, name, value):
        _CHANGES[0] += 1
        super().__setitem__(name, value)

    def __delitem__(self, name):
        _CHANGES[0] += 1
        super().__delitem__(name)

    def pop(self, *args):
        _CHANGES[0] += 1
        return super().pop(*args)


class _Table(RegistryTable):
    """A primitive registry's table that refuses unknown names with an instruction."""

    def __missing__(self, name):
        raise UnknownPrimitiveError(name, PRIMITIVES)


PRIMITIVES: dict[str, type[StablePrimitive]] = _Table()
"""Name -> class of every registered stable primitive, in definition order."""
NUMPY_MODULE: dict[str, Callable[..., Any]] = _Table()
"""Name -> stable NumPy implementation (``lambdify(..., [NUMPY_MODULE, "numpy"])``)."""
MPMATH_MODULE: dict[str, Callable[..., Any]] = _Table()
"""Name -> mpmath implementation (``lambdify(..., [MPMATH_MODULE, "mpmath"])``)."""
RUNTIME_HELPERS: dict[str, str] = _Table()
"""Name -> runtime helper name (primitives that print as a runtime function call only)."""
MATH_MODULE: dict[str, Callable[..., Any]] = _Table()
"""Name -> stable scalar ``math`` implementation, for the primitives that declare one
(``math_impl``; ``lambdify(..., [MATH_MODULE, "math"])``)."""


class LiveTable(Mapping):
    """A read-only ``name -> value`` view that ``build()`` recomputes from the registries
    whenever one of their tables (:class:`RegistryTable`) has changed since the last lookup, so
    a table of a layer above (the parser's functions, the printer's helpers) sees a primitive
    registered after it was imported.

    Examples
    --------
    >>> seen = RegistryTable()
    >>> view = LiveTable(lambda: dict(seen))
    >>> "a" in view
    False
    >>> seen["a"] = 1
    >>> view["a"], list(view), "b" in view
    (1, ['a'], False)
    """

    def __init__(self, build: Callable[[], dict]):
        self._build = build
        self._cache: tuple[int, dict] = (-1, {})

    def snapshot(self) -> dict:
        """The table as it is now (rebuilt only after a registry changed)."""
        changes, table = self._cache
        if changes != _CHANGES[0]:
            changes, table = _CHANGES[0], self._build()
            self._cache = (changes, table)
        return table

    def __getitem__(self, name: str):
        return self.snapshot()[name]

    def __contains__(self, name: object) -> bool:
        return name in self.snapshot()

    def __iter__(self) -> Iterator[str]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        return len(self.snapshot())

    def __repr__(self) -> str:
        return f"LiveTable({self.snapshot()!r})"


def _register(cls: type[StablePrimitive]) -> None:
    missing = [a for a in _DECLARED if a not in cls.__dict__]
    if missing:
        raise TypeError(
            f"stable primitive {cls.__name__} does not declare {', '.join(missing)}; declare "
            "them in its class body (or set _abstract = True on an intermediate base class)"
        )
    name = cls.__name__
    old = PRIMITIVES.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise TypeError(
            f"two stable primitives are named {name!r}: {old.__module__}, {cls.__module__}"
        )
    PRIMITIVES[name] = cls
    NUMPY_MODULE[name] = cls.numpy_impl
    MPMATH_MODULE[name] = cls.mpmath_impl
    if cls.runtime_helper is not None:
        RUNTIME_HELPERS[name] = cls.runtime_helper
    else:
        RUNTIME_HELPERS.pop(name, None)
    if cls.__dict__.get("math_impl") is not None:
        MATH_MODULE[name] = cls.math_impl
    else:
        MATH_MODULE.pop(name, None)


def _mp(arg: sp.Expr, prec: int) -> mpmath.mpf | None:
    """``arg`` as a real mpmath number at binary precision ``prec`` (None if not real)."""
    value = arg.evalf(prec_to_dps(prec) + 2)
    if not value.is_Number or value is sp.S.ComplexInfinity:
        return None
    return mpmath.mpf(value._to_mpmath(prec))


def _agree(a: mpmath.mpf, b: mpmath.mpf, prec: int) -> bool:
    """True when ``a`` and ``b`` agree to ``prec`` bits (or are the same special value)."""
    if a == b or (mpmath.isnan(a) and mpmath.isnan(b)):
        return True
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
        return False
    return abs(a - b) <= abs(b) * mpmath.ldexp(1, -prec - 4)


def _one_arg(fn: sp.Function, argindex: int) -> sp.Expr:
    if argindex != 1:
        raise ArgumentIndexError(fn, argindex)
    return fn.args[0]


class StablePrimitive(sp.Function):
    """Base class: registration, naive rewrite, adaptive mpmath evalf, printing, lambdify hooks.

    Subclasses declare ``runtime_helper``, ``numpy_impl`` and ``mpmath_impl`` (see the module
    docstring) and implement ``_naive``.
    """

    _abstract = True
    latex_name: str = ""
    pretty_name: str = ""
    runtime_helper: str | None = None
    numpy_impl: Callable[..., Any]
    mpmath_impl: Callable[..., Any]
    math_impl: Callable[..., Any] | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for attr in ("numpy_impl", "mpmath_impl", "math_impl"):
            impl = cls.__dict__.get(attr)
            if impl is not None and not isinstance(impl, staticmethod):
                setattr(cls, attr, staticmethod(impl))  # a function, not a method
        if not cls.__dict__.get("_abstract", False):
            _register(cls)

    def _naive(self, *args) -> sp.Expr:  # pragma: no cover - abstract
        raise NotImplementedError

    def _eval_rewrite_as_naive(self, *args, **kwargs) -> sp.Expr:
        return self._naive(*args)

    def _eval_rewrite_as_exp(self, *args, **kwargs) -> sp.Expr:
        return self._naive(*args)

    def _eval_rewrite_as_log(self, *args, **kwargs) -> sp.Expr:
        return self._naive(*args)

    def _value(self, wp: int) -> mpmath.mpf | None:
        with mpmath.workprec(wp):
            values = [_mp(a, wp) for a in self.args]
            if any(v is None for v in values):
                return None
            return mpmath.mpf(type(self).mpmath_impl(*values))

    def _eval_evalf(self, prec: int):
        previous, wp = None, prec + 20
        for _ in range(_REFINEMENTS):
            current = self._value(wp)
            if current is None:
                return None
            if previous is not None and _agree(previous, current, prec):
                break
            previous, wp = current, 2 * wp
        return sp.Float._new(current._mpf_, prec)

    def _eval_is_extended_real(self):
        return all(a.is_extended_real for a in self.args) or None

    def _eval_is_finite(self):
        return all(a.is_real for a in self.args) or None

    def _latex(self, printer, exp=None):
        name = self.latex_name or rf"\operatorname{{{type(self).__name__}}}"
        args = ", ".join(printer._print(a) for a in self.args)
        tex = rf"{name}\left({args}\right)"
        return rf"{tex}^{{{exp}}}" if exp else tex

    def _pretty(self, printer):
        name = self.pretty_name if printer._use_unicode and self.pretty_name else None
        return printer._print_Function(self, func_name=name or type(self).__name__)

    def _call(self, printer, impl) -> str:
        args = ", ".join(printer._print(a) for a in self.args)
        return f"{printer._module_format(f'{impl.__module__}.{impl.__name__}')}({args})"

    def _numpycode(self, printer) -> str:
        return self._call(printer, type(self).numpy_impl)

    _scipycode = _numpycode

    def _mpmathcode(self, printer) -> str:
        return self._call(printer, type(self).mpmath_impl)
