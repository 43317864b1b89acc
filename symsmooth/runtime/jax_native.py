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

import jax.numpy as jnp
from jax import lax


def _operands(*args):
    """The arguments as arrays of one floating dtype: the promoted dtype of the floating
    arrays among them (a Python float parameter takes it), JAX's default float otherwise."""
    arrays = [jnp.asarray(a) for a in args]
    floats = [a.dtype for a in arrays if jnp.issubdtype(a.dtype, jnp.floating)]
    strong = [a.dtype for a in arrays if jnp.issubdtype(a.dtype, jnp.floating) and not a.weak_type]
    dtype = jnp.result_type(*(strong or floats)) if floats else jnp.result_type(float)
    return tuple(a.astype(dtype) for a in arrays)


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
    0 where it is not finite."""
    a, b = jnp.broadcast_arrays(lax.stop_gradient(a), lax.stop_gradient(b))
    s = _split_const(a)
    p = a * b
    c = s * a
    ah = c - (c - a)
    al = a - ah
    c = s * b
    bh = c - (c - b)
    bl = b - bh
    return _finite_or_zero(((ah * bh - p) + ah * bl + al * bh) + al * bl)


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
