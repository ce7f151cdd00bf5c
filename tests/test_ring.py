"""The split ring: byte layout, notification suppression, wrap-around, malformed rings."""

import struct

import numpy as np
import pytest

from virtmodel import split
from virtmodel.ring import BrokenQueueError, SplitQueue
from virtmodel.spec import split_ring_size

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off


def cycle(q, n=1, lens=(64,), written=0):
    """n round trips of one chain each: add, pop, push, reap."""
    for _ in range(n):
        head = q.add(list(lens))
        chain = q.pop()
        assert chain.head == head
        q.push_used(head, written)
        assert q.get_used() is not None


def test_layout_is_the_legacy_byte_layout():
    q = SplitQueue(8)
    q.add([100, 200], writable=[False, True], addrs=[0x1000, 0x2000], token=5)
    m = q.vq.mem.tobytes()
    assert len(m) == split_ring_size(8)
    # descriptor 0: addr, len, flags=NEXT, next=1; descriptor 1: WRITE, no NEXT
    assert struct.unpack_from("<QIHH", m, 0) == (0x1000, 100, 1, 1)
    assert struct.unpack_from("<QIHH", m, 16) == (0x2000, 200, 2, 0)
    avail = 16 * 8
    assert struct.unpack_from("<HHH", m, avail) == (0, 1, 0)  # flags, idx, ring[0]=head 0
    chain = q.pop()
    q.push_used(chain.head, 200)
    used = 4096
    assert struct.unpack_from("<HHII", m := q.vq.mem.tobytes(), used) == (0, 1, 0, 200)
    assert q.get_used() == (5, 200)


def test_views_name_the_fields():
    q = SplitQueue(4)
    q.add([7])
    f = split.views(q.vq)
    assert f["avail_idx"][0] == 1 and f["avail_ring"][0] == 0 and f["desc_len"][0] == 7


def test_chains_use_and_return_descriptors():
    q = SplitQueue(8)
    assert q.add([1, 2, 3]) == 0
    assert q.add([4, 5]) == 3
    assert q.num_free == 3
    c1, c2 = q.pop(), q.pop()
    assert (c1.descriptors, c1.readable_bytes, c2.readable_bytes) == (3, 6, 9)
    q.push_used(c2.head, 0)  # out of order completion is allowed
    assert q.get_used() == (1, 0)
    assert q.num_free == 5
    q.push_used(c1.head, 0)
    assert q.get_used() == (0, 0)
    assert q.num_free == 8
    # the freed descriptors are reused: 5 + 3 fit again
    assert q.add([1] * 5) is not None and q.add([1] * 3) is not None
    assert q.num_free == 0


def test_full_ring_refuses_and_recovers():
    q = SplitQueue(4)
    heads = [q.add([1]) for _ in range(4)]
    assert sorted(heads) == [0, 1, 2, 3]
    assert q.add([1]) is None
    assert q.add([1, 1]) is None
    c = q.pop()
    q.push_used(c.head, 0)
    q.get_used()
    assert q.add([1]) == c.head


def fast_forward(q, idx):
    """Put an empty, healthy queue at free-running index ``idx`` on both sides."""
    f, st = q.fields, q.vq.st
    f["avail_idx"][0] = f["used_idx"][0] = idx
    for slot in (
        split.DRV_AVAIL_IDX_SHADOW,
        split.DRV_LAST_USED_IDX,
        split.DEV_NEXT_AVAIL,
        split.DEV_NEXT_USED,
        split.DEV_AVAIL_IDX_SHADOW,
        split.DEV_SIGNALLED_USED,
    ):
        st[slot] = idx


@pytest.mark.parametrize("event_idx", [False, True])
def test_indices_wrap_past_65535(event_idx):
    q = SplitQueue(4, event_idx=event_idx)
    fast_forward(q, 65533)
    for _ in range(6):
        cycle(q)
    f = q.fields
    assert f["avail_idx"][0] == 3 and f["used_idx"][0] == 3
    assert q.vq.st[split.DRV_LAST_USED_IDX] == 3 and q.vq.st[split.DEV_NEXT_AVAIL] == 3
    assert q.broken is None and q.num_free == 4


