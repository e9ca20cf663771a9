"""``goldband judge ...``: calibrate a rubric, split judge from generation noise, compare pairs.

Every command runs on the project's ``goldband.yaml`` (its judge, mode, cassettes
and cache), so ``--mode replay`` works offline from the judge cassettes and
``live``/``cached`` reuse the judge cache.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from goldband.cli.common import find_root, store_or_off
from goldband.errors import CommandFailed, GoldbandError, UsageError

if TYPE_CHECKING:
    from goldband.engine.plan import Services
    from goldband.judge.runtime import JudgeRuntime
    from goldband.session.session import Session

MODES = ["live", "record", "replay", "cached"]  # goldband.config.MODES, without importing pydantic for --help


@click.group()
def judge() -> None:
    """The LLM judge: rubrics, calibration, noise, pairwise comparison."""


@contextlib.contextmanager
def judge_session(mode: str | None, *, runs: int | None = None, targets: tuple[str, ...] | None = None
             ) -> Iterator[tuple[Session, Services, JudgeRuntime]]:
    """A session on the project, its services and judge runtime. No run is recorded and no report
    written; the store is named only because it holds the judge cache that runs share."""
    from goldband.config.settings import Settings
    from goldband.session.session import Session

    root = find_root()
    settings = Settings(rootpath=root, paths=(str(root / "goldensets"),), runs=runs, targets=targets or None,
                        mode=mode, concurrency=None, timeout_s=None, worker=False,
                        store=str(store_or_off(None) or "off"),
                        report="off")
    session = Session.create(settings)
    try:
        services = session.services()
        assert session.judge is not None  # created with the services
        yield session, services, session.judge
    finally:
        session.close()


def _rubric(name: str, root: Path) -> Any:
    from goldband.judge.rubric import load_rubric

    return load_rubric(name, root)


@judge.command()
@click.argument("rubric_name", metavar="RUBRIC")
@click.option("--mode", type=click.Choice(MODES), help="Where judgements come from (default: goldband.yaml).")
@click.option("--record/--no-record", default=True, show_default=True,
              help="Write the result to rubrics/RUBRIC.agreement.json (what gating reads); left alone when "
                   "only its measurement time would change.")
@click.option("--rows", "show_rows", is_flag=True, help="Show every row: human label, judge score, agreement.")
def calibrate(rubric_name: str, mode: str | None, record: bool, show_rows: bool) -> None:
    """Measure the judge's agreement with the rubric's human-labelled calibration file.

    Prints Cohen's kappa (quadratic-weighted on scores), accuracy and mean absolute
    error; exits 1 when the agreement is below the rubric's agreement_floor.
    """
    from goldband.judge import calibrate as cal
    from goldband.judge.workflows import judge_rows
    from goldband.session.judging import check_endpoint

    root = find_root()
    rubric = _rubric(rubric_name, root)
    rows = cal.load_rows(rubric, root)
    with judge_session(mode) as (session, services, runtime):
        check_endpoint(rubric, session.config, session.mode, session.config_file)
        judged = services.engine.submit(judge_rows(runtime, services.engine, rubric, rows)).result()
        result = cal.measure(rubric, judged)
        problems = cal.shortfalls(result, rubric.floor)
        model, judge_hash = runtime.endpoint(rubric).model, runtime.judge_hash(rubric)
        _print_agreement(rubric, model, judge_hash, result, problems, judged, show_rows)
        if record:
            path, written = cal.record(rubric, root, result, judge_hash=judge_hash, judge_model=model)
            click.echo(f"recorded {path.relative_to(root)}" if written else
                       f"agreement unchanged: {path.relative_to(root)} (only its measurement time would change: "
                       "not rewritten)")
    if problems or result.errors:
        raise CommandFailed("below the agreement floor: " + "; ".join(problems) if problems
                       else f"{result.errors} calibration rows errored")


def _print_agreement(rubric: Any, model: str | None, judge_hash: str, result: Any, problems: list[str],
                     judged: list[Any], show_rows: bool) -> None:
    from goldband.judge.workflows import fmt

    click.echo(f"rubric {rubric.name} v{rubric.version} ({rubric.content_hash[:19]}…) · judge {model} "
               f"({judge_hash[:19]}…) · {result.n} rows")
    lines = [("quadratic-weighted kappa", fmt(result.weighted_kappa), f"{result.score_rows} rows with a score"),
             ("exact-level accuracy", fmt(result.level_accuracy), ""),
             ("mean absolute error", fmt(result.mae), "on the rubric's scale"),
             ("pass/fail kappa", fmt(result.pass_kappa), f"{result.n - result.errors} rows"),
             ("pass/fail accuracy", fmt(result.accuracy), ""), ("judge errors", str(result.errors), "")]
    for name, value, note in lines:
        click.echo(f"  {name:<26}{value:>6}  {note}".rstrip())
    click.echo(f"  kappa for the floor: {fmt(result.kappa)} ({result.kappa_kind})")
    _print_floor(rubric, problems)
    if show_rows:
        for j in judged:
            human = j.row.score if j.row.score is not None else ("pass" if j.row.label else "fail")
            said = j.error or f"{j.weighted:.2f} {'pass' if j.passed else 'fail'}"
            click.echo(f"    {j.row.id:<24} human {human!s:<5} judge {said}")


def _print_floor(rubric: Any, problems: list[str]) -> None:
    if rubric.floor is None:
        click.echo("  no agreement_floor: measured, but the rubric's gating does not depend on it")
        return
    bars = ", ".join(f"{k} {'<=' if k == 'mae' else '>='} {v:g}"
                     for k, v in rubric.floor.model_dump(exclude_none=True).items())
    click.echo(f"  floor ({bars}): " + ("met" if not problems else "NOT met: " + "; ".join(problems)))


@judge.command()
@click.argument("goldensets", nargs=-1)
@click.option("--rubric", "rubric_names", multiple=True, help="Only this rubric (repeatable).")
@click.option("--regenerate", "-n", type=click.IntRange(min=2), default=5, show_default=True,
              help="Outputs generated per case (N).")
@click.option("--rejudge", "-m", type=click.IntRange(min=2), default=3, show_default=True,
              help="Judge samples per frozen output (M).")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@click.option("-k", "case_filter", help="Only cases whose id contains this text.")
@click.option("--mode", type=click.Choice(MODES), help="Where outputs and judgements come from.")
@click.option("--progress/--no-progress", default=None,
              help="A progress bar on stderr while outputs are generated and judged (default: when stderr is a "
                   "terminal).")
def noise(goldensets: tuple[str, ...], rubric_names: tuple[str, ...], regenerate: int, rejudge: int,
          targets: tuple[str, ...], case_filter: str | None, mode: str | None, progress: bool | None) -> None:
    """Split rubric-score variance into judge noise and generation noise.

    For every judged case, generates N outputs, freezes them and judges each M
    times; prints per case and overall how much of the variance is the judge's.
    """
    from goldband.cli.progress import CountBar
    from goldband.judge.noise import pooled
    from goldband.judge.workflows import case_noise
    from goldband.session.judging import rubrics_of

    with judge_session(mode, runs=regenerate, targets=targets) as (session, services, runtime):
        plans = [p for path in _goldenset_paths(goldensets) for p in session.plans(session.load(path))
                 if not case_filter or case_filter in p.case.id]
        pairs = [(p, r) for p, r in rubrics_of(plans) if not rubric_names or r.name in rubric_names]
        if not pairs:
            raise UsageError("no case is checked by a rubric (check the golden set, --rubric and -k)")
        session.preflight([p for p, _ in pairs])
        bar = CountBar(f"judge noise: {len(pairs)} case(s) x {regenerate} outputs, each judged {rejudge}x",
                       enabled=sys.stderr.isatty() if progress is None else progress, lines=False)
        bar.plan(sum(p.runs.max for p, _ in pairs))
        try:
            results = services.engine.submit(_gather(case_noise(runtime, services, p, r, rejudge, done=bar)
                                                     for p, r in pairs)).result()
        finally:
            bar.close()
    _print_noise(results, pooled([r.split for r in results]))


async def _gather(coros: Any) -> list[Any]:
    import asyncio

    return list(await asyncio.gather(*coros))


def _goldenset_paths(names: tuple[str, ...]) -> list[Path]:
    root = find_root()
    if not names:
        return sorted((root / "goldensets").glob("*.yaml"))
    paths = [Path(n) if Path(n).suffix in (".yaml", ".yml") else root / "goldensets" / f"{n}.yaml" for n in names]
    for path in paths:
        if not path.is_file():
            raise UsageError(f"golden set not found: {path}; expected a name in goldensets/ or a path to a .yaml file")
    return paths


def _print_noise(results: list[Any], overall: Any) -> None:
    from goldband.judge.workflows import fmt

    header = f"{'case':<34} {'rubric':<20} {'N':>3} {'M':>3} {'mean':>6} {'gen var':>8} {'judge var':>9}  judge share"
    click.echo(header)
    for r in results:
        s = r.split
        share = "n/a" if math.isnan(s.judge_share) else f"{s.judge_share:.0%}"
        left = f" ({r.errors} left out: generation or judge errors)" if r.errors else ""
        name = f"{r.case}[{r.target}]"
        click.echo(f"{name[:34]:<34} {r.rubric[:20]:<20} {s.outputs:>3} {s.rejudges:>3} {fmt(s.mean):>6} "
                   f"{fmt(s.generation_var, 3):>8} {fmt(s.judge_var, 3):>9}  {share}{left}")
    share = "n/a" if math.isnan(overall.judge_share) else f"{overall.judge_share:.1%}"
    click.echo(f"overall: judge variance {fmt(overall.judge_var, 3)}, generation variance "
               f"{fmt(overall.generation_var, 3)} (mean over cases): the judge's share is {share}")


@judge.command()
@click.argument("rubric_name", metavar="RUBRIC")
@click.argument("pairs_file", metavar="PAIRS.jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(MODES), help="Where judgements come from.")
def pairwise(rubric_name: str, pairs_file: Path, mode: str | None) -> None:
    """Compare output a with output b per line of PAIRS.jsonl, positions swapped.

    Each line: {"id": ..., "input": ..., "reference": ..., "a": "...", "b": "..."}.
    A pair the two orders disagree on is a tie, never a win.
    """
    from goldband.judge.pairwise import describe
    from goldband.judge.runtime import Subject
    from goldband.judge.workflows import compare
    from goldband.session.judging import check_endpoint

    rubric = _rubric(rubric_name, find_root())
    pairs = _pairs(pairs_file)
    with judge_session(mode) as (session, services, runtime):
        check_endpoint(rubric, session.config, session.mode, session.config_file)
        coros = (compare(runtime, services.engine, rubric, output_a=p["a"], output_b=p["b"],
                         case_input=p.get("input"), reference=p.get("reference"),
                         subject=Subject(str(p["id"]), "pairwise")) for p in pairs)
        results = services.engine.submit(_gather(coros)).result()
    tally: dict[str, int] = {}
    for pair, result in zip(pairs, results, strict=True):
        tally[result.winner] = tally.get(result.winner, 0) + 1
        click.echo(f"{str(pair['id'])[:30]:<30} {describe(result)}")
    biased = sum(r.position_bias for r in results)
    click.echo(f"a wins {tally.get('a', 0)}, b wins {tally.get('b', 0)}, ties {tally.get('tie', 0)} "
               f"({biased} from position bias), errors {tally.get('error', 0)}")


def _pairs(path: Path) -> list[dict[str, Any]]:
    """The pairs file (JSONL) through the safe loader: bad bytes or JSON are a located usage error."""
    from goldband._util.jsonio import load_jsonl

    try:
        records, lines = load_jsonl(path, cannot="cannot read pairs file", fix="give a JSONL file of pairs")
    except GoldbandError as exc:
        raise UsageError(str(exc)) from None
    pairs = []
    for index, data in enumerate(records):
        number = lines.by_path.get((index,), index + 1)
        if not isinstance(data, dict) or not isinstance(data.get("a"), str) or not isinstance(data.get("b"), str):
            raise UsageError(f"{path}:{number}: a pair needs text under 'a' and 'b'; expected e.g. "
                             '{"id": "p1", "a": "...", "b": "..."}; fix: add both outputs')
        data.setdefault("id", f"line-{number}")
        pairs.append(data)
    return pairs


@judge.command()
@click.argument("rubric_name", metavar="RUBRIC")
@click.option("--output", "output_text", default="(the output under test)", help="An output to render.")
@click.option("--input", "input_text", default=None, help="A case input to render.")
@click.option("--reference", default=None, help="A reference answer to render.")
def show(rubric_name: str, output_text: str, input_text: str | None, reference: str | None) -> None:
    """Show a rubric's hashes and the exact messages the judge receives."""
    from goldband.judge import prompt
    from goldband.judge.rubric import rubric_path

    root = find_root()
    rubric = _rubric(rubric_name, root)
    click.echo(f"rubric {rubric.name} v{rubric.version} · {rubric_path(rubric.name, root)}")
    click.echo(f"content hash {rubric.content_hash}\nprompt hash  {rubric.prompt_hash}")
    click.echo(f"scale {rubric.scale_text}, pass {rubric.pass_score:g}, samples {rubric.samples} ({rubric.combine})")
    data = prompt.judge_data(rubric, output_text, input_text, reference)
    for message in prompt.messages(rubric, data, prompt.new_nonce()):
        click.echo(f"\n--- {message['role']} ---\n{message['content']}")
