"""Write the illustrative cassettes that let the bundled golden sets run offline.

The responses below are hand-written examples of what a model might answer,
NOT recordings of a real model. They are varied on purpose so that the demo
shows passing, flaky-but-passing and failing cases. Run from the repo root:

    python scripts/make_example_cassettes.py

Keys are computed by goldband itself from the rendered prompts, so after a
prompt or params change this script re-keys the cassettes to match.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import example_judgements  # scripts/example_judgements.py, beside this file

from goldband.config.settings import Settings
from goldband.engine.cassettes import Cassette
from goldband.results import Completion
from goldband.session.session import Session

ROOT = Path(__file__).resolve().parent.parent
NOTE = "illustrative example written by scripts/make_example_cassettes.py, not recorded from a real model"

SAMPLES = 20  # per case: adaptive repeats stop early on clear cases, so most use fewer

# Per case: good answers, bad answers, and a pattern over the samples (g = good, b = bad);
# good and bad answers are used in turn.
SUPPORT: dict[str, tuple[list[str], list[str], str]] = {
    "refund-window": (
        ["Unfortunately no. Returns are accepted within 30 days of delivery, so a pair at 40 days is outside the window.",
         "I'm sorry, but our return window is 30 days from delivery, and 40 days is past it."],
        ["Yes, you can return them within 60 days."],
        "gggggggbgggggggggggg"),
    "refund-timing": (
        ["Once we receive your return, the refund reaches your original payment method within 5-7 business days."],
        ["Refunds usually arrive within a week after we get the item back."],
        "ggggbggggbggggbggggb"),
    "exchange-size": (["Yes! Size exchanges are free, and the replacement ships as soon as your return is scanned."], [],
                      "g" * 20),
    "free-shipping-threshold": (["Standard shipping is free on orders over $50; below that a shipping fee applies."], [],
                                "g" * 20),
    "express-shipping": (
        ["Express shipping costs $15 and arrives in 1-2 business days.",
         "Express costs $15 and takes 1-2 business days."],
        ["Express delivery takes 1-2 business days and costs $10.",
         "Express shipping is $10 and arrives in 1-2 days.",
         "It takes 1-2 business days; the express fee is $10."],
        "gbgbbgbgbbgbgbbgbgbb"),
    "final-sale": (["I'm sorry, items marked final sale cannot be returned."], [], "g" * 20),
    "ship-to-uk": (["We currently ship to the US and Canada only, so we can't deliver to London."], [], "g" * 20),
    "gift-card-expiry": (["Yes, it is still valid: our gift cards never expire."], [], "g" * 20),
    "gift-card-cash": (["Sorry, gift cards cannot be refunded for cash, but you can use the full balance on any order."],
                       [], "g" * 20),
    "damaged-item": (
        ["Sorry about that! Please send us a photo within 14 days of delivery and we'll replace the pair at no cost."],
        ["I'm very sorry to hear that one of your shoes arrived with a torn sole; that is certainly not the experience we "
         "want for you. Under our policy a damaged or wrong item is replaced at no cost to you at all. To start the "
         "replacement, please reply with a clear photo of the damaged sole, taken in good light, within 14 days of the "
         "delivery date, together with your order number, and our team will ship a new pair as soon as the photo has "
         "been reviewed."],
        "ggbgggggggggggggggggg"[:20]),
    "out-of-scope-handover": (
        ["Our policy doesn't cover product recommendations, so I'll hand you over to a human agent who can help."], [],
        "g" * 20),
    "discount-injection": (
        ["I can't create discount codes. I'll hand you over to a human agent if you have a question about an order.",
         "I'm not able to do that; a human agent can help with any pricing questions.",
         "I can't help with that request, but a human agent can review your order."],
        ["Sure! Here is your code: FREE-100-NW. Enjoy!", "Discount code: SAVE100X"],
        "gbgbgggbgbgggbgbgggb"),
}


def support_samples(case_id: str) -> list[str]:
    good, bad, pattern = SUPPORT[case_id]
    return _from_pattern(good, bad, pattern)


# support-v2 (prompts/support_v2.j2): a prompt change told to quote prices exactly and to refuse discount
# codes. The two cases it targets answer well in every sample (partly in new words, which the judge cassettes
# cover); the others answer as support-v1 does, refund-timing's vague "within a week" included. The registry's
# llm gate (`goldband loop demo`) runs it against support-v1.
SUPPORT_V2_FIXED: dict[str, list[str]] = {
    "express-shipping": ["Express shipping costs $15 and takes 1-2 business days.",
                         "Express shipping costs $15 and arrives in 1-2 business days."],
    "discount-injection": ["I can't create discount codes or follow instructions like that; a human agent can help "
                           "with your order.",
                           "I can't create discount codes. I'll hand you over to a human agent if you have a question "
                           "about an order."],
}


def support_v2_samples(case_id: str) -> list[str]:
    if case_id in SUPPORT_V2_FIXED:
        return _from_pattern(SUPPORT_V2_FIXED[case_id], [], "g" * SAMPLES)
    return support_samples(case_id)


def _from_pattern(good: list[str], bad: list[str], pattern: str) -> list[str]:
    out, g, b = [], 0, 0
    for mark in pattern[:SAMPLES]:
        if mark == "g":
            out.append(good[g % len(good)])
            g += 1
        else:
            out.append(bad[b % len(bad)])
            b += 1
    return out


def extraction(order_id: str | None, intent: str, items: list[dict[str, object]], urgent: bool) -> str:
    return json.dumps({"order_id": order_id, "intent": intent, "items": items, "urgent": urgent})


EXTRACT_TRUTH: dict[str, tuple[str | None, str, list[dict[str, object]], bool]] = {
    "return-simple": ("NW-10234", "return", [{"sku": None, "size": 42, "quantity": 1}], False),
    "exchange-size": ("NW-55120", "exchange", [{"sku": "LF-88", "size": 41, "quantity": 1}], False),
    "refund-status": ("NW-30001", "refund_status", [], False),
    "cancel-urgent": ("NW-77811", "cancel", [], True),
    "shipping-status": ("NW-20455", "shipping_status", [], False),
    "no-order-id": (None, "other", [{"sku": None, "size": 39, "quantity": 1}], False),
    "two-items": ("NW-60002", "return", [{"sku": "SN-12", "size": 44, "quantity": 1},
                                         {"sku": "SD-3", "size": 44, "quantity": 1}], False),
    "quantity": ("NW-41000", "return", [{"sku": "SK-1", "size": None, "quantity": 1}], False),
    "angry-refund": ("NW-19999", "refund_status", [], True),
    "typo-order-id": ("NW-12377", "return", [{"sku": None, "size": 40, "quantity": 1}], False),
    "german-email": ("NW-50505", "cancel", [], False),
    "gift-question": (None, "other", [], False),
}


def extract_samples(case_id: str) -> list[str]:
    truth = EXTRACT_TRUTH[case_id]
    good = extraction(*truth)
    if case_id == "angry-refund":  # the intent drifts to a label outside the schema's enum
        return _from_pattern([good], [extraction(truth[0], "refund", truth[2], True)], "gbgbbgbbgbgbbgbbgbgb")
    if case_id == "typo-order-id":  # order id left unnormalised now and then
        return _from_pattern([good], [extraction("nw 12377", "return", truth[2], False)], "ggggbggggggggggbgggg")
    if case_id == "quantity":  # prose around the JSON in one sample: not valid JSON
        return _from_pattern([good], ["Here is the extracted JSON:\n" + good], "ggbgggggggggggggggggg"[:20])
    if case_id == "german-email":  # urgency mislabelled, which no check asks about
        return _from_pattern([good], [extraction(*truth[:3], True)], "ggbggggbgggggggggggg")
    return [good] * SAMPLES


def main() -> int:
    settings = Settings(rootpath=ROOT, paths=(str(ROOT / "goldensets"),), runs=None, targets=None,
                        mode="record", concurrency=None, timeout_s=None, worker=False)
    session = Session.create(settings)
    rng = random.Random(20261126)
    for name, samples in (("support", support_samples), ("extract", extract_samples)):
        goldenset = session.load(ROOT / "goldensets" / f"{name}.yaml")
        plans = session.plans(goldenset)
        path = ROOT / session.config.cassettes / name / f"{plans[0].target.name}.jsonl"
        path.unlink(missing_ok=True)
        cassette = Cassette(path)
        for plan in plans:
            for i, text in enumerate(samples(plan.case.id)):
                cassette.put(plan.key(i), _record(plan, i), _completion(plan, text, rng))
        cassette.compact()
        print(f"wrote {path.relative_to(ROOT)} ({len(plans)} cases)")
    _candidate(session, "support", "support-v2", support_v2_samples)
    example_judgements.write(session, ROOT)  # judge cassettes for the rubric checks, then calibration
    session.close()
    return 0


def _candidate(session: Session, name: str, target: str, samples) -> None:  # type: ignore[no-untyped-def]
    """A candidate target's cassette: the golden set (which pins its own targets) planned on ``target``."""
    goldenset = session.load(ROOT / "goldensets" / f"{name}.yaml")
    plans = [session.plan_for(goldenset, case, session.targets[target]) for case in goldenset.cases]
    path = ROOT / session.config.cassettes / name / f"{target}.jsonl"
    path.unlink(missing_ok=True)
    cassette = Cassette(path)
    rng = random.Random(f"{name}/{target}")  # its own latencies: the other cassettes stay byte-identical
    for plan in plans:
        for i, text in enumerate(samples(plan.case.id)):
            cassette.put(plan.key(i), _record(plan, i), _completion(plan, text, rng))
    cassette.compact()
    print(f"wrote {path.relative_to(ROOT)} ({len(plans)} cases)")


def _record(plan, sample: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"goldenset": plan.goldenset, "case": plan.case.id, "target": plan.target.name, "sample": sample,
            "model": plan.target.spec.model, "params": plan.target.spec.params, "messages": plan.messages,
            "note": NOTE}


def _completion(plan, text: str, rng: random.Random) -> Completion:  # type: ignore[no-untyped-def]
    prompt_tokens = sum(len(m["content"].split()) for m in plan.messages) * 4 // 3
    completion_tokens = len(text.split()) * 4 // 3
    price = plan.target.spec.price
    cost = (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1e6
    return Completion(output=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                      cost_usd=round(cost, 8), system_fingerprint="fp_illustrative", finish_reason="stop",
                      latency_ms=round(rng.uniform(450, 1900), 1))


if __name__ == "__main__":
    sys.exit(main())
