"""A monitored scope: one model version (or LLM app version) served in one environment.

Every environment is watched apart: staging's windows, error stream,
detectors, series and alerts never mix with production's, so drift that
only production sees alerts production only. The default environment
(NULL in ``monitor_predictions``) keeps the state keys, series labels and
window rows written before environments existed, so a store checked
before migration 14 reads on where it stopped.

>>> Scope("churn", "2").key, Scope("churn", "2", "production").key
('churn|2', 'churn|2|production')
>>> Scope("churn", "2", "production").labels
{'version': '2', 'environment': 'production'}
>>> Scope("churn", "2", "production").where("p")
('p.model = ? AND p.version = ? AND p.environment = ?', ['churn', '2', 'production'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from goldband._util.environment import environment_clause, shown

__all__ = ["Scope"]


@dataclass(frozen=True)
class Scope:
    """A model (or LLM app) version in one environment (``environment`` as stored: None for the default)."""

    model: str
    version: str
    environment: str | None = None

    @property
    def key(self) -> str:
        """The ``monitor_state`` key of its window cursor and concept detectors."""
        return f"{self.model}|{self.version}" + (f"|{self.environment}" if self.environment else "")

    @property
    def labels(self) -> dict[str, str]:
        """The labels of its series, drift events and alert observations (alerts split by ``environment``)."""
        return {"version": self.version, **({"environment": self.environment} if self.environment else {})}

    @property
    def window_environment(self) -> str:
        """``monitor_windows.environment``: part of that table's key, so '' (not NULL) for the default."""
        return self.environment or ""

    @property
    def shown(self) -> str:
        return shown(self.environment)

    @property
    def title(self) -> str:
        """``churn v2``, or ``churn v2 in production`` outside the default environment."""
        return f"{self.model} v{self.version}" + (f" in {self.environment}" if self.environment else "")

    def where(self, alias: str = "", *, model: str = "model") -> tuple[str, list[Any]]:
        """The SQL condition selecting its rows (``alias``: the table's, e.g. ``p``; ``model``: the column
        naming the model, ``app`` for LLM traces), and its values."""
        dot = f"{alias}." if alias else ""
        clause, values = environment_clause(self.environment, f"{dot}environment")
        return f"{dot}{model} = ? AND {dot}version = ? AND {clause}", [self.model, self.version, *values]
