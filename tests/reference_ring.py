"""A plain-Python split ring written from the spec's rules, independent of virtmodel.ring.

Lists and dicts, Python ints taken modulo 2**16, no shared bytes: it is what the ring
kernels must agree with, operation by operation.
"""

M = 65536


def need_event(event, new, old):
    return any((old + k) % M == event for k in range((new - old) % M))


class RefRing:
    def __init__(self, q, event_idx):
        self.q, self.ev = q, event_idx
        self.free = list(range(q))  # Linux's free list order: 0, 1, 2, ...
        self.chains = {}  # head -> (token, descriptor list, lens, writable)
        self.avail_ring, self.used_ring = [0] * q, [(0, 0)] * q
        self.avail_idx = self.num_added = self.last_used = self.flags_shadow = 0
        self.avail_flags = self.used_event = 0
        self.next_avail = self.used_idx = self.used_flags = self.avail_event = 0
        self.seen_avail = self.signalled = 0
        self.valid = False

    # driver
    def add(self, lens, writable, token):
        n = len(lens)
        if len(self.free) < n:
            return None
        descs, self.free = self.free[:n], self.free[n:]
        self.chains[descs[0]] = (token, descs, list(lens), list(writable))
        self.avail_ring[self.avail_idx % self.q] = descs[0]
        self.avail_idx = (self.avail_idx + 1) % M
        self.num_added += 1
        return descs[0]

    def kick_prepare(self):
        new, old = self.avail_idx, (self.avail_idx - self.num_added) % M
        self.num_added = 0
        return need_event(self.avail_event, new, old) if self.ev else not self.used_flags & 1

    def get_used(self):
        if self.last_used == self.used_idx:
            return None
        head, ln = self.used_ring[self.last_used % self.q]
        token, descs, _, _ = self.chains.pop(head)
        self.free = descs + self.free
        self.last_used = (self.last_used + 1) % M
        if self.ev and not self.flags_shadow & 1:
            self.used_event = self.last_used
        return token, ln

    def disable_interrupts(self):
        if not self.flags_shadow & 1:
            self.flags_shadow |= 1
            if self.ev:
                self.used_event = 0
            else:
                self.avail_flags = self.flags_shadow

    def enable_interrupts(self):
        if self.flags_shadow & 1:
            self.flags_shadow &= ~1
            if not self.ev:
                self.avail_flags = self.flags_shadow
        self.used_event = self.last_used
        return self.used_idx != self.last_used

    # device
    def pop(self):
        self.seen_avail = self.avail_idx
        if self.next_avail == self.avail_idx:
            return None
        head = self.avail_ring[self.next_avail % self.q]
        _, descs, lens, writable = self.chains[head]
        self.next_avail = (self.next_avail + 1) % M
        rd = sum(n for n, w in zip(lens, writable) if not w)
        return head, rd, sum(lens) - rd, len(descs)

    def push_used(self, head, written):
        self.used_ring[self.used_idx % self.q] = (head, written)
        self.used_idx = (self.used_idx + 1) % M

    def should_interrupt(self):
        if not self.ev:
            return not self.avail_flags & 1
        old, new, valid = self.signalled, self.used_idx, self.valid
        self.signalled, self.valid = new, True
        return (not valid) or need_event(self.used_event, new, old)

    def disable_kicks(self):
        if not self.ev:
            self.used_flags |= 1

    def enable_kicks(self):
        if self.ev:
            self.avail_event = self.seen_avail
        else:
            self.used_flags &= ~1
        return self.avail_idx != self.next_avail
