"""The embedding_similarity check, through the real litellm against the loopback FakeOpenAI.

FakeOpenAI's ``/embeddings`` returns deterministic hashed bags of character
trigrams (``fake_embedding``), so the expected cosine is computed here from the
same vectors and similar texts really are close.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from goldband.checks.base import CheckContext, CheckSpec, build_check
from goldband.checks.embedding import EMBEDDINGS, EmbeddingSimilarity, cosine
from goldband.errors import CheckError, ConfigError
from goldband.results import Completion, Score, Trial
from goldband.testing import FakeOpenAI
from goldband.testing.fake_openai import fake_embedding

WHERE = "goldensets/qa.yaml:9: case 'returns'"
MODEL = "openai/text-embedding-fake"
REFERENCE = "Returns are accepted within 30 days of purchase."
CLOSE = "We accept returns within 30 days of purchase."
FAR = "Our shop opens at nine on weekdays."


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    from goldband.engine.providers import import_litellm

    import_litellm()  # once for the module: the import takes seconds
    with FakeOpenAI() as s:
        yield s


@pytest.fixture
def fake(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    server.reset()
    EMBEDDINGS.clear()  # a fresh run: nothing embedded yet
    monkeypatch.delenv("EMBED_KEY", raising=False)
    return server


def check(fake: FakeOpenAI, **params: Any) -> CheckSpec:
    return build_check({"embedding_similarity": 0.8, "model": MODEL, "api_base": fake.url, **params}, WHERE,
                       Path("."))


def score(spec: CheckSpec, output: str, reference: str | None = REFERENCE) -> Score:
    result = spec.run(CheckContext(Trial("returns", "t", 0, Completion(output)), reference=reference))
    assert 0.0 <= result.score <= 1.0
    return result


def expected(a: str, b: str) -> float:
    return cosine(fake_embedding(a), fake_embedding(b))


def embedded(fake: FakeOpenAI) -> list[str]:
    return [text for r in fake.requests for text in r.body["input"]]


def test_close_texts_pass_with_the_cosine_as_score(fake: FakeOpenAI) -> None:
    result = score(check(fake), CLOSE)
    assert result.outcome == "pass" and result.score == pytest.approx(expected(CLOSE, REFERENCE))
    assert f"cosine {result.score:.3f} >= 0.8 ({MODEL})" == result.detail
    assert {r.path for r in fake.requests} == {"/v1/embeddings"}
    assert fake.requests[0].body["model"] == "text-embedding-fake"


def test_distant_texts_fail(fake: FakeOpenAI) -> None:
    result = score(check(fake), FAR)
    assert result.outcome == "fail" and result.score == pytest.approx(max(0.0, expected(FAR, REFERENCE)))
    assert result.score < 0.8 and "< 0.8" in result.detail


def test_the_reference_is_embedded_once_per_run(fake: FakeOpenAI) -> None:
    spec = check(fake)
    for output in (CLOSE, FAR, CLOSE, "Returns: 30 days."):
        score(spec, output)
    assert sorted(embedded(fake)) == sorted([REFERENCE, CLOSE, FAR, "Returns: 30 days."])


def test_concurrent_trials_share_one_call_per_text(fake: FakeOpenAI) -> None:
    fake.latency_s = 0.2  # every call is still in flight when the others ask
    spec, results = check(fake), []
    try:
        threads = [threading.Thread(target=lambda: results.append(score(spec, CLOSE))) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        fake.latency_s = 0.0
    assert len(results) == 6 and {r.outcome for r in results} == {"pass"}
    assert sorted(embedded(fake)) == sorted([REFERENCE, CLOSE])


def test_a_list_of_references_counts_the_closest(fake: FakeOpenAI) -> None:
    result = score(check(fake, reference=[FAR, REFERENCE]), CLOSE, reference=None)
    assert result.outcome == "pass" and "closest of 2 references: #2" in result.detail
    assert result.score == pytest.approx(expected(CLOSE, REFERENCE))


def test_dimensions_and_the_key_are_sent(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBED_KEY", "sk-test-embed-0123456789")
    result = score(check(fake, model="openai/text-embedding-3-small", dimensions=16, api_key_env="EMBED_KEY"), CLOSE)
    assert {r.body["dimensions"] for r in fake.requests} == {16}
    assert all(r.has_auth for r in fake.requests)
    assert result.score == pytest.approx(cosine(fake_embedding(CLOSE, 16), fake_embedding(REFERENCE, 16)))


def test_dimensions_litellm_refuses_for_a_model_are_an_error_not_dropped(fake: FakeOpenAI) -> None:
    result = score(check(fake, dimensions=16, min=0.0), CLOSE)
    assert result.outcome == "error" and "dimensions" in result.detail and fake.count == 0


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_provider_error_is_an_error_score_never_a_pass(fake: FakeOpenAI, status: int) -> None:
    fake.fail_next(5, status=status)
    result = score(check(fake, min=0.0), REFERENCE)  # would pass at any similarity
    assert (result.outcome, result.score) == ("error", 0.0)
    assert f"embedding model '{MODEL}' at {fake.url}: HTTP {status}" in result.detail


def test_a_timeout_is_an_error_score(fake: FakeOpenAI) -> None:
    fake.hang_next(10)
    result = score(check(fake, min=0.0, timeout_s=0.2), CLOSE)
    assert (result.outcome, result.score) == ("error", 0.0) and "timeout" in result.detail.lower()


def test_a_failed_text_is_asked_again_later(fake: FakeOpenAI) -> None:
    spec = check(fake)
    fake.fail_next(1, status=400)
    assert score(spec, CLOSE).outcome == "error"
    assert score(spec, CLOSE).outcome == "pass"


def test_an_unset_key_variable_is_an_error_naming_it(fake: FakeOpenAI) -> None:
    result = score(check(fake, api_key_env="EMBED_KEY"), CLOSE)
    assert result.outcome == "error" and "EMBED_KEY is not set" in result.detail and fake.count == 0


def test_the_key_never_appears_in_an_error(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBED_KEY", "sk-secret-987654321")
    fake.fail_next(1, status=401)
    result = score(check(fake, api_key_env="EMBED_KEY"), CLOSE)
    assert result.outcome == "error" and "sk-secret-987654321" not in result.detail


def test_no_reference_is_an_error(fake: FakeOpenAI) -> None:
    result = score(check(fake), CLOSE, reference=None)
    assert result.outcome == "error" and "give 'reference:'" in result.detail and fake.count == 0


@pytest.mark.parametrize(("entry", "expected"), [
    ({"embedding_similarity": 0.8}, "parameter 'model'"),
    ({"embedding_similarity": 0.8, "model": MODEL, "reference": []}, "give at least one reference"),
    ({"embedding_similarity": 1.5, "model": MODEL}, "parameter 'min'"),
    ({"embedding_similarity": 0.8, "model": MODEL, "api_key_env": "sk-abc def"}, "parameter 'api_key_env'"),
])
def test_bad_parameters_are_config_errors(entry: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_check(entry, WHERE, Path("."))
    assert str(info.value).startswith(WHERE) and expected in str(info.value)


def test_credentials_in_api_base_are_refused_without_being_shown() -> None:
    entry = {"embedding_similarity": 0.8, "model": MODEL, "api_base": "https://bob:hunter2@llm.example.com/v1"}
    with pytest.raises(ConfigError) as info:
        build_check(entry, WHERE, Path("."))
    assert "credentials" in str(info.value) and "hunter2" not in str(info.value)


def test_the_check_waits_on_io_and_follows_the_check_contract(fake: FakeOpenAI) -> None:
    import pickle

    spec = check(fake, label=None)
    assert spec.waits() and not spec.judged
    assert spec.describe() == "embedding_similarity >= 0.8"
    dumped = spec.model_dump(by_alias=True)
    json.dumps(dumped)
    assert type(spec).model_validate(dumped) == spec == pickle.loads(pickle.dumps(spec))
    first = score(spec, CLOSE)
    assert score(pickle.loads(pickle.dumps(spec)), CLOSE) == first
    assert all(score(spec, CLOSE) == first for _ in range(3))
    with pytest.raises(Exception, match="frozen"):
        spec.min = 0.1  # type: ignore[misc]
    assert score(spec.model_copy(update={"label": "mine"}), CLOSE).check == "mine"


def test_cosine_is_undefined_for_zero_vectors_and_mismatched_widths() -> None:
    assert cosine((3.0, 4.0), (3.0, 4.0)) == pytest.approx(1.0)
    assert math.isclose(cosine((1.0, 0.0), (-1.0, 0.0)), -1.0)
    for a, b in (((0.0, 0.0), (1.0, 0.0)), ((1.0,), (1.0, 0.0))):
        with pytest.raises(CheckError, match=r"undefined|widths"):
            cosine(a, b)


GOLDEN = """\
name: qa
version: 1
defaults: {{runs: 3}}
cases:
  - id: returns
    input: {{question: "Can I return shoes?"}}
    reference: "{reference}"
    checks:
      - embedding_similarity: 0.8
        model: {model}
        api_base: {url}
