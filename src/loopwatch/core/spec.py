"""The spec: one monitored model, declared in ``loopwatch.yaml`` and validated.

A spec names the columns of the decision log and their roles (id, timestamp,
features, cohorts, score, action, threshold), the outcome columns, where the
store lives and the reference window. Every error names the key path and says
what was expected and what was received::

    features[3].dtype: expected one of 'numeric', 'categorical', 'boolean'; got 'numerc'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from loopwatch.core.checks_spec import Checks
from loopwatch.core.control import Control
from loopwatch.core.durations import parse_duration
from loopwatch.core.feature_spec import Feature, column_name, lineage_cycle
from loopwatch.core.gate_spec import Gate
from loopwatch.core.inputs import Inputs
from loopwatch.core.learning_spec import Learning
from loopwatch.core.monitoring_spec import Monitoring, Slo
from loopwatch.core.rollout_spec import Rollout
from loopwatch.core.serving import Serving
from loopwatch.core.sinks import AlertSinks
from loopwatch.core.source_spec import Source
from loopwatch.core.ui_spec import Ui
from loopwatch.core.value_spec import ValueModel
from loopwatch.errors import SpecError

__all__ = [
    "DecisionColumns",
    "Feature",
    "Monitoring",
    "OutcomeColumns",
    "Reference",
    "Slo",
    "Spec",
    "ValueModel",
    "load_spec",
    "parse_duration",
    "spec_from_mapping",
]

#: The column that holds the model id in the store; it partitions the Parquet dataset.
MODEL_COLUMN = "model"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecisionColumns(_Model):
    """Names of the decision log's columns, by role. ``None`` means not logged."""

    decision_id: str = "decision_id"
    timestamp: str = "timestamp"
    model_version: str | None = "model_version"
    score: str = "score"
    action: str | None = "action"
    threshold: str | None = "threshold"
    latency: str | None = "latency_ms"
    cost: str | None = "cost"
    error: str | None = "error"
    source: str | None = "source"

    @field_validator("*")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else column_name(value)


class OutcomeColumns(_Model):
    """Names of the outcome columns. Outcomes join to decisions by ``decision_id``."""

    decision_id: str = "decision_id"
    observed_at: str = "observed_at"
    label: str = "label"
    value: str | None = "value"
    #: where a label came from (``review`` for a person's review, ``chargeback``...); not logged
    #: unless named, and a store written without it still reads
    label_source: str | None = None

    @field_validator("*")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else column_name(value)


class Reference(_Model):
    """The baseline window: fixed dates (``start``/``end``) or a trailing duration (``30d``)."""

    start: datetime | None = None
    end: datetime | None = None
    trailing: str | None = None

    @field_validator("trailing")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Reference:
        fixed = self.start is not None or self.end is not None
        if fixed and self.trailing is not None:
            raise ValueError("give either start and end, or trailing; not both")
        if fixed and (self.start is None or self.end is None):
            raise ValueError("a fixed reference needs both start and end")
        if not fixed and self.trailing is None:
            raise ValueError("give either start and end, or trailing (e.g. '30d')")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(f"start must be before end; got {self.start} >= {self.end}")
        return self


