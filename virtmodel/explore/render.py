"""Drawing the explorers' pixels: every use of matplotlib's private names is here.

matplotlib's public API says what to draw; how fast a live redraw is depends on a few of
its internals, and they change between versions.  This module is the one place that
touches them, each behind :data:`INTERNALS`, one check of the installed version against
the versions the tests were run on (:data:`TESTED_MATPLOTLIB`).  With any other version
every function here takes matplotlib's public way (slower, the same pictures): the canvas
draws as plain Agg, a curve's axis scale is set anew at every redraw, and a figure's own
title and x label are not wrapped to its width.  (The figure kinds,
:mod:`virtmodel.explore.figures`, make their artists once and update them through
matplotlib's public API whatever the version.)

The private names, by use (the inventory ``tests/test_render.py`` checks against the
source):

* the caching canvas (:class:`Canvas`, :class:`Renderer`, below): Agg's glyph rendering
  (``RendererAgg._draw_text_glyphs_and_boxes``, ``_prepare_font``, ``_renderer
  .draw_text_image``, ``FT2Font._layout``, ``._set_transform``, ``._render_glyph``,
  ``fontManager._find_fonts_by_props``, the ``_get_font_height_metrics`` hook that
  ``Text._get_layout`` calls), axes' axes (``Axis._update_ticks``, ``._get_axis_name``, ``Figure._align_label_groups``,
  ``Axes._axis_map``, ``Tick._pad``, ``Text._bbox_patch``), legends (``Legend._mode``,
  ``._legend_box``, ``._findoffset``), and the canvas' renderer key (``_lastKey``);
* setting an axis' scale only when it changes (:func:`set_scale`): ``Axis._scale``;
* fitting a drawing to its frame (:func:`reset_to_grid_cell`, :func:`figure_titles`,
  :func:`side_titles`): ``Axes._set_position``, ``Figure._suptitle``, ``._supxlabel``,
  ``Axes._left_title``, ``._right_title``.

The explorers' canvas: matplotlib's Agg, keeping what a redraw would draw again.

A live redraw changes a few lines, bars and texts; most of what Agg spends its time on
comes back unchanged.  :class:`Canvas` keeps two things between draws, per renderer (one
per figure size and dpi):

* **glyphs**: Agg lays out and rasterises every text glyph by glyph at every draw.  For
  each text drawn, the glyph bitmaps FreeType produced are kept with their places
  relative to the text's origin; the same string in the same font, angle and fraction of
  a pixel of its origin is blitted from them (as one bitmap when no two glyphs touch).
  Exactly Agg's pixels: FreeType's rendering depends on the origin only through its
  fraction of a pixel (26.6 fixed point), which is in the key, and moving by whole
  pixels moves the bitmap by whole pixels.
* **layers of axes' axes and legends**: an x or y axis (ticks, tick labels, grid lines,
  its label) is most of matplotlib's drawing time, and is the same picture whenever its
  ticks sit at the same pixels with the same labels, styles and label text; a legend
  likewise, given its texts and place.  The first draw of such an axis or legend goes
  to a transparent layer, which is kept and composited (as Agg composites images) in
  its place in the drawing order; later draws with the same key (:func:`_axis_key`,
  :meth:`Renderer.draw_legend`) composite the kept layer.  Pixels differ from drawing
  directly by at most 2/255 where the layer is antialiased or translucent (blended
  twice, rounded each time).

tests/test_canvas.py compares whole figures with plain Agg's, pixel by pixel, and the
explorers' redraw tests compare every live frame with a plain redraw of the same figure.
This leans on matplotlib internals (Agg's glyph rendering calls, Axis._update_ticks,
Legend._findoffset), as of the version in requirements.txt: those tests are what says
whether another version still draws the same.
"""

from __future__ import annotations

import functools
import math
import struct
import zlib
from collections import OrderedDict

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.font_manager import fontManager, get_font

TESTED_MATPLOTLIB = ((3, 11),)
"""matplotlib's (major, minor) versions whose internals this module was run against
(requirements.txt pins one of them)."""
INTERNALS = tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) in TESTED_MATPLOTLIB
"""The one version check: True when the installed matplotlib is one of
:data:`TESTED_MATPLOTLIB`, so the private names below may be used; else every function
here takes the public way."""

