"""The trial and verdict values every report reads many times: fast forms equal to their definitions."""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from goldband.results import BaselineDelta, Score, ScoredTrial, Trial, Verdict

scores = st.builds(Score, check=st.just("c"), outcome=st.sampled_from(["pass", "fail", "error"]),
                   score=st.floats(0, 1), gating=st.booleans())


@given(st.lists(scores, max_size=6), st.sampled_from([None, "timeout"]))
def test_outcome_and_score_follow_the_gating_checks(found: list[Score], error: str | None) -> None:
    trial = ScoredTrial(Trial("case", "target", 0, None, error=error), tuple(found))
    gating = [s for s in found if s.gating]
    expected = ("error" if error or any(s.outcome == "error" for s in gating)
                else "fail" if any(s.outcome == "fail" for s in gating) else "pass")
    assert trial.outcome == expected
    if expected == "error" or not gating:
        assert trial.score is None
    else:
        assert trial.score == sum(s.score for s in gating) / len(gating)


@given(st.builds(Verdict, status=st.just("PASS"), n=st.integers(0, 9), passes=st.integers(0, 9),
                 fails=st.integers(0, 9), errors=st.integers(0, 9), reason=st.text(max_size=5),
                 baseline=st.none() | st.builds(BaselineDelta, outcome=st.just("regressed")),
                 notes=st.lists(st.text(max_size=3), max_size=2).map(tuple)))
def test_verdict_json_is_asdict_with_the_pass_rate(verdict: Verdict) -> None:
    expected = asdict(verdict) | {"pass_rate": verdict.pass_rate}
    expected["notes"] = list(expected["notes"])
    assert verdict.to_json() == expected and Verdict.from_json(verdict.to_json()) == verdict
