"""Profile history: daily aggregates stored beside the logs, reused and extended incrementally.

Layout under the store root::

    profiles/model=<model>/binning=<fingerprint>/binning.json     bin edges of the reference
    profiles/model=<model>/binning=<fingerprint>/manifest.json    which file holds which day
    profiles/model=<model>/binning=<fingerprint>/cohorts.json     cohort values kept apart
    profiles/model=<model>/binning=<fingerprint>/<part>/<uuid>.parquet

A day is profiled again only when its decision files changed; its label part (a
lighter query) is recomputed only when outcomes arrived for its decisions: the days of
observation whose outcomes changed since the last run are joined to the decisions
(:mod:`loopwatch.storage.label_days`), so a daily run does not rescan the history.
The manifest keeps the outcome versions it has seen and the days whose labels are
still owed (a run limited to some days, or one interrupted, leaves the others owed).
Files and the manifest are written atomically, so a crash leaves the previous history
intact; running an update twice does nothing the second time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loopwatch.core.profile import ALL, Binning, Cohort, Profile, utc_day_start
from loopwatch.core.profile_parts import ProfileParts
from loopwatch.core.spec import MODEL_COLUMN
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.errors import InputError, StoreError
from loopwatch.storage.atomic import replace_text, write_atomic
from loopwatch.storage.cohort_cap import capped_cohort_values, kept_digest
from loopwatch.storage.fitting import fit_binning
from loopwatch.storage.label_days import arrived_outcomes, contiguous_days
from loopwatch.storage.layout import day_start
from loopwatch.storage.profiling import (
    binned_dimensions,
    dimensions,
    empty_parts,
    iter_profile_parts,
)

__all__ = ["ProfileHistory", "UpdateResult"]

_PARTS = ("counts", "moments", "labels", "sketch", "by_bin")
#: Version of the stored parts' layout; a history in another layout is computed again.
_FORMAT = 2
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class UpdateResult:
    """What an update did."""

    days_profiled: int
    days_relabelled: int
    days_stored: int
    seconds: float
    #: outcomes that no profile uses: none of their decisions is stored within ``label_horizon``
    #: of them (or at all, without one)
    outcomes_ignored: int = 0


def _days_within(days: Iterable[str], start: datetime | None, end: datetime | None) -> list[str]:
    """The days (sorted) whose UTC day holds some of ``[start, end)``."""
    return [d for d in sorted(days) if (start is None or day_start(d) >= utc_day_start(start))
            and (end is None or day_start(d) < end)]


class ProfileHistory:
    """Daily profiles of one store, computed in its engine and kept as Parquet.

    Examples
    --------
    >>> import tempfile
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
    ...                           "reference": {"trailing": "1d"}})
    >>> from loopwatch.storage.parquet_store import ParquetStore
    >>> store = ParquetStore(tempfile.mkdtemp(), spec=spec)
    >>> rows = [{"decision_id": str(i), "timestamp": f"2026-03-0{1 + i % 2}T10:00:00Z",
    ...          "score": i / 10, "x": float(i)} for i in range(10)]
    >>> _ = store.ingest("decisions", pa.Table.from_pylist(rows), source="doctest")
    >>> history = ProfileHistory(store)
    >>> history.update().days_profiled
    2
    >>> history.update().days_profiled
    0
    >>> history.profile().n
    10
    """

    def __init__(self, store: DecisionSource) -> None:
        self.store = store
        self.spec = store.spec
        self._binning: Binning | None = None

    # --- reference and binning --------------------------------------------------------

    def reference_window(self) -> Window:
        """The reference window: fixed, or the first ``trailing`` of the data."""
        ref = self.spec.reference
        if ref.start is not None and ref.end is not None:
            return Window.of(ref.start, ref.end)
        days = self._stored_days()
        if not days:
            raise self._no_decisions()
        return Window.starting(day_start(days[0]), ref.trailing or "30d")

    def binning(self, *, refit: bool = False) -> Binning:
        """The reference's bins: read from the history, or fitted once and kept."""
        if self._binning is not None and not refit:
            return self._binning
        current = self._base() / "current.json"
        if current.exists() and not refit:
            fingerprint = json.loads(current.read_text())["binning"]
            path = self._base() / f"binning={fingerprint}" / "binning.json"
            self._binning = Binning.from_json(path.read_text())
            return self._binning
        window = self.reference_window()
        if not self._stored_days():
            raise self._no_decisions()
        con = self.store.connect()
        # the reference days' files only
        reference = self.store.table("decisions", con=con, between=window)
        if reference.count().to_pyarrow().as_py() == 0:
            raise InputError(
                f"the reference window {window.start:%Y-%m-%d} to {window.end:%Y-%m-%d} holds no "
                "decisions; "
                "fix 'reference' in the spec"
            )
        binning = fit_binning(reference, self.spec)
        directory = self._base() / f"binning={binning.fingerprint}"
        replace_text(directory / "binning.json", binning.to_json())
        replace_text(current, json.dumps({"binning": binning.fingerprint,
                                           "reference": [window.start.isoformat(),
                                                         window.end.isoformat()]}))
        self._binning = binning
        return binning

    # --- update -------------------------------------------------------------------------

    def update(self, *, start: datetime | None = None, end: datetime | None = None,
               refit: bool = False, on_progress: Progress | None = None) -> UpdateResult:
        """Profile the days in ``[start, end)`` whose decisions changed since the last update,
        and recompute the label part of the days whose decisions got outcomes since then.

        Idempotent: a second call with nothing new in the store does nothing. One update
        of a history runs at a time: another process (or thread) waits for it, then finds
        its days done.
        """
        with self._updating():
            return self._update(start=start, end=end, refit=refit, on_progress=on_progress)

    @contextlib.contextmanager
    def _updating(self) -> Iterator[None]:
        # an exclusive flock for the whole update: two at once collected each other's fresh
        # part files as garbage, and the manifest went on naming them. Where nothing can be
        # created (a read-only store), no update can write either, so none is held.
        # (no store there yet: nothing is created before the update names what is missing)
        fd: int | None = None
        with contextlib.suppress(OSError):
            if not self.store.root.is_dir():
                raise FileNotFoundError(self.store.root)
            self._base().mkdir(parents=True, exist_ok=True)
            fd = os.open(self._base() / ".updating", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the lock

    def _update(self, *, start: datetime | None, end: datetime | None, refit: bool,
                on_progress: Progress | None) -> UpdateResult:
        began = datetime.now(UTC)
        binning = self.binning(refit=refit)
        manifest = self._manifest(binning)
        as_read = json.dumps(manifest, sort_keys=True)
        kept = self._kept(binning, refit=refit)
        fingerprints = self.store.versions("decisions")  # listed once: the days and their files
        if kept:  # a day profiled with other kept cohort values is profiled again
            fingerprints = {d: f"{v}+{kept_digest(kept)}" for d, v in fingerprints.items()}
        days = _days_within(fingerprints, start, end)
        stale = [d for d in days if manifest["days"].get(d, {}).get("decisions") != fingerprints[d]]
        outcome_versions = self.store.versions("outcomes")
        con: Any = None
        pending = set(manifest.get("relabel", ()))
        seen: dict[str, str] | None = manifest.get("outcome_versions")
        if seen is not None and set(seen) - set(outcome_versions):
            # a day of outcomes is gone: whose labels it held is unknown, so every day is relabelled
            pending |= set(manifest["days"])
            seen = None
        # a new history (or one from before arrivals were tracked) looks at every day of outcomes once
        changed = [d for d, v in outcome_versions.items() if seen is None or seen.get(d) != v]
        if changed:
            con = self.store.connect()
            arrivals = arrived_outcomes(self.store, changed, con=con,
                                        horizon=self.spec.label_horizon_seconds)
            pending |= arrivals.decision_days & set(manifest["days"])
            ignored = {} if seen is None else manifest.get("outcomes_ignored", {})
            manifest["outcomes_ignored"] = {**ignored, **dict.fromkeys(changed, 0), **arrivals.ignored}
        # what is owed is written down before any work, so an interrupted run leaves it owed
        manifest["outcome_versions"] = outcome_versions
        manifest["relabel"] = sorted(pending - set(stale))
        wanted = set(days)
        relabel = [d for d in manifest["relabel"] if d in wanted and d in manifest["days"]]
        total = len(stale) + len(relabel)
        done = 0
        if not total:  # nothing new: no engine to start, and nothing written unless owed changed
            if json.dumps(manifest, sort_keys=True) != as_read:  # (a read-only store is read as is)
                self._save_manifest(binning, manifest)
                self._collect_garbage(binning, manifest)
            return self._result(manifest, 0, 0, began)
        self._save_manifest(binning, manifest)
        con = con or self.store.connect()
        decisions = self.store.table("decisions", con=con)
        horizon = self.spec.label_horizon_seconds

        def scan(first: datetime, last: datetime) -> Any:
            # a chunk's decisions from its days' files only
            return self.store.table("decisions", con=con, between=Window(first, last))

        def outcomes(first: datetime, last: datetime) -> Any:
            if not outcome_versions:
                return None
            if horizon is None:
                return self.store.outcomes_latest(con=con)
            # every outcome that may lie within the horizon of the run's decisions
            reach = timedelta(seconds=horizon)
            return self.store.table("outcomes", con=con, between=Window(first - reach, last + reach))

        # each chunk of a run is stored, and recorded in the manifest, before the next one
        # is computed: memory holds one chunk's aggregates, and an interrupted update keeps
        # the days it finished. Stale days are profiled in runs of consecutive days (a day
        # between two runs would cost a full profile); the days owed labels in one run from
        # the first to the last, whatever lies between: a pass has a fixed cost (codes,
        # compiling, a scan per cohort column) larger than the label part of a few extra
        # days, and labels arriving late leave the owed days scattered (one pass each cost
        # three to four passes a daily run). The days between are computed, not recorded.
        for labels_only, runs in [(False, contiguous_days(stale)),
                                  (True, [sorted(relabel)] if relabel else [])]:
            which = {"labels"} if labels_only else set(_PARTS)
            for run in runs:
                first, last = day_start(run[0]), day_start(run[-1]) + timedelta(days=1)
                for chunk in iter_profile_parts(
                        decisions, self.spec, binning, start=first, end=last,
                        outcomes=outcomes(first, last), con=con, labels_only=labels_only,
                        scan=scan, kept=kept, horizon=horizon):
                    files = self._write_parts(binning, chunk.parts, which)
                    covered = [d for d in run if chunk.start <= day_start(d) < chunk.end]
                    for d in covered:
                        if labels_only:
                            manifest["days"][d].update(**files)
                        else:
                            manifest["days"][d] = {"decisions": fingerprints[d], **files}
                    owed = set(manifest["relabel"]) - set(covered)
                    manifest["relabel"] = sorted(owed)
                    done += len(covered)
                    self._save_manifest(binning, manifest)
                    if on_progress:
                        on_progress(done, total)
        self._collect_garbage(binning, manifest)
        return self._result(manifest, len(stale), len(relabel), began)

    def _result(self, manifest: dict[str, Any], profiled: int, relabelled: int,
                began: datetime) -> UpdateResult:
        ignored = sum(manifest.get("outcomes_ignored", {}).values())
        return UpdateResult(profiled, relabelled, len(manifest["days"]),
                            (datetime.now(UTC) - began).total_seconds(), ignored)

    # --- reading ------------------------------------------------------------------------

    def parts(self, *, start: datetime | None = None, end: datetime | None = None) -> ProfileParts:
        """The stored aggregates of the days in ``[start, end)`` (all days by default)."""
        binning = self.binning()
        manifest = self._manifest(binning)
        days = _days_within(manifest["days"], start, end)
        directory = self._base() / f"binning={binning.fingerprint}"
        tables: dict[str, pa.Table | None] = {}
        for part in _PARTS:
            # a file may hold days that a later run replaced: take from each file only the
            # days the manifest assigns to it
            owners: dict[str, list[str]] = {}
            for d in days:
                owners.setdefault(manifest["days"][d][part], []).append(d)
            chunks = [_only_days(pq.read_table(directory / part / f), owned)
                      for f, owned in sorted(owners.items())]
            tables[part] = pa.concat_tables(chunks, promote_options="permissive") if chunks \
                else None
        numeric = [f.name for f in self.spec.stored_features if f.stored_dtype == "numeric"]
        categorical = [f.name for f in self.spec.stored_features if f.stored_dtype != "numeric"]
        if tables["counts"] is None:
            return empty_parts(self.spec, binning)
        return ProfileParts(dimensions(self.spec), (*numeric, *categorical),
                            tables["counts"], tables["moments"], tables["labels"], tables["sketch"],
                            tables["by_bin"], binned_dimensions(self.spec))

    def profiles(self, *, start: datetime | None = None, end: datetime | None = None,
                 cohorts: list[Cohort] | None = None) -> dict[Cohort, Profile]:
        """Profiles of ``[start, end)`` for each cohort, merged from the stored days."""
        binning = self.binning()
        first, last = self._span(start, end)
        return self.parts(start=first, end=last).profiles(binning, start=first, end=last,
                                                          cohorts=cohorts)

    def profile(self, *, start: datetime | None = None, end: datetime | None = None,
                cohort: Cohort = ALL) -> Profile:
        """The profile of one cohort over ``[start, end)``."""
        binning = self.binning()
        first, last = self._span(start, end)
        found = self.parts(start=first, end=last).profiles(binning, start=first, end=last,
                                                           cohorts=[cohort])
        return found.get(cohort) or binning.empty(first, last, cohort)

    # --- internals ----------------------------------------------------------------------

    def _span(self, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
        days = self._stored_days()
        first = start or (day_start(days[0]) if days else datetime(1970, 1, 1, tzinfo=UTC))
        last = end or (day_start(days[-1]) + timedelta(days=1) if days else first)
        return utc_day_start(first), last

    def _base(self) -> Path:
        return self.store.root / "profiles" / f"{MODEL_COLUMN}={self.spec.model}"

    def _stored_days(self) -> list[str]:
        return sorted(self.store.versions("decisions"))

    def _no_decisions(self) -> InputError:
        return InputError(f"the store at {self.store.location} holds no decisions of model "
                          f"{self.spec.model!r} yet: ingest decisions first "
                          "('loopwatch ingest decisions FILE')")

    def _kept(self, binning: Binning, *, refit: bool = False) -> dict[str, tuple[str, ...]]:
        """The values kept apart per capped cohort column, fixed from the reference once (and
        again on a refit or when the cap or the cohort columns change)."""
        path = self._base() / f"binning={binning.fingerprint}" / "cohorts.json"
        wanted = {"limit": self.spec.inputs.cohort_values, "cohorts": list(self.spec.cohorts)}
        if path.exists() and not refit:
            data = json.loads(path.read_text())
            if {k: data.get(k) for k in wanted} == wanted:
                return {k: tuple(v) for k, v in data["kept"].items()}
        kept: dict[str, tuple[str, ...]] = {}
        if self.spec.cohorts:
            reference = self.store.table("decisions", between=self.reference_window())
            kept = capped_cohort_values(reference, self.spec)
        with contextlib.suppress(StoreError):  # a read-only store: computed again next time
            replace_text(path, json.dumps({**wanted, "kept": {k: list(v) for k, v in kept.items()}}))
        return kept

    def _manifest(self, binning: Binning) -> dict[str, Any]:
        path = self._base() / f"binning={binning.fingerprint}" / "manifest.json"
        if not path.exists():
            return {"format": _FORMAT, "days": {}}
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise StoreError(f"{path} is corrupt ({exc}); delete it to profile again") from exc
        if data.get("format") != _FORMAT:  # an older layout: profile every day again
            return {"format": _FORMAT, "days": {}}
        return data

    def _save_manifest(self, binning: Binning, manifest: dict[str, Any]) -> None:
        path = self._base() / f"binning={binning.fingerprint}" / "manifest.json"
        replace_text(path, json.dumps(manifest, sort_keys=True))

    def _write_parts(self, binning: Binning, parts: ProfileParts, which: set[str]) -> dict[str, str]:
        directory = self._base() / f"binning={binning.fingerprint}"
        return {name: write_atomic(getattr(parts, name), directory / name).name
                for name in _PARTS if name in which}

    def _collect_garbage(self, binning: Binning, manifest: dict[str, Any]) -> None:
        directory = self._base() / f"binning={binning.fingerprint}"
        used = {v for day in manifest["days"].values() for k, v in day.items() if k in _PARTS}
        for part in _PARTS:
            for path in (directory / part).glob("*.parquet"):
                if path.name not in used:
                    path.unlink()


def _fingerprint(versions: dict[str, str]) -> str:
    """One token for a whole table, from the versions of its days."""
    return hashlib.sha256(json.dumps(sorted(versions.items())).encode()).hexdigest()[:16]


def _only_days(table: pa.Table, days: list[str]) -> pa.Table:
    import pyarrow.compute as pc

    stamps = pa.array([day_start(d) for d in days], pa.timestamp("us", tz="UTC"))
    return table.filter(pc.is_in(table.column("day"), value_set=stamps))
