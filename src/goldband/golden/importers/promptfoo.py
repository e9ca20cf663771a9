"""promptfoo configs into a golden set and goldband targets.

``prompts`` x ``providers`` become targets (each prompt a ``prompts/*.j2`` file, its
``{{var}}`` kept as Jinja2; a JSON chat prompt becomes the target's ``messages``;
``openai:gpt-4o-mini`` becomes ``model: openai/gpt-4o-mini`` with ``config`` as
``params``), ``tests`` (inline, or ``file://tests.csv``) with ``defaultTest`` become
cases (``vars`` their input; a list value expands into one case per value, as promptfoo
does) and their ``assert`` entries become checks (``promptfoo_asserts``). Everything
else is listed as not mapped, with its file:line.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path
from typing import Any

from goldband._util import textio, yamlio
from goldband.errors import ConfigError, NotMapped
from goldband.golden.importers.common import Ids, Imported, mapping, provenance, slug
from goldband.golden.importers.promptfoo_asserts import MAPPERS, check
from goldband.golden.importers.promptfoo_threads import Step, Thread, thread_case

FAMILIES = {  # promptfoo's provider prefix -> litellm's
    "openai": "openai", "anthropic": "anthropic", "azure": "azure", "azureopenai": "azure", "vertex": "vertex_ai",
    "google": "gemini", "gemini": "gemini", "ollama": "ollama", "mistral": "mistral", "groq": "groq",
    "bedrock": "bedrock", "openrouter": "openrouter", "deepseek": "deepseek", "togetherai": "together_ai",
    "fireworks": "fireworks_ai", "perplexity": "perplexity", "xai": "xai", "cohere": "cohere",
}
API_KINDS = frozenset({"chat", "completion", "messages", "responses"})  # openai:chat:gpt-4o -> gpt-4o
RESERVED = frozenset({"n", "stream", "messages", "model", "api_key", "api_base", "base_url"})
KNOWN_TOP = frozenset({"description", "prompts", "providers", "tests", "defaultTest", "$schema"})
TEST_KEYS = frozenset({"vars", "assert", "description", "options", "metadata"})


class _Config:
    """One promptfoo config being read: its lines, its folder, and the set it becomes."""

    def __init__(self, path: Path, shown: str, root: Path, imported: Imported) -> None:
        self.path, self.shown, self.root, self.out = path, shown, root, imported
        self.raw, self.lines = yamlio.load(path, Path(shown))
        if not isinstance(self.raw, dict):
            raise ConfigError("a promptfoo config must be a mapping", where=f"{shown}:1",
                              expected="keys prompts, providers, tests")
        self.base = path.resolve().parent
        self.has_tools = False  # a provider offers tools: the output promptfoo checks is the tool calls
        self.conversation: str | None = None  # the one prompt, when it threads tests with _conversation
        self.threads: list[Thread] = []  # in the order they start; a test outside any thread is one of its own

    def where(self, *at: str | int) -> str:
        return self.lines.where(at)


def from_promptfoo(path: Path, shown: str, *, name: str, root: Path) -> Imported:
    """Read promptfoo config ``path`` (shown as ``shown``) into a golden set named ``name``."""
    imported = Imported(name=name, source=shown, kind="promptfoo")
    cfg = _Config(path, shown, root, imported)
    imported.description = cfg.raw.get("description") if isinstance(cfg.raw.get("description"), str) else None
    for key in cfg.raw:
        if key not in KNOWN_TOP:
            imported.skip(cfg.where(key), key, "a promptfoo setting goldband does not read")
    prompts = _prompts(cfg)
    if len(prompts) == 1 and isinstance(prompts[0][1], str) and "_conversation" in prompts[0][1]:
        cfg.conversation = prompts[0][1]
    providers = _providers(cfg)
    imported.targets = _targets(cfg, prompts, providers)
    default_vars, imported.default_checks = _default_test(cfg)
    _tests(cfg, default_vars)
    return imported


# ---- prompts -----------------------------------------------------------------------------------------

Prompt = tuple[str, str | list[dict[str, str]], str]  # label, template text or chat messages, where


def _prompts(cfg: _Config) -> list[Prompt]:
    """(label, template text or chat messages, where) per prompt."""
    raw = cfg.raw.get("prompts")
    entries = raw if isinstance(raw, list) else [raw] if raw is not None else []
    out: list[Prompt] = []
    for i, entry in enumerate(entries):
        where = cfg.where("prompts", i) if isinstance(raw, list) else cfg.where("prompts")
        label = entry.get("label") if isinstance(entry, dict) else None
        text = (entry.get("raw") or entry.get("id")) if isinstance(entry, dict) else entry
        if not isinstance(text, str):
            cfg.out.skip(where, entry, "a prompt goldband cannot read (text or file:// expected)")
            continue
        for j, body in enumerate(_prompt_bodies(cfg, text, where)):
            out.append((str(label) if label and j == 0 else f"prompt{len(out) + 1}", body, where))
    if not out:
        raise ConfigError("no prompt to import", where=cfg.where("prompts"),
                          expected="'prompts:' with inline prompts or file:// paths")
    return out


def _prompt_bodies(cfg: _Config, text: str, where: str) -> list[str | list[dict[str, str]]]:
    if not text.startswith("file://"):
        return [text]
    rel = text.removeprefix("file://")
    file = cfg.base / rel
    if ":" in rel or file.suffix in (".py", ".js", ".ts", ".mjs", ".cjs") or any(c in rel for c in "*?["):
        cfg.out.skip(where, text, "prompt functions and globs have no goldband equivalent; write the prompt file")
        return []
    if not file.is_file():
        raise ConfigError(f"prompt file {rel} not found (looked for {file})", where=where,
                          fix="import from the folder the promptfoo config is in")
    body = textio.read(file, rel)
    if file.suffix == ".json":
        return [_chat(cfg, body, rel, where)]
    return [part.strip("\n") + "\n" for part in body.split("\n---\n") if part.strip()]


def _chat(cfg: _Config, body: str, rel: str, where: str) -> str | list[dict[str, str]]:
    """A JSON chat prompt as messages; one with template logic inside stays a template (and is listed)."""
    try:
        messages = json.loads(body)
    except json.JSONDecodeError:
        if "_conversation" not in body:  # a conversation prompt is rendered per test (promptfoo_threads)
            cfg.out.skip(where, rel, "a chat prompt with template logic around its JSON: written as a prompt "
                                     "file; rewrite it as the target's 'messages:'")
        return body
    ok = isinstance(messages, list) and all(isinstance(m, dict) and isinstance(m.get("content"), str)
                                            and m.get("role") in ("system", "user", "assistant") for m in messages)
    if not ok:
        cfg.out.skip(where, rel, "a JSON prompt that is not a list of chat messages: written as a prompt file")
        return body
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _template_notes(cfg: _Config, label: str, text: str, where: str) -> None:
    """Nunjucks is close to Jinja2, not equal: say which prompts goldband's templates cannot compile."""
    from jinja2 import TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    if "_conversation" in text:
        cfg.out.skip(where, label, "uses promptfoo's _conversation (earlier turns): conversations become cases "
                                   "with 'turns' only when the config has this one prompt; import it on its own")
        return
    try:
        SandboxedEnvironment().compile(text)
    except TemplateError as exc:
        cfg.out.skip(where, label, f"does not compile as Jinja2 ({exc}); correct the prompt file")


