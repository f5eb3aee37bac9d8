"""A simulated production system with injectable incidents, for demos, tests and benchmarks."""
