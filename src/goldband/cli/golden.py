"""``goldband golden candidates | accept | status``: production failures into golden sets, and their staleness.

``candidates`` proposes cases (from production traces, a run's failing trials or a
file of hand-caught failures) into a review file, near-duplicates of the set's cases
and of each other dropped; a person marks the ones to keep, and ``accept`` appends
them under the set's next version. ``status`` says how old the set is, where its
cases came from, and whether its inputs still look like production's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from goldband.cli.common import opened_store, project, store_option
from goldband.errors import UsageError

if TYPE_CHECKING:
    from goldband.config.project import ProjectConfig
    from goldband.golden.goldenset import GoldenSet
    from goldband.store import Store


SHOWN_DROPPED = 100  # near-duplicates listed in a review file (all are counted)


@click.group()
def golden() -> None:
    """Golden sets fed by production: candidates, review, accept; staleness."""


def _load_set(path: Path, root: Path) -> GoldenSet:
    from goldband.golden.goldenset import load

    full = path if path.is_absolute() else (Path.cwd() / path)
    if not full.is_file():
        raise UsageError(f"no golden set file {path}")
    return load(full.resolve(), base_dir=root)


@golden.command()
@click.argument("set_path", metavar="SET", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "source", type=click.Choice(["production"]), help="Pick from an app's production traces.")
@click.option("--app", help="The app whose traces to read (default: the app whose golden_set is SET).")
@click.option("--from-run", "run_id", help="Pick the failing trials of this stored run.")
@click.option("--from-file", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="Pick the failures in this JSON Lines file (input, output, reference, tags, note).")
@click.option("--where", "where_text", help='Which traces (production): e.g. "feedback=negative OR check_failed OR '
                                            'judge_score<3".')
@click.option("--environment", metavar="E", help="Only traces served in E (production; 'default': those logged "
                                                  "without one). Default: every environment.")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many candidates.")
@click.option("--threshold", type=float, default=None, help="Near-duplicate score (0-100) at or above which a "
                                                            "candidate is dropped [default: 90].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="The review file to write "
                                                                             "[default: reviews/SET-TIME.yaml].")
@store_option
def candidates(set_path: Path, source: str | None, app: str | None, run_id: str | None, file: Path | None,
               where_text: str | None, environment: str | None, limit: int, threshold: float | None,
               out: Path | None, store_path: Path | None) -> None:
    """Write a review file of candidate cases for golden set SET.

    Exactly one source: --from production (with --where), --from-run RUN or --from-file F.jsonl.
    Candidates whose input is a near-duplicate of a case of SET, or of an earlier candidate,
    are dropped and listed in the file with their score.
    """
    from goldband.golden.similar import DEFAULT_THRESHOLD
    from goldband.watch.candidates import pick_cases

    if sum(x is not None for x in (source, run_id, file)) != 1:
        raise UsageError("give exactly one source: --from production, --from-run RUN or --from-file F.jsonl")
    for flag, given in (("--where", where_text), ("--environment", environment)):
        if given is not None and source is None:
            raise UsageError(f"{flag} selects production traces: use it with --from production")
    if limit < 1:
        raise UsageError(f"--limit {limit}: give at least 1")
    cfg, root = project()
    goldenset = _load_set(set_path, root)
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    with opened_store(store_path, create=False) if file is None else contextlib.nullcontext() as store:
        stream, selection = _stream(cfg, root, goldenset, store, source, app, run_id, file, where_text,
                                    environment)
        kept, dropped, matched = pick_cases(stream, goldenset.cases, limit=limit, threshold=threshold)
    path = out or root / "reviews" / f"{goldenset.name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.yaml"
    shown = dropped[:SHOWN_DROPPED]  # the file lists the first ones; the count says how many in all
    _write(path, root, goldenset, kept, {**selection, "limit": limit, "threshold": threshold,
                                         "counts": {"matched": matched, "dropped_as_duplicates": len(dropped),
                                                    "written": len(kept)}, "dropped": shown})
    click.echo(f"{len(kept)} candidate(s) for {goldenset.name} v{goldenset.version} written to {_shown(path, root)} "
               f"({matched} matched; {len(dropped)} dropped as near-duplicates at threshold {threshold:g})")
    for d in dropped[:5]:
        click.echo(f"  dropped {d['ref']}: duplicate of {d['duplicate_of']} (score {d['score']:.1f})")
    if kept:
        click.echo(f"review it (set accept: true on the cases to add), then: goldband golden accept "
                   f"{_shown(path, root)}")


def _stream(cfg: ProjectConfig, root: Path, goldenset: GoldenSet, store: Store | None, source: str | None,
            app: str | None, run_id: str | None, file: Path | None, where_text: str | None,
            environment: str | None = None) -> tuple[Iterator[dict[str, Any]], dict[str, Any]]:
    from goldband._util.environment import environment_filter
    from goldband.golden.where import parse_where
    from goldband.watch import candidates as pick

    if file is not None:
        return pick.from_file(file, limit=None), {"source": "file", "file": str(file)}
    assert store is not None
    if run_id is not None:
        return pick.from_run(store.conn, run_id, root, limit=None), {"source": "run", "run": run_id}
    name = _which_app(cfg, root, goldenset, store, app)
    where = parse_where(where_text, fields=pick.FIELDS) if where_text else None
    env = environment_filter(environment)
    return (pick.from_production(store.conn, name, where, limit=None, environment=env),
            {"source": "production", "app": name, "where": where_text,
             **({"environment": env} if env is not None else {})})


def _which_app(cfg: ProjectConfig, root: Path, goldenset: GoldenSet, store: Store, app: str | None) -> str:
    from goldband.watch.traceingest import unknown_app

    if app is None:
        named = [a for a, c in cfg.monitors.llm.items() if c.golden_set and (root / c.golden_set).resolve()
                 == goldenset.path.resolve()]
        known = store.conn.execute("SELECT DISTINCT app FROM llm_traces").fetchall()
        app = named[0] if len(named) == 1 else known[0][0] if len(known) == 1 else None
        if app is None:
            raise UsageError("which app's traces? give --app (or set monitors.llm.APP.golden_set to this set)")
    missing = unknown_app(store, app)
    if missing is not None:
        raise missing
    return app


def _write(path: Path, root: Path, goldenset: GoldenSet, kept: list[dict[str, Any]],
           selection: Mapping[str, Any]) -> None:
    from goldband.golden.review import write_review

    path.parent.mkdir(parents=True, exist_ok=True)
    write_review(path, set_path=_shown(goldenset.path, root), set_name=goldenset.name,
                 set_version=goldenset.version, candidates=kept, selection=selection,
                 existing_ids=[c.id for c in goldenset.cases])


def _shown(path: Path, root: Path) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return path


@golden.command()
@click.argument("review", type=click.Path(dir_okay=False, path_type=Path))
def accept(review: Path) -> None:
    """Add the candidates marked accept: true in REVIEW to their golden set, under its next version.

    Every accepted case is validated first; if any is invalid nothing is written. The lock
    records the new version.
    """
    from goldband.golden.accept import accept_review

    _, root = project()
    done = accept_review(review, base_dir=root)
    if done.already_applied:
        click.echo(f"{done.set_name}: already accepted (v{done.old_version} has these cases); nothing written")
        return
    if not done.added:
        click.echo(f"{done.set_name}: no candidate has accept: true in {review}; nothing written")
        return
    click.echo(f"{done.set_name}: version {done.old_version} -> {done.new_version}, added {len(done.added)} "
               f"case(s): {', '.join(done.added)}")
    for path in done.files:
        click.echo(f"  wrote {path}")
    click.echo("the next run tests them; commit the golden set and its lock together")


@golden.command()
@click.argument("set_path", metavar="SET", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--app", help="Compare with this app's production inputs (default: the app whose golden_set is SET).")
@click.option("--recent", type=int, default=2000, show_default=True, help="The latest production traces compared.")
@click.option("--fail-on-alert", type=click.Choice(["info", "warning", "critical"]),
              help="Exit with status 6 when the staleness alert opened at least at this severity.")
@store_option
def status(set_path: Path, app: str | None, recent: int, fail_on_alert: str | None, store_path: Path | None) -> None:
    """How old golden set SET is, where its cases came from, and how far its inputs sit from production's.

    Ages come from each case's provenance 'added' date, else the set file's first commit. The
    distance is a two-sample test per text feature (length, tokens, digits, ...), tag shares and,
    with monitors.llm.APP.embedding_model, embeddings; Benjamini-Hochberg across them. A set that
    no longer looks like production is flagged like any drift (alert rule llm-production).
    """
    from goldband.alerts.rules import severity_at_least
    from goldband.watch import staleness

    cfg, root = project()
    goldenset = _load_set(set_path, root)
    ages = _ages(goldenset, root)
    _print_ages(goldenset, ages)
    from goldband.golden import lock

    shown = _shown(goldenset.path, root)
    click.echo(f"  lock: {lock.describe(goldenset.path, goldenset.version, goldenset.content_hash, shown)}")
    with opened_store(store_path, create=False) as store:
        name = _which_app(cfg, root, goldenset, store, app)
        production, tags = _recent_inputs(store, name, recent)
        app_cfg = cfg.monitors.llm.get(name)
        golden_texts = [_text(c.input) for c in goldenset.cases]
        vectors = _embeddings(app_cfg, golden_texts, production) if app_cfg and app_cfg.embedding_model else {}
        distance = staleness.compare_inputs(golden_texts, production, golden_tags=[list(c.tags) for c in
                                            goldenset.cases], production_tags=tags, **vectors)
        severities = _observe(store, cfg, root, name, goldenset, distance)
    _print_distance(name, distance)
    if fail_on_alert and any(severity_at_least(s, fail_on_alert) for s in severities):
        raise SystemExit(6)


def _text(value: Any) -> str:
    from goldband.watch.tracerecords import record_text

    return record_text(value)


def _ages(goldenset: GoldenSet, root: Path) -> Any:
    from datetime import date

    from goldband._util.gitinfo import file_dates
    from goldband.watch.staleness import case_ages

    first, last = file_dates(root, goldenset.path)
    seen = {c.id: date.fromisoformat(first) for c in goldenset.cases} if first else {}
    return case_ages(list(goldenset.cases), today=datetime.now(UTC).date(), first_seen=seen,
                     changed=date.fromisoformat(last) if last else None)


def _print_ages(goldenset: GoldenSet, ages: Any) -> None:
    click.echo(f"{goldenset.name} v{goldenset.version}: {ages.n} case(s)")
    shares = ", ".join(f"{source} {n} ({n / ages.n:.0%})" for source, n in ages.sources.items() if n) if ages.n else ""
    click.echo(f"  where they came from: {shares or '-'}")
    if ages.dated:
        click.echo(f"  age: oldest {ages.oldest_days} days, median {ages.median_days:.0f}, newest {ages.newest_days} "
                   f"({ages.dated} dated: provenance 'added', else the set file's first commit)")
    else:
        click.echo("  age: unknown (no case has provenance 'added' and the set is not in git)")
    click.echo(f"  last changed: {ages.last_changed or 'unknown'}")


def _recent_inputs(store: Store, app: str, n: int) -> tuple[list[str], list[list[str]]]:
    import orjson

    rows = store.conn.execute("SELECT input, attributes FROM llm_traces WHERE app = ? ORDER BY time DESC, id DESC "
                              "LIMIT ?", [app, n]).fetchall()
    texts, tags = [], []
    for text, attributes in rows:
        texts.append(_text(orjson.loads(text)))
        found = orjson.loads(attributes).get("tags") if attributes else None
        tags.append([str(t) for t in found] if isinstance(found, list) else [])
    return texts, tags


def _embeddings(app_cfg: Any, golden_texts: list[str], production: list[str]) -> dict[str, Any]:
    from goldband.watch.embeddings import embed

    knobs = {"model": app_cfg.embedding_model, "api_base": app_cfg.embedding_api_base,
             "api_key_env": app_cfg.embedding_api_key_env}
    return {"golden_embeddings": embed(golden_texts, **knobs), "production_embeddings": embed(production, **knobs)}


def _observe(store: Store, cfg: ProjectConfig, root: Path, app: str, goldenset: GoldenSet,
             distance: Any) -> list[str]:
    """One observation of the set's staleness (flagged when it drifted); the severities of alerts it opened."""
    from goldband.alerts.engine import AlertEngine, list_alerts
    from goldband.alerts.rules import Observation
    from goldband.store.models import SeriesPoint
    from goldband.store.writer import insert_series

    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    labels = {"goldenset": goldenset.name}
    engine = AlertEngine(store, cfg.alerts, root=root)
    obs = Observation("llm-prod", app, "golden_staleness", now, float(len(distance.drifted_tests)), distance.drifted,
                      labels, "golden-status", f"golden set {goldenset.name} v{goldenset.version} against {app}'s "
                      f"recent inputs: {distance.summary}", distance.to_json())
    with store.transaction() as conn:
        insert_series(conn, [SeriesPoint("llm-prod", app, "golden_staleness", obs.value or 0.0, now, labels)])
        engine.observe(conn, [obs])
    engine.deliver()
    ids = set(engine.opened)
    return [a["severity"] for a in list_alerts(store.conn, limit=None) if a["id"] in ids]


def _print_distance(app: str, distance: Any) -> None:
    click.echo(f"  against {app}'s latest {distance.n_production} production input(s): {distance.summary}")
    for t in distance.tests:
        mark = "DRIFT" if t.drifted else "ok"
        p = "-" if t.p_adjusted is None else f"{t.p_adjusted:.2g}"
        click.echo(f"    {mark:5} {t.name:20} {t.test:4} effect {t.effect:.3f} (p adj {p}): golden {t.value}; "
                   f"production {t.reference}")
