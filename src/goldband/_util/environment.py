"""Environments: where a run ran or a model served (``staging``, ``production``, ``eu-west``).

One store holds every environment of a team; each row that belongs to one
(runs, series points, predictions) carries its name in an ``environment``
column. The default environment is stored as NULL, so rows written before
environments existed, and everything written by a user who never names one,
read as ``default`` without being rewritten.

>>> check_environment("eu-west", where="--environment")
'eu-west'
>>> check_environment("default", where="--environment") is None
True
>>> shown(None)
'default'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from goldband.errors import UsageError

DEFAULT = "default"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
EXPECTED = ("an environment name of lowercase letters, digits, '.', '_' or '-' (up to 40, starting with a letter "
            "or digit), e.g. staging, production, eu-west")


def check_environment(name: str | None, *, where: str) -> str | None:
    """The environment as stored: None for the default (absent, empty or ``default``), else the checked name.

    ``where`` names what gave it (a flag, ``goldband.yaml:3``, a variable) for the error."""
    if name is None or name.strip() in ("", DEFAULT):
        return None
    text = name.strip()
    if not NAME.match(text):
        hint = text.lower() if NAME.match(text.lower()) else "staging"
        raise UsageError(f"environment {name!r} is not a valid name", where=where, expected=EXPECTED,
                         fix=f"use e.g. {hint!r}")
    return text


VARIABLE = "GOLDBAND_ENVIRONMENT"


def resolve_environment(given: str | None = None, *, configured: str | None = None,
                        env: Mapping[str, str] | None = None, where: str = "environment=") -> str | None:
    """The environment a writer records (as stored: None for the default): ``given`` (an argument or flag), else
    ``GOLDBAND_ENVIRONMENT``, else ``configured`` (goldband.yaml's ``environment:``), else the default; the
    same order as a run's ``--goldband-environment``.

    >>> resolve_environment(None, env={"GOLDBAND_ENVIRONMENT": "staging"}), resolve_environment("default", env={})
    ('staging', None)
    """
    if given is not None:
        return check_environment(given, where=where)
    variable = (os.environ if env is None else env).get(VARIABLE)
    if variable not in (None, ""):
        return check_environment(variable, where=f"environment variable {VARIABLE}")
    return check_environment(configured, where="goldband.yaml 'environment:'")


def shown(stored: str | None) -> str:
    """An environment as shown and grouped: the stored name, or ``default`` for NULL."""
    return stored or DEFAULT


def environment_filter(given: str | None, *, where: str = "--environment") -> str | None:
    """A filter flag's environment, checked, as shown (``default`` for the default); None: every environment.

    >>> environment_filter(None), environment_filter("default"), environment_filter("staging")
    (None, 'default', 'staging')
    """
    return None if given is None else shown(check_environment(given, where=where))


def environment_clause(environment: str | None, column: str = "environment") -> tuple[str, list[Any]]:
    """An SQL condition selecting one environment (``default`` selects NULL rows), and its parameters.

    >>> environment_clause("default")
    ('environment IS NULL', [])
    >>> environment_clause("staging", "r.environment")
    ('r.environment = ?', ['staging'])
    """
    if environment is None or environment == DEFAULT:
        return f"{column} IS NULL", []
    return f"{column} = ?", [environment]
