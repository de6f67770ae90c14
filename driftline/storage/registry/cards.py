"""The registry's third room: the model card, markdown written from a version's record alone,
so every version has one (Google's model cards: purpose, data, metrics, gate, lineage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from driftline.core.contracts import describe_holdout
from driftline.core.metadata import ModelMetadata
from driftline.storage.registry.versions import ModelVersion

CHAMPION = "champion"


def _gate_outcome(mv: ModelVersion, moves: list[dict[str, Any]]) -> list[str]:
    """The gate's verdict, and every time the version became champion: who, when, why."""
    lines = [f"- Gate outcome: **{mv.status}**"]
    for move in moves:
        if move.get("alias") != CHAMPION or move.get("to") != mv.version:
            continue
        how = "**forced past the gates**" if move.get("forced") else "promoted"
        lines.append(
            f"- {how} to champion by {move.get('actor')} at {move.get('time')} "
            f"({move.get('action')}): {move.get('reason') or 'no reason given'}"
        )
    return lines


def _data(mv: ModelVersion) -> list[str]:
    m = mv.metadata
    lines = [
        f"- Dataset fingerprint: `{m.data.fingerprint if m.data else 'not recorded'}`",
        f"- Holdout fingerprint: `{m.holdout.fingerprint if m.holdout else 'not recorded'}`",
    ]
    if m.data is not None and m.data.sources:
        shown = ", ".join(f"`{Path(s).name}`" for s in m.data.sources[:20])
        more = f" and {len(m.data.sources) - 20} more" if len(m.data.sources) > 20 else ""
        lines.append(f"- Source files ({len(m.data.sources)}): {shown}{more}")
    if m.train is not None and m.holdout is not None:
        split = describe_holdout(
            m.split_strategy or "not recorded",
            m.holdout.rows,
            m.train.rows,
            m.holdout_start,
            m.holdout_end,
            m.holdout_files,
        )
        lines.append(f"- Split: {split}")
    for side, shares in m.target_balance.items():
        if m.task == "regression":
            text = ", ".join(f"{k} {v:.4g}" for k, v in shares.items())
        else:
            text = ", ".join(f"`{k}` {v:.1%}" for k, v in sorted(shares.items()))
        lines.append(f"- `{m.target}` in the {side} set: {text}")
    return lines


def render_card(mv: ModelVersion, moves: list[dict[str, Any]] | None = None) -> str:
    """A version's model card; `moves`: the audit log, for who promoted it and why."""
    m = mv.metadata
    lineage = m.lineage
    code = lineage.code
    libraries = ", ".join(f"{k} {v}" for k, v in lineage.libraries.items())
    seconds = f"{m.fit_seconds:.1f} s" if m.fit_seconds is not None else "not recorded"
    lines = [
        f"# Model card: {m.project} {mv.version}",
        "",
        f"- Registered: {mv.created_at}",
        *_gate_outcome(mv, moves or []),
        f"- Candidate: {m.candidate} (search time {seconds})",
        f"- sha256 of model.joblib: `{mv.sha256}`",
        "",
        "## Purpose",
        "",
        _purpose(m),
        "",
        f"- Task: {m.task}",
        *(f"- {note}" for note in m.table_schema.notes),
        "",
        "## Data",
        "",
        *_data(mv),
        "",
        *(["## Warnings", "", *(f"- **{w}**" for w in m.warnings), ""] if m.warnings else []),
        "## Metrics (holdout)",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {k} | {_fmt(v)} |" for k, v in m.metrics.items()),
        "",
        *_per_class(m),
        *_calibration(m),
        "## Blessing",
        "",
        f"The gates {'passed' if mv.status == 'blessed' else 'rejected'} this version"
        + (f" (against {m.blessing.baseline_id})." if m.blessing.baseline_id else "."),
        *(f"- {check.message}: {check.status}" for check in m.blessing.checks),
        *(
            f"- {reason}"
            for reason in m.blessing.reasons
            if reason not in {c.message for c in m.blessing.checks}
        ),
        *([f"- Holdout: {m.blessing.holdout}"] if m.blessing.holdout else []),
        "",
        "## Search",
        "",
        m.search.describe() + "." if m.search else "Not recorded.",
        *([f"- Encoding: {m.search.encoding}"] if m.search and m.search.encoding else []),
        "",
        *(
            [
                "## Threshold",
                "",
                _fmt(m.threshold if m.threshold is not None else "not recorded"),
                "",
            ]
            if m.task == "binary"
            else []
        ),
        "## Features",
        "",
        f"- Numeric: {', '.join(m.table_schema.numeric) or 'none'}",
        f"- Categorical: {', '.join(m.table_schema.categorical) or 'none'}",
        "",
        "## Lineage",
        "",
        f"- Config hash: `{lineage.config_hash or 'not recorded'}`",
        f"- Prefect flow run: `{lineage.flow_run_id or 'not recorded'}`",
        f"- Git commit: `{code.commit}`{' (uncommitted changes)' if code.dirty else ''}"
        if code
        else "- Git commit: not recorded",
        f"- Libraries: {libraries or 'not recorded'}",
        f"- Parameters: `{json.dumps(m.params, sort_keys=True, default=str)}`",
        "",
    ]
    return "\n".join(lines)


def _per_class(m: ModelMetadata) -> list[str]:
    if not m.per_class:
        return []
    return [
        "## Per class (holdout)",
        "",
        "| class | precision | recall | rows |",
        "|---|---|---|---|",
        *(
            f"| {c} | {v['precision']:.4f} | {v['recall']:.4f} | {int(v.get('support', 0))} |"
            for c, v in m.per_class.items()
        ),
        "",
    ]


def _calibration(m: ModelMetadata) -> list[str]:
    """Binary: whether the probabilities can be read as probabilities (reliability curve)."""
    c = m.calibration
    if c is None:
        return []
    return [
        "## Calibration (holdout)",
        "",
        f"Brier score {c.brier:.4f}; mean predicted probability {c.mean_probability:.3f} "
        f"against a positive rate of {c.positive_rate:.3f}. Reliability curve "
        "(`reliability_curve.png`): mean predicted probability → observed positive share.",
        "",
        "| predicted | observed |",
        "|---|---|",
        *(f"| {p:.3f} | {o:.3f} |" for p, o in c.curve),
        "",
    ]


def _purpose(m: ModelMetadata) -> str:
    if m.task == "regression":
        return f"Predicts the number `{m.target}` for one row of tabular data."
    if m.task == "multiclass":
        classes = ", ".join(f"`{c}`" for c in m.table_schema.classes)
        return (
            f"Predicts which class `{m.target}` is ({classes}) for one row of tabular data, "
            "with a probability per class."
        )
    return (
        f"Scores the probability that `{m.target}` is `{m.positive_label}` for one row of "
        "tabular data; the decision threshold below turns the score into a label."
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
