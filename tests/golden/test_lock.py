"""The golden-set lock: one content hash per version, recorded beside the YAML."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from goldband._util import yamlio
from goldband.errors import ConfigError
from goldband.golden.goldenset import GoldenSet, load
from goldband.golden.lock import check_and_record, lock_path

HASH_A = "sha256:" + "a" * 64
HASH_B = "sha256:" + "b" * 64
HASH_C = "sha256:" + "c" * 64

SET = """
    name: support
    version: {version}
    cases:
      - id: refund
        input: {{q: "{question}"}}
"""


def write_set(root: Path, version: object = 1, question: str = "refund?") -> Path:
    path = root / "goldensets" / "support.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent(SET.format(version=version, question=question)).lstrip("\n")
    path.write_text(text, encoding="utf-8")
    return path


def record(root: Path, path: Path) -> GoldenSet:
    """What the harness does for each golden set it loads."""
    gs = load(path, base_dir=root)
    check_and_record(path, gs.name, gs.version, gs.content_hash, gs.version_line,
                     yamlio.relative(path, root))
    return gs


def recorded(path: Path) -> dict[str, str]:
    data = yaml.safe_load(lock_path(path).read_text(encoding="utf-8"))
    return dict(data["versions"])


def test_lock_lives_next_to_the_yaml() -> None:
    assert lock_path(Path("goldensets/support.yaml")) == Path("goldensets/support.lock")


def test_first_load_records_the_version_hash(tmp_path: Path) -> None:
    path = write_set(tmp_path)
    gs = record(tmp_path, path)
    lock = tmp_path / "goldensets" / "support.lock"
    text = lock.read_text(encoding="utf-8")
    assert text.startswith("# goldband lock")
    assert yaml.safe_load(text) == {"name": "support", "versions": {"1": gs.content_hash}}


def test_same_content_again_is_fine_and_leaves_the_lock_alone(tmp_path: Path) -> None:
    path = write_set(tmp_path)
    record(tmp_path, path)
    before = lock_path(path).read_bytes()
    record(tmp_path, path)
    record(tmp_path, write_set(tmp_path))  # rewritten, same content
    assert lock_path(path).read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["support.lock", "support.yaml"]


def test_changed_cases_under_the_same_version_is_an_error(tmp_path: Path) -> None:
    record(tmp_path, write_set(tmp_path))
    changed = write_set(tmp_path, question="exchange?")
    with pytest.raises(ConfigError) as info:
        record(tmp_path, changed)
    message = str(info.value)
    assert message.startswith(
        "goldensets/support.yaml:2: golden set 'support' changed but its version is still 1")
    assert "recorded sha256:" in message
    assert "expected a new version whenever cases or defaults change" in message
    assert "fix: bump 'version' (e.g. to 2) and commit support.lock; or revert" in message


def test_a_failed_check_does_not_touch_the_lock(tmp_path: Path) -> None:
    path = write_set(tmp_path)
    record(tmp_path, path)
    before = lock_path(path).read_bytes()
    with pytest.raises(ConfigError):
        record(tmp_path, write_set(tmp_path, question="exchange?"))
    assert lock_path(path).read_bytes() == before


def test_bumping_the_version_records_a_second_hash(tmp_path: Path) -> None:
    first = record(tmp_path, write_set(tmp_path))
    second = record(tmp_path, write_set(tmp_path, version=2, question="exchange?"))
    path = tmp_path / "goldensets" / "support.yaml"
    assert recorded(path) == {"1": first.content_hash, "2": second.content_hash}
    assert first.content_hash != second.content_hash


def test_going_back_to_an_old_version_with_its_old_content_is_fine(tmp_path: Path) -> None:
    record(tmp_path, write_set(tmp_path))
    record(tmp_path, write_set(tmp_path, version=2, question="exchange?"))
    record(tmp_path, write_set(tmp_path))  # e.g. checking out an older commit


def test_string_versions_suggest_a_suffix(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    check_and_record(path, "s", "2024-06", HASH_A, 2)
    with pytest.raises(ConfigError, match=r"e\.g\. to 2024-06\.1"):
        check_and_record(path, "s", "2024-06", HASH_B, 2)


def test_without_a_version_line_the_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    check_and_record(path, "s", "1", HASH_A, None, Path("goldensets/s.yaml"))
    with pytest.raises(ConfigError) as info:
        check_and_record(path, "s", "1", HASH_B, None, Path("goldensets/s.yaml"))
    assert str(info.value).startswith("goldensets/s.yaml: golden set 's' changed")


def test_other_versions_are_kept_in_order(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    for version, digest in (("1", HASH_A), ("2", HASH_B), ("10", HASH_C)):
        check_and_record(path, "s", version, digest, 2)
    assert recorded(path) == {"1": HASH_A, "2": HASH_B, "10": HASH_C}


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("versions: {1: [\n", ":2:1: malformed lock file: did not find expected node content"),
        ("- just\n- a list\n", ":1: malformed lock file"),
        ("name: s\nversions: [1, 2]\n", ":2: malformed lock file"),
    ],
)
def test_malformed_lock_file_is_a_clear_error(tmp_path: Path, text: str, detail: str) -> None:
    path = tmp_path / "s.yaml"
    lock_path(path).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        check_and_record(path, "s", "1", HASH_A, 2)
    message = str(info.value)
    assert message.startswith(f"{lock_path(path)}{detail}")  # the line of the problem
    assert "fix: restore it from version control, or delete it to re-record" in message


def test_an_empty_lock_file_is_treated_as_new(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    lock_path(path).write_text("# nothing recorded yet\n", encoding="utf-8")
    check_and_record(path, "s", "1", HASH_A, 2)
    assert recorded(path) == {"1": HASH_A}


def test_an_unwritable_directory_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "s.yaml"
    with pytest.raises(ConfigError, match="cannot write lock file"):
        check_and_record(path, "s", "1", HASH_A, 2)
