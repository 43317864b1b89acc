"""The naming contract of generated modules: which identifiers are the generator's, how user
names are printed, and how user text reaches comments and docstrings.

Three kinds of identifier meet in a generated module:

* **user names**: the kernel name, its inputs and parameters.  :mod:`symsmooth.identifiers`
  admits ``[A-Za-z][A-Za-z0-9_]*`` without keywords and builtins, so a user name never starts
  with ``_``.
* **generator names in the ``_`` namespace**: helpers (``_softplus``), CSE temporaries
  (``_c0``), per-kernel functions (``_sums_<name>``), imports (``_types``).  No user name can
  take them.
* **generator names outside it**, listed here: the module aliases (``math``, ``np``,
  ``njit``, ...), the public keyword arguments (``out=``, ``cotangent=``, ``top=``), the
  kernels' locals in the scopes that also see user names (loop variables ``i``, ``r``,
  ``idx``; wrapper locals ``shape``, ``dtype``, ``res``; reduction state ``s0``, ``M0``, ...;
  names derived from a vector ``x``: ``x_e``, ``x_row``, ``out_x``, ...).  They are the
  readable names of the generated code and the API, so they stay.

The rule that keeps them apart lives in one function, :func:`code_name`: a user name that
could meet a generator name in some scope is printed under the reserved mangled identifier
``_u_<name>_`` (everywhere: code *and* signatures; the module docstring says so).  Every
other user name is printed as itself.  Mangled names end with ``_`` and derived names end
with a letter, so ``_u_out_`` (the input ``out``), ``_u_out__row`` (its row) and
``_u_out_row_`` (an input ``out_row``) stay distinct.  The substitution happens once, on the
symbols, before any code is built (:func:`symsmooth.codegen.spec.make_spec`), so the stages
after it never see a user name that could collide.

``tests/test_codegen_names.py`` checks every module in ``generated/`` and a set of hostile-name
modules: each identifier in a kernel's scope is ``_``-prefixed, a builtin, a printed user name
or derived name, a public name, or listed in :data:`RESERVED` -- so a template that adds an
unprefixed local fails that test until the local is renamed with a ``_`` or listed here.

Examples
--------
>>> code_name("x", "elementwise"), code_name("out", "elementwise"), code_name("s0", "reduction")
('x', '_u_out_', '_u_s0_')
>>> code_name("x_row", "reduction"), code_name("t", "reduction"), code_name("t", "iteration")
('_u_x_row_', 't', '_u_t_')
>>> comment_text("a\\nb") == "a\\\\nb"
True
"""

from __future__ import annotations

import re
import textwrap

from symsmooth.errors import InvalidNameError

MANGLE_PREFIX = "_u_"
"""Mangled user names are ``_u_<name>_`` (no generator name starts with ``_u_``)."""

NATIVE_GLOBALS = frozenset({"torch", "jax", "jnp", "lax"})
"""Unprefixed module-level names of the native modules (``<name>_torch.py``, ``<name>_jax.py``:
their imports; ``math`` is every module's)."""

MODULE_GLOBALS = (
    frozenset({"math", "np", "njit", "vectorize", "prange", "float64", "int64", "cuda"})
    | NATIVE_GLOBALS
)
"""Unprefixed module-level names of every generated module (imports; ``float64``/``int64`` and
the stand-in ``cuda`` of the CUDA section, which ``_cuda_build`` binds for the kernels; the
native modules' imports)."""

API_KEYWORDS = frozenset({"out", "cotangent", "top", "axis", "keepdims", "where"})
"""Keyword arguments of the public functions (``f_fast(..., out=)``, ``f_grad(...,
cotangent=)``, the iteration count ``top``, the reductions' ``axis=``, ``keepdims=`` and
``where=``)."""

