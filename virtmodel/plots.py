"""Figures for the book and the CLI (matplotlib's object API: no global pyplot state)."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

from .units import fmt_bytes

from .trap import STAGES

_OTHER = ("#7d3c98", "#16a085", "#d35400", "#2c3e50", "#b7950b")


def path_color(key: str) -> str:
    """A line's colour: the registered path's own, else one picked from the key."""
    from .paths import REGISTRY

    if key in REGISTRY:
        return REGISTRY[key].color
    return _OTHER[sum(map(ord, str(key))) % len(_OTHER)]


def path_label(key: str) -> str:
    """A line's legend label: the registered path's label, else the key itself."""
    from .paths import REGISTRY

    return REGISTRY[key].label if key in REGISTRY else str(key)

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
    "cpu_ns_per_request": ("CPU per request (µs)", 1e-3),
    "kicks_per_request": ("kicks per request", 1.0),
}
STAGE_COLORS = dict(zip(STAGES, ["#7dcea0", "#e74c3c", "#f5b041", "#af7ac5", "#5dade2",
                                 "#f4d03f", "#95a5a6", "#d7dbdd"]))
LABELS = {"batch": "batch size (requests per kick)", "request_bytes": "request size (bytes)",
          "queue_size": "queue size (descriptors)"}


def arrangement(fig: Figure) -> tuple:
    """Where the figure's axes sit: for each, its grid's shape and width ratios and its
    cells (None for an axes outside any grid).  Two figures with the same arrangement have
    their axes in the same places, so one layout serves both."""
    out = []
    for ax in fig.axes:
        ss = ax.get_subplotspec()
        if ss is None:
            out.append(None)
            continue
        gs = ss.get_gridspec()
        rows, cols = gs.get_geometry()
        out.append(((rows, cols), tuple(gs.get_width_ratios() or (1,) * cols),
                    ss.num1, ss.num2))
    return tuple(out)


def panels(fig: Figure, n: int = 1, width_ratios=None) -> list:
    """The figure's ``n`` side-by-side axes, empty.  When the figure already holds exactly
    that arrangement (a live redraw), its axes are reused and emptied rather than replaced:
    a new axes rebuilds its tick objects, the dearest part of a redraw.  Emptying puts back
    every default the plots here change (artists, legend, titles, labels, scales, limits,
    inversion, grid, axis on), so a redrawn figure shows what a fresh one would; the
    widget tests compare the two explorer by explorer."""
    ratios = tuple(width_ratios or (1,) * n)
    if arrangement(fig) == tuple(((1, n), ratios, i, i) for i in range(n)):
        for ax in fig.axes:
            _empty(ax)
        for text, setter in ((fig.get_suptitle(), fig.suptitle),
                             (fig.get_supxlabel(), fig.supxlabel)):
            if text:
                setter("")
        return list(fig.axes)
    fig.clear()
    return list(fig.subplots(1, n, squeeze=False, width_ratios=ratios)[0])


def _empty(ax) -> None:
    """Back to what ``Figure.subplots`` gives, keeping the axes' tick objects."""
    for c in list(ax.containers):
        c.remove()
    for a in [*ax.lines, *ax.patches, *ax.texts, *ax.collections, *ax.images, *ax.tables,
              *ax.artists]:
        a.remove()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    ax.set_title("")
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_xscale("linear")  # also puts back the default locators and formatters
    ax.set_yscale("linear")
    ax.grid(False)
    ax.set_axis_on()
    ax.ignore_existing_data_limits = True
    ax.set_xlim(0, 1, auto=True)  # as new: not inverted, autoscaled from the new data
    ax.set_ylim(0, 1, auto=True)