try:  # matplotlib >= 3.11 renders text glyph by glyph in Python, which can be kept
    from matplotlib.ft2font import RenderMode

    GLYPHS = INTERNALS and hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")
except ImportError:  # an older one renders each text in C: drawn as it draws it
    GLYPHS = False

HINTING = "no_hinting"
"""FreeType hinting of the explorers' texts (matplotlib's ``text.hinting``), set while a
:class:`Canvas` draws.  matplotlib's default (the autohinter) lays out and rasterises a
new text about twice as slowly, and a redraw's new texts (titles, legends and labels with
the new numbers) are most of what it cannot keep; at the explorers' dpi the unhinted
glyphs are as legible."""
GLYPH_CACHE_SIZE = 20_000
"""Texts kept per renderer (an explorer draws a few hundred per frame)."""
LAYER_CACHE_SIZE = 64
"""Axis and legend layers kept per renderer (each at most the figure's size)."""


class Renderer(RendererAgg):
    """:class:`RendererAgg` whose plain (non-math) texts are drawn from kept glyphs, and
    whose axes' axes and legends are drawn from kept layers (see the module)."""

    def __init__(self, width, height, dpi):
        super().__init__(width, height, dpi)
        self._texts: OrderedDict = OrderedDict()
        self._heights: dict = {}
        self._layers: OrderedDict = OrderedDict()
        self._legend_boxes: OrderedDict = OrderedDict()
        self._scratch = None  # a transparent renderer the layers are drawn on

    def _get_font_height_metrics(self, prop):
        """Ascent, descent and line gap of ``prop``'s font, as Text._get_layout reads them
        from the font's tables when a renderer does not say (kept per font and size)."""
        key = _font_key(prop)
        got = self._heights.get(key)
        if got is None:
            font = get_font(fontManager._find_fonts_by_props(prop))
            got = (None, None, None)
            for table, gap, ascent, descent in (
                ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                ("hhea", "lineGap", "ascent", "descent"),
            ):
                t = font.get_sfnt_table(table)
                if t is not None:
                    scale = (
                        prop.get_size_in_points()
                        * self.dpi
                        / 72
                        / font.get_sfnt_table("head")["unitsPerEm"]
                    )
                    got = (t[ascent] * scale, -t[descent] * scale, t[gap] * scale)
                    break
            self._heights[key] = got
        return got

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or not GLYPHS:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        # FreeType's y is upwards; split both coordinates into whole pixels and a fraction
        up = self.height - y
        xi, yi = math.floor(x), math.floor(up)
        xf, yf = x - xi, up - yi
        key = (
            s,
            _font_key(prop),
            angle,
            gc.get_antialiased(),
            None if features is None else tuple(features),
            language,
            xf,
            yf,
        )
        glyphs = self._texts.get(key)
        if glyphs is None:
            glyphs = self._rasterise(
                s, prop, angle, gc.get_antialiased(), features, language, xf, yf
            )
            self._texts[key] = glyphs
            if len(self._texts) > GLYPH_CACHE_SIZE:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(key)
        height = int(self.height)
        for buffer, left, top in glyphs:
            self._renderer.draw_text_image(
                buffer, left + xi, height - (top + yi) + buffer.shape[0], 0, gc
            )

    def _rasterise(self, s, prop, angle, antialiased, features, language, xf, yf):
        """``s`` as Agg would render it with its origin at (xf, yf) pixels (y upwards):
        [(coverage bitmap, left, top)], its glyphs rendered as in RendererAgg.draw_text
        and put together in one bitmap (see :func:`_composite`)."""
        font = self._prepare_font(prop)
        flags = get_hinting_flag()
        items = font._layout(s, flags=flags, features=features, language=language)
        size = prop.get_size_in_points()
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
        mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
        out = []
        for item in items:
            f = item.ft_object
            f.set_size(size, self.dpi)
            dx, dy = item.x, item.y
            f._set_transform(
                matrix,
                [
                    round(0x40 * (xf + dx * cos - dy * sin)),
                    round(0x40 * (yf + dx * sin + dy * cos)),
                ],
            )
            bitmap = f._render_glyph(item.glyph_index, flags, mode)
            buffer = np.array(bitmap.buffer)  # the font reuses its own buffer
            if not antialiased:
                buffer *= 0xFF
            out.append((buffer, bitmap.left, bitmap.top))
        return _composite(out)

    def draw_axis(self, axis) -> None:
        """Draw ``axis`` (an XAxis or YAxis) from its kept layer, drawing and keeping the
        layer first if its key is new."""
        ticks = axis._update_ticks()  # as Axis.draw does first: places and labels ticks
        key = _axis_key(axis, ticks)
        if key is None:
            return type(axis).draw(axis, self)
        self._draw_layer(axis, key)

    def draw_legend(self, legend) -> None:
        """Draw ``legend`` from its kept layer.  A legend's entries are made when it is;
        what can change after is its texts (set in place by a figure kind's update) and its place
        (with loc="best" it moves away from the data), so the key is the legend itself,
        its texts, frame and handles' looks, and the offset matplotlib computes for it
        now (from its box's size, kept with the same key but the offset)."""
        if legend._mode == "expand" or legend.shadow:
            return type(legend).draw(legend, self)
        looks = (
            legend,
            tuple(_text_style(t) for t in legend.texts),
            _text_style(legend.get_title()),
            _patch_style(legend.legendPatch),
            _frozen([_handle_style(h) for h in legend.legend_handles]),
        )
        box = self._legend_boxes.get(looks)
        if box is None:
            box = self._legend_boxes[looks] = legend._legend_box.get_bbox(self)
            if len(self._legend_boxes) > LAYER_CACHE_SIZE:
                self._legend_boxes.popitem(last=False)
        offset = legend._findoffset(box.width, box.height, -box.x0, -box.y0, self)
        self._draw_layer(legend, looks + (tuple(offset),))

    def _draw_layer(self, artist, key) -> None:
        layer = self._layers.get(key)
        if layer is None:
            layer = self._layers[key] = self._layer_of(artist)
            if len(self._layers) > LAYER_CACHE_SIZE:
                self._layers.popitem(last=False)
        else:
            self._layers.move_to_end(key)
        if layer is not None:
            image, x, y = layer
            gc = self.new_gc()
            self.draw_image(gc, x, y, image)
            gc.restore()

    def _layer_of(self, artist):
        """``artist`` drawn alone on a transparent canvas of this size: (its pixels
        cropped to what was drawn, bottom row first as draw_image takes them, and the
        crop's lower left corner), or None if nothing was drawn."""
        if self._scratch is None:
            self._scratch = Renderer(self.width, self.height, self.dpi)
            self._scratch._texts, self._scratch._heights = self._texts, self._heights
        scratch = self._scratch
        scratch.clear()
        type(artist).draw(artist, scratch)
        pixels = np.asarray(scratch.buffer_rgba())
        alpha = pixels[..., 3]
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        if rows.size == 0:
            return None
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        return (
            np.ascontiguousarray(pixels[top:bottom, left:right][::-1]),
            int(left),
            int(self.height) - int(bottom),
        )