_CUDA_LOCALS = frozenset(
    {"cuda", "float64", "int64", "st", "operands", "proto", "view", "views", "outs", "results"}
    | {"shape", "dtype", "flat", "size", "n", "start", "step", "i", "idx", "out_shape"}
    | {"block", "r_", "rows_", "tx_", "ty_", "base_", "lane_", "off_", "slot_", "shared_"}
    | {"stop_", "plain_stop_", "w_", "warps_", "use_piv_", "row_", "piv_", "TX_", "TY_"}
)
"""Locals of the CUDA kernels and launchers (templates/cuda_*.py.j2)."""

RESERVED: dict[str, frozenset[str]] = {
    "elementwise": MODULE_GLOBALS | API_KEYWORDS | _CUDA_LOCALS | {"res", "direct", "v"},
    "reduction": MODULE_GLOBALS
    | API_KEYWORDS
    | _CUDA_LOCALS
    | {"base", "fast", "full", "g", "grads", "g_rows", "j", "length", "per_row", "piv", "r"}
    | {"rows", "v", "pos_", "pos_p", "size_", "G_e", "G_p", "G_row", "G_rows", "G_val"}
    | {"G_mode", "G_out", "keep", "keep_row", "keep_rows", "keep_mode", "kept_", "moved"},
    "iteration": MODULE_GLOBALS
    | API_KEYWORDS
    | _CUDA_LOCALS
    | {"base", "blocks", "comp", "cot", "count", "ctot_", "g", "g_next", "gstates", "gws"}
    | {"gy", "half_", "length", "m", "m_", "per_row", "pos_", "r", "rows", "size_", "states"}
    | {"states_ws", "t", "t_", "tot_", "total", "tx", "u_", "v", "ws", "oview", "j"}
    | {"G_e", "G_row", "G_rows", "G_val", "G_mode", "y", "p", "gp", "next", "out_row"}
    | {"fast", "full", "keep", "keep_row", "keep_rows"}  # the step's chunk kernels
    | {"moved"},
}
"""Unprefixed generator identifiers per kernel kind, in the scopes that also see user names."""

NUMBERED = re.compile(r"(s|sl|S|M|E|El|K|N|D|R|P|Q|V|a|e|c|r|cR|cV|cr)[0-9]+\Z")
"""Numbered generator state: sums ``s0``, totals ``S0``, shifts ``M0``, weights ``E0``,
lane sums ``a0``/``e0``, compensations ``c0``, adjoints ``R0``, pivot parts ``P0``, ...."""

STATE_PREFIXES: dict[str, str] = {
    "sum": "s",  # a scaled sum s_k of the normal form (S_k = exp(M_g) s_k)
    "comp": "c",  # its TwoSum compensation
    "low": "sl",  # the low part of s_k + c_k rounded (s_k + sl_k: a double-double, for log)
    "shift": "M",  # the shift M_g of an exponent group (the row maximum)
    "weight": "E",  # exp(h_g - M_g) of the current element
    "exponent": "_h",  # the exponent h_g of the current element
    "term": "_tr",  # the terms w_k E_g of sum k over a row (native rows)
    "pivot_index": "_piv",  # the index of group g's pivot in its row (native rows)
    "from_pivot": "_atp",  # whether group g's shift is its pivot's exponent (native rows)
    "present": "_ha",  # h_g, -inf where the entry is absent (native rows: the shift reads it)
    "max_key": "K",  # order-preserving int64 keys of the row maximum and minimum
    "min_key": "N",
    "lane_sum": "a",  # the fast pass's lane sums and their error sums
    "lane_err": "e",
    "adjoint": "R",  # an adjoint sum of a row-map gradient, and its compensation
    "adjoint_comp": "cR",
    "adjoint_term": "_a",  # the current element's term of adjoint k
    "grad": "_g",  # the current element's partial in input i
    "weight_low": "El",  # the rounding error of E_g (``E, El = _wexp2(h, M)``, pivoted gradient)
    "factor": "_w",  # the weight w_k of sum k for the current element
    "weight_err": "_wl",  # the rounding error of w_k (compensated gradients, no shift)
    "row_deriv": "D",  # the derivative of the value in sum k (plain reductions)
    "pivot_sum": "P",  # the part of sum k that the pivot's terms hold (pivoted gradient)
    "small_sum": "r",  # the small rest r_k of sum k (pivoted gradient)
    "small_adjoint": "V",  # the small rest V_k of adjoint k, and its part at the pivot Q_k
    "pivot_adjoint": "Q",
    "adjoint_coef": "_v",  # V_k / E_g: the coefficient of E_g in V_k
}
"""Numbered generator state, role -> prefix: ``state_var(role, k)`` is ``<prefix><k>``.  The
templates build these names only through the ``<role>_var`` functions of
:data:`TEMPLATE_GLOBALS` (the emitter's lines name the same state)."""

