"""Set gates: a golden set's band over its cases, the case as the unit (pure functions).

A case band asks "does this case pass often enough?"; a set gate asks "do
enough of this golden set's cases pass?", per golden set x target, as OpenAI
Evals' and DeepEval's accuracy gates do. Written in the golden set file::

    band:
      set: {min_pass_rate: 0.9, confidence: 0.95}

The metric is the share of the set's *counted* cases whose verdict is PASS:

- PASS counts as passing; FAIL, INCONCLUSIVE and ERROR count as not passing
  (a case that could not show it passes does not help the set pass);
- QUARANTINED and other non-gating verdicts (an uncalibrated judge) are left
  out of both counts, and said so, as they are left out of the run's status.

Its interval treats the case as the unit (Wilson by default, Clopper-Pearson
on request, from ``goldband.bands.intervals``): cases are the sample, so more
trials per case do not narrow it; more cases do. The rule is the case band's
(``goldband.bands.decide``): PASS when the interval's low end reaches
``min_pass_rate``, FAIL when its high end is below, else INCONCLUSIVE;
``min_pass_rate: 1.0`` is the exact rule (every counted case passes). No
counted case at all is INCONCLUSIVE.

A FAIL fails the run (exit status 1); an INCONCLUSIVE follows the gate's
``inconclusive`` policy (``--goldband-inconclusive`` overrides it, as it does
for cases): ``fail`` and ``more`` fail the run, ``warn`` does not. ``more``
cannot add cases, and the cases already spent their extra runs, so for a set
it means ``fail``.

By default each case still gates on its own (its item fails when it does not
pass), so the set gate can only add a failure. ``cases: report`` makes the set
the gate, as an accuracy gate is: each case keeps and shows its verdict, and
counts for the set, but a case that does not pass fails no item of its own.

>>> gate = set_gate("support", "v1", ["PASS"] * 46 + ["FAIL"] * 4, SetBand(0.9, confidence=0.95))
>>> gate.line()
'set support \u00d7 v1: 46/50 cases pass 0.92 [0.81, 0.97] >= 0.9: INCONCLUSIVE'
>>> gate.fails_run
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from goldband.bands.intervals import min_runs_to_pass, proportion_interval

__all__ = ["CASES", "METHODS", "POLICIES", "SetBand", "SetGate", "cases_to_pass", "count", "exit_status", "from_values",
           "gate_values", "set_gate"]

GateStatus = Literal["PASS", "FAIL", "INCONCLUSIVE"]
METHODS = ("wilson", "clopper-pearson")
_METHOD: tuple[Literal["wilson", "clopper-pearson"], ...] = ("wilson", "clopper-pearson")  # typed, for SetBand
_CASES: tuple[Literal["gate", "report"], ...] = ("gate", "report")
POLICIES = ("fail", "warn", "more")
CASES = ("gate", "report")  # what a case's own verdict does: fail its item (gate), or only count for the set
CROSS = "\u00d7"  # golden set x target, as the reports name a group


@dataclass(frozen=True)
class SetBand:
    """A golden set's set-level band, resolved: the bar, the interval's level and method, the policy."""

    min_pass_rate: float
    confidence: float = 0.9
    method: Literal["wilson", "clopper-pearson"] = "wilson"
    inconclusive: Literal["fail", "warn", "more"] | None = None  # None: the run's --goldband-inconclusive
    cases: Literal["gate", "report"] = "gate"  # report: a case that does not pass fails no item; the set gates

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_pass_rate <= 1.0:
            raise ValueError(f"min_pass_rate must be between 0 and 1, got {self.min_pass_rate!r}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be strictly between 0 and 1, got {self.confidence!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.cases not in CASES:
            raise ValueError(f"cases must be one of {', '.join(CASES)}, got {self.cases!r}")


@dataclass(frozen=True)
class SetGate:
    """One golden set x target's set gate: the counts, the interval, the verdict and why."""

    goldenset: str
    target: str
    status: GateStatus
    cases: int  # counted cases (gating verdicts)
    passes: int  # of them, PASS
    low: float
    high: float
    min_pass_rate: float
    confidence: float
    method: str = "wilson"
    excluded: int = 0  # quarantined or not gating: not counted
    policy: str = "fail"  # what an INCONCLUSIVE gate does
    reason: str = ""
    case_verdicts: str = "gate"  # the band's ``cases``: report means the set alone gates its cases

    @property
    def pass_rate(self) -> float:
        """passes / cases; NaN when no case was counted."""
        return self.passes / self.cases if self.cases else math.nan

    @property
    def fails_run(self) -> bool:
        """FAIL fails the run; INCONCLUSIVE too unless its policy is ``warn``."""
        return self.status == "FAIL" or (self.status == "INCONCLUSIVE" and self.policy != "warn")

    @property
    def name(self) -> str:
        return f"{self.goldenset} {CROSS} {self.target}"

    def line(self) -> str:
        """``set support \u00d7 v1: 46/50 cases pass 0.92 [0.81, 0.97] >= 0.9: INCONCLUSIVE``."""
        rate = "-" if not self.cases else f"{self.pass_rate:.2f}"
        text = (f"set {self.name}: {self.passes}/{self.cases} cases pass {rate} [{self.low:.2f}, {self.high:.2f}] "
                f">= {self.min_pass_rate:g}: {self.status}")
        if self.excluded:
            text += f" ({self.excluded} quarantined or not gating, not counted)"
        if self.status == "INCONCLUSIVE" and not self.fails_run:
            text += " (warn: does not fail the run)"
        if self.case_verdicts == "report":
            text += " (cases: report, the set gates them)"
        return text

    def to_json(self) -> dict[str, Any]:
        """The gate as report.json's group ``set_gate`` (NaN as None)."""
        rate = None if not self.cases else self.pass_rate
        return {"status": self.status, "cases": self.cases, "passes": self.passes, "pass_rate": rate,
                "low": self.low, "high": self.high, "min_pass_rate": self.min_pass_rate,
                "confidence": self.confidence, "method": self.method, "excluded": self.excluded,
                "inconclusive": self.policy, "fails_run": self.fails_run, "reason": self.reason,
                "cases_gate": self.case_verdicts == "gate"}


