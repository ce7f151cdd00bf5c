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
    BROKEN,
    CHAIN_ADDR,
    CHAIN_DESCS,
    CHAIN_READABLE,
    CHAIN_WRITABLE,
    DEV_BROKEN,
    DEV_EVENT_IDX,
    DRV_BROKEN,
    DRV_EVENT_IDX,
    DRV_LAST_LEN,
    EMPTY,
    FREE_HEAD,
    FREE_LIST,
    NUM_FREE,
    SPLIT,
    Virtqueue,
    _break,
    _free_chain,
    _ld16,
    _ld32,
    _st16,
    _st32,
    _st64,
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

# --- private state: slots of Virtqueue.st (besides ringmem's common ones) ------------------
# driver
NUM_ADDED = 2  # chains made available since the last kick decision
LAST_USED_IDX = 3  # next used-ring entry the driver will read (free-running u16)
AVAIL_IDX_SHADOW = 4  # the driver's copy of avail_idx
AVAIL_FLAGS_SHADOW = 5  # the driver's copy of avail_flags
# device
NEXT_AVAIL = 16  # next available-ring entry the device will read (free-running u16)
NEXT_USED = 17  # the device's used_idx (free-running u16)
SIGNALLED_USED = 18  # used idx at the last interrupt decision (EVENT_IDX)
SIGNALLED_VALID = 19  # 0 until the first interrupt decision
SHADOW_AVAIL = 20  # last avail_idx the device read and validated
CHAIN_NEXT = FREE_LIST  # driver-private arrays: chain_next[q], chain_len[q], token[q]

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
    if not isinstance(event_idx, (bool, np.bool_)):
        raise ValueError(f"event_idx must be True or False, got {event_idx!r}")
    size = split_ring_size(q, align)
    if align < 4:
        raise ValueError(f"align must be at least 4 (the used ring is 4-byte aligned), got {align}")
    if mem is None:
        mem = np.zeros(size, dtype=np.uint8)
    elif not (
        isinstance(mem, np.ndarray)
        and mem.dtype == np.uint8
        and mem.ndim == 1
        and mem.flags.writeable
        and mem.flags.c_contiguous
        and mem.size >= size
    ):
        raise ValueError(
            f"mem must be a writable contiguous 1-D uint8 array of at least {size} bytes"
        )
    st = np.zeros(CHAIN_NEXT + 3 * q, dtype=np.int64)
    st[NUM_FREE] = q
    st[DRV_EVENT_IDX] = st[DEV_EVENT_IDX] = int(event_idx)
    st[CHAIN_NEXT : CHAIN_NEXT + q] = (np.arange(q) + 1) % q
    st[CHAIN_NEXT + 2 * q :] = -1  # no tokens outstanding
    return Virtqueue(mem[:size], st, q, DESC_SIZE * q, used_ring_offset(q, align), SPLIT)


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
        "chain_next": vq.st[CHAIN_NEXT : CHAIN_NEXT + q],
        "chain_len": vq.st[CHAIN_NEXT + q : CHAIN_NEXT + 2 * q],
        "token": vq.st[CHAIN_NEXT + 2 * q : CHAIN_NEXT + 3 * q],
    }


# =========================================================================================
# Driver half (the guest's front end)
# =========================================================================================
@njit(inline="always")
def _driver_add(vq, addrs, lens, writable, token):
    """Make a chain of ``len(lens)`` descriptors available; return its head, EMPTY if the
    free list is too short, BROKEN if the queue is broken.  Device-readable segments must
    come before device-writable ones (the caller orders them)."""
    n = lens.shape[0]
    if vq.st[DRV_BROKEN] != 0:
        return BROKEN
    if n == 0 or vq.st[NUM_FREE] < n:
        return EMPTY
    q = vq.queue_size
    head = vq.st[FREE_HEAD]
    i = head
    for k in range(n):
        last = i
        i = vq.st[CHAIN_NEXT + i]
        flags = VRING_DESC_F_WRITE if writable[k] else 0
        if k < n - 1:
            flags |= VRING_DESC_F_NEXT
        o = DESC_SIZE * last
        _st64(vq, o, np.int64(addrs[k]))
        _st32(vq, o + 8, np.int64(lens[k]))
        _st16(vq, o + 12, flags)
        _st16(vq, o + 14, i if k < n - 1 else 0)
    vq.st[FREE_HEAD] = i
    vq.st[NUM_FREE] -= n
    vq.st[CHAIN_NEXT + q + head] = n
    vq.st[CHAIN_NEXT + 2 * q + head] = token
    avail = vq.st[AVAIL_IDX_SHADOW]
    _st16(vq, vq.driver_off + 4 + 2 * (avail & (q - 1)), head)
    avail = (avail + 1) & U16_MASK
    vq.st[AVAIL_IDX_SHADOW] = avail
    _st16(vq, vq.driver_off + 2, avail)  # published after the entry (a write barrier in C)
    vq.st[NUM_ADDED] += 1
    return head


