"""The packed ring: byte layout, wrap counters, chains, notification suppression, malformed
rings, store order, and the event loop running it."""

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from virtmodel import packed, paths
from virtmodel.ring import BrokenQueueError, Queue
from virtmodel.spec import (
    VRING_PACKED_DESC_F_AVAIL as AVAIL,
)
from virtmodel.spec import (
    VRING_PACKED_DESC_F_USED as USED,
)
from virtmodel.spec import (
    check_packed_queue_size,
    packed_ring_size,
)

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off

NEXT, WRITE = 1, 2
ROOT = Path(__file__).resolve().parents[1]


def P(q, event_idx=False):
    return Queue(q, event_idx=event_idx, ring="packed")


def desc(q, i):
    """Descriptor ``i`` as the spec's struct pvirtq_desc: (addr, len, id, flags)."""
    return struct.unpack_from("<QIHH", q.vq.mem.tobytes(), 16 * i)


def events(q):
    """(driver off_wrap, driver flags, device off_wrap, device flags), from the bytes."""
    return struct.unpack_from("<HHHH", q.vq.mem.tobytes(), 16 * q.queue_size)


# --- layout -------------------------------------------------------------------------------
def test_available_descriptors_are_the_spec_layout():
    q = P(8)
    assert len(q.vq.mem) == packed_ring_size(8) == 16 * 8 + 4 + 4
    assert (q.vq.driver_off, q.vq.device_off) == (128, 132)
    assert q.add([100, 200], writable=[False, True], addrs=[0x1000, 0x2000], token=5) == 0
    # wrap counter 1: AVAIL set, USED clear; NEXT on all but the last; id in each
    assert desc(q, 0) == (0x1000, 100, 0, AVAIL | NEXT)
    assert desc(q, 1) == (0x2000, 200, 0, AVAIL | WRITE)
    assert desc(q, 2) == (0, 0, 0, 0)
    assert events(q) == (0, 0, 0, 0)  # both ENABLE, zero-initialized
    snap = q.snapshot()
    assert (snap["driver"]["next_avail"], snap["driver"]["avail_wrap"]) == (2, 1)


def test_used_descriptor_overwrites_the_chains_first_slot():
    q = P(8)
    q.add([100, 200], writable=[False, True], addrs=[0x1000, 0x2000], token=5)
    c = q.pop()
    assert c == (0, 100, 200, 2)
    q.push_used(c.head, 150)
    # AVAIL = USED = device wrap counter 1, WRITE since bytes were written; addr untouched
    assert desc(q, 0) == (0x1000, 150, 0, AVAIL | USED | WRITE)
    assert desc(q, 1) == (0x2000, 200, 0, AVAIL | WRITE)  # skipped, not rewritten
    assert q.snapshot()["device"]["next_used"] == 2
    assert q.get_used() == (5, 150)
    assert q.snapshot()["driver"]["last_used"] == 2 and q.num_free == 8


def test_used_without_bytes_written_has_no_write_flag():
    q = P(4)
    q.add([8])
    q.push_used(q.pop().head, 0)
    assert desc(q, 0)[3] == AVAIL | USED


def test_views_name_the_fields():
    q = P(5)
    q.add([7, 9], token=3)
    f = packed.views(q.vq)
    assert list(f["desc_len"][:2]) == [7, 9] and list(f["desc_id"][:2]) == [0, 0]
    assert f["desc_flags"][0] == AVAIL | NEXT and f["token"][0] == 3
    f["device_event_flags"][0] = 1
    assert events(q)[3] == 1  # a view writes the ring


def test_queue_size_rules():
    assert packed_ring_size(256) == 4104 and packed_ring_size(3) == 56
    assert check_packed_queue_size(32768) == 32768
    for bad in (0, 32769, -1):
        with pytest.raises(
            ValueError,
            match=r"queue_size must be in 1\.\.32768 \(the packed "
            r"ring: any size",
        ):
            P(bad)
    with pytest.raises(ValueError, match=r"queue_size must be an integer in 1\.\.32768 .*got 2.5"):
        P(2.5)
    with pytest.raises(ValueError, match="ring must be one of"):
        Queue(8, ring="ring")
    with pytest.raises(ValueError, match="event_idx must be True or False"):
        Queue(8, event_idx=1, ring="packed")
    with pytest.raises(ValueError, match="at least 104 bytes"):
        Queue(6, ring="packed", mem=np.zeros(100, np.uint8))
    dirty = np.ones(200, np.uint8)
    with pytest.raises(ValueError, match="mem must be zeroed"):
        Queue(6, ring="packed", mem=dirty)


