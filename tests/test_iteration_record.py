"""Algorithms as data: :class:`symsmooth.records.Iteration` on a record.

The record refuses what the generator could not use; a stored record round-trips through the
user catalog's safe reader and refuses hostile iteration objects; a user-built algorithmic
record (not in the catalog: other names, pre-shift ``"max"``, another count and default, a
fixed parameter) generates a kernel whose values and gradients match mpmath transcriptions of
the algorithm written here.
"""

from __future__ import annotations

import json
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

from symsmooth import catalog, pipeline
from symsmooth.catalog import user_catalog
from symsmooth.codegen.iteration import iteration_spec
from symsmooth.codegen.render import load_module, write
from symsmooth.errors import CatalogError, CodegenError
from symsmooth.records import Iteration, Smoothing
from symsmooth.text.record_codec import CatalogWarning, decode, encode
from symsmooth.verification.ulp import ulp_error

Y, P = sp.IndexedBase("y", real=True), sp.IndexedBase("p", real=True)
i, j, n = sp.symbols("i j n", integer=True, positive=True)
beta, a = sp.symbols("beta a", positive=True)
c = sp.Symbol("c", positive=True)
Z = sp.IndexedBase("z", real=True)


def _softmax_step(scale) -> sp.Expr:
    def w(m):
        return sp.exp(scale * (1 - P[m]) * Y[m])

    return P[j] + w(j) / sp.Sum(w(i), (i, 1, n))


# --- the record ------------------------------------------------------------------------------


def test_defaults_and_normalised_init():
    it = Iteration(P[j] / 2, init=0.25)
    assert (it.data, it.state, it.subscript, it.index, it.size) == (Y, P, j, i, n)
    assert it.init == sp.Float(0.25) and isinstance(it.init, sp.Expr)
    assert (it.shift, it.count, it.count_default) == ("none", "top", 1)


BAD = [  # (id, keyword arguments, error type, message fragment)
    ("step-text", {"step": "p[j]"}, TypeError, "step must be a SymPy expression"),
    ("data-symbol", {"data": sp.Symbol("y")}, TypeError, "data must be a sympy.IndexedBase"),
    ("index-number", {"index": 3}, TypeError, "index must be a sympy.Symbol"),
    ("same-vectors", {"data": P}, ValueError, "two different vectors"),
    ("same-symbols", {"index": j}, ValueError, "three different symbols"),
    ("shift-middle", {"shift": "middle"}, ValueError, "shift 'middle': use one of"),
    ("shift-int", {"shift": 3}, ValueError, "shift '3'"),
    ("count-negative", {"count_default": -1}, ValueError, "count_default must be an int >= 0"),
    ("count-bool", {"count_default": True}, ValueError, "count_default must be an int"),
    ("count-float", {"count_default": 2.0}, ValueError, "count_default must be an int"),
    ("count-name-underscore", {"count": "_top"}, ValueError, "starts with '_'"),
    ("count-name-keyword", {"count": "class"}, ValueError, "Python keyword"),
    ("count-name-not-text", {"count": 3}, ValueError, "must be text"),
    ("init-symbol", {"init": beta}, ValueError, "init must be a real number"),
    ("init-text", {"init": "0"}, ValueError, "init must be a real number"),
    ("init-complex", {"init": sp.I}, ValueError, "init must be a real number"),
    ("init-infinite", {"init": sp.oo}, ValueError, "init must be finite"),
]


