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

import math

import torch


def _result_dtype(*args):
    """The dtype of a result: the promoted dtype of the floating tensors among the arguments
    (float32 stays float32; a Python float parameter takes it), torch's default dtype when
    there is none."""
    floats = [a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
    dtype = floats[0] if floats else torch.get_default_dtype()
    for d in floats[1:]:
        dtype = torch.promote_types(dtype, d)
    return dtype


def _operands(*args):
    """The arguments as tensors of one floating dtype and device: :func:`_result_dtype`, with
    bfloat16 and float16 computed in float32 (and rounded once at the end, :func:`_narrow`)."""
    dtype = _result_dtype(*args)
    if dtype in (torch.bfloat16, torch.float16):
        dtype = torch.float32
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    device = tensors[0].device if tensors else None
    return tuple(torch.as_tensor(a, dtype=dtype, device=device) for a in args)


def _narrow(r, dtype):
    """A result (or a tuple of them) rounded once to ``dtype`` (bfloat16 or float16 computed in
    float32); other dtypes unchanged."""
    if isinstance(r, tuple):
        return tuple(_narrow(x, dtype) for x in r)
    return r.to(dtype) if r.dtype != dtype else r


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


# --- row reductions (``<name>_torch.py`` of a reduction; symsmooth.codegen.native_rows) ------


def _to_rows(vectors, axis, where):
    """The row vectors broadcast to one shape with ``axis`` moved last (views), the mask
    ``where`` broadcast and moved likewise (``None``: no mask), and the batch shape (the input
    shape without the reduced axis)."""
    vectors = torch.broadcast_tensors(*vectors)
    ndim = vectors[0].dim()
    if ndim == 0:
        raise ValueError("inputs must have at least one axis (the reduced one)")
    if not isinstance(axis, int) or not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis!r} is out of range for an input of {ndim} axes")
    moved = tuple(torch.movedim(v, axis, -1) for v in vectors)
    keep = None
    if where is not None:
        keep = torch.as_tensor(where, device=moved[0].device)
        if keep.dtype != torch.bool:
            raise TypeError(f"where= must be a boolean mask, not {keep.dtype}")
        keep = torch.movedim(torch.broadcast_to(keep, vectors[0].shape), axis, -1)
    return moved, keep, moved[0].shape[:-1]


def _per_row(p, batch):
    """Parameter ``p`` broadcast to the batch shape, with a length-1 axis last: one value
    per row, broadcasting against the row's entries."""
    return torch.broadcast_to(p, batch).unsqueeze(-1)


def _check_label(t, first, last, keep, name, label):
    """A ValueError unless every class label in ``t`` is an integer in ``[first, last]``, and
    unless each selects an entry the mask ``keep`` keeps in a row that keeps any (a fully masked
    row's loss is 0 whatever its label), as the Numba module refuses them (eager calls only: a
    traced ``torch.compile`` graph cannot raise on data)."""
    if torch.compiler.is_compiling() or t.numel() == 0:
        return
    bad = ~torch.isfinite(t) | (t != torch.round(t)) | (t < first) | (t > last)
    if bool(torch.any(bad)):
        shown = t[bad].reshape(-1)[0].item()
        raise ValueError(
            f"{name}: label {label} = {shown} is not a class index of a row of length "
            f"{last - first + 1}: labels are integers from {first} to {last}"
        )
    if keep is None or keep.shape[-1] == 0:
        return
    at = (t.detach() - first).long()
    inside = at < keep.shape[-1]  # a label past the row (an offset) selects no entry
    shape = torch.broadcast_shapes(keep.shape[:-1], at.shape[:-1])
    keep = keep.expand(shape + keep.shape[-1:])
    hit = torch.take_along_dim(keep, at.clamp(max=keep.shape[-1] - 1).expand(shape + (1,)), -1)
    masked = inside & ~hit & keep.any(-1, keepdim=True)
    if bool(torch.any(masked)):
        shown = t.expand(shape + (1,))[masked].reshape(-1)[0].item()
        raise ValueError(
            f"{name}: label {label} = {shown:g} selects a masked entry of a row that keeps "
            "other entries: unmask it, or mask the whole row (its loss is then 0)"
        )


