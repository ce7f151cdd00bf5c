"""The static player: an explorer's every knob combination, pre-rendered, on a kernel-free page.

While the book is built (``VIRTMODEL_STATIC=1``), an :class:`~virtmodel.explore.core.Explorer`
shows itself as a *player*: one control per knob (the same labels and values as the live
ipywidgets form, the same choice of slider or buttons) over frames rendered for **every**
combination of the knobs' values, so every control on the static site works.

Frames are files, fetched when a control asks for them: only the default frame is in the page
(as a real ``<img src>``).  Each is a 256-colour palette image stored as lossless WebP
(smaller than the same pixels as palette PNG, see ``benchmarks/static_site.py``), named by
a hash of its bytes, so a frame two combinations share (or two explorers, or two builds) is
stored once.

Where frames go is the build's business (``book/_ext/virtmodel_static.py``): it sets
``VIRTMODEL_FRAMES_DIR`` (a folder it copies into the site) and ``VIRTMODEL_FRAMES_URL`` (the
frames' URL as the page sees it; the extension may put a placeholder there and resolve it per
page).  Without them the frames are inlined as ``data:`` URLs, so a player rendered anywhere
else is still self-contained.

Each combination also gets a *narrow* frame for phones, which the page shows on narrow
screens (``<picture>`` with a media query): the same drawing on a figure 4.4 inches wide,
its panels stacked and its titles wrapped (:func:`fit_narrow`), rendered at 1.5 times the dpi; or,
for an explorer that names a narrow figure size (the vring tour), its own drawing at that
size, which it lays out for a tall figure by itself.

Rendering is spread over worker processes forked from the kernel (``VIRTMODEL_FRAME_WORKERS``,
default: one per core).  Each worker draws its frames one after another on one figure
(:class:`Painter`), through the live explorers' in-place redraw (reused axes, the figure
kinds' artists updated in place, :mod:`virtmodel.explore.render`'s kept glyphs and axis
layers), and every frame is laid out in full from where a new figure would start: so a
frame is the same pixels whichever frames the worker drew before it (tests/test_widgets.py
compares each with a new figure's).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from . import figures, render
from .core import NARROW_WIDTH_IN
from .live import as_buttons

if TYPE_CHECKING:  # pragma: no cover
    from .core import Explorer

FRAMES_DIR_ENV = "VIRTMODEL_FRAMES_DIR"
FRAMES_URL_ENV = "VIRTMODEL_FRAMES_URL"
WORKERS_ENV = "VIRTMODEL_FRAME_WORKERS"
NARROW_MEDIA = "(max-width: 640px)"
"""Screens this narrow get the narrow frames."""
NARROW_DPI_SCALE = 1.5
"""Narrow frames are drawn at this multiple of the explorer's dpi: a phone's screen has 2-3
device pixels per CSS pixel, and a narrow frame is shown about its own width in CSS pixels
divided by this (so its type is as large as on a desktop, and sharper).  2 would be
sharper still, at a seventh more rendering time for these frames."""
FRAME_MIME = "image/webp"
FRAME_EXT = ".webp"
COLOURS = 256


# -- frames: pixels -> compact, content-addressed files -----------------------------------
def encode(rgb: np.ndarray) -> bytes:
    """A frame's pixels (height x width x 3, uint8) as a 256-colour palette, stored as
    lossless WebP.  The palette is the only loss (antialiased edges snap to the nearest of
    256 colours); the same pixels always give the same bytes."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"rgb must be a height x width x 3 uint8 array, got {rgb.shape} {rgb.dtype}"
        )
    img = Image.fromarray(rgb, "RGB").quantize(COLOURS, method=Image.Quantize.MAXCOVERAGE)
    buf = io.BytesIO()
    img.save(buf, format="WEBP", lossless=True)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    """A stored frame's pixels (height x width x 3)."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def frame_name(data: bytes) -> str:
    """The file name of a frame: a hash of its bytes (identical frames share one file)."""
    return hashlib.sha256(data).hexdigest()[:20] + FRAME_EXT


class FrameStore:
    """Frames written into ``folder`` and addressed as ``url + name`` by the page."""

    def __init__(self, folder, url: str):
        self.folder, self.url = Path(folder), url

    def put(self, data: bytes) -> str:
        name = frame_name(data)
        path = self.folder / name
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # atomic: two workers may write the same frame
        return name

    def get(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def src(self, name: str) -> str:
        return self.url + name


class InlineStore:
    """Frames kept in memory and addressed by ``data:`` URLs (no build to put files in)."""

    url = ""

    def __init__(self):
        self.frames: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        name = frame_name(data)
        self.frames[name] = data
        return name

    def get(self, name: str) -> bytes:
        return self.frames[name]

    def src(self, name: str) -> str:
        return f"data:{FRAME_MIME};base64," + base64.b64encode(self.frames[name]).decode()


def default_store():
    """The build's frame folder when the build named one, else inline frames."""
    folder = os.environ.get(FRAMES_DIR_ENV, "")
    if folder:
        return FrameStore(folder, os.environ.get(FRAMES_URL_ENV, ""))
    return InlineStore()