@pytest.mark.parametrize(
    ("fields", "error", "match"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_fields_are_refused_by_name(fields, error, match):
    fields = {"step": P[j] / 2, **fields}
    with pytest.raises(error, match=match):
        Iteration(**fields)


def test_bad_steps_are_refused_with_what_a_step_is():
    x = sp.IndexedBase("x", real=True)
    with pytest.raises(ValueError, match="reads vector.* x; a step reads only"):
        Iteration(P[j] + x[j])
    with pytest.raises(ValueError, match="reads vector.* y"):  # same name, other assumptions
        Iteration(P[j] + sp.IndexedBase("y")[j])
    with pytest.raises(ValueError, match="no free subscript j"):
        Iteration(sp.Sum(P[i], (i, 1, n)))
    with pytest.raises(ValueError, match="summation index i outside a Sum"):
        Iteration(P[j] + Y[i])


def test_smoothing_takes_only_an_iteration():
    record = catalog.get("softplus")
    assert record.iteration is None
    with pytest.raises(TypeError, match="must be a symsmooth.records.Iteration or None"):
        Smoothing(**{**_fields(record), "iteration": "p[j] + 1"})


def _fields(record: Smoothing) -> dict:
    return {f: getattr(record, f) for f in record.__dataclass_fields__}


def test_codegen_refuses_undeclared_symbols_and_clashing_count():
    base = catalog.get("soft_k_max")
    stray = Iteration(_softmax_step(a), shift="min", count_default=2)
    with pytest.raises(CodegenError, match=r"uses a, which is neither the record's param \(k\)"):
        iteration_spec(_replace(base, iteration=stray))
    clash = Iteration(_softmax_step(base.param), count="k")
    with pytest.raises(CodegenError, match="count argument 'k' is also an input or parameter"):
        iteration_spec(_replace(base, iteration=clash))
    two = _replace(base, variables=(Z, Y))
    with pytest.raises(CodegenError, match="exactly one variable"):
        iteration_spec(two)


def _replace(record: Smoothing, **changes) -> Smoothing:
    import dataclasses

    return dataclasses.replace(record, **changes)


# --- the stored record -----------------------------------------------------------------------


def test_soft_k_max_round_trips_through_json_and_generates_the_same_step():
    record = catalog.get("soft_k_max")
    stored = json.loads(json.dumps(encode(record, "my_skm")))
    assert stored["iteration"]["shift"] == "min" and stored["iteration"]["count_default"] == 2
    back = decode("my_skm", stored)
    assert back.iteration == record.iteration
    assert back.expr == record.expr
    spec, original = iteration_spec(back), pipeline.kernel_spec("soft_k_max")
    assert spec.step.expr == original.step.expr
    assert spec.construction == original.construction.replace("soft_k_max", "my_skm", 1)
    assert "iteration" not in encode(catalog.get("softplus"), "sp")  # closed forms unchanged


def _stored(**changes) -> dict:
    data = encode(catalog.get("soft_k_max"), "bad")
    data["iteration"] = {**data["iteration"], **changes}
    return data


CODE = '__import__("os").system("touch pwned")'
HOSTILE = [  # (id, stored record, message fragment)
    ("iteration-list", lambda: {**_stored(), "iteration": ["Integer(1)"]}, "JSON object"),
    ("iteration-text", lambda: {**_stored(), "iteration": CODE}, "JSON object"),
    ("unknown-key", lambda: _stored(evil="Integer(1)"), "unknown field"),
    ("missing-step", lambda: _stored(step=None), r"missing field\(s\) step"),
    ("step-not-text", lambda: _stored(step=3), "iteration step must be srepr text"),
    ("step-code", lambda: _stored(step=CODE), "not allowed"),
    ("step-string-arg", lambda: _stored(step="exp('x')"), "a string is only allowed"),
    ("data-symbol", lambda: _stored(data="Symbol('y', real=True)"), "IndexedBase"),
    ("init-symbol", lambda: _stored(init="Symbol('k', positive=True)"), "real number"),
    ("init-list", lambda: _stored(init="[Integer(1)]"), "a list is only allowed"),
    ("shift-bad", lambda: _stored(shift="middle"), "shift 'middle'"),
    ("shift-int", lambda: _stored(shift=1), "iteration shift must be text"),
    ("count-negative", lambda: _stored(count_default=-1), "integer from 0 to"),
    ("count-bool", lambda: _stored(count_default=True), "integer from 0 to"),
    ("count-float", lambda: _stored(count_default=2.0), "integer from 0 to"),
    ("count-text", lambda: _stored(count_default="2"), "integer from 0 to"),
    ("count-huge", lambda: _stored(count_default=10**12), "integer from 0 to"),
    ("count-name-code", lambda: _stored(count=CODE), "iteration count"),
    ("count-name-escape", lambda: _stored(count="top\x1b]0;x\x07"), "control characters"),
    (
        "foreign-vector",
        lambda: _stored(
            step="Indexed(IndexedBase(Symbol('x')), Symbol('j', integer=True, positive=True))"
        ),
        "reads vector",
    ),
    (
        "two-inputs",
        lambda: {
            **_stored(),
            "variables": [
                "IndexedBase(Symbol('x', real=True))",
                "IndexedBase(Symbol('z', real=True))",
            ],
        },
        "one input row",
    ),
]


@pytest.mark.parametrize(("make", "match"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_iterations_are_refused(make, match):
    with pytest.raises(CatalogError, match=match):
        decode("bad", make())


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("SYMSMOOTH_HOME", str(folder))
    user_catalog.reset()
    yield folder
    user_catalog.reset()


def test_user_catalog_saves_loads_and_skips(home):
    user_catalog.save("my_soft_top", catalog.get("soft_k_max"))
    assert catalog.get("my_soft_top").iteration == catalog.get("soft_k_max").iteration
    assert pipeline.kernel_spec("my_soft_top").kind == "iteration"
    file = home / "catalog.json"
    entries = json.loads(file.read_text())["entries"]
    entries["my_bad_top"] = _stored(count_default=-3)
    file.write_text(json.dumps({"entries": entries}))
    user_catalog.reset()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        loaded = user_catalog.load()
    assert sorted(loaded) == ["my_soft_top"]
    [warning] = [w for w in seen if issubclass(w.category, CatalogWarning)]
    assert "'my_bad_top' skipped: iteration count_default must be an integer" in str(
        warning.message
    )


# --- a user's own algorithm ------------------------------------------------------------------


def _soft_top_max_shift() -> Smoothing:
    """Soft-k-max with another input, parameter and count name, pre-shift max, default 3."""
    step = _softmax_step(beta)
    larger = sp.Sum(sp.Heaviside(Z[i] - Z[j], 0), (i, 1, n))
    return Smoothing(
        name="my_soft_top",
        target=sp.Heaviside(3 - sp.Rational(1, 2) - larger, 0),
        expr=step,
        variables=(Z,),
        param=beta,
        limit=sp.oo,
        bound=None,
        source="test: recursive soft-k-max, shifted by the max",
        kind="reduction",
        size=n,
        index=i,
        iteration=Iteration(step, shift="max", count="steps", count_default=3),
    )


def _damped() -> Smoothing:
    """A damped fixed-point map with a fixed parameter: p <- c p + (1 - c) softmax(a (y - p))."""

    def w(m):
        return sp.exp(a * (Y[m] - P[m]))

    step = c * P[j] + (1 - c) * w(j) / sp.Sum(w(i), (i, 1, n))
    x = sp.IndexedBase("x", real=True)
    return Smoothing(
        name="my_damped",
        target=sp.S.Zero,
        expr=step,
        variables=(x,),
        param=a,
        limit=sp.oo,
        bound=None,
        source="test: damped softmax fixed point",
        kind="reduction",
        size=n,
        index=i,
        fixed=((c, sp.Rational(1, 2)),),
        iteration=Iteration(step, init=sp.Rational(1, 4), count="rounds", count_default=4),
    )


def soft_top_reference(row, bv, count=3, dps=50):
    """y = x - max x; p = 0; count times p_j += exp(b (1 - p_j) y_j) / sum_i (...)."""
    with mpmath.workdps(dps):
        x = [mpmath.mpf(v) if not isinstance(v, mpmath.mpf) else v for v in row]
        top = max(x)
        y = [v - top for v in x]
        p = [mpmath.mpf(0)] * len(x)
        for _ in range(count):
            w = [mpmath.exp(bv * (1 - pm) * ym) for pm, ym in zip(p, y, strict=True)]
            total = mpmath.fsum(w)
            p = [pm + wm / total for pm, wm in zip(p, w, strict=True)]
        return p


def damped_reference(row, av, cv, count=4, dps=50):
    """y = x; p = 1/4; count times p_j <- c p_j + (1 - c) softmax(a (y - p))_j."""
    with mpmath.workdps(dps):
        y = [mpmath.mpf(v) for v in row]
        p = [mpmath.mpf(1) / 4] * len(y)
        for _ in range(count):
            w = [mpmath.exp(av * (ym - pm)) for pm, ym in zip(p, y, strict=True)]
            total = mpmath.fsum(w)
            p = [cv * pm + (1 - cv) * wm / total for pm, wm in zip(p, w, strict=True)]
        return p


@pytest.fixture(scope="module")
def user_modules(tmp_path_factory):
    out = tmp_path_factory.mktemp("user_iterations")
    for record in (_soft_top_max_shift(), _damped()):
        write(pipeline.kernel_spec(record), out)
    return load_module("my_soft_top", out), load_module("my_damped", out)


def test_user_spec_takes_the_records_names():
    spec = pipeline.kernel_spec(_soft_top_max_shift())
    assert (spec.kind, spec.input_names, spec.param_names) == ("iteration", ("z",), ("beta",))
    assert (spec.shift, spec.count, spec.count_default) == ("max", "steps", 3)
    assert pipeline.kernel_spec(_damped()).param_names == ("a", "c")


@pytest.mark.parametrize("bv", [0.4, 1.0, 5.0])
@pytest.mark.parametrize("steps", [None, 1, 2, 5])
def test_user_soft_top_values_against_mpmath(user_modules, bv, steps):
    m, _ = user_modules
    rows = np.random.default_rng(int(10 * bv)).normal(0, 2, (3, 7))
    got = m.my_soft_top(rows, bv) if steps is None else m.my_soft_top(rows, bv, steps=steps)
    for r in range(3):
        exact = soft_top_reference(rows[r], bv, 3 if steps is None else steps)
        # conditioning: an entry exp(h) inherits h's rounding, |h| <= beta * (max - min) ulps
        allowed = 16 + 2 * bv * np.ptp(rows[r])
        assert max(ulp_error(g, e) for g, e in zip(got[r], exact, strict=True)) <= allowed


def test_user_soft_top_max_shift_differs_from_the_min_shift(user_modules):
    # The shift changes the values: y = x - max(x) is not y = x - min(x) under (1 - p) y.
    m, _ = user_modules
    row = np.array([2.0, 1.0, 4.0, 5.0, 3.0])
    got = m.my_soft_top(row, 1.0, steps=2)
    catalog_values = [0.141024, 0.053175, 0.647255, 0.814181, 0.344366]  # min shift
    assert np.max(np.abs(got - catalog_values)) > 1e-3
    assert got.sum() == pytest.approx(2.0, rel=1e-15)


def test_user_soft_top_gradient_against_mpmath_diff(user_modules):
    m, _ = user_modules
    rng = np.random.default_rng(7)
    x, cot = rng.normal(0, 1.5, 6), rng.standard_normal(6)
    got = m.my_soft_top_grad(x, 1.3, cotangent=cot)
    with mpmath.workdps(60):
        exact = []
        for q in range(6):

            def f(t, q=q):
                row = [mpmath.mpf(v) for v in x]
                row[q] = t
                p = soft_top_reference(row, mpmath.mpf(1.3), 3, 80)
                return mpmath.fsum(cv * pv for cv, pv in zip(cot, p, strict=True))

            exact.append(mpmath.diff(f, mpmath.mpf(x[q])))
    scale = max(abs(float(e)) for e in exact)
    assert max(abs(g - float(e)) for g, e in zip(got, exact, strict=True)) <= 64 * 2.3e-16 * scale


@pytest.mark.parametrize("av", [0.5, 2.0])
def test_user_damped_fixed_point_against_mpmath(user_modules, av):
    _, m = user_modules
    rows = np.random.default_rng(3).normal(0, 1, (2, 5))
    for cv, rounds in ((0.5, None), (0.25, 7), (0.5, 0)):
        kwargs = {} if rounds is None else {"rounds": rounds}
        got = m.my_damped(rows, av, cv, **kwargs)
        for r in range(2):
            exact = damped_reference(rows[r], av, cv, 4 if rounds is None else rounds)
            assert max(ulp_error(g, e) for g, e in zip(got[r], exact, strict=True)) <= 32
