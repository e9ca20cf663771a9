"""A case that does not give a variable its target's template needs: the error names what is missing.

Rendered through real targets built from a goldband.yaml (as the session does), so the message is
the one a user sees: the template, the target, the case, the missing variables and the given ones.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from goldband._util import yamlio
from goldband.config.project import load_config
from goldband.engine.targets import Target, build_targets
from goldband.engine.templates import PromptsFolder, needed, render
from goldband.errors import ConfigError

CASE = "goldensets/translate.yaml:7: case 'greeting'"
CONFIG = """
targets:
  translator:
    model: openai/gpt-4o-mini
    prompt: prompts/translate.j2
"""
PROMPT = """{% include 'style.j2' %}
Translate into {{ language }}{% if register is defined %} ({{ register }}){% endif %}:
{{ input }}
"""


def build(root: Path, prompt: str = PROMPT) -> Target:
    (root / "prompts").mkdir()
    (root / "prompts" / "translate.j2").write_text(prompt, encoding="utf-8")
    (root / "prompts" / "style.j2").write_text("Use a {{ tone }} tone.", encoding="utf-8")
    (root / "goldband.yaml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    config, found = load_config(root)
    return build_targets(config, root, yamlio.relative(found, root))["translator"]


def render_error(target: Target, variables: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        target.render(variables, where=CASE)
    return str(info.value)


def test_names_the_missing_variables_and_the_given_ones(tmp_path: Path) -> None:
    message = render_error(build(tmp_path), {"input": "Good morning", "tone": "warm"})
    assert message == (
        f"{CASE}: template prompts/translate.j2 of target 'translator' needs a variable the case does not give: "
        "language (the template reads input, language, register, tone; the case gives input, tone); "
        "fix: add language to the case's 'input', or remove it from the template")


def test_several_missing_including_one_read_by_an_included_file(tmp_path: Path) -> None:
    message = render_error(build(tmp_path), {"input": "Good morning"})
    assert "needs variables the case does not give: language, tone (" in message
    assert "the case gives input)" in message
    assert "fix: add language, tone to the case's 'input', or remove them from the template" in message


def test_a_guarded_variable_is_never_called_missing(tmp_path: Path) -> None:
    target = build(tmp_path)
    assert target.render({"input": "Hi", "tone": "dry", "language": "French"}, where=CASE)  # no register: fine
    message = render_error(target, {"tone": "dry", "language": "French"})
    assert "does not give: input (" in message and "register" not in message.split("(the template")[0]


def test_a_case_giving_nothing_says_so(tmp_path: Path) -> None:
    assert "the case gives nothing)" in render_error(build(tmp_path), {})


def test_a_missing_attribute_of_a_given_variable_keeps_jinjas_words(tmp_path: Path) -> None:
    """Every variable is given, one lacks a field: Jinja2's message names it, and the case's keys are listed."""
    target = build(tmp_path, "{{ order.id }} for {{ order.customer }}")
    message = render_error(target, {"order": {"id": 7}})
    assert "'dict object' has no attribute 'customer'" in message
    assert message.startswith(f"{CASE}: template prompts/translate.j2 of target 'translator' needs a variable")


def test_needed_reads_includes_and_ignores_what_the_template_sets() -> None:
    folder = PromptsFolder("prompts/", (("part.j2", "{{ b }}{% for i in range(2) %}{{ i }}{% endfor %}"),))
    reads, guarded = needed(folder, "{% set a = 1 %}{{ a }}{{ c | default('x') }}{% include 'part.j2' %}")
    assert (reads, guarded) == ({"b", "c"}, {"c"})


def test_render_alone_raises_without_a_where() -> None:
    with pytest.raises(ConfigError) as info:
        render(PromptsFolder("prompts/"), "{{ q }}", {})
    assert info.value.where is None and info.value.what.startswith("needs a variable the case does not give: q")
