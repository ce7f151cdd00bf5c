"""What a simulated run measured (:class:`Result`), what a path's runner returns
(:class:`Outcome`), and the summaries both need (mean and p99 in a kernel)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .._jit import njit

STAGES = ("guest", "exit_entry", "kvm", "context_switch", "qemu", "copy", "device", "polling")
"""Where time goes (the keys of :attr:`Result.breakdown_ns`, the order of
:attr:`Outcome.stage_ns`), in the words of the source's section 2.3 (exits and entries,
context switches, copies), plus the work that is not overhead (guest, device) and the CPU
spent polling (KVM's halt polling, a guest or back end spinning on a ring)."""


class Outcome(NamedTuple):
    """A path runner's raw result (per request unless the name says otherwise): what
    :attr:`Path.run <virtmodel.paths.registry.Path>` returns and :func:`result` turns into
    a :class:`Result`."""

    elapsed_ns: float  # first request's start to last completion
    latencies: np.ndarray  # ns, one per request
    exits: float
    user_exits: float
    interrupts: float
    kicks: float
    context_switches: float
    copied: float  # bytes
    stage_ns: np.ndarray  # ns per stage, ordered as STAGES
    exits_by_reason: dict  # reason (ringsim.EXIT_REASONS) -> exits per request
    events: dict | None = None  # the back end's events per request (ring paths: EVENTS)
    utilisation: dict | None = None  # "vcpu", "backend", "device": busiest one's busy share


@dataclass(frozen=True)
class Result:
    """What one simulated run measured (:func:`virtmodel.paths.simulate` returns it).

    Times are in ns unless the name says otherwise; counts are per request.  Two Results
    compare equal when every field but ``latencies_ns`` is equal.
    """

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
    exits_by_reason: dict  # "io", "eoi", "hlt", "interrupt", "other" -> exits per request
    latencies_ns: np.ndarray = field(repr=False, compare=False)
    # the back end's events per request (ring paths): "passes" (submission passes that
    # took requests), "submissions" (to the device), "completion_passes", "signals"
    # (interrupts raised), "wakes" (thread wake-ups), "poll_hits" (poll windows that
    # found work); empty for the other paths
    events: dict = field(default_factory=dict, compare=False)
    # which resource is the ceiling (ring paths): "vcpu" (the busiest vCPU running a job:
    # the share of the run it was not halted), "backend" (the busiest back-end thread: the
    # share it worked, polling windows and busy-polling not counted; 0 where the back end
    # is hardware), "device" (the device's slots: service time / (parallelism x elapsed));
    # empty for the other paths
    utilisation: dict = field(default_factory=dict, compare=False)

    @property
    def us_per_request(self) -> float:
        """µs of elapsed time per request, 1e6 / throughput (what the lab measures)."""
        return self.elapsed_ns / self.requests / 1e3

    @property
    def cpu_ns_per_request(self) -> float:
        """CPU time per request, every thread (guest, KVM, back end; polling included):
        the breakdown without the physical device's service time."""
        return sum(v for k, v in self.breakdown_ns.items() if k != "device")

    def row(self) -> dict:
        """The scalar fields, for tables."""
        skip = {
            "params",
            "breakdown_ns",
            "latencies_ns",
            "exits_by_reason",
            "events",
            "utilisation",
        }
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}
        d["us_per_request"] = self.us_per_request
        d["cpu_ns_per_request"] = self.cpu_ns_per_request
        return d


def result(path: str, p: dict, o: Outcome) -> Result:
    """The :class:`Result` of outcome ``o`` of ``path`` run with checked parameters ``p``."""
    n = p["requests"]
    elapsed = o.elapsed_ns
    mean, p99 = latency_stats(o.latencies)
    prof = p["profile"]
    return Result(
        path=path,
        params=dict(p, profile=prof.name),
        profile=prof.name,
        requests=n,
        elapsed_ns=elapsed,
        throughput_rps=n / elapsed * 1e9 if elapsed > 0 else math.inf,
        bytes_per_s=n * p["request_bytes"] / elapsed * 1e9 if elapsed > 0 else math.inf,
        mean_latency_ns=float(mean),
        p99_latency_ns=float(p99),
        exits_per_request=float(o.exits),
        user_exits_per_request=float(o.user_exits),
        interrupts_per_request=float(o.interrupts),
        kicks_per_request=float(o.kicks),
        context_switches_per_request=float(o.context_switches),
        copied_bytes_per_request=float(o.copied),
        breakdown_ns=dict(zip(STAGES, (float(x) for x in o.stage_ns))),
        exits_by_reason={k: float(v) for k, v in o.exits_by_reason.items()},
        latencies_ns=o.latencies,
        events=dict(o.events or {}),
        utilisation=dict(o.utilisation or {}),
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
def latency_stats(lat):
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
