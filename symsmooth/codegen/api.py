"""The interface record of a generated module: ``__symsmooth__``, plain data that says how to
call its kernels.

Framework bridges (PyTorch, JAX, Dask) and other tools wrap any generated module, including a
user's own derivation, without importing symsmooth's symbolic engine or parsing docstrings:
they read this record.  It is a literal of strings, tuples and dicts (``ast.literal_eval``
reads it back from the file without importing the module) and lists only names the module
defines (a test checks every module in ``generated/``).

Fields
------
``name``, ``kind``
    The kernel and its kind (``elementwise``, ``reduction``, ``iteration``).
``inputs``, ``params``
    The user names of the array inputs and of the parameters, in call order (all positional).
``output``
    The result's shape: ``"elementwise"`` (the broadcast shape of the arguments), ``"rows"``
    (one value per row: the inputs' shape without the last axis) or ``"rowmap"`` (a value per
    element of the row: the inputs' shape).
``grads``
    ``{input: public function}``: the function giving the derivative in that input.
    Elementwise: the partial derivative (same arguments as the value).  Reductions with
    ``output == "rows"``: the gradient of each row's value (shaped like the input; a bridge
    multiplies it by the cotangent of the row).  ``output == "rowmap"``: the vector-Jacobian
    product, called with ``cotangent=`` (shaped like the input).
``grad``
    The function giving every input's derivative at once (same arguments as ``grads``): an
    array for one input, a tuple in ``inputs`` order for several.  Never the parameters'.
``param_grads``
    ``{param: public function}`` for every parameter the kernel is differentiated in (all but
    the ``labels`` and integer-valued ones).  Elementwise: the partial derivative in the
    parameter, a ufunc with the value's arguments (``f_grad_k(x, k)``), and its ``_fast``
    twin in ``fast``.  Reductions with ``output == "rows"``: the derivative of each row's
    value (shaped like the value; a bridge multiplies it by the row's cotangent);
    ``output == "rowmap"``: the vector-Jacobian product, called with ``cotangent=`` (one value
    per row).  Empty for the iterations (no parameter derivatives).
``labels``
    Parameters that are class indices (``x[t]``): integers, never differentiated.
``keywords``
    Keyword arguments every public function of the kernel takes besides the above (an
    iteration's ``top``): a bridge passes them through.
``layout``
    The keyword-only layout arguments of the CPU functions and their defaults: reductions
    ``axis`` (any one axis; -1: the last), ``keepdims`` (per-row values only) and ``where``
    (a boolean mask, symsmooth.runtime.axis_host); iterations ``axis``.  The torch and JAX
    bridges take them too (the axis moved in the framework, the mask passed to every kernel:
    symsmooth.bridges.layout); the CUDA launchers reduce the last axis and take ``where``.
``fast``
    ``{function: twin}``: the elementwise ``_fast`` loop of each public function (the function
    itself runs it on NumPy operands).
``ufuncs``
    ``{function: ufunc}``: the Numba ``@vectorize`` ufunc behind each elementwise public
    function (what it runs for other keywords and array types; callable from ``@njit`` code;
    symsmooth.runtime.dispatch).
``targets``
    The code targets in the module (``cpu``, ``cuda``).

Examples
--------
>>> from types import SimpleNamespace as NS
>>> spec = NS(name="f", kind="elementwise", input_names=("x",), param_names=("k",), plan=None)
>>> record = api_record(spec, ("cpu",))
>>> record["grads"], record["fast"]["f_grad_x"]
({'x': 'f_grad_x'}, 'f_grad_x_fast')
>>> spec.grad_param_names = ("k",)
>>> record = api_record(spec, ("cpu",))
>>> record["param_grads"], record["fast"]["f_grad_k"]
({'k': 'f_grad_k'}, 'f_grad_k_fast')
"""

from __future__ import annotations

from symsmooth.codegen.names import fast_function, grad_function, public_names, ufunc_function

