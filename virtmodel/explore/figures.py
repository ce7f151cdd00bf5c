"""Figures for the book and the CLI (matplotlib's object API: no global pyplot state).

Each figure kind is a class (a :class:`Drawing`: :class:`Curves`, :class:`PathBars`,
:class:`Breakdown`, :class:`Timeline`, :class:`ExitTax`, :class:`VRing`,
:class:`LabValidation`, :class:`RingCompare`) in the shape of matplotlib's blitting guide:
its constructor makes the artists once, its ``update`` sets their data, texts and limits.
The functions the explorers call (:func:`curves`, :func:`path_bars`, ...) find the
figure's drawing of that kind and shape, or make it (:func:`drawing`), and update it: a
fresh figure and a live redraw go through the same ``update``.  To change what a kind
shows, change its class; to add one, write a class and a function that calls
``drawing(fig, Kind, shape).update(...)``."""

from __future__ import annotations

import textwrap
from itertools import pairwise

import numpy as np
from matplotlib.artist import Artist
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator
from matplotlib.transforms import Bbox, IdentityTransform

from ..paths.result import STAGES
from ..units import fmt_bytes
from . import render

_OTHER = ("#882255", "#009E73", "#D55E00", "#332288", "#999933")


def path_color(key: str) -> str:
    """A line's colour: the registered path's own, else one picked from the key."""
    from ..paths import REGISTRY

    if key in REGISTRY:
        return REGISTRY[key].color
    return _OTHER[sum(map(ord, str(key))) % len(_OTHER)]


SMALL = 9
"""Points of the smallest text a figure draws (legends, notes, values on bars, table
cells): a frame's width is chosen so that this is 11 CSS pixels where it is shown
(:mod:`virtmodel.explore.core`'s ``FRAME_WIDTH_IN``)."""

VARIANT_STYLES = ("o-", "s--", "^:", "D-.")
"""Line formats of one path's variants on one figure, in order: they share the path's
colour, so the first is drawn solid with dots, the next dashed with squares, and so on."""

RING_COLORS = {"split": "#009E73", "packed": "#D55E00"}
"""The two virtqueue layouts' colours where they are compared."""


def variant_styles(paths: dict) -> dict:
    """Line formats for curves keyed by label, given each label's path (``paths``: label
    -> path name): the n-th label of a path gets ``VARIANT_STYLES[n]``."""
    seen: dict = {}
    out = {}
    for label, path in paths.items():
        n = seen[path] = seen.get(path, -1) + 1
        out[label] = VARIANT_STYLES[n % len(VARIANT_STYLES)]
    return out


IDE_DISK = "IDE disk (libata)"
"""The emulated IDE disk Linux's libata drives (its register sequences in
:mod:`virtmodel.registers`, ~27 exits per 4 KiB request), named apart from the
``"emulated"`` path's generic emulated device (its own default sequence, 6 exits)."""


def with_exits(name: str, result) -> str:
    """``name`` with the exits per request of ``result``, for a legend: which emulated
    device a line is shows in what it costs."""
    return f"{name}: {_value(result.exits_per_request)} exits/request"


def path_label(key: str) -> str:
    """A line's legend label: the registered path's label, else the key itself."""
    from ..paths import REGISTRY

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
STAGE_COLORS = dict(
    zip(
        STAGES,
        ["#7dcea0", "#e74c3c", "#f5b041", "#af7ac5", "#5dade2", "#f4d03f", "#95a5a6", "#d7dbdd"],
    )
)
LABELS = {
    "batch": "batch size (requests per kick)",
    "request_bytes": "request size (bytes)",
    "queue_size": "queue size (descriptors)",
}


CHAR_EM = 0.56
"""A character's mean width in DejaVu Sans, in ems (for wrapping text and fitting legends
to a figure's width without measuring them)."""


