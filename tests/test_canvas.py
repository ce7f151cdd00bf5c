"""virtmodel.explore.render draws what matplotlib's Agg draws: texts from kept glyphs, axes from
kept layers, whatever changed between draws."""

import io
import zlib

import numpy as np
import pytest
from figures import assert_same_pixels, plain_pixels
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from PIL import Image

from virtmodel.explore import render as canvas


def _figure(n=2):
    fig = Figure(figsize=(6, 3), dpi=80)
    canvas.Canvas(fig)
    axes = fig.subplots(1, n)
    for i, ax in enumerate(axes):
        ax.plot([1, 2, 3], [i, 3, 2], "o-", label="a line")
        ax.set_xlabel("x label")
        ax.set_ylabel("y label")
        ax.set_title(f"title {i}")
    return fig, axes


def test_texts_are_agg_pixels_at_any_fraction_of_a_pixel_and_angle():
    fig = Figure(figsize=(5, 4), dpi=80)
    canvas.Canvas(fig)
    rng = np.random.default_rng(1)
    for i in range(60):  # the same strings at many sub-pixel places and angles
        fig.text(
            rng.uniform(0.02, 0.8),
            rng.uniform(0.02, 0.95),
            f"Tw{i % 7} µs,gy",
            rotation=(0, 90, -60, 33)[i % 4],
            fontsize=(7, 8.5, 11)[i % 3],
        )
    first = fig.canvas.rgb().copy()
    assert np.array_equal(first, plain_pixels(fig))  # texts only: exactly Agg's pixels
    again = fig.canvas.rgb()  # every text from kept glyphs now
    assert np.array_equal(again, first)
    assert len(fig.canvas.get_renderer()._texts) == 60


def test_a_kept_axis_layer_is_redrawn_when_anything_it_shows_changes():
    fig, (ax, ax2) = _figure()
    fig.canvas.rgb()
    changes = [
        lambda: ax.set_xlim(0, 4),
        lambda: ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.1f}s")),
        lambda: ax.tick_params(axis="y", colors="red"),
        lambda: ax.grid(alpha=0.3),
        lambda: ax.set_ylabel("another label"),
        lambda: ax.tick_params(axis="x", direction="in", length=6),
        lambda: ax.set_yscale("log"),
        lambda: ax2.set_position([0.6, 0.3, 0.3, 0.5]),
        lambda: ax.get_xticklabels()[1].set_color("green"),  # one tick's own style
        lambda: ax2.yaxis.set_label_position("right"),
        lambda: ax.set_xticks([1, 2, 3], ["one", "two", "three"]),
    ]
    for i, change in enumerate(changes):
        change()
        assert_same_pixels(fig.canvas.rgb(), plain_pixels(fig), f"change {i}")
    n = len(fig.canvas.get_renderer()._layers)
    before = fig.canvas.rgb().copy()
    assert np.array_equal(fig.canvas.rgb(), before)  # unchanged: drawn from the layers
    assert len(fig.canvas.get_renderer()._layers) == n


def test_axes_off_and_other_renderers_draw_as_matplotlib_does():
    fig, (_ax, ax2) = _figure()
    ax2.axis("off")
    fig.canvas.rgb()
    assert_same_pixels(fig.canvas.rgb(), plain_pixels(fig))
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")  # another backend's renderer: matplotlib's draw
    svg = buf.getvalue()
    assert svg.count(b'<g id="xtick_') == 5 and svg.count(b'<g id="ytick_') == 7


def test_png_holds_the_pixels():
    fig, _ = _figure()
    rgb = fig.canvas.rgb()
    data = canvas.png(rgb)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), rgb)
    assert len(data) < rgb.nbytes / 5  # compressed: a figure is mostly flat colour
    with pytest.raises(zlib.error):
        canvas.png(rgb, level=10)


def test_a_kept_legend_layer_follows_its_texts_and_place():
    fig, (ax, ax2) = _figure()
    (line,) = ax2.plot([1, 2, 3], [3, 2, 3], label="another")
    leg = ax.legend(frameon=True)  # a translucent frame over the lines
    leg2 = ax2.legend()  # loc="best": moves away from the data
    fig.canvas.rgb()
    changes = [
        lambda: leg.get_texts()[0].set_text("a longer label now"),
        lambda: line.set_data([1, 2, 3], [0, 3, 0]),  # the best place changes
        lambda: ax.set_position([0.1, 0.4, 0.3, 0.4]),
        lambda: leg2.get_frame().set_facecolor("yellow"),
    ]
    for i, change in enumerate(changes):
        before = fig.canvas.rgb().copy()
        change()
        now = fig.canvas.rgb()
        assert not np.array_equal(now, before), i  # the change shows
        assert_same_pixels(now, plain_pixels(fig), f"change {i}")
