"""Golden sets: load, validate (JSON Schema, then pydantic), hash and lock.

A golden set is ``goldensets/NAME.yaml`` with its cases inline or in a JSONL
file beside it. goldband hashes the canonical form of ``defaults`` and
``cases`` (and the set-level ``band``, when there is one); a changed hash
under an unchanged ``version`` is an error (see ``goldband.golden.lock``),
because results under one version must be comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from goldband._util import jsonio, yamlio
from goldband._util.hashing import canonical_hash
from goldband.bands.setgate import SetBand
from goldband.bands.spec import Band, BandSpec, Runs, merge_band, resolve_runs
from goldband.checks.base import CheckSpec, build_check, validate_transform
from goldband.config.base import Strict, parse
from goldband.config.project import Message
from goldband.errors import ConfigError, shorten

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


Source = Literal["hand-written", "production", "failure", "synthetic"]


class Provenance(Strict):
    """Where a case came from; ``provenance: production`` is short for ``{source: production}``.

    No provenance means hand-written. ``goldband golden accept`` fills ``time``, ``version`` and ``added``
    for cases taken from production traces or failing trials.
    """

    source: Source
    ref: str | None = None  # a ticket, trace id or incident
    note: str | None = None  # why the case was picked
    time: str | None = None  # when the production call or failing trial happened
    version: str | None = None  # the target or registry version that served it
    added: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")  # the ISO date it joined the set


class RunSpec(Strict):
    runs: int | None = Field(None, ge=1, le=1000)  # fixed number of trials
    min_runs: int | None = Field(None, ge=1, le=1000)  # adaptive: at least ...
    max_runs: int | None = Field(None, ge=1, le=1000)  # ... and at most
    band: BandSpec | None = None
    checks: list[Any] = Field(default_factory=list)  # each validated by the check registry
    transform: str | None = None  # an output transform before all checks (goldband.checks.transform)


class Defaults(RunSpec):
    pass


class TurnModel(Strict):
    """One user turn of a conversation case: its message (a template over the case's input) and the checks
    on the model's reply to it."""

    user: str
    checks: list[Any] = Field(default_factory=list)  # each validated by the check registry


class CaseModel(RunSpec):
    id: str = Field(pattern=ID_PATTERN, max_length=120)
    description: str | None = None
    input: dict[str, Any] | list[Message] = Field(default_factory=dict)  # required unless the case has turns
    turns: list[str | TurnModel] | None = Field(None, min_length=1)  # a conversation: the model's replies fed back
    reference: str | None = None
    tags: list[str] = Field(default_factory=list)
    provenance: Provenance | Source | None = None
    targets: list[str] | None = None  # a subset of the golden set's targets


class SetBandSpec(Strict):
    """``band: set:``: the share of the set's cases that PASS, the case as the unit (``goldband.bands.setgate``)."""

    min_pass_rate: float = Field(ge=0.0, le=1.0)
    confidence: float = Field(0.9, gt=0.0, lt=1.0)
    method: Literal["wilson", "clopper-pearson"] = "wilson"
    inconclusive: Literal["fail", "warn", "more"] | None = None  # default: --goldband-inconclusive, else fail
    cases: Literal["gate", "report"] = "gate"  # report: the set alone gates; a case fails no item of its own


class GoldenSetBand(Strict):
    """The golden set's own band (``defaults.band`` is each case's)."""

    set: SetBandSpec | None = None


class GoldenSetModel(Strict):
    name: str = Field(pattern=ID_PATTERN, max_length=80)
    version: int | str
    description: str | None = None
    targets: list[str] | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    band: GoldenSetBand | None = None  # set-level gates
    cases: list[dict[str, Any]] | str


@dataclass(frozen=True)
class CaseTurn:
    """One user turn of a conversation case: the message template and the checks on the reply to it."""

    user: str
    checks: tuple[CheckSpec, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Case:
    id: str
    line: int | None
    file: Path  # the file the case was written in (YAML or JSONL)
    input: dict[str, Any] | list[dict[str, str]]
    reference: str | None
    checks: tuple[CheckSpec, ...]
    tags: tuple[str, ...]
    runs: Runs
    band: Band
    targets: tuple[str, ...] | None
    provenance: dict[str, Any] | None
    description: str | None
    turns: tuple[CaseTurn, ...] = ()  # a conversation case's user turns (goldband.engine.conversation)
    transform: str | None = None  # the case's (else the defaults') output transform, before all its checks

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else str(self.file)


@dataclass(frozen=True)
class GoldenSet:
    name: str
    version: str
    description: str | None
    path: Path
    content_hash: str
    targets: tuple[str, ...] | None
    targets_line: int | None
    version_line: int | None
    cases: tuple[Case, ...]
    set_band: SetBand | None = None  # ``band: set:`` (goldband.bands.setgate)


def load(path: Path, *, base_dir: Path) -> GoldenSet:
    """Load and validate a golden set file; raise ConfigError naming file:line."""
    raw, lines = yamlio.load(path, yamlio.relative(path, base_dir))
    if not isinstance(raw, dict):
        raise ConfigError(
            "a golden set must be a mapping", where=f"{lines.file}:{lines.line(()) or 1}",
            expected="keys name, version, cases", fix="see goldensets/support.yaml for an example",
        )
    _validate_schema(raw, lines, _validator("set"))
    model: GoldenSetModel = parse(GoldenSetModel, raw, lines)
    records, case_lines, case_file, prefix = _case_records(model, path, lines, base_dir)
    default_checks = tuple(_check(entry, lines, ("defaults", "checks", j), None, base_dir)
                           for j, entry in enumerate(model.defaults.checks))
    if model.defaults.transform is not None:
        validate_transform(model.defaults.transform, lines.where(("defaults", "transform")), base_dir)
    cases = [_case(rec, i, model.defaults, default_checks, case_lines, case_file, prefix, base_dir)
             for i, rec in enumerate(records)]
    _unique_ids(cases)
    return GoldenSet(
        name=model.name,
        version=str(model.version),
        description=model.description,
        path=path,
        content_hash=content_hash(raw.get("defaults"), records, band=raw.get("band")),
        targets=tuple(model.targets) if model.targets is not None else None,
        targets_line=lines.line(("targets",)),
        version_line=lines.line(("version",)),
        cases=tuple(cases),
        set_band=_set_band(model),
    )


def content_hash(defaults: Any, cases: list[Any], *, band: Any = None) -> str:
    """sha256 over the canonical JSON of the raw defaults and cases.

    Descriptions are documentation, not content: editing one needs no version bump.
    """
    cases = [{k: v for k, v in c.items() if k != "description"} if isinstance(c, dict) else c
             for c in cases]
    if band is not None:  # the set band changes what PASS means: content (absent, the hash is as before)
        return canonical_hash({"defaults": defaults, "cases": cases, "band": band})
    return canonical_hash({"defaults": defaults, "cases": cases})


def _set_band(model: GoldenSetModel) -> SetBand | None:
    spec = model.band.set if model.band is not None else None
    return None if spec is None else SetBand(spec.min_pass_rate, spec.confidence, spec.method, spec.inconclusive,
                                             spec.cases)


def _case_records(model: GoldenSetModel, path: Path, lines: yamlio.Lines, base_dir: Path
                  ) -> tuple[list[Any], yamlio.Lines, Path, tuple[str | int, ...]]:
    if isinstance(model.cases, list):
        return model.cases, lines, lines.file, ("cases",)
    jsonl = path.parent / model.cases
    if jsonl.suffix != ".jsonl":
        raise ConfigError(
            f"cases file {model.cases!r} is not a .jsonl file", where=lines.where(("cases",)),
            expected=f"a JSONL file named from the golden set, e.g. {path.stem}.cases.jsonl",
        )
    display = yamlio.relative(jsonl, base_dir)
    if not jsonl.is_file():
        raise ConfigError(
            f"cases file {model.cases!r} not found (looked for {display})",
            where=lines.where(("cases",)),
            fix="create it beside the golden set, or put the cases inline under 'cases:'",
        )
    records, jsonl_lines = jsonio.load_jsonl(jsonl, display)
    return records, jsonl_lines, display, ()


def _case(rec: Any, index: int, defaults: Defaults, default_checks: tuple[CheckSpec, ...],
          lines: yamlio.Lines, file: Path, prefix: tuple[str | int, ...], base_dir: Path) -> Case:
    at = (*prefix, index)
    if not isinstance(rec, dict):
        raise ConfigError("a case must be a mapping", where=lines.where(at), expected="keys id, input, checks")
    try:
        _validate_schema(rec, lines, _validator("case"), at)
        case: CaseModel = parse(CaseModel, rec, lines, at)
    except ConfigError as exc:
        raise _in_case(exc, rec.get("id")) from None
    checks = [_check(entry, lines, (*at, "checks", j), case.id, base_dir)
              for j, entry in enumerate(case.checks)]
    if "input" not in rec and not case.turns:
        raise ConfigError("missing required key 'input'", where=f"{lines.where(at)}: case '{case.id}'",
                          fix="add 'input:' (template variables or messages), or 'turns:' for a conversation")
    band = merge_band(defaults.band, case.band)
    return Case(
        id=case.id,
        line=lines.line(at),
        file=file,
        input=[m.model_dump() for m in case.input] if isinstance(case.input, list) else case.input,
        reference=case.reference,
        checks=(*default_checks, *checks),
        tags=tuple(case.tags),
        runs=_runs(defaults, case, band, f"{lines.where(at)}: case '{case.id}'"),
        band=band,
        targets=tuple(case.targets) if case.targets is not None else None,
        provenance=_provenance(case.provenance),
        description=case.description,
        turns=_turns(case, lines, at, base_dir),
        transform=_transform(defaults, case, lines, at, base_dir),
    )


def _turns(case: CaseModel, lines: yamlio.Lines, at: tuple[str | int, ...], base_dir: Path) -> tuple[CaseTurn, ...]:
    """A conversation case's user turns, each with its own checks (built and located like the case's)."""
    turns = []
    for k, turn in enumerate(case.turns or ()):
        where = (*at, "turns", k)
        if isinstance(turn, str):
            turns.append(CaseTurn(turn, (), lines.line(where)))
            continue
        checks = tuple(_check(entry, lines, (*where, "checks", j), case.id, base_dir)
                       for j, entry in enumerate(turn.checks))
        turns.append(CaseTurn(turn.user, checks, lines.line(where)))
    return tuple(turns)


def _transform(defaults: Defaults, case: CaseModel, lines: yamlio.Lines, at: tuple[str | int, ...],
               base_dir: Path) -> str | None:
    """The case's own transform (``transform: null`` opts out), else the defaults' (checked once in ``load``)."""
    if "transform" not in case.model_fields_set:
        return defaults.transform
    if case.transform is not None:
        validate_transform(case.transform, f"{lines.where((*at, 'transform'))}: case '{case.id}'", base_dir)
    return case.transform


def _in_case(exc: ConfigError, case_id: Any) -> ConfigError:
    """Name the case in a case-level error, when it has a usable id."""
    if not isinstance(case_id, str) or not case_id or exc.where is None:
        return exc
    return ConfigError(exc.what, where=f"{exc.where}: case '{shorten(case_id, 60)}'", expected=exc.expected,
                       fix=exc.fix)


def _check(entry: Any, lines: yamlio.Lines, at: tuple[str | int, ...], case_id: str | None,
           base_dir: Path) -> CheckSpec:
    where = lines.where(at) + (f": case '{case_id}'" if case_id else "")
    return build_check(entry, where, base_dir)


def _provenance(value: Provenance | str | None) -> dict[str, Any] | None:
    if isinstance(value, str):
        return {"source": value}
    return value.model_dump(exclude_none=True) if value else None


def _runs(defaults: Defaults, case: CaseModel, band: Band, where: str) -> Runs:
    """The case's own run settings win as a group over the defaults' (fixed vs adaptive)."""
    own = case if {"runs", "min_runs", "max_runs"} & case.model_fields_set else defaults
    try:
        return resolve_runs(own.runs, own.min_runs, own.max_runs, band.inconclusive)
    except ValueError as exc:
        raise ConfigError(str(exc), where=where, expected="1 <= min_runs <= max_runs",
                          fix="correct runs/min_runs/max_runs in the case or in defaults") from None


def _unique_ids(cases: list[Case]) -> None:
    seen: dict[str, Case] = {}
    for case in cases:
        if case.id in seen:
            raise ConfigError(
                f"duplicate case id '{case.id}' (first at {seen[case.id].where})",
                where=case.where, expected="unique case ids within a golden set",
                fix="rename one of them",
            )
        seen[case.id] = case


def _validate_schema(raw: Any, lines: yamlio.Lines, validator: Any, prefix: tuple[str | int, ...] = ()) -> None:
    """JSON Schema validation first: its error paths map exactly onto lines."""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(raw))
    if error is None:
        return
    path = (*prefix, *error.absolute_path)
    if error.validator == "required":
        key = next(str(k) for k in error.validator_value if k not in error.instance)
        raise ConfigError(f"missing required key '{key}'", where=lines.where(path),
                          fix=f"add '{key}:' (see the golden set reference in README.md)")
    if error.validator == "additionalProperties":
        extra = sorted((str(k) for k in error.instance if k not in error.schema.get("properties", {})), key=str)
        known = ", ".join(sorted(error.schema.get("properties", {})))
        raise ConfigError(f"unknown key '{shorten(extra[0])}'", where=lines.where((*path, extra[0])),
                          expected=f"one of: {known}", fix="remove it or correct its spelling")
    field = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    raise ConfigError(f"{field}: {_explain(error)}", where=lines.where(path),
                      fix=f"correct '{field}' (see the golden set reference in README.md)")


def _explain(error: Any) -> str:
    """Say what was expected instead of 'is not valid under any of the given schemas'."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches = [e for e in error.context if e.schema.get("type") != "null"]
        kinds = sorted({str(e.schema["type"]) for e in branches if "type" in e.schema})
        if kinds:
            return f"expected {' or '.join(kinds)}, found {shorten(repr(error.instance))}"
        if branches:
            return _message(branches[0])
    return _message(error)


def _message(error: Any) -> str:
    """jsonschema's message, whose value (``'xxx…' is too long``) is shortened: it can be megabytes long."""
    shown = repr(error.instance)
    return shorten(str(error.message).replace(shown, shorten(shown)), 200)


@cache
def _validator(which: Literal["set", "case"]) -> Any:
    """One validator per schema for the whole session: a large JSONL set validates every case."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json_schema() if which == "set" else CaseModel.model_json_schema())


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a golden set file (for validation and for editors)."""
    schema = GoldenSetModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "goldband golden set"
    return schema
