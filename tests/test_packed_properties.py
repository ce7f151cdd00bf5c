"""Random interleavings of driver and device operations on the packed ring (hypothesis
state machine): nothing is lost or completed twice, every answer agrees with the plain-Python
reference, and so does every byte of the descriptor ring and event suppression structures."""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from reference_packed import RefPacked
from virtmodel.ring import Queue


class PackedMachine(RuleBasedStateMachine):
    @initialize(qsize=st.integers(1, 9), event_idx=st.booleans())
    def setup(self, qsize, event_idx):
        self.qsize = qsize  # any size: the packed ring has no power-of-two rule
        self.q = Queue(qsize, event_idx=event_idx, ring="packed")
        self.ref = RefPacked(qsize, event_idx)
        self.next_token = 0
        self.added, self.reaped = set(), []
        self.popped = []  # ids popped, not yet pushed

    @rule(lens=st.lists(st.integers(0, 5000), min_size=1, max_size=4), nw=st.integers(0, 4),
          base=st.integers(0, 1 << 40))
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
    @rule(i=st.integers(0, 100), written=st.sampled_from([0, 1, 512, 1 << 20]))
    def push_used(self, i, written):
        buf_id = self.popped.pop(i % len(self.popped))  # completions may come out of order
        self.q.push_used(buf_id, written)
        self.ref.push_used(buf_id, written)

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
    def same_bytes_nothing_lost_or_duplicated(self):
        if not hasattr(self, "q"):
            return
        assert self.q.broken is None
        f = self.q.fields
        assert [list(map(int, d)) for d in zip(f["desc_addr"], f["desc_len"], f["desc_id"],
                                               f["desc_flags"])] == self.ref.desc
        assert [int(f["driver_event_off_wrap"][0]),
                int(f["driver_event_flags"][0])] == self.ref.drv_event
        assert [int(f["device_event_off_wrap"][0]),
                int(f["device_event_flags"][0])] == self.ref.dev_event
        assert len(self.reaped) == len(set(self.reaped))
        assert set(self.reaped) <= self.added
        snap = self.q.snapshot()
        assert set(snap["token"]) - {-1} == self.added - set(self.reaped)
        assert sum(snap["chain_len"]) + self.q.num_free == self.qsize
        assert self.q.num_free == self.ref.num_free
        assert snap["device_in_use"] == sum(snap["device_held"]) == sum(self.ref.held.values())


TestPacked = PackedMachine.TestCase
TestPacked.settings = settings(max_examples=200, stateful_step_count=80, deadline=None)
