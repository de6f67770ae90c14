"""The ingest-and-validate flow on a Prefect test server: pass, quarantine, cache."""

from __future__ import annotations

import json
import time
from pathlib import Path
from uuid import UUID

import pandas as pd
import pytest
from conftest import ROOT, write_project

from driftline.core.config import load_config
from flows.ingest import ingest_and_validate
from tasks.validate import ValidationFailed

pytestmark = pytest.mark.server


def _task_states(flow_run_id: UUID, expected: int) -> dict[str, str]:
    """Task name → state name of a flow run; states reach the API shortly after the run ends."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + 20
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            states = {r.name.rsplit("-", 1)[0]: r.state.name for r in runs if r.state}
            if len(states) >= expected and "Running" not in states.values():
                return states
            if time.monotonic() > deadline:
                return states
            time.sleep(0.5)


def test_clean_data_passes_and_second_run_hits_the_ingest_cache(
    prefect_server, tmp_path: Path
) -> None:
    config = write_project(tmp_path)
    first = ingest_and_validate(config_path=str(config))
    v = first.validation
    assert v.success and v.summary_line.startswith("passed")
    state = load_config(config).state_path
    assert Path(v.result_path).is_file() and Path(v.result_path).is_relative_to(state / "runs")
    assert Path(v.docs_path).is_file() and Path(v.docs_path).name == "index.html"
    assert json.loads(Path(v.result_path).read_text())["success"] is True
    profile = Path(first.ingested.profile_path)
    written = profile.stat().st_mtime_ns

    second_state = ingest_and_validate(config_path=str(config), return_state=True)
    second = second_state.result()
    assert second.ingested == first.ingested
    assert profile.stat().st_mtime_ns == written  # the ingest body did not run again
    assert second.validation.result_path != v.result_path  # validation runs every time
    states = _task_states(second_state.state_details.flow_run_id, expected=2)
    assert states["ingest"] == "Cached"
    assert states["validate"] == "Completed"


def _corrupt(config: Path) -> None:
    batch = sorted((config.parent / "data").glob("*.csv"))[0]
    raw = pd.read_csv(batch, dtype=str, keep_default_na=False)
    raw.loc[:2, "contract"] = "weekly"
    raw.to_csv(batch, index=False)


def test_broken_data_is_quarantined_and_fails_the_run(prefect_server, tmp_path: Path) -> None:
    suites = tmp_path / "expectations"
    suites.mkdir()
    suite = json.loads((ROOT / "expectations" / "churn.json").read_text())
    (suites / "churn.json").write_text(json.dumps(suite))
    config = write_project(tmp_path, expectations={"suite": "churn", "directory": str(suites)})
    _corrupt(config)
    with pytest.raises(ValidationFailed) as info:
        ingest_and_validate(config_path=str(config))
    message = str(info.value)
    assert "expect_column_values_to_be_in_set on 'contract'" in message
    assert "3 unexpected value(s), e.g. ['weekly']" in message

    state = load_config(config).state_path
    (held,) = (state / "quarantine").iterdir()
    assert str(held) in message
    assert (held / "data.parquet").is_file()
    assert json.loads((held / "validation.json").read_text())["success"] is False
    record = json.loads((held / "sources.json").read_text())
    assert len(record["sources"]) == 2 and record["fingerprint"] == held.name
    assert not Path(record["dataset_path"]).exists()  # moved out of the datasets folder

    # The same bytes again: ingestion is cached, validation finds the held copy and rejects it.
    with pytest.raises(ValidationFailed, match="weekly"):
        ingest_and_validate(config_path=str(config))
    assert (held / "data.parquet").is_file()

    # A suite that accepts the new category releases the batch back to the datasets folder.
    for e in suite["expectations"]:
        if e["kwargs"].get("column") == "contract" and "value_set" in e["kwargs"]:
            e["kwargs"]["value_set"].append("weekly")
    (suites / "churn.json").write_text(json.dumps(suite))
    released = ingest_and_validate(config_path=str(config))
    assert released.validation.success
    assert Path(released.ingested.dataset.path).is_file()
    assert not (held / "data.parquet").exists() and (held / "RELEASED").is_file()
    assert (held / "validation.json").is_file()  # the rejection stays on record
