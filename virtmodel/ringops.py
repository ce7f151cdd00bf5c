"""The ring interface for numba kernels: every operation on a virtqueue, one name each,
whatever its layout.

A queue is a :class:`~virtmodel.ringmem.Virtqueue`; its ``kind`` says which layout module
holds its logic (:mod:`virtmodel.split`, :mod:`virtmodel.packed`).  Every operation below
is an ``inline="always"`` numba function that switches on ``kind``: kernels that call them
compile both layouts in, and numba's on-disk cache keeps working (no factory-made
closures).  Nothing outside the layout modules reads a queue's bytes or its private-state
slots; what kernels need is here.  Python code uses :mod:`virtmodel.ring` (its compiled
entry points of the same names, or :class:`virtmodel.ring.Queue`).

Driver half (the guest's front end, as Linux ``drivers/virtio/virtio_ring.c``):

``driver_add(vq, addrs, lens, writable, token)``
    make a chain available; its id (>= 0), EMPTY (no room) or BROKEN.
``driver_kick_prepare(vq)``
    after adding: does the device want a kick?  (flags or event index)
``driver_get_used(vq)``
    reap one used buffer: its token (>= 0), EMPTY or BROKEN; its len in ``last_len``.
``driver_disable_interrupts(vq)`` / ``driver_enable_interrupts(vq)``
    interrupt suppression; enable returns True if used buffers are already pending.
``num_free(vq)``
    descriptors the driver can still use.

Device half (the back end: QEMU, vhost, or hardware):

``device_pop(vq)``
    take the next available chain: its id, EMPTY or BROKEN; its byte counts, descriptor
    count and first buffer address in ``chain_readable`` and friends.
``device_push_used(vq, id, written)``
    return a chain used.
``device_should_interrupt(vq)``
    after pushing: does the driver want an interrupt?
``device_disable_kicks(vq)`` / ``device_enable_kicks(vq)``
    kick suppression; enable returns True if chains are already waiting.
"""

from __future__ import annotations

from . import packed, split
from ._jit import njit
from .ringmem import (
    BROKEN,
    DEV_CHAIN_ADDR,
    DEV_CHAIN_DESCS,
    DEV_CHAIN_READABLE,
    DEV_CHAIN_WRITABLE,
    DRV_LAST_LEN,
    DRV_NUM_FREE,
    EMPTY,
    PACKED,
)

__all__ = [
    "BROKEN",
    "EMPTY",
    "chain_addr",
    "chain_descs",
    "chain_readable",
    "chain_writable",
    "device_disable_kicks",
    "device_enable_kicks",
    "device_pop",
    "device_push_used",
    "device_should_interrupt",
    "driver_add",
    "driver_disable_interrupts",
    "driver_enable_interrupts",
    "driver_get_used",
    "driver_kick_prepare",
    "last_len",
    "num_free",
]


# --- driver half --------------------------------------------------------------------------
@njit(inline="always")
def driver_add(vq, addrs, lens, writable, token):
    if vq.kind == PACKED:
        return packed.driver_add(vq, addrs, lens, writable, token)
    return split.driver_add(vq, addrs, lens, writable, token)


@njit(inline="always")
def driver_kick_prepare(vq):
    if vq.kind == PACKED:
        return packed.driver_kick_prepare(vq)
    return split.driver_kick_prepare(vq)


@njit(inline="always")
def driver_get_used(vq):
    if vq.kind == PACKED:
        return packed.driver_get_used(vq)
    return split.driver_get_used(vq)


@njit(inline="always")
def driver_disable_interrupts(vq):
    if vq.kind == PACKED:
        packed.driver_disable_interrupts(vq)
    else:
        split.driver_disable_interrupts(vq)


@njit(inline="always")
def driver_enable_interrupts(vq):
    if vq.kind == PACKED:
        return packed.driver_enable_interrupts(vq)
    return split.driver_enable_interrupts(vq)


# --- device half --------------------------------------------------------------------------
@njit(inline="always")
def device_pop(vq):
    if vq.kind == PACKED:
        return packed.device_pop(vq)
    return split.device_pop(vq)


@njit(inline="always")
def device_push_used(vq, head, written):
    if vq.kind == PACKED:
        packed.device_push_used(vq, head, written)
    else:
        split.device_push_used(vq, head, written)


@njit(inline="always")
def device_should_interrupt(vq):
    if vq.kind == PACKED:
        return packed.device_should_interrupt(vq)
    return split.device_should_interrupt(vq)


@njit(inline="always")
def device_disable_kicks(vq):
    if vq.kind == PACKED:
        packed.device_disable_kicks(vq)
    else:
        split.device_disable_kicks(vq)


@njit(inline="always")
def device_enable_kicks(vq):
    if vq.kind == PACKED:
        return packed.device_enable_kicks(vq)
    return split.device_enable_kicks(vq)


# --- state every layout keeps in the same slots (ringmem.COMMON) --------------------------
@njit(inline="always")
def num_free(vq):
    return vq.st[DRV_NUM_FREE]


@njit(inline="always")
def last_len(vq):
    return vq.st[DRV_LAST_LEN]


@njit(inline="always")
def chain_readable(vq):
    return vq.st[DEV_CHAIN_READABLE]


@njit(inline="always")
def chain_writable(vq):
    return vq.st[DEV_CHAIN_WRITABLE]


@njit(inline="always")
def chain_descs(vq):
    return vq.st[DEV_CHAIN_DESCS]


@njit(inline="always")
def chain_addr(vq):
    return vq.st[DEV_CHAIN_ADDR]
