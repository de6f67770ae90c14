"""Case 8: feedback that would poison every later retraining.

Unknown request ids are refused at the door (422 naming the field, at /feedback and in
`driftline feedback import`); equivalent spellings of a label are stored once as the class
they mean; a retraining meeting labels it cannot use (written by older versions, or by hand)
skips and reports them instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from conftest import write_project
from fastapi.testclient import TestClient
from faultkit import FEATURES, fit, meta
from typer.testing import CliRunner

from driftline.apps.cli import app as cli
from driftline.apps.serving.app import create_app
from driftline.core.config import load_config
from driftline.core.generator import generate
from driftline.storage.prediction_log import (
    FEEDBACK,
    log_root,
    read_feedback,
    read_labelled_log,
    write_part,
)
from driftline.storage.registry import ModelRegistry
from tasks.retrain import labelled_log

pytestmark = pytest.mark.faults
Served = tuple[Path, TestClient, list[str]]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A project serving a champion, with 6 answered predictions."""
    config = write_project(tmp_path, n_rows=300, serving={"log_flush_seconds": 0.05})
    cfg = load_config(config)
    registry = ModelRegistry.for_config(cfg)
    registry.promote(registry.register(fit(), meta(), status="blessed").version, reason="x")
    df = generate(6, seed=5)[FEATURES]
    recs = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    with TestClient(create_app(cfg)) as client:
        answer = client.post("/predict", json={"records": recs}).json()
        yield config, client, [p["request_id"] for p in answer["predictions"]]


def flush(client: TestClient) -> None:
    """Write everything the server logged so far (what its shutdown does)."""
    client.app.state.predlog.close()


def test_unknown_request_ids_are_refused_naming_the_field(served: Served) -> None:
    config, client, ids = served
    for bad in ("does-not-exist", ids[0][:-1] + "9", ids[0].replace("-0", "-7"), "a" * 32 + "-0"):
        r = client.post("/feedback", json={"request_id": bad, "label": 1})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["loc"] == ["body", "request_id"]
        assert "request id" in r.json()["detail"][0]["msg"]
    assert client.post("/feedback", json={"request_id": ids[0], "label": 1}).status_code == 202

    labels = config.parent / "labels.csv"
    pd.DataFrame({"request_id": [ids[1], "nope"], "label": [0, 1]}).to_csv(labels, index=False)
    result = CliRunner().invoke(cli, ["feedback", "import", str(labels), "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "column 'request_id'" in result.output and "data row 2: 'nope'" in result.output


def test_equivalent_spellings_are_stored_as_one_label(served: Served) -> None:
    config, client, ids = served
    for rid, label in zip(ids, [True, "true", "1", 1.0, " 0 ", False], strict=True):
        assert client.post("/feedback", json={"request_id": rid, "label": label}).status_code == 202
    flush(client)
    stored = read_feedback(log_root(load_config(config))).set_index("request_id").true_label
    assert [stored[r] for r in ids] == ["1", "1", "1", "1", "0", "0"]


def test_retraining_skips_and_reports_labels_it_cannot_use(
    served: Served,
) -> None:
    config, client, ids = served
    flush(client)
    cfg = load_config(config)
    root = log_root(cfg)
    now = datetime.now(UTC)
    poison = {  # as an older server stored them: raw, unchecked
        "request_id": ids[:4],
        "true_label": ["True", "banana", "0", "nan"],
        "y_true": [0, 0, 0, 0],
        "received_at": [now] * 4,
    }
    write_part(root, FEEDBACK, pa.table(poison))
    assert len(read_labelled_log(root)) == 4
    reference = pd.Series([0, 1, 1, 0], dtype="int64", name="churned")
    champion = ModelRegistry.for_config(cfg).alias("champion")
    recent, skipped = labelled_log(cfg, champion.metadata.table_schema, reference)
    assert skipped == {"banana": 1, "nan": 1}
    assert recent["churned"].tolist() == [1, 0] and str(recent["churned"].dtype) == "int64"