# -- the grid ------------------------------------------------------------------------------
def combinations(knobs) -> list[tuple]:
    """Every combination of the knobs' values, the first knob varying slowest (the order
    of the player's frame table: index = mixed-radix number of the values' positions)."""
    return list(itertools.product(*(k.values for k in knobs)))


@dataclass
class Manifest:
    """What a player shows: for each combination of knob values (in :func:`combinations`
    order), the name of its frame and of its narrow frame, with their sizes in pixels
    (width, height; a narrow frame's height follows its wrapped text)."""

    knobs: tuple
    frames: list[str]
    narrow: list[str]
    sizes: list[tuple[int, int]]
    narrow_sizes: list[tuple[int, int]]
    text_px: float = float("inf")
    """Height in frame pixels of the smallest text any wide frame shows."""
    narrow_text_px: float = float("inf")
    """The same for the narrow frames."""

    def frame(self, **state) -> str:
        return self.frames[self.index(state)]

    def index(self, state: dict) -> int:
        i = 0
        for k in self.knobs:
            i = i * len(k.values) + k.values.index(state[k.name])
        return i


class Painter:
    """Draws ``explorer``'s pictures (``narrow``: the phone-sized ones, :func:`fit_narrow`,
    at :data:`NARROW_DPI_SCALE` times the dpi) one after another on one figure.

    The figure is reused the way a live explorer reuses its own (the explorer's drawing
    function empties and refills its axes, or updates the artists it kept), drawn by
    :class:`virtmodel.explore.render.Canvas`, and laid out by constrained layout at every frame.
    Constrained layout starts from where the axes are, and on a reused figure that is where
    the last frame's layout put them (the same state could land a pixel or two elsewhere
    depending on the frames before it), so each axes in a grid is first put back where a
    new figure puts it (its grid cell): every frame is laid out from the same start, as on a
    new figure.  A narrow frame that :func:`fit_narrow` rearranged starts from an empty
    figure of the narrow size (the rearrangement is not something a redraw undoes).  One
    drawing pass per frame: ``savefig`` would lay the figure out and draw it twice."""

    def __init__(self, explorer: Explorer, narrow: bool = False):
        if narrow:
            size, dpi = explorer.narrow or NARROW_FIGSIZE, explorer.dpi * NARROW_DPI_SCALE
        else:
            size, dpi = explorer.figsize, explorer.dpi
        self.explorer, self.size = explorer, size
        self.fits = narrow and not explorer.narrow  # fit_narrow rearranges the drawing
        self.figure = Figure(figsize=size, dpi=dpi, layout="constrained")
        render.Canvas(self.figure)

    def __call__(self, state: dict) -> np.ndarray:
        """The picture of ``state`` (height x width x 3 uint8)."""
        fig = self.figure
        if self.fits or not render.INTERNALS:  # without INTERNALS: as on a new figure
            fig.clear()
            fig.set_size_inches(self.size)
        self.explorer.draw(fig, **state)
        if self.fits:
            fit_narrow(fig)
        for ax in fig.axes:  # where a new figure puts them: the layout's starting point
            render.reset_to_grid_cell(ax, fig)
        return fig.canvas.rgb().copy()


def pixels(explorer: Explorer, state: dict, narrow: bool = False) -> np.ndarray:
    """The picture of ``state`` drawn on a new figure (height x width x 3); ``narrow``:
    the phone-sized picture.  The player's frames are these pixels (see :class:`Painter`,
    which draws them on a reused figure)."""
    return Painter(explorer, narrow)(state)


