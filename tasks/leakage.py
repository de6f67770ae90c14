"""The leak check of a run: each feature alone against the target on the training split."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from driftline.core.candidates import labels
from driftline.core.config import ProjectConfig
from driftline.core.contracts import Schema, Split
from driftline.core.leakage import leak_warnings


@task(name="leak-check", cache_policy=NO_CACHE)
def leak_check(cfg: ProjectConfig, split: Split, schema: Schema) -> list[str]:
    """Warnings for features that alone predict the target almost perfectly (logged, and a
    markdown artifact when there are any); the model card shows them too."""
    train = split.train.load()
    warnings = leak_warnings(
        train[schema.features], labels(train, cfg, schema.task), schema, cfg.training.seed
    )
    logger = get_run_logger()
    for warning in warnings:
        logger.warning("possible leak: %s", warning)
    if warnings:
        create_markdown_artifact(
            key=cfg.artifact_key("leak-check"),
            markdown="## Possible leaks\n\n" + "\n".join(f"- {w}" for w in warnings),
            description=f"{len(warnings)} feature(s) alone predict the target almost perfectly",
        )
    return warnings
