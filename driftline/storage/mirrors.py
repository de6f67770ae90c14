"""What follows the registry's alias moves: the dashboard's promotion panel, and MLflow.

The registry knows neither: `ModelRegistry.for_config` hands it these listeners, which
import Evidently or MLflow only when called (and MLflow only when `tracking.mlflow_uri`
is set), so a registry without them configured depends on neither.
"""

from __future__ import annotations

from typing import Any

from driftline.core.config import ProjectConfig
from driftline.storage.registry.aliases import AliasListener


def alias_listeners(cfg: ProjectConfig) -> list[AliasListener]:
    listeners: list[AliasListener] = [_dashboard_listener(cfg)]
    if cfg.mlflow_uri is not None:
        listeners.append(_mlflow_listener(cfg))
    return listeners


def _dashboard_listener(cfg: ProjectConfig) -> AliasListener:
    def dashboard(aliases: dict[str, str], moves: list[dict[str, Any]]) -> None:
        from driftline.storage.dashboard import Dashboard, champion_task, promotion_lines
        from driftline.storage.registry import ModelRegistry

        registry = ModelRegistry(cfg.state_path / "registry" / cfg.project)
        board = Dashboard.for_config(cfg, champion_task(registry))
        if board.folder.exists():  # created by the first check or training run
            board.refresh(promotion_lines(registry.audit_log()))

    return dashboard


def _mlflow_listener(cfg: ProjectConfig) -> AliasListener:
    def mlflow(aliases: dict[str, str], moves: list[dict[str, Any]]) -> None:
        from driftline.storage.mlflow_mirror import MlflowMirror
        from driftline.storage.registry import ModelRegistry

        registry = ModelRegistry(cfg.state_path / "registry" / cfg.project)
        sources = {version: registry.get(version).uri for version in aliases.values()}
        mirror = MlflowMirror.for_config(cfg)
        assert mirror is not None
        mirror.move_aliases(aliases, sources)

    return mlflow