POSITION = "pos_"
"""The 1-based position of the current element (a formula's summation index)."""
PIVOT_POSITION = "pos_p"
"""The 1-based position of the pivot element (:data:`POSITION` at the pivot)."""
COTANGENT = "G"
"""The cotangent of a row map's gradient: its element ``G_e``, its row ``G_row``, ... (the
derived names of :data:`DERIVED`)."""
SIZE = "size_"
"""The row length as a float (a formula's ``n``)."""
KEEP = "keep"
"""The mask of a reduction (``where=``): ``keep_rows`` the ``(rows, n)`` matrix or ``None``,
``keep_row`` one row of it (:mod:`symsmooth.runtime.axis_host`)."""
KEPT = f"_kept({KEEP}_row, idx)"
"""Whether the current element of the row joins the reduction (the constant True when the
kernel runs unmasked)."""
CUDA_KEPT = f"({KEEP}_mode == 0 or {KEEP}_rows[r_, idx])"
"""Whether the current element joins the reduction in a CUDA row kernel: its mask is
``keep_rows`` when ``keep_mode`` is 1 (mode 0: no mask; ``keep_rows`` is then a 1 x 1
placeholder)."""
OTHER_PREFIX = "_o"
"""Prefix of the other thread's copy of a state variable in a CUDA merge (``_oM0``)."""


def state_var(role: str, index: object) -> str:
    """The name of numbered state ``role`` number ``index``.

    Examples
    --------
    >>> state_var("shift", 0), state_var("adjoint_comp", 2), state_var("exponent", 1)
    ('M0', 'cR2', '_h1')
    """
    try:
        return f"{STATE_PREFIXES[role]}{index}"
    except KeyError:
        raise KeyError(f"no state role {role!r}; the roles: {', '.join(STATE_PREFIXES)}") from None


def comp_of(name: str) -> str:
    """The TwoSum compensation of state ``name``: ``r0`` -> ``cr0``, ``R1`` -> ``cR1``."""
    return STATE_PREFIXES["comp"] + name


def other_var(name: str) -> str:
    """The other thread's copy of state ``name`` in a CUDA merge: ``M0`` -> ``_oM0``."""
    return OTHER_PREFIX + name


def _role(role: str):
    def var(index: object) -> str:
        return state_var(role, index)

    var.__name__ = f"{role}_var"
    var.__doc__ = f"``{STATE_PREFIXES[role]}<index>``: :func:`state_var` for ``{role!r}``."
    return var


DERIVED: dict[str, str] = {
    "element": "{}_e",  # the current element x[i] of vector x
    "pivot": "{}_p",  # the element at the pivot
    "row": "{}_row",  # the row of x a kernel works on
    "rows": "{}_rows",  # x as a matrix of rows
    "grad": "{}_grad",  # the gradient output of x (CPU wrappers)
    "out": "{}_out",  # the gradient row of x (CPU row kernels)
    "ws": "{}_ws",  # the work space of x (CUDA iteration)
    "val": "{}_val",  # an operand's scalar, array and mode (CUDA broadcasting)
    "arr": "{}_arr",
    "mode": "{}_mode",
    "grad_out": "out_{}",  # the gradient output of input x on the GPU
}
"""Names derived from a vector, operand or input ``x``, role -> pattern: ``derived_var(role,
"x")``; the templates call them as the ``<role>_of`` functions of :data:`TEMPLATE_GLOBALS`
(``{{ row_of(v) }}``).  A user name that could meet one is mangled (:func:`needs_mangling`)."""