def curves(curves_by_path: dict, metrics=("us_per_request", "exits_per_request",
                                          "p99_latency_ns"), fig: Figure | None = None,
           marker=None, colors: dict | None = None) -> Figure:
    """One panel per metric, one line per curve (keyed by path or any label), against the
    swept parameter.  ``marker`` (a value of the swept parameter) draws a vertical line
    there; ``colors`` overrides the line colours by key."""
    colors = colors or {}
    fig = fig or Figure(figsize=(4.2 * len(metrics), 3.4), layout="constrained")
    axes = panels(fig, len(metrics))
    for ax, m in zip(axes, metrics):
        label, scale = METRICS[m]
        for path, c in curves_by_path.items():
            x = np.asarray(c.values, dtype=float)
            ax.plot(x, c.field(m) * scale, "o-", ms=3,
                    color=colors.get(path) or path_color(path), label=path_label(path))
            over = c.over
        if len(x) > 1 and x.min() > 0 and x.max() / x.min() >= 16:
            ax.set_xscale("log", base=2)
            ticks = x if len(x) <= 8 else x[::2]
            ax.set_xticks(ticks)
            ax.xaxis.set_minor_locator(NullLocator())  # labelled majors suffice; ticks
            # cost time on every redraw
            ax.xaxis.set_major_formatter(FuncFormatter(
                (lambda v, _: fmt_bytes(int(v))) if over == "request_bytes" else _num))
        ys = np.concatenate([c.field(m) * scale for c in curves_by_path.values()])
        ys = ys[ys > 0]
        if m in ("us_per_request", "mean_latency_ns", "p99_latency_ns") or (
                ys.size and ys.max() / ys.min() >= 100):
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            ax.yaxis.set_major_formatter(FuncFormatter(_num))
            ax.yaxis.set_minor_locator(NullLocator())
        if marker is not None:
            ax.axvline(marker, color="k", lw=0.8, ls=":")
        ax.set_xlabel(LABELS.get(over, over))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False)
    return fig


def path_bars(results: dict, metrics, fig: Figure | None = None) -> Figure:
    """One panel per metric, one horizontal bar per path (``results``: path name ->
    Result), each bar in its path's colour and labelled with its value."""
    fig = fig or Figure(figsize=(4.2 * len(metrics), 0.8 + 0.35 * len(results)),
                        layout="constrained")
    axes = panels(fig, len(metrics))
    keys = list(results)
    rows = np.arange(len(keys))
    for i, (ax, m) in enumerate(zip(axes, metrics)):
        label, scale = METRICS[m]
        vals = np.array([getattr(results[k], m) for k in keys], dtype=float) * scale
        ax.barh(rows, vals, color=[path_color(k) for k in keys])
        for r, v in zip(rows, vals):
            ax.text(v, r, f" {_num(v)}", va="center", fontsize=7)
        ax.set_yticks(rows, [path_label(k) for k in keys] if i == 0 else [""] * len(keys))
        ax.set_ylim(len(keys) - 0.5, -0.5)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3, axis="x")
    return fig


def _num(v, _pos=None) -> str:
    """Tick labels: plain numbers with thousands separators, no offsets or powers."""
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:g}"


def breakdown(results: dict, fig: Figure | None = None, title: str = "",
              notes: dict | None = None) -> Figure:
    """Stacked bars: where each request's time goes, per stage (ns of work per request).
    ``notes`` (label -> text) are written at the end of each bar."""
    fig = fig or Figure(figsize=(7, 0.6 + 0.55 * len(results)), layout="constrained")
    (ax,) = panels(fig)
    labels = list(results)
    left = np.zeros(len(labels))
    rows = np.arange(len(labels))
    for stage in STAGES:
        w = np.array([results[k].breakdown_ns[stage] for k in labels]) / 1e3
        ax.barh(rows, w, left=left, color=STAGE_COLORS[stage], label=stage)
        left += w
    ax.set_yticks(rows, labels)
    for i, k in enumerate(labels):
        if notes and k in notes:
            ax.text(left[i], i, "  " + notes[k], va="center", fontsize=8)
    ax.set_xlim(0, left.max() * (1.45 if notes else 1.05))
    ax.invert_yaxis()
    ax.set_xlabel("work per request (µs, all threads)")
    ax.legend(ncol=7, fontsize=8, frameon=False, loc="upper center",
              bbox_to_anchor=(0.5, -0.22))
    if title:
        ax.set_title(title)
    return fig


