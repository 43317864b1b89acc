r"""Stable primitives as SymPy functions.

Each primitive is a real :class:`sympy.Function`:

* ``fdiff`` returns the derivative *in stable form* (built from these primitives):
  ``softplus' = sigmoid``, ``sigmoid' = sigmoid(z) sigmoid(-z)``, ``log_sigmoid' = sigmoid(-z)``,
  ``log1mexp' = -1/expm1(-z)``, ``d logsumexp/dx_i = exp(x_i - logsumexp)``, ``Phi' = phi``,
  ``phi' = -z phi``;
* ``rewrite("naive")`` (also ``rewrite(sp.exp)``, ``rewrite(sp.log)``) gives the textbook
  exp/log/erf form, used as the exact reference and to prove equivalence;
* ``evalf`` evaluates with mpmath at any precision through the overflow-free formulas of
  :mod:`symsmooth.functions.numeric`, re-evaluating at higher precision until two precisions
  agree (so cancellation near a zero of the result, or in the arguments, costs precision
  internally, not in the answer);
* ``sp.latex``/``sp.pretty`` show the usual names (sigma, LSE, Phi, phi); ``str`` shows the
  class name so that the text parses back;
* ``sp.lambdify(args, expr, "numpy")`` (or ``"scipy"``) and ``"mpmath"`` work through the
  ``_numpycode``/``_scipycode``/``_mpmathcode`` printer hooks, which print calls to the stable
  implementations; for ``"math"`` pass ``modules=[MATH_MODULE, "math"]``.  No
  ``_pythoncode`` hook is defined, so a code generator's own ``_print_<name>`` methods win.

Each class declares its runtime helper and its NumPy and mpmath implementations
(:mod:`symsmooth.functions.base`); the n-ary reduction over a symbolic range,
:class:`LogSumExpOver`, lives in :mod:`symsmooth.functions.nary`.

References
----------
M. Maechler, "Accurately Computing log(1 - exp(-|a|))", Rmpfr vignette, 2012.
LogExpFunctions.jl (log1pexp, log1mexp, logistic, logsumexp conventions).
M. Abramowitz, I. Stegun, *Handbook of Mathematical Functions*, 26.2.2 (Phi, erfc).

Examples
--------
>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> sp.diff(softplus(z), z)
sigmoid(z)
>>> softplus(z).rewrite("naive")
log(exp(z) + 1)
>>> sp.N(softplus(1000), 30)
1000.00000000000000000000000000
>>> x, y = sp.symbols("x y", real=True)
>>> sp.diff(logsumexp(x, y), x)
exp(x - logsumexp(x, y))
>>> print(sp.latex(sigmoid(z)))
\sigma\left(z\right)
>>> import numpy as np
>>> f = sp.lambdify(z, softplus(z), "numpy")
>>> f(np.array([-700.0, 0.0, 1000.0])).tolist()  # naive log(1 + exp(z)) gives 0, inf here
[9.85967654375977e-305, 0.6931471805599453, 1000.0]
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1
from sympy.core.function import ArgumentIndexError

from symsmooth.functions.base import MATH_MODULE as MATH_MODULE
from symsmooth.functions.base import PRIMITIVES as PRIMITIVES
from symsmooth.functions.base import StablePrimitive, _one_arg
from symsmooth.functions.numeric import (
    mp_log1mexp,
    mp_log_sigmoid,
    mp_logsumexp,
    mp_Phi,
    mp_phi,
    mp_sigmoid,
    mp_softplus,
    np_log1mexp,
    np_log_sigmoid,
    np_logsumexp,
    np_Phi,
    np_phi,
    np_sigmoid,
    np_softplus,
    py_log1mexp,
    py_log_sigmoid,
    py_logsumexp,
    py_Phi,
    py_phi,
    py_sigmoid,
    py_softplus,
)


class softplus(StablePrimitive):
    """``softplus(z) = log(1 + exp(z))``, computed as ``max(z, 0) + log1p(exp(-|z|))``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(softplus(-800), 20)
    3.6678745841776872135e-348
    """

    runtime_helper = "softplus"
    numpy_impl = np_softplus
    math_impl = py_softplus
    mpmath_impl = mp_softplus
    nargs = 1

    def fdiff(self, argindex=1):
        return sigmoid(_one_arg(self, argindex))

    @classmethod
    def eval(cls, z):
        return {sp.S.Zero: sp.log(2), sp.oo: sp.oo, -sp.oo: sp.S.Zero, sp.nan: sp.nan}.get(z)

    def _naive(self, z):
        return sp.log(1 + sp.exp(z))

    def _eval_is_positive(self):
        return self.args[0].is_real or None


class sigmoid(StablePrimitive):
    """Logistic function ``sigmoid(z) = 1 / (1 + exp(-z))``.

    Its derivative is written ``sigmoid(z) * sigmoid(-z)``, which never forms ``1 - sigmoid``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(sigmoid(-800), 15)
    3.66787458417769e-348
    """

    runtime_helper = "sigmoid"
    numpy_impl = np_sigmoid
    math_impl = py_sigmoid
    mpmath_impl = mp_sigmoid
    nargs = 1
    latex_name = r"\sigma"
    pretty_name = "σ"

    def fdiff(self, argindex=1):
        z = _one_arg(self, argindex)
        return sigmoid(z) * sigmoid(-z)

    @classmethod
    def eval(cls, z):
        return {sp.S.Zero: sp.S.Half, sp.oo: sp.S.One, -sp.oo: sp.S.Zero, sp.nan: sp.nan}.get(z)

    def _naive(self, z):
        return 1 / (1 + sp.exp(-z))

    def _eval_is_positive(self):
        return self.args[0].is_real or None


class log_sigmoid(StablePrimitive):
    """``log_sigmoid(z) = log(sigmoid(z)) = -softplus(-z)``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(log_sigmoid(-1000), 20)
    -1000.0000000000000000
    """

    runtime_helper = "log_sigmoid"
    numpy_impl = np_log_sigmoid
    math_impl = py_log_sigmoid
    mpmath_impl = mp_log_sigmoid
    nargs = 1
    latex_name = r"\log\sigma"
    pretty_name = "log σ"

    def fdiff(self, argindex=1):
        return sigmoid(-_one_arg(self, argindex))

    @classmethod
    def eval(cls, z):
        return {sp.S.Zero: -sp.log(2), sp.oo: sp.S.Zero, -sp.oo: -sp.oo, sp.nan: sp.nan}.get(z)

    def _naive(self, z):
        return -sp.log(1 + sp.exp(-z))

    def _eval_is_negative(self):
        return self.args[0].is_real or None


class log1mexp(StablePrimitive):
    """``log1mexp(z) = log(1 - exp(z))`` for ``z < 0`` (LogExpFunctions.jl convention).

    Stable evaluation (Maechler 2012): ``log(-expm1(z))`` for ``z > -log 2``, else
    ``log1p(-exp(z))``.

    Examples
    --------
    >>> import sympy as sp
    >>> sp.N(log1mexp(sp.Rational(-1, 10**30)), 20)
    -69.077552789821370521
    >>> log1mexp(-sp.log(2))
    -log(2)
    """

    runtime_helper = "log1mexp"
    numpy_impl = np_log1mexp
    math_impl = py_log1mexp
    mpmath_impl = mp_log1mexp
    nargs = 1
    latex_name = r"\operatorname{log1mexp}"

    def fdiff(self, argindex=1):
        # d/dz log(1 - e^z) = -e^z / (1 - e^z) = -1 / expm1(-z)
        return -1 / expm1(-_one_arg(self, argindex))

    @classmethod
    def eval(cls, z):
        table = {sp.S.Zero: -sp.oo, -sp.oo: sp.S.Zero, -sp.log(2): -sp.log(2), sp.nan: sp.nan}
        return table.get(z)

    def _naive(self, z):
        return sp.log(1 - sp.exp(z))

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_nonpositive or None

    def _eval_is_finite(self):
        return self.args[0].is_negative and self.args[0].is_finite or None

    def _eval_is_negative(self):
        return (self.args[0].is_negative and self.args[0].is_finite) or None


class logsumexp(StablePrimitive):
    """n-ary ``logsumexp(x1, ..., xn) = log(sum exp(xi))``, evaluated max-shifted.

    Exact rules only: the argument order is canonical (sorted), nested calls flatten, ``-oo``
    arguments drop out, an ``oo`` argument gives ``oo``, one argument is itself, no argument
    is ``-oo`` and ``n`` equal arguments give ``x + log(n)``.
    ``d/dxi = exp(xi - logsumexp(...))``, the softmax.

    Examples
    --------
    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> sp.N(logsumexp(1000, 1000), 20)
    1000.6931471805599453
    >>> logsumexp(y, logsumexp(x, -sp.oo))
    logsumexp(x, y)
    >>> logsumexp(x)
    x
    """

    runtime_helper = "logsumexp{arity}"
    numpy_impl = np_logsumexp
    math_impl = py_logsumexp
    mpmath_impl = mp_logsumexp
    latex_name = r"\operatorname{LSE}"
    pretty_name = "LSE"

    @classmethod
    def eval(cls, *args):
        flat = [b for a in args for b in (a.args if isinstance(a, logsumexp) else (a,))]
        if sp.nan in flat:
            return sp.nan
        if sp.oo in flat:
            return sp.oo
        kept = tuple(sorted((a for a in flat if a != -sp.oo), key=sp.default_sort_key))
        if not kept:
            return -sp.oo
        if len(set(kept)) == 1:
            return kept[0] + sp.log(len(kept))
        if kept != args:
            return cls(*kept)
        return None

    def fdiff(self, argindex=1):
        if not 1 <= argindex <= len(self.args):
            raise ArgumentIndexError(self, argindex)
        return sp.exp(self.args[argindex - 1] - self)

    def _naive(self, *xs):
        return sp.log(sp.Add(*[sp.exp(x) for x in xs]))


class Phi(StablePrimitive):
    """Standard normal CDF ``Phi(z) = (1 + erf(z/sqrt 2))/2``, evaluated as ``erfc(-z/sqrt 2)/2``.

    The convolution engine writes ReLU * Gaussian as ``x Phi(x/s) + s phi(x/s)``.

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z")
    >>> sp.diff(Phi(z), z)
    phi(z)
    >>> sp.N(Phi(-40), 15)
    3.65589354091503e-350
    """

    runtime_helper = "Phi"
    numpy_impl = np_Phi
    math_impl = py_Phi
    mpmath_impl = mp_Phi
    nargs = 1
    latex_name = r"\Phi"
    pretty_name = "Φ"

    def fdiff(self, argindex=1):
        return phi(_one_arg(self, argindex))

    @classmethod
    def eval(cls, z):
        return {sp.S.Zero: sp.S.Half, sp.oo: sp.S.One, -sp.oo: sp.S.Zero, sp.nan: sp.nan}.get(z)

    def _naive(self, z):
        return (1 + sp.erf(z / sp.sqrt(2))) / 2

    _eval_rewrite_as_erf = StablePrimitive._eval_rewrite_as_naive

    def _eval_is_positive(self):
        return self.args[0].is_real or None


class phi(StablePrimitive):
    """Standard normal density ``phi(z) = exp(-z^2/2)/sqrt(2 pi)``; even, so ``phi(-z) = phi(z)``.

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z")
    >>> sp.diff(phi(z), z)
    -z*phi(z)
    >>> phi(-z)
    phi(z)
    """

    runtime_helper = "phi"
    numpy_impl = np_phi
    math_impl = py_phi
    mpmath_impl = mp_phi
    nargs = 1
    latex_name = r"\phi"
    pretty_name = "φ"

    def fdiff(self, argindex=1):
        z = _one_arg(self, argindex)
        return -z * phi(z)

    @classmethod
    def eval(cls, z):
        if z.could_extract_minus_sign():
            return cls(-z)
        special = {sp.S.Zero: 1 / sp.sqrt(2 * sp.pi), sp.oo: sp.S.Zero, sp.nan: sp.nan}
        return special.get(z)

    def _naive(self, z):
        return sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)

    def _eval_is_positive(self):
        return self.args[0].is_real or None


def naive(expr: sp.Expr) -> sp.Expr:
    """Rewrite every stable primitive in ``expr`` to its textbook exp/log/erf form.

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z")
    >>> naive(sigmoid(z) + softplus(z))
    log(exp(z) + 1) + 1/(1 + exp(-z))
    """
    return expr.rewrite("naive")
