"""The lab's device side: numba kernels over guest memory, as QEMU's device models are.

:func:`serve_ring` is the virtio back end: it drains the split ring the guest wrote (with
:mod:`virtmodel.ring`'s own device half, so the ring is validated exactly as in the
models), copies each request's bytes out of guest memory and returns the chain.
:func:`serve_one` is the emulated device's doorbell: one request at a guest address.
Both verify every request's id (its first 8 bytes) and byte count.
"""

from __future__ import annotations

from .._jit import njit
from ..ring import BROKEN, CHAIN_READABLE, EMPTY, _device_pop, _device_push_used, _ld32

BAD_RING, BAD_ID, BAD_LENGTH, BAD_ADDRESS = -1, -2, -3, -4
ERRORS = {BAD_RING: "the ring is broken", BAD_ID: "a request carried the wrong id",
          BAD_LENGTH: "a request had the wrong byte count",
          BAD_ADDRESS: "a buffer lies outside guest memory"}


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
def serve_ring(vq, ram, dst, nbytes, state):
    """Drain the ring: returns the number of requests served, or a negative error.
    ``state[0]`` is the id expected next (advanced), ``state[1]`` the bytes copied."""
    n = 0
    while True:
        head = _device_pop(vq)
        if head == EMPTY:
            return n
        if head == BROKEN:
            return BAD_RING
        if vq.st[CHAIN_READABLE] != nbytes:
            return BAD_LENGTH
        d = head * 16
        addr = _ld32(vq, d) | (_ld32(vq, d + 4) << 32)
        rc = _copy_checked(ram, addr, nbytes, dst, state[0])
        if rc < 0:
            return rc
        state[0] += 1
        state[1] += nbytes
        _device_push_used(vq, head, 0)
        n += 1


@njit(nogil=True)
def serve_one(ram, addr, nbytes, dst, expect_id):
    """One emulated request: 0, or a negative error."""
    return _copy_checked(ram, addr, nbytes, dst, expect_id)