def _composite(glyphs: list) -> list:
    """Glyph bitmaps [(coverage, left, top)] (top is the row above the bitmap's first,
    y upwards) as one, when no two glyphs cover the same pixel (the usual case): one blit
    per text instead of one per glyph, the same pixels.  Glyphs that touch (antialiased
    edges of close letters) stay separate: Agg blends each over the last, rounding in
    between."""
    if len(glyphs) < 2:
        return glyphs
    left = min(g[1] for g in glyphs)
    right = max(g[1] + g[0].shape[1] for g in glyphs)
    top = max(g[2] for g in glyphs)
    bottom = min(g[2] - g[0].shape[0] for g in glyphs)
    out = np.zeros((top - bottom, right - left), np.uint8)
    covered = np.zeros(out.shape, np.uint8)
    for buffer, x, y in glyphs:
        h, w = buffer.shape
        rows, cols = slice(top - y, top - y + h), slice(x - left, x - left + w)
        covered[rows, cols] += buffer > 0
        out[rows, cols] |= buffer
    if covered.max() > 1:
        return glyphs
    return [(out, left, top)]


def _axis_key(axis, ticks) -> tuple | None:
    """Everything an axis' pixels depend on, given the renderer: the axes' box, each
    drawn tick's place in pixels, labels and every style its parts are drawn with, the
    axis label and the offset text.  None for an axis this cache does not handle (label
    aligned with other axes', filters, path effects): it is drawn directly."""
    ax = axis.axes
    fig = ax.get_figure(root=False)
    name = axis._get_axis_name()
    group = fig._align_label_groups.get(name)
    if (
        axis.get_agg_filter() is not None
        or axis.get_path_effects()
        or (group is not None and len(group.get_siblings(ax)) > 1)
    ):
        return None
    locs = np.array([t.get_loc() for t in ticks], dtype=float)
    if name == "x":
        where = ax.transData.transform(np.column_stack([locs, np.zeros_like(locs)]))[:, 0]
    else:
        where = ax.transData.transform(np.column_stack([np.zeros_like(locs), locs]))[:, 1]
    label, offset = axis.label, axis.offsetText
    return (
        name,
        tuple(ax.bbox.bounds),
        tuple(where.tolist()),
        tuple(_tick_style(t) for t in ticks),
        _text_style(label, placed=True),
        axis.label_position,
        axis.labelpad,
        axis.major.formatter.get_offset(),
        _text_style(offset, placed=True),
        axis.offset_text_position if name == "x" else None,
    )


