"""Explorers: each chapter's demo in one call, live in a kernel and kernel-free on the site.

An :class:`Explorer` is a figure drawn by one function of a few *knobs* (batch size, DMA
size, ...), each knob with a fixed grid of allowed values.  It shows itself two ways:

* **live** (Jupyter, Binder, Thebe): ipywidgets controls for every knob; moving one
  recomputes with the models and redraws the figure (a PNG in an ``Image`` widget);
* **static** (the book's build, ``VIRTMODEL_STATIC=1``): a kernel-free HTML player
  (``virtmodel.player``) with the same controls over frames pre-rendered for every
  combination of the knobs, fetched as files when a control asks for them.  No kernel, no
  widget state, so no control on the static site is ever dead.

The book's build sets ``VIRTMODEL_STATIC`` (``book/_ext/virtmodel_static.py``); anything
else gets the live form.  Both forms draw with the same function, so the frames on the site
are exactly what the live explorer draws for those values.

Every explorer records what it drew in ``Explorer.data`` (the Results behind the
figure), so tests can check a redraw against :func:`virtmodel.paths.simulate`.

Each ``explore_*`` function takes ``profile``, the costs (a
:class:`~virtmodel.costs.CostProfile`, a name in ``costs.PROFILES`` or a .json file), and
returns an :class:`Explorer`; its docstring names the knobs, the main one first.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from . import canvas, exit_tax, plots, registers, trap
from .costs import DEFAULT as DEFAULT_PROFILE
from .costs import get as get_profile
from .evidence import (  # noqa: F401 (profile_table, validation_table: importable here too)
    Table,
    lab_error_table,
    micro_table,
    profile_table,
    validation_table,
)
from .hardware import catalogue
from .paths import get as get_path
from .paths import names, simulate
from .sweep import Curve, points, sweep
from .tour import ring_tour
from .units import fmt_bytes

REQUESTS = 4000
"""Requests per simulated point in the explorers (enough for a stable p99)."""
MEAN_REQUESTS = 1500
"""Requests per point where an explorer shows only means (time per request, throughput,
CPU per request): they come within 0.5 % of what :data:`REQUESTS` gives
(tests/test_widgets.py), in under half the time."""
STATIC_ENV = "VIRTMODEL_STATIC"


def is_static() -> bool:
    """True while the book is being built (explorers render kernel-free players)."""
    return os.environ.get(STATIC_ENV, "") not in ("", "0")


@dataclass(frozen=True)
class Knob:
    """One control: ``values`` is the grid it can take (the static player has a frame for
    every combination of its explorer's knobs' values); ``fmt`` turns a value into its
    label."""

    name: str
    label: str
    values: tuple
    default: Any
    fmt: Callable[[Any], str] = str

    def __post_init__(self):
        if self.default not in self.values:
            raise ValueError(f"knob {self.name}: default {self.default!r} not in {self.values}")


@lru_cache(maxsize=4096)
def _cached(path: str, items: tuple):
    return simulate(path, **dict(items))


def run(path: str, **params):
    """:func:`simulate`, memoised (the explorers revisit the same points often)."""
    return _cached(path, tuple(sorted(params.items())))


def curve(path: str, over: str, values, **params) -> Curve:
    """:func:`virtmodel.sweep.sweep` through the memoised :func:`run`, with the parameters
    ``path`` takes (an explorer sets knobs some paths do not have)."""
    return sweep(path, over, values, runner=run, **get_path(path).accepting(params))


@dataclass
class Explorer:
    """A figure of a few knobs.  ``draw(fig, **values)`` draws it and returns the data it
    drew (a dict).  The first knob is the main one."""

    title: str
    knobs: tuple
    draw: Callable
    figsize: tuple = (11, 3.6)
    note: str = ""
    dpi: int = 80
    narrow: tuple | None = None
    """Figure size (inches) of the static player's frames for phones, for a drawing that
    lays itself out for a tall figure (the vring tour).  None: the player fits the wide
    drawing to a phone by itself (``virtmodel.player.fit_narrow``)."""
    state: dict = field(init=False)
    data: dict = field(init=False, repr=False)
    figure: Figure = field(init=False, repr=False)
    controls: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        # Live redraws skip matplotlib's constrained layout, which is about half of a
        # redraw's time: the axes' boxes it computed the first time for an arrangement of
        # axes are reused (the static player's frames are each laid out in full).
        self._layouts: dict[tuple, list] = {}
        self.state = {k.name: k.default for k in self.knobs}
        self.figure = Figure(figsize=self.figsize, dpi=self.dpi, layout="constrained")
        canvas.Canvas(self.figure)
        self._image = None
        self.update()

    @property
    def main(self) -> Knob:
        return self.knobs[0]

    def knob(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise ValueError(
            f"{self.title!r} has no knob {name!r}; it has {', '.join(k.name for k in self.knobs)}"
        )

    def update(self, **values) -> Figure:
        """Set knobs (each to one of its grid values) and redraw."""
        for name, v in values.items():
            k = self.knob(name)
            if v not in k.values:
                raise ValueError(
                    f"{name} must be one of {', '.join(map(k.fmt, k.values))}; got {v!r}"
                )
        self.state.update(values)
        fig = self.figure
        live = self._image is not None
        if live and fig.get_layout_engine() is not None:  # see _live_png
            _no_layout_engine(fig)
        self.data = self.draw(fig, **self.state) or {}
        if live:
            self._image.value = self._live_png()
        return fig

    def _live_png(self) -> bytes:
        """The figure as a PNG for the live image: laid out by constrained layout the
        first time its arrangement of axes is seen, with the kept layout after; either
        way the figure is left without a layout engine, so another draw of it shows
        what the reader sees."""
        fig = self.figure
        where = plots.arrangement(fig)
        boxes = self._layouts.get(where)
        if boxes is None:
            fig.set_layout_engine("constrained")
        else:
            for ax, box in zip(fig.axes, boxes):
                ax.set_position(box)
        png = self.png()
        if boxes is None:
            self._layouts[where] = [ax.get_position() for ax in fig.axes]
            _no_layout_engine(fig)
        return png

    def png(self) -> bytes:
        """The figure as a PNG (drawn at the explorer's dpi; see :mod:`virtmodel.canvas`)."""
        return canvas.png(self.figure.canvas.rgb())

    # -- static: a kernel-free player (virtmodel.player) ---------------------------------
    def player_html(self, store=None) -> str:
        """A kernel-free player over every combination of the knobs (see
        ``virtmodel.player``); the explorer is left as it was."""
        from . import player

        return player.player_html(self, store)

    # -- live: ipywidgets ------------------------------------------------------------------
    def widget(self):
        """The live form: a control per knob above the figure."""
        import ipywidgets as w

        if self._image is not None:
            return self._box
        rows = []
        for k in self.knobs:
            opts = [(k.fmt(v), v) for v in k.values]
            if len(k.values) <= 4 or all(isinstance(v, (str, bool)) for v in k.values):
                c = w.ToggleButtons(
                    options=opts,
                    value=self.state[k.name],
                    description=k.label,
                    style={"description_width": "initial"},
                )
            else:
                c = w.SelectionSlider(
                    options=opts,
                    value=self.state[k.name],
                    description=k.label,
                    continuous_update=False,
                    style={"description_width": "initial"},
                    layout=w.Layout(width="32em"),
                )
            c.observe(lambda ch, name=k.name: self.update(**{name: ch["new"]}), names="value")
            self.controls[k.name] = c
            rows.append(c)
        self._image = w.Image(
            value=self._live_png(), format="png", layout=w.Layout(max_width="100%")
        )
        self._box = w.VBox([w.HTML(f"<b>{html.escape(self.title)}</b>"), *rows, self._image])
        return self._box

    def _repr_mimebundle_(self, include=None, exclude=None):
        if is_static():
            return {"text/html": self.player_html(), "text/plain": repr(self)}
        return self.widget()._repr_mimebundle_(include=include, exclude=exclude)

    def __repr__(self):
        return (
            f"<Explorer {self.title!r}: "
            + ", ".join(f"{k.name}={k.fmt(self.state[k.name])}" for k in self.knobs)
            + ">"
        )


def _no_layout_engine(fig: Figure) -> None:
    """Remove the figure's layout engine.  Not ``set_layout_engine("none")``: that leaves
    a placeholder engine, and with any engine set ``savefig`` draws the whole figure twice
    (once to lay it out, once to render)."""
    with matplotlib.rc_context(
        {"figure.autolayout": False, "figure.constrained_layout.use": False}
    ):
        fig.set_layout_engine(None)


# ---------------------------------------------------------------------------------------
# The explorers, one per demo in the book.
# ---------------------------------------------------------------------------------------
SIZES = tuple(1 << k for k in range(6, 21))  # 64 B .. 1 MiB
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128)


