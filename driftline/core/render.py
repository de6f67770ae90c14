"""What a person reads: markdown for Prefect artifacts and the text of the CLI's summaries.

Pure functions of the stage contracts, so the training task, the CLI and the demo render a
result the same way.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from driftline.core.contracts import (
    ChallengerReport,
    DriftResult,
    TrainingOutcome,
    ValidationReport,
)

# The metrics a run's summary shows, of whichever task it is (each task records its own).
OUTCOME_METRICS = (
    *("roc_auc", "pr_auc", "f1", "precision", "recall", "brier"),
    *("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "log_loss"),
    *("rmse", "mae", "r2", "mape"),
)


def training_outcome(outcome: TrainingOutcome) -> str:
    """A training run's result as a person reads it after `make demo` or `driftline run train`."""
    if outcome.outcome == "unchanged":
        return (
            f"\n{outcome.project}: unchanged since {outcome.version} (same data fingerprint, "
            "config and code); nothing registered (--force --reason ... retrains anyway)\n"
            f"  champion: {outcome.champion or 'none'}\n  model card: {outcome.card_path}"
        )
    metrics = "  ".join(
        f"{k} {outcome.metrics[k]:.4f}" for k in OUTCOME_METRICS if k in outcome.metrics
    )
    against = (
        f"against champion {outcome.baseline_version}"
        if outcome.baseline_version
        else "no champion yet, so no change gate"
    )
    lines = [
        f"\n{outcome.project} {outcome.version} ({outcome.candidate}): {outcome.outcome.upper()}",
        f"  metrics: {metrics}",
        *([f"  {outcome.gates_note}"] if outcome.gates_note else []),
        f"  gate {against}: "
        + ("passed" if not outcome.blessing_reasons else "; ".join(outcome.blessing_reasons)),
        *(f"  WARNING: {w}" for w in outcome.warnings),
        *([f"  validation: {outcome.validation}"] if outcome.validation else []),
        *([f"  Data Docs: {outcome.data_docs}"] if outcome.data_docs else []),
        f"  model card: {outcome.card_path}",
        f"  run reports: {outcome.report_dir}",
        *([f"  training report: {outcome.report_path}"] if outcome.report_path else []),
    ]
    if outcome.outcome == "rejected" and outcome.champion:
        lines.append(f"  kept {outcome.champion} as the champion")
    return "\n".join(lines)


def no_champion(outcome: TrainingOutcome) -> str | None:
    """What to do when a run ends with no champion at all (None when there is one)."""
    if outcome.champion is not None:
        return None
    return (
        f"{outcome.project} has no champion: {outcome.version} was not blessed and nothing is "
        "served; loosen or set the thresholds under the config's 'gates:' key (e.g. "
        "gates.value.roc_auc.min, or remove 'gates:' for the defaults), or promote it with "
        f"driftline models promote {outcome.version} --force --reason ..."
    )


def drift_check(result: DriftResult, model_version: str) -> str:
    """A drift check as markdown: verdict, window, alerts, per-column scores, quality."""
    rows = result.rows
    lines = [
        f"## Drift check of model version `{model_version}`",
        "",
        f"**{result.reason}**"
        + (f"; drift share {result.drift_share:.0%}" if result.verdict else ""),
        "",
        f"Window: {result.window_start or 'start'} → {result.window_end or 'now'}. "
        f"Rows: reference {rows.reference:,} (sampled {rows.reference_sampled:,}), "
        f"current {rows.current:,} (sampled {rows.current_sampled:,}), "
        f"labelled {rows.labelled:,}.",
        "",
    ]
    if result.alerts:
        lines += ["### Alerts", *[f"- **{a.rule}**: {a.message}" for a in result.alerts], ""]
    if result.columns:
        lines += ["| column | method | score | threshold | drifted |", "|---|---|---|---|---|"]
        extra = [d for d in (result.prediction_drift, result.target_drift) if d is not None]
        shown = [*result.columns, *extra]
        for c in sorted(shown, key=lambda c: -c.score / c.threshold):
            mark = "**yes**" if c.drifted else "no"
            lines.append(f"| {c.column} | {c.method} | {c.score:.4f} | {c.threshold} | {mark} |")
        lines.append("")
    if result.quality:
        lines += ["### Quality", *[f"- {k}: {v:.4f}" for k, v in result.quality.items()]]
    lines.append(f"Quality: {result.quality_note}.")
    if result.estimated:
        lines += [
            "",
            "### Estimated quality (no labels needed)",
            "| metric | estimate | band |",
            "|---|---|---|",
            *[
                f"| {e.metric} | {e.value:.4f} | {e.lower:.4f} to {e.upper:.4f} ({e.level:.0%}) |"
                for e in result.estimated
            ],
        ]
    lines.append(f"Estimate: {result.estimate_note}.")
    return "\n".join(lines)


