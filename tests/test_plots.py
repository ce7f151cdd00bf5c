"""plots.panels reuses a figure's axes for a redraw: whatever was drawn before, the new
plot must look exactly as it would on a brand-new figure."""

import pytest
from figures import assert_same_figure
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from virtmodel import trap
from virtmodel.explore import figures as plots
from virtmodel.sweep import compare


def _fresh(figsize=(9, 3.5)):
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def test_one_panel_plots_drawn_over_each_other_look_fresh():
    cs = compare("batch", [1, 4, 16], requests=300)
    res = {p: c.results[1] for p, c in cs.items()}
    # each of these sets state the others do not: inverted y and a fixed x range
    # (breakdown, timeline), a fixed y range and log x and a grid (exit_tax), axis off
    # (message)
    draws = [
        lambda f: plots.breakdown(res, f, title="t", notes={"virtio": "n"}),
        lambda f: plots.exit_tax(4000, [1000, 16000], [("a", 2e4)], f),
        lambda f: plots.timeline(trap.steps(8192, "string-pio"), f, title="x"),
        lambda f: plots.message(f, "nothing to draw"),
        lambda f: plots.breakdown(res, f),
        lambda f: plots.timeline(trap.steps(4096, "dma"), f),
        lambda f: plots.exit_tax(500, [], [], f),
    ]
    fig = _fresh()
    for i, draw in enumerate(draws):
        axes_before = list(fig.axes)
        draw(fig)
        if i:
            assert fig.axes == axes_before  # the axes were reused, not replaced
        want = _fresh()
        draw(want)
        assert_same_figure(fig, want, f"draw {i}")


def test_curves_switch_between_linear_and_log_axes_and_titles():
    by_batch = compare("batch", [1, 2, 3], requests=200)  # linear x
    by_size = compare("request_bytes", [512, 8192, 131072], requests=200)  # log x
    fig = _fresh((12, 3.5))
    for i, (cs, marker) in enumerate([(by_size, 8192), (by_batch, None), (by_size, None)]):
        plots.curves(cs, fig=fig, marker=marker)
        want = _fresh((12, 3.5))
        plots.curves(cs, fig=want, marker=marker)
        assert_same_figure(fig, want, f"draw {i}")
        fig.suptitle("a title the next draw does not set")


@pytest.mark.parametrize("narrow", [False, True])
def test_the_legend_of_eight_curves_covers_no_panel(narrow):
    """With every path on a curve, a legend inside a panel hid curves: it sits under the
    panels, outside all of them, wide or refitted for a phone."""
    from virtmodel.explore.static import fit_narrow

    cs = compare("batch", [1, 4, 16], requests=200)
    assert len(cs) >= 8
    fig = _fresh((4.2, 6.4) if narrow else (12.6, 3.4))
    plots.curves(cs, fig=fig)
    if narrow:
        fit_narrow(fig)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    (leg,) = fig.legends
    assert [t.get_text() for t in leg.get_texts()] == [plots.path_label(p) for p in cs]
    box = leg.get_window_extent(r)
    fig_box = fig.bbox
    assert fig_box.x0 <= box.x0 and box.x1 <= fig_box.x1 and fig_box.y0 <= box.y0
    for ax in fig.axes:
        assert not box.overlaps(ax.get_tightbbox(r)), ax.get_ylabel()


def test_another_plot_on_the_same_panels_drops_the_curves_legend():
    cs = compare("batch", [1, 4], requests=200)
    res = {p: c.results[1] for p, c in cs.items()}
    fig = _fresh()
    plots.curves(cs, ("us_per_request",), fig)
    plots.curves(cs, ("us_per_request",), fig)  # a redraw keeps its one legend
    assert len(fig.legends) == 1
    one = list(fig.axes)
    plots.breakdown(res, fig)
    assert fig.axes == one and not fig.legends  # same single panel, reused
    want = _fresh()
    plots.breakdown(res, want)
    assert_same_figure(fig, want, "breakdown after curves")


def test_a_different_arrangement_gets_new_axes():
    cs = compare("batch", [1, 4], requests=200)
    fig = _fresh()
    plots.curves(cs, ("us_per_request", "exits_per_request"), fig)
    two = list(fig.axes)
    plots.curves(cs, ("us_per_request", "exits_per_request", "p99_latency_ns"), fig)
    assert len(fig.axes) == 3 and not set(two) & set(fig.axes)


def test_titles_sit_where_matplotlib_would_place_them():
    """panels fixes each title at the top of its axes (matplotlib's automatic placement
    re-measures the y axis at every draw); for these plots that is the same place."""
    cs = compare("request_bytes", [512, 8192, 131072], requests=200)
    res = {p: c.results[1] for p, c in cs.items()}
    for draw in (
        lambda f: plots.breakdown(res, f, title="a title"),
        lambda f: plots.timeline(trap.steps(4096, "dma"), f, title="a title"),
        lambda f: plots.curves(cs, fig=f) and f.axes[1].set_title("a title"),
    ):
        fig = _fresh()
        draw(fig)
        ax = next(a for a in fig.axes if a.get_title())
        fig.canvas.draw()
        fixed = ax.title.get_position(), ax.title.get_window_extent().y0 - ax.bbox.y1
        ax._autotitlepos = None  # matplotlib's automatic placement, as on a new axes
        fig.canvas.draw()
        (x, y), gap = ax.title.get_position(), ax.title.get_window_extent().y0 - ax.bbox.y1
        # the same place, to far below a pixel (unhinted glyph extents are fractional,
        # and the two placements add them up in another order)
        assert (x, y, gap) == pytest.approx((*fixed[0], fixed[1]), abs=1e-9)
        assert ax._autotitlepos is None  # it did run (and found nothing above the axes)


@pytest.mark.parametrize(
    ("ring", "row", "areas"),
    [
        ("split", ["0", "0x100000", "16", "NEXT", "1", "req 5"], ("available ring", "used ring")),
        (
            "packed",
            ["0", "0x100000", "16", "0", "NEXT|A", "req 5"],
            ("driver event", "device event"),
        ),
    ],
)
def test_vring_draws_either_layout_from_one_snapshot_schema(ring, row, areas):
    """One plots.vring for both layouts: the descriptor area's own fields (the split ring's
    next, the packed ring's id and AVAIL/USED flags), each descriptor's request, and the
    layout's Driver and Device Areas."""
    from virtmodel.ring import Queue

    q = Queue(4, ring=ring)
    q.add([16, 64], writable=[False, True], token=5)
    fig = plots.vring(q.snapshot())
    desc, driver, device = ([t.get_text() for t in ax.texts] for ax in fig.axes)
    assert desc[:5] == [
        "#",
        "addr",
        "len",
        *(["flags", "next"] if ring == "split" else ["id", "flags"]),
    ]
    assert desc[5:11] == row
    assert (driver[0], device[0]) == areas
