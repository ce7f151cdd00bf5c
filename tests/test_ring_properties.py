"""Random interleavings of driver and device operations (hypothesis state machine):
nothing is lost or duplicated, and every answer agrees with the plain-Python reference."""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from reference_ring import RefRing
from virtmodel.ring import SplitQueue


class RingMachine(RuleBasedStateMachine):
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

    @rule()
    def kick_prepare(self):
        assert self.q.kick_prepare() == self.ref.kick_prepare()

    @rule()
    def pop(self):
        c = self.q.pop()
        r = self.ref.pop()
        assert (None if c is None else tuple(c)) == r
        if c is not None:
            self.popped.append(c.head)

    @precondition(lambda self: self.popped)
    @rule(i=st.integers(0, 100), written=st.integers(0, 1 << 20))
    def push_used(self, i, written):
        head = self.popped.pop(i % len(self.popped))  # completions may come out of order
        self.q.push_used(head, written)
        self.ref.push_used(head, written)

    @rule()
    def should_interrupt(self):
        assert self.q.should_interrupt() == self.ref.should_interrupt()

    @rule()
    def get_used(self):
        got = self.q.get_used()
        assert got == self.ref.get_used()
        if got is not None:
            self.reaped.append(got[0])

    @rule()
    def disable_interrupts(self):
        self.q.disable_interrupts()
        self.ref.disable_interrupts()

    @rule()
    def enable_interrupts(self):
        assert self.q.enable_interrupts() == self.ref.enable_interrupts()

    @rule()
    def disable_kicks(self):
        self.q.disable_kicks()
        self.ref.disable_kicks()

    @rule()
    def enable_kicks(self):
        assert self.q.enable_kicks() == self.ref.enable_kicks()

    @invariant()
    def nothing_lost_or_duplicated(self):
        if not hasattr(self, "q"):
            return
        assert self.q.broken is None
        assert len(self.reaped) == len(set(self.reaped))
        assert set(self.reaped) <= self.added
        outstanding = self.added - set(self.reaped)
        snap = self.q.snapshot()
        tokens = {t for t in snap["token"] if t >= 0}
        assert tokens == outstanding
        in_use = sum(snap["chain_len"])
        assert in_use + self.q.num_free == self.qsize


TestRing = RingMachine.TestCase
TestRing.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
