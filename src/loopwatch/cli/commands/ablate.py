"""``loopwatch ablate``: retrain without a feature or group; quality lost against latency and price saved."""

from __future__ import annotations

from typing import Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import (
    Format,
    FormatOption,
    SpecOption,
    StoreOption,
    command,
    open_source,
    parse_time,
    usage_error,
)


@command()
def ablate(
    feature: Annotated[list[str] | None, typer.Option(
        "--feature", metavar="NAME", help="A feature to remove (repeat for several)")] = None,
    group: Annotated[str | None, typer.Option(
        "--group", metavar="NAME", help="A group of the spec's learning.feature_groups to remove")] = None,
    train_from: Annotated[str | None, typer.Option(
        "--train-from", metavar="TIME",
        help="First decision to train on \\[default: the reference's start]")] = None,
    train_to: Annotated[str | None, typer.Option(
        "--train-to", metavar="TIME",
        help="End of the training window, exclusive \\[default: the reference's]")] = None,
    start: Annotated[str | None, typer.Option(
        "--from", metavar="TIME", help="First held-out decision \\[default: the end of training]")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", metavar="TIME", help="End of the held-out window, exclusive \\[default: 14 days on]")] = None,
    spec: SpecOption = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Retrain without a feature or group: quality lost (paired, on held-out decisions) against cost saved."""
    from loopwatch.core.window import Window
    from loopwatch.learning.ablation import DEFAULT_HELD_OUT
    from loopwatch.learning.ablation import ablate as run
    from loopwatch.storage.profile_history import ProfileHistory

    if not feature and group is None:
        usage_error("--feature", "name a feature to remove (--feature or --group)")
    given = (("--train-from", train_from), ("--train-to", train_to), ("--from", start), ("--to", end))
    times = {opt: parse_time(text, opt) for opt, text in given}
    spec_obj, source = open_source(spec, store)
    reference = ProfileHistory(source).reference_window()
    train_start = times["--train-from"] or reference.start
    train_end = times["--train-to"] or (reference.end if times["--train-from"] is None
                                        else train_start + (reference.end - reference.start))
    if train_end <= train_start:
        usage_error("--train-to", f"must be after the training window's start ({train_start.isoformat()})")
    held_start = times["--from"] or train_end
    held_end = times["--to"] or held_start + DEFAULT_HELD_OUT
    if held_end <= held_start:
        usage_error("--to", f"must be after the held-out window's start ({held_start.isoformat()})")
    if held_start < train_end:
        usage_error("--from", f"the held-out window must start at or after the training window's end "
                              f"({train_end.isoformat()})")
    result = run(spec_obj, features=feature or (), group=group, train=Window(train_start, train_end),
                 held_out=Window(held_start, held_end), store=source)
    if fmt is Format.json:
        render.print_json(result.to_dict())
    else:
        render.out().print(result.report(), markup=False, soft_wrap=True)
