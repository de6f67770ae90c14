"""The optional MLflow mirror (`tracking.mlflow_uri`): training runs, model versions, aliases.

driftline's registry stays the source of truth (it holds the gate, the audit log and the
integrity checks); MLflow is given a copy to compare runs in its UI. Each training run is
one MLflow run in the experiment named after the project, with a nested run per candidate
(params, CV score, holdout metrics, plots) and the blessing; each registered version is an
MLflow model version of the registered model named after the project, tagged with its
driftline version (the model's bytes stay in driftline's registry: the version's `source`
names them), and the aliases champion / previous / challenger follow every move.

A plain folder as the URI becomes a SQLite store inside it (`<folder>/mlflow.db`, artifacts
in `<folder>/artifacts`): MLflow 3.17 refuses its file store unless told to allow it.
`mlflow` is imported only here, and only when the URI is set (`pip install -e '.[mlflow]'`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from driftline.core.config import ProjectConfig
from driftline.core.contracts import Blessing, EvaluationRecord, TrainedCandidate
from driftline.errors import ConfigError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

VERSION_TAG = "driftline_version"


def store_uris(uri: str) -> tuple[str, str | None]:
    """The tracking URI MLflow is given and where new experiments keep their artifacts."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        folder = Path(parsed.path)
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri()
    if parsed.scheme == "sqlite":
        db = Path(uri.removeprefix("sqlite:///"))
        db.parent.mkdir(parents=True, exist_ok=True)
        return uri, (db.parent / "mlartifacts").as_uri()
    return uri, None  # a server: its own artifact store


class MlflowMirror:
    """One project's copy in MLflow: experiment and registered model named after it."""

    def __init__(self, uri: str, project: str) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ConfigError(
                f"tracking.mlflow_uri is set ({uri}) but MLflow is not installed: "
                "pip install -e '.[mlflow]' (or unset tracking.mlflow_uri)"
            ) from None
        self.uri, self._artifacts = store_uris(uri)
        self.name = project
        self.client: MlflowClient = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    @classmethod
    def for_config(cls, cfg: ProjectConfig) -> MlflowMirror | None:
        uri = cfg.mlflow_uri
        return None if uri is None else cls(uri, cfg.project)

    def experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.name)
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(self.name, artifact_location=self._artifacts)

    def log_training(
        self,
        run_name: str,
        trained: dict[str, TrainedCandidate],
        records: list[EvaluationRecord],
        best: str,
        blessing: Blessing,
        tags: dict[str, str],
    ) -> str:
        """One run per training (the blessing, the chosen candidate) with a nested run per
        candidate; returns the training run's id."""
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        experiment = self.experiment_id()
        parent = self.client.create_run(
            experiment,
            run_name=run_name,
            tags={**tags, "blessed": str(blessing.blessed).lower(), "best_candidate": best},
        )
        parent_id = parent.info.run_id
        by_name = {r.name: r for r in records}
        for name, candidate in trained.items():
            record = by_name.get(name)
            child = self.client.create_run(
                experiment,
                run_name=name,
                tags={"mlflow.parentRunId": parent_id, "candidate": name},
            )
            metrics = [Metric("cv_score", candidate.cv_score, now, 0)]
            metrics += [Metric("fit_seconds", candidate.fit_seconds, now, 0)]
            if record is not None:
                metrics += [Metric(f"holdout_{k}", v, now, 0) for k, v in record.metrics.items()]
            params = [Param(k, str(v)[:6000]) for k, v in sorted(candidate.params.items())]
            params.append(Param("threshold", str(candidate.threshold)))
            self.client.log_batch(child.info.run_id, metrics=metrics, params=params)
            for path in record.artifacts.values() if record else []:
                if Path(path).is_file():
                    folder = "plots" if path.endswith(".png") else "evaluation"
                    self.client.log_artifact(child.info.run_id, path, artifact_path=folder)
            self.client.set_terminated(child.info.run_id)
        chosen = by_name[best]
        self.client.log_batch(
            parent_id,
            metrics=[Metric(f"holdout_{k}", v, now, 0) for k, v in chosen.metrics.items()],
            tags=[RunTag("blessing_reasons", "; ".join(blessing.reasons)[:5000])],
        )
        self.client.log_text(parent_id, blessing.model_dump_json(indent=2), "blessing.json")
        self.client.set_terminated(parent_id)
        return parent_id

    def register_version(
        self, version: str, source: str, run_id: str | None, tags: dict[str, str]
    ) -> str:
        """The MLflow model version mirroring a driftline version (created once)."""
        found = self.model_version(version)
        if found is not None:
            return found
        if self.client.search_registered_models(f"name='{self.name}'") == []:
            self.client.create_registered_model(
                self.name, description=f"mirror of driftline's registry of {self.name}"
            )
        created = self.client.create_model_version(
            self.name, source=source, run_id=run_id, tags={VERSION_TAG: version, **tags}
        )
        return str(created.version)

    def model_version(self, version: str) -> str | None:
        """The MLflow version number of a driftline version, None when not mirrored."""
        if not self.client.search_registered_models(f"name='{self.name}'"):
            return None
        for mv in self.client.search_model_versions(f"name='{self.name}'"):
            if mv.tags.get(VERSION_TAG) == version:
                return str(mv.version)
        return None

    def move_aliases(self, aliases: dict[str, str], sources: dict[str, str]) -> None:
        """Make MLflow's aliases what driftline's are (`sources`: version → its folder)."""
        wanted = {
            alias: self.register_version(version, sources.get(version, version), None, {})
            for alias, version in aliases.items()
        }
        current = self.client.get_registered_model(self.name).aliases
        for alias in set(current) - set(wanted):
            self.client.delete_registered_model_alias(self.name, alias)
        for alias, number in wanted.items():
            if current.get(alias) != number:
                self.client.set_registered_model_alias(self.name, alias, number)

    def aliases(self) -> dict[str, str]:
        """MLflow's aliases as driftline versions (for tests and `driftline models`)."""
        model = self.client.get_registered_model(self.name)
        return {
            alias: self.client.get_model_version(self.name, number).tags.get(VERSION_TAG, number)
            for alias, number in model.aliases.items()
        }


def run_tags(cfg: ProjectConfig, flow_run_id: str | None, extra: dict[str, Any]) -> dict[str, str]:
    """The tags every mirrored training run carries."""
    tags = {"driftline_project": cfg.project, "config_fingerprint": cfg.fingerprint()}
    if flow_run_id:
        tags["prefect_flow_run_id"] = flow_run_id
    return tags | {k: v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()}