ADJOINT_PREFIX = "g"
"""The cotangent accumulated for one of an iteration's own vectors (``gy``, ``gp``; the step's
vectors are the generator's, so these are listed in :data:`RESERVED`, not derived)."""


def derived_var(role: str, name: str) -> str:
    """The name derived from ``name`` in ``role`` (see :data:`DERIVED`).

    Examples
    --------
    >>> derived_var("row", "x"), derived_var("grad_out", "x"), derived_var("ws", adjoint_var("y"))
    ('x_row', 'out_x', 'gy_ws')
    """
    try:
        return DERIVED[role].format(name)
    except KeyError:
        raise KeyError(f"no derived role {role!r}; the roles: {', '.join(DERIVED)}") from None


def adjoint_var(name: str) -> str:
    """The cotangent of an iteration's own vector ``name``: ``y`` -> ``gy``."""
    return ADJOINT_PREFIX + name


SUFFIXES = tuple(p[2:] for p in DERIVED.values() if p.startswith("{}"))
"""Suffixes of names derived from a vector or operand ``x`` (``x_e``, ``x_row``, ...)."""
PREFIXES = tuple(p[:-2] for p in DERIVED.values() if p.endswith("{}"))
"""Prefixes of names derived from an input (``out_x``: its gradient output on the GPU)."""


def _derived_role(role: str):
    def var(name: str) -> str:
        return derived_var(role, name)

    var.__name__ = f"{role}_of"
    var.__doc__ = f"``{DERIVED[role].format('<name>')}``: :func:`derived_var` for ``{role!r}``."
    return var


TEMPLATE_GLOBALS: dict[str, object] = {
    **{f"{role}_var": _role(role) for role in STATE_PREFIXES},
    **{f"{role}_of": _derived_role(role) for role in DERIVED},
    "other_var": other_var,
    "comp_of": comp_of,
    "adjoint_of": adjoint_var,
    "POSITION": POSITION,
    "PIVOT_POSITION": PIVOT_POSITION,
    "SIZE": SIZE,
    "KEEP": KEEP,
    "KEPT": KEPT,
    "CUDA_KEPT": CUDA_KEPT,
}
"""The naming contract as Jinja globals of :func:`symsmooth.codegen.render.environment`
(``{{ shift_var(g.index) }}``, ``{{ other_var(sum_var(k)) }}``, ``{{ row_of(v) }}``,
``{{ SIZE }}``)."""


def _derived(name: str) -> list[str]:
    return [name + s for s in SUFFIXES] + [p + name for p in PREFIXES]


def needs_mangling(name: str, kind: str, public=()) -> bool:
    """Whether user name ``name`` could meet a generator name (or a public name) in a kernel
    of ``kind``: then it is printed as :func:`mangled`.

    Examples
    --------
    >>> [needs_mangling(n, "elementwise") for n in ("x", "i", "np", "x1", "M0", "G")]
    [False, True, True, False, True, False]
    >>> needs_mangling("G", "reduction")  # G_e, G_row are the cotangent's names
    True
    """
    reserved = RESERVED.get(kind, RESERVED["reduction"])
    return (
        name in reserved
        or name in public
        or NUMBERED.match(name) is not None
        or name.endswith(SUFFIXES)
        or name.startswith(PREFIXES)
        or any(d in reserved for d in _derived(name))
    )


def mangled(name: str) -> str:
    """The reserved identifier a colliding user name is printed under: ``_u_<name>_``."""
    return f"{MANGLE_PREFIX}{name}_"


def code_name(name: str, kind: str, public=()) -> str:
    """How user name ``name`` (an input or parameter) is printed in a kernel of ``kind``."""
    return mangled(name) if needs_mangling(name, kind, public) else name


