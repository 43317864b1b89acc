"""The public elementwise functions of a generated module: NumPy ufunc semantics at the speed of
the multithreaded SIMD loop.

A generated elementwise module defines, for each function ``f`` (the value and each partial),
the Numba ``@vectorize`` ufunc ``f_ufunc`` (libm-based scalar core; callable from ``@njit``
code; every ufunc method) and the loop ``f_fast`` (the vectorizable twins of the helpers,
within 1 ulp of the ufunc, symsmooth.codegen.fastmath).  The public name ``f`` is a
:class:`_FastUfunc` over the two: a call with NumPy arrays, NumPy or Python scalars, sequences
or dask arrays, and at most ``out=`` (one plain ndarray), runs ``f_fast``; anything else -- the
ufunc keywords ``where=``, ``dtype=``, ``casting=``, ``order=``, ``subok=``, an operand that is
another array library's type (it implements ``__array_ufunc__`` or ``__array__``, and the
ufunc hands it to that protocol) -- runs the ufunc, so nothing a ufunc accepts is refused.
Attributes (``types``, ``nin``, ``reduce``, ``outer``, ``at``, ...) are the ufunc's.

Why a dispatcher and not a ufunc whose loop is the SIMD twin: NumPy calls a ufunc's inner loop
with the broadcast parameter as a stride-0 operand, and Numba's loop over the fast core did not
vectorize (measured on 8M float64, one thread, issue #13: ufunc over the fast core 277-330 ms,
libm ufunc 804-860 ms, the ``_fast`` loop 58 ms; docs/benchmarks.md).

The ufuncs are built on first use (:func:`_ufunc`; the module's ``__getattr__`` is
:func:`_module_getattr`, so ``module.f_ufunc`` and ``from module import f_ufunc`` work): a
``@vectorize`` with signatures compiles every loop when it is created, 2 per function and 3-6
functions per module, seconds on a cold cache (issue #13: first call), while the public names
need only the ``_fast`` loop of the dtype they are called with.

These are copied into generated modules by source (symsmooth.codegen.host), after the other
CPU host helpers; :func:`_is_lazy` is the dask host's.  They read the generated module's
``_UFUNC_SCALARS`` (ufunc name -> its scalar Python function), ``_UFUNC_SIGNATURES`` and
``_UFUNCS`` (the ufuncs built so far); the values below stand for them here.

Examples
--------
>>> import numpy as np
>>> calls = []
>>> fast = lambda x, k, out=None: calls.append("fast") or np.multiply(x, k, out=out)
>>> _UFUNCS["f_ufunc"] = np.multiply  # a generated module builds it with numba.vectorize
>>> f = _FastUfunc("f_ufunc", 2, fast, "f", "x times k.")
>>> f(np.arange(3.0), 2.0).tolist(), calls
([0.0, 2.0, 4.0], ['fast'])
>>> f(np.arange(3.0), 2.0, where=np.array([True, False, True]), out=np.zeros(3)).tolist()
[0.0, 0.0, 4.0]
>>> calls, f.nin, f.types[:1], f.__name__
(['fast'], 2, ['??->?'], 'f')
"""

from __future__ import annotations

import numpy as np
from numba import vectorize

from symsmooth.runtime.dask_host import _is_lazy

_UFUNC_SCALARS: dict = {}
"""Stands for the generated module's ufunc name -> scalar function (the ufunc's Python body)."""
_UFUNC_SIGNATURES: list = []
"""Stands for the generated module's ufunc signatures (float32 and float64 loops)."""
_UFUNCS: dict = {}
"""Stands for the generated module's ufuncs built so far."""


def _ufunc(name):
    """The Numba ufunc ``name`` (``f_ufunc``), built from its scalar function on first use (its
    loops compile then, or load from Numba's on-disk cache)."""
    made = _UFUNCS.get(name)
    if made is None:
        scalar = _UFUNC_SCALARS[name]
        scalar.__name__ = name  # the ufunc's name (its __qualname__ keys Numba's cache)
        made = _UFUNCS[name] = vectorize(_UFUNC_SIGNATURES, cache=True)(scalar)
    return made


def _module_getattr(name):
    """A generated module's ``__getattr__`` (PEP 562): its ``f_ufunc`` names, built on first
    access; an AttributeError for anything else."""
    if name in _UFUNC_SCALARS:
        return _ufunc(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _FastUfunc:
    """``f``: the ufunc ``ufunc`` (``f_ufunc``) with calls on plain operands run by ``fast``
    (``f_fast``); see the module docstring.

    Parameters
    ----------
    ufunc : str
        The name of the ufunc whose semantics the calls keep (dtypes, broadcasting, errors),
        built by :func:`_ufunc` when first needed.
    nin : int
        Its number of operands.
    fast : callable
        ``fast(*operands, out=None)``: the same function as a loop, with the ufunc's dtype and
        broadcasting rules (the generated ``f_fast``).
    name, doc : str
        The public name and its docstring.
    """

    plain = (np.ndarray, float, int, bool, complex, list, tuple)
    """Operand types (and NumPy scalars) the ``_fast`` loop takes as the ufunc would; ndarray
    subclasses are not among them (a masked array or a matrix keeps its own ufunc behaviour)."""

    def __init__(self, ufunc, nin, fast, name, doc):
        self.ufunc_name = ufunc
        self.nin = nin
        self.fast = fast
        self.__name__ = self.__qualname__ = name
        self.__doc__ = doc
        self.__wrapped__ = fast  # inspect.signature: (x, k, out=None), the fast call's

    @property
    def ufunc(self):
        """The Numba ufunc (built on first use)."""
        return _ufunc(self.ufunc_name)

    def __call__(self, *args, out=None, **kwargs):
        loop = not kwargs and len(args) == self.nin and (out is None or type(out) is np.ndarray)
        if loop and all(
            type(a) in self.plain or isinstance(a, np.generic) or _is_lazy(a) for a in args
        ):
            return self.fast(*args, out=out)
        if out is not None:
            kwargs["out"] = out
        return self.ufunc(*args, **kwargs)

    def __getattr__(self, attr):
        # only reached for what the instance lacks: the ufunc's attributes and methods
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self.ufunc, attr)

    def __repr__(self):
        return f"<elementwise kernel {self.__name__} (ufunc {self.ufunc_name}, loop _fast)>"

    def __reduce__(self):
        # pickled by reference, as a module-level function (dask.distributed, multiprocessing)
        return self.__name__