def legend_columns(labels, size: float, width_pt: float) -> int:
    """How many columns of ``labels`` (at ``size`` points) fit across ``width_pt``."""
    widest = max((len(t) for t in labels), default=0) * size * CHAR_EM + 3 * size
    return max(1, min(len(labels), int(width_pt // max(widest, 1))))


def wrap(t, width_pt: float) -> int:
    """Wrap the text artist ``t`` to ``width_pt`` (each of its lines refilled); its lines."""
    chars = max(12, int(width_pt / (t.get_fontsize() * CHAR_EM)))
    old = t.get_text()
    new = "\n".join(textwrap.fill(line, chars) for line in old.split("\n"))
    if new != old:
        t.set_text(new)
    return new.count("\n") + 1


def fit_width(fig: Figure) -> None:
    """Keep a drawing within its figure's width: the figure's titles wrapped to it, each
    panel's title to its share of it (every explorer's drawing ends with this,
    :class:`virtmodel.explore.core.Explorer`; legends are fitted to it when made)."""
    width_pt = fig.get_figwidth() * 72
    for t in [*render.figure_titles(fig), *fig.texts]:
        if t.get_text():
            wrap(t, width_pt)
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        share = 0.95
        if spec is not None:  # its columns' part of the width
            ratios = spec.get_gridspec().get_width_ratios() or [1] * spec.get_gridspec().ncols
            share *= sum(ratios[c] for c in spec.colspan) / sum(ratios)
        for t in render.side_titles(ax):
            if t.get_text():
                wrap(t, share * width_pt)


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
        out.append(((rows, cols), tuple(gs.get_width_ratios() or (1,) * cols), ss.num1, ss.num2))
    return tuple(out)


def layout_key(fig: Figure) -> tuple:
    """What a figure's layout depends on: where its axes sit (:func:`arrangement`) and
    its drawing's kind and shape (a drawing of another shape may have other things around
    its panels: direct labels beside them, or a legend under them).  Two figures with the
    same key can share one layout (:class:`virtmodel.explore.core.Explorer` keeps one per
    key)."""
    got = fig.__dict__.get("_virtmodel_drawing")
    return arrangement(fig), (None if got is None else (type(got).__name__, got.shape))


def panels(fig: Figure, n: int = 1, width_ratios=None) -> list:
    """The figure's ``n`` side-by-side axes, empty.  When the figure already holds exactly
    that arrangement (a live redraw), its axes are reused and emptied rather than replaced:
    a new axes rebuilds its tick objects, the dearest part of a redraw.  Emptying puts back
    every default the plots here change (artists, legend, titles, labels, scales, limits,
    inversion, grid, axis on), so a redrawn figure shows what a fresh one would; the
    widget tests compare the two explorer by explorer."""
    fig.__dict__.pop("_virtmodel_drawing", None)  # the drawing it showed is gone now
    ratios = tuple(width_ratios or (1,) * n)
    if arrangement(fig) == _side_by_side(n, ratios):
        for ax in fig.axes:
            _empty(ax)
        _no_figure_titles(fig)
        _no_figure_legends(fig)
        return list(fig.axes)
    fig.clear()
    axes = list(fig.subplots(1, n, squeeze=False, width_ratios=ratios)[0])
    for ax in axes:
        ax.set_title("", y=1.0)  # see _empty
    return axes


def _side_by_side(n: int, ratios: tuple) -> tuple:
    return tuple(((1, n), ratios, i, i) for i in range(n))


def _no_figure_legends(fig: Figure) -> None:
    for leg in list(fig.legends):
        leg.remove()


def _no_figure_titles(fig: Figure) -> None:
    for text, setter in ((fig.get_suptitle(), fig.suptitle), (fig.get_supxlabel(), fig.supxlabel)):
        if text:
            setter("")


def _move_errorbar(c, x, y, below, above) -> None:
    """Put the caps and bars of an errorbar container (y errors only, no limits) where
    ``errorbar`` would draw them for points (x, y)."""
    low, high = y - below, y + above
    caps, (bars,) = c.lines[1], c.lines[2]
    if caps:
        caps[0].set_data(x, low)
        caps[1].set_data(x, high)
    bars.set_segments([[(a, lo), (a, hi)] for a, lo, hi in zip(x, low, high)])


def _empty(ax) -> None:
    """Back to what ``Figure.subplots`` gives, keeping the axes' tick objects."""
    for c in list(ax.containers):
        c.remove()
    for a in [
        *ax.lines,
        *ax.patches,
        *ax.texts,
        *ax.collections,
        *ax.images,
        *ax.tables,
        *ax.artists,
    ]:
        a.remove()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    # Titles stay at the top of their axes, where matplotlib's automatic placement puts
    # them when nothing (top ticks, an offset text) sits above an axes, as in every plot
    # here: the automatic placement measures the y axis again at every draw, even when
    # it is not shown (tests/test_plots.py checks the place is the same).
    ax.set_title("", y=1.0)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_xscale("linear")  # also puts back the default locators and formatters
    ax.set_yscale("linear")
    ax.grid(False)
    ax.set_axis_on()
    ax.ignore_existing_data_limits = True
    ax.set_xlim(0, 1, auto=True)  # as new: not inverted, autoscaled from the new data
    ax.set_ylim(0, 1, auto=True)


# -- the figure kinds ----------------------------------------------------------------------
# Each kind is a class in the shape of matplotlib's blitting guide: its constructor makes
# the artists once, on emptied panels, and ``update`` sets their data, texts and limits in
# place.  Its ``shape`` is what the artists themselves depend on (how many lines, bars,
# cells); a drawing of another shape is made anew.  The public functions below
# (``curves``, ``path_bars``, ...) are the kinds' entry points: each finds or makes its
# figure's drawing (:func:`drawing`) and updates it, so a fresh figure and a redraw go
# through the same ``update``.
class Drawing:
    """A figure kind: ``panels`` side-by-side axes (``width_ratios``; a kind whose shape
    begins with its metrics has one per metric), made by :meth:`make_axes`; the
    constructor makes the artists for ``shape``, ``update`` (each kind's own) sets what
    they show."""

    panels, width_ratios = 1, None

    def __init__(self, fig: Figure, axes, shape=()):
        self.fig, self.axes, self.shape = fig, list(axes), shape

    @classmethod
    def make_axes(cls, fig: Figure, shape) -> list:
        """The figure's axes for a drawing of ``shape`` (default: :func:`panels`)."""
        return panels(fig, cls.panels, cls.width_ratios)


class PerMetric(Drawing):
    """A kind with a panel per metric, its shape's first item."""

    @classmethod
    def make_axes(cls, fig: Figure, shape) -> list:
        return panels(fig, len(shape[0]))


def drawing(fig: Figure, kind, shape=()):
    """The figure's drawing of ``kind`` (a :class:`Drawing`) for ``shape``, made now unless
    the figure already shows one of that kind and shape on the same axes (a live redraw,
    or the static player's next frame): then the artists it made are updated in place."""
    got = fig.__dict__.get("_virtmodel_drawing")
    if type(got) is kind and got.shape == shape and got.axes == fig.axes:
        _no_figure_titles(fig)
        return got
    axes = kind.make_axes(fig, shape)
    got = fig._virtmodel_drawing = kind(fig, axes, shape)
    return got


DIRECT_LABEL_CHARS = 18
"""Characters per line of a curve's direct label (its legend label wrapped at spaces and
hyphens)."""
DIRECT_LABEL_LINES = 12
"""At most this many lines of direct labels beside one panel (two per label at most); a
figure whose labels need more keeps a legend under its panels instead.  Twelve lines of
:data:`SMALL` type fill about two thirds of a 2.6-inch panel (a phone frame's), so nudged
apart they still fit beside it."""


def direct_labels(labels) -> list | None:
    """``labels`` wrapped for direct labelling (:data:`DIRECT_LABEL_CHARS` per line), or
    None when they cannot all be: a label of more than two lines, or more than
    :data:`DIRECT_LABEL_LINES` lines in all."""
    wrapped = [textwrap.fill(str(t), DIRECT_LABEL_CHARS) for t in labels]
    lines = [w.count("\n") + 1 for w in wrapped]
    if not wrapped or max(lines) > 2 or sum(lines) > DIRECT_LABEL_LINES:
        return None
    return wrapped


class EndLabels(Artist):
    """Labels at the right ends of an axes' lines, right of the axes, each in its line's
    colour, placed when drawn (in display space, where the layout put the axes): at the
    height of its line's last point, then nudged apart vertically so that no two overlap,
    within the axes' height (the figure's when they need more room).  With ``samples``
    (lines that share a colour: one path's variants) each label starts with a short
    stretch of its line, in its style.  An artist of the axes and outside its clip box,
    so constrained layout leaves room for them."""

    PAD_PT = 4.0  # between the axes' right edge and the labels
    GAP_PT = 1.0  # between two labels
    SAMPLE_PT = 16.0  # a line's sample, before its label

    def __init__(self, ax, lines, texts, fontsize=SMALL, samples: bool = False):
        super().__init__()
        self.set_clip_on(False)
        self.set_zorder(3)
        self.lines = list(lines)
        self.texts = [
            Text(0, 0, t, color=ln.get_color(), fontsize=fontsize, va="bottom", ha="left")
            for ln, t in zip(self.lines, texts)
        ]
        self.samples = [
            Line2D(
                [0, 0],
                [0, 0],
                color=ln.get_color(),
                linestyle=ln.get_linestyle(),
                linewidth=ln.get_linewidth(),
                marker=ln.get_marker(),
                markersize=ln.get_markersize(),
                markevery=[1],
            )
            for ln in (self.lines if samples else [])
        ]
        ax.add_artist(self)
        for a in [*self.texts, *self.samples]:
            a.set_figure(self.get_figure(root=False))
            a.set_transform(IdentityTransform())
            a.set_clip_on(False)

    def get_children(self):
        return [*self.texts, *self.samples]

    def set_texts(self, texts) -> None:
        for t, s in zip(self.texts, texts):
            if t.get_text() != s:
                t.set_text(s)

    def place(self, renderer) -> None:
        """Put each label where it goes for the axes' current place and limits."""
        ax, fig = self.axes, self.get_figure(root=True)
        px = fig.dpi / 72
        x = ax.bbox.x1 + self.PAD_PT * px
        sample = (self.SAMPLE_PT + self.PAD_PT) * px if self.samples else 0.0
        gap = self.GAP_PT * px
        heights, wanted = [], []
        for ln, t in zip(self.lines, self.texts):
            t.set_position((x + sample, 0))
            heights.append(t.get_window_extent(renderer).height)
            xs, ys = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
            ok = np.isfinite(xs) & np.isfinite(ys)
            if ax.get_yscale() == "log":
                ok &= ys > 0
            if ok.any():
                i = np.flatnonzero(ok)[np.argmax(xs[ok])]  # the right end
                y = ax.transData.transform((xs[i], ys[i]))[1]
            else:
                y = ax.bbox.y0
            wanted.append(min(max(y, ax.bbox.y0), ax.bbox.y1))
        lo, hi = ax.bbox.y0, ax.bbox.y1
        if sum(heights) + gap * len(heights) > hi - lo:  # more than the axes' height
            lo, hi = fig.bbox.y0 + gap, fig.bbox.y1 - gap
        bottoms = spread(wanted, heights, lo, hi, gap)
        for t, y in zip(self.texts, bottoms):
            t.set_position((x + sample, y))
        for ln, t, y, h in zip(self.samples, self.texts, bottoms, heights):
            mid = y + h - h / (2 * (t.get_text().count("\n") + 1))  # its first line's
            ln.set_data([x, x + sample / 2, x + self.SAMPLE_PT * px], [mid, mid, mid])

    def draw(self, renderer):
        if not self.get_visible():
            return
        self.place(renderer)
        for a in self.get_children():
            a.draw(renderer)

    def get_window_extent(self, renderer=None):
        if renderer is None:
            renderer = self.get_figure(root=True).canvas.get_renderer()
        self.place(renderer)
        boxes = [t.get_window_extent(renderer) for t in self.texts if t.get_text()]
        boxes += [ln.get_window_extent(renderer) for ln in self.samples]
        return Bbox.union(boxes) if boxes else Bbox.null()


def spread(centres, heights, lo: float, hi: float, gap: float = 0.0) -> list:
    """Bottoms of boxes of ``heights`` as near their wanted ``centres`` as they can be
    with no two overlapping (``gap`` apart) and all within [lo, hi], in the order given
    (display units; boxes wanted at the same height are stacked first on top).  Boxes
    that cannot all fit are spread evenly from ``lo``."""
    order = sorted(range(len(centres)), key=lambda i: (centres[i], -i))
    h = [heights[i] for i in order]
    b = [centres[i] - heights[i] / 2 for i in order]
    for k in range(len(b)):  # upwards: above the one below
        b[k] = max(b[k], lo if k == 0 else b[k - 1] + h[k - 1] + gap)
    for k in reversed(range(len(b))):  # downwards: below the one above and the top
        b[k] = min(b[k], hi - h[k] if k == len(b) - 1 else b[k + 1] - gap - h[k])
    if b and b[0] < lo - 1e-6:  # no room for all of them (not rounding): evenly from lo
        step = (hi - lo - sum(h)) / max(len(h) - 1, 1)
        at = lo
        for k in range(len(b)):
            b[k], at = at, at + h[k] + step
    out = [0.0] * len(b)
    for k, i in enumerate(order):
        out[i] = b[k]
    return out


class Curves(PerMetric):
    """One panel per metric, one line per curve, against the swept parameter (see
    :func:`curves`).  ``shape``: (metrics, ((key, format, colour), ...), marked,
    number of guides, labelled directly or by a legend, line samples in the labels)."""

    def __init__(self, fig, axes, shape):
        super().__init__(fig, axes, shape)
        metrics, lines, marked, guides, direct, samples = shape
        self.lines, self.bands, self.marks, self.dots, self.guides = [], [], [], [], []
        for ax, m in zip(self.axes, metrics):
            self.lines.append(
                [ax.plot([], [], fmt, ms=3, color=color)[0] for _, fmt, color in lines]
            )
            if marked:  # a band and a dot on each curve: seen at a glance
                self.bands.append(ax.axvline(1, color="#e3e3e3", lw=12, zorder=1))
                self.marks.append(ax.axvline(1, color="k", lw=0.8, ls=":"))
                self.dots.append(
                    [
                        ax.plot([], [], "o", ms=8, mec="white", mew=1.2, color=color)[0]
                        for _, _, color in lines
                    ]
                )
            self.guides.append([ax.axvline(1, ls="--", lw=0.8) for _ in range(guides)])
            ax.set_ylabel(METRICS[m][0])
            ax.grid(alpha=0.3)
        self.labels = self.legend = None
        if direct:  # beside the last panel; no legend (texts: set by update)
            self.labels = EndLabels(
                self.axes[-1], self.lines[-1], [""] * len(lines), samples=samples
            )

    TICK_PT = 10  # the tick labels' size (matplotlib's default, "medium")
    Y_AXIS_PT = 60  # a panel's y axis: its label and tick labels ("1,000,000")
    NARROW_IN = 5.5
    """A figure narrower than this (inches) is a phone's: the static player stacks its
    panels (:func:`virtmodel.explore.static.fit_narrow`), each the figure's width."""

    def _ticks(self, x, names: list):
        """``x``'s values as ticks, every one or every other, third, ... so that the
        labels ``names`` do not run into each other (their widths estimated from
        :data:`CHAR_EM`, the panel's from the figure's width, the panels across it and
        the direct labels' column)."""
        fig = self.fig
        width = fig.get_figwidth() * 72
        if self.labels is not None:
            shown = [t.get_text() for t in self.labels.texts]
            width -= max(len(t) for s in shown for t in s.split("\n")) * SMALL * CHAR_EM
            width -= EndLabels.PAD_PT + (EndLabels.SAMPLE_PT + EndLabels.PAD_PT) * bool(
                self.labels.samples
            )
        across = len(self.axes) if fig.get_figwidth() >= self.NARROW_IN else 1
        room = 0.9 * (width / across - self.Y_AXIS_PT)  # the data's span, in points
        wide = [len(t) * self.TICK_PT * CHAR_EM * 1.1 for t in names]
        for step in range(1, len(x)):
            slot = room * step / max(len(x) - 1, 1)  # evenly spaced (log or linear)
            if all((a + b) / 2 + 3 <= slot for a, b in pairwise(wide[::step])):
                return x[::step]
        return x[:1]

    def _name(self, labels) -> None:
        """The lines' names: direct labels, or the legend under the panels (with eight
        paths a legend inside one covers curves)."""
        if self.labels is not None:
            self.labels.set_texts(direct_labels(labels) or labels)
            return
        ncol = min(len(labels), 4, legend_columns(labels, 10, self.fig.get_figwidth() * 72))
        if self.legend is None:
            self.legend = self.fig.legend(
                self.lines[0], labels, loc="outside lower center", frameon=False
            )
        self.legend.set_ncols(ncol)  # as many columns as fit across the figure
        for t, label in zip(self.legend.get_texts(), labels):
            if t.get_text() != label:
                t.set_text(label)

    def update(self, curves_by_path: dict, labels: list, marker=None, guides=()) -> None:
        metrics = self.shape[0]
        over = None
        for lines in self.lines:
            for ln, label in zip(lines, labels):
                if ln.get_label() != label:
                    ln.set_label(label)
        self._name(labels)
        for ax, m, lines, i in zip(self.axes, metrics, self.lines, range(len(metrics))):
            scale = METRICS[m][1]
            ys = []
            for ln, c in zip(lines, curves_by_path.values()):
                x = np.asarray(c.values, dtype=float)
                y = c.field(m) * scale
                ln.set_data(x, y)
                ys.append(y)
                over = c.over
            if len(x) > 1 and x.min() > 0 and x.max() / x.min() >= 16:
                render.set_scale(ax.xaxis, "log", base=2)
                name = (lambda v, _=None: fmt_bytes(int(v))) if over == "request_bytes" else _num
                ax.set_xticks(self._ticks(x, [name(v) for v in x]))
                ax.xaxis.set_minor_locator(NullLocator())  # labelled majors suffice; ticks
                # cost time on every redraw
                ax.xaxis.set_major_formatter(FuncFormatter(name))
            else:
                render.set_scale(ax.xaxis, "linear")
            ys = np.concatenate(ys)
            ys = ys[ys > 0]
            if m in ("us_per_request", "mean_latency_ns", "p99_latency_ns") or (
                ys.size and ys.max() / ys.min() >= 100
            ):
                render.set_scale(ax.yaxis, "log", base=10)
                ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
                ax.yaxis.set_major_formatter(FuncFormatter(_num))
                ax.yaxis.set_minor_locator(NullLocator())
            else:
                render.set_scale(ax.yaxis, "linear")
            if self.bands:
                self.bands[i].set_xdata([marker, marker])
                self.marks[i].set_xdata([marker, marker])
                for dot, c in zip(self.dots[i], curves_by_path.values()):
                    x = list(c.values)
                    if marker in x:
                        dot.set_data([marker], [c.field(m)[x.index(marker)] * scale])
                    else:
                        dot.set_data([], [])
            for ln, (gx, color) in zip(self.guides[i], guides):
                ln.set_xdata([gx, gx])
                ln.set_color(color)
            ax.set_xlabel(LABELS.get(over, over))
            ax.relim()
            ax.autoscale_view()


def curves(
    curves_by_path: dict,
    metrics=("us_per_request", "exits_per_request", "p99_latency_ns"),
    fig: Figure | None = None,
    marker=None,
    colors: dict | None = None,
    styles: dict | None = None,
    labels: dict | None = None,
    guides=(),
) -> Figure:
    """One panel per metric, one line per curve (keyed by path or any label), against the
    swept parameter.  ``marker`` (a value of the swept parameter) draws a vertical line
    there; ``colors`` overrides the line colours by key, ``styles`` their formats (default
    ``"o-"``; see :func:`variant_styles`), ``labels`` their labels (default: the path's
    label, or the key); ``guides`` are (x, colour) dashed vertical lines on every panel.

    Each line is labelled at its right end, beside the last panel, in its colour, the
    labels nudged apart where lines end close together (:class:`EndLabels`; where lines
    share a colour, one path's variants, each label begins with a stretch of its line in
    its style); where the labels are too long or too many for that
    (:func:`direct_labels`), a legend under the panels names the lines instead."""
    labels = labels or {}
    colors = colors or {}
    styles = styles or {}
    fig = fig or Figure(figsize=(4.2 * len(metrics), 3.4), layout="constrained")
    names = [labels.get(k) or path_label(k) for k in curves_by_path]
    lines = tuple((k, styles.get(k, "o-"), colors.get(k) or path_color(k)) for k in curves_by_path)
    shape = (
        tuple(metrics),
        lines,
        marker is not None,
        len(guides),
        direct_labels(names) is not None,
        len({color for _, _, color in lines}) < len(lines),  # variants of one path
    )
    drawing(fig, Curves, shape).update(curves_by_path, names, marker, guides)
    return fig


class PathBars(PerMetric):
    """One panel per metric, a horizontal bar per path with its value written at its
    end (see :func:`path_bars`).  ``shape``: (metrics, paths)."""

    def __init__(self, fig, axes, shape):
        super().__init__(fig, axes, shape)
        metrics, keys = shape
        rows = np.arange(len(keys))
        self.bars, self.values = [], []
        for i, (ax, m) in enumerate(zip(self.axes, metrics)):
            self.bars.append(
                ax.barh(rows, np.zeros(len(keys)), color=[path_color(k) for k in keys])
            )
            self.values.append([ax.text(0, r, "", va="center", fontsize=SMALL) for r in rows])
            ax.set_yticks(rows, [path_label(k) for k in keys] if i == 0 else [""] * len(keys))
            ax.set_ylim(len(keys) - 0.5, -0.5)
            ax.set_xlabel(METRICS[m][0])
            ax.grid(alpha=0.3, axis="x")

    def update(self, results: dict) -> None:
        metrics, keys = self.shape
        for ax, m, bars, texts in zip(self.axes, metrics, self.bars, self.values):
            vals = np.array([getattr(results[k], m) for k in keys], dtype=float) * METRICS[m][1]
            for bar, text, r, v in zip(bars, texts, range(len(keys)), vals):
                bar.set_width(v)
                text.set_position((v, r))
                text.set_text(f" {_value(v)}")
            top = vals.max() if vals.size and vals.max() > 0 else 1.0
            ax.set_xlim(0, top * 1.05)  # as autoscaling sets it: bars stick to 0


def path_bars(results: dict, metrics, fig: Figure | None = None) -> Figure:
    """One panel per metric, one horizontal bar per path (``results``: path name ->
    Result), each bar in its path's colour and labelled with its value."""
    fig = fig or Figure(
        figsize=(4.2 * len(metrics), 0.8 + 0.35 * len(results)), layout="constrained"
    )
    drawing(fig, PathBars, (tuple(metrics), tuple(results))).update(results)
    return fig


def _num(v, _pos=None) -> str:
    """Tick labels: plain numbers with thousands separators, no offsets or powers."""
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:g}"


def _value(v) -> str:
    """A value written on a bar: whole from 10 up, else three significant digits."""
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:.3g}"


class Breakdown(Drawing):
    """Stacked bars of where each request's time goes, by stage, a bar per result, with
    notes at the bars' ends (see :func:`breakdown`).  ``shape``: (labels, which have a
    note)."""

    def __init__(self, fig, axes, shape):
        super().__init__(fig, axes, shape)
        labels, noted = shape
        (ax,) = self.axes
        n = len(labels)
        rows = np.arange(n)
        self.stages = [
            ax.barh(rows, np.zeros(n), 0.8, np.zeros(n), color=STAGE_COLORS[s], label=s)
            for s in STAGES
        ]
        self.notes = [
            ax.text(0, i, "", va="center", fontsize=SMALL) if has else None
            for i, has in enumerate(noted)
        ]
        ax.set_yticks(rows, labels)
        span = n - 0.2  # the bars' extent, -0.4 .. n - 0.6, with autoscaling's margins
        ax.set_ylim(n - 0.6 + 0.05 * span, -0.4 - 0.05 * span)  # first bar on top
        ax.set_xlabel("work per request (µs, all threads)")
        ax.legend(
            ncol=min(7, legend_columns(STAGES, SMALL, fig.get_figwidth() * 72)),
            fontsize=SMALL,
            frameon=False,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.22),
        )

    def update(self, results: dict, title: str, notes: dict | None) -> None:
        (ax,) = self.axes
        labels = self.shape[0]
        left = np.zeros(len(labels))
        for stage, bars in zip(STAGES, self.stages):
            w = np.array([results[k].breakdown_ns[stage] for k in labels]) / 1e3
            for bar, x, width in zip(bars, left, w):
                bar.set_x(x)
                bar.set_width(width)
            left += w
        for i, (k, t) in enumerate(zip(labels, self.notes)):
            if t is not None:
                t.set_position((left[i], i))
                t.set_text("  " + notes[k])
        ax.set_xlim(0, left.max() * (1.8 if notes else 1.05))
        ax.set_title(title)