def explore_exit_tax(profile=DEFAULT_PROFILE) -> Explorer:
    """Chapter 1: how much of a vCPU exits take.  Knobs: cost per exit, exit rate."""
    prof = get_profile(profile)
    costs_us = (0.5, 1, 2, 4, 8, 16, 32, 64)

    def draw(fig, us_per_exit, iops):
        ns = us_per_exit * 1e3
        paths = {
            "emulated disk (4 KiB, DMA)": run(
                "emulated", request_bytes=4096, requests=REQUESTS, profile=prof
            ),
            "virtio-blk, 1 per kick": run(
                "virtio", request_bytes=4096, batch=1, requests=REQUESTS, profile=prof
            ),
            "virtio-blk, 16 per kick": run(
                "virtio", request_bytes=4096, batch=16, requests=REQUESTS, profile=prof
            ),
        }
        markers = [(k, r.exits_per_request * iops) for k, r in paths.items()]
        plots.exit_tax(ns, [c * 1e3 for c in costs_us if c != us_per_exit], markers, fig)
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
        figsize=(9, 3.8),
    )


def explore_trap_path(profile=DEFAULT_PROFILE) -> Explorer:
    """Chapter 2.1: one emulated request, step by step.  Knobs: data mode, request size,
    direction."""
    prof = get_profile(profile)

    def draw(fig, data_mode, request_bytes, direction):
        st = trap.steps(request_bytes, data_mode, profile=prof, direction=direction)
        c = trap.counts(request_bytes, data_mode, direction=direction)
        total = trap.elapsed_ns(st) / 1e3
        plots.timeline(
            st,
            fig,
            title=(
                f"{data_mode}, {fmt_bytes(request_bytes)}: {c.exits} VM exits ({c.user_exits} to "
                f"QEMU), {c.context_switches} context switches, {c.copies} copies, {total:.1f} µs"
            ),
        )
        return {"steps": st, "counts": c, "total_us": total}

    return Explorer(
        "One emulated request",
        (
            Knob("data_mode", "data moved by", trap.DATA_MODES, "dma"),
            Knob("request_bytes", "request size", (64, 512, 4096, 16384, 65536), 4096, fmt_bytes),
            Knob("direction", "direction", trap.DIRECTIONS, "read"),
        ),
        draw,
        figsize=(11, 3.2),
    )