_ITERATION_KEYWORDS = {"top": 2}
"""The keyword of iteration kernels (templates/iteration.py.j2) and its default."""


def _layout(spec) -> dict:
    """The layout keywords of the CPU functions and their defaults (templates/reduction.py.j2,
    templates/iteration.py.j2)."""
    if spec.kind == "iteration":
        return {"axis": -1}
    if spec.kind != "reduction":
        return {}
    rows = _output(spec) == "rows"
    return {"axis": -1, **({"keepdims": False} if rows else {}), "where": None}


def _output(spec) -> str:
    if spec.kind == "elementwise":
        return "elementwise"
    plan = getattr(spec, "plan", None)
    if spec.kind == "iteration" or (plan is not None and plan.rowmap):
        return "rowmap"
    return "rows"


def _grads(spec) -> dict[str, str]:
    inputs = tuple(spec.input_names)
    if spec.kind == "elementwise" or (spec.kind == "reduction" and len(inputs) > 1):
        return {v: grad_function(spec.name, v) for v in inputs}
    return {inputs[0]: grad_function(spec.name)}


def _param_grads(spec) -> dict[str, str]:
    if spec.kind not in ("elementwise", "reduction", "iteration"):
        return {}
    names = getattr(spec, "public_param_names", getattr(spec, "grad_param_names", ()))
    return {p: grad_function(spec.name, p) for p in names}


def api_record(spec, targets, labels: tuple = ()) -> dict:
    """The ``__symsmooth__`` record of ``spec``'s module (see the module docstring).

    ``labels`` are the names of the parameters that index the row (a reduction's label
    checks, :mod:`symsmooth.codegen.kinds.reduction`)."""
    inputs = tuple(spec.input_names)
    param_grads = _param_grads(spec)
    fast, ufuncs = {}, {}
    if spec.kind == "elementwise":
        functions = [spec.name] + [grad_function(spec.name, v) for v in inputs]
        functions += list(param_grads.values())
        fast = {u: fast_function(u) for u in functions}
        ufuncs = {u: ufunc_function(u) for u in functions}
    record = {
        "name": spec.name,
        "kind": spec.kind,
        "inputs": inputs,
        "params": tuple(spec.param_names),
        "output": _output(spec),
        "grads": _grads(spec),
        "grad": grad_function(spec.name),
        "param_grads": param_grads,
        "labels": tuple(labels),
        "keywords": dict(_ITERATION_KEYWORDS) if spec.kind == "iteration" else {},
        "layout": _layout(spec),
        "fast": fast,
        "ufuncs": ufuncs,
        "targets": tuple(targets),
    }
    defined = set(public_names(spec.name, spec.kind, inputs, tuple(targets), tuple(param_grads)))
    named = set(record["grads"].values()) | set(fast) | set(fast.values()) | set(ufuncs.values())
    named |= set(param_grads.values())
    named |= {spec.name, record["grad"]}
    missing = sorted(named - defined)
    if missing:  # the record and names.public_names must describe the same module
        raise AssertionError(f"{spec.name}: __symsmooth__ names undefined functions {missing}")
    return record


def native_record(spec, target: str) -> dict:
    """The ``__symsmooth__`` record of ``spec``'s native ``target`` module
    (``<name>_torch.py``, ``<name>_jax.py``): the fields of :func:`api_record` that apply
    (no ``_fast`` twins, no labels), with ``targets`` the one native target.  Its functions
    take and return framework arrays, so the Numba bridges do not take it.

    >>> from types import SimpleNamespace as NS
    >>> spec = NS(name="f", kind="elementwise", input_names=("x",), param_names=("k",),
    ...           grad_param_names=("k",), plan=None)
    >>> r = native_record(spec, "torch")
    >>> r["grads"], r["param_grads"], r["targets"]
    ({'x': 'f_grad_x'}, {'k': 'f_grad_k'}, ('torch',))
    """
    record = api_record(spec, ("cpu",))
    record.update(fast={}, targets=(target,))
    return record
