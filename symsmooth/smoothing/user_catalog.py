"""The user catalog: named convolution results saved to a JSON file and read back safely.

Location: ``$SYMSMOOTH_HOME/catalog.json``, else ``~/.config/symsmooth/catalog.json``.
Expressions are stored with :func:`sympy.srepr` and rebuilt by a whitelist walker over the
Python AST of that text (:func:`from_srepr`): only known SymPy/symsmooth constructors,
constants and literal arguments are accepted, nothing is evaluated with ``eval``/``sympify``.
Saved entries join :mod:`symsmooth.smoothing.catalog` (``catalog.get/names``, ``symsmooth
list/show/plot``).

Examples
--------
>>> import sympy as sp
>>> from_srepr(sp.srepr(sp.erf(sp.Symbol("x", real=True)) / 2))
erf(x)/2
>>> try:
...     from_srepr("__import__('os')")
... except CatalogError as exc:
...     print(str(exc)[:60])
user catalog: '__import__' is not an allowed constructor; th
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import fields, replace
from pathlib import Path

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.core.assumptions import _assume_defined

from symsmooth.errors import CatalogError
from symsmooth.functions import PRIMITIVES
from symsmooth.records import Smoothing

MAX_TEXT = 200_000
"""Longest stored expression text accepted (characters)."""
_NAME = re.compile(r"[a-z][a-z0-9_]{0,60}\Z")
_EXPR_FIELDS = ("target", "expr", "param", "limit", "bound")
_TEXT_FIELDS = ("source", "domain", "method", "description", "kind")

_CONSTRUCTORS = (
    {
        cls.__name__: cls
        for cls in (
            sp.Add,
            sp.Mul,
            sp.Pow,
            sp.Symbol,
            sp.Integer,
            sp.Rational,
            sp.Float,
            sp.Tuple,
            sp.Max,
            sp.Min,
            sp.Abs,
            sp.sign,
            sp.Heaviside,
            sp.Piecewise,
            sp.StrictLessThan,
            sp.LessThan,
            sp.StrictGreaterThan,
            sp.GreaterThan,
            sp.Equality,
            sp.Unequality,
            sp.And,
            sp.Or,
            sp.Not,
            sp.exp,
            sp.log,
            sp.erf,
            sp.erfc,
            sp.atan,
            sp.asinh,
            sp.sin,
            sp.cos,
            sp.tan,
            sp.sinh,
            sp.cosh,
            sp.tanh,
            sp.polylog,
            sp.zeta,
            sp.dirichlet_eta,
            sp.floor,
            sp.ceiling,
            sp.frac,
            sp.Sum,
            sp.besselk,
            sp.factorial,
            sp.Indexed,
            sp.IndexedBase,
            sp.Idx,
            log1p,
            expm1,
        )
    }
    | {"ExprCondPair": sp.functions.elementary.piecewise.ExprCondPair}
    | dict(PRIMITIVES)
)
_CONSTANTS = {
    "pi": sp.pi,
    "E": sp.E,
    "oo": sp.oo,
    "zoo": sp.zoo,
    "nan": sp.nan,
    "I": sp.I,
    "true": sp.true,
    "false": sp.false,
    "EulerGamma": sp.EulerGamma,
    "Catalan": sp.Catalan,
}
_KEYWORDS = {"precision"} | set(_assume_defined)


def path() -> Path:
    """The user catalog file (it may not exist yet)."""
    home = os.environ.get("SYMSMOOTH_HOME")
    base = Path(home) if home else Path.home() / ".config" / "symsmooth"
    return base / "catalog.json"


# --- safe reading of srepr text ----------------------------------------------------------------


def from_srepr(text: str) -> sp.Basic:
    """Rebuild a SymPy object from ``srepr`` text through a whitelist (no eval)."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise CatalogError("user catalog: an expression is not text or is too long")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CatalogError(f"user catalog: cannot read {text[:60]!r}") from None
    return _build(tree.body)


