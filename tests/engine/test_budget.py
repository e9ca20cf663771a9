"""Run-wide budgets in calls or US dollars."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldband.engine.budget import Budget, parse_budget
from goldband.results import Completion, ScoredTrial, Trial


def costing(usd: float | None, *, cached: bool = False) -> ScoredTrial:
    return ScoredTrial(Trial("case", "target", 0, Completion(output="x", cost_usd=usd), cached=cached))


# --------------------------------------------------------------------------- parse_budget


@pytest.mark.parametrize(
    ("text", "calls", "usd"),
    [
        ("500", 500, None),
        ("500calls", 500, None),
        ("500 calls", 500, None),
        ("1 call", 1, None),
        ("  42 CALLS ", 42, None),
        ("$2.50", None, 2.5),
        ("$ 3", None, 3.0),
        ("2.5usd", None, 2.5),
        ("2.5 USD", None, 2.5),
        ("10usd", None, 10.0),
        ("$10", None, 10.0),
    ],
)
def test_parse_budget_forms(text, calls, usd):
    budget = parse_budget(text)
    assert (budget.max_calls, budget.max_usd) == (calls, usd)
    assert (budget.calls, budget.usd, budget.refused) == (0, 0.0, 0)


@pytest.mark.parametrize("text", ["", "abc", "2.5", "-5", "$", "usd", "5 dollars", "2.5calls", "$2.5 calls", "1e3"])
def test_parse_budget_refuses_other_text(text):
    with pytest.raises(ValueError) as info:
        parse_budget(text)
    assert str(info.value) == (f"expected a number of calls (500) or dollars ($2.50, 2.5usd), "
                               f"found {text.strip()!r}")


def test_parse_budget_refuses_zero_calls():
    with pytest.raises(ValueError, match=r"expected at least 1 call, found '0'"):
        parse_budget("0")


# --------------------------------------------------------------------------- call budgets


def test_call_budget_grants_until_spent_then_refuses():
    budget = Budget(max_calls=10)
    assert [budget.grant(4), budget.grant(4), budget.grant(4), budget.grant(3)] == [4, 4, 2, 0]
    assert (budget.calls, budget.refused) == (10, 5)


def test_call_budget_ignores_cost():
    budget = Budget(max_calls=5)
    budget.spend([costing(100.0)])
    assert budget.grant(5) == 5


@given(max_calls=st.integers(1, 100), asks=st.lists(st.integers(0, 30), max_size=20))
@settings(max_examples=100, deadline=None)
def test_call_budget_never_overspends_and_books_every_ask(max_calls, asks):
    budget = Budget(max_calls=max_calls)
    granted = [budget.grant(want) for want in asks]
    assert all(0 <= g <= want for g, want in zip(granted, asks, strict=True))
    assert budget.calls == sum(granted) == min(sum(asks), max_calls)
    assert budget.calls + budget.refused == sum(asks)


def test_no_limit_grants_everything():
    budget = Budget()
    assert budget.grant(1000) == 1000 and budget.refused == 0


# --------------------------------------------------------------------------- dollar budgets


def test_usd_budget_grants_until_the_spend_reaches_the_limit():
    budget = Budget(max_usd=1.0)
    assert budget.grant(5) == 5
    budget.spend([costing(0.3), costing(0.3)])
    assert budget.grant(5) == 5  # $0.60 < $1
    budget.spend([costing(0.4)])  # exactly $1.00 now
    assert budget.usd == pytest.approx(1.0)
    assert budget.grant(3) == 0
    assert (budget.calls, budget.refused) == (10, 3)


def test_replayed_and_costless_trials_cost_nothing():
    budget = Budget(max_usd=0.5)
    budget.spend([costing(10.0, cached=True), costing(None),
                  ScoredTrial(Trial("case", "target", 0, None, error="timeout: no reply"))])
    assert budget.usd == 0.0
    assert budget.grant(2) == 2


def test_usd_and_call_limits_together():
    budget = Budget(max_calls=4, max_usd=1.0)
    assert budget.grant(6) == 4
    budget.spend([costing(2.0)])
    assert budget.grant(1) == 0 and budget.refused == 3


# --------------------------------------------------------------------------- describe


def test_describe_call_budget():
    budget = Budget(max_calls=10)
    assert budget.describe() == "budget 10 calls: spent 0 calls, $0.0000"
    budget.grant(12)
    assert budget.describe() == "budget 10 calls: spent 10 calls, $0.0000, 2 trials refused"


def test_describe_usd_budget():
    budget = parse_budget("$2.50")
    budget.grant(3)
    budget.spend([costing(0.01234)])
    assert budget.describe() == "budget $2.5: spent 3 calls, $0.0123"
