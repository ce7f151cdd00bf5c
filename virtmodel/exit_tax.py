"""The exit tax: the share of a vCPU that VM exits take away from the guest.

A vCPU that takes ``r`` exits per second of wall-clock time, each costing ``c`` ns of host
time during which the guest does not run, keeps ``1 - r*c/1e9`` of the CPU for the guest
(the exits here arrive at a fixed rate, e.g. a device serving a fixed number of requests per
second).  A guest doing CPU-bound work beside that I/O therefore runs at that fraction of its
native speed; at ``r*c = 1e9`` ns/s there is no time left at all.  It is the simplest model in
the book and the reason all the others count exits.
"""

from __future__ import annotations

import numpy as np


def _check(name: str, x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {x!r}")
    return a


def share_lost(exits_per_s, ns_per_exit):
    """Fraction of the vCPU's time spent in exits (0..1; 1 = saturated)."""
    r, c = _check("exits_per_s", exits_per_s), _check("ns_per_exit", ns_per_exit)
    out = np.minimum(r * c * 1e-9, 1.0)
    return float(out) if out.ndim == 0 else out


def guest_speed(exits_per_s, ns_per_exit):
    """The guest's CPU-bound speed as a fraction of native (1 - share_lost)."""
    return 1.0 - share_lost(exits_per_s, ns_per_exit)
