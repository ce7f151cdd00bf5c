"""The explorers tell the reader the truth at a glance: every trip of the trap timeline is
drawn, a control that does nothing says so (live and static), a marked iodepth is seen, bars
carry their values, each emulated device has its own name, and every path its own colour."""

from itertools import pairwise

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from virtmodel import explore, trap
from virtmodel.explore import figures, static
from virtmodel.paths import REGISTRY

pytestmark = pytest.mark.slow


def _boxes(fig):
    """The timeline's boxes: [(lane, x0, x1)] (each path of its collection holds the boxes
    of one lane and stage, five vertices each: four corners and the closing one)."""
    (coll,) = [c for c in fig.axes[0].collections if len(c.get_paths())]
    out = []
    for p in coll.get_paths():
        for v in p.vertices.reshape(-1, 5, 2):
            out.append((round(float(v[:4, 1].mean())), float(v[:, 0].min()), float(v[:, 0].max())))
    return out


@pytest.mark.parametrize("mode, size", [("dma", 4096), ("pio", 512), ("string-pio", 16384)])
def test_the_trap_timeline_draws_every_trip(mode, size):
    """Each VM exit and its entry is a box of its own in the CPU lane (one box per exit
    and entry of each trip to QEMU, and the HLT exit and the entry that ends the halt once
    the interrupt came), and the boxes add up to the steps' time: "5 to QEMU" shows five
    trips, not two."""
    ex = explore.explore_trap_path()
    ex.update(data_mode=mode, request_bytes=size)
    c = ex.data["counts"]
    cpu = [b for b in _boxes(ex.figure) if b[0] == list(figures.ACTORS).index("cpu")]
    assert len(cpu) == 2 * c.io_exits + 2 * c.hlt_exits
    assert f"({c.user_exits} to QEMU)" in ex.figure.axes[0].get_title().replace("\n", " ")
    steps = ex.data["steps"]
    drawn = sum(float(w.sum()) for w in (w for _, w in figures.trips(steps).values()))
    assert drawn == pytest.approx(sum(s.ns * s.count for s in steps))  # every step, every trip
    assert max(b[2] for b in _boxes(ex.figure)) == pytest.approx(trap.elapsed_ns(steps) / 1e3)


def test_a_control_that_does_nothing_is_disabled_with_the_reason_live():
    ex = explore.explore_trap_path()
    box = ex.widget()
    note = box.children[-2]  # under the controls, above the figure
    assert ex.state["data_mode"] == "dma" and ex.controls["direction"].disabled
    assert "the device moves the data itself" in note.value
    ex.controls["data_mode"].value = "string-pio"  # rep ins and rep outs differ
    assert not ex.controls["direction"].disabled and note.value == ""
    ex.controls["data_mode"].value = "pio"
    assert ex.controls["direction"].disabled and "4 bytes per exit" in note.value
    assert not ex.controls["data_mode"].disabled and not ex.controls["request_bytes"].disabled


def test_a_declared_inert_knob_draws_the_same_picture_and_the_others_do_not():
    """The reasons are true: where a knob is declared inert, each of its values draws the
    same frame; the trap path's direction does change the frame for string PIO."""
    ex = explore.explore_trap_path()
    for mode in trap.DATA_MODES:
        frames = [
            static.pixels(ex, dict(ex.state, data_mode=mode, direction=d)) for d in trap.DIRECTIONS
        ]
        same = all(np.array_equal(frames[0], f) for f in frames[1:])
        assert same == ("direction" in ex.inert(dict(ex.state, data_mode=mode))), mode
    tour = explore.vring_tour()
    for step in (0, 4, 5, 10):
        a, b = (static.pixels(tour, dict(step=step, event_idx=v)) for v in (False, True))
        assert np.array_equal(a, b) == ("event_idx" in tour.inert(dict(step=step, event_idx=False)))


@pytest.mark.parametrize(
    "name",
    ["explore_ioeventfd", "explore_backends", "explore_interrupts", "explore_nvme"],
)
def test_chapter_five_iodepth_buttons_visibly_change_the_figure(name):
    """Marking another iodepth moves a band and a dot on every curve: at least 2 % of the
    frame's pixels change (a thin dotted line alone changed under 1 %)."""
    ex = getattr(explore, name)()
    a = static.pixels(ex, dict(ex.state, depth=1))
    b = static.pixels(ex, dict(ex.state, depth=16))
    changed = np.any(a != b, axis=2).mean()
    assert changed >= 0.02, changed


