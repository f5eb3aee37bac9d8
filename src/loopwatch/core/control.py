"""The ``control:`` block of the spec: where alert state lives and how alerts resolve.

The control plane keeps alerts, their findings and an append-only audit log in
one database. By default it is a SQLite file inside the store directory; a
PostgreSQL database is named by URL in the ``LOOPWATCH_CONTROL_URL`` setting,
never in the spec, so that no password is ever written into ``loopwatch.yaml``.

Examples
--------
>>> Control().resolve_after, Control().reopen_within
(2, '7d')
>>> Control(database="state/alerts.sqlite").database
'state/alerts.sqlite'
>>> from loopwatch.core.spec import spec_from_mapping
>>> spec_from_mapping({"model": "m", "features": [{"name": "a", "dtype": "numeric"}],
...                    "control": {"database": "postgresql://u:pw@db/x"}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
loopwatch.errors.SpecError: spec is invalid:
control.database: expected a file path for the SQLite database; a database URL goes in ... got 'postgresql://...'
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Control"]


def _duration(text: str) -> str:
    # the spec's own parser; imported here to keep this module free of a cycle with spec.py
    from loopwatch.core.spec import parse_duration

    parse_duration(text)
    return text


class Control(BaseModel):
    """Alert state: the database and the hysteresis that opens and resolves alerts.

    ``resolve_after`` is the number of consecutive runs that must not see an
    alert's cause before it resolves; ``reopen_within`` how soon after resolving
    a cause that comes back reopens the same alert instead of raising a new one
    (the second half of the hysteresis: a flapping subject keeps one alert).
    The defaults were chosen by replaying the simulator's incidents day by day
    (``benchmarks/alerts_replay.py``; docs/DESIGN-NOTES.md, "Alert state").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    database: str | None = None
    resolve_after: int = Field(default=2, ge=1, le=1000)
    reopen_within: str = "7d"

    @field_validator("database")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and "://" in value:
            scheme = value.split("://", 1)[0]
            raise ValueError("expected a file path for the SQLite database; a database URL goes in the "
                             f"LOOPWATCH_CONTROL_URL setting, never in the spec; got '{scheme}://...'")
        return value

    @field_validator("reopen_within")
    @classmethod
    def _window(cls, value: str) -> str:
        return _duration(value)
