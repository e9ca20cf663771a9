"""Targets built from the project configuration: prompt templates, rendering with the case named, content hashes."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from goldband._util import yamlio
from goldband.config.project import load_config
from goldband.engine.targets import Target, build_targets
from goldband.errors import ConfigError
from goldband.golden.goldenset import load as load_goldenset


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def targets(root: Path, yaml_text: str, prompts: dict[str, str] | None = None) -> dict[str, Target]:
    for name, text in (prompts or {}).items():
        write(root / name, text)
    config_file = write(root / "goldband.yaml", yaml_text)
    config, found = load_config(root)
    assert found == config_file
    return build_targets(config, root, yamlio.relative(found, root))  # as the harness does


def target_error(root: Path, yaml_text: str, prompts: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        targets(root, yaml_text, prompts)
    return str(info.value)


# --- targets: templates and rendering ------------------------------------------------------------

PROMPTED = """
    targets:
      support-v1:
        model: openai/gpt-4o-mini
        prompt: prompts/support.j2
        system: "You answer for {{ company }}."
        params: {temperature: 0.2}
      chat:
        model: openai/gpt-4o-mini
        messages:
          - {role: system, content: "You are terse."}
          - {role: user, content: "Customer {{ name }} asks: {{ question }}"}
      bare:
        model: openai/gpt-4o-mini
      app:
        callable: myapp.pipeline:answer
"""
PROMPT = """
    Question: {{ question }}
    {% if order is defined %}Order: {{ order }}{% endif %}