def count(verdicts: Iterable[str | tuple[str, bool]]) -> tuple[int, int, int]:
    """(counted, passing, excluded) from verdict statuses, or (status, gating) pairs.

    >>> count(["PASS", "FAIL", "ERROR", "INCONCLUSIVE", "QUARANTINED", ("PASS", False)])
    (4, 1, 2)
    """
    counted = passes = excluded = 0
    for item in verdicts:
        status, gating = (item, True) if isinstance(item, str) else item
        if status == "QUARANTINED" or not gating:
            excluded += 1
            continue
        counted += 1
        passes += status == "PASS"
    return counted, passes, excluded


def set_gate(goldenset: str, target: str, verdicts: Sequence[str | tuple[str, bool]], band: SetBand, *,
             policy: str | None = None) -> SetGate:
    """The set gate of one golden set x target from its cases' verdicts (see the module docstring).

    ``policy`` (``--goldband-inconclusive``) overrides the band's own ``inconclusive``; default ``fail``.
    """
    cases, passes, excluded = count(verdicts)
    low, high = proportion_interval(passes, cases, confidence=band.confidence, method=band.method)
    return _gate(goldenset, target, cases, passes, excluded, low, high, band, policy or band.inconclusive or "fail")


def _gate(goldenset: str, target: str, cases: int, passes: int, excluded: int, low: float, high: float,
          band: SetBand, policy: str) -> SetGate:
    status = _status(cases, passes, low, high, band.min_pass_rate)
    return SetGate(goldenset, target, status, cases, passes, low, high, band.min_pass_rate, band.confidence,
                   band.method, excluded, policy, _reason(status, cases, passes, low, high, band), band.cases)


