"""Approximate identities (kernels ``K_w -> delta`` as the width ``w -> 0``) with partial moments.

A kernel is one :class:`Kernel` record.  What the convolution engine needs from it is the
table of *partial moments* anchored at 0,

    ``A_m(u) = ∫_0^u s^m K(s) ds``,   m = 0, 1, 2, ...

(closed form per kernel, or derived once with SymPy for a kernel given only by its density)
and the tails ``A_m(±oo)``, finite exactly when the kernel has an m-th moment.  For a
symmetric kernel ``A_m`` has exact parity, ``A_m(-u) = (-1)^(m+1) A_m(u)``, which is what
makes symmetric principal values come out right.  The moment formulas themselves live in
:mod:`symsmooth.convolution.kernel_moments`.

References
----------
Article 3 (kexue.fm/archives/8718), eq (4) Gaussian, (5) Cauchy, (7) logistic.
B. W. Silverman, *Density Estimation*, 1986, Table 3.1 (Epanechnikov, triangular, uniform).
Characteristic functions: N. L. Johnson, S. Kotz, N. Balakrishnan, *Continuous Univariate
Distributions*, Wiley 1995 (chapters on normal, logistic, Cauchy, Laplace, Student t).

Examples
--------
>>> from symsmooth.convolution import kernels
>>> kernels.get("gaussian").cdf()
erf(sqrt(2)*u/(2*sigma))/2 + 1/2
>>> kernels.get("cauchy").has_moment(1)
False
>>> "logistic" in kernels.names()
True
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import sympy as sp

from symsmooth.convolution import kernel_moments as km
from symsmooth.errors import KernelError
from symsmooth.symbols import a, b, h, sigma, t, u

U = u
"""The kernel's own variable (real)."""
OMEGA = sp.Symbol("omega", real=True)
"""Frequency symbol of characteristic functions ``E[cos(omega U)]``."""
MOMENT_SCAN = 6
"""Highest moment order probed when a density-only kernel's ``max_moment`` is derived."""


@dataclass(frozen=True)
class Kernel:
    """An approximate identity ``K(u)`` of width ``width``.

    Attributes
    ----------
    name : str
        Registry key.
    width : sympy.Symbol
        The width (or sharpness) parameter.
    density : sympy.Expr
        ``K(u)`` in :data:`U`.
    limit : sympy.Expr
        Where ``K -> delta``: ``0`` for widths, ``oo`` for sharpnesses (logistic ``t``).
    support : tuple
        ``(lo, hi)``.
    kinks : tuple
        Points where ``K`` is not smooth (split points for quadrature and piecewise results).
    symmetric, unimodal : bool
    max_moment : int or None
        Highest finite moment order; ``None`` means every moment is finite.
    moment_rule, tail_rule : callable or None
        ``m -> A_m(u)`` and ``m -> A_m(+oo)`` in closed form; ``None`` derives them with
        SymPy once (cached).
    charfn : sympy.Expr or None
        ``E[cos(omega U)]`` in :data:`OMEGA` (used by Fourier forms of staircases).
    source, description : str
    """

    name: str
    width: sp.Symbol
    density: sp.Expr
    limit: sp.Expr = sp.S.Zero
    support: tuple = (sp.S.NegativeInfinity, sp.S.Infinity)
    kinks: tuple = ()
    symmetric: bool = True
    unimodal: bool = True
    max_moment: int | None = None
    moment_rule: Callable[[int], sp.Expr] | None = field(default=None, compare=False)
    tail_rule: Callable[[int], sp.Expr] | None = field(default=None, compare=False)
    charfn: sp.Expr | None = None
    source: str = ""
    description: str = ""

    def partial_moment(self, m: int) -> sp.Expr:
        """``A_m(u) = ∫_0^u s^m K(s) ds`` (closed form, cached)."""
        return _partial_moment(self, int(m))

    def tail(self, m: int, side: int = 1) -> sp.Expr:
        """``A_m(+oo)`` (``side=1``) or ``A_m(-oo)`` (``side=-1``); ``oo`` when missing."""
        return _tail(self, int(m), 1 if side > 0 else -1)

    def has_moment(self, m: int) -> bool:
        """Whether ``∫ |u|^m K(u) du`` is finite."""
        if self.moment_rule is not None:
            return self.max_moment is None or m <= self.max_moment
        return all(_tail(self, int(m), side).is_finite for side in (1, -1))

    def moment(self, m: int) -> sp.Expr:
        """The full moment ``E[U^m] = A_m(oo) - A_m(-oo)`` (``nan`` when missing)."""
        if not self.has_moment(m):
            return sp.nan
        return sp.simplify(self.tail(m, 1) - self.tail(m, -1))

    def cdf(self) -> sp.Expr:
        """``P(U <= u) = A_0(u) - A_0(-oo)``."""
        return self.partial_moment(0) - self.tail(0, -1)

    def lower_moment(self, m: int) -> sp.Expr:
        """``M_m(u) = ∫_{-oo}^u s^m K(s) ds`` (needs the m-th moment on the left tail)."""
        return self.partial_moment(m) - self.tail(m, -1)

    @property
    def moment_order(self) -> int | None:
        """``max_moment``, derived by probing moments up to :data:`MOMENT_SCAN` if needed."""
        if self.moment_rule is not None:
            return self.max_moment
        for m in range(MOMENT_SCAN + 1):
            if not self.has_moment(m):
                return m - 1
        return None

    def at(self, value) -> sp.Expr:
        """The density with the width set to ``value``."""
        return self.density.subs(self.width, value)