def challenger_report(report: ChallengerReport) -> str:
    """A challenger report as markdown (the CLI prints it as it is)."""
    lines = [
        f"## Challenger {report.challenger} against champion {report.champion} "
        f"({report.mode} traffic)",
        "",
        f"**Recommendation: {report.recommendation}**: {report.explanation}",
        "",
    ]
    metrics = sorted({m for q in report.quality.values() for m in q})
    if metrics:
        lines += ["| arm | labelled | " + " | ".join(metrics) + " |",
                  "|---|---|" + "---|" * len(metrics)]  # fmt: skip
        labelled = report.comparison.labelled if report.comparison else {}
        for arm, quality in report.quality.items():
            cells = " | ".join(f"{quality[m]:.4f}" if m in quality else "-" for m in metrics)
            lines.append(f"| {arm} | {labelled.get(arm, '-')} | {cells} |")
        lines.append("")
    c = report.comparison
    if c is not None:
        lines += [
            f"- {c.metric}: difference {c.difference:+.4f} (challenger - champion), "
            f"{c.level:.0%} CI {c.ci_low:+.4f} to {c.ci_high:+.4f}",
            f"- test: {c.test}, p = {c.p_value:.3g}: {c.verdict}",
            "- labels still needed per arm: "
            + ("none" if c.labels_needed is None else f"about {c.labels_needed}"),
        ]
    if report.action != "none" or report.action_note:
        lines.append(f"- action: {report.action}; {report.action_note}")
    return "\n".join(lines)


def text_page(title: str, text: str) -> str:
    """A markdown text as one self-contained HTML page, shown as it is in a `<pre>` block.

    Hand-written: the stack has no markdown-to-HTML renderer, and this markdown (tables in
    pipes, short lists) reads well as plain text.
    """
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><pre id='report'>{html.escape(text)}</pre></body></html>\n"
    )


def validation(report: ValidationReport, paths: dict[str, Path | str | None]) -> str:
    """A validation result as markdown: counts, every failure, where the reports are."""
    verdict = "passed" if report.success else "**FAILED**"
    lines = [
        f"## Validation with suite `{report.suite}`: {verdict}",
        "",
        "| evaluated | met | critical failures | warning/info failures |",
        "|---|---|---|---|",
        f"| {report.evaluated} | {report.evaluated - len(report.failures)} "
        f"| {len(report.critical)} | {len(report.failures) - len(report.critical)} |",
    ]
    if report.failures:
        lines += [
            "",
            "| column | expectation | severity | unexpected | examples |",
            "|---|---|---|---|---|",
        ]
        for f in report.failures:
            examples = f.error or ", ".join(str(e) for e in f.examples)
            count = "" if f.unexpected_count is None else f.unexpected_count
            lines.append(
                f"| {_cell(f.column or '(table)')} | {f.expectation_type} | {f.severity} "
                f"| {count} | {_cell(examples)} |"
            )
    lines.append("")
    lines += [f"- {name}: `{path}`" for name, path in paths.items() if path]
    return "\n".join(lines)


def profile_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a data profile for a Prefect table artifact (one row per column)."""
    rows = []
    for c in report["columns"]:
        summary = (
            f"min {c['min']:.4g} / max {c['max']:.4g} / mean {c['mean']:.4g}"
            if c.get("mean") is not None
            else ", ".join(f"{k}: {v}" for k, v in c.get("top", {}).items())
        )
        rows.append(
            {
                "column": c["column"],
                "kind": c["kind"],
                "dtype": c["dtype"],
                "missing": f"{c['missing_share']:.2%}",
                "distinct": c["distinct"],
                "summary": summary,
            }
        )
    return rows


def profile_description(report: dict[str, Any]) -> str:
    """The one-line description of a data profile artifact."""
    return (
        f"Data profile of {report['rows']} rows from {len(report['sources'])} file(s), "
        f"fingerprint `{report['fingerprint']}`; {report['duplicate_rows']} duplicate rows; "
        + _balance_text(report)
        + "."
    )


def _balance_text(report: dict[str, Any]) -> str:
    balance = report["target_balance"]
    if "positive_share" in balance:
        return f"positive share {balance['positive_share']:.1%}"
    if "class_shares" in balance:
        shares = ", ".join(f"{k} {v:.1%}" for k, v in balance["class_shares"].items())
        return f"{report.get('task', 'multiclass')} target, class shares {shares}"
    return f"{report.get('task', 'regression')} target"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
