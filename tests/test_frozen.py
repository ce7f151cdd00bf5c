"""Behaviour kept: every configuration of tests/frozen.py's grid gives, field by field and
bit for bit (latencies included), the Result recorded in tests/data."""

import frozen
import pytest

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off

RECORDED = frozen.load()


def test_the_grid_is_large_and_recorded_whole():
    g = frozen.grid()
    assert len(g) >= 1000
    assert {frozen.key(p, kw) for p, kw in g} == set(RECORDED)


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted({p for p, _ in frozen.grid()}))
def test_every_result_equals_the_recording(path):
    from virtmodel.paths import simulate

    diffs = []
    for p, kw in frozen.grid():
        if p != path:
            continue
        got = frozen.fingerprint(simulate(p, **kw))
        want = RECORDED[frozen.key(p, kw)]
        bad = {
            k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)
        }
        if bad:
            diffs.append((kw, bad))
    assert not diffs, f"{len(diffs)} configurations changed; first: {diffs[0]}"


def test_a_sample_equals_the_recording_with_or_without_the_jit():
    """Every 25th configuration (the whole grid is slow in plain Python): the same events
    and counts compiled or not (a mean may differ in its last bit: numpy sums pairwise)."""
    from virtmodel.paths import simulate

    for p, kw in frozen.grid()[::25]:
        got, want = frozen.fingerprint(simulate(p, **kw)), RECORDED[frozen.key(p, kw)]
        assert got.keys() == want.keys()
        for k in want:
            if isinstance(want[k], float):
                assert got[k] == pytest.approx(want[k], rel=1e-12), (p, kw, k)
            else:
                assert got[k] == want[k], (p, kw, k)
