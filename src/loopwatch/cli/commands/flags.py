"""``loopwatch flags``: the mitigations in force (list), set one by hand, revert one; all audited."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from loopwatch.cli import control, render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, usage_error


class Action(StrEnum):
    """What ``loopwatch flags`` does."""

    list = "list"
    set = "set"
    revert = "revert"


class Kind(StrEnum):
    """The mitigation ``flags set`` puts in force."""

    baseline = "baseline"
    rollback = "rollback"
    disable_feature = "disable_feature"
    review_threshold = "review_threshold"


@command()
def flags(
    action: Annotated[Action, typer.Argument(help="list, set --kind ..., revert ID")] = Action.list,
    flag_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="The flag of revert",
                                                  show_default=False)] = None,
    spec: SpecOption = None,
    store: StoreOption = None,
    kind: Annotated[Kind | None, typer.Option("--kind", help="set: the mitigation")] = None,
    version: Annotated[str | None, typer.Option("--version", metavar="VERSION",
                                                help="set --kind rollback: the model version")] = None,
    feature: Annotated[str | None, typer.Option("--feature", metavar="NAME",
                                                help="set --kind disable_feature: the feature")] = None,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", metavar="SCORE",
        help="set --kind review_threshold: review from this score up")] = None,
    cohort: Annotated[str | None, typer.Option(
        "--cohort", metavar="COLUMN=VALUE", help="set --kind review_threshold: only here")] = None,
    expires: Annotated[str | None, typer.Option("--expires", metavar="DURATION",
                                                help="set: end by itself after 12h, 2d...")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="list: include reverted flags")] = False,
    by: Annotated[str | None, typer.Option(
        "--by", metavar="NAME", help="Who acts, for the audit log \\[default: the current user]")] = None,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why, for the audit log")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """List the mitigation flags of the model, set one, or revert one; every change is audited."""
    from loopwatch.core.flags import parse_mitigations
    from loopwatch.core.spec import parse_duration
    from loopwatch.storage.control import ControlFlags

    if action is Action.revert and flag_id is None:
        usage_error("ID", "flags revert needs the id of a flag (see `loopwatch flags list`)")
    if action is not Action.revert and flag_id is not None:
        usage_error("ID", f"flags {action} takes no flag id; got {flag_id!r}")
    if action is Action.set and kind is None:
        usage_error("--kind", "flags set needs --kind baseline|rollback|disable_feature|review_threshold")
    if action is Action.set and not reason.strip():
        usage_error("--reason", "flags set needs --reason: it goes to the audit log and to the loop")
    spec_obj, plane = control.open_control(spec, store)
    with plane:
        store_flags = ControlFlags(plane.engine)
        who = control.actor(by)
        if action is Action.set:
            assert kind is not None
            now = datetime.now(UTC)
            data: dict[str, Any] = {"kind": kind.value, "id": f"{kind.value}-{now:%Y%m%dT%H%M%S}",
                                    "model": spec_obj.model, "who": who, "why": reason,
                                    "when": now.isoformat()}
            if expires is not None:
                try:
                    data["expires"] = (now + parse_duration(expires)).isoformat()
                except ValueError as exc:
                    usage_error("--expires", str(exc))
            extra = {"version": version, "feature": feature, "threshold": threshold, "cohort": cohort}
            data.update({k: v for k, v in extra.items() if v is not None})
            (mitigation,) = parse_mitigations([data], source="flags set")
            store_flags.set(mitigation, reason=reason)
        elif action is Action.revert:
            assert flag_id is not None
            store_flags.revert(flag_id, actor=who, reason=reason)
        rows = store_flags.rows(spec_obj.model, include_reverted=show_all or action is not Action.list)
    if action is not Action.list:
        rows = [r for r in rows if r["id"] == (flag_id or mitigation.id)]
    _print(spec_obj.model, rows, fmt)


def _print(model: str, rows: list[dict[str, Any]], fmt: Format) -> None:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    found = [{"id": r["id"], "kind": r["kind"], "state": r["state"], "automatic": r["automatic"],
              "alert_id": None if r["alert_id"] is None else str(r["alert_id"]), "set_at": iso(r["set_at"]),
              "set_by": r["set_by"], "reverted_at": iso(r["reverted_at"]), "reverted_by": r["reverted_by"],
              "mitigation": r["mitigation"]} for r in rows]
    if fmt is Format.json:
        render.print_json({"model": model, "flags": found})
        return
    if not found:
        render.out().print(f"{model}: no flags in force", markup=False)
        return
    columns = [render.Column("id", "left", key=True), render.Column("kind", "left"),
               render.Column("state", "left"), render.Column("by", "left"), render.Column("alert"),
               render.Column("what", "left", wrap=True)]
    cells = []
    for f in found:
        m = f["mitigation"]
        what = {k: v for k, v in m.items()
                if k in ("version", "share", "feature", "threshold", "cohort", "expires")}
        detail = ", ".join(f"{k} {v}" for k, v in what.items() if v is not None)
        cells.append([f["id"], f["kind"], f["state"] + (" (automatic)" if f["automatic"] else ""),
                      f["set_by"], f"#{f['alert_id']}" if f["alert_id"] else "-",
                      f"{detail + ' · ' if detail else ''}{m['why']}"])
    render.print_tables(render.table(columns, cells), title=f"{model} · flags")
