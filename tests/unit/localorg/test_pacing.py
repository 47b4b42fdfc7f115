"""The pacing model on its own: specs, slots, latency, chunk times and lock contention in virtual time."""

import numpy as np
import pytest

from migrator.localorg.pacing import PRESETS, PaceModel, PaceSpec, PaceSpecError, unit_draw


def keys(*values: int) -> list[np.ndarray]:
    return [np.array(values, dtype=np.uint64)]


def test_spec_strings_presets_and_errors():
    spec = PaceSpec.parse("production,speed=5,seed=7")
    assert spec == PaceSpec(**{**PRESETS["production"].as_dict(), "speed": 5.0, "seed": 7})
    assert spec.active and not PaceSpec().active
    assert PaceSpec.parse("rate=200, max_jobs=2, locks=off") == PaceSpec(rate=200.0, max_jobs=2, locks=False)
    assert PaceSpec.coerce({"preset": "production", "max_jobs": 3}).max_jobs == 3
    assert PaceSpec.coerce(None) == PaceSpec()
    for bad, message in (("rate=fast", "needs a number"), ("warp=9", "unknown pace setting"),
                         ("turbo", "neither name=value nor a preset"), ("max_jobs=-1", "cannot be negative"),
                         ("speed=0", "greater than 0"), ("chunk=0", "at least 1"), ("locks=maybe", "boolean")):
        with pytest.raises(PaceSpecError, match=message):
            PaceSpec.parse(bad)


def test_the_cap_holds_jobs_back_until_a_slot_frees():
    model = PaceModel(PaceSpec(rate=100, max_jobs=2))
    for job in ("j1", "j2", "j3", "j4"):
        model.arrive(job)
    assert [job for job, _ in model.admit(0.0)] == ["j1", "j2"]
    assert model.admit(1.0) == []  # full
    model.finish("j1")
    assert [job for job, _ in model.admit(2.0)] == ["j3"]
    assert model.stats.most_running == 2 and len(model.stats.running) == 2 and list(model.waiting) == ["j4"]


def test_latency_is_fixed_plus_a_seeded_jitter():
    spec = PaceSpec(rate=100, latency_ms=2000, jitter_ms=1000, seed=3)
    first = [PaceModel(spec).latency(f"j{i}") for i in range(20)]
    again = [PaceModel(spec).latency(f"j{i}") for i in range(20)]
    other = [PaceModel(PaceSpec(**{**spec.as_dict(), "seed": 4})).latency(f"j{i}") for i in range(20)]
    assert first == again and first != other
    assert all(2.0 <= value < 3.0 for value in first)
    model = PaceModel(spec)
    model.arrive("j0")
    assert model.admit(10.0) == [("j0", 10.0 + first[0])]


def test_chunks_take_rows_over_rate_and_a_jobs_own_chunks_never_collide():
    model = PaceModel(PaceSpec(rate=1000, lock_wait_ms=500))
    one = model.begin_chunk("a", 0.0, keys(1, 2, 3))
    two = model.begin_chunk("a", one.end, keys(1, 2, 3))
    assert (one.start, one.end) == (0.0, 0.003) and two.start == one.end and two.locked_rows.size == 0


def test_a_row_waits_for_a_parent_locked_by_another_job_and_fails_after_the_lock_wait():
    model = PaceModel(PaceSpec(rate=10, lock_wait_ms=1000))  # 10 rows per second: a chunk of 20 takes 2 s
    holder = model.begin_chunk("a", 0.0, keys(*range(1, 21)))
    assert holder.end == 2.0
    # asked at 0.5 s: parent 5 is held 1.5 s more, past the 1 s wait: that row fails after waiting 1 s,
    # the row naming parent 99 (free) goes with it
    b = model.begin_chunk("b", 0.5, keys(5, 99))
    assert b.locked_rows.tolist() == [0] and b.start == pytest.approx(1.5) and b.end == pytest.approx(1.7)
    # asked at 1.2 s: parent 5 is free at 2.0 (0.8 s, within the wait), 99 at 1.7 (b holds it): it waits
    c = model.begin_chunk("c", 1.2, keys(5, 99))
    assert c.locked_rows.size == 0 and c.start == pytest.approx(2.0) and c.waited == pytest.approx(0.8)
    assert model.stats.lock_failures == 1 and model.stats.lock_waits == 2


def test_rows_naming_no_parent_and_switched_off_locks_never_wait():
    model = PaceModel(PaceSpec(rate=10, lock_wait_ms=100))
    model.begin_chunk("a", 0.0, keys(1, 2))
    assert model.begin_chunk("b", 0.0, keys(0, 0)).locked_rows.size == 0
    off = PaceModel(PaceSpec(rate=10, lock_wait_ms=100, locks=False))
    off.begin_chunk("a", 0.0, keys(1, 2))
    assert off.begin_chunk("b", 0.0, keys(1, 2)).waited == 0


def simulate(spec: PaceSpec, jobs: int, rows: int) -> list[tuple[str, float, float, list[int]]]:
    """Jobs arriving together, naming overlapping parents, driven in virtual-time order like the server's
    driver: every chunk's job, times and rows failing to lock."""
    model = PaceModel(spec)
    rng = np.random.default_rng(1)
    parents = {f"j{i}": rng.integers(1, 200, rows).astype(np.uint64) for i in range(jobs)}
    for job in parents:
        model.arrive(job)
    events = [(start, job, 0) for job, start in model.admit(0.0)]
    seen = []
    while events:
        events.sort()
        at, job, done = events.pop(0)
        if done >= rows:  # the job's last chunk ended: its slot goes to the next job
            model.finish(job)
            events += [(start, j, 0) for j, start in model.admit(at)]
            continue
        times = model.begin_chunk(job, at, [parents[job][done:done + spec.chunk]])
        seen.append((job, times.start, times.end, times.locked_rows.tolist()))
        events.append((times.end, job, done + spec.chunk))
    return seen


def test_the_same_seed_gives_the_same_lock_failures():
    spec = PaceSpec(rate=100, chunk=50, max_jobs=3, latency_ms=200, jitter_ms=800, lock_wait_ms=300, seed=11)
    first, again = simulate(spec, 6, 200), simulate(spec, 6, 200)
    assert first == again
    assert sum(len(locked) for *_, locked in first) > 0  # contention happened
    other = simulate(PaceSpec(**{**spec.as_dict(), "seed": 12}), 6, 200)
    assert other != first  # the jitter draws moved the chunks


def test_queue_limit_refuses_new_jobs_while_too_many_wait():
    model = PaceModel(PaceSpec(rate=10, max_jobs=1, queue_limit=2))
    for job in ("a", "b", "c"):
        model.arrive(job)
    model.admit(0.0)  # a runs; b and c wait
    assert model.over_queue_limit() and model.stats.refused == 1
    model.finish("a")
    model.admit(1.0)
    assert not model.over_queue_limit()


def test_unit_draws_are_uniform_and_repeatable():
    draws = [unit_draw(5, "x", i) for i in range(1000)]
    assert draws == [unit_draw(5, "x", i) for i in range(1000)]
    assert 0.4 < float(np.mean(draws)) < 0.6 and min(draws) >= 0 and max(draws) < 1
