"""Pairwise mode: which of two outputs for the same case better meets a rubric.

LLM judges prefer a position (often the first answer shown). Every comparison is
therefore judged twice, with the outputs' positions swapped, and only a verdict
that survives the swap counts: if the two orders disagree, the result is a *tie*
(flagged ``position_bias``), never a win. An error in either order is an error.

The judge names a position, ``"A"`` (shown first) or ``"B"``, or ``"tie"``::

    {"reasoning": "...", "winner": "A"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from goldband._util.hashing import canonical_hash
from goldband.judge import prompt, reply
from goldband.judge.rubric import Rubric
from goldband.judge.scoring import SampleResult

PAIRWISE_VERSION = 1
Position = Literal["A", "B", "tie"]
Winner = Literal["a", "b", "tie"]


class PairwiseReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reasoning: str
    winner: Position


@dataclass(frozen=True)
class PairwiseResult:
    winner: Winner | Literal["error"]
    rounds: tuple[Winner | None, Winner | None]  # what each order said, in terms of a and b
    position_bias: bool = False  # both orders named a winner, and they differ
    reasoning: tuple[str, ...] = ()
    error: str | None = None
    evidence: str | None = None


def in_terms_of_ab(position: Position, swapped: bool) -> Winner:
    """A position in one order -> the output it names (order 0 shows a first, order 1 shows b first)."""
    if position == "tie":
        return "tie"
    first_is_a = not swapped
    return "a" if (position == "A") == first_is_a else "b"


def combine_orders(first: Winner, second: Winner) -> tuple[Winner, bool]:
    """The verdict of both orders, and whether they showed position bias (two different winners)."""
    if first == second:
        return first, False
    return "tie", first != "tie" and second != "tie"


def result_of(samples: list[SampleResult]) -> PairwiseResult:
    """Two position-swapped samples (order 0, order 1) -> one result, errors fail closed."""
    failed = [s for s in samples if s.error is not None]
    rounds = tuple(in_terms_of_ab(s.reply.winner, s.index == 1) if s.error is None else None for s in samples)
    pair: tuple[Winner | None, Winner | None] = (rounds[0], rounds[1])
    if failed:
        return PairwiseResult("error", pair, error=failed[0].error, evidence=failed[0].evidence)
    winner, bias = combine_orders(rounds[0] or "tie", rounds[1] or "tie")
    return PairwiseResult(winner, pair, bias, tuple(s.reply.reasoning for s in samples))


def key(rubric_hash: str, judge_hash: str, data: dict[str, Any], order: int) -> str:
    return canonical_hash({"pairwise": PAIRWISE_VERSION, "judge": judge_hash, "rubric": rubric_hash, **data,
                           "order": order})


def messages(rubric: Rubric, case_input: str | None, reference: str | None, first: str, second: str,
             nonce: str) -> list[dict[str, str]]:
    system = "\n\n".join([
        "You are a careful, impartial grader. Compare two responses to the same input against the rubric "
        "below and decide which one meets it better overall. Judge content, not length or position: the order "
        "of the responses is random.",
        prompt.rubric_text(rubric),
        "# How to reply\nReply with exactly one JSON object and nothing else, in this shape:\n"
        '{"reasoning": "<two or three sentences>", "winner": "A" | "B" | "tie"}\n'
        'Write the reasoning first. "A" is the response shown first, "B" the one shown second; say "tie" when '
        "neither is better.",
        prompt.fence_rules(nonce)])
    blocks = [prompt.fence("input", case_input, nonce) if case_input is not None else None,
              prompt.fence("reference", reference, nonce) if reference is not None else None,
              prompt.fence("response A", first, nonce), prompt.fence("response B", second, nonce),
              'Compare the blocks named "response A" and "response B". Reply with the JSON object only.']
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(filter(None, blocks))}]


def validate(text: str | None, finish_reason: str | None = None) -> PairwiseReply:
    """A reply as a ``PairwiseReply`` (strictly, as rubric replies are); ReplyError otherwise."""
    return reply.validate(PairwiseReply, text, finish_reason)


def response_format(kind: str) -> dict[str, Any]:
    return reply.response_format(PairwiseReply, "pairwise_reply", kind)


def describe(result: PairwiseResult) -> str:
    if result.error is not None:
        return f"error: {result.error}"
    said = ", ".join(f"order {i + 1}: {w}" for i, w in enumerate(result.rounds))
    bias = " (position bias: each order preferred a different output)" if result.position_bias else ""
    return f"{result.winner}{bias} [{said}]"


def dumps(result: PairwiseResult) -> str:
    return json.dumps({"winner": result.winner, "rounds": list(result.rounds), "position_bias": result.position_bias,
                       "error": result.error}, ensure_ascii=False)
