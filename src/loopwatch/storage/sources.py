"""Opening the source a spec names: the embedded store, or tables on an Ibis backend.

The URL of a warehouse comes from the environment variable ``source.url_env`` names
(``LOOPWATCH_SOURCE_URL`` by default) or, without a password, from ``source.url``; it
never appears in a message with its password (:func:`redact`).
"""

from __future__ import annotations

import os
import weakref
from typing import Any

from loopwatch.core.source_spec import redact
from loopwatch.core.spec import Spec
from loopwatch.core.store import DecisionSource
from loopwatch.errors import StoreError
from loopwatch.storage.duckdb_engine import DEFAULT_ENGINE_MEMORY

__all__ = ["connect_engine", "open_source", "redact"]


def _url(spec: Spec) -> str | None:
    source = spec.source
    return os.environ.get(source.url_env) or source.url


def connect_engine(spec: Spec) -> tuple[Any, str]:
    """An Ibis connection to the engine of ``spec.source``, and where it is (for messages)."""
    import ibis

    source = spec.source
    url = _url(spec)
    if source.engine == "pyspark":
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is None:
            builder = SparkSession.builder.appName(f"loopwatch-{spec.model}")
            if url:
                builder = builder.master(url)
            session = builder.getOrCreate()
        return ibis.pyspark.connect(session), f"pyspark {session.sparkContext.master}"
    if not url:
        raise StoreError(f"source.engine {source.engine!r} needs a URL: set {source.url_env} "
                         "(or 'url' under 'source' in the spec, without a password)")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if source.engine == "postgres" and scheme not in ("postgres", "postgresql"):
        raise StoreError(f"source.engine 'postgres' expects a postgresql:// URL in {source.url_env}; "
                         f"got {redact(url)!r}")
    try:
        con = ibis.connect(url)
    except Exception as exc:  # each driver raises its own
        message = str(exc).splitlines()[0] if str(exc) else ""
        raise StoreError(f"cannot connect to {redact(url)}: {type(exc).__name__}: "
                         f"{redact(message)}") from None
    if con.name != source.engine:
        raise StoreError(f"source.engine is {source.engine!r} but the URL {redact(url)} opens "
                         f"{con.name!r}")
    return con, redact(url)


def open_source(spec: Spec, *, location: str | None = None, pii_key: bytes | None = None,
                engine_memory: str = DEFAULT_ENGINE_MEMORY) -> DecisionSource:
    """The source ``spec`` reads: its tables where ``source`` names them, else the store.

    ``location`` overrides the store directory (profiles of a warehouse source are kept
    there too).
    """
    from loopwatch.storage.parquet_store import ParquetStore
    from loopwatch.storage.table_source import TableSource

    root = spec.store_location(location)
    if spec.source.embedded:
        return ParquetStore(root, spec=spec, pii_key=pii_key, engine_memory=engine_memory)
    con, where = connect_engine(spec)
    tables = ", ".join(filter(None, (spec.source.decisions, spec.source.outcomes)))
    source = TableSource(spec=spec, con=con, root=root, location=f"{where} ({tables})")
    if con.name != "pyspark":  # a Spark session may be the caller's own: it is left running
        # the connection is closed once the source is gone (the finalizer keeps it until then)
        weakref.finalize(source, con.disconnect)
    return source
