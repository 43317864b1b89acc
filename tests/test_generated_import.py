"""Generated modules import like any module (issue #14): by symsmooth's loader and by a plain
``import``, in either order, across processes, after the folder is copied with or without its
``__pycache__`` (symsmooth/codegen/importing.py).

The Numba cache in ``__pycache__`` records the name a module was imported under; the loader
used to import under a made-up name, so a later plain ``import zlpr`` failed with
``No module named 'symsmooth_generated'`` (and a cache a plain import wrote broke the loader).
Every step runs in a fresh process and its values are checked against mpmath: abs_sqrt
(elementwise), logsumexp_max (reduction) and soft_k_max (iteration), the cheapest of each kind
to compile.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import mpmath
import numpy as np
import pytest

from symsmooth.codegen import importing
from symsmooth.codegen.render import load_module
from symsmooth.errors import CodegenError

GENERATED = Path(__file__).resolve().parents[1] / "generated"
KERNELS = ("abs_sqrt", "logsumexp_max", "soft_k_max")
X = [[0.5, -1.0, 2.0, 0.25], [1.5, 0.0, -3.0, 4.0]]
K = 1.5

STEP = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    how, folder = sys.argv[1], sys.argv[2]
    if how == "load":
        from symsmooth.codegen.render import load_module
        mods = [load_module(n, folder) for n in {kernels!r}]
    else:
        sys.path.insert(0, folder)
        import abs_sqrt, logsumexp_max, soft_k_max
        mods = [abs_sqrt, logsumexp_max, soft_k_max]
    x = np.array({x!r})
    sq, lse, skm = mods
    print(json.dumps({{
        "names": [m.__name__ for m in mods],
        "symsmooth_imported": "symsmooth" in sys.modules,
        "abs_sqrt": sq.abs_sqrt(x, {k!r}).tolist(),
        "logsumexp_max": lse.logsumexp_max(x, {k!r}).tolist(),
        "soft_k_max": skm.soft_k_max(x, {k!r}).tolist(),
    }}))
    """
).format(kernels=KERNELS, x=X, k=K)


def _abs_sqrt(v: float) -> float:
    return float(mpmath.sqrt(mpmath.mpf(K) ** 2 + mpmath.mpf(v) ** 2))


def _logsumexp_max(row: list[float]) -> float:
    return float(mpmath.log(mpmath.fsum(mpmath.exp(K * mpmath.mpf(v)) for v in row)) / K)


def _soft_k_max(row: list[float], top: int = 2) -> list[float]:
    """p after ``top`` steps of p_j <- p_j + exp(k (1 - p_j) y_j) / sum_i exp(k (1 - p_i) y_i),
    y = x - min(x), p = 0 (the construction in generated/soft_k_max.py's header)."""
    y = [mpmath.mpf(v) - min(map(mpmath.mpf, row)) for v in row]
    p = [mpmath.mpf(0)] * len(row)
    for _ in range(top):
        w = [mpmath.exp(K * (1 - q) * v) for q, v in zip(p, y, strict=True)]
        total = mpmath.fsum(w)
        p = [q + e / total for q, e in zip(p, w, strict=True)]
    return [float(q) for q in p]


REFERENCE = {
    "abs_sqrt": [[_abs_sqrt(v) for v in row] for row in X],
    "logsumexp_max": [_logsumexp_max(row) for row in X],
    "soft_k_max": [_soft_k_max(row) for row in X],
}


