"""virtmodel.explore.render is the one module that uses matplotlib's private names, each
behind one version check; without it (another matplotlib) the explorers draw the same
figures the public way."""

import re
from pathlib import Path

import numpy as np
import pytest
from figures import assert_same_figure, plain_pixels
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from virtmodel.explore import figures, render

PACKAGE = Path(render.__file__).resolve().parents[1]  # virtmodel/
OWN = {  # names render.py defines itself (its own state and helpers), not matplotlib's
    "_texts",
    "_heights",
    "_layers",
    "_legend_boxes",
    "_scratch",
    "_rasterise",
    "_draw_layer",
    "_layer_of",
}


def _private_uses(source: str) -> set:
    """Attribute names starting with one underscore used as ``x._name`` in ``source``."""
    return set(re.findall(r"\w\.(_[a-zA-Z]\w*)", source)) - {"__dict__"}


def test_every_private_matplotlib_name_is_used_in_render_only_and_listed_there():
    src = Path(render.__file__).read_text()
    inventory = _private_uses(src) - OWN
    assert len(inventory) >= 20  # the canvas' glyphs and layers, axis scales, frames
    doc = render.__doc__
    missing = sorted(n for n in inventory if n not in doc)
    assert not missing, f"private names render.py uses but its docstring does not list: {missing}"
    for path in PACKAGE.rglob("*.py"):
        if path.name == "render.py":
            continue
        used = _private_uses(path.read_text()) & inventory
        assert not used, f"{path.relative_to(PACKAGE)} uses matplotlib's {sorted(used)}"


def test_the_version_check_names_the_pinned_matplotlib():
    import matplotlib

    pinned = re.search(
        r"^matplotlib==(\d+)\.(\d+)", Path("requirements.txt").read_text(), re.MULTILINE
    )
    assert (int(pinned[1]), int(pinned[2])) in render.TESTED_MATPLOTLIB
    version = tuple(int(p) for p in matplotlib.__version__.split(".")[:2])
    assert render.INTERNALS == (version in render.TESTED_MATPLOTLIB)


def _fresh(figsize=(8, 3)):
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


@pytest.mark.slow
def test_without_the_internals_redraws_are_the_same_figures_the_public_way(monkeypatch):
    """Another matplotlib: the canvas draws as plain Agg, and an explorer's live redraw
    still shows what a new figure shows; the figure kinds still update the artists they
    made (matplotlib's public API: no private name involved)."""
    from virtmodel import explore

    monkeypatch.setattr(render, "INTERNALS", False)
    ex = explore.explore_exit_tax()
    ex.widget()
    before = list(ex.figure.axes[0].get_lines())
    ex.controls["us_per_exit"].value = 2
    assert list(ex.figure.axes[0].get_lines()) == before  # updated in place
    assert not isinstance(ex.figure.canvas.get_renderer(), render.Renderer)
    assert np.array_equal(ex.figure.canvas.rgb(), plain_pixels(ex.figure))
    fresh = Figure(figsize=ex.figsize, dpi=ex.dpi, layout="constrained")
    FigureCanvasAgg(fresh)
    ex.draw(fresh, **ex.state)
    assert_same_figure(ex.figure, fresh, ex.state)


def test_with_the_internals_a_redraw_updates_the_artists_it_kept():
    from virtmodel.sweep import compare

    cs = compare("batch", [1, 4], requests=200)
    fig = _fresh()
    figures.curves(cs, ("us_per_request",), fig)
    lines = list(fig.axes[0].get_lines())
    figures.curves(cs, ("us_per_request",), fig)
    assert render.INTERNALS and list(fig.axes[0].get_lines()) == lines
