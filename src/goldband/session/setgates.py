"""Set gates at the end of a run (``goldband.bands.setgate``): computed from the store, kept in its series.

Done by the process that finishes the run (``goldband.session.finish``), from
the verdicts the store holds, so every xdist worker's cases and every resumed
session's count: one read of the run's verdicts, O(cases). The gates' settings
come from the golden sets the run recorded: the session's own, or (an xdist
controller loads none; a resume may not load them all) the file at the path
the run recorded, if its content hash is still the one the run used.

Each gate is kept as the run's ``set_*`` series points (``setgate.gate_values``:
``set_pass_rate`` for trends and monitors, its interval, counts and settings
beside it), so ``goldband report RUN`` shows it again from the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from goldband._util import yamlio
from goldband.bands.setgate import SetBand, SetGate, gate_values, set_gate
from goldband.engine.plan import Outcome
from goldband.errors import GoldbandError
from goldband.golden.goldenset import GoldenSet
from goldband.golden.goldenset import load as load_goldenset
from goldband.store import RunRow, SeriesPoint, Store
from goldband.store.series import SOURCE

__all__ = ["from_outcomes", "gates", "junit_reports", "points", "recorded_paths", "set_bands", "terminal_lines"]


def set_bands(store: Store, run_id: str, known: Mapping[str, GoldenSet], root: Path
              ) -> tuple[dict[str, SetBand], list[str]]:
    """Each of the run's golden sets' set band (those with ``band: set:``), and why any could not be read."""
    bands: dict[str, SetBand] = {}
    problems: list[str] = []
    for name, digest, path in store.conn.execute(
            "SELECT rg.name, rg.goldenset_hash, g.path FROM run_goldensets rg "
            "JOIN goldensets g ON g.hash = rg.goldenset_hash WHERE rg.run_id = ? ORDER BY rg.name", [run_id]):
        own = known.get(name)
        try:
            band = own.set_band if own is not None and own.content_hash == digest else _from_file(
                root, name, digest, path)
        except (GoldbandError, OSError) as exc:
            problems.append(f"goldband: set gate of '{name}' not computed: {exc}")
            continue
        if band is not None:
            bands[name] = band
    return bands, problems


def _from_file(root: Path, name: str, digest: str, path: str) -> SetBand | None:
    """The set band of the golden set the run recorded at ``path``, read again; GoldbandError when it changed."""
    file = Path(path) if Path(path).is_absolute() else root / path
    raw, _ = yamlio.load(file, Path(path))
    if not isinstance(raw, dict) or "band" not in raw:  # most sets have none: no full load, no validation
        return None
    loaded = load_goldenset(file, base_dir=root)
    if loaded.content_hash != digest:
        raise GoldbandError(f"{path} changed since the run used it (content hash {digest[:12]}, now "
                            f"{loaded.content_hash[:12]}); finish or re-run it with the file as it was")
    return loaded.set_band


def gates(store: Store, run_id: str, bands: Mapping[str, SetBand], policy: str | None = None) -> list[SetGate]:
    """The run's set gates, one per golden set (with a set band) x target, from its stored verdicts;
    ``policy``: ``--goldband-inconclusive``, overriding the bands' own."""
    if not bands:
        return []
    verdicts: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    for goldenset, target, status, gating in store.conn.execute(
            "SELECT goldenset, target, status, gating FROM verdicts WHERE run_id = ? ORDER BY goldenset, target",
            [run_id]):
        if goldenset in bands:
            verdicts.setdefault((goldenset, target), []).append((status, gating is None or bool(gating)))
    return [set_gate(gs, target, found, bands[gs], policy=policy) for (gs, target), found in verdicts.items()]


def points(run: RunRow, found: list[SetGate]) -> list[SeriesPoint]:
    """The gates as the run's ``set_*`` series points (labelled like the run's other points)."""
    return [SeriesPoint(SOURCE, gate.target, metric, value, run.started_at,
                        {"goldenset": gate.goldenset, "target": gate.target, "kind": run.kind}, run.id)
            for gate in found for metric, value in gate_values(gate).items()]


def terminal_lines(found: list[SetGate]) -> list[tuple[str, bool | None]]:
    """The summary's set gate lines as (text, kind): a header, one line a gate, and an alarm for each gate
    that fails the run."""
    if not found:
        return []
    lines: list[tuple[str, bool | None]] = [("goldband set gates", False)]
    lines += [(gate.line(), None) for gate in found]
    lines += [(f"set gate {gate.name} {gate.status}: {gate.reason} (exit status 1)", True)
              for gate in found if gate.fails_run]
    return lines


def recorded_paths(store: Store, run_id: str) -> dict[str, str]:
    """Golden set name -> the path the run recorded it under (relative to the project root)."""
    return {name: path for name, path in store.conn.execute(
        "SELECT rg.name, g.path FROM run_goldensets rg JOIN goldensets g ON g.hash = rg.goldenset_hash "
        "WHERE rg.run_id = ?", [run_id])}


def junit_reports(found: list[SetGate], paths: Mapping[str, str], run_id: str) -> list[Any]:
    """Each gate as a test result for ``--junitxml``: a ``SET_FILE::NAME::set-gate[TARGET]`` testcase, since CI
    test views show testcases (not suite properties). PASS passes; a gate that fails the run fails, with its
    line and reason; an INCONCLUSIVE under ``warn`` is skipped. Each is a call and a teardown report
    (junitxml writes a testcase, with its properties, at the teardown)."""
    import pytest

    reports = []
    for gate in found:
        path = paths.get(gate.goldenset, gate.goldenset)
        nodeid = f"{path}::{gate.goldenset}::set-gate[{gate.target}]"
        location = (path, None, f"{gate.goldenset}::set-gate[{gate.target}]")
        outcome, longrepr = _junit_outcome(gate, path)
        props = [("goldband_run", run_id), *(("goldband_" + k, v) for k, v in gate_values(gate).items())]
        props.insert(1, ("goldband_set_gate", gate.status))
        reports.append(pytest.TestReport(nodeid, location, {}, outcome, longrepr, "call", user_properties=props))
        reports.append(pytest.TestReport(nodeid, location, {}, "passed", None, "teardown", user_properties=props))
    return reports


def _junit_outcome(gate: SetGate, path: str) -> tuple[Literal["passed", "failed", "skipped"], Any]:
    text = f"{gate.line()}\n{gate.reason}"
    if gate.status == "PASS":
        return "passed", None
    if gate.fails_run:
        return "failed", text
    return "skipped", (path, 1, f"Skipped: {text}")


def from_outcomes(outcomes: Iterable[Outcome], goldensets: Mapping[str, GoldenSet],
                  policy: str | None = None) -> list[SetGate]:
    """The set gates from a session's own outcomes: a run without a store (``store: off``), where the
    session that ran every item is the only place its verdicts are."""
    bands = {name: gs.set_band for name, gs in goldensets.items() if gs.set_band is not None}
    verdicts: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    for outcome in outcomes:
        if outcome.plan.goldenset in bands:
            key = (outcome.plan.goldenset, outcome.plan.target.name)
            verdicts.setdefault(key, []).append((outcome.verdict.status, outcome.verdict.gating))
    return [set_gate(gs, target, found, bands[gs], policy=policy) for (gs, target), found in sorted(verdicts.items())]
