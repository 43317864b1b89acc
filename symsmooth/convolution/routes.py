"""The second route of article 3: smooth only the steps, multiply the polynomials back.

Writing ``f = p_0 + Σ_j (p_j - p_(j-1))(x) H(x - c_j)`` and replacing each ``H(x - c_j)`` by
the smoothed step ``Phi(x - c_j)`` gives ``x sigmoid(t x)`` (Swish) and ``x Phi(x/sigma)``
(GELU) for ReLU (article 3 eqs (10), (11)), and ``x erf(x/(sqrt 2 sigma))`` for
``|x| = x sign(x)`` (the SMU construction, arXiv 2111.04682).  The step route needs only the
kernel's CDF, so it works with kernels that lack moments (Cauchy).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.convolution import kernels
>>> from symsmooth.convolution.pieces import to_pieces
>>> x = sp.Symbol("x", real=True)
>>> step_route(to_pieces(sp.Max(x, 0), x), kernels.get("logistic"))
x*sigmoid(t*x)
"""

from __future__ import annotations

import sympy as sp

from symsmooth.convolution.kernels import Kernel, U
from symsmooth.convolution.pieces import PiecewisePolynomial
from symsmooth.convolution.tidy import merge_piecewise, tidy


def step_route(pp: PiecewisePolynomial, kernel: Kernel) -> sp.Expr:
    """``p_0 + Σ_j (p_j - p_(j-1)) Phi(x - c_j)``."""
    phi = kernel.cdf()
    total = pp.pieces[0]
    for j, c in enumerate(pp.breaks, start=1):
        total += sp.factor(pp.pieces[j] - pp.pieces[j - 1]) * phi.subs(U, pp.var - c)
    return tidy(merge_piecewise(total, pp.var))