"""
CASE_WHERE = "goldensets/support.yaml:7: case 'refund'"


@pytest.fixture
def built(tmp_path: Path) -> dict[str, Target]:
    return targets(tmp_path, PROMPTED, {"prompts/support.j2": PROMPT})


def test_prompt_template_renders_with_system(built: dict[str, Target]) -> None:
    messages = built["support-v1"].render(
        {"question": "Refund?", "order": "A1", "company": "ACME"}, where=CASE_WHERE)
    assert messages == [
        {"role": "system", "content": "You answer for ACME."},
        {"role": "user", "content": "Question: Refund?\nOrder: A1"},
    ]


def test_inline_messages_templates(built: dict[str, Target]) -> None:
    messages = built["chat"].render({"name": "Bo", "question": "Refund?"}, where=CASE_WHERE)
    assert messages == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Customer Bo asks: Refund?"},
    ]


def test_inline_messages_get_the_system_message_unless_they_bring_one(tmp_path: Path) -> None:
    """``system:`` beside inline ``messages:`` was once dropped without a word."""
    found = targets(tmp_path, """
        targets:
          agent:
            model: openai/gpt-4o-mini
            system: "You work for {{ company }}."
            messages:
              - {role: user, content: "{{ question }}"}
    """)
    assert found["agent"].render({"company": "ACME", "question": "Refund?"}, where=CASE_WHERE) == [
        {"role": "system", "content": "You work for ACME."}, {"role": "user", "content": "Refund?"}]


def test_chat_message_input_gets_the_system_message(built: dict[str, Target]) -> None:
    chat = [{"role": "user", "content": "hi"}]
    assert built["bare"].render(chat, where=CASE_WHERE) == chat
    with_system = [{"role": "system", "content": "Mine."}, *chat]
    assert built["support-v1"].render(with_system, where=CASE_WHERE) == with_system


def test_chat_input_with_a_system_template_needing_variables(built: dict[str, Target]) -> None:
    with pytest.raises(ConfigError) as info:
        built["support-v1"].render([{"role": "user", "content": "hi"}], where=CASE_WHERE)
    message = str(info.value)
    assert message.startswith(
        f"{CASE_WHERE}: template system of target 'support-v1' needs a variable")
    assert "'company' is undefined" in message
    assert "expected input keys: (none)" in message


def test_undefined_variable_names_the_variable_and_the_case(built: dict[str, Target]) -> None:
    with pytest.raises(ConfigError) as info:
        built["support-v1"].render({"order": "A1", "company": "ACME"}, where=CASE_WHERE)
    message = str(info.value)
    assert message.startswith(
        f"{CASE_WHERE}: template prompts/support.j2 of target 'support-v1' needs a variable")
    assert "'question' is undefined" in message
    assert "expected input keys: company, order to cover the template" in message
    assert "fix: add the variable to the case's 'input'" in message


def test_undefined_variable_in_inline_messages(built: dict[str, Target]) -> None:
    expected = r"template messages of target 'chat' .* 'name' is undefined"
    with pytest.raises(ConfigError, match=expected):
        built["chat"].render({"question": "?"}, where=CASE_WHERE)


def test_attribute_of_a_variable_is_strict_too(tmp_path: Path) -> None:
    built = targets(tmp_path, "targets:\n  t:\n    model: m\n    prompt: p.j2\n",
                    {"p.j2": "{{ order.id }}"})
    assert built["t"].render({"order": {"id": 7}}, where=CASE_WHERE)[0]["content"] == "7"
    with pytest.raises(ConfigError, match="has no attribute 'id'"):
        built["t"].render({"order": {}}, where=CASE_WHERE)


def test_template_variables_are_not_html_escaped(tmp_path: Path) -> None:
    config = "targets:\n  t:\n    model: m\n    prompt: p.j2\n"
    built = targets(tmp_path, config, {"p.j2": "{{ q }}"})
    assert built["t"].render({"q": "<b>&</b>"}, where=CASE_WHERE)[0]["content"] == "<b>&</b>"


def test_a_target_without_prompt_needs_chat_input(built: dict[str, Target]) -> None:
    with pytest.raises(ConfigError) as info:
        built["bare"].render({"question": "x"}, where=CASE_WHERE)
    message = str(info.value)
    assert message.startswith(f"{CASE_WHERE}: this target has no prompt template")
    assert "fix: give target 'bare' a 'prompt:' template file" in message


def test_rendering_a_loaded_case_names_its_file_and_line(
    tmp_path: Path, built: dict[str, Target]
) -> None:
    path = write(tmp_path / "goldensets" / "support.yaml", """
        name: support
        version: 1
        cases:
          - id: ok
            input: {question: "Refund?", company: ACME}
          - id: no-question
            input: {company: ACME}
    """)
    ok, bad = load_goldenset(path, base_dir=tmp_path).cases
    assert built["support-v1"].render(ok.input, where=f"{ok.where}: case '{ok.id}'")
    with pytest.raises(ConfigError) as info:
        built["support-v1"].render(bad.input, where=f"{bad.where}: case '{bad.id}'")
    assert str(info.value).startswith("goldensets/support.yaml:6: case 'no-question': template ")


def test_callable_target(built: dict[str, Target]) -> None:
    assert built["app"].is_callable
    assert not built["support-v1"].is_callable


@pytest.mark.parametrize(
    ("yaml_text", "prompts", "detail"),
    [
        ("targets:\n  t:\n    model: m\n    prompt: p.j2\n", {"p.j2": "line one\n{{ q \n"},
         "template syntax error in p.j2 line 2"),
        ("targets:\n  t:\n    model: m\n    prompt: p.j2\n", {"p.j2": "{% if x %}open"},
         "template syntax error in p.j2 line 1"),
        ("targets:\n  t:\n    model: m\n    messages: [{role: user, content: '{{ a }'}]\n", {},
         "template syntax error in messages[0] line 1"),
        ("targets:\n  t:\n    model: m\n    system: '{% endfor %}'\n", {},
         "template syntax error in system line 1"),
    ],
)
def test_template_syntax_errors_surface_at_build(
    tmp_path: Path, yaml_text: str, prompts: dict[str, str], detail: str
) -> None:
    message = target_error(tmp_path, yaml_text, prompts)
    assert message.startswith(f"goldband.yaml: target 't': {detail}: ")
    assert "fix: correct the Jinja2 syntax" in message


def test_missing_prompt_file(tmp_path: Path) -> None:
    message = target_error(tmp_path, "targets:\n  t:\n    model: m\n    prompt: prompts/nope.j2\n")
    assert message.startswith("goldband.yaml: target 't': cannot read prompt template")
    assert "prompts/nope.j2: No such file or directory" in message
    assert "fix: check the 'prompt:' path (relative to the project root)" in message


# --- target content hashes -----------------------------------------------------------------------

BASE_TARGET: dict[str, Any] = {
    "model": "openai/gpt-4o-mini",
    "prompt": "p.j2",
    "params": {"temperature": 0.2, "seed": 7},
    "api_base": "http://127.0.0.1:8000/v1",
}


def target_hash(root: Path, prompt: str = "Q: {{ q }}", **changes: Any) -> str:
    spec = {**BASE_TARGET, **changes}
    lines = ["targets:", "  t:"] + [f"    {k}: {v!r}" if isinstance(v, str) else f"    {k}: {v}"
                                    for k, v in spec.items() if v is not None]
    built = targets(root, "\n".join(lines) + "\n", {"p.j2": prompt})
    digest = built["t"].content_hash
    assert digest.startswith("sha256:")
    return digest


def test_target_hash_is_stable(tmp_path: Path) -> None:
    assert target_hash(tmp_path) == target_hash(tmp_path)


def test_target_hash_changes_with_the_prompt_text(tmp_path: Path) -> None:
    assert target_hash(tmp_path, prompt="Question: {{ q }}") != target_hash(tmp_path)


def test_target_hash_changes_with_params_and_model(tmp_path: Path) -> None:
    base = target_hash(tmp_path)
    assert target_hash(tmp_path, params={"temperature": 0.3, "seed": 7}) != base
    assert target_hash(tmp_path, params={"temperature": 0.2}) != base
    assert target_hash(tmp_path, model="openai/gpt-4o") != base
    assert target_hash(tmp_path, system="Be brief.") != base


def test_target_hash_ignores_param_order(tmp_path: Path) -> None:
    assert target_hash(tmp_path, params={"seed": 7, "temperature": 0.2}) == target_hash(tmp_path)


def test_target_hash_ignores_where_and_how_the_model_is_reached(tmp_path: Path) -> None:
    base = target_hash(tmp_path)
    assert target_hash(tmp_path, api_base="http://10.0.0.5:9000/v1") == base
    assert target_hash(tmp_path, api_base=None) == base
    assert target_hash(tmp_path, api_key_env="OTHER_KEY", timeout_s=5) == base


def test_inline_messages_hash_changes_with_their_text(tmp_path: Path) -> None:
    def digest(content: str) -> str:
        messages = f"[{{role: user, content: '{content}'}}]"
        built = targets(tmp_path, f"targets:\n  t:\n    model: m\n    messages: {messages}\n")
        return built["t"].content_hash

    assert digest("Hi {{ q }}") == digest("Hi {{ q }}")
    assert digest("Hi {{ q }}") != digest("Hello {{ q }}")
