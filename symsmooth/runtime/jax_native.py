"""The hand-written base of the native JAX modules (``<name>_jax.py``): the twin of
:mod:`symsmooth.runtime.torch_native` in ``jax.numpy`` (see there for what these are).

The rules: jax and ``math`` only, no imports from symsmooth; the rounding errors carry no
derivative (``lax.stop_gradient``).  The dtype of a traced array is static, so the constants
chosen by dtype are Python values under ``jit``.

Examples
--------
>>> import jax
>>> with jax.enable_x64(True):
...     a = jnp.array([0.1, 3.0]); b = jnp.array([0.3, -36.9])
...     print(_two_prod_err(a, b).tolist(), _quot_err(jnp.array(1.0), jnp.array(3.0)).item())
[1.6653345369377347e-18, -7.105427357601002e-15] 1.850371707708594e-17
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax


def _result_dtype(*args):
    """The dtype of a result: the promoted dtype of the floating arrays among the arguments
    (a Python float parameter takes it), JAX's default float otherwise."""
    arrays = [jnp.asarray(a) for a in args]
    floats = [a.dtype for a in arrays if jnp.issubdtype(a.dtype, jnp.floating)]
    strong = [a.dtype for a in arrays if jnp.issubdtype(a.dtype, jnp.floating) and not a.weak_type]
    return jnp.result_type(*(strong or floats)) if floats else jnp.result_type(float)


def _entry(static=(), check=None):
    """A decorator: the public function compiled by ``jax.jit`` (as ``jax.nn``'s are), with
    the keywords named in ``static`` (``axis``, ``keepdims``, an iteration count) as static
    arguments, and ``check`` called first on the call's arguments outside the compilation.

    An eager call then costs one compilation per shape, dtype and static value and no
    per-operation dispatch after it: the compensated rules are thousands of operations, which
    run one by one without ``jit`` (seconds per first call of a shape, 0.2 s after).  Checks of
    data (the class labels) need concrete arrays, so they run in ``check``: under a user's own
    ``jit`` the arrays are traced and the check passes, as before."""

    def wrap(fn):
        jitted = jax.jit(fn, static_argnames=static)
        if check is None:
            return jitted

        def call(*args, **kwargs):
            check(*args, **kwargs)
            return jitted(*args, **kwargs)

        call.__name__, call.__qualname__, call.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
        call.__wrapped__ = fn
        return call

    return wrap


def _operands(*args):
    """The arguments as arrays of one floating dtype: :func:`_result_dtype`, with bfloat16 and
    float16 computed in float32 (rounded once at the end, :func:`_narrow`)."""
    dtype = _result_dtype(*args)
    if dtype in (jnp.bfloat16, jnp.float16):
        dtype = jnp.float32
    return tuple(jnp.asarray(a).astype(dtype) for a in args)


def _narrow(r, dtype):
    """A result (or a tuple of them) rounded once to ``dtype``; other dtypes unchanged."""
    if isinstance(r, tuple):
        return tuple(_narrow(x, dtype) for x in r)
    return r.astype(dtype) if r.dtype != dtype else r


def _split_const(t):
    """Dekker's splitting constant 2**ceil(p/2) + 1 of ``t``'s precision p (53 or 24)."""
    return 134217729.0 if t.dtype == jnp.float64 else 4097.0


def _by_dtype(t, v64, v32):
    """``v64`` for a float64 ``t``, else ``v32`` (a constant's low part by precision)."""
    return v64 if t.dtype == jnp.float64 else v32


def _finite_or_zero(e):
    """``e`` where it is finite, else 0 (an overflowed split: the rounded value is used)."""
    return jnp.where(jnp.isfinite(e), e, jnp.zeros_like(e))


