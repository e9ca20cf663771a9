"""The template sandbox: confined includes, bounded ranges and values, capped output, a render deadline."""

from __future__ import annotations

import time
from pathlib import Path

import jinja2
import pytest

from goldband.engine import templates
from goldband.engine.templates import PromptsFolder, render, snapshot
from goldband.errors import ConfigError

FOLDER = PromptsFolder("prompts/", (("greet.j2", "Hello {{ name }}"), ("parts/sig.j2", "-- {{ team }}")))


def refused(text: str, variables: dict[str, object] | None = None, folder: PromptsFolder = FOLDER) -> str:
    start = time.monotonic()
    with pytest.raises(ConfigError) as info:
        render(folder, text, variables or {})
    assert time.monotonic() - start < 1, "a limit must stop the template early"
    return info.value.what


# --- normal templates render as before -----------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Q: {{ q }}\n{% if order is defined %}Order: {{ order }}{% endif %}\n",
    "{% for x in items %}{{ loop.index }}/{{ loop.length }}:{{ x|upper }} {% endfor %}",
    "{{ range(3)|list }} {{ range(5)|length }} {{ range(10)[2:4]|list }} {{ 2 in range(3) }}",
    "{{ '{:>5}'.format(q) }} {{ '%05d'|format(3) }} {{ [1, 2] * 2 }} {{ 'a' ~ q ~ 'b' }} {{ 2 ** 64 }}",
    "{% macro m(x) %}<{{ x }}{{ caller() }}>{% endmacro %}{% call m(2) %}c{% endcall %}",
    "{% set ns = namespace(s='') %}{% for x in items %}{% set ns.s = ns.s + x %}{% endfor %}{{ ns.s }}",
    "{% set block %}{{ q }}!{% endset %}{{ block|center(9) }} {{ items|join(', ') }} {{ q|replace('e', 'E') }}",
    "{{ order.id }} {{ order['id'] }} {{ '<b>' }} {{ 'x'.ljust(3) }}|",
])
def test_normal_templates_render_exactly_as_an_unsandboxed_environment(text: str) -> None:
    variables = {"q": "see", "items": ["a", "b"], "order": {"id": 7}}
    plain = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    assert render(FOLDER, text, variables) == plain.from_string(text).render(**variables)


# --- includes stay inside the prompts folder -----------------------------------------------------

def test_includes_imports_and_extends_load_from_the_folder() -> None:
    folder = PromptsFolder("prompts/", (("base.j2", "[{% block body %}{% endblock %}]"),
                                        ("macros.j2", "{% macro shout(x) %}{{ x|upper }}!{% endmacro %}"),
                                        *FOLDER.files))
    text = ("{% extends 'base.j2' %}{% block body %}{% from 'macros.j2' import shout %}"
            "{% include 'greet.j2' %} {{ shout(name) }} {% include 'parts/sig.j2' %}{% endblock %}")
    assert render(folder, text, {"name": "Ada", "team": "ops"}) == "[Hello Ada ADA! -- ops]"


@pytest.mark.parametrize(("name", "why"), [
    ("/etc/passwd", "an absolute path"),
    ("C:/Windows/win.ini", "an absolute path"),
    ("../secrets.txt", "a path with '..'"),
    ("parts/../../x.j2", "a path with '..'"),
])
def test_includes_out_of_the_folder_are_refused(name: str, why: str) -> None:
    assert refused("{% include path %}", {"path": name}).startswith(f"includes '{name}', {why}")


def test_an_include_missing_from_the_folder_is_refused_by_name() -> None:
    with pytest.raises(jinja2.TemplateNotFound) as info:
        render(FOLDER, "{% include 'nope.j2' %}", {})
    assert templates.missing(info.value, "prompts/") == (
        "includes 'nope.j2', which is not in the prompts folder prompts/")
    with pytest.raises(jinja2.TemplatesNotFound) as many:
        render(FOLDER, "{% include ['a.j2', 'b.j2'] %}", {})
    assert templates.missing(many.value, "prompts/") == (
        "includes one of 'a.j2', 'b.j2', none of which is in the prompts folder prompts/")
    assert render(FOLDER, "a{% include 'nope.j2' ignore missing %}b", {}) == "ab"


def test_python_internals_stay_out_of_reach() -> None:
    with pytest.raises(jinja2.exceptions.SecurityError, match="unsafe"):
        render(FOLDER, "{{ ''.__class__.__mro__ }}", {})


# --- bounded work --------------------------------------------------------------------------------

def test_range_is_bounded() -> None:
    assert refused("{% for x in range(10**9) %}{% endfor %}") == (
        "calls range() with 1,000,000,000 items, over the limit of 10,000")
    assert "over the limit" in refused("{{ range(2**70)|length }}")
    assert render(FOLDER, "{{ range(10000)|length }}", {}) == "10000"


