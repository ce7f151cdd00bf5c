"""The lab's back ends: numba kernels over guest memory, as QEMU's device models are.

(In the rest of the package "device" means the ring's device side, as in the virtio spec;
a lab back end is one such device, and more: it also checks and copies the payloads.)

* :class:`RingBackend` is the virtio back end.  On a notification (:meth:`RingBackend.notify`:
  a kick) it drains the split ring the guest wrote, with :mod:`virtmodel.ring`'s own device
  half (so the ring is validated exactly as in the models), copies each request's bytes out
  of guest memory and returns the chain used.
* :class:`RegisterBackend` is the emulated device: port writes set its address and length
  registers; a write to its doorbell makes it serve one request at that address.

Both verify every request's id (its first 8 bytes) and byte count, and both reach their
kernel through one call of the same shape (a handful of arrays and integers), so that "what
a notification costs the back end" is one measurable number for both (see
:mod:`virtmodel.lab.calibrate`).  :func:`fill_ring` is the guest driver's loop written for
the host: it lets the back ends be benchmarked and tested without KVM.
"""

from __future__ import annotations

import os

import numpy as np

from .._jit import njit
from ..ring import BROKEN, EMPTY, Virtqueue, broken_reason
from ..ringops import (
    chain_addr,
    chain_readable,
    device_pop,
    device_push_used,
    driver_add,
    driver_get_used,
)

# The back ends' error codes: a range of their own, apart from the ring's return codes
# (ring.EMPTY -1, ring.BROKEN -2), so that one is never read as the other.
BAD_RING, BAD_ID, BAD_LENGTH, BAD_ADDRESS = -101, -102, -103, -104
ERRORS = {
    BAD_RING: "the ring is broken",
    BAD_ID: "a request carried the wrong id",
    BAD_LENGTH: "a request had the wrong byte count",
    BAD_ADDRESS: "a buffer lies outside guest memory",
}

PAYLOAD_BYTE = 0x5A
"""Written over every request buffer before a run, so that the device copies real memory
(untouched anonymous memory reads as one shared zero page, which is always in cache)."""


def prefill(ram: np.ndarray, base: int, slots: int, nbytes: int) -> None:
    """Give ``slots`` request buffers of ``nbytes`` at ``base`` a payload (see
    :data:`PAYLOAD_BYTE`); the guest writes each request's id over its first 8 bytes."""
    ram[base : base + slots * nbytes] = PAYLOAD_BYTE


@njit(inline="always")
def _copy_checked(ram, addr, nbytes, dst, expect_id):
    if addr < 0 or addr + nbytes > ram.size or nbytes < 8:
        return BAD_ADDRESS
    got = 0
    for k in range(8):
        got |= int(ram[addr + k]) << (8 * k)
    if got != expect_id:
        return BAD_ID
    for k in range(nbytes):  # an explicit loop: numba compiles it to a plain copy
        dst[k] = ram[addr + k]
    return 0


@njit(nogil=True)
def _serve_ring(mem, st, q, driver_off, device_off, kind, ram, dst, nbytes, state):
    """Drain the ring: the number of requests served, or a negative error.
    ``state[0]`` is the id expected next (advanced), ``state[1]`` the bytes copied."""
    vq = Virtqueue(mem, st, q, driver_off, device_off, kind)
    n = 0
    while True:
        head = device_pop(vq)
        if head == EMPTY:
            return n
        if head == BROKEN:
            return BAD_RING
        if chain_readable(vq) != nbytes:
            return BAD_LENGTH
        rc = _copy_checked(ram, chain_addr(vq), nbytes, dst, state[0])
        if rc < 0:
            return rc
        state[0] += 1
        state[1] += nbytes
        device_push_used(vq, head, 0)
        n += 1


# RegisterBackend.regs slots
R_ADDR, R_LEN, R_BASE, R_SLOTS, R_IMPLICIT = 0, 1, 2, 3, 4


@njit(nogil=True)
def _serve_doorbell(ram, regs, dst, state, value):
    """One emulated request, rung with ``value`` (its id): 1, or a negative error."""
    k = state[0]
    if value != (k & 0xFFFFFFFF):
        return BAD_ID
    n = regs[R_LEN]
    if n != dst.size:
        return BAD_LENGTH
    addr = regs[R_BASE] + (k % regs[R_SLOTS]) * n if regs[R_IMPLICIT] else regs[R_ADDR]
    rc = _copy_checked(ram, addr, n, dst, k)
    if rc < 0:
        return rc
    state[0] += 1
    state[1] += n
    return 1


