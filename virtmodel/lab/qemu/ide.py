"""QEMU's IDE disk through the legacy ports of the ``pc`` machine's PIIX controller, driven
register by register as a PIO driver does (ATA/ATAPI-6, section 9.5 "PIO data-in command
protocol": select the device, write the count and LBA registers, write the command, poll
status for DRQ, read the data register once per 16-bit word)."""

from __future__ import annotations

import time

from .process import Qemu, QemuError

DATA, COUNT, LBA0, LBA1, LBA2, DEVICE, STATUS = 0x1F0, 0x1F2, 0x1F3, 0x1F4, 0x1F5, 0x1F6, 0x1F7
COMMAND = STATUS
CONTROL = 0x3F6
BSY, DRQ, ERR = 0x80, 0x08, 0x01
READ_SECTORS = 0x20
NIEN = 0x02  # device control: no interrupts (the driver polls)
SECTOR_WORDS = 256


class Ide:
    """The primary channel's master disk, polled, interrupts off."""

    def __init__(self, qemu: Qemu):
        self.qemu = qemu
        qemu.out(1, CONTROL, NIEN)
        self.wait(0)

    def status(self) -> int:
        return self.qemu.inp(1, STATUS)

    def wait(self, want_drq: int, timeout: float = 5.0) -> int:
        end = time.monotonic() + timeout
        while True:
            st = self.status()
            if st & ERR:
                raise QemuError(f"IDE command failed: status {st:#04x}")
            if not st & BSY and bool(st & DRQ) == bool(want_drq):
                return st
            if time.monotonic() > end:
                raise QemuError(f"IDE status {st:#04x}: no DRQ={want_drq} within {timeout:g} s")

    def start_read(self, lba: int, sectors: int) -> None:
        """Issue READ SECTORS (LBA28) and wait until the first sector's data is ready."""
        if not 0 <= lba < 1 << 28:
            raise ValueError(f"lba must be in 0..2**28-1, got {lba}")
        if not 1 <= sectors <= 256:
            raise ValueError(f"sectors must be in 1..256, got {sectors}")
        o = self.qemu.out
        o(1, DEVICE, 0xE0 | (lba >> 24) & 0xF)
        o(1, COUNT, sectors & 0xFF)
        o(1, LBA0, lba & 0xFF)
        o(1, LBA1, (lba >> 8) & 0xFF)
        o(1, LBA2, (lba >> 16) & 0xFF)
        o(1, COMMAND, READ_SECTORS)
        self.wait(1)

    def read(self, lba: int, sectors: int = 1) -> bytes:
        """Read ``sectors`` sectors by PIO, one data-register read per 16-bit word."""
        self.start_read(lba, sectors)
        out = bytearray()
        for s in range(sectors):
            if s:
                self.wait(1)
            for _ in range(SECTOR_WORDS):
                out += self.qemu.inp(2, DATA).to_bytes(2, "little")
        self.wait(0)
        return bytes(out)