def timeline(steps, fig: Figure | None = None, title: str = "") -> Figure:
    """One request's steps as consecutive bars in lanes by actor (repeats drawn as one
    bar of count x duration); a concurrent step (KVM polling while the device works) is
    drawn from where the step before it started, beside it."""
    actors = ["guest", "cpu", "kvm", "qemu", "device"]
    fig = fig or Figure(figsize=(9, 2.8), layout="constrained")
    (ax,) = panels(fig)
    t = start = 0.0
    for s in steps:
        w = s.ns * s.count / 1e3
        left = start if s.concurrent else t
        ax.barh(actors.index(s.actor), w, left=left, color=STAGE_COLORS[s.stage],
                edgecolor="white", linewidth=0.3)
        if not s.concurrent:
            start, t = t, t + w
        else:
            start = left + w
    ax.set_yticks(range(len(actors)), ["guest", "CPU (exit/entry)", "KVM", "QEMU", "device"])
    ax.invert_yaxis()
    ax.set_xlabel("time (µs)")
    handles = [ax.bar(0, 0, color=STAGE_COLORS[s], label=s) for s in STAGES]
    ax.legend(handles=handles, ncol=len(STAGES), fontsize=7, frameon=False, loc="upper center",
              bbox_to_anchor=(0.5, -0.28))
    if title:
        ax.set_title(title)
    return fig


def message(fig: Figure, text: str) -> Figure:
    """A figure that says why there is nothing to draw (e.g. a knob combination that is not
    allowed), instead of a silently different picture."""
    (ax,) = panels(fig)
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=11,
            color="#922b21")
    return fig


