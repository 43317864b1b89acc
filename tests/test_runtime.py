"""The runtime (symsmooth/runtime/): real functions, the source the generator copies from them.

Each scalar helper is called as a plain Python function and compared with mpmath at its regime
edges; the emitted text is the functions' own source (``inspect.getsource``); the helpers a
helper needs are the runtime functions its body calls; a helper refers to nothing but ``math``,
a few builtins and other helpers (so its copy in a generated module is self-contained); and
``runtime/`` imports nothing else from ``symsmooth``.
"""

from __future__ import annotations

import ast
import inspect
import math
from pathlib import Path

import mpmath
import numpy as np
import pytest

from symsmooth.codegen import fastmath
from symsmooth.codegen.helpers import (
    FAST_FUNCTIONS,
    FAST_OVERRIDES,
    HELPERS,
    RUNTIME_MODULES,
    helper,
    resolve,
)
from symsmooth.codegen.printer import FUNCTION_HELPERS
from symsmooth.errors import CodegenError
from symsmooth.runtime import double_double as dd
from symsmooth.runtime import fastmath as fm
from symsmooth.runtime import scalar, scaling

RUNTIME = Path(scalar.__file__).parent
BUILTINS = {"abs", "max", "min", "int", "range"}


def _ulps(value: float, exact) -> float:
    """|value - exact| in ulps of the float64 nearest ``exact`` (2**-1074 when subnormal)."""
    with mpmath.workprec(300):
        r = float(exact)
        if value == r:
            return 0.0
        if not math.isfinite(value):
            return math.inf
        return float(abs(mpmath.mpf(value) - exact) / max(np.spacing(abs(r)), 2.0**-1074))


# --- the emitted text is the real functions' source ----------------------------------------


def test_every_helper_is_a_real_function_whose_source_is_emitted():
    assert len(HELPERS) >= 27
    for name, h in HELPERS.items():
        fn = h.implementation()
        assert fn.__name__ == f"_{name}" and fn.__module__ == h.module
        assert h.source == inspect.getsource(fn), name


def test_fast_source_is_the_runtime_functions_source():
    for name, source in FAST_FUNCTIONS.items():
        assert source == inspect.getsource(getattr(fm, name).py_func), name
    for name, source in FAST_OVERRIDES.items():
        assert source == inspect.getsource(getattr(fm, "_fast" + name).py_func), name
    assert set(FAST_OVERRIDES) == {
        "_softplus",
        "_sigmoid",
        "_dsigmoid",
        *("_softplus2", "_sigmoid2", "_dsigmoid2"),  # exact arguments (runtime/exact.py)
        *("_softplus_xp", "_softplus_xd", "_sigmoid_xp", "_sigmoid_pp", "_dsigmoid_xp"),
        "_silu_xd",
    }
    assert "def _fma(typingctx, a, b, c):" in fastmath.FAST_SOURCE
    assert "from numba import types as _types" in fastmath.FAST_SOURCE


def test_printer_table_names_runtime_helpers():
    """Every helper the printer emits calls to has a runtime function."""
    for cls, name in FUNCTION_HELPERS.items():
        assert name in HELPERS, (cls, name)


def test_unknown_helper_says_where_to_add_it():
    with pytest.raises(CodegenError, match="symsmooth/runtime"):
        helper("no_such_helper")
    assert "def _logsumexp3(a0, a1, a2):" in helper("logsumexp3").source


# --- requirements come from the calls -------------------------------------------------------


def _called(source: str) -> set[str]:
    tree = ast.parse(source)
    return {
        n.func.id[1:]
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id[1:] in HELPERS
    }


def test_requirements_are_the_calls_of_the_body():
    for name, h in HELPERS.items():
        assert set(h.requires) == _called(h.source) - {name}, name
    assert HELPERS["dgelu"].requires == ("two_product", "wexp2", "Phi", "phi")
    assert HELPERS["odd_root_parts"].requires == ("scaled_ratio", "dd_ipow")
    assert HELPERS["softplus"].requires == ()


def test_resolve_puts_dependencies_first():
    order = [h.name for h in resolve(["softplus", "sigmoid"])]
    assert order == ["two_product", "wexp2", "sigmoid2", "sigmoid", "softplus"]
    for name in HELPERS:
        seen: set[str] = set()
        for h in resolve([name]):
            assert set(h.requires) <= seen, (name, h.name)
            seen.add(h.name)


# --- a helper's copy is self-contained; runtime/ imports nothing above it ---------------------


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_helper_refers_to_math_builtins_and_helpers_only(name):
    refs = inspect.getclosurevars(HELPERS[name].implementation())
    helpers = {f"_{n}" for n in HELPERS}
    assert set(refs.globals) <= {"math"} | helpers, set(refs.globals)
    # getclosurevars files attribute names (math.pow) under builtins too: keep the bare names
    bare = {n.id for n in ast.walk(ast.parse(HELPERS[name].source)) if isinstance(n, ast.Name)}
    assert set(refs.builtins) & bare <= BUILTINS, set(refs.builtins) & bare
    assert not refs.nonlocals


