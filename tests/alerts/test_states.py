"""Each rule's state on each series after a check, in words: what the engine records and how it reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from goldband.alerts import AlertEngine, AlertsConfig, Observation, RuleConfig, ack
from goldband.alerts.states import describe
from goldband.clock import ManualClock
from goldband.store import Store, open_store


class Quiet:
    name, min_severity, max_attempts = "quiet", "info", 3

    def send(self, event: object) -> None:
        return None


@pytest.fixture
def store(store_at: str) -> Iterator[Store]:
    with open_store(store_at) as s:
        yield s


def night(i: int, value: float) -> Observation:
    return Observation("llm-eval", "support-v1", "pass_rate", f"2026-03-{2 + i:02d}T03:00:00+00:00", value, False,
                       {"goldenset": "support"}, summary=f"support-v1 on support: pass rate {value:.3f}")


def check(store: Store, rule: RuleConfig, clock: ManualClock, *values: float, start: int = 0) -> str:
    """One check (a fresh engine, as every command makes) over these nights; the rule's line after it."""
    engine = AlertEngine(store, AlertsConfig(cooldown="3d", rules=[rule]), sinks=[Quiet()], clock=clock)
    engine.process([night(start + i, v) for i, v in enumerate(values)])
    (step,) = engine.steps.values()
    return describe(step)


FLOOR = RuleConfig(name="floor", source="llm-eval", metric="pass_rate", below=0.7, severity="critical")
HEAD = "rule floor (critical, pass rate below 0.7)"


def test_sustained_resolve_after_and_acknowledged_states(store: Store) -> None:
    clock = ManualClock()
    rule = FLOOR.model_copy(update={"sustained": 2, "resolve_after": 2})
    assert check(store, rule, clock, 0.65) == (f"{HEAD}: not firing yet: flagged 1 of 2 runs in a row needed: "
                                               "pass rate 0.650 is below 0.7")
    assert check(store, rule, clock, 0.66, start=1) == f"{HEAD}: FIRING: alert #1 opened: pass rate 0.660 is below 0.7"
    ack(store, [1], by="ana")
    clock.advance(3600)
    line = check(store, rule, clock, 0.72, start=2)
    assert line.startswith(f"{HEAD}: FIRING: alert #1 open since ") and line.endswith(
        ", acknowledged: pass rate 0.720 is not below 0.7; clean 1 of 2 runs in a row needed to resolve")
    assert check(store, rule, clock, 0.73, start=3) == (f"{HEAD}: not firing: alert #1 resolved: pass rate 0.730 "
                                                        "is not below 0.7")
    assert check(store, rule, clock, 0.74, start=4) == f"{HEAD}: not firing: pass rate 0.740 is not below 0.7"


def test_an_incident_within_the_cooldown_reopens_and_a_short_one_is_named(store: Store) -> None:
    clock = ManualClock()
    assert check(store, FLOOR, clock, 0.6, 0.8) == (f"{HEAD}: not firing: alert #1 resolved (opened and resolved in "
                                                    "this check): pass rate 0.800 is not below 0.7")
    clock.advance(86400)  # within the 3-day cool-down
    assert check(store, FLOOR, clock, 0.6, start=2) == (f"{HEAD}: FIRING: alert #1 reopened within the cool-down "
                                                        "(not notified again): pass rate 0.600 is below 0.7")


def test_a_flag_rule_reads_the_monitor_s_flag(store: Store) -> None:
    rule = RuleConfig(name="eval-drift", source="llm-eval", detector="page_hinkley", severity="critical")
    engine = AlertEngine(store, AlertsConfig(rules=[rule]), sinks=[Quiet()], clock=ManualClock())
    flagged = Observation("llm-eval", "support-v1", "pass_rate", "2026-03-02", 0.61, True, {},
                          "page_hinkley", "support-v1 on support: pass rate fell from 0.88 to 0.61 (page_hinkley)")
    engine.process([flagged])
    (step,) = engine.steps.values()
    assert describe(step, on="pass_rate") == (
        "rule eval-drift (critical, flagged by page_hinkley) on pass_rate: FIRING: alert #1 opened: support-v1 on "
        "support: pass rate fell from 0.88 to 0.61 (page_hinkley)")
