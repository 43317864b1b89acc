"""Catalog commands: ``list``, ``show``, ``plot`` (placeholder until written)."""

from __future__ import annotations

from symsmooth.cli.app import app, console


@app.command("list")
def list_cmd() -> None:
    """List every construction in the catalog."""
    from symsmooth.smoothing import catalog

    for name in catalog.names():
        console.print(name)
