"""The model registry: versions, aliases, audit, integrity and crash safety, locally and on memory://.

Crashes are simulated by making one rename or write raise midway; what a reader sees
afterwards must be the state before the operation (or, for the audit, after it).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import fsspec
import joblib
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from driftline.core.config import ProjectConfig
from driftline.core.contracts import Blessing, DatasetRef, SearchSummary, TrainedCandidate
from driftline.core.generator import CATEGORICAL, NUMERIC, TARGET, generate
from driftline.core.metadata import ModelMetadata
from driftline.errors import IntegrityError, RegistryError
from driftline.orchestration import events
from driftline.storage.candidate_models import save_candidate
from driftline.storage.registry import CHAMPION, PREVIOUS, ModelRegistry, ModelVersion
from driftline.storage.registry.aliases import AliasStore
from driftline.testing.models import churn_metadata

# Objects unpickled by the tripwire; a refused load must leave this empty.
UNPICKLED: list[str] = []


def _fire() -> str:
    UNPICKLED.append("unpickled")
    return "payload"


class Tripwire:
    """Unpickling this runs code, as any pickle can: proof that load_model refused first."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_fire, ())


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return generate(500)


@pytest.fixture(scope="module")
def model(data: pd.DataFrame) -> Pipeline:
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                CATEGORICAL,
            ),
        ]
    )
    return make_pipeline(prep, LogisticRegression(max_iter=500)).fit(data, data[TARGET])


def _ref(letter: str) -> DatasetRef:
    return DatasetRef(
        path=f"/data/{letter}", fingerprint=letter * 20, rows=1, columns=[], sources=[]
    )


def meta(roc_auc: float = 0.85, **extra: Any) -> ModelMetadata:
    """Metadata as the training flow records it."""
    fields: dict[str, Any] = {
        "params": {"C": 1.0},
        "metrics": {"roc_auc": roc_auc, "pr_auc": 0.7, "f1": np.float64(0.61), "log_loss": 0.42},
        "threshold": 0.37,
        "search": SearchSummary(
            budget_seconds=60,
            settings_planned=4,
            settings_tried=2,
            settings_cut_off=2,
            best_rows=900,
            seconds=61.5,
        ),
        "data": _ref("d"),
        "holdout": _ref("h"),
    }
    return churn_metadata(**(fields | extra))


def rejected(reasons: list[str]) -> Blessing:
    return Blessing(
        blessed=False,
        candidate_id="logistic_regression",
        baseline_id=None,
        checks=[],
        reasons=reasons,
    )


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry")


@pytest.fixture
def memory_registry() -> Iterator[ModelRegistry]:
    root = f"memory://registry-{uuid.uuid4().hex[:8]}"
    registry = ModelRegistry(root)
    yield registry
    registry.fs.rm(registry.root, recursive=True)


def two_versions(registry: ModelRegistry, model: Pipeline) -> tuple[ModelVersion, ModelVersion]:
    v1 = registry.register(model, meta(0.80), status="blessed")
    v2 = registry.register(model, meta(0.86), status="blessed")
    return v1, v2


