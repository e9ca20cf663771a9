"""One contract for every registered monitor (STYLE point 4)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from goldband.monitors import BATCH_TESTS, DETECTORS, DriftResult, make_detector

STREAM = np.concatenate([np.random.default_rng(3).normal(0.0, 0.2, 3_000),
                         np.random.default_rng(4).normal(1.0, 0.2, 3_000)])
ERRORS = (np.random.default_rng(5).random(6_000) < np.repeat([0.1, 0.4], 3_000)) * 1.0


def _values(name: str) -> np.ndarray:
    return ERRORS if name == "ddm" else STREAM


def test_the_registries_list_every_monitor() -> None:
    assert sorted(DETECTORS) == ["adwin", "ddm", "page_hinkley"]
    assert sorted(BATCH_TESTS) == ["chi2", "jensen_shannon", "ks", "psi", "wasserstein"]


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_detector_contract(name: str) -> None:
    cls = DETECTORS[name]
    det = cls()  # defaults construct
    assert cls.name == name and repr(det).startswith(f"{cls.__name__}(")
    for param, value in det.params.items():  # stored under their own names
        assert getattr(det, param) == value
    state = det.get_state()
    assert state["detector"] == name and isinstance(state["version"], int)
    assert cls.from_state(json.loads(json.dumps(state))).params == det.params  # round-trip
    assert make_detector(name, **det.params).get_state() == state
    with pytest.raises(AttributeError):
        det.drift_detected = True  # type: ignore[misc]  # read-only
    assert det.update(float(_values(name)[0])) is det  # update returns the detector

    first, second = cls(), cls()
    hits = first.update_many(_values(name))
    assert hits, f"{name} should detect the shift in the contract stream"
    assert second.update_many(_values(name)) == hits  # same input, same result
    assert first.get_state() == second.get_state()
    json.dumps(first.get_state(), allow_nan=False)  # strict JSON
    assert pickle.loads(pickle.dumps(first)).get_state() == first.get_state()


@pytest.mark.parametrize("name", sorted(BATCH_TESTS))
def test_batch_test_contract(name: str) -> None:
    test = BATCH_TESTS[name]
    rng = np.random.default_rng(8)
    if name == "chi2":
        ref, cur = rng.choice(list("abc"), 500), rng.choice(list("abcd"), 400)
    else:
        ref, cur = rng.normal(size=500), rng.normal(0.5, 1.0, 400)
    result = test(ref, cur)  # defaults
    assert isinstance(result, DriftResult) and result.test == name
    assert result.drifted and result.detail.endswith("drifted")
    assert test(ref, cur) == result  # same input, same result
    assert pickle.loads(pickle.dumps(test)) is test
    assert pickle.loads(pickle.dumps(result)) == result
    assert json.dumps(result.to_dict())
    with pytest.raises(TypeError):
        test(ref, cur, 0.05)  # type: ignore[call-arg]  # knobs are keyword-only