# ---- providers and targets -------------------------------------------------------------------------------

def _providers(cfg: _Config) -> list[tuple[str, dict[str, Any]]]:
    """(name, target fields) per provider that maps to a model."""
    raw = cfg.raw.get("providers")
    entries = raw if isinstance(raw, list) else [raw] if raw is not None else []
    out = []
    for i, entry in enumerate(entries):
        where = cfg.where("providers", i) if isinstance(raw, list) else cfg.where("providers")
        provider_id, config, label = _provider_parts(entry)
        model = _model(provider_id) if provider_id else None
        if model is None:
            cfg.out.skip(where, entry, "a provider with no litellm model (scripts, HTTP endpoints); "
                                       "use a goldband callable target")
            continue
        fields: dict[str, Any] = {"description": f"promptfoo provider {provider_id}", "model": model}
        fields.update(_endpoint(cfg, config, cfg.where("providers", i, "config") if isinstance(raw, list) else where))
        out.append((slug(label or model.partition("/")[2]) or f"provider{i + 1}", fields))
    if not out:
        raise ConfigError("no provider maps to a goldband model", where=cfg.where("providers"),
                          expected="providers like openai:gpt-4o-mini")
    return out


def _provider_parts(entry: Any) -> tuple[str | None, dict[str, Any], str | None]:
    if isinstance(entry, str):
        return entry, {}, None
    if isinstance(entry, dict) and isinstance(entry.get("id"), str):
        return entry["id"], mapping(entry.get("config")), entry.get("label")
    if isinstance(entry, dict) and len(entry) == 1:  # {openai:gpt-4o: {config: ...}}
        (key, value), = entry.items()
        inner = mapping(value)
        return str(key), mapping(inner.get("config")), inner.get("label")
    return None, {}, None


