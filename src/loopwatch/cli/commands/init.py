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
    from loopwatch.storage.atomic import replace_text

    path = spec or settings().spec
    if path.is_dir():
        fail(f"{path} is a directory; give the spec file's path, e.g. {path / 'loopwatch.yaml'}")
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        fail(f"the folder {path.parent} does not exist; create it first (mkdir -p {path.parent})")
    try:
        replace_text(path, EXAMPLE_SPEC.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    render.out().print(f"wrote {path}; edit it, then run 'loopwatch ingest decisions FILE'", markup=False)
