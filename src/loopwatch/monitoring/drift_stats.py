"""Drift statistics of one feature, from the counts two profiles hold.

:func:`numeric_drift` and :func:`categorical_drift` compare a feature's non-null
distribution in a reference and a current profile (bin counts of numeric
features, with edges fixed by the reference; category counts plus ``unseen`` of
categorical ones; min, max and moments), never raw rows, and return every
statistic as a :class:`DriftStats`: PSI, Jensen–Shannon, chi-square with its
p-value, and for numeric features the binned Wasserstein distance and KS
statistic with their error bounds. :mod:`loopwatch.monitoring.drift` decides
from them which features drifted.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import stats

from loopwatch.core.profile import CategoricalStats, NumericStats

__all__ = ["MIN_EXPECTED", "PSI_PSEUDOCOUNT", "DriftStats", "categorical_drift", "numeric_drift"]

Floats = npt.NDArray[np.float64]

#: Smallest expected count of a column of the 2 × k table the decision's test keeps
#: apart; sparser columns are pooled (Cochran 1954: chi-square is trustworthy when
#: expected counts are at least 5).
MIN_EXPECTED: Final = 5.0
#: Added to every count of a bin populated on either side before PSI takes logarithms.
PSI_PSEUDOCOUNT: Final = 0.5


@dataclass(frozen=True)
class DriftStats:
    """Drift statistics of one feature: reference vs current, non-null values only.

    Attributes
    ----------
    n_ref, n_cur : int
        Non-null values counted on each side.
    psi : float
        Population stability index ``Σ (q - p) ln(q / p)`` over the bins (or
        categories, ``unseen`` included) populated on either side, after adding
        :data:`PSI_PSEUDOCOUNT` to each of their counts on both sides (the
        Haldane–Anscombe correction, so that a bin empty on one side gives a
        finite value).
    js : float
        Jensen–Shannon distance, base 2 (in [0, 1]), of the two count vectors,
        as ``scipy.spatial.distance.jensenshannon(ref, cur, base=2)``.
    wasserstein : float
        Numeric only (NaN otherwise): Wasserstein-1 distance of the binned
        distributions divided by the reference's standard deviation. Each bin's
        mass sits at one point: the midpoint of an inner bin; for the open bin
        below the first edge the midpoint of ``[min, first edge]`` and for the
        open bin from the last edge the midpoint of ``[last edge, max]``, with
        ``min`` and ``max`` taken over both profiles. With the reference's
        quantile bins the first and last inner bins reach out to its extremes,
        so for heavy tails their midpoints lie far from their mass and the
        statistic overstates the raw distance (by at most ``wasserstein_error``).
    wasserstein_error : float
        Numeric only: a guaranteed bound on ``|wasserstein - raw|`` (same scale),
        ``Σ (p_i + q_i) h_i / sd`` with ``h_i`` the half-width of bin ``i``'s
        value range (every value lies within ``h_i`` of its point).
    ks : float
        Numeric only: the Kolmogorov–Smirnov statistic of the binned CDFs, the
        largest CDF gap at a bin edge. It is a lower bound of the raw two-sample
        KS statistic, which exceeds it by at most ``ks_error``.
    ks_error : float
        Numeric only: the largest bin mass on either side.
    ks_p : float
        Numeric only: asymptotic p-value of ``ks`` for the two sample sizes, as
        ``scipy.stats.ks_2samp(..., method="asymp")`` computes it (``kstwo`` at
        the effective size ``n_ref n_cur / (n_ref + n_cur)``). Since ``ks`` can
        only understate the raw statistic, this p-value errs on the large side.
    chi2, chi2_dof, chi2_p : float, int, float
        Pearson chi-square homogeneity test of the 2 × k table of counts with
        empty columns removed, as ``scipy.stats.chi2_contingency(table,
        correction=False)`` (the same as its default when ``chi2_dof > 1``).
    test_dof : int
        Degrees of freedom of the decision's test: the same table after
        pooling columns whose smaller expected count is below
        :data:`MIN_EXPECTED` (adjacent bins merge for numeric features; rare
        categories and ``unseen`` share one column for categorical ones).
    p_value : float
        p-value of that pooled chi-square test; NaN when no test is possible
        (an empty side, or a single column left).
    divergence : float
        Chi-square divergence of the pooled table, ``Σ (p - q)² / m`` with
        ``m`` the pooled share, equal to ``chi2 (1/n_ref + 1/n_cur)``. For
        small shifts it equals PSI to second order (PSI scale).
    noise : float
        What ``divergence`` averages when nothing changed: ``test_dof N / (N - 1)
        (1/n_ref + 1/n_cur)``, ``N = n_ref + n_cur``, exact given the margins
        (Haldane 1940).
    effect : float
        The effect size the decision uses: ``max(0, divergence - noise)``, a
        bias-corrected chi-square divergence on the PSI scale (the correction of
        Bergsma 2013 for Cramér's V, rescaled).
    """

    n_ref: int
    n_cur: int
    psi: float
    js: float
    chi2: float
    chi2_dof: int
    chi2_p: float
    test_dof: int
    p_value: float
    divergence: float
    noise: float
    effect: float
    wasserstein: float = math.nan
    wasserstein_error: float = math.nan
    ks: float = math.nan
    ks_error: float = math.nan

    @property
    def ks_p(self) -> float:
        """The p-value of :attr:`ks` (see the class's attributes), computed when asked for.

        No decision reads it, and scipy's exact Kolmogorov distribution costs about a
        millisecond a feature and cohort: computed for every one, it was two thirds of the
        drift check's time.
        """
        if not (math.isfinite(self.ks) and self.n_ref and self.n_cur):
            return math.nan
        en = round(self.n_ref * self.n_cur / (self.n_ref + self.n_cur))
        # scipy's exact-distribution method can overflow for some large (n, d); its value is
        # then not finite and the limiting Kolmogorov distribution is as good at that n
        with np.errstate(over="ignore", invalid="ignore"):
            exact = float(stats.kstwo.sf(self.ks, en))
        return float(np.clip(exact if math.isfinite(exact)
                             else stats.kstwobign.sf(self.ks * math.sqrt(en)), 0.0, 1.0))


def numeric_drift(ref: NumericStats, cur: NumericStats, edges: Sequence[float]) -> DriftStats:
    """Drift statistics of one numeric feature from its binned counts and moments.

    Parameters
    ----------
    ref, cur : NumericStats
        The feature's aggregates in the reference and current profiles; their
        ``bins`` count values per bin of ``edges``.
    edges : sequence of float
        The bin edges fixed by the reference (``Binning.numeric[name]``),
        increasing; bin ``i`` holds ``edges[i-1] <= x < edges[i]``, bin 0 what
        lies below the first edge and the last bin what lies at or above the last.

    Returns
    -------
    DriftStats
        Every statistic; NaN where one side has no values (and ``wasserstein``
        NaN when the reference has no spread).

    Raises
    ------
    ValueError
        If the edges are not increasing or do not match the number of bins.

    Examples
    --------
    >>> import numpy as np
    >>> def stats_of(values, edges):
    ...     x = np.asarray(values, dtype=float)
    ...     bins = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
    ...     return NumericStats(x.size, 0, x.sum(), (x * x).sum(), x.min(), x.max(), bins)
    >>> edges = (0.0, 1.0, 2.0, 3.0)
    >>> ref = stats_of([0.5] * 50 + [1.5] * 30 + [2.5] * 20, edges)
    >>> cur = stats_of([0.5] * 20 + [1.5] * 30 + [2.5] * 50, edges)
    >>> d = numeric_drift(ref, cur, edges)
    >>> round(d.ks, 2), round(d.psi, 3), d.chi2_dof, d.p_value < 0.001
    (0.3, 0.533, 2, True)
    >>> numeric_drift(ref, ref, edges).psi
    0.0
    """
    edges = tuple(float(e) for e in edges)
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"edges must be strictly increasing; got {edges}")
    for side, s in (("ref", ref), ("cur", cur)):
        if len(s.bins) != len(edges) + 1:
            raise ValueError(
                f"{side} has {len(s.bins)} bins but {len(edges)} edges make {len(edges) + 1}; "
                "profile both sides with the binning these edges come from"
            )
    r = np.asarray(ref.bins, dtype=np.float64)
    c = np.asarray(cur.bins, dtype=np.float64)
    base = _common(r, c, ordered=True)
    n_r, n_c = r.sum(), c.sum()
    if not (n_r and n_c) or not edges:
        return base
    p, q = r / n_r, c / n_c
    cdf_gap = np.abs(np.cumsum(p) - np.cumsum(q))[:-1]
    ks = float(cdf_gap.max()) if cdf_gap.size else 0.0

    low = min(ref.minimum, cur.minimum, edges[0])
    high = max(ref.maximum, cur.maximum, edges[-1])
    ends = np.array([low, *edges, high])
    points = (ends[:-1] + ends[1:]) / 2
    half = (ends[1:] - ends[:-1]) / 2
    # the distance between the binned distributions, each bin's mass at its midpoint
    raw = float(stats.wasserstein_distance(points, points, p, q))
    error = float(np.sum((p + q) * half))
    sd = math.sqrt(ref.variance) if ref.count >= 2 else math.nan
    scale = sd if sd > 0 else math.nan
    return replace(base, wasserstein=raw / scale, wasserstein_error=error / scale,
                    ks=ks, ks_error=float(np.maximum(p, q).max()))


def categorical_drift(ref: CategoricalStats, cur: CategoricalStats) -> DriftStats:
    """Drift statistics of one categorical feature from its category counts.

    The categories are the reference's plus ``unseen`` (any value not among
    them), in that order, and nulls are left out. Wasserstein and
    Kolmogorov–Smirnov need an order and are NaN.

    Parameters
    ----------
    ref, cur : CategoricalStats
        The feature's aggregates in the reference and current profiles.

    Returns
    -------
    DriftStats
        Every statistic; NaN where one side has no values.

    Raises
    ------
    ValueError
        If the two sides do not have the same categories (count vectors of
        different lengths).

    Examples
    --------
    >>> import numpy as np
    >>> def stats_of(counts):
    ...     return CategoricalStats(np.array(counts), 0, np.zeros(1024, np.uint8))
    >>> d = categorical_drift(stats_of([500, 300, 200, 0]), stats_of([300, 500, 150, 50]))
    >>> d.chi2_dof, round(d.js, 3), d.p_value < 1e-9, d.effect > 0.1
    (3, 0.253, True, True)
    """
    if len(ref.counts) != len(cur.counts):
        raise ValueError(
            f"ref has {len(ref.counts)} category counts and cur {len(cur.counts)}; "
            "profile both sides with the same binning"
        )
    r = np.asarray(ref.counts, dtype=np.float64)
    c = np.asarray(cur.counts, dtype=np.float64)
    return _common(r, c, ordered=False)


def _common(r: Floats, c: Floats, *, ordered: bool) -> DriftStats:
    """The statistics shared by numeric and categorical features (count vectors only)."""
    n_r, n_c = float(r.sum()), float(c.sum())
    if not (n_r and n_c):
        nan = math.nan
        return DriftStats(n_ref=int(n_r), n_cur=int(n_c), psi=nan, js=nan, chi2=nan, chi2_dof=0,
                          chi2_p=nan, test_dof=0, p_value=nan, divergence=nan, noise=nan, effect=nan)
    populated = (r + c) > 0
    rp, cp = r[populated], c[populated]
    k = rp.size
    p = (rp + PSI_PSEUDOCOUNT) / (n_r + PSI_PSEUDOCOUNT * k)
    q = (cp + PSI_PSEUDOCOUNT) / (n_c + PSI_PSEUDOCOUNT * k)
    psi = float(np.sum((q - p) * np.log(q / p)))
    chi2, dof, chi2_p = _chi2(rp, cp)
    pr, pc = _pooled(r, c, ordered=ordered)
    pooled_chi2, test_dof, p_value = _chi2(pr, pc)
    scale = 1.0 / n_r + 1.0 / n_c
    total = n_r + n_c
    divergence = pooled_chi2 * scale
    noise = test_dof * total / (total - 1) * scale
    return DriftStats(
        n_ref=int(n_r), n_cur=int(n_c), psi=psi, js=_jensen_shannon(rp / n_r, cp / n_c),
        chi2=chi2, chi2_dof=dof, chi2_p=chi2_p, test_dof=test_dof,
        p_value=p_value if test_dof > 0 else math.nan,
        divergence=divergence, noise=noise, effect=max(0.0, divergence - noise),
    )


def _jensen_shannon(p: Floats, q: Floats) -> float:
    m = (p + q) / 2
    # 0 log 0 = 0; m > 0 wherever p or q is
    kl_p = np.sum(p[p > 0] * np.log2(p[p > 0] / m[p > 0]))
    kl_q = np.sum(q[q > 0] * np.log2(q[q > 0] / m[q > 0]))
    return math.sqrt(max(0.0, float(kl_p + kl_q) / 2))


def _chi2(r: Floats, c: Floats) -> tuple[float, int, float]:
    """Pearson's chi-square of the 2 × k table ``[r, c]``, every column non-empty."""
    n_r, n_c = r.sum(), c.sum()
    total = n_r + n_c
    share = (r + c) / total
    expected_r, expected_c = n_r * share, n_c * share
    chi2 = float(np.sum((r - expected_r) ** 2 / expected_r) + np.sum((c - expected_c) ** 2 / expected_c))
    dof = int(r.size) - 1
    if dof == 0:
        return 0.0, 0, 1.0
    return chi2, dof, float(stats.chi2.sf(chi2, dof))


def _pooled(r: Floats, c: Floats, *, ordered: bool) -> tuple[Floats, Floats]:
    """Pool columns whose smaller expected count is below :data:`MIN_EXPECTED`.

    Which columns pool depends on the column totals only (the margins), so the
    test stays a test of homogeneity given the margins. Ordered bins merge with
    their neighbours, left to right (the last short group joins the one before).
    Categories pool into one column together with the last one, ``unseen``: its
    reference count is structurally small when the reference chose the
    categories, and rare categories and unseen values are alike — values whose
    frequency the data cannot pin down.
    """
    n_r, n_c = r.sum(), c.sum()
    per_row = min(n_r, n_c) / (n_r + n_c)  # expected count of the smaller row per unit of column total
    totals = r + c
    if ordered:
        groups: list[list[int]] = []
        open_group: list[int] = []
        mass = 0.0
        for i, t in enumerate(totals):
            if t == 0:
                continue
            open_group.append(i)
            mass += t
            if mass * per_row >= MIN_EXPECTED:
                groups.append(open_group)
                open_group, mass = [], 0.0
        if open_group:
            if groups:
                groups[-1].extend(open_group)
            else:
                groups.append(open_group)
        pr = np.array([r[g].sum() for g in groups])
        pc = np.array([c[g].sum() for g in groups])
        return pr, pc
    rare = totals * per_row < MIN_EXPECTED
    rare[-1] = True
    keep = ~rare & (totals > 0)
    pr, pc = r[keep], c[keep]
    pool_r, pool_c = float(r[rare].sum()), float(c[rare].sum())
    if pool_r + pool_c == 0:
        return pr, pc
    if (pool_r + pool_c) * per_row < MIN_EXPECTED and pr.size:
        smallest = int(np.argmin(pr + pc))
        pr, pc = pr.copy(), pc.copy()
        pr[smallest] += pool_r
        pc[smallest] += pool_c
        return pr, pc
    return np.append(pr, pool_r), np.append(pc, pool_c)