@cache
def _partial_moment(kernel: Kernel, m: int) -> sp.Expr:
    if kernel.moment_rule is not None:
        return kernel.moment_rule(m)
    return km.derive_partial_moment(kernel.density, U, m)


@cache
def _tail(kernel: Kernel, m: int, side: int) -> sp.Expr:
    if kernel.tail_rule is not None:
        if kernel.max_moment is not None and m > kernel.max_moment:
            return sp.oo
        value = kernel.tail_rule(m)
        return value if side > 0 or not kernel.symmetric else (-1) ** (m + 1) * value
    return km.derive_tail(kernel.density, U, m, side)


# --- built-in kernels ------------------------------------------------------------------------

_SQRT2PI = sp.sqrt(2 * sp.pi)

_BUILTIN = (
    Kernel(
        "gaussian",
        sigma,
        sp.exp(-(u**2) / (2 * sigma**2)) / (_SQRT2PI * sigma),
        moment_rule=km.gaussian_moment,
        tail_rule=km.gaussian_tail,
        charfn=sp.exp(-(sigma**2) * OMEGA**2 / 2),
        source="article 3 eq (4) (kexue.fm/archives/8718)",
        description="normal density N(0, sigma^2)",
    ),
    Kernel(
        "logistic",
        t,
        t * sp.exp(t * u) / (1 + sp.exp(t * u)) ** 2,
        limit=sp.oo,
        moment_rule=km.logistic_moment,
        tail_rule=km.logistic_tail,
        charfn=(sp.pi * OMEGA / t) / sp.sinh(sp.pi * OMEGA / t),
        source="article 3 eq (7): d/du sigmoid(t u)",
        description="derivative of sigmoid(t u); t is a sharpness (t -> oo)",
    ),
    Kernel(
        "cauchy",
        a,
        a / (sp.pi * (u**2 + a**2)),
        max_moment=0,
        moment_rule=km.cauchy_moment,
        tail_rule=km.cauchy_tail,
        charfn=sp.exp(-a * sp.Abs(OMEGA)),
        source="article 3 eq (5)",
        description="Cauchy density; no mean (heavy tails)",
    ),
    Kernel(
        "laplace",
        b,
        sp.exp(-sp.Abs(u) / b) / (2 * b),
        kinks=(sp.S.Zero,),
        moment_rule=km.laplace_moment,
        tail_rule=km.laplace_tail,
        charfn=1 / (1 + b**2 * OMEGA**2),
        source="Johnson-Kotz-Balakrishnan, Laplace distribution",
        description="double exponential exp(-|u|/b)/(2b)",
    ),
    Kernel(
        "uniform",
        h,
        sp.Piecewise((1 / (2 * h), sp.Abs(u) <= h), (0, True)),
        support=(-h, h),
        kinks=(-h, h),
        moment_rule=km.compact_moment("uniform"),
        tail_rule=km.compact_tail("uniform"),
        charfn=sp.sin(h * OMEGA) / (h * OMEGA),
        source="Silverman 1986, Table 3.1 (rectangular)",
        description="box 1/(2h) on [-h, h]",
    ),
    Kernel(
        "triangular",
        h,
        sp.Piecewise(((1 - sp.Abs(u) / h) / h, sp.Abs(u) <= h), (0, True)),
        support=(-h, h),
        kinks=(-h, sp.S.Zero, h),
        moment_rule=km.compact_moment("triangular"),
        tail_rule=km.compact_tail("triangular"),
        charfn=2 * (1 - sp.cos(h * OMEGA)) / (h * OMEGA) ** 2,
        source="Silverman 1986, Table 3.1 (triangular)",
        description="tent (1 - |u|/h)/h on [-h, h]",
    ),
    Kernel(
        "epanechnikov",
        h,
        sp.Piecewise((3 * (1 - u**2 / h**2) / (4 * h), sp.Abs(u) <= h), (0, True)),
        support=(-h, h),
        kinks=(-h, h),
        moment_rule=km.compact_moment("epanechnikov"),
        tail_rule=km.compact_tail("epanechnikov"),
        charfn=3 * (sp.sin(h * OMEGA) - h * OMEGA * sp.cos(h * OMEGA)) / (h * OMEGA) ** 3,
        source="Silverman 1986, Table 3.1 (Epanechnikov)",
        description="parabola 3(1 - u^2/h^2)/(4h) on [-h, h]",
    ),
    Kernel(
        "student_t2",
        b,
        b / (2 * (u**2 + b) ** sp.Rational(3, 2)),
        max_moment=1,
        moment_rule=km.student_t2_moment,
        tail_rule=km.student_t2_tail,
        charfn=sp.sqrt(b) * sp.Abs(OMEGA) * sp.besselk(1, sp.sqrt(b) * sp.Abs(OMEGA)),
        source="Student t with 2 degrees of freedom, scale sqrt(b/2) (Johnson-Kotz-Balakrishnan)",
        description="b/(2 (u^2 + b)^(3/2)); mean exists, variance does not",
    ),
)

