"""``"emulated"``: QEMU emulates a device register by register (:mod:`virtmodel.trap`).

Every register access traps; data cross by port I/O, string port I/O or DMA; the vCPU halts
while the device works and takes its interrupt, whose handler reads and clears status
registers.  One request at a time (an IDE channel has one command outstanding).  There is
no shared ring: the ring parameters (``batch``, ``iodepth``, ``queue_size``, ``event_idx``,
...) are accepted and change nothing, so that every path can be swept over the same knob
(the flat curve is the point: emulation gains nothing from batching).

The register sequences of real hardware are in :mod:`virtmodel.registers`.
"""

from __future__ import annotations

import numpy as np

from .. import jitter, registers, trap
from ..costs import CostProfile
from ..trap import STAGES
from . import params as P
from .registry import Example, Param, Path, register
from .result import Outcome

D = trap.DEFAULTS
_DEV = STAGES.index("device")
_POLL = STAGES.index("polling")


def _run(p: dict, prof: CostProfile, rng) -> Outcome:
    n = p["requests"]
    kw = {k: p[k] for k in trap.DEFAULTS}
    c = trap.counts(**kw)
    dev = jitter.factors(rng, prof.jitter_cv, n)  # x the device's time
    if p["interrupts"]:
        # the halted vCPU waits: KVM polls when the wait fits its window (the steady state
        # of the adaptive window), else the thread sleeps and is woken
        poll_st = trap.steps(profile=prof, wait="poll", **kw)
        sleep_st = trap.steps(profile=prof, wait="sleep", **kw)
        d = trap.stage_ns(poll_st)[_DEV]
        polled = dev * d <= prof.halt_poll_ns if p["halt_poll"] else np.zeros(n, bool)
    else:
        poll_st = sleep_st = trap.steps(profile=prof, **kw)
        d = trap.stage_ns(poll_st)[_DEV]
        polled = np.zeros(n, bool)
    lat = np.where(polled, trap.elapsed_ns(poll_st), trap.elapsed_ns(sleep_st)) + (dev - 1) * d
    share = float(polled.mean())
    stages = share * trap.stage_ns(poll_st) + (1 - share) * trap.stage_ns(sleep_st)
    stages[_DEV] = d * float(dev.mean())
    stages[_POLL] = share and float((dev * d)[polled].sum() / n)
    slept = 0.0 if not p["interrupts"] else 1.0 - share
    return Outcome(
        elapsed_ns=float(lat.sum()),
        latencies=lat,
        exits=float(c.exits),
        user_exits=float(c.user_exits),
        interrupts=float(c.interrupts),
        kicks=0.0,
        context_switches=c.context_switches + 2 * slept,
        copied=c.copied_bytes,
        stage_ns=stages,
        exits_by_reason={k: float(v) for k, v in c.exits_by_reason.items()},
    )


_OWN = (
    Param(
        "data_mode",
        D["data_mode"],
        "",
        "how data cross: pio (4 B per OUT/IN), string-pio "
        "(rep outs/ins through KVM's emulator), dma (QEMU maps guest memory)",
        kind="choice",
        choices=trap.DATA_MODES,
    ),
    P.DIRECTION,
    Param(
        "accesses_per_request",
        D["accesses_per_request"],
        "accesses",
        "trapping register accesses that start a request",
        lo=0,
        hi=trap.LIMITS["accesses_per_request"],
    ),
    Param(
        "dma_setup_accesses",
        D["dma_setup_accesses"],
        "accesses",
        "extra register accesses that program a DMA transfer",
        lo=0,
        hi=trap.LIMITS["dma_setup_accesses"],
    ),
    Param(
        "handler_accesses",
        D["handler_accesses"],
        "accesses",
        "register accesses in the interrupt handler (status reads, acknowledgements)",
        lo=0,
        hi=trap.LIMITS["handler_accesses"],
    ),
    Param(
        "mmio",
        D["mmio"],
        "",
        "the registers are memory-mapped (KVM decodes each access; port accesses need no decode)",
        kind="bool",
    ),
    Param(
        "busy_wait_ns",
        D["busy_wait_ns"],
        "ns",
        "the driver's busy-waits per request (udelay between register accesses)",
        lo=0,
        hi=trap.LIMITS["busy_wait_ns"],
    ),
    Param(
        "irq_trigger",
        D["irq_trigger"],
        "",
        "edge (ISA IRQ, MSI) or level (PCI INTx: its EOI always exits)",
        kind="choice",
        choices=trap.TRIGGERS,
    ),
    Param(
        "string_chunk_bytes",
        D["string_chunk_bytes"],
        "B",
        "string PIO reads: bytes per "
        "rep ins the driver issues (libata: one 512 B sector; 0: the whole transfer)",
        lo=0,
        hi=trap.LIMITS["string_chunk_bytes"],
    ),
    Param(
        "served_in_exit",
        D["served_in_exit"],
        "",
        "the device model completes the "
        "request before the doorbell's exit returns (e1000's transmit): no wait, no halt",
        kind="bool",
    ),
    Param(
        "data_copies",
        D["data_copies"],
        "copies",
        "DMA: CPU copies of the data the device "
        "model makes anyway (e1000: into its buffer, then to the tap device)",
        lo=0,
        hi=trap.LIMITS["data_copies"],
    ),
)

PATH = register(
    Path(
        name="emulated",
        label="generic emulated device",
        color="#D55E00",
        doc="QEMU emulates a device register by register; every access traps",
        params=(*P.RING, *_OWN, *P.HOST, P.PROFILE, P.SEED),
        run=_run,
        examples=tuple(
            Example(s.hardware, s.operation, s.where, registers.params(s))
            for s in registers.SEQUENCES
        ),
    )
)
