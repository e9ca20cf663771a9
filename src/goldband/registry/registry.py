"""The model registry: immutable versions, aliases that point at them, and the event log behind the aliases.

::

    registry = Registry(store)                         # artifacts beside the store: .goldband/artifacts/
    v = registry.register("churn", artifact="out/model.pkl", data="data/train.csv",
                          features={"tenure": "numeric"}, reason="monthly retrain")
    registry.promote("churn", v.version, reason="passed gate #7")  # needs that passing gate (or force)
    serving = registry.resolve("churn@production")     # the version, with a verified local artifact path
    registry.rollback("churn", reason="complaints after the release")

Every change is one transaction: the version or event, and the alias it moves,
commit together, so nothing is ever half-promoted; an alias move checks the
alias under the write lock (SQLite's, or on PostgreSQL the model's advisory lock:
``goldband.store.locks``), so of two promotions racing the second is refused
(``expect``) instead of silently winning, and two registrations never take the
same version number. Versions are never updated and events
never deleted: ``serving(model, at=...)`` answers what served at any moment, and
replaying the log reproduces the aliases.

Promotion to ``production`` is the loop's gate: a version may serve only after
a gate against the version serving now has passed (``goldband.registry.gate``),
a parked version never without ``force`` (recorded as such).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from goldband._util.actor import actor as current_actor
from goldband._util.environment import resolve_environment
from goldband._util.gitinfo import git_info
from goldband.clock import Clock, SystemClock, iso
from goldband.errors import RegistryError
from goldband.registry.artifacts import Artifact, ArtifactCheck, store_artifact, verify
from goldband.registry.snapshots import data_snapshot
from goldband.store import Store
from goldband.store import registry as db
from goldband.store.locks import serialize
from goldband.store.registry import EventRow, GateRow, ModelRow, VersionRow

__all__ = ["PRODUCTION", "Registry", "Resolved", "parse_ref"]

PRODUCTION = "production"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")
KINDS = ("classic", "llm")


@dataclass(frozen=True)
class Resolved:
    """A resolved reference: the version, and its artifact as a verified local path (or its URI)."""

    version: VersionRow
    path: Path | None  # the local artifact (file or directory), verified against its sha256
    uri: str | None = None  # an artifact referenced by URI (goldband cannot verify what it cannot read)

    @property
    def ref(self) -> str:
        return self.version.ref


def parse_ref(ref: str) -> tuple[str, str | None, str | None]:
    """``model@alias``, ``model:version`` or ``model`` (= ``model@production``): see ``store.registry.split_ref``."""
    return db.split_ref(ref, PRODUCTION)


class Registry:
    """Models, versions, aliases and events in one store; ``artifacts`` is the content-addressed folder."""

    def __init__(self, store: Store, *, artifacts: Path | None = None, root: Path | None = None,
                 clock: Clock | None = None, actor: str | None = None, environment: str | None = None) -> None:
        self.store = store
        self.root = root or Path.cwd()
        self.artifacts = (artifacts or self.home / "artifacts").resolve()
        self.clock = clock or SystemClock()
        self.actor = actor or current_actor()
        # recorded on every event: where the move was made from (default: GOLDBAND_ENVIRONMENT, else default)
        self.environment = resolve_environment(environment, where="Registry(environment=...)")

    @property
    def home(self) -> Path:
        """Where the registry keeps its files by default (artifacts, retrain workspaces): beside an SQLite
        store's file; for a PostgreSQL store, which has no folder, the project's ``.goldband/`` (a team that
        shares the server configures ``registry: artifacts:`` as a folder every host reads)."""
        return self.store.path.parent if self.store.url is None else self.root / ".goldband"

    # -- reading ----------------------------------------------------------------------------------

    def model(self, name: str) -> ModelRow:
        found = db.model(self.store.conn, name)
        if found is None:
            known = ", ".join(m.name for m in db.models(self.store.conn)) or "none yet"
            raise RegistryError(f"unknown model '{name}'", where="registry", expected=f"one of: {known}",
                                fix=f"register it first: goldband registry register {name} ...")
        return found

    def version(self, name: str, number: str) -> VersionRow:
        self.model(name)
        found = db.version(self.store.conn, name, number)
        if found is None:
            known = ", ".join(v.version for v in db.versions(self.store.conn, name)) or "none"
            raise RegistryError(f"model '{name}' has no version '{number}'", where="registry",
                                expected=f"one of its versions: {known}", fix="goldband registry list " + name)
        return found

    def aliases(self, name: str) -> dict[str, str]:
        """alias -> version for one model."""
        self.model(name)
        return {alias: v for (_, alias), v in db.aliases(self.store.conn, name).items()}

    def lookup(self, ref: str) -> VersionRow:
        """The version a reference names (``model@alias``, ``model:version``, ``model``), unverified."""
        name, alias, number = parse_ref(ref)
        if number is not None:
            return self.version(name, number)
        assert alias is not None
        pointed = self.aliases(name).get(alias)
        if pointed is None:
            known = ", ".join(sorted(self.aliases(name))) or "none yet"
            raise RegistryError(f"model '{name}' has no alias '{alias}'", where=ref,
                                expected=f"one of its aliases: {known}",
                                fix=f"promote one first: goldband registry promote {name} VERSION --alias {alias}")
        return self.version(name, pointed)

    def resolve(self, ref: str) -> Resolved:
        """The version ``ref`` names, its artifact checked against its sha256 (RegistryError if it changed)."""
        found = self.lookup(ref)
        if found.artifact_kind == "uri":
            return Resolved(found, None, found.artifact)
        if found.artifact_kind == "none" or found.artifact is None:
            return Resolved(found, None)
        path = self.artifacts / found.artifact
        verify(path, found.artifact_sha256 or "", found.artifact_kind, self._check())
        return Resolved(found, path)

    def _check(self) -> ArtifactCheck:
        def record(key: str, size: int, mtime_ns: int, sha: str) -> None:
            try:
                with self.store.transaction() as conn:
                    db.put_artifact_check(conn, key, size, mtime_ns, sha, iso(self.clock.now()))
            except Exception:  # a read-only store only means the next resolve hashes again
                return

        return ArtifactCheck(lambda key: db.artifact_check(self.store.conn, key), record)

    def history(self, name: str, *, limit: int | None = None) -> list[EventRow]:
        self.model(name)
        return db.events(self.store.conn, name, limit=limit)

    def serving(self, name: str, *, at: str | None = None, alias: str = PRODUCTION) -> VersionRow | None:
        """The version ``alias`` pointed at, now or at time ``at`` (ISO 8601); None before any promotion."""
        self.model(name)
        number = (self.aliases(name).get(alias) if at is None
                  else db.alias_at(self.store.conn, name, alias, iso(_parse_time(at))))
        return self.version(name, number) if number else None

    def parked(self, name: str, number: str) -> str | None:
        """Why a version is parked (its last park's reason), or None when it is not."""
        state: str | None = None
        for event in db.events(self.store.conn, name, version=number, kinds=("park", "approve", "promote")):
            if event.kind == "park":
                state = event.reason or "parked"
            elif event.forced:
                state = None
        return state

    def passed_gate(self, name: str, number: str, *, champion: str | None) -> GateRow | None:
        """The latest completed, passing gate of version ``number`` against ``champion``."""
        found = [g for g in db.gates(self.store.conn, name, number)
                 if g.status == "complete" and g.decision == "pass" and g.champion == champion]
        return found[-1] if found else None

    def diff(self, name: str, a: str, b: str) -> dict[str, tuple[Any, Any]]:
        """The fields in which two versions differ: field -> (a's value, b's value)."""
        left, right = self.version(name, a), self.version(name, b)
        skip = ("version", "seq", "created_at")
        return {f: (getattr(left, f), getattr(right, f)) for f in left.__dataclass_fields__
                if f not in skip and getattr(left, f) != getattr(right, f)}

    # -- writing ----------------------------------------------------------------------------------

    def register(self, name: str, *, kind: str = "classic", artifact: str | Path | None = None,
                 uri: str | None = None, sha256: str | None = None, data: str | Path | None = None,
                 features: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None,
                 target: Mapping[str, Any] | None = None, description: str | None = None,
                 parent: str | None = None, reason: str | None = None,
                 data_uri: str | None = None, data_sha256: str | None = None,
                 label: str | None = None) -> VersionRow:
        """Register a new immutable version (its id is the next number); see the module docstring. The training
        data is a local ``data`` path (hashed, its rows and columns read) or a ``data_uri`` with its sha256.
        Without ``features``, a table's columns but ``label`` are the features (with the types read)."""
        _check_name(name, kind)
        _check_kind(db.model(self.store.conn, name), name, kind)  # refuse before copying anything
        if parent is not None:
            _check_parent(self.store.conn, name, parent)
        snapshot = self._snapshot(data, data_uri, data_sha256)
        features = features if features or label is None else features_of(snapshot, label)
        stored = self._artifact(artifact, uri, sha256)  # last: a refused registration copies nothing
        with self.store.transaction() as conn:
            serialize(conn, "registry", name)  # the next version number is read, then taken
            _check_kind(db.model(conn, name), name, kind)
            return self._insert(conn, name, kind, stored, snapshot, features, params, target, description,
                                parent, reason)

    def _insert(self, conn: sqlite3.Connection, name: str, kind: str, stored: Artifact,
                snapshot: dict[str, Any] | None, features: Mapping[str, str] | None,
                params: Mapping[str, Any] | None, target: Mapping[str, Any] | None, description: str | None,
                parent: str | None, reason: str | None) -> VersionRow:
        stamp = iso(self.clock.now())
        db.insert_model(conn, ModelRow(name, kind, description=None, created_at=stamp, created_by=self.actor))
        parent = parent if parent is not None else _current(conn, name)
        if parent is not None:
            _check_parent(conn, name, parent)
        seq = db.next_seq(conn, name)
        row = VersionRow(name, str(seq), seq, stored.kind, stored.location, stored.sha256, stored.bytes,
                         snapshot, dict(features) if features else None, dict(params or {}),
                         dict(target) if target else None, _code_version(self.root), parent, description, stamp,
                         self.actor)
        db.insert_version(conn, row)
        db.append_event(conn, EventRow(name, "register", stamp, to_version=row.version, actor=self.actor,
                                       reason=reason, evidence={"artifact_sha256": stored.sha256},
                                       environment=self.environment))
        return row

    def _snapshot(self, data: str | Path | None, uri: str | None, sha256: str | None) -> dict[str, Any] | None:
        if data is not None and uri is not None:
            raise RegistryError("give the training data as a path or a URI, not both", where="registry register")
        if uri is None:
            return data_snapshot(self._path(data)) if data is not None else None
        if not sha256 or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
            raise RegistryError("training data referenced by URI needs its sha256 (64 hex digits)",
                                where=f"--data-uri {uri}", fix="pass --data-sha256 with the data's digest")
        return {"uri": uri, "sha256": sha256.lower()}

    def _artifact(self, artifact: str | Path | None, uri: str | None, sha256: str | None) -> Artifact:
        """The artifact to record; a ``sha256`` given with a local path must match its bytes (checked
        before anything is copied)."""
        if artifact is not None and uri is not None:
            raise RegistryError("give an artifact path or a URI, not both", where="registry register")
        sha256 = sha256.strip().lower() if sha256 else None
        if sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise RegistryError(f"not a sha256: {sha256!r}", where="--sha256", expected="64 hex digits")
        if uri is not None:
            if sha256 is None:
                raise RegistryError("an artifact referenced by URI needs its sha256 (64 hex digits)",
                                    where=f"--uri {uri}", fix="pass --sha256 with the artifact's digest")
            return Artifact("uri", uri, sha256)
        if artifact is None:
            if sha256 is not None:
                raise RegistryError("a sha256 without an artifact", where="--sha256",
                                    fix="give the artifact too (--artifact PATH or --uri URI)")
            return Artifact("none")
        return store_artifact(self._path(artifact), self.artifacts, sha256=sha256)

    def _path(self, value: str | Path) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    def promote(self, name: str, number: str, *, alias: str = PRODUCTION, reason: str | None = None,
                evidence: Mapping[str, Any] | None = None, force: bool = False,
                expect: str | None = None) -> EventRow:
        """Point ``alias`` at version ``number``. To ``production`` only after a passing gate against the
        version serving now, never a parked version, unless ``force`` (the event is marked forced when force
        overrode either). ``expect``: the version the caller saw serving; if another promotion moved the alias
        since, this one is refused. ``alias``: a name like a model's (letters, digits, '.', '_', '-')."""
        _check_alias(alias, "registry promote")
        self.version(name, number)
        with self.store.transaction() as conn:
            serialize(conn, "registry", name)  # the alias is read, then moved: a racing move waits, then is refused
            current = db.aliases(conn, name).get((name, alias))
            _expected(name, alias, current, expect)
            if current == number:
                raise RegistryError(f"{alias} of model '{name}' already points at version {number}",
                                    where="registry promote", fix="nothing to do")
            gate, forced = self._may_serve(name, number, alias, current, force)
            event = EventRow(name, "promote", iso(self.clock.now()), alias, current, number, self.actor, reason,
                             {**(evidence or {}), **({"gate": gate.id} if gate else {})}, forced)
            return self._append(conn, event)

    def _may_serve(self, name: str, number: str, alias: str, current: str | None,
                   force: bool) -> tuple[GateRow | None, bool]:
        """The gate that lets ``number`` serve as ``alias`` (production only), and whether ``force`` had to
        override a parked state or a missing gate (what the event records as forced); RegistryError when
        it may not serve."""
        if alias != PRODUCTION:
            return None, False
        gate = self.passed_gate(name, number, champion=current)
        why = self.parked(name, number)
        ungated = gate is None and current is not None
        if force:
            return gate, why is not None or ungated
        if why is not None:
            raise RegistryError(f"version {number} of model '{name}' is parked: {why}", where="registry promote",
                                fix="register a better candidate, or pass --force (recorded as forced)")
        if ungated:
            raise RegistryError(f"version {number} of model '{name}' has no passing gate against version "
                                f"{current}, which serves now", where="registry promote",
                                fix=f"run `goldband gate {name} {number}` first, or pass --force (recorded)")
        return gate, False

    def park(self, name: str, number: str, *, reason: str, evidence: Mapping[str, Any] | None = None) -> EventRow:
        """Mark a version as not fit to serve, with the reason (the gate's, usually)."""
        self.version(name, number)
        return self._event(EventRow(name, "park", iso(self.clock.now()), to_version=number, actor=self.actor,
                                    reason=reason, evidence=dict(evidence or {})))

    def approve(self, name: str, number: str, *, reason: str | None = None,
                evidence: Mapping[str, Any] | None = None) -> EventRow:
        """Record a person's approval of a candidate (manual retrain approval)."""
        self.version(name, number)
        return self._event(EventRow(name, "approve", iso(self.clock.now()), to_version=number, actor=self.actor,
                                    reason=reason, evidence=dict(evidence or {})))

    def _event(self, event: EventRow) -> EventRow:
        with self.store.transaction() as conn:
            return self._append(conn, event)

    def _append(self, conn: sqlite3.Connection, event: EventRow) -> EventRow:
        """Store ``event`` as made from this registry's environment; the event with its id and environment."""
        event = replace(event, environment=self.environment)
        return replace(event, id=db.append_event(conn, event))

    def rollback(self, name: str, *, to: str | None = None, alias: str = PRODUCTION, reason: str | None = None,
                 evidence: Mapping[str, Any] | None = None) -> EventRow:
        """Point ``alias`` back at the version it served before (or at ``to``, which must have served as it
        or passed a gate before). "Before" follows the stack of served versions: a promotion pushes, a
        rollback pops, so rolling back twice goes two steps back, never forward to a version rolled back
        from or skipped by ``to``. Nothing serving, or nothing earlier: RegistryError."""
        _check_alias(alias, "registry rollback")
        self.model(name)
        with self.store.transaction() as conn:
            serialize(conn, "registry", name)
            current = db.aliases(conn, name).get((name, alias))
            if current is None:
                raise RegistryError(f"{alias} of model '{name}' has never pointed at a version: nothing to roll "
                                    "back", where="registry rollback",
                                    fix=f"promote one first: goldband registry promote {name} VERSION --alias {alias}")
            target = to if to is not None else _previous(db.events(conn, name, alias=alias, kinds=db.ALIAS_EVENTS),
                                                         alias, current)
            self._check_rollback(conn, name, alias, current, target, to)
            assert target is not None
            event = EventRow(name, "rollback", iso(self.clock.now()), alias, current, target, self.actor, reason,
                             dict(evidence or {}))
            return self._append(conn, event)

    def _check_rollback(self, conn: sqlite3.Connection, name: str, alias: str, current: str | None,
                        target: str | None, named: str | None) -> None:
        if target is None:
            raise RegistryError(f"model '{name}' has no earlier {alias} version to roll back to",
                                where="registry rollback", fix="name one with --to VERSION")
        self.version(name, target)
        if target == current:
            raise RegistryError(f"{alias} of model '{name}' already points at version {target}",
                                where="registry rollback", fix="name another version with --to")
        served = bool(db.events(conn, name, version=target, alias=alias, kinds=db.ALIAS_EVENTS, limit=1))
        gated = any(g.status == "complete" and g.decision == "pass" for g in db.gates(conn, name, target))
        if named is not None and not (served or gated):
            raise RegistryError(f"version {target} of model '{name}' never served as {alias} and never passed a "
                                "gate", where=f"--to {target}", fix="gate it first, or roll back to a version "
                                "that served (see goldband registry history)")


def features_of(snapshot: Mapping[str, Any] | None, label: str) -> dict[str, str] | None:
    """The training table's columns but ``label``, with their types; None when the data is not a table."""
    snapshot = snapshot or {}
    columns = snapshot.get("columns")
    if not columns:
        return None
    if label not in columns:
        raise RegistryError(f"the training data has no label column '{label}'", where=str(snapshot.get("path")),
                            expected=f"one of its columns: {', '.join(columns)}", fix="name the label column")
    return {name: kind for name, kind in columns.items() if name != label}


def _check_alias(alias: str, where: str) -> None:
    if not NAME.match(alias):
        raise RegistryError(f"alias name {alias!r} is not allowed", where=where,
                            expected="letters, digits, '.', '_' or '-', starting with a letter or digit")


def _check_kind(known: ModelRow | None, name: str, kind: str) -> None:
    if known is not None and known.kind != kind:
        raise RegistryError(f"model '{name}' is a {known.kind} model, not {kind}", where="registry register",
                            fix=f"register it with --kind {known.kind}, or under another name")


def _check_parent(conn: sqlite3.Connection, name: str, parent: str) -> None:
    if db.version(conn, name, parent) is None:
        raise RegistryError(f"parent version '{parent}' of model '{name}' does not exist", where="--parent",
                            fix=f"see its versions: goldband registry list {name}")


def _check_name(name: str, kind: str) -> None:
    if not NAME.match(name):
        raise RegistryError(f"model name {name!r} is not allowed", where="registry register",
                            expected="letters, digits, '.', '_' or '-', starting with a letter or digit")
    if kind not in KINDS:
        raise RegistryError(f"unknown model kind {kind!r}", where="registry register", expected="classic or llm")


def _expected(name: str, alias: str, current: str | None, expect: str | None) -> None:
    if expect is not None and current != expect:
        now = f"moved to version {current}" if current is not None else "points at no version"
        raise RegistryError(f"{alias} of model '{name}' {now} while this promotion expected {expect}",
                            where="registry promote",
                            fix="look at `goldband registry history` and decide again")


def _current(conn: sqlite3.Connection, name: str) -> str | None:
    return db.aliases(conn, name).get((name, PRODUCTION))


def _previous(log: list[EventRow], alias: str, current: str | None) -> str | None:
    """The version ``alias`` served before ``current``: the nearest one below it on the stack of served
    versions that was not rolled back from since it last came to serve (so a rollback after a rollback
    goes further back, never forward to a version it left or skipped over with ``to``)."""
    stack, left = _served(log, alias)
    return next((v for v in reversed(stack) if v != current and v not in left), None)


def _served(log: list[EventRow], alias: str) -> tuple[list[str], set[str]]:
    """The versions ``alias`` served, as a stack (a promotion pushes its version; a rollback pops back to
    its version when that is on the stack below the top, else replaces the top with it), and the versions
    rolled back from and not promoted or rolled back to since."""
    stack: list[str] = []
    left: set[str] = set()
    for event in log:
        if event.alias != alias or event.kind not in db.ALIAS_EVENTS or not event.to_version:
            continue
        if event.kind == "rollback" and event.from_version:
            left.add(event.from_version)
        left.discard(event.to_version)
        below = stack[:-1]
        if event.kind == "rollback" and event.to_version in below:
            del stack[len(below) - below[::-1].index(event.to_version):]
        else:
            if event.kind == "rollback" and stack:
                stack.pop()
            stack.append(event.to_version)
    return stack, left


def _code_version(root: Path) -> str | None:
    info = git_info(root)
    if info.sha is None:
        return None
    return info.sha + ("+dirty" if info.dirty else "")


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RegistryError(f"not a time: {value!r}", where="--at",
                            expected="ISO 8601, e.g. 2026-11-01T12:00 (UTC unless an offset is given)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
