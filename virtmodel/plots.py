"""Figures for the book and the CLI (matplotlib's object API: no global pyplot state)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from .trap import STAGES

COLORS = {"emulated": "#c0392b", "virtio": "#2471a3", "native": "#555555"}
METRICS = {
    "us_per_request": ("time per request (µs)", 1.0),
    "throughput_rps": ("throughput (k requests/s)", 1e-3),
    "bytes_per_s": ("throughput (MB/s)", 1e-6),
    "exits_per_request": ("VM exits per request", 1.0),
    "user_exits_per_request": ("exits to user space per request", 1.0),
    "interrupts_per_request": ("interrupts per request", 1.0),
    "mean_latency_ns": ("mean latency (µs)", 1e-3),
    "p99_latency_ns": ("p99 latency (µs)", 1e-3),
    "copied_bytes_per_request": ("bytes copied per request", 1.0),
}
STAGE_COLORS = dict(zip(STAGES, ["#7dcea0", "#e74c3c", "#f5b041", "#af7ac5", "#5dade2",
                                 "#f4d03f", "#95a5a6"]))
LABELS = {"batch": "batch size (requests per kick)", "request_bytes": "request size (bytes)",
          "queue_size": "queue size (descriptors)"}


def curves(curves_by_path: dict, metrics=("us_per_request", "exits_per_request",
                                          "p99_latency_ns"), fig: Figure | None = None,
           marker=None) -> Figure:
    """One panel per metric, one line per path, against the swept parameter.  ``marker``
    (a value of the swept parameter) draws a vertical line there."""
    fig = fig or Figure(figsize=(4.2 * len(metrics), 3.4), layout="constrained")
    fig.clear()
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, m in zip(axes, metrics):
        label, scale = METRICS[m]
        for path, c in curves_by_path.items():
            x = np.asarray(c.values, dtype=float)
            ax.plot(x, c.field(m) * scale, "o-", ms=3, color=COLORS.get(path), label=path)
            over = c.over
        if len(x) > 1 and x.min() > 0 and x.max() / x.min() >= 16:
            ax.set_xscale("log", base=2)
        if m in ("us_per_request", "mean_latency_ns", "p99_latency_ns"):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
        if ax.get_xscale() == "log":
            ax.xaxis.set_major_formatter(ScalarFormatter())
        if marker is not None:
            ax.axvline(marker, color="k", lw=0.8, ls=":")
        ax.set_xlabel(LABELS.get(over, over))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False)
    return fig


def breakdown(results: dict, fig: Figure | None = None, title: str = "") -> Figure:
    """Stacked bars: where each request's time goes, per stage (ns of work per request)."""
    fig = fig or Figure(figsize=(7, 0.6 + 0.55 * len(results)), layout="constrained")
    fig.clear()
    ax = fig.subplots()
    labels = list(results)
    left = np.zeros(len(labels))
    for stage in STAGES:
        w = np.array([results[k].breakdown_ns[stage] for k in labels]) / 1e3
        ax.barh(labels, w, left=left, color=STAGE_COLORS[stage], label=stage)
        left += w
    ax.invert_yaxis()
    ax.set_xlabel("work per request (µs, all threads)")
    ax.legend(ncol=4, fontsize=8, frameon=False, loc="lower right")
    if title:
        ax.set_title(title)
    return fig


def timeline(steps, fig: Figure | None = None, title: str = "") -> Figure:
    """One request's steps as consecutive bars in lanes by actor (repeats drawn as one
    bar of count x duration, labelled with the count)."""
    actors = ["guest", "cpu", "kvm", "qemu", "device"]
    fig = fig or Figure(figsize=(9, 2.8), layout="constrained")
    fig.clear()
    ax = fig.subplots()
    t = 0.0
    for s in steps:
        w = s.ns * s.count / 1e3
        ax.barh(actors.index(s.actor), w, left=t, color=STAGE_COLORS[s.stage],
                edgecolor="white", linewidth=0.3)
        t += w
    ax.set_yticks(range(len(actors)), ["guest", "CPU (exit/entry)", "KVM", "QEMU", "device"])
    ax.invert_yaxis()
    ax.set_xlabel("time (µs)")
    handles = [ax.bar(0, 0, color=STAGE_COLORS[s], label=s) for s in STAGES]
    ax.legend(handles=handles, ncol=7, fontsize=7, frameon=False, loc="upper center",
              bbox_to_anchor=(0.5, -0.28))
    if title:
        ax.set_title(title)
    return fig
