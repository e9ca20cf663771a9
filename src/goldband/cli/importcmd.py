"""``goldband import openai-evals | promptfoo | csv | jsonl``: golden sets from the files peers use.

Each command writes ``goldensets/NAME.yaml`` (``--out``; a JSONL of cases beside it for
large sets) and prints what it wrote and every item of the source it could not map
(also listed in a comment at the top of the set). It never overwrites a file. Exit
status 0 when the set was written, with or without unmapped items; 2 on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from goldband.cli.common import find_root
from goldband.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from goldband.golden.importers import Imported, Unmapped

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_SOURCE = click.Path(dir_okay=False, path_type=Path)


@click.group("import")
def import_() -> None:
    """Golden sets from OpenAI Evals, promptfoo, CSV and JSONL files."""


def _common(fn: Any) -> Any:
    fn = click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                      help="The golden set to write [default: goldensets/NAME.yaml].")(fn)
    return click.option("--name", help="The golden set's name [default: from the file].")(fn)


@import_.command("openai-evals")
@click.argument("source", metavar="REGISTRY_YAML_OR_JSONL", type=_SOURCE)
@click.option("--eval", "eval_name", help="Import only this eval of the registry file [default: every eval].")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The folder samples_jsonl is relative to [default: registry/data beside registry/evals].")
@click.option("--grader", type=click.Choice(["match", "includes", "fuzzy_match"]), default="match",
              show_default=True, help="For a samples JSONL: the evals class whose check to use.")
@_common
def openai_evals(source: Path, eval_name: str | None, data_dir: Path | None, grader: str, name: str | None,
                 out: Path | None) -> None:
    """OpenAI Evals samples (input, ideal) or a registry YAML of Match, Includes and FuzzyMatch evals.

    Match becomes starts_with (any ideal), Includes contains (any ideal), FuzzyMatch a
    case-insensitive contains; other eval classes are listed as not mapped.
    """
    from goldband.golden.importers import from_registry, from_samples

    _exists(source)
    if source.suffix == ".jsonl":
        _finish([from_samples(source, str(source), name=_name(name, source.stem), grader=grader)], out)
        return
    sets, skipped = from_registry(source, str(source), only=eval_name, data_dir=data_dir,
                                  name=_name(name, None) if name else None)
    _listing(skipped, "Evals not imported")
    if not sets:
        raise ConfigError(f"no eval in {source} maps to a golden set", where=str(source),
                          expected="Match, Includes or FuzzyMatch evals with args.samples_jsonl")
    _finish(sets, out)


@import_.command("promptfoo")
@click.argument("source", metavar="PROMPTFOOCONFIG", type=_SOURCE)
@click.option("--targets-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the targets to merge into goldband.yaml [default: goldband.NAME.targets.yaml].")
@_common
def promptfoo(source: Path, targets_out: Path | None, name: str | None, out: Path | None) -> None:
    """A promptfoo config: prompts x providers into targets, tests and assertions into cases and checks."""
    from goldband.golden.importers import from_promptfoo

    _exists(source)
    stem = source.resolve().parent.name if source.stem.startswith("promptfooconfig") else source.stem
    root = find_root()
    imported = from_promptfoo(source, str(source), name=_name(name, stem), root=root)
    _finish([imported], out, targets_out or root / f"goldband.{imported.name}.targets.yaml")


def _table_command(kind: str) -> Any:
    @click.argument("source", metavar="FILE", type=_SOURCE)
    @click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
                  help="What a column becomes: input.VAR, input, reference, id, description or tags "
                       "(repeat it). Unmapped columns are input variables when no input.VAR is given.")
    @click.option("--check", "checks", multiple=True, metavar="YAML",
                  help="A check for every case, as in a golden set, e.g. 'similarity: {threshold: 0.8}' "
                       "(repeat it).")
    @_common
    def command(source: Path, mapping: tuple[str, ...], checks: tuple[str, ...], name: str | None,
                out: Path | None) -> None:
        from goldband.golden.importers import from_table, parse_mapping

        _exists(source)
        parsed = parse_mapping(list(mapping), "--map")
        imported = from_table(source, str(source), kind=kind, name=_name(name, source.stem), mapping=parsed,
                              checks=[_check(text) for text in checks])
        _finish([imported], out)

    command.__doc__ = (f"Cases from a {kind.upper()} file, by a column mapping.\n\n"
                       "E.g. --map input.question=question --map reference=answer --map id=id. Without an id "
                       "column, ids are made from each case's input; given ids must be unique.")
    return import_.command(kind)(command)


def _check(text: str) -> dict[str, Any]:
    """One --check value, validated as a golden set check now rather than at the first run."""
    import yaml

    from goldband.checks.base import build_check

    try:
        entry = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"--check {text!r} is not YAML: {str(exc).splitlines()[0]}", where="--check",
                         expected="a check as in a golden set, e.g. 'contains: \"30 days\"'") from None
    build_check(entry, f"--check {text!r}", find_root())
    return dict(entry)


def _exists(source: Path) -> None:
    if not source.is_file():
        raise UsageError(f"no file {source}", fix="give the path of the file to import")


def _name(name: str | None, stem: str | None) -> str:
    import re

    from goldband.golden.importers.common import slug

    value = name if name is not None else slug(stem or "") or "imported"
    if not re.match(_NAME, value) or len(value) > 80:
        raise UsageError(f"--name {value!r} is not a golden set name", where="--name",
                         expected="letters, digits, '.', '_' and '-', at most 80", fix="give --name NAME")
    return value


def _finish(sets: list[Imported], out: Path | None, targets_out: Path | None = None) -> None:
    from goldband.golden.importers import write

    if out is not None and len(sets) > 1:
        raise UsageError(f"{len(sets)} golden sets to write and one --out", where="--out",
                         fix="choose one eval with --eval, or leave --out out")
    root = find_root()
    for imported in sets:
        path = out or root / "goldensets" / f"{imported.name}.yaml"
        written = write(imported, path, root=root, targets_out=targets_out)
        click.echo(f"{imported.source}: {len(imported.cases)} cases into golden set '{imported.name}'")
        for file in written:
            click.echo(f"  wrote {file}")
        _listing(imported.unmapped, "Not mapped, also listed at the top of the golden set")
        if imported.targets and targets_out is not None:
            click.echo(f"Merge the targets in {targets_out} under 'targets:' in goldband.yaml, then run: "
                       f"pytest {path}")


def _listing(items: list[Unmapped], title: str) -> None:
    if items:
        click.echo(f"{title} ({len(items)} items):")
        for item in items:
            click.echo(f"  - {item.line()}")


csv_command = _table_command("csv")
jsonl_command = _table_command("jsonl")
