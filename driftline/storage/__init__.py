"""Storage: what persists between runs (model registry, prediction log, retraining ledger,
monitoring history, quarantine, expectation suites), each behind a small module."""