def breakdown(
    results: dict, fig: Figure | None = None, title: str = "", notes: dict | None = None
) -> Figure:
    """Stacked bars: where each request's time goes, per stage (ns of work per request).
    ``notes`` (label -> text) are written at the end of each bar."""
    fig = fig or Figure(figsize=(7, 0.6 + 0.55 * len(results)), layout="constrained")
    shape = (tuple(results), tuple(bool(notes) and k in notes for k in results))
    drawing(fig, Breakdown, shape).update(results, title, notes)
    return fig


ACTORS = {
    "guest": "guest",
    "cpu": "CPU (exit/entry)",
    "kvm": "KVM",
    "qemu": "QEMU",
    "device": "device",
}
"""The timeline's lanes, top to bottom: actor -> its label."""


def trips(steps) -> dict:
    """``steps`` (:func:`virtmodel.trap.steps`) spelt out one by one, as boxes: a run of
    consecutive steps repeated the same number of times (``count`` > 1: one exit's way
    out to QEMU and back, say) is that many trips through the run, each step once per
    trip; a concurrent step starts where the step before it started.  {(actor, stage):
    (starts, widths)} in ns, arrays in time order."""
    out: dict = {}

    def add(s, x0, w):
        got = out.setdefault((s.actor, s.stage), ([], []))
        got[0].append(np.atleast_1d(x0))
        got[1].append(np.broadcast_to(w, np.shape(np.atleast_1d(x0))))

    t = start = 0.0
    i = 0
    while i < len(steps):
        n, j = steps[i].count, i + 1
        if n > 1 and not steps[i].concurrent:
            while j < len(steps) and steps[j].count == n and not steps[j].concurrent:
                j += 1
            widths = np.array([s.ns for s in steps[i:j]])
            period, within = widths.sum(), np.cumsum(widths) - widths
            for s, w, off in zip(steps[i:j], widths, within):
                add(s, t + np.arange(n) * period + off, w)
            start, t = t + (n - 1) * period + within[-1], t + n * period
        else:
            s, w = steps[i], steps[i].ns * steps[i].count
            left = start if s.concurrent else t
            add(s, left, w)
            if s.concurrent:
                start = left + w
            else:
                start, t = t, t + w
        i = j
    return {k: (np.concatenate(a), np.concatenate(b)) for k, (a, b) in out.items()}