def test_register_list_get(
    registry: ModelRegistry, model: Pipeline, data: pd.DataFrame, tmp_path: Path
) -> None:
    plot = tmp_path / "roc.png"
    plot.write_bytes(b"\x89PNG fake")
    reference = data.head(100)
    v1 = registry.register(
        model, meta(), status="blessed", reference=reference, files={"plots/roc.png": plot}
    )
    v2 = registry.register(model, meta(0.9), status="rejected", card="# my card\n")

    assert (v1.version, v2.version) == ("v0001", "v0002")
    assert [v.version for v in registry.versions()] == ["v0001", "v0002"]
    assert registry.get("v0001") == v1
    assert v1.created_at.endswith("+00:00")
    folder = Path(v1.uri)
    assert sorted(p.name for p in folder.iterdir()) == [
        "card.md",
        "metadata.json",
        "model.joblib",
        "plots",
        "reference.parquet",
    ]
    assert (folder / "plots" / "roc.png").read_bytes() == plot.read_bytes()
    stored = json.loads((folder / "metadata.json").read_text())
    assert stored["version"] == "v0001" and stored["sha256"] == v1.sha256
    assert stored["metrics"]["f1"] == pytest.approx(0.61)  # a numpy float, stored as JSON
    env = v1.metadata.lineage.libraries
    assert set(env) >= {"sklearn", "pandas", "numpy", "prefect", "driftline"} and env["sklearn"]
    assert v1.metadata.lineage.code is None or v1.metadata.lineage.code.commit
    card = (folder / "card.md").read_text()
    for part in ("## Purpose", "## Metrics (holdout)", "| roc_auc | 0.8500 |", "## Lineage"):
        assert part in card
    assert "## Search" in card and "2/4 settings tried, 2 cut off by the budget" in card
    assert (Path(v2.uri) / "card.md").read_text() == "# my card\n"
    assert v1.metadata.key_metrics() == {
        "roc_auc": 0.85,
        "pr_auc": 0.7,
        "f1": 0.61,
        "log_loss": 0.42,
    }

    loaded = registry.load_model("v0001")
    np.testing.assert_allclose(loaded.predict_proba(data), model.predict_proba(data))
    pd.testing.assert_frame_equal(pd.read_parquet(registry.reference_uri("v0001")), reference)
    with pytest.raises(RegistryError, match="without a reference"):
        registry.reference_uri("v0002")


def test_bad_requests_are_refused(registry: ModelRegistry, model: Pipeline) -> None:
    with pytest.raises(RegistryError, match="status"):
        registry.register(model, meta(), status="maybe")
    with pytest.raises(ValidationError, match="sha256"):  # the registry's own fields
        registry.register(model, meta(sha256="x"), status="blessed")
    with pytest.raises(RegistryError, match="do not exist"):
        registry.register(model, meta(), status="blessed", files={"a.png": Path("/nope.png")})
    with pytest.raises(RegistryError, match="relative path"):
        registry.register(model, meta(), status="blessed", files={"../x": Path(__file__)})
    with pytest.raises(RegistryError, match="not JSON"):
        registry.register(model, meta(params={"when": object()}), status="blessed")
    assert registry.versions() == []
    for name in ("v0099", "../v0001", "champion"):
        with pytest.raises(RegistryError, match="unknown model version"):
            registry.get(name)


def test_promote_and_rollback(registry: ModelRegistry, model: Pipeline) -> None:
    v1, v2 = two_versions(registry, model)
    token = registry.aliases_token()

    assert registry.promote("v0001", reason="first") is None
    assert registry.aliases() == {CHAMPION: "v0001"}
    assert registry.aliases_token() != token

    old = registry.promote("v0002", reason="better")
    assert old == v1
    assert registry.aliases() == {CHAMPION: "v0002", PREVIOUS: "v0001"}
    assert registry.alias(CHAMPION) == v2
    with pytest.raises(RegistryError, match="already the champion"):
        registry.promote("v0002", reason="again")

    assert registry.rollback(reason="v2 misbehaves") == v1
    assert registry.aliases() == {CHAMPION: "v0001", PREVIOUS: "v0002"}
    token = registry.aliases_token()
    assert registry.aliases_token() == token  # nothing moved, nothing to reload
    assert registry.alias("challenger") is None


def test_rollback_needs_a_previous(registry: ModelRegistry, model: Pipeline) -> None:
    registry.register(model, meta(), status="blessed")
    with pytest.raises(RegistryError, match="no 'previous'"):
        registry.rollback(reason="panic")
    registry.promote("v0001", reason="first")
    with pytest.raises(RegistryError, match="no 'previous'"):
        registry.rollback(reason="panic")


