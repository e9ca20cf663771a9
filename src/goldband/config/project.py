"""Project configuration: ``goldband.yaml`` or ``[tool.goldband]`` in pyproject.toml.

Parsed into frozen pydantic models; unknown keys are errors with file:line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from goldband._util import jsonio, yamlio
from goldband._util.environment import EXPECTED as ENVIRONMENT_EXPECTED
from goldband._util.environment import NAME as ENVIRONMENT_NAME
from goldband.config.alerts import AlertsConfig
from goldband.config.base import Strict, parse
from goldband.config.monitors import MonitorsConfig
from goldband.config.registry import RegistryConfig
from goldband.errors import ConfigError

Mode = Literal["live", "record", "replay", "cached"]
MODES: tuple[str, ...] = ("live", "record", "replay", "cached")
RESERVED_PARAMS = frozenset({"n", "stream", "messages", "model", "api_key", "api_base", "base_url"})


class Price(Strict):
    """USD per million tokens, for targets whose price litellm does not know."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class Message(Strict):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str


_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)?(?P<userinfo>[^/?#]*)@")


def hide_credentials(url: str) -> str:
    """The URL with any ``user:password@`` shown as ``***@``.

    >>> hide_credentials("https://bob:s3cret@llm.example.com/v1")
    'https://***@llm.example.com/v1'
    >>> hide_credentials("http://127.0.0.1:8000/v1")
    'http://127.0.0.1:8000/v1'
    """
    return _USERINFO.sub(lambda m: f"{m['scheme'] or ''}***@", url, count=1)


class ApiBaseChecked(BaseModel):
    """Mixed into every model with an ``api_base`` field (targets, the judge, ``embedding_similarity``): its
    credentials are hidden before validation, so no error can echo them, and then refused."""

    @model_validator(mode="before")
    @classmethod
    def _hide_credentials(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("api_base"), str):
            return {**data, "api_base": hide_credentials(data["api_base"])}
        return data

    @field_validator("api_base", check_fields=False)
    @classmethod
    def _no_credentials(cls, url: str | None) -> str | None:
        """``url`` unless it carries credentials (shown as ``***@`` by then): a key goes in ``api_key_env``."""
        if url is not None and _USERINFO.match(url):
            raise ValueError("credentials (user:password@) are not allowed in api_base; remove them and name the "
                             "environment variable holding the key in 'api_key_env' (sent as a bearer token)")
        return url


class Endpoint(Strict, ApiBaseChecked):
    """How to reach a model: shared by targets and the judge."""

    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    api_base: str | None = None
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    client: Literal["auto", "http", "litellm", "openai"] = "auto"  # auto: openai/... -> http, else litellm
    supports_n: bool | None = None  # None: ask litellm / assume yes for OpenAI-compatible
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0, le=20)
    backoff_s: float = Field(0.5, ge=0, le=60)  # first retry waits up to this (full jitter), doubling
    price: Price | None = None

    @field_validator("params")
    @classmethod
    def _no_reserved(cls, params: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(RESERVED_PARAMS & params.keys())
        if bad:
            raise ValueError(f"params may not set {', '.join(bad)} (goldband sets these itself)")
        return params


class TargetConfig(Endpoint):
    """A target: prompt template + model + pinned params, or a Python callable."""

    prompt: str | None = None  # a Jinja2 template file, relative to the project root
    system: str | None = None  # an inline system message template
    messages: list[Message] | None = None  # inline chat templates, instead of `prompt`
    callable_: str | None = Field(None, alias="callable", pattern=r"^[\w.]+:[\w.]+$")
    registry: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*([@:][A-Za-z0-9_.\-]+)?$")
    description: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TargetConfig:
        kinds = [k for k in (self.model, self.callable_, self.registry) if k is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of 'model' (an LLM), 'callable' (module:function) or 'registry' "
                             "(a registered version, e.g. support@production)")
        if self.prompt and self.messages:
            raise ValueError("give 'prompt' (a template file) or 'messages' (inline), not both")
        return self


Structured = Literal["auto", "json_schema", "json_object", "off"]


class JudgeConfig(Endpoint):
    """The default judge (see goldband.judge); a rubric's ``judge:`` overrides its endpoint fields."""

    params: dict[str, Any] = Field(default_factory=lambda: {"temperature": 0})  # temperature pinned below
    structured: Structured = "auto"  # reply format asked of the provider; auto: JSON Schema where supported
    cache: bool = True  # reuse the judgement of an unchanged output across runs
    max_error_share: float = Field(0.1, ge=0, le=1)  # more judge errors than this: a harness/judge error
    gate: Literal["calibrated", "always"] = "calibrated"  # always: uncalibrated rubrics gate anyway
    require_calibration: bool = False  # rubrics without an agreement_floor do not gate either

    @field_validator("params")
    @classmethod
    def _temperature_zero(cls, params: dict[str, Any]) -> dict[str, Any]:
        """A judge's temperature is 0 unless the config says otherwise, whatever else params sets."""
        return {"temperature": 0, **params}


class ProjectConfig(Strict):
    store: str = ".goldband/store.db"
    reports: str = "reports/"
    mode: Mode = "live"
    concurrency: int = Field(16, ge=1, le=1024)
    cassettes: str = "cassettes"
    cache: str = ".goldband/cache"
    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    judge: JudgeConfig | None = None
    monitors: MonitorsConfig = MonitorsConfig()  # classic-ML models and eval series (goldband.monitor)
    alerts: AlertsConfig = AlertsConfig()  # rules and sinks (goldband.alerts)
    registry: RegistryConfig = RegistryConfig()  # the closed loop's models (goldband.registry)
    environment: str | None = None  # where runs are recorded (staging, eu-west); None: the default environment

    @field_validator("environment")
    @classmethod
    def _environment_name(cls, name: str | None) -> str | None:
        """One name per environment, so history and status group it in one place (``goldband._util.environment``)."""
        if name is not None and not ENVIRONMENT_NAME.match(name):
            raise ValueError(f"expected {ENVIRONMENT_EXPECTED}")
        return name


def find_config_file(root: Path) -> Path | None:
    for name in ("goldband.yaml", "goldband.yml"):
        if (root / name).is_file():
            return root / name
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and isinstance(tool := _toml(pyproject).get("tool"), dict) and "goldband" in tool:
        return pyproject
    return None


def load_config(root: Path) -> tuple[ProjectConfig, Path | None]:
    """Load the project's config; an absent file gives the defaults."""
    config, path, _ = read_config(root)
    return config, path


def read_config(root: Path) -> tuple[ProjectConfig, Path | None, yamlio.Lines | None]:
    """``load_config``, and the lines of the config's keys, for messages about what it names (targets)."""
    path = find_config_file(root)
    if path is None:
        return ProjectConfig(), None, None
    if path.suffix == ".toml":
        data, lines = jsonio.load_toml(path, yamlio.relative(path, root), ("tool", "goldband"))
        raw = data["tool"]["goldband"]
    else:
        raw, lines = yamlio.load(path, yamlio.relative(path, root))
        raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping", where=f"{lines.file}:{lines.line(()) or 1}",
                          expected="keys like 'targets:'")
    return parse(ProjectConfig, raw, lines), path, lines


def _toml(path: Path) -> dict[str, Any]:
    return jsonio.load_toml(path, path)[0]
