"""The vocabulary: stable primitives and non-smooth targets as SymPy classes, in one registry.

Every stable primitive subclasses :class:`~symsmooth.functions.base.StablePrimitive` and
declares its runtime helper and its NumPy and mpmath implementations; defining the class
registers it in :data:`PRIMITIVES` (and :data:`NUMPY_MODULE`, :data:`MPMATH_MODULE`,
:data:`RUNTIME_HELPERS`).  The parser and the record reader (:mod:`symsmooth.text.vocabulary`),
the code printer (:mod:`symsmooth.codegen.printer`) and the verification references read these
tables; nothing else keeps a list of primitives.

* :mod:`~symsmooth.functions.base`: the base class and the registry;
* :mod:`~symsmooth.functions.elementary`: ``softplus``, ``sigmoid``, ``log_sigmoid``,
  ``log1mexp``, ``logsumexp``, ``Phi``, ``phi``;
* :mod:`~symsmooth.functions.special`: ``logcosh``, ``hypot``, ``relu_gauss``;
* :mod:`~symsmooth.functions.fused`: ``dsigmoid``, ``dswish``, ``derf``, ``dgelu``,
  ``lin_hypot``, ``sinh_ratio``;
* :mod:`~symsmooth.functions.gaps`: ``softplus_gap``, ``logcosh_gap``, ``logsumexp_gap``,
  ``hypot_gap`` (Euler gaps ``F(z) - z F'(z)`` of the parameter derivatives) and
  :func:`collapse_gaps`;
* :mod:`~symsmooth.functions.exact`: ``<f>_xp(a, b) = f(a b)``, ``<f>_xq(a, b) = f(a/b)`` for
  the exact product or quotient of two doubles (:data:`EXACT_FORMS`);
* :mod:`~symsmooth.functions.scaling`: ``recip1p_sq``, ``odd_root_sum``, ``odd_root_sum_grad``;
* :mod:`~symsmooth.functions.nary`: ``LogSumExpOver`` (a reduction over a symbolic range);
* :mod:`~symsmooth.functions.targets`: ``MaxOver``, ``MinOver``, ``ArgMaxOver``, ``ArgMax``;
* :mod:`~symsmooth.functions.numeric`: the NumPy, ``math`` and mpmath implementations of the
  elementary primitives.

The package imports nothing above it (only :mod:`symsmooth.errors` and
:mod:`symsmooth.runtime`).

Examples
--------
>>> "softplus" in PRIMITIVES, sorted(TARGETS)
(True, ['ArgMax', 'ArgMaxOver', 'MaxOver', 'MinOver'])
>>> RUNTIME_HELPERS["dswish"], "hypot" in RUNTIME_HELPERS
('dswish', False)
"""

from __future__ import annotations

from symsmooth.functions.base import (
    MATH_MODULE,
    MPMATH_MODULE,
    NUMPY_MODULE,
    PRIMITIVES,
    RUNTIME_HELPERS,
    LiveTable,
    StablePrimitive,
    UnknownPrimitiveError,
)
from symsmooth.functions.double_exp import dloglse_exp, loglse_exp
from symsmooth.functions.elementary import (
    Phi,
    log1mexp,
    log_sigmoid,
    logsumexp,
    naive,
    phi,
    sigmoid,
    softplus,
)
from symsmooth.functions.exact import EXACT_FORMS, ExactArgument
from symsmooth.functions.fused import derf, dgelu, dsigmoid, dswish, lin_hypot, silu, sinh_ratio
from symsmooth.functions.gaps import (
    collapse_gaps,
    hypot_gap,
    hypot_gap_times,
    logcosh_gap,
    logsumexp_gap,
    softplus_gap,
)
from symsmooth.functions.nary import LogSumExpOver, logsumexp_over
from symsmooth.functions.scaling import (
    ScalingPrimitive,
    odd_root_sum,
    odd_root_sum_grad,
    recip1p_sq,
    recip1p_sq_x,
)
from symsmooth.functions.special import hypot, logcosh, relu_gauss
from symsmooth.functions.targets import (
    TARGETS,
    ArgMax,
    ArgMaxOver,
    MaxOver,
    MinOver,
    NonSmoothTarget,
    onehot_argmax,
)

__all__ = [
    "MATH_MODULE",
    "MPMATH_MODULE",
    "NUMPY_MODULE",
    "PRIMITIVES",
    "RUNTIME_HELPERS",
    "TARGETS",
    "ArgMax",
    "ArgMaxOver",
    "EXACT_FORMS",
    "ExactArgument",
    "LiveTable",
    "LogSumExpOver",
    "MaxOver",
    "MinOver",
    "NonSmoothTarget",
    "Phi",
    "ScalingPrimitive",
    "StablePrimitive",
    "UnknownPrimitiveError",
    "collapse_gaps",
    "derf",
    "dgelu",
    "dloglse_exp",
    "dsigmoid",
    "dswish",
    "silu",
    "hypot",
    "hypot_gap",
    "hypot_gap_times",
    "lin_hypot",
    "log1mexp",
    "log_sigmoid",
    "logcosh",
    "logcosh_gap",
    "loglse_exp",
    "logsumexp",
    "logsumexp_gap",
    "logsumexp_over",
    "naive",
    "odd_root_sum",
    "odd_root_sum_grad",
    "onehot_argmax",
    "phi",
    "recip1p_sq",
    "recip1p_sq_x",
    "relu_gauss",
    "sigmoid",
    "sinh_ratio",
    "softplus",
    "softplus_gap",
]
