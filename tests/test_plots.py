"""plots.panels reuses a figure's axes for a redraw: whatever was drawn before, the new
plot must look exactly as it would on a brand-new figure."""

from itertools import pairwise

import pytest
from figures import assert_same_figure
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

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


def _boxes(fig):
    """The direct labels' boxes (display space) of a drawn figure, by text."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    (labels,) = [a for ax in fig.axes for a in ax.artists if isinstance(a, plots.EndLabels)]
    return labels, {t.get_text(): t.get_window_extent(r) for t in labels.texts}


@pytest.mark.parametrize("narrow", [False, True])
def test_eight_curves_are_labelled_at_their_ends_apart_and_inside_the_figure(narrow):
    """Every path on a curve (virtio, vhost and vhost-user end close together): each line
    is named beside the last panel in its colour, no two names overlap, none covers a
    panel or leaves the figure, wide or stacked for a phone; no legend is left."""
    from matplotlib.colors import to_hex

    from virtmodel.explore.static import fit_narrow

    cs = compare("batch", [1, 4, 16], requests=200)
    assert len(cs) >= 8
    fig = _fresh((4.2, 6.4) if narrow else (12.6, 3.4))
    plots.curves(cs, fig=fig)
    if narrow:
        fit_narrow(fig)
    labels, boxes = _boxes(fig)
    assert not fig.legends
    assert [t.get_text().replace("\n", " ").replace("- ", "-") for t in labels.texts] == [
        plots.path_label(p) for p in cs
    ]
    assert [to_hex(t.get_color()) for t in labels.texts] == [
        to_hex(plots.path_color(p)) for p in cs
    ]
    items = list(boxes.items())
    for i, (a, box) in enumerate(items):
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, a
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, a
        for ax in fig.axes:
            assert not box.overlaps(ax.bbox), (a, ax.get_ylabel())
        for b, other in items[i + 1 :]:
            assert not box.overlaps(other), (a, b)


def test_labels_of_lines_ending_together_are_nudged_apart_in_order():
    """Three lines ending at the same point (vhost and vhost-user over virtio): their
    labels are stacked without overlap, next to the end, in a stable order."""
    from virtmodel.sweep import Curve

    cs = compare("batch", [1, 4, 16], requests=200, paths=["virtio", "vhost", "vhost-user"])
    same = {p: Curve(c.path, c.over, c.values, cs["virtio"].results) for p, c in cs.items()}
    fig = _fresh((8, 3.4))
    plots.curves(same, ("us_per_request",), fig=fig)
    _, boxes = _boxes(fig)
    stack = sorted(boxes.values(), key=lambda b: b.y0)
    for below, above in pairwise(stack):
        assert below.y1 <= above.y0
    assert [t for t, b in sorted(boxes.items(), key=lambda tb: -tb[1].y0)] == list(boxes)
    (ax,) = fig.axes
    end = ax.transData.transform((16, same["virtio"].field("us_per_request")[-1]))[1]
    tall = stack[-1].y1 - stack[0].y0  # centred on the common end, unless past the axes
    want = min(max(end - tall / 2, ax.bbox.y0), ax.bbox.y1 - tall)
    assert stack[0].y0 == pytest.approx(want) and tall < 1.1 * sum(b.height for b in stack)
    assert len({round(b.x0, 6) for b in stack}) == 1 and stack[0].x0 > ax.bbox.x1


def test_labels_too_long_to_set_beside_the_curves_make_a_legend():
    """Labels of three lines and more each (exits per request in them) cannot sit beside a
    panel: a legend under the panels names the lines, and covers none."""
    cs = compare("batch", [1, 4, 16], requests=200, paths=["virtio", "vhost"])
    long = {k: f"{plots.path_label(k)}, with a long gloss: 27 exits per request" for k in cs}
    fig = _fresh((12.6, 3.4))
    plots.curves(cs, fig=fig, labels=long)
    fig.canvas.draw()
    (leg,) = fig.legends
    assert [t.get_text() for t in leg.get_texts()] == list(long.values())
    assert not [a for ax in fig.axes for a in ax.artists]
    box = leg.get_window_extent(fig.canvas.get_renderer())
    for ax in fig.axes:
        assert not box.overlaps(ax.get_tightbbox(fig.canvas.get_renderer()))


def test_a_redraw_updates_the_artists_it_made_and_a_new_shape_makes_new_ones():
    """Each figure kind makes its artists once: a redraw with other data moves the same
    Line2D, Rectangle and Text objects (matplotlib's blitting guide); one with more lines
    (another shape) makes new ones."""
    cs = compare("batch", [1, 4, 16], requests=200)
    res = {p: c.results[1] for p, c in cs.items()}
    res2 = {p: c.results[2] for p, c in cs.items()}

    def artists(fig):
        return [
            id(a)
            for ax in fig.axes
            for a in [*ax.lines, *ax.patches, *ax.texts, *ax.collections, *ax.artists]
        ]

    kinds = [
        (lambda f, i: plots.curves(cs, fig=f, marker=[1, 4][i])),
        (lambda f, i: plots.path_bars([res, res2][i], ("us_per_request", "exits_per_request"), f)),
        (lambda f, i: plots.breakdown([res, res2][i], f, title=str(i))),
        (lambda f, i: plots.exit_tax([4000, 500][i], [1000, 16000], [("a", 2e4 * (i + 1))], f)),
        (lambda f, i: plots.timeline(trap.steps([4096, 8192][i], "dma"), f)),
    ]
    for draw in kinds:
        fig = _fresh()
        draw(fig, 0)
        before, lines = artists(fig), [ln for ax in fig.axes for ln in ax.lines]
        data = [ln.get_xydata().copy() for ln in lines]
        draw(fig, 1)
        assert artists(fig) == before  # the same objects, in the same order
        assert (
            any(
                d.shape != ln.get_xydata().shape or (d != ln.get_xydata()).any()
                for d, ln in zip(data, lines)
            )
            or not lines
        )
        want = _fresh()
        draw(want, 1)
        assert_same_figure(fig, want)
    fig = _fresh()
    plots.curves({p: cs[p] for p in list(cs)[:2]}, fig=fig)
    two = set(artists(fig))
    plots.curves(cs, fig=fig)
    assert not two & set(artists(fig))


@pytest.mark.parametrize("direct", [True, False])
def test_another_plot_on_the_same_panels_drops_the_curves_labels(direct):
    """Whichever names the curves (direct labels, or a legend when they are too long)."""
    cs = compare("batch", [1, 4], requests=200)
    res = {p: c.results[1] for p, c in cs.items()}
    labels = None if direct else {k: f"{k}, a label too long to set beside a panel" for k in cs}
    fig = _fresh()
    plots.curves(cs, ("us_per_request",), fig, labels=labels)
    plots.curves(cs, ("us_per_request",), fig, labels=labels)  # a redraw keeps its names
    assert (len(fig.legends), len(fig.axes[0].artists)) == ((0, 1) if direct else (1, 0))
    one = list(fig.axes)
    plots.breakdown(res, fig)
    assert fig.axes == one and not fig.legends and not one[0].artists  # panel reused
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


def test_spread_keeps_boxes_apart_near_their_places_and_within_bounds():
    """spread (the direct labels' nudge): boxes that fit stay where wanted; boxes wanted
    at one height are stacked around it (rounding at a bound included); boxes that need
    more room than there is are spread evenly over it."""
    assert plots.spread([10, 50], [4, 4], 0, 100) == [8, 48]
    got = plots.spread([60.77] * 3, [14.0, 14.0, 33.01], 47.67025520833332, 335.833, 1.0)
    assert got[2] == pytest.approx(47.67025520833332)  # not the even spread
    assert got[1] == pytest.approx(got[2] + 33.01 + 1) and got[0] == pytest.approx(got[1] + 15)
    assert plots.spread([5, 5, 5], [10, 10, 10], 0, 20) == [10, 5, 0]  # too tall: even


def test_variants_of_one_path_are_labelled_with_a_stretch_of_their_line():
    """Lines of one colour (one path's variants, told apart by their style): each label
    begins with a sample of its line in that style, left of its text, and the labels with
    their samples overlap neither each other nor a panel; lines of their own colours
    need no samples."""
    from virtmodel.sweep import Curve

    cs = compare("batch", [1, 4, 16], requests=200, paths=["virtio"])
    c = cs["virtio"]
    variants = {f"virtio, {k}": Curve(c.path, c.over, c.values, c.results) for k in "abc"}
    paths = dict.fromkeys(variants, "virtio")
    fig = _fresh((8, 3.4))
    plots.curves(
        variants,
        ("us_per_request", "exits_per_request"),
        fig,
        colors={k: plots.path_color("virtio") for k in variants},
        styles=plots.variant_styles(paths),
    )
    labels, _ = _boxes(fig)
    r = fig.canvas.get_renderer()
    assert len(labels.samples) == 3
    whole = []
    for ln, sample, t in zip(labels.lines, labels.samples, labels.texts):
        assert (sample.get_linestyle(), sample.get_marker()) == (
            ln.get_linestyle(),
            ln.get_marker(),
        )
        s, b = sample.get_window_extent(r), t.get_window_extent(r)
        assert s.x1 <= b.x0 and b.y0 <= s.y0 and s.y1 <= b.y1  # before its text, level
        whole.append(Bbox.union([s, b]))
    for i, a in enumerate(whole):
        assert not any(a.overlaps(ax.bbox) for ax in fig.axes)
        assert not any(a.overlaps(b) for b in whole[i + 1 :])
    fig = _fresh((8, 3.4))
    plots.curves(compare("batch", [1, 4], requests=200, paths=["virtio", "vhost"]), fig=fig)
    assert not _boxes(fig)[0].samples


@pytest.mark.parametrize("values", [(1, 2, 4, 8, 16, 32, 64), (1, 2, 4, 8, 16, 32, 64, 128)])
def test_tick_labels_are_thinned_only_as_far_as_they_must(values):
    """A column's width of three panels beside the curves' labels: the batch sizes'
    tick labels do not run into each other, and no more are left out than that needs
    (every other one at most)."""
    from virtmodel.explore.core import DPI, FRAME_WIDTH_IN

    cs = compare("batch", list(values), requests=100)
    fig = Figure(figsize=(FRAME_WIDTH_IN, 3.6), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    plots.curves(cs, fig=fig)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    for ax in fig.axes:
        shown = [t for t in ax.get_xticklabels() if t.get_text()]
        assert len(shown) >= len(values) // 2, [t.get_text() for t in shown]
        boxes = [t.get_window_extent(r) for t in shown]
        for a, b in pairwise(boxes):
            assert a.x1 < b.x0, [t.get_text() for t in shown]