def _tick_style(tick) -> tuple:
    return (
        type(tick).__name__,
        _text_style(tick.label1),
        _text_style(tick.label2),
        _line_style(tick.tick1line),
        _line_style(tick.tick2line),
        _line_style(tick.gridline),
        tick._pad,
        tick.get_tickdir(),
    )


def _text_style(t, placed=False) -> tuple:
    """A text's looks; its position too unless the axis ``placed`` it while drawing (the
    axis label and offset text are put beside the tick labels, which are in the key)."""
    if not t.get_visible():
        return ()
    return (
        t.get_text(),
        t.get_color(),
        _font_key(t.get_fontproperties()),
        t.get_rotation(),
        t.get_horizontalalignment(),
        t.get_verticalalignment(),
        t.get_alpha(),
        None if placed else t.get_position(),
        t.get_rotation_mode(),
        t._bbox_patch is not None,
    )


def _line_style(ln) -> tuple:
    if not ln.get_visible():
        return ()
    return (
        ln.get_color(),
        ln.get_alpha(),
        ln.get_linewidth(),
        ln.get_linestyle(),
        ln.get_marker(),
        ln.get_markersize(),
        ln.get_markeredgewidth(),
        ln.get_markeredgecolor(),
        ln.get_zorder(),
        tuple(ln.get_xdata()),
        tuple(ln.get_ydata()),
    )


