"""Mitigation flags in the control plane: set, reverted, audited, and read by the prediction loop.

:class:`ControlFlags` writes flags (by a person, ``loopwatch flags set``, or
automatically on a page, :func:`auto_mitigate`) and reverts them; every change is
an audit-log row in the same transaction. :class:`Flags` is the loop's
:class:`~loopwatch.core.flags.FlagReader` (``loopwatch.Flags``): it keeps a
snapshot per model for ``ttl`` seconds, so the loop sees a change within seconds
without a restart, and keeps serving the last good snapshot while the database
is unreachable (a broken control plane must not change what the model does).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from loopwatch.core.automations import AutoMitigation
from loopwatch.core.findings import Severity
from loopwatch.core.flags import FlagSet, Mitigation, parse_mitigations
from loopwatch.core.sinks import Sink
from loopwatch.core.spec import Spec, parse_duration
from loopwatch.errors import InputError
from loopwatch.storage.control.database import control_url, open_engine
from loopwatch.storage.control.outbox import enqueue_change
from loopwatch.storage.control.records import Transition
from loopwatch.storage.control.tables import alerts, audit_log, flags

__all__ = ["ControlFlags", "Flags", "auto_mitigate", "revert_flag", "set_flag"]

_RAISING = ("opened", "reopened", "escalated")


def _audit(con: Connection, *, model: str, alert_id: int | None, actor: str, action: str, reason: str,
           detail: dict[str, Any], run_time: datetime | None = None) -> None:
    con.execute(insert(audit_log).values(at=datetime.now(UTC), model=model, alert_id=alert_id, actor=actor,
                                         action=action, from_state=None, to_state=None, reason=reason,
                                         run_time=run_time, detail=detail))


def _insert(con: Connection, m: Mitigation, *, automatic: bool, alert_id: int | None,
            run_time: datetime | None, reason: str) -> None:
    if con.execute(select(flags.c.id).where(flags.c.id == m.id)).first() is not None:
        raise InputError(f"flag {m.id}: a flag with this id exists already")
    con.execute(insert(flags).values(
        id=m.id, model=m.model, kind=m.kind, mitigation=m.model_dump(mode="json"), state="active",
        automatic=automatic, alert_id=alert_id, run_time=run_time, set_at=datetime.now(UTC), set_by=m.who))
    _audit(con, model=m.model, alert_id=alert_id, actor=m.who, action="mitigation_set", reason=reason,
           detail={"flag": m.model_dump(mode="json"), "automatic": automatic}, run_time=run_time)


def set_flag(con: Connection, mitigation: Mitigation, *, reason: str = "") -> None:
    """:meth:`ControlFlags.set` inside the caller's transaction (a rollout step changes a stage with it)."""
    _insert(con, mitigation, automatic=False, alert_id=None, run_time=None, reason=reason or mitigation.why)


def revert_flag(con: Connection, flag_id: str, *, actor: str, reason: str = "") -> None:
    """:meth:`ControlFlags.revert` inside the caller's transaction."""
    if not actor.strip():
        raise InputError("who reverts a flag must be named (--by); got an empty name")
    row = con.execute(select(flags).where(flags.c.id == flag_id).with_for_update()).mappings().first()
    if row is None:
        raise InputError(f"flag {flag_id}: no such flag (see `loopwatch flags list`)")
    if row["state"] != "active":
        raise InputError(f"flag {flag_id} is already reverted")
    con.execute(update(flags).where(flags.c.id == flag_id).values(
        state="reverted", reverted_at=datetime.now(UTC), reverted_by=actor))
    _audit(con, model=row["model"], alert_id=row["alert_id"], actor=actor,
           action="mitigation_reverted", reason=reason or "reverted", detail={"flag": row["mitigation"]})


