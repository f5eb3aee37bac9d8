"""The learning loop: model versions, deploy gates, rollout, champion/challenger, features."""
