"""A guided tour of one split virtqueue: each step is a real ring operation.

:func:`ring_tour` drives a small :class:`virtmodel.ring.SplitQueue` through a fixed script
(a driver adds three chains and kicks; the device pops, serves and returns them; the driver
adds a fourth while the device is busy; interrupts and reaping) and records a snapshot of the
shared ring and of both sides' private state after every operation.  The captions are built
from what the operations returned, so with EVENT_IDX on or off the same script tells a
different (and true) story about which kicks and interrupts were needed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from .ring import SplitQueue


class TourStep(NamedTuple):
    actor: str  # "driver" or "device" (or "" for the initial state)
    action: str  # the operation, as called
    caption: str  # what happened, in words
    snapshot: dict  # SplitQueue.snapshot() after the operation


_REQUESTS = {  # token -> (segment lengths, device-writable flags, what it is)
    0: ((16, 4096), (False, True), "read 4 KiB: a header, then a buffer the device fills"),
    1: ((16, 4096), (False, False), "write 4 KiB: a header, then the data"),
    2: ((16,), (False,), "flush: a header alone"),
    3: ((16, 512), (False, True), "read 512 B"),
}
"""Simplified block requests (a real virtio-blk chain also ends in a writable status byte)."""


@lru_cache(maxsize=8)
def ring_tour(queue_size: int = 8, event_idx: bool = False) -> tuple[TourStep, ...]:
    """The scripted tour on a ``queue_size``-entry ring (the script has at most 7
    descriptors in flight)."""
    if queue_size not in (8, 16, 32):
        raise ValueError(f"queue_size must be 8, 16 or 32 for the tour, got {queue_size}")
    q = SplitQueue(queue_size, event_idx=bool(event_idx))
    out = [TourStep("", "start", "An empty ring: every descriptor is on the driver's free "
                    "list (free_head = 0, num_free = queue size).", q.snapshot())]
    popped = {}

    def rec(actor, action, caption):
        out.append(TourStep(actor, action, caption, q.snapshot()))

    def add(token):
        lens, w, what = _REQUESTS[token]
        head = q.add(list(lens), writable=list(w), token=token)
        assert head is not None, "the tour's script never fills the ring"
        rec("driver", f"add(request {token})",
            f"Driver: request {token} ({what}) becomes a chain of {len(lens)} descriptor{'s' * (len(lens) > 1)} "
            f"from head {head}; its head goes into avail_ring and avail_idx moves on.")

    def kick(note):
        k = q.kick_prepare()
        rec("driver", "kick_prepare()",
            f"Driver: does the device want a kick? {'Yes' if k else 'No'} {note(k)}")

    def pop():
        c = q.pop()
        popped[c.head] = c
        token = int(q.fields["token"][c.head])
        rec("device", "pop()",
            f"Device: takes chain {c.head} (request {token}): {c.descriptors} descriptor{'s' * (c.descriptors > 1)}, "
            f"{c.readable_bytes} B to read, {c.writable_bytes} B to write; next_avail moves on.")
        return c

    def push(c):
        written = c.writable_bytes
        q.push_used(c.head, written)
        rec("device", f"push_used({c.head}, {written})",
            f"Device: returns chain {c.head} in used_ring with {written} B written; used_idx "
            "moves on.")

    def interrupt():
        used_event = int(q.fields["used_event"][0])
        i = q.should_interrupt()
        if q.event_idx:
            why = (f"used_idx moved past used_event = {used_event} since the last "
                   "interrupt" if i else
                   f"used_event = {used_event} was already passed by an earlier "
                   "interrupt, and the driver has not asked again (it re-arms when it reaps)")
        else:
            why = ("VRING_AVAIL_F_NO_INTERRUPT is clear in avail_flags" if i
                   else "the driver set VRING_AVAIL_F_NO_INTERRUPT")
        rec("device", "should_interrupt()",
            f"Device: interrupt the driver? {'Yes' if i else 'No'}: {why}.")

    def reap():
        token, n = q.get_used()
        rec("driver", "get_used()",
            f"Driver: reaps request {token} ({n} B written); its descriptors go back on the "
            "free list and last_used_idx moves on.")

    for t in (0, 1, 2):
        add(t)
    kick(lambda k: "(the device sleeps and has not suppressed kicks): the driver writes the "
         "queue's notify register, which traps: one VM exit for three requests." if k else
         "(the device asked not to be kicked).")
    q.disable_kicks()
    rec("device", "disable_kicks()",
        "Device: woken by the kick, it asks for no more kicks while it works "
        + ("(avail_event stays behind: with EVENT_IDX, the driver compares indices)."
           if q.event_idx else "(sets VRING_USED_F_NO_NOTIFY in used_flags)."))
    a = pop()
    b = pop()
    push(a)
    add(3)
    kick(lambda k: "(the device is still draining the ring): this request costs no exit."
         if not k else "(it would have cost an exit).")
    push(b)
    interrupt()
    c = pop()
    d = pop()
    push(c)
    push(d)
    more = q.enable_kicks()
    rec("device", "enable_kicks()",
        "Device: the ring is empty, so it re-enables kicks before sleeping"
        + (" and finds new chains waiting (it must go on)." if more else
           "; nothing new arrived meanwhile."))
    interrupt()
    for _ in range(4):
        reap()
    return tuple(out)
