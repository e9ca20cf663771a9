"""The model registry on real SQLite stores: registration, immutable artifacts, promotion rules, rollback,
what served when, refusals that change nothing, property tests over random operations, and a real race."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldband.clock import ManualClock, iso
from goldband.errors import RegistryError
from goldband.registry.artifacts import dir_sha256, file_sha256, store_artifact
from goldband.registry.registry import Registry, parse_ref
from goldband.store import Store, open_store
from goldband.store import registry as db
from goldband.store.registry import GateRow

TABLES = ("registry_models", "registry_versions", "registry_events", "registry_aliases", "registry_gates",
          "registry_artifact_checks")
START = "2026-11-01T00:00:00+00:00"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def reg(store: Store, tmp_path: Path, clock: ManualClock) -> Registry:
    return Registry(store, root=tmp_path, clock=clock, actor="tester")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def counts(store: Store) -> dict[str, int]:
    return {t: store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() \
        else []


def add_gate(store: Store, name: str, candidate: str, champion: str | None, *, decision: str = "pass",
             status: str = "complete") -> int:
    """A gate decision, as goldband.registry.gate records one."""
    with store.transaction() as conn:
        return db.insert_gate(conn, GateRow(name, candidate, "classic", status, START, champion=champion,
                                            decision=decision, reasons=[f"{decision} on roc_auc"]))


def versions(reg: Registry, tmp_path: Path, n: int, name: str = "churn") -> list[str]:
    """Register n versions with distinct artifacts; their ids."""
    return [reg.register(name, artifact=write(tmp_path / "out" / f"v{i}" / "model.pkl", f"weights {i}")).version
            for i in range(n)]


def tick(reg: Registry) -> None:
    assert isinstance(reg.clock, ManualClock)
    reg.clock.advance(60)


# --------------------------------------------------------------------------- registration


def test_a_registration_copies_the_artifact_under_its_sha256(reg: Registry, tmp_path: Path) -> None:
    source = write(tmp_path / "out" / "model.pkl", "weights")
    row = reg.register("churn", artifact=source, features={"tenure": "numeric"}, params={"max_depth": 6},
                       description="first", reason="initial training")
    sha = file_sha256(source)
    assert (row.model, row.version, row.seq, row.artifact_kind) == ("churn", "1", 1, "file")
    assert row.artifact == f"{sha[:2]}/{sha}/model.pkl" and row.artifact_sha256 == sha and row.artifact_bytes == 7
    assert (reg.artifacts / row.artifact).read_text() == "weights"
    # By default beside an SQLite store's file; a PostgreSQL store has no folder: the project's .goldband/
    home = tmp_path if reg.store.url is None else tmp_path / ".goldband"
    assert reg.artifacts == (home / "artifacts").resolve()
    assert not any(p.name.startswith("postgresql:") for p in Path.cwd().iterdir())
    assert (row.features, row.params, row.created_by, row.created_at) == (
        {"tenure": "numeric"}, {"max_depth": 6}, "tester", iso(reg.clock.now()))
    assert reg.version("churn", "1") == row  # what is stored is what was returned
    [event] = reg.history("churn")
    assert (event.kind, event.to_version, event.reason, event.evidence) == (
        "register", "1", "initial training", {"artifact_sha256": sha})
    source.write_text("changed after registration")
    assert reg.resolve("churn:1").path == reg.artifacts / row.artifact  # the copy, not the training output


def test_the_same_bytes_are_stored_once(reg: Registry, tmp_path: Path) -> None:
    a = reg.register("churn", artifact=write(tmp_path / "run1" / "model.pkl", "same"))
    b = reg.register("churn", artifact=write(tmp_path / "run2" / "model.pkl", "same"))
    c = reg.register("other", artifact=write(tmp_path / "run3" / "model.pkl", "same"))
    assert a.artifact == b.artifact == c.artifact and (a.version, b.version, c.version) == ("1", "2", "1")
    assert files_under(reg.artifacts) == [a.artifact]
    assert not [p for p in reg.artifacts.rglob(".incoming-*")]  # no staging folder left behind


def test_a_directory_artifact_is_hashed_by_its_manifest(reg: Registry, tmp_path: Path) -> None:
    folder = tmp_path / "out" / "model"
    write(folder / "weights.bin", "0101")
    write(folder / "sub" / "config.json", "{}")
    row = reg.register("churn", artifact=folder)
    assert row.artifact_kind == "dir" and (row.artifact_sha256, row.artifact_bytes) == dir_sha256(folder)
    assert files_under(reg.artifacts / (row.artifact or "")) == ["sub/config.json", "weights.bin"]
    (folder / "sub" / "config.json").rename(folder / "sub" / "settings.json")  # same bytes, another name
    renamed = reg.register("churn", artifact=folder)
    assert renamed.artifact_sha256 != row.artifact_sha256
    assert reg.resolve("churn:1").path == reg.artifacts / (row.artifact or "")


def test_a_directory_registered_twice_at_once_is_stored_once(reg: Registry, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "model"
    write(folder / "weights.bin", "0101")
    copytree = shutil.copytree

    def another_registration_finishes_first(source: Path, copy: Path) -> Any:
        done = copytree(source, copy)
        monkeypatch.setattr(shutil, "copytree", copytree)
        store_artifact(folder, reg.artifacts)  # renames its copy into place while ours waits to be renamed
        return done

    monkeypatch.setattr(shutil, "copytree", another_registration_finishes_first)
    row = reg.register("churn", artifact=folder)
    assert files_under(reg.artifacts) == [f"{row.artifact}/weights.bin"]
    assert reg.resolve("churn:1").path == reg.artifacts / (row.artifact or "")


def test_an_artifact_by_uri_needs_its_sha256(reg: Registry, store: Store) -> None:
    before = counts(store)
    with pytest.raises(RegistryError, match="needs its sha256"):
        reg.register("churn", uri="s3://models/churn.pkl")
    with pytest.raises(RegistryError, match="not a sha256"):
        reg.register("churn", uri="s3://models/churn.pkl", sha256="abc")
    with pytest.raises(RegistryError, match="give an artifact path or a URI, not both"):
        reg.register("churn", uri="s3://m", artifact="x.pkl", sha256="a" * 64)
    assert counts(store) == before
    row = reg.register("churn", uri="s3://models/churn.pkl", sha256="AB" * 32)
    assert (row.artifact_kind, row.artifact, row.artifact_sha256) == ("uri", "s3://models/churn.pkl", "ab" * 32)
    resolved = reg.resolve("churn:1")
    assert (resolved.path, resolved.uri) == (None, "s3://models/churn.pkl")


def test_a_sha256_given_with_a_path_must_match_before_anything_is_copied(reg: Registry, store: Store,
                                                                         tmp_path: Path) -> None:
    source = write(tmp_path / "model.pkl", "weights")
    before = counts(store)
    with pytest.raises(RegistryError, match="the artifact's sha256 is") as refused:
        reg.register("churn", artifact=source, sha256="0" * 64)
    assert str(source) in str(refused.value)
    assert counts(store) == before and files_under(reg.artifacts) == []
    assert reg.register("churn", artifact=source, sha256=file_sha256(source)).artifact_sha256 == file_sha256(source)


def test_no_artifact_is_allowed_for_a_configuration_only_version(reg: Registry) -> None:
    row = reg.register("support", kind="llm", target={"model": "openai/gpt-4o-mini", "hash": "sha256:1"})
    assert (row.artifact_kind, row.artifact, row.target) == ("none", None, {"model": "openai/gpt-4o-mini",
                                                                             "hash": "sha256:1"})
    assert reg.resolve("support:1").path is None
    with pytest.raises(RegistryError, match="is a llm model, not classic"):
        reg.register("support")


def test_the_data_snapshot_records_rows_and_columns(reg: Registry, tmp_path: Path) -> None:
    csv = write(tmp_path / "data" / "train.csv", "tenure,plan,churned\n3,basic,1\n10,pro,\n7,basic,0\n")
    row = reg.register("churn", data=csv)
    assert row.data == {"path": str(csv), "sha256": file_sha256(csv), "bytes": csv.stat().st_size, "rows": 3,
                        "columns": {"tenure": "numeric", "plan": "text", "churned": "numeric"}}
    jsonl = write(tmp_path / "data" / "train.jsonl", '{"a": 1, "b": "x"}\n{"a": 2.5, "b": "y"}\n')
    assert reg.register("churn", data="data/train.jsonl").data == {  # relative to the registry's root
        "path": str(jsonl), "sha256": file_sha256(jsonl), "bytes": jsonl.stat().st_size, "rows": 2,
        "columns": {"a": "numeric", "b": "text"}}
    folder = tmp_path / "data" / "shards"
    write(folder / "part-0.bin", "xyz")
    assert reg.register("churn", data=folder).data == {"path": str(folder), "sha256": dir_sha256(folder)[0],
                                                      "bytes": 3}
    with pytest.raises(RegistryError, match="the training data does not exist"):
        reg.register("churn", data="data/missing.csv")


def test_the_features_are_the_training_tables_columns_but_its_label(reg: Registry, store: Store,
                                                                      tmp_path: Path) -> None:
    csv = write(tmp_path / "train.csv", "tenure,plan,churned\n3,basic,1\n10,pro,0\n")
    assert reg.register("churn", data=csv, label="churned").features == {"tenure": "numeric", "plan": "text"}
    given = reg.register("churn", data=csv, label="churned", features={"tenure": "numeric"})
    assert given.features == {"tenure": "numeric"}  # stated features win
    assert reg.register("churn", data=csv).features is None  # without the label, no guess at which column it is
    folder = write(tmp_path / "shards" / "part-0.bin", "xyz").parent
    assert reg.register("churn", data=folder, label="churned").features is None  # not a table: no columns
    before, kept = counts(store), files_under(reg.artifacts)
    with pytest.raises(RegistryError, match="no label column 'label'") as refused:
        reg.register("churn", artifact=write(tmp_path / "m.pkl", "m"), data=csv, label="label")
    assert "tenure, plan, churned" in str(refused.value)
    assert (counts(store), files_under(reg.artifacts)) == (before, kept)  # refused before copying anything


def test_the_parent_defaults_to_the_version_serving_production(reg: Registry, store: Store,
                                                               tmp_path: Path) -> None:
    first = reg.register("churn", artifact=write(tmp_path / "a.pkl", "a"))
    assert first.parent is None
    reg.promote("churn", "1", reason="initial")
    assert reg.register("churn", artifact=write(tmp_path / "b.pkl", "b")).parent == "1"
    assert reg.register("churn", artifact=write(tmp_path / "c.pkl", "c"), parent="2").parent == "2"
    before, stored = counts(store), files_under(reg.artifacts)
    with pytest.raises(RegistryError, match="parent version '9' of model 'churn' does not exist"):
        reg.register("churn", artifact=write(tmp_path / "d.pkl", "d"), parent="9")
    assert counts(store) == before and files_under(reg.artifacts) == stored  # refused before copying


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    out = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_the_code_version_is_the_git_commit_when_there_is_one(store: Store, tmp_path: Path) -> None:
    repo = tmp_path / "project"
    write(repo / "train.py", "print('train')\n")
    outside = Registry(store, root=repo, actor="tester")
    assert outside.register("churn").code_version is None  # not a git checkout
    _git(repo, "init", "-q")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "train")
    sha = _git(repo, "rev-parse", "HEAD")
    assert outside.register("churn").code_version == sha
    write(repo / "train.py", "print('changed')\n")
    assert outside.register("churn").code_version == sha + "+dirty"


@pytest.mark.parametrize("name", ["", "-lead", "has space", "a/b", "x@y", "x:y", "é", "a" * 81])
def test_bad_model_names_are_refused(reg: Registry, store: Store, name: str) -> None:
    before = counts(store)
    with pytest.raises(RegistryError, match=r"model name .* is not allowed"):
        reg.register(name)
    assert counts(store) == before


def test_references_name_a_version_or_an_alias(reg: Registry, tmp_path: Path) -> None:
    versions(reg, tmp_path, 2)
    reg.promote("churn", "1", reason="initial")
    reg.promote("churn", "2", alias="staging", reason="try")
    assert parse_ref("churn") == ("churn", "production", None)
    assert [reg.lookup(ref).version for ref in ("churn", "churn@production", "churn@staging", "churn:2")] == \
        ["1", "1", "2", "2"]
    assert reg.aliases("churn") == {"production": "1", "staging": "2"}


# --------------------------------------------------------------------------- immutability


def test_resolve_refuses_an_artifact_whose_bytes_changed(reg: Registry, tmp_path: Path) -> None:
    versions(reg, tmp_path, 1)
    copy = reg.resolve("churn:1").path
    assert copy is not None and copy.read_text() == "weights 0"
    copy.write_text("tampered with, and longer")
    with pytest.raises(RegistryError, match="the artifact changed since it was registered") as refused:
        reg.resolve("churn:1")
    assert str(copy) in str(refused.value) and "versions are immutable" in str(refused.value)


def test_the_check_cache_never_hides_a_changed_size_or_mtime(reg: Registry, store: Store, tmp_path: Path) -> None:
    versions(reg, tmp_path, 1)
    copy = reg.resolve("churn:1").path
    assert copy is not None
    stat = copy.stat()
    assert db.artifact_check(store.conn, str(copy)) == (stat.st_size, stat.st_mtime_ns, file_sha256(copy))
    copy.write_text("weights 9")  # same size, other bytes
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(RegistryError, match="changed since it was registered"):
        reg.resolve("churn:1")
    copy.write_text("weights 0")  # the original bytes again, with yet another mtime: verified by hashing
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    assert reg.resolve("churn:1").path == copy


def test_an_unchanged_size_and_mtime_is_not_hashed_again(reg: Registry, tmp_path: Path) -> None:
    """The documented trade-off: (path, size, mtime) unchanged means the bytes are trusted without hashing."""
    versions(reg, tmp_path, 1)
    copy = reg.resolve("churn:1").path
    assert copy is not None
    stat = copy.stat()
    copy.write_text("weights X")
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert reg.resolve("churn:1").path == copy


def test_resolve_refuses_a_changed_or_missing_directory(reg: Registry, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    write(folder / "weights.bin", "0101")
    reg.register("churn", artifact=folder)
    copy = reg.resolve("churn:1").path
    assert copy is not None
    write(copy / "extra.txt", "x")
    with pytest.raises(RegistryError, match="changed since it was registered"):
        reg.resolve("churn:1")
    (copy / "extra.txt").unlink()
    assert reg.resolve("churn:1").path == copy
    (copy / "weights.bin").write_text("1111")
    os.utime(copy / "weights.bin", ns=(0, 10**18))
    with pytest.raises(RegistryError, match="changed since it was registered"):
        reg.resolve("churn:1")
    for path in sorted(copy.rglob("*"), reverse=True):
        path.unlink()
    copy.rmdir()
    with pytest.raises(RegistryError, match="the artifact is missing"):
        reg.resolve("churn:1")


def test_a_file_artifact_replaced_by_a_directory_is_refused(reg: Registry, tmp_path: Path) -> None:
    versions(reg, tmp_path, 1)
    copy = reg.resolve("churn:1").path
    assert copy is not None
    copy.unlink()
    write(copy / "weights.bin", "x")
    with pytest.raises(RegistryError, match="a file then, a dir now"):
        reg.resolve("churn:1")


# --------------------------------------------------------------------------- promotion


def test_the_first_version_needs_no_gate_later_ones_a_passing_gate_against_the_serving_one(
        reg: Registry, store: Store, tmp_path: Path) -> None:
    versions(reg, tmp_path, 3)
    first = reg.promote("churn", "1", reason="initial")
    assert (first.from_version, first.to_version, first.forced, first.evidence) == (None, "1", False, {})
    before = counts(store)
    with pytest.raises(RegistryError, match="version 2 of model 'churn' has no passing gate against version 1"):
        reg.promote("churn", "2", reason="better")
    add_gate(store, "churn", "2", "1", decision="fail")
    add_gate(store, "churn", "2", "3")  # passed, but against another champion
    add_gate(store, "churn", "2", "1", status="running", decision=None)  # not finished
    with pytest.raises(RegistryError, match="no passing gate"):
        reg.promote("churn", "2", reason="better")
    assert counts(store)["registry_events"] == before["registry_events"]
    gate = add_gate(store, "churn", "2", "1")
    event = reg.promote("churn", "2", reason="better", evidence={"ticket": "ML-7"})
    assert (event.from_version, event.to_version, event.forced) == ("1", "2", False)
    assert event.evidence == {"ticket": "ML-7", "gate": gate}
    assert db.events(store.conn, "churn")[-1] == event  # what is logged is what was returned
    assert reg.passed_gate("churn", "2", champion="1") == db.gate(store.conn, gate)


def test_a_parked_version_needs_force_and_the_event_says_forced(reg: Registry, store: Store,
                                                                tmp_path: Path) -> None:
    versions(reg, tmp_path, 3)
    reg.promote("churn", "1", reason="initial")
    add_gate(store, "churn", "2", "1")
    reg.park("churn", "2", reason="worse on the EU segment")
    assert reg.parked("churn", "2") == "worse on the EU segment" and reg.parked("churn", "3") is None
    with pytest.raises(RegistryError, match="version 2 of model 'churn' is parked: worse on the EU segment"):
        reg.promote("churn", "2", reason="ship it")
    forced = reg.promote("churn", "2", reason="hotfix, accepted risk", force=True)
    assert forced.forced and forced.evidence["gate"] == 1
    ungated = reg.promote("churn", "3", reason="no time for a gate", force=True)
    assert ungated.forced  # force overrode the missing gate


def test_force_is_recorded_only_when_it_overrode_something(reg: Registry, store: Store, tmp_path: Path) -> None:
    versions(reg, tmp_path, 3)
    assert not reg.promote("churn", "1", reason="first", force=True).forced  # the first needs no gate
    add_gate(store, "churn", "2", "1")
    assert not reg.promote("churn", "2", reason="gated", force=True).forced
    reg.park("churn", "3", reason="bad")
    assert not reg.promote("churn", "3", alias="staging", reason="look at it", force=True).forced
    with pytest.raises(RegistryError, match="is parked"):  # a staging promotion does not un-park it
        reg.promote("churn", "3", reason="now production")


def test_expect_refuses_a_promotion_when_the_alias_moved(reg: Registry, store: Store, tmp_path: Path) -> None:
    versions(reg, tmp_path, 3)
    reg.promote("churn", "1", reason="initial")
    reg.promote("churn", "2", reason="newer", force=True, expect="1")
    before = counts(store)
    with pytest.raises(RegistryError, match="production of model 'churn' moved to version 2 while this "
                                            "promotion expected 1"):
        reg.promote("churn", "3", reason="late", force=True, expect="1")
    with pytest.raises(RegistryError, match="staging of model 'churn' points at no version while this promotion "
                                            "expected 1"):
        reg.promote("churn", "3", alias="staging", reason="late", expect="1")
    assert counts(store) == before
    assert reg.promote("churn", "3", reason="decided again", force=True, expect="2").from_version == "2"


def test_promotion_refusals(reg: Registry, store: Store, tmp_path: Path) -> None:
    versions(reg, tmp_path, 2)
    reg.promote("churn", "1", reason="initial")
    before = counts(store)
    with pytest.raises(RegistryError, match="production of model 'churn' already points at version 1"):
        reg.promote("churn", "1", reason="again")
    with pytest.raises(RegistryError, match="alias name '' is not allowed"):
        reg.promote("churn", "2", alias="", reason="empty alias")
    with pytest.raises(RegistryError, match="alias name 'pro duction' is not allowed"):
        reg.promote("churn", "2", alias="pro duction", reason="bad alias")
    with pytest.raises(RegistryError, match="model 'churn' has no version '7'"):
        reg.promote("churn", "7", reason="no such version")
    assert counts(store) == before
    assert reg.promote("churn", "2", alias="staging", reason="try it").to_version == "2"  # no gate for staging


# --------------------------------------------------------------------------- rollback


def test_rollback_goes_back_one_step_at_a_time_never_forward(reg: Registry, tmp_path: Path) -> None:
    versions(reg, tmp_path, 3)
    for number in ("1", "2", "3"):
        reg.promote("churn", number, reason=f"ship {number}", force=True)
    first = reg.rollback("churn", reason="complaints")
    assert (first.kind, first.alias, first.from_version, first.to_version) == ("rollback", "production", "3", "2")
    assert reg.rollback("churn", reason="still bad").to_version == "1"  # further back, not forward to 3
    with pytest.raises(RegistryError, match="no earlier production version to roll back to"):
        reg.rollback("churn", reason="and again")
    assert reg.aliases("churn") == {"production": "1"}


def test_rollback_returns_to_a_version_served_again_after_it_was_rolled_back_from(reg: Registry,
                                                                                  tmp_path: Path) -> None:
    versions(reg, tmp_path, 3)
    reg.promote("churn", "1", reason="ship 1")
    reg.promote("churn", "2", reason="ship 2", force=True)
    reg.rollback("churn", reason="upstream feature outage")
    reg.promote("churn", "2", reason="outage fixed", force=True)
    reg.promote("churn", "3", reason="ship 3", force=True)
    assert reg.rollback("churn", reason="3 misbehaves").to_version == "2"  # what served just before 3
    assert reg.rollback("churn", reason="and 2 too").to_version == "1"


def test_rollback_never_returns_to_a_version_rolled_back_from_and_not_promoted_since(reg: Registry,
                                                                                     tmp_path: Path) -> None:
    versions(reg, tmp_path, 3)
    for number in ("1", "2", "3", "1"):
        reg.promote("churn", number, reason=f"ship {number}", force=True)
    assert reg.rollback("churn", reason="1 is bad now").to_version == "3"
    assert reg.rollback("churn", reason="3 too").to_version == "2"  # not 1: it was just rolled back from
    with pytest.raises(RegistryError, match="no earlier production version"):
        reg.rollback("churn", reason="nothing good left")


def test_after_a_rollback_to_an_older_version_rollback_never_goes_forward(reg: Registry, tmp_path: Path) -> None:
    versions(reg, tmp_path, 3)
    for number in ("1", "2", "3"):
        reg.promote("churn", number, reason=f"ship {number}", force=True)
    assert reg.rollback("churn", to="1", reason="back to the known good").to_version == "1"
    with pytest.raises(RegistryError, match="no earlier production version"):
        reg.rollback("churn", reason="2 was skipped on purpose")


def test_rollback_to_a_named_version_must_have_served_or_passed_a_gate(reg: Registry, store: Store,
                                                                       tmp_path: Path) -> None:
    versions(reg, tmp_path, 4)
    reg.promote("churn", "1", reason="ship 1")
    reg.promote("churn", "2", reason="ship 2", force=True)
    before = counts(store)
    with pytest.raises(RegistryError, match="version 3 of model 'churn' never served as production and never "
                                            "passed a gate"):
        reg.rollback("churn", to="3", reason="untested")
    with pytest.raises(RegistryError, match="already points at version 2"):
        reg.rollback("churn", to="2", reason="noop")
    with pytest.raises(RegistryError, match="has no version '8'"):
        reg.rollback("churn", to="8", reason="typo")
    with pytest.raises(RegistryError, match="alias name 'a b' is not allowed"):
        reg.rollback("churn", alias="a b", reason="bad alias")
    with pytest.raises(RegistryError, match="staging of model 'churn' has never pointed at a version"):
        reg.rollback("churn", alias="staging", reason="nothing there")
    assert counts(store) == before
    add_gate(store, "churn", "3", "2")
    assert reg.rollback("churn", to="3", reason="gated").to_version == "3"
    assert reg.rollback("churn", to="1", reason="served before").to_version == "1"


# --------------------------------------------------------------------------- what served when


def test_serving_at_a_time_reads_the_log(reg: Registry, tmp_path: Path) -> None:
    versions(reg, tmp_path, 2)  # registered at 00:00
    tick(reg)
    reg.promote("churn", "1", reason="ship 1")  # 00:01
    tick(reg)
    reg.promote("churn", "2", reason="ship 2", force=True)  # 00:02
    tick(reg)
    reg.rollback("churn", reason="bad")  # 00:03
    served = {at: (row.version if (row := reg.serving("churn", at=at)) else None)
              for at in ("2026-11-01T00:00:30", "2026-11-01T00:01:00", "2026-11-01T00:01:59.999+00:00",
                         "2026-11-01T00:02:30", "2026-11-01T01:02:30+01:00", "2026-11-01T00:03:00Z", "2027-01-01")}
    assert list(served.values()) == [None, "1", "1", "2", "2", "1", "1"]
    current = reg.serving("churn")
    assert current is not None and current.version == "1"
    assert reg.serving("churn", alias="staging") is None
    with pytest.raises(RegistryError, match="not a time: 'yesterday'"):
        reg.serving("churn", at="yesterday")


# --------------------------------------------------------------------------- refusals change nothing


REFUSALS: dict[str, Callable[[Registry], Any]] = {
    "unknown model": lambda r: r.promote("nope", "1", reason="x"),
    "unknown model rollback": lambda r: r.rollback("nope", reason="x"),
    "unknown model park": lambda r: r.park("nope", "1", reason="x"),
    "unknown model history": lambda r: r.history("nope"),
    "unknown model serving": lambda r: r.serving("nope"),
    "unknown alias": lambda r: r.resolve("churn@canary"),
    "unknown version": lambda r: r.resolve("churn:5"),
    "unknown version park": lambda r: r.park("churn", "5", reason="x"),
    "unknown version diff": lambda r: r.diff("churn", "1", "5"),
    "bad model name": lambda r: r.register("bad name", artifact="model.pkl"),
    "bad kind": lambda r: r.register("churn", kind="deep"),
    "bad alias": lambda r: r.promote("churn", "2", alias="@prod", reason="x"),
    "missing artifact": lambda r: r.register("churn", artifact="out/missing.pkl"),
    "missing data": lambda r: r.register("churn", artifact="model.pkl", data="nope.csv"),
    "uri without sha256": lambda r: r.register("churn", uri="s3://x/model.pkl"),
    "sha256 without artifact": lambda r: r.register("churn", sha256="a" * 64),
    "bad time": lambda r: r.serving("churn", at="noon"),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_refused_request_leaves_the_store_and_the_artifacts_as_they_were(reg: Registry, store: Store,
                                                                           tmp_path: Path, refusal: str) -> None:
    write(tmp_path / "model.pkl", "new weights")
    versions(reg, tmp_path, 2)
    reg.promote("churn", "1", reason="initial")
    before, stored = counts(store), files_under(reg.artifacts)
    with pytest.raises(RegistryError):
        REFUSALS[refusal](reg)
    assert counts(store) == before and files_under(reg.artifacts) == stored


# --------------------------------------------------------------------------- properties over random operations

OPERATION = st.one_of(
    st.tuples(st.just("register"), st.sampled_from(["a", "b"]), st.just(0), st.just("")),
    st.tuples(st.just("promote"), st.sampled_from(["a", "b"]), st.integers(1, 6),
              st.sampled_from(["production", "staging"])),
    st.tuples(st.just("rollback"), st.sampled_from(["a", "b"]), st.just(0), st.sampled_from(["production", "staging"])),
    st.tuples(st.just("park"), st.sampled_from(["a", "b"]), st.integers(1, 6), st.just("")),
)


def _apply(reg: Registry, operation: tuple[str, str, int, str]) -> None:
    kind, name, number, alias = operation
    if kind == "register":
        reg.register(name, params={"n": len(db.versions(reg.store.conn, name))})
    elif kind == "promote":
        reg.promote(name, str(number), alias=alias, reason="property", force=True)
    elif kind == "rollback":
        reg.rollback(name, alias=alias, reason="property")
    else:
        reg.park(name, str(number), reason="property")


def _check_invariants(store: Store) -> None:
    conn = store.conn
    assert conn.execute("SELECT COUNT(*) FROM (SELECT model, alias FROM registry_aliases GROUP BY model, alias "
                        "HAVING COUNT(*) > 1) AS twice").fetchone()[0] == 0
    dangling = conn.execute("SELECT a.model, a.alias FROM registry_aliases a LEFT JOIN registry_versions v "
                            "ON v.model = a.model AND v.version = a.version WHERE v.version IS NULL").fetchall()
    assert dangling == []
    assert db.replay(db.events(conn)) == db.aliases(conn)


def _emptied(store: Store) -> Store:
    """The store with its registry tables emptied: every example starts from nothing (one database serves
    all examples of a backend)."""
    with store.transaction() as conn:
        for table in ("registry_aliases", "registry_events", "registry_gates", "registry_versions",
                      "registry_artifact_checks", "registry_models"):
            conn.execute(f"DELETE FROM {table}")
    return store


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(OPERATION, min_size=1, max_size=25))
def test_the_aliases_are_always_the_replayed_log_and_serving_at_follows_it(
        store_at: str, operations: list[tuple[str, str, int, str]]) -> None:
    with tempfile.TemporaryDirectory() as folder, open_store(store_at) as opened:
        store = _emptied(opened)
        reg = Registry(store, root=Path(folder), clock=ManualClock(START), actor="property")
        reg.register("a")
        reg.register("b")
        for operation in operations:
            tick(reg)
            before = counts(store)
            try:
                _apply(reg, operation)
            except RegistryError:
                assert counts(store) == before  # a refusal changes nothing
            _check_invariants(store)
        log = db.events(store.conn)
        for i, event in enumerate(log):
            state = db.replay(log[: i + 1])
            for name, alias in ((n, a) for n in ("a", "b") for a in ("production", "staging")):
                row = reg.serving(name, at=event.time, alias=alias)
                assert (row.version if row else None) == state.get((name, alias))
        _check_rollbacks(log)


def _check_rollbacks(log: list[Any]) -> None:
    """Every rollback returns to a version that served as that alias before; two in a row never go forward
    to the version the first one left."""
    last: dict[tuple[str, str], Any] = {}
    served: dict[tuple[str, str], set[str]] = {}
    for event in (e for e in log if e.kind in db.ALIAS_EVENTS):
        key = (event.model, event.alias)
        if event.kind == "rollback":
            assert event.to_version in served.get(key, set())
            previous = last.get(key)
            if previous is not None and previous.kind == "rollback":
                assert event.to_version != previous.from_version
        served.setdefault(key, set()).add(event.to_version)
        last[key] = event


# --------------------------------------------------------------------------- a real race between two processes


def _racer(db_path: str, version: str, rounds: int, barrier: Any, results: Any) -> None:
    """One process: each round, read what serves, wait for the other, then promote with that expectation."""
    with open_store(db_path, create=False) as store:
        reg = Registry(store, actor=f"racer-{version}")
        for round_ in range(rounds):
            barrier.wait(timeout=60)
            seen = reg.aliases("churn")["production"]
            barrier.wait(timeout=60)
            candidate = str(int(version) + 2 * round_)
            try:
                reg.promote("churn", candidate, reason="race", force=True, expect=seen)
                results.put((round_, candidate, "won"))
            except RegistryError as exc:
                results.put((round_, candidate, str(exc)))
            barrier.wait(timeout=60)


def test_of_two_processes_promoting_with_the_same_expectation_exactly_one_wins(reg: Registry, store: Store,
                                                                                tmp_path: Path) -> None:
    rounds = 4
    versions(reg, tmp_path, 1 + 2 * rounds)  # 1 serves; round r races 2+2r against 3+2r
    reg.promote("churn", "1", reason="initial")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    racers = [context.Process(target=_racer, args=(str(store.path), first, rounds, barrier, results))
              for first in ("2", "3")]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * rounds)]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    for round_ in range(rounds):
        mine = sorted((o for o in outcomes if o[0] == round_), key=lambda o: o[2] != "won")
        assert [o[2] == "won" for o in mine] == [True, False], mine
        assert "moved to version " + mine[0][1] in mine[1][2] and "while this promotion expected" in mine[1][2]
    promotions = [e for e in reg.history("churn") if e.kind == "promote"]
    assert len(promotions) == 1 + rounds  # the initial one, and one per round
    assert [e.to_version for e in promotions[1:]] == [o[1] for o in sorted(outcomes) if o[2] == "won"]
    assert db.replay(db.events(store.conn)) == db.aliases(store.conn)


def test_training_data_by_uri_needs_its_sha256_and_is_recorded_as_given(reg: Registry, tmp_path: Path) -> None:
    digest = "ab" * 32
    with pytest.raises(RegistryError, match="needs its sha256"):
        reg.register("churn", data_uri="s3://lake/churn/2026-11.parquet")
    with pytest.raises(RegistryError, match="a path or a URI, not both"):
        reg.register("churn", data=write(tmp_path / "t.csv", "a\n1\n"), data_uri="s3://x", data_sha256=digest)
    row = reg.register("churn", data_uri="s3://lake/churn/2026-11.parquet", data_sha256=digest.upper())
    assert row.data == {"uri": "s3://lake/churn/2026-11.parquet", "sha256": digest}
    assert row.version == "1"  # the refused registrations left nothing behind
