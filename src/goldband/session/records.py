"""What a run stores about what produced its results: golden sets, cases, targets, rubrics.

Plain conversions from goldband's objects to store records; content hashes are
the keys, so an unchanged golden set or target is stored once across runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from goldband._util.hashing import canonical_hash
from goldband.engine.plan import CasePlan
from goldband.engine.targets import Target
from goldband.golden.goldenset import Case, GoldenSet
from goldband.store.models import Rendering
from goldband.store.writer import GoldenSetRecord, TargetRecord


def goldenset_record(goldenset: GoldenSet, shown_path: str, *, draft: bool = False) -> GoldenSetRecord:
    """``draft``: the golden set changed under its version and runs anyway (``goldband.golden.lock.Draft``)."""
    return GoldenSetRecord(goldenset.content_hash, goldenset.name, goldenset.version, shown_path,
                           [case_record(c) for c in goldenset.cases], draft=draft)


def case_record(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.id, "file": str(case.file), "line": case.line, "tags": list(case.tags),
        "input": case.input, "reference": case.reference, "provenance": case.provenance,
        "description": case.description, "checks": [c.describe() for c in case.checks],
        "runs": case.runs.max, "band": jsonable(case.band),
    }


def target_record(target: Target) -> TargetRecord:
    spec = target.spec
    prompt = target.prompt_text
    return TargetRecord(
        hash=target.content_hash, name=target.name, kind="callable" if target.is_callable else "model",
        model=spec.model, callable=spec.callable_, prompt_text=prompt,
        prompt_hash=canonical_hash(prompt) if prompt is not None else None, system=spec.system,
        messages=[m.model_dump() for m in spec.messages] if spec.messages else None, params=dict(spec.params),
    )


def rendering(plan: CasePlan) -> Rendering | None:
    """What the plan's trials send: its rendered messages and the target's tool definitions, under the
    hash of both (equal renderings, one row). None for a callable target, which is sent no messages.

    Only the request's content is kept: the key lives in the environment, never in messages or params.
    """
    if plan.messages is None:
        return None
    tools = plan.target.spec.params.get("tools")
    tools = list(tools) if isinstance(tools, list | tuple) else None
    return Rendering(canonical_hash({"messages": plan.messages, "tools": tools}), plan.messages, tools)


def jsonable(value: Any) -> Any:
    """Dataclasses and pydantic models as plain JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value