class Timeline(Drawing):
    """One request's steps in lanes by actor (:data:`ACTORS`), every repeated trip drawn
    (:func:`trips`): one collection of boxes, a legend of the stages, made once;
    :meth:`update` sets the boxes, their colours, the time axis and the title.  The boxes
    of one lane and stage are one compound path: a thousand trips of port I/O are a few
    paths for Agg to fill, not eight thousand."""

    panels, width_ratios = 1, None

    def __init__(self, fig: Figure, axes, shape=()):
        super().__init__(fig, axes, shape)
        (ax,) = self.axes
        self.boxes = ax.add_collection(
            PathCollection([], edgecolors="white", linewidths=0.3), autolim=False
        )
        ax.set_yticks(range(len(ACTORS)), list(ACTORS.values()))
        ax.set_ylim(len(ACTORS) - 0.5, -0.5)
        ax.set_xlabel("time (µs)")
        handles = [Rectangle((0, 0), 0, 0, color=STAGE_COLORS[s], label=s) for s in STAGES]
        ax.legend(
            handles=handles,
            ncol=legend_columns(STAGES, SMALL, fig.get_figwidth() * 72),
            fontsize=SMALL,
            frameon=False,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.28),
        )

    def update(self, steps, title: str = "") -> None:
        (ax,) = self.axes
        lanes = list(ACTORS)
        paths, colors, widest, end = [], [], [], 0.0
        for (actor, stage), (starts, widths) in trips(steps).items():
            x0, x1 = starts / 1e3, (starts + widths) / 1e3
            y = np.full_like(x0, lanes.index(actor))
            corners = np.stack(
                [
                    np.stack(c, axis=-1)
                    for c in ((x0, y - 0.4), (x1, y - 0.4), (x1, y + 0.4), (x0, y + 0.4))
                ],
                axis=1,
            )
            paths.append(Path.make_compound_path_from_polys(corners))
            colors.append(STAGE_COLORS[stage])
            widest.append(float(widths.max()) / 1e3)
            end = max(end, float(x1.max()))
        self.boxes.set_paths(paths)
        self.boxes.set_facecolor(colors)
        # white edges part boxes at least 3 pixels wide; on narrower ones (a thousand trips
        # of port I/O) they would paint the boxes white, at great cost: none there
        px_per_us = 0.85 * ax.figure.get_figwidth() * ax.figure.dpi / max(end, 1e-9)
        self.boxes.set_linewidth([0.3 if w * px_per_us >= 3 else 0.0 for w in widest])
        ax.set_xlim(0, end * 1.02)
        ax.set_title(title)


