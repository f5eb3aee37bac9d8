"""The ``source:`` block of the spec: where decisions and outcomes are read from.

By default (``engine: duckdb`` and no table names) the read-only commands read the
embedded store. Naming tables points them at a warehouse instead: a PostgreSQL
database, a Spark session, or another Ibis backend by URL. Profiles and alert state
stay in the local store directory, so only aggregates leave the warehouse.

The connection URL comes from an environment variable (``url_env``, by default
``LOOPWATCH_SOURCE_URL``) or from ``url``, which must not hold a password: a spec is
a file that gets committed and shared.

Examples
--------
>>> Source().embedded
True
>>> s = Source(engine="postgres", decisions="analytics.decisions", outcomes="analytics.outcomes")
>>> s.embedded, s.table_path("decisions")
(False, ('analytics', 'decisions'))
>>> from loopwatch.core.spec import spec_from_mapping
>>> spec_from_mapping({"model": "m", "features": [{"name": "a", "dtype": "numeric"}],
...                    "source": {"engine": "postgres", "decisions": "d",
...                               "url": "postgresql://me:secret@db/x"}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
loopwatch.errors.SpecError: spec is invalid:
source.url: a password does not belong in the spec: ... got 'postgresql://me:***@db/x'
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = ["DEFAULT_URL_ENV", "Source", "redact"]

#: The environment variable that holds the source's URL unless ``url_env`` names another.
DEFAULT_URL_ENV = "LOOPWATCH_SOURCE_URL"

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]*(\.[A-Za-z_][A-Za-z0-9_$-]*){0,2}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^/@:]*):[^/@]*@", re.IGNORECASE)


def redact(url: str) -> str:
    """``url`` without its password.

    Examples
    --------
    >>> redact("postgresql://me:secret@db:5432/x")
    'postgresql://me:***@db:5432/x'
    >>> redact("local[2]")
    'local[2]'
    """
    return _PASSWORD.sub(r"\1:***@", url)


class Source(BaseModel):
    """Where decisions and outcomes are read from: an engine, a URL and two table names.

    ``engine`` is ``duckdb`` (the default), ``postgres``, ``pyspark`` or the name of
    another Ibis backend. ``decisions`` and ``outcomes`` are table names, qualified by
    schema (``analytics.decisions``) or catalog and schema where the engine has them.
    Without ``decisions``, the source is the embedded store. For ``pyspark`` the URL is
    a master URL (``local[2]``, ``spark://host:7077``); without one, the active Spark
    session is used.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str = "duckdb"
    url_env: str = DEFAULT_URL_ENV
    url: str | None = None
    decisions: str | None = None
    outcomes: str | None = None

    @field_validator("engine")
    @classmethod
    def _engine(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValueError(f"expected an engine name such as duckdb, postgres or pyspark; got {value!r}")
        return value

    @field_validator("url_env")
    @classmethod
    def _env(cls, value: str) -> str:
        if not _ENV.match(value):
            raise ValueError(f"expected the name of an environment variable; got {value!r}")
        return value

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value is not None and _PASSWORD.match(value):
            raise ValueError("a password does not belong in the spec: put the URL in the variable "
                             f"that url_env names; got {redact(value)!r}")
        return value

    @field_validator("decisions", "outcomes")
    @classmethod
    def _table(cls, value: str | None) -> str | None:
        if value is not None and not _TABLE.match(value):
            raise ValueError("expected a table name, optionally qualified as schema.table or "
                             f"catalog.schema.table; got {value!r}")
        return value

    @model_validator(mode="after")
    def _tables(self) -> Source:
        if self.decisions is None and (self.outcomes is not None or self.engine != "duckdb"):
            raise ValueError(f"engine {self.engine!r} reads tables: name the decisions table "
                             "(decisions: schema.table)")
        return self

    @property
    def embedded(self) -> bool:
        """Whether the source is the embedded store (no table named)."""
        return self.decisions is None

    def table_path(self, kind: Literal["decisions", "outcomes"]) -> tuple[str, ...]:
        """The parts of a table's qualified name (empty if the table is not named)."""
        name = self.decisions if kind == "decisions" else self.outcomes
        return tuple(name.split(".")) if name else ()
