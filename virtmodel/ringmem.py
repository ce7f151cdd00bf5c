"""What every virtqueue layout shares: the shared bytes and private state of one queue,
little-endian loads and stores on those bytes, the return codes, the declaration of the
private-state slots, and the helpers both layouts use (the ``mem`` checks, the free list,
breaking a queue and saying why, the snapshot).

A queue is a :class:`Virtqueue`: ``mem`` holds exactly the bytes a guest would place in
memory for the spec's three areas (all fields little-endian, as the spec's ``le16`` /
``le32`` / ``le64``), ``st`` holds what each side keeps in its own memory.

Private state is declared, never numbered by hand: a :class:`State` names each side's slots
(:data:`DRIVER` or :data:`DEVICE`) in the spec's words and gives each the next free index of
``st``; a q-entry array gets the next array number ``k`` and lives at ``ARRAYS + k * q``.
:data:`COMMON` declares the slots every layout keeps (the ring interface,
:mod:`virtmodel.ringops`, reads them whatever the layout); a layout extends it
(``State("split", COMMON)``) and declares its own after them, then calls
:meth:`State.check`, which raises at import if two slots overlap.  The constants are named
after their side and the slot: ``DEV_NEXT_AVAIL`` is the device's ``next_avail`` in every
layout, ``DRV_NEXT_AVAIL`` the packed driver's.

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
"""The queue is broken: see :func:`broken_reason`."""


# --- private state, declared by name ------------------------------------------------------
DRIVER = "driver"
DEVICE = "device"
SIDES = (DRIVER, DEVICE)

ARRAYS = 32
"""Index of ``st`` where the q-entry arrays begin: scalar slots take 0..ARRAYS-1."""


class Slot(NamedTuple):
    """One declared piece of a side's private state."""

    side: str  # DRIVER or DEVICE
    name: str  # the spec's word for it (design.md, "Vocabulary")
    start: int  # scalar: first index in st; array: its number k (at ARRAYS + k * q)
    width: int  # scalar: the indices it takes; 0 for a q-entry array


class State:
    """The private state a layout keeps in ``Virtqueue.st``: each side's slots declared by
    name, in order, each given the next free index (arrays the next array number).

    Examples
    --------
    >>> s = State("example", COMMON)
    >>> s.driver("num_added") == max(x.start + x.width for x in COMMON.slots)
    True
    >>> s.check().size(4) == ARRAYS + 4 * len(s.arrays())
    True
    """

    def __init__(self, layout: str, base: State | None = None):
        self.layout = layout
        self.slots: list[Slot] = list(base.slots) if base else []

    def _declare(self, side: str, name: str, width: int) -> int:
        if width:
            index = max((s.start + s.width for s in self.slots if s.width), default=0)
        else:
            index = len(self.arrays())
        self.slots.append(Slot(side, name, index, width))
        return index

    def driver(self, name: str, width: int = 1) -> int:
        """Declare a driver slot of ``width`` indices; return its index."""
        return self._declare(DRIVER, name, width)

    def device(self, name: str, width: int = 1) -> int:
        """Declare a device slot of ``width`` indices; return its index."""
        return self._declare(DEVICE, name, width)

    def driver_array(self, name: str) -> int:
        """Declare a q-entry driver array; return its number k (it starts at
        ``ARRAYS + k * queue_size``)."""
        return self._declare(DRIVER, name, 0)

    def device_array(self, name: str) -> int:
        """Declare a q-entry device array; return its number k."""
        return self._declare(DEVICE, name, 0)

    def arrays(self) -> list[Slot]:
        return [s for s in self.slots if not s.width]

    def check(self) -> State:
        """Raise ValueError if two slots overlap, a scalar slot reaches the arrays, two
        arrays share a number or a side declares a name twice; return self."""
        taken: dict[int, Slot] = {}
        names: set[tuple[str, str]] = set()
        for s in self.slots:
            where = f"{self.layout}: {s.side} slot {s.name!r}"
            if s.side not in SIDES:
                raise ValueError(f"{where}: side must be one of {SIDES}")
            if (s.side, s.name) in names:
                raise ValueError(f"{where} is declared twice")
            names.add((s.side, s.name))
            cells = range(s.start, s.start + s.width) if s.width else [-1 - s.start]
            if s.width and (s.start < 0 or s.start + s.width > ARRAYS):
                raise ValueError(
                    f"{where} at {s.start}..{s.start + s.width - 1} is outside "
                    f"the scalar slots 0..{ARRAYS - 1} (it would overlap the arrays)"
                )
            for c in cells:
                if c in taken:
                    o = taken[c]
                    raise ValueError(f"{where} overlaps {o.side} slot {o.name!r}")
                taken[c] = s
        return self

    def size(self, queue_size: int) -> int:
        """Length of ``st`` for a queue of ``queue_size`` entries."""
        return ARRAYS + len(self.arrays()) * queue_size

    def array_views(self, st: np.ndarray, queue_size: int) -> dict[str, np.ndarray]:
        """Writable views of the q-entry arrays, by name."""
        q = queue_size
        return {
            s.name: st[ARRAYS + s.start * q : ARRAYS + (s.start + 1) * q] for s in self.arrays()
        }

    def read(self, st: np.ndarray, queue_size: int) -> dict[str, dict]:
        """Each side's state as plain Python, by name: ints for slots of width 1, lists for
        wider slots and arrays."""
        out: dict[str, dict] = {side: {} for side in SIDES}
        for s in self.slots:
            if s.width == 1:
                value = int(st[s.start])
            else:
                lo = s.start if s.width else ARRAYS + s.start * queue_size
                value = st[lo : lo + (s.width or queue_size)].tolist()
            out[s.side][s.name] = value
        return out