def _two_prod_err(a, b):
    """The rounding error of ``a*b``: ``a*b = fl(a*b) + err`` exactly (Dekker; no FMA needed),
    0 where it is not finite or where it is below the normal range.

    XLA on CPU flushes subnormal results to 0, and Dekker's ``ah*bh - p`` is one where ``p``
    is within ``2**53`` of the smallest normal: the error came back as ``ah*bl + al*bh``
    alone, ``1e-8`` of a product near ``1e-300`` (a soft argmax derivative in ``k`` 7.9e8 ulp
    off on rows of ``1e-300``); 0 there only drops a correction below ``eps**2`` relative.
    So is an operand below ``2**-995`` (float32 ``2**-114``), whose low half is subnormal
    and flushed: ``k x`` with ``k = 1e-300`` on entries of ``1e300`` had the error ``2e-8`` of
    the product.  (Scaling the pair by ``2**512`` kept it exact eagerly, but under ``jit``
    XLA refolded the scaled products: gelu's tail 340 ulp off.)

    >>> import jax
    >>> with jax.enable_x64(True):
    ...     _two_prod_err(jnp.array([0.1, 3e-300, 1e-300]), jnp.array([0.3, 0.1, 1e300])).tolist()
    [1.6653345369377347e-18, 0.0, 0.0]
    """
    a, b = jnp.broadcast_arrays(lax.stop_gradient(a), lax.stop_gradient(b))
    s = _split_const(a)
    p = a * b
    c = s * a
    ah = c - (c - a)
    al = a - ah
    c = s * b
    bh = c - (c - b)
    bl = b - bh
    err = _finite_or_zero(((ah * bh - p) + ah * bl + al * bh) + al * bl)
    low = (jnp.abs(p) < _by_dtype(p, 2.0**-969, 2.0**-102)) | (
        jnp.minimum(jnp.abs(a), jnp.abs(b)) < _by_dtype(p, 2.0**-995, 2.0**-114)
    )
    return jnp.where(low, jnp.zeros_like(err), err)


def _two_sum_err(a, b):
    """The rounding error of ``a + b``: ``a + b = fl(a + b) + err`` exactly (Knuth TwoSum), 0
    where it is not finite."""
    a, b = lax.stop_gradient(a), lax.stop_gradient(b)
    s = a + b
    bp = s - a
    return _finite_or_zero((a - (s - bp)) + (b - bp))


def _quot_err(a, b):
    """The remainder term of ``a/b``: ``a/b = fl(a/b) + err`` to twice the working precision
    (``a - q b`` is exact), 0 where not finite."""
    a, b = lax.stop_gradient(a), lax.stop_gradient(b)
    q = a / b
    p = q * b
    return _finite_or_zero(((a - p) - _two_prod_err(q, b)) / b)


def _sub2(z, hi, lo):
    """``(z - hi) - lo`` in this order: the barrier keeps XLA from folding ``hi + lo`` into
    one constant (which rounds to ``hi``: the low part would be lost under ``jit``)."""
    return lax.optimization_barrier(z - hi) - lo


def _correction(c):
    """A first-order rounding correction ``e f'(p)``, without derivative (its derivative is
    below the rounding of ``f``'s), 0 where it is not finite (``f'`` overflowed, ``e`` is 0)."""
    return _finite_or_zero(lax.stop_gradient(c))


def _shaped(r, *args):
    """The result ``r`` (an array or a Python number) as an array of the operands' dtype and
    broadcast shape (a constant partial, ``d(k x)/dx = k``, has the shape of ``k``)."""
    shape = jnp.broadcast_shapes(*(jnp.shape(a) for a in args))
    return jnp.broadcast_to(jnp.asarray(r, dtype=args[0].dtype), shape)


# --- row reductions (``<name>_jax.py`` of a reduction; see symsmooth.runtime.torch_native) --


def _to_rows(vectors, axis, where):
    """The row vectors broadcast to one shape with ``axis`` moved last, the mask ``where``
    broadcast and moved likewise (``None``: no mask), and the batch shape."""
    vectors = jnp.broadcast_arrays(*vectors)
    ndim = vectors[0].ndim
    if ndim == 0:
        raise ValueError("inputs must have at least one axis (the reduced one)")
    if not isinstance(axis, int) or not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis!r} is out of range for an input of {ndim} axes")
    moved = tuple(jnp.moveaxis(v, axis, -1) for v in vectors)
    keep = None
    if where is not None:
        keep = jnp.asarray(where)
        if keep.dtype != jnp.bool_:
            raise TypeError(f"where= must be a boolean mask, not {keep.dtype}")
        keep = jnp.moveaxis(jnp.broadcast_to(keep, vectors[0].shape), axis, -1)
    return moved, keep, moved[0].shape[:-1]


