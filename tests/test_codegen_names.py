"""Names in generated modules (symsmooth/codegen/names.py): hostile kernel, input and parameter
names are refused before anything is written, or generate a module that imports and computes
the right values; every identifier of a kernel's scope is the generator's reserved one or the
user's; ``load`` takes names only and refuses empty or foreign files; writes are atomic."""

from __future__ import annotations

import ast
import builtins
import keyword
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp
from clirun import run

from symsmooth import pipeline
from symsmooth.codegen import names as naming
from symsmooth.codegen.helpers import HELPERS
from symsmooth.codegen.render import load_module, write
from symsmooth.codegen.spec import make_spec
from symsmooth.errors import CodegenError, InvalidNameError
from symsmooth.functions import softplus

GENERATED = Path(__file__).resolve().parents[1] / "generated"

# --- refused before anything is written -------------------------------------------------------

BAD_KERNELS = [
    "class",
    "None",
    "lambda",
    "np",
    "math",
    "numpy",
    "os",
    "njit",
    "prange",
    "vectorize",
    "print",
    "len",
    "_private",
    "",
    "a-b",
    "x y",
    "/some/dir/evil",
    "../evil",
    "a" * 300,
    "é",
]
BAD_SYMBOLS = ["class", "None", "print", "_c0", "_u_x_", "__import__", "x" * 40]


