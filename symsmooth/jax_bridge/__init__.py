"""The JAX bridge's pieces (the entry point is :mod:`symsmooth.jax`).

``interface.py`` reads a generated module's ``__symsmooth__`` into its callables (NumPy only);
``callbacks.py`` calls them from JAX (a host callback, result shapes and dtypes, the
second-order guard); ``rules.py`` holds each output kind's derivative rule; ``function.py``
checks and casts the arguments and picks the rule.
"""
