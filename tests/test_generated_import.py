"""Generated modules import like any module (issue #14): by symsmooth's loader and by a plain
``import``, in either order, across processes, after the folder is copied with or without its
``__pycache__`` (symsmooth/codegen/importing.py).

The Numba cache in ``__pycache__`` records the name a module was imported under; the loader
used to import under a made-up name, so a later plain ``import zlpr`` failed with
``No module named 'symsmooth_generated'`` (and a cache a plain import wrote broke the loader).
Every step runs in a fresh process and its values are checked against mpmath: softplus
(elementwise), zlpr (reduction) and soft_k_max (iteration).
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
KERNELS = ("softplus", "zlpr", "soft_k_max")
X = [[0.5, -1.0, 2.0, 0.25], [1.5, 0.0, -3.0, 4.0]]
T = [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
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
        import softplus, zlpr, soft_k_max
        mods = [softplus, zlpr, soft_k_max]
    x, t = np.array({x!r}), np.array({t!r})
    sp, zl, skm = mods
    print(json.dumps({{
        "names": [m.__name__ for m in mods],
        "symsmooth_imported": "symsmooth" in sys.modules,
        "softplus": sp.softplus(x, {k!r}).tolist(),
        "zlpr": zl.zlpr(x, t, {k!r}).tolist(),
        "soft_k_max": skm.soft_k_max(x, {k!r}).tolist(),
    }}))
    """
).format(kernels=KERNELS, x=X, t=T, k=K)


def _softplus(v: float) -> float:
    return float(mpmath.log1p(mpmath.exp(K * mpmath.mpf(v))) / K)


def _zlpr(s: list[float], t: list[float]) -> float:
    neg = mpmath.fsum((1 - b) * mpmath.exp(K * mpmath.mpf(a)) for a, b in zip(s, t, strict=True))
    pos = mpmath.fsum(b * mpmath.exp(-K * mpmath.mpf(a)) for a, b in zip(s, t, strict=True))
    return float((mpmath.log1p(neg) + mpmath.log1p(pos)) / K)


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
    "softplus": [[_softplus(v) for v in row] for row in X],
    "zlpr": [_zlpr(s, t) for s, t in zip(X, T, strict=True)],
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
    for name in KERNELS:
        np.testing.assert_allclose(got[name], REFERENCE[name], rtol=4e-16, err_msg=name)
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
    first = load_module("softplus", loaded)  # the name is free: it takes it
    second = load_module("softplus", plain)  # taken by another file: a private name
    assert first.__name__ == "softplus" and sys.modules["softplus"] is first
    assert second.__name__.startswith(importing.PRIVATE_PREFIX)
    assert Path(second.__symsmooth_source__) == (plain / "softplus.py").resolve()
    assert load_module("softplus", loaded) is first and load_module("softplus", plain) is second
    # its copy lives under __pycache__ (a copy of the folder without it carries nothing)
    assert (plain / "__pycache__" / importing.COPY_FOLDER / f"{second.__name__}.py").is_file()
    x = np.array(X[0])
    want = [_softplus(v) for v in X[0]]
    np.testing.assert_allclose(first.softplus(x, K), want, rtol=4e-16)
    np.testing.assert_allclose(second.softplus(x, K), want, rtol=4e-16)
    # a user's own module of that name is neither returned nor replaced
    mine = type(sys)("softplus")
    mine.__file__ = str(loaded.parent / "mine" / "softplus.py")
    monkeypatch.setitem(sys.modules, "softplus", mine)
    assert importing.module_name("softplus", loaded / "softplus.py").startswith(
        importing.PRIVATE_PREFIX
    )
    assert load_module("softplus", plain) is second and sys.modules["softplus"] is mine


def test_the_name_is_free_only_for_the_same_file(tmp_path, monkeypatch):
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
    path = folder / "softplus.py"
    first = load_module("softplus", folder)
    assert load_module("softplus", folder) is first
    text = path.read_text()
    path.write_text(text.replace('_NAME = "softplus"', '_NAME = "softplus"\nEDITED = 1'))
    os.utime(path, ns=(first.__symsmooth_stamp__ + 10**9,) * 2)
    second = load_module("softplus", folder)
    assert second is not first and second.EDITED == 1 and not hasattr(first, "EDITED")
    path.write_text("")  # an emptied file is refused, the last good module stays
    with pytest.raises(CodegenError, match="empty"):
        load_module("softplus", folder)
    assert importing.source_of(second) == path.resolve()
