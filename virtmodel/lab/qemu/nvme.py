"""An NVMe driver in Python for QEMU's own ``nvme`` device: the admin queue, one I/O queue
pair, reads with one PRP, and (optionally) the Doorbell Buffer Config of NVMe 1.3
(shadow doorbells and EventIdx in guest RAM).

The sequence follows the NVMe 1.4 base specification: section 7.6.1 (controller
initialization: disable, AQA/ASQ/ACQ, CC.EN with the entry sizes, wait CSTS.RDY), 5.3/5.4
(Create I/O Completion / Submission Queue), 5.7 (Doorbell Buffer Config, opcode 0x7C) and
4.6 (completion entries: the phase tag flips on each pass through the queue).  With a
doorbell buffer the driver writes a queue's new tail to its shadow slot and rings the MMIO
doorbell only if the controller's EventIdx says it needs it (the virtio ``need_event`` rule,
:func:`virtmodel.spec.need_event`), as Linux's ``nvme_dbbuf_update_and_check_event`` does.
"""

from __future__ import annotations

import time

import numpy as np

from ...spec import need_event
from . import pci
from .process import Qemu, QemuError, full_barrier

# controller registers (BAR0)
CAP, CC, CSTS, AQA, ASQ, ACQ = 0x00, 0x14, 0x1C, 0x24, 0x28, 0x30
DOORBELLS = 0x1000
CC_EN = 1
CC_ENTRY_SIZES = (6 << 16) | (4 << 20)  # IOSQES 2**6 = 64 B, IOCQES 2**4 = 16 B
CSTS_RDY, CSTS_CFS = 1, 2
# opcodes
ADMIN_CREATE_SQ, ADMIN_CREATE_CQ, ADMIN_DBBUF_CONFIG = 0x01, 0x05, 0x7C
IO_READ = 0x02
SQE, CQE = 64, 16
LBA = 512
# guest-physical layout
MSI_AREA = 0x1000
ADMIN_SQ, ADMIN_CQ = 0x20000, 0x21000
IO_SQ, IO_CQ = 0x22000, 0x23000
SHADOW, EVENTIDX = 0x24000, 0x25000
DATA = 0x100000


class NvmeQueue:
    """One submission queue and its completion queue, with the driver's tail, head and
    phase."""

    def __init__(self, ctrl: Nvme, qid: int, sq: int, cq: int, size: int):
        self.ctrl, self.qid, self.sq, self.cq, self.size = ctrl, qid, sq, cq, size
        self.tail = self.head = 0
        self.phase = 1
        self.cid = 0
        self.doorbell_writes = 0

    def add(self, opcode: int, nsid: int = 0, prp1: int = 0, prp2: int = 0, cdw=()) -> int:
        """Write one command into the submission queue (not yet rung); returns its id."""
        e = np.zeros(SQE, np.uint8)
        cid = self.cid
        self.cid = (self.cid + 1) & 0xFFFF
        e[0] = opcode
        e[2:4] = np.frombuffer(np.uint16(cid).tobytes(), np.uint8)
        e[4:8] = np.frombuffer(np.uint32(nsid).tobytes(), np.uint8)
        e[24:40] = np.frombuffer(np.array([prp1, prp2], "<u8").tobytes(), np.uint8)
        words = np.zeros(6, "<u4")
        words[: len(cdw)] = cdw
        e[40:64] = np.frombuffer(words.tobytes(), np.uint8)
        at = self.sq + SQE * self.tail
        self.ctrl.qemu.mem[at : at + SQE] = e
        self.tail = (self.tail + 1) % self.size
        return cid

    def ring(self) -> bool:
        """Publish the tail: the shadow doorbell (if configured) and, if the controller's
        EventIdx asks for it (always without shadow doorbells), the MMIO doorbell."""
        c = self.ctrl
        old = self._published
        self._published = self.tail
        if c.dbbuf:
            c.shadow(2 * self.qid)[0] = self.tail
            full_barrier()  # the shadow tail out before the EventIdx is read
            if not need_event(int(c.eventidx(2 * self.qid)[0]), self.tail, old):
                return False
        c.qemu.write(4, c.bar + DOORBELLS + 2 * self.qid * c.stride, self.tail)
        self.doorbell_writes += 1
        return True

    _published = 0

    def completions(self, count: int, timeout: float = 10.0) -> list[tuple[int, int]]:
        """Wait for ``count`` completion entries; return their (command id, status) and
        ring the completion queue's head doorbell once."""
        mem = self.ctrl.qemu.mem
        out: list[tuple[int, int]] = []
        end = time.monotonic() + timeout
        while len(out) < count:
            at = self.cq + CQE * self.head
            status = int(mem[at + 14 : at + 16].view("<u2")[0])
            if status & 1 != self.phase:
                if time.monotonic() > end:
                    raise QemuError(
                        f"{count - len(out)} of {count} NVMe completions did not come within "
                        f"{timeout:g} s (CSTS {self.ctrl.csts():#x})"
                    )
                time.sleep(20e-6)
                continue
            out.append((int(mem[at + 12 : at + 14].view("<u2")[0]), status >> 1))
            self.head = (self.head + 1) % self.size
            if self.head == 0:
                self.phase ^= 1
        c = self.ctrl
        if c.dbbuf:
            c.shadow(2 * self.qid + 1)[0] = self.head
            full_barrier()
            if not need_event(int(c.eventidx(2 * self.qid + 1)[0]), self.head, self._cq_old):
                self._cq_old = self.head
                return out
        self._cq_old = self.head
        c.qemu.write(4, c.bar + DOORBELLS + (2 * self.qid + 1) * c.stride, self.head)
        return out

    _cq_old = 0


