"""The model inventory: the "day 1–2 baseline" of one model, from its spec, logs and control plane.

:func:`build_inventory` answers, for one model and the days ending at ``as_of``: what
flows through it (inputs → features → model → outputs → actions), where it runs
and at what rate and tail latency, who owns its code, data and operations, its
current quality, system and business figures, and three questions — how do we
know it is misbehaving now, how would we roll back, who is harmed if it
degrades for one cohort. Every answer says where it comes from (``spec``,
``logs`` — the stored profiles and one aggregate query —, ``control plane``,
``registry``); what none of them can tell is an item marked ``gap``, never left
out and never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

import numpy as np

from loopwatch.core.intervals import wilson
from loopwatch.core.profile import ALL, HOUR_OF_DAY, Profile, latency_edges
from loopwatch.core.registry import ModelVersion
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.monitoring.impact import importance_shares
from loopwatch.report.build import ReportInputs
from loopwatch.report.inventory_items import Item, metric_item, pct
from loopwatch.report.questions import harmed, misbehaving, roll_back
from loopwatch.report.series import latency_quantiles, volume_days

__all__ = ["SECTIONS", "Inventory", "Item", "Section", "build_inventory"]

#: The sections, in order: (key, title).
SECTIONS = (
    ("flow", "Inputs → features → model → outputs → actions"),
    ("where_it_runs", "Where it runs"),
    ("owners", "Owners"),
    ("quality", "Current quality"),
    ("system", "System"),
    ("business", "Business"),
    ("misbehaving_now", "How do we know it is misbehaving now?"),
    ("roll_back", "How would we roll back?"),
    ("who_is_harmed", "Who is harmed if it degrades for one cohort?"),
)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Inventory:
    """The inventory of one model over ``[start, end)``."""

    model: str
    start: datetime
    end: datetime
    sections: tuple[Section, ...]
    gaps: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "window": {"start": self.start.isoformat(), "end": self.end.isoformat()},
                "order": [s.key for s in self.sections],
                "sections": {s.key: {"title": s.title, "items": [i.to_dict() for i in s.items]}
                             for s in self.sections},
                "gaps": list(self.gaps)}


def _flow(inputs: ReportInputs, whole: Profile | None, registry: Sequence[ModelVersion]) -> list[Item]:
    spec = inputs.spec
    source = spec.source
    engine = source.engine if source.decisions else "duckdb (the embedded store)"
    where = source.decisions or str(inputs.history.store.location)
    items = [Item("inputs", f"decisions from {where} on {engine}; outcomes ({spec.outcomes.label}) joined by "
                            f"{spec.outcomes.decision_id}", "spec", {"engine": engine, "decisions": where})]
    if whole is not None and whole.n:
        labelled = whole.score.labelled
        items.append(Item("labels", f"{labelled:,} of {whole.n:,} decisions of the window have a label "
                                    f"so far ({pct(labelled / whole.n)})", "logs",
                          {"labelled": labelled, "decisions": whole.n}, gap=labelled == 0))
    measured = importance_shares(spec, whole.by_bin) if whole is not None and whole.by_bin else {}
    features = [{"name": f.name, "dtype": f.dtype, "owner": f.owner, "pii": f.pii,
                 "importance": f.importance, "importance_share": measured.get(f.name)} for f in spec.features]
    top = sorted(spec.features, key=lambda f: -measured.get(f.name, 0.0))[:5]
    items.append(Item("features", f"{len(features)} features; most important: "
                      + ", ".join(f"{f.name} ({pct(measured.get(f.name, 0.0), 0)})" for f in top),
                      "spec", features))
    versions: dict[str, int] = {}
    for v in inputs.versions:
        versions[v.version] = versions.get(v.version, 0) + v.n
    production = [v for v in registry if v.stage == "production"]
    text = ", ".join(f"{name} ({n:,} decisions)" for name, n in sorted(versions.items())) or "none logged"
    if production:
        text += f"; the registry's production version is {production[-1].version}"
    items.append(Item("model", text, "logs", {"versions": versions,
                                             "production": production[-1].version if production else None}))
    if whole is not None and whole.n:
        bins = ScoreBins.from_edges(inputs.profiles.binning.score)
        counts = whole.score.by_label.sum(axis=0).astype(float)
        scores = np.nan_to_num(np.asarray(bins.scores, dtype=float), nan=0.0)
        mean = float((counts * scores).sum() / counts.sum()) if counts.sum() else math.nan
        items.append(Item("outputs", f"score ({spec.columns.score}), mean {mean:.3f}; threshold "
                                     f"{spec.threshold if spec.threshold is not None else 'not in the spec'}",
                          "logs", {"mean_score": mean, "threshold": spec.threshold}))
        actions = inputs.profiles.binning.actions
        per_action = whole.score.by_action.sum(axis=1)
        total = float(per_action.sum())
        shares = {name: int(per_action[i]) for i, name in enumerate(actions)}
        if len(per_action) > len(actions):
            shares["(other)"] = int(per_action[len(actions):].sum())
        items.append(Item("actions", ", ".join(f"{name} {pct(n / total if total else math.nan)}"
                                               for name, n in shares.items())
                          + f"; positive actions: {', '.join(spec.positive_actions)}", "logs", shares))
    return items


def _where(inputs: ReportInputs, whole: Profile | None) -> list[Item]:
    spec = inputs.spec
    items = []
    if spec.serving is None:
        items.append(Item("serving", "the spec has no serving block: where and how the model is served is "
                                     "not recorded", "spec", gap=True))
    else:
        items.append(Item("serving", "served by loopwatch's decision loop (`loopwatch serve`), holdout "
                                     f"{spec.serving.holdout:.1%}", "spec"))
    days = [p.get(ALL) for p in inputs.profiles.by_day]
    counts = [p.n for p in days if p is not None]
    if counts:
        peak = max((p.n for d in inputs.profiles.by_day for c, p in d.items() if c.column == HOUR_OF_DAY),
                   default=0)
        qps = median(counts) / 86400
        items.append(Item("typical rate", f"{qps:.3f} decisions/s (median day: {median(counts):,.0f} "
                                          f"decisions); busiest hour {peak / 3600:.3f}/s", "logs",
                          {"median_day": median(counts), "qps": qps, "peak_hour_qps": peak / 3600}))
    if whole is not None and whole.system.latency_count:
        q = latency_quantiles(whole, latency_edges())
        text = (f"p50 ≤ {q['p50']:.3g} ms, p95 ≤ {q['p95']:.3g} ms, p99 ≤ {q['p99']:.3g} ms "
                f"(upper bin edges; n={whole.system.latency_count:,})")
        items.append(Item("tail latency", text, "logs", q))
    else:
        items.append(Item("tail latency", "latency is not logged", "logs", gap=True))
    return items


def _owners(inputs: ReportInputs, registry: Sequence[ModelVersion]) -> list[Item]:
    spec = inputs.spec
    items = []
    production = [v for v in registry if v.stage == "production"]
    code = spec.owner or (production[-1].owner if production else None)
    items.append(Item("code and model", code or "no owner named in the spec or the registry", "spec",
                      code, gap=code is None))
    by_owner: dict[str, list[str]] = {}
    for f in spec.features:
        by_owner.setdefault(f.owner or "", []).append(f.name)
    named = {k: v for k, v in sorted(by_owner.items()) if k}
    items.append(Item("data", "; ".join(f"{owner}: {', '.join(names)}" for owner, names in named.items())
                      or "no feature names an owner", "spec", named, gap=not named))
    if "" in by_owner:
        items.append(Item("data without an owner", ", ".join(by_owner[""]), "spec", by_owner[""], gap=True))
    sinks = spec.alerts.sinks
    if sinks:
        text = "; ".join(f"{s.name or s.kind} ({s.kind}, from {s.min_severity}"
                         + (f", for {', '.join(s.owners)}" if s.owners else "") + ")" for s in sinks)
        items.append(Item("operations", f"alerts go to {text}", "spec",
                          [{"kind": s.kind, "name": s.name, "min_severity": s.min_severity,
                            "owners": list(s.owners)} for s in sinks]))
    else:
        items.append(Item("operations", "no alert sink in the spec: an alert reaches nobody unless someone "
                                        "runs `loopwatch alerts`", "spec", gap=True))
    return items


def _quality(inputs: ReportInputs) -> list[Item]:
    evaluation = inputs.evaluation
    whole = next((c for c in evaluation.cohorts if c.cohort == ALL), None) if evaluation else None
    if whole is None:
        return [Item("quality", "no labelled decision in the window: quality unknown", "logs", gap=True)]
    state = "mature" if whole.maturity.mature else "not mature yet: recent labels are missing"
    items = [Item("label maturity", f"label coverage {pct(whole.maturity.coverage)} of the window ({state})",
                  "logs", whole.maturity.to_dict(), gap=not whole.maturity.mature)]
    for name in ("roc_auc", "precision", "recall", "calibration_intercept", "brier_score"):
        item = metric_item(name, whole.metrics.get(name))
        if not whole.maturity.mature and not item.gap:  # measured on the labels that came first
            item = Item(item.label, item.text + " — labels not mature yet: an early, biased reading",
                        item.source, item.data, gap=True)
        items.append(item)
    return items


def _system(inputs: ReportInputs, whole: Profile | None) -> list[Item]:
    items = []
    if whole is not None and whole.n:
        low, high = wilson(whole.system.errors, whole.n)
        items.append(Item("errors", f"{whole.system.errors:,} of {whole.n:,} decisions "
                                    f"({pct(whole.system.errors / whole.n, 2)} "
                                    f"[{pct(low, 2)}, {pct(high, 2)}])",
                          "logs", {"errors": whole.system.errors, "n": whole.n, "low": low, "high": high}))
    volume = volume_days(inputs.profiles)
    if volume:
        last = volume[-1]
        expected = (f"expected {last.expected:,.0f} [{last.low:,.0f}, {last.high:,.0f}] from the seasonal "
                    "baseline"
                    if math.isfinite(last.low) else "no seasonal baseline yet (fewer than two earlier weeks)")
        items.append(Item("volume", f"{last.n:,} decisions on {last.day:%Y-%m-%d}; {expected}", "logs",
                          {"day": last.day, "n": last.n, "expected": last.expected, "low": last.low,
                           "high": last.high}, gap=not math.isfinite(last.low)))
    return items


def _business(inputs: ReportInputs) -> list[Item]:
    spec, evaluation = inputs.spec, inputs.evaluation
    whole = next((c for c in evaluation.cohorts if c.cohort == ALL), None) if evaluation else None
    items = [metric_item("decision rate", whole.metrics.get("decision_rate") if whole else None)]
    if spec.value is None:
        items.append(Item("value per decision", "the spec has no value model: the money a decision saves or "
                                                "costs is not known", "spec", gap=True))
    else:
        value = whole.metrics.get("value_per_decision") if whole else None
        items.append(metric_item("value per decision", value))
    cost_n = sum(v.cost_n for v in inputs.versions)
    if cost_n:
        total = sum(v.cost_sum for v in inputs.versions)
        items.append(Item("cost per decision", f"{total / cost_n:.3g} ({cost_n:,} decisions with a cost)",
                          "logs",
                          {"cost_per_decision": total / cost_n, "n": cost_n}))
    else:
        items.append(Item("cost per decision", "cost is not logged", "logs", gap=True))
    return items


def build_inventory(inputs: ReportInputs, registry: Sequence[ModelVersion] = ()) -> Inventory:
    """The inventory of the model of ``inputs`` (gathered by :func:`~loopwatch.report.build.gather`)."""
    window = inputs.profiles.window()
    whole = window.get(ALL)
    parts = {
        "flow": _flow(inputs, whole, registry), "where_it_runs": _where(inputs, whole),
        "owners": _owners(inputs, registry), "quality": _quality(inputs), "system": _system(inputs, whole),
        "business": _business(inputs), "misbehaving_now": misbehaving(inputs),
        "roll_back": roll_back(inputs, registry), "who_is_harmed": harmed(inputs),
    }
    sections = tuple(Section(key, title, tuple(parts[key])) for key, title in SECTIONS)
    gaps = tuple(f"{s.title}: {i.label}: {i.text}" for s in sections for i in s.items if i.gap)
    return Inventory(inputs.spec.model, inputs.window.start, inputs.window.end, sections, gaps)