def _per_row(p, batch):
    """Parameter ``p`` broadcast to the batch shape, with a length-1 axis last."""
    return jnp.broadcast_to(p, batch)[..., None]


def _check_label(t, first, last, keep, name, label):
    """A ValueError unless every class label in ``t`` is an integer in ``[first, last]``, and
    unless each selects an entry the mask ``keep`` keeps in a row that keeps any (a fully masked
    row's loss is 0 whatever its label), as the Numba module refuses them (concrete arrays
    only: a traced one cannot raise on data)."""
    if isinstance(t, jax.core.Tracer) or t.size == 0:
        return
    bad = ~jnp.isfinite(t) | (t != jnp.round(t)) | (t < first) | (t > last)
    if bool(jnp.any(bad)):
        shown = t[bad].reshape(-1)[0].item()
        raise ValueError(
            f"{name}: label {label} = {shown} is not a class index of a row of length "
            f"{last - first + 1}: labels are integers from {first} to {last}"
        )
    if keep is None or isinstance(keep, jax.core.Tracer) or keep.shape[-1] == 0:
        return
    at = (t - first).astype(jnp.int32)
    inside = at < keep.shape[-1]  # a label past the row (an offset) selects no entry
    shape = jnp.broadcast_shapes(keep.shape[:-1], at.shape[:-1])
    keep = jnp.broadcast_to(keep, shape + keep.shape[-1:])
    at = jnp.broadcast_to(jnp.minimum(at, keep.shape[-1] - 1), shape + (1,))
    hit = jnp.take_along_axis(keep, at, axis=-1)
    masked = inside & ~hit & keep.any(-1, keepdims=True)
    if bool(jnp.any(masked)):
        shown = jnp.broadcast_to(t, shape + (1,))[masked].reshape(-1)[0].item()
        raise ValueError(
            f"{name}: label {label} = {shown:g} selects a masked entry of a row that keeps "
            "other entries: unmask it, or mask the whole row (its loss is then 0)"
        )


def _kept(keep, t, fill):
    """``t`` where the mask ``keep`` holds, else ``fill`` (``keep`` None: ``t``)."""
    return t if keep is None else jnp.where(keep, t, fill)


def _row_sum(t):
    """The sum over the last axis, kept as a length-1 axis."""
    return jnp.sum(t, axis=-1, keepdims=True)


def _row_sum_err(t, s):
    """The rounding error of the row sum ``s`` of ``t`` (:func:`_row_sum`): ``sum t - s`` to
    about ``eps**2`` relative, without derivative.  A pairwise tree of TwoSums over the row
    (``log2 n`` elementwise passes on halving rows) sums ``t`` to ``u`` and the errors of its
    additions to ``e``; then ``sum t = u + e`` to ``eps**2`` and ``sum t - s = (u - s) + e``.
    ``s`` and the result are the double-double row sum the pivoted gradients need
    (Ogita, Rump and Oishi, "Accurate sum and dot product", SIAM J. Sci. Comput. 26 (2005)).

    >>> import jax
    >>> with jax.enable_x64(True):
    ...     t = jnp.array([[1.0, 1e-17, -1.0, 3e-18]])
    ...     s = _row_sum(t)
    ...     float(s[0, 0]), float((s + _row_sum_err(t, s))[0, 0])
    (3e-18, 1.3e-17)
    """
    u = lax.stop_gradient(t)
    err = jnp.zeros(s.shape, dtype=u.dtype)
    while u.shape[-1] > 1:
        if u.shape[-1] % 2:
            u = jnp.concatenate([u, jnp.zeros_like(u[..., :1])], axis=-1)
        a, b = u[..., 0::2], u[..., 1::2]
        u = a + b
        err = err + jnp.sum(_two_sum_err(a, b), axis=-1, keepdims=True)
    if u.shape[-1] == 0:
        return err
    return _finite_or_zero((u - lax.stop_gradient(s)) + err)


