"""Constants and arithmetic of the virtio virtqueues (split and packed).

Everything here is taken from the virtio specification (OASIS virtio 1.x, sections
"Split Virtqueues" and "Packed Virtqueues") and from Linux's
``include/uapi/linux/virtio_ring.h``, whose names the constants keep.  Values are little-endian on the wire; this package models an x86 host.

The ring's indices (``avail_idx``, ``used_idx``, ``used_event``, ``avail_event``) are
free-running 16-bit counters: they wrap from 65535 to 0, and a ring slot is ``idx %
queue_size``.  Numba does not wrap integers to 16 bits for us, so every index computation in
this package goes through :data:`U16_MASK`.
"""

from __future__ import annotations

from typing import NamedTuple

from ._jit import njit

# --- descriptor flags (struct virtq_desc.flags) -------------------------------------------
VRING_DESC_F_NEXT = 1
"""The descriptor continues through its ``next`` field."""
VRING_DESC_F_WRITE = 2
"""The buffer is device-writable (otherwise device-readable)."""
VRING_DESC_F_INDIRECT = 4
"""The buffer holds a table of descriptors (needs VIRTIO_F_INDIRECT_DESC)."""

# --- ring flags ---------------------------------------------------------------------------
VRING_USED_F_NO_NOTIFY = 1
"""used.flags: the device asks the driver not to kick (an optimisation, not reliable)."""
VRING_AVAIL_F_NO_INTERRUPT = 1
"""avail.flags: the driver asks the device not to interrupt (an optimisation, not reliable)."""

# --- feature bits (spec section "Reserved Feature Bits") ----------------------------------
VIRTIO_F_INDIRECT_DESC = 28
VIRTIO_F_EVENT_IDX = 29
VIRTIO_F_VERSION_1 = 32
VIRTIO_F_ACCESS_PLATFORM = 33
VIRTIO_F_RING_PACKED = 34
VIRTIO_F_IN_ORDER = 35
VIRTIO_F_ORDER_PLATFORM = 36

# --- sizes ---------------------------------------------------------------------------------
MAX_QUEUE_SIZE = 32768
"""Largest split-ring queue size (the spec: a power of two, at most 32768)."""
U16_MASK = 0xFFFF
DESC_SIZE = 16  # struct virtq_desc: le64 addr, le32 len, le16 flags, le16 next
USED_ELEM_SIZE = 8  # struct virtq_used_elem: le32 id, le32 len
LEGACY_PCI_ALIGN = 4096  # legacy virtio-pci "Queue Align" (x86 page size)
PAGE_SIZE = 4096


def _is_int(value) -> bool:
    """An integer of any kind (numpy's too), but not a bool, a float or a string."""
    return not isinstance(value, bool) and hasattr(value, "__index__")


# --- packed virtqueue (spec "Packed Virtqueues"; Linux VRING_PACKED_*) -------------------
VRING_PACKED_DESC_F_AVAIL = 1 << 7
"""Packed descriptor flag: equals the driver's wrap counter when it makes it available."""
VRING_PACKED_DESC_F_USED = 1 << 15
"""Packed descriptor flag: the inverse of AVAIL when available, equal to AVAIL when used."""
VRING_PACKED_EVENT_FLAG_ENABLE = 0x0
"""Event suppression flags: notifications wanted."""
VRING_PACKED_EVENT_FLAG_DISABLE = 0x1
"""Event suppression flags: no notifications wanted."""
VRING_PACKED_EVENT_FLAG_DESC = 0x2
"""Event suppression flags: notify once the descriptor at off_wrap is made available/used
(only with VIRTIO_F_EVENT_IDX).  0x3 is reserved."""
VRING_PACKED_EVENT_F_WRAP_CTR = 15
"""Bit of off_wrap holding the wrap counter; bits 0..14 are the descriptor offset."""
PACKED_EVENT_SIZE = 4  # struct pvirtq_event_suppress: le16 off_wrap, le16 flags
MAX_PACKED_QUEUE_SIZE = 1 << 15
"""Largest packed-ring queue size (the spec: up to 2**15 entries, any size)."""


def check_packed_queue_size(queue_size: int, name: str = "queue_size") -> int:
    """Return ``queue_size`` as an int, or raise ValueError if it is not in 1..32768 (the
    packed-ring rule: any size, not only powers of two)."""
    return check_int(
        queue_size,
        name,
        1,
        MAX_PACKED_QUEUE_SIZE,
        "the packed ring: any size, not only powers of two",
    )


def packed_ring_size(queue_size: int) -> int:
    """Bytes of a packed ring laid out contiguously as virtmodel does: the descriptor ring
    (16 bytes each, align 16), then the driver and the device event suppression structures
    (4 bytes each, align 4).

    >>> packed_ring_size(256)
    4104
    """
    return DESC_SIZE * check_packed_queue_size(queue_size) + 2 * PACKED_EVENT_SIZE


