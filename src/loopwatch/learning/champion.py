"""Champion/challenger from the decision log: two versions on the same traffic, judged per cohort.

Two ways to get both versions' scores of the same decisions:

* :func:`compare_versions` reads the **shadow scores** the prediction loop logs
  beside each decision (the spec's ``serving`` columns ``shadow_score`` and
  ``shadow_version``): decisions of the champion that carry the challenger's
  shadow score, and canary decisions of the challenger that carry the
  champion's, each turned the same way round.
* :func:`compare_replay` **replays** logged decisions: their logged features are
  scored by two scoring functions (or the logged score stands for the champion).

Either way the labelled decisions of the window go through the rule of
:mod:`loopwatch.learning.champion_rule` (the spec's ``learning.champion``), but
only once the window's labels have matured: each score stratum's label coverage
must reach ``maturity`` × the reference window's (:mod:`loopwatch.evaluation.maturity`);
until then the verdict is ``labels_not_mature``, never a pass.

This is what ``loopwatch gate`` runs for its champion/challenger part::

    result = compare_versions(spec, "fraud-hgb-3.2.0", "fraud-hgb-3.3.0",
                              Window.of("2026-03-01", "2026-03-15"))
    result.passed, result.blocked_cohorts, print(result.report())
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.spec import Spec
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.errors import InputError
from loopwatch.evaluation.profile_metrics import DEFAULT_THRESHOLD
from loopwatch.learning.champion_rule import ChampionChallengerResult, CohortComparison, judge
from loopwatch.learning.training_data import bools, floats, outcome_values, rows_as_of, window_maturity
from loopwatch.storage.sources import open_source

__all__ = ["ChampionChallengerResult", "CohortComparison", "Scorer", "compare_replay", "compare_versions"]

#: Scores the rows of a table of logged decisions (one score per row, in order).
Scorer = Callable[[pa.Table], npt.ArrayLike]


def _threshold(spec: Spec) -> float:
    return float(spec.threshold) if spec.threshold is not None else DEFAULT_THRESHOLD


def _cohorts(rows: pa.Table, spec: Spec) -> dict[str, npt.NDArray[Any]]:
    return {name: np.asarray(rows.column(name).to_pylist(), dtype=object)
            for name in spec.cohorts if name in rows.column_names}


def _judged(store: DecisionSource, spec: Spec, window: Window, rows: pa.Table, champion_scores: Any,
            challenger_scores: Any, *, champion: str, challenger: str, source: str,
            seed: int) -> ChampionChallengerResult:
    rule = spec.learning.champion
    threshold = _threshold(spec)
    span = (window.start.isoformat(), window.end.isoformat())
    matured = window_maturity(store, rows, threshold=threshold, maturity=rule.maturity)
    if not matured.mature:
        ratios = ", ".join(f"{k} {v:.0%}" for k, v in matured.ratios.items() if np.isfinite(v))
        return ChampionChallengerResult(
            champion=champion, challenger=challenger, verdict="labels_not_mature", rule=rule,
            threshold=threshold, overall=None, cohorts=(), superiority_p=float("nan"), source=source,
            window=span, maturity=matured,
            reason=(f"the window's labels have not matured: label coverage per score stratum is "
                    f"{ratios or 'unknown'} of the reference's (needs {rule.maturity:.0%}); wait for "
                    "more outcomes"))
    labelled = bools(pc.is_valid(rows.column(spec.outcomes.label)))
    a = np.asarray(champion_scores, dtype=np.float64)[labelled]
    b = np.asarray(challenger_scores, dtype=np.float64)[labelled]
    kept = rows.filter(pa.array(labelled))
    usable = np.isfinite(a) & np.isfinite(b)
    if not usable.all():
        a, b, kept = a[usable], b[usable], kept.filter(pa.array(usable))
    return judge(kept.column(spec.outcomes.label).to_numpy(zero_copy_only=False), a, b,
                 cohorts=_cohorts(kept, spec), rule=rule, threshold=threshold,
                 champion_version=champion, challenger_version=challenger,
                 values=outcome_values(kept, spec), value_model=spec.value, source=source, window=span,
                 maturity=matured, seed=seed)


def compare_versions(spec: Spec, champion: str, challenger: str, window: Window, *,
                     store: DecisionSource | None = None, seed: int = 0) -> ChampionChallengerResult:
    """Judge ``challenger`` against ``champion`` from the shadow scores logged in ``window``.

    Parameters
    ----------
    spec
        The monitored model; its ``serving`` block names the shadow columns and its
        ``learning.champion`` holds the rule (margin, correction, data floor).
    champion, challenger
        Model versions as logged in the ``model_version`` and ``shadow_version`` columns.
    window
        Decision times to compare; their labels must have matured.
    store
        Where the decisions are (default: the spec's source).
    seed
        Seed of the bootstraps.

    Returns
    -------
    ChampionChallengerResult
        ``.passed``, ``.verdict`` (``passed``, ``blocked``, ``not_superior``,
        ``not_enough_data``, ``labels_not_mature`` or ``no_paired_scores``),
        ``.blocked_cohorts``, ``.report()`` and ``.to_dict()``.

    Raises
    ------
    InputError
        The spec logs no shadow scores (no ``serving`` block or no version column),
        or the two versions are the same.
    """
    if champion == challenger:
        raise InputError(f"the champion and the challenger are the same version ({champion!r})")
    if spec.serving is None or not spec.columns.model_version:
        raise InputError("the spec logs no shadow scores (it needs a 'serving:' block and a "
                         "columns.model_version); compare by replaying logged decisions instead "
                         "(loopwatch.learning.champion.compare_replay)")
    store = store or open_source(spec)
    s = spec.serving.columns
    version, score = spec.columns.model_version, spec.columns.score
    rows = rows_as_of(store, window)
    if rows.num_rows:
        logged = rows.column(version)
        shadow = rows.column(s.shadow_version)
        forward = pc.fill_null(pc.and_(pc.equal(logged, champion), pc.equal(shadow, challenger)), False)
        canary = pc.fill_null(pc.and_(pc.equal(logged, challenger), pc.equal(shadow, champion)), False)
        rows = rows.append_column("_canary", canary).filter(pc.or_(forward, canary))
    if rows.num_rows == 0:
        rule = spec.learning.champion
        return ChampionChallengerResult(
            champion=champion, challenger=challenger, verdict="no_paired_scores", rule=rule,
            threshold=_threshold(spec), overall=None, cohorts=(), superiority_p=float("nan"),
            source="shadow", window=(window.start.isoformat(), window.end.isoformat()),
            reason=(f"no decision in the window carries both {champion} and {challenger}'s scores "
                    f"({version} and {s.shadow_version})"))
    on_canary = bools(rows.column("_canary"))
    own, other = floats(rows.column(score)), floats(rows.column(s.shadow_score))
    champion_scores = np.where(on_canary, other, own)
    challenger_scores = np.where(on_canary, own, other)
    return _judged(store, spec, window, rows.drop_columns(["_canary"]), champion_scores, challenger_scores,
                   champion=champion, challenger=challenger, source="shadow", seed=seed)


def compare_replay(spec: Spec, window: Window, *, challenger: Scorer, champion: Scorer | None = None,
                   champion_version: str = "logged", challenger_version: str = "challenger",
                   store: DecisionSource | None = None, seed: int = 0,
                   as_of: datetime | None = None) -> ChampionChallengerResult:
    """Judge a challenger by replaying the logged decisions of ``window`` through it.

    ``challenger`` (and ``champion``, else the logged score stands for the champion)
    gets the window's decisions as a pyarrow table (features, cohorts, score,
    outcome columns) and returns one score per row. ``as_of`` judges on the labels
    observed before it (default: as stored now), as a gate run at that time saw them.
    Otherwise as :func:`compare_versions`.

    Raises
    ------
    InputError
        A scorer returns the wrong number of scores.
    """
    store = store or open_source(spec)
    rows = rows_as_of(store, window, as_of=as_of)
    scores = []
    for name, scorer in ((champion_version, champion), (challenger_version, challenger)):
        if scorer is None:
            scores.append(floats(rows.column(spec.columns.score)))
            continue
        got = np.asarray(scorer(rows), dtype=np.float64).ravel() if rows.num_rows else np.zeros(0)
        if got.size != rows.num_rows:
            raise InputError(f"the scorer of {name} returned {got.size} scores for {rows.num_rows} decisions")
        scores.append(got)
    return _judged(store, spec, window, rows, scores[0], scores[1], champion=champion_version,
                   challenger=challenger_version, source="replay", seed=seed)
