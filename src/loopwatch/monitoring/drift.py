"""Drift: has the non-null distribution of a feature moved between a reference and a current profile?

Everything here is computed from the counts a :class:`~loopwatch.core.profile.Profile`
already holds (bin counts of numeric features, with edges fixed by the
reference; category counts plus ``unseen`` of categorical ones; min, max and
moments), never from raw rows. Missing values are left out: the missing rate is
the health check's business, not drift's.

:func:`numeric_drift` and :func:`categorical_drift` (:mod:`~loopwatch.monitoring.drift_stats`)
return the statistics of one feature as a :class:`DriftStats`; :func:`drift_report` decides, for every feature
of a run at once, which ones drifted, and stays quiet on sampling noise: a
feature is flagged only when its homogeneity test survives Benjamini–Hochberg
across the run *and* its effect, after the noise expected under no change is
subtracted, reaches :data:`MIN_EFFECT`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from loopwatch.core.intervals import benjamini_hochberg
from loopwatch.core.profile import Binning, CategoricalStats, NumericStats, Profile
from loopwatch.monitoring.drift_stats import (
    MIN_EXPECTED,
    PSI_PSEUDOCOUNT,
    DriftStats,
    categorical_drift,
    numeric_drift,
)

__all__ = [
    "MIN_EFFECT",
    "MIN_EXPECTED",
    "PSI_PSEUDOCOUNT",
    "DriftStats",
    "FeatureDrift",
    "categorical_drift",
    "drift_report",
    "numeric_drift",
]

Floats = npt.NDArray[np.float64]
_Stats = TypeVar("_Stats", NumericStats, CategoricalStats)

#: Default minimum effect: a noise-corrected chi-square divergence (PSI scale) of 0.01,
#: the divergence of a normal feature whose mean moves by 0.1 standard deviations.
MIN_EFFECT: Final = 0.01
@dataclass(frozen=True)
class FeatureDrift:
    """The drift decision for one feature of a run (see :func:`drift_report`).

    ``significant`` is the test's verdict after Benjamini–Hochberg across the
    run; ``drifted`` is ``significant`` and ``stats.effect >= min_effect``.
    """

    feature: str
    kind: Literal["numeric", "categorical"]
    stats: DriftStats
    significant: bool
    drifted: bool
    min_effect: float

    @property
    def effect(self) -> float:
        return self.stats.effect

    @property
    def p_value(self) -> float:
        return self.stats.p_value


def drift_report(reference: Profile, current: Profile, binning: Binning, *, fdr: float = 0.05,
                 min_effect: float = MIN_EFFECT) -> list[FeatureDrift]:
    """Decide, for every feature of a run, whether its distribution drifted.

    A feature is flagged (``drifted``) when both hold:

    1. its chi-square homogeneity test (reference vs current counts, sparse
       columns pooled, see :attr:`DriftStats.p_value`) is significant after
       Benjamini–Hochberg at false discovery rate ``fdr`` across all the
       features of the run;
    2. its effect, the chi-square divergence with the noise expected under no
       change subtracted (:attr:`DriftStats.effect`), is at least ``min_effect``.

    Significance alone flags everything once samples are large (every real
    feature moves a little); the raw divergence alone flags many-valued
    categoricals, whose sampling noise grows as ``(k - 1)(1/n_ref + 1/n_cur)``
    for ``k`` populated categories. The correction subtracts exactly that
    expectation given the table's margins (Haldane 1940; Bergsma 2013), so the
    effect estimates the shift itself, whatever the number of categories.

    The default ``min_effect`` of 0.01 is on the PSI scale (the corrected
    divergence equals PSI to second order). For a normal feature whose mean
    moves by ``d`` standard deviations, PSI is ``d²``, so 0.01 is a shift of 0.1
    standard deviations: the bar of the normalized-Wasserstein default of
    Evidently (threshold 0.1, "a change in the size of 0.1 standard
    deviations", Evidently AI 2022, "Which test is the best? Comparing methods
    to detect data drift on large datasets"). The credit-scoring PSI convention
    (< 0.1 no change, 0.1–0.25 moderate, > 0.25 large; Siddiqi 2006) is
    deliberately not used: it was set for a score's ten or so bins, and would
    call a shift of 0.3 standard deviations "no change". Pass ``min_effect=0.1``
    to apply it.

    Parameters
    ----------
    reference, current : Profile
        Profiles of the reference and current windows, both binned with ``binning``.
    binning : Binning
        The reference's bins and categories; its features are the ones checked.
    fdr : float, keyword-only
        False discovery rate of the Benjamini–Hochberg procedure, in (0, 1).
    min_effect : float, keyword-only
        Smallest corrected divergence (PSI scale) that counts as drift, >= 0.

    Returns
    -------
    list of FeatureDrift
        One per feature: numeric ones, then categorical ones, in the binning's order.

    Raises
    ------
    ValueError
        If a parameter is out of range, a profile was binned differently or holds
        no bins (hour-of-day profiles), or a feature is missing from a profile.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from datetime import UTC, datetime
    >>> import numpy as np
    >>> binning = Binning(numeric={}, categorical={"color": ("red", "blue")}, score=(0.5,))
    >>> empty = binning.empty(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    >>> def profile(red, blue):
    ...     color = CategoricalStats(np.array([red, blue, 0]), 0, np.zeros(1024, np.uint8))
    ...     return replace(empty, categorical={"color": color})
    >>> [d.drifted for d in drift_report(profile(5000, 5000), profile(5040, 4960), binning)]
    [False]
    >>> [d.drifted for d in drift_report(profile(5000, 5000), profile(6500, 3500), binning)]
    [True]
    """
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be in (0, 1); got {fdr}")
    if not (math.isfinite(min_effect) and min_effect >= 0):
        raise ValueError(f"min_effect must be a finite number >= 0; got {min_effect}")
    for side, profile in (("reference", reference), ("current", current)):
        if profile.binning != binning.fingerprint:
            raise ValueError(
                f"the {side} profile was binned with {profile.binning}, not with the binning given "
                f"({binning.fingerprint}); profile both windows against the same reference"
            )
        if not profile.binned:
            raise ValueError(
                f"the {side} profile holds no feature bins (an hour-of-day profile); "
                "compare window or cohort profiles"
            )
    found: list[tuple[str, Literal["numeric", "categorical"], DriftStats]] = []
    for name, edges in binning.numeric.items():
        ref, cur = _feature(reference.numeric, current.numeric, name)
        found.append((name, "numeric", numeric_drift(ref, cur, edges)))
    for name in binning.categorical:
        cref, ccur = _feature(reference.categorical, current.categorical, name)
        found.append((name, "categorical", categorical_drift(cref, ccur)))
    significant = benjamini_hochberg([s.p_value for _, _, s in found], fdr=fdr)
    return [
        FeatureDrift(feature=name, kind=kind, stats=s, significant=sig,
                     drifted=sig and s.effect >= min_effect, min_effect=min_effect)
        for (name, kind, s), sig in zip(found, significant, strict=True)
    ]


# --------------------------------------------------------------------------- internals


def _feature(ref: Mapping[str, _Stats], cur: Mapping[str, _Stats], name: str) -> tuple[_Stats, _Stats]:
    try:
        return ref[name], cur[name]
    except KeyError:
        raise ValueError(f"feature {name!r} is in the binning but missing from a profile") from None
