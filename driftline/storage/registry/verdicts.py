"""Acting on a challenger report: promote a significantly better challenger, withdraw a
significantly worse one, each an alias move in the audit log with the report's numbers.

Which actions run is the project's choice (`serving.challenger.auto_promote` /
`auto_rollback`); a challenger the gates rejected is never promoted this way.
"""

from __future__ import annotations

from driftline.core.config import ChallengerPolicy
from driftline.core.contracts import ChallengerReport
from driftline.errors import RegistryError
from driftline.storage.registry import CHALLENGER, ModelRegistry


def act_on(
    registry: ModelRegistry, report: ChallengerReport, policy: ChallengerPolicy, actor: str
) -> ChallengerReport:
    """The report with what was done about it (`action`, `action_note`)."""
    note = f"challenger report on {report.mode} traffic: {report.explanation}"
    worse = report.comparison is not None and report.comparison.verdict == "worse"
    if report.recommendation == "promote" and policy.auto_promote:
        try:
            registry.promote(
                report.challenger,
                reason=note,
                actor=actor,
                expected=report.champion,
                gated_against=report.champion,
            )
        except RegistryError as exc:  # rejected by the gates, or the champion moved
            return report.model_copy(update={"action_note": f"not promoted: {exc}"})
        registry.remove_alias(CHALLENGER, reason=f"promoted to champion; {note}", actor=actor)
        return report.model_copy(update={"action": "promoted", "action_note": note})
    if worse and policy.auto_rollback:
        registry.remove_alias(CHALLENGER, reason=f"withdrawn; {note}", actor=actor)
        return report.model_copy(update={"action": "rolled back", "action_note": note})
    return report
