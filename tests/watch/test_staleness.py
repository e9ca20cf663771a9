"""How far a golden set's inputs sit from production's, and how old its cases are.

The error rates are measured by simulation on generated support questions
(seeded; ``questions`` below): same distribution on both sides for false
alarms, production questions twice as long or with a new topic for power.
``python tests/watch/test_staleness.py [repetitions] [--sizes]`` prints the
rates the bounds below were set from (1,000 repetitions: see ``MEASURED``)
and, with ``--sizes``, the flag rates by golden-set size (300 repetitions,
2026-12-07; production 300 inputs, tags on both sides)::

    golden n | same  | length x1.5 | length x2 | new topic 15% | new topic 30%
    20       | 0.030 | 0.953       | 1.000     | 0.047         | 0.300
    40       | 0.017 | 0.997       | 1.000     | 0.090         | 0.977
    100      | 0.007 | 1.000       | 1.000     | 0.967         | 1.000
    200      | 0.003 | 1.000       | 1.000     | 1.000         | 1.000
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from goldband.errors import ConfigError, MonitorError
from goldband.golden.goldenset import load
from goldband.testing.fake_openai import fake_embedding
from goldband.watch.staleness import MIN_TEXTS, SOURCES, case_ages, compare_inputs
from goldband.watch.textstats import FEATURES

COMMON = ["please", "can", "I", "my", "the", "order", "for", "a", "with", "is", "it", "how", "when", "why", "do", "you"]
TOPICS = {
    "billing": ["invoice", "charged", "twice", "payment", "card", "refund", "bill", "subscription", "price"],
    "shipping": ["delivery", "parcel", "tracking", "courier", "shipped", "address", "late", "package"],
    "returns": ["return", "exchange", "size", "shoes", "label", "store", "receipt", "window"],
    "account": ["password", "login", "email", "reset", "locked", "profile", "username", "verify"],
}
SHARES = {"billing": 0.4, "shipping": 0.3, "returns": 0.2, "account": 0.1}
NEW_TOPIC = ("warranty", ["warranty", "repair", "broken", "screen", "battery", "replacement", "defect", "guarantee"])
GERMAN = ["bitte", "meine", "Bestellung", "Rückgabe", "Größe", "Lieferung", "später", "über"]
GOLDEN_N, PRODUCTION_N = 40, 300

# Measured with 1,000 repetitions (python tests/watch/test_staleness.py 1000; 2026-12-07):
MEASURED = {"same": 0.018, "same_with_embeddings": 0.018, "longer": 1.0, "new_topic": 0.966}


def questions(rng: np.random.Generator, n: int, *, length: float = 1.0, new_topic: float = 0.0
              ) -> tuple[list[str], list[list[str]]]:
    """``n`` support questions and their topic tags: a topic's words among common ones, an order number
    now and then, a question mark mostly, a second line or German words sometimes.

    ``length`` scales the mean number of words; ``new_topic`` is the share of questions about a topic
    the default distribution never has. Drawn in bulk: a simulation calls this thousands of times.
    """
    names = list(SHARES)
    topics = [names[i] for i in rng.choice(len(names), size=n, p=list(SHARES.values()))]
    topics = [NEW_TOPIC[0] if new else t for t, new in zip(topics, rng.random(n) < new_topic, strict=True)]
    sizes = 3 + rng.poisson(7 * length, size=n)
    german, number, question, second = (rng.random(n) < share for share in (0.1, 0.3, 0.7, 0.1))
    picks, at = rng.random(int(sizes.sum()) + n), 0
    texts = []
    for i, topic in enumerate(topics):
        vocabulary = VOCABULARY[topic, bool(german[i])]
        body = [vocabulary[int(u * len(vocabulary))] for u in picks[at:at + sizes[i]]]
        if number[i]:
            body.insert(int(picks[at + sizes[i]] * len(body)), f"#{1000 + int(picks[at + sizes[i]] * 98999)}")
        at += sizes[i] + 1
        texts.append(" ".join(body).capitalize() + ("?" if question[i] else ".") + ("\nThanks" if second[i] else ""))
    return texts, [[t] for t in topics]


VOCABULARY = {(topic, german): words + COMMON + (GERMAN if german else [])
              for topic, words in [*TOPICS.items(), NEW_TOPIC] for german in (False, True)}


def trial(seed: int, *, length: float = 1.0, new_topic: float = 0.0, embeddings: bool = False) -> bool:
    """One simulated golden set against one production sample: flagged or not."""
    rng = np.random.default_rng(seed)
    golden, golden_tags = questions(rng, GOLDEN_N)
    production, production_tags = questions(rng, PRODUCTION_N, length=length, new_topic=new_topic)
    extra: dict[str, Any] = {}
    if embeddings:
        extra = {"golden_embeddings": [fake_embedding(t) for t in golden],
                 "production_embeddings": [fake_embedding(t) for t in production], "permutations": 199}
    return compare_inputs(golden, production, golden_tags=golden_tags, production_tags=production_tags,
                          seed=seed, **extra).drifted


def rate(repetitions: int, **shift: Any) -> float:
    return sum(trial(seed, **shift) for seed in range(repetitions)) / repetitions


# -- error rates ------------------------------------------------------------------------------


def test_the_same_distribution_is_rarely_flagged() -> None:
    """At most alpha = 0.05; measured 1.8 % over 1,000 repetitions (BH across ten tests holds the chance of
    any false flag near alpha, and KS on discrete features is conservative)."""
    assert rate(200) <= 0.05  # at 1.8 %, 200 repetitions give 11 or more flags with probability < 0.005


def test_production_questions_twice_as_long_are_flagged_almost_always() -> None:
    assert rate(100, length=2.0) >= 0.9


def test_a_new_topic_in_production_is_flagged_in_most_repetitions() -> None:
    """A topic that is 30 % of production and absent from the golden set (tags and words)."""
    assert rate(100, new_topic=0.3) >= 0.8


def test_embeddings_join_the_family_without_raising_false_alarms() -> None:
    assert rate(60, embeddings=True) <= 0.05  # measured 1.8 % over 1,000


# -- what a comparison says ---------------------------------------------------------------------


def test_longer_production_questions_are_shown_in_tokens() -> None:
    rng = np.random.default_rng(1)
    golden, _ = questions(rng, GOLDEN_N)
    production, _ = questions(rng, PRODUCTION_N, length=2.0)
    result = compare_inputs(golden, production)
    tokens = next(t for t in result.tests if t.name == "tokens")
    assert result.drifted and tokens.drifted and tokens.kind == "text" and tokens.test == "ks"
    assert tokens.value.startswith("median ") and tokens.value.endswith(" tokens")
    g, p = (float(s.split()[1]) for s in (tokens.value, tokens.reference))
    assert p > 1.5 * g
    assert f"tokens: {tokens.value} (production: {tokens.reference})" in result.summary
    assert "differ" in result.summary
    assert [t.name for t in result.tests] == list(FEATURES)  # no tags given: no tag test
    assert result.n_golden == GOLDEN_N and result.n_production == PRODUCTION_N


def test_a_new_topic_shows_in_the_tag_test() -> None:
    rng = np.random.default_rng(2)
    golden, golden_tags = questions(rng, GOLDEN_N)
    production, production_tags = questions(rng, PRODUCTION_N, new_topic=0.3)
    result = compare_inputs(golden, production, golden_tags=golden_tags, production_tags=production_tags)
    tags = result.tests[-1]
    assert (tags.name, tags.kind, tags.test) == ("tags", "tags", "chi2")
    assert tags.drifted and "in tags the golden set lacks" in tags.reference and "'warranty'" in tags.reference


def test_every_test_is_in_one_benjamini_hochberg_family() -> None:
    rng = np.random.default_rng(3)
    golden, golden_tags = questions(rng, GOLDEN_N)
    production, production_tags = questions(rng, PRODUCTION_N)
    result = compare_inputs(golden, production, golden_tags=golden_tags, production_tags=production_tags)
    from scipy import stats

    p = [t.p_value for t in result.tests]
    assert all(x is not None for x in p)
    expected = stats.false_discovery_control([float(x) for x in p if x is not None], method="bh")
    assert [t.p_adjusted for t in result.tests] == pytest.approx(list(expected))
    assert not result.drifted and "look like" in result.summary and "KS distance of" in result.summary
    assert 0.0 < result.detectable < 1.0
    assert result.to_json()["tests"][0]["name"] == "characters"


def test_a_large_effect_below_the_floor_is_not_drift() -> None:
    rng = np.random.default_rng(1)
    golden, _ = questions(rng, GOLDEN_N)
    production, _ = questions(rng, PRODUCTION_N, length=2.0)
    result = compare_inputs(golden, production, min_effect=0.99)
    assert not result.drifted and any((t.p_adjusted or 1.0) < 0.001 for t in result.tests)


def test_too_few_texts_give_no_test_and_say_so() -> None:
    texts, _ = questions(np.random.default_rng(4), 200)
    result = compare_inputs(texts[: MIN_TEXTS - 1], texts)
    assert result.tests == () and not result.drifted and math.isnan(result.detectable)
    assert result.summary.startswith(f"too few texts to compare: {MIN_TEXTS - 1} golden and 200 production")


def test_mixed_scripts_and_empty_texts_are_compared() -> None:
    golden = ["退货政策是什么\uff1f", "Wie lange dauert die Lieferung?", "", "Où est ma commande ?"] * 6
    result = compare_inputs(golden, golden[::-1])
    uppercase = next(t for t in result.tests if t.name == "uppercase_share")
    assert not result.drifted and uppercase.n == 18  # the six empty texts have no letters: left out


# -- embeddings ----------------------------------------------------------------------------------


def test_embeddings_add_an_mmd_test_that_sees_a_shift() -> None:
    rng = np.random.default_rng(5)
    golden, _ = questions(rng, GOLDEN_N)
    production, _ = questions(rng, 200, new_topic=0.6)
    result = compare_inputs(golden, production, golden_embeddings=[fake_embedding(t) for t in golden],
                            production_embeddings=[fake_embedding(t) for t in production])
    row = result.tests[-1]
    assert (row.name, row.kind, row.test) == ("embedding", "embedding", "mmd")
    assert row.drifted and row.p_value is not None and row.p_value <= 0.002 and row.value.startswith("MMD^2 ")


def test_too_small_a_production_sample_skips_the_embedding_test() -> None:
    texts, _ = questions(np.random.default_rng(6), 60)
    vectors = np.array([fake_embedding(t) for t in texts])
    result = compare_inputs(texts[:30], texts[30:], golden_embeddings=vectors[:30], production_embeddings=vectors[30:])
    row = result.tests[-1]
    assert row.name == "embedding" and row.p_value is None and not row.drifted
    assert row.value.startswith("skipped: the production sample has 30 inputs")


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"golden_tags": [["a"]]}, "1 golden tag lists for 30 golden inputs"),
    ({"production_tags": ["abc"] * 30}, "production tags of input 0 are 'abc'"),
    ({"golden_embeddings": np.zeros((30, 4))}, "embeddings for one side only"),
    ({"golden_embeddings": np.zeros((30, 4)), "production_embeddings": np.zeros((30, 5))}, "4 dimensions"),
    ({"golden_embeddings": np.zeros((29, 4)), "production_embeddings": np.zeros((30, 4))}, "shape (29, 4)"),
    ({"alpha": 1.5}, "alpha=1.5"),
])
def test_bad_input_is_named(kwargs: dict[str, Any], message: str) -> None:
    texts = [f"question {i}?" for i in range(30)]
    with pytest.raises(MonitorError, match="compare_inputs") as info:
        compare_inputs(texts, texts, **kwargs)
    assert message in str(info.value)


def test_a_record_that_is_not_text_is_named() -> None:
    with pytest.raises(MonitorError, match=r"golden input 1 is dict"):
        compare_inputs(["a", {"question": "b"}], ["c"])  # type: ignore[list-item]


# -- ages and sources ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeCase:
    id: str
    provenance: dict[str, Any] | None = None
    where: str = "goldensets/support.yaml:7"


def test_ages_come_from_provenance_then_first_seen() -> None:
    cases = [FakeCase("a"), FakeCase("b", {"source": "production", "added": date(2026, 11, 1)}),
             FakeCase("c", {"source": "failure", "added": datetime(2026, 12, 1, 9, 30)}),
             FakeCase("d", {"source": "production", "added": "2026-06-01T12:00:00Z"}), FakeCase("e")]
    ages = case_ages(cases, today=date(2026, 12, 7), first_seen={"a": date(2026, 1, 1), "zz": date(2020, 1, 1)})
    assert (ages.n, ages.dated, ages.oldest_days, ages.newest_days) == (5, 4, 340, 6)
    assert ages.median_days == (36 + 189) / 2
    assert ages.sources == {"hand-written": 2, "production": 2, "failure": 1, "synthetic": 0}
    assert list(ages.sources) == list(SOURCES) and ages.shares["production"] == 0.4
    assert ages.last_changed == date(2026, 12, 1)
    assert case_ages(cases, today=date(2026, 12, 7), first_seen={}, changed=date(2026, 12, 5)).last_changed == \
        date(2026, 12, 5)


def test_no_dates_and_no_cases_are_unknown() -> None:
    ages = case_ages([FakeCase("a")], today=date(2026, 12, 7), first_seen={})
    assert (ages.dated, ages.oldest_days, ages.median_days, ages.last_changed) == (0, None, None, None)
    empty = case_ages([], today=date(2026, 12, 7), first_seen={})
    assert empty.n == 0 and math.isnan(empty.shares["hand-written"]) and empty.to_json()["last_changed"] is None


def test_a_future_date_is_age_zero() -> None:
    ages = case_ages([FakeCase("a", {"added": "2026-12-08"})], today=date(2026, 12, 7), first_seen={})
    assert ages.oldest_days == 0


def test_a_bad_added_date_names_the_case() -> None:
    with pytest.raises(ConfigError) as info:
        case_ages([FakeCase("refund-window", {"source": "production", "added": "last tuesday"})],
                  today=date(2026, 12, 7), first_seen={})
    assert "goldensets/support.yaml:7: case 'refund-window'" in str(info.value) and "2026-11-30" in str(info.value)


def test_cases_of_a_real_golden_set(tmp_path: Path) -> None:
    path = tmp_path / "goldensets" / "support.yaml"
    path.parent.mkdir()
    path.write_text("name: support\nversion: 1\ncases:\n"
                    "  - {id: a, input: {question: hi}}\n"
                    "  - {id: b, input: {question: refund?}, provenance: production}\n"
                    "  - {id: c, input: {question: broken}, provenance: {source: failure, added: '2026-11-07'}}\n")
    golden = load(path, base_dir=tmp_path)
    ages = case_ages(golden.cases, today=date(2026, 12, 7), first_seen={"a": date(2026, 12, 1)})
    assert ages.sources == {"hand-written": 1, "production": 1, "failure": 1, "synthetic": 0}
    assert (ages.dated, ages.oldest_days, ages.newest_days) == (2, 30, 6)


def sized_rate(repetitions: int, golden_n: int, **shift: Any) -> float:
    """The flag rate with ``golden_n`` golden cases against 300 production inputs, tags on both sides."""
    flags = 0
    for seed in range(repetitions):
        rng = np.random.default_rng(seed)
        golden, golden_tags = questions(rng, golden_n)
        production, production_tags = questions(rng, PRODUCTION_N, **shift)
        flags += compare_inputs(golden, production, golden_tags=golden_tags, production_tags=production_tags).drifted
    return flags / repetitions


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    shifts: dict[str, dict[str, Any]] = {"same": {}, "same_with_embeddings": {"embeddings": True},
                                         "longer": {"length": 2.0}, "new_topic": {"new_topic": 0.3}}
    for name, shift in shifts.items():
        print(f"{name}: {rate(n, **shift):.3f} of {n} repetitions flagged")
    if "--sizes" in sys.argv:  # power by golden-set size
        sized: dict[str, dict[str, Any]] = {"same": {}, "length x1.5": {"length": 1.5}, "length x2": {"length": 2.0},
                                            "new topic 15%": {"new_topic": 0.15}, "new topic 30%": {"new_topic": 0.3}}
        print("golden n | " + " | ".join(sized))
        for golden_n in (20, 40, 100, 200):
            print(f"{golden_n} | " + " | ".join(f"{sized_rate(n, golden_n, **kw):.3f}" for kw in sized.values()))
