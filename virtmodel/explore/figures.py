"""Figures for the book and the CLI (matplotlib's object API: no global pyplot state)."""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.colors import to_rgba_array
from matplotlib.container import Container
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

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
    :class:`virtmodel.explore.core.Explorer`; legends are fitted when made,
    :meth:`Kept.legend`)."""
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


def panels(fig: Figure, n: int = 1, width_ratios=None) -> list:
    """The figure's ``n`` side-by-side axes, empty.  When the figure already holds exactly
    that arrangement (a live redraw), its axes are reused and emptied rather than replaced:
    a new axes rebuilds its tick objects, the dearest part of a redraw.  Emptying puts back
    every default the plots here change (artists, legend, titles, labels, scales, limits,
    inversion, grid, axis on), so a redrawn figure shows what a fresh one would; the
    widget tests compare the two explorer by explorer."""
    fig.__dict__.pop("_virtmodel_kept", None)  # whatever a plot kept is gone now
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


def _no_figure_legends(fig: Figure, keep=frozenset()) -> None:
    """Remove the figure's own legends, but those whose ids are in ``keep``."""
    for leg in list(fig.legends):
        if id(leg) not in keep:
            leg.remove()


def _no_figure_titles(fig: Figure) -> None:
    for text, setter in ((fig.get_suptitle(), fig.suptitle), (fig.get_supxlabel(), fig.supxlabel)):
        if text:
            setter("")


def kept_panels(fig: Figure, plot: str, n: int = 1, width_ratios=None):
    """``(axes, kept)``: the figure's ``n`` side-by-side axes and a :class:`Kept` of the
    artists the plot function named ``plot`` drew on them last time, when it was the last
    to draw on this figure with this arrangement (a live redraw): the plot then updates
    those artists in place (their data, texts, geometry) instead of removing and
    recreating them.  Otherwise the axes are :func:`panels`' empty ones and nothing is
    kept yet.  Either way the plot draws through ``kept``'s methods and calls
    :meth:`Kept.done` at the end."""
    k = fig.__dict__.get("_virtmodel_kept")
    ratios = tuple(width_ratios or (1,) * n)
    if (
        render.INTERNALS
        and isinstance(k, Kept)
        and k.plot == plot
        and k.axes == fig.axes
        and arrangement(fig) == _side_by_side(n, ratios)
    ):
        k.again()
        _no_figure_titles(fig)
        return list(k.axes), k
    axes = panels(fig, n, width_ratios)
    k = fig._virtmodel_kept = Kept(plot, axes)
    return axes, k


