"""Cohort columns with many values, capped: the most frequent kept apart, the rest as ``(other)``.

A cohort column is profiled per value, and every numeric and categorical feature is
binned per value of it: a column with 50,000 values (a user id given as a cohort by
mistake) multiplies the profile by 50,000. The spec's ``inputs.cohort_values`` (K,
100 by default) bounds that: when the reference holds more than K values of a cohort
column, its K most frequent values (ties by value) keep their own cohorts in every
day profiled, and every other value counts as :data:`OTHER`. Fixing the values from
the reference keeps a value in or out of ``(other)`` from one day to the next, so a
value's volume is never an artefact of the cap.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from loopwatch.core.spec import Spec
from loopwatch.storage.decision_columns import feature_dtype
from loopwatch.storage.fitting import as_text

__all__ = ["OTHER", "KeptValues", "capped_cohort_values", "kept_digest"]

#: The cohort value of every value of a capped column that is not kept apart.
OTHER = "(other)"
#: Per capped cohort column, the values kept apart (sorted).
KeptValues = Mapping[str, tuple[str, ...]]

_log = logging.getLogger("loopwatch.profile")


def capped_cohort_values(reference: Any, spec: Spec) -> dict[str, tuple[str, ...]]:
    """The values kept apart for each cohort column with more than ``inputs.cohort_values``
    values in ``reference`` (an Ibis table of decisions); columns with fewer are absent.

    Logs a warning naming each capped column.
    """
    import ibis

    limit = spec.inputs.cohort_values
    out: dict[str, tuple[str, ...]] = {}
    for name in spec.cohorts:
        text = as_text(reference[name], feature_dtype(spec, name))
        top = (reference.filter(reference[name].notnull()).group_by(v=text)
               .aggregate(n=ibis._.count()).order_by([ibis.desc("n"), "v"]).limit(limit + 1)
               .to_pyarrow().column("v").to_pylist())
        if len(top) > limit:
            distinct = int(reference.aggregate(d=text.nunique()).to_pyarrow().column("d")[0].as_py())
            out[name] = tuple(sorted(top[:limit]))
            _log.warning(
                "warning: cohort column %r has %s values in the reference; its %s most frequent "
                "are profiled apart and the rest as %r (inputs.cohort_values)",
                name, f"{distinct:,}", limit, OTHER)
    return out


def kept_digest(kept: KeptValues) -> str:
    """A short digest of the kept values, which changes whenever they change (or the cap).

    Examples
    --------
    >>> kept_digest({}) == kept_digest({}), kept_digest({"a": ("x",)}) == kept_digest({})
    (True, False)
    """
    text = json.dumps({k: list(v) for k, v in sorted(kept.items())})
    return hashlib.sha256(text.encode()).hexdigest()[:12]
