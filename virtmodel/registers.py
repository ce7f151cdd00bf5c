"""The register sequences of real emulated hardware, as the Linux drivers make them.

Each :class:`Sequence` counts the trapping accesses one operation takes on QEMU's emulation,
read from the Linux driver (function names given; paraphrased, not copied) and QEMU's device
model.  They feed the ``"emulated"`` path (:func:`params`) and the hardware catalogue.
Counts are for the steady state: accesses a driver skips when a register already holds the
value (e.g. libata's device-control write) are not counted.
"""

from __future__ import annotations

from typing import NamedTuple


class Sequence(NamedTuple):
    """One operation's trapping accesses."""

    hardware: str
    operation: str
    request_bytes: int
    data_mode: str  # "dma", "string-pio" or "pio"
    direction: str  # "read" or "write"
    issue: int  # accesses that start the operation (before any data moves)
    dma_setup: int  # accesses that program the DMA engine
    handler: int  # accesses in the interrupt handler
    mmio: bool  # memory-mapped registers (KVM decodes each access)
    irq_trigger: str  # "edge" or "level"
    busy_wait_ns: int  # the driver's busy-waits (udelay) per operation
    where: str  # the driver functions the counts come from
    string_chunk_bytes: int = 0  # bytes per rep ins call (libata: one sector)
    pio_element_bytes: int = 4  # bytes per in/out or ins/outs element
    served_in_exit: bool = False  # done before the doorbell's exit returns (a NIC's TX)
    data_copies: int = 0  # CPU copies of the data by the device model


IDE_PIO_READ = Sequence(
    "IDE disk (ata_piix, PIO)",
    "read 4 KiB (READ MULTIPLE, one 512 B rep insl per sector)",
    4096,
    "string-pio",
    "read",
    issue=13,
    dma_setup=0,
    handler=6,
    mmio=False,
    irq_trigger="edge",
    busy_wait_ns=40_000,
    where="libata-sff.c: ata_sff_qc_issue (device select, task file, command: 13 port "
    "accesses with their status and alt-status reads), __ata_sff_port_intr and "
    "ata_pio_sectors (alt-status, status, BM status read and clear, a sync read, a "
    "final status read); udelay(10) before 4 status checks",
    string_chunk_bytes=512,
    pio_element_bytes=4,
)
"""Per sector the driver issues one ``rep insl`` of 128 dwords: 512 B, within KVM's 1 KiB
read-ahead, so one exit per sector, and 128 dispatches in QEMU.  32-bit, because ata_piix's
PATA ports inherit ``ata_bmdma32_port_ops``: its ``ata_sff_data_xfer32`` moves dwords
(``ioread32_rep``) once ``ata_bmdma_port_start32`` has set ``ATA_PFLAG_PIO32``; libata's
plain ``ata_sff_data_xfer`` moves words (``ioread16_rep``: 256 dispatches a sector)."""

IDE_DMA_READ = Sequence(
    "IDE disk (ata_piix, bus-master DMA)",
    "read 4 KiB (READ DMA, LBA28)",
    4096,
    "dma",
    "read",
    issue=10,
    dma_setup=8,
    handler=8,
    mmio=False,
    irq_trigger="edge",
    busy_wait_ns=30_000,
    where="libata-sff.c: ata_bmdma_qc_issue (device select and task file: 10), "
    "ata_bmdma_setup and ata_bmdma_start (PRD address, BM command read/write, the "
    "command, an alt-status read, BM start: 8), ata_bmdma_port_intr (BM status, BM "
    "stop, alt-status and status reads, BM status read and clear: 8); udelay(10) "
    "before 3 status checks",
)

E1000_TX = Sequence(
    "e1000 NIC",
    "send one 1500 B frame and take its interrupt",
    1500,
    "dma",
    "write",
    issue=1,
    dma_setup=0,
    handler=5,
    mmio=True,
    irq_trigger="level",
    busy_wait_ns=0,
    where="e1000_main.c: e1000_xmit_frame (the TDT write), e1000_intr (ICR read, IMC write, "
    "a STATUS read to flush), e1000_irq_enable (IMS write, STATUS read); PCI INTx is "
    "level-triggered; QEMU's e1000 reads the frame into its buffer and writes it to the "
    "tap device inside the TDT write's exit (hw/net/e1000.c process_tx_desc)",
    served_in_exit=True,
    data_copies=2,
)

E1000_TX_SMALL = E1000_TX._replace(
    operation="send one 64 B frame and take its interrupt", request_bytes=64
)

SEQUENCES = (IDE_PIO_READ, IDE_DMA_READ, E1000_TX, E1000_TX_SMALL)


def params(seq: Sequence) -> dict:
    """The ``"emulated"`` path's parameters for one operation of ``seq``."""
    return dict(
        request_bytes=seq.request_bytes,
        data_mode=seq.data_mode,
        direction=seq.direction,
        accesses_per_request=seq.issue,
        dma_setup_accesses=seq.dma_setup,
        handler_accesses=seq.handler,
        mmio=seq.mmio,
        irq_trigger=seq.irq_trigger,
        busy_wait_ns=seq.busy_wait_ns,
        string_chunk_bytes=seq.string_chunk_bytes,
        pio_element_bytes=seq.pio_element_bytes,
        served_in_exit=seq.served_in_exit,
        data_copies=seq.data_copies,
    )