class Nvme:
    """QEMU's NVMe controller at PCI ``slot``: enabled, an I/O queue pair (queue 1) of
    ``queue_size`` entries, its completions signalled by MSI-X into guest RAM, and with
    ``dbbuf`` a Doorbell Buffer Config."""

    def __init__(self, qemu: Qemu, slot: int, queue_size: int = 64, dbbuf: bool = False):
        if not (isinstance(queue_size, int) and 2 <= queue_size <= 1024):
            raise ValueError(f"queue_size must be in 2..1024, got {queue_size!r}")
        self.qemu = qemu
        fn = pci.enumerate_function(qemu, slot)
        if (fn.vendor, fn.device) != (0x1B36, 0x0010):
            raise ValueError(f"slot {slot} holds {fn.vendor:04x}:{fn.device:04x}, not NVMe")
        self.bar = fn.bar(0)
        cap = qemu.read(8, self.bar + CAP)
        self.stride = 4 << ((cap >> 32) & 0xF)  # doorbell stride (DSTRD)
        qemu.write(4, self.bar + CC, 0)
        self._wait_ready(0)
        qemu.write(4, self.bar + AQA, (31 << 16) | 31)
        qemu.write(8, self.bar + ASQ, ADMIN_SQ)
        qemu.write(8, self.bar + ACQ, ADMIN_CQ)
        qemu.write(4, self.bar + CC, CC_ENTRY_SIZES | CC_EN)
        self._wait_ready(1)
        pci.enable_msix(fn, {0: (MSI_AREA, 0xAD), 1: (MSI_AREA + 4, 0x10)})
        self.dbbuf = False
        self.admin = NvmeQueue(self, 0, ADMIN_SQ, ADMIN_CQ, 32)
        self.admin_command(
            ADMIN_CREATE_CQ, prp1=IO_CQ, cdw=[(queue_size - 1) << 16 | 1, 1 << 16 | 3]
        )
        self.admin_command(
            ADMIN_CREATE_SQ, prp1=IO_SQ, cdw=[(queue_size - 1) << 16 | 1, 1 << 16 | 1]
        )
        self.io = NvmeQueue(self, 1, IO_SQ, IO_CQ, queue_size)
        if dbbuf:
            qemu.mem[SHADOW : SHADOW + 4096] = 0
            qemu.mem[EVENTIDX : EVENTIDX + 4096] = 0
            self.admin_command(ADMIN_DBBUF_CONFIG, prp1=SHADOW, prp2=EVENTIDX)
            self.dbbuf = True

    def _wait_ready(self, want: int) -> None:
        end = time.monotonic() + 5
        while (self.csts() & CSTS_RDY) != want:
            if self.csts() & CSTS_CFS or time.monotonic() > end:
                raise QemuError(
                    f"NVMe controller did not become ready={want} (CSTS {self.csts():#x})"
                )
            time.sleep(1e-3)

    def csts(self) -> int:
        return self.qemu.read(4, self.bar + CSTS)

    def shadow(self, slot: int) -> np.ndarray:
        """The shadow doorbell of ``slot`` (2 qid: SQ tail, 2 qid + 1: CQ head), as a view."""
        at = SHADOW + slot * self.stride
        return self.qemu.mem[at : at + 4].view("<u4")

    def eventidx(self, slot: int) -> np.ndarray:
        at = EVENTIDX + slot * self.stride
        return self.qemu.mem[at : at + 4].view("<u4")

    def admin_command(self, opcode: int, prp1: int = 0, prp2: int = 0, cdw=()) -> None:
        self.admin.add(opcode, prp1=prp1, prp2=prp2, cdw=cdw)
        self.admin.ring()
        ((_, status),) = self.admin.completions(1)
        if status:
            raise QemuError(f"NVMe admin command {opcode:#04x} failed: status {status:#x}")

    def read(self, lbas: list[int], nbytes: int = 4096) -> list[bytes]:
        """Read ``nbytes`` at each LBA (512 B blocks), all submitted before one doorbell;
        returns the data in submission order."""
        if not (nbytes % LBA == 0 and LBA <= nbytes <= 4096):
            raise ValueError(f"nbytes must be a multiple of 512 in 512..4096, got {nbytes}")
        if not 1 <= len(lbas) < self.io.size:
            raise ValueError(f"lbas must hold 1..{self.io.size - 1} blocks, got {len(lbas)}")
        cids = []
        for i, lba in enumerate(lbas):
            cids.append(self.io.add(IO_READ, 1, DATA + 4096 * i, cdw=[lba, 0, nbytes // LBA - 1]))
        self.io.ring()
        done = dict(self.io.completions(len(lbas)))
        bad = {c: s for c, s in done.items() if s}
        if bad:
            raise QemuError(f"NVMe reads failed: {bad}")
        mem = self.qemu.mem
        return [bytes(mem[DATA + 4096 * i : DATA + 4096 * i + nbytes]) for i in range(len(lbas))]
