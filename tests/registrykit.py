"""Builders for the closed-loop tests: a churn project in a temporary folder, its fitted versions, the
store's loop tables, a webhook receiver on 127.0.0.1, and waiting on a real ``goldband`` process.

The project is the one README's closed loop describes: ``examples/churn`` copied in (its numpy
logistic regression and ``train.py``), seeded synthetic customers from ``goldband.watch.demo.rows``
(a 300-row holdout after the concept shift, the changed world's rows the retrain learns from, and the
world version 1 was trained on), and a ``goldband.yaml`` whose ``registry: models: churn:`` section
the tests vary, and whose ``store:`` is the default file ``.goldband/store.db`` or, for the tests
parametrised over both backends (``store_at``), a PostgreSQL URL (``churn_project(..., store=...)``):
``query`` then reads it through a plain psycopg connection. Version 1 fits the old world, so a retrain on
the changed rows beats it clearly (roc_auc 0.82 against 0.72 on the holdout) and a retrain on shuffled
labels (``CHURN_SABOTAGE=1``) loses (0.55).

``holding.py`` (the predict every loop test uses) is the example's predict with a pause: while the
file ``hold-gate`` exists it writes ``ready-gate`` and waits, so a test can kill a pipeline in the
middle of its gate. The training command (``HOLDING_TRAIN``) takes ``hold-train`` away, writes
``ready-train`` and waits for ``release-train`` (so only the first training waits); on ``fifo-data``
it leaves a named pipe where the training snapshot belongs, and the register step waits reading it.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner, Result

from goldband.cli import main
from goldband.config.project import ProjectConfig, load_config
from goldband.registry.gate import run_gate
from goldband.registry.registry import Registry
from goldband.store import open_store
from goldband.watch.demo import rows as churn_rows

REPO = Path(__file__).resolve().parent.parent
ROWS = 300
FEATURES = ("tenure_months", "monthly_charges", "support_calls", "contract", "payment_method")
DEFAULT_STORE = ".goldband/store.db"
ENV = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "GOLDBAND_STORE", "GOLDBAND_REPORT", "GOLDBAND_MODE", "CHURN_SABOTAGE")

GATE = """\
      gate:
        primary: roc_auc
        metrics: {roc_auc: {floor: 0.6}, accuracy: {floor: 0.6, margin: 0.02}, log_loss: {margin: 0.02}}
"""
TRAIN = (f"{shlex.quote(sys.executable)} examples/churn/train.py --out {{artifact_dir}} --data {{data_path}} "
         "--rows data/changed.csv")
# The training command with the tests' control points (see the module docstring); `train-pids` lists the
# process group of every training started, so a test can check that none is left behind.
HOLDING_TRAIN = ("echo $$ >> train-pids; if [ -e hold-train ]; then rm hold-train; touch ready-train; "
                 "while [ ! -e release-train ]; do sleep 0.05; done; fi; " + TRAIN
                 + " && if [ -e fifo-data ]; then cp {data_path} data-copy.csv && rm {data_path} "
                   "&& mkfifo {data_path}; fi")

HOLDING = '''\
"""The example churn model's predict, pausing while hold-gate exists (a test kills the gate there)."""

import time
from pathlib import Path

from examples.churn.model import predict as churn

HERE = Path(__file__).resolve().parent


def predict(artifact, frame):
    while (HERE / "hold-gate").exists():
        (HERE / "ready-gate").touch()
        time.sleep(0.05)
    return churn(artifact, frame)
