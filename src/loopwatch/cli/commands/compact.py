"""``loopwatch compact``: merge each day's small files into one."""

from __future__ import annotations

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, open_store


@command()
def compact(spec: SpecOption = None, store: StoreOption = None, fmt: FormatOption = Format.table) -> None:
    """Merge each day's small files into one; no query's result changes."""
    _, target = open_store(spec, store)
    result = target.compact()
    if fmt is Format.json:
        render.print_json({"partitions": result.partitions, "files_before": result.files_before,
                           "files_after": result.files_after,
                           "duplicates_removed": result.duplicates_removed})
        return
    render.out().print(f"compacted {render.count(result.partitions)} partitions: "
                       f"{render.count(result.files_before)} files -> {render.count(result.files_after)}; "
                       f"{render.count(result.duplicates_removed)} duplicate rows removed", markup=False)
