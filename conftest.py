"""Test-wide settings (tests/ and the doctests under symsmooth/).

Every test computes its mpmath references afresh: the on-disk reference cache of
``symsmooth verify`` (symsmooth/verification/cache.py) is switched off here, so no test reads
an entry written by an earlier run (tests of the cache itself pass a folder of their own).
"""

from __future__ import annotations

import importlib.util
import os

os.environ["SYMSMOOTH_CACHE_DIR"] = "off"

# The JAX bridge imports JAX (the optional `jax` extra): without it, its doctests are not
# collected (tests/test_jax_bridge.py skips itself).
collect_ignore = (
    [] if importlib.util.find_spec("jax") else ["symsmooth/jax.py", "symsmooth/jax_bridge"]
)
# the base of the native JAX and PyTorch modules imports its framework (docs/targets.md)
collect_ignore += [] if importlib.util.find_spec("jax") else ["symsmooth/runtime/jax_native.py"]
collect_ignore += [] if importlib.util.find_spec("torch") else ["symsmooth/runtime/torch_native.py"]
