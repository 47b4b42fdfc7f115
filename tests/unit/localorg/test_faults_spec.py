"""Fault specs: the compact string, dicts, validation, counters and the deterministic lock draw."""

from __future__ import annotations

import numpy as np
import pytest

from migrator.localorg.faults import Faults, FaultSpec, FaultSpecError


def test_parse_the_compact_string():
    spec = FaultSpec.parse("lock_rate=0.1, seed=7,fail_job_after=500,upload_503=2,expire_token_after=20,slow_ms=50,")
    assert spec == FaultSpec(lock_rate=0.1, seed=7, fail_job_after=500, upload_503=2, expire_token_after=20,
                             slow_ms=50)
    assert FaultSpec.coerce(None) == FaultSpec() and FaultSpec.coerce("") == FaultSpec()
    assert FaultSpec.coerce({"seed": "3", "fail_job_after": None}) == FaultSpec(seed=3)
    assert FaultSpec.parse("seed=1").as_dict()["seed"] == 1


@pytest.mark.parametrize(("text", "message"), [
    ("lock_rate", "not name=value"),
    ("lock=1", r"unknown fault\(s\): lock"),
    ("lock_rate=1.5", "between 0 and 1"),
    ("slow_ms=-1", "cannot be negative"),
    ("seed=abc", "needs a number"),
])
def test_bad_specs(text, message):
    with pytest.raises(FaultSpecError, match=message):
        FaultSpec.parse(text)
    with pytest.raises(FaultSpecError):
        FaultSpec.coerce(42)  # type: ignore[arg-type]


def test_upload_refusals_count_down_and_reset():
    faults = Faults(FaultSpec(upload_503=2))
    assert [faults.refuse_upload() for _ in range(3)] == [True, True, False]
    faults.set({"upload_503": 1})
    assert faults.refuse_upload() and not faults.refuse_upload()


def test_tokens_expire_per_token_and_revive_when_cleared():
    faults = Faults(FaultSpec(expire_token_after=2))
    assert [faults.token_expired("a") for _ in range(3)] == [False, False, True]
    assert faults.token_expired("b") is False, "each token has its own budget"
    faults.set(None)
    assert faults.token_expired("a") is False


def test_lock_draw_depends_on_seed_job_and_row():
    keys = [f"row {n}" for n in range(400)]
    rows = np.arange(400)
    faults = Faults(FaultSpec(lock_rate=0.25, seed=1))
    first = faults.lock_filter("750A", 0, keys)(rows)
    assert 60 < first.sum() < 140
    assert (faults.lock_filter("750A", 0, keys)(rows) == first).all(), "deterministic"
    assert (faults.lock_filter("750B", 0, keys)(rows) != first).any(), "a new job draws again"
    faults.set(FaultSpec(lock_rate=0.25, seed=2))
    assert (faults.lock_filter("750A", 0, keys)(rows) != first).any()
    faults.set(None)
    assert faults.lock_filter("750A", 0, keys) is None
