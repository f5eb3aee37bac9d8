"""The inventory's three questions about one model: how do we know it is misbehaving now, how would we
roll back, who is harmed if it degrades for one cohort — each answered from the spec, the logs, the
control plane and the registry, with what none of them records marked as a gap."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from loopwatch.core.profile import ALL
from loopwatch.core.registry import ModelVersion
from loopwatch.core.spec import parse_duration
from loopwatch.monitoring.checks import CHECKS
from loopwatch.monitoring.job import build_checks
from loopwatch.report.build import ReportInputs
from loopwatch.report.inventory_items import Item, metric_text, pct

__all__ = ["harmed", "misbehaving", "roll_back"]


def misbehaving(inputs: ReportInputs) -> list[Item]:
    spec = inputs.spec
    names = [c for c in CHECKS.names() if c not in spec.checks.disabled]
    checks = [c.name for c in build_checks(spec, names)]
    items = [Item("checks", f"{len(checks)} checks run on every watch: {', '.join(checks)}"
                  + (f" ({', '.join(spec.checks.disabled)} disabled)" if spec.checks.disabled else ""),
                  "spec", checks)]
    cadence = parse_duration(spec.inputs.cadence)
    if inputs.last_run is None:
        items.append(Item("monitoring runs", "no watch run is recorded: nothing checks this model (schedule "
                                             "`loopwatch watch`)", "control plane", gap=True))
    else:
        late = inputs.window.end - inputs.last_run > cadence + timedelta(hours=1)
        items.append(Item("monitoring runs", f"last watch run {inputs.last_run:%Y-%m-%d %H:%M} UTC"
                          + (f", more than {spec.inputs.cadence} before {inputs.window.end:%Y-%m-%d}: "
                             "monitoring has stopped" if late else ""), "control plane", inputs.last_run,
                          gap=late))
    live = [a for a in inputs.alerts if a.resolved_at is None]
    pages = [a for a in live if str(a.severity) == "page"]
    items.append(Item("open alerts", f"{len(live)} open ({len(pages)} paging)"
                      + "".join(f"; #{a.id} {a.headline}" for a in pages[:3]), "control plane",
                      [{"id": a.id, "severity": str(a.severity), "headline": a.headline, "owner": a.owner}
                       for a in live]))
    if not spec.alerts.sinks:
        items.append(Item("notification", "no alert sink: a page is seen only by someone who looks", "spec",
                          gap=True))
    return items


def roll_back(inputs: ReportInputs, registry: Sequence[ModelVersion]) -> list[Item]:
    spec = inputs.spec
    items = []
    production = [v for v in registry if v.stage == "production"]
    earlier = [v for v in registry if v.stage == "archived"]
    if production and earlier:
        target = earlier[-1].version
        items.append(Item("previous version", f"roll back from {production[-1].version} to {target}: "
                                              f"`loopwatch flags set --kind rollback --version {target}`",
                          "registry", {"production": production[-1].version, "previous": target}))
    elif registry:
        items.append(Item("previous version", "the registry holds no earlier version to go back to",
                          "registry", [v.version for v in registry], gap=True))
    else:
        logged = sorted({v.version for v in inputs.versions})
        items.append(Item("previous version", "no version is registered (`loopwatch models register`); "
                                              f"the logs show {', '.join(logged) or 'none'}, but not which "
                                              "one was good",
                          "registry", logged, gap=True))
    rules = spec.alerts.mitigations
    if rules:
        items.append(Item("automatic mitigations", "; ".join(f"a {r.on} page sets {r.action}" for r in rules),
                          "spec", [r.model_dump(mode="json") for r in rules]))
    else:
        items.append(Item("automatic mitigations", "none in the spec: every mitigation is set by hand "
                                                   "(`loopwatch flags set`)", "spec", gap=True))
    active = [m for m in inputs.flags if m.reverted_at is None]
    items.append(Item("flags in force", "; ".join(f"{m.what} by {m.who}" for m in active) or "none",
                      "control plane", [m.what for m in active]))
    return items


def harmed(inputs: ReportInputs) -> list[Item]:
    spec = inputs.spec
    if not spec.cohorts and not spec.entities:
        return [Item("cohorts", "the spec names no cohort column: who is harmed cannot be told apart", "spec",
                     gap=True)]
    window = inputs.profiles.window()
    total = window[ALL].n if ALL in window else 0
    items = []
    for column in (*spec.cohorts, *spec.entities):
        rows = sorted(((str(c.value), p) for c, p in window.items() if c.column == column),
                      key=lambda r: -r[1].n)
        data: list[dict[str, Any]] = []
        for value, p in rows:
            at_stake = float(p.score.value_sum[1].sum()) if spec.value is not None else None
            data.append({"value": value, "decisions": p.n, "share": p.n / total if total else None,
                         "positives": int(p.score.by_label[1].sum()), "value_at_stake": at_stake})
        text = ", ".join(f"{value} {pct(p.n / total if total else math.nan, 0)}" for value, p in rows[:6])
        if len(data) > 6:
            text += f" and {len(data) - 6} more"
        items.append(Item(f"by {column}", text or "no decision in the window", "logs", data, gap=not data))
    if inputs.evaluation is not None:
        # per cohort column, the surest gap: the one whose interval's lower end is highest
        gaps = []
        for column in sorted({g.column for g in inputs.evaluation.fairness}):
            found = [g for g in inputs.evaluation.fairness if g.column == column and math.isfinite(g.gap)]
            if found:
                gaps.append(max(found, key=lambda g: (g.interval[0] if math.isfinite(g.interval[0]) else -1.0,
                                                      g.metric)))
        for g in gaps:
            surely = math.isfinite(g.interval[0]) and g.interval[0] > 0
            text = (f"{g.column}={g.low_value} {metric_text(g.low)} against {g.column}={g.high_value} "
                    f"{metric_text(g.high)}; gap {g.gap:.3f} [{g.interval[0]:.3f}, {g.interval[1]:.3f}]"
                    + ("" if surely else " (its interval holds 0: no sure gap)"))
            items.append(Item(f"{g.column}: largest gap ({g.metric})", text, "logs", g.to_dict()))
        if not gaps:
            items.append(Item("gaps between cohorts", "no cohort has enough labelled decisions to compare",
                              "logs", gap=True))
    return items
