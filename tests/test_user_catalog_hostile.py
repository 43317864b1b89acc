"""Hostile and malformed user catalog files: nothing runs, each bad entry is skipped with one
warning, the good entry, the built-in catalog and the CLI keep working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest
import sympy as sp
from sandbox import recorder

import symsmooth as ss
from symsmooth import catalog
from symsmooth.catalog import user_catalog
from symsmooth.cli import main
from symsmooth.errors import CatalogError, InvalidNameError, SymsmoothError
from symsmooth.text.record_codec import CatalogWarning, encode

x = sp.Symbol("x", real=True)
k = sp.Symbol("k", positive=True)
CODE = '__import__("os").system("touch pwned")'
GOOD = "good_softplus"
SOFTPLUS = sp.log(1 + sp.exp(k * x)) / k


def _good() -> dict:
    record = catalog.get("softplus")
    return encode(record, GOOD)


def _with(**fields):
    def make():
        data = _good()
        data.update(fields)
        return data

    return make


def _without(field):
    def make():
        data = _good()
        del data[field]
        return data

    return make


EXPR = [  # (id, stored expr text): strings in constructor positions, code, huge numbers, depth
    ("exp-string", f"exp('{CODE}')"),
    ("erf-string", "erf('x')"),
    ("max-string", "Max(Symbol('x', real=True), '1')"),
    ("min-code", f"Min('{CODE}', Integer(0))"),
    ("indexed-strings", "Indexed('x', 'i')"),
    ("sum-strings", "Sum('x', Tuple('i', Integer(1), Integer(3)))"),
    ("indexedbase-code", f"IndexedBase('{CODE}')"),
    ("piecewise-strings", "Piecewise(ExprCondPair('x', 'x > 0'))"),
    ("relation-string", "StrictLessThan('x', Integer(0))"),
    ("tuple-string", "Tuple('a')"),
    ("softplus-string", f"softplus('{CODE}')"),
    ("pow-string", "Pow('x', Integer(2))"),
    ("add-string", "Add('x', Integer(1))"),
    ("mul-code", f"Mul(Integer(2), '{CODE}')"),
    ("integer-abc", "Integer('abc')"),
    ("integer-code", f"Integer('{CODE}')"),
    ("rational-strings", "Rational('1', '2')"),
    ("float-code", f"Float('{CODE}', precision=53)"),
    ("float-precision-string", "Float('1.0', precision='53')"),
    ("float-nan-text", "Float('nan', precision=53)"),
    ("symbol-code-name", f"Symbol('{CODE}', real=True)"),
    ("symbol-semicolon", "Symbol('x; import os')"),
    ("symbol-keyword", "Symbol('lambda')"),
    ("symbol-builtin", "Symbol('print')"),
    ("symbol-underscore", "Symbol('_res')"),
    ("symbol-too-long", f"Symbol('{'x' * 100}')"),
    ("symbol-contradictory", "Symbol('x', positive=True, negative=True)"),
    ("symbol-unknown-assumption", "Symbol('x', evil=True)"),
    ("symbol-assumption-string", "Symbol('x', real='True')"),
    ("symbol-of-symbol", "Symbol(Symbol('x'))"),
    ("dummy", "Dummy('x')"),
    ("import-call", CODE),
    ("eval-call", "eval('1')"),
    ("attribute", "Symbol('x').__class__"),
    ("lambda", "(lambda: 0)()"),
    ("binop", "Integer(1) + Integer(2)"),
    ("list-in-expr", "[Integer(1)]"),
    ("starred", "Max(*[Integer(1)])"),
    ("double-star", "Max(**{'a': Integer(1)})"),
    ("keyword-evaluate", "exp(Symbol('x'), evaluate=False)"),
    ("indexedbase-keyword", "IndexedBase(Symbol('x'), evil=True)"),
    ("huge-power", "Pow(Integer(10), Integer(1000000))"),
    ("power-tower", "Pow(Integer(9), Pow(Integer(9), Integer(9)))"),
    ("exp-huge", "exp(Integer(10**59))"),
    (
        "sigmoid-of-exp",
        "Max(Symbol('x', real=True), sigmoid(Mul(Integer(-1), exp(Integer(9999)))))",
    ),
    ("factorial-huge", "factorial(Integer(10**50))"),
    ("integer-5000-digits", f"Integer({'9' * 5000})"),
    ("deep-nesting", "exp(" * 500 + "Symbol('x')" + ")" * 500),
    ("float-huge-exponent", "Float('1e99999999', precision=53)"),
    ("float-huge-precision", "Float('1.0', precision=1000000000)"),
    ("rational-zero-denominator", "Rational(1, 0)"),
    ("wrong-arity", "exp(Symbol('x'), Symbol('y'))"),
    ("not-srepr", "x + 1"),
]

ENTRY = [  # (id, entry name, data maker): wrong fields, types and meanings
    *[(f"expr:{name}", "bad", _with(expr=text)) for name, text in EXPR],
    ("target-code", "bad", _with(target=f"erf('{CODE}')")),
    ("param-not-symbol", "bad", _with(param="Integer(1)")),
    ("limit-five", "bad", _with(limit="Integer(5)")),
    ("variables-not-list", "bad", _with(variables="Symbol('x', real=True)")),
    ("variables-empty", "bad", _with(variables=[])),
    ("missing-expr", "bad", _without("expr")),
    ("missing-target", "bad", _without("target")),
    ("missing-param", "bad", _without("param")),
    ("expr-number", "bad", _with(expr=42)),
    ("expr-list", "bad", _with(expr=["Integer(1)"])),
    ("unknown-field", "bad", _with(__class__="x")),
    ("kind-evil", "bad", _with(kind="evil")),
    ("description-escape", "bad", _with(description="\x1b]0;pwned\x07")),
    ("source-not-text", "bad", _with(source={"a": 1})),
    ("fixed-code", "bad", _with(fixed=[["Symbol('k', positive=True)", CODE]])),
    ("fixed-not-pairs", "bad", _with(fixed=[[1, 2, 3]])),
    ("attained-malformed", "bad", _with(attained=[[[1, 2]]])),
    ("attained-string-value", "bad", _with(attained=[[["Symbol('x', real=True)", "'0'"]]])),
    ("record-list", "bad", lambda: ["Integer(1)"]),
    ("record-string", "bad", lambda: "Integer(1)"),
    ("record-null", "bad", lambda: None),
    ("name-code", CODE, _good),
    ("name-spaces", "Bad Name", _good),
    ("name-keyword", "lambda", _good),
    ("name-module", "os", _good),
    ("name-underscore", "_private", _good),
    ("name-builtin-entry", "softplus", _with(expr="Integer(7)")),
]


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("SYMSMOOTH_HOME", str(folder))
    user_catalog.reset()
    yield folder
    user_catalog.reset()


def _write(home, entries: list[tuple[str, object]]) -> None:
    text = "{" + ", ".join(f"{json.dumps(n)}: {json.dumps(d)}" for n, d in entries) + "}"
    (home / "catalog.json").write_text('{"entries": ' + text + "}", encoding="utf-8")


def _register(monkeypatch, tmp_path):
    """First catalog access in the recorder: (dangerous calls, warning messages)."""
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir(exist_ok=True)
    with warnings.catch_warnings(record=True) as seen, recorder(monkeypatch, sandbox) as calls:
        warnings.simplefilter("always")
        user_catalog.register_all()
        catalog.names()
    return calls, [w for w in seen if issubclass(w.category, CatalogWarning)]


def _assert_catalog_works():
    assert catalog.get(GOOD).expr == SOFTPLUS
    assert catalog.get("softplus").expr == SOFTPLUS
    assert catalog.get("softplus").method == "catalog"


def test_there_are_at_least_40_hostile_catalog_files():
    assert len(ENTRY) + len(FILES) >= 40


@pytest.mark.parametrize(("name", "make"), [e[1:] for e in ENTRY], ids=[e[0] for e in ENTRY])
def test_a_bad_entry_is_skipped_with_one_warning(home, monkeypatch, tmp_path, name, make):
    _write(home, [(GOOD, _good()), (name, make())])
    calls, seen = _register(monkeypatch, tmp_path)
    assert calls == []
    assert len(seen) == 1, [str(w.message) for w in seen]
    message = str(seen[0].message)
    assert seen[0].filename == str(home / "catalog.json")
    assert message.startswith(f"user catalog {home / 'catalog.json'}: ")
    assert f"entry {name[:40]!r}" in message and "skipped" in message
    assert "\n" not in message
    assert sorted(user_catalog._REGISTERED) == [GOOD]
    _assert_catalog_works()


FILES = [  # (id, file text): the whole file is unusable
    ("invalid-json", "{"),
    ("entries-list", json.dumps({"entries": [["bad", {}]]})),
    ("top-level-list", json.dumps([1, 2])),
    ("entries-string", json.dumps({"entries": "Integer(1)"})),
    ("deep-json", "[" * 100_000 + "]" * 100_000),
    ("huge-json-int", '{"entries": ' + "9" * 5000 + "}"),
    ("empty-file", ""),
    ("nul-bytes", "\x00\x00"),
]


@pytest.mark.parametrize("text", [f[1] for f in FILES], ids=[f[0] for f in FILES])
def test_a_bad_file_is_skipped_with_one_warning(home, monkeypatch, tmp_path, text):
    (home / "catalog.json").write_text(text, encoding="utf-8")
    calls, seen = _register(monkeypatch, tmp_path)
    assert calls == []
    assert len(seen) == 1 and "catalog.json: not used" in str(seen[0].message)
    assert user_catalog._REGISTERED == set()
    assert catalog.get("softplus").expr == SOFTPLUS


def test_non_utf8_file_and_a_folder_in_its_place_are_skipped(home, monkeypatch, tmp_path):
    (home / "catalog.json").write_bytes(b"\xff\xfe\x80")
    assert "cannot be read" in str(_register(monkeypatch, tmp_path)[1][0].message)
    (home / "catalog.json").unlink()
    (home / "catalog.json").mkdir()
    assert "cannot be read" in str(_register(monkeypatch, tmp_path)[1][0].message)
    assert catalog.get("softplus").method == "catalog"


def test_a_duplicate_name_keeps_the_first_entry(home, monkeypatch, tmp_path):
    _write(home, [(GOOD, _good()), (GOOD, _with(expr="Integer(7)")())])
    calls, seen = _register(monkeypatch, tmp_path)
    assert calls == [] and len(seen) == 1 and "more than once" in str(seen[0].message)
    _assert_catalog_works()


def test_the_cli_keeps_working_on_a_file_full_of_bad_entries(home, monkeypatch, capsys):
    _write(home, [(GOOD, _good())] + [(f"bad_{i}", e[2]()) for i, e in enumerate(ENTRY[:60])])
    monkeypatch.setattr(catalog, "_LOADED", False)  # the next access reads the file again
    for argv, expected in ((["list", "--plain"], GOOD), (["show", GOOD], "softplus")):
        with warnings.catch_warnings(record=True), pytest.raises(SystemExit) as exit_info:
            warnings.simplefilter("always")
            main(argv)
        out = capsys.readouterr()
        assert exit_info.value.code == 0, out.err
        assert expected in out.out and "Traceback" not in out.err + out.out


def test_a_fresh_process_prints_one_line_per_bad_entry(home):
    bad = [("bad_code", _with(expr=f"exp('{CODE}')")()), ("bad_power", _with(expr=EXPR[41][1])())]
    _write(home, [(GOOD, _good()), *bad])
    env = {**os.environ, "SYMSMOOTH_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "symsmooth", "list", "--plain"],
        capture_output=True, text=True, env=env, cwd=home, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert GOOD in done.stdout and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr  # one line per bad entry, nothing else
    assert all(line.startswith("warning: user catalog ") and "skipped" in line for line in lines)
    assert "bad_code" in lines[0] and "bad_power" in lines[1]
    assert not (home / "pwned").exists()


# --- names on the way in ---------------------------------------------------------------------

BAD_NAMES = [CODE, "x y", "lambda", "None", "class", "print", "_x", "__class__", "", "x" * 70,
             "1x", "x-y", "x.y", "ｘ", "x\n", "os.system", "a;b", "x'", "max", "sum"]  # fmt: skip


@pytest.mark.parametrize("name", BAD_NAMES)
def test_cli_refuses_bad_variable_names_before_any_work(home, capsys, name):
    with pytest.raises(SystemExit) as exit_info:
        main(["convolve", "1", "--var", name, "--save", "e"])
    out = capsys.readouterr()
    assert exit_info.value.code == 2
    assert "error:" in out.err and "Traceback" not in out.err
    assert not (home / "catalog.json").exists()


@pytest.mark.parametrize("name", [*BAD_NAMES, "Bad_Name", "os", "json"])
def test_cli_refuses_bad_entry_names(home, capsys, name):
    with pytest.raises(SystemExit) as exit_info:
        main(["convolve", "Max(x, 0)", "--kernel", "logistic", "--save", name])
    out = capsys.readouterr()
    assert exit_info.value.code == 2 and "Traceback" not in out.err
    assert not (home / "catalog.json").exists()


@pytest.mark.parametrize("name", BAD_NAMES[:8])
def test_api_refuses_bad_names(home, name):
    with pytest.raises(InvalidNameError):
        ss.convolve("Max(x, 0)", name)
    record = ss.convolve("Max(x, 0)", "x", "logistic")
    with pytest.raises(CatalogError) as info:
        user_catalog.save(name, record)
    assert isinstance(info.value, InvalidNameError)
    evil = sp.Symbol(name or "q", real=True)
    if name:
        with pytest.raises(InvalidNameError):  # a symbol named so is refused on saving
            user_catalog.save("evil_symbols", record.__class__(**{
                **{f: getattr(record, f) for f in record.__dataclass_fields__},
                "expr": record.expr + evil,
            }))  # fmt: skip
    assert not (home / "catalog.json").exists()


# --- writing ---------------------------------------------------------------------------------


def test_every_builtin_entry_round_trips_through_the_file(home):
    fields = ("target", "expr", "variables", "param", "limit", "bound", "source", "domain",
              "kind", "size", "index", "fixed", "attained", "description", "iteration")  # fmt: skip
    for name in [n for n in catalog.names() if n not in user_catalog._REGISTERED]:
        user_catalog.save(f"rt_{name}", catalog.get(name))
    back = user_catalog.load()
    assert len(back) == len([n for n in catalog.names() if n.startswith("rt_")]) >= 30
    for name, record in back.items():
        original = catalog.get(name[3:])
        for field in fields:
            assert getattr(record, field) == getattr(original, field), (name, field)


def test_a_failed_replace_leaves_the_previous_catalog_intact(home, monkeypatch):
    record = ss.convolve("Max(x, 0)", "x", "logistic")
    user_catalog.save("first_entry", record)
    before = (home / "catalog.json").read_bytes()

    def killed(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(CatalogError, match="No space left"):
        user_catalog.save("second_entry", record)
    assert (home / "catalog.json").read_bytes() == before
    assert sorted(p.name for p in home.iterdir()) == ["catalog.json"]  # no temporary left


def test_an_unwritable_home_is_a_clean_error(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("SYMSMOOTH_HOME", str(blocker / "home"))
    with pytest.raises(SystemExit) as exit_info:
        main(["convolve", "Max(x, 0)", "--kernel", "logistic", "--save", "unwritable_relu"])
    out = capsys.readouterr()
    user_catalog.reset()
    assert exit_info.value.code == 2
    assert "cannot write the user catalog" in out.err and "Traceback" not in out.err


def test_saving_refuses_to_overwrite_an_unreadable_file(home):
    (home / "catalog.json").write_text("{ not json", encoding="utf-8")
    record = ss.convolve("Max(x, 0)", "x", "logistic")
    with pytest.raises(SymsmoothError, match="fix or delete it"):
        user_catalog.save("my_relu", record)
    assert (home / "catalog.json").read_text(encoding="utf-8") == "{ not json"


def test_an_entry_past_the_deadline_is_skipped_and_the_rest_loads(home, monkeypatch, tmp_path):
    import time

    from symsmooth import budget

    real_decode = user_catalog.decode

    def decode(name, data):  # an entry that SymPy would take long to rebuild
        if name == "slow_entry":
            time.sleep(5)
        return real_decode(name, data)

    monkeypatch.setattr(user_catalog, "decode", decode)
    _write(home, [(GOOD, _good()), ("slow_entry", _good())])
    budget.set_deadline(0.2)
    try:
        calls, seen = _register(monkeypatch, tmp_path)
    finally:
        budget.set_deadline(None)
    assert calls == [] and len(seen) == 1
    assert "stopped after 0.2 s" in str(seen[0].message)
    assert user_catalog._REGISTERED == {GOOD}
    assert catalog.get("softplus").method == "catalog"
