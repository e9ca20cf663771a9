"""Which judge grades a rubric, and its identity: goldband.yaml's judge with the rubric's overrides.

The judge's identity (its hash) covers the model, its params and the reply format,
not transport settings (timeouts, retries, the API base), so moving a judge behind
another proxy does not invalidate its calibration or its cached judgements.
"""

from __future__ import annotations

from typing import Any

from goldband._util.hashing import canonical_hash
from goldband.config.project import JudgeConfig
from goldband.judge.rubric import Rubric


def resolve_endpoint(config: JudgeConfig | None, rubric: Rubric) -> JudgeConfig:
    base = config or JudgeConfig()
    override = rubric.judge
    if override is None:
        return base
    update = {name: getattr(override, name) for name in override.model_fields_set if name != "params"}
    if "params" in override.model_fields_set:
        update["params"] = {**base.params, **override.params}
    return base.model_copy(update={k: v for k, v in update.items() if v is not None})


def judge_hash(endpoint: JudgeConfig) -> str:
    """The judge's identity: model, params and reply format (not transport settings)."""
    return canonical_hash({"model": endpoint.model, "params": endpoint.params, "structured": endpoint.structured})


def rubric_identity(rubric: Rubric, config: JudgeConfig | None) -> dict[str, Any]:
    """What the store records about a rubric and the judge that scores with it
    (the keyword arguments of ``goldband.store.writer.insert_rubric``)."""
    endpoint = resolve_endpoint(config, rubric)
    return {"rubric_hash": rubric.content_hash, "name": rubric.name, "version": rubric.version,
            "body": rubric.body, "judge_hash": judge_hash(endpoint), "judge_model": endpoint.model,
            "judge_params": dict(endpoint.params)}
