"""The compaction journal: a swap of files that survives a crash and never surprises a reader.

A compaction writes a partition's merged file under a temporary name (fsynced), then
records the swap ``{tmp, new, old}`` in ``_journal/<uuid>.json`` (fsynced), and only
then *completes* it: renames ``tmp`` to ``new`` and removes the ``old`` files. A swap
completes only while no reader holds the store (:func:`~loopwatch.storage.locks.readers_absent`);
otherwise it stays pending and the next writer completes it. Every state is one of:

* journal, no ``new`` yet — the old files are the partition; the merged file is an
  invisible temporary (a crash or open readers left the swap pending);
* journal and ``new`` — the swap was interrupted after the rename: the old files still
  present are superseded, and readers leave them out (:func:`superseded`) without
  writing anything, so a read-only store is read exactly as a recovered one;
* no journal — nothing is in flight.

Completing is idempotent, so a crash while completing is completed again.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from loopwatch.errors import StoreError
from loopwatch.storage.atomic import commit, fsync_dir, replace_text
from loopwatch.storage.layout import StoreLayout
from loopwatch.storage.locks import readers_absent

__all__ = ["Swap", "complete", "complete_pending", "pending_swaps", "record_swap", "superseded"]


@dataclass(frozen=True)
class Swap:
    """One partition's swap: its journal, the merged file (temporary, then final), the old files."""

    journal: Path
    tmp: Path
    new: Path
    old: tuple[Path, ...]


def record_swap(layout: StoreLayout, tmp: Path, new: Path, old: list[Path]) -> Swap:
    """Make the swap durable before any of it becomes visible."""
    journal = layout.journal_dir / f"{uuid.uuid4().hex}.json"
    relative = {"tmp": str(tmp.relative_to(layout.root)),
                "new": str(new.relative_to(layout.root)),
                "old": [str(p.relative_to(layout.root)) for p in old]}
    replace_text(journal, json.dumps(relative))
    return Swap(journal, tmp, new, tuple(old))


def pending_swaps(layout: StoreLayout) -> list[Swap]:
    """The swaps recorded and not completed, oldest name first."""
    if not layout.journal_dir.is_dir():
        return []
    swaps = []
    for journal in sorted(layout.journal_dir.glob("*.json")):
        try:
            record = json.loads(journal.read_text(encoding="utf-8"))
        except FileNotFoundError:  # completed by another writer since the listing
            continue
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read the compaction journal {journal}: {exc}") from exc
        # paths are relative to the store; journals of earlier versions hold absolute ones
        swaps.append(Swap(journal, layout.root / record["tmp"], layout.root / record["new"],
                          tuple(layout.root / p for p in record["old"])))
    return swaps


def superseded(layout: StoreLayout) -> set[Path]:
    """Files a reader must leave out: the old files of swaps interrupted after their rename."""
    return {path for swap in pending_swaps(layout) if swap.new.exists() for path in swap.old}


def complete(layout: StoreLayout, swap: Swap) -> None:
    """Finish ``swap`` (the caller holds the writer lock and no reader holds the store)."""
    if not swap.new.exists():
        if not swap.tmp.exists():  # nothing of it was made visible: the old files stay
            _remove_journal(layout, swap)
            return
        commit(swap.tmp, swap.new)
    for path in swap.old:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    fsync_dir(swap.new.parent)
    _remove_journal(layout, swap)


def _remove_journal(layout: StoreLayout, swap: Swap) -> None:
    swap.journal.unlink()
    fsync_dir(layout.journal_dir)


def complete_pending(layout: StoreLayout) -> int:
    """Complete the pending swaps if no reader holds the store (under the writer lock).

    Returns how many are still pending (because readers are open).
    """
    swaps = pending_swaps(layout)
    if swaps:
        with readers_absent(layout) as alone:
            if not alone:
                return len(swaps)
            for swap in swaps:
                complete(layout, swap)
    if layout.journal_dir.is_dir():
        for stray in layout.journal_dir.glob("*.tmp"):  # a journal never renamed in
            stray.unlink()
    return 0