def _kept(keep, t, fill):
    """``t`` where the mask ``keep`` holds, else ``fill`` (``keep`` None: ``t``)."""
    return t if keep is None else torch.where(keep, t, fill)


def _row_sum(t):
    """The sum over the last axis, kept as a length-1 axis."""
    return torch.sum(t, dim=-1, keepdim=True)


def _row_sum_err(t, s):
    """The rounding error of the row sum ``s`` of ``t`` (:func:`_row_sum`): ``sum t - s`` to
    about ``eps**2`` relative, without derivative.  A pairwise tree of TwoSums over the row
    (``log2 n`` elementwise passes on halving rows) sums ``t`` to ``u`` and the errors of its
    additions to ``e``; then ``sum t = u + e`` to ``eps**2`` and ``sum t - s = (u - s) + e``.
    ``s`` and the result are the double-double row sum the pivoted gradients need
    (Ogita, Rump and Oishi, "Accurate sum and dot product", SIAM J. Sci. Comput. 26 (2005)).

    >>> t = torch.tensor([[1.0, 1e-17, -1.0, 3e-18]], dtype=torch.float64)
    >>> s = _row_sum(t)
    >>> s.item(), (s + _row_sum_err(t, s)).item()
    (3e-18, 1.3e-17)
    """
    u = t.detach()
    err = torch.zeros_like(s, dtype=u.dtype).detach()
    while u.shape[-1] > 1:
        if u.shape[-1] % 2:
            u = torch.cat([u, torch.zeros_like(u[..., :1])], dim=-1)
        a, b = u[..., 0::2], u[..., 1::2]
        u = a + b
        err = err + torch.sum(_two_sum_err(a, b), dim=-1, keepdim=True)
    if u.shape[-1] == 0:
        return err
    return _finite_or_zero((u - s.detach()) + err)


def _row_shift(h, start):
    """The max shift of the exponents ``h`` over the last axis: ``max(start, max h)``, 0
    where that is not finite (a row of -inf, an inf or a NaN), without gradient: the value
    does not depend on the shift, only its rounding does (Milakov and Gimelshein 2018)."""
    if h.shape[-1] == 0:
        return torch.zeros(h.shape[:-1] + (1,), dtype=h.dtype, device=h.device)
    m = torch.amax(h.detach(), dim=-1, keepdim=True)
    m = torch.clamp(m, min=start) if start > -math.inf else m
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


def _absent_term(w, d):
    """0, with the derivative ``exp(d)`` in ``w``: the term ``w exp(d)`` of an absent entry
    (``w`` exactly 0, so left out of the shift), whose ``exp(d)`` may overflow; capped at the
    largest finite exponential so that ``0 * exp(d)`` is never NaN."""
    cap = 709.0 if d.dtype == torch.float64 else 88.0
    return (w - w.detach()) * torch.exp(torch.clamp(d, max=cap))


def _finite_entries(*rows):
    """Where every one of the row inputs ``rows`` is finite (broadcast)."""
    fin = torch.isfinite(rows[0])
    for r in rows[1:]:
        fin = fin & torch.isfinite(r)
    return fin


def _safe_entry(fin, a, b):
    """``a`` where ``fin`` holds, else ``b`` without derivative ("double where": the value at a
    non-finite entry, the derivative of its safe twin ``a``, which is finite)."""
    return torch.where(fin, a, b.detach() if isinstance(b, torch.Tensor) else b)


def _frozen(e):
    """``e`` without derivative."""
    return e.detach() if isinstance(e, torch.Tensor) else e