'''


# --------------------------------------------------------------------------- data and versions


def write_rows(path: Path, data: list[dict[str, Any]], *, label: str = "label") -> Path:
    """Customers as a CSV: their features and the true outcome."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*FEATURES, label])
        writer.writerows([[row["features"][n] for n in FEATURES] + [row["label"]] for row in data])
    return path


def churn_data(root: Path, *, n: int = ROWS) -> None:
    """data/holdout.csv (after the concept shift), data/changed.csv (what a retrain learns from), data/v1.csv."""
    write_rows(root / "data" / "holdout.csv", churn_rows(np.random.default_rng(1), n, "concept shift"))
    write_rows(root / "data" / "changed.csv", churn_rows(np.random.default_rng(2), n, "concept shift"))
    write_rows(root / "data" / "v1.csv", churn_rows(np.random.default_rng(3), n, "as in training"))


def _example_model() -> ModuleType:
    spec = importlib.util.spec_from_file_location("registrykit_churn_model", REPO / "examples" / "churn" / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fit(root: Path, name: str, rows: str, *, shuffle: bool = False) -> Path:
    """Fit the example model on ``rows`` (a CSV under the project); its artifact folder ``out/NAME``."""
    model = _example_model()
    with (root / rows).open(encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f))
    labels = [float(r["label"]) for r in table]
    if shuffle:
        labels = [float(v) for v in np.random.default_rng(0).permutation(labels)]
    weights = model.train({n: [r[n] for r in table] for n in FEATURES}, labels)
    folder = root / "out" / name
    model.save(weights, folder)
    return folder


# --------------------------------------------------------------------------- the project


def churn_yaml(*, predict: str = "examples.churn.model:predict", gate: str = GATE, eval_path: str = "data/holdout.csv",
               retrain: str | None = None, extra: str = "", model_extra: str = "", store: str = DEFAULT_STORE) -> str:
    """goldband.yaml with the churn model in the registry (``retrain``: the lines under ``retrain:``)."""
    text = (f"store: {store}\nregistry:\n  models:\n    churn:\n      predict: {predict}\n"
            f"      eval: {{path: {eval_path}, version: \"1\", label: label}}\n{gate}{model_extra}")
    if retrain is not None:
        text += "      retrain:\n" + "".join(f"        {line}\n" for line in retrain.strip("\n").splitlines())
    return text + extra


def retrain_yaml(*, command: str = TRAIN, on: str = "[concept_drift]", more: str = "") -> str:
    return f"on: {on}\ncommand: {json.dumps(command)}\n{more}"


def backend(store_at: str) -> str:
    """The ``store:`` of a project for the ``store_at`` fixture's backend: the default file for SQLite (the
    project keeps its store where users' projects do), the database's URL for PostgreSQL."""
    return store_at if store_at.startswith("postgresql") else DEFAULT_STORE


def churn_project(root: Path, monkeypatch: pytest.MonkeyPatch, **yaml: Any) -> Path:
    """The churn project in ``root`` (the current directory from now on), goldband.yaml from ``churn_yaml``
    (``store=``: a PostgreSQL URL instead of the default file, see ``backend``)."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOLDBAND_ACTOR", "tester")
    shutil.copytree(REPO / "examples" / "churn", root / "examples" / "churn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    churn_data(root)
    (root / "holding.py").write_text(HOLDING, encoding="utf-8")
    (root / "goldband.yaml").write_text(churn_yaml(**yaml), encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def set_yaml(root: Path, **yaml: Any) -> None:
    """Rewrite goldband.yaml with ``churn_yaml(**yaml)``, keeping the project's store."""
    (root / "goldband.yaml").write_text(churn_yaml(**{"store": _configured(root), **yaml}), encoding="utf-8")


def config(root: Path) -> ProjectConfig:
    return load_config(root)[0]


def _configured(root: Path) -> str:
    """The ``store:`` of the project's goldband.yaml (goldband's default file when it names none)."""
    data = yaml.safe_load((root / "goldband.yaml").read_text(encoding="utf-8")) or {}
    return str(data.get("store") or DEFAULT_STORE)


def store_path(root: Path) -> Path | str:
    """The project's store as ``open_store`` and ``--store`` take it: the file, or the PostgreSQL URL."""
    store = _configured(root)
    return store if store.startswith("postgresql") else root / store


@contextlib.contextmanager
def registry(root: Path) -> Iterator[Registry]:
    """The project's registry over its store (created when missing)."""
    store = open_store(store_path(root), create=True)
    try:
        yield Registry(store, root=root)
    finally:
        store.close()


def register(root: Path, artifact: str, *, data: str | None = None) -> str:
    """Register ``out/ARTIFACT`` (fitted if missing) as the next churn version; its number."""
    folder = root / "out" / artifact
    if not folder.exists():
        fit(root, artifact, {"v1": "data/v1.csv", "v2": "data/changed.csv"}[artifact])
    with registry(root) as reg:
        return reg.register("churn", artifact=folder, data=root / data if data else None).version


def serving_v1(root: Path) -> None:
    """churn:1 (fitted on the old world) registered, gated (first version: floors) and serving production."""
    number = register(root, "v1", data="data/v1.csv")
    with registry(root) as reg:
        outcome = run_gate(reg, config(root), "churn", number)
        assert outcome.passed, outcome.reasons
        reg.promote("churn", number, reason="first")


# --------------------------------------------------------------------------- reading the store


def query(root: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows from the project's store, read through a plain sqlite3 or psycopg connection (no goldband code;
    ``?`` placeholders, which psycopg spells ``%s``)."""
    store = store_path(root)
    if isinstance(store, str):
        import psycopg

        # every read of a PostgreSQL project also checks that nothing wrote a store file or a `postgresql:` folder
        assert not (root / DEFAULT_STORE).exists() and not list(root.glob("postgres*")), "a URL became a path"

        with psycopg.connect(store, autocommit=True) as pg:
            return [tuple(row) for row in pg.execute(sql.replace("?", "%s").encode(), params).fetchall()]
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def loop_state(root: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every alias and every event, as stored: what a refused or failed command must leave unchanged."""
    return (query(root, "SELECT * FROM registry_aliases ORDER BY model, alias"),
            query(root, "SELECT * FROM registry_events ORDER BY id"))


def gate_rows(root: Path) -> list[dict[str, Any]]:
    columns = ("id", "candidate", "champion", "kind", "status", "decision", "policy", "reasons", "metrics",
               "eval_set", "details", "finished_at")
    found = query(root, f"SELECT {', '.join(columns)} FROM registry_gates ORDER BY id")
    return [{c: (json.loads(v) if c in ("reasons", "metrics", "eval_set", "details") and v else v)
             for c, v in zip(columns, row, strict=True)} for row in found]


def steps(root: Path, request_id: int = 1) -> dict[str, tuple[str, int, str | None, dict[str, Any]]]:
    """step -> (status, attempts, log, detail) of one retrain request."""
    found = query(root, "SELECT step, status, attempts, log, detail FROM retrain_steps WHERE request_id = ?",
                  request_id)
    return {s: (st, a, log, json.loads(d) if d else {}) for s, st, a, log, d in found}


def request(root: Path, request_id: int = 1) -> dict[str, Any]:
    columns = ("id", "model", "trigger", "alert_id", "status", "candidate", "gate_id", "reason", "owner")
    row = query(root, f"SELECT {', '.join(columns)} FROM retrain_requests WHERE id = ?", request_id)[0]
    return dict(zip(columns, row, strict=True))


def events(root: Path, kind: str | None = None) -> list[dict[str, Any]]:
    columns = ("id", "kind", "alias", "from_version", "to_version", "time", "reason", "evidence", "forced")
    found = query(root, f"SELECT {', '.join(columns)} FROM registry_events ORDER BY id")
    rows = [dict(zip(columns, r, strict=True)) for r in found]
    for row in rows:
        row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else {}
    return [r for r in rows if kind is None or r["kind"] == kind]


def serving(root: Path) -> str | None:
    found = query(root, "SELECT version FROM registry_aliases WHERE model = 'churn' AND alias = 'production'")
    return found[0][0] if found else None


def versions_of_request(root: Path, request_id: int) -> list[str]:
    return [v for v, params in query(root, "SELECT version, params FROM registry_versions WHERE model = 'churn'")
            if json.loads(params or "{}").get("retrain_request") == request_id]


def assert_promotions_were_gated(root: Path) -> None:
    """Every promotion of a version that had a champion names a completed, passing gate of that version."""
    for event in events(root, "promote"):
        if event["from_version"] is None:
            continue
        gate = event["evidence"].get("gate")
        found = query(root, "SELECT candidate, champion, status, decision FROM registry_gates WHERE id = ?", gate)
        assert found == [(event["to_version"], event["from_version"], "complete", "pass")], (event, found)


# --------------------------------------------------------------------------- the command line


def cli(*args: str) -> Result:
    """``goldband ARGS`` in this process (click's runner)."""
    return CliRunner().invoke(main, list(args))


def ok(*args: str, status: int = 0) -> str:
    result = cli(*args)
    assert result.exit_code == status, (result.exit_code, result.output, result.exception)
    return result.stdout


def refused(status: int, *args: str) -> str:
    """A command that must stop with ``status`` and one ``Error:`` line on stderr, no traceback; the line."""
    result = cli(*args)
    assert result.exit_code == status, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# --------------------------------------------------------------------------- processes


def wait_for(condition: Callable[[], Any], *, timeout: float = 30, what: str = "a condition",
             proc: subprocess.Popen[str] | None = None) -> Any:
    """Poll ``condition`` until it is truthy; fail (with the process's output) when it is not in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the process ended ({proc.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def goldband_process(root: Path, *args: str) -> subprocess.Popen[str]:
    """``goldband ARGS`` as a real process in the project."""
    return subprocess.Popen([sys.executable, "-m", "goldband", *args], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "GOLDBAND_ACTOR": "tester"})


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGKILL a process this test started (unless it ended); its output."""
    if proc.poll() is None:
        proc.kill()
    return proc.communicate(timeout=30)


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting for its parent counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def kill_group(pid: int, root: Path) -> None:
    """SIGKILL the process group ``pid`` leads, if it is still a training this test started in ``root``
    (its working directory says so: a pid the system reused for another process is left alone)."""
    try:
        ours = Path(os.readlink(f"/proc/{pid}/cwd")) == root.resolve()
    except OSError:
        return
    if ours:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, 9)


def fifo_reader_waiting(path: Path) -> int | None:
    """When a process waits to read the named pipe ``path``: a write end held open (so it keeps waiting
    for bytes that never come until the test closes it); None while nobody reads it yet."""
    try:
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return None


# --------------------------------------------------------------------------- a webhook receiver


class Receiver:
    """A real HTTP server on 127.0.0.1 that records every JSON body POSTed to it.

    ``hold()``: requests wait (unanswered) until ``release()``; ``waiting`` counts those waiting.
    """

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.waiting = 0
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    receiver.waiting += 1
                receiver._open.wait(30)
                with receiver._lock:
                    receiver.waiting -= 1
                    receiver.bodies.append(body)
                with contextlib.suppress(OSError):
                    self.send_response(204)
                    self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def details(self) -> list[dict[str, Any]]:
        """What each notification said about the registry: kind, versions, evidence."""
        return [b["alert"]["details"] | {"model": b["alert"]["model"]} for b in self.bodies]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def sinks_yaml(url: str, *, timeout_s: float = 3) -> str:
    return f"alerts:\n  sinks:\n    - {{type: webhook, url: '{url}', timeout_s: {timeout_s}, retries: 0}}\n"
