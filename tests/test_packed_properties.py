"""Random interleavings of driver and device operations on the packed ring (hypothesis
state machine): nothing is lost or completed twice, every answer agrees with the plain-Python
reference, and so does every byte of the descriptor ring and event suppression structures."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from queue_machine import QueueMachine
from reference_packed import RefPacked

from virtmodel.ring import Queue

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off


class PackedMachine(QueueMachine):
    @initialize(qsize=st.integers(1, 9), event_idx=st.booleans())
    def setup(self, qsize, event_idx):
        self.qsize = qsize  # any size: the packed ring has no power-of-two rule
        self.q = Queue(qsize, event_idx=event_idx, ring="packed")
        self.ref = RefPacked(qsize, event_idx)
        self.next_token = 0
        self.added, self.reaped = set(), []
        self.popped = []  # ids popped, not yet pushed

    @rule(
        lens=st.lists(st.integers(0, 5000), min_size=1, max_size=4),
        nw=st.integers(0, 4),
        base=st.integers(0, 1 << 40),
    )
    def add(self, lens, nw, base):
        lens = lens[: self.qsize]
        nw = min(nw, len(lens))
        writable = [False] * (len(lens) - nw) + [True] * nw
        addrs = [base + 4096 * k for k in range(len(lens))]
        t = self.next_token
        got = self.q.add(lens, writable=writable, token=t, addrs=addrs)
        assert got == self.ref.add(lens, writable, t, addrs)
        if got is not None:
            self.added.add(t)
            self.next_token += 1

    @precondition(lambda self: self.popped)
    @rule(i=st.integers(0, 100), written=st.sampled_from([0, 1, 512, 1 << 20]))
    def push_used(self, i, written):
        self.push(i, written)

    @invariant()
    def same_bytes_and_holdings_as_the_reference(self):
        if not hasattr(self, "q"):
            return
        f = self.q.fields
        assert [
            list(map(int, d))
            for d in zip(f["desc_addr"], f["desc_len"], f["desc_id"], f["desc_flags"])
        ] == self.ref.desc
        assert [
            int(f["driver_event_off_wrap"][0]),
            int(f["driver_event_flags"][0]),
        ] == self.ref.drv_event
        assert [
            int(f["device_event_off_wrap"][0]),
            int(f["device_event_flags"][0]),
        ] == self.ref.dev_event
        snap = self.q.snapshot()
        assert self.q.num_free == self.ref.num_free
        assert (
            snap["device"]["in_use"] == sum(snap["device"]["held"]) == sum(self.ref.held.values())
        )


TestPacked = PackedMachine.TestCase
TestPacked.settings = settings(max_examples=200, stateful_step_count=80, deadline=None)
