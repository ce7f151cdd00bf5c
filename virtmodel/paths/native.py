"""``"native"``: the same ring protocol on bare metal.  A kick is a posted doorbell write,
the device is hardware (it DMAs without a CPU copy), an interrupt costs no exit."""

from __future__ import annotations

from functools import lru_cache

from ..costs import CostProfile
from .. import ringsim as rs
from . import params as P
from . import ringpath
from .registry import Path, register


@lru_cache(maxsize=256)
def action_costs(s: int, prof: CostProfile):
    """Cost and exit matrices of the event loop's actions (shared: do not modify)."""
    cost, exits = ringpath.action_costs()
    sv = ringpath.stage_vec
    cost[rs.A_SUBMIT] = sv(guest=prof.guest_ns_per_request)
    cost[rs.A_KICK] = sv(guest=prof.doorbell_ns)
    cost[rs.A_SERVE] = sv(device=prof.device_ns_per_request + s * prof.device_ns_per_byte)
    cost[rs.A_IRQ] = sv(guest=prof.native_irq_ns)
    return cost, exits


def _run(p: dict, prof: CostProfile, rng):
    cost, exits = action_costs(p["request_bytes"], prof)
    return ringpath.run("native", p, prof, rng, cost, exits, kick_sync=False, copied=0,
                        wakes_are_switches=False)


PATH = register(Path(
    name="native", label="native", color="#555555",
    doc="bare metal: the same ring protocol with a hardware device",
    params=(*P.RING, P.PROFILE, P.SEED), run=_run))