def _frozen(v):
    """``v`` with its lists and arrays made tuples (hashable, for a key)."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return tuple(_frozen(x) for x in v)
    return v


def _patch_style(p) -> tuple:
    if not p.get_visible():
        return ()
    return (
        tuple(p.get_facecolor()),
        tuple(p.get_edgecolor()),
        p.get_linewidth(),
        p.get_linestyle(),
        p.get_hatch(),
        p.get_alpha(),
    )


def _handle_style(h) -> tuple:
    if h is None:
        return ()
    if hasattr(h, "get_markersize"):
        return _line_style(h)
    if hasattr(h, "get_hatch"):
        return _patch_style(h)
    return (
        type(h).__name__,
        h.get_visible(),
        h.get_alpha(),
        tuple(map(tuple, getattr(h, "get_facecolor", lambda: ())())),
        tuple(map(tuple, getattr(h, "get_edgecolor", lambda: ())())),
    )


def _font_key(prop) -> tuple:
    return (
        tuple(prop.get_family()),
        prop.get_style(),
        prop.get_variant(),
        prop.get_weight(),
        prop.get_stretch(),
        prop.get_size_in_points(),
        prop.get_file(),
        prop.get_math_fontfamily(),
    )


class Canvas(FigureCanvasAgg):
    """FigureCanvasAgg drawing with :class:`Renderer` (kept while size and dpi stay),
    whose x and y axes and axes' legends are drawn through :meth:`Renderer.draw_axis`
    and :meth:`Renderer.draw_legend`."""

    def draw(self):
        if not INTERNALS:
            return super().draw()
        for ax in self.figure.axes:
            for axis in ax._axis_map.values():
                if "draw" not in vars(axis):  # an instance attribute: only this axis
                    axis.draw = functools.partial(_draw_kept, axis, Renderer.draw_axis)
            legend = ax.get_legend()
            if legend is not None and "draw" not in vars(legend):
                legend.draw = functools.partial(_draw_kept, legend, Renderer.draw_legend)
        was = matplotlib.rcParams["text.hinting"]
        matplotlib.rcParams["text.hinting"] = HINTING
        try:
            super().draw()
        finally:
            matplotlib.rcParams["text.hinting"] = was

    def get_renderer(self):
        if not INTERNALS:
            return super().get_renderer()
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = Renderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer

    def rgb(self) -> np.ndarray:
        """Draw the figure and return its pixels, (height, width, 3) uint8."""
        self.draw()
        return np.asarray(self.buffer_rgba())[..., :3]


def png(rgb: np.ndarray, level: int = 1) -> bytes:
    """A PNG of ``rgb`` ((height, width, 3) uint8): 8-bit RGB, no row filter, zlib at
    ``level``.  Figures are mostly flat colour, so unfiltered rows compress about as well
    as Pillow's adaptive filtering (within a few %) in a third of the time."""
    h, w, _ = rgb.shape
    rows = np.empty((h, 1 + 3 * w), np.uint8)
    rows[:, 0] = 0  # filter type None
    rows[:, 1:] = rgb.reshape(h, 3 * w)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)),
            _chunk(b"IDAT", zlib.compress(rows, level)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _draw_kept(artist, kept_draw, renderer):
    """An axis' or legend's draw on a :class:`Canvas`: through the renderer's kept layers
    when it is one (any other renderer, e.g. while saving to PDF, gets matplotlib's
    draw)."""
    if not artist.get_visible():
        return
    if isinstance(renderer, Renderer):
        return kept_draw(renderer, artist)
    return type(artist).draw(artist, renderer)


# -- the figure kinds' axes (virtmodel.explore.figures) -------------------------------------
def set_scale(axis, name: str, **kw) -> None:
    """``axis``'s scale set to ``name`` (with e.g. ``base``), only when it is not that
    already: setting a scale replaces the axis' locators, formatters and transforms."""
    current = axis._scale if INTERNALS else None
    if (
        current is not None
        and current.name == name
        and all(getattr(current, k, None) == v for k, v in kw.items())
    ):
        return
    (axis.axes.set_xscale if axis.axis_name == "x" else axis.axes.set_yscale)(name, **kw)


# -- the static player's frames (virtmodel.explore.static) ---------------------------------
def reset_to_grid_cell(ax, fig) -> None:
    """Put ``ax`` back where a new figure puts it (its grid cell), the starting point of
    constrained layout, without taking it out of the layout (the public ``set_position``
    does).  Nothing without :data:`INTERNALS` (frames are then drawn on new figures)."""
    spec = ax.get_subplotspec()
    if INTERNALS and spec is not None:
        ax._set_position(spec.get_position(fig))


def figure_titles(fig) -> list:
    """The figure's suptitle and supxlabel Text objects (those that exist), to be wrapped
    in place; none without :data:`INTERNALS`."""
    if not INTERNALS:
        return []
    return [t for t in (fig._suptitle, fig._supxlabel) if t is not None]


def side_titles(ax) -> list:
    """``ax``'s three titles (centre, left, right): the public one alone without
    :data:`INTERNALS`."""
    return [ax.title, ax._left_title, ax._right_title] if INTERNALS else [ax.title]
