"""``goldband show [RUN] [CASE]``: one run, or every trial of one case in it, from the store.

The HTML report shows every output of a case that did not cleanly pass, and a
sample of a clean pass's outputs (``report.html.PASSING_OUTPUTS``); this is
where the rest are read. Model output is untrusted: control characters and
bidi overrides are shown as escapes (``report.escape``), never sent to the
terminal; line breaks are kept, as said.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from goldband.cli.common import opened_store, store_option
from goldband.cli.history import CASE_REF
from goldband.cli.history import show as run_view
from goldband.errors import UsageError

if TYPE_CHECKING:
    from goldband.results import Completion, ScoredTrial, Turn
    from goldband.store import Store, StoredVerdict
    from goldband.store.models import CaseKey

INDENT = "    "


@click.command()
@click.argument("run_ref", metavar="[RUN]", default="latest")
@click.argument("case_ref", metavar="[CASE]", required=False)
@click.option("--target", help="With CASE: only its trials on this target (default: every target it ran on).")
@click.option("--all", "show_all", is_flag=True, help="List every case, not only those not passing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the report.json format) instead.")
@store_option
@click.pass_context
def show(ctx: click.Context, run_ref: str, case_ref: str | None, target: str | None, show_all: bool,
         as_json: bool, store_path: Path | None) -> None:
    """Show one RUN: what ran, per golden set x target results, the cases not passing; or, with CASE,
    every trial of that case in RUN: output, tool calls, error and failed checks.

    RUN is a run id, a unique prefix of one, or ``latest`` (the default). CASE is a case id, SET::CASE or
    SET::CASE[TARGET], e.g. ``goldband show latest support::refund-window --target support-v1``.
    """
    if case_ref is None:
        if target is not None:
            raise UsageError("--target narrows a CASE; add one, e.g. `goldband show RUN SET::CASE --target T`")
        ctx.invoke(run_view, run_ref=run_ref, show_all=show_all, as_json=as_json, store_path=store_path)
        return
    with opened_store(store_path) as store:
        run_id = store.resolve_run(run_ref).id
        keys = case_keys(store, run_id, case_ref, target)
        verdicts = store.verdicts(run_id)
        blocks = [_case_block(store, run_id, key, verdicts.get(key), as_json) for key in keys]
    click.echo(("\n" if as_json else "\n\n").join(blocks))


def case_keys(store: Store, run_id: str, ref: str, target: str | None) -> list[CaseKey]:
    """The (golden set, case, target) items of the run that ``ref`` (and ``target``) name; UsageError if none."""
    match = CASE_REF.match(ref)
    goldenset, case_id = (match["set"], match["case"]) if match else (None, ref)
    wanted = target or (match["target"] if match else None)
    rows = store.conn.execute(
        "SELECT goldenset, case_id, target FROM run_items WHERE run_id = ? AND case_id = ? UNION "
        "SELECT DISTINCT goldenset, case_id, target FROM trials WHERE run_id = ? AND case_id = ? "
        "ORDER BY 1, 2, 3", [run_id, case_id] * 2).fetchall()  # plain ? placeholders: both backends take them
    keys = [(g, c, t) for g, c, t in rows if goldenset in (None, g) and wanted in (None, t)]
    if not keys:
        narrowed = f" on target '{wanted}'" if wanted else ""
        raise UsageError(f"run {run_id} has no case '{ref}'{narrowed}",
                         fix=f"list its cases with `goldband show {run_id} --all`")
    return keys


def _case_block(store: Store, run_id: str, key: CaseKey, stored: StoredVerdict | None, as_json: bool) -> str:
    from goldband.report.data import case_trials, trial_json

    trials = case_trials(store, run_id, key)
    turns = store.turns(run_id, key)  # a conversation case's turns, per sample ({} for any other case)
    if as_json:
        status = stored.verdict.status if stored else "NOT RUN"
        shown = [{**trial_json(t), **_turns_json(turns.get(t.trial.sample))} for t in trials]
        return json.dumps({"goldenset": key[0], "case": key[1], "target": key[2], "run": run_id, "status": status,
                           "verdict": stored.verdict.to_json() if stored else None,
                           "trials": shown}, indent=1, ensure_ascii=False, default=str)
    return "\n".join([_heading(key, stored, len(trials)),
                      *(line for t in trials for line in trial_lines(t, turns.get(t.trial.sample)))])


def _heading(key: CaseKey, stored: StoredVerdict | None, n: int) -> str:
    from goldband.report.escape import visible

    title = visible(f"{key[0]}::{key[1]}[{key[2]}]")
    if stored is None:
        return f"NOT RUN {title}  ({n} trials stored; the run stopped before this case was decided)"
    return f"{stored.verdict.status} {title}  {visible(stored.verdict.reason)}  ({n} trials)"


def trial_lines(st: ScoredTrial, turns: Sequence[Turn] | None = None) -> list[str]:
    """One trial in full: a header line, then its output (a conversation: each turn's user message and
    reply), tool calls, error and failed checks, indented."""
    from goldband.report.escape import visible
    from goldband.report.fmt import ms, rate

    trial = st.trial
    head = (f"  trial {trial.sample}  {st.outcome}  score {rate(st.score)}  latency {ms(trial.latency_ms)}"
            + ("  (replayed)" if trial.cached else ""))
    lines = ["", head, *(_conversation(turns) if turns else _reply(trial.output, trial.completion, INDENT))]
    if trial.error is not None:
        lines.append(f"{INDENT}! {visible(trial.error)}")
    lines += [f"{INDENT}x {visible(s.check)}: {visible(s.detail)}" for s in st.failed_checks]
    return lines


def _reply(output: str | None, completion: Completion | None, indent: str) -> list[str]:
    """A reply's text and tool calls, indented; control characters escaped."""
    from goldband.report.escape import visible, visible_lines

    lines = [indent + line for line in visible_lines(output).split("\n")] if output is not None else []
    calls = completion.tool_calls if completion else ()
    return lines + [f"{indent}tool call {visible(c.name)} {visible(_arguments(c.arguments))}" for c in calls]


def _conversation(turns: Sequence[Turn]) -> list[str]:
    """A conversation trial turn by turn: what the user said, then the model's own reply (or the error)."""
    from goldband.report.escape import visible, visible_lines
    from goldband.report.fmt import ms

    lines = []
    for turn in turns:
        said = next((m.get("content") for m in reversed(turn.messages) if m.get("role") == "user"), None)
        latency = ms(turn.completion.latency_ms if turn.completion else None)
        lines.append(f"{INDENT}turn {turn.index}  latency {latency}" + ("  (replayed)" if turn.cached else ""))
        if isinstance(said, str):
            lines += [f"{INDENT}  user: {line}" for line in visible_lines(said).split("\n")]
        lines += _reply(turn.output, turn.completion, INDENT + "  reply: ")
        if turn.error is not None:
            lines.append(f"{INDENT}  ! {visible(turn.error)}")
    return lines


def _turns_json(turns: Sequence[Turn] | None) -> dict[str, Any]:
    """``turns`` for a conversation trial's JSON: each turn's messages sent, reply and error."""
    if not turns:
        return {}
    return {"turns": [{"turn": t.index, "messages": t.messages, "cached": t.cached, "attempts": t.attempts,
                       "completion": t.completion.to_json() if t.completion else None, "error": t.error,
                       "error_kind": t.error_kind} for t in turns]}


def _arguments(value: object) -> str:
    """A tool call's arguments on one line: the JSON, or the raw text the model sent when not JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
