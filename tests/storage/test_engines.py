"""The engines a profile plan runs on: any other backend is an input error that says which."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from loopwatch.errors import InputError
from loopwatch.storage.engines import Runner


def test_a_backend_the_profile_plan_does_not_support_is_an_input_error_naming_it() -> None:
    with pytest.raises(InputError, match=r"duckdb, postgres and pyspark; got 'clickhouse'"):
        Runner(SimpleNamespace(name="clickhouse"))