def _start(how: str, folder: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}  # use __pycache__
    return subprocess.Popen(
        [sys.executable, "-c", STEP, how, str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=folder.parent,
    )


def _finish(process: subprocess.Popen, how: str, folder: Path) -> dict:
    """Check what one step printed: the module names and the values against the references."""
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, f"{how} {folder}:\n{err[-3000:]}"
    got = json.loads(out.splitlines()[-1])
    assert got["names"] == list(KERNELS)  # the file stem: the name a plain import gives
    for name in KERNELS:  # within the kernels' targets (reductions: 4 ulp = 8.9e-16 relative)
        np.testing.assert_allclose(got[name], REFERENCE[name], rtol=9e-16, err_msg=name)
    return got


def step(how: str, folder: Path) -> dict:
    """Run one step in a fresh process: ``load`` (symsmooth's loader) or ``plain`` (``import``
    with the folder on ``sys.path``); its values must match the references."""
    return _finish(_start(how, folder), how, folder)


def copy_folder(source: Path, target: Path, cache: bool) -> Path:
    ignore = None if cache else shutil.ignore_patterns("__pycache__")
    shutil.copytree(source, target, ignore=ignore)
    assert (target / "__pycache__").is_dir() == cache
    return target


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Two folders holding copies of the three generated files (what a copy without
    ``__pycache__`` is), each compiled cold by a different first step, run side by side:
    ``loaded`` by symsmooth's loader, ``plain`` by a plain import."""
    base = tmp_path_factory.mktemp("importing")
    steps = {"load": base / "loaded", "plain": base / "plain"}
    for folder in steps.values():
        folder.mkdir()
        for name in KERNELS:
            shutil.copy2(GENERATED / f"{name}.py", folder)
    running = {how: _start(how, folder) for how, folder in steps.items()}
    for how, process in running.items():
        _finish(process, how, steps[how])
    return steps["load"], steps["plain"]


def test_plain_import_after_the_loader(folders):
    loaded, _ = folders
    got = step("plain", loaded)
    assert not got["symsmooth_imported"]  # the module needs only numpy and numba


def test_loader_after_a_plain_import(folders):
    _, plain = folders
    step("load", plain)


@pytest.mark.parametrize("first", ["load", "plain"])
def test_copied_folder_with_its_cache_at_another_path(folders, tmp_path, first):
    loaded, plain = folders
    source = loaded if first == "plain" else plain  # the other order than the one that cached
    copy = copy_folder(source, tmp_path / "elsewhere" / "proj", cache=True)
    step(first, copy)
    step("plain" if first == "load" else "load", copy)


# --- one process: the name is taken only when free; never the wrong module ---------------------


@pytest.fixture(autouse=True)
def _forget_loaded_modules():
    """Drop what a test imported in this process, so later tests find the names free."""
    before = set(sys.modules)
    yield
    for key in set(sys.modules) - before:
        if key in KERNELS or key.startswith(importing.PRIVATE_PREFIX):
            del sys.modules[key]


def test_two_folders_with_the_same_name_and_a_users_module(folders, monkeypatch):
    loaded, plain = folders
    # another test in this process may hold the name (a module of generated/): free it here
    monkeypatch.delitem(sys.modules, "abs_sqrt", raising=False)
    first = load_module("abs_sqrt", loaded)  # the name is free: it takes it
    second = load_module("abs_sqrt", plain)  # taken by another file: a private name
    assert first.__name__ == "abs_sqrt" and sys.modules["abs_sqrt"] is first
    assert second.__name__.startswith(importing.PRIVATE_PREFIX)
    assert Path(second.__symsmooth_source__) == (plain / "abs_sqrt.py").resolve()
    assert load_module("abs_sqrt", loaded) is first and load_module("abs_sqrt", plain) is second
    # its copy lives under __pycache__ (a copy of the folder without it carries nothing)
    assert (plain / "__pycache__" / importing.COPY_FOLDER / f"{second.__name__}.py").is_file()
    x = np.array(X[0])
    want = [_abs_sqrt(v) for v in X[0]]
    np.testing.assert_allclose(first.abs_sqrt(x, K), want, rtol=4e-16)
    np.testing.assert_allclose(second.abs_sqrt(x, K), want, rtol=4e-16)
    # a user's own module of that name is neither returned nor replaced
    mine = type(sys)("abs_sqrt")
    mine.__file__ = str(loaded.parent / "mine" / "abs_sqrt.py")
    monkeypatch.setitem(sys.modules, "abs_sqrt", mine)
    assert importing.module_name("abs_sqrt", loaded / "abs_sqrt.py").startswith(
        importing.PRIVATE_PREFIX
    )
    assert load_module("abs_sqrt", plain) is second and sys.modules["abs_sqrt"] is mine


def test_the_name_is_free_only_for_the_same_file(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "zlpr", raising=False)  # another test may have loaded it
    target = tmp_path / "zlpr.py"
    assert importing.module_name("zlpr", target) == "zlpr"
    other = tmp_path / "other"
    other.mkdir()
    (other / "zlpr.py").write_text("")
    monkeypatch.syspath_prepend(str(other))  # a plain `import zlpr` would find another file
    assert importing.module_name("zlpr", target).startswith("symsmooth_generated_zlpr_")
    assert importing.module_name("zlpr", other / "zlpr.py") == "zlpr"


def test_a_changed_file_is_imported_again(folders, tmp_path):
    _, plain = folders
    folder = copy_folder(plain, tmp_path / "changed", cache=True)
    path = folder / "abs_sqrt.py"
    first = load_module("abs_sqrt", folder)
    assert load_module("abs_sqrt", folder) is first
    path.write_text(path.read_text() + "EDITED = 1\n")
    os.utime(path, ns=(first.__symsmooth_stamp__ + 10**9,) * 2)
    second = load_module("abs_sqrt", folder)
    assert second is not first and second.EDITED == 1 and not hasattr(first, "EDITED")
    path.write_text("")  # an emptied file is refused, the last good module stays
    with pytest.raises(CodegenError, match="empty"):
        load_module("abs_sqrt", folder)
    assert sys.modules[second.__name__] is second
    assert importing.source_of(second) == path.resolve()


# --- a __pycache__ the old loader wrote: its entries record a name no process can import -------

LEGACY_STEP = textwrap.dedent(
    """
    import hashlib, importlib, importlib.util, json, sys
    import numpy as np
    how, folder = sys.argv[1], sys.argv[2]
    if how == "legacy":  # what load_module did before: import under a made-up name
        from pathlib import Path
        path = Path(folder, "abs_sqrt.py")
        key = "symsmooth_generated.abs_sqrt_" + hashlib.sha256(
            str(path.resolve()).encode()).hexdigest()[:12]
        spec = importlib.util.spec_from_file_location(key, path)
        m = importlib.util.module_from_spec(spec)
        sys.modules[key] = m
        spec.loader.exec_module(m)
    elif how == "load":
        from symsmooth.codegen.render import load_module
        m = load_module("abs_sqrt", folder)
    else:
        sys.path.insert(0, folder)
        import abs_sqrt as m
    print(json.dumps(m.abs_sqrt(np.array({x!r}), {k!r}).tolist()))
    """
).format(x=X[0], k=K)


def test_cache_entries_of_the_old_made_up_name_are_replaced(tmp_path):
    shutil.copy2(GENERATED / "abs_sqrt.py", tmp_path)
    want = [_abs_sqrt(v) for v in X[0]]

    def run(how: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
        return subprocess.run(
            [sys.executable, "-c", LEGACY_STEP, how, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )

    assert run("legacy").returncode == 0
    poisoned = run("plain")  # the bug: a plain import loads entries of the made-up name
    assert "No module named 'symsmooth_generated'" in poisoned.stderr
    legacy = sorted((tmp_path / "__pycache__").glob("abs_sqrt.*.nbc"))
    assert legacy and all(importing.LEGACY_MARK in p.read_bytes() for p in legacy)
    for how in ("load", "plain"):  # the loader drops them and compiles afresh
        done = run(how)
        assert done.returncode == 0, done.stderr[-3000:]
        np.testing.assert_allclose(json.loads(done.stdout), want, rtol=4e-16)
    assert not any(
        importing.LEGACY_MARK in p.read_bytes()
        for p in (tmp_path / "__pycache__").glob("abs_sqrt.*.nbc")
    )