class _TangentOnly(torch.autograd.Function):
    """0 in value, the identity in reverse-mode derivative, any order (the rule under
    ``torch.compile``: Dynamo refuses an ``autograd.Function`` with a custom ``jvp``)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(v):
        return torch.zeros_like(v)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, g):
        return g


class _TangentOnlyJvp(_TangentOnly):
    """:class:`_TangentOnly` with its forward-mode rule (eager: ``torch.func.jvp``,
    ``jacfwd``, ``hessian``)."""

    @staticmethod
    def jvp(ctx, t):
        return t


def _tangent_only(v):
    """0, whose derivative in ``v`` is 1 at every entry, ``v = -inf`` included: the
    perturbation ``v - v`` of an entry whose value is not finite (``v - frozen(v)`` is NaN
    there, and a ``where`` around it drops the derivative).  A pivoted gradient is attached as
    ``sum_i d_i g_i``; the limit ``g_i`` at an absent entry (cross-entropy's ``-1`` at a
    label on a ``-inf`` logit) needs ``d_i``.

    >>> v = torch.tensor([-math.inf, 2.0], dtype=torch.float64, requires_grad=True)
    >>> d = _tangent_only(v)
    >>> d.tolist(), torch.autograd.grad((d * torch.tensor([-1.0, 3.0])).sum(), v)[0].tolist()
    ([0.0, 0.0], [-1.0, 3.0])
    """
    if not isinstance(v, torch.Tensor):
        return 0.0
    rule = _TangentOnly if torch.compiler.is_compiling() else _TangentOnlyJvp
    return rule.apply(v)


class _TangentTimes(torch.autograd.Function):
    """0 in value; the derivative ``h`` in ``v`` and none in ``h`` (the rule under
    ``torch.compile``, as :class:`_TangentOnly`)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(v, h):
        return torch.zeros(torch.broadcast_shapes(v.shape, h.shape), dtype=h.dtype, device=h.device)

    @staticmethod
    def setup_context(ctx, inputs, output):
        v, h = inputs
        ctx.save_for_backward(h)
        ctx.save_for_forward(h)
        ctx.v_shape = v.shape

    @staticmethod
    def backward(ctx, g):
        (h,) = ctx.saved_tensors
        return (g * h).sum_to_size(ctx.v_shape), None


class _TangentTimesJvp(_TangentTimes):
    """:class:`_TangentTimes` with its forward-mode rule (eager)."""

    @staticmethod
    def jvp(ctx, tv, th):
        (h,) = ctx.saved_tensors
        return tv * h


def _tangent_times(v, h):
    """0, whose derivative in ``v`` is ``h`` (at ``v = -inf`` too) and whose derivative in
    ``h`` is structurally absent: the product ``_tangent_only(v) * h`` without the term
    ``0 * dh``.  That term is 0 in exact arithmetic, but reverse mode pushes the cotangent 0
    through ``h``'s graph, where a partial can overflow: soft argmax's parameter derivative
    at entries near ``1e300`` with ``k = 1e-300`` divides by a square near ``2**-1994``, and
    ``0 * inf`` made both gradients NaN.  The derivative ``h`` itself stays differentiable,
    so second derivatives are ``h``'s (read ``h`` at ``frozen(v) + _tangent_only(v)`` for the
    pure second derivative in ``v``).

    >>> k = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    >>> z = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    >>> h = k**2 + torch.sqrt(z)  # d sqrt(z)/dz = inf at 0
    >>> torch.autograd.grad(_tangent_only(k) * h, (k, z), retain_graph=True)
    (tensor(9., dtype=torch.float64), tensor(nan, dtype=torch.float64))
    >>> torch.autograd.grad(_tangent_times(k, h), (k, z), allow_unused=True)
    (tensor(9., dtype=torch.float64), None)
    """
    if not isinstance(v, torch.Tensor):
        return torch.zeros_like(h)
    rule = _TangentTimes if torch.compiler.is_compiling() else _TangentTimesJvp
    return rule.apply(v, h)


