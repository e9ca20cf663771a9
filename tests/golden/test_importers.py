"""`goldband import`: real OpenAI Evals and promptfoo files (tests/golden/fixtures/peers) into golden sets.

Each importer runs through the real command in a subprocess; the golden set it writes is then
loaded by goldband's own loader, and every check an importer emits is built by goldband's
``build_check`` (bleu and rouge need the ``overlap`` extra, installed with ``test``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from goldband.checks.base import build_check
from goldband.config.project import load_config
from goldband.engine.templates import PromptsFolder, render
from goldband.errors import NotMapped
from goldband.golden.goldenset import GoldenSet, load
from goldband.golden.importers.promptfoo import expected_assertion
from goldband.golden.importers.promptfoo_asserts import check

PEERS = Path(__file__).parent / "fixtures" / "peers"
EVALS = PEERS / "evals" / "registry"
PROMPTFOO = PEERS / "promptfoo"


def goldband_import(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in the project folder (which has a goldband.yaml, so it is the project root)."""
    if not (project / "goldband.yaml").exists():
        (project / "goldband.yaml").write_text("mode: replay\n", encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "goldband", "import", *args], cwd=project, capture_output=True,
                          text=True, timeout=60, check=False)


def written(project: Path, name: str) -> dict[str, Any]:
    data = yaml.safe_load((project / "goldensets" / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def loaded(project: Path, name: str) -> GoldenSet:
    return load((project / "goldensets" / f"{name}.yaml").resolve(), base_dir=project.resolve())


# ---- OpenAI Evals ----------------------------------------------------------------------------------------

def test_evals_registry_imports_each_basic_eval_and_lists_the_custom_one(tmp_path: Path) -> None:
    result = goldband_import(tmp_path, "openai-evals", str(EVALS / "evals" / "test-basic.yaml"))
    assert result.returncode == 0, result.stderr
    assert "test-match (evals.elsuite.test.match:TestMatch)" in result.stdout  # a custom class: listed, not dropped
    assert sorted(p.name for p in (tmp_path / "goldensets").iterdir()) == [
        "test-fuzzy-match.yaml", "test-includes-ignore-case.yaml", "test-includes.yaml"]
    fuzzy = written(tmp_path, "test-fuzzy-match")
    second = fuzzy["cases"][1]
    assert second["checks"] == [{"fuzzy_match": ["Season 11", "11"]}]
    assert second["reference"] == "Season 11"
    assert [m["role"] for m in second["input"]] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert second["provenance"]["ref"].endswith("test_fuzzy_match/samples.jsonl:2")
    assert fuzzy["description"] == "Example eval that uses fuzzy matching to score completions."
    assert written(tmp_path, "test-includes")["cases"][0]["checks"] == [{"contains": "Millie Bobby Brown"}]
    assert written(tmp_path, "test-includes-ignore-case")["cases"][0]["checks"] == [
        {"contains": "Millie Bobby Brown", "case_sensitive": False}]
    text = (tmp_path / "goldensets" / "test-fuzzy-match.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Imported by 'goldband import openai-evals'")
    assert "metric f1_score" in text  # what differs is said at the top of the set
    goldenset = loaded(tmp_path, "test-fuzzy-match")
    assert [c.id for c in goldenset.cases] == ["who-is-the-girl-who-plays-eleven-in-stranger",
                                               "what-season-did-derek-die-in-grey-s",
                                               "who-played-the-girl-elf-in-the-hobbit"]
    assert goldenset.cases[0].provenance == {"source": "hand-written",
                                             "ref": second["provenance"]["ref"].replace(":2", ":1")}


def test_evals_one_eval_by_name_with_name_and_out(tmp_path: Path) -> None:
    result = goldband_import(tmp_path, "openai-evals", str(EVALS / "evals" / "test-basic.yaml"),
                             "--eval", "test-includes", "--name", "capitals", "--out", "sets/capitals.yaml")
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load((tmp_path / "sets" / "capitals.yaml").read_text(encoding="utf-8"))
    assert data["name"] == "capitals" and len(data["cases"]) == 3
    assert load((tmp_path / "sets" / "capitals.yaml").resolve(), base_dir=tmp_path).name == "capitals"


def test_evals_samples_as_match_use_a_list_of_ideals(tmp_path: Path) -> None:
    match = goldband_import(tmp_path, "openai-evals", str(EVALS / "data" / "test_match" / "samples.jsonl"))
    assert match.returncode == 0, match.stderr
    data = written(tmp_path, "samples")
    assert [c["checks"] for c in data["cases"]] == [[{"starts_with": "time"}], [{"starts_with": "George Washington"}],
                                                     [{"starts_with": "15"}]]
    assert loaded(tmp_path, "samples").cases[2].reference == "15"
    fuzzy = goldband_import(tmp_path, "openai-evals", str(EVALS / "data" / "test_fuzzy_match" / "samples.jsonl"),
                            "--name", "fuzzy-as-match")
    assert fuzzy.returncode == 0, fuzzy.stderr
    assert written(tmp_path, "fuzzy-as-match")["cases"][1]["checks"] == [{"starts_with": ["Season 11", "11"]}]
    assert len(loaded(tmp_path, "fuzzy-as-match").cases) == 3


def test_evals_fixture_is_the_real_lfs_object() -> None:
    """The samples fixture is byte for byte the file the LFS pointer in openai/evals names."""
    import hashlib

    pointer = (PEERS / "evals-lfs" / "test_fuzzy_match" / "samples.jsonl").read_text(encoding="utf-8").split()
    data = (EVALS / "data" / "test_fuzzy_match" / "samples.jsonl").read_bytes()
    assert f"sha256:{hashlib.sha256(data).hexdigest()}" == pointer[pointer.index("oid") + 1]
    assert str(len(data)) == pointer[pointer.index("size") + 1]


def test_evals_git_lfs_pointer_is_a_clear_error(tmp_path: Path) -> None:
    result = goldband_import(tmp_path, "openai-evals", str(PEERS / "evals-lfs" / "test_fuzzy_match" / "samples.jsonl"))
    assert result.returncode == 2
    assert "samples.jsonl:1: " in result.stderr and "git-LFS pointer" in result.stderr
    assert "git lfs pull" in result.stderr
    assert not (tmp_path / "goldensets").exists()


def test_evals_bad_sample_names_its_line(tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    good = (EVALS / "data" / "test_match" / "samples.jsonl").read_text(encoding="utf-8").splitlines()[0]
    samples.write_text(good + '\n{"input": "hi", "answer": "x"}\n', encoding="utf-8")
    result = goldband_import(tmp_path, "openai-evals", "samples.jsonl")
    assert result.returncode == 2
    assert "samples.jsonl:2: a sample must be an object with 'input' and 'ideal'" in result.stderr


def test_evals_samples_missing_says_where_it_looked(tmp_path: Path) -> None:
    registry = tmp_path / "basic.yaml"
    shutil.copy(EVALS / "evals" / "test-basic.yaml", registry)
    result = goldband_import(tmp_path, "openai-evals", "basic.yaml", "--eval", "test-includes")
    assert result.returncode == 2
    assert "basic.yaml:25: samples file 'test_fuzzy_match/samples.jsonl' not found" in result.stderr
    assert "--data-dir" in result.stderr
    ok = goldband_import(tmp_path, "openai-evals", "basic.yaml", "--eval", "test-includes",
                         "--data-dir", str(EVALS / "data"))
    assert ok.returncode == 0, ok.stderr


# ---- promptfoo -------------------------------------------------------------------------------------------

def test_promptfoo_getting_started_prompts_times_providers(tmp_path: Path) -> None:
    result = goldband_import(tmp_path, "promptfoo", str(PROMPTFOO / "getting-started" / "promptfooconfig.yaml"))
    assert result.returncode == 0, result.stderr
    assert "Not mapped" not in result.stdout
    data = written(tmp_path, "getting-started")
    assert data["targets"] == ["gpt-4-1-prompt1", "o4-mini-prompt1", "gpt-4-1-prompt2", "o4-mini-prompt2"]
    assert [c["input"] for c in data["cases"]] == [{"language": "French", "input": "Hello world"},
                                                    {"language": "Spanish", "input": "Where is the library?"}]
    assert data["cases"][1]["checks"] == [{"contains": "Dónde está la biblioteca", "case_sensitive": False}]
    assert (tmp_path / "prompts" / "getting-started-prompt1.j2").read_text(encoding="utf-8") == (
        "Convert this English to {{language}}: {{input}}")
    targets_file = tmp_path / "goldband.getting-started.targets.yaml"
    targets = yaml.safe_load(targets_file.read_text(encoding="utf-8"))["targets"]
    assert targets["o4-mini-prompt2"]["model"] == "openai/o4-mini"
    assert targets["o4-mini-prompt2"]["prompt"] == "prompts/getting-started-prompt2.j2"
    # the targets are valid goldband configuration once merged into goldband.yaml
    (tmp_path / "goldband.yaml").write_text(targets_file.read_text(encoding="utf-8"), encoding="utf-8")
    assert sorted(load_config(tmp_path)[0].targets) == sorted(data["targets"])
    assert "Everything in the source was mapped." in (tmp_path / "goldensets" / "getting-started.yaml").read_text(
        encoding="utf-8")
    goldenset = loaded(tmp_path, "getting-started")
    prompt = (tmp_path / targets["gpt-4-1-prompt1"]["prompt"]).read_text(encoding="utf-8")
    folder = PromptsFolder("prompts/", ())
    assert render(folder, prompt, goldenset.cases[0].input) == "Convert this English to French: Hello world"


def test_promptfoo_self_grading_default_test_and_unmapped_javascript(tmp_path: Path) -> None:
    result = goldband_import(tmp_path, "promptfoo", str(PROMPTFOO / "self-grading" / "promptfooconfig.yaml"))
    assert result.returncode == 0, result.stderr
    data = written(tmp_path, "self-grading")
    assert data["defaults"] == {"checks": [{"rubric": "Do not mention that you are an AI or chat assistant"}]}
    assert len(data["cases"]) == 10 and data["cases"][0]["input"] == {
        "name": "Bob", "question": "Can you help me find a specific product on your website?"}
    assert len(data["targets"]) == 2  # prompts.txt holds two prompts separated by ---
    assert "self-grading/promptfooconfig.yaml:10: " in result.stdout
    assert "inline JavaScript cannot run in goldband" in result.stdout
    header = (tmp_path / "goldensets" / "self-grading.yaml").read_text(encoding="utf-8").split("\nname:")[0]
    assert "NOT MAPPED (1)" in header and "Math.max(0, Math.min(1" in header
    assert len(loaded(tmp_path, "self-grading").cases) == 10


def test_promptfoo_json_output_transform_and_javascript_are_listed(tmp_path: Path) -> None:
    result = goldband_import(tmp_path, "promptfoo", str(PROMPTFOO / "json-output" / "promptfooconfig.yaml"))
    assert result.returncode == 0, result.stderr
    data = written(tmp_path, "json-output")
    assert data["cases"][0]["checks"] == [{"json_valid": {}}]
    assert "checks" not in data["cases"][1]  # every assertion of test 2 runs after a JavaScript transform
    listed = [line for line in result.stdout.splitlines() if line.startswith("  - ")]
    assert [line.split(": ", 1)[0].rsplit(":", 1)[1] for line in listed] == ["14", "24", "36", "39"]
    assert sum("JavaScript transform 'JSON.parse(output)'" in line for line in listed) == 3
    assert [c.id for c in loaded(tmp_path, "json-output").cases] == ["banana", "passion-fruit"]


def test_promptfoo_tools_call_maps_tools_and_their_schema_check(tmp_path: Path) -> None:
    result = goldband_import(tmp_path, "promptfoo", str(PROMPTFOO / "openai-tools-call" / "promptfooconfig.yaml"))
    assert result.returncode == 0, result.stderr
    data = written(tmp_path, "openai-tools-call")
    assert data["cases"][0]["checks"] == [{"tool_args_schema": {}}]
    targets = yaml.safe_load((tmp_path / "goldband.openai-tools-call.targets.yaml").read_text(encoding="utf-8"))
    target = targets["targets"]["gpt-6-luna"]
    assert target["model"] == "openai/gpt-6-luna"
    assert target["params"]["tools"][0]["function"]["name"] == "get_current_weather"
    assert target["params"]["reasoning_effort"] == "none"
    assert "with tools, promptfoo's output is the tool calls" in result.stdout  # is-json on tool calls
    assert "JSON.parse(output[0].function.arguments).location" in result.stdout  # similar after a transform
    assert len(loaded(tmp_path, "openai-tools-call").cases) == 4


def test_promptfoo_tests_from_csv_with_expected_column(tmp_path: Path) -> None:
    result = goldband_import(tmp_path, "promptfoo", str(PROMPTFOO / "simple-csv" / "promptfooconfig.yaml"))
    assert result.returncode == 0, result.stderr
    data = written(tmp_path, "simple-csv")
    assert [c["checks"] for c in data["cases"]] == [[{"contains": w, "case_sensitive": False}]
                                                     for w in ("bonjour", "faim", "Ahoy", "grub")]
    assert data["cases"][0]["input"] == {"language": "French", "body": "Hello world",
                                         "style_config": '{"tone":"formal","length":"brief"}'}
    assert data["cases"][3]["provenance"]["ref"].endswith("simple-csv/tests.csv:5")
    assert "No filter named 'load'" in result.stdout  # a Nunjucks filter the Jinja2 prompt does not have
    assert len(loaded(tmp_path, "simple-csv").cases) == 4


def test_promptfoo_conversation_threads_become_cases_with_turns(tmp_path: Path) -> None:
    result = goldband_import(tmp_path, "promptfoo",
                             str(PROMPTFOO / "multiple-turn-conversation" / "promptfooconfig.yaml"))
    assert result.returncode == 0, result.stderr
    assert "Not mapped" not in result.stdout
    data = written(tmp_path, "multiple-turn-conversation")
    assert [c["id"] for c in data["cases"]] == ["facebook-thread", "weather-thread", "food-thread"]
    first = data["cases"][0]
    assert first["input"] == [{"role": "system", "content": "You are a helpful assistant"}]
    assert first["turns"] == ["Who founded Facebook?", "Where does he live?", "Which state is that in?"]
    targets = yaml.safe_load((tmp_path / "goldband.multiple-turn-conversation.targets.yaml").read_text(
        encoding="utf-8"))["targets"]
    assert targets == {"gpt-4-1-mini": {"description": targets["gpt-4-1-mini"]["description"],
                                        "model": "openai/gpt-4.1-mini"}}  # no prompt: the cases carry the messages
    goldenset = loaded(tmp_path, "multiple-turn-conversation")
    assert [len(c.turns) for c in goldenset.cases] == [3, 2, 2]


def test_promptfoo_thread_turns_keep_their_own_checks(tmp_path: Path) -> None:
    (tmp_path / "promptfooconfig.yaml").write_text(
        "prompts: ['Reply to: {{ q }}{% for c in _conversation %}{% endfor %}']\n"
        "providers: [openai:gpt-4o-mini]\n"
        "tests:\n"
        "  - vars: {q: Hello}\n    metadata: {conversationId: t1}\n"
        "    assert: [{type: icontains, value: hello}]\n"
        "  - vars: {q: 'Show {{ braces }}'}\n    metadata: {conversationId: t1}\n"
        "  - vars: {q: Alone}\n    assert: [{type: contains, value: A}]\n", encoding="utf-8")
    result = goldband_import(tmp_path, "promptfoo", "promptfooconfig.yaml", "--name", "threads")
    assert result.returncode == 0, result.stderr
    cases = written(tmp_path, "threads")["cases"]
    hello = {"user": "Reply to: Hello", "checks": [{"contains": "hello", "case_sensitive": False}]}
    assert cases[0]["turns"] == [hello, "{% raw %}Reply to: Show {{ braces }}{% endraw %}"]
    assert "input" not in cases[0]  # a text prompt opens with nothing before the first turn
    assert cases[1]["input"] == [{"role": "user", "content": "Reply to: Alone"}]
    assert cases[1]["checks"] == [{"contains": "A"}]
    goldenset = loaded(tmp_path, "threads")
    assert goldenset.cases[0].turns[0].checks[0].describe() == 'contains "hello"'


def test_promptfoo_tests_file_negation_and_unknown_keys(tmp_path: Path) -> None:
    (tmp_path / "pf").mkdir()
    (tmp_path / "pf" / "promptfooconfig.yaml").write_text(
        "prompts: ['Answer: {{q}}']\n"
        "providers:\n  - id: anthropic:messages:claude-sonnet-4\n    label: claude\n"
        "    config: {temperature: 0, apiKey: sk-nothing, max_tokens: 200}\n"
        "  - exec: ./run.sh\n"
        "evaluateOptions: {repeat: 3}\n"
        "tests: file://cases.yaml\n", encoding="utf-8")
    (tmp_path / "pf" / "cases.yaml").write_text(
        "- description: Capital of France\n"
        "  vars: {q: [Capital of France?, 'France: capital?']}\n"
        "  assert:\n"
        "    - type: not-icontains\n      value: As an AI\n"
        "    - type: llm-rubric\n      value: Names Paris\n      threshold: 0.8\n"
        "    - type: is-xml\n"
        "  threshold: 0.5\n", encoding="utf-8")
    result = goldband_import(tmp_path, "promptfoo", "pf/promptfooconfig.yaml")
    assert result.returncode == 0, result.stderr
    data = written(tmp_path, "pf")
    assert [c["input"] for c in data["cases"]] == [{"q": "Capital of France?"}, {"q": "France: capital?"}]
    assert [c["id"] for c in data["cases"]] == ["capital-of-france", "capital-of-france-2"]
    assert data["cases"][0]["checks"] == [{"not": {"contains": "As an AI", "case_sensitive": False}}]
    assert data["targets"] == ["claude"]
    targets = yaml.safe_load((tmp_path / "goldband.pf.targets.yaml").read_text(encoding="utf-8"))["targets"]
    assert targets["claude"]["model"] == "anthropic/claude-sonnet-4"
    assert targets["claude"]["params"] == {"temperature": 0, "max_tokens": 200}  # never the key
    for expected in ("pf/promptfooconfig.yaml:5: config.apiKey", "pf/promptfooconfig.yaml:6: {\"exec\": \"./run.sh\"}",
                     "pf/promptfooconfig.yaml:7: evaluateOptions", "pf/cases.yaml:6: ", "threshold has no equivalent",
                     "pf/cases.yaml:9: ", "'is-xml'", "pf/cases.yaml:10: threshold"):
        assert expected in result.stdout, expected
    assert "sk-nothing" not in (tmp_path / "goldband.pf.targets.yaml").read_text(encoding="utf-8")
    assert len(loaded(tmp_path, "pf").cases) == 2


def test_promptfoo_bad_input_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "promptfooconfig.yaml").write_text("prompts: ['{{q}}']\nproviders: [openai:gpt-4o-mini]\n"
                                                   "tests: file://missing.csv\n", encoding="utf-8")
    result = goldband_import(tmp_path, "promptfoo", "promptfooconfig.yaml", "--name", "bad")
    assert result.returncode == 2
    assert "promptfooconfig.yaml:3: tests file file://missing.csv not found" in result.stderr
    (tmp_path / "promptfooconfig.yaml").write_text("prompts: ['{{q}}'\nproviders: []\n", encoding="utf-8")
    broken = goldband_import(tmp_path, "promptfoo", "promptfooconfig.yaml", "--name", "bad")
    assert broken.returncode == 2 and "promptfooconfig.yaml:2:" in broken.stderr and "malformed YAML" in broken.stderr


def test_import_never_overwrites(tmp_path: Path) -> None:
    config = str(PROMPTFOO / "getting-started" / "promptfooconfig.yaml")
    assert goldband_import(tmp_path, "promptfoo", config).returncode == 0
    prompt = tmp_path / "prompts" / "getting-started-prompt1.j2"
    prompt.write_text("edited by hand", encoding="utf-8")
    (tmp_path / "goldensets" / "getting-started.yaml").unlink()
    again = goldband_import(tmp_path, "promptfoo", config)
    assert again.returncode == 2
    assert "getting-started-prompt1.j2" in again.stderr and "nothing was written" in again.stderr
    assert prompt.read_text(encoding="utf-8") == "edited by hand"
    assert not (tmp_path / "goldensets" / "getting-started.yaml").exists()  # all or nothing


# ---- CSV and JSONL ---------------------------------------------------------------------------------------

def test_csv_with_a_column_mapping_and_a_check(tmp_path: Path) -> None:
    shutil.copy(PROMPTFOO / "simple-csv" / "tests.csv", tmp_path / "translations.csv")
    result = goldband_import(tmp_path, "csv", "translations.csv", "--map", "input.language=language",
                             "--map", "input.text=body", "--check", "similarity: {threshold: 0.5}")
    assert result.returncode == 0, result.stderr
    data = written(tmp_path, "translations")
    assert data["defaults"] == {"checks": [{"similarity": {"threshold": 0.5}}]}
    assert data["cases"][0]["input"] == {"language": "French", "text": "Hello world"}
    assert [c["id"] for c in data["cases"]] == ["french-hello-world", "french-i-m-hungry", "pirate-hello-world",
                                                "pirate-i-m-hungry"]
    assert data["cases"][2]["provenance"]["ref"] == "imported from translations.csv:4"
    assert len(loaded(tmp_path, "translations").cases) == 4


def test_csv_ids_tags_reference_and_duplicates(tmp_path: Path) -> None:
    rows = "qid,question,answer,topics\nq1,Capital of France?,Paris,\"geo,europe\"\nq2,2+2?,4,math\n"
    (tmp_path / "qa.csv").write_text(rows, encoding="utf-8")
    mapping = ["--map", "id=qid", "--map", "input.question=question", "--map", "reference=answer",
               "--map", "tags=topics"]
    result = goldband_import(tmp_path, "csv", "qa.csv", *mapping)
    assert result.returncode == 0, result.stderr
    case = written(tmp_path, "qa")["cases"][0]
    assert (case["id"], case["reference"], case["tags"]) == ("q1", "Paris", ["geo", "europe"])
    assert loaded(tmp_path, "qa").cases[1].tags == ("math",)
    (tmp_path / "dup.csv").write_text(rows + "q1,Capital of Spain?,Madrid,geo\n", encoding="utf-8")
    dup = goldband_import(tmp_path, "csv", "dup.csv", *mapping)
    assert dup.returncode == 2
    assert "dup.csv:4: duplicate case id 'q1' (first at dup.csv:2)" in dup.stderr


@pytest.mark.parametrize(("option", "message"), [
    (["--map", "reference=expected"], "no column 'expected' in qa.csv; expected columns of the file: answer, question"),
    (["--map", "answer"], "--map 'answer' is not FIELD=COLUMN"),
    (["--check", "containz: Paris"], "unknown check 'containz'"),
])
def test_csv_bad_mapping_and_bad_check_are_usage_errors(tmp_path: Path, option: list[str], message: str) -> None:
    (tmp_path / "qa.csv").write_text("question,answer\nCapital of France?,Paris\n", encoding="utf-8")
    result = goldband_import(tmp_path, "csv", "qa.csv", *option)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "goldensets").exists()


def test_jsonl_messages_as_input(tmp_path: Path) -> None:
    shutil.copy(EVALS / "data" / "test_match" / "samples.jsonl", tmp_path / "phrases.jsonl")
    result = goldband_import(tmp_path, "jsonl", "phrases.jsonl", "--map", "input=input", "--map", "reference=ideal",
                             "--check", "similarity: {threshold: 0.5}")
    assert result.returncode == 0, result.stderr
    goldenset = loaded(tmp_path, "phrases")
    assert goldenset.cases[1].input[-1] == {"role": "user", "content": "The first US president was "}
    assert goldenset.cases[1].reference == "George Washington"
    assert goldenset.cases[0].id == "once-upon-a"


def test_large_sets_write_their_cases_to_jsonl(tmp_path: Path) -> None:
    lines = ["question,answer", *(f"question number {i},{i}" for i in range(250))]
    (tmp_path / "many.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = goldband_import(tmp_path, "csv", "many.csv", "--map", "input.q=question", "--map", "reference=answer")
    assert result.returncode == 0, result.stderr
    assert written(tmp_path, "many")["cases"] == "many.cases.jsonl"
    first = json.loads((tmp_path / "goldensets" / "many.cases.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["id"] == "question-number-0"
    assert len(loaded(tmp_path, "many").cases) == 250


# ---- the assertion mapping, one type at a time -----------------------------------------------------------

@pytest.mark.parametrize(("assertion", "expected"), [
    ({"type": "equals", "value": "yes"}, [{"equals": "yes"}]),
    ({"type": "contains-all", "value": ["a", "b"]}, [{"contains": ["a", "b"]}]),
    ({"type": "icontains-any", "value": "a, b"}, [{"contains": ["a", "b"], "mode": "any", "case_sensitive": False}]),
    ({"type": "starts-with", "value": "Dear"}, [{"starts_with": "Dear"}]),
    ({"type": "regex", "value": r"\d+"}, [{"regex": r"\d+"}]),
    ({"type": "is-json", "value": {"type": "object"}}, [{"json_schema": {"type": "object"}}]),
    ({"type": "contains-json"}, [{"contains_json": None}]),
    ({"type": "contains-json", "value": {"type": "object"}}, [{"contains_json": {"type": "object"}}]),
    ({"type": "similar", "value": ["a", "b"], "provider": "openai:embedding:text-embedding-3-small"},
     [{"embedding_similarity": 0.75, "model": "openai/text-embedding-3-small", "reference": ["a", "b"]}]),
    ({"type": "is-valid-openai-tools-call"}, [{"tool_args_schema": {}}]),
    ({"type": "tool-call-f1", "value": ["a", "b"]}, [{"tool_call": "a"}, {"tool_call": "b"}]),
    ({"type": "python", "value": "file://checks/grade.py"}, [{"python": "checks.grade:get_assert"}]),
    ({"type": "llm-rubric", "value": "Is polite"}, [{"rubric": "Is polite"}]),
    ({"type": "rouge-n", "value": "ref"}, [{"rouge": 0.75, "reference": "ref", "metric": "rouge1", "stemmer": False}]),
    ({"type": "bleu", "value": "ref", "threshold": 0.3}, [{"bleu": 0.3, "reference": "ref"}]),
    ({"type": "latency", "threshold": 2000}, [{"latency_ms": 2000}]),
    ({"type": "is-refusal"}, [{"refusal": {"expect": True}}]),
    ({"type": "not-is-refusal"}, [{"refusal": {"expect": False}}]),
    ({"type": "not-regex", "value": "x", "metric": "no-x"}, [{"not": {"regex": "x"}, "label": "no-x"}]),
    ({"type": "word-count", "value": {"max": 50}}, [{"length": {"max": 50, "unit": "words"}}]),
])
def test_assertion_mapping(assertion: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    assert check(assertion)[0] == expected
    for entry in expected:  # and goldband builds every check the importer emits
        if next(iter(entry)) == "python":
            continue  # it imports the user's module
        build_check(entry, "test", Path("."))


@pytest.mark.parametrize(("assertion", "why"), [
    ({"type": "javascript", "value": "output.length < 9"}, "inline JavaScript"),
    ({"type": "python", "value": "output == 'x'"}, "inline Python cannot be mapped"),
    ({"type": "factuality", "value": "x"}, "write a rubric"),
    ({"type": "is-xml"}, "no goldband check does what promptfoo's 'is-xml' does"),
    ({"type": "contains", "value": "x", "transform": "output.trim()"}, "JavaScript transform"),
    ({"type": "contains", "value": "file://expected.txt"}, "read from file://expected.txt"),
    ({"type": "llm-rubric", "value": "x", "threshold": 0.8}, "threshold has no equivalent"),
])
def test_assertion_not_mapped_says_why(assertion: dict[str, Any], why: str) -> None:
    with pytest.raises(NotMapped, match=why.replace("(", r"\(").replace("'", ".")):
        check(assertion)


def test_approximate_mappings_say_what_differs() -> None:
    checks, note = check({"type": "levenshtein", "value": "hello", "threshold": 1, "weight": 2})
    assert checks == [{"similarity": "hello", "threshold": 0.8, "case_sensitive": True}]
    assert note is not None and "at most N edits" in note and "weight 2 dropped" in note
    assert expected_assertion("not-icontains:ahoy") == {"type": "not-icontains", "value": "ahoy"}
    assert expected_assertion("is-json") == {"type": "is-json"}
