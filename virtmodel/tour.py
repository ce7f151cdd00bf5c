"""A guided tour of one virtqueue: each step is a real ring operation.

:func:`ring_tour` drives a small :class:`virtmodel.ring.Queue` through a fixed script and
records a snapshot of the shared ring and of both sides' private state after every
operation.  The split ring's script: a driver adds three chains and kicks; the device pops,
serves and returns them; the driver adds a fourth while the device is busy; interrupts and
reaping.  The packed ring's script tells the same story in its own terms (descriptors made
available by their flags, one used descriptor per chain, event suppression structures, the
driver's interrupt handler disabling and re-enabling interrupts as Linux's does) and ends
with a chain that crosses the ring's end, so that both wrap counters flip.  The captions are
built from what the operations returned and from the bytes they wrote, so with EVENT_IDX on
or off the same script tells a different (and true) story about which kicks and interrupts
were needed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from .ring import Queue, SplitQueue
from .spec import (
    VRING_PACKED_EVENT_FLAG_DESC,
    VRING_PACKED_EVENT_FLAG_DISABLE,
    VRING_PACKED_EVENT_FLAG_ENABLE,
)


class TourStep(NamedTuple):
    actor: str  # "driver" or "device" (or "" for the initial state)
    action: str  # the operation, as called
    caption: str  # what happened, in words
    snapshot: dict  # Queue.snapshot() after the operation


_REQUESTS = {  # token -> (segment lengths, device-writable flags, what it is)
    0: ((16, 4096), (False, True), "read 4 KiB: a header, then a buffer the device fills"),
    1: ((16, 4096), (False, False), "write 4 KiB: a header, then the data"),
    2: ((16,), (False,), "flush: a header alone"),
    3: ((16, 512), (False, True), "read 512 B"),
}
"""Simplified block requests (a real virtio-blk chain also ends in a writable status byte)."""


@lru_cache(maxsize=16)
def ring_tour(
    queue_size: int = 8, event_idx: bool = False, ring: str = "split"
) -> tuple[TourStep, ...]:
    """The scripted tour on a ``queue_size``-entry ring of layout ``ring`` ("split" or
    "packed"; the script has at most 7 descriptors in flight)."""
    if queue_size not in (8, 16, 32):
        raise ValueError(f"queue_size must be 8, 16 or 32 for the tour, got {queue_size}")
    if ring == "packed":
        return _packed_tour(queue_size, bool(event_idx))
    if ring != "split":
        raise ValueError(f"ring must be 'split' or 'packed', got {ring!r}")
    q = SplitQueue(queue_size, event_idx=bool(event_idx))
    out = [
        TourStep(
            "",
            "start",
            "An empty ring: every descriptor is on the driver's free "
            "list (free_head = 0, num_free = queue size).",
            q.snapshot(),
        )
    ]
    popped = {}

    def rec(actor, action, caption):
        out.append(TourStep(actor, action, caption, q.snapshot()))

    def add(token):
        lens, w, what = _REQUESTS[token]
        head = q.add(list(lens), writable=list(w), token=token)
        assert head is not None, "the tour's script never fills the ring"
        rec(
            "driver",
            f"add(request {token})",
            f"Driver: request {token} ({what}) becomes a chain of {len(lens)} descriptor{'s' * (len(lens) > 1)} "
            f"from head {head}; its head goes into avail_ring and avail_idx moves on.",
        )

    def kick(note):
        k = q.kick_prepare()
        rec(
            "driver",
            "kick_prepare()",
            f"Driver: does the device want a kick? {'Yes' if k else 'No'} {note(k)}",
        )

    def pop():
        c = q.pop()
        popped[c.head] = c
        token = int(q.fields["token"][c.head])
        rec(
            "device",
            "pop()",
            f"Device: takes chain {c.head} (request {token}): {c.descriptors} descriptor{'s' * (c.descriptors > 1)}, "
            f"{c.readable_bytes} B to read, {c.writable_bytes} B to write; next_avail moves on.",
        )
        return c

    def push(c):
        written = c.writable_bytes
        q.push_used(c.head, written)
        rec(
            "device",
            f"push_used({c.head}, {written})",
            f"Device: returns chain {c.head} in used_ring with {written} B written; used_idx "
            "moves on.",
        )

    def interrupt():
        used_event = int(q.fields["used_event"][0])
        i = q.should_interrupt()
        if q.event_idx:
            why = (
                f"used_idx moved past used_event = {used_event} since the last interrupt"
                if i
                else f"used_event = {used_event} was already passed by an earlier "
                "interrupt, and the driver has not asked again (it re-arms when it reaps)"
            )
        else:
            why = (
                "VRING_AVAIL_F_NO_INTERRUPT is clear in avail_flags"
                if i
                else "the driver set VRING_AVAIL_F_NO_INTERRUPT"
            )
        rec(
            "device",
            "should_interrupt()",
            f"Device: interrupt the driver? {'Yes' if i else 'No'}: {why}.",
        )

    def reap():
        token, n = q.get_used()
        rec(
            "driver",
            "get_used()",
            f"Driver: reaps request {token} ({n} B written); its descriptors go back on the "
            "free list and last_used_idx moves on.",
        )

    for t in (0, 1, 2):
        add(t)
    kick(
        lambda k: (
            "(the device sleeps and has not suppressed kicks): the driver writes the "
            "queue's notify register, which traps: one VM exit for three requests."
            if k
            else "(the device asked not to be kicked)."
        )
    )
    q.disable_kicks()
    rec(
        "device",
        "disable_kicks()",
        "Device: woken by the kick, it asks for no more kicks while it works "
        + (
            "(avail_event stays behind: with EVENT_IDX, the driver compares indices)."
            if q.event_idx
            else "(sets VRING_USED_F_NO_NOTIFY in used_flags)."
        ),
    )
    a = pop()
    b = pop()
    push(a)
    add(3)
    kick(
        lambda k: (
            "(the device is still draining the ring): this request costs no exit."
            if not k
            else "(it would have cost an exit)."
        )
    )
    push(b)
    interrupt()
    c = pop()
    d = pop()
    push(c)
    push(d)
    more = q.enable_kicks()
    rec(
        "device",
        "enable_kicks()",
        "Device: the ring is empty, so it re-enables kicks before sleeping"
        + (
            " and finds new chains waiting (it must go on)."
            if more
            else "; nothing new arrived meanwhile."
        ),
    )
    interrupt()
    for _ in range(4):
        reap()
    return tuple(out)


_EVENT_FLAGS = {
    VRING_PACKED_EVENT_FLAG_ENABLE: "ENABLE",
    VRING_PACKED_EVENT_FLAG_DISABLE: "DISABLE",
    VRING_PACKED_EVENT_FLAG_DESC: "DESC",
}


def _slots(first: int, n: int, q: int) -> str:
    slots = [(first + k) % q for k in range(n)]
    return f"slot {slots[0]}" if n == 1 else "slots " + ", ".join(map(str, slots))


def _off_wrap(v: int) -> str:
    return f"slot {v & 0x7FFF}, wrap {v >> 15}"


_PACKED_EXTRA = {4: ((16, 4096), (False, False), "write 4 KiB: a header, then the data")}


def _packed_tour(queue_size: int, event_idx: bool) -> tuple[TourStep, ...]:
    """The packed ring's scripted tour (see the module docstring)."""
    q = Queue(queue_size, event_idx=event_idx, ring="packed")
    f = q.fields
    out = [
        TourStep(
            "",
            "start",
            f"An empty packed ring: {queue_size} zeroed descriptors, "
            "both event suppression structures zero (flags ENABLE), each side at "
            "slot 0 with its wrap counter at 1. There are no indices in shared "
            "memory: each side finds its next descriptor by its flags.",
            q.snapshot(),
        )
    ]

    def rec(actor, action, caption):
        out.append(TourStep(actor, action, caption, q.snapshot()))

    def add(token):
        lens, w, what = {**_REQUESTS, **_PACKED_EXTRA}[token]
        s0 = q.snapshot()
        first, wrap0 = s0["driver"]["next_avail"], s0["driver"]["avail_wrap"]
        buf_id = q.add(list(lens), writable=list(w), token=token)
        assert buf_id is not None, "the tour's script never fills the ring"
        s1 = q.snapshot()
        n = len(lens)
        flip = s1["driver"]["avail_wrap"] != wrap0
        rec(
            "driver",
            f"add(request {token})",
            f"Driver: request {token} ({what}) goes into {_slots(first, n, queue_size)} "
            f"as buffer id {buf_id}: each descriptor gets addr, len, the id and flags with "
            f"AVAIL = {wrap0} (its wrap counter) and USED = {1 - wrap0}"
            + (
                f", except past the ring's end, where its wrap counter is now "
                f"{s1['driver']['avail_wrap']}: AVAIL = {s1['driver']['avail_wrap']}, USED = "
                f"{1 - s1['driver']['avail_wrap']}"
                if flip
                else ""
            )
            + ". The head's flags are written last: that one store publishes the chain.",
        )

    def kick(busy_note):
        flags = int(f["device_event_flags"][0])
        k = q.kick_prepare()
        if flags == VRING_PACKED_EVENT_FLAG_DESC:
            why = (
                f"the device event structure says DESC at "
                f"{_off_wrap(int(f['device_event_off_wrap'][0]))}, and that descriptor "
                + ("was just made available" if k else "was not among those just added")
            )
        else:
            why = f"the device event flags are {_EVENT_FLAGS[flags]}"
        rec(
            "driver",
            "kick_prepare()",
            f"Driver: does the device want a kick? {'Yes' if k else 'No'}: {why}. " + busy_note(k),
        )

    def pop():
        s0 = q.snapshot()
        c = q.pop()
        token = int(f["token"][c.head])
        s1 = q.snapshot()
        rec(
            "device",
            "pop()",
            f"Device: {_slots(s0['device']['next_avail'], 1, queue_size)} is available "
            f"(AVAIL = its wrap counter {s0['device']['avail_wrap']}, USED differs): it takes "
            f"the chain in {_slots(s0['device']['next_avail'], c.descriptors, queue_size)}, "
            f"buffer id {c.head} (request {token}), {c.readable_bytes} B to read, "
            f"{c.writable_bytes} B to write; its position moves to slot "
            f"{s1['device']['next_avail']}"
            + (
                f" and its wrap counter to {s1['device']['avail_wrap']}"
                if s1["device"]["avail_wrap"] != s0["device"]["avail_wrap"]
                else ""
            )
            + ".",
        )
        return c

    def push(c):
        s0 = q.snapshot()
        written = c.writable_bytes
        q.push_used(c.head, written)
        s1 = q.snapshot()
        w = s0["device"]["used_wrap"]
        rec(
            "device",
            f"push_used({c.head}, {written})",
            f"Device: one used descriptor for buffer id {c.head} at its used position, slot "
            f"{s0['device']['next_used']} (id, len = {written}, then flags AVAIL = USED = {w}"
            + (", WRITE" if written else "")
            + f"); its used position skips the chain's "
            f"{c.descriptors} descriptor{'s' * (c.descriptors > 1)} to slot "
            f"{s1['device']['next_used']}"
            + (
                f" and its wrap counter flips to {s1['device']['used_wrap']}"
                if s1["device"]["used_wrap"] != w
                else ""
            )
            + ".",
        )

    def interrupt():
        flags = int(f["driver_event_flags"][0])
        off = int(f["driver_event_off_wrap"][0])
        s0 = q.snapshot()
        fresh = s0["device"]["signalled_valid"] == 0
        i = q.should_interrupt()
        if flags == VRING_PACKED_EVENT_FLAG_DESC and fresh:
            why = (
                "the driver asked (DESC) for a descriptor, and this is the device's first "
                "decision since its used position wrapped (QEMU then always interrupts)"
            )
        elif flags == VRING_PACKED_EVENT_FLAG_DESC:
            why = f"the driver asked (DESC) for {_off_wrap(off)}, " + (
                "which it has just used"
                if i
                else "which an earlier interrupt already covered; the driver re-arms when it reaps"
            )
        else:
            why = f"the driver event flags are {_EVENT_FLAGS[flags]}"
        rec(
            "device",
            "should_interrupt()",
            f"Device: interrupt the driver? {'Yes' if i else 'No'}: {why}.",
        )

    def handler_start():
        q.disable_interrupts()
        rec(
            "driver",
            "disable_interrupts()",
            "Driver: its interrupt handler starts by writing DISABLE into the driver event "
            "flags: no interrupts while it reaps.",
        )

    def reap():
        s0 = q.snapshot()
        token, n = q.get_used()
        s1 = q.snapshot()
        rec(
            "driver",
            "get_used()",
            f"Driver: slot {s0['driver']['last_used']} has AVAIL = USED = its used wrap counter "
            f"{s0['driver']['used_wrap']}: request {token} is done ({n} B written); its id "
            f"goes back on the free list and the driver skips to slot "
            f"{s1['driver']['last_used']}"
            + (
                f", flipping its used wrap counter to {s1['driver']['used_wrap']}"
                if s1["driver"]["used_wrap"] != s0["driver"]["used_wrap"]
                else ""
            )
            + ".",
        )

    def handler_end():
        more = q.enable_interrupts()
        flags = int(f["driver_event_flags"][0])
        how = (
            f"DESC with off_wrap = {_off_wrap(int(f['driver_event_off_wrap'][0]))}: "
            "interrupt me when that descriptor is used"
            if flags == VRING_PACKED_EVENT_FLAG_DESC
            else "ENABLE"
        )
        rec(
            "driver",
            "enable_interrupts()",
            f"Driver: the handler re-enables interrupts ({how}) and looks once more: "
            + (
                "a used descriptor is waiting, so it goes on reaping."
                if more
                else "nothing waiting."
            ),
        )

    for t in (0, 1, 2):
        add(t)
    kick(
        lambda k: (
            "The driver writes the queue's notify register, which traps: one VM "
            "exit for three requests."
            if k
            else ""
        )
    )
    q.disable_kicks()
    rec(
        "device",
        "disable_kicks()",
        "Device: woken by the kick, it writes DISABLE into the device event flags while it "
        "works (with or without EVENT_IDX).",
    )
    a = pop()
    b = pop()
    push(a)
    interrupt()
    handler_start()
    reap()
    handler_end()
    add(3)
    kick(
        lambda k: (
            "The device is still draining the ring: this request costs no exit."
            if not k
            else "It would have cost an exit."
        )
    )
    push(b)
    interrupt()
    c = pop()
    d = pop()
    push(c)
    push(d)
    interrupt()
    more = q.enable_kicks()
    flags = int(f["device_event_flags"][0])
    rec(
        "device",
        "enable_kicks()",
        "Device: the ring is empty, so it re-enables kicks before sleeping ("
        + (
            f"DESC with off_wrap = {_off_wrap(int(f['device_event_off_wrap'][0]))}: kick me "
            "when that descriptor is made available"
            if flags == VRING_PACKED_EVENT_FLAG_DESC
            else "ENABLE"
        )
        + ")"
        + (
            " and finds a chain waiting (it must go on)."
            if more
            else "; nothing new arrived meanwhile."
        ),
    )
    handler_start()
    for _ in range(3):
        reap()
    handler_end()
    add(4)  # its chain crosses the ring's end
    kick(lambda k: "One exit wakes the device." if k else "")
    e = pop()
    push(e)
    interrupt()
    handler_start()
    reap()
    handler_end()
    return tuple(out)
