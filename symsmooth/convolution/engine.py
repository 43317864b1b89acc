"""Convolution of a piecewise polynomial with a kernel by partial moments (no ``integrate``).

For pieces ``p_j`` on ``[c_j, c_(j+1))``,

    ``(f*K)(x) = ∫ f(x-u) K(u) du = Σ_j ∫_{x-c_(j+1)}^{x-c_j} p_j(x-u) K(u) du``.

Expanding ``p_j(x-u) = Σ_m q_(j,m)(x) u^m`` and writing ``A_m(u) = ∫_0^u s^m K`` gives

    ``Σ_j Σ_m (q_(j,m) - q_(j-1,m)) A_m(x - c_j)  +  Σ_m [q_(0,m) A_m(+oo) - q_(J,m) A_m(-oo)]``.

The tails decide convergence: a coefficient on ``A_m(±oo)`` with no finite m-th moment
diverges (:class:`~symsmooth.errors.DivergenceError`), unless the two tails cancel in a
symmetric principal value (``R_m + (-1)^(m+1) L_m = 0``; then, by the exact parity of
``A_m`` for symmetric kernels, the finite parts cancel too).

Examples
--------
>>> import sympy as sp
>>> from symsmooth.convolution import kernels
>>> from symsmooth.convolution.pieces import to_pieces
>>> x = sp.Symbol("x", real=True)
>>> convolve_pieces(to_pieces(sp.Max(x, 0), x), kernels.get("logistic")).expr
softplus(t*x)/t
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symsmooth.convolution import kernels as kernel_registry
from symsmooth.convolution.kernels import Kernel, U
from symsmooth.convolution.pieces import PiecewisePolynomial
from symsmooth.convolution.tidy import merge_piecewise, tidy
from symsmooth.errors import DivergenceError

_ORDINAL = {0: "0th", 1: "1st", 2: "2nd", 3: "3rd"}


@dataclass(frozen=True)
class PieceResult:
    """The convolution of a piecewise polynomial, and how it converged."""

    expr: sp.Expr
    principal_value: bool
    moments: tuple


def shifted_coefficients(poly: sp.Expr, var: sp.Symbol) -> list[sp.Expr]:
    """``[q_0, q_1, ...]`` with ``poly(var - u) = Σ_m q_m(var) u^m``."""
    shifted = sp.Poly(sp.expand(poly.subs(var, var - U)), U)
    if shifted.is_zero:
        return [sp.S.Zero]
    return [sp.expand(shifted.nth(m)) for m in range(shifted.degree() + 1)]


def ordinal(m: int) -> str:
    return _ORDINAL.get(m, f"{m}th")


def convolve_pieces(
    pp: PiecewisePolynomial, kernel: Kernel, principal_value: bool = False, label: str = ""
) -> PieceResult:
    """``pp * kernel`` in closed form (width symbol ``kernel.width``)."""
    var = pp.var
    coeffs = [shifted_coefficients(p, var) for p in pp.pieces]
    top = max(len(c) for c in coeffs)
    coeffs = [c + [sp.S.Zero] * (top - len(c)) for c in coeffs]
    terms = []
    for j, c in enumerate(pp.breaks, start=1):
        for m in range(top):
            jump = sp.expand(coeffs[j][m] - coeffs[j - 1][m])
            if jump != 0:
                terms.append(jump * kernel.partial_moment(m).subs(U, var - c))
    used_pv = False
    for m in range(top):
        right, left = coeffs[0][m], -coeffs[-1][m]
        if right == 0 and left == 0:
            continue
        if kernel.has_moment(m):
            terms.append(right * kernel.tail(m, 1) + left * kernel.tail(m, -1))
            continue
        _check_principal_value(label or pp.as_expr(), kernel, m, right, left, principal_value)
        used_pv = True  # the divergent tails cancel, and so do their finite parts
    expr = merge_piecewise(sp.Add(*terms), var)
    return PieceResult(tidy(expr), used_pv, tuple(range(top)))


def _check_principal_value(target, kernel, m, right, left, principal_value) -> None:
    cancels = kernel.symmetric and sp.expand(right + (-1) ** (m + 1) * left) == 0
    need = f"needs the {ordinal(m)} moment (∫|u|^{m} K(u) du), which the {kernel.name} kernel lacks"
    if cancels and principal_value:
        return
    if cancels:
        raise DivergenceError(
            f"convolving {target} with the {kernel.name} kernel {need}: the integral converges "
            "only as a symmetric principal value. Pass principal_value=True (CLI: "
            f"--principal-value) to accept it, or use one of: {_working(m)}"
        )
    suffix = " (not even a symmetric principal value exists)" if kernel.symmetric else ""
    raise DivergenceError(
        f"convolving {target} with the {kernel.name} kernel diverges{suffix}: it {need}. "
        f"Use a kernel with that moment: {_working(m)}"
    )


def _working(m: int) -> str:
    good = [n for n in kernel_registry.names() if kernel_registry.get(n).has_moment(m)]
    return ", ".join(good)
