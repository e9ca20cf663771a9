"""Fail fast on a provider that is not there: a closed port on 127.0.0.1 (a real socket, nothing listening).

The first requests of a target all fail to connect: the target is given up, its other samples fail at once
without a call (ERROR trials, never a pass), and the run's stats hold one outage for the summary. A target
that answered once, or a server answering with errors, is never given up.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import goldband
from goldband.config.project import Endpoint
from goldband.engine.providers import Call, Unreachable, cannot_connect
from goldband.engine.scheduler import FAIL_FAST_AFTER, Engine, EngineStats, Sample, shown_base
from goldband.testing import FakeOpenAI


def closed_port() -> int:
    """A loopback port nothing listens on: bound to get a free number, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def engine() -> Iterator[Engine]:
    found = Engine(concurrency=4, seed=1)
    yield found
    found.close()


def call_to(url: str, client: str = "http", target: str = "support-v1") -> Call:
    endpoint = Endpoint(model="openai/m", api_base=url, client=client, max_retries=1, backoff_s=0.01,  # type: ignore[arg-type]
                        timeout_s=5)
    return Call("openai/m", [{"role": "user", "content": "q"}], {}, endpoint, target=target)


def samples(engine: Engine, call: Call, count: int) -> list[Sample]:
    async def each() -> list[Sample]:
        found = await asyncio.gather(*(engine.generate(call, [i]) for i in range(count)))
        return [s for batch in found for s in batch]

    return engine.submit(each()).result(timeout=30)


@pytest.mark.parametrize("client", ["http", "openai"])
def test_a_closed_port_gives_the_target_up_after_its_first_requests(engine: Engine, client: str) -> None:
    port = closed_port()
    found = samples(engine, call_to(f"http://127.0.0.1:{port}/v1?api-version=1", client), 30)
    assert all(s.completion is None and s.failure is not None for s in found)
    assert {s.failure.kind for s in found if s.failure} == {"connection"}
    skipped = [s for s in found if s.attempts == 0]
    assert skipped and all(str(s.failure).startswith(
        f"connection: not called: target 'support-v1' is unreachable at http://127.0.0.1:{port}/v1 "
        f"(its first {engine.stats.outages[0].tries} attempts could not connect)") for s in skipped)
    # 30 samples x 2 attempts without failing fast; at most the 4 in flight and their retries once given up
    assert engine.stats.requests <= (FAIL_FAST_AFTER + engine.concurrency) * 2 < 60
    [outage] = engine.stats.outages
    assert (outage.target, outage.api_base) == ("support-v1", f"http://127.0.0.1:{port}/v1")
    assert FAIL_FAST_AFTER <= outage.tries <= engine.concurrency + 1  # the first slots' attempts, the probe's retry
    assert outage.skipped == len(skipped)
    line = outage.describe()
    assert line.startswith(f"goldband: target 'support-v1' is unreachable at http://127.0.0.1:{port}/v1: "
                           f"its first {outage.tries} attempts could not connect (cannot reach http://127.0.0.1:")
    assert line.endswith(f"; {len(skipped)} more samples failed without a call; fix: start the server or correct "
                         "'api_base' (and the network or proxy), then run again")


def test_a_target_that_answered_is_never_given_up(engine: Engine) -> None:
    with FakeOpenAI() as server:
        url = server.url
        assert samples(engine, call_to(url), 1)[0].completion is not None
    found = samples(engine, call_to(url), 8)  # the server is gone now: retried as any failure, each tried
    assert all(s.failure is not None and s.attempts == 2 for s in found)
    assert engine.stats.outages == []


def test_http_errors_are_not_an_outage(engine: Engine) -> None:
    with FakeOpenAI() as server:
        server.fail_next(20, status=500)
        found = samples(engine, call_to(server.url), 6)
    assert {s.failure.kind for s in found if s.failure} == {"server"}
    assert engine.stats.outages == [] and all(s.attempts == 2 for s in found)


