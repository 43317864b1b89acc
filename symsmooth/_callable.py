"""Let a stage package be called like its entry-point function.

DESIGN names both a stage package and a public function the same (``symsmooth.convolve``
the package, ``ss.convolve(...)`` the function; likewise ``stabilize`` and ``verify``).  When
a submodule is imported, Python binds the *package* as an attribute of ``symsmooth``, hiding
the function.  Making the package callable keeps ``ss.convolve(...)`` working in every
import order, while ``import symsmooth.convolve`` still gives the package.
"""

from __future__ import annotations

import importlib
import sys
import types


def make_callable(package: str, target: str) -> None:
    """Make module ``package`` forward calls to ``target`` (``"module:function"``).

    Examples
    --------
    >>> import symsmooth as ss, symsmooth.verify
    >>> callable(ss.verify)
    True
    """
    module_name, attribute = target.split(":")

    class CallablePackage(types.ModuleType):
        def __call__(self, *args, **kwargs):
            function = getattr(importlib.import_module(module_name), attribute)
            return function(*args, **kwargs)

    CallablePackage.__name__ = f"CallablePackage[{package}]"
    CallablePackage.__call__.__doc__ = f"Call :func:`{module_name}.{attribute}`."
    sys.modules[package].__class__ = CallablePackage
