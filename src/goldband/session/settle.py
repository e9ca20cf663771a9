"""The one way a case's trials become its verdict, for every caller (the plugin, pre-merge, ``goldband.run``).

``settle`` applies, in order: the band (``goldband.bands.verdict``: interval or
sequential rule, budget stops, the case's learned band notes and quarantine from
its history), then the judge's gating (``goldband.judge.gate.adjust_verdict``:
notes on uncalibrated rubrics and judge errors; an item decided only by
non-gating rubrics does not gate).

Pre-merge applies both too: quarantine and judge gating decide whether a verdict
*gates* and what it says, while the base-vs-head comparison reads trial counts
(``goldband.compare``), which neither changes.
"""

from __future__ import annotations

from goldband.bands.verdict import verdict
from goldband.engine.plan import CasePlan, CaseRun
from goldband.judge.gate import adjust_verdict
from goldband.results import Verdict


def settle(plan: CasePlan, run: CaseRun) -> Verdict:
    """The case's verdict from its trials: the band's rule, then the judge's gating notes."""
    result = verdict(run.trials, plan.case.band, plan.runs, stopped=run.stopped, quarantine=plan.quarantine,
                     notes=plan.notes)
    return adjust_verdict(result, run.trials)
