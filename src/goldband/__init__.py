"""goldband: LLM regression testing inside pytest.

Versioned golden sets run against prompt + model targets several times; every
output is scored by deterministic checks and a rubric-driven judge; the repeats
become one honest verdict per case. This module stays tiny: pytest imports
goldband's plugin in every project, so the names below load on first use.

The public Python API: ``run`` (golden sets from Python, see
``goldband.session.api``), its ``RunResult`` and ``Outcome``, the result types
(``Verdict``, ``ScoredTrial``, ``Score``, ``Trial``, ``Completion``, ...) and the
error tree (``GoldbandError`` and its subclasses, see ``goldband.errors``). The
monitors (``goldband.monitors``), the monitoring application
(``goldband.monitor``), alerts (``goldband.alerts``), the registry and its
gate (``goldband.registry``), check registration (``goldband.checks``) and
test helpers (``goldband.testing``) are their own public packages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from goldband._util.lazy import lazy_exports
from goldband._version import __version__

if TYPE_CHECKING:
    from goldband.engine.plan import Outcome
    from goldband.errors import (
        CallFailed,
        CaseFailed,
        CassetteMiss,
        CheckError,
        CommandFailed,
        ConfigError,
        GoldbandError,
        MonitorError,
        OptionError,
        RegistryError,
        ReplyError,
        RowRefused,
        SinkError,
        StoreError,
        UsageError,
    )
    from goldband.results import (
        BaselineDelta,
        Completion,
        Score,
        ScoredTrial,
        Status,
        ToolCall,
        Trial,
        Verdict,
    )
    from goldband.session.api import RunResult, run

__all__ = [
    "BaselineDelta",
    "CallFailed",
    "CaseFailed",
    "CassetteMiss",
    "CheckError",
    "CommandFailed",
    "Completion",
    "ConfigError",
    "GoldbandError",
    "MonitorError",
    "OptionError",
    "Outcome",
    "RegistryError",
    "ReplyError",
    "RowRefused",
    "RunResult",
    "Score",
    "ScoredTrial",
    "SinkError",
    "Status",
    "StoreError",
    "ToolCall",
    "Trial",
    "UsageError",
    "Verdict",
    "__version__",
    "run",
]

_WHERE = {
    **dict.fromkeys(["CallFailed", "CaseFailed", "CassetteMiss", "CheckError", "CommandFailed", "ConfigError",
                     "GoldbandError", "MonitorError", "OptionError", "RegistryError", "ReplyError", "RowRefused",
                     "SinkError", "StoreError", "UsageError"], "errors"),
    **dict.fromkeys(["BaselineDelta", "Completion", "Score", "ScoredTrial", "Status", "ToolCall", "Trial",
                     "Verdict"], "results"),
    "Outcome": "engine.plan",
    "RunResult": "session.api",
    "run": "session.api",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals(), __all__)
