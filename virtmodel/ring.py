"""The ring interface for Python: build a virtqueue of either layout, operate it step by
step (:class:`Queue`, the validating face used by tests, widgets and the book, or the
compiled entry points ``driver_add`` ... ``device_enable_kicks``), say why it broke, and
take a snapshot of it for drawing.

Numba kernels (the event loop, the lab's back ends) call the same operations under the same
names from ``virtmodel.ringops``, inlined; the entry points here are those kernels compiled
on their own, so that a call from Python does not inline-compile the whole ring.

Every layout is a module (``virtmodel.split``, ``virtmodel.packed``) registered in
``LAYOUTS``, with the same parts: ``make`` and ``views``; ``STATE``, its private-state
slots declared by name (``virtmodel.ringmem.State``); ``AREAS``, its fields in the spec's
three areas; ``REASONS``, why it breaks; ``owners``, which request each descriptor belongs
to; and the ten operations that ``virtmodel.ringops`` switches between.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import packed, ringmem, ringops, split
from ._jit import entry_point
from .ringmem import (
    BROKEN,
    DEV_CHAIN_DESCS,
    DEV_CHAIN_READABLE,
    DEV_CHAIN_WRITABLE,
    DRIVER,
    DRV_LAST_LEN,
    DRV_NUM_FREE,
    EMPTY,
    KINDS,
    Virtqueue,
)
from .spec import LEGACY_PCI_ALIGN, check_int

__all__ = [
    "BROKEN",
    "EMPTY",
    "KINDS",
    "LAYOUTS",
    "BrokenQueueError",
    "Chain",
    "Queue",
    "SplitQueue",
    "Virtqueue",
    "broken_reason",
    "make_virtqueue",
    "snapshot",
]

LAYOUTS = {"split": split, "packed": packed}
"""Ring name -> its layout module (see the module docstring for what one holds)."""


def make_virtqueue(
    queue_size: int, event_idx: bool = False, ring: str = "split", mem=None, **layout
) -> Virtqueue:
    """A zeroed virtqueue of ``queue_size`` entries in layout ``ring`` (``mem``: a writable
    contiguous uint8 array to lay it out in, e.g. a view of guest memory; ``layout``:
    layout-specific options such as the split ring's ``align``)."""
    if ring not in LAYOUTS:
        raise ValueError(f"ring must be one of {tuple(LAYOUTS)}, got {ring!r}")
    return LAYOUTS[ring].make(queue_size, event_idx=event_idx, mem=mem, **layout)


def layout_name(vq: Virtqueue) -> str:
    """The name of ``vq``'s layout (a key of :data:`LAYOUTS`)."""
    for name in LAYOUTS:
        if KINDS[name] == vq.kind:
            return name
    raise ValueError(f"unknown ring kind {vq.kind}")


def broken_reason(vq: Virtqueue) -> str | None:
    """Why the queue is broken (the first reason either side found), or None."""
    return ringmem.broken_reason(vq, LAYOUTS[layout_name(vq)].REASONS)


def snapshot(vq: Virtqueue) -> dict:
    """Plain-Python copy of the shared areas and both sides' state (for drawing), the same
    schema for every layout:

    ``layout``
        ``"split"`` or ``"packed"``.
    ``driver``, ``device``
        each side's private state by its declared name (``STATE``: ints, lists for the
        q-entry arrays and the two-slot ``broken``); the driver's also has ``outstanding``
        (the ids it awaits) and ``owner`` (per descriptor: the token of the request it
        belongs to, or None).
    ``areas``
        the spec's three areas, ``"descriptor"``, ``"driver"`` and ``"device"``: each
        field of the layout's ``views`` by name (lists for per-entry fields, ints else).
    """
    name = layout_name(vq)
    mod = LAYOUTS[name]
    views = mod.views(vq)
    snap = {
        "layout": name,
        **mod.STATE.read(vq.st, vq.queue_size),
        "areas": {
            area: {
                f: views[f].tolist() if entries else int(views[f][0])
                for f, entries in fields.items()
            }
            for area, fields in mod.AREAS.items()
        },
    }
    drv = snap[DRIVER]
    drv["outstanding"] = [i for i, t in enumerate(drv["token"]) if t >= 0]
    drv["owner"] = mod.owners(vq)
    return snap


# entry points for Python callers (Queue, tests, widgets): the kernels of ringops compiled
# on their own
driver_add = entry_point(ringops.driver_add)
driver_kick_prepare = entry_point(ringops.driver_kick_prepare)
driver_get_used = entry_point(ringops.driver_get_used)
driver_disable_interrupts = entry_point(ringops.driver_disable_interrupts)
driver_enable_interrupts = entry_point(ringops.driver_enable_interrupts)
device_pop = entry_point(ringops.device_pop)
device_push_used = entry_point(ringops.device_push_used)
device_should_interrupt = entry_point(ringops.device_should_interrupt)
device_disable_kicks = entry_point(ringops.device_disable_kicks)
device_enable_kicks = entry_point(ringops.device_enable_kicks)


class Chain(NamedTuple):
    """A chain the device popped."""

    head: int  # the split ring's head index; the packed ring's buffer id
    readable_bytes: int
    writable_bytes: int
    descriptors: int


class BrokenQueueError(RuntimeError):
    """Raised by :class:`Queue` when an operation finds the queue broken."""


class Queue:
    """A virtqueue with both halves, for step-by-step use from Python; ``ring`` is
    ``"split"`` or ``"packed"`` (the packed ring's ids are buffer ids, its ``fields`` the
    views of ``virtmodel.packed.views``).

    Every argument is checked (ValueError naming it); an operation that finds the queue
    broken raises :class:`BrokenQueueError` with the reason.

    Parameters
    ----------
    queue_size : int
        Entries: a power of two, 1..32768.
    event_idx : bool
        VIRTIO_F_EVENT_IDX negotiated (suppression by index, not by flag).
    ring : str
        The layout, a key of ``LAYOUTS`` (``"split"``).
    mem : numpy.ndarray, optional
        A writable contiguous uint8 array to lay the queue out in (default: a new one).
    **layout
        Layout options, e.g. the split ring's ``align``.

    Examples
    --------
    >>> q = Queue(8, event_idx=True)
    >>> q.add([64], token=7)        # driver: one readable 64-byte buffer
    0
    >>> q.kick_prepare()            # the device asked for a kick (avail_event == 0)
    True
    >>> q.pop()                     # device
    Chain(head=0, readable_bytes=64, writable_bytes=0, descriptors=1)
    >>> q.push_used(0, 0); q.should_interrupt()
    True
    >>> q.get_used()                # driver: (token, len)
    (7, 0)
    """

    def __init__(
        self, queue_size: int, event_idx: bool = False, ring: str = "split", mem=None, **layout
    ):
        self.vq = make_virtqueue(queue_size, event_idx=event_idx, ring=ring, mem=mem, **layout)
        self.ring = ring
        self.queue_size = int(queue_size)
        self.event_idx = bool(event_idx)
        self.fields = LAYOUTS[ring].views(self.vq)
        self._next_token = 0

    def _check(self, rc):
        if rc == BROKEN:
            raise BrokenQueueError(self.broken)
        return rc

    @property
    def broken(self) -> str | None:
        """The reason the queue is broken, or None."""
        return broken_reason(self.vq)

    # -- driver --
    def add(self, lens, writable=None, token=None, addrs=None):
        """Driver: make one chain available.  ``lens`` are the segment lengths (bytes, each
        in 0..2**32-1); ``writable`` marks device-writable segments (they must follow the
        readable ones).  Returns the chain's id (the split ring's head), or None if the
        ring has no room."""
        raw = np.asarray(lens).reshape(-1)
        if raw.size and raw.dtype.kind not in "iu":
            raise ValueError(f"lens must be integers (bytes), got {lens!r}")
        lens = raw.astype(np.int64)
        n = lens.size
        if n < 1 or n > self.queue_size:
            raise ValueError(f"lens must have 1..{self.queue_size} segments, got {n}")
        if (lens < 0).any() or (lens > 0xFFFFFFFF).any():
            raise ValueError("lens must each be in 0..4294967295 bytes")
        w = np.zeros(n, dtype=np.bool_) if writable is None else np.asarray(writable, np.bool_)
        if w.shape != (n,):
            raise ValueError(f"writable must have one flag per segment ({n})")
        if w.any() and not w[np.argmax(w) :].all():
            raise ValueError("writable segments must follow all readable segments")
        if token is None:
            token = self._next_token
        token = check_int(token, "token", 0, 2**63 - 1)
        self._next_token = max(self._next_token, token + 1)
        a = (
            np.arange(n, dtype=np.int64) * 4096 + 0x100000
            if addrs is None
            else np.asarray(addrs, dtype=np.int64)
        )
        if a.shape != (n,) or (a < 0).any():
            raise ValueError(f"addrs must be {n} guest addresses in 0..2**63-1")
        head = self._check(driver_add(self.vq, a, lens, w, token))
        return None if head == EMPTY else int(head)

    def kick_prepare(self) -> bool:
        """Driver: after adding, does the device want a kick?"""
        return bool(driver_kick_prepare(self.vq))

    def get_used(self):
        """Driver: reap one used buffer, returning ``(token, len)`` or None."""
        token = self._check(driver_get_used(self.vq))
        return None if token == EMPTY else (int(token), int(self.vq.st[DRV_LAST_LEN]))

    def disable_interrupts(self) -> None:
        driver_disable_interrupts(self.vq)

    def enable_interrupts(self) -> bool:
        """Driver: re-enable interrupts; True if used buffers are already waiting."""
        return bool(driver_enable_interrupts(self.vq))

    @property
    def num_free(self) -> int:
        return int(self.vq.st[DRV_NUM_FREE])

    # -- device --
    def pop(self) -> Chain | None:
        """Device: take the next available chain, or None."""
        head = self._check(device_pop(self.vq))
        if head == EMPTY:
            return None
        st = self.vq.st
        return Chain(
            int(head),
            int(st[DEV_CHAIN_READABLE]),
            int(st[DEV_CHAIN_WRITABLE]),
            int(st[DEV_CHAIN_DESCS]),
        )

    def push_used(self, head: int, written: int) -> None:
        """Device: return chain ``head`` (the id :meth:`pop` gave: the split ring's head,
        the packed ring's buffer id) with ``written`` bytes written into it."""
        head = check_int(head, "head", 0, self.queue_size - 1)
        written = check_int(written, "written", 0, 0xFFFFFFFF, "bytes")
        healthy = self.broken is None
        device_push_used(self.vq, head, written)
        if healthy and self.broken is not None:  # the packed device knows what it holds
            raise BrokenQueueError(self.broken)

    def should_interrupt(self) -> bool:
        """Device: after pushing, does the driver want an interrupt?"""
        return bool(device_should_interrupt(self.vq))

    def disable_kicks(self) -> None:
        device_disable_kicks(self.vq)

    def enable_kicks(self) -> bool:
        """Device: re-enable kicks; True if chains are already waiting."""
        return bool(device_enable_kicks(self.vq))

    def snapshot(self) -> dict:
        """Plain-Python copy of the shared areas and both sides' state (for drawing)."""
        return snapshot(self.vq)


class SplitQueue(Queue):
    """A :class:`Queue` in the split layout (``align``: the legacy layout's alignment)."""

    def __init__(
        self, queue_size: int, event_idx: bool = False, mem=None, align: int = LEGACY_PCI_ALIGN
    ):
        super().__init__(queue_size, event_idx=event_idx, ring="split", mem=mem, align=align)