def exit_tax(ns_per_exit: float, others=(), markers=(), fig: Figure | None = None) -> Figure:
    """Guest speed (% of native) against exits per second, for a cost per exit; thin lines
    for ``others`` costs; ``markers`` are (label, exits per second) placed on the curve."""
    from .exit_tax import guest_speed

    fig = fig or Figure(figsize=(8, 3.6), layout="constrained")
    (ax,) = panels(fig)
    r = np.logspace(2, 7.5, 300)
    for c in others:
        ax.plot(r, 100 * guest_speed(r, c), color="#bbbbbb", lw=0.8)
        i = np.searchsorted(-guest_speed(r, c), -0.5)
        if i < r.size:
            ax.text(r[i], 50, f"{c / 1e3:g} µs", fontsize=7, color="#888888", rotation=-60)
    ax.plot(r, 100 * guest_speed(r, ns_per_exit), color="#c0392b", lw=2.2,
            label=f"{ns_per_exit / 1e3:g} µs per exit")
    for (label, rate), (color, shape) in zip(markers, (("#c0392b", "o"), ("#2471a3", "s"),
                                                       ("#1a5276", "D"), ("#555555", "^"))):
        y = 100 * guest_speed(rate, ns_per_exit)
        ax.plot([rate], [y], shape, color=color, ms=8, mec="white",
                label=f"{label}: {rate:,.0f} exits/s -> {y:.0f}%")
    ax.set_xscale("log")
    ax.set_ylim(0, 105)
    ax.set_xlabel("VM exits per second (one vCPU)")
    ax.set_ylabel("guest speed (% of native)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=True, loc="lower left", fontsize=8)
    return fig


_ROLE_COLORS = {"free": "#f2f3f4", "token": ["#aed6f1", "#f9e79f", "#abebc6", "#f5b7b1",
                                              "#d7bde2", "#fad7a0", "#a3e4d7", "#d5dbdb"]}


def vring(snap: dict, fig: Figure | None = None, caption: str = "",
          title: str = "") -> Figure:
    """The three parts of a split virtqueue from :meth:`SplitQueue.snapshot`: descriptor
    table, available ring, used ring, plus each side's private indices.  Descriptors of
    the same outstanding request share a colour; free descriptors are grey.

    A figure taller than wide (a phone's screen) gets the narrow layout: the descriptor
    table above the two rings, larger type, the captions wrapped short."""
    from .spec import VRING_DESC_F_NEXT, VRING_DESC_F_WRITE

    q = len(snap["desc_addr"])
    fig = fig or Figure(figsize=(10, 0.9 + 0.26 * q + 1.0), layout="constrained")
    narrow = fig.get_figwidth() < fig.get_figheight()
    if narrow:
        fig.clear()
        grid = fig.add_gridspec(2, 2, height_ratios=(q + 1, q + 4), width_ratios=(2.5, 3))
        axes = [fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]),
                fig.add_subplot(grid[1, 1])]
        # each table fills its axes: header + q rows; header, flags, idx, q slots, event
        heights, fontsize, wrap = (1 / (q + 1), 1 / (q + 4), 1 / (q + 4)), 8.5, 50
    else:
        axes = panels(fig, 3, width_ratios=(2.2, 1.2, 1.5))
        # the rings' rows: header, flags, idx, q slots, event index (and room below)
        heights, fontsize, wrap = (1 / (q + 5),) * 3, 7.5, 130
    # which request each descriptor belongs to: walk each outstanding chain privately
    owner = [None] * q
    for head in snap["outstanding"]:
        i = head
        for _ in range(snap["chain_len"][head]):
            owner[i] = snap["token"][head]
            i = snap["chain_next"][i]

    def color(tok):
        return _ROLE_COLORS["free"] if tok is None else \
            _ROLE_COLORS["token"][tok % len(_ROLE_COLORS["token"])]

    def flags(f):
        names = [n for bit, n in ((VRING_DESC_F_NEXT, "NEXT"), (VRING_DESC_F_WRITE, "WRITE"))
                 if f & bit]
        return "|".join(names) or "0"

    rows = [[str(i), f"{snap['desc_addr'][i]:#x}", str(snap["desc_len"][i]),
             flags(snap["desc_flags"][i]), str(snap["desc_next"][i]),
             "free" if owner[i] is None else f"req {owner[i]}"] for i in range(q)]
    _table(axes[0], ["#", "addr", "len", "flags", "next", ""], rows,
           [[color(owner[i])] * 6 for i in range(q)], "descriptor table", heights[0],
           fontsize)
    av_idx = snap["avail_idx"]
    rows = [[f"ring[{i}]", str(snap["avail_ring"][i])] for i in range(q)]
    colors = []
    live = (av_idx - snap["next_avail"]) & 0xFFFF  # made available, not yet popped
    for i in range(q):
        # slot i holds a head made available at some idx = i (mod q) below avail_idx
        age = (av_idx - 1 - i) % q
        waiting = age < live
        colors.append(["#fdebd0" if waiting else "white"] * 2)
    rows = [["flags", str(snap["avail_flags"])], ["idx", str(av_idx)]] + rows + \
        [["used_event", str(snap["used_event"])]]
    colors = [["#eaeded"] * 2] * 2 + colors + [["#eaeded"] * 2]
    _table(axes[1], ["available ring", ""], rows, colors, "driver -> device", heights[1],
           fontsize)
    u_idx = snap["used_idx"]
    rows, colors = [], []
    live = (u_idx - snap["last_used_idx"]) & 0xFFFF  # used, not yet reaped
    for i in range(q):
        age = (u_idx - 1 - i) % q
        rows.append([f"ring[{i}]", str(snap["used_ring_id"][i]), str(snap["used_ring_len"][i])])
        colors.append(["#d4efdf" if age < live else "white"] * 3)
    rows = [["flags", str(snap["used_flags"]), ""], ["idx", str(u_idx), ""]] + rows + \
        [["avail_event", str(snap["avail_event"]), ""]]
    colors = [["#eaeded"] * 3] * 2 + colors + [["#eaeded"] * 3]
    _table(axes[2], ["used ring", "id", "len"], rows, colors, "device -> driver", heights[2],
           fontsize)
    state = (f"driver: free_head={snap['free_head']}  num_free={snap['num_free']}  "
             f"last_used_idx={snap['last_used_idx']}" + ("\n" if narrow else "      ")
             + f"device: next_avail={snap['next_avail']}  next_used={snap['next_used']}")
    fig.suptitle((title + "\n" if title else "") + state, fontsize=9)
    if caption:
        import textwrap
        fig.supxlabel(textwrap.fill(caption, wrap), fontsize=9)
    return fig


