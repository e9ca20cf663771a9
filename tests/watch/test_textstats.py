"""Language-independent text features of inputs."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from goldband.watch.textstats import FEATURES, UNITS, text_features, tokens


def one(text: str) -> dict[str, float]:
    return {name: float(values[0]) for name, values in text_features([text]).items()}


def test_an_english_question() -> None:
    f = one("Can I return SHOES after 40 days?")
    assert (f["characters"], f["tokens"], f["lines"], f["question"]) == (33.0, 7.0, 1.0, 1.0)
    assert f["mean_token_length"] == (3 + 1 + 6 + 5 + 5 + 2 + 4) / 7
    assert f["digit_share"] == 2 / 33 and f["punctuation_share"] == 1 / 33 and f["non_ascii_share"] == 0.0
    assert f["uppercase_share"] == 7 / 24  # C, I and SHOES among the 24 letters


def test_german_words_with_umlauts_are_one_token_each() -> None:
    assert tokens("Größe der Rückgabe: 42, bitte!") == ["Größe", "der", "Rückgabe", "42", "bitte"]
    f = one("Größe der Rückgabe")
    assert f["tokens"] == 3.0 and f["non_ascii_share"] == 3 / 18


def test_chinese_and_japanese_are_tokens_per_character() -> None:
    assert tokens("我的订单在哪里\uff1f") == ["我", "的", "订", "单", "在", "哪", "里"]
    assert tokens("注文はどこ order 42") == ["注", "文", "は", "ど", "こ", "order", "42"]
    f = one("我的订单在哪里\uff1f")
    assert f["question"] == 1.0 and f["non_ascii_share"] == 1.0 and f["uppercase_share"] == 0.0
    assert f["punctuation_share"] == 1 / 8


def test_korean_words_keep_their_spaces() -> None:
    assert tokens("주문 상태를 알려주세요") == ["주문", "상태를", "알려주세요"]


def test_other_question_marks() -> None:
    assert [one(t)["question"] for t in ("¿Dónde está?", "متى؟", "Where is it.")] == [1.0, 1.0, 0.0]


def test_undefined_shares_are_nan() -> None:
    empty = one("")
    assert (empty["characters"], empty["tokens"], empty["lines"], empty["question"]) == (0.0, 0.0, 0.0, 0.0)
    assert all(math.isnan(empty[k]) for k in ("mean_token_length", "digit_share", "uppercase_share",
                                               "non_ascii_share", "punctuation_share"))
    numbers = one("12 + 30 = 42\n")
    assert math.isnan(numbers["uppercase_share"]) and numbers["lines"] == 2.0 and numbers["tokens"] == 3.0


def test_no_texts_give_empty_columns() -> None:
    features = text_features([])
    assert list(features) == list(FEATURES) == list(UNITS)
    assert all(v.shape == (0,) and v.dtype == np.float64 for v in features.values())


@given(st.lists(st.text(max_size=200), max_size=8))
def test_features_are_bounded(texts: list[str]) -> None:
    f = text_features(texts)
    assert all(len(v) == len(texts) for v in f.values())
    for name in ("digit_share", "uppercase_share", "non_ascii_share", "punctuation_share", "question"):
        present = f[name][~np.isnan(f[name])]
        assert ((present >= 0) & (present <= 1)).all()
    assert (f["tokens"] <= f["characters"]).all() and (f["lines"] <= f["characters"] + 1).all()
    assert np.array_equal(f["characters"], [len(t) for t in texts])
