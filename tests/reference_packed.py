"""A plain-Python packed ring written from the spec's rules, independent of virtmodel.

Positions are absolute counters that never wrap (position p is ring slot ``p % q`` on lap
``p // q``, where the wrap counter is 1 on even laps and 0 on odd ones), so nothing here
uses the kernels' wrap bits or 16-bit arithmetic: an event offset names one absolute
position, and a notification is due iff that position was passed by the operations since
the last decision.  The descriptor ring and both event suppression structures are kept as
Python lists, so tests can compare them with the kernels' bytes field by field.
"""

AVAIL, USED, NEXT, WRITE = 1 << 7, 1 << 15, 1, 2
ENABLE, DISABLE, DESC = 0, 1, 2


class RefPacked:
    def __init__(self, q, event_idx):
        self.q, self.ev = q, event_idx
        self.desc = [[0, 0, 0, 0] for _ in range(q)]  # addr, len, id, flags
        self.drv_event = [0, ENABLE]  # off_wrap, flags (driver -> device: interrupts)
        self.dev_event = [0, ENABLE]  # (device -> driver: kicks)
        # driver
        self.avail = self.last_used = self.added = 0
        self.free = list(range(q))  # Linux's id free list order
        self.chains = {}  # id -> (token, descriptor count)
        self.shadow = ENABLE
        # device
        self.next_avail = self.next_used = 0
        self.held = {}  # id -> descriptor count
        self.signalled = None

    # helpers on absolute positions
    def wrap(self, p):
        return 1 - (p // self.q) % 2

    def encode(self, p):
        return p % self.q | self.wrap(p) << 15

    def decode(self, off_wrap, now):
        """The absolute position an event offset names, seen from a side at ``now``: on
        now's lap if the wrap bit is now's wrap counter, else on the lap before."""
        lap_start = now - now % self.q
        p = lap_start + (off_wrap & 0x7FFF)
        return p if off_wrap >> 15 == self.wrap(now) else p - self.q

    def is_avail(self, p):
        f = self.desc[p % self.q][3]
        return bool(f & AVAIL) != bool(f & USED) and bool(f & AVAIL) == self.wrap(p)

    def is_used(self, p):
        f = self.desc[p % self.q][3]
        return bool(f & AVAIL) == bool(f & USED) == self.wrap(p)

    # driver
    def add(self, lens, writable, token, addrs):
        n = len(lens)
        if n > len(self.free):
            return None
        ids, self.free = self.free[:n], self.free[n:]
        for k in range(n):
            p = self.avail + k
            flags = (
                (AVAIL if self.wrap(p) else USED)
                | (NEXT if k < n - 1 else 0)
                | (WRITE if writable[k] else 0)
            )
            self.desc[p % self.q] = [addrs[k], lens[k], ids[0], flags]
        self.chains[ids[0]] = (token, n, ids)
        self.avail += n
        self.added += n
        return ids[0]

    def kick_prepare(self):
        old, new, self.added = self.avail - self.added, self.avail, 0
        off_wrap, flags = self.dev_event
        if flags != DESC:
            return flags != DISABLE
        return old <= self.decode(off_wrap, new) < new

    def get_used(self):
        if not self.is_used(self.last_used):
            return None
        _, ln, buf_id, _ = self.desc[self.last_used % self.q]
        token, n, ids = self.chains.pop(buf_id)
        self.free = ids + self.free
        self.last_used += n
        if self.shadow == DESC:
            self.drv_event[0] = self.encode(self.last_used)
        return token, ln

    def disable_interrupts(self):
        if self.shadow != DISABLE:
            self.shadow = self.drv_event[1] = DISABLE

    def enable_interrupts(self):
        if self.ev:
            self.drv_event[0] = self.encode(self.last_used)
        if self.shadow == DISABLE:
            self.shadow = self.drv_event[1] = DESC if self.ev else ENABLE
        return self.is_used(self.last_used)

    @property
    def num_free(self):
        return len(self.free)

    # device
    def pop(self):
        if not self.is_avail(self.next_avail):
            return None
        p, rd, wr = self.next_avail, 0, 0
        while True:
            _, ln, buf_id, flags = self.desc[p % self.q]
            if flags & WRITE:
                wr += ln
            else:
                rd += ln
            p += 1
            if not flags & NEXT:
                break
        n = p - self.next_avail
        self.held[buf_id] = n
        self.next_avail = p
        return buf_id, rd, wr, n

    def push_used(self, buf_id, written):
        n = self.held.pop(buf_id)
        slot = self.next_used % self.q
        flags = (AVAIL | USED if self.wrap(self.next_used) else 0) | (WRITE if written else 0)
        self.desc[slot][1:] = [written, buf_id, flags]
        self.next_used += n

    def should_interrupt(self):
        old, new, self.signalled = self.signalled, self.next_used, self.next_used
        off_wrap, flags = self.drv_event
        if flags == DISABLE:
            return False
        if flags == ENABLE:
            return True
        if old is None or old // self.q != new // self.q:  # QEMU: always after a wrap
            return True
        return old <= self.decode(off_wrap, new) < new

    def disable_kicks(self):
        self.dev_event[1] = DISABLE

    def enable_kicks(self):
        if self.ev:
            self.dev_event[:] = [self.encode(self.next_avail), DESC]
        else:
            self.dev_event[1] = ENABLE
        return self.is_avail(self.next_avail)