def auto_mitigate(con: Connection, transitions: Sequence[Transition], rules: Sequence[AutoMitigation], *,
                  run_time: datetime, interval: str, actor: str = "watch",
                  sinks: Sequence[Sink] = ()) -> list[str]:
    """Set the mitigations ``rules`` allow for this run's pages, inside the run's transaction.

    Only a transition that raises (opened, reopened, escalated) at ``page`` counts;
    at most one automatic flag per model per ``interval`` of run time (a later
    candidate is audited as ``mitigation_skipped``). A rollback or a switch to the baseline is
    announced to ``sinks`` as a change (PagerDuty: a Change Event). Returns the ids of the flags set.
    """
    if not rules:
        return []
    out: list[str] = []
    for t in transitions:
        if t.action not in _RAISING or t.severity != Severity.PAGE:
            continue
        row = con.execute(select(alerts).where(alerts.c.id == int(t.alert_id))).mappings().one()
        rule = next((r for r in rules if r.on == row["kind"]), None)
        if rule is None:
            continue
        held = _not_applicable(con, rule, row)
        if held is not None:
            _audit(con, model=row["model"], alert_id=row["id"], actor=actor, action="mitigation_skipped",
                   reason=held, detail={"rule": rule.model_dump(mode="json")}, run_time=run_time)
            continue
        since = run_time - parse_duration(interval)
        recent = con.execute(select(flags.c.id).where(
            flags.c.model == row["model"], flags.c.automatic.is_(True), flags.c.run_time > since)).first()
        if recent is not None:
            _audit(con, model=row["model"], alert_id=row["id"], actor=actor, action="mitigation_skipped",
                   reason=f"guardrail: flag {recent[0]} was set automatically within {interval}",
                   detail={"rule": rule.model_dump(mode="json")}, run_time=run_time)
            continue
        m = _mitigation(rule, row, actor)
        _insert(con, m, automatic=True, alert_id=row["id"], run_time=run_time,
                reason=f"automatic on alert #{row['id']} ({row['kind']}, page): {row['headline']}")
        if m.kind in ("rollback", "baseline"):
            enqueue_change(con, row["id"], m.model_dump(mode="json"), sinks)
        out.append(m.id)
    return out


def _not_applicable(con: Connection, rule: AutoMitigation, row: Any) -> str | None:
    """Why ``rule`` cannot or need not act on alert ``row``, or None when it may.

    An alert that names no single feature gives a ``disable_feature`` rule nothing to
    disable; a flag with the same effect already in force (an alert raised again, another
    alert of the same cause) is not set twice.
    """
    if rule.action == "disable_feature" and not row["feature"]:
        return "the alert names no single feature to disable"
    target = _target(rule.action, _target_of(rule, row))
    now = datetime.now(UTC)
    for flag in con.execute(select(flags.c.id, flags.c.mitigation).where(
            flags.c.model == row["model"], flags.c.state == "active")).mappings():
        m = flag["mitigation"]
        expires = m.get("expires")
        if expires is not None and datetime.fromisoformat(expires) <= now:
            continue
        if _target(m.get("kind"), m.get("cohort") or m.get("feature") or m.get("version")) == target:
            return f"flag {flag['id']} with the same effect is in force"
    return None


def _target_of(rule: AutoMitigation, row: Any) -> str | None:
    if rule.action == "review_threshold":
        return (row["entity"] or row["cohort"]) if rule.cohort_from_alert else None
    if rule.action == "rollback":
        return rule.version
    if rule.action == "disable_feature":
        return str(row["feature"])
    return None


def _target(kind: Any, subject: Any) -> tuple[str, str | None]:
    return str(kind), None if subject is None else str(subject)


def _mitigation(rule: AutoMitigation, row: Any, actor: str) -> Mitigation:
    now = datetime.now(UTC)
    data: dict[str, Any] = {"kind": "baseline" if rule.action == "baseline" else rule.action,
                            "id": f"auto-{row['id']}-{now:%Y%m%dT%H%M%S}", "model": row["model"],
                            "who": f"{actor} (automatic)", "why": f"alert #{row['id']}: {row['headline']}",
                            "when": now.isoformat(),
                            "expires": None if rule.expires is None else (now + parse_duration(rule.expires))
                            .isoformat()}
    if rule.action == "review_threshold":
        data["threshold"] = rule.threshold
        data["cohort"] = (row["entity"] or row["cohort"]) if rule.cohort_from_alert else None
    elif rule.action == "rollback":
        data["version"] = rule.version
    elif rule.action == "disable_feature":
        data["feature"] = row["feature"]
    return parse_mitigations([data], source="alerts.mitigations")[0]


