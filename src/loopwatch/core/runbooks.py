"""Runbooks and downstream risk: what every alert links to and what it puts at stake, in words.

A markdown runbook per check kind ships with loopwatch (``loopwatch/runbooks/KIND.md``:
what it means, the downstream risk, how to confirm with a loopwatch command, what to
do, who owns it). The spec's ``alerts: runbooks:`` overrides it per kind
(``coverage``), per feature (``amount``) or per both (``drift:amount``), most specific
first, typically with a link to the team's own wiki.

Examples
--------
>>> runbook_for("drift", feature="amount", overrides={"drift:amount": "https://wiki/amount"})
'https://wiki/amount'
>>> runbook_for("coverage").endswith("loopwatch/runbooks/coverage.md")
True
>>> print(risk_of("coverage", entity="merchant_category=crypto_exchange",
...               model="card-fraud"))  # doctest: +NORMALIZE_WHITESPACE
unscored merchant_category=crypto_exchange decisions take the default action (usually approve): the losses
card-fraud exists to stop go through there
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["RUNBOOKS", "risk_of", "runbook_for"]

#: The directory of the shipped runbooks, one ``KIND.md`` each.
RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"

_RISK = {
    "coverage": "unscored {subject} decisions take the default action (usually approve): the losses "
                "{model} exists to stop go through there",
    "schema": "{subject} is parsed or encoded wrongly before scoring: {model} scores on a wrong value "
              "without any error, so its decisions there are unreliable",
    "health": "{subject} reaches {model} missing or out of range: it scores on fallbacks and its decisions "
              "there degrade",
    "drift": "{subject} moved away from what {model} learned: the share of positive decisions and their "
             "precision change without anyone choosing it",
    "volume": "decisions are lost or duplicated ({subject}): lost traffic takes the default action and "
              "review load changes",
    "system": "serving fails or slows ({subject}): decisions fall back to the default action and {model} is "
              "bypassed",
    "performance": "{model} separates or calibrates worse ({subject}): more losses let through and more "
                   "good customers stopped",
}


def runbook_for(kind: str, *, feature: str | None = None, overrides: Mapping[str, str] | None = None) -> str:
    """The runbook of an alert of ``kind`` on ``feature``: the spec's override, else the shipped file."""
    found = overrides or {}
    for key in ((f"{kind}:{feature}" if feature else None), feature, kind):
        if key and key in found:
            return found[key]
    return (RUNBOOKS / f"{kind}.md").as_uri()


def risk_of(kind: str, *, model: str, feature: str | None = None, entity: str | None = None,
            cohort: str | None = None, source: str | None = None, metric: str | None = None) -> str:
    """The downstream risk of an alert in one sentence, naming its subject."""
    subject = entity or feature or source or metric or cohort or "all"
    template = _RISK.get(kind, "{model} may make wrong decisions on {subject}")
    return template.format(subject=subject, model=model)
