"""``"emulated"``: QEMU emulates a device register by register (:mod:`virtmodel.trap`).

Every request traps several times and the vCPU waits for the whole sequence.  There is no
shared ring: the ring parameters (``batch``, ``queue_size``, ``event_idx``, ...) are
accepted and change nothing, so that every path can be swept over the same knob (the flat
curve is the point: emulation gains nothing from batching).
"""

from __future__ import annotations

from .. import trap
from ..costs import CostProfile
from ..trap import STAGES
from . import params as P
from .registry import Example, Path, register
from .result import Outcome, jitter


def _run(p: dict, prof: CostProfile, rng) -> Outcome:
    n = p["requests"]
    args = (p["request_bytes"], p["data_mode"], p["accesses_per_request"],
            p["dma_setup_accesses"], p["interrupts"])
    c = trap.counts(*args)
    stages = trap.stage_ns(trap.steps(*args, profile=prof))
    dev = stages[STAGES.index("device")]
    fixed = stages.sum() - dev
    jit = jitter(rng, prof.jitter_cv, n)
    lat = fixed + dev * jit  # the vCPU waits for each request, start to finish
    stages[STAGES.index("device")] = dev * float(jit.mean())
    return Outcome(
        elapsed_ns=float(lat.sum()), latencies=lat,
        exits=float(c.exits), user_exits=float(c.user_exits),
        interrupts=float(c.interrupts), kicks=0.0,
        context_switches=float(c.context_switches), copied=c.copied_bytes,
        stage_ns=stages)


_TASKFILE = ("sector count", "LBA low", "LBA mid", "LBA high", "device/head", "command",
             "status read")


def _example(hardware, operation, size, mode, registers, dma_registers=()):
    return Example(hardware, operation, ", ".join(registers + dma_registers),
                   dict(request_bytes=size, data_mode=mode,
                        accesses_per_request=len(registers),
                        dma_setup_accesses=len(dma_registers)))


EXAMPLES = (
    _example("IDE disk (PIO)", "read 4 KiB with rep insw", 4096, "string-pio", _TASKFILE),
    _example("IDE disk (bus-master DMA)", "read 4 KiB", 4096, "dma", _TASKFILE,
             ("PRD table address", "bus-master status clear", "bus-master start")),
    _example("e1000 NIC", "send one 1500 B frame", 1500, "dma",
             ("TDT (transmit tail) write", "ICR read in the interrupt handler")),
    _example("e1000 NIC", "send one 64 B frame", 64, "dma",
             ("TDT (transmit tail) write", "ICR read in the interrupt handler")),
    _example("legacy port (plain out)", "write 512 B, 4 B per out", 512, "pio", ("command",)),
)
"""Typical operations of emulated hardware.  The register sequences are simplified
readings of each device's programming model (ATA task file and bus-master IDE; the e1000's
transmit tail and interrupt cause registers): assumptions about a typical driver, not
traces."""

PATH = register(Path(
    name="emulated", label="emulated", color="#c0392b",
    doc="QEMU emulates a device register by register; every access traps",
    params=(*P.RING, P.DATA_MODE, P.ACCESSES, P.DMA_SETUP, P.PROFILE, P.SEED), run=_run,
    examples=EXAMPLES))
