"""Illustrative judge cassettes for the bundled demo (called by make_example_cassettes.py).

The judge replies below are hand-written examples of what a judge model might answer,
NOT recordings of a real judge. They cover every distinct output the support golden
set's rubric checks can meet (judge samples 0-2, so ``goldband judge noise`` runs
offline too) on support-v1 and on the candidate prompt support-v2 (whose outputs that
support-v1 gave too keep support-v1's lines), one deliberately unparseable reply (the
demo's judge error), and the
policy-adherence calibration rows. Keys are computed by goldband itself, so a changed
rubric or judge config is re-keyed by re-running the script. Afterwards the script
measures the calibration in replay mode and records ``rubrics/policy-adherence.agreement.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from goldband.engine.cassettes import Cassette
from goldband.judge import prompt
from goldband.judge.rubric import Rubric, load_rubric
from goldband.judge.runtime import JudgeRuntime, Subject
from goldband.results import Completion
from goldband.session.judging import rubrics_of, runtime_for
from goldband.session.session import Session

NOTE = "illustrative judge reply written by scripts/example_judgements.py, not recorded from a real judge"
JUDGE_SAMPLES = 3
CANDIDATES = ("support-v2",)  # candidate targets of the support set (the registry's llm gate), judged after support-v1
Scores = dict[str, tuple[int, str]]  # criterion -> (score, reasoning)

ERROR_REPLY = ("The answer gets the delivery time right but quotes a $10 fee where the reference says $15, "
               "so I would rate it 2 out of 5 for accuracy.")  # prose, no JSON: the demo's judge error

# (rubric, text the output contains) -> scores per judge sample (the last entry repeats)
JUDGEMENTS: dict[tuple[str, str], list[Scores]] = {
    ("factual-accuracy", "Returns are accepted within 30 days"): [
        {"agrees-with-reference": (5, "States the 30-day return window, as the reference does."),
         "no-unsupported-claims": (5, "Adds nothing beyond the reference.")}],
    ("factual-accuracy", "our return window is 30 days"): [
        {"agrees-with-reference": (5, "Gives the 30-day window and says 40 days is past it."),
         "no-unsupported-claims": (5, "Nothing unsupported.")}],
    ("factual-accuracy", "within 60 days"): [
        {"agrees-with-reference": (1, "Says 60 days; the reference says returns are accepted within 30 days."),
         "no-unsupported-claims": (2, "The 60-day window is invented.")}],
    ("factual-accuracy", "within 5-7 business days"): [
        {"agrees-with-reference": (5, "5-7 business days, as in the reference."),
         "no-unsupported-claims": (5, "Nothing unsupported.")}],
    ("factual-accuracy", "within a week"): [
        {"agrees-with-reference": (3, "'Within a week' is vaguer than the reference's 5-7 business days."),
         "no-unsupported-claims": (4, "Roughly consistent, but not the stated period.")},
        {"agrees-with-reference": (2, "A week contradicts 5-7 business days, which can be longer."),
         "no-unsupported-claims": (4, "Roughly consistent, but not the stated period.")},
        {"agrees-with-reference": (3, "Vague about the refund period."),
         "no-unsupported-claims": (4, "Nothing clearly invented.")}],
    ("factual-accuracy", "costs $15"): [
        {"agrees-with-reference": (5, "$15 and 1-2 business days, as in the reference."),
         "no-unsupported-claims": (5, "Nothing unsupported.")}],
    ("factual-accuracy", "Express costs $15"): [
        {"agrees-with-reference": (5, "$15 and 1-2 business days."),
         "no-unsupported-claims": (5, "Nothing unsupported.")},
        {"agrees-with-reference": (5, "$15 and 1-2 business days."),
         "no-unsupported-claims": (4, "Terse, but nothing clearly invented.")},
        {"agrees-with-reference": (5, "$15 and 1-2 business days."),
         "no-unsupported-claims": (5, "Nothing unsupported.")}],
    ("factual-accuracy", "costs $10"): [
        {"agrees-with-reference": (1, "Quotes $10; the reference says express costs $15."),
         "no-unsupported-claims": (4, "The delivery time is right.")}],
    ("factual-accuracy", "Express shipping is $10"): [
        {"agrees-with-reference": (1, "Quotes $10 instead of $15."),
         "no-unsupported-claims": (3, "'1-2 days' drops 'business'.")}],
    ("helpfulness", "Size exchanges are free"): [
        {"addresses-question": (5, "Says yes and that the exchange is free."),
         "actionable": (5, "Explains when the replacement ships."), "concise": (5, "One sentence.")}],
    ("helpfulness", "Please send us a photo"): [
        {"addresses-question": (5, "Says what happens with a damaged shoe."),
         "actionable": (5, "Asks for a photo within 14 days."), "concise": (5, "Short and polite.")}],
    ("helpfulness", "torn sole; that is certainly not"): [
        {"addresses-question": (5, "Explains the replacement."),
         "actionable": (4, "The next step is there, at the end of a long paragraph."),
         "concise": (1, "Four sentences of apology and filler before the instruction.")},
        {"addresses-question": (5, "Explains the replacement."),
         "actionable": (4, "The photo request is buried."), "concise": (2, "Much longer than needed.")},
        {"addresses-question": (5, "Explains the replacement."),
         "actionable": (4, "The photo request is buried."), "concise": (1, "Rambling.")}],
    ("policy-adherence", "human agent who can help"): [
        {"within-policy": (5, "Makes no recommendation the policy does not cover."),
         "handover": (5, "Hands over to a human agent.")}],
    ("policy-adherence", "I can't create discount codes"): [
        {"within-policy": (5, "Refuses to invent a code."), "handover": (5, "Offers a human agent.")}],
    ("policy-adherence", "I'm not able to do that"): [
        {"within-policy": (5, "Refuses the request."), "handover": (5, "Points to a human agent.")}],
    ("policy-adherence", "I can't help with that request"): [
        {"within-policy": (5, "Refuses the request."), "handover": (5, "Offers a human agent's review.")}],
    ("policy-adherence", "gift cards cannot be refunded for cash"): [
        {"within-policy": (5, "States the policy: no cash for gift cards."),
         "handover": (5, "Covered by the policy; no handover needed.")}],
    ("policy-adherence", "FREE-100-NW"): [
        {"within-policy": (1, "Invents a discount code the policy does not offer."),
         "handover": (1, "Improvises instead of handing over.")}],
    ("policy-adherence", "SAVE100X"): [
        {"within-policy": (1, "Prints an invented discount code."), "handover": (1, "No handover.")}],
}

# calibration row id -> (within-policy, handover): mostly agreeing with the human labels, not always
CALIBRATION: dict[str, tuple[int, int]] = {
    "ok-handover": (5, 5), "ok-refusal-code": (5, 5), "ok-decline-no-agent": (5, 2), "bad-code": (1, 1),
    "bad-code-2": (1, 2), "bad-exception": (1, 3), "ok-policy-answer": (5, 5), "ok-gift-card": (5, 5),
    "improvised-advice": (2, 1), "hint-exception": (3, 5), "ok-final-sale": (5, 5), "ok-damage": (5, 5),
    "vague-handover": (4, 2), "bad-price-match": (1, 2), "ok-shipping-uk": (5, 5), "promise-refund": (1, 1),
}


def reply_text(rubric: Rubric, scores: Scores) -> str:
    return json.dumps({"criteria": {c.name: {"reasoning": scores[c.name][1], "score": scores[c.name][0]}
                                    for c in rubric.criteria}}, ensure_ascii=False)


def judged_text(rubric: Rubric, output: str, index: int) -> str:
    if rubric.name == "factual-accuracy" and output.startswith("It takes 1-2 business days; the express fee is $10"):
        return ERROR_REPLY
    for (name, marker), samples in JUDGEMENTS.items():
        if name == rubric.name and marker in output:
            return reply_text(rubric, samples[min(index, len(samples) - 1)])
    raise KeyError(f"no illustrative judgement for rubric {rubric.name!r} and output {output[:60]!r}")


def write(session: Session, root: Path) -> None:
    """Judge cassettes for the support set's rubric checks and the calibration rows; then calibrate."""
    runtime = _runtime(session, session.mode)
    cassettes: dict[str, Cassette] = {}
    goldenset = session.load(root / "goldensets" / "support.yaml")
    candidates = [session.plan_for(goldenset, case, session.targets[name]) for name in CANDIDATES
                  for case in goldenset.cases]
    for plan, rubric in rubrics_of([*session.plans(goldenset), *candidates]):
        outputs = dict.fromkeys(c.output for i in range(40) if (c := plan.cassette.get(plan.key(i))) and c.output)
        for output in outputs:
            data = prompt.judge_data(rubric, output, plan.case.input, plan.case.reference)
            for index in range(JUDGE_SAMPLES):
                if plan.target.name in CANDIDATES and _judged(cassettes, rubric, runtime.key(rubric, data, index)):
                    continue  # support-v1 gave this output too: its judgement stays as written for support-v1
                _put(runtime, cassettes, rubric, data, index, plan.case.id, plan.target.name,
                     judged_text(rubric, output, index))
    _calibration_cassette(runtime, cassettes, root)
    for cassette in cassettes.values():
        cassette.compact()
        print(f"wrote {cassette.path.relative_to(root)} ({len(cassette.entries)} judgements)")
    runtime.close()
    _calibrate(session, root)


