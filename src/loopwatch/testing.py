"""The conformance suite of the check extension point: what every check must do, built-in or plugin.

:func:`check_check` runs a check on a :class:`~loopwatch.monitoring.checks.CheckContext`
and fails with an ``AssertionError`` naming the rule it broke:

* **a pure function of its context**: running it leaves the context's spec,
  windows and data as they were, and a fresh copy of the context gives the same
  findings (no state kept between runs, nothing read from elsewhere);
* **deterministic**: two runs give identical findings;
* **findings with every required field**: a known ``kind``; non-empty ``check``,
  ``statistic`` and ``message``; a UTC window inside the run (ending no later than
  ``as_of``); a :class:`~loopwatch.core.findings.Severity`; an ordered interval;
  ``n`` a count; a ``p_value`` in evidence, when given, in [0, 1]; and the whole
  finding serialisable as JSON.

Without a context it uses :func:`example_context`: a small simulated fraud model
with every kind of incident, profiled into a temporary store (built once per
process, a few seconds). A plugin's own tests call it as the built-ins' do::

    from loopwatch.testing import check_check

    def test_my_check_conforms() -> None:
        check_check(MyCheck())
"""

from __future__ import annotations

import functools
import json
import math
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loopwatch.core.findings import KINDS, Finding, Severity
from loopwatch.monitoring.checks import CHECKS, Check, CheckContext

__all__ = ["check_check", "example_context"]

#: When :func:`example_context` checks: 46 days into its simulated run, with incidents under way.
EXAMPLE_AS_OF = datetime(2026, 2, 16, tzinfo=UTC)


def check_check(check: Check, context: CheckContext | None = None) -> list[Finding]:
    """Assert that ``check`` follows the rules of a check; return its findings.

    Parameters
    ----------
    check
        An instance of the check (as the monitoring job would build it).
    context
        What to run it on (default: :func:`example_context`).

    Raises
    ------
    AssertionError
        A rule is broken; the message names the check and the rule.
    """
    context = context if context is not None else example_context()
    name = getattr(check, "name", None)
    _require(isinstance(name, str) and name, check, "has a non-empty str `name`")
    _require(callable(getattr(check, "run", None)), check, "has a `run(context)` method")
    before = _fingerprint(context)
    first = check.run(context)
    _require(isinstance(first, list) and all(isinstance(f, Finding) for f in first), check,
             f"returns a list of Finding; got {type(first).__name__}")
    _require(_fingerprint(context) == before, check,
             "leaves its context as it was (spec, windows, binning, quarantine counts)")
    for finding in first:
        _check_finding(check, finding, context)
    second = check.run(context)
    _require(_serialised(second) == _serialised(first), check,
             "is deterministic: a second run on the same context gives the same findings")
    fresh = check.run(replace(context, _cache={}, _signal=None))
    _require(_serialised(fresh) == _serialised(first), check,
             "is a pure function of its context: a fresh copy of the context gives the same findings")
    return first


@functools.cache
def example_context(as_of: datetime = EXAMPLE_AS_OF) -> CheckContext:
    """The context a monitoring run gives its checks on a small simulated store (built once).

    The store (50 days of a simulated fraud model at 400 decisions a day, every kind
    of incident) is written to a new temporary directory on first call.
    """
    from loopwatch.core.spec import load_spec
    from loopwatch.monitoring.job import run_checks
    from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation

    out = Path(tempfile.mkdtemp(prefix="loopwatch-conformance-")) / "sim"
    result = simulate(SimulationConfig(days=50, decisions_per_day=400, incidents=("all",), seed=3))
    write_simulation(result, out)
    spec = load_spec(out / "loopwatch.yaml")
    captured: list[CheckContext] = []

    class _Capture:
        name = "_conformance_capture"

        def run(self, context: CheckContext) -> list[Finding]:
            captured.append(context)
            return []

    CHECKS.register(_Capture.name)(_Capture)
    try:
        run_checks(spec, as_of=as_of, checks=[_Capture.name])
    finally:
        CHECKS.unregister(_Capture.name)
    return captured[0]


def _check_finding(check: Check, f: Finding, context: CheckContext) -> None:
    what = f"its finding {f!r}"
    _require(f.kind in KINDS, check, f"gives {what} a kind among {', '.join(KINDS)}; got {f.kind!r}")
    for field in ("check", "statistic", "message"):
        value = getattr(f, field)
        _require(isinstance(value, str) and value.strip(), check, f"gives {what} a non-empty {field}")
    for field in ("start", "end"):
        value = getattr(f, field)
        _require(isinstance(value, datetime) and value.utcoffset() is not None
                 and not value.utcoffset(), check, f"gives {what} a UTC {field}")
    _require(f.start <= f.end <= context.as_of, check,
             f"gives {what} a window that ends by the run's as_of ({context.as_of:%Y-%m-%d})")
    _require(isinstance(f.severity, Severity), check, f"gives {what} a Severity")
    _require(isinstance(f.value, int | float), check, f"gives {what} a numeric value")
    if f.interval is not None:
        low, high = f.interval
        _require(math.isnan(low) or math.isnan(high) or low <= high, check,
                 f"gives {what} an interval with low <= high; got {f.interval}")
    _require(f.n is None or (isinstance(f.n, int) and f.n >= 0), check,
             f"gives {what} n as a count; got {f.n!r}")
    _require(isinstance(f.evidence, dict) and all(isinstance(k, str) for k in f.evidence), check,
             f"gives {what} evidence as a dict with str keys")
    p = f.evidence.get("p_value")
    _require(p is None or (isinstance(p, int | float) and (math.isnan(p) or 0 <= p <= 1)), check,
             f"gives {what} a p_value in [0, 1] (or none); got {p!r}")
    try:
        json.dumps(f.to_dict(), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"check {check.name!r} must give {what} JSON-serialisable fields "
                             f"and evidence: {exc}") from exc


def _fingerprint(context: CheckContext) -> tuple[Any, ...]:
    return (context.spec.model_dump_json(), context.binning.fingerprint, context.as_of,
            context.current, context.trend, context.baseline, context.reference,
            sorted(context.quarantined.items()))


def _serialised(findings: list[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], sort_keys=True)


def _require(condition: object, check: object, rule: str) -> None:
    if not condition:
        name = getattr(check, "name", type(check).__name__)
        raise AssertionError(f"check {name!r} must follow the rule: it {rule}")