def test_wrap_with_a_full_ring_in_flight():
    q = SplitQueue(4, event_idx=True)
    fast_forward(q, 65534)
    for t in range(4):
        q.add([1], token=t)
    chains = [q.pop() for _ in range(4)]
    assert q.pop() is None
    for c in chains:
        q.push_used(c.head, 1)
    assert [q.get_used()[0] for _ in range(4)] == [0, 1, 2, 3]
    assert q.fields["used_idx"][0] == 2


def test_many_cycles_from_zero_cross_the_wrap():
    q = SplitQueue(2, event_idx=True)
    for i in range(65540):
        q.add([8], token=i)
        c = q.pop()
        q.push_used(c.head, 0)
        assert q.get_used() == (i, 0)
    assert q.fields["avail_idx"][0] == 65540 - 65536


def test_event_idx_kick_only_when_device_asks():
    q = SplitQueue(8, event_idx=True)
    q.add([1])
    assert q.kick_prepare() is True  # avail_event 0 is in [0, 1)
    q.disable_kicks()  # device drains with kicks off
    assert q.pop() is not None
    q.add([1])
    q.add([1])
    assert q.kick_prepare() is False  # avail_event still 0: not in [1, 3)
    q.pop()
    q.pop()
    assert q.pop() is None
    assert q.enable_kicks() is False  # avail_event := 3, nothing new
    q.add([1])
    assert q.kick_prepare() is True  # 3 in [3, 4)


def test_enable_kicks_reports_a_race():
    q = SplitQueue(8, event_idx=False)
    q.disable_kicks()
    assert q.fields["used_flags"][0] == 1
    q.add([1])
    assert q.kick_prepare() is False  # NO_NOTIFY set
    assert q.enable_kicks() is True  # the chain that came meanwhile must be handled
    assert q.fields["used_flags"][0] == 0


def test_interrupt_suppression_without_event_idx():
    q = SplitQueue(8)
    q.add([1])
    q.add([1])
    a, b = q.pop(), q.pop()
    q.disable_interrupts()
    assert q.fields["avail_flags"][0] == 1
    q.push_used(a.head, 0)
    assert q.should_interrupt() is False
    assert q.enable_interrupts() is True  # a used buffer is already waiting
    q.push_used(b.head, 0)
    assert q.should_interrupt() is True


def test_interrupt_with_event_idx_once_per_reap():
    q = SplitQueue(8, event_idx=True)
    for _ in range(3):
        q.add([1])
    c = [q.pop() for _ in range(3)]
    q.push_used(c[0].head, 0)
    assert q.should_interrupt() is True  # first decision is always yes
    q.push_used(c[1].head, 0)
    assert q.should_interrupt() is False  # used_event 0 not in [1, 2): driver has not reaped
    assert q.get_used() is not None  # used_event := 1, but used idx is already 2
    assert q.fields["used_event"][0] == 1
    q.push_used(c[2].head, 0)
    assert q.should_interrupt() is False  # event 1 not in [2, 3): no interrupt comes, so
    assert q.get_used() and q.get_used()  # the driver reaps the rest itself
    assert q.enable_interrupts() is False
    assert q.fields["used_event"][0] == 3


@pytest.mark.parametrize(
    "corrupt,reason",
    [
        (lambda f: f["avail_ring"].__setitem__(0, 9), "head 9 >= queue size"),
        (
            lambda f: f["desc_next"].__setitem__(0, 99) or f["desc_flags"].__setitem__(0, 1),
            "next index 99",
        ),
        (lambda f: f["desc_flags"].__setitem__(0, 4), "INDIRECT"),
        (lambda f: f["avail_idx"].__setitem__(0, 100), "more than queue size ahead"),
    ],
)
def test_malformed_ring_breaks_the_device(corrupt, reason):
    q = SplitQueue(8)
    q.add([1])
    corrupt(q.fields)
    with pytest.raises(BrokenQueueError, match=reason):
        q.pop()
    assert reason in q.broken
    with pytest.raises(BrokenQueueError):  # stays broken
        q.pop()