def _model(provider_id: str) -> str | None:
    """promptfoo's provider id as a litellm model string.

    >>> _model("openai:chat:gpt-4.1"), _model("anthropic:messages:claude-sonnet-4"), _model("exec:./run.sh")
    ('openai/gpt-4.1', 'anthropic/claude-sonnet-4', None)
    """
    family, _, rest = provider_id.partition(":")
    kind, _, tail = rest.partition(":")
    name = tail if kind in API_KINDS and tail else rest
    prefix = FAMILIES.get(family)
    if prefix is None or not name:
        return None
    return f"{prefix}/{name}"


def _endpoint(cfg: _Config, config: dict[str, Any], where: str) -> dict[str, Any]:
    """A provider's config as target fields: api_base, api_key_env, and the rest as pinned params."""
    fields: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for key, value in config.items():
        if key in ("apiBaseUrl", "apiHost"):
            fields["api_base"] = value if str(value).startswith("http") else f"https://{value}/v1"
        elif key == "apiKeyEnvar":
            fields["api_key_env"] = value
        elif key == "apiKey":
            cfg.out.skip(where, "config.apiKey", "keys never go in goldband.yaml; name the variable in api_key_env")
        elif key in RESERVED or (isinstance(value, str) and value.startswith("file://")):
            cfg.out.skip(where, f"config.{key}", "goldband sets it itself, or it names a file; not imported")
        else:
            params[key] = value
    if params:
        fields["params"] = params
    cfg.has_tools = cfg.has_tools or "tools" in params
    return fields


