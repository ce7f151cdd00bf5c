"""What every virtqueue layout shares: the shared bytes and private state of one queue,
little-endian loads and stores on those bytes, the return codes, and the private-state
slots that the ring interface (:mod:`virtmodel.ring`) reads whatever the layout.

A queue is a :class:`Virtqueue`: ``mem`` holds exactly the bytes a guest would place in
memory for the spec's three areas (all fields little-endian, as the spec's ``le16`` /
``le32`` / ``le64``), ``st`` holds what each side keeps in its own memory.  The layouts
(:mod:`virtmodel.split`, :mod:`virtmodel.packed`) own every other slot of ``st``.

Why two arrays and accessor functions rather than one numpy view per field: numba
reference-counts every array it pulls out of a tuple, and with a dozen views the atomic
reference counting cost ten times more than the ring logic itself (measured: 122 ns vs
10 ns per ``get_used``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._jit import njit

# --- layouts (Virtqueue.kind) -------------------------------------------------------------
SPLIT = 0
PACKED = 1
KINDS = {"split": SPLIT, "packed": PACKED}

# --- return codes -------------------------------------------------------------------------
EMPTY = -1
"""Nothing to do: no room to add, no used buffer, no available chain."""
BROKEN = -2
"""The queue is broken: see :func:`virtmodel.ring.broken_reason`."""

# --- private-state slots with the same meaning in every layout ----------------------------
NUM_FREE = 1  # driver: descriptors it can still make available
DRV_EVENT_IDX = 6  # driver: 1 if VIRTIO_F_EVENT_IDX was negotiated
DRV_BROKEN = 7  # driver: reason code (0 = healthy); the offending value follows (slot 8)
DRV_LAST_LEN = 9  # driver: len of the last used buffer returned
DEV_EVENT_IDX = 21  # device: 1 if VIRTIO_F_EVENT_IDX was negotiated
DEV_BROKEN = 22  # device: reason code; the offending value follows (slot 23)
CHAIN_READABLE = 24  # device, of the last popped chain: device-readable bytes
CHAIN_WRITABLE = 25  # ... device-writable bytes
CHAIN_DESCS = 26  # ... number of descriptors
CHAIN_ADDR = 27  # ... guest address of its first descriptor's buffer
FREE_HEAD = 0  # driver: first entry of its free list (a descriptor, or a buffer id)
FREE_LIST = 32  # driver-private arrays from here: next[q] (its free list and chains'
#                 links), chain_len[q] and token[q] (each at a chain's head; token -1 when
#                 the head is not outstanding); a layout may keep more arrays after them


class Virtqueue(NamedTuple):
    """One virtqueue: the shared bytes, both sides' private state, and the layout."""

    mem: np.ndarray  # uint8: the shared areas, little-endian
    st: np.ndarray  # int64: driver and device private state
    queue_size: int
    driver_off: int  # byte offset of the Driver Area (split: available ring; packed:
    #                  driver event suppression)
    device_off: int  # byte offset of the Device Area (split: used ring; packed: device
    #                  event suppression)
    kind: int  # SPLIT or PACKED


_U1 = np.uint64(1)


# They index vq.mem directly (no local alias): see the module docstring on reference counts.
# The byte offset goes in as an unsigned integer: a signed index makes numba guard each
# byte against a negative (wrap-around) index, and those guards keep the compiler from
# fusing a field's byte loads or stores into one load or store of the field's width (the
# bytes and their order stay the spec's; offsets are never negative: every index read
# from shared memory is range-checked before an offset is made from it).
@njit(inline="always")
def _ld16(vq, o):
    u = np.uint64(o)
    return np.int64(vq.mem[u]) | (np.int64(vq.mem[u + _U1]) << 8)


@njit(inline="always")
def _ld32(vq, o):
    return _ld16(vq, o) | (_ld16(vq, o + 2) << 16)


@njit(inline="always")
def _ld64(vq, o):
    return _ld32(vq, o) | (_ld32(vq, o + 4) << 32)


@njit(inline="always")
def _st16(vq, o, v):
    if v < 0 or v > 0xFFFF:
        raise ValueError("internal error: 16-bit store out of range (a missing & 0xFFFF)")
    u = np.uint64(o)
    vq.mem[u] = v & 0xFF
    vq.mem[u + _U1] = v >> 8


@njit(inline="always")
def _st32(vq, o, v):
    _st16(vq, o, v & 0xFFFF)
    _st16(vq, o + 2, (v >> 16) & 0xFFFF)


@njit(inline="always")
def _st64(vq, o, v):
    _st32(vq, o, v & 0xFFFFFFFF)
    _st32(vq, o + 4, (v >> 32) & 0xFFFFFFFF)


@njit(inline="always")
def _free_chain(vq, head):
    """Give the outstanding chain that starts at ``head`` back to the driver's free list,
    walking the driver's own links (never the shared descriptors, which the device may
    have changed): return its length."""
    q = vq.queue_size
    n = vq.st[FREE_LIST + q + head]
    last = head
    for _ in range(n - 1):
        last = vq.st[FREE_LIST + last]
    vq.st[FREE_LIST + last] = vq.st[FREE_HEAD]
    vq.st[FREE_HEAD] = head
    vq.st[NUM_FREE] += n
    vq.st[FREE_LIST + 2 * q + head] = -1
    vq.st[FREE_LIST + q + head] = 0
    return n


@njit(inline="always")
def _break(vq, slot, reason, detail):
    """Mark one side broken (keeping the first reason) and return BROKEN."""
    if vq.st[slot] == 0:
        vq.st[slot] = reason
        vq.st[slot + 1] = detail
    return BROKEN
