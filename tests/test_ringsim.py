"""The event loop's failure statuses, reached by calling simulate_ring directly: a ring
broken before the run, a step limit, and two sides waiting for each other."""

import numpy as np
import pytest

from virtmodel import costs, ring, ringsim, split
from virtmodel.paths import virtio
from virtmodel.paths.result import STAGES

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off

PROFILE = "modern"


def _run(
    vq, n=8, batch=1, descriptors=1, poll=False, max_steps=None, free_pop=False, parallelism=None
):
    """simulate_ring with the inputs ringpath builds (virtio's action costs, no jitter,
    closed-loop batches; with ``free_pop`` a pop costs nothing); returns (status, counters,
    lat): ``lat`` starts as NaN, holds a request's submit time while it is in flight and
    its latency once it completed."""
    prof = costs.get(PROFILE)
    st = virtio.setup(
        4096, ioeventfd=True, notify_by="mmio", mode="posted", device_type="blk", prof=prof
    )
    if free_pop:
        st = st._replace(cost=st.cost.copy())
        st.cost[ringsim.A_POP] = 0.0
    loop = st.loop(
        requests=n,
        kick_every=batch,
        closed=True,
        depth=batch,
        poll=poll,
        parallelism=parallelism or int(prof.device_parallelism),
        max_steps=max_steps,
    )
    lens = np.full(descriptors, 4096 // descriptors, dtype=np.int64)
    lat = np.full(n, np.nan)
    counters = np.zeros(ringsim.N_COUNTERS, dtype=np.int64)
    r = ringsim.rings([vq])
    ringsim.simulate_ring(
        r,
        loop,
        st.cost,
        st.exits,
        lens,
        np.zeros(descriptors, dtype=np.bool_),
        ringsim.maps(1, 1, 1),
        np.random.default_rng(0),
        lat,
        np.zeros(len(STAGES)),
        np.zeros(ringsim.N_TIMES),
        counters,
        np.zeros(2),
    )
    vq.mem[:], vq.st[:] = r.mem[0], r.st[0]  # the run's queue, as the tests read it
    return int(counters[ringsim.C_STATUS]), counters, lat


def test_a_healthy_run_is_ok():
    status, counters, lat = _run(ring.make_virtqueue(8))
    assert status == ringsim.OK and (lat > 0).all() and counters[ringsim.C_KICKS] == 8


def test_a_ring_corrupted_before_the_run_stops_it_broken():
    vq = ring.make_virtqueue(4)
    # the driver's free list loops on descriptor 0: the second chain reuses the first's
    # head, and when both come back used the second is no longer an outstanding head
    split.views(vq)["chain_next"][0] = 0
    status, _counters, _ = _run(vq, batch=2, descriptors=2)
    assert status == ringsim.RING_BROKEN
    assert ring.broken_reason(vq) == (
        "driver: used ring returns id 0 that is not an outstanding head"
    )
    assert "ring broke" in ringsim.STATUS_TEXT[status]


def test_interrupts_off_and_no_polling_is_a_deadlock():
    vq = ring.make_virtqueue(8, event_idx=False)
    ring.driver_disable_interrupts(vq)  # and never re-enabled: nobody reaps
    status, counters, lat = _run(vq, n=4, batch=1)
    assert status == ringsim.DEADLOCK
    # request 0 went out at t = 0 and never completed; the others never went out
    assert counters[ringsim.C_IRQS] == 0 and lat[0] == 0 and np.isnan(lat[1:]).all()
    assert counters[ringsim.C_KICKS] == 1  # the first request went out; then both wait
    # the same ring, polled: the driver reaps without interrupts and all complete
    vq = ring.make_virtqueue(8, event_idx=False)
    ring.driver_disable_interrupts(vq)
    status, _, lat = _run(vq, n=4, batch=1, poll=True)
    assert status == ringsim.OK and (lat > 0).all()


def test_a_step_limit_stops_the_run():
    vq = ring.make_virtqueue(8)
    status, counters, lat = _run(vq, n=100, max_steps=10)
    assert status == ringsim.STEP_LIMIT
    assert 10 <= counters[ringsim.C_STEPS] <= 11 and np.isnan(lat).sum() > 90


def test_requests_that_finish_at_the_same_time_are_returned_in_the_order_popped():
    """Zero jitter and a free pop: the back end hands four requests to four device slots at
    the same moment, so all four finish at once.  The device's next finish is the *first*
    slot with the earliest time, so they come back used in the order they were popped (and
    the four that waited for a slot after them)."""
    n = q = 8
    vq = ring.make_virtqueue(q, event_idx=True)
    status, _, _ = _run(vq, n=n, batch=n, free_pop=True, parallelism=4)
    assert status == ringsim.OK
    # one descriptor per request and a fresh queue: request i's head is descriptor i
    assert split.views(vq)["used_ring_id"].tolist() == list(range(n))


def test_a_setup_builds_the_loop_with_plain_python_scalars():
    """numba compiles the loop once per argument type: knobs given as numpy scalars (as a
    sweep passes them) must not compile and cache a second kernel.  The setup's behaviour
    and KVM's halt-poll window (off with ``halt_poll=False``) come from the setup."""
    prof = costs.get(PROFILE)
    st = virtio.setup(
        4096, ioeventfd=False, notify_by="mmio", mode="posted", device_type="blk", prof=prof
    )
    knobs = dict(
        requests=np.int64(8),
        kick_every=np.int64(2),
        closed=np.bool_(True),
        depth=np.int64(2),
        poll=np.bool_(False),
        parallelism=np.int64(4),
        sigma=np.float64(0.25),
    )
    loop = st.loop(**knobs)
    assert {type(x) for x in loop} == {int, bool, float}
    assert loop.kick_sync and loop.suppress_kicks and not loop.backend_polls  # no ioeventfd
    assert loop.halt_poll_max_ns == prof.halt_poll_ns > 0
    assert st.loop(**knobs, halt_poll=False).halt_poll_max_ns == 0.0
    assert loop.max_steps == 64 * 8 + 1024 and loop.written == 0