DATA_MODE_COLORS = {"pio": "#e67e22", "string-pio": "#c0392b", "dma": "#2471a3"}


def ide_sequence(data_mode: str) -> dict:
    """The ``"emulated"`` path's register accesses of an IDE read or write by ``data_mode``:
    libata's PIO sequence for port I/O, its bus-master DMA sequence for DMA."""
    seq = registers.IDE_DMA_READ if data_mode == "dma" else registers.IDE_PIO_READ
    return dict(
        accesses_per_request=seq.issue,
        dma_setup_accesses=seq.dma_setup,
        handler_accesses=seq.handler,
        busy_wait_ns=seq.busy_wait_ns,
        string_chunk_bytes=seq.string_chunk_bytes,
    )


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
                SIZES,
                data_mode=m,
                profile=prof,
                direction=direction,
                requests=REQUESTS,
                **ide_sequence(m),
            )
            for m in trap.DATA_MODES
        }
        plots.curves(
            curves,
            ("exits_per_request", "us_per_request"),
            fig,
            marker=request_bytes,
            colors=DATA_MODE_COLORS,
        )
        x = trap.crossover_bytes(
            SIZES,
            slow=dict(data_mode="string-pio", **ide_sequence("string-pio")),
            fast=dict(data_mode="dma", **ide_sequence("dma")),
            direction=direction,
            profile=prof,
        )
        if x:
            for ax in fig.axes:
                ax.axvline(x, color=DATA_MODE_COLORS["dma"], ls="--", lw=0.8)
        i = SIZES.index(request_bytes)
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
            Knob("request_bytes", "transfer size", SIZES, 4096, fmt_bytes),
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
        figsize=(10, 3.8),
    )


def device_catalogue(profile=DEFAULT_PROFILE):
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


