"""The plugin's settings: pytest options, ini keys and ``GOLDBAND_*`` variables, read once.

Standard library only: pytest imports the plugin in every project, including
those that never use goldband. Precedence: command-line option, then
environment variable, then ini key, then ``goldband.yaml``, then the default.
``None`` here means "not set at this level".
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODES = ("live", "record", "replay", "cached")


class OptionError(argparse.ArgumentTypeError):
    """A bad option value; argparse shows its message as is."""


@dataclass(frozen=True)
class Settings:
    rootpath: Path
    paths: tuple[str, ...]  # directories whose *.yaml files are golden sets
    runs: int | None
    targets: tuple[str, ...] | None
    mode: str | None
    concurrency: int | None
    timeout_s: float | None
    worker: bool  # a pytest-xdist worker: plan lazily, per item


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with a message that names what was found."""
    try:
        value = int(text)
    except ValueError:
        raise OptionError(f"expected a whole number >= 1, found {text!r}") from None
    if value < 1:
        raise OptionError(f"expected a whole number >= 1, found {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"expected a number of seconds > 0, found {text!r}") from None
    if not value > 0:
        raise OptionError(f"expected a number of seconds > 0, found {value}")
    return value


def mode(text: str) -> str:
    if text not in MODES:
        raise OptionError(f"expected one of {', '.join(MODES)}, found {text!r}")
    return text


def target_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise OptionError("expected target names separated by commas")
    return names


# name -> (parser, help); options are --goldband-NAME, ini keys goldband_NAME, env GOLDBAND_NAME
OPTIONS: dict[str, tuple[Any, str]] = {
    "runs": (positive_int, "trials per case (overrides the golden set's 'runs')"),
    "target": (target_list, "run only these targets (comma-separated names from goldband.yaml)"),
    "mode": (mode, "where samples come from: live | record | replay | cached"),
    "concurrency": (positive_int, "maximum LLM calls in flight across all cases (default 16)"),
    "timeout": (positive_float, "per-call timeout in seconds (overrides every target's timeout_s)"),
}


def resolve(name: str, option: Any, ini: str | None, env: Mapping[str, str] | None = None) -> Any:
    """The first value set among option, GOLDBAND_NAME and the ini key; parsed; or None."""
    source_env: Mapping[str, str] = os.environ if env is None else env
    if option is not None:
        return option
    parser, _ = OPTIONS[name]
    for source, raw in ((f"environment variable GOLDBAND_{name.upper()}", source_env.get(f"GOLDBAND_{name.upper()}")),
                        (f"ini key goldband_{name}", ini)):
        if raw not in (None, ""):
            try:
                return parser(str(raw))
            except OptionError as exc:
                raise OptionError(f"{source}: {exc}") from None
    return None
