"""What each rule made of each series in one check, in words (pure, no I/O).

The engine records, per rule and series (the fingerprint), the last
observation it decided and what happened to the fingerprint's alert during the
check (``RuleStep``). ``describe`` says it in one line that names the rule and
cannot contradict a detector's line about the same series: a rule is
*FIRING* (its alert is open or acknowledged), *not firing yet* (flagged, but
fewer times in a row than ``sustained``) or *not firing*, and the line says why
(the value against the rule's threshold, or the monitor's flag), so "pass rate
0.684 below 0.7" and "detector: no drift detected" are two different
statements about one series, each named.

    >>> from goldband.alerts.rules import Observation
    >>> from goldband.config.alerts import RuleConfig
    >>> rule = RuleConfig(name="floor", source="llm-eval", metric="pass_rate", below=0.7, severity="critical")
    >>> obs = Observation("llm-eval", "support-v1", "pass_rate", "2026-05-01", 0.684, False)
    >>> describe(RuleStep(rule, obs, True, 1, 0, 7, "open", ("opened",), "2026-05-01T03:17:00+00:00"))
    'rule floor (critical, pass rate below 0.7): FIRING: alert #7 opened: pass rate 0.684 is below 0.7'
    >>> later = Observation("llm-eval", "support-v1", "pass_rate", "2026-05-02", 0.721, False)
    >>> describe(RuleStep(rule, later, False, 0, 1, 7, "resolved", ("resolved",)))
    'rule floor (critical, pass rate below 0.7): not firing: alert #7 resolved: pass rate 0.721 is not below 0.7'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from goldband.alerts.rules import Observation
from goldband.config.alerts import RuleConfig

__all__ = ["ACTIVE", "RuleStep", "describe", "title"]

ACTIVE = ("open", "acked")


@dataclass(frozen=True)
class RuleStep:
    """One rule on one series, after the last observation a check fed it."""

    rule: RuleConfig
    obs: Observation  # the last observation of the check
    flagged: bool  # whether the rule flagged it
    streak: int  # flagged observations in a row, this one included
    clean: int  # clean observations in a row, this one included
    alert: int | None  # the fingerprint's latest alert, if it ever had one
    status: str | None  # that alert's status now: open | acked | resolved
    events: tuple[str, ...] = ()  # what the check did to it, in order: opened, reopened, resolved
    since: str | None = None  # when that alert opened

    @property
    def firing(self) -> bool:
        return self.status in ACTIVE

    @property
    def pending(self) -> bool:
        """Flagged, but not yet as many times in a row as the rule needs to fire."""
        return self.flagged and not self.firing


def describe(step: RuleStep, *, on: str | None = None) -> str:
    """One line: the rule (``on`` a series, when there are several), its state (FIRING, not firing yet,
    not firing) and why."""
    return f"{title(step.rule)}{f' on {on}' if on else ''}: {_state(step)}"


def title(rule: RuleConfig) -> str:
    """The rule's name, severity and what flags an observation for it."""
    metric = rule.metric.replace("_", " ")
    if rule.below is not None:
        when = f"{metric} below {rule.below:g}"
    elif rule.above is not None:
        when = f"{metric} above {rule.above:g}"
    else:
        when = f"flagged by {rule.detector}" if rule.detector else "flagged by the monitor"
    return f"rule {rule.name} ({rule.severity}, {when})"


def _state(step: RuleStep) -> str:
    if step.firing:
        return _firing(step)
    why = _why(step)
    if step.pending:
        unit = _unit(step)
        return (f"not firing yet: flagged {step.streak} of {step.rule.sustained} {unit} in a row needed: "
                f"{why}")
    if "resolved" in step.events:
        how = " (opened and resolved in this check)" if "opened" in step.events else ""
        return f"not firing: alert #{step.alert} resolved{how}: {why}"
    return f"not firing: {why}"


def _firing(step: RuleStep) -> str:
    alert = f"alert #{step.alert}"
    if "opened" in step.events:  # opened in this check (whatever followed): it is being notified
        head = f"FIRING: {alert} opened"
    elif "reopened" in step.events:
        head = f"FIRING: {alert} reopened within the cool-down (not notified again)"
    else:
        head = f"FIRING: {alert} open since {(step.since or '?')[:16].replace('T', ' ')}"
    if step.status == "acked":
        head += ", acknowledged"
    if not step.flagged:
        need = step.rule.resolve_after
        return f"{head}: {_why(step)}; clean {step.clean} of {need} {_unit(step)} in a row needed to resolve"
    return f"{head}: {_why(step)}"


def _why(step: RuleStep) -> str:
    rule, obs = step.rule, step.obs
    metric = obs.metric.replace("_", " ")
    value = "unknown" if obs.value is None or not math.isfinite(obs.value) else f"{obs.value:.3f}"
    if rule.below is not None or rule.above is not None:
        side, bar = ("below", rule.below) if rule.below is not None else ("above", rule.above)
        return f"{metric} {value} is {'' if step.flagged else 'not '}{side} {bar:g}"
    if step.flagged:
        return obs.summary or f"{metric} flagged"
    return f"{metric} not flagged" + (f" by {rule.detector}" if rule.detector else "")


def _unit(step: RuleStep) -> str:
    return "runs" if step.obs.source == "llm-eval" else "observations"

