"""The version of symsmooth, on the bottom floor so that any module may read it.

The generated headers (:mod:`symsmooth.codegen.render`), the derivation pages
(:mod:`symsmooth.derive.docs`), the user catalog and ``symsmooth --version`` name it; importing
it from the root package instead would point an import up from a stage
(``tests/test_layout.py``).

Examples
--------
>>> from symsmooth.version import __version__
>>> __version__.count(".")
2
"""

__version__ = "0.1.0"