@njit(inline="always")
def _driver_kick_prepare(vq):
    """Does the device want a kick for the chains added since the last decision?"""
    new = vq.st[AVAIL_IDX_SHADOW]
    old = (new - vq.st[NUM_ADDED]) & U16_MASK
    vq.st[NUM_ADDED] = 0
    if vq.st[DRV_EVENT_IDX]:
        return vring_need_event(_ld16(vq, vq.device_off + 4 + 8 * vq.queue_size), new, old)
    return (_ld16(vq, vq.device_off) & VRING_USED_F_NO_NOTIFY) == 0


@njit(inline="always")
def _driver_get_used(vq):
    """Reap one used buffer: return its token (>= 0), EMPTY or BROKEN; its len goes to
    ``st[DRV_LAST_LEN]``.  The chain goes back on the free list."""
    if vq.st[DRV_BROKEN] != 0:
        return BROKEN
    q = vq.queue_size
    last = vq.st[LAST_USED_IDX]
    used_idx = _ld16(vq, vq.device_off + 2)
    pending = (used_idx - last) & U16_MASK
    if pending == 0:
        return EMPTY
    if pending > q:
        return _break(vq, DRV_BROKEN, USED_IDX_TOO_FAR, used_idx)
    o = vq.device_off + 4 + 8 * (last & (q - 1))
    head = _ld32(vq, o)
    if head >= q:
        return _break(vq, DRV_BROKEN, USED_ID_OUT_OF_RANGE, head)
    token = vq.st[CHAIN_NEXT + 2 * q + head]
    if token < 0:
        return _break(vq, DRV_BROKEN, USED_ID_NOT_A_HEAD, head)
    _free_chain(vq, head)
    last = (last + 1) & U16_MASK
    vq.st[LAST_USED_IDX] = last
    vq.st[DRV_LAST_LEN] = _ld32(vq, o + 4)
    if vq.st[DRV_EVENT_IDX] != 0 and (vq.st[AVAIL_FLAGS_SHADOW] & VRING_AVAIL_F_NO_INTERRUPT) == 0:
        _st16(vq, vq.driver_off + 4 + 2 * q, last)  # used_event: "after the next one"
    return token


@njit(inline="always")
def _driver_disable_interrupts(vq):
    if (vq.st[AVAIL_FLAGS_SHADOW] & VRING_AVAIL_F_NO_INTERRUPT) == 0:
        vq.st[AVAIL_FLAGS_SHADOW] |= VRING_AVAIL_F_NO_INTERRUPT
        if vq.st[DRV_EVENT_IDX]:
            # Linux writes 0 here too ("a hack"): the device ignores avail_flags with
            # EVENT_IDX, so interrupts stay off only until used idx next passes 0.
            _st16(vq, vq.driver_off + 4 + 2 * vq.queue_size, 0)
        else:
            _st16(vq, vq.driver_off, vq.st[AVAIL_FLAGS_SHADOW])


@njit(inline="always")
def _driver_enable_interrupts(vq):
    """Ask for interrupts again; return True if used buffers are already pending (the
    caller must reap them: no interrupt will come for those)."""
    if vq.st[AVAIL_FLAGS_SHADOW] & VRING_AVAIL_F_NO_INTERRUPT:
        vq.st[AVAIL_FLAGS_SHADOW] &= ~VRING_AVAIL_F_NO_INTERRUPT
        if not vq.st[DRV_EVENT_IDX]:
            _st16(vq, vq.driver_off, vq.st[AVAIL_FLAGS_SHADOW])
    _st16(vq, vq.driver_off + 4 + 2 * vq.queue_size, vq.st[LAST_USED_IDX])
    return ((_ld16(vq, vq.device_off + 2) - vq.st[LAST_USED_IDX]) & U16_MASK) != 0


# =========================================================================================
# Device half (the back end: QEMU's I/O thread, vhost, or hardware)
# =========================================================================================
@njit(inline="always")
def _device_avail_count(vq):
    """Validate avail_idx and return how many chains wait (>= 0), or BROKEN."""
    if vq.st[DEV_BROKEN] != 0:
        return BROKEN
    avail = _ld16(vq, vq.driver_off + 2)
    moved = (avail - vq.st[SHADOW_AVAIL]) & U16_MASK
    if moved != 0:
        if moved > 0x8000:
            return _break(vq, DEV_BROKEN, AVAIL_IDX_BACKWARDS, avail)
        if ((avail - vq.st[NEXT_AVAIL]) & U16_MASK) > vq.queue_size:
            return _break(vq, DEV_BROKEN, AVAIL_IDX_TOO_FAR, avail)
        vq.st[SHADOW_AVAIL] = avail
    return (avail - vq.st[NEXT_AVAIL]) & U16_MASK


