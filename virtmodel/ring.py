"""The ring interface: what the event loop, the lab, the tour and the tests call on a
virtqueue, whatever its layout.

A queue is a :class:`~virtmodel.ringmem.Virtqueue`; its ``kind`` says which layout module
holds its logic (``virtmodel.split``, the split virtqueue; the packed one beside it).
Every operation below is an ``inline="always"`` numba function that switches on ``kind``:
kernels that call them compile both layouts in, and numba's on-disk cache keeps working
(no factory-made closures).  Nothing outside the layout modules reads a queue's bytes or
its private-state slots; what callers need is here.

Driver half (the guest's front end, as Linux ``drivers/virtio/virtio_ring.c``):

``_driver_add(vq, addrs, lens, writable, token)``
    make a chain available; its id (>= 0), EMPTY (no room) or BROKEN.
``_driver_kick_prepare(vq)``
    after adding: does the device want a kick?  (flags or event index)
``_driver_get_used(vq)``
    reap one used buffer: its token (>= 0), EMPTY or BROKEN; its len in ``_last_len``.
``_driver_disable_interrupts(vq)`` / ``_driver_enable_interrupts(vq)``
    interrupt suppression; enable returns True if used buffers are already pending.
``_num_free(vq)``
    descriptors the driver can still use.

Device half (the back end: QEMU, vhost, or hardware):

``_device_pop(vq)``
    take the next available chain: its id, EMPTY or BROKEN; its byte counts, descriptor
    count and first buffer address in ``_chain_readable`` and friends.
``_device_push_used(vq, id, written)``
    return a chain used.
``_device_should_interrupt(vq)``
    after pushing: does the driver want an interrupt?
``_device_disable_kicks(vq)`` / ``_device_enable_kicks(vq)``
    kick suppression; enable returns True if chains are already waiting.

Python callers use the compiled entry points (``driver_add`` ... without the underscore)
or :class:`Queue`, the validating face used by tests, widgets and the book.  The underscored
operations are the interface for numba kernels (the event loop, the lab's back ends): the
underscore says "not for Python callers", not "private to this module".
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import packed, split
from ._jit import entry_point, njit
from .ringmem import (
    BROKEN,
    CHAIN_ADDR,
    CHAIN_DESCS,
    CHAIN_READABLE,
    CHAIN_WRITABLE,
    DRV_LAST_LEN,
    EMPTY,
    KINDS,
    NUM_FREE,
    PACKED,
    Virtqueue,
)
from .spec import LEGACY_PCI_ALIGN, check_int

__all__ = [
    "BROKEN",
    "EMPTY",
    "KINDS",
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
"""Ring name -> its layout module (``make``, ``broken_reason``, ``snapshot``, kernels)."""


def make_virtqueue(
    queue_size: int, event_idx: bool = False, ring: str = "split", mem=None, **layout
) -> Virtqueue:
    """A zeroed virtqueue of ``queue_size`` entries in layout ``ring`` (``mem``: a writable
    contiguous uint8 array to lay it out in, e.g. a view of guest memory; ``layout``:
    layout-specific options such as the split ring's ``align``)."""
    if ring not in LAYOUTS:
        raise ValueError(f"ring must be one of {tuple(LAYOUTS)}, got {ring!r}")
    return LAYOUTS[ring].make(queue_size, event_idx=event_idx, mem=mem, **layout)


def _layout(vq: Virtqueue):
    for name, mod in LAYOUTS.items():
        if KINDS[name] == vq.kind:
            return mod
    raise ValueError(f"unknown ring kind {vq.kind}")


def broken_reason(vq: Virtqueue) -> str | None:
    """Why the queue is broken (the first reason either side found), or None."""
    return _layout(vq).broken_reason(vq)


def snapshot(vq: Virtqueue) -> dict:
    """Plain-Python copy of the shared areas and both sides' state (for drawing)."""
    return _layout(vq).snapshot(vq)


# =========================================================================================
# The operations (one branch per layout)
# =========================================================================================
@njit(inline="always")
def _driver_add(vq, addrs, lens, writable, token):
    if vq.kind == PACKED:
        return packed._driver_add(vq, addrs, lens, writable, token)
    return split._driver_add(vq, addrs, lens, writable, token)


@njit(inline="always")
def _driver_kick_prepare(vq):
    if vq.kind == PACKED:
        return packed._driver_kick_prepare(vq)
    return split._driver_kick_prepare(vq)


@njit(inline="always")
def _driver_get_used(vq):
    if vq.kind == PACKED:
        return packed._driver_get_used(vq)
    return split._driver_get_used(vq)


@njit(inline="always")
def _driver_disable_interrupts(vq):
    if vq.kind == PACKED:
        packed._driver_disable_interrupts(vq)
    else:
        split._driver_disable_interrupts(vq)


@njit(inline="always")
def _driver_enable_interrupts(vq):
    if vq.kind == PACKED:
        return packed._driver_enable_interrupts(vq)
    return split._driver_enable_interrupts(vq)


@njit(inline="always")
def _device_pop(vq):
    if vq.kind == PACKED:
        return packed._device_pop(vq)
    return split._device_pop(vq)


@njit(inline="always")
def _device_push_used(vq, head, written):
    if vq.kind == PACKED:
        packed._device_push_used(vq, head, written)
    else:
        split._device_push_used(vq, head, written)


@njit(inline="always")
def _device_should_interrupt(vq):
    if vq.kind == PACKED:
        return packed._device_should_interrupt(vq)
    return split._device_should_interrupt(vq)


@njit(inline="always")
def _device_disable_kicks(vq):
    if vq.kind == PACKED:
        packed._device_disable_kicks(vq)
    else:
        split._device_disable_kicks(vq)


@njit(inline="always")
def _device_enable_kicks(vq):
    if vq.kind == PACKED:
        return packed._device_enable_kicks(vq)
    return split._device_enable_kicks(vq)


# --- state every layout keeps in the same slots (ringmem) ---------------------------------
@njit(inline="always")
def _num_free(vq):
    return vq.st[NUM_FREE]


@njit(inline="always")
def _last_len(vq):
    return vq.st[DRV_LAST_LEN]


@njit(inline="always")
def _chain_readable(vq):
    return vq.st[CHAIN_READABLE]


@njit(inline="always")
def _chain_writable(vq):
    return vq.st[CHAIN_WRITABLE]


@njit(inline="always")
def _chain_descs(vq):
    return vq.st[CHAIN_DESCS]


@njit(inline="always")
def _chain_addr(vq):
    return vq.st[CHAIN_ADDR]


# entry points for Python callers (Queue, tests): the same kernels, compiled on their own so
# that calling one from Python does not inline-compile the whole ring each time
driver_add = entry_point(_driver_add)
driver_kick_prepare = entry_point(_driver_kick_prepare)
driver_get_used = entry_point(_driver_get_used)
driver_disable_interrupts = entry_point(_driver_disable_interrupts)
driver_enable_interrupts = entry_point(_driver_enable_interrupts)
device_pop = entry_point(_device_pop)
device_push_used = entry_point(_device_push_used)
device_should_interrupt = entry_point(_device_should_interrupt)
device_disable_kicks = entry_point(_device_disable_kicks)
device_enable_kicks = entry_point(_device_enable_kicks)


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
        return int(self.vq.st[NUM_FREE])

    # -- device --
    def pop(self) -> Chain | None:
        """Device: take the next available chain, or None."""
        head = self._check(device_pop(self.vq))
        if head == EMPTY:
            return None
        st = self.vq.st
        return Chain(
            int(head), int(st[CHAIN_READABLE]), int(st[CHAIN_WRITABLE]), int(st[CHAIN_DESCS])
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
