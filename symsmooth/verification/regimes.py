"""The verification's adversary: parameter grids, domain edges and row input classes, as tables.

Every table is a registry of frozen records a user can extend (:func:`register_edge`,
:func:`register_input_class`), read by :mod:`symsmooth.verification.kernels`:

* :data:`SHARPNESS_GRID`: every sharpness/width parameter is measured at each of these values
  (issue #12: ``kappa = |k x|`` rounding costs ``kappa/2`` ulp away from ``k = 1``);
* :data:`EDGES`: the documented domain edges of other parameters (the leaky slope ``alpha``
  of sau/smu/smu1 at 0, small, and close to 1 inside ``0 <= alpha < 1``);
* :data:`INPUT_CLASSES`: row inputs a reduction must survive -- offset logits (1000 +- 1), ties
  to the last bit, confident and correctly classified rows, all-0 and all-1 label rows, rows of
  length 1, tiny rows whose outputs are subnormal.  (Absent ``-inf`` entries, exact ties and
  long rows are the ``with_neg_inf``, ``ties`` and ``long`` regimes of
  :mod:`symsmooth.verification.grids`; antiparallel pairs ``y = -x(1 + d)`` are
  :func:`antiparallel`, used for every two-input elementwise kernel.)

Examples
--------
>>> [p["k"] for p in parameter_points("softplus", "k", ("k",), {})][:4]
[1.0, 0.1, 0.37, 0.9]
>>> sorted({p["alpha"] for p in parameter_points("sau", "sigma", ("sigma", "alpha"),
...                                                {"alpha": 0.25})})[:2]
[0.0, 0.01]
>>> x, t = INPUT_CLASSES["confident"].make(np.random.default_rng(0), np.float64, 2)
>>> bool(np.all(x.max(axis=1) - np.sort(x, axis=1)[:, -2] >= 39)), float(t.sum(axis=1)[0])
(True, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SHARPNESS_GRID = (0.1, 0.37, 0.9, 1.0, 3.0, 7.5, 10.0, 100.0, 1e4)
"""Values of every sharpness/width parameter (issue #12 item 4); 1 is measured first and with
the full point counts, the others with :data:`GRID_FRACTION` of them."""
GRID_FRACTION = 6
"""Parameter values other than the first use ``per_regime // GRID_FRACTION`` elementwise points
per regime (at least 4) and no ``long`` row: the grid multiplies the work by about 2.3, not 9."""


@dataclass(frozen=True)
class Edge:
    """Documented domain edge: ``kernel``'s parameter ``param`` is also measured at ``values``
    (the sharpness/width at its default)."""

    kernel: str
    param: str
    values: tuple
    reason: str


EDGES: dict[tuple[str, str], Edge] = {}


def register_edge(edge: Edge) -> Edge:
    """Add (or replace) a domain edge; returns it."""
    EDGES[(edge.kernel, edge.param)] = edge
    return edge


for _name in ("sau", "smu", "smu1"):
    register_edge(
        Edge(
            _name,
            "alpha",
            (0.0, 0.01, 0.25, 0.5, 0.999, 1 - 2.0**-20),
            "leaky slope: documented domain 0 <= alpha < 1 (issue #12: 0 for x < 0 at alpha = 0)",
        )
    )


def parameter_points(
    kernel: str,
    sharpness: str | None,
    names: tuple,
    defaults: dict,
    user: dict | None = None,
    integer: bool = False,
) -> list[dict]:
    """The parameter values ``kernel`` is measured at: the user's point alone when ``user`` is
    given, else the defaults (sharpness 1), the sharpness over :data:`SHARPNESS_GRID`, then each
    registered edge.  Parameters not named keep their default (1 when none); ``defaults`` may
    be keyed by name or by SymPy symbol (a record's ``fixed``).  ``integer``: the sharpness is
    an integer by the record's domain (max_pair_odd_power's ``k``), so only the grid's integer
    values are in its domain (the others would be measured against a NaN refusal).

    >>> [p["k"] for p in parameter_points("odd", "k", ("k",), {}, integer=True)]
    [1.0, 3.0, 10.0, 100.0, 10000.0]
    """
    given = {str(n): v for n, v in defaults.items()}
    base = {n: float(given.get(n, 1.0)) for n in names}
    if user:
        return [{**base, **{n: float(v) for n, v in user.items()}}]
    points = [base]
    if sharpness in names:
        grid = [v for v in SHARPNESS_GRID if not integer or float(v).is_integer()]
        points += [{**base, sharpness: v} for v in grid if v != base[sharpness]]
    for (name, param), edge in EDGES.items():
        if name == kernel and param in names:
            points += [{**base, param: float(v)} for v in edge.values if v != base[param]]
    return points


def param_label(point: dict, names: tuple) -> str:
    """``"k=3"``, ``"sigma=0.1, alpha=0"``: the parameters as the report prints them."""
    return ", ".join(f"{n}={point[n]:g}" for n in names)


@dataclass(frozen=True)
class InputClass:
    """A class of rows: ``make(rng, dtype, vectors)`` returns one 2-D array per input vector (the
    first the scores, the others labels) of the rows it says."""

    name: str
    make: Callable
    says: str


INPUT_CLASSES: dict[str, InputClass] = {}


def register_input_class(item: InputClass) -> InputClass:
    """Add (or replace) an input class of the row grid; returns it."""
    INPUT_CLASSES[item.name] = item
    return item


def _labels(rng, shape, vectors, fill=None):
    if fill is None:
        return tuple(rng.uniform(0.0, 1.0, shape) for _ in range(vectors - 1))
    return tuple(np.full(shape, float(fill)) for _ in range(vectors - 1))


def _offset(rng, dt, vectors):
    x = 1000.0 + rng.uniform(-1, 1, (4, 16))
    return (x,) + _labels(rng, x.shape, vectors)


def _last_bit(rng, dt, vectors):
    base = dt.type(rng.uniform(0.5, 2.0))
    up = np.nextafter(base, dt.type(np.inf))
    x = np.where(rng.random((4, 16)) < 0.5, base, up).astype(dt)
    return (x,) + _labels(rng, x.shape, vectors)


def _confident(rng, dt, vectors):
    """One entry at +10, the others near -30 (softmax ~ 1 - 1e-17): its label is the 1."""
    x = -30.0 + rng.uniform(-1, 1, (4, 8))
    x[np.arange(4), rng.integers(0, 8, 4)] = 10.0
    top = (x == x.max(axis=1, keepdims=True)).astype(float)
    return (x,) + tuple(top for _ in range(vectors - 1))


def _classified(rng, dt, vectors):
    """Rows scored +-8 by their labels (correctly classified, wide margins)."""
    t = (rng.random((4, 8)) < 0.5).astype(float)
    x = np.where(t > 0, 8.0, -2.0) + rng.uniform(-0.5, 0.5, t.shape)
    return (x,) + tuple(t for _ in range(vectors - 1))


for _item in (
    InputClass("offset_logits", _offset, "1000 + uniform(-1, 1): exp overflows, differences tiny"),
    InputClass("last_bit_ties", _last_bit, "entries equal or one ulp apart"),
    InputClass("confident", _confident, "one entry 40 above the rest; its label is the 1"),
    InputClass("classified", _classified, "scores +8 where the label is 1, -2 where it is 0"),
    InputClass(
        "labels_all_0",
        lambda r, dt, v: (r.standard_normal((4, 8)) * 3,) + _labels(r, (4, 8), v, 0),
        "label rows of zeros",
    ),
    InputClass(
        "labels_all_1",
        lambda r, dt, v: (r.standard_normal((4, 8)) * 3,) + _labels(r, (4, 8), v, 1),
        "label rows of ones",
    ),
    InputClass(
        "length_1",
        lambda r, dt, v: (r.standard_normal((4, 1)) * 30,) + _labels(r, (4, 1), v),
        "rows of one entry",
    ),
    InputClass(
        "subnormal_out",
        lambda r, dt, v: (
            (r.standard_normal((4, 8)) * float(np.finfo(dt).smallest_subnormal) * 64,)
            + _labels(r, (4, 8), v)
        ),
        "entries of a few dozen subnormals: outputs of that size",
    ),
):
    register_input_class(_item)


def class_rows(vectors: int, dtype, seed: int = 1) -> dict:
    """``class name -> tuple of 2-D arrays`` in ``dtype`` for every registered input class."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    out = {}
    with np.errstate(all="ignore"):
        for name, item in sorted(INPUT_CLASSES.items()):
            out[name] = tuple(np.asarray(a).astype(dt) for a in item.make(rng, dt, vectors))
    return out


def antiparallel(dtype, count: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(x, -x (1 + d))`` with ``d`` from 2**-52 to 1e-3: near-cancelling sums."""
    dt = np.dtype(dtype)
    x = np.logspace(-2, 2.5, count)
    d = np.logspace(np.log10(np.finfo(dt).eps), -3, count)
    x = np.concatenate([x, -x]).astype(dt)
    y = (-x.astype(np.float64) * (1 + np.concatenate([d, d]))).astype(dt)
    return x, y