def check_queue_size(queue_size: int, name: str = "queue_size") -> int:
    """Return ``queue_size`` as an int, or raise ValueError if it is not a power of two in
    1..32768 (the split-ring rule)."""
    q = int(queue_size) if _is_int(queue_size) else 0
    if q < 1 or q > MAX_QUEUE_SIZE or q & (q - 1):
        raise ValueError(
            f"{name} must be a power of two from 1 to {MAX_QUEUE_SIZE}, got {queue_size!r}"
        )
    return q


def check_int(value, name: str, lo: int, hi: int, why: str = "") -> int:
    """``value`` as an int in ``lo..hi``, else ValueError naming ``name``, the range and
    (if given) why the range is what it is.  The package's one integer check.

    >>> check_int(70000, "new_idx", 0, 65535, "a 16-bit index")
    Traceback (most recent call last):
    ...
    ValueError: new_idx must be in 0..65535 (a 16-bit index), got 70000
    """
    why = f" ({why})" if why else ""
    if not _is_int(value):
        raise ValueError(f"{name} must be an integer in {lo}..{hi}{why}, got {value!r}")
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}{why}, got {v}")
    return v


@njit(inline="always")
def vring_need_event(event_idx, new_idx, old_idx):
    """:func:`need_event` for numba kernels (inlined; no checks: u16 values expected)."""
    # Linux vring_need_event: true when event_idx lies in [old_idx, new_idx) modulo 2**16,
    # i.e. the other side asked to be told once the index passes event_idx.
    return ((new_idx - event_idx - 1) & 0xFFFF) < ((new_idx - old_idx) & 0xFFFF)


def need_event(event_idx: int, new_idx: int, old_idx: int) -> bool:
    """Should a notification be sent?  Exactly Linux's ``vring_need_event`` on u16 values.

    With VIRTIO_F_EVENT_IDX the other side publishes ``event_idx`` ("tell me once your index
    has moved past this value").  Moving our index from ``old_idx`` to ``new_idx`` needs a
    notification iff ``event_idx`` is in the half-open window ``[old_idx, new_idx)``,
    computed modulo 2**16.

    Parameters
    ----------
    event_idx, new_idx, old_idx : int
        16-bit values (0..65535).

    Returns
    -------
    bool
        True if the notification is needed.

    Raises
    ------
    ValueError
        An argument is not an integer in 0..65535.

    Examples
    --------
    >>> need_event(3, 4, 2), need_event(5, 4, 2)
    (True, False)
    """
    u16 = "a 16-bit index"
    return bool(
        vring_need_event(
            check_int(event_idx, "event_idx", 0, U16_MASK, u16),
            check_int(new_idx, "new_idx", 0, U16_MASK, u16),
            check_int(old_idx, "old_idx", 0, U16_MASK, u16),
        )
    )


def split_ring_size(queue_size: int, align: int = LEGACY_PCI_ALIGN) -> int:
    """Bytes of a legacy split ring: exactly Linux's ``vring_size(num, align)``.

    Layout: descriptor table (16 bytes each), available ring (flags, idx, ring[num],
    used_event), padding up to ``align``, used ring (flags, idx, ring[num] of 8 bytes,
    avail_event).  ``queue_size`` is a power of two in 1..32768; ``align`` a power of two.

    >>> split_ring_size(256)
    10246
    """
    q = check_queue_size(queue_size)
    a = int(align) if _is_int(align) else 0
    if a < 1 or a & (a - 1) or a > 1 << 30:
        raise ValueError(f"align must be a power of two from 1 to 2**30, got {align!r}")
    return used_ring_offset(q, a) + 2 * 3 + USED_ELEM_SIZE * q


def used_ring_offset(queue_size: int, align: int) -> int:
    """Byte offset of the used ring in the legacy layout (Linux ``vring_init``)."""
    return (DESC_SIZE * queue_size + 2 * (3 + queue_size) + align - 1) & ~(align - 1)


class SplitRingParts(NamedTuple):
    """Sizes (bytes) and required alignments of the three parts of a virtio 1.x split ring."""

    desc_bytes: int
    desc_align: int
    avail_bytes: int
    avail_align: int
    used_bytes: int
    used_align: int

    @property
    def total_bytes(self) -> int:
        """Sum of the three parts (modern rings place them independently: no padding)."""
        return self.desc_bytes + self.avail_bytes + self.used_bytes


def split_ring_parts(queue_size: int) -> SplitRingParts:
    """The modern (virtio 1.0+) split-ring part sizes, from the spec's table:
    descriptor table 16*Q (align 16), available ring 6+2*Q (align 2), used ring 6+8*Q
    (align 4).  The 6 bytes are flags, idx and the event field (used_event/avail_event)."""
    q = check_queue_size(queue_size)
    return SplitRingParts(DESC_SIZE * q, 16, 6 + 2 * q, 2, 6 + USED_ELEM_SIZE * q, 4)
