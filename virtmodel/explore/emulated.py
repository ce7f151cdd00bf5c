"""Chapter 2 (emulated devices): one trapped request step by step, the sharing page
against DMA, where a request's time goes on each path, and the device catalogue."""

from __future__ import annotations

from .. import registers, trap
from ..costs import DEFAULT as DEFAULT_PROFILE
from ..costs import get as get_profile
from ..evidence import Table
from ..hardware import catalogue
from ..units import fmt_bytes
from . import figures
from .core import FRAME_WIDTH_IN, REQUESTS, Explorer, Knob, curve, run

DMA_SIZES = tuple(1 << k for k in range(6, 21))  # 64 B .. 1 MiB: the DMA-size knob


def explore_trap_path(profile=DEFAULT_PROFILE) -> Explorer:
    """Chapter 2.1: one emulated request, step by step.  Knobs: data mode, request size,
    direction."""
    prof = get_profile(profile)

    def draw(fig, data_mode, request_bytes, direction):
        st = trap.steps(request_bytes, data_mode, profile=prof, direction=direction)
        c = trap.counts(request_bytes, data_mode, direction=direction)
        total = trap.elapsed_ns(st) / 1e3
        figures.timeline(
            st,
            fig,
            title=(
                f"{figures.path_label('emulated')}, {data_mode}, {fmt_bytes(request_bytes)}: "
                f"{c.exits} VM exits ({c.user_exits} to "
                f"QEMU), {c.context_switches} context switches, {c.copies} copies, {total:.1f} µs"
            ),
        )
        return {"steps": st, "counts": c, "total_us": total}

    return Explorer(
        "One emulated request",
        (
            Knob("data_mode", "data moved by", trap.DATA_MODES, "dma"),
            Knob("request_bytes", "request size", (64, 512, 4096, 16384, 65536), 4096, fmt_bytes),
            Knob("direction", "direction", trap.DIRECTIONS, "read", applies=_direction_applies),
        ),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.2),
    )


DIRECTION_INERT = {
    "pio": "port I/O moves 4 bytes per exit in and out alike: reads and writes take the same steps",
    "dma": "the device moves the data itself: reads and writes take the same steps",
}
"""Why the direction changes nothing for a data mode (only string PIO's rep ins and rep
outs move different amounts per exit)."""


def _direction_applies(state: dict) -> str:
    return DIRECTION_INERT.get(state["data_mode"], "")


DATA_MODE_COLORS = {"pio": "#E69F00", "string-pio": "#D55E00", "dma": "#0072B2"}
"""The data modes' colours (Okabe and Ito's colour-blind-safe palette)."""


SEQUENCE_PARAMS = (
    "accesses_per_request",
    "dma_setup_accesses",
    "handler_accesses",
    "busy_wait_ns",
    "string_chunk_bytes",
)
"""The parameters of a register sequence (of :func:`virtmodel.registers.params`) that the
DMA explorer takes from libata's, leaving the data mode and the size to its knobs."""


def ide_sequence(data_mode: str) -> dict:
    """The ``"emulated"`` path's register accesses of an IDE read or write by ``data_mode``:
    libata's PIO sequence for port I/O, its bus-master DMA sequence for DMA."""
    seq = registers.params(registers.IDE_DMA_READ if data_mode == "dma" else registers.IDE_PIO_READ)
    return {k: seq[k] for k in SEQUENCE_PARAMS}


def explore_dma_size(profile=DEFAULT_PROFILE) -> Explorer:
    """Chapter 2.1: data through the sharing page vs DMA as the transfer grows, with the
    register sequences of an IDE disk under Linux's libata; the crossover.  Knobs:
    transfer size, direction."""
    prof = get_profile(profile)

    def draw(fig, request_bytes, direction):
        curves = {
            m: curve(
                "emulated",
                "request_bytes",
                DMA_SIZES,
                data_mode=m,
                profile=prof,
                direction=direction,
                requests=REQUESTS,
                **ide_sequence(m),
            )
            for m in trap.DATA_MODES
        }
        x = trap.crossover_bytes(
            DMA_SIZES,
            slow=dict(data_mode="string-pio", **ide_sequence("string-pio")),
            fast=dict(data_mode="dma", **ide_sequence("dma")),
            direction=direction,
            profile=prof,
        )
        figures.curves(
            curves,
            ("exits_per_request", "us_per_request"),
            fig,
            marker=request_bytes,
            colors=DATA_MODE_COLORS,
            guides=((x, DATA_MODE_COLORS["dma"]),) if x else (),
        )
        i = DMA_SIZES.index(request_bytes)
        at = {m: c.results[i] for m, c in curves.items()}
        fig.suptitle(
            f"IDE {direction} of {fmt_bytes(request_bytes)}: "
            + "; ".join(
                f"{m} {r.exits_per_request:,.0f} exits {r.us_per_request:,.1f} µs"
                for m, r in at.items()
            )
            + (f"   |  DMA wins from {fmt_bytes(x)} (dashed)" if x else ""),
            fontsize=9,
        )
        return {"curves": curves, "at": at, "crossover": x}

    return Explorer(
        "Sharing page or DMA?",
        (
            Knob("request_bytes", "transfer size", DMA_SIZES, 4096, fmt_bytes),
            Knob(
                "direction",
                "direction",
                trap.DIRECTIONS,
                "read",
                {
                    "read": "read (rep ins: 1 KiB per exit)",
                    "write": "write (rep outs: 4 B per exit)",
                }.get,
            ),
        ),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.8),
    )


def explore_breakdown(profile=DEFAULT_PROFILE) -> Explorer:
    """Chapter 2.3: where a request's time goes, stage by stage, path by path.  Knobs:
    request size, batch (the ring paths)."""
    prof = get_profile(profile)

    def draw(fig, request_bytes, batch):
        common = dict(request_bytes=request_bytes, requests=REQUESTS, profile=prof)
        ide = registers.params(registers.IDE_DMA_READ)
        res = {
            f"{figures.IDE_DISK}, bus-master DMA": run("emulated", **{**ide, **common}),
            f"emulated NVMe, {batch} per doorbell": run("nvme", batch=batch, **common),
            f"virtio-blk, {batch} per kick": run("virtio", batch=batch, **common),
            f"vhost, {batch} per kick": run("vhost", batch=batch, **common),
            f"native, {batch} per doorbell": run("native", batch=batch, **common),
        }
        notes = {
            k: f"{r.exits_per_request:.2f} exits, {r.context_switches_per_request:.2f} "
            f"ctx sw, {r.copied_bytes_per_request / max(request_bytes, 1):.0f}x copied"
            for k, r in res.items()
        }
        figures.breakdown(res, fig, title=f"{fmt_bytes(request_bytes)} per request", notes=notes)
        return {"results": res}

    return Explorer(
        "Where the time goes",
        (
            Knob(
                "request_bytes", "request size", (512, 4096, 16384, 65536, 262144), 4096, fmt_bytes
            ),
            Knob("batch", "virtio/native batch", (1, 4, 16, 64), 1),
        ),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.4),
    )


def device_catalogue(profile=DEFAULT_PROFILE) -> Table:
    """Chapter 2.2: a table of what typical operations of emulated devices cost (and, for
    contrast, the same transfers on the other paths)."""
    return Table(
        catalogue(profile, requests=REQUESTS),
        {
            "hardware": "device",
            "operation": "operation",
            "accesses": "trapping accesses",
            "exits": "VM exits",
            "user_exits": "to QEMU",
            "copied_bytes": "bytes copied",
            "us_per_request": "µs / op",
        },
    )
