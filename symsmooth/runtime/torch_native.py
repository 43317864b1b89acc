"""The hand-written base of the native PyTorch modules (``<name>_torch.py``).

A native module computes the stable form of a kernel in torch ops: every primitive is a
small function printed from its recipe (:mod:`symsmooth.codegen.recipes`), and these few
functions are what a recipe cannot say in SymPy: the rounding errors of a product, a sum and
a quotient (error-free transformations that SymPy would simplify to 0), constants by dtype,
the operands' conversion and the sum of a broadcast gradient back to an operand's shape.

The code generator copies the source of each one a module uses (read with :mod:`ast`, as
:mod:`symsmooth.codegen.helpers` does for the Numba runtime), so the module needs only torch.
The rules: torch and ``math`` only, no imports from symsmooth; the rounding errors carry no
gradient (``detach``: ``hi + lo`` is the exact value, whose derivative is ``hi``'s).

References
----------
T. J. Dekker, "A floating-point technique for extending the available precision", Numer.
Math. 18 (1971) 224-242 (TwoProduct by splitting, valid without an FMA).  D. E. Knuth,
TAOCP vol. 2, 4.2.2 (TwoSum).

Examples
--------
>>> import torch
>>> a = torch.tensor([0.1, 3.0], dtype=torch.float64)
>>> b = torch.tensor([0.3, -36.9], dtype=torch.float64)
>>> _two_prod_err(a, b).tolist()  # a*b = fl(a*b) + err exactly
[1.6653345369377347e-18, -7.105427357601002e-15]
>>> x, k = _operands(torch.tensor([1.0], dtype=torch.float32), 2.5)
>>> k.dtype, k.shape
(torch.float32, torch.Size([]))
"""

from __future__ import annotations

import torch


def _operands(*args):
    """The arguments as tensors of one floating dtype and device: the promoted dtype of the
    floating tensors among them (float32 stays float32; a Python float parameter takes it),
    torch's default dtype when there is none."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    floats = [a.dtype for a in tensors if a.is_floating_point()]
    dtype = floats[0] if floats else torch.get_default_dtype()
    for d in floats[1:]:
        dtype = torch.promote_types(dtype, d)
    device = tensors[0].device if tensors else None
    return tuple(torch.as_tensor(a, dtype=dtype, device=device) for a in args)


def _split_const(t):
    """Dekker's splitting constant 2**ceil(p/2) + 1 of ``t``'s precision p (53 or 24)."""
    return 134217729.0 if t.dtype == torch.float64 else 4097.0


def _by_dtype(t, v64, v32):
    """``v64`` for a float64 ``t``, else ``v32`` (the low part of a constant differs by dtype:
    it is the constant minus its rounding to ``t``'s precision)."""
    return v64 if t.dtype == torch.float64 else v32


def _finite_or_zero(e):
    """``e`` where it is finite, else 0 (an overflowed split: the rounded value is used)."""
    return torch.where(torch.isfinite(e), e, torch.zeros_like(e))


def _detached(a, b):
    """``a`` and ``b`` (tensors or numbers, at least one a tensor) as broadcast tensors of the
    tensor's dtype, without gradient."""
    like = a if isinstance(a, torch.Tensor) else b
    a = torch.as_tensor(a, dtype=like.dtype, device=like.device).detach()
    b = torch.as_tensor(b, dtype=like.dtype, device=like.device).detach()
    return torch.broadcast_tensors(a, b)


def _two_prod_err(a, b):
    """The rounding error of ``a*b``: ``a*b = fl(a*b) + err`` exactly (Dekker; no FMA needed),
    0 where it is not finite."""
    a, b = _detached(a, b)
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
    a, b = _detached(a, b)
    s = a + b
    bp = s - a
    return _finite_or_zero((a - (s - bp)) + (b - bp))


def _quot_err(a, b):
    """The remainder term of ``a/b``: ``a/b = fl(a/b) + err`` to twice the working precision
    (``a - q b`` is exact: Dekker's product and the rounded quotient), 0 where not finite."""
    a, b = _detached(a, b)
    q = a / b
    p = q * b
    return _finite_or_zero(((a - p) - _two_prod_err(q, b)) / b)


def _sub2(z, hi, lo):
    """``(z - hi) - lo`` in this order (a difference with a two-part constant)."""
    return (z - hi) - lo


def _correction(c):
    """A first-order rounding correction ``e f'(p)``, without gradient (its derivative is
    below the rounding of ``f``'s), 0 where it is not finite (``f'`` overflowed, ``e`` is 0)."""
    return _finite_or_zero(c.detach())


def _sum_to(g, t):
    """The gradient ``g`` of a broadcast result summed back to the shape of operand ``t``."""
    return g if g.shape == t.shape else g.sum_to_size(t.shape)


def _shaped(r, *args):
    """The result ``r`` (a tensor or a Python number) as a tensor of the operands' dtype,
    device and broadcast shape (a constant partial, ``d(k x)/dx = k``, has the shape of
    ``k``)."""
    like = args[0]
    shape = torch.broadcast_shapes(*(a.shape for a in args))
    r = torch.as_tensor(r, dtype=like.dtype, device=like.device)
    return r if r.shape == shape else r.expand(shape).clone()
