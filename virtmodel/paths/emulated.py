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
from .. import params as P
from ..costs import CostProfile
from .registry import Example, Path, register
from .result import STAGES, Outcome

_DEV = STAGES.index("device")
_POLL = STAGES.index("polling")


def _stage_ns(step_list: list[trap.Step]) -> np.ndarray:
    """ns per stage of a request's steps, ordered as STAGES."""
    ns = trap.ns_by_stage(step_list)
    return np.array([ns.get(s, 0.0) for s in STAGES])


def _run(p: dict, prof: CostProfile, rng) -> Outcome:
    n = p["requests"]
    kw = {k: p[k] for k in trap.DEFAULTS}
    c = trap.counts(profile=prof, **kw)
    dev = jitter.factors(rng, prof.jitter_cv, n)  # x the device's time
    if p["interrupts"]:
        # the halted vCPU waits: KVM polls when the wait fits its window (the steady state
        # of the adaptive window), else the thread sleeps and is woken
        poll_st = trap.steps(profile=prof, wait="poll", **kw)
        sleep_st = trap.steps(profile=prof, wait="sleep", **kw)
        d = _stage_ns(poll_st)[_DEV]
        polled = dev * d <= prof.halt_poll_ns if p["halt_poll"] else np.zeros(n, bool)
    else:
        poll_st = sleep_st = trap.steps(profile=prof, **kw)
        d = _stage_ns(poll_st)[_DEV]
        polled = np.zeros(n, bool)
    lat = np.where(polled, trap.elapsed_ns(poll_st), trap.elapsed_ns(sleep_st)) + (dev - 1) * d
    share = float(polled.mean())
    stages = share * _stage_ns(poll_st) + (1 - share) * _stage_ns(sleep_st)
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


PATH = register(
    Path(
        name="emulated",
        label="generic emulated device",
        color="#D55E00",
        doc="QEMU emulates a device register by register; every access traps",
        params=(*P.RING, *P.TRAP_OWN, *P.HOST, P.PROFILE, P.SEED),
        run=_run,
        examples=tuple(
            Example(s.hardware, s.operation, s.where, registers.params(s))
            for s in registers.SEQUENCES
        ),
    )
)