class RingCompare(Drawing):
    """The split and packed rings side by side: cache lines moved per request against
    batch size (a line per ring, the batch shown marked by a band and a dot on each), and
    the time per request at that batch (a bar per ring, its value written on it).  Made
    once; :meth:`update` sets the data, the marks, the values and the title."""

    panels, width_ratios = 2, None
    RINGS = ("split", "packed")

    def __init__(self, fig: Figure, axes, shape=()):
        super().__init__(fig, axes, shape)
        ax, ax2 = self.axes
        self.band = ax.axvline(1, color="#e3e3e3", lw=12, zorder=1)
        self.lines, self.dots = {}, {}
        for r in self.RINGS:
            c = RING_COLORS[r]
            (self.lines[r],) = ax.plot([], [], "o-", ms=3, label=r, color=c)
            (self.dots[r],) = ax.plot([], [], "o", ms=8, mec="white", mew=1.2, color=c)
        ax.set_xscale("log", base=2)
        ax.set_xlabel(LABELS["batch"])
        ax.set_ylabel("cache lines moved per request")
        ax.legend(handles=list(self.lines.values()), frameon=False)
        ax.grid(alpha=0.3)
        self.bars = ax2.bar(range(2), [0, 0], color=[RING_COLORS[r] for r in self.RINGS])
        self.values = [
            ax2.text(i, 0, "", ha="center", va="bottom", fontsize=SMALL) for i in range(2)
        ]
        ax2.set_xticks(range(2), list(self.RINGS))
        ax2.set_ylabel("time per request (µs)")
        ax2.grid(alpha=0.3, axis="y")

    def update(self, batches, lines: dict, batch, us: dict, title: str) -> None:
        ax, ax2 = self.axes
        i = list(batches).index(batch)
        for r in self.RINGS:
            self.lines[r].set_data(batches, lines[r])
            self.dots[r].set_data([batch], [lines[r][i]])
        self.band.set_xdata([batch, batch])
        ax.relim()
        ax.autoscale_view()
        for bar, text, r in zip(self.bars, self.values, self.RINGS):
            bar.set_height(us[r])
            text.set_position((text.get_position()[0], us[r]))
            text.set_text(f"{us[r]:.3f} µs")  # two bars often within a few percent
        ax2.set_ylim(0, max(us.values()) * 1.15)
        ax.figure.suptitle(title, fontsize=9)


