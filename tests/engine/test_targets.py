"""Targets built from the project configuration: prompt templates, rendering with the case named, content hashes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from goldband._util import yamlio
from goldband.config.project import load_config
from goldband.engine import templates
from goldband.engine.targets import Target, build_targets, stored_target, target_record
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
    assert "needs a variable the case does not give: company (the template reads company; the case gives nothing)" \
        in message


def test_undefined_variable_names_the_variable_and_the_case(built: dict[str, Target]) -> None:
    with pytest.raises(ConfigError) as info:
        built["support-v1"].render({"order": "A1", "company": "ACME"}, where=CASE_WHERE)
    message = str(info.value)
    assert message.startswith(
        f"{CASE_WHERE}: template prompts/support.j2 of target 'support-v1' needs a variable")
    assert "the case does not give: question (the template reads order, question; the case gives company, order)" \
        in message
    assert "fix: add question to the case's 'input', or remove it from the template" in message


def test_undefined_variable_in_inline_messages(built: dict[str, Target]) -> None:
    expected = r"template messages\[1\] of target 'chat' needs a variable the case does not give: name \("
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


# --- sandboxed templates: includes from the prompts folder, limits named with the case -----------

INCLUDING = "targets:\n  t:\n    model: m\n    prompt: prompts/main.j2\n"


def test_a_prompt_includes_files_from_its_folder(tmp_path: Path) -> None:
    built = targets(tmp_path, INCLUDING, {"prompts/main.j2": "{% include 'parts/intro.j2' %} {{ q }}",
                                          "prompts/parts/intro.j2": "You help {{ company }}."})
    assert built["t"].render({"q": "Refund?", "company": "ACME"}, where=CASE_WHERE) == [
        {"role": "user", "content": "You help ACME. Refund?"}]


def test_inline_templates_include_from_the_prompts_folder(tmp_path: Path) -> None:
    built = targets(tmp_path, "targets:\n  t:\n    model: m\n    system: \"{% include 'rules.j2' %}\"\n"
                              "    messages: [{role: user, content: '{{ q }}'}]\n",
                    {"prompts/rules.j2": "Be terse."})
    assert built["t"].render({"q": "hi"}, where=CASE_WHERE)[0] == {"role": "system", "content": "Be terse."}


@pytest.mark.parametrize(("include", "why"), [
    ("/etc/passwd", "an absolute path: templates may include only files inside their prompts folder"),
    ("../goldband.yaml", "a path with '..': templates may include only files inside their prompts folder"),
])
def test_a_literal_include_out_of_the_folder_is_refused_when_the_target_is_built(
    tmp_path: Path, include: str, why: str
) -> None:
    message = target_error(tmp_path, INCLUDING, {"prompts/main.j2": f"{{% include '{include}' %}}"})
    assert message == (f"goldband.yaml: target 't': template prompts/main.j2 includes '{include}', {why}; "
                       "fix: put the file inside prompts/ and name it relative to that folder")


def test_a_computed_include_out_of_the_folder_is_refused_naming_the_case(tmp_path: Path) -> None:
    built = targets(tmp_path, INCLUDING, {"prompts/main.j2": "{% include doc %}"})
    with pytest.raises(ConfigError) as info:
        built["t"].render({"doc": "/etc/passwd"}, where=CASE_WHERE)
    assert str(info.value).startswith(
        f"{CASE_WHERE}: template prompts/main.j2 of target 't' includes '/etc/passwd', an absolute path")
    with pytest.raises(ConfigError) as info:
        built["t"].render({"doc": "elsewhere.j2"}, where=CASE_WHERE)
    assert str(info.value) == (f"{CASE_WHERE}: template prompts/main.j2 of target 't' includes 'elsewhere.j2', "
                               "which is not in the prompts folder prompts/; "
                               "fix: put the file inside prompts/ and name it relative to that folder")


@pytest.mark.parametrize(("template", "what"), [
    ("{% for x in range(10**9) %}{% endfor %}", "calls range() with 1,000,000,000 items, over the limit of 10,000"),
    ("{{ 7*'x'*99999999 }}", "would build a value of 699,999,993 items with '*', over the limit of 5,000,000"),
    ("{% for i in range(10000) %}{{ text }}{% endfor %}", "renders more than 5,000,000 characters"),
])
def test_a_template_over_a_limit_is_refused_naming_template_case_and_limit(
    tmp_path: Path, template: str, what: str
) -> None:
    built = targets(tmp_path, INCLUDING, {"prompts/main.j2": template})
    with pytest.raises(ConfigError) as info:
        built["t"].render({"text": "x" * 1000}, where=CASE_WHERE)
    assert str(info.value).startswith(f"{CASE_WHERE}: template prompts/main.j2 of target 't' {what}; fix: ")
    assert "templates are sandboxed (README.md, 'Prompt templates')" in str(info.value)


def test_a_slow_template_is_refused_at_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "RENDER_TIMEOUT_S", 0.2)
    built = targets(tmp_path, INCLUDING, {
        "prompts/main.j2": "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"})
    with pytest.raises(ConfigError, match=r"of target 't' took more than 0\.2 s to render; fix: make the template"):
        built["t"].render({}, where=CASE_WHERE)


def test_a_template_error_of_python_is_a_located_config_error(tmp_path: Path) -> None:
    built = targets(tmp_path, INCLUDING, {"prompts/main.j2": "{{ 1 / n }}"})
    with pytest.raises(ConfigError) as info:
        built["t"].render({"n": 0}, where=CASE_WHERE)
    assert str(info.value) == (f"{CASE_WHERE}: template prompts/main.j2 of target 't' failed: "
                               "ZeroDivisionError: division by zero")


def test_the_hash_covers_included_files(tmp_path: Path) -> None:
    files = {"prompts/main.j2": "{% include 'part.j2' %}", "prompts/part.j2": "v1", "prompts/other.j2": "x"}
    before = targets(tmp_path, INCLUDING, files)["t"].content_hash
    assert targets(tmp_path, INCLUDING, {**files, "prompts/other.j2": "y"})["t"].content_hash == before
    assert targets(tmp_path, INCLUDING, {**files, "prompts/part.j2": "v2"})["t"].content_hash != before


def test_the_hash_of_a_target_without_includes_is_what_it_was(tmp_path: Path) -> None:
    """Stored results keep matching: the hash only gains the included files when there are some."""
    from goldband._util.hashing import canonical_hash

    built = targets(tmp_path, INCLUDING, {"prompts/main.j2": "Q: {{ q }}"})["t"]
    assert built.content_hash == canonical_hash({"model": "m", "prompt": "Q: {{ q }}", "system": None,
                                                 "messages": [], "params": {}})


def test_a_registered_target_keeps_its_included_files(tmp_path: Path) -> None:
    files = {"prompts/main.j2": "{% include 'part.j2' %} {{ q }}", "prompts/part.j2": "Hello"}
    built = targets(tmp_path, INCLUDING, files)["t"]
    record = json.loads(json.dumps(target_record(built)))  # as the registry stores it
    (tmp_path / "prompts" / "part.j2").write_text("Changed since", encoding="utf-8")
    again = stored_target("t", record, tmp_path, "registry")
    assert again.content_hash == built.content_hash
    assert again.render({"q": "?"}, where=CASE_WHERE)[0]["content"] == "Hello ?"


def test_a_run_with_a_runaway_template_is_a_collection_error_naming_the_case(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", goldband="targets:\n  t:\n    model: openai/x\n    prompt: prompts/p.j2\n")
    (pytester.path / "prompts").mkdir()
    (pytester.path / "prompts" / "p.j2").write_text("{% for x in range(10**9) %}{{ q }}{% endfor %}")
    pytester.mkdir("goldensets")
    (pytester.path / "goldensets" / "s.yaml").write_text(
        "name: s\nversion: 1\ncases:\n  - id: c1\n    input: {q: hi}\n")
    result = pytester.runpytest("-p", "no:randomly", "--goldband-mode", "replay")
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert ("goldensets/s.yaml:4: case 'c1': template prompts/p.j2 of target 't' calls range() with "
            "1,000,000,000 items, over the limit of 10,000") in out
    assert "Traceback" not in out and "templates.py" not in out
