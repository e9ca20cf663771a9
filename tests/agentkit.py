"""A tool-calling agent project for tests: a system prompt and a templated user message, tools offered,
and a loopback ``FakeOpenAI`` that answers with a tool call most of the time.

Used where a test needs what a real agent run stores and reports: rendered messages,
tool definitions, tool calls with arguments, identical outputs across samples.
"""

from __future__ import annotations

from pathlib import Path

from goldband.testing import FakeOpenAI, Reply

KEY_ENV, KEY = "GB_AGENT_KEY", "sk-agent-SECRET-4242"
SYSTEM = "You are the support agent of {{ shop }}. Look orders up with the lookup_order tool."
PROMPT = "Where is my order {{ order }}?"
TOOLS = """\
      tools:
        - type: function
          function:
            name: lookup_order
            description: Find an order by its id
            parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
"""
CALL = {"name": "lookup_order", "arguments": {"order_id": "A-17", "include": ["status", "eta"]}}


def project(root: Path, url: str, *, runs: int = 4, targets: tuple[str, ...] = ("agent",)) -> Path:
    """``orders`` v2: two cases (orders A-17 and B-2) on ``targets``, each a copy of one agent target
    (same template, tools and model; the temperature differs, so their trials send equal messages)."""
    (root / "goldensets").mkdir(parents=True, exist_ok=True)
    (root / "order.j2").write_text(PROMPT)
    body = "".join(
        f"  {name}:\n    model: openai/fake-model\n    prompt: order.j2\n    system: \"{SYSTEM}\"\n"
        f"    api_base: {url}\n    api_key_env: {KEY_ENV}\n    timeout_s: 5\n    max_retries: 0\n"
        f"    params:\n      temperature: {0.1 * i:.1f}\n{TOOLS}" for i, name in enumerate(targets))
    (root / "goldband.yaml").write_text(f"mode: live\nconcurrency: 4\ntargets:\n{body}")
    (root / "goldensets" / "orders.yaml").write_text(
        f"name: orders\nversion: 2\ndefaults:\n  runs: {runs}\ncases:\n"
        "  - id: where-is-a17\n    input: {shop: Acme Shoes, order: A-17}\n"
        "    checks:\n      - tool_call: {name: lookup_order, arguments: {order_id: A-17}}\n"
        "  - id: where-is-b2\n    input: {shop: Acme Shoes, order: B-2}\n"
        "    checks:\n      - contains: B-2\n")
    return root


def serve(server: FakeOpenAI) -> None:
    """Order A-17: three tool calls, then a refusal, over and over; order B-2: one plain answer."""
    server.add_rule(contains="A-17", replies=[Reply(tool_calls=[CALL])] * 3 + ["I cannot look that up."])
    server.add_rule(contains="B-2", replies=["Order B-2 ships tomorrow."])
