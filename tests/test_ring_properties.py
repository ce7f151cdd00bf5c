"""Random interleavings of driver and device operations (hypothesis state machine):
nothing is lost or duplicated, and every answer agrees with the plain-Python reference."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule
from queue_machine import QueueMachine
from reference_ring import RefRing

from virtmodel.ring import SplitQueue

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off


class RingMachine(QueueMachine):
    @initialize(qexp=st.integers(0, 4), event_idx=st.booleans())
    def setup(self, qexp, event_idx):
        self.qsize = 1 << qexp
        self.q = SplitQueue(self.qsize, event_idx=event_idx)
        self.ref = RefRing(self.qsize, event_idx)
        self.next_token = 0
        self.added, self.reaped = set(), []
        self.popped = []  # heads popped, not yet pushed

    @rule(lens=st.lists(st.integers(0, 5000), min_size=1, max_size=4), nw=st.integers(0, 4))
    def add(self, lens, nw):
        lens = lens[: self.qsize]  # a longer chain can never fit: that is a ValueError
        nw = min(nw, len(lens))
        writable = [False] * (len(lens) - nw) + [True] * nw
        t = self.next_token
        got = self.q.add(lens, writable=writable, token=t)
        assert got == self.ref.add(lens, writable, t)
        if got is not None:
            self.added.add(t)
            self.next_token += 1

    @precondition(lambda self: self.popped)
    @rule(i=st.integers(0, 100), written=st.integers(0, 1 << 20))
    def push_used(self, i, written):
        self.push(i, written)


TestRing = RingMachine.TestCase
TestRing.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
