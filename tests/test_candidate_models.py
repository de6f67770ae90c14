"""Candidates between training and registration are unpickled only when their bytes check out."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
from sklearn.dummy import DummyClassifier
from test_registry import UNPICKLED, Tripwire

from driftline.core.contracts import TrainedCandidate
from driftline.errors import IntegrityError
from driftline.storage.candidate_models import load_candidate, save_candidate


def trained_at(path: Path, sha256: str) -> TrainedCandidate:
    return TrainedCandidate(
        name="dummy",
        model_path=str(path),
        sha256=sha256,
        params={},
        cv_score=0.5,
        threshold=0.5,
        fit_seconds=0.1,
    )


def test_a_candidate_round_trips(tmp_path: Path) -> None:
    model = DummyClassifier().fit([[0], [1]], [0, 1])
    path = tmp_path / "wip" / "model.joblib"
    trained = trained_at(path, save_candidate(model, path))
    assert load_candidate(trained).predict([[0]]).tolist() == model.predict([[0]]).tolist()
    assert [p.name for p in path.parent.iterdir()] == ["model.joblib"]  # no temporary left


def test_a_swapped_candidate_is_refused_before_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    trained = trained_at(path, save_candidate(DummyClassifier(), path))
    joblib.dump(Tripwire(), path)
    UNPICKLED.clear()
    with pytest.raises(IntegrityError, match="refusing to unpickle"):
        load_candidate(trained)
    assert UNPICKLED == []
    path.unlink()
    with pytest.raises(IntegrityError, match="missing"):
        load_candidate(trained)
