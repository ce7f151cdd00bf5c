"""The virtio split virtqueue (one layout behind :mod:`virtmodel.ring`), laid out byte for
byte as the spec's legacy layout.

The shared ring is one ``uint8`` buffer, ``mem``, holding exactly what a guest would place
in memory (all fields little-endian, as the spec's ``le16``/``le32``/``le64``):

====================  ======================================================================
descriptor table      ``desc_addr`` (u64), ``desc_len`` (u32), ``desc_flags``, ``desc_next``
(offset 0)            (u16): 16 bytes per entry
available ring        ``avail_flags``, ``avail_idx``, ``avail_ring[queue_size]``,
(``driver_off``)      ``used_event`` (u16 each)
(padding to align)
used ring             ``used_flags``, ``used_idx`` (u16), ``used_ring_id``/``used_ring_len``
(``device_off``)      (u32 pairs), ``avail_event`` (u16)
====================  ======================================================================

Each side also keeps private state that a real driver or device keeps in its own memory,
in one int64 array ``st``: the driver's ``free_head``, ``num_free``, ``num_added``,
``last_used_idx`` and its chain bookkeeping (``chain_next``, ``chain_len``, ``token``); the
device's ``next_avail``, ``next_used`` and event-index shadows.  Nothing in ``mem`` is
trusted by the side that did not write it: a malformed ring marks the queue *broken* with a
reason and the operation returns :data:`BROKEN`; no kernel loops unbounded or indexes out
of range.

The queue is a :class:`virtmodel.ringmem.Virtqueue` (``driver_off`` is the available
ring's offset, ``device_off`` the used ring's); :func:`views` gives named numpy views of
every field for Python code.

The driver half follows Linux ``drivers/virtio/virtio_ring.c`` (split ring); the device half
follows the spec's device requirements and Linux vhost's notification protocol (disable
kicks while draining; re-enable, then look again).  The ``@njit`` kernels take the
:class:`~virtmodel.ringmem.Virtqueue`; callers outside the ring modules go through
:mod:`virtmodel.ring` (the ring interface and its validating Python face, ``ring.Queue``).
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
    SPLIT,
    State,
    Virtqueue,
    check_event_idx,
    check_mem,
    free_chain,
    ld16,
    ld32,
    mark_broken,
    new_state,
    st16,
    st32,
    st64,
)
from .spec import (
    DESC_SIZE,
    LEGACY_PCI_ALIGN,
    U16_MASK,
    VRING_AVAIL_F_NO_INTERRUPT,
    VRING_DESC_F_INDIRECT,
    VRING_DESC_F_NEXT,
    VRING_DESC_F_WRITE,
    VRING_USED_F_NO_NOTIFY,
    check_queue_size,
    split_ring_size,
    used_ring_offset,
    vring_need_event,
)

# --- private state: the common slots (ringmem.COMMON), then the split ring's own --------
STATE = State("split", COMMON)
DRV_NUM_ADDED = STATE.driver("num_added")  # chains made available since the last kick decision
DRV_LAST_USED_IDX = STATE.driver("last_used_idx")  # next used entry it reads (free-running)
DRV_AVAIL_IDX_SHADOW = STATE.driver("avail_idx_shadow")  # its copy of avail_idx
DRV_AVAIL_FLAGS_SHADOW = STATE.driver("avail_flags_shadow")  # its copy of avail_flags
DEV_NEXT_AVAIL = STATE.device("next_avail")  # next available entry it reads (free-running)
DEV_NEXT_USED = STATE.device("next_used")  # its used_idx (free-running)
DEV_SIGNALLED_USED = STATE.device("signalled_used")  # used idx at the last interrupt decision
DEV_SIGNALLED_VALID = STATE.device("signalled_valid")  # 0 until the first interrupt decision
DEV_AVAIL_IDX_SHADOW = STATE.device("avail_idx_shadow")  # last avail_idx read and validated
STATE.check()

AREAS = {  # the spec's three areas: field -> one value per ring entry?
    "descriptor": {"desc_addr": True, "desc_len": True, "desc_flags": True, "desc_next": True},
    "driver": {"avail_flags": False, "avail_idx": False, "avail_ring": True, "used_event": False},
    "device": {
        "used_flags": False,
        "used_idx": False,
        "used_ring_id": True,
        "used_ring_len": True,
        "avail_event": False,
    },
}
"""The fields of :func:`views` in each of the spec's areas (descriptor table, Driver Area =
available ring, Device Area = used ring)."""

# --- reasons a queue breaks ---------------------------------------------------------------
HEAD_OUT_OF_RANGE = 1
NEXT_OUT_OF_RANGE = 2
DESC_LOOP = 3
AVAIL_IDX_TOO_FAR = 4
AVAIL_IDX_BACKWARDS = 5
INDIRECT_NOT_NEGOTIATED = 6
READABLE_AFTER_WRITABLE = 7
USED_ID_OUT_OF_RANGE = 8
USED_ID_NOT_A_HEAD = 9
USED_IDX_TOO_FAR = 10

REASONS = {
    HEAD_OUT_OF_RANGE: "device: available ring names head {} >= queue size",
    NEXT_OUT_OF_RANGE: "device: descriptor next index {} >= queue size",
    DESC_LOOP: "device: descriptor chain from head {} is longer than the queue (a loop)",
    AVAIL_IDX_TOO_FAR: "device: avail idx {} is more than queue size ahead of next_avail",
    AVAIL_IDX_BACKWARDS: "device: avail idx moved backwards to {}",
    INDIRECT_NOT_NEGOTIATED: "device: descriptor {} is INDIRECT but the feature is off",
    READABLE_AFTER_WRITABLE: "device: readable descriptor {} follows a writable one",
    USED_ID_OUT_OF_RANGE: "driver: used ring returns id {} >= queue size",
    USED_ID_NOT_A_HEAD: "driver: used ring returns id {} that is not an outstanding head",
    USED_IDX_TOO_FAR: "driver: used idx {} is more than queue size ahead of last_used_idx",
}


def make(
    queue_size: int, event_idx: bool = False, mem=None, align: int = LEGACY_PCI_ALIGN
) -> Virtqueue:
    """Lay out a split ring of ``queue_size`` entries in ``mem`` (a writable contiguous
    uint8 array of at least ``split_ring_size(queue_size, align)`` bytes, e.g. a view of
    guest memory; a zeroed one is made if None)."""
    q = check_queue_size(queue_size)
    event_idx = check_event_idx(event_idx)
    size = split_ring_size(q, align)
    if align < 4:
        raise ValueError(f"align must be at least 4 (the used ring is 4-byte aligned), got {align}")
    mem = check_mem(mem, size)
    st = new_state(STATE, q, event_idx)
    return Virtqueue(mem, st, q, DESC_SIZE * q, used_ring_offset(q, align), SPLIT)


def views(vq: Virtqueue) -> dict:
    """Named numpy views of every field of the shared ring and of the private arrays
    (writing to a view writes the ring: tests use this to corrupt it on purpose)."""
    q, m = vq.queue_size, vq.mem
    d = m[: DESC_SIZE * q]
    a = m[vq.driver_off : vq.driver_off + 2 * (3 + q)].view("<u2")
    u = m[vq.device_off : vq.device_off + 6 + 8 * q]
    elems = u[4 : 4 + 8 * q].view("<u4").reshape(q, 2)
    return {
        "desc_addr": d.view("<u8").reshape(q, 2)[:, 0],
        "desc_len": d.view("<u4").reshape(q, 4)[:, 2],
        "desc_flags": d.view("<u2").reshape(q, 8)[:, 6],
        "desc_next": d.view("<u2").reshape(q, 8)[:, 7],
        "avail_flags": a[0:1],
        "avail_idx": a[1:2],
        "avail_ring": a[2 : 2 + q],
        "used_event": a[2 + q : 3 + q],
        "used_flags": u[0:2].view("<u2"),
        "used_idx": u[2:4].view("<u2"),
        "used_ring_id": elems[:, 0],
        "used_ring_len": elems[:, 1],
        "avail_event": u[4 + 8 * q : 6 + 8 * q].view("<u2"),
        **STATE.array_views(vq.st, q),
    }


# =========================================================================================
# Driver half (the guest's front end)
# =========================================================================================
@njit(inline="always")
def driver_add(vq, addrs, lens, writable, token):
    """Make a chain of ``len(lens)`` descriptors available; return its head, EMPTY if the
    free list is too short, BROKEN if the queue is broken.  Device-readable segments must
    come before device-writable ones (the caller orders them)."""
    n = lens.shape[0]
    if vq.st[DRV_BROKEN] != 0:
        return BROKEN
    if n == 0 or vq.st[DRV_NUM_FREE] < n:
        return EMPTY
    q = vq.queue_size
    head = vq.st[DRV_FREE_HEAD]
    i = head
    for k in range(n):
        last = i
        i = vq.st[ARRAYS + DRV_CHAIN_NEXT * q + i]
        flags = VRING_DESC_F_WRITE if writable[k] else 0
        if k < n - 1:
            flags |= VRING_DESC_F_NEXT
        o = DESC_SIZE * last
        st64(vq, o, np.int64(addrs[k]))
        st32(vq, o + 8, np.int64(lens[k]))
        st16(vq, o + 12, flags)
        st16(vq, o + 14, i if k < n - 1 else 0)
    vq.st[DRV_FREE_HEAD] = i
    vq.st[DRV_NUM_FREE] -= n
    vq.st[ARRAYS + DRV_CHAIN_LEN * q + head] = n
    vq.st[ARRAYS + DRV_TOKEN * q + head] = token
    avail = vq.st[DRV_AVAIL_IDX_SHADOW]
    st16(vq, vq.driver_off + 4 + 2 * (avail & (q - 1)), head)
    avail = (avail + 1) & U16_MASK
    vq.st[DRV_AVAIL_IDX_SHADOW] = avail
    st16(vq, vq.driver_off + 2, avail)  # published after the entry (a write barrier in C)
    vq.st[DRV_NUM_ADDED] += 1
    return head


@njit(inline="always")
def driver_kick_prepare(vq):
    """Does the device want a kick for the chains added since the last decision?"""
    new = vq.st[DRV_AVAIL_IDX_SHADOW]
    old = (new - vq.st[DRV_NUM_ADDED]) & U16_MASK
    vq.st[DRV_NUM_ADDED] = 0
    if vq.st[DRV_EVENT_IDX]:
        return vring_need_event(ld16(vq, vq.device_off + 4 + 8 * vq.queue_size), new, old)
    return (ld16(vq, vq.device_off) & VRING_USED_F_NO_NOTIFY) == 0


@njit(inline="always")
def driver_get_used(vq):
    """Reap one used buffer: return its token (>= 0), EMPTY or BROKEN; its len goes to
    ``st[DRV_LAST_LEN]``.  The chain goes back on the free list."""
    if vq.st[DRV_BROKEN] != 0:
        return BROKEN
    q = vq.queue_size
    last = vq.st[DRV_LAST_USED_IDX]
    used_idx = ld16(vq, vq.device_off + 2)
    pending = (used_idx - last) & U16_MASK
    if pending == 0:
        return EMPTY
    if pending > q:
        return mark_broken(vq, DRV_BROKEN, USED_IDX_TOO_FAR, used_idx)
    o = vq.device_off + 4 + 8 * (last & (q - 1))
    head = ld32(vq, o)
    if head >= q:
        return mark_broken(vq, DRV_BROKEN, USED_ID_OUT_OF_RANGE, head)
    token = vq.st[ARRAYS + DRV_TOKEN * q + head]
    if token < 0:
        return mark_broken(vq, DRV_BROKEN, USED_ID_NOT_A_HEAD, head)
    free_chain(vq, head)
    last = (last + 1) & U16_MASK
    vq.st[DRV_LAST_USED_IDX] = last
    vq.st[DRV_LAST_LEN] = ld32(vq, o + 4)
    if (
        vq.st[DRV_EVENT_IDX] != 0
        and (vq.st[DRV_AVAIL_FLAGS_SHADOW] & VRING_AVAIL_F_NO_INTERRUPT) == 0
    ):
        st16(vq, vq.driver_off + 4 + 2 * q, last)  # used_event: "after the next one"
    return token


@njit(inline="always")
def driver_disable_interrupts(vq):
    if (vq.st[DRV_AVAIL_FLAGS_SHADOW] & VRING_AVAIL_F_NO_INTERRUPT) == 0:
        vq.st[DRV_AVAIL_FLAGS_SHADOW] |= VRING_AVAIL_F_NO_INTERRUPT
        if vq.st[DRV_EVENT_IDX]:
            # Linux writes 0 here too ("a hack"): the device ignores avail_flags with
            # EVENT_IDX, so interrupts stay off only until used idx next passes 0.
            st16(vq, vq.driver_off + 4 + 2 * vq.queue_size, 0)
        else:
            st16(vq, vq.driver_off, vq.st[DRV_AVAIL_FLAGS_SHADOW])


@njit(inline="always")
def driver_enable_interrupts(vq):
    """Ask for interrupts again; return True if used buffers are already pending (the
    caller must reap them: no interrupt will come for those)."""
    if vq.st[DRV_AVAIL_FLAGS_SHADOW] & VRING_AVAIL_F_NO_INTERRUPT:
        vq.st[DRV_AVAIL_FLAGS_SHADOW] &= ~VRING_AVAIL_F_NO_INTERRUPT
        if not vq.st[DRV_EVENT_IDX]:
            st16(vq, vq.driver_off, vq.st[DRV_AVAIL_FLAGS_SHADOW])
    st16(vq, vq.driver_off + 4 + 2 * vq.queue_size, vq.st[DRV_LAST_USED_IDX])
    return ((ld16(vq, vq.device_off + 2) - vq.st[DRV_LAST_USED_IDX]) & U16_MASK) != 0


# =========================================================================================
# Device half (the back end: QEMU's I/O thread, vhost, or hardware)
# =========================================================================================
@njit(inline="always")
def _device_avail_count(vq):
    """Validate avail_idx and return how many chains wait (>= 0), or BROKEN."""
    if vq.st[DEV_BROKEN] != 0:
        return BROKEN
    avail = ld16(vq, vq.driver_off + 2)
    moved = (avail - vq.st[DEV_AVAIL_IDX_SHADOW]) & U16_MASK
    if moved != 0:
        if moved > 0x8000:
            return mark_broken(vq, DEV_BROKEN, AVAIL_IDX_BACKWARDS, avail)
        if ((avail - vq.st[DEV_NEXT_AVAIL]) & U16_MASK) > vq.queue_size:
            return mark_broken(vq, DEV_BROKEN, AVAIL_IDX_TOO_FAR, avail)
        vq.st[DEV_AVAIL_IDX_SHADOW] = avail
    return (avail - vq.st[DEV_NEXT_AVAIL]) & U16_MASK


@njit(inline="always")
def device_pop(vq):
    """Take the next available chain: return its head, EMPTY or BROKEN.  The chain's
    readable/writable byte counts and length go to ``st[DEV_CHAIN_*]``."""
    waiting = _device_avail_count(vq)
    if waiting == BROKEN:
        return BROKEN
    if waiting == 0:
        return EMPTY
    q = vq.queue_size
    head = ld16(vq, vq.driver_off + 4 + 2 * (vq.st[DEV_NEXT_AVAIL] & (q - 1)))
    if head >= q:
        return mark_broken(vq, DEV_BROKEN, HEAD_OUT_OF_RANGE, head)
    i = head
    n = 0
    readable = 0
    writable = 0
    vq.st[DEV_CHAIN_ADDR] = ld32(vq, DESC_SIZE * head) | (ld32(vq, DESC_SIZE * head + 4) << 32)
    while True:
        n += 1
        if n > q:
            return mark_broken(vq, DEV_BROKEN, DESC_LOOP, head)
        o = DESC_SIZE * i
        flags = ld16(vq, o + 12)
        if flags & VRING_DESC_F_INDIRECT:
            return mark_broken(vq, DEV_BROKEN, INDIRECT_NOT_NEGOTIATED, i)
        if flags & VRING_DESC_F_WRITE:
            writable += ld32(vq, o + 8)
        elif writable > 0:
            return mark_broken(vq, DEV_BROKEN, READABLE_AFTER_WRITABLE, i)
        else:
            readable += ld32(vq, o + 8)
        if (flags & VRING_DESC_F_NEXT) == 0:
            break
        i = ld16(vq, o + 14)
        if i >= q:
            return mark_broken(vq, DEV_BROKEN, NEXT_OUT_OF_RANGE, i)
    vq.st[DEV_NEXT_AVAIL] = (vq.st[DEV_NEXT_AVAIL] + 1) & U16_MASK
    vq.st[DEV_CHAIN_READABLE] = readable
    vq.st[DEV_CHAIN_WRITABLE] = writable
    vq.st[DEV_CHAIN_DESCS] = n
    return head


@njit(inline="always")
def device_push_used(vq, head, written):
    """Return a chain: write the used element, then publish used_idx."""
    o = vq.device_off + 4 + 8 * (vq.st[DEV_NEXT_USED] & (vq.queue_size - 1))
    st32(vq, o, head)
    st32(vq, o + 4, written)
    vq.st[DEV_NEXT_USED] = (vq.st[DEV_NEXT_USED] + 1) & U16_MASK
    st16(vq, vq.device_off + 2, vq.st[DEV_NEXT_USED])


@njit(inline="always")
def device_should_interrupt(vq):
    """Does the driver want an interrupt for the buffers used since the last decision?"""
    if not vq.st[DEV_EVENT_IDX]:
        return (ld16(vq, vq.driver_off) & VRING_AVAIL_F_NO_INTERRUPT) == 0
    old = vq.st[DEV_SIGNALLED_USED]
    new = vq.st[DEV_NEXT_USED]
    valid = vq.st[DEV_SIGNALLED_VALID]
    vq.st[DEV_SIGNALLED_USED] = new
    vq.st[DEV_SIGNALLED_VALID] = 1
    if valid == 0:
        return True
    return vring_need_event(ld16(vq, vq.driver_off + 4 + 2 * vq.queue_size), new, old)


@njit(inline="always")
def device_disable_kicks(vq):
    # With EVENT_IDX nothing is written: avail_event keeps its old value, which the driver's
    # index has already passed, so need_event() stays false until the device re-enables.
    if not vq.st[DEV_EVENT_IDX]:
        st16(vq, vq.device_off, ld16(vq, vq.device_off) | VRING_USED_F_NO_NOTIFY)


@njit(inline="always")
def device_enable_kicks(vq):
    """Ask for kicks again; return True if chains arrived meanwhile (look again: no kick
    will come for those)."""
    if vq.st[DEV_EVENT_IDX]:
        st16(vq, vq.device_off + 4 + 8 * vq.queue_size, vq.st[DEV_AVAIL_IDX_SHADOW])
    else:
        st16(vq, vq.device_off, ld16(vq, vq.device_off) & ~VRING_USED_F_NO_NOTIFY & 0xFFFF)
    return ((ld16(vq, vq.driver_off + 2) - vq.st[DEV_NEXT_AVAIL]) & U16_MASK) != 0


def owners(vq: Virtqueue) -> list[int | None]:
    """The token of the outstanding request each descriptor belongs to (None: free), from
    the driver's own bookkeeping: each outstanding chain walked from its head."""
    q = vq.queue_size
    arr = STATE.array_views(vq.st, q)
    owner: list[int | None] = [None] * q
    for head in range(q):
        token = int(arr["token"][head])
        if token >= 0:
            i = head
            for _ in range(int(arr["chain_len"][head])):
                owner[i] = token
                i = int(arr["chain_next"][i])
    return owner
