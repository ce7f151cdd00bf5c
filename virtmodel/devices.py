"""A catalogue of emulated devices: what one operation costs in traps.

Emulation's strength (the source's section 2.2) is that any device can be imitated, so an
unmodified guest finds the hardware it has a driver for.  Its price is that every register
access of that driver traps.  Each entry below is one typical operation, described by the
register accesses its driver makes, and run through :mod:`virtmodel.trap` / the emulated path.

The register sequences are simplified readings of each device's programming model (ATA task
file and bus-master IDE; the e1000's transmit tail and interrupt cause registers).  They are
**assumptions** about a typical driver, not traces: real drivers add status polls, and an
ATA PIO transfer raises an interrupt per block, which is left out.  They are here to show
orders of magnitude, and each is named so you can see what is counted.
"""

from __future__ import annotations

from typing import NamedTuple

from .paths import simulate


class Device(NamedTuple):
    name: str
    operation: str
    request_bytes: int
    data_mode: str
    registers: tuple  # register accesses that start / finish the operation
    dma_registers: tuple = ()  # extra accesses that program a DMA transfer

    @property
    def params(self) -> dict:
        return dict(request_bytes=self.request_bytes, data_mode=self.data_mode,
                    accesses_per_request=len(self.registers),
                    dma_setup_accesses=len(self.dma_registers))


_TASKFILE = ("sector count", "LBA low", "LBA mid", "LBA high", "device/head", "command",
             "status read")
CATALOGUE = (
    Device("IDE disk (PIO)", "read 4 KiB with rep insw", 4096, "string-pio", _TASKFILE),
    Device("IDE disk (bus-master DMA)", "read 4 KiB", 4096, "dma", _TASKFILE,
           ("PRD table address", "bus-master status clear", "bus-master start")),
    Device("e1000 NIC", "send one 1500 B frame", 1500, "dma",
           ("TDT (transmit tail) write", "ICR read in the interrupt handler")),
    Device("e1000 NIC", "send one 64 B frame", 64, "dma",
           ("TDT (transmit tail) write", "ICR read in the interrupt handler")),
    Device("legacy port (plain out)", "write 512 B, 4 B per out", 512, "pio",
           ("command",)),
)


def _row(device: str, operation: str, registers: str, r) -> dict:
    return {"device": device, "operation": operation, "registers": registers,
            "exits": r.exits_per_request, "user_exits": r.user_exits_per_request,
            "copied_bytes": r.copied_bytes_per_request, "us_per_request": r.us_per_request}


def catalogue(profile="published", requests: int = 2000) -> list[dict]:
    """One row per catalogue entry, plus virtio doing the same transfers for contrast."""
    rows = [_row(d.name, d.operation, ", ".join(d.registers + d.dma_registers),
                 simulate("emulated", **d.params, profile=profile, requests=requests))
            for d in CATALOGUE]
    for size, what in ((4096, "virtio-blk"), (1500, "virtio-net")):
        for batch in (1, 16):
            rows.append(_row(what, f"{size} B, {batch} per kick", "kick (ioeventfd)",
                             simulate("virtio", request_bytes=size, batch=batch,
                                      profile=profile, requests=requests)))
    return rows