def _param_term(value, f, params):
    """``value`` plus ``J(mid) d``, 0 in value, that carries the derivatives of ``f(*params)``
    in the parameters autograd tracks: ``d = p - frozen p`` (0) and ``J`` the Jacobian of
    ``f`` read at the midpoint ``frozen p + d/2`` (forward mode, ``torch.func.jvp``).

    Its first derivative in ``p`` is ``J``; its second is ``J'`` exactly (the two halves of
    the product rule add to one); its derivative in anything else is ``d`` times a finite
    number, exactly 0, so ``value``'s own derivatives (the pivoted VJP of a row map's custom
    rule, which sees the parameters frozen) stay as they are to the last bit, while the mixed
    second derivatives come from ``J``.  ``value`` itself where no parameter is tracked (always
    the case under ``torch.no_grad``; static under ``torch.compile``).

    >>> k = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    >>> out = _param_term(torch.tensor(8.0, dtype=torch.float64), lambda k: k**3, (k,))
    >>> out.item(), torch.autograd.grad(out, k, create_graph=True)[0].item()
    (8.0, 12.0)
    """
    if not torch.is_grad_enabled() or not any(
        isinstance(p, torch.Tensor) and p.requires_grad for p in params
    ):
        return value
    frozen = [p.detach() for p in params]
    d = [p - q for p, q in zip(params, frozen, strict=True)]
    mid = tuple(q + e * 0.5 for q, e in zip(frozen, d, strict=True))
    _, tangent = torch.func.jvp(f, mid, tuple(d))
    return value + tangent


def _wexp(h, m):
    """``exp(h - m)`` with ``h - m`` taken exactly: ``exp(d) (1 + e)`` (inf stays inf),
    ``d = fl(h - m)`` and ``e`` its rounding error (TwoSum), so a weight far below the row
    maximum keeps its digits (``exp(d)`` alone is ``|d|/2`` ulp off)."""
    d = h - m
    ed = torch.exp(d)
    return ed * (1.0 + _two_sum_err(h, -m))


def _dexp(c, u, v):
    """``exp(c (u - v))`` with ``d = u - v`` and ``c d`` exact to first order (TwoSum and
    Dekker's TwoProduct errors as a factor ``1 + e``, without derivative): the weight of an
    entry against the row's pivot keeps its digits at any ``c``; its derivative in ``c`` is
    ``d exp(c d)``, formed per entry."""
    d = u - v
    p = c * d
    cc = c.detach() if isinstance(c, torch.Tensor) else c
    e = _two_prod_err(c, d) + cc * _two_sum_err(u, -v)
    return torch.exp(p) * (1.0 + _finite_or_zero(e))


def _row_pivot(a):
    """The index of the first maximum of ``a`` over the last axis (a length-1 axis)."""
    if a.shape[-1] == 0:
        return torch.zeros(a.shape[:-1] + (1,), dtype=torch.long, device=a.device)
    return torch.argmax(a.detach(), dim=-1, keepdim=True)


def _row_take(v, i):
    """The entries of ``v`` at the row indices ``i`` (a length-1 axis; differentiable)."""
    if v.shape[-1] == 0:
        return torch.zeros(v.shape[:-1] + (1,), dtype=v.dtype, device=v.device)
    shape = torch.broadcast_shapes(v.shape[:-1], i.shape[:-1])
    v = v.expand(shape + v.shape[-1:])
    return torch.take_along_dim(v, i.expand(shape + (1,)), dim=-1)


def _tracked(m, p):
    """The value of ``m`` with the derivative of ``p`` (``p - p`` is exactly 0)."""
    return m + (p - p.detach())