NARROW_FIGSIZE = (NARROW_WIDTH_IN, 6.0)
"""A narrow frame's figure (inches), before :func:`fit_narrow` sets its height; taller
than wide, so a drawing that has a narrow layout of its own (the vring) picks it."""
PANEL_HEIGHT = 2.6  # inches of a panel in a narrow frame


def fit_narrow(fig: Figure) -> None:
    """Turn a drawing made for a wide screen into one for a phone's: panels side by side
    are stacked one under another (each the figure's full width), a figure's one legend
    moved under the panels (in as many columns as fit), long titles and labels wrapped to
    the width (a panel's title to its part of it), notes inside a panel to under a third of it,
    rows that side-by-side panels labelled once labelled on each, and the figure made as
    tall as its panels and text need.  Works on any explorer's drawing, without its
    help."""
    width_pt = fig.get_figwidth() * 72
    specs = [ax.get_subplotspec() for ax in fig.axes]
    grids = {id(ss.get_gridspec()) for ss in specs if ss is not None}
    rows = 1
    if specs and None not in specs and len(grids) == 1:
        nrows, ncols = specs[0].get_gridspec().get_geometry()
        if nrows == 1 and ncols > 1:  # a row of panels (twin axes share a panel's spec)
            column = fig.add_gridspec(ncols, 1)
            for ax, ss in zip(fig.axes, specs):
                ax.set_subplotspec(column[ss.colspan.start, 0])
            rows = ncols
            _label_every_row(fig.axes)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    legends += fig.legends  # one already under the panels: its columns refitted
    legend_pt = 0.0
    if len(legends) == 1:
        old = legends[0]
        labels = [t.get_text() for t in old.get_texts()]
        size = old.get_texts()[0].get_fontsize() if labels else figures.SMALL
        ncols = figures.legend_columns(labels, size, width_pt)
        handles = old.legend_handles
        old.remove()
        fig.legend(
            handles, labels, loc="outside lower center", ncols=ncols, fontsize=size, frameon=False
        )
        legend_pt = -(-len(labels) // ncols) * size * 1.5
    lines = 0
    titles = render.figure_titles(fig)
    for t, share in [
        *[(t, 1) for t in titles],
        *[(t, 1) for t in fig.texts],
        *[
            (t, 0.7)
            for ax in fig.axes  # over a panel, beside its labels
            for t in render.side_titles(ax)
        ],
        *[(t, 0.3) for ax in fig.axes for t in ax.texts],
    ]:
        if t is None or not t.get_text():
            continue
        n = figures.wrap(t, share * width_pt)
        if any(t is x for x in titles):
            lines += n
    height = rows * PANEL_HEIGHT + 0.4 + lines * 0.18 + legend_pt / 72
    fig.set_figheight(round(height * fig.dpi) / fig.dpi)  # whole pixels


def _label_every_row(axes) -> None:
    """Panels side by side with the same rows (a bar per path) name them once, left of the
    first; stacked, each panel gets the first one's row labels."""
    ticks = list(axes[0].get_yticks())
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    if not any(labels):
        return
    for ax in axes[1:]:
        if list(ax.get_yticks()) == ticks and not any(t.get_text() for t in ax.get_yticklabels()):
            ax.set_yticks(ticks, labels)


_JOB = None  # (explorer, store) of the grid being rendered, inherited by forked workers


def _render_chunk(task) -> list[tuple[int, str, tuple, float]]:
    narrow, indices = task
    explorer, store = _JOB
    combos = combinations(explorer.knobs)
    names = [k.name for k in explorer.knobs]
    paint = Painter(explorer, narrow)  # one figure for the whole chunk
    out = []
    for i in indices:
        rgb = paint(dict(zip(names, combos[i])))
        size = (rgb.shape[1], rgb.shape[0])
        out.append((i, store.put(encode(rgb)), size, smallest_text_px(paint.figure)))
    return out


def smallest_text_px(fig: Figure) -> float:
    """Height in the figure's pixels of the smallest text it shows (its size in points at
    the figure's dpi): shown at its own size, the smallest text is this many pixels."""
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_figure(root=True) is fig
    ]
    return min(sizes, default=float("inf")) * fig.dpi / 72


def workers() -> int:
    """Processes to render frames with: ``VIRTMODEL_FRAME_WORKERS``, else every core."""
    raw = os.environ.get(WORKERS_ENV, "")
    if not raw:
        return os.cpu_count() or 1
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{WORKERS_ENV} must be a whole number >= 1, got {raw!r}")
    return n


