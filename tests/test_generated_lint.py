"""generated/ passes ``ruff check`` (pycodestyle errors and warnings, pyflakes), so a module a
user copies into a project that lints in CI does not fail it at once.

Still open (issue #11, listed in the report): E501 (long printed expressions and template
lines) and F841 (loads such as ``pos_``/``size_`` emitted into functions that do not read
them) are not clean yet, so they are ignored here; every other E, F and W rule must report
nothing.  Skipped when the ruff binary is absent (it comes with the test extras).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

GENERATED = Path(__file__).resolve().parent.parent / "generated"
STILL_OPEN = ("E501", "F841")
RUFF = shutil.which("ruff")


def _findings(*paths: Path, ignore=STILL_OPEN) -> list[dict]:
    cmd = [RUFF, "check", "--isolated", "--select", "E,F,W", "--line-length", "100"]
    cmd += ["--ignore", ",".join(ignore)] if ignore else []
    cmd += ["--output-format", "json", *map(str, paths)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stderr  # 1: findings; anything else: ruff failed
    return json.loads(done.stdout or "[]")


@pytest.mark.skipif(RUFF is None, reason="the ruff binary is not installed")
def test_generated_modules_are_lint_clean():
    modules = sorted(GENERATED.glob("*.py"))
    assert len(modules) >= 30  # the catalog's modules are there (not an empty folder)
    found = _findings(*modules)
    summary = [f"{Path(f['filename']).name}:{f['location']['row']} {f['code']}" for f in found]
    assert not found, f"{len(found)} ruff findings in generated/: {summary[:20]}"


@pytest.mark.skipif(RUFF is None, reason="the ruff binary is not installed")
def test_the_check_reports_what_it_should(tmp_path):
    # the same command finds an undefined name, a mid-file import and a trailing space
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1 \nimport math\n\n\ndef f():\n    return cuda.grid(1) + math.pi\n")
    codes = sorted(f["code"] for f in _findings(bad))
    assert codes == ["E402", "F821", "W291"], codes