def test_a_call_without_a_target_names_its_model(engine: Engine) -> None:
    found = samples(engine, call_to(f"http://127.0.0.1:{closed_port()}/v1", target=""), 6)
    assert "not called: model 'openai/m' is unreachable at" in str(found[-1].failure)
    assert engine.stats.outages[0].describe().startswith("goldband: model 'openai/m' is unreachable at")


def test_targets_are_given_up_one_by_one(engine: Engine) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    samples(engine, call_to(url, target="a"), 6)
    [alone] = samples(engine, call_to(url, target="b"), 1)  # 2 attempts, below FAIL_FAST_AFTER: not given up
    assert alone.attempts == 2 and "not called" not in str(alone.failure)
    assert [o.target for o in engine.stats.outages] == ["a"]


def test_what_counts_as_cannot_connect() -> None:
    assert cannot_connect(ConnectionRefusedError(111, "refused"))
    assert cannot_connect(socket.gaierror(-2, "Name or service not known"))  # no such host (DNS)
    assert not cannot_connect(ConnectionResetError(104, "reset by peer"))  # it was reached, then dropped
    assert not cannot_connect(TimeoutError())
    assert isinstance(Unreachable("connection", "x"), Exception)


def test_the_address_shown_has_no_query_and_no_credentials() -> None:
    endpoint = Endpoint(model="openai/m", api_base="https://example.test:8443/v1?key=abc")
    assert shown_base(Call("openai/m", [], {}, endpoint)) == "https://example.test:8443/v1"


def test_a_run_against_a_closed_port_ends_with_every_trial_an_error(tmp_path: Path) -> None:
    port = closed_port()
    (tmp_path / "goldensets").mkdir()
    (tmp_path / "goldband.yaml").write_text(
        "mode: live\nconcurrency: 4\ntargets:\n  down:\n    model: openai/m\n"
        f"    messages: [{{role: user, content: '{{{{ q }}}}'}}]\n    api_base: http://127.0.0.1:{port}/v1\n"
        "    max_retries: 1\n    backoff_s: 0.01\n")
    body = "".join(f"  - id: c{i}\n    input: {{q: q{i}}}\n" for i in range(12))
    (tmp_path / "goldensets" / "s.yaml").write_text(
        f"name: s\nversion: 1\ndefaults:\n  runs: 3\n  checks: [{{contains: ok}}]\ncases:\n{body}")
    result = goldband.run(root=tmp_path)
    assert {o.verdict.status for o in result.outcomes} == {"ERROR"}
    trials = [t for o in result.outcomes for t in o.trials]
    assert len(trials) == 36 and all(t.outcome == "error" and t.trial.error_kind == "connection" for t in trials)
    stats = result.engine or EngineStats()
    assert len(stats.outages) == 1 and stats.requests <= (FAIL_FAST_AFTER + 4) * 2
    not_called = [t for t in trials if t.trial.attempts == 0]
    assert not_called and all("is unreachable at http://127.0.0.1" in (t.trial.error or "") for t in not_called)


def test_the_outage_is_said_once_and_every_item_errors(pytester: pytest.Pytester) -> None:
    port = closed_port()
    pytester.makefile(".yaml", goldband=(
        "mode: live\nconcurrency: 4\ntargets:\n  support-v1:\n    model: openai/m\n"
        f"    messages: [{{role: user, content: '{{{{ q }}}}'}}]\n    api_base: http://127.0.0.1:{port}/v1\n"
        "    max_retries: 1\n    backoff_s: 0.01\n"))
    pytester.mkdir("goldensets")
    body = "".join(f"  - id: c{i}\n    input: {{q: q{i}}}\n" for i in range(10))
    (pytester.path / "goldensets" / "s.yaml").write_text(
        f"name: s\nversion: 1\ndefaults:\n  runs: 3\n  checks: [{{contains: ok}}]\ncases:\n{body}")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=10)
    out = result.stdout.str()
    line = f"goldband: target 'support-v1' is unreachable at http://127.0.0.1:{port}/v1: its first "
    assert out.count(line) == 1, out
    result.stdout.fnmatch_lines([f"{line}*more samples failed without a call; fix: start the server*"])
    assert sum(line.startswith("ERROR s::c") for line in out.splitlines()) == 10  # each item's report
