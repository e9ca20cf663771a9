"""Golden set files become pytest nodes: file -> golden set -> (case x target) items.

Items are real pytest items: ``-k``, ``-m`` (case tags are markers), ``--lf``
and ``-x`` work on them; they report the golden file and the case's line; a
failing item prints a compact domain table, never a traceback into goldband.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from goldband._util import yamlio
from goldband.bands.verdict import fails_item
from goldband.engine.plan import CasePlan
from goldband.errors import CaseFailed, GoldbandError
from goldband.golden.goldenset import GoldenSet
from goldband.plugin.state import session_of as _session
from goldband.report.terminal import failure_report
from goldband.results import Verdict


class GoldenFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        try:
            goldenset = _session(self.config).load(self.path)
        except GoldbandError as exc:
            raise self.CollectError(str(exc)) from None
        yield GoldenSetNode.from_parent(self, name=goldenset.name, goldenset=goldenset)


class GoldenSetNode(pytest.Collector):
    def __init__(self, *, goldenset: GoldenSet, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.goldenset = goldenset

    def collect(self) -> Iterator[pytest.Item]:
        try:
            plans = _session(self.config).plans(self.goldenset)
        except GoldbandError as exc:
            raise self.CollectError(str(exc)) from None
        warn_unchecked(self.goldenset, self.config.rootpath)
        for plan in plans:
            yield GoldenItem.from_parent(self, plan=plan, **_identity(self, plan.case.id, plan.target.name))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, self.CollectError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class GoldenItem(pytest.Item):
    def __init__(self, *, plan: CasePlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.add_marker("goldband")
        for tag in plan.case.tags:
            _register_marker(self.config, tag)
            self.add_marker(tag)

    @property
    def title(self) -> str:
        return f"{self.plan.goldenset}::{self.name}"

    def runtest(self) -> None:
        session = _session(self.config)
        outcome = session.settle(self.nodeid, self.plan)  # the one verdict rule (goldband.session.settle)
        result = outcome.verdict
        self.user_properties.extend(_properties(result))
        self.user_properties.extend(session.recorder.junit_properties())
        if not session.case_gates(self.plan):  # ``cases: report``: the set gate alone gates (bands.setgate)
            self.user_properties.append(("goldband_set_gated", "true"))
        elif fails_item(result, self.plan.case.band.inconclusive):
            raise CaseFailed(failure_report(self.title, self.plan.case.where, result, outcome.trials,
                                            all_trials=self.config.get_verbosity() > 0,
                                            bar=self.plan.case.band.min_pass_rate))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return excinfo.value.report
        if isinstance(excinfo.value, GoldbandError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = self.plan.case.line
        return self.plan.case.file, (line - 1 if line else None), self.title


class NoChecksWarning(UserWarning):
    """A case with no checks: every trial of it passes whatever the model answers."""


def warn_unchecked(goldenset: GoldenSet, root: Path) -> None:
    """Warn once per golden set about its cases with no checks (none of their own or of their turns, no
    rubric, no set default): they would pass silently. A warning, not an error: a set may be half-written."""
    bare = [case for case in goldenset.cases
            if not case.checks and not any(turn.checks for turn in case.turns)]
    if not bare:
        return
    first = bare[0]
    shown = ", ".join(f"'{c.id}' ({yamlio.relative(c.file, root)}:{c.line or 1})" for c in bare[:_SHOWN])
    more = f" and {len(bare) - _SHOWN} more" if len(bare) > _SHOWN else ""
    noun = "case has" if len(bare) == 1 else "cases have"
    warnings.warn_explicit(NoChecksWarning(
        f"golden set '{goldenset.name}': {len(bare)} {noun} no checks and would pass whatever the model "
        f"answers: {shown}{more}; fix: give each case 'checks:' (or a rubric), or the set 'defaults: checks:'"),
        category=NoChecksWarning, filename=str(first.file), lineno=first.line or 1)


_SHOWN = 10


def _identity(parent: pytest.Collector, case_id: str, target: str) -> dict[str, Any]:
    """Name ``case[target]``; on pytest >= 9.2 also the structured id, so --lf matches."""
    name = f"{case_id}[{target}]"
    parent_id = getattr(parent, "id", None)
    if parent_id is not None and hasattr(parent_id, "with_params"):
        return {"name": name, "nodeid": parent_id.child(case_id).with_params(target)}
    return {"name": name}


def _properties(result: Verdict) -> list[tuple[str, object]]:
    def fmt(x: float | None) -> str:
        return "" if x is None else f"{x:.4f}"

    return [("goldband_verdict", result.status), ("goldband_n", result.n),
            ("goldband_passes", result.passes), ("goldband_errors", result.errors),
            ("goldband_pass_rate", fmt(result.pass_rate)), ("goldband_pass_rate_low", fmt(result.pass_rate_low)),
            ("goldband_pass_rate_high", fmt(result.pass_rate_high)), ("goldband_gating", str(result.gating).lower()),
            ("goldband_confidence", fmt(result.confidence)), ("goldband_mean_score", fmt(result.mean_score))]


def _register_marker(config: pytest.Config, tag: str) -> None:
    """Tags become registered markers, so --strict-markers and -m work without warnings."""
    known = config.stash.setdefault(_MARKERS_KEY, set())
    if tag not in known:
        known.add(tag)
        config.addinivalue_line("markers", f"{tag}: golden-set case tag")


_MARKERS_KEY = pytest.StashKey[set[str]]()