def test_runtime_imports_nothing_else_from_symsmooth():
    for path in RUNTIME.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for module in names:
                assert not module.startswith("symsmooth") or module.startswith(
                    "symsmooth.runtime"
                ), (path.name, module)
    assert set(RUNTIME_MODULES) <= {f"symsmooth.runtime.{p.stem}" for p in RUNTIME.glob("*.py")}


# --- the scalar helpers as plain functions, against mpmath -----------------------------------

EDGES = [-800.0, -745.0, -37.5, -37.0, -18.0, -1.0, -1e-9, 0.0, 1e-9, 0.5, 18.0, 18.5, 33.3, 34.0]


def _mp_softplus(z):
    return mpmath.log1p(mpmath.exp(z))


CASES = {
    # name: (function, mpmath reference, points, bound in ulps)
    "softplus": (scalar._softplus, _mp_softplus, EDGES + [700.0, 1e300], 1.0),
    "log_sigmoid": (scalar._log_sigmoid, lambda z: -_mp_softplus(-z), EDGES, 1.0),
    "log1mexp": (
        scalar._log1mexp,
        lambda z: mpmath.log(-mpmath.expm1(z)),
        [-800.0, -40.0, -1.0, -0.6931471805599453, -0.69, -1e-5, -1e-300],
        1.0,
    ),
    "sigmoid": (dd._sigmoid, lambda z: 1 / (1 + mpmath.exp(-z)), EDGES + [-700.5], 0.501),
    "Phi": (dd._Phi, mpmath.ncdf, [-38.0, -30.0, -10.0, -1.0, 0.0, 0.3, 5.0, 9.0], 1.0),
    "phi": (dd._phi, mpmath.npdf, [-38.0, -30.0, -10.0, -1.0, 0.0, 0.3, 5.0, 37.0], 1.0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_scalar_helper_against_mpmath(name):
    fn, exact, points, bound = CASES[name]
    with mpmath.workprec(300):
        worst = max(_ulps(fn(p), exact(mpmath.mpf(p))) for p in points)
    assert worst <= bound, (name, worst)


def test_wexp_and_fin_edges():
    with mpmath.workprec(300):
        for h, m in [(-3.0, 0.0), (1e6 + 0.1, 1e6), (-700.25, 3.5), (0.0, 0.0)]:
            assert _ulps(scalar._wexp(h, m), mpmath.exp(mpmath.mpf(h) - mpmath.mpf(m))) <= 1.0
    inf = math.inf
    assert (scalar._wexp(-inf, -inf), scalar._wexp(inf, inf), scalar._wexp(-800.0, 0.0)) == (
        0.0,
        1.0,
        0.0,
    )
    assert math.isnan(scalar._wexp(math.nan, 0.0))
    assert scalar._fin(1.0, 2.0**-60) == 1.0 + 2.0**-60 and scalar._fin(inf, math.nan) == inf


def test_two_product_and_double_double_products_are_exact():
    rng = np.random.default_rng(3)
    for a, b in rng.uniform(-1e10, 1e10, (200, 2)):
        p, e = dd._two_product(float(a), float(b))
        assert mpmath.mpf(p) + mpmath.mpf(e) == mpmath.mpf(float(a)) * mpmath.mpf(float(b))
    t, dt = scaling._scaled_ratio(1.0, 3.0)
    with mpmath.workprec(300):
        assert abs(mpmath.mpf(t) + mpmath.mpf(dt) - mpmath.mpf(1) / 3) < mpmath.mpf(2) ** -105
        h, lo = scaling._dd_ipow(t, dt, 5)
        assert abs(mpmath.mpf(h) + mpmath.mpf(lo) - (mpmath.mpf(1) / 3) ** 5) < 2.0**-104 / 243


# --- the fast functions are callable from Python ----------------------------------------------


def test_fast_helpers_from_python():
    with mpmath.workprec(300):
        for z in [-700.0, -20.0, -1.0, 0.0, 0.7, 17.9, 18.1, 40.0]:
            assert _ulps(fm._fast_softplus(z), _mp_softplus(mpmath.mpf(z))) <= 1.0, z
            assert _ulps(fm._fast_sigmoid(z), 1 / (1 + mpmath.exp(-mpmath.mpf(z)))) <= 1.0, z
    keys = [fm._okey(v) for v in (-math.inf, -1.0, -0.0, 0.0, 2.0**-1074, 1.0, math.inf)]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert fm._ofrom(fm._okey(-2.5)) == -2.5
    assert fm._fwexp(-math.inf, -math.inf) == 0.0 and fm._fwexp(math.inf, math.inf) == 1.0
