"""``loopwatch models``: the model registry: list, register, show, promote, archive; all audited."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopwatch.cli import control, render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, parse_time, usage_error

if TYPE_CHECKING:
    from loopwatch.core.registry import ModelVersion


class Action(StrEnum):
    """What ``loopwatch models`` does."""

    list = "list"
    register = "register"
    show = "show"
    promote = "promote"
    archive = "archive"
    import_ = "import"


class Target(StrEnum):
    """The stage ``models promote`` moves a version to."""

    shadow = "shadow"
    canary = "canary"
    production = "production"


ByOption = Annotated[str | None, typer.Option(
    "--by", metavar="NAME", help="Who acts, for the audit log \\[default: the current user]")]


@command()
def models(
    action: Annotated[Action, typer.Argument(
        help="list, register VERSION, show VERSION, promote VERSION --to STAGE, archive VERSION, "
             "import [VERSION] --from models:/NAME@ALIAS")]
        = Action.list,
    version: Annotated[str | None, typer.Argument(metavar="[VERSION]", help="The model version",
                                                  show_default=False)] = None,
    spec: SpecOption = None,
    store: StoreOption = None,
    model: Annotated[str | None, typer.Option(
        "--model", metavar="NAME", help="The model \\[default: the spec's]")] = None,
    artifact: Annotated[str | None, typer.Option(
        "--artifact", metavar="PATH", help="register: the pickled model (joblib or pickle file)")] = None,
    owner: Annotated[str | None, typer.Option(
        "--owner", metavar="NAME", help="register: who owns it \\[default: the spec's owner]")] = None,
    training_from: Annotated[str | None, typer.Option(
        "--training-from", metavar="TIME", help="register: start of the training window")] = None,
    training_to: Annotated[str | None, typer.Option(
        "--training-to", metavar="TIME", help="register: end of the training window")] = None,
    training_data: Annotated[Path | None, typer.Option(
        "--training-data", metavar="PATH",
        help="register: file or directory of the training data, fingerprinted by SHA-256")] = None,
    fingerprint: Annotated[str | None, typer.Option(
        "--data-fingerprint", metavar="TEXT",
        help="register: the training data's fingerprint, as given")] = None,
    features: Annotated[str | None, typer.Option(
        "--features", metavar="NAME,...",
        help="register: the features it takes \\[default: the spec's]")] = None,
    spec_version: Annotated[str | None, typer.Option(
        "--spec-version", metavar="TEXT", help="register: the spec version it was built for")] = None,
    metrics: Annotated[Path | None, typer.Option(
        "--metrics", metavar="PATH",
        help='register: JSON of metrics per cohort, {"all": {"auc": 0.91}, "region=eu": {...}}')] = None,
    description: Annotated[str | None, typer.Option(
        "--description", metavar="TEXT", help="register: what changed in this version")] = None,
    to: Annotated[Target | None, typer.Option("--to", help="promote: the stage")] = None,
    from_uri: Annotated[str | None, typer.Option(
        "--from", metavar="URI",
        help="import: models:/NAME/N or models:/NAME@ALIAS of an MLflow registry")] = None,
    mlflow_uri: Annotated[str | None, typer.Option(
        "--mlflow-uri", metavar="URI",
        help="import, promote, archive: the MLflow tracking and registry URI; a version imported from "
             "MLflow gets the alias of its new stage there (production: @champion) "
             "\\[default: MLFLOW_TRACKING_URI]")] = None,
    follow_alias: Annotated[bool, typer.Option(
        "--follow-alias",
        help="import: move it to the stage its MLflow alias maps to (champion: production)")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="list: include archived versions")] = False,
    by: ByOption = None,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why, for the audit log")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """List the model's registered versions, register one, show one, promote or archive it.

    Every registration and stage change is audited and sent to the alert sinks as a change event.
    """
    from loopwatch.storage.control.registry import ModelRegistry

    if action is not Action.list and action is not Action.import_ and version is None:
        usage_error("VERSION", f"models {action} needs a version")
    if action is Action.promote and to is None:
        usage_error("--to", "models promote needs --to shadow|canary|production")
    if action in (Action.promote, Action.archive) and not reason.strip():
        usage_error("--reason", f"models {action} needs --reason: it goes to the audit log and the sinks")
    spec_obj, plane = control.open_control(spec, store)
    name = model or spec_obj.model
    who = control.actor(by)
    with plane:
        registry = ModelRegistry(plane.engine, sinks=spec_obj.alerts.sinks)
        if action is Action.list:
            found = registry.versions(name, include_archived=show_all)
            _print_list(name, found, fmt)
            return
        if action is Action.import_:
            from loopwatch.learning.mlflow_import import import_version

            if from_uri is None:
                usage_error("--from", "models import needs --from models:/NAME/N or models:/NAME@ALIAS")
            version = import_version(registry, from_uri, model=name, version=version, tracking_uri=mlflow_uri,
                                     actor=who, follow_alias=follow_alias,
                                     default_features=tuple(f.name for f in spec_obj.features)).version
        assert version is not None
        if action is Action.register:
            if artifact is None:
                usage_error("--artifact", "models register needs --artifact PATH (the pickled model)")
            fields: dict[str, Any] = {
                "model": name, "version": version, "artifact": _artifact(artifact),
                "artifact_sha256": None if "://" in artifact else _sha256(Path(artifact).expanduser()),
                "owner": owner or spec_obj.owner,
                "training_start": parse_time(training_from, "--training-from"),
                "training_end": parse_time(training_to, "--training-to"),
                "data_fingerprint": fingerprint or (_fingerprint(training_data) if training_data else None),
                "features": _features(features, [f.name for f in spec_obj.features]),
                "spec_version": spec_version, "metrics": _metrics(metrics) if metrics else {},
                "description": description, "source": "cli"}
            from loopwatch.storage.control.registry import new_version

            registry.register(new_version(**fields), actor=who, reason=reason or "registered")
        elif action is Action.promote:
            assert to is not None
            registry.move(name, version, to.value, actor=who, reason=reason)
        elif action is Action.archive:
            registry.move(name, version, "archived", actor=who, reason=reason)
        shown = registry.get(name, version)
        if action in (Action.promote, Action.archive):
            _write_alias(shown, mlflow_uri)
        history = [e for e in plane.audit(model=name) if e.detail.get("version") == version
                   and e.action in ("model_registered", "stage_changed")]
    _print_one(shown, history, fmt)


def _write_alias(version: ModelVersion, uri: str | None) -> None:
    """Write the version's new stage back to the MLflow registry it came from, if it came from one."""
    from loopwatch.learning.mlflow_aliases import mlflow_origin, write_alias

    if mlflow_origin(version.source) is None:
        return
    done = write_alias(version, tracking_uri=uri)
    render.err().print(done)


