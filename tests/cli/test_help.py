"""Every command explains itself: ``--help`` with a summary, every option's help and the exit codes,
and every command and option described in docs/cli.md."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import loopwatch.cli.commands
from loopwatch.cli.main import app

DOCS = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
COMMANDS: dict[str, Any] = dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]

# The options of each command before the command line was split into modules: none may be lost.
BASELINE = {
    "init": {"--spec", "--force"},
    "simulate": {"--out", "--days", "--per-day", "--incidents", "--seed", "--start", "--overwrite"},
    "ingest": {"--spec", "--store", "--format"},
    "compact": {"--spec", "--store"},
    "profile": {"--spec", "--store", "--from", "--to", "--cohort", "--refit", "--format"},
    "summary": {"--spec", "--store", "--format"},
    "check": {"--spec", "--store", "--as-of", "--checks", "--info", "--format"},
    "compare": {"--reference", "--current", "--spec", "--fdr", "--format"},
    "evaluate": {"--spec", "--store", "--from", "--to", "--cohort", "--format"},
}


def help_text(*args: str) -> str:
    """``--help`` at 80 columns as one line of words, the box's borders removed."""
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    return " ".join(result.stdout.replace("│", " ").split())


def options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in param.opts if opt.startswith("--")}


def section(name: str) -> str:
    found = re.search(rf"^## loopwatch {name}\b(.*?)(?=^## |\Z)", DOCS, re.M | re.S)
    assert found, f"docs/cli.md has no section '## loopwatch {name}'"
    return found.group(1)


def test_every_module_of_the_commands_package_is_registered_in_help_order() -> None:
    modules = {m.name.replace("_", "-") for m in pkgutil.iter_modules(loopwatch.cli.commands.__path__)}
    assert modules == set(COMMANDS)
    assert list(COMMANDS) == ["init", "simulate", "ingest", "compact", "profile", "summary", "check",
                              "watch", "alerts", "audit", "flags", "models", "gate", "rollout", "compare",
                              "evaluate", "export-training", "ablate", "effect",
                              "serve", "ui", "tail", "features", "reviews", "quarantine", "demo", "report",
                              "inventory"]


def test_no_option_was_lost() -> None:
    assert set(BASELINE) <= set(COMMANDS)
    for name, before in BASELINE.items():
        assert before <= options(COMMANDS[name]), name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_has_a_summary_every_option_explained_and_the_exit_codes(name: str) -> None:
    command = COMMANDS[name]
    assert command.help and command.help.strip().endswith(".")
    for param in command.params:
        assert (param.help or "").strip(), f"{name} {param.name} has no help text"
    assert re.fullmatch(r"Exit codes: 0 ok( · 1 [a-z ]+)? · 2 usage or input error\.", command.epilog)
    text = help_text(name)
    assert command.help.splitlines()[0].split(";")[0] in text
    assert "Exit codes: 0 ok" in text
    for opt in options(command) - {"--help"}:
        assert opt in text


def test_defaults_written_in_help_text_are_shown_not_swallowed_as_markup() -> None:
    text = help_text("check")
    assert "[default: ./loopwatch.yaml, or LOOPWATCH_SPEC]" in text
    assert "[env: LOOPWATCH_STORE]" in text
    assert "[default: now]" in text


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_docs_describe_every_command_and_option(name: str) -> None:
    text = section(name)
    shared = {"--spec", "--store", "--format"}  # described once, at the top of docs/cli.md
    for opt in options(COMMANDS[name]) - {"--help"} - shared:
        assert opt in text, f"docs/cli.md: loopwatch {name} does not mention {opt}"
    for opt in options(COMMANDS[name]) & shared:
        assert opt in DOCS.split("## loopwatch", 1)[0]
    act = COMMANDS[name].epilog.partition("· 1 ")[2].partition(" · 2")[0]
    if act:
        assert "1" in text and "exit" in text.lower(), f"docs/cli.md: loopwatch {name} omits its exit code 1"
