"""End-to-end I/O paths, compared on the same :class:`Result`.

``simulate(path, **params)`` with ``path``:

``"emulated"``
    QEMU emulates a device register by register (:mod:`virtmodel.trap`).  Every request
    traps several times and the vCPU waits for the whole sequence.  There is no shared
    ring, so ``batch``, ``queue_size`` and ``event_idx`` leave it unchanged (they are
    accepted so that the three paths can be swept over the same knob).
``"virtio"``
    A virtio driver and QEMU's I/O thread exchange requests through a split ring
    (:mod:`virtmodel.ringsim` running :mod:`virtmodel.ring`).  A kick is an exit handled in
    the kernel (ioeventfd) that wakes the I/O thread; with ``ioeventfd=False`` it is an exit
    to user space and QEMU drains the ring in the vCPU thread.
``"native"``
    The same ring protocol on bare metal: a kick is a posted doorbell write, the device is
    hardware (it DMAs without a CPU copy), an interrupt costs no exit.

Every parameter is a keyword; bad values raise ValueError naming the parameter and its
allowed range.  The same parameters and seed give the same Result.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import ring, ringsim, trap
from ._jit import njit
from .costs import CostProfile, get as get_profile
from .spec import PAGE_SIZE, _as_int, _int_in, check_queue_size
from .trap import STAGES

PATHS = ("emulated", "virtio", "native")
MAX_REQUESTS = 10_000_000

DEFAULTS = {
    "request_bytes": 4096,
    "batch": 1,
    "queue_size": 256,
    "requests": 10_000,
    "event_idx": True,
    "descriptors_per_request": 1,
    "profile": "published",
    "seed": 0,
    "interrupts": True,
    # virtio only
    "ioeventfd": True,
    # emulated only
    "data_mode": "dma",
    "accesses_per_request": 3,
    "dma_setup_accesses": 2,
}
_COMMON = ("request_bytes", "batch", "queue_size", "requests", "event_idx",
           "descriptors_per_request", "profile", "seed")
ALLOWED = {
    "emulated": _COMMON + ("interrupts", "data_mode", "accesses_per_request",
                           "dma_setup_accesses"),
    "virtio": _COMMON + ("interrupts", "ioeventfd"),
    "native": _COMMON + ("interrupts",),
}
"""The keyword parameters each path takes."""


@dataclass(frozen=True)
class Result:
    """What one simulated run measured.  Times in ns unless the name says otherwise."""

    path: str
    params: dict
    profile: str
    requests: int
    elapsed_ns: float  # from the first request's start to the last one's completion
    throughput_rps: float
    bytes_per_s: float
    mean_latency_ns: float
    p99_latency_ns: float
    exits_per_request: float
    user_exits_per_request: float
    interrupts_per_request: float
    kicks_per_request: float
    context_switches_per_request: float
    copied_bytes_per_request: float
    breakdown_ns: dict  # stage -> ns of work per request (all threads), stages as STAGES
    latencies_ns: np.ndarray = field(repr=False, compare=False)

    @property
    def us_per_request(self) -> float:
        """Elapsed time per request in µs (1e6 / throughput): what the lab measures."""
        return self.elapsed_ns / self.requests / 1e3

    def row(self) -> dict:
        """The scalar fields, for tables."""
        skip = {"params", "breakdown_ns", "latencies_ns"}
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
             if f.name not in skip}
        d["us_per_request"] = self.us_per_request
        return d


def check_params(path: str, params: dict) -> dict:
    """Validate ``params`` for ``path``; return the full parameter set (defaults filled)."""
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    unknown = sorted(set(params) - set(ALLOWED[path]))
    if unknown:
        raise ValueError(f"{path!r} takes no parameter {', '.join(unknown)}; "
                         f"it takes {', '.join(ALLOWED[path])}")
    p = {k: DEFAULTS[k] for k in ALLOWED[path]}
    p.update(params)
    p["queue_size"] = check_queue_size(p["queue_size"])
    q = p["queue_size"]
    n_desc = _int_in(p["descriptors_per_request"], "descriptors_per_request", 1, min(q, 64),
                     "at most queue_size")
    p["descriptors_per_request"] = n_desc
    p["batch"] = _int_in(p["batch"], "batch", 1, q // n_desc,
                         "queue_size // descriptors_per_request")
    p["requests"] = _int_in(p["requests"], "requests", 1, MAX_REQUESTS)
    p["request_bytes"] = s = trap.check_request_bytes(p["request_bytes"])
    seed = _as_int(p["seed"], "seed")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in 0..2**63-1, got {seed}")
    p["seed"] = seed
    for k in ("event_idx", "interrupts", "ioeventfd"):
        if k in p and not isinstance(p[k], (bool, np.bool_)):
            raise ValueError(f"{k} must be True or False, got {p[k]!r}")
    if path == "emulated":
        trap.check_params(s, p["data_mode"], p["accesses_per_request"],
                          p["dma_setup_accesses"])
    p["profile"] = get_profile(p["profile"])
    return p


def _sigma(cv: float) -> float:
    """Shape of the lognormal with mean 1 and coefficient of variation ``cv``."""
    return math.sqrt(math.log1p(cv * cv))


def _jitter(rng, cv: float, n: int) -> np.ndarray:
    """``n`` lognormal factors with mean 1 and coefficient of variation ``cv``."""
    if cv == 0:
        return np.ones(n)
    sigma = _sigma(cv)
    return np.exp(sigma * rng.standard_normal(n) - sigma * sigma / 2)


def _stage_vec(**ns) -> np.ndarray:
    v = np.zeros(len(STAGES))
    for k, x in ns.items():
        v[STAGES.index(k)] += x
    return v


def ring_costs(path: str, p: dict, prof: CostProfile):
    """The cost matrix (ns per stage) and exit matrix of each ring-path action (shared
    between calls with the same costs: do not modify them)."""
    return _ring_costs(path, p["request_bytes"], bool(p.get("ioeventfd", False)), prof)


@lru_cache(maxsize=256)
def _ring_costs(path: str, s: int, ioeventfd: bool, prof: CostProfile):
    pages = math.ceil(s / PAGE_SIZE)
    cost = np.zeros((ringsim.N_ACTIONS, len(STAGES)))
    exits = np.zeros((ringsim.N_ACTIONS, 2), dtype=np.int64)
    cost[ringsim.A_SUBMIT] = _stage_vec(guest=prof.guest_ns_per_request)
    if path == "virtio":
        if ioeventfd:
            cost[ringsim.A_KICK] = _stage_vec(exit_entry=prof.vmexit_ns, kvm=prof.kvm_exit_ns)
            exits[ringsim.A_KICK] = (1, 0)
            cost[ringsim.A_WAKE] = _stage_vec(context_switch=prof.wakeup_ns,
                                              qemu=prof.notify_ns)
        else:
            cost[ringsim.A_KICK] = _stage_vec(
                exit_entry=prof.vmexit_ns, kvm=prof.kvm_exit_ns,
                context_switch=prof.user_exit_ns,
                qemu=prof.emulate_access_ns + prof.notify_ns)
            exits[ringsim.A_KICK] = (1, 1)
        cost[ringsim.A_SERVE] = _stage_vec(
            qemu=prof.virtio_ns_per_request + pages * prof.dma_map_ns_per_page,
            copy=s * prof.copy_ns_per_byte,
            device=prof.device_ns_per_request + s * prof.device_ns_per_byte)
        cost[ringsim.A_IRQ] = _stage_vec(kvm=prof.irq_inject_ns, exit_entry=prof.eoi_ns)
        exits[ringsim.A_IRQ] = (2, 0)  # delivery (IPI or HLT wake-up) and the EOI
    else:  # native
        cost[ringsim.A_KICK] = _stage_vec(guest=prof.doorbell_ns)
        cost[ringsim.A_SERVE] = _stage_vec(
            device=prof.device_ns_per_request + s * prof.device_ns_per_byte)
        cost[ringsim.A_IRQ] = _stage_vec(guest=prof.native_irq_ns)
    return cost, exits


def _simulate_ring_path(path: str, p: dict, prof: CostProfile, rng):
    n, s, n_desc = p["requests"], p["request_bytes"], p["descriptors_per_request"]
    vq = ring.make_virtqueue(p["queue_size"], event_idx=bool(p["event_idx"]))
    # the request's bytes spread over its descriptors, all device-readable
    lens = np.full(n_desc, s // n_desc, dtype=np.int64)
    lens[: s % n_desc] += 1
    chain_write = np.zeros(n_desc, dtype=np.bool_)
    cost, exits = ring_costs(path, p, prof)
    submit_t = np.zeros(n)
    done_t = np.zeros(n)
    stage_ns = np.zeros(len(STAGES))
    counters = np.zeros(ringsim.N_COUNTERS, dtype=np.int64)
    kick_sync = path == "virtio" and not p["ioeventfd"]
    ringsim.simulate_ring(vq, n, p["batch"], lens, chain_write, 0, cost, exits, kick_sync,
                          not p["interrupts"], rng, _sigma(prof.jitter_cv), submit_t, done_t,
                          stage_ns, counters)
    status = int(counters[ringsim.C_STATUS])
    if status != ringsim.OK:
        why = ring.broken_reason(vq) or ""
        raise RuntimeError(f"{path} simulation failed: {ringsim.STATUS_TEXT[status]} {why}")
    copied = s if path == "virtio" else 0
    # a wake-up is a thread switch only for virtio's I/O thread; a native device is hardware
    thread_wakes = counters[ringsim.C_WAKES] if path == "virtio" and not kick_sync else 0
    return dict(
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


def _simulate_emulated(p: dict, prof: CostProfile, rng):
    n = p["requests"]
    args = (p["request_bytes"], p["data_mode"], p["accesses_per_request"],
            p["dma_setup_accesses"], p["interrupts"])
    c = trap.counts(*args)
    stages = trap.stage_ns(trap.steps(*args, profile=prof))
    dev = stages[STAGES.index("device")]
    fixed = stages.sum() - dev
    jit = _jitter(rng, prof.jitter_cv, n)
    lat = fixed + dev * jit  # the vCPU waits for each request, start to finish
    stages[STAGES.index("device")] = dev * float(jit.mean())
    return dict(
        elapsed_ns=float(lat.sum()),
        latencies=lat,
        exits=float(c.exits), user_exits=float(c.user_exits),
        interrupts=float(c.interrupts), kicks=0.0,
        context_switches=float(c.context_switches), copied=c.copied_bytes,
        stage_ns=stages,
    )


@njit
def _order_stats(x, lo, hi):
    """The ``lo``-th and ``hi``-th smallest of ``x`` (``lo <= hi``, 0-based) when both are
    in its top few percent: one pass keeps what lies at or above a threshold picked from a
    strided sample, and only those are partitioned (a full partition if too few pass)."""
    n = x.shape[0]
    need = n - lo  # elements at or above the lo-th smallest
    step = max(1, n // 1024)
    sample = np.sort(x[::step])
    k = max(0, sample.shape[0] - 1 - 2 * (need // step) - 4)  # margin below the rank
    threshold = sample[k]
    top = x[x >= threshold]
    if top.shape[0] < need:
        part = np.partition(x, np.array([lo, hi]))
        return part[lo], part[hi]
    m = top.shape[0]
    part = np.partition(top, np.array([m - need, m - need + hi - lo]))
    return part[m - need], part[m - need + hi - lo]


@njit
def _latency_stats(lat):
    """Mean and 99th percentile of ``lat``, in a kernel: it runs without the GIL, so the
    points of a curve summarise in parallel.  The percentile is numpy's default (linear
    interpolation between the order statistics around rank 0.99 (n - 1), computed exactly
    as ``np.percentile`` does)."""
    n = lat.shape[0]
    h = 0.99 * (n - 1)
    lo = int(np.floor(h))
    a, b = _order_stats(lat, lo, min(lo + 1, n - 1))
    t = h - lo
    d = b - a
    p99 = b - d * (1.0 - t) if t >= 0.5 else a + d * t
    return lat.mean(), p99


def simulate(path: str, **params) -> Result:
    """Simulate ``requests`` I/O requests of ``request_bytes`` each along ``path``.

    Parameters (all keywords; defaults in :data:`DEFAULTS`; which path takes which in
    :data:`ALLOWED`):

    request_bytes : int, 0..16 MiB
        Bytes per request (the DMA size).
    batch : int, 1..queue_size // descriptors_per_request
        Requests the driver makes available before it considers a kick.
    queue_size : power of two, 1..32768
        Descriptors in the ring.
    requests : int, 1..10_000_000
    event_idx : bool
        VIRTIO_F_EVENT_IDX negotiated (kick/interrupt suppression by index, not by flag).
    descriptors_per_request : int
        Descriptors per chain (the request's bytes spread over them).
    interrupts : bool
        Completions by interrupt (True).  Ring paths without: the driver polls the used
        ring.  emulated without: the device completes the request during the doorbell's
        exit, so the guest finds it done when it resumes (no injection, no EOI).
    ioeventfd : bool
        virtio: a kick is an in-kernel exit that wakes an I/O thread (True) or an exit to
        user space during which QEMU drains the ring in the vCPU thread (False).
    data_mode : "dma", "string-pio" or "pio"
        emulated: how data crosses (see :mod:`virtmodel.trap`).
    accesses_per_request, dma_setup_accesses : int
        emulated: trapping register accesses per request, and extra ones to set up DMA.
    profile : CostProfile, name in PROFILES, or path to a JSON profile
    seed : int
        Seeds the jitter of service and wake-up times (tail latency).
    """
    p = check_params(path, params)
    prof = p["profile"]
    rng = np.random.default_rng(p["seed"])
    if path == "emulated":
        r = _simulate_emulated(p, prof, rng)
    else:
        r = _simulate_ring_path(path, p, prof, rng)
    n = p["requests"]
    lat = r["latencies"]
    elapsed = r["elapsed_ns"]
    mean, p99 = _latency_stats(lat)
    params_out = dict(p, profile=prof.name)
    return Result(
        path=path, params=params_out, profile=prof.name, requests=n, elapsed_ns=elapsed,
        throughput_rps=n / elapsed * 1e9 if elapsed > 0 else math.inf,
        bytes_per_s=n * p["request_bytes"] / elapsed * 1e9 if elapsed > 0 else math.inf,
        mean_latency_ns=float(mean),
        p99_latency_ns=float(p99),
        exits_per_request=float(r["exits"]),
        user_exits_per_request=float(r["user_exits"]),
        interrupts_per_request=float(r["interrupts"]),
        kicks_per_request=float(r["kicks"]),
        context_switches_per_request=float(r["context_switches"]),
        copied_bytes_per_request=float(r["copied"]),
        breakdown_ns=dict(zip(STAGES, (float(x) for x in r["stage_ns"]))),
        latencies_ns=lat,
    )