def _barrier(t):
    """``t`` (an array or a tuple of them) kept apart from its neighbours
    (``lax.optimization_barrier``): XLA neither fuses nor reassociates across it, and JAX's
    transposition keeps the order of operations on each side.  Every statement of a rule
    that JAX transposes twice (the row-map VJP, :mod:`symsmooth.codegen.native_pivot`) is
    behind one: without them the transpose of the transpose re-associates the error-free
    transformations (TwoSum came back as ``((a + b) - (s - b')) - b'``: 258 ulp where the
    rule itself is within 1)."""
    return lax.optimization_barrier(t)


def _linear_two_sum_err(a, b):
    """:func:`_two_sum_err` in linear operations only, for operands linear in a cotangent
    that JAX transposes (``jax.linear_transpose``): no ``stop_gradient``, no finiteness
    guard (not finite where ``a + b`` is not), each step behind :func:`_barrier`.

    Its transpose is the zero map (as the exact error of a linear map is 0), and the
    transpose of that is the error again:

    >>> import jax
    >>> with jax.enable_x64(True):
    ...     g = jnp.array([1.0, 2.0])
    ...     err = lambda c: _linear_two_sum_err(c, 1e-17 * c)
    ...     back = jax.linear_transpose(err, g)
    ...     again = jax.linear_transpose(lambda c: back(c)[0], g)
    ...     err(g).tolist(), back(g)[0].tolist(), again(g)[0].tolist()
    ([1e-17, 2e-17], [0.0, 0.0], [1e-17, 2e-17])
    """
    s = _barrier(a + b)
    bp = _barrier(s - a)
    e1, e2 = _barrier((a - _barrier(s - bp), b - bp))
    return e1 + e2


def _linear_split(a):
    """Dekker's split ``a = hi + lo`` (each half the significand) in linear operations: the
    product by the splitting constant is taken on ``a`` scaled by ``2**-28`` (float32:
    ``2**-13``), exact, so that no finite ``a`` overflows (below ``2**-994`` the scaled ``a``
    is subnormal and ``lo`` may keep a few more bits: the products' errors are then exact to
    about ``eps`` of themselves)."""
    scale = _by_dtype(a, 2.0**28, 2.0**13)
    small = a * (1.0 / scale)
    c = _barrier(_split_const(a) * small)
    hi = _barrier(_barrier(c - _barrier(c - small)) * scale)
    return hi, _barrier(a - hi)


def _linear_two_prod_err(a, b):
    """:func:`_two_prod_err` in linear operations only (``a`` linear in a transposed
    cotangent, ``b`` constant): Dekker's TwoProduct on :func:`_linear_split` halves, each step
    behind :func:`_barrier`; 0 where ``|b| < 2**-960`` (float32: ``2**-96``): XLA flushes
    subnormals, and there a product's error came back ``1e-8`` of a product near ``1e-299``
    (``G_l T`` of a softmax row of ``1e-300``: 3.3e6 ulp), where 0 only drops a correction
    (``b`` is read as a constant: it must not be the linear operand).

    >>> import jax
    >>> with jax.enable_x64(True):
    ...     _linear_two_prod_err(jnp.array([0.1, 3.0]), jnp.array([0.3, -36.9])).tolist()
    [1.6653345369377347e-18, -7.105427357601002e-15]
    """
    a, b = jnp.broadcast_arrays(a, b)
    ah, al = _linear_split(a)
    bh, bl = _linear_split(b)
    p = _barrier(a * b)
    t1 = _barrier(_barrier(ah * bh) - p)
    t2, t3, t4 = _barrier((ah * bl, al * bh, al * bl))
    err = _barrier(_barrier(t1 + t2) + t3) + t4
    return jnp.where(jnp.abs(lax.stop_gradient(b)) < _by_dtype(b, 2.0**-960, 2.0**-96), 0.0, err)


