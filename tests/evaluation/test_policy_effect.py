"""The model's effect from a randomized holdout: inverse-propensity weighting, checked by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from loopwatch.evaluation.policy_effect import policy_effect


def _world(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two eras: the world changes (fraud rises from 2% to 5%) while the holdout share rises from 5% to 25%.

    Every decision has both potential outcomes: the dollars lost if the model decides (it stops 70% of
    frauds) and if the holdout policy does (it stops 20%). Returns the loss observed, the holdout flag,
    the logged probability and the decision's true effect (model loss minus holdout loss).
    """
    late = rng.random(n) < 0.5
    fraud = rng.random(n) < np.where(late, 0.05, 0.02)
    amount = np.zeros(n)
    amount[fraud] = rng.lognormal(4.0, 1.0, int(fraud.sum()))
    caught_by_model = rng.random(n) < 0.7
    caught_by_holdout = rng.random(n) < 0.2
    loss_model = np.where(fraud & ~caught_by_model, amount, 0.0)
    loss_holdout = np.where(fraud & ~caught_by_holdout, amount, 0.0)
    probability = np.where(late, 0.25, 0.05)
    holdout = rng.random(n) < probability
    return np.where(holdout, loss_holdout, loss_model), holdout, probability, loss_model - loss_holdout


def test_the_weighted_effect_is_unbiased_where_the_plain_difference_is_not() -> None:
    rng = np.random.default_rng(20)
    runs, covered = 200, 0
    errors, plain_errors = [], []
    for _ in range(runs):
        observed, holdout, probability, effect = _world(rng, 30_000)
        truth = float(effect.mean())
        got = policy_effect(observed, holdout, probability)
        covered += got.low <= truth <= got.high
        errors.append(got.effect - truth)
        plain_errors.append(observed[~holdout].mean() - observed[holdout].mean() - truth)
    # the unweighted difference mixes the eras (the holdout over-represents the late, fraud-heavy
    # one), so it is biased where the weighted one is not. The weighted 95% interval falls short
    # with these heavy-tailed losses: about 90% (benchmarks/learning_loop.py; docs/DESIGN-NOTES.md,
    # "Champion and challenger, ..."), so this asserts what holds, not the 95% target.
    assert 0.85 <= covered / runs <= 0.99
    def bias_in_standard_errors(e: list[float]) -> float:
        return abs(float(np.mean(e))) / (float(np.std(e)) / np.sqrt(runs))

    assert bias_in_standard_errors(errors) < 3 < 6 < bias_in_standard_errors(plain_errors)


def test_an_arm_with_too_few_decisions_has_no_interval() -> None:
    got = policy_effect([1.0] * 100 + [0.0] * 5, [False] * 100 + [True] * 5, [0.05] * 105)
    assert got.status == "not_enough_data" and np.isnan(got.low) and got.n_holdout == 5
    assert got.effect == pytest.approx(1.0)


def test_probabilities_must_be_strictly_between_zero_and_one() -> None:
    with pytest.raises(ValueError, match=r"in \(0, 1\); got 0.0 to 0.1"):
        policy_effect([1.0, 2.0], [False, True], [0.0, 0.1])
