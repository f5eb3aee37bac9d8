"""``loopwatch rollout``: where the challenger's rollout stands (status), or take the policy's next step."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import control, render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, parse_time, source_of

if TYPE_CHECKING:
    from loopwatch.learning.rollout import RolloutPlan


class Action(StrEnum):
    """What ``loopwatch rollout`` does."""

    status = "status"
    advance = "advance"


@command()
def rollout(
    action: Annotated[Action, typer.Argument(help="status (changes nothing) or advance")] = Action.status,
    spec: SpecOption = None,
    store: StoreOption = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="TIME", help="Judge the step up to this time \\[default: now]")] = None,
    by: Annotated[str | None, typer.Option(
        "--by", metavar="NAME", help="Who acts, for the audit log \\[default: the current user]")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Judge the current step of the challenger's rollout (shadow, then the spec's canary shares, then
    production) and, with advance, take it: advance, roll back, or hold.

    Every step is audited and sent to the alert sinks as a change event.
    """
    from loopwatch.learning.rollout import apply, plan

    spec_obj, plane = control.open_control(spec, store)
    source = source_of(spec_obj, store)
    with plane:
        step = plan(spec_obj, plane, source, now=parse_time(as_of, "--as-of"))
        if action is Action.advance:
            apply(spec_obj, plane, step, actor=control.actor(by))
    _print(step, fmt, applied=action is Action.advance)


def _print(step: RolloutPlan, fmt: Format, *, applied: bool) -> None:
    if fmt is Format.json:
        render.print_json({**step.to_dict(), "applied": applied and step.verdict in ("advance", "rollback")})
        return
    done = {"advance": "advanced", "rollback": "rolled back", "hold": "held", "idle": "idle"}
    verdict = done[step.verdict] if applied else f"next: {step.verdict}"
    pairs = [("verdict", verdict), *[("why", r) for r in step.reasons]]
    if step.challenger is not None:
        pairs += [("challenger", f"version {step.challenger} in {step.stage}, canary share {step.share:.0%}"),
                  ("step began", f"{step.step_started:%Y-%m-%d %H:%M} UTC" if step.step_started else "-")]
    if step.alias:
        pairs.append(("MLflow", step.alias))
    for name, arm in (("challenger's decisions", step.challenger_arm), ("model's decisions", step.model_arm)):
        if arm is not None:
            latency = "-" if arm.p95_latency_ms is None else f"{arm.p95_latency_ms:.1f} ms"
            pairs.append((name, f"{render.count(arm.decisions)}, errors {render.count(arm.errors)}, positive "
                                f"{render.count(arm.positives)}, p95 latency {latency}"))
    render.print_tables([render.key_values(pairs)], title=f"{step.model} · rollout")
