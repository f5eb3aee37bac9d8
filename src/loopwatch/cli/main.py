"""The ``loopwatch`` console entry point (``loopwatch.cli.main:app``): the app with every command."""

from loopwatch.cli import commands
from loopwatch.cli.app import app

__all__ = ["app", "commands", "main"]


def main() -> None:  # pragma: no cover - console entry point
    app()