@pytest.mark.parametrize(("text", "how"), [
    ("{{ 7*'x'*99999999 }}", "'*'"),
    ("{{ [0] * 10**8 }}", "'*'"),
    ("{{ 'x'|center(10**9) }}", "the center filter"),
    ("{{ 'x'.ljust(10**9) }}", "str.ljust()"),
    ("{{ '{:>1000000000}'.format(1) }}", "str.format()"),
    ("{{ '%01000000000d' % 1 }}", "'%'"),
    ("{{ '%01000000000d'|format(1) }}", "the format filter"),
    ("{{ ('x' * 10000)|replace('', 'y' * 10000) }}", "the replace filter"),
    ("{{ ('x' * 4000000)|indent(4000000) }}", "the indent filter"),
    ("{{ lipsum(n=10**6) }}", "lipsum()"),
])
def test_a_value_over_the_limit_is_refused_before_it_is_built(text: str, how: str) -> None:
    assert refused(text).startswith("would build a value of ")
    assert refused(text).endswith(f"items with {how}, over the limit of 5,000,000")


@pytest.mark.parametrize(("text", "how"), [
    ("{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "'~'"),
    ("{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "'+'"),
])
def test_a_value_growing_over_the_limit_is_refused(text: str, how: str) -> None:
    assert refused(text) == f"builds a value of 8,388,608 items with {how}, over the limit of 5,000,000"


def test_blocks_are_joined_within_the_limit() -> None:
    text = "{% set b = 'x' * 1000000 %}{% set s %}{% for i in range(10000) %}{{ b }}{% endfor %}{% endset %}"
    assert refused(text) == ("would build a value of 10,000,000,000 items with a block's output, "
                             "over the limit of 5,000,000")


def test_all_that_one_render_builds_is_bounded() -> None:
    text = "{% set l = [] %}{% for i in range(10000) %}{% set _ = l.append('x' * 1000000) %}{% endfor %}"
    assert refused(text) == "builds more than 50,000,000 characters in one render"


def test_huge_powers_are_refused() -> None:
    assert refused("{{ 10 ** 10000000 }}").startswith("computes a number of about 10,000,000 digits with '**'")


def test_the_output_is_capped_as_it_is_rendered() -> None:
    text = "{% for i in range(10000) %}{% for j in range(10000) %}" + "x" * 60 + "{% endfor %}{% endfor %}"
    assert refused(text) == "renders more than 5,000,000 characters"


def test_a_slow_template_hits_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "RENDER_TIMEOUT_S", 0.2)
    text = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    assert refused(text) == "took more than 0.2 s to render"


def test_the_deadline_is_per_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "RENDER_TIMEOUT_S", 0.2)
    for _ in range(3):
        time.sleep(0.1)
        assert render(FOLDER, "{% for i in range(100) %}{% endfor %}ok", {}) == "ok"


# --- the folder snapshot -------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_snapshot_reads_what_is_named_literally_and_what_that_names(tmp_path: Path) -> None:
    write(tmp_path / "a.j2", "{% include 'b.j2' %}")
    write(tmp_path / "b.j2", "{% import 'parts/c.j2' as c %}")
    write(tmp_path / "parts" / "c.j2", "C")
    write(tmp_path / "unrelated.j2", "U")
    folder = snapshot(tmp_path, "prompts/", [("main", "{% include 'a.j2' %}{% include 'gone.j2' ignore missing %}")],
                      "goldband.yaml: target 't'")
    assert [name for name, _ in folder.files] == ["a.j2", "b.j2", "parts/c.j2"]


def test_snapshot_reads_the_whole_folder_for_a_computed_name(tmp_path: Path) -> None:
    write(tmp_path / "a.j2", "A")
    write(tmp_path / "sub" / "b.j2", "B")
    write(tmp_path / ".hidden" / "c.j2", "C")
    folder = snapshot(tmp_path, "prompts/", [("main", "{% include kind ~ '.j2' %}")], "here")
    assert [name for name, _ in folder.files] == ["a.j2", "sub/b.j2"]


@pytest.mark.parametrize(("text", "expected"), [
    ("{% include '/etc/passwd' %}", "template main includes '/etc/passwd', an absolute path"),
    ("{% include '../x.j2' %}", "template main includes '../x.j2', a path with '..'"),
    ("{% include 'missing.j2' %}", "template main includes 'missing.j2', which cannot be read from prompts/"),
    ("{% include 'bad.j2' %}", "template syntax error in bad.j2 line 1"),
])
def test_snapshot_errors_name_the_target_and_the_template(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path / "bad.j2", "{% if %}")
    with pytest.raises(ConfigError) as info:
        snapshot(tmp_path, "prompts/", [("main", text)], "goldband.yaml: target 't'")
    assert str(info.value).startswith(f"goldband.yaml: target 't': {expected}")


def test_snapshot_refuses_a_link_out_of_the_folder(tmp_path: Path) -> None:
    write(tmp_path / "outside.txt", "secret")
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "leak.j2").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(ConfigError, match=r"includes 'leak\.j2', a link to a file outside prompts/"):
        snapshot(prompts, "prompts/", [("main", "{% include 'leak.j2' %}")], "here")
    folder = snapshot(prompts, "prompts/", [("main", "{% include name %}")], "here")  # left out of a whole read
    assert folder.files == ()
