"""Host calls of the Numba kernels from JAX (``jax.experimental.buffer_callback``, zero-copy,
or ``jax.pure_callback``: :data:`CALLBACK`) with the result shapes and dtypes, and a guard
that names the missing second derivatives.

Every kernel runs on NumPy arrays in the host process (JAX's CPU buffers, zero-copy where JAX
allows).  A callback has no derivative of its own: the bridge's rules call the derivative
kernels instead, so a callback is differentiated only when a derivative is differentiated
again (``jax.hessian``, ``grad`` of ``grad``).  :func:`host_call` then raises a
``NotImplementedError`` that says so, at trace time, instead of JAX's generic "Pure callbacks
do not support JVP".

``vmap``: elementwise callbacks use ``vmap_method="expand_dims"`` (the ufuncs broadcast the
size-1 axes themselves: :func:`symsmooth.jax_bridge.rules` pads every argument to the output's
rank first, so the axes line up); row callbacks use ``"broadcast_all"`` (the row kernels
broadcast their inputs against each other but per-row parameters only against the rows).

Examples
--------
>>> import numpy as np, jax.numpy as jnp
>>> out = host_call(np.add, [((2,), np.float32)], "elementwise", "add")
>>> out(jnp.ones(2), jnp.ones(2))
[Array([2., 2.], dtype=float32)]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numba
import numpy as np

try:  # zero-copy host calls (recent JAX; 0.10 here); pure_callback otherwise
    from jax.experimental.buffer_callback import buffer_callback
except ImportError:  # pragma: no cover - older JAX
    buffer_callback = None

VMAP_METHODS = {"elementwise": "expand_dims", "rows": "broadcast_all", "rowmap": "broadcast_all"}
"""How each output kind's callbacks batch under ``jax.vmap`` (see the module docstring)."""

KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
"""The dtypes the kernels compute in (float32 is computed in float64 and rounded once)."""


def compute_dtype(values: Sequence) -> np.dtype:
    """The floating dtype of a call, by JAX's promotion of the arguments (Python floats are
    weak: ``f(x32, 2.0)`` stays float32); integers promote to JAX's default float.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> compute_dtype([jnp.ones(2, jnp.float32), 2.0]), compute_dtype([jnp.arange(3)])
    (dtype('float32'), dtype('float32'))
    """
    dtype = jnp.result_type(*values) if values else jnp.result_type(float)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(f"symsmooth.jax: complex arguments are not supported (dtype {dtype})")
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    return np.dtype(dtype)


def kernel_dtype(dtype: np.dtype) -> np.dtype:
    """The kernel dtype that computes ``dtype`` (float16 and bfloat16 go through float32)."""
    return dtype if dtype in KERNEL_DTYPES else np.dtype(np.float32)


SERIAL_BELOW = 1 << 16
"""Calls on fewer elements run the kernels on one Numba thread.  In a callback thread, waking
Numba's OpenMP team costs more than a small call's work: ``logsumexp_max`` of 8 x 128 under
``jit`` took 6.8 ms a call with 2 threads and 0.64 ms with 1 (2 cores, load ~7; a no-op
callback 0.4 ms), while 1000 x 4000 took 44.5 ms with 2 threads and 46.0 ms with 1."""


def _run_threads(run: Callable, arrays: list) -> list:
    """``run(arrays)``, on one Numba thread below :data:`SERIAL_BELOW` elements
    (``numba.set_num_threads`` is per calling thread; restored after)."""
    if max((a.size for a in arrays), default=0) >= SERIAL_BELOW:
        return run(arrays)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return run(arrays)
    finally:
        numba.set_num_threads(threads)


def _host(functions: Sequence[Callable], dtypes: Sequence[np.dtype]) -> Callable:
    """``run(arrays)``: ``functions`` on the same NumPy arguments (a function may return a
    tuple: several results), each result cast to its dtype (C order; 0-d stays 0-d)."""

    def run(arrays):
        results = []
        for fn in functions:
            got = fn(*arrays)
            results.extend(got if isinstance(got, tuple) else (got,))
        return [np.asarray(r, dtype=d, order="C") for r, d in zip(results, dtypes, strict=True)]

    return lambda arrays: _run_threads(run, arrays)


def _pure(run: Callable, structs: list, method: str) -> Callable:
    """``jax.pure_callback`` of ``run``: XLA copies the inputs into the JAX arrays the host
    receives and the results back."""

    def host(*arrays):
        return run([np.asarray(a) for a in arrays])

    return lambda *arrays: jax.pure_callback(host, structs, *arrays, vmap_method=method)


def _buffers(run: Callable, structs: list, method: str) -> Callable:
    """``jax.experimental.buffer_callback`` of ``run``: the host reads XLA's input buffers in
    place (no copy) and writes the results into its output buffers."""

    def host(context, outs, *ins):
        for out, result in zip(outs, run([np.asarray(b) for b in ins]), strict=True):
            np.asarray(out)[...] = result

    return buffer_callback(host, structs, vmap_method=method)


CALLBACKS = {"buffer": _buffers, "pure": _pure}
"""How :func:`host_call` reaches the host.  ``"buffer"`` (where JAX has
``jax.experimental.buffer_callback``) passes XLA's buffers without copies: a no-op callback
on a 1000 x 4000 float64 input took 0.012 ms against 3.4 ms for ``pure_callback`` (7.9 ms
with the ``np.asarray`` of its JAX array; 2 cores).  ``"pure"`` is the stable API."""

CALLBACK = "buffer" if buffer_callback is not None else "pure"
"""The callback :func:`host_call` uses (tests run both)."""


def host_call(
    functions: Callable | Sequence[Callable],
    results: Sequence[tuple[tuple, np.dtype]],
    output: str,
    what: str,
) -> Callable:
    """A JAX function of arrays returning the results of ``fn(*arrays) for fn in functions``
    (a tuple counts as several) through one host callback (:data:`CALLBACK`); ``results``
    are their (shape, dtype) without batch axes.

    Differentiating it raises ``NotImplementedError`` naming ``what`` (see module docstring).
    """
    if callable(functions):
        functions = [functions]
    structs = [jax.ShapeDtypeStruct(tuple(s), d) for s, d in results]
    run = _host(functions, [s.dtype for s in structs])
    callback = CALLBACKS[CALLBACK](run, structs, VMAP_METHODS[output])

    @jax.custom_jvp
    def call(*arrays):
        return list(callback(*arrays))

    @call.defjvp
    def _second_order(primals, tangents):
        raise NotImplementedError(
            f"symsmooth.jax: {what} has first derivatives only: the generated module has no "
            "second-derivative kernels, so jax.hessian, jacfwd(jacrev(...)) or grad of grad "
            "are not available (first-order grad, vjp, jvp, jacfwd and jacrev are)"
        )

    return call
