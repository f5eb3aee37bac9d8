"""The spec's ``learning:`` block: how a challenger is judged against the champion, and how to retrain.

Examples
--------
>>> learning = Learning.model_validate({"champion": {"margin": 0.02},
...                                     "train": "my_models.fraud:train"})
>>> learning.champion.metric, learning.champion.margin, learning.champion.correction
('roc_auc', 0.02, 'holm')
>>> Learning.model_validate({"train": "train"})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Learning
train
  Value error, expected 'module:function' such as 'my_models.fraud:train'; got 'train' ...
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ChampionRule", "Learning"]

_IMPORT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChampionRule(_Model):
    """When a challenger may replace the champion (``learning.champion``).

    The challenger passes when, on the same decisions, its ``metric`` is shown
    not worse than the champion's by more than ``margin`` in every cohort with
    enough data (each cohort's one-sided test, corrected together by
    ``correction``: ``holm`` controls the chance of any wrong pass, ``bh`` the
    false-discovery rate), and shown better overall, each at level ``alpha``.
    A cohort with fewer than ``min_class_rows`` labelled positives or negatives
    is "not enough data": reported, never counted as a pass. The compared
    window's labels must have reached ``maturity`` × the reference's label
    coverage in each score stratum (``evaluation/maturity.py``) before any
    verdict. ``margin`` is in the metric's unit: AUC points for ``roc_auc``,
    currency per decision for ``value_per_decision``.
    """

    metric: Literal["roc_auc", "value_per_decision"] = "roc_auc"
    margin: float = Field(default=0.01, ge=0, allow_inf_nan=False)
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    correction: Literal["holm", "bh"] = "holm"
    min_class_rows: int = Field(default=25, ge=1)
    maturity: float = Field(default=0.9, gt=0, le=1)
    resamples: int = Field(default=2000, ge=100)


class Learning(_Model):
    """The learning loop's settings: the champion/challenger rule and the train hook.

    ``train`` is ``module:function`` naming the function that retrains the model
    (``loopwatch ablate`` calls it without a feature): it takes the training rows
    as a pyarrow table, the feature names to use and the label column, and
    returns a function that scores a pyarrow table (see
    :mod:`loopwatch.learning.ablation`). ``feature_groups`` names sets of
    features removed together (``--group``).
    """

    champion: ChampionRule = ChampionRule()
    train: str | None = None
    feature_groups: dict[str, tuple[str, ...]] = {}

    @field_validator("train")
    @classmethod
    def _import_string(cls, value: str | None) -> str | None:
        if value is not None and not _IMPORT.match(value):
            raise ValueError(f"expected 'module:function' such as 'my_models.fraud:train'; "
                             f"got {value!r}")
        return value
