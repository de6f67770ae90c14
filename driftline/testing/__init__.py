"""Infrastructure for tests and benchmarks only (throw-away databases, Prefect workers)."""