class Kept:
    """The artists one plot function drew on a figure's axes, each under a key the
    function chooses (a curve's path and metric, a table cell, ...), so that its next call
    on the same figure updates them where it would otherwise create them.

    The function calls the same methods on both paths (:meth:`line`, :meth:`text`,
    :meth:`bars`, ...): the first call creates each artist with matplotlib's own call, a
    later one with the same key and the same style sets the new data on the kept artist.
    Everything else the function sets on an axes (scales, grid, limits, ticks, titles) it
    sets on every call, through :func:`render.set_scale` and :meth:`grid` for the two that are
    dear to set again.  Between calls, :meth:`again` removes what anyone else added to the
    axes and puts back the defaults that are cheap to put back (titles, labels, autoscaled
    limits, no inversion, axis on); :meth:`done` removes what this call did not draw
    again, puts the artists in this call's drawing order and recomputes the data limits,
    so the figure shows what a fresh one would (tests/test_widgets.py compares them)."""

    def __init__(self, plot: str, axes):
        self.plot, self.axes = plot, list(axes)
        self.fresh = True
        self._artists: dict = {}  # key -> (artist, style)
        self._legends: dict = {}  # axes -> (legend, what it was made from)
        self._grids: dict = {}  # axes -> its grid settings
        self._used: list = []
        self._keys: set = set()  # keys drawn in this call

    # -- between calls -------------------------------------------------------------------
    def again(self) -> None:
        self.fresh = False
        self._used = []
        self._keys = set()
        mine = set()
        for a, _ in self._artists.values():
            mine.add(id(a))
            if isinstance(a, Container):
                mine.update(id(p) for p in _flat(a))
        legends = {id(leg) for leg, _ in self._legends.values()}
        _no_figure_legends(self.axes[0].figure, keep=legends)
        for ax in self.axes:
            for c in list(ax.containers):  # first: removing one removes its bars
                if id(c) not in mine:
                    c.remove()
            for a in render.children(ax):
                if id(a) not in mine:
                    a.remove()
            leg = ax.get_legend()
            if leg is not None and id(leg) not in legends:
                leg.remove()
            for loc in ("center", "left", "right"):
                if ax.get_title(loc):
                    ax.set_title("", loc=loc)
            if ax.get_xlabel():
                ax.set_xlabel("")
            if ax.get_ylabel():
                ax.set_ylabel("")
            ax.set_autoscale_on(True)
            for axis in (ax.xaxis, ax.yaxis):
                if axis.get_inverted():
                    axis.set_inverted(False)
            if not ax.axison:
                ax.set_axis_on()

    def done(self) -> None:
        """End of the plot function's call (see the class)."""
        used = {id(a) for a in self._used}
        for key, (a, _) in list(self._artists.items()):
            if id(a) not in used:
                a.remove()
                del self._artists[key]
        for ax, (leg, _) in list(self._legends.items()):
            if leg not in self._used:
                leg.remove()
                del self._legends[ax]
        if self.fresh:
            return  # created in order, limits accumulated as they were added
        order = {id(a): i for i, a in enumerate(self._used)}

        def place(a):
            return order.get(id(a), -1)

        for ax in self.axes:
            render.reorder(ax, place)
            render.relim(ax)
            for name, (lo, hi) in (("x", ax.dataLim.intervalx), ("y", ax.dataLim.intervaly)):
                if np.isfinite(lo) and np.isfinite(hi):  # as adding data would have
                    render.request_autoscale(ax, name)

    # -- drawing -------------------------------------------------------------------------
    def _get(self, key, style):
        """The artist kept under ``key`` if it was drawn with the same ``style``; a kept
        artist of another style is removed (the caller makes a new one)."""
        got = self._artists.get(key)
        if got is None:
            return None
        if got[1] != style:
            got[0].remove()
            del self._artists[key]
            return None
        return got[0]

    def _keep(self, key, artist, style):
        if key in self._keys:
            raise ValueError(f"{self.plot}: two artists drawn under the key {key!r}")
        self._keys.add(key)
        self._artists[key] = (artist, style)
        self._used.append(artist)
        return artist

    def line(self, ax, key, x, y, fmt: str = "-", label=None, **style):
        """``ax.plot(x, y, fmt, label=label, **style)``, kept under ``key``."""
        st = (ax, fmt, style)
        ln = self._get(key, st)
        if ln is None:
            kw = {} if label is None else {"label": label}
            (ln,) = ax.plot(x, y, fmt, **kw, **style)
        else:
            ln.set_data(np.asarray(x), np.asarray(y))
            if label is not None and ln.get_label() != label:
                ln.set_label(label)
        return self._keep(key, ln, st)

    def vline(self, ax, key, x, **style):
        """``ax.axvline(x, **style)``, kept under ``key``."""
        st = (ax, style)
        ln = self._get(key, st)
        if ln is None:
            ln = ax.axvline(x, **style)
        else:
            ln.set_xdata([x, x])
        return self._keep(key, ln, st)

    def text(self, ax, key, x, y, s: str, **style):
        """``ax.text(x, y, s, **style)``, kept under ``key``."""
        st = (ax, style)
        t = self._get(key, st)
        if t is None:
            t = ax.text(x, y, s, **style)
        else:
            t.set_position((x, y))
            t.set_text(s)
        return self._keep(key, t, st)

    def bars(
        self, ax, key, horizontal: bool, where, length, base=0.0, thickness=0.8, yerr=None, **style
    ):
        """``ax.barh(where, length, thickness, left=base, **style)`` (or ``ax.bar`` when
        not ``horizontal``, with error bars ``yerr`` = (below, above) if given), kept
        under ``key`` with its bar container: a kept one of as many bars gets the new
        geometry as barh/bar would set it."""
        where, length, base = np.broadcast_arrays(
            *(np.atleast_1d(np.asarray(v, float)) for v in (where, length, base))
        )
        color = style.pop("color", None)  # set anew on kept bars, as barh would
        if yerr is not None and horizontal:
            raise ValueError("yerr is for vertical bars")
        st = (ax, horizontal, len(where), thickness, yerr is None, style)
        c = self._get(key, st)
        if c is None:
            make = ax.barh if horizontal else ax.bar
            extra = {} if yerr is None else {"yerr": yerr}
            c = make(where, length, thickness, base, color=color, **extra, **style)
        else:
            # the geometry bar() gives: sizes measured from the first position, as its
            # unit conversion does (so (0.2 + 0.4) - 0.2, not 0.4), bars centred
            first = where[0] + thickness - where[0]
            size = base[0] + length - base[0]
            start = where - first / 2
            for r, a, n, b in zip(c.patches, start, size, base):
                if horizontal:
                    r.set_bounds(b, a, n, first)
                    r.sticky_edges.x[:] = [b]
                else:
                    r.set_bounds(a, b, first, n)
                    r.sticky_edges.y[:] = [b]
            c.datavalues = length
            if color is not None:  # one colour for all, or one per bar
                colors = to_rgba_array(color)
                for i, r in enumerate(c.patches):
                    r.set_facecolor(colors[i % len(colors)])
            if yerr is not None:  # on the middle of each bar's end
                below, above = (base[0] + np.asarray(v, float) - base[0] for v in yerr)
                _move_errorbar(c.errorbar, start + first / 2, base + size, below, above)
        self._keep(key, c, st)
        self._used.extend(c.patches)
        if c.errorbar is not None:
            self._used.extend(a for a in [*c.errorbar.lines[1], *c.errorbar.lines[2]])
        return c

    def errorbar(self, ax, key, x, y, yerr, **style):
        """``ax.errorbar(x, y, yerr=yerr, **style)`` (``yerr`` = (below, above)), kept
        under ``key``: a kept one gets the new points, caps and bars."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        below, above = (np.asarray(v, float) for v in yerr)
        label = style.pop("label", None)
        st = (ax, len(x), style)
        c = self._get(key, st)
        if c is None:
            c = ax.errorbar(x, y, yerr=[below, above], label=label, **style)
        else:
            c.lines[0].set_data(x, y)
            _move_errorbar(c, x, y, below, above)
            if label is not None:
                c.set_label(label)
        self._keep(key, c, st)
        self._used.extend(a for a in [c.lines[0], *c.lines[1], *c.lines[2]] if a is not None)
        return c

    def annotate(self, ax, key, text: str, xy, **style):
        """``ax.annotate(text, xy, **style)``, kept under ``key``."""
        st = (ax, style)
        a = self._get(key, st)
        if a is None:
            a = ax.annotate(text, xy, **style)
        else:
            a.xy = xy
            a.set_text(text)
        return self._keep(key, a, st)

    def polys(self, ax, key, verts, facecolors, **style):
        """``ax.add_collection(PolyCollection(verts, facecolors=..., **style),
        autolim=False)``, kept under ``key``."""
        st = (ax, style)
        pc = self._get(key, st)
        if pc is None:
            pc = ax.add_collection(
                PolyCollection(verts, facecolors=facecolors, **style), autolim=False
            )
        else:
            pc.set_verts(verts)
            pc.set_facecolor(facecolors)
        return self._keep(key, pc, st)

    def legend(self, ax, handles=None, outside=None, **style):
        """``ax.legend(handles=handles, **style)``; with ``outside`` (e.g. ``"lower
        center"``) the figure's legend of ``ax``'s lines instead, placed outside every
        panel (``fig.legend(..., loc="outside lower center")``: the constrained layout
        makes room for it, so it never covers a curve).  The kept legend stays when it was
        made from the same (kept) handles with the same style, with the labels set anew."""
        if handles is None:  # as ax.legend() would find them, in this call's order
            handles, labels = ax.get_legend_handles_labels()
            order = {id(a): i for i, a in enumerate(self._used)}
            pairs = sorted(zip(handles, labels), key=lambda hl: order.get(id(hl[0]), -1))
            handles, labels = [h for h, _ in pairs], [lb for _, lb in pairs]
        else:
            labels = [h.get_label() for h in handles]
        if style.get("ncol", 1) > 1:  # as many columns as fit across the figure
            size = style.get("fontsize", 10)
            width = ax.figure.get_figwidth() * 72
            style = {**style, "ncol": min(style["ncol"], legend_columns(labels, size, width))}
        owner = ax.figure if outside else ax
        made_from = (tuple(id(h) for h in handles), outside, style)
        got = self._legends.get(owner)
        shown = got is not None and (
            any(leg is got[0] for leg in owner.legends) if outside else ax.get_legend() is got[0]
        )
        if shown and got[1] == made_from:
            leg = got[0]
            for t, label in zip(leg.get_texts(), labels):
                if t.get_text() != label:
                    t.set_text(label)
        else:
            if shown:
                got[0].remove()
            leg = (
                owner.legend(handles, labels, loc=f"outside {outside}", **style)
                if outside
                else ax.legend(handles, labels, **style)
            )
            self._legends[owner] = (leg, made_from)
        self._used.append(leg)
        return leg

    def grid(self, ax, visible: bool = True, which="major", axis="both", **style):
        """``ax.grid(...)``, skipped when this axes' grid was last set the same way here
        (setting it restyles every tick)."""
        want = (visible, which, axis, style)
        if self._grids.get(ax) != want:
            ax.grid(visible, which=which, axis=axis, **style)
            self._grids[ax] = want


def _flat(container) -> list:
    """A container's artists, including those of containers inside it (a bar chart's
    error bars)."""
    out = []
    for a in container:
        if isinstance(a, (tuple, list)):
            out += _flat(a)
        elif isinstance(a, Container):
            out += _flat(a) + [a]
        elif a is not None:
            out.append(a)
    if getattr(container, "errorbar", None) is not None:
        out += _flat(container.errorbar) + [container.errorbar]
    return out


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


def curves(
    curves_by_path: dict,
    metrics=("us_per_request", "exits_per_request", "p99_latency_ns"),
    fig: Figure | None = None,
    marker=None,
    colors: dict | None = None,
    styles: dict | None = None,
    labels: dict | None = None,
) -> Figure:
    """One panel per metric, one line per curve (keyed by path or any label), against the
    swept parameter.  ``marker`` (a value of the swept parameter) draws a vertical line
    there; ``colors`` overrides the line colours by key, ``styles`` their formats (default
    ``"o-"``; see :func:`variant_styles`), ``labels`` their legend labels (default: the
    path's label, or the key)."""
    labels = labels or {}
    colors = colors or {}
    styles = styles or {}
    fig = fig or Figure(figsize=(4.2 * len(metrics), 3.4), layout="constrained")
    axes, kept = kept_panels(fig, "curves", len(metrics))
    for ax, m in zip(axes, metrics):
        label, scale = METRICS[m]
        for path, c in curves_by_path.items():
            x = np.asarray(c.values, dtype=float)
            kept.line(
                ax,
                (m, path),
                x,
                c.field(m) * scale,
                styles.get(path, "o-"),
                label=labels.get(path) or path_label(path),
                ms=3,
                color=colors.get(path) or path_color(path),
            )
            over = c.over
        if len(x) > 1 and x.min() > 0 and x.max() / x.min() >= 16:
            render.set_scale(ax.xaxis, "log", base=2)
            ticks = x if len(x) <= 8 else x[::2]
            ax.set_xticks(ticks)
            ax.xaxis.set_minor_locator(NullLocator())  # labelled majors suffice; ticks
            # cost time on every redraw
            ax.xaxis.set_major_formatter(
                FuncFormatter((lambda v, _: fmt_bytes(int(v))) if over == "request_bytes" else _num)
            )
        else:
            render.set_scale(ax.xaxis, "linear")
        ys = np.concatenate([c.field(m) * scale for c in curves_by_path.values()])
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
        if marker is not None:  # a band and a dot on each curve: seen at a glance
            kept.vline(ax, (m, "band"), marker, color="#e3e3e3", lw=12, zorder=1)
            kept.vline(ax, (m, "marker"), marker, color="k", lw=0.8, ls=":")
            for path, c in curves_by_path.items():
                x = np.asarray(c.values, dtype=float)
                if marker in x:
                    y = c.field(m)[list(x).index(marker)] * scale
                    kept.line(
                        ax,
                        (m, path, "at"),
                        [marker],
                        [y],
                        "o",
                        ms=8,
                        mec="white",
                        mew=1.2,
                        color=colors.get(path) or path_color(path),
                    )
        ax.set_xlabel(LABELS.get(over, over))
        ax.set_ylabel(label)
        kept.grid(ax, alpha=0.3)
    # below the panels: with eight paths a legend inside one covers curves
    n = len(curves_by_path)
    kept.legend(axes[0], outside="lower center", ncol=min(n, 4), frameon=False)
    kept.done()
    return fig


def path_bars(results: dict, metrics, fig: Figure | None = None) -> Figure:
    """One panel per metric, one horizontal bar per path (``results``: path name ->
    Result), each bar in its path's colour and labelled with its value."""
    fig = fig or Figure(
        figsize=(4.2 * len(metrics), 0.8 + 0.35 * len(results)), layout="constrained"
    )
    axes, kept = kept_panels(fig, "path_bars", len(metrics))
    keys = list(results)
    rows = np.arange(len(keys))
    for i, (ax, m) in enumerate(zip(axes, metrics)):
        label, scale = METRICS[m]
        vals = np.array([getattr(results[k], m) for k in keys], dtype=float) * scale
        kept.bars(ax, (m, "bars"), True, rows, vals, color=[path_color(k) for k in keys])
        for r, v in zip(rows, vals):
            kept.text(ax, (m, r), v, r, f" {_value(v)}", va="center", fontsize=SMALL)
        ax.set_yticks(rows, [path_label(k) for k in keys] if i == 0 else [""] * len(keys))
        ax.set_ylim(len(keys) - 0.5, -0.5)
        ax.set_xlabel(label)
        kept.grid(ax, alpha=0.3, axis="x")
    kept.done()
    return fig


def _num(v, _pos=None) -> str:
    """Tick labels: plain numbers with thousands separators, no offsets or powers."""
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:g}"


