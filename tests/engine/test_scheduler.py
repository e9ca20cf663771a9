"""The engine through the real openai and litellm code paths, against a loopback server.

Every test asserts what the server actually received: the number of requests,
their ``n`` and ``seed``, and that keys never leave the request headers.
"""

from __future__ import annotations

import bisect
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import goldband
from goldband.engine.scheduler import EngineStats
from goldband.report.terminal import engine_line
from goldband.results import ScoredTrial
from goldband.testing import FakeOpenAI, Reply

KEY = "sk-test-SECRET-0123456789"


def project(root: Path, url: str, *, client: str = "openai", runs: int = 5, cases: int = 1,
            target_extra: str = "", mode: str = "live", timeout_s: float = 2, max_retries: int = 2) -> Path:
    (root / "goldensets").mkdir(exist_ok=True)
    (root / "p.j2").write_text("Question: {{ question }}")
    (root / "goldband.yaml").write_text(
        f"mode: {mode}\nconcurrency: 8\ntargets:\n  t:\n    model: openai/fake-model\n    prompt: p.j2\n"
        f"    client: {client}\n    api_base: {url}\n    api_key_env: GB_TEST_KEY\n"
        f"    params: {{temperature: 0.7, seed: 11, max_tokens: 50}}\n"
        f"    timeout_s: {timeout_s}\n    max_retries: {max_retries}\n    backoff_s: 0.01\n{target_extra}")
    body = "".join(f"  - id: c{i}\n    input: {{question: q{i}}}\n" for i in range(cases))
    (root / "goldensets" / "s.yaml").write_text(
        f"name: s\nversion: 1\ndefaults:\n  runs: {runs}\n  checks: [{{contains: ok}}]\ncases:\n{body}")
    return root


def run_set(root: Path, mode: str | None = None) -> dict[str, list[ScoredTrial]]:
    return run_with_stats(root, mode)[0]


def run_with_stats(root: Path, mode: str | None = None) -> tuple[dict[str, list[ScoredTrial]], EngineStats]:
    result = goldband.run(root=root, mode=mode)
    return {o.plan.case.id: o.trials for o in result.outcomes}, result.engine or EngineStats()


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GB_TEST_KEY", KEY)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as s:
        s.add_rule(contains="q", replies=["ok 1", "ok 2", "ok 3", "ok 4", "ok 5"])
        yield s


@pytest.mark.parametrize("client", ["openai", "litellm"])
def test_n_samples_come_from_one_request(tmp_path: Path, server: FakeOpenAI, client: str) -> None:
    trials = run_set(project(tmp_path, server.url, client=client))["c0"]
    assert [t.trial.output for t in trials] == ["ok 1", "ok 2", "ok 3", "ok 4", "ok 5"]
    assert server.count == 1
    body = server.requests[0].body
    assert body["n"] == 5 and body["seed"] == 11 and body["temperature"] == 0.7
    assert body["messages"] == [{"role": "user", "content": "Question: q0"}]
    assert all(t.outcome == "pass" for t in trials)


@pytest.mark.parametrize("client", ["openai", "litellm"])
def test_a_dropped_n_is_made_up_by_separate_requests(tmp_path: Path, server: FakeOpenAI, client: str) -> None:
    server.n_cap = 1
    trials = run_set(project(tmp_path, server.url, client=client))["c0"]
    assert len(trials) == 5 and all(t.trial.error is None for t in trials)
    bodies = [r.body for r in server.requests]
    assert len(bodies) == 5
    assert sorted(b.get("seed") for b in bodies[1:]) == [12, 13, 14, 15]  # seed + sample index


def test_no_n_where_unsupported(tmp_path: Path, server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, runs=3, target_extra="    supports_n: false\n")
    trials = run_set(root)["c0"]
    assert len(trials) == 3
    assert server.count == 3 and all("n" not in r.body for r in server.requests)


@pytest.mark.parametrize("client", ["openai", "litellm"])
def test_429_is_retried_after_retry_after(tmp_path: Path, server: FakeOpenAI, client: str) -> None:
    server.fail_next(status=429, retry_after=0.3)
    start = time.perf_counter()
    trials = run_set(project(tmp_path, server.url, client=client, runs=2))["c0"]
    assert time.perf_counter() - start >= 0.3
    assert server.count == 2
    assert all(t.outcome == "pass" and t.trial.attempts == 2 for t in trials)


@pytest.mark.parametrize("client", ["openai", "litellm"])
def test_persistent_500_becomes_error_trials(tmp_path: Path, server: FakeOpenAI, client: str) -> None:
    server.fail_next(count=10, status=500)
    trials = run_set(project(tmp_path, server.url, client=client, runs=2))["c0"]
    assert server.count == 3  # the first try and max_retries=2 retries
    assert all(t.outcome == "error" for t in trials)
    assert all(t.trial.error_kind == "server" and "500" in (t.trial.error or "") for t in trials)


@pytest.mark.parametrize("client", ["openai", "litellm"])
def test_a_hang_is_a_timeout_error(tmp_path: Path, server: FakeOpenAI, client: str) -> None:
    server.hang_next(count=10)
    root = project(tmp_path, server.url, client=client, runs=1, timeout_s=0.3, max_retries=0)
    trials = run_set(root)["c0"]
    assert trials[0].outcome == "error"
    assert trials[0].trial.error_kind == "timeout"
    assert "no reply within 0.3 s" in (trials[0].trial.error or "")


