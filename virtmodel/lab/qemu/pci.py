"""PCI as firmware would set it up: configuration space through ports 0xcf8/0xcfc
(configuration mechanism #1; there is no ECAM without firmware), BAR sizing and
assignment, the capability list, and MSI-X pointed at guest RAM.

PCI Local Bus 3.0 section 3.2.2.3.2 (the address port's format), section 6.2.5 (BARs:
write all ones, read back the size mask), section 6.7 (capability list) and section 6.8.2
(MSI-X: table entries of 16 bytes, message address, data, vector control).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .process import Qemu

CONFIG_ADDRESS, CONFIG_DATA = 0xCF8, 0xCFC
COMMAND = 0x04
CMD_IO, CMD_MEMORY, CMD_BUS_MASTER = 0x1, 0x2, 0x4
STATUS_CAP_LIST = 0x10
CAP_POINTER = 0x34
CAP_MSIX = 0x11
CAP_VENDOR = 0x09
MSIX_ENABLE = 1 << 15  # in the capability's Message Control word
MMIO_BASE = 0xE000_0000  # where BARs go: q35's 32-bit PCI hole, above the MMCONFIG window
IO_BASE = 0xC000


@dataclass
class Function:
    """One PCI function at ``slot`` (bus 0, function 0) and what enumeration found."""

    qemu: Qemu
    slot: int
    vendor: int = 0
    device: int = 0
    bars: dict[int, tuple[int, int, bool]] = field(default_factory=dict)  # i: addr, size, io
    caps: list[tuple[int, int]] = field(default_factory=list)  # (id, config offset)

    def _addr(self, off: int) -> int:
        return 0x8000_0000 | (self.slot << 11) | (off & 0xFC)

    def read32(self, off: int) -> int:
        self.qemu.out(4, CONFIG_ADDRESS, self._addr(off))
        return self.qemu.inp(4, CONFIG_DATA)

    def write32(self, off: int, value: int) -> None:
        self.qemu.out(4, CONFIG_ADDRESS, self._addr(off))
        self.qemu.out(4, CONFIG_DATA, value & 0xFFFF_FFFF)

    def read8(self, off: int) -> int:
        return (self.read32(off) >> (8 * (off & 3))) & 0xFF

    def bar(self, i: int) -> int:
        """BAR ``i``'s assigned address."""
        if i not in self.bars:
            raise ValueError(f"BAR {i} of slot {self.slot} is not implemented")
        return self.bars[i][0]


def enumerate_function(qemu: Qemu, slot: int, mmio_base: int = MMIO_BASE) -> Function:
    """Find the function at bus 0 ``slot``, size and assign its BARs (from ``mmio_base``
    upwards, each aligned to its size; I/O BARs from 0xC000), enable I/O, memory and bus
    mastering, and read its capability list."""
    if not 0 <= slot < 32:
        raise ValueError(f"slot must be in 0..31, got {slot}")
    fn = Function(qemu, slot)
    ident = fn.read32(0)
    if ident & 0xFFFF == 0xFFFF:
        raise ValueError(f"no PCI device at 00:{slot:02x}.0")
    fn.vendor, fn.device = ident & 0xFFFF, ident >> 16
    mmio, io = mmio_base, IO_BASE
    i = 0
    while i < 6:
        off = 0x10 + 4 * i
        fn.write32(off, 0xFFFF_FFFF)
        mask = fn.read32(off)
        if mask == 0:
            i += 1
            continue
        if mask & 1:  # I/O space
            size = (~(mask & ~0x3) & 0xFFFF) + 1
            io = (io + size - 1) & ~(size - 1)
            fn.write32(off, io)
            fn.bars[i] = (io, size, True)
            io += size
            i += 1
            continue
        wide = (mask >> 1) & 3 == 2  # a 64-bit BAR takes two slots
        size = (~(mask & ~0xF) & 0xFFFF_FFFF) + 1
        mmio = (mmio + size - 1) & ~(size - 1)
        fn.write32(off, mmio)
        if wide:
            fn.write32(off + 4, 0)
        fn.bars[i] = (mmio, size, False)
        mmio += size
        i += 2 if wide else 1
    fn.write32(COMMAND, fn.read32(COMMAND) | CMD_IO | CMD_MEMORY | CMD_BUS_MASTER)
    if (fn.read32(COMMAND) >> 16) & STATUS_CAP_LIST:
        ptr = fn.read8(CAP_POINTER) & 0xFC
        while ptr:
            word = fn.read32(ptr)
            fn.caps.append((word & 0xFF, ptr))
            ptr = (word >> 8) & 0xFC
    return fn


def enable_msix(fn: Function, vectors: dict[int, tuple[int, int]]) -> None:
    """Point MSI-X table entries at guest RAM: ``vectors[n] = (address, data)``; each
    interrupt of vector ``n`` then stores ``data`` (4 bytes) at ``address``."""
    cap = next((off for cid, off in fn.caps if cid == CAP_MSIX), None)
    if cap is None:
        raise ValueError(f"the device at slot {fn.slot} has no MSI-X capability")
    control = fn.read32(cap)
    table = fn.read32(cap + 4)
    base = fn.bar(table & 7) + (table & ~7)
    size = ((control >> 16) & 0x7FF) + 1
    for n, (addr, data) in vectors.items():
        if not 0 <= n < size:
            raise ValueError(f"MSI-X vector must be in 0..{size - 1}, got {n}")
        e = base + 16 * n
        fn.qemu.write(4, e, addr & 0xFFFF_FFFF)
        fn.qemu.write(4, e + 4, addr >> 32)
        fn.qemu.write(4, e + 8, data)
        fn.qemu.write(4, e + 12, 0)  # unmasked
    fn.write32(cap, control | (MSIX_ENABLE << 16))