def _value(v) -> str:
    """A value written on a bar: whole from 10 up, else three significant digits."""
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:.3g}"


def breakdown(
    results: dict, fig: Figure | None = None, title: str = "", notes: dict | None = None
) -> Figure:
    """Stacked bars: where each request's time goes, per stage (ns of work per request).
    ``notes`` (label -> text) are written at the end of each bar."""
    fig = fig or Figure(figsize=(7, 0.6 + 0.55 * len(results)), layout="constrained")
    (ax,), kept = kept_panels(fig, "breakdown")
    labels = list(results)
    left = np.zeros(len(labels))
    rows = np.arange(len(labels))
    for stage in STAGES:
        w = np.array([results[k].breakdown_ns[stage] for k in labels]) / 1e3
        kept.bars(ax, stage, True, rows, w, left, color=STAGE_COLORS[stage], label=stage)
        left += w
    ax.set_yticks(rows, labels)
    for i, k in enumerate(labels):
        if notes and k in notes:
            kept.text(ax, ("note", i), left[i], i, "  " + notes[k], va="center", fontsize=SMALL)
    ax.set_xlim(0, left.max() * (1.8 if notes else 1.05))
    ax.yaxis.set_inverted(True)
    ax.set_xlabel("work per request (µs, all threads)")
    kept.legend(
        ax, ncol=7, fontsize=SMALL, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22)
    )
    if title:
        ax.set_title(title)
    kept.done()
    return fig