class Spec(_Model):
    """One monitored model.

    Examples
    --------
    >>> spec = Spec.model_validate({
    ...     "model": "card-fraud",
    ...     "features": [{"name": "amount", "dtype": "numeric"}],
    ...     "cohorts": ["region"],
    ... })
    >>> spec.feature("amount").dtype
    'numeric'
    """

    model: str = Field(min_length=1)
    owner: str | None = None
    description: str | None = None
    store: str = "./loopwatch-data"
    #: Where decisions and outcomes are read from (``core/source_spec.py``): the store, or tables.
    source: Source = Source()
    timezone: str = "UTC"
    columns: DecisionColumns = DecisionColumns()
    features: tuple[Feature, ...]
    cohorts: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    positive_actions: tuple[str, ...] = ("block", "review")
    threshold: float | None = None
    outcomes: OutcomeColumns = OutcomeColumns()
    #: How far apart an outcome may be observed from its decision and still count in profiles
    #: (``30d``); outcomes farther away are ignored and counted. ``None``: every outcome counts,
    #: and a daily profile run reads every stored outcome.
    label_horizon: str | None = None
    reference: Reference = Reference(trailing="30d")
    value: ValueModel | None = None
    monitoring: Monitoring = Monitoring()
    #: Each check's parameters (``core/checks_spec.py``).
    checks: Checks = Checks()
    #: The prediction loop's columns, experiment shares and cost model (``core/serving.py``);
    #: without it the decision log has no serving columns.
    serving: Serving | None = None
    #: Where alert state lives and how alerts resolve (``core/control.py``).
    control: Control = Control()
    #: Where alert notifications go: sinks and retries (``core/sinks.py``).
    alerts: AlertSinks = AlertSinks()
    #: What well-formed input looks like: score range, cadence, cohort values (``core/inputs.py``).
    inputs: Inputs = Inputs()
    #: What a model version must pass before it is deployed (``core/gate_spec.py``).
    gate: Gate | None = None
    #: How a challenger is rolled out and rolled back (``core/rollout_spec.py``).
    rollout: Rollout = Rollout()
    #: The champion/challenger rule and the retraining hook (``core/learning_spec.py``).
    learning: Learning = Learning()
    #: Who may open the dashboard and act from it; tokens in environment variables (``core/ui_spec.py``).
    ui: Ui = Ui()

    #: Directory the spec was loaded from; relative store paths resolve against it.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("model")
    @classmethod
    def _model_id(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", value):
            raise ValueError(
                f"expected letters, digits, '.', '_' or '-' (it names a directory); got {value!r}"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as 'UTC'; got {value!r}") from None
        return value

    @field_validator("label_horizon")
    @classmethod
    def _horizon(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def label_horizon_seconds(self) -> int | None:
        """``label_horizon`` in whole seconds, or ``None`` when every outcome counts."""
        return None if self.label_horizon is None else int(parse_duration(self.label_horizon).total_seconds())

    @field_validator("cohorts", "entities")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(column_name(v) for v in value)

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        if not self.features:
            raise ValueError("features: at least one feature is required")
        features = {f.name: f for f in self.features}
        if len(features) != len(self.features):
            dup = sorted({f.name for f in self.features if [g.name for g in self.features].count(f.name) > 1})
            raise ValueError(f"features: duplicate names {dup}")
        roles = {k: v for k, v in self.columns.model_dump().items() if v is not None}
        seen: dict[str, str] = {MODEL_COLUMN: "the model column"}
        for role, name in roles.items():
            if name in seen:
                raise ValueError(f"columns.{role}: {name!r} is already used by {seen[name]}")
            seen[name] = f"columns.{role}"
        for role, name in (self.serving.column_roles() if self.serving else {}).items():
            if name in seen:
                raise ValueError(f"serving.columns.{role}: {name!r} is already used by {seen[name]}")
            seen[name] = f"serving.columns.{role}"
        for i, feature in enumerate(self.features):
            if feature.name in seen:
                raise ValueError(
                    f"features[{i}].name: {feature.name!r} is already used by {seen[feature.name]}"
                )
            seen[feature.name] = f"features[{i}]"
        if cycle := lineage_cycle(self.features):
            raise ValueError(f"features: derived_from goes round in a cycle: {' -> '.join(cycle)}")
        if self.columns.action and not self.positive_actions:
            raise ValueError(
                "positive_actions: expected at least one action that counts as a positive decision "
                "(e.g. [block]); or set columns.action: null to decide by the score and threshold")
        for key in ("cohorts", "entities"):
            for i, name in enumerate(getattr(self, key)):
                found = features.get(name)
                if found is not None and found.stored_dtype == "numeric":
                    raise ValueError(f"{key}[{i}]: {name!r} is a numeric feature; expected a "
                                     "categorical or boolean feature or a column of its own")
                if found is not None and found.pii == "drop":
                    raise ValueError(f"{key}[{i}]: {name!r} has pii: drop, so it is never stored")
                if found is None and name in seen:
                    raise ValueError(f"{key}[{i}]: {name!r} is already used by {seen[name]}")
        if self.gate is not None:
            self.gate.check_inputs({f.name: f.dtype for f in self.features})
        return self

    def feature(self, name: str) -> Feature:
        """The feature called ``name``; ``KeyError`` naming the known ones otherwise."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"no feature {name!r}; the spec has {[f.name for f in self.features]}")

    @property
    def stored_features(self) -> tuple[Feature, ...]:
        """Features that reach the store (all but ``pii: drop``)."""
        return tuple(f for f in self.features if f.pii != "drop")

    @property
    def cohort_only_columns(self) -> tuple[str, ...]:
        """Cohort and entity columns that are not features (stored as strings)."""
        names = {f.name for f in self.features}
        out: list[str] = []
        for name in (*self.cohorts, *self.entities):
            if name not in names and name not in out:
                out.append(name)
        return tuple(out)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def store_location(self, override: str | None = None) -> str:
        """Where the store lives: ``override`` (a setting) or ``store``, relative to the spec."""
        location = override or self.store
        if "://" in location or Path(location).is_absolute():
            return location
        return str((self.base_dir / location).resolve())

    def to_yaml(self) -> str:
        """The spec as YAML that :func:`load_spec` reads back to an equal spec."""
        data = self.model_dump(mode="json", exclude={"base_dir"}, exclude_none=True)
        for feature in data["features"]:  # the registry's keys, written only when given
            for key in ("cost", "expectations", "derived_from"):
                if not feature[key]:
                    del feature[key]
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "function_")) or part in {"tagged-union"}:
            continue
        elif not part.isidentifier():
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the model that sits at ``loc`` (for 'did you mean')."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)),
                       None)
        if current is None:
            return []
    return [k for k, f in getattr(current, "model_fields", {}).items() if not f.exclude]


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    got = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}; got {got!r}"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in {"float_parsing", "float_type"}:
        return f"expected a number; got {got!r}"
    if kind in {"string_type"}:
        return f"expected a string; got {got!r}"
    if kind in {"tuple_type", "list_type"}:
        return f"expected a list; got {got!r}"
    if kind == "model_type" or kind == "dict_type":
        return f"expected a mapping of keys; got {got!r}"
    return f"{error['msg']}; got {got!r}"


def _format(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = _location(loc)
        if error["type"] == "extra_forbidden":
            known = _known_keys(Spec, loc)
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(known)}"
            lines.append(f"{where}: unknown key; {hint}")
        else:
            lines.append(f"{where}: {_describe(error)}")
    return "\n".join(lines)


def spec_from_mapping(data: Any, *, base_dir: Path = Path("."), source: str = "spec") -> Spec:
    """Validate a parsed spec; :class:`SpecError` lists every problem with its key path."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: expected a mapping of keys at the top level; got {data!r}")
    try:
        return Spec.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        raise SpecError(f"{source} is invalid:\n{_format(exc)}") from exc


def load_spec(path: str | Path) -> Spec:
    """Read and validate a ``loopwatch.yaml``.

    Raises
    ------
    SpecError
        The file is missing, is not YAML, or does not describe a valid spec; the
        message names the file and each key path at fault.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            f"no spec at {path}; write one with 'loopwatch init' or pass --spec PATH"
        ) from None
    except OSError as exc:
        raise SpecError(f"cannot read the spec {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    return spec_from_mapping(data, base_dir=path.parent.resolve(), source=str(path))