class _Backend:
    """What both back ends keep: the payload buffer, progress, the first error."""

    def __init__(self, ram: np.ndarray, nbytes: int):
        self.ram = ram
        self.dst = np.empty(nbytes, np.uint8)
        self.state = np.zeros(2, np.int64)  # next id expected, bytes copied
        self.error: str | None = None

    @property
    def served(self) -> int:
        return int(self.state[0])

    @property
    def bytes_copied(self) -> int:
        return int(self.state[1])

    def _fail(self, why: str) -> bool:
        if self.error is None:
            self.error = why
        return False


class RingBackend(_Backend):
    """The virtio back end over ``vq`` (a ring laid out in ``ram``).  With ``irqfd`` (an
    eventfd from :meth:`virtmodel.lab.kvm.Machine.irqfd`) it signals each pass that
    returned buffers used with one write to it: an MSI, as QEMU's and vhost's deferred
    irqfd write after a pass.  (The lab's guest never sets ``VRING_AVAIL_F_NO_INTERRUPT``,
    so the ring never suppresses one.)"""

    def __init__(self, vq: Virtqueue, ram: np.ndarray, nbytes: int, irqfd: int | None = None):
        super().__init__(ram, nbytes)
        self.vq = vq
        self.irqfd = irqfd
        self.signals = 0  # interrupts raised
        self._args = (*vq, ram, self.dst, nbytes, self.state)

    def notify(self) -> bool:
        """A kick: drain the ring (and signal, see the class).  False (and :attr:`error`
        set) if the ring or a request is wrong; the device then stays stopped, as a real one
        marks itself broken."""
        if self.error is not None:
            return False
        rc = _serve_ring(*self._args)
        if rc < 0:
            why = ERRORS[rc]
            if rc == BAD_RING:
                why += f": {broken_reason(self.vq)}"
            return self._fail(f"device: {why}")
        if rc and self.irqfd is not None:
            os.eventfd_write(self.irqfd, 1)
            self.signals += 1
        return True


class RegisterBackend(_Backend):
    """The emulated device: ports ``base`` (address), ``base + 1`` (length), ``base + 2``
    (doorbell).  With ``implicit_address`` the guest writes only the doorbell and request
    k's buffer is ``buffers + (k % slots) * nbytes`` (a device with a fixed buffer ring)."""

    def __init__(
        self,
        ram: np.ndarray,
        nbytes: int,
        base_port: int,
        buffers: int,
        slots: int,
        implicit_address: bool,
    ):
        super().__init__(ram, nbytes)
        self.base_port = base_port
        self.regs = np.array([0, nbytes, buffers, slots, int(implicit_address)], np.int64)

    def write(self, port: int, value: int) -> bool:
        """A guest port write; False (and :attr:`error`) if it is not one this device
        takes or the request it rings is wrong."""
        reg = port - self.base_port
        if reg == 2:
            rc = _serve_doorbell(self.ram, self.regs, self.dst, self.state, value)
            if rc < 0:
                return self._fail(
                    f"request {self.served}: {ERRORS[rc]} (doorbell {value}, "
                    f"length register {self.regs[R_LEN]})"
                )
            return True
        if reg in (R_ADDR, R_LEN) and not self.regs[R_IMPLICIT]:
            self.regs[reg] = value
            return True
        return self._fail(f"write of {value:#x} to port {port:#x}: not a register of this device")


@njit
def _fill(
    mem,
    st,
    q,
    driver_off,
    device_off,
    kind,
    ram,
    base,
    slots,
    nbytes,
    first_id,
    count,
    addrs,
    lens,
    writable,
):
    vq = Virtqueue(mem, st, q, driver_off, device_off, kind)
    while driver_get_used(vq) >= 0:  # reap what the device has used: frees descriptors
        pass
    for i in range(count):
        k = first_id + i
        addr = base + (k % slots) * nbytes
        addrs[0] = addr
        if driver_add(vq, addrs, lens, writable, k % q) < 0:
            return i  # full: the buffer is still the device's, leave it alone
        for b in range(8):  # before any kick, so the device sees it
            ram[addr + b] = (k >> (8 * b)) & 0xFF
    return count


def fill_ring(
    vq: Virtqueue, ram: np.ndarray, base: int, nbytes: int, first_id: int, count: int
) -> int:
    """Reap the used ring, then make ``count`` requests available on ``vq`` as the guest
    driver does (request k: one descriptor, buffer ``base + (k % queue_size) * nbytes`` with
    k in its first 8 bytes).  Returns how many were added (fewer if the ring filled)."""
    q = vq.queue_size
    return int(
        _fill(
            *vq,
            ram,
            base,
            q,
            nbytes,
            first_id,
            count,
            np.zeros(1, np.int64),
            np.full(1, nbytes, np.int64),
            np.zeros(1, np.bool_),
        )
    )