def _linear_row_sum_err(t, s):
    """:func:`_row_sum_err` in linear operations only (``t`` and ``s`` linear in a transposed
    cotangent): the same pairwise TwoSum tree over :func:`_linear_two_sum_err`.

    >>> import jax
    >>> with jax.enable_x64(True):
    ...     t = jnp.array([[1.0, 1e-17, -1.0, 3e-18]])
    ...     float(_linear_row_sum_err(t, _row_sum(t))[0, 0])
    1e-17
    """
    u = t
    err = jnp.zeros(s.shape, dtype=t.dtype)
    while u.shape[-1] > 1:
        if u.shape[-1] % 2:
            u = jnp.concatenate([u, jnp.zeros_like(u[..., :1])], axis=-1)
        a, b = u[..., 0::2], u[..., 1::2]
        u = _barrier(a + b)
        err = _barrier(err + _row_sum(_linear_two_sum_err(a, b)))
    if u.shape[-1] == 0:
        return err
    return _barrier(u - s) + err


def _row_shift(h, start):
    """The max shift of ``h`` over the last axis: ``max(start, max h)``, 0 where not finite,
    without derivative (the value does not depend on it)."""
    m = jnp.max(lax.stop_gradient(h), axis=-1, keepdims=True, initial=start)
    return jnp.where(jnp.isfinite(m), m, jnp.zeros_like(m))


def _absent_term(w, d):
    """0, with the derivative ``exp(d)`` in ``w``: the term ``w exp(d)`` of an absent entry
    (``w`` exactly 0, so left out of the shift), whose ``exp(d)`` may overflow; capped at the
    largest finite exponential so that ``0 * exp(d)`` is never NaN."""
    cap = 709.0 if d.dtype == jnp.float64 else 88.0
    return (w - lax.stop_gradient(w)) * jnp.exp(jnp.minimum(d, cap))


def _finite_entries(*rows):
    """Where every one of the row inputs ``rows`` is finite (broadcast)."""
    fin = jnp.isfinite(rows[0])
    for r in rows[1:]:
        fin = fin & jnp.isfinite(r)
    return fin


def _safe_entry(fin, a, b):
    """``a`` where ``fin`` holds, else ``b`` without derivative ("double where": the value at a
    non-finite entry, the derivative of its safe twin ``a``, which is finite)."""
    return jnp.where(fin, a, lax.stop_gradient(b))


def _frozen(e):
    """``e`` without derivative."""
    return lax.stop_gradient(e)


@jax.custom_jvp
def _tangent_only(v):
    """0, whose derivative in ``v`` is 1 at every entry, ``v = -inf`` included: the
    perturbation ``v - v`` of an entry whose value is not finite (``v - stop(v)`` is NaN
    there, and a ``where`` around it drops the tangent).  A pivoted gradient is attached as
    ``sum_i d_i g_i``; the limit ``g_i`` at an absent entry (cross-entropy's ``-1`` at a
    label on a ``-inf`` logit) needs ``d_i``.

    >>> v = jnp.array([-jnp.inf, 2.0])
    >>> _tangent_only(v).tolist(), jax.grad(lambda v: (_tangent_only(v) * v[1]).sum())(v).tolist()
    ([0.0, 0.0], [2.0, 2.0])
    """
    return jnp.zeros_like(v)


@_tangent_only.defjvp
def _tangent_only_rule(primals, tangents):
    """The JVP of :func:`_tangent_only`: value 0, tangent the input's.  The value is
    :func:`_tangent_only` again, not ``zeros_like``: a higher-order derivative differentiates
    this rule, and ``zeros_like`` would drop the second derivative of the midpoint term."""
    return _tangent_only(primals[0]), tangents[0]


