"""``goldband init [PATH]``: a starter project in the user's own repository.

Writes a ``goldband.yaml`` (one OpenAI-compatible target, temperature pinned), a
prompt, a golden set whose band can PASS, a rubric that is graded but not gating
until calibrated, its calibration stub, and two GitHub Actions workflows (pre-merge
and nightly). The templates are package data in ``goldband/cli/init_files/``.

All or nothing: when any file it would write exists already, it lists them and
writes none, so it never overwrites a user's work. The workflows install goldband
from ``--install SPEC`` (a pip requirement: a git URL pinned to a tag, a wheel's
path or URL), because goldband is not on a public package index yet.
"""

from __future__ import annotations

import contextlib
import tomllib
from importlib import resources
from pathlib import Path

import click

from goldband._version import __version__
from goldband.errors import UsageError

INSTALL_MARK = "@GOLDBAND_INSTALL@"
"""Where the workflows' install spec goes (a YAML scalar, quoted by :func:`yaml_quoted`)."""

PLACEHOLDER = f"goldband @ git+https://github.com/OWNER/goldband@v{__version__}"
"""The default install spec: OWNER must be replaced (the workflow's pip install fails loudly until it is)."""

FILES: dict[str, tuple[str, str]] = {  # destination: (template in init_files/, what it is)
    "goldband.yaml": ("goldband.yaml", "the project: one target, the judge, mode and store"),
    "prompts/assistant.j2": ("assistant.j2", "the target's prompt (a Jinja2 template)"),
    "goldensets/assistant.yaml": ("assistant.yaml", "a golden set: two cases, 11 runs each, a band that can PASS"),
    "rubrics/helpfulness.yaml": ("helpfulness.yaml", "a rubric for the judge, not gating until calibrated"),
    "rubrics/helpfulness.calibration.jsonl": ("helpfulness.calibration.jsonl",
                                              "human-labelled outputs for `goldband judge calibrate`"),
    ".github/workflows/goldband-pr.yml": ("goldband-pr.yml", "pre-merge: golden sets, cached, summary as a comment"),
    ".github/workflows/goldband-nightly.yml": ("goldband-nightly.yml",
                                               "nightly: live, store carried over, report as an artifact"),
}

NEXT_STEPS = (
    ("export OPENAI_API_KEY=sk-...", "and OPENAI_BASE_URL for another OpenAI-compatible server"),
    ("pytest goldensets", "runs the golden set; writes goldensets/assistant.lock and reports/"),
    ("goldband judge calibrate helpfulness", "once the calibration rows are real labels: lets the rubric gate"),
)


def yaml_quoted(text: str) -> str:
    """``text`` as a single-quoted YAML scalar (a quote inside is doubled).

    >>> yaml_quoted("goldband @ git+https://x/y@v1 # it's")
    "'goldband @ git+https://x/y@v1 # it''s'"
    """
    return "'" + text.replace("'", "''") + "'"


def check_install(spec: str) -> str:
    """The install spec, stripped; a UsageError naming ``--install`` when it cannot be one pip argument."""
    spec = spec.strip()
    if not spec or any(ord(c) < 32 or ord(c) == 127 for c in spec):
        raise UsageError(f"{spec!r} is not a usable pip requirement",
                         where="--install", expected="one line of printable text, e.g. "
                         "'goldband @ git+https://github.com/OWNER/goldband@v1.0.0' or './wheels/goldband-1.0.0-"
                         "py3-none-any.whl'", fix="give the requirement pip should install in CI")
    return spec


def render(install: str = PLACEHOLDER) -> dict[str, str]:
    """Each destination path (relative, POSIX) and its text, the install spec filled in."""
    folder = resources.files("goldband.cli").joinpath("init_files")
    quoted = yaml_quoted(check_install(install))
    return {dest: folder.joinpath(name).read_text(encoding="utf-8").replace(INSTALL_MARK, quoted)
            for dest, (name, _) in FILES.items()}


def conflicts(root: Path) -> list[str]:
    """The files init would write that exist already, and any other goldband config found there."""
    found = [dest for dest in FILES if (root / dest).exists() or (root / dest).is_symlink()]
    if (root / "goldband.yml").exists():
        found.append("goldband.yml")
    if _has_tool_goldband(root / "pyproject.toml"):
        found.append("pyproject.toml ([tool.goldband])")
    return found


