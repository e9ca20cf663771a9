"""The folder of ``goldband loop demo`` (``goldband.registry.demo``): a goldband project of its own.

``prepare`` makes it (a new temporary folder, or the one given: empty, or one a
previous loop demo wrote, marked by ``MARKER``); ``copy_project`` copies in the
example churn code and the bundled support golden set with its prompts,
cassettes and rubrics; ``write_config`` writes its ``goldband.yaml``, the
example of how to configure the closed loop: targets, ``monitors:``,
``alerts:`` and ``registry:``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from goldband._util.scratch import demo_folder, marker
from goldband.errors import UsageError

__all__ = ["CONFIG", "FRESH", "MARKER", "bundled_source", "copy_project", "prepare", "write_config"]

MARKER = marker("loop demo")
FRESH = 500  # the gate's fresh rows: the newest labelled production predictions
CHURN_FILES = ("examples/churn/model.py", "examples/churn/train.py")
LLM_FILES = ("goldensets/support.yaml", "goldensets/support.lock", "prompts/support_v1.j2", "prompts/support_v2.j2",
             "cassettes/support/support-v1.jsonl", "cassettes/support/support-v2.jsonl", "cassettes/judge", "rubrics")


def bundled_source() -> Path:
    """Where the example code and the support golden set are: goldband's source checkout, else the current
    directory or a parent of it (a copy of the bundled project)."""
    here = Path.cwd().resolve()
    for folder in (Path(__file__).resolve().parents[3], here, *here.parents):
        if all((folder / name).exists() for name in (*CHURN_FILES, *LLM_FILES, "goldband.yaml")):
            return folder
    raise UsageError("the loop demo needs the example churn model and the bundled support golden set",
                     where=str(here), expected=", ".join((*CHURN_FILES, *LLM_FILES)),
                     fix="run it from a clone of goldband's repository (or a copy of its example project)")


# --------------------------------------------------------------------------- the project folder


def prepare(directory: Path | None) -> Path:
    return demo_folder(directory, "loop demo")


def copy_project(origin: Path, folder: Path) -> None:
    """The example churn code (a package here, so ``examples.churn.model`` imports from this folder) and the
    support golden set with everything it needs to replay."""
    for name in (*CHURN_FILES, *LLM_FILES):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (origin / name).is_dir():
            shutil.copytree(origin / name, target)
        else:
            shutil.copy2(origin / name, target)
    for package in ("examples", "examples/churn"):
        (folder / package / "__init__.py").write_text("", encoding="utf-8")
    (folder / "data").mkdir()


def write_config(folder: Path, origin: Path, *, eval_version: str) -> None:
    """The demo's goldband.yaml: the support targets and judge of the bundled project, then the loop's sections."""
    bundled = (origin / "goldband.yaml").read_text(encoding="utf-8")
    targets = _blocks(_section(bundled, "targets"), ("support-v1", "support-v2"))
    text = CONFIG.format(targets="".join(targets), judge="".join(_section(bundled, "judge")), version=eval_version,
                         fresh=FRESH)
    (folder / "goldband.yaml").write_text(text, encoding="utf-8")


def _section(text: str, key: str) -> list[str]:
    """The lines of a top-level section (without its key line)."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in (" ", "\n", "#")), len(lines))
    return lines[start + 1:end]


def _blocks(lines: list[str], names: tuple[str, ...]) -> list[str]:
    """The entries ``names`` of a section: each key line at two spaces and the lines below it."""
    kept: list[str] = []
    keep = False
    for line in lines:
        if line.startswith("  ") and not line.startswith("   "):
            keep = line.strip().split(":")[0] in names
        kept += [line] if keep else []
    return kept


CONFIG = """\
# The closed loop of `goldband loop demo` (written by it; safe to delete). Run goldband commands here:
#   goldband registry history churn     goldband registry list churn     goldband retrain status --all
store: .goldband/store.db               # the registry lives in the store; artifacts in .goldband/artifacts/
reports: "off"
mode: replay                            # the llm gate replays cassettes/: offline
targets:                                # the support assistant's prompts (the llm model's versions)
{targets}\
  # support-prod: {{registry: support@production}}   # a target can run exactly what production serves
judge:
{judge}\
monitors:
  models:
    churn: {{window: 500, label_delay: 4d}}   # the reference follows the serving version (the registry sets it)
alerts:
  cooldown: 2d
  rules:
    - {{name: churn-concept, model: churn, metric: concept_drift, severity: critical}}
    - {{name: churn-inputs, model: churn, metric: input_drift, severity: warning, sustained: 2}}
  sinks:
    - {{type: log}}
    - {{type: jsonl, path: notifications.jsonl}}   # alerts, and every promotion, park and rollback
registry:
  models:
    churn:                              # a classic-ML model: versions are trained artifacts
      description: numpy logistic regression, P(churn)
      predict: examples.churn.model:predict   # (artifact folder, features as columns) -> P(churn) per row
      eval: {{path: data/holdout.csv, version: "{version}", label: label, fresh: {fresh}}}   # + newest labelled rows
      gate:
        primary: roc_auc                # significantly better on this one (a one-sided test at 5 %)
        confidence: 0.9
        metrics:
          roc_auc: {{floor: 0.70, min_improvement: 0.01}}
          accuracy: {{floor: 0.65, margin: 0.02}}   # exact McNemar; may be worse by at most 0.02
          log_loss: {{floor: 0.65, margin: 0.02}}   # lower is better: the floor is a ceiling
      retrain:
        on: [concept_drift, performance]
        command: >-
          python examples/churn/train.py --out {{artifact_dir}} --data {{data_path}} --rows data/training_rows.csv
        approval: auto                  # manual: wait for `goldband retrain approve ID`
        cooldown: 7d
        timeout: 10m
    support:                            # an llm model: versions are target configurations
      kind: llm
      target: support-v1
      goldensets: [support]
      runs: 20                          # trials per case and side, fixed
"""
