"""Targets: what is under test, rendered into provider requests.

A target is a prompt template + a litellm model string + pinned params, or a
Python callable ``module:function`` for a whole app. Each has a content hash
(prompt text and the text of the files it can include + model + params, or the
callable's source) so every stored result can say exactly what produced it.
Templates render in a sandbox with bounded work (``goldband.engine.templates``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from goldband._util import textio, yamlio
from goldband._util.hashing import canonical_hash
from goldband._util.imports import import_callable
from goldband.config.project import ProjectConfig, TargetConfig
from goldband.engine import templates
from goldband.engine.templates import PromptsFolder
from goldband.errors import ConfigError

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Target:
    name: str
    spec: TargetConfig
    root: Path
    prompt_text: str | None  # the template file's text, read once
    folder: PromptsFolder = field(default_factory=lambda: PromptsFolder("prompts/"))  # what it can include

    @property
    def is_callable(self) -> bool:
        return self.spec.callable_ is not None

    @cached_property
    def content_hash(self) -> str:
        if self.spec.callable_:
            return canonical_hash({"callable": self.spec.callable_, "source": self._callable_source()})
        included = {"included": dict(self.folder.files)} if self.folder.files else {}  # old hashes unchanged
        return canonical_hash({
            "model": self.spec.model,
            "prompt": self.prompt_text,
            "system": self.spec.system,
            "messages": [m.model_dump() for m in self.spec.messages or []],
            "params": self.spec.params,
            **included,
        })

    def _callable_source(self) -> str | None:
        try:
            return inspect.getsource(load_callable(self.spec.callable_ or "", self.root))
        except (OSError, TypeError, ConfigError):
            return None

    def render(self, case_input: Any, *, where: str) -> Messages:
        """The chat messages for one case; a missing template variable is a ConfigError."""
        if isinstance(case_input, list):
            return self._with_system(list(case_input), case_input, where)
        if self.spec.messages:
            inline = [{"role": m.role, "content": self._fill(m.content, case_input, where, f"messages[{i}]")}
                      for i, m in enumerate(self.spec.messages)]
            return self._with_system(inline, case_input, where)
        if self.prompt_text is None:
            raise ConfigError(
                "this target has no prompt template, so the case input must be chat messages",
                where=where, expected="input: [{role: user, content: ...}] or a target 'prompt'",
                fix=f"give target '{self.name}' a 'prompt:' template file",
            )
        user = self._fill(self.prompt_text, case_input, where, self.spec.prompt or "prompt")
        return self._with_system([{"role": "user", "content": user}], case_input, where)

    def opening(self, case_input: Any, *, where: str) -> Messages:
        """The messages a conversation case (``turns:``) starts with: as ``render``, except that a target
        with neither a prompt nor inline messages opens with its system message alone (or nothing)."""
        if isinstance(case_input, list) or self.spec.messages or self.prompt_text is not None:
            return self.render(case_input, where=where)
        return self._with_system([], case_input, where)

    def render_text(self, template: str, variables: dict[str, Any], *, where: str, source: str) -> str:
        """One more template of this target's (a conversation's user turn), rendered as its prompt is."""
        return self._fill(template, variables, where, source)

    def _with_system(self, messages: Messages, variables: Any, where: str) -> Messages:
        if not self.spec.system or (messages and messages[0].get("role") == "system"):
            return messages
        variables = variables if isinstance(variables, dict) else {}
        return [{"role": "system", "content": self._fill(self.spec.system, variables, where, "system")},
                *messages]

    def _fill(self, template: str, variables: dict[str, Any], where: str, source: str) -> str:
        named = f"template {source} of target '{self.name}'"
        try:
            return templates.render(self.folder, template, variables)
        except ConfigError as exc:  # over a limit, or out of the prompts folder
            raise ConfigError(f"{named} {exc.what}", where=where, fix=exc.fix) from None
        except jinja2.TemplateNotFound as exc:
            raise ConfigError(f"{named} {templates.missing(exc, self.folder.label)}", where=where,
                              fix=templates.include_fix(self.folder.label)) from None
        except jinja2.UndefinedError as exc:
            raise ConfigError(
                f"{named} needs a variable the case does not give: {exc.message}",
                where=where,
                expected=f"input keys: {', '.join(sorted(variables)) or '(none)'} to cover the template",
                fix="add the variable to the case's 'input', or remove it from the template",
            ) from None
        except SecurityError as exc:
            raise ConfigError(f"{named} is refused by the sandbox: {exc}", where=where,
                              fix="use the case's variables, filters and tests, not Python internals") from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"{named} failed: {exc}", where=where) from None
        except Exception as exc:  # a template is code: 1/0, a bad int(), deep recursion
            raise ConfigError(f"{named} failed: {type(exc).__name__}: {exc}", where=where) from None


Registered = Callable[[str], "Mapping[str, Any] | None"]  # a registry reference -> the stored target, or None


def build_targets(config: ProjectConfig, root: Path, config_file: Path | None,
                  registered: Registered | None = None, lines: yamlio.Lines | None = None) -> dict[str, Target]:
    """Read prompt files and compile templates once, so errors surface before any call. A target with
    ``registry: model@alias`` takes the configuration stored with that version (``registered`` reads it).
    ``lines`` (of the config file): errors name the target's line."""
    return {name: build_target(name, spec, root, lines.where(("targets", name)) if lines else config_file, registered)
            for name, spec in config.targets.items()}


