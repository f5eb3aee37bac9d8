"""Fixtures shared by every test: the engines behind Ibis that need a server or a JVM.

On a developer's machine a missing server or Java skips the tests that need it,
with the reason; under ``CI=true`` it fails them, so that CI never passes by
running nothing (CI starts PostgreSQL at 127.0.0.1:5432 and has Java 17).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from loopwatch.core.spec import Spec, spec_from_mapping

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test"}


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer's machine; fail under ``CI=true``, where every engine must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: engine tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mlflow() -> Any:
    """The ``mlflow`` module (the ``mlflow`` extra, part of ``dev``): a virtualenv made before it was
    skips, CI fails."""
    try:
        import mlflow
    except ImportError as exc:
        unavailable(f"mlflow is not installed ({exc}); it is in the dev extra: make install")
    return mlflow


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """An Ibis PostgreSQL backend on database ``test`` at 127.0.0.1:5432 (trust auth)."""
    try:
        import ibis

        con = ibis.postgres.connect(**POSTGRES, connect_timeout=5)
    except Exception as exc:  # ImportError, or psycopg's OperationalError
        where = "{user}@{host}:{port}/{database}".format(**POSTGRES)
        unavailable(f"PostgreSQL is not available at {where}: {type(exc).__name__}: {exc}")
    try:
        yield con
    finally:
        con.disconnect()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An Ibis PySpark backend on one local ``SparkSession`` (``local[2]``) for the whole run.

    The JVM takes several seconds to start: one session serves every test.
    """
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin", "java").exists()):
        unavailable("Spark needs Java (17): no `java` on PATH and no JAVA_HOME")
    try:
        import ibis
        from pyspark.sql import SparkSession
    except ImportError as exc:
        unavailable(f"PySpark is not installed ({exc}); install with `pip install -e '.[dev]'`")
    scratch = tmp_path_factory.mktemp("spark")
    try:
        session = (
            SparkSession.builder.master("local[2]")
            .appName("loopwatch-tests")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.default.parallelism", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            # the driver listens on loopback only
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            # results come back through pandas in ibis 12: Arrow makes that 2x faster
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            # nothing is written to the working directory
            .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
            .config("spark.local.dir", str(scratch / "local"))
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={scratch / 'derby'}")
            .getOrCreate()
        )
    except Exception as exc:  # the JVM did not start
        unavailable(f"Spark local mode did not start: {type(exc).__name__}: {exc}")
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield ibis.pyspark.connect(session)
    finally:
        session.stop()


@pytest.fixture
def spec() -> Spec:
    """A small fraud-model spec: one feature of each dtype and one cohort column."""
    return spec_from_mapping({
        "model": "fraud",
        "features": [
            {"name": "amount", "dtype": "numeric"},
            {"name": "country", "dtype": "categorical"},
            {"name": "new_user", "dtype": "boolean"},
        ],
        "cohorts": ["region"],
    })


@pytest.fixture(autouse=True)
def _no_check_leaks_out_of_a_test() -> Iterator[None]:
    """A test that registers a check must remove it: the registry is global."""
    from loopwatch.monitoring.checks import CHECKS
    from loopwatch.monitoring.job import build_checks  # noqa: F401  (registers the built-ins)

    before = CHECKS.names()
    yield
    assert CHECKS.names() == before, "a test left a check registered; unregister it in a fixture"