def drawing(fig: Figure, kind):
    """The figure's drawing of ``kind`` (a figure class below: it makes its artists once,
    on the figure's emptied panels, and :meth:`update` changes them), made now unless the
    figure already shows one (a live redraw, or the static player's next frame)."""
    got = fig.__dict__.get("_virtmodel_kept")
    if isinstance(got, kind) and got.axes == fig.axes:
        _no_figure_titles(fig)
        return got
    axes = panels(fig, kind.panels, kind.width_ratios)
    got = fig._virtmodel_kept = kind(fig, axes)
    return got


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


class Timeline:
    """One request's steps in lanes by actor (:data:`ACTORS`), every repeated trip drawn
    (:func:`trips`): one collection of boxes, a legend of the stages, made once;
    :meth:`update` sets the boxes, their colours, the time axis and the title.  The boxes
    of one lane and stage are one compound path: a thousand trips of port I/O are a few
    paths for Agg to fill, not eight thousand."""

    panels, width_ratios = 1, None

    def __init__(self, fig: Figure, axes):
        (ax,) = self.axes = axes
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


class RingCompare:
    """The split and packed rings side by side: cache lines moved per request against
    batch size (a line per ring, the batch shown marked by a band and a dot on each), and
    the time per request at that batch (a bar per ring, its value written on it).  Made
    once; :meth:`update` sets the data, the marks, the values and the title."""

    panels, width_ratios = 2, None
    RINGS = ("split", "packed")

    def __init__(self, fig: Figure, axes):
        ax, ax2 = self.axes = axes
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


