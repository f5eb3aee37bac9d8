"""Every setting of loopwatch, with one source and one name.

Each setting is read from the environment as ``LOOPWATCH_<NAME>`` and, where a
command takes it, from a ``--<name>`` option of the same name; the option wins.

==========================  ===================  ==============================================
environment                 option               meaning
==========================  ===================  ==============================================
``LOOPWATCH_SPEC``          ``--spec``           path of the spec (default ``./loopwatch.yaml``)
``LOOPWATCH_STORE``         ``--store``          store location, overriding the spec's ``store``
``LOOPWATCH_PII_KEY``       (none)               secret key for HMAC-SHA256 of ``pii: hash``
                                                 features; never logged or printed
``LOOPWATCH_ENGINE_MEMORY`` (none)               memory the embedded engine (DuckDB) may use
                                                 before it spills to disk (default ``512MB``)
``LOOPWATCH_SERVE_TOKEN``   (none)               bearer token ``loopwatch serve`` requires on
                                                 ``/v1/decide`` and ``/metrics``; never logged
``LOOPWATCH_CONTROL_URL``   (none)               SQLAlchemy URL of the control plane (alert
                                                 state, audit), e.g. PostgreSQL; default: a
                                                 SQLite file in the store; never logged
==========================  ===================  ==============================================
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Settings read from ``LOOPWATCH_*`` environment variables.

    Examples
    --------
    >>> Settings(spec=Path("other.yaml")).spec
    PosixPath('other.yaml')
    """

    model_config = SettingsConfigDict(env_prefix="LOOPWATCH_", extra="forbid", frozen=True)

    spec: Path = Path("loopwatch.yaml")
    store: str | None = None
    pii_key: SecretStr | None = None
    serve_token: SecretStr | None = None
    control_url: SecretStr | None = None
    engine_memory: str = Field(default="512MB",
                               pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
