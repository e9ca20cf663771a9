"""A run-wide budget, in calls or US dollars, that adaptive repeats must respect.

Every batch of trials asks the budget first (``grant``); what the batch really
cost is booked afterwards (``spend``). Replayed samples cost nothing, so the
session sets no budget in replay mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from goldband.config.settings import budget_limit
from goldband.results import ScoredTrial


@dataclass
class Budget:
    max_calls: int | None = None
    max_usd: float | None = None
    calls: int = 0  # trials granted
    usd: float = 0.0  # cost of the trials that came back
    refused: int = 0  # trials asked for but not granted

    def grant(self, wanted: int) -> int:
        """How many of ``wanted`` trials may run now (0 once the budget is spent)."""
        if self.max_usd is not None and self.usd >= self.max_usd:
            self.refused += wanted
            return 0
        granted = wanted if self.max_calls is None else max(0, min(wanted, self.max_calls - self.calls))
        self.calls += granted
        self.refused += wanted - granted
        return granted

    def spend(self, trials: Sequence[ScoredTrial]) -> None:
        self.usd += sum(t.trial.completion.cost_usd or 0.0 for t in trials
                        if t.trial.completion is not None and not t.trial.cached)

    def describe(self) -> str:
        limit = f"{self.max_calls} calls" if self.max_calls is not None else f"${self.max_usd:g}"
        spent = f"{self.calls} calls, ${self.usd:.4f}"
        return f"budget {limit}: spent {spent}" + (f", {self.refused} trials refused" if self.refused else "")


def parse_budget(text: str) -> Budget:
    """``500`` or ``500calls`` -> a call budget; ``$2.50`` or ``2.5usd`` -> a dollar budget (ValueError otherwise)."""
    max_calls, max_usd = budget_limit(text)
    return Budget(max_calls=max_calls, max_usd=max_usd)
