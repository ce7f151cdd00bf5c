"""``"native"``: bare metal, an NVMe SSD driven by Linux's nvme driver, its submission and
completion queues stood for by the ring.  A kick is a posted doorbell write, the device is
hardware (it serves up to its parallelism at once and DMAs without a CPU copy), an
interrupt costs no exit, and an idle CPU waits without a VM exit.

The CPU around the device is the bare-metal I/O stack of the cost profile: its submit share
(``guest_ns_per_request``), the doorbell, its completion share per interrupt
(``native_irq_ns``); the device's time is the device's alone, so at queue depth 1 the path
reproduces the bare-metal latency the device time was derived from.  Interrupts: one per
pass of completions, as an NVMe controller raises them, unless interrupt coalescing is set
(``coalesce_entries``, ``coalesce_us``; ``ringpath.NVME_INTERRUPTS``).
Doorbells follow the ring's protocol; a real controller without shadow doorbells (which
hardware rarely offers) suppresses none, a difference of at most one 100 ns posted write
per request at depth."""

from __future__ import annotations

from functools import lru_cache

from .. import params as P
from .. import ringsim as rs
from ..costs import CostProfile
from . import ringpath
from .registry import Path, register
from .ringpath import RingSetup
from .ringpath import stage_vec as sv


@lru_cache(maxsize=256)
def setup(s: int, prof: CostProfile):
    """The event loop's inputs (shared: do not modify)."""
    cost, exits = ringpath.action_matrices()
    cost[rs.A_SUBMIT] = sv(guest=prof.guest_ns_per_request)
    cost[rs.A_KICK] = sv(guest=prof.doorbell_ns)
    cost[rs.A_SERVICE] = sv(device=prof.device_ns_per_request + s * prof.device_ns_per_byte)
    cost[rs.A_HANDLER] = sv(guest=prof.native_irq_ns)
    return RingSetup(
        cost,
        exits,
        kick_sync=False,
        suppress_kicks=True,
        suppress_interrupts=False,  # ringpath.NVME_INTERRUPTS
        halt_poll_ns=0.0,
        copied=0.0,
        software_backend=False,
    )


def _run(p: dict, prof: CostProfile, rng):
    return ringpath.run("native", p, prof, rng, setup(p["request_bytes"], prof))


PATH = register(
    Path(
        name="native",
        label="native",
        color="#000000",
        doc="bare metal: the same ring protocol with a hardware device",
        params=(*P.RING, *P.SCALE, *P.COALESCING, P.DEVICE_PARALLELISM, P.PROFILE, P.SEED),
        run=_run,
    )
)