def render_grid(explorer: Explorer, store, processes: int | None = None) -> Manifest:
    """Render every combination of ``explorer``'s knobs, and their narrow frames, into
    ``store``; the explorer itself is left as it was.

    Narrow frames are drawn once per distinct wide frame: combinations whose wide pictures
    are identical pixel for pixel drew the same thing, so they share a narrow picture too
    (a third fewer narrow frames to draw in the batching explorer)."""
    n = len(combinations(explorer.knobs))
    processes = workers() if processes is None else processes
    wide = _render_set(explorer, store, False, list(range(n)), processes)
    first: dict[str, int] = {}  # a wide frame -> the first combination that shows it
    for i in range(n):
        first.setdefault(wide[i][0], i)
    narrow = _render_set(explorer, store, True, sorted(first.values()), processes)
    narrow = [narrow[first[wide[i][0]]] for i in range(n)]
    wide = [wide[i] for i in range(n)]
    return Manifest(
        explorer.knobs,
        [w[0] for w in wide],
        [w[0] for w in narrow],
        [w[1] for w in wide],
        [w[1] for w in narrow],
        min(w[2] for w in wide),
        min(w[2] for w in narrow),
    )


def _render_set(
    explorer, store, narrow: bool, indices: list[int], processes: int
) -> dict[int, tuple[str, tuple[int, int]]]:
    """Frames of the combinations ``indices``: {index: (name, (width, height), smallest
    text in pixels)}."""
    global _JOB
    share = max(1, -(-len(indices) // processes))
    tasks = [(narrow, indices[s : s + share]) for s in range(0, len(indices), share)]
    _JOB = (explorer, store)
    try:
        if (
            len(tasks) > 1
            and isinstance(store, FrameStore)
            and "fork" in multiprocessing.get_all_start_methods()
        ):
            # forked workers inherit the explorer (its drawing function is a closure: it
            # could not be sent to a spawned process) and write into the shared folder
            with multiprocessing.get_context("fork").Pool(len(tasks)) as pool:
                done = pool.map(_render_chunk, tasks, chunksize=1)
        else:
            done = [_render_chunk(t) for t in tasks]
    finally:
        _JOB = None
    return {i: (name, size, px) for chunk in done for i, name, size, px in chunk}


# -- the page ------------------------------------------------------------------------------
_ids = itertools.count(1)

_SCRIPT = """<script>(function () {
  if (!window.vmPlayer) window.vmPlayer = function (root) {
    var d = JSON.parse(root.querySelector("script.vm-player-data").textContent);
    var img = root.querySelector("img.vm-frame"), src = root.querySelector("source");
    var narrow = window.matchMedia(src.media);
    var pos = d.start.slice(), fetched = {}, near = false;
    function index(p) {
      var i = 0;
      for (var k = 0; k < d.knobs.length; k++) i = i * d.knobs[k].labels.length + p[k];
      return i;
    }
    function url(i, phone) { return d.url + d.names[(phone ? d.narrow : d.frames)[i]]; }
    function prefetch() {  // the frames one step away on any control, for this screen
      if (!near) return;  // not before the reader comes to this player: a page's first
      // visit loads only the frames it shows
      for (var k = 0; k < d.knobs.length; k++) {
        for (var step = -1; step <= 1; step += 2) {
          var p = pos.slice(); p[k] += step;
          if (p[k] < 0 || p[k] >= d.knobs[k].labels.length) continue;
          var u = url(index(p), narrow.matches);
          if (!fetched[u]) { fetched[u] = true; (new Image()).src = u; }
        }
      }
    }
    var slow;
    img.addEventListener("load", function () {
      clearTimeout(slow); root.classList.remove("vm-loading"); prefetch(); });
    function show() {
      var i = index(pos);
      img.src = url(i, false);
      src.srcset = url(i, true);
      clearTimeout(slow);  // a loading sign only when a frame takes a while
      slow = setTimeout(function () {
        if (!img.complete) root.classList.add("vm-loading"); }, 150);
      img.alt = d.title + ": " + d.knobs.map(function (k, j) {
        return k.label + " " + k.labels[pos[j]]; }).join(", ");
      root.querySelectorAll(".vm-knob").forEach(function (el, k) {
        var out = el.querySelector("output");
        if (out) out.textContent = d.knobs[k].labels[pos[k]];
        el.querySelectorAll("button").forEach(function (b, j) {
          b.setAttribute("aria-pressed", j === pos[k] ? "true" : "false"); });
        var off = d.inert[k] ? d.inert[k][i] : 0;
        el.classList.toggle("vm-off", off > 0);
        el.querySelector(".vm-knob-why").textContent = off ? d.reasons[off - 1] : "";
      });
    }
    root.querySelectorAll(".vm-knob").forEach(function (el, k) {
      var s = el.querySelector("input");
      if (s) s.addEventListener("input", function () { pos[k] = +s.value; show(); });
      el.querySelectorAll("button").forEach(function (b, j) {
        b.addEventListener("click", function () { pos[k] = j; show(); }); });
    });
    var big = root.querySelector(".vm-enlarged");
    img.addEventListener("click", function () {  // the wide frame, as large as the window
      big.querySelector("img").src = url(index(pos), false);
      big.hidden = false; big.focus(); });
    big.addEventListener("click", function () { big.hidden = true; });
    big.addEventListener("keydown", function (e) {
      if (e.key === "Escape") big.hidden = true; });
    ["pointerenter", "focusin", "touchstart"].forEach(function (e) {
      root.addEventListener(e, function () { near = true; prefetch(); }, {passive: true});
    });
  };
  window.vmPlayer(document.getElementById("%s"));
})();</script>"""

_STYLE = """<style>
.vm-player{max-width:100%;overflow:hidden}
.vm-player-controls{display:flex;flex-wrap:wrap;gap:.3em 1.4em;margin:.3em 0}
.vm-knob{display:flex;flex-wrap:wrap;align-items:center;gap:.4em;min-width:0;max-width:100%}
.vm-knob input[type=range]{width:16em;max-width:60vw}
.vm-knob output{min-width:4.5em;font-variant-numeric:tabular-nums}
.vm-knob-buttons{display:flex;flex-wrap:wrap;gap:2px}
.vm-knob button{font:inherit;font-size:.85em;padding:.1em .6em;border:1px solid #aaa;
 border-radius:3px;background:#f5f5f5;color:#222;cursor:pointer}
.vm-knob button[aria-pressed=true]{background:#0072B2;border-color:#0072B2;color:#fff}
.vm-knob.vm-off button,.vm-knob.vm-off input,.vm-knob.vm-off output{opacity:.45;
 cursor:not-allowed}
.vm-knob-why{font-size:.8em;font-style:italic;color:#666}
.vm-knob-why:empty{display:none}
.vm-player img.vm-frame{max-width:100%;height:auto;display:block;cursor:zoom-in}
.vm-player.vm-loading picture{opacity:.5}
.vm-player .vm-wait{display:none;font-size:.8em;color:#666}
.vm-player.vm-loading .vm-wait{display:block}
.vm-enlarged{position:fixed;inset:0;z-index:2000;background:rgba(0,0,0,.8);overflow:auto;
 display:flex;align-items:center;justify-content:center;cursor:zoom-out}
.vm-enlarged[hidden]{display:none}
.vm-enlarged img{width:min(100vw,1600px);max-width:none;height:auto;background:#fff}
.vm-player-note{font-size:.8em;color:#666}
</style>"""


def _knob_html(uid: str, j: int, knob, start: int, why: str = "") -> str:
    """A knob's control (buttons or a slider, :func:`~virtmodel.explore.live.as_buttons`)
    and the place where the reason it does nothing at some settings shows (``why``: at
    the player's first frame)."""
    label = html.escape(knob.label)
    off = ' vm-off"' if why else '"'
    note = f'<span class="vm-knob-why" id="{uid}-why{j}">{html.escape(why)}</span>'

    labels = [html.escape(knob.fmt(v)) for v in knob.values]
    if as_buttons(knob):
        buttons = "".join(
            f'<button type="button" class="vm-player-button" aria-pressed='
            f'"{"true" if i == start else "false"}">{t}</button>'
            for i, t in enumerate(labels)
        )
        return (
            f'<div class="vm-knob{off} data-knob="{j}"><span class="vm-knob-label"><b>{label}'
            f'</b></span><span class="vm-knob-buttons" role="group" aria-label="{label}" '
            f'aria-describedby="{uid}-why{j}">{buttons}</span>{note}</div>'
        )
    sid = f"{uid}-k{j}"
    return (
        f'<div class="vm-knob{off} data-knob="{j}"><label for="{sid}"><b>{label}</b></label>'
        f'<input type="range" class="vm-player-slider" id="{sid}" min="0" '
        f'max="{len(labels) - 1}" step="1" value="{start}" aria-label="{label}" '
        f'aria-describedby="{uid}-why{j}">'
        f'<output for="{sid}">{labels[start]}</output>{note}</div>'
    )


def page_html(explorer: Explorer, manifest: Manifest, store) -> str:
    """The player's HTML: controls, the frame for the explorer's current state, and the
    frame table the controls look frames up in."""
    uid = f"vmp-{next(_ids)}"
    knobs, state = explorer.knobs, explorer.state
    start = [k.values.index(state[k.name]) for k in knobs]
    names = sorted(set(manifest.frames) | set(manifest.narrow))
    number = {n: i for i, n in enumerate(names)}
    inline = not isinstance(store, FrameStore)
    data = {
        "title": explorer.title,
        "start": start,
        "url": "" if inline else store.url,
        "names": [store.src(n) for n in names] if inline else names,
        "knobs": [{"label": k.label, "labels": [k.fmt(v) for v in k.values]} for k in knobs],
        "frames": [number[n] for n in manifest.frames],
        "narrow": [number[n] for n in manifest.narrow],
        **_inert_table(explorer),
        "text_px": [manifest.text_px, manifest.narrow_text_px],
    }
    i = manifest.index(state)
    alt = html.escape(
        f"{explorer.title}: " + ", ".join(f"{k.label} {k.fmt(state[k.name])}" for k in knobs)
    )
    w, h = manifest.sizes[i]
    nw, nh = manifest.narrow_sizes[i]
    source = (
        f'<source media="{NARROW_MEDIA}" srcset="{store.src(manifest.narrow[i])}" '
        f'width="{nw}" height="{nh}">'
    )
    why = explorer.inert(state)
    controls = "".join(
        _knob_html(uid, j, k, start[j], why.get(k.name, "")) for j, k in enumerate(knobs)
    )
    combos = len(manifest.frames)
    note = (
        f"Pre-computed: {combos} combination{'s' * (combos > 1)} of the knobs, "
        f"{len(set(manifest.frames))} distinct frames, drawn by the models when this page "
        "was built. To run the models yourself, open the page live: see “Run this page "
        "live” at the top of the page."
    )
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'{_STYLE}<div class="vm-player" id="{uid}">'
        f'<div class="vm-player-title"><b>{html.escape(explorer.title)}</b></div>'
        f'<div class="vm-player-controls">{controls}</div>'
        f'<picture>{source}<img class="vm-frame" src="{store.src(manifest.frames[i])}" '
        f'alt="{alt}" width="{w}" height="{h}" loading="lazy"></picture>'
        f'<p class="vm-wait">loading the frame ...</p>'
        f'<div class="vm-enlarged" hidden tabindex="-1" role="dialog" aria-label="enlarged '
        f'figure (click or Escape to close)"><img alt="{alt}"></div>'
        f'<p class="vm-player-note">{html.escape(note)}</p>'
        f'<script type="application/json" class="vm-player-data">{payload}</script>'
        f"</div>" + _SCRIPT % uid
    )


def _inert_table(explorer: Explorer) -> dict:
    """Which knobs do nothing at which combinations, for the page: ``reasons`` (the
    distinct reasons) and ``inert`` (per knob: None if it always matters, else for each
    combination 0 or 1 + the index of its reason)."""
    names = [k.name for k in explorer.knobs]
    combos = combinations(explorer.knobs)
    reasons: list[str] = []
    inert: list = [None] * len(names)
    for i, combo in enumerate(combos):
        for name, why in explorer.inert(dict(zip(names, combo))).items():
            j = names.index(name)
            if inert[j] is None:
                inert[j] = [0] * len(combos)
            if why not in reasons:
                reasons.append(why)
            inert[j][i] = 1 + reasons.index(why)
    return {"reasons": reasons, "inert": inert}


def player_html(explorer: Explorer, store=None, processes: int | None = None) -> str:
    """Render ``explorer``'s whole grid into ``store`` (default: :func:`default_store`) and
    return its player."""
    store = default_store() if store is None else store
    return page_html(explorer, render_grid(explorer, store, processes), store)
