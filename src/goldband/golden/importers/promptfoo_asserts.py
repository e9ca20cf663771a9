"""promptfoo assertions into goldband checks: one mapping per assertion type.

``check(assertion)`` returns the goldband checks of one promptfoo assertion and a note when
the mapping is only approximate, or raises ``NotMapped`` saying why there is none; the
caller lists both. ``not-`` types become the
``not`` wrapper; ``threshold`` becomes the check's ``min``; ``metric`` becomes its ``label``.

>>> check({"type": "icontains", "value": "bonjour"})
([{'contains': 'bonjour', 'case_sensitive': False}], None)
>>> check({"type": "not-contains-any", "value": ["As an AI", "language model"]})
([{'not': {'contains': ['As an AI', 'language model'], 'mode': 'any'}}], None)
>>> check({"type": "similar", "value": "Paris, France", "threshold": 0.5})[0]
[{'embedding_similarity': 0.5, 'model': 'openai/text-embedding-3-large', 'reference': 'Paris, France'}]
>>> check({"type": "levenshtein", "value": "hello world", "threshold": 2})[0]
[{'similarity': 'hello world', 'threshold': 0.818, 'case_sensitive': True}]
>>> check({"type": "javascript", "value": "output.length < 100"})
Traceback (most recent call last):
...
goldband.errors.NotMapped: inline JavaScript cannot run in goldband; write a python check
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from goldband.errors import NotMapped

Check = dict[str, Any]
MODEL_GRADED = frozenset({
    "model-graded-closedqa", "model-graded-factuality", "factuality", "answer-relevance", "context-faithfulness",
    "context-recall", "context-relevance", "g-eval", "select-best", "max-score", "moderation", "classifier",
    "pi", "conversation-relevance", "search-rubric",
})
DEFAULT_THRESHOLDS = {"similar": 0.75, "rouge-n": 0.75, "bleu": 0.5, "levenshtein": 5.0}
NOTES = {  # assertion types whose mapping is approximate: what differs
    "levenshtein": "approximated: promptfoo allows at most N edits; mapped to similarity >= 1 - N/len(value)",
    "tool-call-f1": "each expected tool must be called; extra calls do not fail (F1's precision is not checked)",
    "python": "promptfoo calls get_assert(output, context dict); goldband calls f(output, ctx): check the signature",
}


def check(assertion: dict[str, Any], *, base: Path = Path("."), root: Path = Path(".")
          ) -> tuple[list[Check], str | None]:
    """The goldband checks of one promptfoo assertion, and what the mapping misses if anything
    (``base``: the config's folder; ``root``: the project's)."""
    kind = str(assertion.get("type", ""))
    if "transform" in assertion:
        raise NotMapped(f"its JavaScript transform {assertion['transform']!r} cannot run in goldband; "
                        "write a goldband transform (Jinja2) or a python check")
    if kind == "not-is-refusal":
        return [_labelled({"refusal": {"expect": False}}, assertion)], None
    negate = kind.startswith("not-")
    mapper = MAPPERS.get(kind.removeprefix("not-"))
    if mapper is None:
        raise NotMapped(_why_not(kind.removeprefix("not-")))
    checks = mapper(assertion, base, root)
    if negate:
        if len(checks) != 1:
            raise NotMapped("its negation covers several checks; write them by hand")
        checks = [{"not": checks[0]}]
    weight = assertion.get("weight", 1)
    note = NOTES.get(kind.removeprefix("not-"))
    if weight != 1:
        note = "; ".join(filter(None, [note, f"weight {weight} dropped: every goldband check gates alike"]))
    return [_labelled(c, assertion) for c in checks], note


def _why_not(kind: str) -> str:
    if kind == "javascript":
        return "inline JavaScript cannot run in goldband; write a python check"
    if kind in MODEL_GRADED:
        return "a model-graded assertion with its own prompt; write a rubric (rubrics/NAME.yaml) for it"
    return f"no goldband check does what promptfoo's {kind!r} does"


def _labelled(check_: Check, assertion: dict[str, Any]) -> Check:
    metric = assertion.get("metric")
    return {**check_, "label": str(metric)} if isinstance(metric, str) and metric else check_


def _value(assertion: dict[str, Any]) -> Any:
    value = assertion.get("value")
    if isinstance(value, str) and value.startswith("file://"):
        raise NotMapped(f"its value is read from {value}; put the value itself in the golden set")
    if value is None:
        raise NotMapped("it has no value")
    return value


def _text(assertion: dict[str, Any]) -> str:
    value = _value(assertion)
    if isinstance(value, (dict, list)):
        raise NotMapped("a JSON value; compare JSON with json_path or json_schema")
    return str(value)


def _texts(assertion: dict[str, Any]) -> list[str]:
    value = _value(assertion)
    values = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or any(isinstance(v, (dict, list)) for v in values):
        raise NotMapped("expected a list of texts")
    return [str(v) for v in values]


def _min(assertion: dict[str, Any], kind: str) -> float:
    threshold = assertion.get("threshold", DEFAULT_THRESHOLDS[kind])
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
        raise NotMapped(f"threshold {threshold!r} is not a number")
    return float(threshold)


def _contains(*, case_sensitive: bool, mode: str | None) -> Callable[[dict[str, Any], Path, Path], list[Check]]:
    def mapper(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
        out: Check = {"contains": _text(assertion) if mode is None else _texts(assertion)}
        if mode == "any":
            out["mode"] = "any"
        if not case_sensitive:
            out["case_sensitive"] = False
        return [out]
    return mapper


def _equals(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    return [{"equals": _text(assertion)}]


def _starts_with(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    return [{"starts_with": _text(assertion)}]


def _regex(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    return [{"regex": _text(assertion)}]


def _schema(assertion: dict[str, Any], base: Path, root: Path) -> Any:
    """An is-json/contains-json schema: inline, or a file:// path made relative to the project root."""
    value = assertion.get("value")
    if isinstance(value, str) and value.startswith("file://"):
        file = (base / value.removeprefix("file://")).resolve()
        try:
            return str(file.relative_to(root.resolve()))
        except ValueError:
            raise NotMapped(f"its schema {value} lies outside the project folder") from None
    if value is not None and not isinstance(value, dict):
        raise NotMapped("its schema is not a mapping")
    return value