def test_descriptor_loop_is_caught():
    q = SplitQueue(8)
    q.add([1, 1, 1])  # descriptors 0 -> 1 -> 2
    f = q.fields
    f["desc_flags"][2] = 1  # 2 -> NEXT
    f["desc_next"][2] = 0  # back to 0: a loop
    with pytest.raises(BrokenQueueError, match="longer than the queue"):
        q.pop()


def test_avail_idx_moving_backwards_is_caught():
    q = SplitQueue(8)
    for _ in range(3):
        q.add([1])
    assert q.pop() is not None  # device has seen avail idx 3
    q.fields["avail_idx"][0] = 2
    with pytest.raises(BrokenQueueError, match="backwards to 2"):
        q.pop()


def test_readable_after_writable_is_caught():
    q = SplitQueue(8)
    q.add([1, 1], writable=[True, True])
    q.fields["desc_flags"][1] = 0  # second descriptor readable after a writable one
    with pytest.raises(BrokenQueueError, match="readable descriptor 1 follows"):
        q.pop()


@pytest.mark.parametrize(
    "corrupt,reason",
    [
        (lambda f: f["used_ring_id"].__setitem__(0, 40), "id 40 >= queue size"),
        (lambda f: f["used_ring_id"].__setitem__(0, 5), "id 5 that is not an outstanding head"),
        (lambda f: f["used_idx"].__setitem__(0, 50), "more than queue size ahead"),
    ],
)
def test_malformed_used_ring_breaks_the_driver(corrupt, reason):
    q = SplitQueue(8)
    q.add([1])
    q.push_used(q.pop().head, 0)
    corrupt(q.fields)
    with pytest.raises(BrokenQueueError, match=reason):
        q.get_used()


def test_bad_arguments_name_the_parameter():
    q = SplitQueue(4)
    with pytest.raises(ValueError, match="lens must have 1..4 segments"):
        q.add([1] * 5)
    with pytest.raises(ValueError, match="lens must each be"):
        q.add([-1])
    with pytest.raises(ValueError, match="writable segments must follow"):
        q.add([1, 1], writable=[True, False])
    with pytest.raises(ValueError, match="head must be in 0..3"):
        q.push_used(4, 0)
    with pytest.raises(ValueError, match="queue_size"):
        SplitQueue(6)
    with pytest.raises(ValueError, match="mem must be"):
        SplitQueue(8, mem=np.zeros(10, np.uint8))


def test_ring_in_caller_memory():
    buf = np.zeros(3 * 4096, np.uint8)
    q = SplitQueue(8, mem=buf[4096:])
    q.add([3])
    assert buf[4096 + 16 * 8 + 2] == 1  # avail_idx landed in the caller's buffer


def test_split_queue_refuses_non_integers_instead_of_truncating():
    q = SplitQueue(4)
    with pytest.raises(ValueError, match=r"lens must be integers \(bytes\), got \[1\.5\]"):
        q.add([1.5])
    with pytest.raises(
        ValueError, match=r"token must be an integer in 0\.\.9223372036854775807, got 2\.5"
    ):
        q.add([8], token=2.5)
    head = q.add([8])
    q.pop()
    with pytest.raises(ValueError, match=r"head must be an integer in 0\.\.3, got 0\.0"):
        q.push_used(float(head), 0)
    with pytest.raises(
        ValueError, match=r"written must be an integer in 0\.\.4294967295 \(bytes\), got '8'"
    ):
        q.push_used(head, "8")
    q.push_used(head, 8)
    assert q.get_used() == (0, 8)
