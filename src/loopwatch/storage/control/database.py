"""Opening the control-plane database: one engine per URL, migrated to the latest revision on open.

SQLite (the default, a file inside the store) runs every transaction as
``BEGIN IMMEDIATE``: the writer lock is taken when the transaction starts, so
two processes that read an alert and then change it are serialized instead of
one failing half-way (SQLite's default deferred transactions upgrade the lock
only at the first write, which lets both read the same old state). The file is
in WAL mode, so readers do not wait for a writer. PostgreSQL serializes writers
with row locks (``SELECT ... FOR UPDATE``, in :mod:`.plane`).

Migrations run inside one transaction that holds the same lock (on PostgreSQL an
advisory transaction lock), so processes that open a new database at the same
moment migrate it once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from loopwatch.core.spec import Spec
from loopwatch.errors import InputError, SpecError, StoreError

__all__ = ["DEFAULT_FILE", "control_url", "open_engine"]

#: The SQLite file of the control plane inside the store directory, when the spec names none.
DEFAULT_FILE = "control.sqlite"
_MIGRATIONS = Path(__file__).with_name("migrations")
#: Any fixed number: the advisory lock key that serializes migrations on PostgreSQL.
_MIGRATION_LOCK = 7_350_214_001


def control_url(spec: Spec, *, url: str | None = None, store: str | None = None) -> str:
    """The database of ``spec``'s control plane.

    ``url`` (the ``LOOPWATCH_CONTROL_URL`` setting) wins; then ``control.database``
    (a SQLite file, relative to the spec); then ``control.sqlite`` inside the
    store directory (``store`` overrides the spec's store, as ``--store`` does).

    Examples
    --------
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "a", "dtype": "numeric"}],
    ...                           "store": "/srv/lw"})
    >>> control_url(spec)
    'sqlite:////srv/lw/control.sqlite'
    >>> control_url(spec, url="postgresql://loopwatch@db/state")
    'postgresql+psycopg://loopwatch@db/state'
    """
    if url:
        return _driver(url)
    if spec.control.database is not None:
        path = Path(spec.control.database)
        return f"sqlite:///{path if path.is_absolute() else (spec.base_dir / path).resolve()}"
    location = spec.store_location(store)
    if "://" in location:
        raise SpecError(f"control.database: the store {location.split('://')[0]}://... is not a directory, "
                        "so the control plane needs a SQLite file (control.database) or a database URL "
                        "(LOOPWATCH_CONTROL_URL)")
    return f"sqlite:///{Path(location) / DEFAULT_FILE}"


def _driver(url: str) -> str:
    """PostgreSQL through psycopg 3 (the driver loopwatch installs), whichever way the URL says it."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(f"LOOPWATCH_CONTROL_URL: expected a database URL such as "
                         f"postgresql://user@host/db; got {_hide(url)!r}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _hide(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("://", 1)[0] + "://..."


def open_engine(url: str) -> Engine:
    """An engine on ``url`` whose database is migrated to the latest revision."""
    parsed: URL = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite(parsed)
    else:
        engine = create_engine(parsed, pool_pre_ping=True)
    try:
        _migrate(engine)
    except Exception as exc:
        engine.dispose()
        if isinstance(exc, InputError | SpecError):
            raise
        where = parsed.render_as_string(hide_password=True)
        raise StoreError(f"the control plane at {where} cannot be opened: "
                         f"{type(exc).__name__}: {exc}") from exc
    return engine


def _sqlite(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN is replaced by ours
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _migrate(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        if MigrationContext.configure(connection).get_current_revision() == head:
            return
        from alembic import command

        config.attributes["connection"] = connection
        command.upgrade(config, "head")
