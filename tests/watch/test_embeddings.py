"""Embeddings through the real litellm, against the loopback FakeOpenAI server."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from goldband.engine.providers import import_litellm
from goldband.errors import MonitorError
from goldband.testing import FakeOpenAI
from goldband.testing.fake_openai import EMBEDDING_DIM, fake_embedding
from goldband.watch.embeddings import embed

MODEL = "openai/text-embedding-fake"
KEY = "sk-test-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    import_litellm()  # once for the module: the import takes seconds
    with FakeOpenAI() as s:
        yield s


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.reset()
    return server


def test_texts_are_embedded_in_batches_and_in_order(fake: FakeOpenAI) -> None:
    texts = ["Can I return shoes?", "Wo ist meine Bestellung?", "我的订单在哪里\uff1f", "refund", "refund please"]
    vectors = embed(texts, model=MODEL, api_base=fake.url, batch=2)
    assert vectors.shape == (5, EMBEDDING_DIM) and vectors.dtype == np.float64
    assert np.allclose(vectors, [fake_embedding(t) for t in texts])
    assert [len(r.body["input"]) for r in fake.requests] == [2, 2, 1]
    assert {r.path for r in fake.requests} == {"/v1/embeddings"} and fake.requests[0].body["model"] == \
        "text-embedding-fake"
    assert float(vectors[3] @ vectors[4]) > float(vectors[3] @ vectors[0])  # similar texts, close vectors


def test_an_empty_text_is_sent_as_a_space(fake: FakeOpenAI) -> None:
    vectors = embed(["", "hi"], model=MODEL, api_base=fake.url)
    assert fake.requests[0].body["input"] == [" ", "hi"] and np.allclose(vectors[0], fake_embedding(" "))


def test_no_texts_make_no_request(fake: FakeOpenAI) -> None:
    assert embed([], model=MODEL, api_base=fake.url).shape == (0, 0) and fake.count == 0


def test_the_key_is_sent_and_never_shown(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBED_KEY", KEY)
    embed(["hi"], model=MODEL, api_base=fake.url, api_key_env="EMBED_KEY")
    assert fake.requests[0].has_auth
    fake.fail_next(status=401)
    with pytest.raises(MonitorError) as info:
        embed(["hi"], model=MODEL, api_base=fake.url, api_key_env="EMBED_KEY")
    message = str(info.value)
    assert f"embedding model {MODEL!r} at {fake.url}" in message and "auth" in message and "EMBED_KEY" in message
    assert KEY not in message


def test_an_unset_key_variable_is_named_before_any_call(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBED_KEY", raising=False)
    with pytest.raises(MonitorError, match="the environment variable EMBED_KEY is not set"):
        embed(["hi"], model=MODEL, api_base=fake.url, api_key_env="EMBED_KEY")
    assert fake.count == 0


@pytest.mark.parametrize(("fault", "message"), [
    ("empty", "malformed: 0 embeddings for 3 texts"),
    ("truncated", "failed: server"),  # litellm reports an unreadable body as its InternalServerError
    ("bad request", "failed: http: HTTP 400"),
])
def test_a_provider_failure_names_the_model_the_server_and_the_batch(fake: FakeOpenAI, fault: str,
                                                                     message: str) -> None:
    if fault == "bad request":
        fake.fail_next(status=400, contains="three")
    else:
        fake.malformed_next(empty_choices=fault == "empty", contains="three")
    with pytest.raises(MonitorError) as info:
        embed(["one", "two", "three", "four"], model=MODEL, api_base=fake.url, batch=3)
    text = str(info.value)
    assert text.startswith(f"embedding model {MODEL!r} at {fake.url}: embedding texts 1-3 of 4 failed")
    assert message in text


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch": 0}, "batch=0"),
    ({"timeout_s": 0}, "timeout_s=0"),
    ({"model": ""}, "embedding model ''"),
    ({"api_key_env": KEY}, "not shown: it may be the key"),
    ({"api_base": "http://user:secret@example.invalid/v1"}, "credentials"),
])
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"model": MODEL} | kwargs
    with pytest.raises(MonitorError) as info:
        embed(["hi"], **settings)  # type: ignore[arg-type]
    assert message in str(info.value) and KEY not in str(info.value) and "secret" not in str(info.value)


def test_the_fake_server_speaks_base64_as_the_openai_sdk_asks(fake: FakeOpenAI) -> None:
    import openai

    with openai.OpenAI(base_url=fake.url, api_key="test", max_retries=0) as client:
        reply = client.embeddings.create(model="m", input=["Can I return shoes?"], dimensions=16)
    assert fake.requests[0].body.get("encoding_format") == "base64"
    assert np.allclose(reply.data[0].embedding, fake_embedding("Can I return shoes?", 16), atol=1e-6)
    assert reply.usage.prompt_tokens == 4 and reply.object == "list"