COMMON = State("common")
"""The slots every layout keeps, at the same indices (the ring interface reads them)."""
DRV_FREE_HEAD = COMMON.driver("free_head")  # first entry of its free list
DRV_NUM_FREE = COMMON.driver("num_free")  # descriptors it can still make available
DRV_EVENT_IDX = COMMON.driver("event_idx")  # 1 if VIRTIO_F_EVENT_IDX was negotiated
DRV_BROKEN = COMMON.driver("broken", 2)  # reason code (0 = healthy), the offending value
DRV_LAST_LEN = COMMON.driver("last_len")  # len of the last used buffer reaped
DEV_EVENT_IDX = COMMON.device("event_idx")  # 1 if VIRTIO_F_EVENT_IDX was negotiated
DEV_BROKEN = COMMON.device("broken", 2)  # reason code, the offending value
DEV_CHAIN_READABLE = COMMON.device("chain_readable")  # of the last popped chain: bytes...
DEV_CHAIN_WRITABLE = COMMON.device("chain_writable")  # ... device-writable bytes
DEV_CHAIN_DESCS = COMMON.device("chain_descs")  # ... its number of descriptors
DEV_CHAIN_ADDR = COMMON.device("chain_addr")  # ... guest address of its first buffer
# the driver's private arrays (Linux desc_extra): the link after each entry (its free list
# and its chains), and at a chain's head its descriptor count and token (-1: not outstanding)
DRV_CHAIN_NEXT = COMMON.driver_array("chain_next")
DRV_CHAIN_LEN = COMMON.driver_array("chain_len")
DRV_TOKEN = COMMON.driver_array("token")
COMMON.check()


class Virtqueue(NamedTuple):
    """One virtqueue: the shared bytes, both sides' private state, and the layout."""

    mem: np.ndarray  # uint8: the shared areas, little-endian
    st: np.ndarray  # int64: driver and device private state (see State)
    queue_size: int
    driver_off: int  # byte offset of the Driver Area (split: available ring; packed:
    #                  driver event suppression)
    device_off: int  # byte offset of the Device Area (split: used ring; packed: device
    #                  event suppression)
    kind: int  # SPLIT or PACKED


# --- what every layout's make() does ------------------------------------------------------
def check_event_idx(event_idx) -> bool:
    if not isinstance(event_idx, (bool, np.bool_)):
        raise ValueError(f"event_idx must be True or False, got {event_idx!r}")
    return bool(event_idx)