def _has_tool_goldband(pyproject: Path) -> bool:
    with contextlib.suppress(OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool")
        return isinstance(tool, dict) and "goldband" in tool
    return False


def write_project(root: Path, install: str = PLACEHOLDER) -> list[str]:
    """Write the starter project into ``root``; the destinations written, in order.

    ``root`` is created when only it is missing (its parent exists). Refuses
    (UsageError, nothing written) when it is a file or any file exists already. A
    file that cannot be written removes those written (and folders made) before it.
    """
    _check_root(root)
    texts = render(install)
    existing = conflicts(root)
    if existing:
        raise UsageError(f"{len(existing)} file(s) exist already: {', '.join(existing)}; nothing was written",
                         where=str(root), expected="a repository without goldband's starter files",
                         fix="move or delete them and run goldband init again, or add goldband by hand "
                         "(README: Your own project)")
    written: list[Path] = []  # files and the folders made for them, undone in reverse on a failure
    try:
        for dest, text in texts.items():
            path = root / dest
            _make_folders(path.parent, written)
            with path.open("x", encoding="utf-8", newline="\n") as handle:  # "x": never over a file
                written.append(path)
                handle.write(text)
    except OSError as exc:
        _undo(written)
        raise UsageError(f"cannot write {exc.filename}: {exc.strerror}; nothing was kept", where=str(root),
                         fix="make the folder writable and run goldband init again") from None
    return list(texts)


def _check_root(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise UsageError(f"'{root}' is not a directory", where="PATH", expected="the repository's folder",
                         fix="give the repository's path (default: the current directory)")
    if not root.exists() and not root.absolute().parent.is_dir():
        raise UsageError(f"'{root.parent}' does not exist", where="PATH",
                         expected="an existing folder, or a new one inside an existing folder",
                         fix="check the path, or create its parent folders first")


def _make_folders(folder: Path, made: list[Path]) -> None:
    """Create ``folder`` and its missing parents, outermost first, each added to ``made`` once created."""
    for missing in [f for f in (folder, *folder.parents) if not f.exists()][::-1]:
        missing.mkdir()
        made.append(missing)


def _undo(written: list[Path]) -> None:
    for path in reversed(written):
        with contextlib.suppress(OSError):
            path.rmdir() if path.is_dir() else path.unlink()


def in_git_repository(root: Path) -> bool:
    return any((folder / ".git").exists() for folder in (root.resolve(), *root.resolve().parents))


@click.command()
@click.argument("path", type=click.Path(path_type=Path), default=".")
@click.option("--install", "install", default=None, metavar="SPEC",
              help="How CI installs goldband (a pip requirement), e.g. 'goldband @ "
                   "git+https://github.com/OWNER/goldband@v1.0.0' or a wheel's path or URL. "
                   "Default: a placeholder to edit in both workflows.")
def init(path: Path, install: str | None) -> None:
    """Write a starter goldband project into PATH (default: here): your repository, or a new folder in it.

    Writes goldband.yaml, a prompt, a golden set, a rubric with its calibration
    stub and two GitHub Actions workflows. Refuses, writing nothing, when any of
    them exists already.
    """
    written = write_project(path, install or PLACEHOLDER)
    click.echo(f"goldband init: wrote {len(written)} files in {path}")
    for dest in written:
        click.echo(f"  {dest:<40} {FILES[dest][1]}")
    if install is None:
        click.echo(f"\nnote: the workflows install goldband with '{PLACEHOLDER}': a placeholder (goldband is not on "
                   "a public index yet). Edit GOLDBAND_INSTALL in both workflows: a git URL pinned to a tag, or a "
                   "wheel committed to the repository.")
    if not in_git_repository(path):
        click.echo(f"\nnote: {path} is not inside a git repository; the workflows run once it is pushed to GitHub.")
    click.echo("\nnext:" if path == Path(".") else f"\nnext, in {path}:")
    for command, why in NEXT_STEPS:
        click.echo(f"  {command:<40} # {why}")
