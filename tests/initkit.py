"""The model and judge replies `goldband init`'s starter project passes with, on a loopback FakeOpenAI.

Shared by tests/cli/test_init.py and .ci/wheel-smoke, which runs this file as a script with the
python of a fresh virtual environment (so ``goldband`` is the installed wheel, never src/):

    python tests/initkit.py       # prints the server's base URL, serves until SIGTERM or Ctrl-C
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading

from goldband.testing import FakeOpenAI

GRADE = 'Grade the block named "output"'  # only the judge's user message contains it (tests/judgekit.py)

ANSWERS = {  # the starter golden set's questions (goldband/cli/init_files/assistant.yaml) -> a good answer
    "How much does the Pro plan cost?": "The Pro plan costs $20 per user per month.",
    "Where is my data stored?": "Your data is stored in the EU, in Frankfurt.",
}


def judge_reply(score: int = 5) -> str:
    """A judge reply for the starter rubric (rubrics/helpfulness.yaml): every criterion at ``score``."""
    criteria = {name: {"reasoning": f"{name} is {score}", "score": score} for name in ("answers-question", "grounded")}
    return json.dumps({"criteria": criteria})


def serve(server: FakeOpenAI) -> FakeOpenAI:
    """Judge rule first (its user message also holds the case input), then one rule per question."""
    server.add_rule(contains=GRADE, replies=[judge_reply()])
    for question, answer in ANSWERS.items():
        server.add_rule(contains=f"Question: {question}", replies=[answer])
    return server


def project_env(url: str) -> dict[str, str]:
    """This environment without goldband settings or CI, pointed at the server (as a developer's shell)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDBAND_") and k != "CI"}
    return {**env, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-test"}


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve(FakeOpenAI()) as server:
        print(server.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


stop = threading.Event()

if __name__ == "__main__":
    main()