@jax.custom_jvp
def _tangent_times(v, h):
    """0, whose derivative in ``v`` is ``h`` (at ``v = -inf`` too) and whose derivative in
    ``h`` is structurally absent: the product ``_tangent_only(v) * h`` without the tangent
    ``0 * dh``.  That term is 0 in exact arithmetic, but its transpose pushes the cotangent 0
    through ``h``'s linearization, where a partial can overflow: soft argmax's parameter
    derivative at entries near ``1e300`` with ``k = 1e-300`` divides by a square near
    ``2**-1994``, and ``0 * inf`` made both gradients NaN.  The tangent ``dv h`` is
    differentiable in ``h``, so second derivatives are ``h``'s (read ``h`` at
    ``stop(v) + _tangent_only(v)`` for the pure second derivative in ``v``).

    >>> k, z = jnp.array(3.0), jnp.array(0.0)
    >>> h = lambda k, z: k**2 + jnp.sqrt(z)  # d sqrt(z)/dz = inf at 0
    >>> [float(t) for t in jax.grad(lambda k, z: _tangent_only(k) * h(k, z), (0, 1))(k, z)]
    [9.0, nan]
    >>> [float(t) for t in jax.grad(lambda k, z: _tangent_times(k, h(k, z)), (0, 1))(k, z)]
    [9.0, 0.0]
    """
    shape = jnp.broadcast_shapes(jnp.shape(v), jnp.shape(h))
    return jnp.zeros(shape, dtype=jnp.result_type(h))


@_tangent_times.defjvp
def _tangent_times_rule(primals, tangents):
    """The JVP of :func:`_tangent_times`: value 0 (the function again, for higher orders, as
    :func:`_tangent_only_rule`), tangent ``dv h``; ``dh`` is not read."""
    v, h = primals
    return _tangent_times(v, h), tangents[0] * h


def _wexp(h, m):
    """``exp(h - m)`` with ``h - m`` taken exactly: ``exp(d) (1 + e)`` (inf stays inf),
    ``d = fl(h - m)`` and ``e`` its rounding error (TwoSum), so a weight far below the row
    maximum keeps its digits (``exp(d)`` alone is ``|d|/2`` ulp off)."""
    d = h - m
    ed = jnp.exp(d)
    return ed * (1.0 + _two_sum_err(h, -m))


def _dexp(c, u, v):
    """``exp(c (u - v))`` with ``d = u - v`` and ``c d`` exact to first order (see the torch
    twin)."""
    d = u - v
    p = c * d
    e = _two_prod_err(c, d) + lax.stop_gradient(c) * _two_sum_err(u, -v)
    return jnp.exp(p) * (1.0 + _finite_or_zero(e))


def _row_pivot(a):
    """The index of the first maximum of ``a`` over the last axis (a length-1 axis)."""
    if a.shape[-1] == 0:
        return jnp.zeros(a.shape[:-1] + (1,), dtype=jnp.int32)
    return jnp.argmax(lax.stop_gradient(a), axis=-1, keepdims=True)


def _row_take(v, i):
    """The entries of ``v`` at the row indices ``i`` (a length-1 axis; differentiable)."""
    if v.shape[-1] == 0:
        return jnp.zeros(v.shape[:-1] + (1,), dtype=v.dtype)
    shape = jnp.broadcast_shapes(v.shape[:-1], i.shape[:-1])
    v = jnp.broadcast_to(v, shape + v.shape[-1:])
    return jnp.take_along_axis(v, jnp.broadcast_to(i, shape + (1,)), axis=-1)


def _tracked(m, p):
    """The value of ``m`` with the derivative of ``p`` (``p - p`` is exactly 0)."""
    return m + (p - lax.stop_gradient(p))


def _pre_shift(x, keep, kind):
    """The shifted row of an iteration: ``x - x_m`` with ``m`` the first kept minimum
    (``"min"``) or maximum (``"max"``; its entry differentiable), or ``x`` (``"none"``)."""
    if kind == "none" or x.shape[-1] == 0:
        return x
    key = -x if kind == "min" else x
    return x - _row_take(x, _row_pivot(jnp.where(keep, key, -math.inf)))


def _present(x):
    """The entries of an iteration's row that take part: all but the ``-inf`` ones (absent,
    as in the Numba kernels)."""
    return x > -math.inf


