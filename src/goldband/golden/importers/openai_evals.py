"""OpenAI Evals: registry YAML (``Match``, ``Includes``, ``FuzzyMatch``) and samples JSONL into golden sets.

A sample ``{"input": [messages] | "text", "ideal": "x" | ["x", "y"]}`` becomes a case whose
input is the messages (a text input is one system message, as evals sends it to chat
models) and whose reference is the first ideal. The eval's class gives the check:

- ``Match`` (the output starts with an ideal): ``starts_with`` with the list of ideals;
- ``Includes`` (an ideal occurs in the output): ``contains`` any of them
  (``ignore_case: true`` -> ``case_sensitive: false``);
- ``FuzzyMatch`` (either normalised text contains the other): ``fuzzy_match``, the same rule
  (``goldband.checks.text.normalise`` is evals' ``normalize``).

Few-shot messages written as ``{"role": "system", "name": "example_user"}`` become user
(and ``example_assistant`` assistant) messages. Other classes (model-graded, custom code)
are listed as not mapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from goldband._util import jsonio, yamlio
from goldband.errors import ConfigError
from goldband.golden.importers.common import Ids, Imported, Unmapped, mapping, provenance, slug

GRADERS = {  # the class named in the registry -> goldband's grader
    "evals.elsuite.basic.match:Match": "match",
    "evals.elsuite.basic.includes:Includes": "includes",
    "evals.elsuite.basic.fuzzy_match:FuzzyMatch": "fuzzy_match",
}
ROLES = ("system", "user", "assistant", "tool", "developer")
FEW_SHOT = {"example_user": "user", "example_assistant": "assistant"}
LFS = "version https://git-lfs"


def from_samples(path: Path, shown: str, *, name: str, grader: str, ignore_case: bool = False,
                 description: str | None = None) -> Imported:
    """One samples JSONL file, graded by ``grader`` (match, includes or fuzzy_match)."""
    _refuse_lfs(path, shown)
    records, lines = jsonio.load_jsonl(path, Path(shown), cannot="cannot read samples file", fix=None)
    imported = Imported(name=name, source=shown, kind="openai-evals", description=description)
    ids = Ids()
    for index, record in enumerate(records):
        where = lines.where((index,))
        case = _case(record, where, grader, ignore_case, ids, index + 1, imported)
        if case is not None:
            imported.cases.append(case)
    _grader_notes(imported, grader, shown)
    return imported


def from_registry(path: Path, shown: str, *, only: str | None, data_dir: Path | None,
                  name: str | None) -> tuple[list[Imported], list[Unmapped]]:
    """Every basic eval of a registry YAML (or only ``only``); evals that cannot be mapped are listed."""
    raw, lines = yamlio.load(path, Path(shown))
    if not isinstance(raw, dict):
        raise ConfigError("an evals registry file must be a mapping", where=f"{shown}:1",
                          expected="'NAME: {id: NAME.split.version}' entries and their specs")
    evals = {k: v for k, v in raw.items() if isinstance(v, dict) and "id" in v}
    if only is not None and only not in evals:
        raise ConfigError(f"no eval {only!r} in {shown}", expected=f"one of: {', '.join(sorted(evals)) or 'none'}",
                          fix="give --eval one of those names")
    chosen = [only] if only is not None else list(evals)
    if name is not None and len(chosen) > 1:
        raise ConfigError(f"{shown} holds {len(chosen)} evals; --name and --out name one golden set",
                          fix=f"choose one with --eval (one of: {', '.join(chosen)})")
    sets: list[Imported] = []
    skipped: list[Unmapped] = []
    for eval_name in chosen:
        result = _one_eval(eval_name, raw, lines, path, shown, data_dir, name)
        if isinstance(result, Unmapped):
            skipped.append(result)
        else:
            sets.append(result)
    return sets, skipped


def _one_eval(eval_name: str, raw: dict[str, Any], lines: yamlio.Lines, path: Path, shown: str,
              data_dir: Path | None, name: str | None) -> Imported | Unmapped:
    entry = raw[eval_name]
    spec_id = str(entry["id"])
    spec = raw.get(spec_id)
    where = lines.where((eval_name,))
    if not isinstance(spec, dict):
        return Unmapped(where, eval_name, f"its spec {spec_id!r} is not in this file")
    grader = GRADERS.get(str(spec.get("class")))
    args = mapping(spec.get("args"))
    if grader is None:
        return Unmapped(lines.where((spec_id, "class")), f"{eval_name} ({spec.get('class')})",
                        "only Match, Includes and FuzzyMatch evals map to checks")
    samples = args.get("samples_jsonl")
    if not isinstance(samples, str):
        return Unmapped(lines.where((spec_id, "args")), eval_name, "no args.samples_jsonl to read cases from")
    file = _samples_path(samples, path, data_dir, lines.where((spec_id, "args", "samples_jsonl")))
    imported = from_samples(file, _display(file, path, shown), name=name or slug(eval_name) or "imported",
                            grader=grader, ignore_case=bool(args.get("ignore_case")),
                            description=entry.get("description"))
    imported.source = f"{shown} ({eval_name})"
    for metric in entry.get("metrics") or ():
        if metric != "accuracy":
            imported.skip(lines.where((eval_name, "metrics")), f"metric {metric}",
                          "not computed: goldband gates each case's pass rate (accuracy)")
    return imported


def _display(file: Path, registry: Path, shown: str) -> str:
    """The samples file as the user will recognise it: relative to where the registry file was named."""
    base = Path(shown).parent
    try:
        return str(base / file.resolve().relative_to(registry.resolve().parent))
    except ValueError:
        return str(file)


def _samples_path(samples: str, registry: Path, data_dir: Path | None, where: str) -> Path:
    """evals reads ``samples_jsonl`` under registry/data; also tried: --data-dir and beside the YAML."""
    roots = [r for r in (data_dir, registry.resolve().parent.parent / "data", registry.parent) if r is not None]
    for root in roots:
        if (root / samples).is_file():
            return root / samples
    raise ConfigError(f"samples file {samples!r} not found (looked in {', '.join(str(r) for r in roots)})",
                      where=where, expected="the JSONL file that args.samples_jsonl names",
                      fix="give --data-dir DIR (the folder samples_jsonl is relative to, evals' registry/data)")


def _refuse_lfs(path: Path, shown: str) -> None:
    with path.open("rb") as fh:
        head = fh.read(len(LFS))
    if head == LFS.encode():
        raise ConfigError(f"{shown} is a git-LFS pointer, not the samples themselves", where=f"{shown}:1",
                          expected="one JSON sample per line", fix="fetch the file first: git lfs pull")


def _case(record: Any, where: str, grader: str, ignore_case: bool, ids: Ids, row: int,
          imported: Imported) -> dict[str, Any] | None:
    if not isinstance(record, dict) or "input" not in record or "ideal" not in record:
        raise ConfigError("a sample must be an object with 'input' and 'ideal'", where=where,
                          expected='{"input": [{"role": "user", "content": "..."}], "ideal": "..."}',
                          fix="correct that line of the samples file")
    ideals = _ideals(record["ideal"], where)
    messages = _messages(record["input"], where, imported)
    if messages is None:
        return None
    user = [m["content"] for m in messages if m["role"] == "user"] or [messages[-1]["content"]]
    case: dict[str, Any] = {"id": ids.generated(user[-1], row), "input": messages}
    if ideals:
        case["reference"] = ideals[0]
        case["checks"] = [grader_check(grader, ideals, ignore_case)]
    case["provenance"] = provenance(where)
    return case


def grader_check(grader: str, ideals: list[str], ignore_case: bool = False) -> dict[str, Any]:
    """The goldband check of an evals grader.

    >>> grader_check("match", ["Season 11", "11"])
    {'starts_with': ['Season 11', '11']}
    >>> grader_check("includes", ["Paris"], ignore_case=True)
    {'contains': 'Paris', 'case_sensitive': False}
    >>> grader_check("fuzzy_match", ["Season 11", "11"])
    {'fuzzy_match': ['Season 11', '11']}
    """
    value: str | list[str] = ideals[0] if len(ideals) == 1 else ideals
    if grader == "match":
        return {"starts_with": value}
    if grader == "fuzzy_match":
        return {"fuzzy_match": value}
    check: dict[str, Any] = {"contains": value}
    if len(ideals) > 1:
        check["mode"] = "any"
    if ignore_case:
        check["case_sensitive"] = False
    return check


def _ideals(value: Any, where: str) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"'ideal' must be a string or a list of strings, found {type(value).__name__}",
                          where=where, expected='"ideal": "answer" or ["answer", "other answer"]')
    return [str(v) for v in values]


def _messages(value: Any, where: str, imported: Imported) -> list[dict[str, str]] | None:
    if isinstance(value, str):
        return [{"role": "system", "content": value}]  # evals' text_prompt_to_chat_prompt
    if not isinstance(value, list) or not value:
        raise ConfigError("'input' must be a list of chat messages or a text", where=where,
                          expected='[{"role": "user", "content": "..."}]')
    out = []
    for message in value:
        role, content = (message.get("role"), message.get("content")) if isinstance(message, dict) else (None, None)
        role = FEW_SHOT.get(str(message.get("name")), role) if role == "system" else role
        if role not in ROLES or not isinstance(content, str):
            imported.skip(where, message, "a message goldband cannot send (role and text content expected); "
                                          "the sample was not imported")
            return None
        out.append({"role": str(role), "content": content})
    return out


def _grader_notes(imported: Imported, grader: str, shown: str) -> None:
    if grader == "match":
        imported.skip(shown, "Match", "starts_with ignores leading whitespace of the output (evals does not)")
