"""``goldband monitor demo --llm``: production traffic into the loop, offline, on illustrative traces.

In a new folder with a copy of the bundled support golden set, the commands a user
types, in order, each printed before its output: ingest the example traces (version
3, whose model the provider silently changes after 400 calls) and their feedback,
evaluate them in windows (checks
and signals; the judge is left out, as it needs a live model), propose the failures
as golden cases, accept three of them as a reviewer would, and check how far the
set sits from production. The traces in ``examples/llm`` are invented for the demo
(``examples/llm/make_traces.py`` writes them).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import click

from goldband.errors import UsageError

FILES = ("goldensets/support.yaml", "goldensets/support.lock", "rubrics", "examples/llm/support.traces.jsonl",
         "examples/llm/support.feedback.jsonl")
CONFIG = """\
# goldband monitor demo --llm: one LLM app, 'support', monitored in production.
store: .goldband/store.db
monitors:
  llm:
    support:
      golden_set: goldensets/support.yaml   # evaluate with this set's default checks
      window: 100                           # traces per evaluation window
      reference_windows: 2                  # a version's first 2 windows: its output reference
"""


def source() -> Path:
    """goldband's checkout (or a copy of its example project) holding the example traces and golden set."""
    here = Path.cwd().resolve()
    for folder in (Path(__file__).resolve().parents[3], here, *here.parents):
        if all((folder / name).exists() for name in FILES):
            return folder
    raise UsageError("the LLM demo needs the bundled support golden set and example traces", where=str(here),
                     expected=", ".join(FILES), fix="run it from a clone of goldband's repository")


def run_llm_demo(directory: Path | None, echo: Callable[[str], None] = click.echo, *,
                 store: str | None = None) -> Path:
    """Copy the example into a new folder and run the story there; the folder. ``store``: where its
    goldband.yaml keeps the store (default ``.goldband/store.db`` in the folder; a PostgreSQL URL works too)."""
    from goldband._util.scratch import demo_folder

    origin = source()
    folder = demo_folder(directory, "LLM demo")
    for name in FILES:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (origin / name).is_dir() else shutil.copy2)(origin / name, target)
    config = CONFIG if store is None else CONFIG.replace(".goldband/store.db", store)
    (folder / "goldband.yaml").write_text(config, encoding="utf-8")
    echo(f"goldband monitor demo --llm: production traffic into the loop, offline (illustrative traces)\n"
         f"  directory  {folder}\n")
    previous = Path.cwd()
    os.chdir(folder)
    try:
        _story(folder, echo)
    finally:
        os.chdir(previous)
    return folder


def _story(folder: Path, echo: Callable[[str], None]) -> None:
    traces, feedback = "examples/llm/support.traces.jsonl", "examples/llm/support.feedback.jsonl"
    _say(echo, "1. the app's traces and its users' feedback come in (TraceLogger does the same from the app)")
    _run(echo, "monitor", "traces", "support", traces)
    _run(echo, "monitor", "feedback", "support", "--file", feedback)
    _say(echo, "2. windows of 100 traces are scored: the set's default checks, refusals, empty and cut-off "
               "outputs;\n   each window is compared with the version's first two, and each metric's series is "
               "watched\n   (after 400 calls the provider silently changed the model behind version 3)")
    _run(echo, "monitor", "evaluate", "support")
    _say(echo, "3. the failures users flagged become candidate golden cases (near-duplicates dropped)")
    _run(echo, "golden", "candidates", "goldensets/support.yaml", "--from", "production", "--where",
         "feedback=negative OR check_failed OR refusal", "--limit", "8", "--out", "review.yaml")
    review = folder / "review.yaml"
    if review.exists():
        _say(echo, "4. a reviewer reads review.yaml and sets accept: true on three cases (done here by the demo)")
        _mark(review, 3)
        _run(echo, "golden", "accept", "review.yaml")
    _say(echo, "5. does the golden set still look like production?")
    _run(echo, "golden", "status", "goldensets/support.yaml")
    echo(f"\nexplore  cd {folder}\n         goldband alerts list\n         less review.yaml\n"
         f"         git diff --no-index {source() / 'goldensets/support.yaml'} goldensets/support.yaml")


def _say(echo: Callable[[str], None], text: str) -> None:
    echo(f"\n{text}")


def _run(echo: Callable[[str], None], *args: str) -> None:
    from goldband.cli import main

    echo(f"$ goldband {' '.join(_quoted(a) for a in args)}")
    try:
        main.main(args=list(args), prog_name="goldband", standalone_mode=False)
    except SystemExit as exc:  # exit 6: an alert fired, which is the point of the story
        if exc.code not in (0, 6, None):
            raise


def _quoted(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


def _mark(review: Path, n: int) -> None:
    """Set ``accept: true`` on the first ``n`` candidates, as a reviewer would in an editor."""
    text = review.read_text(encoding="utf-8")
    text = re.sub(r"^(\s*-?\s*)accept: false$", r"\1accept: true", text, count=n, flags=re.MULTILINE)
    review.write_text(text, encoding="utf-8")