class ControlFlags:
    """Set, revert and list the flags kept in a control plane's database.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from loopwatch.core.flags import UseBaseline
    >>> from loopwatch.storage.control import ControlPlane
    >>> plane = ControlPlane(url="sqlite://")
    >>> store = ControlFlags(plane.engine)
    >>> store.set(UseBaseline(id="b-1", model="fraud", who="ana", why="drift", when=datetime.now(UTC)))
    >>> [m.id for m in store.active("fraud")]
    ['b-1']
    >>> store.revert("b-1", actor="ben", reason="fixed"); store.active("fraud")
    []
    >>> plane.close()
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set(self, mitigation: Mitigation, *, reason: str = "") -> None:
        """Put ``mitigation`` in force (audited as ``mitigation_set`` by its ``who``)."""
        with self.engine.begin() as con:
            set_flag(con, mitigation, reason=reason)

    def revert(self, flag_id: str, *, actor: str, reason: str = "") -> None:
        """End an active flag (audited as ``mitigation_reverted``)."""
        with self.engine.begin() as con:
            revert_flag(con, flag_id, actor=actor, reason=reason)

    def rows(self, model: str, *, include_reverted: bool = False) -> list[dict[str, Any]]:
        """The flags of ``model`` as stored (newest first), active ones only unless asked."""
        query = select(flags).where(flags.c.model == model)
        if not include_reverted:
            query = query.where(flags.c.state == "active")
        with self.engine.connect() as con:
            return [dict(r) for r in con.execute(query.order_by(flags.c.set_at.desc())).mappings()]

    def active(self, model: str) -> list[Mitigation]:
        """The active flags of ``model`` as mitigations (expired ones are filtered by :class:`FlagSet`)."""
        stored = [r["mitigation"] for r in reversed(self.rows(model))]
        return parse_mitigations(stored, source="control plane")


class Flags:
    """The prediction loop's reader of the control plane's flags (``loopwatch.Flags``).

    Parameters
    ----------
    url
        The control plane's database URL (as :class:`~loopwatch.storage.control.ControlPlane`).
    ttl
        Seconds a model's snapshot is served before the database is read again.

    Examples
    --------
    >>> reader = Flags(url="sqlite://", ttl=2.0)
    >>> bool(reader.current("fraud")), reader.last_error
    (False, None)
    >>> reader.close()
    """

    def __init__(self, *, url: str | None = None, engine: Engine | None = None, ttl: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not ttl >= 0:
            raise ValueError(f"ttl must be a number of seconds >= 0; got {ttl!r}")
        if (url is None) == (engine is None):
            raise ValueError("give url or engine, exactly one")
        self._owned = engine is None
        self.engine = engine if engine is not None else open_engine(str(url))
        self.ttl = float(ttl)
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, FlagSet]] = {}
        self.last_error: Exception | None = None

    @classmethod
    def for_spec(cls, spec: Spec, *, url: str | None = None, ttl: float = 2.0) -> Flags:
        """The flags of ``spec``'s control plane (``url``: the ``LOOPWATCH_CONTROL_URL`` setting)."""
        return cls(url=control_url(spec, url=url), ttl=ttl)

    def current(self, model: str) -> FlagSet:
        """The mitigations of ``model`` in force now; the last good snapshot if the database fails."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(model)
            if cached is not None and now - cached[0] < self.ttl:
                return cached[1]
            try:
                snapshot = FlagSet.of(model, ControlFlags(self.engine).active(model), source="control plane")
                self.last_error = None
            except Exception as exc:  # an unreachable database keeps the last good snapshot in force
                self.last_error = exc
                snapshot = cached[1] if cached is not None else FlagSet(model)
            self._cache[model] = (now, snapshot)
            return snapshot

    def close(self) -> None:
        if self._owned:
            self.engine.dispose()