def test_ring_in_caller_memory():
    buf = np.zeros(8192, np.uint8)
    q = Queue(3, ring="packed", mem=buf[4096:])
    q.add([3])
    assert buf[4096 + 15] == AVAIL >> 8 and buf[4096 + 14] == AVAIL & 0xFF


# --- wrap counters ------------------------------------------------------------------------
def test_second_lap_flips_the_flag_encoding():
    q = P(3)
    for t in range(3):
        q.add([1], token=t)
    assert [desc(q, i)[3] for i in range(3)] == [AVAIL] * 3
    s = q.snapshot()
    assert (s["driver"]["next_avail"], s["driver"]["avail_wrap"]) == (0, 0)
    for _ in range(3):
        q.push_used(q.pop().head, 0)
    assert [desc(q, i)[3] for i in range(3)] == [AVAIL | USED] * 3
    assert [q.get_used()[0] for _ in range(3)] == [0, 1, 2]
    q.add([1], token=3)
    assert desc(q, 0)[3] == USED  # lap 2: AVAIL = wrap counter 0, USED = its inverse
    q.push_used(q.pop().head, 0)
    assert desc(q, 0)[3] == 0  # used on lap 2: AVAIL = USED = 0
    assert q.get_used() == (3, 0)
    s = q.snapshot()
    assert (s["device"]["next_used"], s["device"]["used_wrap"], s["driver"]["used_wrap"]) == (
        1,
        0,
        0,
    )


