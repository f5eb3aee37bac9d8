"""Loop 1, the prediction loop: the decision loop runtime (features, micro-batched scoring,
fallbacks, flags, experiments, cost), its tail analysis, and the decision logger."""
