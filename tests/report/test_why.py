"""Why a case did not pass: failing checks grouped and counted, trial errors, one shortened failing output."""

from __future__ import annotations

from goldband.report.escape import WORD_JOINER
from goldband.report.why import (
    EMPTY_OUTPUT,
    FailingCheck,
    failing_checks,
    failing_output,
    why_markdown,
    why_text,
)
from goldband.results import Completion, Score, ScoredTrial, ToolCall, Trial

CONTAINS = 'contains "30 days"'


def ok(check: str = CONTAINS) -> Score:
    return Score(check, "pass", 1.0)


def bad(check: str = CONTAINS, detail: str = 'missing "30 days"', outcome: str = "fail", gating: bool = True) -> Score:
    return Score(check, outcome, 0.0, detail, gating=gating)  # type: ignore[arg-type]


def trial(sample: int, *scores: Score, output: str | None = "an answer",
          calls: tuple[ToolCall, ...] = ()) -> ScoredTrial:
    return ScoredTrial(Trial("c", "t", sample, Completion(output, tool_calls=calls)), scores)


def errored(sample: int, kind: str | None = "timeout", message: str = "timeout: no reply within 60 s") -> ScoredTrial:
    return ScoredTrial(Trial("c", "t", sample, None, error=message, error_kind=kind))


def test_failures_are_grouped_by_check_and_counted_over_the_case_trials() -> None:
    trials = [trial(0, bad(), ok("length")), trial(1, bad(), bad("length", "too long: 900 > 500")),
              trial(2, bad(detail="other"), ok("length")), trial(3, ok(), ok("length")), trial(4, bad(), ok("length"))]
    assert failing_checks(trials) == [FailingCheck(CONTAINS, 'missing "30 days"', 4, 5, "fail"),
                                      FailingCheck("length", "too long: 900 > 500", 1, 5, "fail")]
    assert why_text(trials) == ('contains "30 days": missing "30 days" (4/5 trials); '
                                'length: too long: 900 > 500 (1/5 trials)')


def test_the_first_detail_wins_a_tie_and_the_first_check_wins_a_tie_of_counts() -> None:
    trials = [trial(0, bad("b", "b1"), bad("a", "first")), trial(1, bad("a", "second"), bad("b", "b2"))]
    assert [(c.label, c.detail) for c in failing_checks(trials)] == [("b", "b1"), ("a", "first")]


def test_non_gating_and_passing_scores_are_not_reasons() -> None:
    trials = [trial(0, ok(), bad("rubric helpful: clarity", gating=False)), trial(1, ok())]
    assert failing_checks(trials) == [] and why_text(trials) == "" and failing_output(trials) is None
    assert failing_checks([]) == [] and failing_output([]) is None


def test_trial_errors_are_grouped_by_kind_with_the_message_as_detail() -> None:
    trials = [errored(0), errored(1), errored(2, "rate_limit", "rate_limit: 429 after 3 retries"), trial(3, bad()),
              errored(4, None, "something broke")]
    assert failing_checks(trials) == [
        FailingCheck("timeout error", "no reply within 60 s", 2, 5, "error", "trial"),
        FailingCheck("rate_limit error", "429 after 3 retries", 1, 5, "error", "trial"),
        FailingCheck(CONTAINS, 'missing "30 days"', 1, 5, "fail"),
        FailingCheck("error", "something broke", 1, 5, "error", "trial"),
    ]
    assert why_text(trials, max_checks=2) == ("timeout error: no reply within 60 s (2/5 trials); "
                                              "rate_limit error: 429 after 3 retries (1/5 trials); +2 more")


def test_a_check_that_errored_says_so() -> None:
    trials = [trial(0, bad("rubric helpful", "judge reply is not JSON", "error")),
              trial(1, bad("rubric helpful", "1.5/5 < pass 4"))]
    (check,) = failing_checks(trials)
    assert (check.outcome, check.failed) == ("error", 2)
    assert check.text == "rubric helpful (error): judge reply is not JSON (2/2 trials)"


def test_a_check_listed_twice_on_a_trial_counts_that_trial_once() -> None:
    (check,) = failing_checks([trial(0, bad(), bad()), trial(1, ok())])
    assert (check.failed, check.total) == (1, 2)


def test_the_failing_output_is_the_first_failed_trial_flattened_and_cut() -> None:
    long = "Sorry,\n\nwe  only accept returns " + "within fourteen days " * 20
    trials = [trial(0, ok(), output="Within 30 days."), errored(1), trial(2, bad(), output=long),
              trial(3, bad(), output="second")]
    shown = failing_output(trials)
    assert shown is not None and len(shown) == 160 and shown.endswith("…")
    assert shown.startswith("Sorry, we only accept returns within fourteen days within")
    assert failing_output(trials, limit=20) == "Sorry, we only acce…"


def test_a_failed_trial_is_shown_before_one_whose_check_errored() -> None:
    trials = [trial(0, bad("rubric", "unparseable", "error"), output="judged badly"), trial(1, bad(), output="wrong")]
    assert failing_output(trials) == "wrong"


def test_tool_calls_stand_in_for_an_empty_output() -> None:
    calls = (ToolCall("lookup_order", {"order_id": "A-1", "note": "é"}), ToolCall("refund", "{not json"))
    trials = [trial(0, bad(), output="", calls=calls)]
    assert failing_output(trials) == 'lookup_order({"order_id": "A-1", "note": "é"}); refund({not json)'
    assert failing_output([trial(0, bad(), output=None)]) == EMPTY_OUTPUT
    assert failing_output([trial(0, bad(), output=" \n ")]) == EMPTY_OUTPUT


def test_errors_without_a_reply_have_no_output() -> None:
    assert failing_output([errored(0), errored(1)]) is None


def test_control_characters_are_made_visible() -> None:
    trials = [trial(0, bad(detail="got \x1b[31mred\x1b[0m"), output="\x1b]8;;http://x\x07link\u202e\x00")]
    assert failing_output(trials) == "\\x1b]8;;http://x\\x07link\\u202e\\x00"
    assert why_text(trials) == 'contains "30 days": got \\x1b[31mred\\x1b[0m (1/1 trials)'


def test_long_labels_and_details_are_clipped_in_the_line() -> None:
    check = FailingCheck("regex " + "a" * 200, "d" * 500, 1, 3, "fail")
    label, rest = check.text.split(": ", 1)
    assert len(label) == 80 and label.endswith("…")
    assert rest == "d" * 119 + "… (1/3 trials)"


def test_the_markdown_variant_is_escaped() -> None:
    trials = [trial(0, bad("regex '^a|b$'", "matched <b>[x](http://e.io)</b> @ann"))]
    assert why_markdown(trials) == (r"regex '^a\|b\$': matched \<b\>\[x\](http\://e.io)\</b\> @" + WORD_JOINER
                                    + "ann (1/1 trials)")