def explore_breakdown(profile=DEFAULT_PROFILE) -> Explorer:
    """Chapter 2.3: where a request's time goes, stage by stage, path by path.  Knobs:
    request size, batch (the ring paths)."""
    prof = get_profile(profile)

    def draw(fig, request_bytes, batch):
        common = dict(request_bytes=request_bytes, requests=REQUESTS, profile=prof)
        ide = registers.params(registers.IDE_DMA_READ)
        res = {
            "IDE, bus-master DMA": run("emulated", **{**ide, **common}),
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
        plots.breakdown(res, fig, title=f"{fmt_bytes(request_bytes)} per request", notes=notes)
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
        figsize=(10, 3.4),
    )


def vring_tour(queue_size: int = 8, ring: str = "split") -> Explorer:
    """Chapter 3 (split) and 5 (packed): a ring's three areas, one real operation per step
    on a queue of ``queue_size`` entries in layout ``ring``.  Knobs: step,
    VIRTIO_F_EVENT_IDX."""
    n = len(ring_tour(queue_size, False, ring))

    def draw(fig, step, event_idx):
        s = ring_tour(queue_size, event_idx, ring)[step]
        plots.vring(
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
            ),
        ),
        draw,
        figsize=(10, 3.5),
        dpi=80,
        narrow=(4.2, 6.4),
    )


WORKLOADS = {"batch": "closed-loop batches", "iodepth": "fio iodepth"}
INTERRUPT_MODES = {"posted": "posted (APICv/AVIC)", "pv-eoi": "PV EOI", "legacy": "legacy"}


