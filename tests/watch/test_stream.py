"""Streaming watches: direction and levels of a change, exact save/resume, eval-series false alarms and delays."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goldband.monitors import make_detector
from goldband.watch.stream import Detection, DetectorWatch, EvalWatch, split


def times(n: int, start: int = 0) -> list[str]:
    return [f"t{start + i:07d}" for i in range(n)]


ERRORS = np.concatenate([(np.random.default_rng(1).random(4000) < 0.2), (np.random.default_rng(2).random(3000) < 0.45),
                         (np.random.default_rng(3).random(3000) < 0.15)]).astype(float)


def feed_all(watch: DetectorWatch, values: np.ndarray) -> list[Detection]:
    return watch.feed(values.tolist(), times(len(values)))


@pytest.mark.parametrize("name", ["adwin", "ddm", "page_hinkley"])
def test_a_change_has_a_direction_levels_and_a_start(name: str) -> None:
    params = {"threshold": 20.0} if name == "page_hinkley" else {}
    found = feed_all(DetectorWatch(make_detector(name, **params), bad="up"), ERRORS)
    up = next(d for d in found if d.index >= 4000)
    assert up.direction == "up" and up.bad and up.before is not None and up.after is not None
    assert up.before < 0.3 < up.after
    assert up.start is not None and "t0003800" <= up.start <= up.time  # the change began near value 4000


def test_a_fall_is_not_bad_for_an_error_stream() -> None:
    found = feed_all(DetectorWatch(make_detector("adwin"), bad="up"), ERRORS)
    down = [d for d in found if d.index >= 7000]
    assert down and down[0].direction == "down" and not down[0].bad
    assert "fell from" in down[0].describe("error rate")


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(ERRORS) - 1), max_size=4, unique=True),
       name=st.sampled_from(["adwin", "ddm", "page_hinkley"]))
def test_saving_and_resuming_anywhere_gives_the_same_detections(cuts: list[int], name: str) -> None:
    values, stamps = ERRORS.tolist(), times(len(ERRORS))
    whole = DetectorWatch(make_detector(name), bad="up").feed(values, stamps)
    watch, found, start = DetectorWatch(make_detector(name), bad="up"), [], 0
    for cut in [*sorted(cuts), len(values)]:
        part = watch.feed(values[start:cut], stamps[start:cut])
        found += part
        state = json.loads(json.dumps(watch.get_state(), allow_nan=False))  # through strict JSON, as stored
        watch, start = DetectorWatch.from_state(state), cut
    assert [(d.time, d.direction, d.before, d.after, d.start) for d in found] == \
        [(d.time, d.direction, d.before, d.after, d.start) for d in whole]


def test_split_finds_the_change_point() -> None:
    assert split([0.0] * 30 + [1.0] * 10) == 30
    assert split([5.0]) is None
    noisy = np.r_[np.random.default_rng(4).normal(0, 1, 300), np.random.default_rng(5).normal(1.5, 1, 200)]
    assert 280 <= split(noisy.tolist()) <= 320  # type: ignore[operator]


# -- eval series -------------------------------------------------------------------------------------


def nightly(seed: int, nights: int, *, trials: int, slide_from: int | None = None, slope: float = 0.005) -> list[float]:
    rng = np.random.default_rng(seed)
    p = np.full(nights, 0.85)
    if slide_from is not None:
        p[slide_from:] -= slope * np.arange(1, nights - slide_from + 1)
    return (rng.binomial(trials, p) / trials).tolist()


def run(values: list[float]) -> list[Detection]:
    return EvalWatch(bad="down").feed(values, times(len(values)))


# Measured on these seeds (40 series of a year each): 1, 1 and 4 false alarms at 60, 240 and 1,000 trials a
# night (the noise differs 4x; the threshold scales with it). A slide of 0.005 a night from night 40 is caught
# after a median of 10 nights (at most 16). The bounds leave headroom; they are deterministic (seeded).
# docs/bench-monitoring.md has the rates over 400 series (bench/bench_monitoring.py).

@pytest.mark.parametrize("trials", [60, 240, 1000])
def test_eval_false_alarms_on_steady_series_are_rare_whatever_the_noise(trials: int) -> None:
    alarms = sum(len([d for d in run(nightly(seed, 365, trials=trials)) if d.bad]) for seed in range(40))
    assert alarms <= 6  # <= 0.15 a year per series


def test_a_slow_slide_in_the_pass_rate_is_caught_within_weeks() -> None:
    delays = []
    for seed in range(30):
        found = [d for d in run(nightly(seed, 120, trials=240, slide_from=40)) if d.bad and d.index >= 40]
        delays.append(found[0].index - 40 if found else 999)
    assert np.median(delays) <= 15 and max(delays) <= 30


def test_the_eval_watch_resumes_exactly_and_knows_when_it_recovered() -> None:
    values = nightly(3, 30, trials=240) + [0.70] * 15 + [0.86] * 20
    whole = EvalWatch(bad="down")
    found = whole.feed(values, times(len(values)))
    assert [d.direction for d in found][:2] == ["down", "up"] and not whole.active
    resumed, again = EvalWatch(bad="down"), []
    for start in range(0, len(values), 7):
        again += resumed.feed(values[start:start + 7], times(len(values))[start:start + 7])
        resumed = EvalWatch.from_state(json.loads(json.dumps(resumed.get_state())))
    assert [(d.index, d.time, d.direction) for d in again] == [(d.index, d.time, d.direction) for d in found]
    assert resumed.scale == whole.scale and resumed.scale is not None and resumed.scale > 0


@pytest.mark.parametrize("name", ["adwin", "ddm", "page_hinkley"])
def test_a_detector_saved_in_the_store_resumes_exactly(name: str, store_at: str) -> None:
    from goldband.store import open_store
    from goldband.watch import load_detector, save_detector

    whole = make_detector(name).update_many(ERRORS)
    hits = []
    for night, part in enumerate(np.array_split(ERRORS, 5)):  # five nightly jobs, each a new process and store
        with open_store(store_at) as store:
            detector = load_detector(store, "errors") or make_detector(name)
            before = sum(len(p) for p in np.array_split(ERRORS, 5)[:night])
            hits += [before + i for i in detector.update_many(part)]
            save_detector(store, "errors", detector)
    assert hits == whole and whole
