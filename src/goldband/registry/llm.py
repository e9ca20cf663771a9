"""The LLM side of the gate: a candidate target against the serving one, on the same golden sets, in one engine.

An LLM model's versions are target configurations (``goldband.engine.targets.
target_record``). The gate runs every case of the model's golden sets on both
targets through one session's engine (trials of both sides in flight together),
each side a *fixed* number of trials per case (``runs``): the case-level test
(Barnard's, ``goldband.compare``) assumes a fixed n, so no adaptive stopping
feeds it. The candidate passes when none of its verdicts is a gating FAIL or
ERROR and no case regressed significantly against the champion
(Benjamini-Hochberg across cases at ``alpha``, a drop of at least ``min_effect``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goldband.compare.cases import CaseStats, Comparison, compare
from goldband.config.registry import RegistryModelConfig
from goldband.config.settings import Settings
from goldband.engine.targets import Target, stored_target
from goldband.errors import RegistryError
from goldband.golden.goldenset import GoldenSet
from goldband.results import Verdict
from goldband.session.premerge import run_sides, summarize
from goldband.session.session import Session
from goldband.store.registry import VersionRow

__all__ = ["LlmGate", "llm_gate"]


@dataclass(frozen=True)
class LlmGate:
    """The candidate's verdicts, the comparison with the champion, and the decision in words."""

    passed: bool
    reasons: tuple[str, ...]
    verdicts: dict[tuple[str, str], Verdict]  # (golden set, case) -> the candidate's verdict
    comparison: Comparison | None
    cases: int
    failures: tuple[str, ...] = ()  # the reasons that blocked it (empty when it passed)

    def metrics(self) -> dict[str, Any]:
        """What the gate stores: counts of verdicts and changes, and each regression."""
        counts: dict[str, int] = {}
        for v in self.verdicts.values():
            counts[v.status] = counts.get(v.status, 0) + 1
        found: dict[str, Any] = {"cases": self.cases, "verdicts": counts}
        if self.comparison is not None:
            found["changes"] = {o: self.comparison.count(o)
                                for o in ("regressed", "improved", "not significant", "new")}
            found["regressions"] = [{"case": f"{c.key[0]}::{c.key[1]}", "delta": c.delta, "p_adjusted": c.p_adjusted}
                                    for c in self.comparison.regressions]
        return found


def llm_gate(settings: Settings, config: RegistryModelConfig, candidate: VersionRow,
             champion: VersionRow | None) -> LlmGate:
    """Run the model's golden sets on the candidate's and the champion's targets and decide."""
    session = Session.create(settings)
    try:
        sides = [_target(session, candidate), *([_target(session, champion)] if champion else [])]
        goldensets = _goldensets(session, config)
        plans = [[session.plan_for(gs, case, target) for gs in goldensets for case in gs.cases] for target in sides]
        if not plans[0]:
            raise RegistryError(f"no golden set case to gate model '{candidate.model}' on",
                                where="registry gate", fix="name golden sets under registry.models.NAME.goldensets")
        session.preflight([p for side in plans for p in side])
        runs = run_sides(session, plans)
    finally:
        session.close()
    results = [summarize(target.name, side, side_runs) for target, side, side_runs in zip(sides, plans, runs,
                                                                                         strict=True)]
    head = {(k[0], k[1]): v for k, v in results[0].verdicts.items()}
    comparison = _compare(results[1].stats, results[0].stats, config) if champion else None
    return _decide(head, comparison, len(plans[0]))


def _target(session: Session, version: VersionRow) -> Target:
    if not version.target:
        raise RegistryError(f"version {version.version} of model '{version.model}' has no target configuration",
                            where="registry gate", expected="an llm version registered from a goldband.yaml target")
    return stored_target(version.target["name"], version.target, session.settings.rootpath,
                         f"registry {version.ref}")


def _goldensets(session: Session, config: RegistryModelConfig) -> list[GoldenSet]:
    """The golden sets named in the config, else those that run on the model's base target."""
    folder = session.settings.rootpath / "goldensets"
    loaded = [session.load(p) for p in sorted(folder.rglob("*.y*ml"))]
    if config.goldensets is not None:
        missing = set(config.goldensets) - {gs.name for gs in loaded}
        if missing:
            raise RegistryError(f"unknown golden set(s) {', '.join(sorted(missing))}", where="registry goldensets",
                                expected=f"names from {folder}")
        return [gs for gs in loaded if gs.name in config.goldensets]
    return [gs for gs in loaded if gs.targets is None or config.target in gs.targets]


def _compare(champion: dict[Any, CaseStats], candidate: dict[Any, CaseStats], config: RegistryModelConfig
             ) -> Comparison:
    def by_case(stats: dict[Any, CaseStats]) -> dict[tuple[str, str, str], CaseStats]:
        return {(k[0], k[1], "model"): v for k, v in stats.items()}

    return compare(by_case(champion), by_case(candidate), alpha=config.alpha, min_effect=config.min_effect,
                   base_label="champion", head_label="candidate")


def _decide(verdicts: dict[tuple[str, str], Verdict], comparison: Comparison | None, cases: int) -> LlmGate:
    failing = [f"{gs}::{case} {v.status}" for (gs, case), v in sorted(verdicts.items())
               if v.gating and v.status in ("FAIL", "ERROR")]
    checks = [(not failing, f"{len(failing)} gating FAIL or ERROR verdict(s): {', '.join(failing[:5])}" if failing
               else f"no gating FAIL or ERROR among {cases} cases")]
    regressed = comparison.regressions if comparison is not None else ()
    if comparison is not None:
        checks.append((not regressed, f"{len(regressed)} case(s) regressed significantly against the champion: "
                       + ", ".join(f"{c.key[0]}::{c.key[1]} {c.delta:+.2f} (BH p {c.p_adjusted:.3g})"
                                   for c in regressed[:5]) if regressed
                       else f"no case regressed significantly against the champion "
                            f"({comparison.count('improved')} improved)"))
    failures = tuple(reason for ok, reason in checks if not ok)
    return LlmGate(not failures, tuple(reason for _, reason in checks), verdicts, comparison, cases, failures)


def gate_settings(root: Path, *, mode: str | None, runs: int, store: str | None) -> Settings:
    """The settings of a gate's session: fixed runs, the project's store (for the judge cache), no reports."""
    return Settings(rootpath=root, paths=(str(root / "goldensets"),), runs=runs, targets=None, mode=mode,
                    concurrency=None, timeout_s=None, worker=False, store=store, report="off", kind="pre-merge")