class Ceiling:
    """Scaling with jobs: throughput against fio jobs, and the busy share of the busiest
    vCPU, the busiest back-end thread and the device (a line each, each labelled at its
    right end): the one that reaches 100 % is the ceiling.  The jobs chosen are marked by
    a band and a dot on each line.  Made once; :meth:`update` sets the data, the marks and
    the title."""

    panels, width_ratios = 2, None

    def __init__(self, fig: Figure, axes):
        ax, ax2 = self.axes = axes
        self.bands = [a.axvline(1, color="#e3e3e3", lw=12, zorder=1) for a in axes]
        (self.iops,) = ax.plot([], [], "o-", ms=3, color="#333333")
        (self.iops_dot,) = ax.plot([], [], "o", ms=8, mec="white", mew=1.2, color="#333333")
        self.util, self.dots, self.names = {}, {}, {}
        for k, label in CEILINGS.items():
            c = CEILING_COLORS[k]
            (self.util[k],) = ax2.plot([], [], "o-", ms=3, color=c, label=label)
            (self.dots[k],) = ax2.plot([], [], "o", ms=8, mec="white", mew=1.2, color=c)
            self.names[k] = ax2.annotate(
                label,
                (0, 0),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=SMALL,
                color=c,
            )
        ax2.axhline(100, color="k", lw=0.6, ls=":")
        for a in axes:
            a.set_xscale("log", base=2)
            a.xaxis.set_major_formatter(FuncFormatter(_num))
            a.xaxis.set_minor_locator(NullLocator())
            a.set_xlabel("fio jobs (one per vCPU)")
            a.grid(alpha=0.3)
        ax.set_ylabel(METRICS["throughput_rps"][0])
        ax2.set_ylabel("busy (% of the run)")
        ax2.set_ylim(0, 110)

    def update(self, jobs, kiops, util: dict, marked, title: str) -> None:
        ax, ax2 = self.axes
        jobs = list(jobs)
        i = jobs.index(marked)
        self.iops.set_data(jobs, kiops)
        self.iops_dot.set_data([marked], [kiops[i]])
        ends = {}
        for k in CEILINGS:
            y = [100 * u for u in util[k]]
            self.util[k].set_data(jobs, y)
            self.dots[k].set_data([marked], [y[i]])
            ends[k] = y[-1]
        # the labels at the lines' right ends, nudged apart where the lines end together
        order = sorted(ends, key=ends.get)
        placed: list[float] = []
        for k in order:
            y = max(ends[k], placed[-1] + 9) if placed else ends[k]
            placed.append(y)
            self.names[k].xy = (jobs[-1], y)
        for a in self.axes:
            a.set_xticks(jobs)
            a.set_xlim(jobs[0] / 1.3, jobs[-1] * 4.5 if a is ax2 else jobs[-1] * 1.3)
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


