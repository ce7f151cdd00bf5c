"""What a reader sees in a matplotlib figure, as comparable data (for redraw tests)."""

import numpy as np
from matplotlib.colors import to_hex
from matplotlib.text import Text


def signature(fig):
    """What a reader sees in a figure, as data (positions of the axes aside: a live redraw
    reuses the layout computed for the first frame)."""
    fig.canvas.draw()  # tick labels and autoscaled limits are settled at draw time

    def ticks(axis):
        lo, hi = sorted(axis.get_view_interval())
        return [
            (round(float(t.get_loc()), 9), t.label1.get_text())
            for t in axis.get_major_ticks()[: len(axis.get_majorticklocs())]
            if lo - 1e-9 * abs(lo) <= t.get_loc() <= hi + 1e-9 * abs(hi)
        ]

    def rounded(seq):  # to 9 significant digits: a redraw that updates artists in place
        # may land a limit in another last bit (1703416.7375232754 vs ...712) than a
        # fresh figure, which computed its transforms in another order
        return [float(f"{float(v):.9g}") for v in seq]

    sig = [
        fig.get_suptitle(),
        fig.get_supxlabel(),
        [[t.get_text() for t in leg.get_texts()] for leg in fig.legends],
    ]
    for ax in fig.axes:
        leg = ax.get_legend()
        sig.append(
            dict(
                on=ax.axison,
                scales=(ax.get_xscale(), ax.get_yscale()),
                lims=rounded(ax.get_xlim() + ax.get_ylim()),
                text=(ax.get_title(), ax.get_xlabel(), ax.get_ylabel()),
                grid=(
                    any(g.get_visible() for g in ax.get_xgridlines()),
                    any(g.get_visible() for g in ax.get_ygridlines()),
                ),
                ticks=(ticks(ax.xaxis), ticks(ax.yaxis)) if ax.axison else None,
                lines=[
                    (
                        _label(ln),
                        rounded(ln.get_xdata()),
                        rounded(ln.get_ydata()),
                        to_hex(ln.get_color()),
                        ln.get_linestyle(),
                        str(ln.get_marker()),
                    )
                    for ln in ax.lines
                ],
                patches=[
                    (type(p).__name__, rounded(p.get_bbox().bounds), to_hex(p.get_facecolor()))
                    for p in ax.patches
                ],
                texts=[
                    (t.get_text(), rounded(t.get_position()), rounded(getattr(t, "xy", ())))
                    for t in ax.texts
                ],  # an annotation's position is an offset from xy
                tables=[
                    sorted(
                        (k, c.get_text().get_text(), to_hex(c.get_facecolor()))
                        for k, c in t.get_celld().items()
                    )
                    for t in ax.tables
                ],
                collections=[
                    (
                        rounded(np.ravel(c.get_offsets())),
                        [rounded(np.ravel(p.vertices)) for p in c.get_paths()],
                        [to_hex(f) for f in c.get_facecolors()],
                    )
                    for c in ax.collections
                ],
                legend=None if leg is None else [t.get_text() for t in leg.get_texts()],
                # other artists (the curves' direct labels): their texts and colours (their
                # places follow the axes' place, set aside above)
                artists=[
                    [(t.get_text(), to_hex(t.get_color())) for t in a.findobj(Text) if t is not a]
                    for a in ax.artists
                ],
            )
        )
    return sig


def _label(artist):
    """An artist's label as a reader could see it (in a legend); labels starting with an
    underscore are hidden, and matplotlib numbers unlabelled lines by when they were
    added ("_child3"), which says nothing about the picture."""
    label = artist.get_label()
    return "_" if label.startswith("_") else label


def assert_same_figure(got_fig, want_fig, context=""):
    """The two figures show the same thing, compared axes by axes and field by field so a
    failure names what differs."""
    got, want = signature(got_fig), signature(want_fig)
    assert got[:3] == want[:3], (context, "suptitle/supxlabel/figure legends", got[:3], want[:3])
    assert len(got) == len(want), (context, f"{len(got) - 3} axes, want {len(want) - 3}")
    for i, (g, w) in enumerate(zip(got[3:], want[3:])):
        bad = {k: (g[k], w[k]) for k in w if g[k] != w[k]}
        assert not bad, (context, f"axes {i}", bad)


def plain_pixels(fig):
    """The figure drawn as it stands by matplotlib's own Agg renderer (none of
    virtmodel.explore.render's kept glyphs or axis layers), RGB."""
    from matplotlib.backends.backend_agg import RendererAgg

    w, h = (round(v) for v in fig.bbox.size)
    renderer = RendererAgg(w, h, fig.dpi)
    fig.draw(renderer)
    return np.asarray(renderer.buffer_rgba())[..., :3].copy()


def assert_same_pixels(got, want, context=""):
    """Two RGB images the same up to 2/255 per channel (an axis or legend composited
    from the canvas's kept layer is blended twice where it is antialiased or
    translucent, rounding each time): a stale layer or text shows as differences of up
    to 255."""
    assert got.shape == want.shape, (context, got.shape, want.shape)
    diff = np.abs(got.astype(int) - want.astype(int))
    bad = np.argwhere(diff.max(axis=2) > 2)
    assert not len(bad), (
        context,
        (
            f"{len(bad)} pixels differ by more than 2, first at "
            f"(row, col) {tuple(bad[0])}: {got[tuple(bad[0])]} vs "
            f"{want[tuple(bad[0])]}"
        ),
    )