def _pre_shift(x, keep, kind):
    """The shifted row of an iteration: ``x - x_m`` with ``m`` the first kept minimum
    (``"min"``) or maximum (``"max"``; its entry differentiable), or ``x`` (``"none"``)."""
    if kind == "none" or x.shape[-1] == 0:
        return x
    key = -x if kind == "min" else x
    return x - _row_take(x, _row_pivot(torch.where(keep, key, -math.inf)))


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

    >>> t = torch.tensor([[3e-300, -1e-299], [0.0, 0.0]], dtype=torch.float64)
    >>> (_row_scale(t) * 1e-299).flatten().tolist()[0] < 1, _row_scale(t)[1].item()
    (True, 1.0)
    """
    top = None
    for v in rows:
        v = torch.where(torch.isfinite(v), v.detach().abs(), 0.0)
        m = v.amax(dim=-1, keepdim=True) if v.shape[-1] else torch.zeros_like(v[..., :1])
        top = m if top is None else torch.maximum(top, m)
    _, e = torch.frexp(top)
    bound = 1000 if top.dtype == torch.float64 else 120
    e = torch.clamp(torch.where(top > 0, e, 0), -bound, bound)
    return torch.ldexp(torch.ones_like(top), -e)


def _row_positions(like):
    """The 1-based positions ``1, ..., n`` of a row of ``like`` (``like``'s dtype)."""
    return torch.arange(1, like.shape[-1] + 1, dtype=like.dtype, device=like.device)


def _row_count(keep, like):
    """The row length ``n`` of each row of ``like``: its kept count under a mask."""
    if keep is None:
        return torch.full(
            like.shape[:-1] + (1,), like.shape[-1], dtype=like.dtype, device=like.device
        )
    return torch.sum(keep, dim=-1, keepdim=True).to(like.dtype)


def _log_split(lin, c, r):
    """``lin + log(c + r)`` as ``(lin + log c) + log1p(r/c)``: ``c`` the weights of the terms
    at the maximum (exactly 1 each), ``r`` the rest, so a sum ``1 + r`` with ``r`` below an ulp
    of 1 keeps ``log(1 + r) = r`` (SciPy's logsumexp finishes the same way); ``lin + log(c +
    r)`` where ``c`` is not positive.

    Its derivative is that of ``lin + log(c + r)``, ``(dc + dr)/(c + r)`` (the value of that
    form enters as ``t - t.detach()``, exactly 0): autodiff of the split subtracts
    ``(r/c^2)/(1 + r/c)`` from ``1/c``, which cancels where ``r`` is large next to ``c`` (the
    gradient at the maximum of a near-tie row of length 1000 lost 476 ulp)."""
    ok = c > 0
    safe = torch.where(ok, c, torch.ones_like(c))
    split = (lin + torch.log(safe)) + torch.log1p(r / safe)
    tangent = lin + torch.log(safe + r)
    split = split.detach() + _finite_or_zero(tangent - tangent.detach())
    return torch.where(ok, split, lin + torch.log(c + r))


def _row_any(keep):
    """Whether each row of the mask keeps any entry (a length-1 last axis)."""
    return torch.any(keep, dim=-1, keepdim=True)


def _empty_fill(value, zero):
    """The result of a fully masked row: 0 for a loss with a class label or a derivative
    (``zero``), else the value over empty sums with NaN (0/0) as 0."""
    if zero:
        return torch.zeros_like(value)
    return torch.where(torch.isnan(value), torch.zeros_like(value), value)


def _from_rows(out, axis, keepdims, rowmap):
    """A rows result moved back to the input's layout: a row map (or gradient) with its last
    axis at ``axis``; a reduction without its length-1 last axis, or with it at ``axis`` for
    ``keepdims``."""
    if rowmap or keepdims:
        return torch.movedim(out, -1, axis)
    return out.squeeze(-1)


def _vjp(f, args, wrt, cotangent=None):
    """The vector-Jacobian products of ``f(*args)`` in the arguments at the positions
    ``wrt``, with ``cotangent`` (``None``: ones, the gradient of the sum), by autodiff."""
    with torch.enable_grad():
        args = [a.detach().requires_grad_(j in wrt) for j, a in enumerate(args)]
        out = f(*args)
        if not out.requires_grad:  # a result that reads none of them (0 iteration steps)
            return tuple(torch.zeros_like(args[j]) for j in wrt)
        g = (
            torch.ones_like(out)
            if cotangent is None
            else torch.as_tensor(cotangent, dtype=out.dtype, device=out.device).expand_as(out)
        )
        grads = torch.autograd.grad(out, [args[j] for j in wrt], g, allow_unused=True)
    return tuple(
        torch.zeros_like(args[j]) if d is None else d for j, d in zip(wrt, grads, strict=True)
    )