def check_mem(mem, size: int) -> np.ndarray:
    """``mem`` (a writable contiguous 1-D uint8 array of at least ``size`` bytes, e.g. a
    view of guest memory) cut to ``size`` bytes, or a zeroed one if None; ValueError
    otherwise."""
    if mem is None:
        return np.zeros(size, dtype=np.uint8)
    if not (
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
    return mem[:size]


def new_state(state: State, queue_size: int, event_idx: bool) -> np.ndarray:
    """A fresh ``st`` for ``state``: every descriptor free (the free list in order), no
    token outstanding, EVENT_IDX as negotiated; the layout sets its own slots after."""
    q = queue_size
    st = np.zeros(state.size(q), dtype=np.int64)
    st[DRV_NUM_FREE] = q
    st[DRV_EVENT_IDX] = st[DEV_EVENT_IDX] = int(event_idx)
    st[ARRAYS + DRV_CHAIN_NEXT * q : ARRAYS + (DRV_CHAIN_NEXT + 1) * q] = (np.arange(q) + 1) % q
    st[ARRAYS + DRV_TOKEN * q : ARRAYS + (DRV_TOKEN + 1) * q] = -1
    return st


def broken_reason(vq: Virtqueue, reasons: dict[int, str]) -> str | None:
    """Why the queue is broken (the first reason either side found, the device's first),
    or None; ``reasons`` maps the layout's reason codes to messages."""
    for slot in (DEV_BROKEN, DRV_BROKEN):
        if vq.st[slot]:
            return reasons[int(vq.st[slot])].format(int(vq.st[slot + 1]))
    return None


# --- kernels every layout uses --------------------------------------------------------------
_U1 = np.uint64(1)


# They index vq.mem directly (no local alias): see the module docstring on reference counts.
# The byte offset goes in as an unsigned integer: a signed index makes numba guard each
# byte against a negative (wrap-around) index, and those guards keep the compiler from
# fusing a field's byte loads or stores into one load or store of the field's width (the
# bytes and their order stay the spec's; offsets are never negative: every index read
# from shared memory is range-checked before an offset is made from it).
@njit(inline="always")
def ld16(vq, o):
    """The le16 at byte ``o`` of ``vq.mem``."""
    u = np.uint64(o)
    return np.int64(vq.mem[u]) | (np.int64(vq.mem[u + _U1]) << 8)


@njit(inline="always")
def ld32(vq, o):
    """The le32 at byte ``o``."""
    return ld16(vq, o) | (ld16(vq, o + 2) << 16)


@njit(inline="always")
def ld64(vq, o):
    """The le64 at byte ``o``."""
    return ld32(vq, o) | (ld32(vq, o + 4) << 32)


@njit(inline="always")
def st16(vq, o, v):
    """Store ``v`` (0..0xFFFF) as le16 at byte ``o``."""
    if v < 0 or v > 0xFFFF:
        raise ValueError("internal error: 16-bit store out of range (a missing & 0xFFFF)")
    u = np.uint64(o)
    vq.mem[u] = v & 0xFF
    vq.mem[u + _U1] = v >> 8


@njit(inline="always")
def st32(vq, o, v):
    """Store ``v`` as le32 at byte ``o``."""
    st16(vq, o, v & 0xFFFF)
    st16(vq, o + 2, (v >> 16) & 0xFFFF)


@njit(inline="always")
def st64(vq, o, v):
    """Store ``v`` as le64 at byte ``o``."""
    st32(vq, o, v & 0xFFFFFFFF)
    st32(vq, o + 4, (v >> 32) & 0xFFFFFFFF)


@njit(inline="always")
def free_chain(vq, head):
    """Give the outstanding chain that starts at ``head`` back to the driver's free list,
    walking the driver's own links (never the shared descriptors, which the device may
    have changed): return its length."""
    q = vq.queue_size
    n = vq.st[ARRAYS + DRV_CHAIN_LEN * q + head]
    last = head
    for _ in range(n - 1):
        last = vq.st[ARRAYS + DRV_CHAIN_NEXT * q + last]
    vq.st[ARRAYS + DRV_CHAIN_NEXT * q + last] = vq.st[DRV_FREE_HEAD]
    vq.st[DRV_FREE_HEAD] = head
    vq.st[DRV_NUM_FREE] += n
    vq.st[ARRAYS + DRV_TOKEN * q + head] = -1
    vq.st[ARRAYS + DRV_CHAIN_LEN * q + head] = 0
    return n


@njit(inline="always")
def mark_broken(vq, slot, reason, detail):
    """Mark one side broken (``slot``: DRV_BROKEN or DEV_BROKEN; the first reason is
    kept) and return BROKEN."""
    if vq.st[slot] == 0:
        vq.st[slot] = reason
        vq.st[slot + 1] = detail
    return BROKEN
