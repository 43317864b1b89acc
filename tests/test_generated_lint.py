"""generated/ passes ``ruff check`` with the project's own rules (pycodestyle, pyflakes, isort,
bugbear, pyupgrade: E, F, W, I, B, UP) and ``ruff
format --check``, so a module a user copies into a project that lints and formats in CI does
not fail it at once.  ruff runs as the generator runs it (:mod:`symsmooth.codegen.formatting`:
the pinned ``ruff`` package's binary, ``--isolated --line-length 100``); the format check also
runs with ruff's default options, as a user's project would.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from symsmooth.codegen.formatting import FORMAT_OPTIONS, format_source, ruff_command

GENERATED = Path(__file__).resolve().parent.parent / "generated"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(ruff_command(*args), capture_output=True, text=True, timeout=120)


def _findings(*paths: Path) -> list[dict]:
    done = _run("check", "--select", "E,F,W,I,B,UP", "--output-format", "json", *map(str, paths))
    assert done.returncode in (0, 1), done.stderr  # 1: findings; anything else: ruff failed
    return json.loads(done.stdout or "[]")


@pytest.fixture(scope="module")
def modules() -> list[Path]:
    found = sorted(GENERATED.glob("*.py"))
    assert len(found) >= 30  # the catalog's modules are there (not an empty folder)
    return found


def test_generated_modules_are_lint_clean(modules):
    found = _findings(*modules)
    summary = [f"{Path(f['filename']).name}:{f['location']['row']} {f['code']}" for f in found]
    assert not found, f"{len(found)} ruff findings in generated/: {summary[:20]}"


@pytest.mark.parametrize("options", [FORMAT_OPTIONS, ()], ids=["generator", "defaults"])
def test_generated_modules_are_formatted(modules, options):
    done = _run("format", "--check", *options, *map(str, modules))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_reports_what_it_should(tmp_path):
    # the same command finds an undefined name, a mid-file import, a trailing space, a long
    # line and an unused local
    bad = tmp_path / "bad.py"
    long = "y = " + " + ".join(["1"] * 40)
    bad.write_text(
        f"x = 1 \nimport math\n{long}\n\n\ndef f():\n    u = 2\n    return cuda.grid(1) + math.pi\n"
    )
    codes = sorted(f["code"] for f in _findings(bad))
    assert codes == ["E402", "E501", "F821", "F841", "I001", "W291"], codes


def test_the_format_check_fails_on_unformatted_code(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("x = ( 1,2 )\n")
    assert _run("format", "--check", str(bad)).returncode == 1
    bad.write_text(format_source(bad.read_text(), "bad"))
    assert bad.read_text() == "x = (1, 2)\n"
    assert _run("format", "--check", str(bad)).returncode == 0