def _steps(count):
    """The iteration count, refused unless an integer ``>= 0``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"the iteration count must be an integer >= 0, not {count!r}")
    return count


def _row_scale(*rows):
    """``2**-e`` per row with ``2**(e-1) <= max |v|`` over the rows' finite entries (1 where
    there are none; ``e`` within +-1000, float32 +-120, so that both ``2**e`` and ``2**-e``
    are normal numbers), without derivative: a power of 2 that scales a row's differences to
    about 1 exactly.

    >>> import jax
    >>> with jax.enable_x64(True):
    ...     t = jnp.array([[3e-300, -1e-299], [0.0, 0.0]])
    ...     bool((_row_scale(t) * 1e-299)[0, 0] < 1), float(_row_scale(t)[1, 0])
    (True, 1.0)
    """
    top = None
    for v in rows:
        v = lax.stop_gradient(v)
        v = jnp.where(jnp.isfinite(v), jnp.abs(v), 0.0)
        m = jnp.max(v, axis=-1, keepdims=True, initial=0.0)
        top = m if top is None else jnp.maximum(top, m)
    _, e = jnp.frexp(top)
    bound = _by_dtype(top, 1000, 120)
    e = jnp.clip(jnp.where(top > 0, e, 0), -bound, bound)
    return jnp.ldexp(jnp.ones_like(top), -e)


def _row_positions(like):
    """The 1-based positions ``1, ..., n`` of a row of ``like`` (``like``'s dtype)."""
    return jnp.arange(1, like.shape[-1] + 1, dtype=like.dtype)


def _row_count(keep, like):
    """The row length ``n`` of each row of ``like``: its kept count under a mask."""
    if keep is None:
        return jnp.full(like.shape[:-1] + (1,), like.shape[-1], dtype=like.dtype)
    return jnp.sum(keep, axis=-1, keepdims=True).astype(like.dtype)


def _log_split(lin, c, r):
    """``lin + log(c + r)`` as ``(lin + log c) + log1p(r/c)`` (``c`` the weights of the terms
    at the maximum, ``r`` the rest); ``lin + log(c + r)`` where ``c`` is not positive.  Its
    derivative is that of ``lin + log(c + r)`` (see the torch twin)."""
    ok = c > 0
    safe = jnp.where(ok, c, jnp.ones_like(c))
    split = (lin + jnp.log(safe)) + jnp.log1p(r / safe)
    tangent = lin + jnp.log(safe + r)
    split = lax.stop_gradient(split) + _finite_or_zero(tangent - lax.stop_gradient(tangent))
    return jnp.where(ok, split, lin + jnp.log(c + r))


def _row_any(keep):
    """Whether each row of the mask keeps any entry (a length-1 last axis)."""
    return jnp.any(keep, axis=-1, keepdims=True)


def _empty_fill(value, zero):
    """The result of a fully masked row: 0 for a loss with a class label or a derivative
    (``zero``), else the value over empty sums with NaN (0/0) as 0."""
    if zero:
        return jnp.zeros_like(value)
    return jnp.where(jnp.isnan(value), jnp.zeros_like(value), value)


def _from_rows(out, axis, keepdims, rowmap):
    """A rows result moved back to the input's layout (see the torch twin)."""
    if rowmap or keepdims:
        return jnp.moveaxis(out, -1, axis)
    return out[..., 0]


def _vjp(f, args, wrt, cotangent=None):
    """The vector-Jacobian products of ``f(*args)`` in the arguments at the positions
    ``wrt``, with ``cotangent`` (``None``: ones, the gradient of the sum), by ``jax.vjp``."""

    def at(*free):
        full = list(args)
        for j, a in zip(wrt, free, strict=True):
            full[j] = a
        return f(*full)

    out, pull = jax.vjp(at, *(args[j] for j in wrt))
    g = (
        jnp.ones_like(out)
        if cotangent is None
        else jnp.broadcast_to(jnp.asarray(cotangent, dtype=out.dtype), out.shape)
    )
    return pull(g)