def user_name(code: str) -> str:
    """Inverse of :func:`code_name`: ``"_u_out_"`` -> ``"out"``; other names unchanged."""
    if code.startswith(MANGLE_PREFIX) and code.endswith("_") and len(code) > 4:
        return code[len(MANGLE_PREFIX) : -1]
    return code


def grad_function(kernel: str, input: str | None = None) -> str:
    """The public derivative of ``kernel``: in ``input`` (an input or a parameter), or in
    every input (``None``; the parameters are never part of ``<kernel>_grad``).

    Examples
    --------
    >>> grad_function("f"), grad_function("f", "x"), grad_function("f", "k")
    ('f_grad', 'f_grad_x', 'f_grad_k')
    """
    return f"{kernel}_grad" if input is None else f"{kernel}_grad_{input}"


def fast_function(ufunc: str) -> str:
    """The multithreaded loop twin of an elementwise ufunc (``f`` -> ``f_fast``)."""
    return f"{ufunc}_fast"


def ufunc_function(function: str) -> str:
    """The Numba ufunc behind an elementwise public function (``f`` -> ``f_ufunc``)."""
    return f"{function}_ufunc"


def public_names(name: str, kind: str, inputs, targets=("cpu", "cuda"), params=()) -> list[str]:
    """Module-level public names of a kernel, in template order: the templates' ``__all__``
    and, for elementwise kernels, the ``f_ufunc`` attributes (built on first access by the
    module's ``__getattr__``, so not in ``__all__``: ``import *`` compiles no ufunc).

    ``params`` are the parameters the kernel is differentiated in (not its labels): an
    elementwise kernel has a ufunc ``f_grad_<param>`` and its ``_fast`` twin for each, a
    reduction a function ``f_grad_<param>``.

    Examples
    --------
    >>> public_names("f", "elementwise", ["x"], ("cpu",))
    ['f', 'f_fast', 'f_ufunc', 'f_grad_x', 'f_grad_x_fast', 'f_grad_x_ufunc', 'f_grad']
    >>> public_names("f", "elementwise", ["x"], ("cpu",), params=["k"])[6:]
    ['f_grad_k', 'f_grad_k_fast', 'f_grad_k_ufunc', 'f_grad']
    """
    inputs = list(inputs)
    if kind == "elementwise":
        out = [name, fast_function(name), ufunc_function(name)]
        for v in [*inputs, *params]:
            g = grad_function(name, v)
            out += [g, fast_function(g), ufunc_function(g)]
        out.append(grad_function(name))
    else:
        out = [name, grad_function(name)]
        if kind == "reduction" and len(inputs) > 1:
            out += [grad_function(name, v) for v in inputs]
        if kind in ("reduction", "iteration"):
            out += [grad_function(name, p) for p in params]
    if "cuda" in targets:
        out += [f"{name}_cuda", f"{grad_function(name)}_cuda"]
    return out


def native_module(name: str, target: str) -> str:
    """The module (and file stem) of kernel ``name``'s native ``target``: ``f_torch``."""
    return f"{name}_{target}"


def native_private(name: str, input: str | None = None) -> str:
    """The private function of a native module computing the value of kernel ``name`` or its
    partial in ``input`` (a user name): ``_value_f``, ``_grad_f_x``.  The helpers of the
    primitives are ``_<primitive>`` and the base functions have names of their own
    (:mod:`symsmooth.runtime.torch_native`); :func:`symsmooth.codegen.native.native_context`
    refuses a clash.

    >>> native_private("f"), native_private("f", "k")
    ('_value_f', '_grad_f_k')
    """
    return f"_value_{name}" if input is None else f"_grad_{name}_{input}"


def native_function_class(name: str) -> str:
    """The ``torch.autograd.Function`` (or ``jax.custom_jvp`` function) of kernel ``name``."""
    return f"_Function_{name}"