def build_target(name: str, spec: TargetConfig, root: Path, config_file: Path | str | None,
                 registered: Registered | None = None) -> Target:
    """One target, its prompt file read and its templates compiled (a ConfigError naming it otherwise)."""
    where = f"{config_file or 'goldband.yaml'}: target '{name}'"
    if spec.registry is not None:
        return from_registry(name, spec.registry, root, where, registered)
    text = None
    if spec.prompt:
        path = root / spec.prompt
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read prompt template {spec.prompt}: {exc.strerror}", where=where,
                              fix="check the 'prompt:' path (relative to the project root)") from None
        text = textio.text(data, spec.prompt)  # UTF-8, no control characters: else an error at the byte
    folder, label = templates.folder_of(spec.prompt, root)
    return Target(name, spec, root, text, templates.snapshot(folder, label, _sources(spec, text), where))


def _sources(spec: TargetConfig, prompt_text: str | None) -> list[tuple[str, str]]:
    """(name, text) of each template of a target: its prompt file, inline messages and system message."""
    named = [(spec.prompt or "prompt", prompt_text), ("system", spec.system),
             *((f"messages[{i}]", m.content) for i, m in enumerate(spec.messages or []))]
    return [(source, text) for source, text in named if text]


def from_registry(name: str, ref: str, root: Path, where: str, registered: Registered | None) -> Target:
    """The target stored with a registered version: its configuration and prompt text as registered."""
    stored = registered(ref) if registered is not None else None
    if stored is None:
        raise ConfigError(f"no registered version for '{ref}'", where=f"{where} (registry)",
                          expected="a version of an llm model in the store's registry (model@alias or model:version)",
                          fix="register and promote one (goldband registry register ... --target), or fix the name")
    return stored_target(name, stored, root, where)


def stored_target(name: str, stored: Mapping[str, Any], root: Path, where: str) -> Target:
    """A Target from a registry version's ``target`` record (``target_record``), its templates compiled."""
    spec = TargetConfig.model_validate(stored["config"])
    text = stored.get("prompt_text")
    included = stored.get("included") or {}
    folder = PromptsFolder(included.get("folder", "prompts/"), tuple(sorted(included.get("files", {}).items())))
    for source, template in _sources(spec, text):
        templates.check_syntax(template, source, where)
    return Target(name, spec, root, text, folder)


def target_record(target: Target) -> dict[str, Any]:
    """What the registry stores as an LLM version: the target's full configuration, its prompt text and
    content hash, so the version serves (and is tested) exactly as registered."""
    config = target.spec.model_dump(by_alias=True, exclude_none=True, exclude={"registry"})
    included = ({"included": {"folder": target.folder.label, "files": dict(target.folder.files)}}
                if target.folder.files else {})
    return {"name": target.name, "config": config, "prompt_text": target.prompt_text, **included,
            "content_hash": target.content_hash}


def load_callable(ref: str, root: Path) -> Any:
    try:
        return import_callable(ref, root)
    except ConfigError as exc:
        raise ConfigError(str(exc), where=f"callable {ref}",
                          fix="make the module importable from the project root") from None
