"""Which names a user may give: symbols, vectors, parameters, kernels and catalog entries.

One rule for every place a name enters symsmooth (formula text, the stored catalog, the CLI,
the Python API, convolution results), because every such name can end up as a Python
identifier in a generated module, a function signature, a file name or a SymPy ``Symbol``
that a printer writes verbatim into source code:

* plain ASCII: a letter, then letters, digits or ``_`` (``[A-Za-z][A-Za-z0-9_]*``);
* no leading underscore: names that start with ``_`` are reserved for the code symsmooth
  generates (its helpers, temporaries and loop variables), so a user name never collides with
  them;
* not a Python keyword (``class``, ``None``, ``lambda``) nor a builtin (``len``, ``max``,
  ``print``): generated code calls builtins;
* at most :data:`MAX_SYMBOL_LENGTH` characters for symbols and parameters and
  :data:`MAX_MODULE_LENGTH` for kernel and catalog names (they become file names and prefix the
  names of generated functions such as ``<name>_grad_<input>_cuda``);
* a kernel or catalog name also becomes a module file ``generated/<name>.py``: it may not be the
  name of a standard-library module or of a package generated code imports (``math``,
  ``numpy``, ``np``, ``numba``), which the file would shadow for any script beside it.

References
----------
Python language reference, "Identifiers and keywords":
https://docs.python.org/3/reference/lexical_analysis.html#identifiers

Examples
--------
>>> check_name("sigma_1")
'sigma_1'
>>> check_name("i", role="input")
'i'
>>> check_name("class", role="kernel")
Traceback (most recent call last):
...
symsmooth.errors.InvalidNameError: kernel name 'class' is a Python keyword; ...
>>> check_name("math", role="kernel")
Traceback (most recent call last):
...
symsmooth.errors.InvalidNameError: kernel name 'math' is the name of a Python module ...
"""

from __future__ import annotations

import builtins
import keyword
import re
import sys

from symsmooth.errors import InvalidNameError

MAX_SYMBOL_LENGTH = 31
"""Longest symbol, vector or parameter name (the formula parser's limit)."""
MAX_MODULE_LENGTH = 60
"""Longest kernel or catalog entry name (it names a file and prefixes function names)."""

_SHAPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
BUILTINS = frozenset(dir(builtins))
"""Builtin names (generated code calls ``range``, ``len``, ``float``, ``max``, ...)."""
MODULE_ROLES = frozenset({"kernel", "catalog entry", "module"})
"""Roles whose names become module files."""
SHADOWED_MODULES = frozenset(sys.stdlib_module_names) | {
    "numpy",
    "np",
    "numba",
    "llvmlite",
    "scipy",
    "sympy",
    "mpmath",
    "jinja2",
    "symsmooth",
    "torch",
    "jax",
    "cupy",
}
"""Module names a generated file must not take (it would shadow them beside it)."""


def name_problem(name: object, role: str = "symbol") -> str | None:
    """Why ``name`` cannot be a user name for ``role`` (``None`` when it can).

    Examples
    --------
    >>> name_problem("x") is None
    True
    >>> name_problem("_x")
    "symbol name '_x' starts with '_'; names starting with '_' are reserved for generated code"
    """
    if not isinstance(name, str):
        return f"a {role} name must be text, got {type(name).__name__}"
    shown = repr(name if len(name) <= 40 else name[:37] + "...")
    limit = MAX_MODULE_LENGTH if role in MODULE_ROLES else MAX_SYMBOL_LENGTH
    if not name:
        return f"empty {role} name; use a name such as x, k or my_softplus"
    if len(name) > limit:
        return f"{role} name {shown} is longer than {limit} characters"
    if name.startswith("_"):
        return (
            f"{role} name {shown} starts with '_'; names starting with '_' are reserved for "
            "generated code"
        )
    if not _SHAPE.match(name):
        return (
            f"{role} name {shown} is not a plain identifier: use ASCII letters, digits and _, "
            "starting with a letter"
        )
    if keyword.iskeyword(name):
        return f"{role} name {shown} is a Python keyword; pick another name"
    if name in BUILTINS:
        return f"{role} name {shown} is a Python builtin; pick another name"
    if role in MODULE_ROLES and name in SHADOWED_MODULES:
        return (
            f"{role} name {shown} is the name of a Python module (a generated file of that name "
            "would shadow it); pick another name, e.g. my_" + name
        )
    return None


def check_name(name: object, role: str = "symbol") -> str:
    """``name`` itself when it is a valid user name for ``role``; else :class:`InvalidNameError`.

    Parameters
    ----------
    name : str
        The name to check.
    role : str
        What the name is for, used in the message: ``"symbol"``, ``"input"``,
        ``"parameter"``, ``"vector"``, ``"kernel"``, ``"catalog entry"``.  Kernel and catalog
        names (:data:`MODULE_ROLES`) have the longer length limit and may not shadow a module.

    Returns
    -------
    str

    Raises
    ------
    InvalidNameError
        Saying what is wrong with the name (a :class:`~symsmooth.errors.SymsmoothError`: the CLI
        prints it and exits 2).
    """
    problem = name_problem(name, role)
    if problem is not None:
        raise InvalidNameError(problem)
    return name  # type: ignore[return-value]


def check_distinct(names, role: str = "name") -> tuple[str, ...]:
    """``names`` as a tuple, refusing repeats (``--param k --param k``).

    Examples
    --------
    >>> check_distinct(["x", "k"])
    ('x', 'k')
    >>> check_distinct(["k", "k"], "parameter")
    Traceback (most recent call last):
    ...
    symsmooth.errors.InvalidNameError: parameter 'k' is given twice
    """
    seen: list[str] = []
    for name in names:
        if name in seen:
            raise InvalidNameError(f"{role} {name!r} is given twice")
        seen.append(name)
    return tuple(seen)
