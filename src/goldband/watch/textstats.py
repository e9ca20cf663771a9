"""Simple, language-independent features of input texts, for comparing a golden set with production.

``goldband golden status`` asks whether a golden set's inputs still look like
what production sends. Without an embedding model that question has to be
answered from the surface of the texts, so each feature here is cheap, needs
no language model or word list, and means the same in English, German or
Chinese:

=====================  ======================================================================
feature                what it is, and why
=====================  ======================================================================
``characters``         length in characters: production questions growing longer (pasted
                       logs, whole e-mails) is the commonest way a golden set goes stale
``tokens``             word tokens (see below): length in words, less sensitive than
                       characters to long URLs or numbers
``mean_token_length``  characters per token: identifiers, codes and compound words are long;
                       chat shorthand is short. NaN for a text without tokens
``digit_share``        Unicode decimal digits among the characters: order numbers, amounts,
                       dates, stack traces
``uppercase_share``    uppercase among the letters (word characters that are not digits or
                       ``_``): shouting, acronyms, SKUs; NaN without letters (scripts without
                       case, such as Chinese, count as lowercase)
``non_ascii_share``    characters outside ASCII: a new language or script, emoji
``punctuation_share``  characters that are neither word characters nor whitespace
                       (punctuation and symbols: ``?!.,;:``, ``€``, emoji): code, markup,
                       formulas
``lines``              number of lines (newlines + 1; 0 for an empty text): pasted documents
                       and multi-turn input
``question``           1.0 when the text holds a question mark (``?``, or its fullwidth,
                       Arabic or inverted Spanish form), else 0.0: questions vs instructions
=====================  ======================================================================

Tokens: runs of Unicode word characters (``re`` ``\\w+``, which is Unicode-aware
on ``str``), except that every Chinese/Japanese ideograph and kana character is
a token of its own (written without spaces, a whole sentence would otherwise
be one "word"; BERT's basic tokenizer does the same). So ``"Rückgabe nach 40
Tagen?"`` has 4 tokens and ``"退货政策是什么"`` has 7. Shares are of the text's
characters (or letters); an empty text has 0 characters, 0 tokens, 0 lines
and NaN shares (undefined, and left out by the tests that read them).

Pure: texts in, one float64 array per feature out, in the order of ``FEATURES``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["FEATURES", "UNITS", "text_features", "tokens"]

FEATURES = ("characters", "tokens", "mean_token_length", "digit_share", "uppercase_share", "non_ascii_share",
            "punctuation_share", "lines", "question")
UNITS = {"characters": "characters", "tokens": "tokens", "mean_token_length": "characters/token",
         "digit_share": "digits", "uppercase_share": "uppercase", "non_ascii_share": "non-ASCII",
         "punctuation_share": "punctuation", "lines": "lines", "question": "questions"}
"""How each feature reads in a sentence ("median 14 tokens", "mean 3% digits")."""

# CJK ideographs (unified, extensions A-B, compatibility) and kana: scripts written without spaces.
_SPACELESS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df"
_TOKEN = re.compile(rf"[{_SPACELESS}]|[^\W{_SPACELESS}]+")
_PUNCTUATION = re.compile(r"[^\w\s]")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")  # word characters that are not digits or "_"
_ASCII_UPPER = re.compile("[A-Z]")
_QUESTION = re.compile("[?\uff1f\u061f\u00bf]")


def tokens(text: str) -> list[str]:
    """The word tokens of ``text`` (see the module docstring).

    >>> tokens("Rückgabe nach 40 Tagen?")
    ['Rückgabe', 'nach', '40', 'Tagen']
    >>> tokens("退货政策 for order #123")
    ['退', '货', '政', '策', 'for', 'order', '123']
    """
    return _TOKEN.findall(text)


def text_features(texts: Sequence[str]) -> dict[str, npt.NDArray[np.float64]]:
    """Every feature of ``FEATURES`` for each text: ``{feature: array of len(texts)}``.

    >>> f = text_features(["Can I return shoes after 40 days?", "ORDER 123\\nbroken"])
    >>> f["tokens"].tolist(), f["lines"].tolist(), f["question"].tolist()
    ([7.0, 3.0], [1.0, 2.0], [1.0, 0.0])
    >>> round(float(f["uppercase_share"][1]), 2), text_features([""])["digit_share"].tolist()
    (0.45, [nan])
    """
    rows = np.array([_features(t) for t in texts], dtype=np.float64).reshape(len(texts), len(FEATURES))
    return {name: rows[:, i].copy() for i, name in enumerate(FEATURES)}


def _features(text: str) -> tuple[float, ...]:
    chars = len(text)
    words = _TOKEN.findall(text)
    ascii_only = text.isascii()  # the common case has faster counts (same results)
    upper = len(_ASCII_UPPER.findall(text)) if ascii_only else sum(map(str.isupper, text))
    nan = float("nan")
    return (
        float(chars),
        float(len(words)),
        sum(map(len, words)) / len(words) if words else nan,
        _share(len(_DIGIT.findall(text)), chars),
        _share(upper, len(_LETTER.findall(text))),
        _share(0 if ascii_only else chars - len(text.encode("ascii", "ignore")), chars),
        _share(len(_PUNCTUATION.findall(text)), chars),
        float(text.count("\n") + 1) if text else 0.0,
        1.0 if _QUESTION.search(text) else 0.0,
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")
