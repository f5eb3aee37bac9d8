"""Fixtures of the storage tests: an empty store on ``tmp_path`` (the spec is shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopwatch.core.spec import Spec
from loopwatch.storage.parquet_store import ParquetStore


@pytest.fixture
def store(tmp_path: Path, spec: Spec) -> ParquetStore:
    return ParquetStore(tmp_path / "store", spec=spec)