@njit(inline="always")
def _device_pop(vq):
    """Take the next available chain: return its head, EMPTY or BROKEN.  The chain's
    readable/writable byte counts and length go to ``st[CHAIN_*]``."""
    waiting = _device_avail_count(vq)
    if waiting == BROKEN:
        return BROKEN
    if waiting == 0:
        return EMPTY
    q = vq.queue_size
    head = _ld16(vq, vq.driver_off + 4 + 2 * (vq.st[NEXT_AVAIL] & (q - 1)))
    if head >= q:
        return _break(vq, DEV_BROKEN, HEAD_OUT_OF_RANGE, head)
    i = head
    n = 0
    readable = 0
    writable = 0
    vq.st[CHAIN_ADDR] = _ld32(vq, DESC_SIZE * head) | (_ld32(vq, DESC_SIZE * head + 4) << 32)
    while True:
        n += 1
        if n > q:
            return _break(vq, DEV_BROKEN, DESC_LOOP, head)
        o = DESC_SIZE * i
        flags = _ld16(vq, o + 12)
        if flags & VRING_DESC_F_INDIRECT:
            return _break(vq, DEV_BROKEN, INDIRECT_NOT_NEGOTIATED, i)
        if flags & VRING_DESC_F_WRITE:
            writable += _ld32(vq, o + 8)
        elif writable > 0:
            return _break(vq, DEV_BROKEN, READABLE_AFTER_WRITABLE, i)
        else:
            readable += _ld32(vq, o + 8)
        if (flags & VRING_DESC_F_NEXT) == 0:
            break
        i = _ld16(vq, o + 14)
        if i >= q:
            return _break(vq, DEV_BROKEN, NEXT_OUT_OF_RANGE, i)
    vq.st[NEXT_AVAIL] = (vq.st[NEXT_AVAIL] + 1) & U16_MASK
    vq.st[CHAIN_READABLE] = readable
    vq.st[CHAIN_WRITABLE] = writable
    vq.st[CHAIN_DESCS] = n
    return head


@njit(inline="always")
def _device_push_used(vq, head, written):
    """Return a chain: write the used element, then publish used_idx."""
    o = vq.device_off + 4 + 8 * (vq.st[NEXT_USED] & (vq.queue_size - 1))
    _st32(vq, o, head)
    _st32(vq, o + 4, written)
    vq.st[NEXT_USED] = (vq.st[NEXT_USED] + 1) & U16_MASK
    _st16(vq, vq.device_off + 2, vq.st[NEXT_USED])


@njit(inline="always")
def _device_should_interrupt(vq):
    """Does the driver want an interrupt for the buffers used since the last decision?"""
    if not vq.st[DEV_EVENT_IDX]:
        return (_ld16(vq, vq.driver_off) & VRING_AVAIL_F_NO_INTERRUPT) == 0
    old = vq.st[SIGNALLED_USED]
    new = vq.st[NEXT_USED]
    valid = vq.st[SIGNALLED_VALID]
    vq.st[SIGNALLED_USED] = new
    vq.st[SIGNALLED_VALID] = 1
    if valid == 0:
        return True
    return vring_need_event(_ld16(vq, vq.driver_off + 4 + 2 * vq.queue_size), new, old)


@njit(inline="always")
def _device_disable_kicks(vq):
    # With EVENT_IDX nothing is written: avail_event keeps its old value, which the driver's
    # index has already passed, so need_event() stays false until the device re-enables.
    if not vq.st[DEV_EVENT_IDX]:
        _st16(vq, vq.device_off, _ld16(vq, vq.device_off) | VRING_USED_F_NO_NOTIFY)


@njit(inline="always")
def _device_enable_kicks(vq):
    """Ask for kicks again; return True if chains arrived meanwhile (look again: no kick
    will come for those)."""
    if vq.st[DEV_EVENT_IDX]:
        _st16(vq, vq.device_off + 4 + 8 * vq.queue_size, vq.st[SHADOW_AVAIL])
    else:
        _st16(vq, vq.device_off, _ld16(vq, vq.device_off) & ~VRING_USED_F_NO_NOTIFY & 0xFFFF)
    return ((_ld16(vq, vq.driver_off + 2) - vq.st[NEXT_AVAIL]) & U16_MASK) != 0


def broken_reason(vq: Virtqueue) -> str | None:
    """Why the queue is broken (first reason found by either side), or None."""
    for slot in (DEV_BROKEN, DRV_BROKEN):
        if vq.st[slot]:
            return REASONS[int(vq.st[slot])].format(int(vq.st[slot + 1]))
    return None


_LISTS = (
    "chain_next",
    "chain_len",
    "token",
    "desc_addr",
    "desc_len",
    "desc_flags",
    "desc_next",
    "avail_ring",
    "used_ring_id",
    "used_ring_len",
)


def snapshot(vq: Virtqueue) -> dict:
    """Plain-Python copy of the shared ring and both sides' state (for drawing)."""
    st = vq.st
    snap = {
        k: (v.tolist() if v.size > 1 or k in _LISTS else int(v[0])) for k, v in views(vq).items()
    }
    snap.update(
        free_head=int(st[FREE_HEAD]),
        num_free=int(st[NUM_FREE]),
        last_used_idx=int(st[LAST_USED_IDX]),
        next_avail=int(st[NEXT_AVAIL]),
        next_used=int(st[NEXT_USED]),
        outstanding=[i for i, t in enumerate(snap["token"]) if t >= 0],
    )
    return snap
