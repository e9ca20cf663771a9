"""Draft mode of the golden-set lock: a change under an unchanged version runs locally as a draft (the lock
is left alone), and stays an error in CI or with --goldband-strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldband._util import yamlio
from goldband.config.settings import OPTIONS, flag, resolve
from goldband.errors import ConfigError, OptionError
from goldband.golden.goldenset import load
from goldband.golden.lock import Draft, check_and_record, describe, draft_allowed, in_ci, lock_path
from golden.test_lock import record, recorded, write_set


def check(root: Path, path: Path, *, draft: bool) -> Draft | None:
    gs = load(path, base_dir=root)
    return check_and_record(path, gs.name, gs.version, gs.content_hash, gs.version_line,
                            yamlio.relative(path, root), draft=draft)


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, False), ({"CI": "true"}, True), ({"CI": "1"}, True), ({"CI": "yes"}, True), ({"CI": ""}, False),
    ({"CI": "0"}, False), ({"CI": "false"}, False), ({"CI": "False"}, False)])
def test_ci_is_the_ci_variable_set_to_something_true(environ: dict[str, str], expected: bool) -> None:
    assert in_ci(environ) is expected


@pytest.mark.parametrize(("draft", "strict", "environ", "allowed"), [
    (None, None, {}, True),  # locally: draft
    (None, None, {"CI": "true"}, False),  # in CI: strict
    (True, None, {"CI": "true"}, True),  # --goldband-draft wins over CI
    (None, True, {}, False),  # --goldband-strict wins locally
    (False, None, {}, False),  # GOLDBAND_DRAFT=0: no draft, even locally
    (None, False, {"CI": "true"}, True),  # GOLDBAND_STRICT=0 in CI: the lock is not strict
])
def test_an_explicit_option_wins_over_the_environment(draft: bool | None, strict: bool | None,
                                                      environ: dict[str, str], allowed: bool) -> None:
    assert draft_allowed(draft, strict, environ) is allowed


def test_draft_and_strict_together_are_an_option_error() -> None:
    with pytest.raises(OptionError, match="--goldband-draft and --goldband-strict are both set"):
        draft_allowed(True, True, {})


def test_the_switches_have_env_and_ini_forms() -> None:
    assert {"draft", "strict"} <= set(OPTIONS)
    assert resolve("draft", None, None, {"GOLDBAND_DRAFT": "1"}) is True
    assert resolve("strict", None, "true", {}) is True
    assert resolve("strict", None, None, {"GOLDBAND_STRICT": "off"}) is False
    assert flag(" Yes ") is True and flag("0") is False
    with pytest.raises(OptionError, match="environment variable GOLDBAND_DRAFT: expected 1, true, yes, on"):
        resolve("draft", None, None, {"GOLDBAND_DRAFT": "maybe"})


def test_a_draft_change_runs_and_leaves_the_lock_untouched(tmp_path: Path) -> None:
    path = write_set(tmp_path, version=3)
    first = record(tmp_path, path)
    before = lock_path(path).read_bytes()
    write_set(tmp_path, version=3, question="boots?")
    found = check(tmp_path, path, draft=True)
    assert found is not None
    assert (found.name, found.version, found.recorded, found.next_version) == ("support", "3", first.content_hash, "4")
    assert found.content_hash != first.content_hash
    assert found.message == ("goldband: support.yaml changed under version 3 (draft): results are marked draft; "
                             "bump 'version' to 4 and commit support.lock to make them count")
    assert lock_path(path).read_bytes() == before  # a draft run never rewrites the lock


def test_the_same_change_without_draft_is_the_lock_error(tmp_path: Path) -> None:
    path = write_set(tmp_path, version=3)
    record(tmp_path, path)
    before = lock_path(path).read_bytes()
    write_set(tmp_path, version=3, question="boots?")
    with pytest.raises(ConfigError) as caught:
        check(tmp_path, path, draft=False)
    message = str(caught.value)
    assert message.startswith("goldensets/support.yaml:2: golden set 'support' changed but its version is still 3")
    assert "fix: bump 'version' (e.g. to 4) and commit support.lock" in message
    assert "the lock is strict in CI" in message and "--goldband-draft" in message
    assert lock_path(path).read_bytes() == before


def test_an_unchanged_or_new_version_is_no_draft_and_a_new_one_is_recorded(tmp_path: Path) -> None:
    path = write_set(tmp_path, version=3)
    record(tmp_path, path)
    assert check(tmp_path, path, draft=True) is None  # unchanged
    write_set(tmp_path, version=4, question="boots?")
    assert check(tmp_path, path, draft=True) is None  # bumped: recorded, as without draft mode
    assert set(recorded(path)) == {"3", "4"}


def test_the_suggested_version_is_one_the_lock_does_not_know(tmp_path: Path) -> None:
    path = write_set(tmp_path, version=3)
    record(tmp_path, path)
    write_set(tmp_path, version=4, question="boots?")
    record(tmp_path, path)
    write_set(tmp_path, version=3, question="sandals?")  # back at 3, edited again: 4 is taken
    found = check(tmp_path, path, draft=True)
    assert found is not None and found.next_version == "5"
    assert "bump 'version' to 5" in found.message
    with pytest.raises(ConfigError, match=r"bump 'version' \(e.g. to 5\)"):
        check(tmp_path, path, draft=False)


def test_describe_says_locked_new_or_draft_and_writes_nothing(tmp_path: Path) -> None:
    path = write_set(tmp_path, version=3)
    gs = load(path, base_dir=tmp_path)
    shown = yamlio.relative(path, tmp_path)
    assert describe(path, gs.version, gs.content_hash, shown) == (
        "version 3 not in support.lock yet: the next run records it")
    assert not lock_path(path).exists()
    record(tmp_path, path)
    assert describe(path, gs.version, gs.content_hash, shown) == "version 3 locked in support.lock"
    before = lock_path(path).read_bytes()
    edited = load(write_set(tmp_path, version=3, question="boots?"), base_dir=tmp_path)
    assert describe(path, edited.version, edited.content_hash, shown) == (
        "DRAFT: changed under version 3 (a local run is marked draft, CI stops); bump 'version' to 4 and commit "
        "support.lock")
    assert lock_path(path).read_bytes() == before
