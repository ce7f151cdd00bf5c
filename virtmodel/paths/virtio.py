"""``"virtio"``: a virtio driver and QEMU's back end exchange requests through a split ring.

:mod:`virtmodel.ringsim` runs :mod:`virtmodel.ring`: kicks and interrupts happen when the
ring's suppression logic asks for them.  With ``ioeventfd`` a kick is an exit handled in
the kernel that wakes QEMU's I/O thread; without, it is an exit to user space during which
QEMU drains the ring in the vCPU thread.
"""

from __future__ import annotations

import math
from functools import lru_cache

from ..costs import CostProfile
from ..spec import PAGE_SIZE
from .. import ringsim as rs
from . import params as P
from . import ringpath
from .registry import Example, Path, register


@lru_cache(maxsize=256)
def action_costs(s: int, ioeventfd: bool, prof: CostProfile):
    """Cost and exit matrices of the event loop's actions (shared: do not modify)."""
    cost, exits = ringpath.action_costs()
    sv = ringpath.stage_vec
    cost[rs.A_SUBMIT] = sv(guest=prof.guest_ns_per_request)
    if ioeventfd:
        cost[rs.A_KICK] = sv(exit_entry=prof.vmexit_ns, kvm=prof.kvm_exit_ns)
        exits[rs.A_KICK] = (1, 0)
        cost[rs.A_WAKE] = sv(context_switch=prof.wakeup_ns, qemu=prof.notify_ns)
    else:
        cost[rs.A_KICK] = sv(exit_entry=prof.vmexit_ns, kvm=prof.kvm_exit_ns,
                             context_switch=prof.user_exit_ns,
                             qemu=prof.emulate_access_ns + prof.notify_ns)
        exits[rs.A_KICK] = (1, 1)
    pages = math.ceil(s / PAGE_SIZE)
    cost[rs.A_SERVE] = sv(qemu=prof.virtio_ns_per_request + pages * prof.dma_map_ns_per_page,
                          copy=s * prof.copy_ns_per_byte,
                          device=prof.device_ns_per_request + s * prof.device_ns_per_byte)
    cost[rs.A_IRQ] = sv(kvm=prof.irq_inject_ns, exit_entry=prof.eoi_ns)
    exits[rs.A_IRQ] = (2, 0)  # delivery (IPI or HLT wake-up) and the EOI
    return cost, exits


def _run(p: dict, prof: CostProfile, rng):
    cost, exits = action_costs(p["request_bytes"], p["ioeventfd"], prof)
    sync = not p["ioeventfd"]
    return ringpath.run("virtio", p, prof, rng, cost, exits, kick_sync=sync,
                        copied=p["request_bytes"], wakes_are_switches=not sync)


PATH = register(Path(
    name="virtio", label="virtio", color="#2471a3",
    doc="a virtio driver and QEMU's back end share a split ring",
    params=(*P.RING, P.IOEVENTFD, P.PROFILE, P.SEED), run=_run,
    examples=tuple(Example(what, f"{size} B, {batch} per kick", "kick (ioeventfd)",
                           dict(request_bytes=size, batch=batch))
                   for size, what in ((4096, "virtio-blk"), (1500, "virtio-net"))
                   for batch in (1, 16))))
