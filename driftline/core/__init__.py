"""The pure core: configuration, stage contracts, data reading, candidates, evaluation, gates,
drift and scoring. Nothing here imports Prefect or keeps state between calls, so tests and
benchmarks call it directly."""