CEILINGS = {"vcpu": "busiest vCPU", "backend": "busiest back-end thread", "device": "device"}
"""The resources :attr:`virtmodel.paths.Result.utilisation` reports, and their labels."""
CEILING_COLORS = {"vcpu": "#0072B2", "backend": "#D55E00", "device": "#009E73"}


class Ceiling(Drawing):
    """Scaling with jobs: throughput against fio jobs, and the busy share of the busiest
    vCPU, the busiest back-end thread and the device (a line each, labelled at its right
    end): the one that reaches 100 % is the ceiling.  The jobs chosen are marked by a band
    and a dot on each line.  Made once; :meth:`update` sets the data, the marks and the
    title."""

    panels, width_ratios = 2, None

    def __init__(self, fig: Figure, axes, shape=()):
        super().__init__(fig, axes, shape)
        ax, ax2 = self.axes
        self.bands = [a.axvline(1, color="#e3e3e3", lw=12, zorder=1) for a in self.axes]
        (self.iops,) = ax.plot([], [], "o-", ms=3, color="#333333")
        (self.iops_dot,) = ax.plot([], [], "o", ms=8, mec="white", mew=1.2, color="#333333")
        self.util, self.dots = {}, {}
        for k in CEILINGS:
            c = CEILING_COLORS[k]
            (self.util[k],) = ax2.plot([], [], "o-", ms=3, color=c)
            (self.dots[k],) = ax2.plot([], [], "o", ms=8, mec="white", mew=1.2, color=c)
        self.labels = EndLabels(ax2, self.util.values(), CEILINGS.values())  # adds itself
        ax2.axhline(100, color="k", lw=0.6, ls=":")
        for a in self.axes:
            a.set_xscale("log", base=2)
            a.xaxis.set_major_formatter(FuncFormatter(_num))
            a.xaxis.set_minor_locator(NullLocator())
            a.set_xlabel("fio jobs (one per vCPU)")
            a.grid(alpha=0.3)
        ax.set_ylabel(METRICS["throughput_rps"][0])
        ax2.set_ylabel("busy (% of the run)")
        ax2.set_ylim(0, 110)

    def update(self, jobs, kiops, util: dict, marked, title: str) -> None:
        ax = self.axes[0]
        jobs = list(jobs)
        i = jobs.index(marked)
        self.iops.set_data(jobs, kiops)
        self.iops_dot.set_data([marked], [kiops[i]])
        for k in CEILINGS:
            y = [100 * u for u in util[k]]
            self.util[k].set_data(jobs, y)
            self.dots[k].set_data([marked], [y[i]])
        for a in self.axes:
            a.set_xticks(jobs)
            a.set_xlim(jobs[0] / 1.3, jobs[-1] * 1.3)
        for band in self.bands:
            band.set_xdata([marked, marked])
        ax.set_ylim(0, max(kiops) * 1.15)
        ax.figure.suptitle(title, fontsize=9)


def timeline(steps, fig: Figure | None = None, title: str = "") -> Figure:
    """One request's steps as boxes in lanes by actor, every trip of a repeated run drawn
    (:class:`Timeline`); a concurrent step (KVM polling while the device works) is drawn
    from where the step before it started, beside it."""
    fig = fig or Figure(figsize=(9, 2.8), layout="constrained")
    drawing(fig, Timeline).update(steps, title)
    return fig


def message(fig: Figure, text: str) -> Figure:
    """A figure that says why there is nothing to draw (e.g. a knob combination that is not
    allowed), instead of a silently different picture."""
    (ax,) = panels(fig)
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=11, color="#922b21")
    return fig


class ExitTax(Drawing):
    """Guest speed against exits per second for a cost per exit, thin lines for other
    costs, markers on the curve (see :func:`exit_tax`).  ``shape``: (other costs,
    markers)."""

    RATES = np.logspace(2, 7.5, 300)
    MARKER_LOOKS = (("#D55E00", "o"), ("#CC79A7", "s"), ("#0072B2", "D"), ("#56B4E9", "^"))

    def __init__(self, fig, axes, shape):
        super().__init__(fig, axes, shape)
        (ax,) = self.axes
        others, markers = shape
        r, flat = self.RATES, np.zeros_like(self.RATES)  # data before the log scale
        self.others = [ax.plot(r, flat, color="#bbbbbb", lw=0.8)[0] for _ in range(others)]
        self.other_labels = [
            ax.text(1, 50, "", fontsize=SMALL, color="#888888", rotation=-60) for _ in range(others)
        ]
        (self.cost,) = ax.plot(r, flat, color="#333333", lw=2.2)
        self.markers = [
            ax.plot([], [], look, color=color, ms=8, mec="white")[0]
            for color, look in self.MARKER_LOOKS[:markers]
        ]
        ax.set_xscale("log", base=10)
        ax.set_ylim(0, 105)
        ax.set_xlabel("VM exits per second (one vCPU)")
        ax.set_ylabel("guest speed (% of native)")
        ax.grid(alpha=0.3)
        ax.legend(
            handles=[self.cost, *self.markers],
            labels=[""] * (1 + markers),  # set by update
            frameon=True,
            loc="lower left",
            fontsize=SMALL,
        )

    def update(self, ns_per_exit: float, others, markers) -> None:
        from ..exit_tax import guest_speed

        (ax,) = self.axes
        r = self.RATES
        for ln, text, c in zip(self.others, self.other_labels, others):
            ln.set_data(r, 100 * guest_speed(r, c))
            i = np.searchsorted(-guest_speed(r, c), -0.5)
            text.set_position((r[min(i, r.size - 1)], 50))
            text.set_text(f"{c / 1e3:g} µs" if i < r.size else "")
        self.cost.set_data(r, 100 * guest_speed(r, ns_per_exit))
        labels = [f"{ns_per_exit / 1e3:g} µs per exit"]
        for ln, (label, rate) in zip(self.markers, markers):
            y = 100 * guest_speed(rate, ns_per_exit)
            ln.set_data([rate], [y])
            labels.append(f"{label}, {rate:,.0f} exits/s -> {y:.0f}%")
        for ln, t, label in zip([self.cost, *self.markers], ax.get_legend().get_texts(), labels):
            ln.set_label(label)
            if t.get_text() != label:
                t.set_text(label)
        ax.relim()
        ax.autoscale_view(scaley=False)


def exit_tax(ns_per_exit: float, others=(), markers=(), fig: Figure | None = None) -> Figure:
    """Guest speed (% of native) against exits per second, for a cost per exit; thin lines
    for ``others`` costs; ``markers`` are (label, exits per second) placed on the curve
    (at most four)."""
    fig = fig or Figure(figsize=(8, 3.6), layout="constrained")
    markers = list(markers)[: len(ExitTax.MARKER_LOOKS)]
    drawing(fig, ExitTax, (len(others), len(markers))).update(ns_per_exit, others, markers)
    return fig


_ROLE_COLORS = {
    "free": "#f2f3f4",
    "token": [
        "#aed6f1",
        "#f9e79f",
        "#abebc6",
        "#f5b7b1",
        "#d7bde2",
        "#fad7a0",
        "#a3e4d7",
        "#d5dbdb",
    ],
}


