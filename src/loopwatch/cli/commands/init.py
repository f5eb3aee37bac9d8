"""``loopwatch init``: write a commented example spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import SpecOption, command, fail, settings

EXAMPLE_SPEC = Path(__file__).parent.parent / "example_spec.yaml"


@command()
def init(
    spec: SpecOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
) -> None:
    """Write a commented example spec to edit."""
    path = spec or settings().spec
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    path.write_text(EXAMPLE_SPEC.read_text(encoding="utf-8"), encoding="utf-8")
    render.out().print(f"wrote {path}; edit it, then run 'loopwatch ingest decisions FILE'", markup=False)
