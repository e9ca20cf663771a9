"""Write the illustrative production traces of ``goldband monitor demo --llm`` (seeded: the same files every time).

A support assistant for a shoe shop, version 3. For its first 400 calls it answers from the policy; then
the provider silently updates the model behind the same version, and it starts refusing some questions,
quoting wrong policies and rambling. Users give a thumbs down to some bad answers, with a correction now and
then. Everything here is invented for the demo.

Run: ``python examples/llm/make_traces.py`` (writes support.traces.jsonl and support.feedback.jsonl beside it).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
TOPICS = [
    ("Can I return shoes after {n} days?", "Returns are accepted within 30 days of delivery; the label is free.",
     "Returns are accepted within 60 days, no questions asked.", "No: returns are accepted within 30 days of "
     "delivery."),
    ("How long does a refund take for order NW-{n}?", "Refunds reach the original payment method within 5-7 business "
     "days of the return arriving.", "Refunds usually take a month or so.", "Refunds take 5-7 business days."),
    ("Do I pay for shipping on an order of ${n}?", "Shipping is free on orders over $50; below that it costs $5.",
     "Shipping always costs $9.", "Free over $50, otherwise $5."),
    ("How fast is express shipping to zip {n}?", "Express shipping costs $15 and takes 1-2 business days.",
     "Express takes about a week.", "Express: $15, 1-2 business days."),
    ("Can I swap size {n} for a bigger one?", "Yes: exchanges are free; we send the new size once the old pair is "
     "scanned by the carrier.", "Exchanges cost $10 each.", "Exchanges are free."),
]
REFUSAL = "I'm sorry, but I can't help with that request."
RAMBLE = (" Let me also tell you about our loyalty programme, our newsletter, the care guide for leather and "
          "suede, and the seasonal sale that starts next month.")


def traces(rng: random.Random) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rows, feedback = [], []
    for i in range(700):
        version, changed = "3", i >= 400
        question, good, wrong, correction = rng.choice(TOPICS)
        answer = good
        if changed:
            roll = rng.random()
            answer = REFUSAL if roll < 0.25 else wrong if roll < 0.45 else good + RAMBLE if roll < 0.8 else good
        elif rng.random() < 0.03:
            answer = wrong
        tid = f"tr-{i:04d}"
        when = START + timedelta(minutes=7 * i)
        rows.append({"trace_id": tid, "time": when.isoformat().replace("+00:00", "Z"), "version": version,
                     "input": {"question": question.format(n=rng.randint(2, 9999))}, "output": answer,
                     "latency_ms": round(rng.uniform(400, 1600) * (1.4 if answer.endswith("month.") else 1), 1),
                     "input_tokens": rng.randint(60, 90), "output_tokens": len(answer) // 4,
                     "cost": round(rng.uniform(2e-4, 6e-4), 6), "model": "gpt-4o-mini", "finish_reason": "stop"})
        if answer in (wrong, REFUSAL) and rng.random() < 0.5:
            item: dict[str, object] = {"trace_id": tid, "thumbs": "down", "time": (when + timedelta(minutes=3))
                                       .isoformat().replace("+00:00", "Z")}
            if answer == wrong and rng.random() < 0.6:
                item["correction"] = correction
            feedback.append(item)
    return rows, feedback


def main() -> None:
    rows, feedback = traces(random.Random(10))
    for name, items in (("support.traces.jsonl", rows), ("support.feedback.jsonl", feedback)):
        (HERE / name).write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
        print(f"wrote {HERE / name} ({len(items)} lines)")


if __name__ == "__main__":
    main()
