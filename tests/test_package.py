"""The package as a whole: curated API, no side effects on import, documented settings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import loopwatch
from loopwatch.settings import Settings

ROOT = Path(__file__).parents[1]


def test_all_lists_exactly_the_public_names() -> None:
    listed = {name for name in dir(loopwatch) if not name.startswith("_")}
    modules = {name for name in listed if type(getattr(loopwatch, name)).__name__ == "module"}
    assert set(loopwatch.__all__) == listed - modules - {"annotations", "TYPE_CHECKING"}
    assert sorted(loopwatch.__all__) == loopwatch.__all__
    for name in loopwatch.__all__:  # each one resolves, lazily loaded or not
        assert getattr(loopwatch, name).__name__ == name


def test_what_a_user_calls_is_top_level_and_plumbing_is_not() -> None:
    assert {"run_checks", "CheckRun", "Finding", "Severity", "evaluate", "compare", "Window",
            "EvaluationReport", "Comparison", "Spec", "load_spec"} <= set(loopwatch.__all__)
    for plumbing in ("Conformed", "Rejection", "TableSchema", "decision_schema", "ProfileHistory"):
        assert not hasattr(loopwatch, plumbing)
    from loopwatch.core.schema import Conformed, decision_schema  # still importable from its module

    assert Conformed.__name__ == "Conformed" and callable(decision_schema)


def test_import_has_no_side_effects_and_loads_no_engine_or_web_stack(tmp_path: Path) -> None:
    code = (
        "import os, sys; before = set(os.listdir('.')); import loopwatch; "
        "heavy = [m for m in ('ibis', 'duckdb', 'fastapi', 'starlette', 'sklearn', 'typer', 'rich',"
        " 'pandas', 'pyarrow')"
        " if m in sys.modules]; "
        "assert not heavy, heavy; assert set(os.listdir('.')) == before"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)


def test_every_setting_is_documented_with_its_variable_in_readme_and_module() -> None:
    readme = (ROOT / "README.md").read_text()
    doc = loopwatch.settings.__doc__ or ""
    for name in Settings.model_fields:
        variable = f"LOOPWATCH_{name.upper()}"
        assert variable in doc, f"{variable} missing from settings.py docstring"
        assert variable in readme, f"{variable} missing from README.md"


def test_every_cli_command_is_documented() -> None:
    from loopwatch.cli.main import app

    docs = (ROOT / "docs" / "cli.md").read_text()
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__.replace("_", "-") if command.callback else "")
        assert re.search(rf"^## loopwatch {name}\b", docs, re.M), f"{name} missing from docs/cli.md"


def test_pii_key_never_appears_in_repr() -> None:
    settings = Settings(pii_key="super-secret-value")
    assert "super-secret-value" not in repr(settings)
    assert "super-secret-value" not in str(settings.model_dump())
