"""Running a decision loop as an HTTP service: find the loop's code, wire the logger, start uvicorn.

The loop is named by ``module:attribute`` (``--loop``, or the spec's
``serving.loop``): a :class:`~loopwatch.prediction.loop.DecisionLoop`, or a
function that takes the spec and returns one. The service logs decisions through
a :class:`~loopwatch.prediction.logger.DecisionLogger` configured here explicitly:
the batch thread logs each batch in one step after its answers are out; a full
queue makes it wait for room (``on_full="block"``, at most ``block_timeout``
seconds, then drops with a WARNING and counts, and ``/metrics`` shows the drops),
so a store that falls behind slows the next batches rather than losing decisions;
at shutdown the logger is closed, which writes what it holds.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopwatch.core.spec import Spec
from loopwatch.errors import InputError
from loopwatch.prediction.batcher import Batching
from loopwatch.prediction.logger import DecisionLogger
from loopwatch.prediction.loop import DecisionLoop

__all__ = ["ServeOptions", "build_app", "load_loop", "serve"]

#: Decisions the service's logger holds before the batch thread waits for room.
LOG_QUEUE = 200_000
#: Seconds between the service logger's writes (``--log-flush-seconds``): each write has a
#: fixed cost (a Parquet file, two fsyncs, the day's directory listed) of several ms of CPU,
#: so larger writes cost less a decision (docs/DESIGN-NOTES.md, "Logging's share of
#: serving"); decisions reach the store at most this much later, and a graceful stop still
#: writes every one.
LOG_FLUSH_SECONDS = 30.0
#: Rows the service's logger writes at once at most (a write by size, before the interval).
LOG_WRITE_ROWS = 20_000
#: Seconds the service waits at shutdown for its logger to write what it holds.
CLOSE_TIMEOUT = 30.0


def load_loop(spec: Spec, target: str | None) -> DecisionLoop:
    """The loop named by ``target`` (``module:attribute``; default: the spec's ``serving.loop``).

    The spec's directory is on the import path, so a module beside ``loopwatch.yaml`` is found.

    Raises
    ------
    InputError
        No target, a module or attribute that cannot be found, or an object that is
        not a loop (the message names the target).
    """
    target = target or (spec.serving.loop if spec.serving else None)
    if not target:
        raise InputError("no decision loop to serve: pass --loop module:attribute or set "
                         "serving.loop in the spec")
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise InputError(f"--loop: expected 'module:attribute'; got {target!r}")
    base = str(Path(spec.base_dir).resolve())
    if base not in sys.path:
        sys.path.insert(0, base)
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"--loop {target!r}: cannot import {module_name!r}: {exc}") from exc
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise InputError(f"--loop {target!r}: {module_name!r} has no attribute {attribute!r}")
        found = getattr(found, part)
    if callable(found) and not isinstance(found, DecisionLoop):
        found = found(spec)
    if not isinstance(found, DecisionLoop):
        raise InputError(f"--loop {target!r}: expected a DecisionLoop or a function of the spec "
                         f"returning one; got {type(found).__name__}")
    if found.spec.model != spec.model:
        raise InputError(f"--loop {target!r} serves model {found.spec.model!r}, but the spec is of "
                         f"{spec.model!r}")
    return found


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    """How ``loopwatch serve`` runs: address, batching overrides, logging and auth."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_rows: int | None = None
    max_wait_ms: float | None = None
    log: bool = True
    log_flush_seconds: float = LOG_FLUSH_SECONDS
    token: str | None = None


def build_app(spec: Spec, loop: DecisionLoop, options: ServeOptions) -> Any:
    """The ASGI app of ``loop`` with the service's logger and batching applied."""
    from loopwatch.service.app import create_app

    if options.max_rows is not None or options.max_wait_ms is not None:
        loop.batching = Batching(
            max_rows=loop.batching.max_rows if options.max_rows is None else options.max_rows,
            max_wait_ms=loop.batching.max_wait_ms if options.max_wait_ms is None else options.max_wait_ms)
    logger = loop.logger
    owned = False
    if options.log and logger is None:
        logger = DecisionLogger(spec, queue_size=LOG_QUEUE, batch_size=LOG_WRITE_ROWS,
                                flush_interval=options.log_flush_seconds,
                                on_full="block")
        loop.logger, owned = logger, True
    if not options.log:
        loop.logger = logger = None

    async def close_logger() -> None:
        if owned and logger is not None:
            await asyncio.to_thread(logger.close, CLOSE_TIMEOUT)
            done = logger.stats()
            # what the operator (and serve_bench) reads at exit: nothing pending, and what writing cost
            print(f"loopwatch serve: logged {done.written} decisions ({done.duplicates} duplicates, "
                  f"{done.quarantined} quarantined, {done.dropped} dropped, {done.pending} pending); "
                  f"writer CPU {done.writer_cpu_s:.3f} s", file=sys.stderr, flush=True)

    return create_app(loop, token=options.token, logger=logger, on_shutdown=close_logger)


def serve(spec: Spec, loop: DecisionLoop, options: ServeOptions) -> None:
    """Serve ``loop`` over HTTP until interrupted (SIGINT or SIGTERM: a graceful stop)."""
    import uvicorn

    app = build_app(spec, loop, options)
    uvicorn.run(app, host=options.host, port=options.port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning", lifespan="on")
