"""What a virtqueue layout and its plain-Python reference must agree on, as a hypothesis
state machine: the layouts' property tests (tests/test_ring_properties.py,
tests/test_packed_properties.py) subclass it with their own set-up, ``add`` and
``push_used`` rules (the layouts take different arguments) and invariants."""

from hypothesis.stateful import RuleBasedStateMachine, invariant, rule


class QueueMachine(RuleBasedStateMachine):
    """Rules every layout shares; a subclass's ``initialize`` sets ``q`` (the queue),
    ``ref`` (its reference), ``qsize``, ``next_token``, ``added``, ``reaped`` and ``popped``
    (heads or ids popped and not yet pushed)."""

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

    def push(self, i, written):
        """Return the ``i``-th popped chain (modulo) used: completions may come out of
        order."""
        head = self.popped.pop(i % len(self.popped))
        self.q.push_used(head, written)
        self.ref.push_used(head, written)

    @invariant()
    def nothing_lost_or_duplicated(self):
        if not hasattr(self, "q"):
            return
        assert self.q.broken is None
        assert len(self.reaped) == len(set(self.reaped))
        assert set(self.reaped) <= self.added
        snap = self.q.snapshot()
        assert {t for t in snap["driver"]["token"] if t >= 0} == self.added - set(self.reaped)
        assert sum(snap["driver"]["chain_len"]) + self.q.num_free == self.qsize