def exit_tax(ns_per_exit: float, others=(), markers=(), fig: Figure | None = None) -> Figure:
    """Guest speed (% of native) against exits per second, for a cost per exit; thin lines
    for ``others`` costs; ``markers`` are (label, exits per second) placed on the curve."""
    from ..exit_tax import guest_speed

    fig = fig or Figure(figsize=(8, 3.6), layout="constrained")
    (ax,), kept = kept_panels(fig, "exit_tax")
    r = np.logspace(2, 7.5, 300)
    for c in others:
        kept.line(ax, ("other", c), r, 100 * guest_speed(r, c), color="#bbbbbb", lw=0.8)
        i = np.searchsorted(-guest_speed(r, c), -0.5)
        if i < r.size:
            kept.text(
                ax,
                ("other label", c),
                r[i],
                50,
                f"{c / 1e3:g} µs",
                fontsize=SMALL,
                color="#888888",
                rotation=-60,
            )
    kept.line(
        ax,
        "cost",
        r,
        100 * guest_speed(r, ns_per_exit),
        color="#333333",
        lw=2.2,
        label=f"{ns_per_exit / 1e3:g} µs per exit",
    )
    for i, ((label, rate), (color, shape)) in enumerate(
        zip(markers, (("#D55E00", "o"), ("#CC79A7", "s"), ("#0072B2", "D"), ("#56B4E9", "^")))
    ):
        y = 100 * guest_speed(rate, ns_per_exit)
        kept.line(
            ax,
            ("marker", i),
            [rate],
            [y],
            shape,
            color=color,
            ms=8,
            mec="white",
            label=f"{label}, {rate:,.0f} exits/s -> {y:.0f}%",
        )
    render.set_scale(ax.xaxis, "log", base=10)
    ax.set_ylim(0, 105)
    ax.set_xlabel("VM exits per second (one vCPU)")
    ax.set_ylabel("guest speed (% of native)")
    kept.grid(ax, alpha=0.3)
    kept.legend(ax, frameon=True, loc="lower left", fontsize=SMALL)
    kept.done()
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
    if narrow:
        fig.clear()
        fig.__dict__.pop("_virtmodel_kept", None)
        grid = fig.add_gridspec(2, 2, height_ratios=(q + 1, q + 4), width_ratios=(2.5, 3))
        axes = [
            fig.add_subplot(grid[0, :]),
            fig.add_subplot(grid[1, 0]),
            fig.add_subplot(grid[1, 1]),
        ]
        kept = Kept("vring", axes)  # new axes: nothing kept
        # each table fills its axes: header + q rows; header, flags, idx, q slots, event
        heights, fontsize, wrap = (1 / (q + 1), 1 / (q + 4), 1 / (q + 4)), SMALL + 0.5, 50
    else:
        axes, kept = kept_panels(fig, "vring", 3, width_ratios=(2.2, 1.2, 1.5))
        # the rings' rows: header, flags, idx, q slots, event index (and room below)
        heights, fontsize, wrap = (1 / (q + 5),) * 3, SMALL, 130
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
    _table(
        kept,
        axes[0],
        ["#", "addr", *(f.removeprefix("desc_") for f in fields), ""],
        rows,
        [[color(owner[i])] * 6 for i in range(q)],
        "descriptor table" if snap["layout"] == "split" else "descriptor ring",
        heights[0],
        fontsize,
    )
    if snap["layout"] == "split":
        _split_rings(kept, axes, areas, drv, dev, q, heights, fontsize)
        shown = (("free_head", "num_free", "last_used_idx"), ("next_avail", "next_used"))
    else:
        _packed_events(kept, axes, areas, drv, dev, heights, fontsize)
        shown = (("free_head", "num_free"), ("in_use",))  # positions: in the tables
    state = (
        "driver: "
        + "  ".join(f"{k}={drv[k]}" for k in shown[0])
        + ("\n" if narrow else "      ")
        + "device: "
        + "  ".join(f"{k}={dev[k]}" for k in shown[1])
    )
    fig.suptitle((title + "\n" if title else "") + state, fontsize=9)
    if caption:
        import textwrap

        fig.supxlabel(textwrap.fill(caption, wrap), fontsize=9)
    kept.done()
    return fig