@pytest.mark.parametrize("kernel", BAD_KERNELS)
def test_bad_kernel_name_refused_by_api(kernel, tmp_path):
    x = sp.Symbol("x", real=True)
    with pytest.raises(InvalidNameError, match="kernel"):
        pipeline.generate([make_spec(kernel, softplus(x), (x,))], out=tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("bad", BAD_SYMBOLS)
def test_bad_input_and_parameter_names_refused(bad):
    x, s = sp.Symbol("x", real=True), sp.Symbol(bad, real=True)
    with pytest.raises(InvalidNameError, match="input name"):
        make_spec("f", softplus(s) + x, (s, x))
    with pytest.raises(InvalidNameError, match="parameter name"):
        make_spec("f", softplus(s * x), (x,), (s,))


def test_repeated_and_colliding_names_refused():
    x, k = sp.Symbol("x", real=True), sp.Symbol("k", positive=True)
    with pytest.raises(InvalidNameError, match="given twice"):
        pipeline.spec_from_expression(softplus(k * x), "f", ["k", "k"])
    # f_grad_x_fast: the fast partial in x, or the partial in x_fast
    xf = sp.Symbol("x_fast", real=True)
    with pytest.raises(InvalidNameError, match="f_grad_x_fast"):
        make_spec("f", x * xf, (x, xf))
    cu = sp.Symbol("cuda", real=True)  # f_grad_cuda: the partial in cuda or the CUDA gradient
    spec = make_spec("f", softplus(cu), (cu,))
    with pytest.raises(InvalidNameError, match="--target cpu"):
        pipeline.generate([spec], out="unused-folder-never-created")
    assert not Path("unused-folder-never-created").exists()


CLI_REFUSED = [
    ["--name", "class"],
    ["--name", "None"],
    ["--name", "np"],
    ["--name", "math"],
    ["--name", "njit"],
    ["--name", "prange"],
    ["--name", "../x"],
    ["--name", "a" * 300],
    ["--name", "f", "--param", "k", "--param", "k"],
    ["--name", "f", "--param", "class"],
    ["--name", "f", "--param", "_k"],
]


@pytest.mark.parametrize("args", CLI_REFUSED, ids=lambda a: " ".join(a)[:40])
def test_cli_refuses_names_and_writes_nothing(args, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    code, stdout, stderr = run(
        ["gen", "--expr", "softplus(k*x)/k", "--out", str(out), *args], capsys, monkeypatch
    )
    assert code == 2, stdout + stderr
    assert "name" in stderr or "parameter" in stderr, stderr
    assert "Traceback" not in stdout + stderr
    assert not out.exists()


# --- user text cannot leave its comment or docstring ------------------------------------------


@pytest.mark.parametrize("text", ["x\nimport os", "x\r\nos.system('a')", "a\u2028b", 'q"""\\'])
def test_header_text_is_escaped(text, tmp_path):
    x = sp.Symbol("x", real=True)
    spec = make_spec("f", softplus(x), (x,), construction=f"f = {text}", command=text)
    path = write(spec, tmp_path, targets=("cpu",))
    source = path.read_text()
    tree = ast.parse(source)
    assert ast.get_docstring(tree).startswith("f: elementwise kernel")
    header = [line for line in source.splitlines() if not line.startswith("#")][0]
    assert header.startswith('"""')  # the first non-comment line is still the docstring
    assert naming.comment_text(text) in source
    assert all(0x20 <= ord(c) < 0x7F for c in source.replace("\n", ""))


# --- hostile names that generate working modules -----------------------------------------------

HOSTILE_INPUTS = ["i", "out", "np", "math", "res", "n", "shape", "dtype"]
SOFT_INPUTS = {"i", "np", "math"}
"""The inputs that enter through softplus (a helper call, its fast twin: the loop index and
the module names); the others enter linearly (each softplus adds ~1.5 s to the first call's
compile of the fast loop, ~14 s with all eight)."""
HOSTILE_PARAMS = ["prange"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One elementwise module whose inputs and parameter are all names the generator uses, one
    reduction (vector ``np``, parameter ``out``, index ``i``), and the catalog-style checks."""
    out = tmp_path_factory.mktemp("hostile")
    syms = [sp.Symbol(n, real=True) for n in HOSTILE_INPUTS]
    k = sp.Symbol("prange", positive=True)
    expr = sum(
        (j + 1) * (softplus(k * s) if s.name in SOFT_INPUTS else k * s) for j, s in enumerate(syms)
    )
    elementwise = pipeline.spec_from_expression(expr, "hostile_e", ["prange"])
    vec = sp.IndexedBase("np", real=True)
    idx = sp.Symbol("i", integer=True, positive=True)
    size = sp.Symbol("n", integer=True, positive=True)
    kk = sp.Symbol("out", positive=True)
    lse = sp.log(sp.Sum(sp.exp(kk * vec[idx]), (idx, 1, size))) / kk
    reduction = pipeline.spec_from_expression(lse, "hostile_r", ["out"])
    small = [sp.Symbol(n, real=True) for n in ("i", "s0", "M0")]
    k2 = sp.Symbol("x0", positive=True)
    fast = make_spec("hostile_f", softplus(k2 * small[0]) + small[1] * small[2], small, (k2,))
    pipeline.generate([elementwise, reduction, fast], out=out, targets=("cpu", "cuda"))
    return out, elementwise, reduction, fast


def _softplus(z: float) -> mpmath.mpf:
    return mpmath.log1p(mpmath.exp(mpmath.mpf(z)))


def _term(j: int, k: float, v: float) -> mpmath.mpf:
    """Term j of the hostile expression at input value v, and its derivative."""
    if HOSTILE_INPUTS[j] in SOFT_INPUTS:
        return (j + 1) * _softplus(k * v)
    return (j + 1) * mpmath.mpf(k) * mpmath.mpf(v)


def _term_grad(j: int, k: float, v: float) -> mpmath.mpf:
    """d/dv of :func:`_term`: (j + 1) k sigmoid(k v), or (j + 1) k."""
    if HOSTILE_INPUTS[j] in SOFT_INPUTS:
        return (j + 1) * k / (1 + mpmath.exp(-k * mpmath.mpf(v)))
    return (j + 1) * mpmath.mpf(k)


def test_hostile_elementwise_values_and_gradients(hostile):
    out, spec, _, _ = hostile
    assert dict(spec.renamed)["_u_out_"] == "out"
    module = load_module("hostile_e", out)
    rng = np.random.default_rng(3)
    cols = [rng.uniform(-4, 4, 5) for _ in HOSTILE_INPUTS]  # column j: input HOSTILE_INPUTS[j]
    args = [cols[HOSTILE_INPUTS.index(v)] for v in spec.input_names]  # signature order
    k = 1.7
    ref = [float(sum(_term(j, k, c[p]) for j, c in enumerate(cols))) for p in range(5)]
    np.testing.assert_allclose(module.hostile_e(*args, k), ref, rtol=1e-14)
    for j, name in enumerate(HOSTILE_INPUTS):
        grad = getattr(module, f"hostile_e_grad_{name}")(*args, k)
        want = [float(_term_grad(j, k, c)) for c in cols[j]]
        np.testing.assert_allclose(grad, want, rtol=1e-14)
    assert "``out`` is the argument ``_u_out_``" in module.__doc__


def test_hostile_fast_path_computes_the_function_not_the_loop_index(hostile):
    out, _, _, _ = hostile
    module = load_module("hostile_f", out)
    i = np.array([-3.0, 0.25, 5.0, 40.0])  # an input named i: the old loop computed f(index)
    s0, m0, k = np.array([1.0, 2.0, 3.0, 4.0]), 0.5, 2.0
    ref = [float(_softplus(k * v) / 1 + mpmath.mpf(a) * m0) for v, a in zip(i, s0, strict=True)]
    np.testing.assert_allclose(module.hostile_f(i, s0, m0, k), ref, rtol=1e-15)
    np.testing.assert_allclose(module.hostile_f_fast(i, s0, m0, k), ref, rtol=4e-16)
    grad = [float(k / (1 + mpmath.exp(-k * mpmath.mpf(v)))) for v in i]
    np.testing.assert_allclose(module.hostile_f_grad_i(i, s0, m0, k), grad, rtol=1e-15)


def test_hostile_reduction_logsumexp(hostile):
    out, _, spec, _ = hostile
    module = load_module("hostile_r", out)
    rows = np.array([[0.5, -2.0, 3.0, 1.0], [10.0, 10.0, -5.0, 0.0]])
    k = 0.75
    ref = [float(mpmath.log(sum(mpmath.exp(k * mpmath.mpf(v)) for v in row)) / k) for row in rows]
    np.testing.assert_allclose(module.hostile_r(rows, k), ref, rtol=1e-15)
    soft = [
        [float(mpmath.exp(k * v) / sum(mpmath.exp(k * w) for w in row)) for v in row]
        for row in rows
    ]
    np.testing.assert_allclose(module.hostile_r_grad(rows, k), soft, rtol=1e-14, atol=1e-300)


def test_hostile_cuda_in_the_simulator(hostile, tmp_path):
    pytest.importorskip("numba_cuda")
    out, _, _, _ = hostile
    script = (
        "import numpy as np\n"
        "from symsmooth.codegen.render import load_module\n"
        f"m = load_module('hostile_f', {str(out)!r})\n"
        "i = np.array([-3.0, 0.25, 5.0]); s0 = np.array([1.0, 2.0, 3.0])\n"
        "a = m.hostile_f_cuda(i, s0, 0.5, 2.0); b = m.hostile_f(i, s0, 0.5, 2.0)\n"
        "g = m.hostile_f_grad_cuda(i, s0, 0.5, 2.0)\n"
        "assert np.array_equal(a, b), (a, b)\n"
        "assert np.array_equal(g[0], m.hostile_f_grad_i(i, s0, 0.5, 2.0))\n"
        "print('ok')\n"
    )
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


# --- the AST guard: every identifier of a kernel scope is accounted for ------------------------

_KIND = re.compile(r"^# Kind: (\w+); inputs: (.*?); parameters: (.*)$", re.M)


def _identifiers(node) -> set[str]:
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.arg):
            found.add(sub.arg)
    return found


RUNTIME_DEFS = {h.function for h in HELPERS.values()} | {
    "_fast" + h.function for h in HELPERS.values()
}
"""The runtime helpers' names and their fast twins' (``_fast_<name>``)."""


def unaccounted(path: Path) -> dict[str, set[str]]:
    """Identifiers of a kernel's functions (the ones named after the kernel, which see user
    names) that are neither ``_``-prefixed, builtins, the module's printed user names or names
    derived from them, public names, nor in :data:`symsmooth.codegen.names.RESERVED`."""
    text = path.read_text()
    name = path.stem
    kind, inputs, params = _KIND.search(text).groups()
    users = [u for u in (inputs + ", " + params).split(", ") if u and u != "none"]
    record = next(
        ast.literal_eval(n.value)
        for n in ast.parse(text).body
        if isinstance(n, ast.Assign)
        and [getattr(t, "id", "") for t in n.targets] == ["__symsmooth__"]
    )
    grad_params = list(record.get("param_grads", {}))
    public = set(naming.public_names(name, kind, inputs.split(", "), params=grad_params))
    codes = {naming.code_name(u, kind, public) for u in users}
    derived = {c + s for c in codes for s in naming.SUFFIXES} | {
        p + c for c in codes for p in naming.PREFIXES
    }
    if kind == "iteration":  # the step's own vectors y (shifted input) and p (state)
        step = ("y", "p", "G", "gy", "gp", "g", "next")
        derived |= {c + s for c in step for s in naming.SUFFIXES}
    allowed = set(dir(builtins)) | codes | derived | public | naming.RESERVED[kind]
    tree = ast.parse(text)
    own = re.compile(rf"(^{re.escape(name)}(_|$))|(_{re.escape(name)}(_|$))")
    bad: dict[str, set[str]] = {}
    for node in tree.body:
        helper = node_name = getattr(node, "name", "")
        # a runtime helper (copied from symsmooth/runtime, no user names) or its fast twin,
        # even when it is named after the kernel (_softplus, _softplus_xd, _fast_softplus_xd)
        helper = node_name in RUNTIME_DEFS or node_name in (f"_{name}", f"_fast_{name}")
        if isinstance(node, ast.FunctionDef) and own.search(node.name) and not helper:
            extra = {
                i
                for i in _identifiers(node)
                if not i.startswith("_") and i not in allowed and not naming.NUMBERED.match(i)
            }
            if extra:
                bad[node.name] = extra
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = (alias.asname or alias.name).split(".")[0]
                if not bound.startswith("_") and bound not in naming.MODULE_GLOBALS:
                    bad.setdefault("<imports>", set()).add(bound)
    return bad


def _guard_message(path, bad) -> str:
    return (
        f"{path.name}: unprefixed generator identifiers {bad}: prefix them with '_' in the "
        "template (user names never start with '_'), or list them in "
        "symsmooth/codegen/names.py RESERVED (then user names equal to them are mangled)"
    )


@pytest.mark.parametrize("path", sorted(GENERATED.glob("*.py")), ids=lambda p: p.stem)
def test_guard_generated(path):
    bad = unaccounted(path)
    assert not bad, _guard_message(path, bad)


def test_guard_hostile(hostile):
    out = hostile[0]
    for path in sorted(out.glob("*.py")):
        bad = unaccounted(path)
        assert not bad, _guard_message(path, bad)


def test_guard_catches_an_unprefixed_local(tmp_path):
    text = (
        (GENERATED / "softplus.py")
        .read_text()
        .replace(
            "def softplus_fast(x, k, out=None):",
            "def softplus_fast(x, k, out=None):\n    tmp = 1",
            1,
        )
    )
    path = tmp_path / "softplus.py"
    path.write_text(text)
    assert unaccounted(path) == {"softplus_fast": {"tmp"}}


# --- load: names only, generated files only; atomic writes -------------------------------------


@pytest.mark.parametrize("name", ["/some/dir/evil", "../softplus", "softplus.py", "a.b", ""])
def test_load_refuses_paths(name):
    with pytest.raises(InvalidNameError):
        pipeline.load(name)


def test_load_refuses_empty_and_foreign_files(tmp_path):
    (tmp_path / "empty_one.py").write_text("")
    with pytest.raises(CodegenError, match="empty.*regenerate"):
        load_module("empty_one", tmp_path)
    (tmp_path / "foreign.py").write_text("import os\n")
    with pytest.raises(CodegenError, match="not a module generated by symsmooth"):
        load_module("foreign", tmp_path)


def test_failed_replace_keeps_the_previous_module(tmp_path, monkeypatch):
    x, k = sp.Symbol("x", real=True), sp.Symbol("k", positive=True)
    first = make_spec("atomic_k", softplus(k * x) / k, (x,), (k,))
    path = write(first, tmp_path, targets=("cpu",))
    before = path.read_bytes()

    def killed(src, dst):
        raise OSError("killed between write and replace")

    monkeypatch.setattr(os, "replace", killed)
    second = make_spec("atomic_k", softplus(2 * k * x) / k, (x,), (k,))
    with pytest.raises(OSError, match="killed"):
        write(second, tmp_path, targets=("cpu",))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atomic_k.py"]  # no temporary left
    module = load_module("atomic_k", tmp_path)
    assert module.atomic_k(1.0, 1.0) == pytest.approx(math.log1p(math.e), rel=1e-15)


# --- the contract's names are built in one place ----------------------------------------------


def test_state_names_are_the_reserved_numbered_ones():
    # every numbered state name the templates build is one a user name is kept away from
    for role, prefix in naming.STATE_PREFIXES.items():
        name = naming.state_var(role, 3)
        assert name == f"{prefix}3"
        if not name.startswith("_"):
            assert naming.needs_mangling(name, "reduction"), name
            assert naming.code_name(name, "iteration") == f"_u_{name}_"
    assert naming.other_var(naming.state_var("shift", 0)) == "_oM0"
    assert "pos_" in naming.RESERVED["reduction"] and naming.POSITION == "pos_"
    with pytest.raises(KeyError, match="no state role 'sums'"):
        naming.state_var("sums", 0)


def test_templates_build_state_names_through_the_contract():
    from symsmooth.codegen.render import environment, template_dir

    assert environment().globals["shift_var"](2) == "M2"
    prefixes = "|".join(sorted(map(re.escape, naming.STATE_PREFIXES.values()), key=len))
    handmade = re.compile(rf"(?<![A-Za-z0-9_])(?:_o|{prefixes})\{{\{{|\"(?:_o|{prefixes})\" ~")
    found = [
        f"{path.name}:{at}"
        for path in sorted(template_dir().glob("*.j2"))
        for at, line in enumerate(path.read_text().splitlines(), 1)
        if handmade.search(line)
    ]
    assert not found, found
    assert handmade.search("s{{ k }} = 0.0") and handmade.search('twosum("R" ~ k)')


def test_long_user_text_is_wrapped_at_the_line_length(tmp_path):
    x = sp.Symbol("x", real=True)
    words = " ".join(f"word{j}" for j in range(60))
    long_url = "https://example.org/" + "a" * 150
    construction = f"f = {words} {long_url}"
    spec = make_spec("f", softplus(x), (x,), construction=construction, command="gen " + words)
    source = write(spec, tmp_path, targets=("cpu",)).read_text()
    assert max(len(line) for line in source.splitlines()) <= 100
    header = [line[2:].strip() for line in source.splitlines() if line.startswith("# ")]
    joined = " ".join(header)
    assert words in joined and long_url not in joined  # the URL is split, every word is there
    assert "".join(joined.split()).count("".join(long_url.split())) == 1
    lines = f'    """{naming.docstring_lines(construction, indent=4)}"""'.splitlines()
    assert max(map(len, lines)) <= 100 and len(lines) > 3
    assert "".join(lines).replace(" ", "") == f'"""{construction}"""'.replace(" ", "")


# --- every generator name comes from names.py -------------------------------------------------

_SUFFIX = "|".join(sorted((re.escape(s) for s in naming.SUFFIXES), key=len, reverse=True))
_STATE = "|".join(sorted(map(re.escape, naming.STATE_PREFIXES.values()), key=len, reverse=True))
_TEMPLATE_DERIVED = re.compile(
    rf"\{{\{{ (?!name \}}\}})[^}}]*\}}\}}(?:{_SUFFIX})(?![A-Za-z0-9_])"  # {{ v }}_row
    rf"|(?<![A-Za-z0-9_])(?:{'|'.join(naming.PREFIXES)}|{naming.ADJOINT_PREFIX})\{{\{{"  # out_{{
)


def _template_code_lines():
    """(where, line) of the templates' lines outside docstrings and comments."""
    from symsmooth.codegen.render import template_dir

    for path in sorted(template_dir().glob("*.j2")):
        quoted = False
        for at, line in enumerate(path.read_text().splitlines(), 1):
            opened = line.count('"""') % 2 == 1
            if not quoted and '"""' not in line and not line.lstrip().startswith("#"):
                yield f"{path.name}:{at}", line
            quoted ^= opened


def test_templates_build_derived_names_through_the_contract():
    found = [where for where, line in _template_code_lines() if _TEMPLATE_DERIVED.search(line)]
    assert not found, found
    # the pattern catches the hand-built forms (and leaves the public names and the globals)
    for bad in ("{{ v }}_row[idx]", "out_{{ g.code }}[i]", "g{{ d }}[m] = 0.0", "{{ p }}_mode"):
        assert _TEMPLATE_DERIVED.search(bad), bad
    for good in ("{{ row_of(v) }}[idx]", "def {{ name }}_grad(x):", "{{ grad_out_of(g.code) }}"):
        assert not _TEMPLATE_DERIVED.search(good), good


def _hand_built(tree: ast.AST) -> list[str]:
    """String pieces of a module that build a contract name by hand: an f-string whose literal
    part ends in a state prefix before a ``{...}`` (``f"M{g}"``) or starts with a derived
    suffix after one (``f"{v}_row"``), or a literal equal to a contract constant."""
    before = re.compile(rf"(?<![A-Za-z0-9_])(?:{_STATE}|{'|'.join(naming.PREFIXES)})\Z")
    after = re.compile(rf"\A(?:{_SUFFIX})(?![A-Za-z0-9_])")
    constants = {naming.POSITION, naming.PIVOT_POSITION, naming.SIZE}
    constants |= {naming.derived_var(r, naming.COTANGENT) for r in ("element", "pivot")}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            for at, (a, b) in enumerate(zip(parts, parts[1:], strict=False)):
                text_a = a.value if isinstance(a, ast.Constant) else None
                text_b = b.value if isinstance(b, ast.Constant) else None
                follow = parts[at + 2] if at + 2 < len(parts) else None
                text_c = follow.value if isinstance(follow, ast.Constant) else ""
                numbered = not re.match(r"[A-Za-z0-9_]", text_c)  # M{g}, not _a{j}_{i}
                ahead = parts[at - 1] if at > 0 else None
                starts = not (  # {v}_row, not _cuda_{name}_grad (a generator function)
                    isinstance(ahead, ast.Constant) and re.search(r"[A-Za-z0-9_]\Z", ahead.value)
                )
                if (
                    text_a is not None
                    and isinstance(b, ast.FormattedValue)
                    and before.search(text_a)
                    and numbered
                ) or (
                    isinstance(a, ast.FormattedValue) and text_b and after.search(text_b) and starts
                ):
                    found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Constant) and node.value in constants:
            found.append(f"line {node.lineno}: {node.value!r}")
    return found


def test_codegen_modules_build_no_contract_name_by_hand():
    root = Path(naming.__file__).parent
    found = {
        str(path.relative_to(root)): hits
        for path in sorted(root.rglob("*.py"))
        # names.py is the contract; helpers.py prints runtime helpers (own scopes, a0, a1, ...)
        if path.name not in ("names.py", "helpers.py")
        for hits in [_hand_built(ast.parse(path.read_text()))]
        if hits
    }
    assert not found, found
    bad = ast.parse('a = f"M{g}"\nb = f"{v}_row[{i}]"\nc = "pos_"\nd = f"_a{j}_{k}"\n')
    assert [h.split(":")[0] for h in _hand_built(bad)] == ["line 1", "line 2", "line 3"]


def test_contract_names_are_distinct_and_shadow_nothing():
    names = {}
    for role in naming.STATE_PREFIXES:
        for k in range(40):
            names.setdefault(naming.state_var(role, k), []).append((role, k))
    for role in naming.DERIVED:
        for v in ("x", "G", "y", "p"):
            names.setdefault(naming.derived_var(role, v), []).append((role, v))
    for fixed in (naming.POSITION, naming.PIVOT_POSITION, naming.SIZE, naming.COTANGENT):
        names.setdefault(fixed, []).append(("constant", fixed))
    twice = {n: at for n, at in names.items() if len(at) > 1}
    assert not twice, twice
    # a compensation is c + its state's name (cR0 is the adjoint R0's)
    assert naming.comp_of(naming.state_var("adjoint", 3)) == naming.state_var("adjoint_comp", 3)
    for name in names:
        assert name.isidentifier() and not keyword.iskeyword(name), name
        assert name not in dir(builtins) and name not in naming.MODULE_GLOBALS, name
        if not name.startswith("_") and name != naming.COTANGENT:
            # a user input of that name is printed mangled in every kind
            for kind in ("reduction", "iteration"):  # the kinds with rows
                assert naming.code_name(name, kind) != name, (name, kind)


@pytest.mark.parametrize("user", ["i", "x", "k", "idx", "E0", "pos_", "x_row", "out_x"])
def test_user_names_like_the_generators_compute(user, tmp_path):
    z = sp.Symbol(user, real=True)
    spec = make_spec("uf", softplus(z), (z,))
    module = load_module(write(spec, tmp_path, targets=("cpu",)).stem, tmp_path)
    assert module.uf(np.array([-2.0, 3.0])) == pytest.approx(np.log1p(np.exp([-2.0, 3.0])))