def test_rejected_version_needs_force_and_reason(registry: ModelRegistry, model: Pipeline) -> None:
    registry.register(model, meta(), status="blessed")
    registry.register(model, meta(0.7), status="rejected")
    registry.promote("v0001", reason="first")

    with pytest.raises(RegistryError, match="rejected by the gates"):
        registry.promote("v0002", reason="I like it")
    for reason in ("", "   "):
        with pytest.raises(RegistryError, match="needs a reason"):
            registry.promote("v0002", reason=reason, force=True)
    assert registry.aliases() == {CHAMPION: "v0001"}

    registry.promote("v0002", reason="hotfix for a known gate bug", force=True, actor="alice")
    assert registry.aliases() == {CHAMPION: "v0002", PREVIOUS: "v0001"}
    last = registry.audit_log()[-2]
    assert last["alias"] == CHAMPION and last["to"] == "v0002"
    assert last["forced"] is True and last["reason"] == "hotfix for a known gate bug"
    assert last["actor"] == "alice"


def test_audit_log_records_every_move(registry: ModelRegistry, model: Pipeline) -> None:
    two_versions(registry, model)
    registry.promote("v0001", reason="first", actor="ci")
    registry.promote("v0002", reason="better")
    registry.set_alias("challenger", "v0001", reason="shadow test")
    registry.remove_alias("challenger", reason="done")
    registry.rollback(reason="undo")

    moves = [(e["action"], e["alias"], e["from"], e["to"]) for e in registry.audit_log()]
    assert moves == [
        ("promote", CHAMPION, None, "v0001"),
        ("promote", CHAMPION, "v0001", "v0002"),
        ("promote", PREVIOUS, None, "v0001"),
        ("set", "challenger", None, "v0001"),
        ("remove", "challenger", "v0001", None),
        ("rollback", CHAMPION, "v0002", "v0001"),
        ("rollback", PREVIOUS, "v0001", "v0002"),
    ]
    first = registry.audit_log()[0]
    assert set(first) >= {"time", "alias", "from", "to", "reason", "actor", "forced"}
    assert (first["actor"], first["reason"], first["forced"]) == ("ci", "first", False)
    lines = (Path(registry.root) / "audit.jsonl").read_text().splitlines()
    assert len(lines) == len(moves)


def test_alias_rules(registry: ModelRegistry, model: Pipeline) -> None:
    registry.register(model, meta(), status="rejected")
    registry.set_alias("challenger", "v0001", reason="a rejected model may be shadow-tested")
    assert registry.aliases() == {"challenger": "v0001"}
    with pytest.raises(RegistryError, match="promote or rollback"):
        registry.set_alias(CHAMPION, "v0001", reason="sneak past the gates")
    with pytest.raises(RegistryError, match="lowercase"):
        registry.set_alias("Bad Name", "v0001", reason="x")
    with pytest.raises(RegistryError, match="unknown model version"):
        registry.set_alias("canary", "v0042", reason="x")
    with pytest.raises(RegistryError, match="no alias"):
        registry.remove_alias("canary", reason="x")


def test_tampered_model_is_refused_before_unpickling(
    registry: ModelRegistry, model: Pipeline
) -> None:
    v1 = registry.register(model, meta(), status="blessed")
    path = Path(v1.uri) / "model.joblib"
    joblib.dump(Tripwire(), path)
    assert joblib.load(path) == "payload" and UNPICKLED == ["unpickled"]  # the trap works
    UNPICKLED.clear()

    with pytest.raises(IntegrityError, match="refusing to unpickle"):
        registry.load_model("v0001")
    assert UNPICKLED == []

    path.unlink()
    with pytest.raises(IntegrityError, match="missing"):
        registry.load_model("v0001")


