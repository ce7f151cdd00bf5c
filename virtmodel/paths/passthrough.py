"""``"passthrough"``: device assignment (VFIO) of an NVMe SSD, its queues stood for by the
ring as in ``native``.  The guest's own nvme driver talks to the real device: its doorbell
writes reach the device's BAR, mapped into the guest, without an exit; the device reads and
writes guest memory by DMA through the IOMMU; no software back end.  The device interrupts
per pass of completions, with no virtio-style suppression, unless interrupt coalescing is
set (``coalesce_entries``, ``coalesce_us``: ``ringpath.NVME_INTERRUPTS``).

What virtualization still costs is the interrupt and the idle vCPU.  With posted
interrupts (VT-d posted interrupts, ``interrupt_mode="posted"``) the device's MSI-X
reaches a running vCPU without an exit.  Without them the host takes the interrupt (VFIO's
handler), signals KVM's irqfd, and KVM injects it: an exit to deliver and one for the EOI
("legacy"); the guest's accesses to the MSI-X table still trap, but a driver makes them
only to set vectors up or mask them, not per I/O.  ELI (ASPLOS 2012) measured 97-100 % of
bare metal with exitless interrupts and 60-65 % without.  Even with posted interrupts an
idle vCPU halts: the HLT exit's VM entry (``wake_entry_ns``) is on every completion's
latency path, so a request takes longer than on bare metal.
"""

from __future__ import annotations

from functools import lru_cache

from .. import params as P
from ..costs import CostProfile
from . import ringpath
from .registry import Example, Path, register
from .ringpath import exit_vec
from .ringpath import stage_vec as sv


@lru_cache(maxsize=256)
def setup(s: int, mode: str, prof: CostProfile):
    """The event loop's inputs (shared: do not modify)."""
    # the doorbell is a BAR mapped into the guest: a plain write, no exit
    return ringpath.hardware_setup(
        prof, s, mode, (sv(guest=prof.doorbell_ns), exit_vec()), suppress_interrupts=False
    )


def _run(p: dict, prof: CostProfile, rng):
    return ringpath.run(
        "passthrough",
        p,
        prof,
        rng,
        setup(p["request_bytes"], p["interrupt_mode"], prof),
    )


PATH = register(
    Path(
        name="passthrough",
        label="device assignment (VFIO)",
        color="#009E73",
        doc="the guest's driver drives the real device; only interrupts and idling cost exits",
        params=(
            *P.RING,
            *P.VM_SCALE,
            *P.COALESCING,
            *P.HOST,
            P.DEVICE_PARALLELISM,
            P.PROFILE,
            P.SEED,
        ),
        run=_run,
        examples=tuple(
            Example(
                "NVMe SSD assigned with VFIO",
                f"read 4 KiB, {mode} interrupts",
                "none per I/O (the doorbells are mapped)",
                dict(request_bytes=4096, interrupt_mode=mode),
            )
            for mode in ("posted", "legacy")
        ),
    )
)
