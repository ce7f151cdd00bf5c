"""Chapter 3 (virtio): the split ring step by step, batching, and close to native."""

from __future__ import annotations

from ..costs import DEFAULT as DEFAULT_PROFILE
from ..costs import get as get_profile
from ..paths import names
from ..tour import ring_tour
from . import figures
from .core import FRAME_WIDTH_IN, MEAN_REQUESTS, NARROW_WIDTH_IN, REQUESTS, Explorer, Knob, curve

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128)


def vring_tour(queue_size: int = 8, ring: str = "split") -> Explorer:
    """Chapter 3 (split) and 5 (packed): a ring's three areas, one real operation per step
    on a queue of ``queue_size`` entries in layout ``ring``.  Knobs: step,
    VIRTIO_F_EVENT_IDX."""
    off, on = ring_tour(queue_size, False, ring), ring_tour(queue_size, True, ring)
    n = len(off)
    alike = [_same_step(a, b) for a, b in zip(off, on)]

    def event_idx_applies(state: dict) -> str:
        if not alike[state["step"]]:
            return ""
        first = alike.index(False) if False in alike else n
        return (
            f"step {state['step']} is the same with VIRTIO_F_EVENT_IDX on or off (the "
            f"event indices first change what the ring does at step {first})"
        )

    def draw(fig, step, event_idx):
        s = (on if event_idx else off)[step]
        figures.vring(
            s.snapshot,
            fig,
            caption=s.caption,
            title=f"step {step}: {s.actor} {s.action}".replace("  ", " "),
        )
        return {"step": s}

    return Explorer(
        "The vring, step by step" if ring == "split" else "The packed ring, step by step",
        (
            Knob("step", "step", tuple(range(n)), 0),
            Knob(
                "event_idx",
                "VIRTIO_F_EVENT_IDX",
                (False, True),
                False,
                lambda v: "on" if v else "off",
                applies=event_idx_applies,
            ),
        ),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.5),
        narrow=(NARROW_WIDTH_IN, 6.4),
    )


def _same_step(a, b) -> bool:
    """Two tour steps that draw the same picture: same actor, action, caption and ring
    (each side's ``event_idx`` slot aside: it is the knob itself, and the picture shows
    only what it changes in the ring)."""
    if (a.actor, a.action, a.caption) != (b.actor, b.action, b.caption):
        return False

    def drawn(snap: dict) -> dict:
        return {
            k: {n: v for n, v in part.items() if n != "event_idx"} if k in SIDES else part
            for k, part in snap.items()
        }

    return drawn(a.snapshot) == drawn(b.snapshot)


SIDES = ("driver", "device")


WORKLOADS = {"batch": "closed-loop batches", "iodepth": "fio iodepth"}
INTERRUPT_MODES = {"posted": "posted (APICv/AVIC)", "pv-eoi": "PV EOI", "legacy": "legacy"}


def explore_batching(profile=DEFAULT_PROFILE) -> Explorer:
    """Chapter 3: exits, time and latency per request as more requests are in flight, as
    closed-loop batches or as fio's iodepth, every path.  Knobs: requests in flight,
    workload, interrupt mode, VIRTIO_F_EVENT_IDX, queue size."""
    prof = get_profile(profile)

    def draw(fig, depth, workload, interrupt_mode, event_idx, queue_size):
        if depth > queue_size:
            figures.message(
                fig,
                f"{depth} requests in flight do not fit a queue of "
                f"{queue_size}: the driver can have at most {queue_size} "
                "one-descriptor requests available at once. Choose fewer or "
                "a larger queue.",
            )
            return {"error": "depth > queue_size"}
        xs = tuple(b for b in BATCHES if b <= queue_size)
        common = dict(
            queue_size=queue_size,
            event_idx=event_idx,
            request_bytes=4096,
            interrupt_mode=interrupt_mode,
            requests=REQUESTS,
            profile=prof,
        )
        curves = {p: curve(p, workload, xs, **common) for p in names()}
        figures.curves(
            curves, ("exits_per_request", "us_per_request", "p99_latency_ns"), fig, marker=depth
        )
        v = curves["virtio"].results[xs.index(depth)]
        why = ", ".join(f"{n:.2f} {k}" for k, n in v.exits_by_reason.items() if n)
        fig.suptitle(
            f"virtio, {WORKLOADS[workload]} of {depth}, 4 KiB: "
            f"{v.exits_per_request:.2f} exits per request ({why or 'none'}), "
            f"{v.us_per_request:.2f} µs, p99 {v.p99_latency_ns / 1e3:.1f} µs",
            fontsize=9,
        )
        return {"curves": curves, "virtio": v}

    def fits(state: dict) -> str:
        if state["depth"] <= state["queue_size"]:
            return ""
        return "nothing is drawn: the requests in flight do not fit the queue"

    return Explorer(
        "Batching",
        (
            Knob("depth", "requests in flight", BATCHES, 1),
            Knob("workload", "workload", tuple(WORKLOADS), "batch", WORKLOADS.get, fits),
            Knob(
                "interrupt_mode",
                "interrupts",
                tuple(INTERRUPT_MODES),
                "posted",
                INTERRUPT_MODES.get,
                fits,
            ),
            Knob(
                "event_idx",
                "VIRTIO_F_EVENT_IDX",
                (True, False),
                True,
                lambda v: "on" if v else "off",
                fits,
            ),
            Knob("queue_size", "queue size", (64, 256), 256),
        ),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.6),
    )


def explore_request_size(profile=DEFAULT_PROFILE) -> Explorer:
    """Chapter 3: every path across request sizes ("close to native").  Knob: batch."""
    prof = get_profile(profile)
    sizes = tuple(1 << k for k in range(8, 21, 2))  # 256 B .. 1 MiB

    def draw(fig, batch):
        curves = {
            p: curve(p, "request_bytes", sizes, batch=batch, requests=MEAN_REQUESTS, profile=prof)
            for p in names()
        }
        figures.curves(curves, ("us_per_request", "bytes_per_s"), fig)
        native = curves["native"].field("us_per_request")
        slow = {p: c.field("us_per_request") / native for p, c in curves.items() if p != "native"}
        fig.suptitle(
            f"{batch} per kick: virtio takes {slow['virtio'].min():.2f}x to "
            f"{slow['virtio'].max():.2f}x native time per request, emulated "
            f"{slow['emulated'].min():.1f}x to {slow['emulated'].max():.1f}x",
            fontsize=9,
        )
        return {"curves": curves, "slowdown": slow}

    return Explorer(
        "Close to native?",
        (Knob("batch", "batch size", (1, 4, 16, 64), 16),),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.6),
    )
