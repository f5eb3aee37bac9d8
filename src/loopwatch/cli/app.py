"""The Typer application and what every command shares: options, opening a store, errors, exit codes.

A command is a function decorated with :func:`command` in a module of
:mod:`loopwatch.cli.commands`. The decorator registers it on :data:`app`, writes
the exit codes into its ``--help``, and turns the errors loopwatch raises on
purpose (:class:`~loopwatch.errors.LoopwatchError`) into ``error: <message>`` on
standard error with exit code 2, so that no command repeats that handling.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, ParamSpec, TypeVar

import typer
from typer.exceptions import TyperException

from loopwatch.cli import render
from loopwatch.errors import LoopwatchError

if TYPE_CHECKING:
    from loopwatch.core.spec import Spec
    from loopwatch.core.store import DecisionSource
    from loopwatch.settings import Settings
    from loopwatch.storage.parquet_store import ParquetStore

__all__ = [
    "ExitCode",
    "Format",
    "FormatOption",
    "SpecOption",
    "StoreOption",
    "app",
    "command",
    "load",
    "open_source",
    "open_store",
    "parse_time",
    "settings",
    "source_of",
    "usage_error",
]

app = typer.Typer(
    name="loopwatch",
    help="Is this model still working, for whom, and at what cost?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


class ExitCode(IntEnum):
    """The exit codes of every command: usable from cron and CI.

    ``ACT`` is what a result object's ``exit_code`` gives when it holds
    something to act on (:func:`loopwatch.core.findings.exit_code` for findings).
    """

    OK = 0
    ACT = 1  # something to act on: a finding pages, rows were quarantined, a feature drifted
    USAGE = 2  # a usage or input error, with a message naming it; also an unexpected failure
    INTERRUPTED = 130  # Ctrl-C, as shells report a SIGINT


class Format(StrEnum):
    """How results are printed."""

    table = "table"
    json = "json"


# Rich markup would take "[default: ...]" for a style tag: the brackets are escaped.
SpecOption = Annotated[
    Path | None,
    typer.Option("--spec", metavar="PATH", show_default=False,
                 help="The spec file \\[default: ./loopwatch.yaml, or LOOPWATCH_SPEC]"),
]
StoreOption = Annotated[
    str | None,
    typer.Option("--store", metavar="LOCATION", show_default=False,
                 help="Store location, overriding the spec's \\[env: LOOPWATCH_STORE]"),
]
FormatOption = Annotated[Format, typer.Option("--format", help="table for people, json for scripts")]
ChecksOption = Annotated[
    str | None,
    typer.Option("--checks", metavar="NAME,...",
                 help="Comma-separated checks to run \\[default: every registered check]"),
]

P = ParamSpec("P")
R = TypeVar("R")


def command(*, act: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Register a function as a command of :data:`app`.

    ``act`` says when the command exits 1 (``"a finding pages"``); ``None`` for a
    command that never does. The ``--help`` of the command ends with its exit
    codes. A :class:`~loopwatch.errors.LoopwatchError` becomes ``error: ...``
    and exit 2; any other exception is reported as a failure of loopwatch itself,
    with its traceback, and also exits 2 (never 1, which means "act"); Ctrl-C exits 130.
    """
    codes = f"0 ok · 1 {act} · 2 usage or input error" if act else "0 ok · 2 usage or input error"

    def register(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return function(*args, **kwargs)
            except LoopwatchError as exc:
                fail(str(exc))
            except (typer.Exit, typer.Abort, TyperException):  # Typer's own control flow
                raise
            except KeyboardInterrupt:  # Typer would make it "Aborted!" with exit 1, which means "act"
                render.err().print("interrupted", markup=False)
                raise typer.Exit(ExitCode.INTERRUPTED) from None
            except Exception as exc:
                render.err().print(traceback.format_exc(), markup=False, end="")
                fail(f"unexpected {type(exc).__name__} (a bug in loopwatch; the traceback is above): {exc}")

        app.command(epilog=f"Exit codes: {codes}.")(run)
        return run

    return register


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on standard error and exit 2."""
    render.err().print(f"[bold red]error:[/] {render.escape(message)}", soft_wrap=True)
    raise typer.Exit(ExitCode.USAGE)


def usage_error(option: str, message: str) -> NoReturn:
    """A bad option value: ``error: --option: message`` and exit 2."""
    fail(f"{option}: {message}")


def settings() -> Settings:
    """The ``LOOPWATCH_*`` settings; a bad one is an error naming its variable."""
    from pydantic import ValidationError

    from loopwatch.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = f"LOOPWATCH_{'_'.join(map(str, error['loc'])).upper()}"
            got = repr(error.get("input"))
            render.err().print(f"[bold red]error:[/] {render.escape(name)}: {render.escape(error['msg'])}; "
                               f"got {render.escape(got)}", soft_wrap=True)
        raise typer.Exit(ExitCode.USAGE) from None


def load(spec_path: Path | None) -> Spec:
    """The spec at ``--spec`` (or ``LOOPWATCH_SPEC``, or ``./loopwatch.yaml``)."""
    from loopwatch.core.spec import load_spec

    return load_spec(spec_path or settings().spec)


def open_store(spec_path: Path | None, store: str | None) -> tuple[Spec, ParquetStore]:
    """The spec and its store (``--store``, ``LOOPWATCH_STORE`` or the spec's ``store``)."""
    from loopwatch.storage.parquet_store import ParquetStore

    current = settings()
    spec = load(spec_path)
    key = current.pii_key.get_secret_value().encode() if current.pii_key else None
    try:
        return spec, ParquetStore.for_spec(spec, location=store or current.store, pii_key=key,
                                           engine_memory=current.engine_memory)
    except ValueError as exc:  # a spec that needs a setting it does not have
        fail(str(exc))


def open_source(spec_path: Path | None, store: str | None) -> tuple[Spec, DecisionSource]:
    """The spec and the source its read-only commands read: the tables its ``source`` names,
    or its store (``--store``, ``LOOPWATCH_STORE`` or the spec's ``store``, where profiles of
    any source are kept)."""
    spec = load(spec_path)
    return spec, source_of(spec, store)


def source_of(spec: Spec, store: str | None) -> DecisionSource:
    """The source a spec already loaded reads, as :func:`open_source` opens it (for commands
    that load the spec with the control plane)."""
    from loopwatch.storage.sources import open_source as opened

    current = settings()
    key = current.pii_key.get_secret_value().encode() if current.pii_key else None
    try:
        return opened(spec, location=store or current.store, pii_key=key, engine_memory=current.engine_memory)
    except ValueError as exc:  # a spec that needs a setting it does not have
        fail(str(exc))


def parse_time(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time of an option, in UTC when it names no zone; ``None`` stays ``None``."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        usage_error(option, f"expected an ISO 8601 date or time such as 2026-03-01; got {text!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_names(only: str | None) -> list[str] | None:
    """The names given to ``--checks``, each a registered check; ``None`` (every check) when not given."""
    from loopwatch.monitoring.checks import CHECKS

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    for name in names or ():
        try:
            CHECKS.get(name)
        except ValueError as exc:  # an unknown name, with the known ones
            usage_error("--checks", str(exc))
    return names