class VRing(Drawing):
    """A virtqueue's three areas as tables of cells (see :func:`vring`): one collection
    of cell boxes and one text per non-empty cell per table (matplotlib's ``Table``
    re-measures every cell at every draw).  ``shape``: (narrow, for each table its
    header, which of its cells hold text, its title and its rows' height, the type
    size); :meth:`update` sets the cells' texts and colours and the figure's titles."""

    width_ratios = (2.2, 1.2, 1.5)

    @classmethod
    def make_axes(cls, fig, shape):
        narrow, tables, _ = shape
        if not narrow:
            return panels(fig, 3, cls.width_ratios)
        # tall: the descriptor table above the two rings
        fig.clear()
        q = len(tables[0][1]) - 1
        grid = fig.add_gridspec(2, 2, height_ratios=(q + 1, q + 4), width_ratios=(2.5, 3))
        return [
            fig.add_subplot(grid[0, :]),
            fig.add_subplot(grid[1, 0]),
            fig.add_subplot(grid[1, 1]),
        ]

    def __init__(self, fig, axes, shape):
        super().__init__(fig, axes, shape)
        _, tables, fontsize = shape
        self.texts, self.cells = [], []
        for ax, (header, filled, title, row_height) in zip(self.axes, tables):
            ax.axis("off")
            width = 1 / len(header)
            boxes, texts = [], []
            for r, cells in enumerate(filled):
                y = 1 - (r + 1) * row_height
                for c, has_text in enumerate(cells):
                    x = c * width
                    boxes.append(
                        ((x, y), (x + width, y), (x + width, y + row_height), (x, y + row_height))
                    )
                    if has_text:
                        texts.append(
                            ax.text(
                                x + width / 2,
                                y + row_height / 2,
                                "",
                                transform=ax.transAxes,
                                ha="center",
                                va="center_baseline",
                                fontsize=fontsize,
                            )
                        )
            self.texts.append(texts)
            self.cells.append(
                ax.add_collection(
                    PolyCollection(
                        boxes, edgecolors="#333333", linewidths=0.5, transform=ax.transAxes
                    ),
                    autolim=False,
                )
            )
            ax.set_title(title, fontsize=9)

    def update(self, tables, title: str, caption: str) -> None:
        """``tables``: for each axes, (its cells' texts row by row, header first; their
        colours)."""
        for texts, cells, (rows, colors) in zip(self.texts, self.cells, tables):
            for t, s in zip(texts, [s for row in rows for s in row if s]):
                if t.get_text() != s:
                    t.set_text(s)
            cells.set_facecolor([f for row in colors for f in row])
        self.fig.suptitle(title, fontsize=9)
        if caption:
            self.fig.supxlabel(caption, fontsize=9)


def vring(snap: dict, fig: Figure | None = None, caption: str = "", title: str = "") -> Figure:
    """A virtqueue of either layout from :func:`virtmodel.ring.snapshot`: its three areas
    side by side (split: descriptor table, available ring, used ring; packed: descriptor
    ring, driver and device event suppression with each side's positions), and each side's
    private indices.  Descriptors of the same outstanding request share a colour; free
    descriptors are grey.

    A figure taller than wide (a phone's screen) gets the narrow layout: the descriptor
    table above the two rings, larger type, the captions wrapped short."""
    from ..spec import (
        VRING_DESC_F_NEXT,
        VRING_DESC_F_WRITE,
        VRING_PACKED_DESC_F_AVAIL,
        VRING_PACKED_DESC_F_USED,
    )

    drv, dev, areas = snap["driver"], snap["device"], snap["areas"]
    desc = areas["descriptor"]
    q = len(desc["desc_addr"])
    fig = fig or Figure(figsize=(10, 0.9 + 0.26 * q + 1.0), layout="constrained")
    narrow = fig.get_figwidth() < fig.get_figheight()
    if narrow:  # each table fills its axes: header + q rows; header, flags, idx, q, event
        heights, fontsize, width = (1 / (q + 1), 1 / (q + 4), 1 / (q + 4)), SMALL + 0.5, 50
    else:  # the rings' rows: header, flags, idx, q slots, event index (and room below)
        heights, fontsize, width = (1 / (q + 5),) * 3, SMALL, 130
    owner = drv["owner"]  # which request each descriptor belongs to

    def color(tok):
        return (
            _ROLE_COLORS["free"]
            if tok is None
            else _ROLE_COLORS["token"][tok % len(_ROLE_COLORS["token"])]
        )

    def flags(f):
        names = [
            n
            for bit, n in (
                (VRING_DESC_F_NEXT, "NEXT"),
                (VRING_DESC_F_WRITE, "WRITE"),
                (VRING_PACKED_DESC_F_AVAIL, "A"),
                (VRING_PACKED_DESC_F_USED, "U"),
            )
            if f & bit
        ]
        return "|".join(names) or "0"

    fields = [
        f for f in desc if f != "desc_addr"
    ]  # split: len, flags, next; packed: len, id, flags
    rows = [
        [str(i), f"{desc['desc_addr'][i]:#x}"]
        + [flags(desc[f][i]) if f == "desc_flags" else str(desc[f][i]) for f in fields]
        + ["free" if owner[i] is None else f"req {owner[i]}"]
        for i in range(q)
    ]
    tables = [
        (
            ["#", "addr", *(f.removeprefix("desc_") for f in fields), ""],
            rows,
            [[color(owner[i])] * 6 for i in range(q)],
            "descriptor table" if snap["layout"] == "split" else "descriptor ring",
        )
    ]
    if snap["layout"] == "split":
        tables += _split_rings(areas, drv, dev, q)
        shown = (("free_head", "num_free", "last_used_idx"), ("next_avail", "next_used"))
    else:
        tables += _packed_events(areas, drv, dev)
        shown = (("free_head", "num_free"), ("in_use",))  # positions: in the tables
    state = (
        "driver: "
        + "  ".join(f"{k}={drv[k]}" for k in shown[0])
        + ("\n" if narrow else "      ")
        + "device: "
        + "  ".join(f"{k}={dev[k]}" for k in shown[1])
    )
    cells = [[header, *body] for header, body, _, _ in tables]
    shape = (
        narrow,
        tuple(
            (tuple(header), tuple(tuple(bool(s) for s in row) for row in rows), title, height)
            for (header, _, _, title), rows, height in zip(tables, cells, heights)
        ),
        fontsize,
    )
    drawing(fig, VRing, shape).update(
        [(rows, [["white"] * len(t[0]), *t[2]]) for rows, t in zip(cells, tables)],
        (title + "\n" if title else "") + state,
        textwrap.fill(caption, width) if caption else "",
    )
    return fig


