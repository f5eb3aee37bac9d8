"""Regenerate every table of the benchmark results from the raw records.

    .venv/bin/python benchmarks/tables.py            # rewrite the tables in benchmarks/*RESULTS.md
    .venv/bin/python benchmarks/tables.py --check    # exit 1 when a table differs from its records

A table is the text between ``<!-- table: NAME -->`` and ``<!-- /table -->`` in a
results file; ``NAME`` is ``<bench>.<table>``, rendered by ``TABLES[table]`` of
``benchmarks/<bench>.py`` from ``records/<bench>.jsonl`` (see ``_records.py``).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKER = re.compile(r"(<!-- table: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def render(name: str) -> str:
    bench, _, table = name.partition(".")
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import _records

    module = importlib.import_module(bench)
    tables = getattr(module, "TABLES", {})
    if table not in tables:
        raise SystemExit(f"benchmarks/{bench}.py has no table {table!r} in TABLES "
                         f"(it has: {', '.join(tables) or 'none'})")
    text = str(tables[table](_records.load(bench)))
    return text if text.endswith("\n") else text + "\n"


def regenerate(path: Path) -> tuple[str, str]:
    before = path.read_text(encoding="utf-8")
    after = MARKER.sub(lambda m: m.group(1) + render(m.group("name")) + m.group(4), before)
    return before, after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report tables that are stale")
    args = parser.parse_args(argv)
    stale = []
    for path in sorted(HERE.glob("*RESULTS.md")):
        before, after = regenerate(path)
        if before != after:
            stale.append(path.name)
            if not args.check:
                path.write_text(after, encoding="utf-8")
    if args.check and stale:
        print(f"tables out of date with their records: {', '.join(stale)}; "
              "run 'make bench-tables'", file=sys.stderr)
        return 1
    print(("stale: " if args.check else "regenerated: ") + (", ".join(stale) or "none"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