def _split_rings(kept, axes, areas, drv, dev, q, heights, fontsize):
    """:func:`vring`'s available and used rings; shaded: entries the other side has not
    consumed yet."""
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
    _table(
        kept,
        axes[1],
        ["available ring", ""],
        rows,
        colors,
        "driver -> device",
        heights[1],
        fontsize,
    )
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
    _table(
        kept,
        axes[2],
        ["used ring", "id", "len"],
        rows,
        colors,
        "device -> driver",
        heights[2],
        fontsize,
    )


def _packed_events(kept, axes, areas, drv, dev, heights, fontsize):
    """:func:`vring`'s packed Driver and Device Areas (the event suppression structures,
    off_wrap decoded; shaded) above the positions and wrap counters of the side that
    writes each."""
    from ..spec import VRING_PACKED_EVENT_F_WRAP_CTR

    names = {0: "ENABLE", 1: "DISABLE", 2: "DESC"}
    for ax, side, state, area, height, title in (
        (axes[1], "driver", drv, areas["driver"], heights[1], "driver -> device"),
        (axes[2], "device", dev, areas["device"], heights[2], "device -> driver"),
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
        _table(kept, ax, [f"{side} event", "suppression"], rows, colors, title, height, fontsize)


def _table(kept, ax, header, rows, colors, title, row_height, fontsize=SMALL):
    """A grid of cells from the top of ``ax``: the header, then ``rows`` over their
    background ``colors``; each row ``row_height`` high (a fraction of the axes).  One
    collection of cell boxes and one text per cell: matplotlib's ``Table`` re-measures
    every cell at every draw, which made it the slowest part of a live redraw.  Drawn
    through ``kept`` (:class:`Kept`): a redraw sets the cells' new texts and colours."""
    ax.axis("off")
    width = 1 / len(header)
    boxes, faces = [], []
    for r, (texts, fills) in enumerate(zip([header, *rows], [["white"] * len(header), *colors])):
        y = 1 - (r + 1) * row_height
        for c, (text, fill) in enumerate(zip(texts, fills)):
            x = c * width
            boxes.append(((x, y), (x + width, y), (x + width, y + row_height), (x, y + row_height)))
            faces.append(fill)
            if text:
                kept.text(
                    ax,
                    (title, r, c),
                    x + width / 2,
                    y + row_height / 2,
                    text,
                    transform=ax.transAxes,
                    ha="center",
                    va="center_baseline",
                    fontsize=fontsize,
                )
    kept.polys(
        ax,
        (title, "cells"),
        boxes,
        faces,
        edgecolors="#333333",
        linewidths=0.5,
        transform=ax.transAxes,
    )
    ax.set_title(title, fontsize=9)


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
    (ax, ax2), kept = kept_panels(fig, "lab_validation", 2, width_ratios=(1.6, 1))
    v = [r for r in rows if r.experiment == "virtio"]
    e = [r for r in rows if r.experiment == "emulated"]
    c = path_color("virtio")
    kept.line(
        ax, "model", model_batches, model_us, "-", label=f"model ({profile_name})", color=c, lw=1.5
    )
    for i, r in enumerate(v):
        lo, hi = r.measured_min, r.measured_max
        kept.errorbar(
            ax,
            ("measured", i),
            [r.knob],
            [r.measured_us],
            ([r.measured_us - lo], [hi - r.measured_us]),
            fmt="o",
            color="black",
            ms=5,
            capsize=3,
            label="measured (median, min-max of runs)" if i == 0 else None,
        )
        kept.annotate(
            ax,
            ("error", i),
            f"{r.error:+.0%}",
            (r.knob, r.measured_us),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=SMALL,
        )
    render.set_scale(ax.xaxis, "log", base=2)
    render.set_scale(ax.yaxis, "log", base=10)
    ax.xaxis.set_major_formatter(FuncFormatter(_num))
    ax.yaxis.set_major_formatter(FuncFormatter(_num))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(LABELS["batch"])
    ax.set_ylabel("time per request (µs)")
    ax.set_title(f"mini virtio, {fmt_bytes(size)} per request", fontsize=10)
    kept.legend(ax, fontsize=SMALL, loc="upper right")
    kept.grid(ax, alpha=0.3, which="both")
    x = np.arange(len(e))
    kept.bars(
        ax2,
        "measured bars",
        False,
        x - 0.2,
        [r.measured_us for r in e],
        0,
        0.4,
        yerr=(
            [r.measured_us - r.measured_min for r in e],
            [r.measured_max - r.measured_us for r in e],
        ),
        color="#bbbbbb",
        label="measured",
        capsize=3,
    )
    kept.bars(
        ax2,
        "model bars",
        False,
        x + 0.2,
        [r.predicted_us for r in e],
        0,
        0.4,
        color=path_color("emulated"),
        label="model",
    )
    for i, r in enumerate(e):
        kept.annotate(
            ax2,
            ("emulated error", i),
            f"{r.error:+.0%}",
            (i + 0.2, r.predicted_us),
            ha="center",
            textcoords="offset points",
            xytext=(0, 3),
            fontsize=SMALL,
        )
    ax2.set_xticks(x, [r.knob_label for r in e])
    ax2.set_ylabel("time per request (µs)")
    ax2.set_title(f"the lab's emulated device, {fmt_bytes(size)} per request", fontsize=10)
    kept.legend(ax2, fontsize=SMALL, loc="upper left")
    kept.grid(ax2, alpha=0.3, axis="y")
    fig.suptitle(label, fontsize=9, color="#555555")
    kept.done()
    return fig
