"""The catalogue of what typical operations cost, path by path.

Emulation's strength (the source's section 2.2) is that any hardware can be imitated, so an
unmodified guest finds the device it has a driver for.  Its price is that every register
access of that driver traps.  Each registered path lists typical operations
(:class:`virtmodel.paths.registry.Example`: the hardware, the operation, the trapping accesses it
makes); :func:`catalogue` runs each through its path.
"""

from __future__ import annotations

from .costs import DEFAULT as DEFAULT_PROFILE
from .paths import REGISTRY, simulate


def catalogue(profile=DEFAULT_PROFILE, requests: int = 2000) -> list[dict]:
    """One row per example operation of every registered path, in registry order."""
    rows = []
    for path in REGISTRY.values():
        for ex in path.examples:
            r = simulate(path.name, **ex.params, profile=profile, requests=requests)
            rows.append(
                {
                    "path": path.name,
                    "hardware": ex.hardware,
                    "operation": ex.operation,
                    "accesses": ex.accesses,
                    "exits": r.exits_per_request,
                    "user_exits": r.user_exits_per_request,
                    "copied_bytes": r.copied_bytes_per_request,
                    "us_per_request": r.us_per_request,
                }
            )
    return rows