def test_crash_while_promoting_keeps_the_old_champion(
    registry: ModelRegistry, model: Pipeline, data: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_versions(registry, model)
    registry.promote("v0001", reason="first")
    token = registry.aliases_token()

    def crash(*args: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        registry.promote("v0002", reason="better")
    monkeypatch.undo()

    assert registry.aliases() == {CHAMPION: "v0001"}
    assert registry.aliases_token() == token
    assert registry.load_model(registry.alias(CHAMPION).version).predict(data).shape == (500,)
    assert [e["to"] for e in registry.audit_log()] == ["v0001"]
    left = {p.name for p in Path(registry.root).iterdir()}
    # no temporary file; the lock file stays (an OS lock on it dies with its holder)
    assert left == {".claims", ".lock", ".staging", "aliases.json", "audit.jsonl", "versions"}
    registry.promote("v0002", reason="better")  # and the registry still works
    assert registry.aliases()[CHAMPION] == "v0002"


def test_crash_between_alias_move_and_audit_loses_no_entry(
    registry: ModelRegistry, model: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_versions(registry, model)
    registry.promote("v0001", reason="first")
    append = AliasStore.append_audit

    def crash(self: AliasStore, entries: list[dict[str, Any]]) -> None:
        if entries:
            raise OSError("killed before the audit append")

    monkeypatch.setattr(AliasStore, "append_audit", crash)
    with pytest.raises(OSError, match="killed"):
        registry.promote("v0002", reason="better")
    monkeypatch.setattr(AliasStore, "append_audit", append)

    assert registry.aliases() == {CHAMPION: "v0002", PREVIOUS: "v0001"}
    expected = [("first", "v0001"), ("better", "v0002"), ("better", "v0001")]
    assert [(e["reason"], e["to"]) for e in registry.audit_log()] == expected
    registry.set_alias("challenger", "v0001", reason="next")  # repairs audit.jsonl first
    lines = (Path(registry.root) / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["reason"] for line in lines] == ["first", "better", "better", "next"]


def test_crash_while_registering_leaves_no_visible_version(
    registry: ModelRegistry, model: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.register(model, meta(), status="blessed")

    def crash(*args: Any) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(OSError, match="power cut"):
        registry.register(model, meta(), status="blessed")
    monkeypatch.undo()

    assert [v.version for v in registry.versions()] == ["v0001"]
    assert not list((Path(registry.root) / ".staging").iterdir())
    assert not list((Path(registry.root) / ".claims").iterdir())  # not even its claim
    assert registry.register(model, meta(), status="blessed").version == "v0002"


def test_concurrent_registrations_get_distinct_ids(
    registry: ModelRegistry, model: Pipeline
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(
            pool.map(lambda i: registry.register(model, meta(), status="blessed"), range(8))
        )
    ids = sorted(v.version for v in made)
    assert ids == [f"v{i:04d}" for i in range(1, 9)]
    assert [v.version for v in registry.versions()] == ids
    for v in made:
        assert registry.get(v.version).sha256 == v.sha256


def test_memory_filesystem(
    memory_registry: ModelRegistry,
    model: Pipeline,
    data: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = memory_registry
    plot = tmp_path / "pr.png"
    plot.write_bytes(b"png")
    v1 = registry.register(
        model, meta(), status="blessed", reference=data.head(50), files={"pr.png": plot}
    )
    registry.register(model, meta(0.9), status="blessed")
    assert v1.uri.startswith("memory://")
    assert [v.version for v in registry.versions()] == ["v0001", "v0002"]
    with fsspec.open(f"{v1.uri}/pr.png", "rb") as fh:
        assert fh.read() == b"png"
    assert len(pd.read_parquet(registry.reference_uri("v0001"))) == 50

    registry.promote("v0001", reason="first")
    registry.promote("v0002", reason="better")
    assert registry.rollback(reason="undo").version == "v0001"
    assert registry.aliases() == {CHAMPION: "v0001", PREVIOUS: "v0002"}
    assert len(registry.audit_log()) == 5
    np.testing.assert_allclose(
        registry.load_model("v0001").predict_proba(data), model.predict_proba(data)
    )

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("network gone")

    monkeypatch.setattr(registry.fs, "mv", crash)
    with pytest.raises(OSError):
        registry.promote("v0002", reason="again")
    with pytest.raises(OSError):
        registry.register(model, meta(), status="blessed")
    monkeypatch.undo()
    assert registry.aliases() == {CHAMPION: "v0001", PREVIOUS: "v0002"}
    assert [v.version for v in registry.versions()] == ["v0001", "v0002"]

    registry.fs.pipe_file(f"{registry.root}/versions/v0001/model.joblib", b"not the model")
    with pytest.raises(IntegrityError):
        registry.load_model("v0001")


def test_crash_midway_through_a_remote_publish_hides_the_version(
    memory_registry: ModelRegistry, model: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a bucket files move one by one: metadata.json goes last and marks a version done."""
    registry = memory_registry
    mv = registry.fs.mv

    def crash_on_metadata(src: str, dst: str, **kwargs: Any) -> None:
        if src.endswith("metadata.json"):
            raise OSError("network gone")
        mv(src, dst, **kwargs)

    monkeypatch.setattr(registry.fs, "mv", crash_on_metadata)
    with pytest.raises(OSError):
        registry.register(model, meta(), status="blessed")
    monkeypatch.undo()
    assert registry.fs.exists(f"{registry.root}/versions/v0001/model.joblib")  # moved, but
    assert registry.versions() == []  # not a version without its metadata
    with pytest.raises(RegistryError):
        registry.get("v0001")


# The Prefect tasks, called directly (no flow run, no server).


@pytest.fixture
def cfg(tmp_path: Path) -> ProjectConfig:
    return ProjectConfig(
        project="churn-demo",
        data={"source": "data"},
        target={"column": TARGET},
        expectations={"suite": "churn"},
        state_dir=str(tmp_path / "state"),
    )


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    sent: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(events, "emit", lambda *event: sent.append(event))
    return sent


def test_register_and_promote_tasks(
    cfg: ProjectConfig,
    model: Pipeline,
    data: pd.DataFrame,
    tmp_path: Path,
    emitted: list[tuple[str, str, dict[str, Any]]],
) -> None:
    from prefect.logging import disable_run_logger

    from tasks.register import promote, register

    model_path = tmp_path / "model.joblib"
    trained = TrainedCandidate(
        name="logistic_regression",
        model_path=str(model_path),
        sha256=save_candidate(model, model_path),
        params={},
        cv_score=0.8,
        threshold=0.5,
        fit_seconds=1.0,
    )
    reference_path = tmp_path / "reference.parquet"
    data.head(20).to_parquet(reference_path)
    registry = ModelRegistry.for_config(cfg)
    with disable_run_logger():
        v1 = register.fn(cfg, trained, meta(0.8), "blessed", reference_path, None)
        v2 = register.fn(cfg, trained, meta(0.86), "blessed", None, None)
        bad = register.fn(
            cfg,
            trained,
            meta(0.6, blessing=rejected(["roc_auc 0.6 < 0.75"])),
            "rejected",
            None,
            None,
        )
        assert len(pd.read_parquet(registry.reference_uri(v1.version))) == 20

        assert promote.fn(cfg, v1, True, False, None, None).version == "v0001"
        assert promote.fn(cfg, v2, True, False, None, "v0001").version == "v0002"
        assert promote.fn(cfg, v2, True, False, None, "v0001").version == "v0002"  # a re-run
        assert promote.fn(cfg, bad, False, False, None) is None
        with pytest.raises(RegistryError, match="needs a reason"):
            promote.fn(cfg, bad, False, True, " ")
        assert registry.aliases() == {CHAMPION: "v0002", PREVIOUS: "v0001"}
        assert promote.fn(cfg, bad, False, True, "gate bug #12").version == "v0003"

    assert [(name, project) for name, project, _ in emitted] == [
        (events.MODEL_PROMOTED, "churn-demo"),
        (events.MODEL_PROMOTED, "churn-demo"),
        (events.MODEL_REJECTED, "churn-demo"),
        (events.MODEL_PROMOTED, "churn-demo"),
    ]
    second = emitted[1][2]
    assert (second["version"], second["previous_version"]) == ("v0002", "v0001")
    assert second["metrics"]["roc_auc"] == 0.86 and second["previous_metrics"]["roc_auc"] == 0.8
    assert emitted[2][2] == {"version": "v0003", "reasons": ["roc_auc 0.6 < 0.75"]}
    assert emitted[3][2]["forced"] is True and emitted[3][2]["reason"] == "gate bug #12"
    assert registry.audit_log()[-2]["forced"] is True
