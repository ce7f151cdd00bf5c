"""A virtio-blk driver in Python for QEMU's own virtio-blk-pci (the modern, virtio 1.x
transport), one request queue.

The sequence is the spec's (virtio 1.2, section 3.1.1 "Driver Requirements: Device
Initialization" and 4.1.4 "Virtio Structure PCI Capabilities"): reset, ACKNOWLEDGE and
DRIVER, read the offered features and write ours (VERSION_1, EVENT_IDX if asked), FEATURES_OK
(read back), set the queue up (size, MSI-X vector, the three ring addresses, enable), then
DRIVER_OK.  QEMU's ``tests/qtest/libqos/virtio-pci-modern.c`` does the same for its tests.

The ring is :class:`virtmodel.ring.SplitQueue` (the project's byte-exact split ring) laid out
in a private staging array; :meth:`VirtioBlk.publish` copies the driver's parts into guest
RAM (descriptors and ring entries first, the avail index last: QEMU's IOThread may be
polling the ring while we write) and :meth:`VirtioBlk.refresh` copies the device's part (the
used ring, ``avail_event``) back before the driver half reads it.

A request is two descriptors (virtio 1.x lets the driver frame it as it likes, 2.6.4): a
read is [header (device-readable)] [data + status byte (device-writable)], a write is
[header + data (readable)] [status (writable)]; data is page-aligned.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from ...ring import SplitQueue
from ...spec import (
    DESC_SIZE,
    PAGE_SIZE,
    VIRTIO_F_EVENT_IDX,
    check_int,
    split_ring_size,
    used_ring_offset,
)
from ...split import DRV_LAST_USED_IDX
from . import pci
from .process import Qemu, QemuError, full_barrier

VIRTIO_VENDOR = 0x1AF4
VIRTIO_F_VERSION_1 = 32
# virtio_pci_cap cfg_type values (virtio 1.2, 4.1.4)
CAP_COMMON, CAP_NOTIFY, CAP_ISR, CAP_DEVICE = 1, 2, 3, 4
# struct virtio_pci_common_cfg field offsets
DEVICE_FEATURE_SELECT, DEVICE_FEATURE = 0x00, 0x04
DRIVER_FEATURE_SELECT, DRIVER_FEATURE = 0x08, 0x0C
MSIX_CONFIG, DEVICE_STATUS = 0x10, 0x14
QUEUE_SELECT, QUEUE_SIZE, QUEUE_MSIX_VECTOR, QUEUE_ENABLE = 0x16, 0x18, 0x1A, 0x1C
QUEUE_NOTIFY_OFF, QUEUE_DESC, QUEUE_DRIVER, QUEUE_DEVICE = 0x1E, 0x20, 0x28, 0x30
NO_VECTOR = 0xFFFF
# device status bits
ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK, NEEDS_RESET = 1, 2, 4, 8, 0x40
# virtio-blk request types and status (virtio 1.2, 5.2.6)
VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT = 0, 1
VIRTIO_BLK_S_OK = 0
SECTOR = 512

# guest-physical layout
MSI_AREA = 0x1000  # the MSI-X message of vector n lands at MSI_AREA + 4 * n
MSI_DATA = 0x4D5349  # "MSI"
RING = 0x10000
LATE_S = 2.0  # how long a kick's first request may take on a loaded host (seconds)
BUFFERS = 0x100000


@dataclass(frozen=True)
class Request:
    """One block request: ``write`` or read, its first ``sector`` (512 B) and ``nbytes``."""

    sector: int
    nbytes: int = 4096
    write: bool = False


@dataclass(frozen=True)
class Completion:
    """A used buffer: the request, the bytes QEMU wrote into it, its status byte."""

    request: Request
    written: int
    status: int
    data: bytes | None  # a read's data


class VirtioBlk:
    """QEMU's virtio-blk-pci at PCI ``slot``, set up as a driver would.

    Parameters
    ----------
    qemu : Qemu
        The QEMU process (guest RAM large enough for ``queue_size`` requests of
        ``max_bytes``).
    slot : int
        The device's PCI slot (``addr=`` of ``-device``).
    queue_size : int
        Ring entries (a power of two up to what QEMU offers, 256 by default); a request
        takes two, so at most ``queue_size // 2`` are outstanding.
    event_idx : bool
        Negotiate VIRTIO_F_EVENT_IDX (QEMU offers it).
    max_bytes : int
        The largest request (bytes, a multiple of 512 up to 1 MiB).
    direct_kick : bool
        Kick by writing QEMU's ioeventfd for the queue directly (a copy of it borrowed with
        ``pidfd_getfd``), as KVM does for a guest's notify write, instead of a qtest store
        that QEMU's main thread parses first: the main loop's CPU is then the back end's
        alone.
    """

    def __init__(
        self,
        qemu: Qemu,
        slot: int,
        queue_size: int = 256,
        event_idx: bool = True,
        max_bytes: int = 4096,
        direct_kick: bool = False,
    ):
        check_int(max_bytes, "max_bytes", SECTOR, 1 << 20)
        if max_bytes % SECTOR:
            raise ValueError(f"max_bytes must be a multiple of 512, got {max_bytes}")
        self.qemu = qemu
        self.event_idx = bool(event_idx)
        self.max_bytes = max_bytes
        self.stride = PAGE_SIZE + -(-(max_bytes + 1) // PAGE_SIZE) * PAGE_SIZE
        fn = pci.enumerate_function(qemu, slot)
        if fn.vendor != VIRTIO_VENDOR:
            raise ValueError(f"slot {slot} holds {fn.vendor:04x}:{fn.device:04x}, not virtio")
        self.fn = fn
        self.caps: dict[int, tuple[int, int]] = {}  # cfg_type: (address, notify multiplier)
        for cid, off in fn.caps:
            if cid != pci.CAP_VENDOR:
                continue
            word0 = fn.read32(off)
            cfg_type, bar = (word0 >> 24) & 0xFF, fn.read32(off + 4) & 0xFF
            mult = fn.read32(off + 16) if cfg_type == CAP_NOTIFY else 0
            if cfg_type in (CAP_COMMON, CAP_NOTIFY, CAP_ISR, CAP_DEVICE):
                self.caps.setdefault(cfg_type, (fn.bar(bar) + fn.read32(off + 8), mult))
        self.common = self.caps[CAP_COMMON][0]
        w = qemu.write
        c = self.common
        w(1, c + DEVICE_STATUS, 0)  # reset
        w(1, c + DEVICE_STATUS, ACKNOWLEDGE | DRIVER)
        offered = 0
        for half in (0, 1):
            w(4, c + DEVICE_FEATURE_SELECT, half)
            offered |= qemu.read(4, c + DEVICE_FEATURE) << (32 * half)
        self.offered = offered
        want = 1 << VIRTIO_F_VERSION_1 | (1 << VIRTIO_F_EVENT_IDX if event_idx else 0)
        if offered & want != want:
            raise QemuError(f"QEMU offers features {offered:#x}, not all of {want:#x}")
        for half in (0, 1):
            w(4, c + DRIVER_FEATURE_SELECT, half)
            w(4, c + DRIVER_FEATURE, (want >> (32 * half)) & 0xFFFF_FFFF)
        w(1, c + DEVICE_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK)
        if not qemu.read(1, c + DEVICE_STATUS) & FEATURES_OK:
            raise QemuError("QEMU did not accept our features (FEATURES_OK read back clear)")
        pci.enable_msix(fn, {0: (MSI_AREA, MSI_DATA)})
        w(2, c + MSIX_CONFIG, NO_VECTOR)
        w(2, c + QUEUE_SELECT, 0)
        most = qemu.read(2, c + QUEUE_SIZE)
        if not (queue_size & (queue_size - 1) == 0 and 2 <= queue_size <= most):
            raise ValueError(f"queue_size must be a power of two in 2..{most}, got {queue_size}")
        self.queue_size = queue_size
        w(2, c + QUEUE_SIZE, queue_size)
        w(2, c + QUEUE_MSIX_VECTOR, 0)
        if qemu.read(2, c + QUEUE_MSIX_VECTOR) != 0:
            raise QemuError("QEMU refused MSI-X vector 0 for queue 0")
        self.used_off = used_ring_offset(queue_size, PAGE_SIZE)
        self.ring_bytes = split_ring_size(queue_size, PAGE_SIZE)
        w(8, c + QUEUE_DESC, RING)
        w(8, c + QUEUE_DRIVER, RING + DESC_SIZE * queue_size)
        w(8, c + QUEUE_DEVICE, RING + self.used_off)
        self.notify = (
            self.caps[CAP_NOTIFY][0] + qemu.read(2, c + QUEUE_NOTIFY_OFF) * self.caps[CAP_NOTIFY][1]
        )
        w(2, c + QUEUE_ENABLE, 1)
        before = qemu.eventfds()
        w(1, c + DEVICE_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)
        # QEMU made the queue's eventfds at DRIVER_OK (guest notifier, then host notifier)
        if BUFFERS + (queue_size // 2) * self.stride > len(qemu.mem):
            raise ValueError("guest RAM is too small for queue_size requests of max_bytes")
        self.staging = np.zeros(self.ring_bytes, dtype=np.uint8)
        self.q = SplitQueue(queue_size, event_idx=self.event_idx, mem=self.staging)
        self.fields = self.q.fields
        self.guest = qemu.mem[RING : RING + self.ring_bytes]
        self._free_slots = list(range(queue_size // 2))
        self._pending: dict[int, tuple[Request, int]] = {}  # token: (request, slot)
        self.kicks = 0
        self.kick_fd: int | None = None
        if direct_kick:
            self._find_kick_fd(sorted(qemu.eventfds() - before, reverse=True))

    def _find_kick_fd(self, candidates: list[int]) -> None:
        """The candidate eventfd that makes QEMU take a request is the queue's ioeventfd."""
        for fd in candidates:
            mine = self.qemu.borrow_fd(fd)
            self.kick_fd = mine
            self.add([Request(0)])
            self.publish()
            self.kick()
            try:
                self.wait(1, timeout=0.5)
            except QemuError:
                # no answer yet: a wrong eventfd (aio=native's completion notifier, the
                # guest notifier), or the right one on a loaded host taking its time with
                # QEMU's first request.  A late completion says which: without it, the
                # next candidate's kick would pop this request too and pass for the right
                # one when it is not.
                try:
                    self.wait(1, timeout=LATE_S)
                except QemuError:
                    os.close(mine)
                    self.kick_fd = None
                    continue
            self.wait(self.outstanding())
            self.reap()
            self.kicks = 0
            return
        raise QemuError(f"none of QEMU's new eventfds {candidates} is queue 0's ioeventfd")

    def close(self) -> None:
        """Release the borrowed eventfd (QEMU's process keeps its own)."""
        if self.kick_fd is not None:
            os.close(self.kick_fd)
            self.kick_fd = None

    # -- ring <-> guest RAM --
    def publish(self) -> None:
        """Copy the driver's side of the ring into guest RAM, the avail index last."""
        q = self.queue_size
        d, g, s = DESC_SIZE * q, self.guest, self.staging
        g[:d] = s[:d]
        g[d : d + 2] = s[d : d + 2]  # avail flags
        g[d + 4 : d + 6 + 2 * q] = s[d + 4 : d + 6 + 2 * q]  # ring entries, used_event
        g[d + 2 : d + 4] = s[d + 2 : d + 4]  # avail idx

    def refresh(self) -> None:
        """Copy the device's side (used ring, ``avail_event``) from guest RAM."""
        u = self.used_off
        self.staging[u:] = self.guest[u:]

    @property
    def used_idx(self) -> int:
        """The used index in guest RAM now."""
        u = RING + self.used_off + 2
        return int(self.qemu.mem[u : u + 2].view("<u2")[0])  # one 16-bit load: never torn

    @property
    def avail_event(self) -> int:
        """What QEMU last wrote to ``avail_event`` (EVENT_IDX: kick when passing it)."""
        self.refresh()
        return int(self.fields["avail_event"][0])

    @property
    def used_flags(self) -> int:
        self.refresh()
        return int(self.fields["used_flags"][0])

    def status(self) -> int:
        """The device status register (NEEDS_RESET 0x40 once QEMU found the ring broken)."""
        return self.qemu.read(1, self.common + DEVICE_STATUS)

    def msi_landed(self, timeout: float = 1.0) -> bool:
        """Whether an MSI-X message lands (within ``timeout`` s) after :meth:`clear_msi`
        (QEMU writes the used index first, then signals)."""
        end = time.monotonic() + timeout
        while int(self.qemu.mem[MSI_AREA : MSI_AREA + 4].view("<u4")[0]) != MSI_DATA:
            if time.monotonic() > end:
                return False
            time.sleep(50e-6)
        return True

    def clear_msi(self) -> None:
        self.qemu.mem[MSI_AREA : MSI_AREA + 4] = 0

    # -- requests --
    def add(self, requests: list[Request], fill: bytes | None = None) -> None:
        """Put ``requests`` on the ring (in staging; :meth:`publish` shows them to QEMU).
        A write's data is ``fill`` repeated (default zeroes)."""
        mem = self.qemu.mem
        for r in requests:
            check_int(r.nbytes, "nbytes", SECTOR, self.max_bytes)
            if r.nbytes % SECTOR:
                raise ValueError(f"nbytes must be a multiple of 512, got {r.nbytes}")
            if not self._free_slots:
                raise ValueError(
                    f"at most {self.queue_size // 2} requests may be outstanding "
                    f"(queue_size {self.queue_size})"
                )
            slot = self._free_slots.pop()
            base = BUFFERS + slot * self.stride
            hdr, data, status = base + PAGE_SIZE - 16, base + PAGE_SIZE, base + PAGE_SIZE + r.nbytes
            mem[hdr : hdr + 16] = np.frombuffer(
                np.array([VIRTIO_BLK_T_OUT if r.write else VIRTIO_BLK_T_IN, 0], "<u4").tobytes()
                + np.array([r.sector], "<u8").tobytes(),
                np.uint8,
            )
            mem[status] = 0xFF
            if r.write:
                pattern = np.frombuffer(fill or b"\0", np.uint8)
                mem[data : data + r.nbytes] = np.resize(pattern, r.nbytes)
                lens, writable, addrs = [16 + r.nbytes, 1], [False, True], [hdr, status]
            else:
                lens, writable, addrs = [16, r.nbytes + 1], [False, True], [hdr, data]
            token = self.q._next_token
            if self.q.add(lens, writable=writable, token=token, addrs=addrs) is None:
                raise ValueError("the ring is full")
            self._pending[token] = (r, slot)

    def kick(self) -> None:
        """Notify queue 0: a 16-bit store to its notify address, which QEMU's memory core
        turns into a write of the queue's ioeventfd, or (``direct_kick``) that write."""
        self.kicks += 1
        if self.kick_fd is not None:
            os.write(self.kick_fd, b"\x01\0\0\0\0\0\0\0")
        else:
            self.qemu.write(2, self.notify, 0)

    def kick_if_needed(self) -> bool:
        """The driver's decision (Linux ``virtqueue_kick_prepare``) from what QEMU
        published, then the kick if wanted; returns whether it kicked."""
        full_barrier()  # the avail index out before avail_event is read
        self.refresh()
        if self.q.kick_prepare():
            self.kick()
            return True
        return False

    def submit(self, requests: list[Request], fill: bytes | None = None) -> bool:
        """Add ``requests``, publish them and kick if QEMU wants it."""
        self.add(requests, fill)
        self.publish()
        return self.kick_if_needed()

    def outstanding(self) -> int:
        return len(self._pending)

    def wait(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` more used entries than reaped are in guest RAM (reading
        RAM directly: it costs QEMU nothing).  A ring QEMU found broken raises
        :class:`QemuError` with QEMU's message; no progress in ``timeout`` s too."""
        last = int(self.q.vq.st[DRV_LAST_USED_IDX])
        end = time.monotonic() + timeout
        pause = 20e-6
        while (self.used_idx - last) & 0xFFFF < count:
            if time.monotonic() > end:
                st = self.status()
                err = self.qemu.errors()
                raise QemuError(
                    f"{count} completions did not come within {timeout:g} s"
                    + (" (QEMU set NEEDS_RESET: the ring is broken)" if st & NEEDS_RESET else "")
                    + (f": {err[-400:]}" if err else "")
                )
            time.sleep(pause)
            pause = min(pause * 2, 2e-3)

    def reap(self) -> list[Completion]:
        """Take every used buffer; re-enable interrupts (EVENT_IDX: ``used_event`` follows
        what we reaped) and publish that."""
        self.refresh()
        mem = self.qemu.mem
        done = []
        while (got := self.q.get_used()) is not None:
            token, written = got
            r, slot = self._pending.pop(token)
            base = BUFFERS + slot * self.stride
            data = base + PAGE_SIZE
            status = int(mem[data + r.nbytes])
            done.append(
                Completion(
                    r, written, status, None if r.write else bytes(mem[data : data + r.nbytes])
                )
            )
            self._free_slots.append(slot)
        self.q.enable_interrupts()
        self.publish()
        return done

    def run(self, requests: list[Request], fill: bytes | None = None, timeout: float = 10.0):
        """Submit, wait for all, reap: the completions in order of completion."""
        self.submit(requests, fill)
        self.wait(len(requests), timeout)
        return self.reap()