def _build(node: ast.AST):
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _build(node.operand)
        if isinstance(value, (int, float, sp.Number)) and not isinstance(value, bool):
            return -value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        cls = _CONSTRUCTORS.get(node.func.id)
        if cls is None:
            raise CatalogError(
                f"user catalog: {node.func.id!r} is not an allowed constructor; the file may be "
                f"corrupt or hand-edited: fix or delete {path()}"
            )
        kwargs = {}
        for kw in node.keywords:
            if kw.arg not in _KEYWORDS:
                raise CatalogError(f"user catalog: keyword {kw.arg!r} is not allowed")
            kwargs[kw.arg] = _build(kw.value)
        return cls(*[_build(a) for a in node.args], **kwargs)
    raise CatalogError(
        f"user catalog: unexpected syntax {ast.dump(node)[:60]}; fix or delete {path()}"
    )


# --- records <-> JSON ---------------------------------------------------------------------------


def _encode(record: Smoothing) -> dict:
    data = {
        f: (None if getattr(record, f) is None else sp.srepr(getattr(record, f)))
        for f in _EXPR_FIELDS
    }
    data |= {f: getattr(record, f) for f in _TEXT_FIELDS}
    data["variables"] = [sp.srepr(v) for v in record.variables]
    data["fixed"] = [[sp.srepr(k), sp.srepr(sp.sympify(v))] for k, v in record.fixed]
    data["attained"] = [
        [[sp.srepr(k), sp.srepr(sp.sympify(v))] for k, v in p.items()] for p in record.attained
    ]
    return data


def _decode(name: str, data: dict) -> Smoothing:
    known = {f.name for f in fields(Smoothing)}
    values = {f: (None if data.get(f) is None else from_srepr(data[f])) for f in _EXPR_FIELDS}
    values |= {f: str(data[f]) for f in _TEXT_FIELDS if f in data and f in known}
    values["variables"] = tuple(from_srepr(v) for v in data.get("variables", []))
    values["fixed"] = tuple((from_srepr(k), from_srepr(v)) for k, v in data.get("fixed", []))
    values["attained"] = tuple(
        {from_srepr(k): from_srepr(v) for k, v in p} for p in data.get("attained", [])
    )
    return Smoothing(name=name, **values)


def load(file: Path | None = None) -> dict[str, Smoothing]:
    """Every saved entry, ``{name: Smoothing}`` (empty when there is no file)."""
    file = file or path()
    if not file.exists():
        return {}
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"user catalog {file} is unreadable ({exc}); fix or delete it") from None
    entries = raw.get("entries", {}) if isinstance(raw, dict) else {}
    return {name: _decode(name, data) for name, data in entries.items()}


def save(
    name: str, record: Smoothing, *, file: Path | None = None, overwrite: bool = False
) -> Path:
    """Save ``record`` as ``name`` and register it in the catalog; returns the file."""
    from symsmooth.smoothing import catalog

    if not _NAME.match(name):
        raise CatalogError(f"invalid name {name!r}: use snake_case letters, digits and _")
    file = file or path()
    saved = load(file)
    builtin = name in catalog.names() and name not in _REGISTERED
    if builtin or (name in saved and not overwrite):
        raise CatalogError(
            f"{name!r} exists already in the catalog; pick another name"
            + ("" if builtin else " or pass overwrite=True")
        )
    raw = {"entries": {n: _encode(r) for n, r in saved.items()}}
    raw["entries"][name] = _encode(replace(record, name=name))
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(raw, indent=1, sort_keys=True), encoding="utf-8")
    register_all(file)
    return file


_REGISTERED: set[str] = set()


def register_all(file: Path | None = None) -> list[str]:
    """Add the saved entries to :mod:`symsmooth.smoothing.catalog` (called by its loader)."""
    from symsmooth.smoothing import catalog

    entries = load(file)
    for name, record in entries.items():
        if name in catalog._BUILDERS and name not in _REGISTERED:
            continue  # a built-in entry wins over a user entry of the same name
        catalog._BUILDERS.pop(name, None)
        catalog.entry(name)(lambda record=record: record)
        _REGISTERED.add(name)
    catalog.get.cache_clear()
    return sorted(entries)