def _is_json(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    schema = _schema(assertion, base, root)
    return [{"json_valid": {}} if schema is None else {"json_schema": schema}]


def _contains_json(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    return [{"contains_json": _schema(assertion, base, root)}]  # the schema is its primary value (None: any JSON)


def _tools_call(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    return [{"tool_args_schema": {}}]


def _tool_call_f1(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    if assertion.get("threshold", 1.0) != 1.0:
        raise NotMapped("an F1 threshold below 1 has no goldband check")
    return [{"tool_call": name} for name in _texts(assertion)]


def _python(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    value = assertion.get("value")
    if not isinstance(value, str) or not value.startswith("file://"):
        raise NotMapped("inline Python cannot be mapped (goldband runs no code from golden sets); "
                        "move it to a function in a .py file and name it in a python check")
    file, _, func = value.removeprefix("file://").partition(":")
    try:
        module = (base / file).resolve().relative_to(root.resolve()).with_suffix("")
    except ValueError:
        raise NotMapped(f"{file} lies outside the project folder") from None
    return [{"python": f"{'.'.join(module.parts)}:{func or 'get_assert'}"}]


def _rubric(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    text = _text(assertion)
    if "threshold" in assertion:
        raise NotMapped("an inline rubric passes or fails; its threshold has no equivalent (drop it or write "
                        "a rubric file with a scale)")
    return [{"rubric": text}]


def _reference(assertion: dict[str, Any]) -> str | list[str]:
    value = _value(assertion)
    if isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)):
        raise NotMapped("expected a reference text or a list of them")
    return [str(v) for v in value] if isinstance(value, list) else str(value)


def _similar(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    """Cosine similarity of embeddings; promptfoo's default embedding model unless ``provider`` names one."""
    provider = assertion.get("provider")
    model = "openai/text-embedding-3-large"  # promptfoo's DefaultEmbeddingProvider
    if isinstance(provider, str):
        family, _, rest = provider.partition(":")
        name = rest.split(":", 1)[1] if rest.startswith(("embedding:", "embeddings:")) else rest
        if family not in ("openai", "litellm") or not name:
            raise NotMapped(f"embedding provider {provider!r} has no litellm model here; give the check a model")
        model = name if family == "litellm" else f"openai/{name}"
    elif provider is not None:
        raise NotMapped("an embedding provider given as a mapping; give the check a model")
    return [{"embedding_similarity": _min(assertion, "similar"), "model": model, "reference": _reference(assertion)}]


def _rouge(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    """promptfoo's rouge-n is js-rouge's ROUGE-N with n = 1, unstemmed: rouge1 here."""
    reference = _reference(assertion)
    if isinstance(reference, list):
        raise NotMapped("promptfoo's rouge-n takes one reference text")
    return [{"rouge": _min(assertion, "rouge-n"), "reference": reference, "metric": "rouge1", "stemmer": False}]


def _bleu(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    return [{"bleu": _min(assertion, "bleu"), "reference": _reference(assertion)}]


def _levenshtein(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    text = _text(assertion)
    edits = _min(assertion, "levenshtein")
    return [{"similarity": text, "threshold": round(max(0.0, 1.0 - edits / max(len(text), 1)), 3),
             "case_sensitive": True}]


def _latency(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    return [{"latency_ms": _threshold(assertion)}]


def _cost(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    return [{"cost_usd": _threshold(assertion)}]


def _threshold(assertion: dict[str, Any]) -> float:
    value = assertion.get("threshold")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise NotMapped("it needs a numeric threshold")
    return value


def _refusal(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    return [{"refusal": {"expect": True}}]


def _word_count(assertion: dict[str, Any], base: Path, root: Path) -> list[Check]:
    value = _value(assertion)
    if isinstance(value, int) and not isinstance(value, bool):
        return [{"length": {"min": value, "max": value, "unit": "words"}}]
    if isinstance(value, dict) and set(value) <= {"min", "max"}:
        return [{"length": {**value, "unit": "words"}}]
    raise NotMapped("expected a number or {min, max}")


MAPPERS: dict[str, Callable[[dict[str, Any], Path, Path], list[Check]]] = {
    "equals": _equals,
    "contains": _contains(case_sensitive=True, mode=None),
    "icontains": _contains(case_sensitive=False, mode=None),
    "contains-any": _contains(case_sensitive=True, mode="any"),
    "icontains-any": _contains(case_sensitive=False, mode="any"),
    "contains-all": _contains(case_sensitive=True, mode="all"),
    "icontains-all": _contains(case_sensitive=False, mode="all"),
    "starts-with": _starts_with,
    "regex": _regex,
    "is-json": _is_json,
    "contains-json": _contains_json,
    "is-valid-openai-tools-call": _tools_call,
    "is-valid-openai-function-call": _tools_call,
    "tool-call-f1": _tool_call_f1,
    "python": _python,
    "llm-rubric": _rubric,
    "similar": _similar,
    "rouge-n": _rouge,
    "bleu": _bleu,
    "levenshtein": _levenshtein,
    "latency": _latency,
    "cost": _cost,
    "is-refusal": _refusal,
    "word-count": _word_count,
}
