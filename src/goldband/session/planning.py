"""Planning: golden sets and targets become one ``CasePlan`` per (case, target) the run covers.

Everything a plan needs is fixed here, at collection time: the case with the
run's options applied (``--goldband-band``, ``--goldband-inconclusive``,
``--goldband-runs``), its band learned from history when it asks for that, the
target (with ``--goldband-timeout``), the rendered messages (a template error
is a collection error naming the case) and the cassette for the run's mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from goldband._util import yamlio
from goldband.bands import spec as bandspec
from goldband.bands.history import Learned, Point, learn
from goldband.bands.spec import BandSpec
from goldband.config.base import parse
from goldband.config.project import ProjectConfig
from goldband.config.settings import Settings
from goldband.engine import conversation
from goldband.engine.cassettes import Cassette, CassetteLibrary
from goldband.engine.plan import CasePlan
from goldband.engine.targets import Target
from goldband.errors import ConfigError
from goldband.golden import lock
from goldband.golden.goldenset import Case, GoldenSet
from goldband.golden.goldenset import load as load_goldenset

History = Callable[[str, str, str], Sequence[Point]]  # (golden set, case id, target) -> past verdicts, newest first


@dataclass
class Planner:
    """Turns golden sets into plans for one session's settings, config, targets and mode."""

    settings: Settings
    config: ProjectConfig
    config_file: Path | None
    targets: dict[str, Target]
    mode: str
    library: CassetteLibrary
    history: History  # the store's case history (empty without a store)
    band_option: BandSpec | None = None
    goldensets: dict[str, GoldenSet] = field(default_factory=dict)  # by name, as loaded
    drafts: dict[str, lock.Draft] = field(default_factory=dict)  # by name: changed under their version (draft mode)
    draft_mode: bool = field(init=False)  # lock.draft_allowed: decided once (a bad pair of options is a usage error)

    def __post_init__(self) -> None:
        self.draft_mode = lock.draft_allowed(self.settings.draft, self.settings.strict)

    def load(self, path: Path) -> GoldenSet:
        """Load and validate a golden set, and check its version against its lock file: a change under an
        unchanged version stops the run, or in draft mode (``lock.draft_allowed``) makes it a draft."""
        goldenset = load_goldenset(path, base_dir=self.settings.rootpath)
        draft = lock.check_and_record(path, goldenset.name, goldenset.version, goldenset.content_hash,
                                      goldenset.version_line, yamlio.relative(path, self.settings.rootpath),
                                      draft=self.draft_mode)
        if draft is not None:
            self.drafts[goldenset.name] = draft
        return goldenset

    def plans(self, goldenset: GoldenSet) -> list[CasePlan]:
        """One plan per (case, target) the run should cover; template errors raise here."""
        names = self._target_names(goldenset)
        self.goldensets[goldenset.name] = goldenset
        return [self.plan_for(goldenset, case, self.targets[name])
                for case in goldenset.cases for name in names
                if case.targets is None or name in case.targets]

    def plan_for(self, goldenset: GoldenSet, case: Case, target: Target) -> CasePlan:
        """One item's plan; public so a pre-merge check can pair a golden set with another ref's target."""
        case, learned = self._with_history(goldenset, self._with_options(case), target)
        where = f"{case.where}: case '{case.id}'"
        if case.turns:  # a conversation: a model target, turns that render, and the target's opening messages
            conversation.check(case, target)
        messages = None if target.is_callable else (target.opening if case.turns else target.render)(
            case.input, where=where)
        if self.settings.timeout_s:
            target = replace(target, spec=target.spec.model_copy(update={"timeout_s": self.settings.timeout_s}))
        return CasePlan(goldenset.name, case, target, case.runs, self.mode, messages,
                        self._cassette(goldenset, target), self.settings.rootpath,
                        quarantine=learned.quarantine if learned else None, notes=learned.notes if learned else ())

    def check_target_option(self) -> None:
        """Every ``--goldband-target`` names a configured target."""
        for name in self.settings.targets or ():
            if name not in self.targets:
                raise ConfigError(
                    f"unknown target '{name}'", where="--goldband-target",
                    expected=f"one of: {', '.join(sorted(self.targets)) or '(none configured)'}",
                    fix=f"declare it under 'targets:' in {self.config_file or 'goldband.yaml'}",
                )

    def _target_names(self, goldenset: GoldenSet) -> list[str]:
        names = list(goldenset.targets) if goldenset.targets is not None else list(self.targets)
        for name in names:
            if name not in self.targets:
                shown = yamlio.relative(goldenset.path, self.settings.rootpath)
                where = f"{shown}:{goldenset.targets_line}" if goldenset.targets_line else str(shown)
                raise ConfigError(
                    f"golden set '{goldenset.name}' names unknown target '{name}'", where=where,
                    expected=f"one of: {', '.join(sorted(self.targets)) or '(none configured)'}",
                    fix=f"declare it under 'targets:' in {self.config_file or 'goldband.yaml'}, or fix the name",
                )
        if not names:
            shown = yamlio.relative(goldenset.path, self.settings.rootpath)
            raise ConfigError("no targets to run", where=f"{shown}:{goldenset.targets_line or 1}",
                              fix="declare targets in goldband.yaml (see README.md, Configuration)")
        chosen = self.settings.targets
        return [n for n in names if chosen is None or n in chosen]

    def _with_history(self, goldenset: GoldenSet, case: Case, target: Target) -> tuple[Case, Learned | None]:
        """band.history / band.quarantine: learn from the case's past runs on this target."""
        if case.band.history is None and case.band.quarantine is None:
            return case, None
        learned = learn(case.band, self.history(goldenset.name, case.id, target.name))
        return replace(case, band=learned.band), learned

    def _with_options(self, case: Case) -> Case:
        """Apply --goldband-band, --goldband-inconclusive and --goldband-runs to one case."""
        band = bandspec.override(case.band, self.band_option)
        runs = case.runs
        if self.settings.runs:
            runs = bandspec.resolve_runs(self.settings.runs, None, None, band.inconclusive)
        elif band.inconclusive == "more" and runs.fixed:
            runs = bandspec.resolve_runs(runs.min, None, None, "more")
        return replace(case, band=band, runs=runs)

    def _cassette(self, goldenset: GoldenSet, target: Target) -> Cassette | None:
        if target.is_callable or self.mode == "live":
            return None
        if self.mode == "cached":  # the project's cache, also when comparing refs from their temporary copies
            folder = (self.settings.cache_root or self.settings.rootpath) / self.config.cache
        else:  # the cassettes committed with the golden sets (at the ref being run)
            folder = self.settings.rootpath / self.config.cassettes
        return self.library.get(folder / goldenset.name / f"{target.name}.jsonl")


def band_option(settings: Settings) -> BandSpec | None:
    """--goldband-band and --goldband-inconclusive, validated like a golden set's band."""
    raw = dict(settings.band or {})
    if settings.inconclusive:
        raw["inconclusive"] = settings.inconclusive
    if not raw:
        return None
    spec: BandSpec = parse(BandSpec, raw, yamlio.Lines(Path("--goldband-band")))
    return spec
