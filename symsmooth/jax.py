"""JAX bridge: any generated kernel as a JAX function that ``jit``, ``vmap``, ``grad``,
``vjp``, ``jvp`` and ``jacfwd`` accept (docs/jax.md).

The values and derivatives are the generated, verified Numba kernels, called on the host
through ``jax.experimental.buffer_callback`` (zero-copy; ``jax.pure_callback`` where JAX lacks
it); the derivative rules are ``jax.custom_jvp`` rules linear in the
tangents, so forward mode uses them directly and reverse mode by JAX's transposition
(row maps: see ``rowmap=`` below).  Needs JAX (``pip install 'symsmooth[jax]'``); ``import
symsmooth`` alone never imports it.

Examples
--------
>>> import jax, jax.numpy as jnp
>>> import symsmooth.jax
>>> softplus = symsmooth.jax.function("softplus")
>>> x = jnp.array([-1.0, 0.0, 2.0])
>>> softplus(x, 4.0)
Array([0.00453748, 0.1732868 , 2.000084  ], dtype=float32)
>>> jax.grad(lambda x: softplus(x, 4.0).sum())(x)  # the logistic sigmoid of 4 x
Array([0.01798621, 0.5       , 0.99966466], dtype=float32)
>>> lse = symsmooth.jax.function("logsumexp_max")
>>> jax.jit(jax.vmap(lse, in_axes=(0, None)))(jnp.ones((2, 3)), 1.0)
Array([2.0986123, 2.0986123], dtype=float32)
"""

from __future__ import annotations

try:
    import jax  # noqa: F401  (a clear message when the extra is missing)
except ImportError as exc:  # pragma: no cover - jax is installed where the tests run
    raise ImportError(
        "symsmooth.jax needs JAX: pip install 'symsmooth[jax]' (or 'jax[cpu]')"
    ) from exc

from symsmooth.jax_bridge import function as _function


def function(module_or_name, out="generated", *, fast: bool = False, rowmap: str = "vjp"):
    """The kernel of a generated module as a differentiable function over JAX arrays.

    Parameters
    ----------
    module_or_name : module or str
        A generated module (anything with a ``__symsmooth__`` record, e.g. from
        ``symsmooth.load`` or a plain ``import``), or a kernel name loaded from ``out``.
    out : str or Path
        The folder of the generated modules, for a name.
    fast : bool
        Elementwise kernels: call the ``_fast`` multithreaded SIMD loops (within 1 ulp of the
        ufuncs) instead of the ufuncs.
    rowmap : {"vjp", "jacobian"}
        Row maps (``output == "rowmap"``: softmax-like maps of each row, iterations): the
        module gives a vector-Jacobian product only.  ``"vjp"`` wraps it in
        ``jax.custom_vjp``: ``grad``/``vjp``/``jacrev`` at one kernel call, no forward mode.
        ``"jacobian"`` builds the exact per-row Jacobian from ``n`` VJPs (``n`` the row
        length; ``n`` times the work, ``n**2`` values a row) under a ``jax.custom_jvp``:
        every mode, for short rows.

    Returns
    -------
    callable
        ``f(*inputs, *params, **keywords)`` in the module's call order (its
        ``__symsmooth__["inputs"]`` then ``["params"]``), returning a JAX array:

        * values: the kernels' (float32 inputs computed in float64, rounded once; float16
          and bfloat16 through float32); the dtype by JAX's promotion, Python floats weak
          (``f(x32, 2.0)`` is float32; float64 needs ``jax_enable_x64``);
        * broadcasting as the ufunc (elementwise); reductions: parameters and labels are one
          value per row and broadcast against the rows' shape (the inputs' without the last
          axis), inputs broadcast against each other;
        * ``axis=`` (a Python int), ``keepdims=`` and ``where=`` (a boolean mask, traced
          under ``jit``, batched under ``vmap``, never differentiated) where the record's
          ``layout`` lists them: the axis moved last with ``jnp.moveaxis``, the mask passed
          to every kernel (docs/jax.md, "Any axis, keepdims, masks");
        * labels (``__symsmooth__["labels"]``, class indices) must be integer arrays, are
          1-based as in the formula (``x[t]``, ``t = 1..n``) and are never differentiated;
        * derivatives in every input; in a parameter (a learnable temperature) where the
          module lists it in ``param_grads`` -- a parameter that is not differentiated (a
          Python float, a constant, ``stop_gradient``) needs none, one that is raises
          ``NotImplementedError`` naming it;
        * second order (``jax.hessian``, ``grad`` of ``grad``) raises
          ``NotImplementedError``: the modules have first-derivative kernels only.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> ce = function("cross_entropy_lse")   # x, k, then the label t (1-based, as x[t])
    >>> x = jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 3.0]])
    >>> ce(x, 1.0, jnp.array([1, 3]))
    Array([0.16984601, 0.09492296], dtype=float32)
    >>> jax.grad(lambda x: ce(x, 1.0, jnp.array([1, 3])).sum())(x)[0]
    Array([-0.15620527,  0.1141952 ,  0.04201007], dtype=float32)
    >>> ce(x, 1.0, jnp.array([1, 2, 2]), axis=0, where=x > -1.0)  # columns; -1.0 left out
    Array([0.12692802, 0.6931472 , 0.        ], dtype=float32)
    >>> ce(x, 1.0, jnp.array([0, 3]))
    Traceback (most recent call last):
    ...
    ValueError: cross_entropy_lse: label t = 0 is not a class index of a row of length 3: ...
    """
    return _function.function(module_or_name, out, fast=fast, rowmap=rowmap)