_REGISTRY: dict[str, Kernel] = {k.name: k for k in _BUILTIN}
_ALIASES = {
    "normal": "gaussian",
    "sigmoid": "logistic",
    "student_t": "student_t2",
    "student-t": "student_t2",
    "box": "uniform",
    "rectangular": "uniform",
    "tent": "triangular",
    "parabolic": "epanechnikov",
}


def names() -> list[str]:
    """Every registered kernel, in registration order."""
    return list(_REGISTRY)


def get(name: str | Kernel) -> Kernel:
    """The kernel registered as ``name`` (a :class:`Kernel` is returned unchanged).

    Raises
    ------
    KernelError
        (a ``KeyError``) naming close matches.
    """
    if isinstance(name, Kernel):
        return name
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    try:
        return _REGISTRY[key]
    except KeyError:
        close = difflib.get_close_matches(key, names(), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KernelError(
            f"no kernel named {name!r}.{hint} Known kernels: {', '.join(names())}; "
            "or build one with kernels.from_density(...)."
        ) from None


def register(kernel: Kernel) -> Kernel:
    """Add ``kernel`` to the registry (refuses to replace a kernel of the same name)."""
    if kernel.name in _REGISTRY and _REGISTRY[kernel.name] != kernel:
        raise KernelError(f"a kernel named {kernel.name!r} exists already; pick another name")
    _REGISTRY[kernel.name] = kernel
    return kernel


def from_density(
    name: str,
    density: sp.Expr,
    width: sp.Symbol,
    *,
    var: sp.Symbol = U,
    limit: sp.Expr = sp.S.Zero,
    support: tuple = (sp.S.NegativeInfinity, sp.S.Infinity),
    kinks: tuple = (),
    unimodal: bool = False,
    source: str = "user density",
) -> Kernel:
    """A kernel given only by its density; partial moments are derived with SymPy once.

    Checks that the density integrates to 1 and detects symmetry.

    Examples
    --------
    >>> import sympy as sp
    >>> from symsmooth.symbols import s, u
    >>> k = from_density("cauchy_squared", 2 * s**3 / (sp.pi * (u**2 + s**2) ** 2), s)
    >>> k.symmetric, k.moment(2), k.moment_order
    (True, s**2, 2)
    """
    density = sp.sympify(density).subs(var, U)
    total = sp.simplify(km.derive_tail(density, U, 0, 1) - km.derive_tail(density, U, 0, -1))
    if total != 1:
        raise KernelError(
            f"the density of kernel {name!r} integrates to {total}, not 1 (nan: SymPy could not "
            "integrate it); normalise it, or write it in a form SymPy integrates"
        )
    symmetric = sp.simplify(density - density.subs(U, -U)) == 0
    return Kernel(
        name,
        width,
        density,
        limit=limit,
        support=support,
        kinks=tuple(kinks),
        symmetric=symmetric,
        unimodal=unimodal,
        source=source,
        description="user kernel given by its density",
    )