def _targets(cfg: _Config, prompts: list[Prompt],
             providers: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    targets: dict[str, dict[str, Any]] = {}
    for p, (label, body, where) in enumerate(prompts):
        prompt_fields = _prompt_fields(cfg, label, body, p, where)
        for name, fields in providers:
            target = name if len(prompts) == 1 else f"{name}-{slug(label) or p + 1}"
            while target in targets:
                target += "-2"
            described = f"{fields['description']} x prompt '{label}', imported from {cfg.shown}"
            targets[target] = {**fields, "description": described, **prompt_fields}
    return targets


def _prompt_fields(cfg: _Config, label: str, body: str | list[dict[str, str]], index: int,
                   where: str) -> dict[str, Any]:
    if cfg.conversation is not None:
        return {}  # its cases carry their rendered messages (promptfoo_threads): no template to keep
    if isinstance(body, list):
        for message in body:
            _template_notes(cfg, label, message["content"], where)
        return {"messages": body}
    _template_notes(cfg, label, body, where)
    rel = f"prompts/{cfg.out.name}-{slug(label) or index + 1}.j2"
    cfg.out.prompts[rel] = body
    return {"prompt": rel}


# ---- tests -----------------------------------------------------------------------------------------------

def _default_test(cfg: _Config) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    raw = cfg.raw.get("defaultTest")
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        cfg.out.skip(cfg.where("defaultTest"), raw, "a defaultTest goldband cannot read (a mapping expected)")
        return {}, []
    _test_extras(cfg, raw, cfg.lines, ("defaultTest",))
    return mapping(raw.get("vars")), _checks(cfg, raw, cfg.lines, ("defaultTest",))


def _tests(cfg: _Config, default_vars: dict[str, Any]) -> None:
    """Inline tests, or files of them: ``file://tests.csv``, ``file://tests.yaml`` (a list of tests)."""
    ids = Ids()
    _test_sources(cfg, default_vars, ids)
    if cfg.conversation is not None:
        _threads(cfg, ids)


def _test_sources(cfg: _Config, default_vars: dict[str, Any], ids: Ids) -> None:
    raw = cfg.raw.get("tests")
    if isinstance(raw, list) and not all(isinstance(t, str) for t in raw):
        _test_list(cfg, raw, cfg.lines, ("tests",), default_vars, ids)
        return
    if not raw or not isinstance(raw, (str, list)):
        raise ConfigError("no tests to import", where=cfg.where("tests"),
                          expected="'tests:' with a list of tests, or file://tests.csv or file://tests.yaml")
    for ref in [raw] if isinstance(raw, str) else raw:
        file = _tests_file(cfg, str(ref))
        if file.suffix.lower() == ".csv":
            _csv_tests(cfg, file, default_vars, ids)
            continue
        tests, lines = yamlio.load(file, _shown(cfg, file))
        if not isinstance(tests, list):
            raise ConfigError("a tests file must hold a list of tests", where=f"{_shown(cfg, file)}:1",
                              expected="- vars: {...}\n  assert: [...]")
        _test_list(cfg, tests, lines, (), default_vars, ids)


def _tests_file(cfg: _Config, ref: str) -> Path:
    file = cfg.base / ref.removeprefix("file://")
    if not ref.startswith("file://") or file.suffix.lower() not in (".csv", ".yaml", ".yml") or not file.is_file():
        raise ConfigError(f"tests file {ref} not found, or not a CSV or YAML file", where=cfg.where("tests"),
                          expected="file://tests.csv or file://tests.yaml beside the config",
                          fix="check the path (globs and other formats are not read)")
    return file


def _shown(cfg: _Config, file: Path) -> Path:
    """A file beside the config, shown as the user named the config's folder."""
    return Path(cfg.shown).parent / file.relative_to(cfg.base)


def _test_list(cfg: _Config, tests: list[Any], lines: yamlio.Lines, prefix: tuple[str | int, ...],
               default_vars: dict[str, Any], ids: Ids) -> None:
    for i, test in enumerate(tests):
        at = (*prefix, i)
        if not isinstance(test, dict):
            cfg.out.skip(lines.where(at), test, "a test goldband cannot read (a mapping expected)")
            continue
        _test_extras(cfg, test, lines, at)
        checks = _checks(cfg, test, lines, at)
        key = mapping(test.get("metadata")).get("conversationId")
        _collect(cfg, Step({**default_vars, **mapping(test.get("vars"))}, checks, lines.where(at),
                           test.get("description") if isinstance(test.get("description"), str) else None),
                 None if key is None else str(key), ids)


def _collect(cfg: _Config, step: Step, key: str | None, ids: Ids) -> None:
    """A test's cases now; or, under a conversation prompt, its step in a thread (``_threads`` makes the cases)."""
    if cfg.conversation is None:
        _add_cases(cfg, step.variables, step.checks, step.description, step.where, ids)
        return
    thread = next((t for t in cfg.threads if key is not None and t.key == key), None)
    if thread is None:
        thread = Thread(key)
        cfg.threads.append(thread)
    thread.steps.append(step)


def _threads(cfg: _Config, ids: Ids) -> None:
    """Each thread as one case with turns; a thread whose prompt does not render is one case per test."""
    assert cfg.conversation is not None
    if cfg.out.default_checks and any(t.key is not None for t in cfg.threads):
        cfg.out.skip(cfg.where("defaultTest"), "defaultTest.assert", "in a conversation case the default checks "
                                                                     "score the final reply only, not every turn")
    for thread in cfg.threads:
        case = thread_case(cfg.conversation, thread, ids, cfg.out)
        if case is not None:
            cfg.out.cases.append(case)
            continue
        for step in thread.steps:
            _add_cases(cfg, step.variables, step.checks, step.description, step.where, ids)


def _test_extras(cfg: _Config, test: dict[str, Any], lines: yamlio.Lines, at: tuple[str | int, ...]) -> None:
    for key in test:
        if key not in TEST_KEYS:
            cfg.out.skip(lines.where((*at, key)), key, "a test setting goldband does not read")
    for key in mapping(test.get("options")):
        if key != "transform":
            cfg.out.skip(lines.where((*at, "options", key)), f"options.{key}", "a test option goldband does not read")
    metadata = {k: v for k, v in mapping(test.get("metadata")).items()
                if k != "conversationId" or cfg.conversation is None}
    if metadata:
        cfg.out.skip(lines.where((*at, "metadata")), metadata, "metadata is not kept (tags take plain names)")


def _checks(cfg: _Config, test: dict[str, Any], lines: yamlio.Lines, at: tuple[str | int, ...]
            ) -> list[dict[str, Any]]:
    transform = mapping(test.get("options")).get("transform")
    out: list[dict[str, Any]] = []
    for j, assertion in enumerate(test.get("assert") or []):
        out += _one_assert(cfg, assertion, lines.where((*at, "assert", j)), transform)
    return out


def _one_assert(cfg: _Config, assertion: Any, place: str, transform: Any) -> list[dict[str, Any]]:
    if not isinstance(assertion, dict) or not isinstance(assertion.get("type"), str):
        cfg.out.skip(place, assertion, "an assertion without a 'type'")
        return []
    if assertion["type"] == "assert-set" and "threshold" not in assertion:
        return [c for inner in assertion.get("assert") or [] for c in _one_assert(cfg, inner, place, transform)]
    if assertion["type"] == "is-json" and cfg.has_tools:
        cfg.out.skip(place, assertion, "with tools, promptfoo's output is the tool calls as JSON; goldband's output "
                                       "is the reply's text: check tool calls with tool_call or tool_args_schema")
        return []
    if transform is not None:
        cfg.out.skip(place, assertion, f"runs after the test's JavaScript transform {transform!r}, which cannot "
                                       "run in goldband; write a goldband transform (Jinja2) or a python check")
        return []
    try:
        checks, note = check(assertion, base=cfg.base, root=cfg.root)
    except NotMapped as exc:
        cfg.out.skip(place, assertion, str(exc))
        return []
    if note:
        cfg.out.skip(place, assertion, note)
    return checks


def _add_cases(cfg: _Config, variables: dict[str, Any], checks: list[dict[str, Any]], description: Any,
               where: str, ids: Ids) -> None:
    """One case per combination of list-valued vars (promptfoo's expansion)."""
    keys = [k for k, v in variables.items() if isinstance(v, list)]
    for combo in itertools.product(*(variables[k] for k in keys)):
        values = {**variables, **dict(zip(keys, combo, strict=True))}
        for key, value in values.items():
            if isinstance(value, str) and value.startswith("file://"):
                cfg.out.skip(where, f"{key}: {value}", "a var read from a file is kept as the literal text; "
                                                       "put the file's content in the case input")
        text = description if isinstance(description, str) and description else " ".join(map(str, values.values()))
        case: dict[str, Any] = {"id": ids.generated(text, len(cfg.out.cases) + 1)}
        if isinstance(description, str) and description:
            case["description"] = description
        case["input"] = values
        if checks:
            case["checks"] = checks
        case["provenance"] = provenance(where)
        cfg.out.cases.append(case)


def _csv_tests(cfg: _Config, file: Path, default_vars: dict[str, Any], ids: Ids) -> None:
    """``tests: file://tests.csv``: columns are vars; ``__expected*`` are assertions as ``type:value``."""
    shown = _shown(cfg, file)
    reader = csv.DictReader(io.StringIO(textio.read(file, shown), newline=""))
    for row in reader:
        where = f"{shown}:{reader.line_num}"
        variables = {k: v for k, v in row.items() if k and not k.startswith("__")}
        checks: list[dict[str, Any]] = []
        for key, value in row.items():
            if key and key.startswith("__expected") and value:
                checks += _one_assert(cfg, expected_assertion(value), where, None)
            elif key and key.startswith("__") and key != "__description" and value:
                cfg.out.skip(where, f"{key}: {value}", "a promptfoo column goldband does not read")
        _collect(cfg, Step({**default_vars, **variables}, checks, where, row.get("__description") or None), None, ids)


def expected_assertion(text: str) -> dict[str, Any]:
    """An ``__expected`` cell as promptfoo reads it: ``type:value``, ``grade:`` (a rubric), or equality.

    >>> expected_assertion("icontains:bonjour"), expected_assertion("grade: is polite")
    ({'type': 'icontains', 'value': 'bonjour'}, {'type': 'llm-rubric', 'value': 'is polite'})
    >>> expected_assertion("Paris")
    {'type': 'equals', 'value': 'Paris'}
    """
    kind, sep, value = text.partition(":")
    kind = kind.strip()
    if sep and kind == "grade":
        return {"type": "llm-rubric", "value": value.strip()}
    if sep and kind in ("fn", "eval"):
        return {"type": "javascript", "value": value.strip()}
    if sep and (kind.removeprefix("not-") in MAPPERS or kind in ("javascript", "python")):
        return {"type": kind, "value": value.strip()} if value.strip() else {"type": kind}
    if not sep and text.strip().removeprefix("not-") in MAPPERS:
        return {"type": text.strip()}
    return {"type": "equals", "value": text}