def _split_rings(areas, drv, dev, q) -> list:
    """:func:`vring`'s available and used rings, as (header, rows, colours, title);
    shaded: entries the other side has not consumed yet."""
    avail, used = areas["driver"], areas["device"]
    av_idx = avail["avail_idx"]
    rows = [[f"ring[{i}]", str(avail["avail_ring"][i])] for i in range(q)]
    colors = []
    live = (av_idx - dev["next_avail"]) & 0xFFFF  # made available, not yet popped
    for i in range(q):
        # slot i holds a head made available at some idx = i (mod q) below avail_idx
        age = (av_idx - 1 - i) % q
        waiting = age < live
        colors.append(["#fdebd0" if waiting else "white"] * 2)
    rows = (
        [["flags", str(avail["avail_flags"])], ["idx", str(av_idx)]]
        + rows
        + [["used_event", str(avail["used_event"])]]
    )
    colors = [["#eaeded"] * 2] * 2 + colors + [["#eaeded"] * 2]
    out = [(["available ring", ""], rows, colors, "driver -> device")]
    u_idx = used["used_idx"]
    rows, colors = [], []
    live = (u_idx - drv["last_used_idx"]) & 0xFFFF  # used, not yet reaped
    for i in range(q):
        age = (u_idx - 1 - i) % q
        rows.append([f"ring[{i}]", str(used["used_ring_id"][i]), str(used["used_ring_len"][i])])
        colors.append(["#d4efdf" if age < live else "white"] * 3)
    rows = (
        [["flags", str(used["used_flags"]), ""], ["idx", str(u_idx), ""]]
        + rows
        + [["avail_event", str(used["avail_event"]), ""]]
    )
    colors = [["#eaeded"] * 3] * 2 + colors + [["#eaeded"] * 3]
    return out + [(["used ring", "id", "len"], rows, colors, "device -> driver")]


def _packed_events(areas, drv, dev) -> list:
    """:func:`vring`'s packed Driver and Device Areas (the event suppression structures,
    off_wrap decoded; shaded) above the positions and wrap counters of the side that
    writes each, as (header, rows, colours, title)."""
    from ..spec import VRING_PACKED_EVENT_F_WRAP_CTR

    names = {0: "ENABLE", 1: "DISABLE", 2: "DESC"}
    out = []
    for side, state, area, title in (
        ("driver", drv, areas["driver"], "driver -> device"),
        ("device", dev, areas["device"], "device -> driver"),
    ):
        off_wrap = area[f"{side}_event_off_wrap"]
        wrap_bit = 1 << VRING_PACKED_EVENT_F_WRAP_CTR
        rows = [
            [
                "off_wrap",
                f"{off_wrap & (wrap_bit - 1)}, wrap {off_wrap >> VRING_PACKED_EVENT_F_WRAP_CTR}",
            ],
            ["flags", names.get(area[f"{side}_event_flags"], str(area[f"{side}_event_flags"]))],
        ]
        used = "next_used" if side == "device" else "last_used"
        rows += [[k, str(state[k])] for k in ("next_avail", "avail_wrap", used, "used_wrap")]
        colors = [["#eaeded"] * 2] * 2 + [["white"] * 2] * 4
        out.append(([f"{side} event", "suppression"], rows, colors, title))
    return out


class LabValidation(Drawing):
    """Measured beside predicted (see :func:`lab_validation`).  ``shape``: (virtio
    points, emulated rows)."""

    panels, width_ratios = 2, (1.6, 1)

    def __init__(self, fig, axes, shape):
        super().__init__(fig, axes, shape)
        ax, ax2 = self.axes
        nv, ne = shape
        (self.model,) = ax.plot([], [], "-", color=path_color("virtio"), lw=1.5, label="model")
        zeros = np.zeros(nv)
        self.measured = ax.errorbar(
            zeros + 1,
            zeros + 1,
            yerr=[zeros, zeros],
            fmt="o",
            color="black",
            ms=5,
            capsize=3,
            label="measured (median, min-max of runs)",
        )
        self.errors = [
            ax.annotate("", (1, 1), textcoords="offset points", xytext=(6, 6), fontsize=SMALL)
            for _ in range(nv)
        ]
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=10)
        ax.xaxis.set_major_formatter(FuncFormatter(_num))
        ax.yaxis.set_major_formatter(FuncFormatter(_num))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(LABELS["batch"])
        ax.set_ylabel("time per request (µs)")
        ax.legend(handles=[self.model, self.measured], fontsize=SMALL, loc="upper right")
        ax.grid(alpha=0.3, which="both")
        x = np.arange(ne)
        zeros = np.zeros(ne)
        self.bars = ax2.bar(
            x - 0.2, zeros, 0.4, yerr=[zeros, zeros], color="#bbbbbb", label="measured", capsize=3
        )
        self.model_bars = ax2.bar(x + 0.2, zeros, 0.4, color=path_color("emulated"), label="model")
        self.emulated_errors = [
            ax2.annotate(
                "",
                (i + 0.2, 0),
                ha="center",
                textcoords="offset points",
                xytext=(0, 3),
                fontsize=SMALL,
            )
            for i in range(ne)
        ]
        ax2.set_ylabel("time per request (µs)")
        ax2.legend(fontsize=SMALL, loc="upper left")
        ax2.grid(alpha=0.3, axis="y")

    def update(self, rows, model_batches, model_us, size, label, profile_name) -> None:
        ax, ax2 = self.axes
        v = [r for r in rows if r.experiment == "virtio"]
        e = [r for r in rows if r.experiment == "emulated"]
        self.model.set_data(model_batches, model_us)
        self.model.set_label(f"model ({profile_name})")
        ax.get_legend().get_texts()[0].set_text(self.model.get_label())
        x = np.array([r.knob for r in v], float)
        y = np.array([r.measured_us for r in v], float)
        self.measured.lines[0].set_data(x, y)
        _move_errorbar(
            self.measured,
            x,
            y,
            y - np.array([r.measured_min for r in v], float),
            np.array([r.measured_max for r in v], float) - y,
        )
        for a, r in zip(self.errors, v):
            a.xy = (r.knob, r.measured_us)
            a.set_text(f"{r.error:+.0%}")
        ax.relim()
        ax.autoscale_view()
        ax.set_title(f"mini virtio, {fmt_bytes(size)} per request", fontsize=10)
        measured = np.array([r.measured_us for r in e], float)
        for bar, m in zip(self.bars, measured):
            bar.set_height(m)
        _move_errorbar(
            self.bars.errorbar,
            np.arange(len(e)) - 0.2,
            measured,
            measured - np.array([r.measured_min for r in e], float),
            np.array([r.measured_max for r in e], float) - measured,
        )
        for bar, a, i, r in zip(self.model_bars, self.emulated_errors, range(len(e)), e):
            bar.set_height(r.predicted_us)
            a.xy = (i + 0.2, r.predicted_us)
            a.set_text(f"{r.error:+.0%}")
        ax2.set_xticks(np.arange(len(e)), [r.knob_label for r in e])
        ax2.relim()
        ax2.autoscale_view()
        ax2.set_title(f"the lab's emulated device, {fmt_bytes(size)} per request", fontsize=10)
        self.fig.suptitle(label, fontsize=9, color="#555555")


def lab_validation(
    rows,
    model_batches,
    model_us,
    size: int,
    label: str,
    profile_name: str,
    fig: Figure | None = None,
) -> Figure:
    """Measured (points, min-max bars) beside predicted for one request size: virtio's time
    per request against batch size (left; the model as a line over ``model_batches``), and
    the emulated device with 1 and 3 registers (right)."""
    fig = fig or Figure(figsize=(11, 3.8), layout="constrained")
    shape = (
        sum(r.experiment == "virtio" for r in rows),
        sum(r.experiment == "emulated" for r in rows),
    )
    drawing(fig, LabValidation, shape).update(
        rows, model_batches, model_us, size, label, profile_name
    )
    return fig
