"""The explorer: a figure drawn by one function of a few knobs, with no widget toolkit.

An :class:`Explorer` is a figure drawn by one function of a few *knobs* (batch size, DMA
size, ...), each knob with a fixed grid of allowed values.  It shows itself two ways:

* **live** (Jupyter, Binder, Thebe): ipywidgets controls for every knob
  (:mod:`virtmodel.explore.live`); moving one recomputes with the models and redraws the
  figure (a PNG in an ``Image`` widget);
* **static** (the book's build, ``VIRTMODEL_STATIC=1``): a kernel-free HTML player
  (:mod:`virtmodel.explore.static`) with the same controls over frames pre-rendered for
  every combination of the knobs, fetched as files when a control asks for them.  No
  kernel, no widget state, so no control on the static site is ever dead.

A knob that does nothing at some settings of the others says so (:attr:`Knob.applies`):
both forms show it disabled there, with the reason.

The book's build sets ``VIRTMODEL_STATIC`` (``book/_ext/virtmodel_static.py``); anything
else gets the live form.  Both forms draw with the same function, so the frames on the site
are exactly what the live explorer draws for those values.

Every explorer records what it drew in ``Explorer.data`` (the Results behind the
figure), so tests can check a redraw against :func:`virtmodel.paths.simulate`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from ..paths import get as get_path
from ..paths import simulate
from ..sweep import Curve, sweep
from . import figures, render

REQUESTS = 4000
"""Requests per simulated point in the explorers (enough for a stable p99)."""
MEAN_REQUESTS = 1500
"""Requests per point where an explorer shows only means (time per request, throughput,
CPU per request): they come within 0.5 % of what :data:`REQUESTS` gives
(tests/test_widgets.py), in under half the time."""
STATIC_ENV = "VIRTMODEL_STATIC"
MIN_TEXT_PX = 11
"""CSS pixels of the smallest text of a frame where it is shown, on a desktop and on a
phone (issue 22's floor for reading at 100 % zoom)."""
COLUMN_PX = 688
"""Width (CSS pixels) of a code cell's output in the book's content column on a desktop
1280 px wide (sphinx-book-theme; measured in Chromium)."""
PHONE_COLUMN_PX = 358
"""The same on a phone 390 px wide (the narrow frames)."""
DPI = 72 * MIN_TEXT_PX / figures.SMALL
"""Dots per inch of a frame: a frame shown at its own size in pixels then has its
smallest text (:data:`figures.SMALL` points) :data:`MIN_TEXT_PX` pixels high."""
FRAME_WIDTH_IN = COLUMN_PX / DPI
"""A frame's width in inches: drawn at :data:`DPI`, it is as many pixels wide as the
column it is shown in, so nothing scales it down."""
NARROW_WIDTH_IN = PHONE_COLUMN_PX / DPI
"""A narrow (phone) frame's width in inches, for the same reason (drawn at a multiple of
:data:`DPI` for sharpness: :data:`virtmodel.explore.static.NARROW_DPI_SCALE`)."""


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
    applies: Callable[[dict], str] | None = None
    """None for a knob that changes the figure whatever the others are set to; else a
    function of the explorer's state (every knob's value) that returns "" where this knob
    changes the figure and, where it does not, why (both forms show the control disabled
    there, with that reason)."""

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
    dpi: float = DPI
    narrow: tuple | None = None
    """Figure size (inches) of the static player's frames for phones, for a drawing that
    lays itself out for a tall figure (the vring tour).  None: the player fits the wide
    drawing to a phone by itself (:func:`virtmodel.explore.static.fit_narrow`)."""
    state: dict = field(init=False)
    data: dict = field(init=False, repr=False)
    figure: Figure = field(init=False, repr=False)
    controls: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        # whole pixels: a figure's canvas is int(inches * dpi) pixels, Agg's box round()s
        self.figsize = _whole_pixels(self.figsize, self.dpi)
        if self.narrow is not None:
            from .static import NARROW_DPI_SCALE

            self.narrow = _whole_pixels(self.narrow, self.dpi * NARROW_DPI_SCALE)
        drawing = self.draw

        def draw(fig, **state):  # every drawing kept within its figure's width
            data = drawing(fig, **state)
            figures.fit_width(fig)
            return data

        self.draw = draw
        # Live redraws skip matplotlib's constrained layout, which is about half of a
        # redraw's time: the axes' boxes it computed the first time for an arrangement of
        # axes and a drawing's shape are reused (the static player's frames are each laid out in full).
        self._layouts: dict[tuple, list] = {}
        self.state = {k.name: k.default for k in self.knobs}
        self.figure = Figure(figsize=self.figsize, dpi=self.dpi, layout="constrained")
        render.Canvas(self.figure)
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

    def inert(self, state: dict | None = None) -> dict:
        """The knobs that change nothing at ``state`` (default: the current one), each
        with the reason: {name: reason}."""
        state = self.state if state is None else state
        out = {}
        for k in self.knobs:
            why = k.applies(state) if k.applies is not None else ""
            if why:
                out[k.name] = why
        return out

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
        first time its arrangement of axes and drawing's shape is seen
        (:func:`figures.layout_key`), with the kept layout after; either
        way the figure is left without a layout engine, so another draw of it shows
        what the reader sees."""
        fig = self.figure
        where = figures.layout_key(fig)
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
        """The figure as a PNG (drawn at the explorer's dpi; see :mod:`virtmodel.explore.render`)."""
        return render.png(self.figure.canvas.rgb())

    # -- the two forms: static (a kernel-free player) and live (ipywidgets) -------------
    def player_html(self, store=None) -> str:
        """A kernel-free player over every combination of the knobs (see
        :mod:`virtmodel.explore.static`); the explorer is left as it was."""
        from . import static

        return static.player_html(self, store)

    def widget(self):
        """The live form: a control per knob above the figure (``virtmodel.explore.live``)."""
        from . import live

        return live.widget(self)

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


def _whole_pixels(size: tuple, dpi: float) -> tuple:
    """``size`` (inches) with its height rounded to whole pixels at ``dpi`` (the width is
    :data:`COLUMN_PX` or :data:`PHONE_COLUMN_PX` pixels already)."""
    return (size[0], round(size[1] * dpi) / dpi)


def _no_layout_engine(fig: Figure) -> None:
    """Remove the figure's layout engine.  Not ``set_layout_engine("none")``: that leaves
    a placeholder engine, and with any engine set ``savefig`` draws the whole figure twice
    (once to lay it out, once to render)."""
    with matplotlib.rc_context(
        {"figure.autolayout": False, "figure.constrained_layout.use": False}
    ):
        fig.set_layout_engine(None)