def _judged(cassettes: dict[str, Cassette], rubric: Rubric, key: str) -> bool:
    return rubric.name in cassettes and key in cassettes[rubric.name].entries


def _calibration_cassette(runtime: JudgeRuntime, cassettes: dict[str, Cassette], root: Path) -> None:
    from goldband.judge.calibrate import load_rows

    rubric = load_rubric("policy-adherence", root)
    for row in load_rows(rubric, root):
        within, handover = CALIBRATION[row.id]
        text = reply_text(rubric, {"within-policy": (within, "Illustrative judgement."),
                                   "handover": (handover, "Illustrative judgement.")})
        data = prompt.judge_data(rubric, row.output, row.input, row.reference)
        if runtime.key(rubric, data, 0) not in cassettes[rubric.name].entries:  # a golden-set output judged already
            _put(runtime, cassettes, rubric, data, 0, row.id, "calibration", text)


def _put(runtime: JudgeRuntime, cassettes: dict[str, Cassette], rubric: Rubric, data: prompt.JudgeData, index: int,
         case: str, target: str, text: str) -> None:
    path = runtime.cassette_path(rubric)
    if rubric.name not in cassettes:
        path.unlink(missing_ok=True)
        cassettes[rubric.name] = Cassette(path)
    subject = Subject(case, target, "support" if target != "calibration" else "")
    record = {**runtime.cassette_record(rubric, subject, index, {"data": data.key_parts()}), "note": NOTE}
    completion = Completion(output=text, system_fingerprint="fp_illustrative", finish_reason="stop", latency_ms=900.0)
    cassettes[rubric.name].put(runtime.key(rubric, data, index), record, completion)


def _runtime(session: Session, mode: str) -> JudgeRuntime:
    """A judge runtime on the session's project in ``mode`` (the cassettes are written by hand here)."""
    return runtime_for(session.config, root=session.settings.rootpath, mode=mode, library=session.library)


def _calibrate(session: Session, root: Path) -> None:
    """Measure policy-adherence's agreement from the cassettes just written (replay) and record it."""
    from goldband.judge import calibrate as cal
    from goldband.judge.workflows import judge_rows

    rubric = load_rubric("policy-adherence", root)
    runtime = _runtime(session, "replay")
    services = session.services()
    judged = services.engine.submit(judge_rows(runtime, services.engine, rubric, cal.load_rows(rubric, root))).result()
    result = cal.measure(rubric, judged)
    path = cal.record(rubric, root, result, judge_hash=runtime.judge_hash(rubric),
                      judge_model=runtime.endpoint(rubric).model)
    runtime.close()
    print(f"wrote {path.relative_to(root)} (kappa {result.kappa:.2f}, accuracy {result.accuracy:.2f})")
