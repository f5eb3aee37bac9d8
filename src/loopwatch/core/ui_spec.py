"""The ``ui:`` block of the spec: who may open the dashboard (``loopwatch ui``) and what they may do.

Each user has a name (written to the audit log for every action they take), a
role and the name of the environment variable that holds their token. The token
itself is never written in the spec: ``loopwatch.yaml`` is checked in, tokens are
secrets.

``read``
    sees every page; gets 403 on every action and is shown no action buttons.
``operator``
    also acknowledges, snoozes and resolves alerts and reverts flags.

Examples
--------
>>> ui = Ui.model_validate({"users": [{"name": "ana", "role": "operator", "token_env": "LW_TOKEN_ANA"}]})
>>> ui.users[0].role
'operator'
>>> UiUser.model_validate({"name": "ben", "role": "read", "token_env": "s3cr3t-t0ken"})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for UiUser
token_env
  Value error, expected the NAME of an environment variable (such as LOOPWATCH_TOKEN_ANA: capitals, \
digits, _); the token itself never goes in the spec; got a value that is not such a name [type=value_error, \
input_value='s3cr3t-t0ken', input_type=str]
    For further information visit https://errors.pydantic.dev/2.14/v/value_error
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Role", "Ui", "UiUser", "named_twice"]

Role = Literal["read", "operator"]

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class UiUser(BaseModel):
    """One person (or team account) of the dashboard: name, role and where their token is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    role: Role
    token_env: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip() or value != value.strip():
            raise ValueError("expected a name without leading or trailing spaces")
        return value

    @field_validator("token_env")
    @classmethod
    def _env(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError("expected the NAME of an environment variable (such as LOOPWATCH_TOKEN_ANA: "
                             "capitals, digits, _); the token itself never goes in the spec; got a value "
                             "that is not such a name")
        return value


def named_twice(users: Iterable[UiUser]) -> list[str]:
    """The names given to more than one of ``users``, sorted."""
    names = [u.name for u in users]
    return sorted({n for n in names if names.count(n) > 1})


class Ui(BaseModel):
    """The dashboard's users; none by default (``loopwatch ui --user`` adds them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: tuple[UiUser, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Ui:
        twice = named_twice(self.users)
        if twice:
            raise ValueError(f"each user is named once; named twice: {', '.join(twice)}")
        return self