"""


def test_a_golden_set_run_scores_every_trial_and_embeds_the_reference_once(fake: FakeOpenAI, tmp_path: Path
                                                                           ) -> None:
    import goldband

    (tmp_path / "goldensets").mkdir()
    (tmp_path / "goldensets" / "qa.yaml").write_text(GOLDEN.format(reference=REFERENCE, model=MODEL, url=fake.url))
    (tmp_path / "answer.py").write_text(f"def answer(inp):\n    return {CLOSE!r}\n")
    (tmp_path / "goldband.yaml").write_text("targets:\n  app:\n    callable: answer:answer\n")
    result = goldband.run("goldensets/qa.yaml", root=tmp_path, store="off")
    (outcome,) = result.outcomes
    scores = [s for t in outcome.trials for s in t.scores]
    assert len(scores) == 3 and {s.outcome for s in scores} == {"pass"}
    assert sorted(embedded(fake)) == sorted([REFERENCE, CLOSE])


def test_the_engine_runs_it_in_a_worker_thread_negated_too(fake: FakeOpenAI) -> None:
    """An embedding call waits on a provider: off the engine's event loop, directly or under ``not``."""
    import asyncio

    from goldband.engine.execute import _grade

    seen: list[str] = []  # the thread each evaluation ran on

    class Recorded(EmbeddingSimilarity):
        def evaluate(self, ctx: CheckContext) -> Any:
            seen.append(threading.current_thread().name)
            return super().evaluate(ctx)

    plain = check(fake)
    negated = build_check({"not": {"embedding_similarity": 0.8, "model": MODEL, "api_base": fake.url}}, WHERE,
                          Path("."))
    assert plain.waits() and negated.waits()
    recorded = Recorded(**plain.model_dump())
    ctx = CheckContext(Trial("c", "t", 0, Completion("a refund within 30 days")), reference=REFERENCE)
    (score_,) = asyncio.run(_grade(None, recorded, ctx))  # type: ignore[arg-type]  # no judge needed
    assert score_.outcome in ("pass", "fail") and seen and seen[0] != threading.main_thread().name
