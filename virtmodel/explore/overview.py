"""Chapter 1 (the overview): the exit tax."""

from __future__ import annotations

from .. import exit_tax, registers
from ..costs import DEFAULT as DEFAULT_PROFILE
from ..costs import get as get_profile
from . import figures
from .core import FRAME_WIDTH_IN, REQUESTS, Explorer, Knob, run


def explore_exit_tax(profile=DEFAULT_PROFILE) -> Explorer:
    """Chapter 1: how much of a vCPU exits take.  Knobs: cost per exit, exit rate."""
    prof = get_profile(profile)
    costs_us = (0.5, 1, 2, 4, 8, 16, 32, 64)

    def draw(fig, us_per_exit, iops):
        ns = us_per_exit * 1e3
        paths = {
            f"{figures.IDE_DISK}, DMA": run(
                "emulated",
                **{**registers.params(registers.IDE_DMA_READ), "request_bytes": 4096},
                requests=REQUESTS,
                profile=prof,
            ),
            f"{figures.path_label('emulated')}, DMA": run(
                "emulated", request_bytes=4096, requests=REQUESTS, profile=prof
            ),
            "virtio-blk, 1 per kick": run(
                "virtio", request_bytes=4096, batch=1, requests=REQUESTS, profile=prof
            ),
            "virtio-blk, 16 per kick": run(
                "virtio", request_bytes=4096, batch=16, requests=REQUESTS, profile=prof
            ),
        }
        markers = [(figures.with_exits(k, r), r.exits_per_request * iops) for k, r in paths.items()]
        figures.exit_tax(ns, [c * 1e3 for c in costs_us if c != us_per_exit], markers, fig)
        fig.axes[0].set_title(f"{iops:,} requests/s at {us_per_exit:g} µs per exit", fontsize=10)
        return {
            "results": paths,
            "markers": markers,
            "speed": {k: exit_tax.guest_speed(r, ns) for k, r in markers},
        }

    return Explorer(
        "The exit tax",
        (
            Knob("us_per_exit", "cost per exit (µs)", costs_us, 8, "{:g} µs".format),
            Knob(
                "iops",
                "requests per second",
                (1000, 10_000, 50_000, 100_000, 200_000),
                50_000,
                "{:,}".format,
            ),
        ),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.8),
    )