def test_split_or_packed_bars_show_their_values():
    ex = explore.explore_packed()
    ax2 = ex.figure.axes[1]
    written = [t.get_text() for t in ax2.texts]
    want = [f"{r.us_per_request:.3f} µs" for r in ex.data["results"].values()]
    assert written == want


def test_each_emulated_device_has_its_own_name_with_its_exits():
    assert figures.path_label("emulated") == "generic emulated device"
    assert figures.IDE_DISK != figures.path_label("emulated")
    ex = explore.explore_nvme()
    legend = [t.get_text() for t in ex.figure.legends[0].get_texts()]
    ide = next(t for t in legend if t.startswith(figures.IDE_DISK))
    assert ide.endswith(
        f"{ex.data['at'][f'{figures.IDE_DISK}, DMA'].exits_per_request:.0f} exits/request"
    )


# Machado, Oliveira and Fernandes (2009), severity 1, on linear RGB
CVD = {
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
}


def _linear(rgb):
    c = np.asarray(rgb)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def test_every_path_has_a_colour_of_its_own_also_for_colour_blind_readers():
    """Any two paths' colours stay apart with normal vision and simulated protanopia,
    deuteranopia and tritanopia (distance in linear RGB after the simulation)."""
    colours = {name: _linear(to_rgb(p.color)) for name, p in REGISTRY.items()}
    assert len({p.color.lower() for p in REGISTRY.values()}) == len(REGISTRY)
    for vision, m in [("normal", np.eye(3)), *CVD.items()]:
        seen = {n: np.clip(np.asarray(m) @ c, 0, 1) for n, c in colours.items()}
        names = list(seen)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                d = float(np.linalg.norm(seen[a] - seen[b]))
                assert d > 0.08, (vision, a, b, round(d, 3))


def test_a_live_figure_is_laid_out_anew_when_its_drawing_changes_shape():
    """A live redraw reuses the layout of the first frame of the same arrangement and
    drawing shape (core.Explorer): curves named by a legend, then by direct labels on the
    same axes, get a layout that makes room for the labels inside the figure."""
    from virtmodel.explore.core import Explorer, Knob
    from virtmodel.sweep import compare

    cs = compare("batch", [1, 4], requests=200, paths=["virtio", "vhost"])
    long = {k: f"{k}, a label far too long to set beside the panel" for k in cs}

    def draw(fig, legend):
        figures.curves(cs, ("us_per_request",), fig, labels=long if legend else None)

    ex = Explorer("t", (Knob("legend", "legend", (True, False), True),), draw)
    ex.widget()
    ex.controls["legend"].value = False
    fig = ex.figure
    fig.canvas.draw()
    (labels,) = fig.axes[0].artists
    box = labels.get_window_extent(fig.canvas.get_renderer())
    assert box.x1 <= fig.bbox.x1 and not box.overlaps(fig.axes[0].bbox)


@pytest.mark.parametrize(
    "name", ["explore_batching", "explore_request_size", "explore_dma_size", "explore_backends"]
)
def test_the_curves_tick_labels_do_not_run_into_each_other(name):
    """Beside the curves' direct labels the panels are narrower: their x tick labels
    (batch sizes, request sizes in bytes) are thinned until none touches the next, on
    the wide frame and on the phone's."""
    ex = getattr(explore, name)()
    for narrow in (False, True):
        paint = static.Painter(ex, narrow)
        paint(dict(ex.state))
        fig = paint.figure
        r = fig.canvas.get_renderer()
        for ax in fig.axes:
            shown = [t for t in ax.get_xticklabels() if t.get_text()]
            assert len(shown) >= 3, (narrow, [t.get_text() for t in shown])
            boxes = [t.get_window_extent(r) for t in shown]
            for a, b in pairwise(boxes):
                assert a.x1 + 2 < b.x0, (narrow, [t.get_text() for t in shown])
