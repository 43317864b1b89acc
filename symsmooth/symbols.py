"""Canonical symbols shared by catalog entries, kernels and the formula reader, so equal
constructions compare equal.

Scalars are real; sharpness and width parameters are positive; ``n`` is a positive integer
size and ``i``/``j`` are summation indices (1-based, as in the articles).
"""

from __future__ import annotations

import sympy as sp

x, y, z, u = sp.symbols("x y z u", real=True)
k, t, s, sigma, a, b, h, mu, w, M = sp.symbols("k t s sigma a b h mu w M", positive=True)
alpha = sp.Symbol("alpha", nonnegative=True)
n = sp.Symbol("n", integer=True, positive=True)
i = sp.Symbol("i", integer=True, positive=True)
j = sp.Symbol("j", integer=True, positive=True)
X = sp.IndexedBase("x", real=True)
"""The input vector of n-ary constructions: entries ``x[1] .. x[n]``."""
T = sp.IndexedBase("t", real=True)
"""Labels / targets of classification constructions."""
S = sp.IndexedBase("s", real=True)
"""Scores (logits) of multi-label constructions."""
