"""What the remaining assumptions of a cost profile move: each one varied over its range,
the change of the outputs the book's conclusions rest on.

:data:`ASSUMPTIONS` lists each assumption of the ``"modern"`` profile with the range its
source leaves open (:mod:`virtmodel.costs` gives the reasons); :func:`table` runs the model
at both ends of each range, one assumption at a time, and reports every output of
:data:`OUTPUTS` there beside its value with the profile as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from . import costs
from .paths import simulate

REQUESTS = 5_000


@dataclass(frozen=True)
class Assumption:
    """One assumption: its name, what it sets (a value -> profile changes) and its range."""

    name: str
    unit: str
    low: float
    high: float
    changes: Callable[[costs.CostProfile, float], dict]
    why: str  # where the range comes from


def _split(prof: costs.CostProfile, share: float) -> dict:
    stack = prof.guest_ns_per_request + prof.native_irq_ns
    return dict(guest_ns_per_request=share * stack, native_irq_ns=(1 - share) * stack)


def _stack(prof: costs.CostProfile, ns: float) -> dict:
    """The whole stack scaled, its split kept; the device's time re-derived from the same
    bare-metal latency (so native QD1 stays what it was derived from)."""
    old = prof.guest_ns_per_request + prof.native_irq_ns
    share = prof.guest_ns_per_request / old
    return dict(
        guest_ns_per_request=share * ns,
        native_irq_ns=(1 - share) * ns,
        device_ns_per_request=prof.device_ns_per_request + old - ns,
    )


def _field(name: str) -> Callable[[costs.CostProfile, float], dict]:
    return lambda prof, v: {name: v}


ASSUMPTIONS = (
    Assumption(
        "I/O stack split (submit share)",
        "",
        0.5,
        0.7,
        _split,
        "no source splits the stack; 60 % submit taken",
    ),
    Assumption(
        "I/O stack per request",
        "ns",
        1200.0,
        2500.0,
        _stack,
        "1,600 ns from peak per-core IOPS at depth; QD1 may pay more",
    ),
    Assumption(
        "wakeup_ns",
        "ns",
        2400.0,
        4407.0,
        _field("wakeup_ns"),
        "two mainline hosts of perf bench sched pipe",
    ),
    Assumption(
        "wake_entry_ns",
        "ns",
        260.0,
        costs.MODERN.vmexit_ns,
        _field("wake_entry_ns"),
        "entry half of a vmcall round trip .. the whole round trip",
    ),
    Assumption(
        "virtio_ns_per_request",
        "ns",
        1200.0,
        2300.0,
        _field("virtio_ns_per_request"),
        "measured on a VM; bare metal may be faster",
    ),
    Assumption(
        "host_io_ns_per_request",
        "ns",
        1000.0,
        1300.0,
        _field("host_io_ns_per_request"),
        "the stack less an assumed 300-600 ns a back end does not pay",
    ),
    Assumption(
        "signal_ns",
        "ns",
        150.0,
        600.0,
        _field("signal_ns"),
        "no figure for one eventfd write to an irqfd",
    ),
)
"""The modern profile's remaining assumptions and their ranges."""


def _qd1_us(path: str, prof) -> float:
    return simulate(path, requests=REQUESTS, profile=prof).mean_latency_ns / 1e3


OUTPUTS: dict[str, Callable[[costs.CostProfile], float]] = {
    "native QD1 latency (µs)": lambda p: _qd1_us("native", p),
    "virtio QD1 latency (µs)": lambda p: _qd1_us("virtio", p),
    "passthrough - native at QD1 (µs)": lambda p: _qd1_us("passthrough", p) - _qd1_us("native", p),
    "one back-end thread's ceiling (k IOPS)": lambda p: (
        simulate("virtio", iodepth=128, requests=REQUESTS, profile=p).throughput_rps / 1e3
    ),
}
"""The outputs the book's conclusions rest on, each a function of a profile."""


class Row(NamedTuple):
    assumption: Assumption
    output: str
    base: float
    at_low: float
    at_high: float


@lru_cache(maxsize=4)
def table(profile: str = "modern") -> tuple[Row, ...]:
    """Every output at both ends of every assumption's range (the others as they are)."""
    base = costs.get(profile)
    ref = {name: f(base) for name, f in OUTPUTS.items()}
    rows = []
    for a in ASSUMPTIONS:
        ends = [base.replace(**a.changes(base, v)) for v in (a.low, a.high)]
        for name, f in OUTPUTS.items():
            rows.append(Row(a, name, ref[name], f(ends[0]), f(ends[1])))
    return tuple(rows)


def markdown(profile: str = "modern") -> str:
    """:func:`table` as a Markdown table: one row per assumption and output, the outputs it
    does not move (by less than 1 %) left out."""
    lines = [
        "| assumption (range) | output | as profiled | at the low end | at the high end |",
        "|---|---|---|---|---|",
    ]
    rows = table(profile)
    for a in ASSUMPTIONS:
        rng = f"{a.low:g}-{a.high:.0f} {a.unit}" if a.unit else f"{a.low:g}-{a.high:g}"
        what = f"{a.name} ({rng}: {a.why})"
        moved = [r for r in rows if r.assumption is a and _moves(r)]
        for r in moved:
            lines.append(
                f"| {what} | {r.output} | {r.base:.2f} | "
                f"{r.at_low:.2f} ({r.at_low - r.base:+.2f}) | {r.at_high:.2f} "
                f"({r.at_high - r.base:+.2f}) |"
            )
        if not moved:
            lines.append(f"| {what} | none of these by more than 1 % | | | |")
    return "\n".join(lines)


def _moves(r: Row) -> bool:
    return max(abs(r.at_low - r.base), abs(r.at_high - r.base)) > 0.01 * max(abs(r.base), 0.1)
