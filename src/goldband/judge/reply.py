"""The judge's reply: a pydantic model per rubric, its JSON Schema, and a strict parse.

The reply names every criterion exactly once, each with a short reasoning written
*before* its score (the schema's property order, which structured-output decoders
follow, so the judge reasons first)::

    {"criteria": {"follows-policy": {"reasoning": "...", "score": 4}, ...}}

Parsing fails closed: no JSON, a missing or unknown criterion, a score that is not
one of the scale's integers (``4.5``, ``"4"``, ``true``, ``7``), a cut-off reply or a
refusal raise ``ReplyError``, which the caller turns into an *error* score that
keeps the raw reply as evidence. ``validate`` does this for any reply model (the
pairwise reply too); ``response_format`` asks the provider for that model's schema.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema, create_model

from goldband.errors import ReplyError
from goldband.judge.rubric import Rubric

M = TypeVar("M", bound=BaseModel)

_REFUSAL = re.compile(r"\b(I can(?:no|')t|I'm (?:not able|unable)|I am (?:not able|unable)|I won't|I will not|"
                      r"cannot (?:help|assist|comply|evaluate|grade|score))\b", re.IGNORECASE)


@dataclass(frozen=True)
class CriterionScore:
    name: str
    score: int
    reasoning: str


@dataclass(frozen=True)
class JudgeReply:
    criteria: tuple[CriterionScore, ...]

    def by_name(self) -> dict[str, CriterionScore]:
        return {c.name: c for c in self.criteria}


def _integer(value: Any) -> Any:
    """Accept 4 and 4.0; reject 4.5, "4" and true (a bool is an int to Python, not to us)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a score must be an integer, found {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"a score must be an integer level, found {value!r}")
    return int(value)


def _on_scale(levels: tuple[int, ...]) -> Any:
    def check(value: int) -> int:
        if value not in levels:
            raise ValueError(f"score {value} is outside the scale {levels[0]}-{levels[-1]}")
        return value
    return check


@cache
def reply_model(names: tuple[str, ...], levels: tuple[int, ...]) -> type[BaseModel]:
    """The reply model for a rubric's criteria and scale (built once per shape)."""
    forbid = ConfigDict(extra="forbid")
    score = Annotated[int, BeforeValidator(_on_scale(levels)), BeforeValidator(_integer),
                      WithJsonSchema({"type": "integer", "enum": list(levels)})]
    criterion = create_model("CriterionReply", __config__=forbid, reasoning=(str, ...), score=(score, ...))
    fields: dict[str, Any] = {f"c{i}": (criterion, Field(alias=name)) for i, name in enumerate(names)}
    criteria = create_model("CriteriaReply", __config__=forbid, **fields)
    return create_model("JudgeReply", __config__=forbid, criteria=(criteria, ...))


def model_for(rubric: Rubric) -> type[BaseModel]:
    return reply_model(tuple(c.name for c in rubric.criteria), tuple(rubric.levels))


def response_format(model: type[BaseModel], name: str, kind: str) -> dict[str, Any]:
    """The ``response_format`` request parameter for ``json_schema`` (the reply model's JSON Schema,
    in the strict subset OpenAI's structured outputs accept) or ``json_object``."""
    if kind == "json_object":
        return {"type": "json_object"}
    schema = _strip_titles(model.model_json_schema(by_alias=True))
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def validate(model: type[M], text: str | None, finish_reason: str | None = None) -> M:
    """A reply as ``model``: the whole text, else its last JSON object; ReplyError on anything else."""
    if finish_reason == "length":
        raise ReplyError("truncated", "the judge's reply was cut off at its token limit (finish_reason=length); "
                         "raise the judge's max_tokens")
    if finish_reason == "content_filter":
        raise ReplyError("refusal", "the provider's content filter stopped the judge's reply")
    data = extract_json(text or "")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        if _is_json(text or ""):
            raise ReplyError("invalid", "the judge's reply does not fit the rubric: " + _first_error(exc)) from None
        raise ReplyError("unparseable", "the judge's reply is not one JSON object, and the last object in it does "
                         "not fit the rubric (" + _first_error(exc) + ")") from None


def parse_reply(text: str | None, rubric: Rubric, finish_reason: str | None = None) -> JudgeReply:
    """Validate a reply against the rubric's model; ReplyError on anything else."""
    dumped = validate(model_for(rubric), text, finish_reason).model_dump(by_alias=True)["criteria"]
    return JudgeReply(tuple(CriterionScore(c.name, dumped[c.name]["score"], dumped[c.name]["reasoning"])
                            for c in rubric.criteria))


def extract_json(text: str) -> Any:
    """The whole reply as JSON; else the last JSON object in it (prose or a code fence
    around it is tolerated, nothing else is). ReplyError when there is none."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    found = last_object(stripped)
    if found is not None:
        return found
    if not stripped:
        raise ReplyError("unparseable", "the judge's reply is empty")
    if _REFUSAL.search(stripped):
        raise ReplyError("refusal", "the judge refused to grade (its reply has no JSON and reads as a refusal)")
    raise ReplyError("unparseable", "the judge's reply contains no JSON object")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def last_object(text: str) -> dict[str, Any] | None:
    """The last top-level JSON object in ``text`` (objects nested in it are skipped)."""
    decoder = json.JSONDecoder()
    found: dict[str, Any] | None = None
    i = text.find("{")
    while i != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        if isinstance(value, dict):
            found = value
        i = text.find("{", end)
    return found


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"missing {loc}"
    if err["type"] == "extra_forbidden":
        return f"unexpected key {loc}"
    return f"{loc}: {msg}" if loc else msg


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema
