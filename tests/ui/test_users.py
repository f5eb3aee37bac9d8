"""The dashboard's users: tokens from the environment, sessions, and `loopwatch ui`'s refusals (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.spec import spec_from_mapping
from loopwatch.core.ui_spec import UiUser
from loopwatch.errors import InputError, SpecError
from loopwatch.ui.auth import Sessions, Tokens, User, parse_user

ANA = UiUser(name="ana", role="operator", token_env="LW_ANA")
BEN = UiUser(name="ben", role="read", token_env="LW_BEN")


def test_each_user_is_found_by_their_own_token_and_no_other() -> None:
    tokens = Tokens.from_env([ANA, BEN], {"LW_ANA": "a-token-of-24-characters",
                                          "LW_BEN": "b-token-of-24-characters"})
    assert tokens.find("a-token-of-24-characters") == User("ana", "operator")
    assert tokens.find("b-token-of-24-characters") == User("ben", "read")
    for wrong in ("", "a-token-of-24-character", "a-token-of-24-characters ", "A-TOKEN-OF-24-CHARACTERS"):
        assert tokens.find(wrong) is None


@pytest.mark.parametrize(("environ", "says"), [
    ({"LW_BEN": "b" * 20}, "LW_ANA is not set"),
    ({"LW_ANA": "short", "LW_BEN": "b" * 20}, "has 5 characters"),
    ({"LW_ANA": "s" * 20, "LW_BEN": "s" * 20}, "the same token"),
])
def test_a_missing_short_or_shared_token_is_an_error_naming_it(environ: dict[str, str], says: str) -> None:
    with pytest.raises(InputError, match=says):
        Tokens.from_env([ANA, BEN], environ)
    with pytest.raises(InputError, match="no users"):
        Tokens.from_env([], environ)


def test_a_session_ends_when_its_time_is_up_or_it_is_ended() -> None:
    now = [0.0]
    sessions = Sessions(ttl_seconds=60, clock=lambda: now[0])
    one, two = sessions.start(User("ana", "operator")), sessions.start(User("ben", "read"))
    assert one.id != two.id and one.csrf != two.csrf and len(one.id) >= 40
    assert one.csrf_matches(one.csrf) and not one.csrf_matches(two.csrf)
    sessions.end(two.id)
    assert sessions.get(two.id) is None and sessions.get(one.id) == one
    now[0] = 61.0
    assert sessions.get(one.id) is None


def test_the_spec_names_token_variables_never_tokens() -> None:
    base = {"model": "m", "features": [{"name": "a", "dtype": "numeric"}]}
    spec = spec_from_mapping({**base, "ui": {"users": [ANA.model_dump()]}})
    assert spec.ui.users == (ANA,)
    with pytest.raises(SpecError, match=r"ui\.users\[0\]\.token_env: .*NAME of an environment variable"):
        spec_from_mapping({**base, "ui": {"users": [{"name": "a", "role": "read",
                                                      "token_env": "hunter2-secret"}]}})
    with pytest.raises(SpecError, match=r"ui\.users\[0\]\.role"):
        spec_from_mapping({**base, "ui": {"users": [{"name": "a", "role": "admin", "token_env": "LW_A"}]}})
    with pytest.raises(SpecError, match="named twice: ana"):
        spec_from_mapping({**base, "ui": {"users": [ANA.model_dump(), ANA.model_dump()]}})
    assert parse_user("team ops:read:LW_OPS") == UiUser(name="team ops", role="read", token_env="LW_OPS")
    with pytest.raises(InputError, match="NAME:ROLE:ENV_VAR"):
        parse_user("ana-operator")


@pytest.mark.parametrize(("args", "env", "says"), [
    ([], {}, "no users"),
    (["--user", "ana:operator:LW_UNSET_TOKEN"], {}, "LW_UNSET_TOKEN is not set"),
    (["--user", "ana:boss:LW_A"], {"LW_A": "a" * 20}, "role"),
    (["--user", "ana:operator:LW_A", "--user", "ana:read:LW_B"], {"LW_A": "a" * 20, "LW_B": "b" * 20}, "ana"),
])
def test_loopwatch_ui_refuses_to_start_without_usable_users(tmp_path: Path, args: list[str],
                                                           env: dict[str, str], says: str) -> None:
    spec = tmp_path / "loopwatch.yaml"
    spec.write_text("model: m\nstore: ./store\nfeatures:\n  - {name: a, dtype: numeric}\n")
    result = CliRunner().invoke(app, ["ui", "--spec", str(spec), "--port", "1", *args], env=env)
    assert result.exit_code == 2, result.output
    assert says in result.stderr and "Traceback" not in result.stderr
