"""What every path over a shared ring does the same way: build the event loop's inputs,
run :func:`virtmodel.ringsim.simulate_ring`, turn its counters into an Outcome.

A ring path declares how much each of the event loop's actions costs (a matrix of ns per
stage, rows ``ringsim.A_*``) and how many exits each takes (all, to user space); see
:func:`action_costs`.
"""

from __future__ import annotations

import numpy as np

from .. import ring, ringsim
from ..costs import CostProfile
from ..trap import STAGES
from .result import Outcome, sigma


def stage_vec(**ns) -> np.ndarray:
    """ns per stage (ordered as STAGES) from keyword amounts."""
    v = np.zeros(len(STAGES))
    for k, x in ns.items():
        v[STAGES.index(k)] += x
    return v


def action_costs():
    """Empty cost matrix (ns per stage) and exit matrix (all, user) of the loop's actions."""
    return (np.zeros((ringsim.N_ACTIONS, len(STAGES))),
            np.zeros((ringsim.N_ACTIONS, 2), dtype=np.int64))


def run(name: str, p: dict, prof: CostProfile, rng, cost, exits, *, kick_sync: bool,
        copied: float, wakes_are_switches: bool) -> Outcome:
    """Run ``p["requests"]`` requests of path ``name`` through a ring with the given action
    costs.  ``kick_sync``: a kick drains the ring inside the exit (no device thread);
    ``wakes_are_switches``: waking the device is a thread switch (a software back end)."""
    n, s, n_desc = p["requests"], p["request_bytes"], p["descriptors_per_request"]
    vq = ring.make_virtqueue(p["queue_size"], event_idx=p["event_idx"])
    # the request's bytes spread over its descriptors, all device-readable
    lens = np.full(n_desc, s // n_desc, dtype=np.int64)
    lens[: s % n_desc] += 1
    chain_write = np.zeros(n_desc, dtype=np.bool_)
    submit_t = np.zeros(n)
    done_t = np.zeros(n)
    stage_ns = np.zeros(len(STAGES))
    counters = np.zeros(ringsim.N_COUNTERS, dtype=np.int64)
    ringsim.simulate_ring(vq, n, p["batch"], lens, chain_write, 0, cost, exits, kick_sync,
                          not p["interrupts"], rng, sigma(prof.jitter_cv), submit_t, done_t,
                          stage_ns, counters)
    status = int(counters[ringsim.C_STATUS])
    if status != ringsim.OK:
        why = ring.broken_reason(vq) or ""
        raise RuntimeError(f"{name} simulation failed: {ringsim.STATUS_TEXT[status]} {why}")
    thread_wakes = counters[ringsim.C_WAKES] if wakes_are_switches else 0
    return Outcome(
        elapsed_ns=float(done_t.max()),
        latencies=done_t - submit_t,
        exits=counters[ringsim.C_EXITS] / n,
        user_exits=counters[ringsim.C_USER_EXITS] / n,
        interrupts=counters[ringsim.C_IRQS] / n,
        kicks=counters[ringsim.C_KICKS] / n,
        context_switches=(thread_wakes + 2 * counters[ringsim.C_USER_EXITS]) / n,
        copied=copied,
        stage_ns=stage_ns / n,
    )