def native_public_names(name: str, inputs, params=()) -> list[str]:
    """Public names of a native elementwise module, in template order: the differentiable
    value, the partial in every input and differentiated parameter, ``<name>_grad``.

    >>> native_public_names("f", ["x"], ["k"])
    ['f', 'f_grad_x', 'f_grad_k', 'f_grad']
    """
    return [name, *(grad_function(name, v) for v in [*inputs, *params]), grad_function(name)]


def check_public(name: str, kind: str, inputs, targets=("cpu", "cuda"), params=()) -> list[str]:
    """:func:`public_names`, refusing two equal names or one that shadows a module alias.

    Examples
    --------
    >>> check_public("f", "elementwise", ["x", "x_fast"], ("cpu",))
    Traceback (most recent call last):
    ...
    symsmooth.errors.InvalidNameError: kernel f: the public name 'f_grad_x_fast' would be ...
    >>> check_public("f", "elementwise", ["x"], ("cpu",), params=["x_fast"])
    Traceback (most recent call last):
    ...
    symsmooth.errors.InvalidNameError: kernel f: the public name 'f_grad_x_fast' would be ...
    """
    seen: dict[str, int] = {}
    for public in public_names(name, kind, inputs, targets, params):
        if public in seen or public in MODULE_GLOBALS:
            raise InvalidNameError(
                f"kernel {name}: the public name {public!r} would be defined twice (or shadow a "
                "module the generated code imports); rename the kernel, the input or the "
                f"parameter (inputs: {', '.join(inputs)}"
                + (f"; parameters: {', '.join(params)}" if params else "")
                + ")"
                + (", or generate without CUDA (--target cpu)" if public.endswith("_cuda") else "")
            )
        seen[public] = 1
    return list(seen)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def comment_text(text: str) -> str:
    """``text`` on one line of printable ASCII: safe inside a ``#`` comment or a docstring.

    Line breaks (``\\n``, ``\\r`` and the other characters :meth:`str.splitlines` breaks at),
    control characters and non-ASCII characters are written as escapes, so user text (an
    ``--expr``, a command line, a construction) cannot end the comment it is printed in.

    Examples
    --------
    >>> comment_text("x\\r\\nimport os\\u2028y")
    'x\\\\r\\\\nimport os\\\\u2028y'
    """
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def docstring_text(text: str) -> str:
    """:func:`comment_text`, also without quotes and backslashes (``"`` -> ``'``, ``\\`` ->
    ``/``): safe between the ``\"\"\"`` of a docstring.

    Examples
    --------
    >>> docstring_text('a\"\"\"b\\\\c\\n')
    "a'''b/c/n"
    """
    return comment_text(text).replace('"', "'").replace("\\", "/")


LINE_LENGTH = 100
"""Line length of generated modules (also :data:`symsmooth.codegen.formatting.LINE_LENGTH`)."""


def _wrap(text: str, first: str, rest: str, width: int) -> list[str]:
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=True,
    ) or [first.rstrip()]


def comment_lines(text: str, lead: str = "", width: int = LINE_LENGTH) -> str:
    """``text`` (made safe by :func:`comment_text`) as ``#`` comment lines of at most ``width``
    characters: the first starts with ``# <lead>``, the others with ``#   ``.

    Examples
    --------
    >>> print(comment_lines("a b c d e f", "Kind: ", width=14))
    # Kind: a b c
    #   d e f
    """
    return "\n".join(_wrap(comment_text(text), "# " + lead, "#   ", width))


def docstring_lines(text: str, indent: int = 4, width: int = LINE_LENGTH) -> str:
    """``text`` (made safe by :func:`docstring_text`) wrapped for a docstring whose opening
    ``\"\"\"`` sits at column ``indent``: the first line leaves room for the quotes, the
    others are indented to the quotes; the closing quotes fit on the last line.

    Examples
    --------
    >>> print(docstring_lines("one two three four", indent=0, width=14))
    one two
    three four
    """
    pad = " " * indent
    lines = _wrap(docstring_text(text), pad + '"""', pad, width - 3)
    lines[0] = lines[0][len(pad) + 3 :]
    return "\n".join(lines)