@pytest.mark.parametrize("client", ["openai", "litellm"])
@pytest.mark.parametrize("empty", [False, True])
def test_malformed_reply_is_an_error(tmp_path: Path, server: FakeOpenAI, client: str, empty: bool) -> None:
    server.malformed_next(count=10, empty_choices=empty)
    trials = run_set(project(tmp_path, server.url, client=client, runs=1))["c0"]
    assert trials[0].outcome == "error"
    assert trials[0].trial.error_kind in ("malformed", "server")
    assert trials[0].trial.completion is None


def test_unreachable_provider_is_a_connection_error(tmp_path: Path) -> None:
    with FakeOpenAI() as s:
        url = s.url
    trials = run_set(project(tmp_path, url, runs=1))["c0"]
    assert trials[0].trial.error_kind == "connection"
    assert f"cannot reach {url}" in (trials[0].trial.error or "")


def test_usage_tokens_fingerprint_and_cost(tmp_path: Path, server: FakeOpenAI) -> None:
    extra = "    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}\n"
    trial = run_set(project(tmp_path, server.url, runs=1, target_extra=extra))["c0"][0].trial
    completion = trial.completion
    assert completion is not None
    assert completion.prompt_tokens == 2 and completion.completion_tokens == 2  # "Question: q0" / "ok 1"
    assert completion.system_fingerprint == "fp_fake"
    assert completion.cost_usd == pytest.approx((2 * 1.0 + 2 * 2.0) / 1e6)


def test_tool_calls_are_parsed(tmp_path: Path, server: FakeOpenAI) -> None:
    server.reset()
    server.add_rule(contains="q", replies=[Reply(tool_calls=[{"name": "lookup", "arguments": {"id": 7}}])])
    trial = run_set(project(tmp_path, server.url, runs=1))["c0"][0].trial
    assert trial.completion is not None
    assert [(c.name, c.arguments) for c in trial.completion.tool_calls] == [("lookup", {"id": 7})]


def test_key_is_sent_but_never_recorded(tmp_path: Path, server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, runs=2, mode="record")
    run_set(root)
    assert all(r.has_auth for r in server.requests)
    cassette = (root / "cassettes" / "s" / "t.jsonl").read_text()
    assert KEY not in cassette and "GB_TEST_KEY" not in cassette and len(cassette.splitlines()) == 2


def test_record_then_replay_without_the_server(tmp_path: Path, server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, runs=3, cases=2, mode="record")
    recorded = run_set(root)
    sent = server.count
    server.stop()
    replayed = run_set(root, mode="replay")
    assert server.count == sent
    for case in ("c0", "c1"):
        assert [t.trial.output for t in replayed[case]] == [t.trial.output for t in recorded[case]]
        assert all(t.trial.cached for t in replayed[case])


def test_cached_mode_calls_only_for_misses(tmp_path: Path, server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, runs=2, cases=3, mode="cached")
    run_set(root)
    assert server.count == 3
    second = run_set(root)
    assert server.count == 3
    assert all(t.trial.cached for trials in second.values() for t in trials)
    assert (root / ".goldband" / "cache" / "s" / "t.jsonl").exists()


def test_all_cases_share_one_concurrency_limit(tmp_path: Path) -> None:
    latency = 0.2
    with FakeOpenAI(latency_s=latency) as s:
        root = project(tmp_path, s.url, runs=1, cases=24, target_extra="    supports_n: false\n")
        run_set(root)
        assert s.count == 24
        stamps = sorted(r.received_at for r in s.requests)
    # The server answers a request no sooner than `latency` after it arrived (its own clock), so requests that
    # arrived less than `latency` apart were in flight together: concurrency 8 puts 8 cases in flight at once.
    together = max(bisect.bisect_left(stamps, t + latency) - i for i, t in enumerate(stamps))
    assert together == 8, f"at most {together} requests were in flight together; expected the limit, 8"
    # A 9th request is sent only after one of the 8 before it was answered: never more than 8 in flight.
    gaps = [stamps[i + 8] - stamps[i] for i in range(len(stamps) - 8)]
    assert min(gaps) >= latency - 0.01, f"a request started while 8 were in flight ({min(gaps):.3f} s gap)"


def test_replayed_cassette_holds_request_and_sample(tmp_path: Path, server: FakeOpenAI) -> None:
    root = project(tmp_path, server.url, runs=2, mode="record")
    run_set(root)
    lines = [json.loads(x) for x in (root / "cassettes" / "s" / "t.jsonl").read_text().splitlines()]
    assert [e["sample"] for e in lines] == [0, 1]
    assert lines[0]["messages"] == [{"role": "user", "content": "Question: q0"}]
    assert lines[0]["params"] == {"temperature": 0.7, "seed": 11, "max_tokens": 50}
    assert lines[0]["key"] != lines[1]["key"]


def test_the_engine_counts_requests_retries_and_failures(tmp_path: Path, server: FakeOpenAI) -> None:
    server.fail_next(status=429, retry_after=0.05, contains="q0")
    server.fail_next(count=10, status=500, contains="q1")
    _, stats = run_with_stats(project(tmp_path, server.url, runs=3, cases=3))
    # q0: a 429 then its n=3 request; q1: three tries, all 500; q2: one n=3 request
    assert (stats.requests, stats.samples, stats.retries, stats.rate_limited, stats.failures) == (6, 9, 3, 1, 1)
    assert engine_line(stats) == ("goldband engine: 6 requests for 9 samples · 3 retries (1 after a 429) "
                                  "· 1 call failed after retries")
    assert server.count == 6
