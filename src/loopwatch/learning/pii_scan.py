"""A scan of logged values for personal data in columns not declared as PII.

The engine does the reading: it samples the decisions of a window (at most
``sample_rows``), counts per string column the sampled rows that match each kind's
broad pattern (:data:`~loopwatch.learning.pii_patterns.PREFILTER`), and returns at
most ``candidates`` matching values per column. Only those values come to Python,
where :func:`~loopwatch.learning.pii_patterns.find` confirms them (Luhn, libphonenumber,
address form). A column is reported when a value is confirmed; its share of
affected rows is estimated as the confirmed share of the candidates read times the
candidates' share of the sample.

Columns declared ``pii: hash`` or ``pii: drop`` are not scanned: their values are
digests or absent (``loopwatch features`` checks that they are).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.learning.pii_patterns import KINDS, PREFILTER, PiiKind, find, mask

__all__ = ["PiiColumn", "PiiScan", "scan_pii"]


@dataclass(frozen=True)
class PiiColumn:
    """Personal data of one kind found in one column."""

    column: str
    kind: PiiKind
    #: sampled rows matching the broad pattern, candidates read and confirmed
    matched: int
    read: int
    confirmed: int
    #: estimated share of the sample's rows holding it
    share: float
    examples: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "kind": self.kind, "matched": self.matched, "read": self.read,
                "confirmed": self.confirmed, "share": self.share, "examples": list(self.examples)}


@dataclass(frozen=True)
class PiiScan:
    """What a scan found (``found`` empty: nothing), over which rows and columns."""

    model: str
    window: Window | None
    rows: int
    sampled: int
    columns: tuple[str, ...]
    found: tuple[PiiColumn, ...]

    @property
    def exit_code(self) -> int:
        """1 when personal data was found in a column not declared as PII."""
        return 1 if self.found else 0

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model,
                "window": None if self.window is None else
                {"start": self.window.start.isoformat(), "end": self.window.end.isoformat()},
                "rows": self.rows, "sampled": self.sampled, "columns": list(self.columns),
                "found": [f.to_dict() for f in self.found]}


def scannable(source: DecisionSource, table: Any) -> tuple[str, ...]:
    """The string columns of ``table`` not declared as PII (nor the model id)."""
    spec = source.spec
    declared = {f.name for f in spec.features if f.pii != "none"}
    schema = table.schema()
    return tuple(name for name in table.columns
                 if schema[name].is_string() and name not in declared and name != "model")


def scan_pii(source: DecisionSource, *, window: Window | None = None, sample_rows: int = 100_000,
             candidates: int = 200, region: str = "US", seed: int = 0) -> PiiScan:
    """Scan the decisions of ``window`` (all when ``None``) for e-mails, phones and card numbers.

    ``region`` is where phone numbers without a country code are read as dialled
    from. The sample is drawn by the engine (a fixed ``seed`` gives the same rows on
    the same files).
    """
    if sample_rows < 1 or candidates < 1:
        raise ValueError(f"sample_rows and candidates must be >= 1; got {sample_rows}, {candidates}")
    con = source.connect()
    table = source.table("decisions", con=con, between=window)
    columns = scannable(source, table)
    rows = int(table.count().to_pyarrow().as_py())
    sample = table.select(*columns) if columns else table
    if rows > sample_rows:
        sample = sample.sample(sample_rows / rows, seed=seed)
    if not columns or rows == 0:
        return PiiScan(source.spec.model, window, rows, 0, columns, ())
    counts: dict[str, Any] = {"n": sample.count()}
    for name in columns:
        for kind in KINDS:
            counts[f"{name}__{kind}"] = sample[name].re_search(PREFILTER[kind]).cast("int64").sum()
    totals = sample.aggregate(**counts).to_pyarrow().to_pylist()[0]
    sampled = int(totals["n"] or 0)
    found: list[PiiColumn] = []
    for name in columns:
        matched = {k: int(totals[f"{name}__{k}"] or 0) for k in KINDS}
        if not any(matched.values()):
            continue
        any_kind = sample[name].re_search("|".join(f"({p})" for p in PREFILTER.values()))
        read_back = sample.filter(any_kind).select(name).limit(candidates).to_pyarrow()
        values = [v for v in read_back[name].to_pylist() if v is not None]
        read: dict[PiiKind, int] = dict.fromkeys(KINDS, 0)
        confirmed: dict[PiiKind, int] = dict.fromkeys(KINDS, 0)
        examples: dict[PiiKind, dict[str, None]] = {k: {} for k in KINDS}
        for value in values:
            kinds_here = {k for k in KINDS if re.search(PREFILTER[k], value)}
            for kind in kinds_here:
                read[kind] += 1
            first: dict[PiiKind, str] = {}
            for kind, text in find(value, region=region):
                if kind in kinds_here:
                    first.setdefault(kind, text)
            for kind, text in first.items():
                confirmed[kind] += 1
                examples[kind][mask(kind, text)] = None
        for kind in KINDS:
            if confirmed[kind]:
                share = matched[kind] / sampled * confirmed[kind] / read[kind]
                found.append(PiiColumn(name, kind, matched[kind], read[kind], confirmed[kind], share,
                                       tuple(examples[kind])[:3]))
    return PiiScan(source.spec.model, window, rows, sampled, columns, tuple(found))

