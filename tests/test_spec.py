"""Spec conformance: need_event and ring sizes, checked against independent definitions."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virtmodel import spec

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off

u16 = st.integers(0, 0xFFFF)


def need_event_c(event_idx, new_idx, old):
    """Linux vring_need_event, transcribed with C's __u16 casts made explicit."""
    return ((new_idx - event_idx - 1) % 65536) < ((new_idx - old) % 65536)


def need_event_window(event_idx, new_idx, old):
    """The meaning: event_idx is one of old, old+1, ..., new-1 (mod 2**16)."""
    return any((old + k) % 65536 == event_idx for k in range((new_idx - old) % 65536))


@settings(deadline=None)  # the reference walks up to 65536 steps: slow on a busy machine
@given(u16, u16, u16)
def test_need_event_matches_linux(e, n, o):
    assert spec.need_event(e, n, o) == need_event_c(e, n, o)


@settings(deadline=None)
@given(u16, st.integers(0, 300), st.integers(0, 300))
def test_need_event_means_event_in_window(old, span, offset):
    new = (old + span) % 65536
    event = (old + offset - 20) % 65536
    assert spec.need_event(event, new, old) == need_event_window(event, new, old)


@pytest.mark.parametrize(
    "e,n,o,expect",
    [
        (0, 1, 0, True),  # first buffer after event 0
        (0, 0, 0, False),  # nothing moved
        (65535, 0, 65535, True),  # wrap: moved 65535 -> 0 past event 65535
        (65535, 1, 65534, True),
        (0, 1, 65535, True),  # window {65535, 0} contains 0
        (1, 1, 65535, False),
        (5, 10, 6, False),  # event behind the window
        (9, 10, 6, True),
        (10, 10, 6, False),  # new_idx itself is outside [old, new)
    ],
)
def test_need_event_cases(e, n, o, expect):
    assert spec.need_event(e, n, o) is expect


def test_need_event_exhaustive_small_window_with_wrap():
    rng = random.Random(1)
    for _ in range(20000):
        o = rng.choice([rng.randrange(65536), 65535, 65534, 0, 1])
        n = (o + rng.randrange(64)) % 65536
        e = (o + rng.randrange(-8, 72)) % 65536
        assert spec.need_event(e, n, o) == need_event_window(e, n, o)


@pytest.mark.parametrize("bad", [-1, 65536, 1 << 20, 1.5, "3", None, True])
def test_need_event_rejects_non_u16(bad):
    with pytest.raises(ValueError, match="event_idx"):
        spec.need_event(bad, 0, 0)


def vring_size_c(num, align):
    # Linux: ((16*num + 2*(3+num) + align-1) & ~(align-1)) + 2*3 + 8*num
    return ((16 * num + 2 * (3 + num) + align - 1) & ~(align - 1)) + 2 * 3 + 8 * num


@pytest.mark.parametrize("q,size", [(128, 5126), (256, 10246), (1024, 28678)])
def test_split_ring_size_known_values(q, size):
    assert spec.split_ring_size(q) == size


def test_split_ring_size_all_queue_sizes_and_aligns():
    for k in range(16):
        for align in (4, 16, 64, 4096, 65536):
            assert spec.split_ring_size(1 << k, align) == vring_size_c(1 << k, align)


@pytest.mark.parametrize("bad", [0, 3, 6, 100, 65536, 32769, -4, 2.0, "8"])
def test_queue_size_must_be_power_of_two(bad):
    with pytest.raises(
        ValueError, match=r"queue_size must be (a power of two from 1 to 32768|an integer)"
    ):
        spec.split_ring_size(bad)


@pytest.mark.parametrize("bad", [0, 3, 4095, -4096])
def test_align_must_be_power_of_two(bad):
    with pytest.raises(ValueError, match="align must be a power of two"):
        spec.split_ring_size(8, bad)


def test_modern_part_sizes():
    p = spec.split_ring_parts(256)
    assert (p.desc_bytes, p.avail_bytes, p.used_bytes) == (4096, 518, 2054)
    assert (p.desc_align, p.avail_align, p.used_align) == (16, 2, 4)
    assert p.total_bytes == 26 * 256 + 12


def test_constants_match_spec():
    assert (spec.VRING_DESC_F_NEXT, spec.VRING_DESC_F_WRITE, spec.VRING_DESC_F_INDIRECT) == (
        1,
        2,
        4,
    )
    assert spec.VRING_USED_F_NO_NOTIFY == 1 and spec.VRING_AVAIL_F_NO_INTERRUPT == 1
    assert (
        spec.VIRTIO_F_INDIRECT_DESC,
        spec.VIRTIO_F_EVENT_IDX,
        spec.VIRTIO_F_VERSION_1,
        spec.VIRTIO_F_RING_PACKED,
    ) == (28, 29, 32, 34)
