"""The virtio packed virtqueue (spec section "Packed Virtqueues", virtio 1.1+), one layout
behind :mod:`virtmodel.ring`, laid out byte for byte.

One ``uint8`` buffer, ``mem``, holds what a guest would place in memory (little-endian):

=========================  =================================================================
descriptor ring (0)        ``queue_size`` descriptors of 16 bytes: ``addr`` (le64), ``len``
                           (le32), ``id`` (le16), ``flags`` (le16)
driver event suppression   ``off_wrap`` (le16: offset in bits 0..14, wrap counter in bit 15),
(``driver_off = 16*q``)    ``flags`` (le16: ENABLE 0, DISABLE 1, DESC 2); the driver writes
                           it, the device reads it (it controls interrupts)
device event suppression   the same two fields, written by the device, read by the driver
(``device_off = 16*q+4``)  (they control kicks)
=========================  =================================================================

There are no indices in shared memory.  The driver and the device each keep a position in
the descriptor ring and a one-bit *wrap counter* (both start at 1, each side flips its own
when its position passes the ring's end).  The driver makes a descriptor available by
writing its flags with AVAIL equal to its wrap counter and USED the inverse; the device
marks one used by writing AVAIL and USED both equal to its own wrap counter.  Each side
polls only the next descriptor in ring order, so the queue size need not be a power of two.

A chain occupies consecutive descriptors (NEXT on all but the last); the driver writes the
head's flags last, so a device never sees part of a chain.  Each chain carries a *buffer
id* (the driver writes it in every descriptor, as Linux does; the device takes it from the
last one, where the spec puts it).  The device writes one used descriptor per chain, at its
own used position, and both sides then skip the chain's descriptor count: the driver
remembers it per id, and so does the device (its ``held`` array).

Private state in ``st`` (besides :mod:`virtmodel.ringmem`'s common slots): the driver's
next available position and wrap counter, its next used position and wrap counter, its
id free list (Linux's ``desc_extra[].next``), each id's descriptor count and token, and its
shadow of the driver event flags; the device's next available and next used positions and
wrap counters, descriptors it holds, and the interrupt decision's ``signalled_used``.

The driver half follows Linux ``drivers/virtio/virtio_ring.c`` (``virtqueue_add_packed``,
``virtqueue_kick_prepare_packed``, ``virtqueue_get_buf_ctx_packed``,
``virtqueue_disable_cb_packed``, ``virtqueue_enable_cb_prepare_packed``); the device half
follows the spec and QEMU ``hw/virtio/virtio.c`` (``virtqueue_packed_pop``,
``virtqueue_packed_fill_desc``/``flush``, ``virtio_packed_should_notify``,
``virtio_queue_packed_set_notification``).  Differences, on purpose: the device checks
that every descriptor of a chain is available and that an id is not already held (QEMU
does neither); a used descriptor carries VIRTQ_DESC_F_WRITE when the device wrote bytes,
as the spec says (QEMU writes only AVAIL/USED).  Indirect descriptors are not modelled: a
device that meets one breaks the queue (the feature is never negotiated here).

Kept from QEMU although it costs interrupts: its device forgets its last interrupt decision
whenever its used position wraps, so with EVENT_IDX the first decision after each lap says
yes even if the driver's event descriptor was already signalled.  In closed-loop batches
this gives at most one interrupt per lap more than the split ring (whose 16-bit indices
wrap every 65536 buffers); without EVENT_IDX both rings decide alike.

A malformed ring marks the queue broken with a reason (:data:`REASONS`); no kernel loops
unbounded or indexes out of range.  Every 16-bit and wrap computation is masked, so the
kernels also run as plain Python (``NUMBA_DISABLE_JIT=1``).
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from .ringmem import (
    ARRAYS,
    BROKEN,
    COMMON,
    DEV_BROKEN,
    DEV_CHAIN_ADDR,
    DEV_CHAIN_DESCS,
    DEV_CHAIN_READABLE,
    DEV_CHAIN_WRITABLE,
    DEV_EVENT_IDX,
    DRV_BROKEN,
    DRV_CHAIN_LEN,
    DRV_CHAIN_NEXT,
    DRV_EVENT_IDX,
    DRV_FREE_HEAD,
    DRV_LAST_LEN,
    DRV_NUM_FREE,
    DRV_TOKEN,
    EMPTY,
    PACKED,
    State,
    Virtqueue,
    check_event_idx,
    check_mem,
    free_chain,
    ld16,
    ld32,
    ld64,
    mark_broken,
    new_state,
    st16,
    st32,
    st64,
)
from .spec import (
    DESC_SIZE,
    PACKED_EVENT_SIZE,
    VRING_DESC_F_INDIRECT,
    VRING_DESC_F_NEXT,
    VRING_DESC_F_WRITE,
    VRING_PACKED_DESC_F_AVAIL,
    VRING_PACKED_DESC_F_USED,
    VRING_PACKED_EVENT_F_WRAP_CTR,
    VRING_PACKED_EVENT_FLAG_DESC,
    VRING_PACKED_EVENT_FLAG_DISABLE,
    VRING_PACKED_EVENT_FLAG_ENABLE,
    check_packed_queue_size,
    packed_ring_size,
    vring_need_event,
)

# --- private state: the common slots (ringmem.COMMON), then the packed ring's own -------
# (the driver's free list links buffer ids, as Linux's desc_extra[].next; a chain of n
# descriptors takes n ids, its first is the chain's buffer id)
STATE = State("packed", COMMON)
DRV_NUM_ADDED = STATE.driver("num_added")  # descriptors made available since the last kick
#                                            decision (Linux num_added)
DRV_LAST_USED = STATE.driver("last_used")  # position of the next used descriptor it reads
DRV_USED_WRAP = STATE.driver("used_wrap")  # its used wrap counter (Linux: bit 15 of
#                                            last_used_idx)
DRV_EVENT_FLAGS_SHADOW = STATE.driver("event_flags_shadow")  # its copy of the driver event
#                                                              suppression flags
DRV_NEXT_AVAIL = STATE.driver("next_avail")  # position of the next descriptor it makes
#                                              available
DRV_AVAIL_WRAP = STATE.driver("avail_wrap")  # the Driver Ring Wrap Counter
DEV_NEXT_AVAIL = STATE.device("next_avail")  # position of the next descriptor it reads
DEV_AVAIL_WRAP = STATE.device("avail_wrap")  # wrap counter it expects there (QEMU
#                                              last_avail_wrap_counter)
DEV_NEXT_USED = STATE.device("next_used")  # position of the next used descriptor it writes
DEV_USED_WRAP = STATE.device("used_wrap")  # the Device Ring Wrap Counter
DEV_SIGNALLED_USED = STATE.device("signalled_used")  # DEV_NEXT_USED at the last decision
DEV_SIGNALLED_VALID = STATE.device("signalled_valid")  # 0 until the first decision and
#                                                        after each used wrap (as QEMU)
DEV_IN_USE = STATE.device("in_use")  # descriptors it has popped and not yet returned
DEV_HELD = STATE.device_array("held")  # per buffer id: descriptors it holds (0: none)
STATE.check()

AREAS = {  # the spec's three areas: field -> one value per ring entry?
    "descriptor": {"desc_addr": True, "desc_len": True, "desc_id": True, "desc_flags": True},
    "driver": {"driver_event_off_wrap": False, "driver_event_flags": False},
    "device": {"device_event_off_wrap": False, "device_event_flags": False},
}
"""The fields of :func:`views` in each of the spec's areas (descriptor ring, Driver Area =
driver event suppression, Device Area = device event suppression)."""

# --- reasons a queue breaks ---------------------------------------------------------------
ID_OUT_OF_RANGE = 1
ID_ALREADY_HELD = 2
CHAIN_TOO_LONG = 3
CHAIN_OVERRUNS = 4
DESC_NOT_AVAILABLE = 5
INDIRECT_NOT_NEGOTIATED = 6
READABLE_AFTER_WRITABLE = 7
PUSH_NOT_HELD = 8
USED_ID_OUT_OF_RANGE = 9
USED_ID_NOT_OUTSTANDING = 10

REASONS = {
    ID_OUT_OF_RANGE: "device: an available chain carries buffer id {} >= queue size",
    ID_ALREADY_HELD: "device: an available chain carries buffer id {}, which the device "
    "already holds",
    CHAIN_TOO_LONG: "device: the chain at descriptor {} is longer than the queue (no "
    "descriptor ends it)",
    CHAIN_OVERRUNS: "device: the chain at descriptor {} runs into descriptors the device "
    "has not returned yet",
    DESC_NOT_AVAILABLE: "device: descriptor {} continues a chain but is not available",
    INDIRECT_NOT_NEGOTIATED: "device: descriptor {} is INDIRECT but the feature is off",
    READABLE_AFTER_WRITABLE: "device: readable descriptor {} follows a writable one",
    PUSH_NOT_HELD: "device: push_used of buffer id {}, which the device does not hold",
    USED_ID_OUT_OF_RANGE: "driver: a used descriptor returns id {} >= queue size",
    USED_ID_NOT_OUTSTANDING: "driver: a used descriptor returns id {} that is not outstanding",
}

_WRAP_BIT = 1 << VRING_PACKED_EVENT_F_WRAP_CTR
_OFF_MASK = _WRAP_BIT - 1


def make(queue_size: int, event_idx: bool = False, mem=None) -> Virtqueue:
    """Lay out a packed ring of ``queue_size`` (1..32768, any size) entries in ``mem`` (a
    writable contiguous uint8 array of at least ``packed_ring_size(queue_size)`` bytes; a
    zeroed one is made if None).  The ring must start zeroed, as the spec requires."""
    q = check_packed_queue_size(queue_size)
    event_idx = check_event_idx(event_idx)
    size = packed_ring_size(q)
    mem = check_mem(mem, size)
    if mem.any():
        raise ValueError(
            "mem must be zeroed: the spec says the descriptor ring and the "
            "event suppression structures start zero-initialized"
        )
    st = new_state(STATE, q, event_idx)
    st[DRV_USED_WRAP] = st[DRV_AVAIL_WRAP] = st[DEV_AVAIL_WRAP] = st[DEV_USED_WRAP] = 1
    return Virtqueue(mem, st, q, DESC_SIZE * q, DESC_SIZE * q + PACKED_EVENT_SIZE, PACKED)


def views(vq: Virtqueue) -> dict:
    """Named numpy views of every field of the shared ring and of the private arrays
    (writing to a view writes the ring: tests use this to corrupt it on purpose)."""
    q, m = vq.queue_size, vq.mem
    d = m[: DESC_SIZE * q]
    drv = m[vq.driver_off : vq.driver_off + PACKED_EVENT_SIZE].view("<u2")
    dev = m[vq.device_off : vq.device_off + PACKED_EVENT_SIZE].view("<u2")
    return {
        "desc_addr": d.view("<u8").reshape(q, 2)[:, 0],
        "desc_len": d.view("<u4").reshape(q, 4)[:, 2],
        "desc_id": d.view("<u2").reshape(q, 8)[:, 6],
        "desc_flags": d.view("<u2").reshape(q, 8)[:, 7],
        "driver_event_off_wrap": drv[0:1],
        "driver_event_flags": drv[1:2],
        "device_event_off_wrap": dev[0:1],
        "device_event_flags": dev[1:2],
        **STATE.array_views(vq.st, q),
    }


@njit(inline="always")
def _is_avail(flags, wrap):
    """An available descriptor for a side expecting wrap counter ``wrap``: AVAIL == wrap
    and USED != AVAIL (QEMU ``is_desc_avail``)."""
    avail = (flags >> 7) & 1
    used = (flags >> 15) & 1
    return avail != used and avail == wrap


@njit(inline="always")
def _is_used(flags, wrap):
    """A used descriptor for a driver expecting wrap counter ``wrap``: AVAIL == USED ==
    wrap (Linux ``is_used_desc_packed``)."""
    avail = (flags >> 7) & 1
    used = (flags >> 15) & 1
    return avail == used and used == wrap


@njit(inline="always")
def _event_offset(off_wrap, wrap, q):
    """The event offset of ``off_wrap`` on the 16-bit scale of positions of the current lap
    (wrap counter ``wrap``): an offset from the other lap is moved back by ``q``, as Linux
    and QEMU do before ``vring_need_event``."""
    off = off_wrap & _OFF_MASK
    if (off_wrap >> VRING_PACKED_EVENT_F_WRAP_CTR) != wrap:
        off = (off - q) & 0xFFFF
    return off


# =========================================================================================
# Driver half (the guest's front end)
# =========================================================================================
@njit(inline="always")
def driver_add(vq, addrs, lens, writable, token):
    """Make a chain of ``len(lens)`` descriptors available at the driver's position; return
    its buffer id, EMPTY if fewer descriptors are free, BROKEN if the queue is broken.
    Device-readable segments come before device-writable ones (the caller orders them)."""
    n = lens.shape[0]
    if vq.st[DRV_BROKEN] != 0:
        return BROKEN
    if n == 0 or vq.st[DRV_NUM_FREE] < n:
        return EMPTY
    q = vq.queue_size
    buf_id = vq.st[DRV_FREE_HEAD]
    head = vq.st[DRV_NEXT_AVAIL]
    wrap = vq.st[DRV_AVAIL_WRAP]
    i = head
    cur = buf_id
    head_flags = 0
    for k in range(n):
        # AVAIL = the wrap counter, USED = its inverse
        flags = VRING_PACKED_DESC_F_AVAIL if wrap else VRING_PACKED_DESC_F_USED
        if k < n - 1:
            flags |= VRING_DESC_F_NEXT
        if writable[k]:
            flags |= VRING_DESC_F_WRITE
        o = DESC_SIZE * i
        st64(vq, o, np.int64(addrs[k]))
        st32(vq, o + 8, np.int64(lens[k]))
        st16(vq, o + 12, buf_id)
        if k == 0:
            head_flags = flags  # published last, below
        else:
            st16(vq, o + 14, flags)
        cur = vq.st[ARRAYS + DRV_CHAIN_NEXT * q + cur]
        i += 1
        if i == q:
            i = 0
            wrap ^= 1
    vq.st[DRV_NEXT_AVAIL] = i
    vq.st[DRV_AVAIL_WRAP] = wrap
    vq.st[DRV_FREE_HEAD] = cur
    vq.st[DRV_NUM_FREE] -= n
    vq.st[ARRAYS + DRV_CHAIN_LEN * q + buf_id] = n
    vq.st[ARRAYS + DRV_TOKEN * q + buf_id] = token
    vq.st[DRV_NUM_ADDED] += n
    # the head's flags make the whole chain visible (a write barrier precedes it in C)
    st16(vq, DESC_SIZE * head + 14, head_flags)
    return buf_id


@njit(inline="always")
def driver_kick_prepare(vq):
    """Does the device want a kick for the descriptors added since the last decision?
    (Linux: the device event flags decide, unless they are DESC: then the event offset,
    moved onto this lap's scale, must lie in [old, new).)"""
    q = vq.queue_size
    new = vq.st[DRV_NEXT_AVAIL]
    old = (new - vq.st[DRV_NUM_ADDED]) & 0xFFFF
    vq.st[DRV_NUM_ADDED] = 0
    flags = ld16(vq, vq.device_off + 2)
    if flags != VRING_PACKED_EVENT_FLAG_DESC:
        return flags != VRING_PACKED_EVENT_FLAG_DISABLE
    event = _event_offset(ld16(vq, vq.device_off), vq.st[DRV_AVAIL_WRAP], q)
    return vring_need_event(event, new, old)


@njit(inline="always")
def driver_get_used(vq):
    """Reap one used buffer: return its token (>= 0), EMPTY or BROKEN; its len goes to
    ``st[DRV_LAST_LEN]``.  The id goes back on the free list and the driver's position
    skips the chain's descriptor count."""
    if vq.st[DRV_BROKEN] != 0:
        return BROKEN
    q = vq.queue_size
    pos = vq.st[DRV_LAST_USED]
    wrap = vq.st[DRV_USED_WRAP]
    o = DESC_SIZE * pos
    if not _is_used(ld16(vq, o + 14), wrap):
        return EMPTY
    buf_id = ld16(vq, o + 12)
    if buf_id >= q:
        return mark_broken(vq, DRV_BROKEN, USED_ID_OUT_OF_RANGE, buf_id)
    token = vq.st[ARRAYS + DRV_TOKEN * q + buf_id]
    if token < 0:
        return mark_broken(vq, DRV_BROKEN, USED_ID_NOT_OUTSTANDING, buf_id)
    n = free_chain(vq, buf_id)
    vq.st[DRV_LAST_LEN] = ld32(vq, o + 8)
    pos += n
    if pos >= q:
        pos -= q
        wrap ^= 1
    vq.st[DRV_LAST_USED] = pos
    vq.st[DRV_USED_WRAP] = wrap
    if vq.st[DRV_EVENT_FLAGS_SHADOW] == VRING_PACKED_EVENT_FLAG_DESC:
        # "interrupt me when the next one is used"
        st16(vq, vq.driver_off, pos | (wrap << VRING_PACKED_EVENT_F_WRAP_CTR))
    return token


@njit(inline="always")
def driver_disable_interrupts(vq):
    if vq.st[DRV_EVENT_FLAGS_SHADOW] != VRING_PACKED_EVENT_FLAG_DISABLE:
        vq.st[DRV_EVENT_FLAGS_SHADOW] = VRING_PACKED_EVENT_FLAG_DISABLE
        st16(vq, vq.driver_off + 2, VRING_PACKED_EVENT_FLAG_DISABLE)


@njit(inline="always")
def driver_enable_interrupts(vq):
    """Ask for interrupts again (with EVENT_IDX: for the next used descriptor, at the
    driver's position); return True if a used buffer is already waiting (the caller must
    reap it: no interrupt will come for it)."""
    pos = vq.st[DRV_LAST_USED]
    wrap = vq.st[DRV_USED_WRAP]
    if vq.st[DRV_EVENT_IDX]:
        st16(vq, vq.driver_off, pos | (wrap << VRING_PACKED_EVENT_F_WRAP_CTR))
    if vq.st[DRV_EVENT_FLAGS_SHADOW] == VRING_PACKED_EVENT_FLAG_DISABLE:
        flags = (
            VRING_PACKED_EVENT_FLAG_DESC if vq.st[DRV_EVENT_IDX] else VRING_PACKED_EVENT_FLAG_ENABLE
        )
        vq.st[DRV_EVENT_FLAGS_SHADOW] = flags
        st16(vq, vq.driver_off + 2, flags)
    return _is_used(ld16(vq, DESC_SIZE * pos + 14), wrap)


# =========================================================================================
# Device half (the back end: QEMU's I/O thread, or hardware)
# =========================================================================================
@njit(inline="always")
def device_pop(vq):
    """Take the chain at the device's position: return its buffer id, EMPTY or BROKEN.  Its
    readable/writable bytes, descriptor count and first address go to ``st[DEV_CHAIN_*]``."""
    if vq.st[DEV_BROKEN] != 0:
        return BROKEN
    q = vq.queue_size
    pos = vq.st[DEV_NEXT_AVAIL]
    wrap = vq.st[DEV_AVAIL_WRAP]
    flags = ld16(vq, DESC_SIZE * pos + 14)
    if not _is_avail(flags, wrap):
        return EMPTY
    room = q - vq.st[DEV_IN_USE]  # descriptors the driver can have made available
    i = pos
    n = 0
    readable = 0
    writable = 0
    seen_writable = False
    while True:
        n += 1
        if n > room:
            if n > q:
                return mark_broken(vq, DEV_BROKEN, CHAIN_TOO_LONG, pos)
            return mark_broken(vq, DEV_BROKEN, CHAIN_OVERRUNS, pos)
        o = DESC_SIZE * i
        if n > 1:
            flags = ld16(vq, o + 14)
            if not _is_avail(flags, wrap):
                return mark_broken(vq, DEV_BROKEN, DESC_NOT_AVAILABLE, i)
        if flags & VRING_DESC_F_INDIRECT:
            return mark_broken(vq, DEV_BROKEN, INDIRECT_NOT_NEGOTIATED, i)
        if flags & VRING_DESC_F_WRITE:
            writable += ld32(vq, o + 8)
            seen_writable = True
        elif seen_writable:
            return mark_broken(vq, DEV_BROKEN, READABLE_AFTER_WRITABLE, i)
        else:
            readable += ld32(vq, o + 8)
        i += 1
        if i == q:
            i = 0
            wrap ^= 1
        if (flags & VRING_DESC_F_NEXT) == 0:
            break
    buf_id = ld16(vq, o + 12)  # the id in the chain's last descriptor
    if buf_id >= q:
        return mark_broken(vq, DEV_BROKEN, ID_OUT_OF_RANGE, buf_id)
    if vq.st[ARRAYS + DEV_HELD * q + buf_id] != 0:
        return mark_broken(vq, DEV_BROKEN, ID_ALREADY_HELD, buf_id)
    vq.st[ARRAYS + DEV_HELD * q + buf_id] = n
    vq.st[DEV_IN_USE] += n
    vq.st[DEV_NEXT_AVAIL] = i
    vq.st[DEV_AVAIL_WRAP] = wrap
    vq.st[DEV_CHAIN_ADDR] = ld64(vq, DESC_SIZE * pos)
    vq.st[DEV_CHAIN_READABLE] = readable
    vq.st[DEV_CHAIN_WRITABLE] = writable
    vq.st[DEV_CHAIN_DESCS] = n
    return buf_id


@njit(inline="always")
def device_push_used(vq, buf_id, written):
    """Return chain ``buf_id``: one used descriptor (id, len, then flags with AVAIL = USED =
    the device's wrap counter, and WRITE if bytes were written) at the device's used
    position, which then skips the chain's descriptor count."""
    q = vq.queue_size
    if vq.st[DEV_BROKEN] != 0:
        return
    if buf_id < 0 or buf_id >= q or vq.st[ARRAYS + DEV_HELD * q + buf_id] == 0:
        mark_broken(vq, DEV_BROKEN, PUSH_NOT_HELD, buf_id)
        return
    n = vq.st[ARRAYS + DEV_HELD * q + buf_id]
    pos = vq.st[DEV_NEXT_USED]
    wrap = vq.st[DEV_USED_WRAP]
    o = DESC_SIZE * pos
    st32(vq, o + 8, written)
    st16(vq, o + 12, buf_id)
    flags = (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED) if wrap else 0
    if written > 0:
        flags |= VRING_DESC_F_WRITE
    st16(vq, o + 14, flags)  # published last (a write barrier precedes it in C)
    vq.st[ARRAYS + DEV_HELD * q + buf_id] = 0
    vq.st[DEV_IN_USE] -= n
    pos += n
    if pos >= q:
        pos -= q
        vq.st[DEV_USED_WRAP] = wrap ^ 1
        vq.st[DEV_SIGNALLED_VALID] = 0  # QEMU: the next decision after a wrap interrupts
    vq.st[DEV_NEXT_USED] = pos


@njit(inline="always")
def device_should_interrupt(vq):
    """Does the driver want an interrupt for the buffers used since the last decision?
    (QEMU: DISABLE no, ENABLE yes, else DESC: yes on the first decision or after a wrap,
    else iff the event offset lies in [old, new) on this lap's scale.)"""
    flags = ld16(vq, vq.driver_off + 2)
    old = vq.st[DEV_SIGNALLED_USED]
    new = vq.st[DEV_NEXT_USED]
    valid = vq.st[DEV_SIGNALLED_VALID]
    vq.st[DEV_SIGNALLED_USED] = new
    vq.st[DEV_SIGNALLED_VALID] = 1
    if flags == VRING_PACKED_EVENT_FLAG_DISABLE:
        return False
    if flags == VRING_PACKED_EVENT_FLAG_ENABLE:
        return True
    if valid == 0:
        return True
    event = _event_offset(ld16(vq, vq.driver_off), vq.st[DEV_USED_WRAP], vq.queue_size)
    return vring_need_event(event, new, old)


@njit(inline="always")
def device_disable_kicks(vq):
    st16(vq, vq.device_off + 2, VRING_PACKED_EVENT_FLAG_DISABLE)


@njit(inline="always")
def device_enable_kicks(vq):
    """Ask for kicks again (with EVENT_IDX: for the descriptor at the device's position);
    return True if a chain is already waiting there (look again: no kick will come)."""
    pos = vq.st[DEV_NEXT_AVAIL]
    wrap = vq.st[DEV_AVAIL_WRAP]
    if vq.st[DEV_EVENT_IDX]:
        st16(vq, vq.device_off, pos | (wrap << VRING_PACKED_EVENT_F_WRAP_CTR))
        st16(vq, vq.device_off + 2, VRING_PACKED_EVENT_FLAG_DESC)
    else:
        st16(vq, vq.device_off + 2, VRING_PACKED_EVENT_FLAG_ENABLE)
    return _is_avail(ld16(vq, DESC_SIZE * pos + 14), wrap)


def owners(vq: Virtqueue) -> list[int | None]:
    """The token of the outstanding request each descriptor slot belongs to (None: free):
    the driver's in-flight slots run from its used position for as many descriptors as it
    has not got back, and each carries the buffer id last written there (the driver's, or
    the device's in a used descriptor)."""
    q = vq.queue_size
    token = STATE.array_views(vq.st, q)["token"]
    ids = views(vq)["desc_id"]
    owner: list[int | None] = [None] * q
    for k in range(q - int(vq.st[DRV_NUM_FREE])):
        i = (int(vq.st[DRV_LAST_USED]) + k) % q
        if ids[i] < q and token[ids[i]] >= 0:
            owner[i] = int(token[ids[i]])
    return owner