def _table(ax, header, rows, colors, title, row_height, fontsize=7.5):
    """A grid of cells from the top of ``ax``: the header, then ``rows`` over their
    background ``colors``; each row ``row_height`` high (a fraction of the axes).  One
    collection of cell boxes and one text per cell: matplotlib's ``Table`` re-measures
    every cell at every draw, which made it the slowest part of a live redraw."""
    ax.axis("off")
    width = 1 / len(header)
    boxes, faces = [], []
    for r, (texts, fills) in enumerate(zip([header, *rows], [["white"] * len(header),
                                                              *colors])):
        y = 1 - (r + 1) * row_height
        for c, (text, fill) in enumerate(zip(texts, fills)):
            x = c * width
            boxes.append(((x, y), (x + width, y), (x + width, y + row_height),
                          (x, y + row_height)))
            faces.append(fill)
            if text:
                ax.text(x + width / 2, y + row_height / 2, text, transform=ax.transAxes,
                        ha="center", va="center_baseline", fontsize=fontsize)
    ax.add_collection(PolyCollection(boxes, facecolors=faces, edgecolors="#333333",
                                     linewidths=0.5, transform=ax.transAxes), autolim=False)
    ax.set_title(title, fontsize=9)


def lab_validation(rows, model_batches, model_us, size: int, label: str,
                   profile_name: str, fig: Figure | None = None) -> Figure:
    """Measured (points, min-max bars) beside predicted for one request size: virtio's time
    per request against batch size (left; the model as a line over ``model_batches``), and
    the emulated device with 1 and 3 registers (right)."""
    fig = fig or Figure(figsize=(11, 3.8), layout="constrained")
    ax, ax2 = panels(fig, 2, width_ratios=(1.6, 1))
    v = [r for r in rows if r.experiment == "virtio"]
    e = [r for r in rows if r.experiment == "emulated"]
    c = path_color("virtio")
    ax.plot(model_batches, model_us, "-", color=c, lw=1.5, label=f"model ({profile_name})")
    for r in v:
        lo, hi = r.measured_min, r.measured_max
        ax.errorbar([r.knob], [r.measured_us], yerr=[[r.measured_us - lo], [hi - r.measured_us]],
                    fmt="o", color="black", ms=5, capsize=3,
                    label="measured (median, min-max of runs)" if r is v[0] else None)
        ax.annotate(f"{r.error:+.0%}", (r.knob, r.measured_us), textcoords="offset points",
                    xytext=(6, 6), fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(_num))
    ax.yaxis.set_major_formatter(FuncFormatter(_num))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(LABELS["batch"])
    ax.set_ylabel("time per request (µs)")
    ax.set_title(f"mini virtio, {fmt_bytes(size)} per request", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3, which="both")
    x = np.arange(len(e))
    ax2.bar(x - 0.2, [r.measured_us for r in e], 0.4, color="#bbbbbb", label="measured",
            yerr=[[r.measured_us - r.measured_min for r in e],
                  [r.measured_max - r.measured_us for r in e]], capsize=3)
    ax2.bar(x + 0.2, [r.predicted_us for r in e], 0.4, color=path_color("emulated"),
            label="model")
    for i, r in enumerate(e):
        ax2.annotate(f"{r.error:+.0%}", (i + 0.2, r.predicted_us), ha="center",
                     textcoords="offset points", xytext=(0, 3), fontsize=8)
    ax2.set_xticks(x, [r.knob_label for r in e])
    ax2.set_ylabel("time per request (µs)")
    ax2.set_title(f"emulated device, {fmt_bytes(size)} per request", fontsize=10)
    ax2.legend(fontsize=8, loc="upper left")
    ax2.grid(alpha=0.3, axis="y")
    fig.suptitle(label, fontsize=9, color="#555555")
    return fig
