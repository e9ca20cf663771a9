"""``goldband registry register | list | show | promote | rollback | history | serving | park | diff``:
the model registry (``goldband.registry.registry``) from the command line; the group's help says how.

The store comes from ``--store``, ``GOLDBAND_STORE`` or goldband.yaml like every other command's; the
artifact folder from goldband.yaml's ``registry: artifacts:``, else ``artifacts/`` beside the store. Paths
typed on the command line (``--artifact``, ``--data``) are relative to the current directory, like
``--store``; the code version (git commit) is read at the project root (``find_root``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from goldband.cli import registrytext as text
from goldband.cli.common import find_root, opened_store, project_path, store_option
from goldband.errors import CommandFailed, RegistryError, UsageError
from goldband.report.fmt import table

if TYPE_CHECKING:
    from goldband.registry.loop import Moved
    from goldband.registry.registry import Registry
    from goldband.store.registry import EventRow, GateRow, VersionRow

PRODUCTION = "production"  # goldband.registry.registry.PRODUCTION, without importing the store
TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
ALIAS_HELP = "The alias to move or read."


@click.group()
def registry() -> None:
    """Model versions, the aliases that serve them, and the event log behind the aliases.

    A version is MODEL:VERSION (churn:3), an alias MODEL@ALIAS (churn@staging); MODEL alone is
    MODEL@production. Promotion to production needs a passing gate against the version serving now
    (the first version needs none); a parked version needs --force, which the log records.

    Exit status: 0 done; 1 nothing served (serving) or a changed artifact (show --verify); 2 the registry
    refused (unknown model, alias or version, a bad option, a parked or ungated version, an alias that
    moved under --expect) and nothing changed.
    """


# --------------------------------------------------------------------------- the one place a registry is made


@contextlib.contextmanager
def opened_registry(store_path: Path | None, *, create: bool = False) -> Iterator[Registry]:
    """The project's registry: its store (created when ``create``), its artifact folder, the project root, and
    the environment its events are made from (GOLDBAND_ENVIRONMENT, else goldband.yaml's ``environment:``)."""
    from goldband._util.environment import resolve_environment
    from goldband.config.project import load_config
    from goldband.registry.registry import Registry

    root = find_root()
    environment = resolve_environment(None, configured=load_config(root)[0].environment)
    with opened_store(store_path, create=create) as store:
        yield Registry(store, artifacts=_artifact_folder(root), root=root, environment=environment)


def _artifact_folder(root: Path) -> Path | None:
    """goldband.yaml's ``registry: artifacts:`` (relative to the project root); None: beside the store."""
    from goldband.config.project import load_config

    section = getattr(load_config(root)[0], "registry", None)
    folder = getattr(section, "artifacts", None)
    return project_path(root, folder) if isinstance(folder, str) and folder else None


def promote_version(registry: Registry, name: str, number: str, *, alias: str, reason: str, force: bool,
                    expect: str | None) -> Moved:
    """What ``goldband registry promote`` does: move the alias, then the loop's side effects (the monitors'
    reference, the alert sinks: ``goldband.registry.loop``)."""
    from goldband.config.project import load_config
    from goldband.registry import loop

    return loop.promote(registry, load_config(registry.root)[0], name, number, alias=alias, reason=reason,
                        force=force, expect=expect)


def rollback_version(registry: Registry, name: str, *, to: str | None, alias: str, reason: str) -> Moved:
    """What ``goldband registry rollback`` does: move the alias back, then the loop's side effects."""
    from goldband.config.project import load_config
    from goldband.registry import loop

    return loop.rollback(registry, load_config(registry.root)[0], name, to=to, alias=alias, reason=reason)


def _followed(moved: Moved) -> None:
    """What followed an alias move: the monitors' reference and the notifications."""
    if moved.reference:
        click.echo(f"  monitors: {moved.reference}")
    for sink, result in moved.notified.items():
        if result != "ok":
            click.echo(f"  notify {sink}: {result}", err=True)


# --------------------------------------------------------------------------- register


@registry.command()
@click.argument("model")
@click.option("--artifact", type=click.Path(path_type=Path),
              help="The trained model: a file or directory, copied into the artifact folder by its sha256.")
@click.option("--uri", help="Or: where the artifact lives (s3://..., https://...), with --sha256.")
@click.option("--sha256", "sha256", metavar="HEX",
              help="The artifact's sha256: required with --uri; with --artifact, checked against the file.")
@click.option("--data", type=click.Path(path_type=Path),
              help="The training data (CSV, JSONL, Parquet: rows and columns are recorded; else its hash).")
@click.option("--data-uri", metavar="URI", help="Or: where the training data lives, with --data-sha256.")
@click.option("--data-sha256", metavar="HEX", help="The training data's sha256 (with --data-uri).")
@click.option("--feature", "features", multiple=True, metavar="NAME=TYPE",
              help="A feature and its type, e.g. tenure=numeric (repeatable).")
@click.option("--label", metavar="COLUMN",
              help="The training data's label column: without --feature, its other columns (and the types "
                   "read) are the features.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A hyperparameter or fact (repeatable); VALUE is read as JSON when it parses (0.1, true, "
                   "[1, 2]), else kept as text.")
@click.option("--kind", type=click.Choice(["classic", "llm"]), default="classic", show_default=True,
              help="A classic-ML model (an artifact) or an LLM (a target configuration).")
@click.option("--target", "target_name", metavar="TARGET",
              help="An llm version: the goldband.yaml target whose full configuration (prompt text, system, "
                   "model, params) becomes the version (implies --kind llm).")
@click.option("--parent", metavar="VERSION", help="The version this one replaces (default: production's).")
@click.option("--description", help="What this version is, in words.")
@click.option("--reason", help="Why it was registered (kept in the event log).")
@click.option("--json", "as_json", is_flag=True, help="Print the new version as JSON.")
@store_option
def register(model: str, artifact: Path | None, uri: str | None, sha256: str | None, data: Path | None,
             data_uri: str | None, data_sha256: str | None, features: tuple[str, ...], label: str | None,
             params: tuple[str, ...],
             kind: str, target_name: str | None, parent: str | None, description: str | None, reason: str | None,
             as_json: bool, store_path: Path | None) -> None:
    """Register a new immutable version of MODEL (its id is the next number: 1, 2, 3 ...).

    Paths are relative to the current directory. Prints the new version and its artifact's sha256.

    \b
    goldband registry register churn --artifact out/model.pkl --data data/train.csv \\
        --feature tenure=numeric --feature plan=categorical --param max_depth=6 --reason "monthly retrain"
    """
    feature_types = _features(features)
    param_values = _params(params)
    with opened_registry(store_path, create=True) as reg:
        target = _target_record(reg, target_name) if target_name else None
        row = reg.register(model, kind="llm" if target else kind, artifact=_here(artifact), uri=uri, sha256=sha256,
                           data=_here(data), features=feature_types, params=param_values, target=target,
                           description=description, parent=parent, reason=reason, data_uri=data_uri,
                           data_sha256=data_sha256, label=label)
    if as_json:
        text.echo_json(text.version_json(row))
        return
    click.echo(f"registered {row.ref} ({text.artifact_text(row)})")
    if row.data:
        click.echo(f"  data    {text.data_text(row.data)}")
    if row.parent:
        click.echo(f"  parent  {row.parent}")


def _target_record(reg: Registry, name: str) -> dict[str, Any]:
    """The goldband.yaml target ``name`` as an llm version stores it (``goldband.engine.targets.target_record``)."""
    from goldband.config.project import load_config
    from goldband.engine.targets import build_target, target_record
    from goldband.store import registry as db

    root = reg.root
    config, path = load_config(root)
    if name not in config.targets:
        raise UsageError(f"unknown target '{name}'", where="--target",
                         expected=f"one of: {', '.join(sorted(config.targets)) or '(none configured)'}",
                         fix="declare it under 'targets:' in goldband.yaml")
    shown = path.relative_to(root) if path else None

    def registered(ref: str) -> Any:
        found = db.lookup(reg.store.conn, ref)
        return found.target if found else None

    return target_record(build_target(name, config.targets[name], root, shown, registered))


def _here(path: Path | None) -> Path | None:
    """A path typed on the command line: relative to the current directory."""
    return None if path is None else Path.cwd() / path.expanduser()


def _pairs(option: str, values: tuple[str, ...], shape: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for given in values:
        key, sep, value = given.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"not {shape}: {given!r}", where=option, expected=f"{shape}, e.g. {option} "
                             + ("tenure=numeric" if shape == "NAME=TYPE" else "max_depth=6"))
        if key.strip() in found:
            raise UsageError(f"{key.strip()!r} is given twice", where=option, fix="give each name once")
        found[key.strip()] = value.strip()
    return found


def _features(values: tuple[str, ...]) -> dict[str, str]:
    found = _pairs("--feature", values, "NAME=TYPE")
    for name, kind in found.items():
        if not TYPE_NAME.match(kind):
            raise UsageError(f"feature {name!r} has type {kind!r}, which is not a type name", where="--feature",
                             expected="a word such as numeric, categorical, text, boolean or datetime")
    return found


def _params(values: tuple[str, ...]) -> dict[str, Any]:
    return {key: _value(text) for key, text in _pairs("--param", values, "KEY=VALUE").items()}


def _value(text: str) -> Any:
    """JSON when it parses to finite numbers and text (0.1, true, [1, 2], {"a": 1}), else the text itself."""
    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        value = json.loads(text, parse_constant=refuse)
    except ValueError:
        return text
    return text if isinstance(value, float) and not math.isfinite(value) else value


# --------------------------------------------------------------------------- list and show


@registry.command(name="list")
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@store_option
def list_(model: str | None, as_json: bool, store_path: Path | None) -> None:
    """The registered models (their aliases and how many versions), or MODEL's versions.

    A version's row: when and by whom it was registered, its artifact, its parent, the aliases that point
    at it, and whether it is parked.
    """
    with opened_registry(store_path) as reg:
        if model is None:
            _list_models(reg, as_json)
        else:
            _list_versions(reg, model, as_json)


def _list_models(reg: Registry, as_json: bool) -> None:
    from goldband.store import registry as db

    found = []
    for m in db.models(reg.store.conn):
        versions = db.versions(reg.store.conn, m.name)
        found.append({**dataclasses.asdict(m), "versions": len(versions),
                      "latest": versions[-1].version if versions else None, "aliases": reg.aliases(m.name)})
    if as_json:
        text.echo_json(found)
        return
    if not found:
        click.echo(f"no models registered in {reg.store.where} yet (goldband registry register MODEL --artifact PATH)")
        return
    rows = [[f["name"], f["kind"], str(f["versions"]), f["latest"] or "-", text.aliases_text(f["aliases"]),
             text.when(f["created_at"])] for f in found]
    click.echo(table(rows, ["model", "kind", "versions", "latest", "aliases", "created (UTC)"], right={2}))


def _list_versions(reg: Registry, name: str, as_json: bool) -> None:
    from goldband.store import registry as db

    reg.model(name)
    versions = db.versions(reg.store.conn, name)
    pointing = text.pointing(reg.aliases(name))
    parked = {v.version: reg.parked(name, v.version) for v in versions}
    if as_json:
        text.echo_json([{**text.version_json(v), "aliases": pointing.get(v.version, []), "parked": parked[v.version]}
                    for v in versions])
        return
    rows = [[v.version, text.when(v.created_at), v.created_by or "-", text.artifact_text(v, short=True),
             v.parent or "-",
             ", ".join(pointing.get(v.version, [])) or "-", "parked" if parked[v.version] is not None else "-"]
            for v in versions]
    click.echo(table(rows, ["version", "created (UTC)", "by", "artifact", "parent", "aliases", "parked"],
                     right={0}))


@registry.command()
@click.argument("ref", metavar="MODEL[:VERSION|@ALIAS]")
@click.option("--verify", is_flag=True, help="Also hash the artifact: exit status 1 if it changed since it was "
                                             "registered.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@store_option
def show(ref: str, verify: bool, as_json: bool, store_path: Path | None) -> None:
    """Everything about one version: artifact, training data, features, params, code version, parent,
    the aliases pointing at it, the events that touched it and its gates.

    MODEL alone shows the version serving as production.
    """
    from goldband.store import registry as db

    with opened_registry(store_path) as reg:
        row = reg.lookup(ref)
        checked = _verified(reg, row) if verify else None
        info = {**text.version_json(row), "model_kind": reg.model(row.model).kind, "artifact_path": _local(reg, row),
                "aliases": text.pointing(reg.aliases(row.model)).get(row.version, []),
                "parked": reg.parked(row.model, row.version),
                "events": [e for e in reg.history(row.model) if row.version in (e.to_version, e.from_version)],
                "gates": db.gates(reg.store.conn, row.model, row.version)}
    if as_json:
        text.echo_json({**info, "verified": checked is None if verify and info["artifact_path"] else None})
    else:
        click.echo(_show_text(row, info))
    if checked is not None:
        raise CommandFailed(checked)
    if verify and not as_json:
        click.echo("artifact verified: its bytes match the registered sha256" if info["artifact_path"]
                   else f"nothing to verify: {'a URI goldband cannot read' if row.artifact else 'no artifact'}")


def _verified(reg: Registry, row: VersionRow) -> str | None:
    """None when the artifact still hashes to its sha256; else what is wrong (``show --verify``)."""
    try:
        reg.resolve(row.ref)
    except RegistryError as exc:
        return str(exc)
    return None


def _local(reg: Registry, row: VersionRow) -> str | None:
    return str(reg.artifacts / row.artifact) if row.artifact_kind in ("file", "dir") and row.artifact else None


def _show_text(row: VersionRow, info: dict[str, Any]) -> str:
    head = f"{row.ref}  ({info['model_kind']})"
    if info["aliases"]:
        head += "  " + ", ".join(info["aliases"])
    if info["parked"] is not None:
        head += f"  PARKED: {info['parked']}"
    fields = [("created", f"{text.when(row.created_at)} UTC by {row.created_by or '?'}"),
              ("description", row.description), ("artifact", text.artifact_detail(row)),
              ("", info["artifact_path"]), ("data", text.data_text(row.data) if row.data else None),
              ("features", text.mapping_text(row.features)), ("params", text.mapping_text(row.params)),
              ("target", json.dumps(row.target, sort_keys=True) if row.target else None),
              ("code", row.code_version or "- (not registered from a git checkout)"), ("parent", row.parent)]
    lines = [head, *(f"  {name:<12}{value}" for name, value in fields if value)]
    lines += ["", "events", _events_table(info["events"]) if info["events"] else "  none"]
    lines += ["", "gates", _gates_table(info["gates"]) if info["gates"] else "  none"]
    return "\n".join(lines)


def _gates_table(gates: list[GateRow]) -> str:
    rows = [[f"#{g.id}", g.champion or "-", g.status, g.decision or "-", g.policy or "-", text.when(g.started_at),
             text.clip("; ".join(g.reasons), 70) or "-"] for g in gates]
    return table(rows, ["gate", "against", "status", "decision", "policy", "started (UTC)", "reasons"])


# --------------------------------------------------------------------------- moving aliases


@registry.command()
@click.argument("model")
@click.argument("version")
@click.option("--alias", default=PRODUCTION, show_default=True, metavar="NAME", help=ALIAS_HELP)
@click.option("--reason", required=True, help="Why (kept in the event log).")
@click.option("--force", is_flag=True, help="Promote a parked or ungated version anyway (the log records it as "
                                            "forced).")
@click.option("--expect", metavar="VERSION", help="The version you saw serving: refuse if the alias moved since "
                                                  "(another promotion won the race).")
@click.option("--json", "as_json", is_flag=True, help="Print the event as JSON.")
@store_option
def promote(model: str, version: str, alias: str, reason: str, force: bool, expect: str | None, as_json: bool,
            store_path: Path | None) -> None:
    """Point MODEL's alias (production) at VERSION.

    To production only after a passing gate against the version serving now (the first version needs
    none), and never a parked version, unless --force.
    """
    with opened_registry(store_path) as reg:
        moved = promote_version(reg, model, version, alias=alias, reason=reason, force=force, expect=expect)
    event = moved.event
    if as_json:
        text.echo_json(event)
        return
    notes = [f"was {event.from_version}" if event.from_version else "the first to serve", *_gate_note(event)]
    click.echo(f"promoted {model}:{version} to {alias} ({'; '.join(notes)})"
               + ("; forced: recorded in the event log" if event.forced else ""))
    _followed(moved)


def _gate_note(event: EventRow) -> list[str]:
    gate = event.evidence.get("gate")
    return [f"gate #{gate}"] if gate is not None else []


@registry.command()
@click.argument("model")
@click.option("--to", "to", metavar="VERSION", help="The version to go back to (default: the one served before; "
                                                    "it must have served as the alias or passed a gate).")
@click.option("--alias", default=PRODUCTION, show_default=True, metavar="NAME", help=ALIAS_HELP)
@click.option("--reason", required=True, help="Why (kept in the event log).")
@click.option("--json", "as_json", is_flag=True, help="Print the event as JSON.")
@store_option
def rollback(model: str, to: str | None, alias: str, reason: str, as_json: bool, store_path: Path | None) -> None:
    """Point MODEL's alias (production) back at the version it served before.

    Rolling back twice goes two steps back, never forward to a version rolled back from.
    """
    with opened_registry(store_path) as reg:
        moved = rollback_version(reg, model, to=to, alias=alias, reason=reason)
    event = moved.event
    if as_json:
        text.echo_json(event)
        return
    click.echo(f"rolled back {model} {alias}: {event.from_version} → {event.to_version}")
    _followed(moved)


@registry.command()
@click.argument("model")
@click.argument("version")
@click.option("--reason", required=True, help="Why it must not serve (kept in the event log).")
@click.option("--json", "as_json", is_flag=True, help="Print the event as JSON.")
@store_option
def park(model: str, version: str, reason: str, as_json: bool, store_path: Path | None) -> None:
    """Mark MODEL:VERSION as not fit to serve: promoting it to production then needs --force.

    Parking moves no alias: a parked version that serves keeps serving until a rollback or promotion.
    """
    with opened_registry(store_path) as reg:
        event = reg.park(model, version, reason=reason)
        serving = reg.aliases(model).get(PRODUCTION)
    if as_json:
        text.echo_json(event)
        return
    click.echo(f"parked {model}:{version}: {reason}")
    if serving == version:
        click.echo(f"  it still serves as {PRODUCTION}: roll back with `goldband registry rollback {model} "
                   "--reason ...`")


# --------------------------------------------------------------------------- the log, and what served when


@registry.command()
@click.argument("model")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="The last N events.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@store_option
def history(model: str, limit: int, as_json: bool, store_path: Path | None) -> None:
    """MODEL's event log, oldest first: every registration, promotion, rollback, park and approval, with
    who, when, why, and whether it was forced."""
    from goldband.store import registry as db

    with opened_registry(store_path) as reg:
        shown = reg.history(model, limit=limit)
        total = db.count_events(reg.store.conn, model)
    if as_json:
        text.echo_json(shown)
        return
    if not shown:
        click.echo(f"no events for {model}")
        return
    click.echo(_events_table(shown))
    if len(shown) < total:
        click.echo(f"(the last {len(shown)} of {total} events; --limit {total} shows all)")


def _events_table(events: list[EventRow]) -> str:
    rows = [[str(e.id), text.when(e.time), e.kind, e.alias or "-", _change(e), e.actor or "-",
             text.clip(e.reason or "", 50) or "-", text.clip(text.mapping_text(e.evidence) or "", 30) or "-",
             "forced" if e.forced else ""] for e in events]
    return table(rows, ["id", "time (UTC)", "kind", "alias", "from → to", "actor", "reason", "evidence", "forced"],
                 right={0})


def _change(event: EventRow) -> str:
    if event.kind in ("promote", "rollback"):
        return f"{event.from_version or '-'} → {event.to_version}"
    return event.to_version or "-"


@registry.command()
@click.argument("model")
@click.option("--at", "at", metavar="TIME", help="When (ISO 8601, UTC unless an offset is given; default: now).")
@click.option("--alias", default=PRODUCTION, show_default=True, metavar="NAME", help=ALIAS_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the version (null when none) and the event "
                                                      "that put it there.")
@store_option
def serving(model: str, at: str | None, alias: str, as_json: bool, store_path: Path | None) -> None:
    """Which version of MODEL served as the alias (production) at a time, or now: the audit question.

    Exit status 1 when nothing served then (before the first promotion): a deploy script asking what to
    load must not go on with nothing. Unknown models and bad times exit 2.
    """
    with opened_registry(store_path) as reg:
        row = reg.serving(model, at=at, alias=alias)
        moves = [e for e in reg.history(model) if e.alias == alias and e.kind in ("promote", "rollback")]
    since = _moved_by(moves, row, at)
    when = f"at {at}" if at else "now"
    if as_json:
        text.echo_json({"model": model, "alias": alias, "at": at, "version": text.version_json(row) if row else None,
                    "since": since})
    elif row is None:
        click.echo(f"nothing served {model} as {alias} {when}" if at else f"nothing serves {model} as {alias} "
                   "(no promotion yet)")
    else:
        click.echo(f"{row.ref} served as {alias} {when}" if at else f"{row.ref} serves as {alias}")
        if since is not None:
            click.echo(f"  since {text.when(since.time)} UTC: {since.kind} by {since.actor or '?'}"
                       + (f": {since.reason}" if since.reason else "") + f" (event #{since.id})")
    if row is None:
        click.get_current_context().exit(1)


def _moved_by(moves: list[EventRow], row: VersionRow | None, at: str | None) -> EventRow | None:
    """The alias event that put ``row`` in place (the last at or before ``at``)."""
    if row is None:
        return None
    if at is not None:
        from datetime import UTC, datetime

        from goldband.clock import iso

        moment = datetime.fromisoformat(at)  # valid: Registry.serving read it first
        limit = iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        moves = [e for e in moves if e.time <= limit]
    return moves[-1] if moves else None


# --------------------------------------------------------------------------- diff


@registry.command()
@click.argument("model")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: field -> [A's value, B's value].")
@store_option
def diff(model: str, a: str, b: str, as_json: bool, store_path: Path | None) -> None:
    """How versions A and B of MODEL differ: artifact, data, features, params, code version, parent ...

    Maps (data, features, params) are compared key by key (params.max_depth). Exit status 0 either way.
    """
    with opened_registry(store_path) as reg:
        fields = reg.diff(model, a, b)
    flat = {key: pair for field, (left, right) in fields.items() for key, pair in _flatten(field, left, right)}
    if as_json:
        text.echo_json({"model": model, "a": a, "b": b, "fields": {k: list(v) for k, v in flat.items()}})
        return
    if not flat:
        click.echo(f"{model}:{a} and {model}:{b} differ only in their version number and registration time")
        return
    click.echo(table([[key, text.cell(left), text.cell(right)] for key, (left, right) in flat.items()],
                     ["field", f"{model}:{a}", f"{model}:{b}"]))


def _flatten(field: str, left: Any, right: Any) -> list[tuple[str, tuple[Any, Any]]]:
    if not (isinstance(left, dict | None) and isinstance(right, dict | None)) or left is right is None:
        return [(field, (left, right))]
    left, right = left or {}, right or {}
    return [(f"{field}.{key}", (left.get(key), right.get(key))) for key in sorted({*left, *right}, key=str)
            if left.get(key) != right.get(key)]
