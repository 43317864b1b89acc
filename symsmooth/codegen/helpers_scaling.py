"""Scalar helpers of the scaled primitives (:mod:`symsmooth.functions_scaling`).

The source of each ``_name`` function there is emitted verbatim into generated modules (``math.*``
and ``_two_product`` only, so it compiles under ``@njit`` and ``@cuda.jit(device=True)``);
:data:`SCALING_SOURCES` (name -> source and required helpers) is merged into
:data:`symsmooth.codegen.helpers.HELPERS`.

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision", Numer.
Math. 18 (1971) (the ``_two_product`` the helpers call).

Examples
--------
>>> sorted(SCALING_SOURCES)[:4]
['dd_ipow', 'dd_mul', 'odd_root_parts', 'odd_root_sum']
>>> source, requires = SCALING_SOURCES["odd_root_sum"]
>>> requires, source.startswith("def _odd_root_sum(x, y, n):")
(('odd_root_parts',), True)
"""

from __future__ import annotations

import inspect


def _source(name: str) -> str:
    from symsmooth import functions_scaling

    return inspect.getsource(getattr(functions_scaling, f"_{name}"))


_REQUIRES = {
    "recip1p_sq": ("two_product",),
    "scaled_ratio": ("two_product",),
    "dd_mul": ("two_product",),
    "dd_ipow": ("dd_mul",),
    "odd_root_parts": ("scaled_ratio", "dd_ipow"),
    "odd_root_sum": ("odd_root_parts",),
    "odd_root_sum_grad": ("odd_root_parts", "dd_ipow"),
}

SCALING_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    name: (_source(name), requires) for name, requires in _REQUIRES.items()
}
"""Name -> (source, names of the helpers it calls)."""