def _artifact(path: str) -> str:
    if "://" in path:
        return path
    found = Path(path).expanduser()
    if not found.is_file():
        usage_error("--artifact", f"{path}: no such file")
    return str(found.resolve())


def _sha256(path: Path) -> str:
    from loopwatch.learning.artifacts import file_sha256

    return file_sha256(path)


def _fingerprint(path: Path) -> str:
    """SHA-256 of a file, or of a directory's files (relative names and bytes, in name order)."""
    if not path.exists():
        usage_error("--training-data", f"{path}: no such file or directory")
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode() + b"\0")
        with f.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def _features(given: str | None, spec_features: list[str]) -> list[str]:
    if given is None:
        return spec_features
    names = [n.strip() for n in given.split(",") if n.strip()]
    unknown = [n for n in names if n not in spec_features]
    if unknown:
        usage_error("--features", f"not features of the spec: {unknown} (the spec has {spec_features})")
    return names


def _metrics(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        usage_error("--metrics", f"{path}: {exc.strerror or exc}")
    except json.JSONDecodeError as exc:
        usage_error("--metrics", f"{path}: not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}")
    if not isinstance(data, dict):
        usage_error("--metrics", f'{path}: expected {{"cohort": {{"metric": number}}}}; '
                                 f"got {type(data).__name__}")
    return data


def _print_list(model: str, found: list[ModelVersion], fmt: Format) -> None:
    if fmt is Format.json:
        render.print_json({"model": model, "versions": [v.to_dict() for v in found]})
        return
    if not found:
        render.out().print(f"{model}: no versions registered (see `loopwatch models register`)", markup=False)
        return
    columns = [render.Column("version", "left", key=True), render.Column("stage", "left"),
               render.Column("alias", "left"), render.Column("owner", "left"),
               render.Column("registered", "left"), render.Column("since", "left"),
               render.Column("artifact", "left", wrap=True)]
    cells = [[v.version, v.stage, v.alias, v.owner or "-", f"{v.registered_at:%Y-%m-%d %H:%M}",
              f"{v.stage_changed_at:%Y-%m-%d %H:%M}", v.artifact] for v in found]
    render.print_tables(render.table(columns, cells), title=f"{model} · model versions")


def _print_one(v: ModelVersion, history: list[Any], fmt: Format) -> None:
    if fmt is Format.json:
        render.print_json({**v.to_dict(), "history": [
            {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "from": e.from_state,
             "to": e.to_state, "reason": e.reason} for e in history]})
        return

    def iso(value: Any) -> str:
        return "-" if value is None else f"{value:%Y-%m-%d %H:%M}"

    pairs = [("stage", f"{v.stage} (MLflow alias {v.alias})"), ("artifact", v.artifact),
             ("owner", v.owner or "-"),
             ("training window", f"{iso(v.training_start)} to {iso(v.training_end)}"),
             ("data fingerprint", v.data_fingerprint or "-"), ("features", ", ".join(v.features) or "-"),
             ("spec version", v.spec_version or "-"),
             ("registered", f"{iso(v.registered_at)} by {v.registered_by}"),
             ("description", v.description or "-")]
    pairs += [(f"metrics {cohort}", ", ".join(f"{k} {render.number(x)}" for k, x in values.items()))
              for cohort, values in v.metrics.items()]
    pairs += [(f"{e.at:%Y-%m-%d %H:%M}", f"{e.from_state or 'new'} → {e.to_state} by {e.actor}: {e.reason}")
              for e in history]
    render.print_tables([render.key_values(pairs)], title=f"{v.model} · version {v.version}")
