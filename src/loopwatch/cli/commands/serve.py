"""``loopwatch serve``: the decision loop over HTTP (``POST /v1/decide``, ``/metrics``, probes)."""

from __future__ import annotations

from typing import Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import SpecOption, command, fail, load, settings

LoopOption = Annotated[str | None, typer.Option(
    "--loop", metavar="MODULE:ATTRIBUTE", show_default=False,
    help="The decision loop, or a function of the spec returning one "
         "\\[default: the spec's serving.loop]")]


@command()
def serve(
    spec: SpecOption = None,
    loop: LoopOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8000,
    batch_rows: Annotated[int | None, typer.Option(
        "--batch-rows", min=1, show_default=False,
        help="Most rows a model call scores \\[default: the loop's]")] = None,
    batch_wait_ms: Annotated[float | None, typer.Option(
        "--batch-wait-ms", min=0.0, show_default=False,
        help="Longest a row waits for its batch \\[default: the loop's]")] = None,
    log: Annotated[bool, typer.Option("--log/--no-log", help="Log decisions to the store")] = True,
    log_flush_seconds: Annotated[float, typer.Option(
        "--log-flush-seconds", min=0.1, max=3600.0,
        help="Longest a logged decision waits to be written (fewer, larger writes cost less CPU)")] = 30.0,
) -> None:
    """Serve the decision loop over HTTP: POST /v1/decide, /metrics, /healthz, /readyz."""
    try:
        from loopwatch.service.server import ServeOptions, load_loop
        from loopwatch.service.server import serve as run_server
    except ImportError as exc:
        fail(f"the service needs its extra: pip install 'loopwatch[serve]' ({exc})")
    current = settings()
    spec_obj = load(spec)
    try:
        decision_loop = load_loop(spec_obj, loop)
    except ValueError as exc:  # a loop whose declaration is invalid (InputError is one too)
        fail(str(exc))
    token = current.serve_token.get_secret_value() if current.serve_token else None
    options = ServeOptions(host=host, port=port, max_rows=batch_rows, max_wait_ms=batch_wait_ms, log=log,
                           log_flush_seconds=log_flush_seconds, token=token)
    render.err().print(f"serving {spec_obj.model} ({decision_loop.model.version}) on http://{host}:{port}"
                       f"{'' if log else ' (decisions not logged)'}", markup=False)
    run_server(spec_obj, decision_loop, options)
