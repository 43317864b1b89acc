"""docs/derivations/ is generated from the Derivation records and is current; the CLI works."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from symsmooth.derive.docs import ARTICLES, render_pages

DOCS = Path(__file__).resolve().parents[1] / "docs" / "derivations"


def test_committed_pages_are_current():
    pages = render_pages()
    assert sorted(pages) == sorted([f"{k}.md" for k in ARTICLES] + ["index.md"])
    for name, text in pages.items():
        committed = (DOCS / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} is stale: run `symsmooth docs derivations`"


def test_every_article_derivation_is_fully_checked():
    for _, _, build in ARTICLES.values():
        for d in build():
            assert d.steps and d.checked, d.name
            assert all(s.check.method in ("symbolic", "numeric") for s in d.steps)


@pytest.fixture(scope="module")
def cli():
    from symsmooth.cli import _attach_commands
    from symsmooth.cli.app import app

    _attach_commands()
    return lambda *args: CliRunner().invoke(app, list(args))


def test_cli_derive_commands(cli):
    r = cli("derive", "newton", "x**4 - 3*x")
    assert r.exit_code == 0 and "x_n - (4*x_n**3 - 3)/(12*x_n**2)" in r.output
    r = cli("derive", "gradient", "logsumexp_max", "--markdown")
    assert r.exit_code == 0 and "$$" in r.output and "LSE" in r.output
    r = cli("derive", "em", "kmeans")
    assert r.exit_code == 0 and "Lloyd" in r.output


def test_cli_unknown_em_example_is_a_clear_error():
    from symsmooth.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["derive", "em", "kmean"])
    assert exc.value.code == 2
