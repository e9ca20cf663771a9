"""A ``--where`` expression as SQL over the trace tables, so SQLite picks the traces, not Python.

``goldband golden candidates`` scans an app's traces newest first; testing
each in Python costs about 12 us (a million traces: 12 s), filtering in
SQLite a fraction of that. ``to_sql`` translates the parsed tree
(``goldband.golden.where``) into a condition over ``llm_traces t`` joined with
``llm_evaluations e`` that selects exactly the traces ``Where.matches`` would:

- a field the trace does not have (not evaluated, never judged) is NULL, and
  a comparison with NULL is false, also under NOT, as in the Python rules: every
  leaf is wrapped in ``COALESCE(..., FALSE)`` so it is false or true, never NULL
  (a boolean on PostgreSQL, 0 or 1 on SQLite: the same text serves both);
- ``feedback``, ``label``, ``comment`` and ``corrected`` read the trace's
  latest feedback of that kind, as the Python side does.

``~`` (contains, ignoring case) has no exact SQL twin (Python's ``casefold``
folds more than SQLite's ``lower``), so an expression using it returns None
and the caller tests in Python. ``tests/watch/test_wheresql.py`` checks that
both sides pick the same traces on random expressions and stores.
"""

from __future__ import annotations

from typing import Any

from goldband.golden.where import And, Compare, Node, Not, Or, Truthy, Where

__all__ = ["JOIN", "to_sql"]

JOIN = "llm_traces t LEFT JOIN llm_evaluations e ON e.trace = t.id"
_LATEST = ("(SELECT f.value FROM llm_feedback f WHERE f.app = t.app AND f.trace_id = t.trace_id AND f.kind = '{kind}' "
           "ORDER BY f.time DESC, f.id DESC LIMIT 1)")
_EVALUATED = "CASE WHEN e.trace IS NULL THEN NULL ELSE ({}) END"
_FIELDS: dict[str, tuple[str, str]] = {  # field -> (SQL expression, kind)
    "feedback": ("COALESCE((SELECT CASE WHEN f.score < 0 THEN 'negative' ELSE 'positive' END FROM llm_feedback f "
                 "WHERE f.app = t.app AND f.trace_id = t.trace_id AND f.kind = 'thumbs' ORDER BY f.time DESC, "
                 "f.id DESC LIMIT 1), 'none')", "text"),
    "corrected": ("EXISTS (SELECT 1 FROM llm_feedback f WHERE f.app = t.app AND f.trace_id = t.trace_id AND "
                  "f.kind = 'correction')", "bool"),
    "label": (_LATEST.format(kind="label"), "text"),
    "comment": (_LATEST.format(kind="comment"), "text"),
    "version": ("t.version", "text"), "time": ("t.time", "text"), "input": ("t.input", "text"),
    "output": ("t.output", "text"), "model": ("t.model", "text"), "finish_reason": ("t.finish_reason", "text"),
    "latency_ms": ("t.latency_ms", "number"), "cost": ("t.cost", "number"),
    "error": ("(t.error IS NOT NULL)", "bool"),
    "checks_failed": ("e.checks_failed", "number"), "judge_score": ("e.judge_score", "number"),
    "check_failed": (_EVALUATED.format("e.checks_failed != 0"), "bool"),
    "judged": (_EVALUATED.format("e.judge_score IS NOT NULL OR e.judge_error IS NOT NULL"), "bool"),
    "refusal": (_EVALUATED.format("e.refusal != 0"), "bool"),
    "empty": (_EVALUATED.format("e.empty != 0"), "bool"),
    "truncated": (_EVALUATED.format("e.truncated != 0"), "bool"),
}
_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def to_sql(where: Where) -> tuple[str, list[Any]] | None:
    """The condition and its parameters, or None when the expression needs Python (``~``)."""
    params: list[Any] = []
    text = _node(where.tree, params)
    return None if text is None else (text, params)


def _node(node: Node, params: list[Any]) -> str | None:
    if isinstance(node, Or | And):
        parts = [_node(item, params) for item in node.items]
        if any(p is None for p in parts):
            return None
        return "(" + (" OR " if isinstance(node, Or) else " AND ").join(p for p in parts if p) + ")"
    if isinstance(node, Not):
        inner = _node(node.item, params)
        return None if inner is None else f"(NOT {inner})"
    if isinstance(node, Truthy):  # Python's bool(): a non-empty text, a non-zero number, true
        expr, kind = _FIELDS[node.field]
        if kind == "bool":
            return f"COALESCE({expr}, FALSE)"
        return f"COALESCE({expr} != {chr(39) * 2 if kind == 'text' else '0'}, FALSE)"
    return _compare(node, params)


def _compare(node: Compare, params: list[Any]) -> str | None:
    expr, kind = _FIELDS[node.field]
    if node.op not in _OPS:
        return None
    if node.value is None:
        return f"({expr} IS {'NOT ' if node.op == '!=' else ''}NULL)"
    # the parser gives each field's kind its own type: text a str, a number an int or float, bool a bool
    params.append(bool(node.value) if kind == "bool" else node.value)  # a bool: SQLite stores it as 1 or 0
    return f"COALESCE({expr} {_OPS[node.op]} ?, FALSE)"
