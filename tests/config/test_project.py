"""Project configuration: goldband.yaml or pyproject.toml, defaults, and one clear error per bad key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from goldband.config.project import ProjectConfig, load_config
from goldband.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def config_error(root: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(root)
    return str(info.value)


FULL = """
    store: .goldband/eval.db
    reports: out/
    mode: replay
    concurrency: 4
    targets:
      support-v1:
        model: openai/gpt-4o-mini
        prompt: prompts/support_v1.j2
        params: {temperature: 0.2, seed: 7, max_tokens: 300}
        api_base: http://127.0.0.1:8000/v1
        api_key_env: OPENAI_API_KEY
      rag-app:
        callable: myapp.pipeline:answer
    judge:
      model: openai/gpt-4o
      api_key_env: OPENAI_API_KEY
"""


# --- goldband.yaml / pyproject.toml --------------------------------------------------------------


def test_load_config_from_goldband_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "goldband.yaml", FULL)
    config, found = load_config(tmp_path)
    assert found == path
    assert (config.store, config.reports, config.mode, config.concurrency) == (
        ".goldband/eval.db", "out/", "replay", 4)
    support = config.targets["support-v1"]
    assert support.model == "openai/gpt-4o-mini"
    assert support.params == {"temperature": 0.2, "seed": 7, "max_tokens": 300}
    assert support.api_base == "http://127.0.0.1:8000/v1"
    assert support.api_key_env == "OPENAI_API_KEY"
    assert config.targets["rag-app"].callable_ == "myapp.pipeline:answer"
    assert config.judge is not None
    assert config.judge.params == {"temperature": 0}  # the judge's default


def test_load_config_from_pyproject(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", """
        [project]
        name = "app"

        [tool.goldband]
        mode = "cached"
        concurrency = 2

        [tool.goldband.targets.support-v1]
        model = "openai/gpt-4o-mini"
        params = {temperature = 0}
    """)
    config, found = load_config(tmp_path)
    assert found == path
    assert (config.mode, config.concurrency) == ("cached", 2)
    assert config.targets["support-v1"].params == {"temperature": 0}


def test_goldband_yaml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.goldband]\nmode = "cached"\n')
    write(tmp_path / "goldband.yaml", "mode: record\n")
    assert load_config(tmp_path)[0].mode == "record"


def test_goldband_yml_is_found(tmp_path: Path) -> None:
    write(tmp_path / "goldband.yml", "mode: record\n")
    assert load_config(tmp_path)[0].mode == "record"


def test_no_config_gives_the_defaults(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "app"\n')
    config, found = load_config(tmp_path)
    assert (config, found) == (ProjectConfig(), None)
    assert (config.mode, config.concurrency, config.store) == ("live", 16, ".goldband/store.db")


def test_an_empty_goldband_yaml_gives_the_defaults(tmp_path: Path) -> None:
    write(tmp_path / "goldband.yaml", "# nothing yet\n")
    assert load_config(tmp_path)[0] == ProjectConfig()


def test_unknown_top_level_key_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "goldband.yaml", "mode: replay\nconcurency: 4\n")
    message = config_error(tmp_path)
    assert message.startswith("goldband.yaml:2: unknown key 'concurency'")
    assert "fix: remove it or check its spelling" in message


def test_unknown_target_key_names_the_line_and_path(tmp_path: Path) -> None:
    text = """
        targets:
          support-v1:
            model: m
            temprature: 0.2
    """
    write(tmp_path / "goldband.yaml", text)
    message = config_error(tmp_path)
    assert message.startswith("goldband.yaml:4: unknown key 'temprature'")
    assert "targets.support-v1.temprature" in message


def test_unknown_key_in_pyproject_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.goldband]\nbogus = 1\n")
    message = config_error(tmp_path)
    assert message.startswith("pyproject.toml:2: unknown key 'bogus'")  # tomllib keeps no lines: found by key


def test_malformed_toml(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.goldband\nmode = 1\n")
    assert "malformed TOML" in config_error(tmp_path)


def test_malformed_config_yaml(tmp_path: Path) -> None:
    write(tmp_path / "goldband.yaml", "targets:\n  t: {model: m\n")
    assert "goldband.yaml:" in config_error(tmp_path)
    assert "malformed YAML" in config_error(tmp_path)


def test_config_must_be_a_mapping(tmp_path: Path) -> None:
    write(tmp_path / "goldband.yaml", "- a\n- b\n")
    message = config_error(tmp_path)
    assert message.startswith("goldband.yaml:1: the config must be a mapping")


@pytest.mark.parametrize(
    ("target", "detail"),
    [
        ("{model: m, callable: 'app:run'}", "'callable' (module:function) or 'registry'"),
        ("{params: {temperature: 0}}", "'callable' (module:function) or 'registry'"),
        ("{model: m, prompt: p.j2, messages: [{role: user, content: x}]}", "not both"),
        ("{callable: 'not a ref'}", "targets.t.callable"),
        ("{model: m, api_key_env: 'sk-abc-123'}", "targets.t.api_key_env"),
        ("{model: m, timeout_s: 0}", "targets.t.timeout_s"),
        ("{model: m, client: curl}", "targets.t.client"),
    ],
)
def test_invalid_target(tmp_path: Path, target: str, detail: str) -> None:
    write(tmp_path / "goldband.yaml", f"mode: live\ntargets:\n  t: {target}\n")
    message = config_error(tmp_path)
    assert message.startswith("goldband.yaml:3: ")
    assert detail in message


@pytest.mark.parametrize(
    "params", ["{n: 5}", "{stream: true}", "{temperature: 0, n: 2, stream: true}"]
)
def test_reserved_params_are_rejected(tmp_path: Path, params: str) -> None:
    write(tmp_path / "goldband.yaml", f"targets:\n  t:\n    model: m\n    params: {params}\n")
    message = config_error(tmp_path)
    assert message.startswith("goldband.yaml:4: targets.t.params: params may not set ")
    assert "(goldband sets these itself)" in message
    for name in ("n", "stream"):
        if f"{name}:" in params:
            assert name in message.split("may not set ")[1].split(" (")[0]


def test_reserved_params_for_the_judge(tmp_path: Path) -> None:
    write(tmp_path / "goldband.yaml", "judge:\n  model: m\n  params: {n: 3}\n")
    assert "judge.params: params may not set n" in config_error(tmp_path)


def test_the_judge_temperature_is_pinned_to_zero_unless_set(tmp_path: Path) -> None:
    write(tmp_path / "goldband.yaml", "judge:\n  model: m\n  params: {max_tokens: 300}\n")
    assert load_config(tmp_path)[0].judge.params == {"temperature": 0, "max_tokens": 300}
    write(tmp_path / "goldband.yaml", "judge:\n  model: m\n  params: {temperature: 0.3}\n")
    assert load_config(tmp_path)[0].judge.params == {"temperature": 0.3}
    write(tmp_path / "goldband.yaml", "judge:\n  model: m\n")
    assert load_config(tmp_path)[0].judge.params == {"temperature": 0}


def test_bad_mode_and_concurrency(tmp_path: Path) -> None:
    write(tmp_path / "goldband.yaml", "mode: offline\n")
    message = config_error(tmp_path)
    assert message.startswith("goldband.yaml:1: mode: ")
    assert "'replay'" in message
    write(tmp_path / "goldband.yaml", "concurrency: 0\n")
    assert "concurrency: Input should be greater than or equal to 1" in config_error(tmp_path)


# --- api_base: credentials refused, never echoed -------------------------------------------------

CREDENTIALS_REFUSED = ("credentials (user:password@) are not allowed in api_base; remove them and name the "
                       "environment variable holding the key in 'api_key_env'")


@pytest.mark.parametrize(("url", "shown"), [
    ("http://alice:hunter2@127.0.0.1:8000/v1", "http://***@127.0.0.1:8000/v1"),
    ("https://alice@llm.example.com/v1", "https://***@llm.example.com/v1"),
    ("https://alice:p%40ss@word@llm.example.com/v1?x=1", "https://***@llm.example.com/v1?x=1"),
    ("alice:hunter2@localhost:8000/v1", "***@localhost:8000/v1"),
])
def test_api_base_credentials_are_refused_and_never_echoed(tmp_path: Path, url: str, shown: str) -> None:
    write(tmp_path / "goldband.yaml", f"targets:\n  support:\n    model: openai/m\n    api_base: '{url}'\n")
    message = config_error(tmp_path)
    assert message.startswith(f"goldband.yaml:4: targets.support.api_base: {CREDENTIALS_REFUSED}")
    assert f"(found '{shown}')" in message
    assert "alice" not in message and "hunter2" not in message and "p%40ss" not in message


def test_judge_api_base_credentials_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "goldband.yaml", "judge:\n  model: m\n  api_base: https://bob:s3cret@judge.example.com/v1\n")
    message = config_error(tmp_path)
    assert message.startswith(f"goldband.yaml:3: judge.api_base: {CREDENTIALS_REFUSED}")
    assert "bob" not in message and "s3cret" not in message


def test_api_base_credentials_are_not_in_pydantics_own_error_either() -> None:
    """A rubric's judge and a registered target are validated outside goldband.yaml, by pydantic directly."""
    from pydantic import ValidationError

    from goldband.judge.rubric import RubricJudge

    for model in (RubricJudge, ProjectConfig):
        raw = ({"api_base": "https://bob:s3cret@h/v1"} if model is RubricJudge
               else {"targets": {"t": {"model": "m", "api_base": "https://bob:s3cret@h/v1"}}})
        with pytest.raises(ValidationError) as info:
            model.model_validate(raw)
        assert "s3cret" not in str(info.value) and "bob" not in str(info.value)
        assert "https://***@h/v1" in str(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/v1", "https://llm.example.com/v1/@models", "http://h/v1?u=a@b"])
def test_api_base_without_credentials_is_kept_as_written(tmp_path: Path, url: str) -> None:
    write(tmp_path / "goldband.yaml", f"targets:\n  t:\n    model: m\n    api_base: '{url}'\n")
    assert load_config(tmp_path)[0].targets["t"].api_base == url