def explore_batching(profile=DEFAULT_PROFILE) -> Explorer:
    """Chapter 3: exits, time and latency per request as more requests are in flight, as
    closed-loop batches or as fio's iodepth, every path.  Knobs: requests in flight,
    workload, interrupt mode, VIRTIO_F_EVENT_IDX, queue size."""
    prof = get_profile(profile)

    def draw(fig, depth, workload, interrupt_mode, event_idx, queue_size):
        if depth > queue_size:
            plots.message(
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
        plots.curves(
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

    return Explorer(
        "Batching",
        (
            Knob("depth", "requests in flight", BATCHES, 1),
            Knob("workload", "workload", tuple(WORKLOADS), "batch", WORKLOADS.get),
            Knob(
                "interrupt_mode",
                "interrupts",
                tuple(INTERRUPT_MODES),
                "posted",
                INTERRUPT_MODES.get,
            ),
            Knob(
                "event_idx",
                "VIRTIO_F_EVENT_IDX",
                (True, False),
                True,
                lambda v: "on" if v else "off",
            ),
            Knob("queue_size", "queue size", (64, 256), 256),
        ),
        draw,
        figsize=(12, 3.6),
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
        plots.curves(curves, ("us_per_request", "bytes_per_s"), fig)
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
        figsize=(10, 3.6),
    )


# ---------------------------------------------------------------------------------------
# The lab chapter: measured beside predicted.
# ---------------------------------------------------------------------------------------
MODEL_BATCHES = (1, 2, 4, 8, 16, 32, 64)
COSTS_FROM = {
    "calibrated": "calibrated in this measurement",
    "modern": "the modern host's published costs",
}


def explore_lab(measurement, label: str) -> Explorer:
    """A lab measurement beside the model's predictions, one request size at a time; the
    model's costs either calibrated in the same measurement or the modern host's published
    ones."""
    from .lab import validate

    sizes = tuple(sorted({r.params["request_bytes"] for r in measurement.results}))

    def draw(fig, request_bytes, costs_from):
        prof = measurement.profile if costs_from == "calibrated" else get_profile("modern")
        at = [r for r in measurement.results if r.params["request_bytes"] == request_bytes]
        rows = validate.compare(at, prof)
        path, params = validate.model_params(next(r for r in at if r.experiment == "virtio"))
        model = [
            r.us_per_request
            for r in points(
                [(path, {**params, "batch": b, "profile": prof}) for b in MODEL_BATCHES], runner=run
            )
        ]
        plots.lab_validation(
            rows, MODEL_BATCHES, model, request_bytes, label, COSTS_FROM[costs_from], fig
        )
        return {"rows": rows, "model_us": model, "profile": prof}

    return Explorer(
        "Measured beside predicted",
        (
            Knob(
                "request_bytes",
                "request size",
                sizes,
                4096 if 4096 in sizes else sizes[0],
                fmt_bytes,
            ),
            Knob("costs_from", "model costs", tuple(COSTS_FROM), "calibrated", COSTS_FROM.get),
        ),
        draw,
        figsize=(11, 3.9),
    )


def _measurement_label(head: dict, here: bool) -> str:
    if here:
        return (
            f"Measured on this machine just now ({head['host_cpu']}, KVM "
            f"{head['flavour']}, {head['date']})"
        )
    return (
        f"Shipped measurement, not your machine: {head['host_cpu']}, KVM "
        f"{head['flavour']}, {head['date']} ({head['command']})"
    )


class LabReport:
    """The "Measure your machine" chapter's demo: the shipped measurement (labelled as
    such) and, in a live kernel where KVM is usable, a button that measures this machine
    and shows the result in its place.  On the static site there is no button."""

    def __init__(self, repeats: int = 5, **measure_kw):
        from .lab import probe, validate

        self.probe = probe()
        self.measure_kw = dict(repeats=repeats, **measure_kw)
        self._show(*validate.shipped(), here=False)
        self._out = None

    def _show(self, measurement, header: dict, here: bool) -> None:
        from .lab import validate

        self.measurement, self.header, self.here = measurement, header, here
        self.rows = validate.compare(measurement.results, measurement.profile)
        self.explorer = explore_lab(measurement, _measurement_label(header, here))

    @property
    def live(self) -> bool:
        """A button is offered: a live kernel and a usable /dev/kvm."""
        return not is_static() and self.probe.usable

    def why_not_live(self) -> str:
        """Why no button is offered ("" when one is)."""
        if self.live:
            return ""
        return "The lab cannot run here: " + (
            "this is the static site (no kernel)." if is_static() else f"{self.probe.reason}."
        )

    def status(self) -> str:
        from .lab import validate

        med = validate.median_abs_error(self.rows)
        src = "this machine" if self.here else "the shipped measurement"
        why = "" if self.here else self.why_not_live()
        return (
            f"Median |error| of the calibrated model over the {len(self.rows)}"
            f" cells of {src}: {med:.1%} (target {validate.TARGET_MEDIAN_ERROR:.0%})."
            + (" " + why if why else "")
        )

    def run_here(self, progress=None) -> None:
        """Measure this machine (KVM needed) and show it in place of the shipped data."""
        import datetime

        from .lab import validate

        m = validate.measure(progress=progress, **self.measure_kw)
        self._show(m, validate.header(m, f"measured at {datetime.datetime.now():%H:%M}"), here=True)

    def _html_tables(self) -> str:
        label = _measurement_label(self.header, self.here)
        return (
            f'<p class="vm-lab-source">{html.escape(label)}</p>'
            f"<p><b>{html.escape(self.status())}</b></p>"
            f"<details><summary>Error table (every cell)</summary>"
            f"{lab_error_table(self.rows)._repr_html_()}</details>"
            f"<details><summary>Micro-benchmarks the model was calibrated from</summary>"
            f"{micro_table(self.measurement)._repr_html_()}</details>"
        )

    def widget(self):
        import ipywidgets as w

        self._out = w.VBox()
        self.button = w.Button(
            description="Measure this machine (a few minutes)",
            layout=w.Layout(width="24em"),
            disabled=not self.live,
        )
        self.progress = w.HTML()

        def click(_):
            self.button.disabled = True
            self.progress.value = "measuring: warm-up ..."
            self.run_here(
                progress=lambda r, n: setattr(
                    self.progress, "value", f"measuring: repeat {r} of {n} done"
                )
            )
            self.progress.value = "done"
            self._fill()

        self.button.on_click(click)
        self._fill()
        return self._out

    def _fill(self):
        import ipywidgets as w

        parts = [self.explorer.widget(), w.HTML(self._html_tables())]
        if self.live:
            parts.insert(0, w.HBox([self.button, self.progress]))
        else:
            parts.insert(0, w.HTML(f"<i>{html.escape(self.why_not_live())}</i>"))
        self._out.children = parts

    def _repr_mimebundle_(self, include=None, exclude=None):
        if is_static():
            return {
                "text/html": self.explorer.player_html() + self._html_tables(),
                "text/plain": self.status(),
            }
        return self.widget()._repr_mimebundle_(include=include, exclude=exclude)


def measure_your_machine(**measure_kw) -> LabReport:
    """The lab chapter's demo: a :class:`LabReport` (``measure_kw`` go to
    :func:`virtmodel.lab.validate.measure` when this machine is measured)."""
    return LabReport(**measure_kw)