@pytest.mark.parametrize("qsize", [1, 3, 5, 7])
@pytest.mark.parametrize("event_idx", [False, True])
def test_many_laps_with_chains_of_every_length(qsize, event_idx):
    q = P(qsize, event_idx)
    pos = 0  # absolute position, to check both sides' counters against
    for t in range(40 * qsize + 3):
        n = 1 + t % qsize
        q.add([1] * n, token=t)
        c = q.pop()
        assert c.descriptors == n
        q.push_used(c.head, n)
        assert q.get_used() == (t, n)
        pos += n
        s = q.snapshot()
        lap_wrap = 1 - (pos // qsize) % 2
        assert s["driver"]["next_avail"] == s["device"]["next_used"] == pos % qsize
        assert (
            s["driver"]["avail_wrap"]
            == s["device"]["used_wrap"]
            == s["driver"]["used_wrap"]
            == s["device"]["avail_wrap"]
            == lap_wrap
        )
    assert q.broken is None and q.num_free == qsize


def test_full_ring_refuses_and_recovers():
    q = P(5)
    assert q.add([1, 1], token=0) == 0
    assert q.add([1, 1], token=1) == 2
    assert q.add([1, 1]) is None  # one descriptor left
    assert q.add([1], token=2) == 4
    assert q.num_free == 0 and q.add([1]) is None
    chains = [q.pop() for _ in range(3)]
    assert q.pop() is None
    assert [c.head for c in chains] == [0, 2, 4]
    q.push_used(chains[1].head, 0)  # out of order: chain 1's used descriptor at slot 0
    assert q.get_used() == (1, 0) and q.num_free == 2
    assert q.add([1, 1], token=3) == 2  # Linux's free list: the returned ids come first
    assert q.snapshot()["driver"]["next_avail"] == 2  # slots 0, 1 of the next lap


# --- chains and used-chain skipping --------------------------------------------------------
def test_out_of_order_completion_skips_each_chain_length():
    q = P(6)
    ids = [q.add([10] * n, token=t) for t, n in enumerate((3, 2, 1))]
    assert ids == [0, 3, 5]
    for _ in range(3):
        q.pop()
    q.push_used(3, 1)  # the 2-descriptor chain completes first: used slot 0, skip 2
    q.push_used(0, 2)  # then the 3-descriptor chain: used slot 2, skip 3
    q.push_used(5, 3)  # then the single one: used slot 5, skip 1 -> wrap
    assert [desc(q, i)[1:3] for i in (0, 2, 5)] == [(1, 3), (2, 0), (3, 5)]
    s = q.snapshot()
    assert (s["device"]["next_used"], s["device"]["used_wrap"]) == (0, 0)
    assert [q.get_used() for _ in range(3)] == [(1, 1), (0, 2), (2, 3)]
    assert q.get_used() is None
    assert (q.snapshot()["driver"]["last_used"], q.snapshot()["driver"]["used_wrap"]) == (0, 0)


def test_chain_across_the_ring_end():
    q = P(3)
    q.add([1], token=0)
    q.push_used(q.pop().head, 0)
    q.get_used()
    q.add([5, 6, 7], writable=[False, True, True], token=1)  # slots 1, 2, then 0 (lap 2)
    assert [desc(q, i)[3] for i in (1, 2, 0)] == [AVAIL | NEXT, AVAIL | NEXT | WRITE, USED | WRITE]
    assert q.pop() == (0, 5, 13, 3)  # id 0 is back at the head of the free list


# --- notification suppression -------------------------------------------------------------
def test_kicks_without_event_idx_follow_the_device_flags():
    q = P(8)
    q.add([1])
    assert q.kick_prepare() is True  # ENABLE (zero-initialized)
    q.disable_kicks()
    assert events(q)[3] == 1
    q.add([1])
    assert q.kick_prepare() is False  # DISABLE
    q.pop()
    q.pop()
    assert q.enable_kicks() is False and events(q)[3] == 0
    q.add([1])
    assert q.disable_kicks() is None and q.enable_kicks() is True  # a chain is waiting


def test_kicks_with_event_idx_name_one_descriptor():
    q = P(8, event_idx=True)
    q.add([1])
    assert q.kick_prepare() is True  # still ENABLE: the device has not asked for DESC yet
    q.disable_kicks()
    q.pop()
    assert q.enable_kicks() is False
    assert events(q)[2:] == (1 | 1 << 15, 2)  # DESC at slot 1, wrap 1
    q.add([1, 1])  # slots 1, 2: the event descriptor is made available
    assert q.kick_prepare() is True
    q.add([1])  # slot 3: the device has not re-armed
    assert q.kick_prepare() is False
    q.disable_kicks()
    assert q.pop().descriptors == 2 and q.pop().descriptors == 1
    assert q.enable_kicks() is False and events(q)[2] == 4 | 1 << 15


def test_kick_event_on_the_previous_lap():
    """The device armed at slot 2 of lap 1 (wrap 1); the driver adds slot 2 and then slot 0
    of lap 2 before it decides: the event, on the other lap, is moved back by the queue
    size (Linux ``event_idx -= num``) and still lies in [old, new)."""
    q = P(3, event_idx=True)
    for t in range(2):
        q.add([1], token=t)
        q.push_used(q.pop().head, 0)
        q.get_used()
    assert q.kick_prepare() is True  # reset num_added
    q.disable_kicks()
    assert q.enable_kicks() is False and events(q)[2:] == (2 | 1 << 15, 2)
    q.add([1, 1])  # slots 2 and 0': the driver's wrap counter is now 0
    assert q.snapshot()["driver"]["avail_wrap"] == 0
    assert q.kick_prepare() is True
    q.disable_kicks()
    q.pop()
    assert q.enable_kicks() is False and events(q)[2:] == (1, 2)  # slot 1, wrap 0
    q.add([1])  # slot 1': the event
    assert q.kick_prepare() is True


def test_interrupts_without_event_idx_follow_the_driver_flags():
    q = P(8)
    for _ in range(3):
        q.add([1])
    a, b, c = q.pop(), q.pop(), q.pop()
    q.push_used(a.head, 0)
    assert q.should_interrupt() is True
    q.push_used(b.head, 0)
    assert q.should_interrupt() is True  # ENABLE: every decision
    q.disable_interrupts()
    assert events(q)[1] == 1
    q.push_used(c.head, 0)
    assert q.should_interrupt() is False
    assert q.enable_interrupts() is True and events(q)[:2] == (0, 0)  # no off_wrap written


def test_interrupts_with_event_idx_once_per_reap():
    q = P(8, event_idx=True)
    for _ in range(4):
        q.add([1])
    c = [q.pop() for _ in range(4)]
    q.disable_interrupts()
    assert q.enable_interrupts() is False
    assert events(q)[:2] == (0 | 1 << 15, 2)  # DESC at the driver's slot 0, wrap 1
    q.push_used(c[0].head, 0)
    assert q.should_interrupt() is True  # the first decision is always yes (QEMU)
    q.push_used(c[1].head, 0)
    assert q.should_interrupt() is False  # slot 0 was already passed: not in [1, 2)
    assert q.get_used() is not None  # the driver re-arms for its next slot, 1
    assert events(q)[0] == 1 | 1 << 15
    q.push_used(c[2].head, 0)
    assert q.should_interrupt() is False  # slot 1 not in [2, 3): it was used before
    q.get_used()
    q.get_used()
    assert events(q)[0] == 3 | 1 << 15
    q.push_used(c[3].head, 0)
    assert q.should_interrupt() is True  # slot 3 in [3, 4)


def test_a_used_wrap_between_decisions_always_interrupts():
    """QEMU forgets the last decision when its used position wraps: after exactly one lap
    between two decisions the window [old, new) is empty, yet the driver's event slot was
    passed, and the interrupt is due."""
    q = P(2, event_idx=True)
    q.disable_interrupts()
    q.enable_interrupts()
    q.add([1], token=0)
    q.push_used(q.pop().head, 0)
    assert q.should_interrupt() is True
    assert q.get_used() == (0, 0) and events(q)[:2] == (1 | 1 << 15, 2)
    q.add([1], token=1)
    q.add([1], token=2)
    q.push_used(q.pop().head, 0)  # slot 1 (the event), then slot 0': a full lap
    q.push_used(q.pop().head, 0)
    s = q.snapshot()
    assert (s["device"]["next_used"], s["device"]["used_wrap"]) == (1, 0)
    assert q.should_interrupt() is True


# --- malformed rings ----------------------------------------------------------------------
def _set(field, i, value):
    return lambda f: f[field].__setitem__(i, value)


@pytest.mark.parametrize(
    "setup,corrupt,reason",
    [
        ([[1]], _set("desc_id", 0, 9), "buffer id 9 >= queue size"),
        ([[1, 1]], _set("desc_flags", 1, 0), "descriptor 1 continues a chain but is not available"),
        ([[1]], _set("desc_flags", 0, AVAIL | 4), "descriptor 0 is INDIRECT"),
        (
            [[1, 1, 1, 1]],
            _set("desc_flags", 3, AVAIL | NEXT),
            "chain at descriptor 0 is longer than the queue",
        ),
    ],
)
def test_malformed_chain_breaks_the_device(setup, corrupt, reason):
    q = P(4)
    for lens in setup:
        q.add(lens)
    corrupt(q.fields)
    with pytest.raises(BrokenQueueError, match=reason):
        q.pop()
    assert reason in q.broken
    with pytest.raises(BrokenQueueError):  # stays broken
        q.pop()


def test_readable_after_writable_is_caught():
    q = P(4)
    q.add([1, 1], writable=[True, True])
    q.fields["desc_flags"][1] = AVAIL  # readable after a writable one (even of 1 byte)
    with pytest.raises(BrokenQueueError, match="readable descriptor 1 follows"):
        q.pop()


def test_an_id_the_device_holds_is_caught():
    q = P(4)
    q.add([1])
    q.add([1])
    q.fields["desc_id"][1] = 0
    assert q.pop().head == 0
    with pytest.raises(BrokenQueueError, match="buffer id 0, which the device already holds"):
        q.pop()


def test_a_chain_running_into_held_descriptors_is_caught():
    q = P(4)
    q.add([1, 1])
    assert q.pop().descriptors == 2  # the device holds slots 0, 1
    q.add([1, 1])  # slots 2, 3; then claim the chain goes on into slot 0'
    q.fields["desc_flags"][3] |= NEXT
    with pytest.raises(
        BrokenQueueError,
        match="chain at descriptor 2 runs into descriptors the device has not returned",
    ):
        q.pop()


def test_pushing_an_id_the_device_does_not_hold_breaks_it():
    q = P(4)
    with pytest.raises(
        BrokenQueueError, match="push_used of buffer id 3, which the device does not hold"
    ):
        q.push_used(3, 0)
    assert desc(q, 0) == (0, 0, 0, 0)  # nothing written


@pytest.mark.parametrize(
    "bad_id,reason",
    [
        (40, "used descriptor returns id 40 >= queue size"),
        (5, "used descriptor returns id 5 that is not outstanding"),
    ],
)
def test_malformed_used_descriptor_breaks_the_driver(bad_id, reason):
    q = P(8)
    q.add([1])
    q.push_used(q.pop().head, 0)
    q.fields["desc_id"][0] = bad_id
    with pytest.raises(BrokenQueueError, match=reason):
        q.get_used()
    with pytest.raises(BrokenQueueError):
        q.add([1])


# --- store order: no side ever sees half of what the other writes ---------------------------
STORE_ORDER_SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    from virtmodel import ring
    from virtmodel.ring import Queue
    from virtmodel.ringmem import Virtqueue

    seen = []

    class Watched(np.ndarray):
        # every byte store lets the other side look at a copy of the ring
        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            seen.append(look(np.array(self)))

    def copy_of(vq, mem):
        return Virtqueue(mem, vq.st.copy(), vq.queue_size, vq.driver_off, vq.device_off,
                         vq.kind)

    q = Queue(3, ring="packed")
    for t in range(2):  # move both sides to slot 2, so that the chain crosses the end
        q.add([1], token=t)
        q.push_used(q.pop().head, 0)
        q.get_used()
    real = q.vq
    watched = Virtqueue(real.mem.view(Watched), real.st, real.queue_size, real.driver_off,
                        real.device_off, real.kind)

    look = lambda mem: int(ring.device_pop(copy_of(real, mem)))
    ring.driver_add(watched, np.array([1, 2, 3]), np.array([10, 20, 30]),
                    np.array([False, False, True]), 7)
    adds = list(seen)
    head = q.pop().head

    seen.clear()
    look = lambda mem: int(ring.driver_get_used(copy_of(real, mem)))
    ring.device_push_used(watched, head, 30)
    pushes = list(seen)
    print(json.dumps([adds, head, pushes]))
""")


def test_a_side_never_sees_a_partial_chain_or_used_descriptor():
    """Replay one add (a 3-descriptor chain across the ring's end) and one push byte store
    by byte (plain Python: NUMBA_DISABLE_JIT=1), and after each store let the other side
    look at a copy of the ring: it finds nothing until the head's flags (the last 16-bit
    store, atomic on real hardware: here its two bytes) are written, then all of it."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", STORE_ORDER_SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    adds, head, pushes = json.loads(out.stdout)
    assert head == 0  # Linux's free list: id 0 came back first each time
    assert len(adds) == 3 * (8 + 4 + 2 + 2)  # addr, len, id, flags: byte stores
    assert adds[:-2] == [-1] * (len(adds) - 2) and adds[-1] == head
    assert set(adds[-2:]) <= {-1, head}
    assert len(pushes) == 4 + 2 + 2  # len, id, flags
    assert pushes[:-2] == [-1] * 6 and pushes[-1] == 7 and set(pushes[-2:]) <= {-1, 7}


# --- the event loop runs the packed ring ---------------------------------------------------
def _run(ring_name, batch, event_idx, ioeventfd, n=600, queue_size=64):
    return paths.simulate(
        "virtio",
        ring=ring_name,
        batch=batch,
        event_idx=event_idx,
        ioeventfd=ioeventfd,
        requests=n,
        queue_size=queue_size,
    )


@pytest.mark.parametrize("batch", [1, 4, 16])
@pytest.mark.parametrize("event_idx", [False, True])
@pytest.mark.parametrize("ioeventfd", [False, True])
def test_the_virtio_path_runs_the_packed_ring_like_the_split_one(batch, event_idx, ioeventfd):
    """Closed-loop batches: the device sleeps between batches with kicks enabled (ENABLE,
    or DESC naming its next slot, which the batch makes available) and drains a batch with
    kicks disabled: one kick per batch, as with the split ring.  Without EVENT_IDX every
    decision is a flag, as in the split ring: the same interrupts at the same simulated
    times.  With EVENT_IDX, QEMU's packed device forgets its last interrupt decision when
    its used position wraps (the next one always interrupts): at most one more interrupt
    per lap of the ring than the split ring's, never fewer."""
    n, qsize = 600, 64
    s = _run("split", batch, event_idx, ioeventfd, n, qsize)
    p = _run("packed", batch, event_idx, ioeventfd, n, qsize)
    assert p.kicks_per_request == s.kicks_per_request == -(-n // batch) / n
    extra = round((p.interrupts_per_request - s.interrupts_per_request) * n)
    if not event_idx:
        assert extra == 0 and np.array_equal(p.latencies_ns, s.latencies_ns)
        assert p.exits_by_reason == s.exits_by_reason
    else:
        assert 0 <= extra <= n // qsize


def test_packed_and_split_differ_only_in_a_few_interrupt_decisions_within_one_lap():
    """Fewer requests than one lap of the used ring (no wrap): the same kicks; interrupts
    within a few of each other, for the layouts suppress them differently while the driver
    reaps (split's disable writes used_event = 0, Linux's "hack"; packed's writes DISABLE),
    which matters when a completion pass lands inside the handler."""
    for batch in (1, 4, 16):
        s = _run("split", batch, True, True, n=200, queue_size=256)
        p = _run("packed", batch, True, True, n=200, queue_size=256)
        assert p.kicks_per_request == s.kicks_per_request
        assert abs(p.interrupts_per_request - s.interrupts_per_request) * 200 <= 2
        if batch == 1:  # one request at a time: nothing lands inside the handler
            assert np.array_equal(p.latencies_ns, s.latencies_ns)


def test_the_packed_ring_takes_any_queue_size_the_split_ring_powers_of_two():
    assert paths.simulate("virtio", ring="packed", queue_size=100, requests=50).requests == 50
    with pytest.raises(ValueError, match="queue_size must be a power of two"):
        paths.simulate("virtio", ring="split", queue_size=100)
    with pytest.raises(ValueError, match="ring must be one of"):
        paths.simulate("vhost", ring="ring-of-fire")


# --- the tour -----------------------------------------------------------------------------
def test_packed_tour_tells_what_the_ring_did():
    from virtmodel.tour import ring_tour

    off, on = ring_tour(8, False, "packed"), ring_tour(8, True, "packed")
    assert [s.action for s in off] == [s.action for s in on]
    actions = [s.action for s in off]
    kicks = [i for i, a in enumerate(actions) if a == "kick_prepare()"]
    irqs = [i for i, a in enumerate(actions) if a == "should_interrupt()"]
    # the kick while the device drains: DISABLE either way
    assert "No: the device event flags are DISABLE" in off[kicks[1]].caption
    assert "No: the device event flags are DISABLE" in on[kicks[1]].caption
    # the third interrupt decision: ENABLE says yes; DESC names a slot already passed
    assert "Yes: the driver event flags are ENABLE" in off[irqs[2]].caption
    assert "No: the driver asked (DESC) for slot 2, wrap 1" in on[irqs[2]].caption
    # the last request crosses the ring's end: slots 7 and 0, both wrap counters flip
    last_add = max(i for i, a in enumerate(actions) if a.startswith("add("))
    assert "slots 7, 0" in on[last_add].caption
    s = on[last_add].snapshot
    assert (
        s["areas"]["descriptor"]["desc_flags"][7] & 0x8080 == AVAIL
        and s["areas"]["descriptor"]["desc_flags"][0] & 0x8080 == USED
    )
    assert s["driver"]["avail_wrap"] == 0
    end = on[-1].snapshot
    assert (
        end["device"]["used_wrap"],
        end["driver"]["used_wrap"],
        end["device"]["avail_wrap"],
    ) == (0, 0, 0)
    assert (
        end["areas"]["driver"]["driver_event_off_wrap"],
        end["areas"]["driver"]["driver_event_flags"],
    ) == (1, 2)
    assert end["driver"]["num_free"] == 8 and end["driver"]["outstanding"] == []
    # after the used wrap QEMU's rule is the reason, and the caption says so
    assert "first decision since its used position wrapped" in on[irqs[-1]].caption
    with pytest.raises(ValueError, match="ring must be 'split' or 'packed'"):
        ring_tour(8, False, "ring")
