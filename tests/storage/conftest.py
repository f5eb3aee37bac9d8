"""Fixtures of the storage tests: a spec and an empty store on ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.storage.parquet_store import ParquetStore


@pytest.fixture
def spec() -> Spec:
    return spec_from_mapping({
        "model": "fraud",
        "features": [
            {"name": "amount", "dtype": "numeric"},
            {"name": "country", "dtype": "categorical"},
            {"name": "new_user", "dtype": "boolean"},
        ],
        "cohorts": ["region"],
    })


@pytest.fixture
def store(tmp_path: Path, spec: Spec) -> ParquetStore:
    return ParquetStore(tmp_path / "store", spec=spec)