def _status(cases: int, passes: int, low: float, high: float, bar: float) -> GateStatus:
    """The case band's pass-rate rule (``goldband.bands.decide``), cases for trials."""
    if cases == 0:
        return "INCONCLUSIVE"
    if bar == 1.0:
        return "PASS" if passes == cases else "FAIL"
    return "PASS" if low >= bar else "FAIL" if high < bar else "INCONCLUSIVE"


def gate_values(gate: SetGate) -> dict[str, float]:
    """The gate as numbers, one a metric (``set_*``): the run's series points keep it, the reports read it
    back (``from_values``). ``set_pass_rate`` is left out when no case was counted."""
    values = {"set_cases": gate.cases, "set_passes": gate.passes, "set_excluded": gate.excluded,
              "set_pass_rate_low": gate.low, "set_pass_rate_high": gate.high,
              "set_min_pass_rate": gate.min_pass_rate, "set_confidence": gate.confidence,
              "set_method": METHODS.index(gate.method), "set_inconclusive": POLICIES.index(gate.policy),
              "set_cases_report": CASES.index(gate.case_verdicts)}
    if gate.cases:
        values["set_pass_rate"] = gate.pass_rate
    return {k: float(v) for k, v in values.items()}


def from_values(goldenset: str, target: str, values: Mapping[str, float]) -> SetGate | None:
    """The gate ``gate_values`` gave, from a group's metrics; None when the group had no set gate.

    >>> gate = set_gate("s", "t", ["PASS"] * 9 + ["FAIL"], SetBand(0.5))
    >>> from_values("s", "t", gate_values(gate)) == gate
    True
    """
    if "set_cases" not in values:
        return None
    band = SetBand(values["set_min_pass_rate"], values["set_confidence"], _METHOD[int(values["set_method"])],
                   cases=_CASES[int(values.get("set_cases_report", 0))])
    return _gate(goldenset, target, int(values["set_cases"]), int(values["set_passes"]),
                 int(values["set_excluded"]), values["set_pass_rate_low"], values["set_pass_rate_high"], band,
                 POLICIES[int(values["set_inconclusive"])])


def _reason(status: GateStatus, cases: int, passes: int, low: float, high: float, band: SetBand) -> str:
    """Why, in the case band's words, with what an INCONCLUSIVE needs."""
    bar, level = band.min_pass_rate, f"confidence {band.confidence:g}"
    if cases == 0:
        return "no gating case to count"
    if bar == 1.0:
        return (f"all {cases} cases passed (bar 1.0)" if status == "PASS"
                else f"{cases - passes} of {cases} cases did not pass (bar 1.0)")
    if status == "PASS":
        return f"lower bound {low:.3f} >= min_pass_rate {bar:g} ({level})"
    if status == "FAIL":
        return f"upper bound {high:.3f} < min_pass_rate {bar:g} ({level})"
    need = cases_to_pass(band)
    more = (f"; {cases} cases cannot show >= {bar:g} at {level}: a PASS needs at least {need}, all passing"
            if cases < need else "; more cases narrow it (more trials per case do not)")
    return f"[{low:.3f}, {high:.3f}] straddles {bar:g}{more}"


def cases_to_pass(band: SetBand) -> int:
    """The fewest cases whose all passing can PASS the gate (``intervals.min_runs_to_pass``, cases for runs).

    >>> cases_to_pass(SetBand(0.9, confidence=0.95))
    35
    """
    return min_runs_to_pass(min_pass_rate=band.min_pass_rate, confidence=band.confidence, method=band.method)


def exit_status(status: int, gates: Iterable[SetGate]) -> int:
    """The run's exit status with its set gates: 1 in place of 0 when one fails the run; any other kept.

    >>> exit_status(0, [SetGate("s", "t", "FAIL", 10, 2, 0.1, 0.5, 0.9, 0.9)])
    1
    """
    return 1 if int(status) == 0 and any(g.fails_run for g in gates) else int(status)
