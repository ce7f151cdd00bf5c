"""Explorers driven headlessly: move a control, check the figure's data against the models.

Setting an ipywidgets control's ``value`` runs its observers synchronously, without a
kernel, so these tests exercise exactly the callback a reader's slider triggers.
"""

import io
import json
import re

import numpy as np
import pytest
from figures import assert_same_figure

from virtmodel import exit_tax, explore, trap
from virtmodel.explore import core, emulated, static
from virtmodel.explore.core import REQUESTS
from virtmodel.paths import simulate

pytestmark = pytest.mark.slow  # curves of thousands of requests: too slow with the JIT off


def _line(ax, label):
    for ln in ax.get_lines():
        if ln.get_label() == label:
            return ln
    raise AssertionError(f"no line {label!r} in {[ln.get_label() for ln in ax.get_lines()]}")


def _vlines(ax):
    return sorted(
        {
            float(ln.get_xdata()[0])
            for ln in ax.get_lines()
            if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == ln.get_xdata()[1]
        }
    )


def test_batching_slider_redraws_with_the_models_numbers():
    ex = explore.explore_batching()
    box = ex.widget()
    png_before = box.children[-1].value
    ex.controls["depth"].value = 16
    want = simulate(
        "virtio", batch=16, queue_size=256, event_idx=True, request_bytes=4096, requests=REQUESTS
    )
    got = ex.data["virtio"]
    assert got.exits_per_request == want.exits_per_request
    assert got.us_per_request == want.us_per_request
    exits_ax = ex.figure.axes[0]
    line = _line(exits_ax, "virtio (QEMU)")
    i = list(line.get_xdata()).index(16)
    assert line.get_ydata()[i] == pytest.approx(want.exits_per_request)
    assert _vlines(exits_ax) == [16.0]  # the marker moved to the new batch
    assert box.children[-1].value != png_before  # the image the reader sees was redrawn
    assert "closed-loop batches of 16" in ex.figure.get_suptitle()
    ex.controls["workload"].value = "iodepth"
    assert ex.data["virtio"] == simulate(
        "virtio", iodepth=16, request_bytes=4096, requests=REQUESTS
    )
    ex.controls["interrupt_mode"].value = "legacy"
    got = ex.data["virtio"]
    assert got == simulate(
        "virtio", iodepth=16, request_bytes=4096, requests=REQUESTS, interrupt_mode="legacy"
    )
    assert got.exits_by_reason["eoi"] > 0 and "eoi" in ex.figure.get_suptitle()


def test_batching_secondary_knobs_change_the_curves():
    """EVENT_IDX changes virtio's exits where requests arrive while QEMU's pass runs (fio's
    iodepth: without it the guest kicks each one the back end's flag does not hold off);
    in closed batches each batch is one pass, one kick and one interrupt either way, as the
    QEMU lab measured on QEMU itself."""
    ex = explore.explore_batching()
    ex.widget()
    ex.controls["workload"].value = "iodepth"
    y_on = _line(ex.figure.axes[0], "virtio (QEMU)").get_ydata().copy()
    ex.controls["event_idx"].value = False
    y_off = _line(ex.figure.axes[0], "virtio (QEMU)").get_ydata()
    assert not np.array_equal(y_on, y_off)
    want = simulate("virtio", iodepth=4, event_idx=False, requests=REQUESTS, request_bytes=4096)
    assert y_off[2] == pytest.approx(want.exits_per_request)  # BATCHES[2] == 4
    ex.controls["workload"].value = "batch"
    on, off = (
        simulate("virtio", batch=16, event_idx=e, requests=REQUESTS, request_bytes=4096)
        for e in (True, False)
    )
    assert on.kicks_per_request == off.kicks_per_request == pytest.approx(1 / 16)


def test_batch_larger_than_queue_is_explained_not_clamped():
    ex = explore.explore_batching()
    ex.update(queue_size=64, depth=128)
    assert ex.data == {"error": "depth > queue_size"}
    text = " ".join(t.get_text() for ax in ex.figure.axes for t in ax.texts)
    assert "128 requests in flight do not fit a queue of 64" in text
    ex.update(depth=16)
    assert ex.data["virtio"].params["batch"] == 16


def test_dma_size_slider_and_crossover():
    ex = explore.explore_dma_size()
    ex.widget()
    ex.controls["request_bytes"].value = 65536
    for mode in trap.DATA_MODES:
        seq = emulated.ide_sequence(mode)
        want = simulate("emulated", data_mode=mode, request_bytes=65536, requests=REQUESTS, **seq)
        assert ex.data["at"][mode].us_per_request == want.us_per_request
        assert ex.data["at"][mode].exits_per_request == trap.counts(65536, mode, **seq).exits
    assert 65536.0 in _vlines(ex.figure.axes[0])
    read = ex.data["crossover"]
    ex.controls["direction"].value = "write"
    write = ex.data["crossover"]
    # rep outs moves 4 bytes per exit, rep ins a KiB: DMA pays off far sooner for writes
    assert write is not None and read is not None and write < read
    assert write == trap.crossover_bytes(
        emulated.DMA_SIZES,
        slow=dict(data_mode="string-pio", **emulated.ide_sequence("string-pio")),
        fast=dict(data_mode="dma", **emulated.ide_sequence("dma")),
        direction="write",
    )


def test_trap_path_toggles_data_mode():
    ex = explore.explore_trap_path()
    ex.widget()
    ex.controls["data_mode"].value = "pio"
    c = trap.counts(4096, "pio")
    assert ex.data["counts"] == c
    assert f"{c.exits} VM exits" in ex.figure.axes[0].get_title()
    ex.controls["request_bytes"].value = 64
    assert ex.data["counts"].data_exits == 16


def test_exit_tax_curve_follows_the_cost_slider():
    ex = explore.explore_exit_tax()
    ex.widget()
    ex.controls["us_per_exit"].value = 2
    line = _line(ex.figure.axes[0], "2 µs per exit")
    assert np.allclose(line.get_ydata(), 100 * exit_tax.guest_speed(line.get_xdata(), 2000))
    emu = simulate("emulated", request_bytes=4096, requests=REQUESTS)
    # the generic emulated device and libata's IDE disk are named apart, each with its exits
    label, rate = ex.data["markers"][1]
    assert label.startswith("generic emulated device, DMA: 6 exits/request")
    assert rate == pytest.approx(emu.exits_per_request * 50_000)
    label, rate = ex.data["markers"][0]
    assert label.startswith("IDE disk (libata), DMA: 27 exits/request")
    legend = [t.get_text() for t in ex.figure.axes[0].get_legend().get_texts()]
    assert any(t.startswith("IDE disk (libata), DMA: 27 exits/request") for t in legend)


def test_breakdown_and_request_size_match_simulate():
    ex = explore.explore_breakdown()
    ex.widget()
    ex.controls["request_bytes"].value = 65536
    r = ex.data["results"]["virtio-blk, 1 per kick"]
    assert r == simulate("virtio", request_bytes=65536, batch=1, requests=REQUESTS)
    bars = ex.figure.axes[0].patches
    assert sum(b.get_width() for b in bars) > 0
    ex2 = explore.explore_request_size()
    ex2.widget()
    ex2.controls["batch"].value = 64
    c = ex2.data["curves"]["virtio"]
    assert c.results[0] == simulate(
        "virtio", request_bytes=256, batch=64, requests=core.MEAN_REQUESTS
    )


def test_vring_tour_steps_and_event_idx():
    ex = explore.vring_tour()
    ex.widget()
    ex.controls["step"].value = 10
    step = ex.data["step"]
    assert step.action == "kick_prepare()" and "No" in step.caption
    assert step.snapshot["areas"]["driver"]["avail_idx"] == 4
    assert step.snapshot["areas"]["device"]["used_idx"] == 1
    from virtmodel.tour import ring_tour

    second_irq = [i for i, s in enumerate(ring_tour()) if s.action == "should_interrupt()"][1]
    ex.controls["step"].value = second_irq
    off = ex.data["step"].caption
    ex.controls["event_idx"].value = True
    on = ex.data["step"].caption
    assert "Yes" in off and "No" in on  # EVENT_IDX: the driver has not re-armed used_event


def test_knob_values_are_checked():
    ex = explore.explore_request_size()
    with pytest.raises(ValueError, match=r"batch must be one of 1, 4, 16, 64; got 3"):
        ex.update(batch=3)
    with pytest.raises(ValueError, match=r"no knob 'queue_size'; it has batch"):
        ex.update(queue_size=64)


def _rgb(png: bytes):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_player_covers_every_combination_once_with_what_update_draws(tmp_path):
    """The grid of all knobs, rendered in forked workers, each drawing its frames one after
    another on one reused figure: one frame per combination, each the explorer's drawing of
    that state pixel for pixel as a new figure draws it (so no frame depends on the frames
    drawn before it), within 2/255 of plain Agg's pixels (virtmodel.explore.render), and what
    ``update(**state)`` draws, artist by artist (a live figure keeps its first layout);
    stored once per distinct frame.  The narrow frames likewise."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ex = explore.explore_trap_path()
    store = static.FrameStore(tmp_path / "frames", "../_frames/")
    m = static.render_grid(ex, store, processes=2)
    combos = static.combinations(ex.knobs)
    assert len(combos) == len(set(combos)) == len(m.frames) == 3 * 5 * 2  # mode, size, direction
    assert combos[0] == ("pio", 64, "read") and combos[-1] == ("dma", 65536, "write")
    assert len(m.narrow) == len(combos) and not set(m.narrow) & set(m.frames)
    assert ex.state == {"data_mode": "dma", "request_bytes": 4096, "direction": "read"}
    for combo in combos:
        state = dict(zip(("data_mode", "request_bytes", "direction"), combo))
        assert m.frames[m.index(state)] == m.frame(**state)
        new = static.pixels(ex, state)  # a new figure of its own
        assert store.get(m.frame(**state)) == static.encode(new), state
        if combos.index(combo) % 6 == 0:  # a few (every order: the next test)
            assert store.get(m.narrow[m.index(state)]) == static.encode(
                static.pixels(ex, state, narrow=True)
            ), state
        fresh = Figure(figsize=ex.figsize, dpi=ex.dpi, layout="constrained")
        FigureCanvasAgg(fresh)
        ex.draw(fresh, **state)
        fresh.canvas.draw()
        rgb = np.asarray(fresh.canvas.buffer_rgba())[..., :3]
        assert new.shape == rgb.shape and np.abs(new.astype(int) - rgb).max() <= 2, state
        ex.update(**state)
        assert_same_figure(ex.figure, fresh, state)
    assert sorted(p.name for p in store.folder.iterdir()) == sorted(set(m.frames + m.narrow))
    # drawn as wide as the column that shows them
    assert {w for w, _ in m.sizes} == {core.COLUMN_PX}
    # the phone's frames: the same drawing as wide as a phone's column at 1.5 times the dpi
    want = round(static.NARROW_FIGSIZE[0] * 1.5 * ex.dpi)
    assert want == 1.5 * core.PHONE_COLUMN_PX and {w for w, _ in m.narrow_sizes} == {want}
    narrow = static.decode(store.get(m.narrow[0]))
    assert narrow.shape[1] == want


def test_a_reused_figure_draws_each_frame_as_a_new_one_in_any_order():
    """The explorers whose drawings keep the most between frames (artists updated in
    place, direct labels placed at each draw, three panels): frames drawn one after
    another on one figure, in a shuffled order, are each the same pixels as on a new
    figure."""
    import random

    for ex in (explore.explore_batching(), explore.explore_exit_tax(), explore.vring_tour()):
        combos = static.combinations(ex.knobs)
        states = [
            dict(zip([k.name for k in ex.knobs], c)) for c in random.Random(7).sample(combos, 4)
        ]
        for narrow in (False, True):
            paint = static.Painter(ex, narrow)
            for state in states:
                got = paint(state)
                assert np.array_equal(got, static.pixels(ex, state, narrow)), (
                    ex.title,
                    narrow,
                    state,
                )


def test_identical_frames_are_stored_once(tmp_path):
    """Knob values that draw the same picture share one file (content-addressed)."""

    def draw(fig, a, b):
        ax = fig.axes[0] if fig.axes else fig.subplots()
        ax.clear()
        ax.set_title(f"a={a}")  # b does not change the picture
        return {}

    ex = explore.Explorer(
        "t",
        (explore.Knob("a", "a", (1, 2, 3), 1), explore.Knob("b", "b", ("x", "y"), "x")),
        draw,
        figsize=(2, 1),
    )
    store = static.FrameStore(tmp_path, "")
    m = static.render_grid(ex, store, processes=1)
    assert len(m.frames) == 6 and len(set(m.frames)) == 3 and len(set(m.narrow)) == 3
    assert m.frame(a=2, b="x") == m.frame(a=2, b="y") != m.frame(a=3, b="x")
    assert len(list(tmp_path.iterdir())) == 3 + 3


def test_frames_are_a_256_colour_palette_close_to_the_drawing():
    ex = explore.explore_batching()
    rgb = _rgb(ex.png())
    data = static.encode(rgb)
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    back = static.decode(data)
    assert back.shape == rgb.shape
    assert len(np.unique(back.reshape(-1, 3), axis=0)) <= 256
    # antialiasing snapped, no more: under 0.7/255 on average for the batching frame's
    # ~2,900 colours (eight paths' lines, and a dot on each where the depth is marked;
    # 0.64 since the back ends' passes reshaped the curves)
    assert np.abs(back.astype(int) - rgb).mean() < 0.7
    assert static.encode(rgb) == data and static.frame_name(data).endswith(".webp")
    with pytest.raises(ValueError, match="rgb must be a height x width x 3 uint8 array"):
        static.encode(rgb[..., 0])


def test_player_has_a_control_per_knob_like_the_live_form(tmp_path):
    """Same labels and values as the ipywidgets form, same choice of slider or buttons;
    the default frame is a real <img src>, the rest are looked up in the frame table."""
    ex = explore.explore_breakdown()
    live = ex.widget()
    html = ex.player_html(static.FrameStore(tmp_path, "@@x@@/"))
    root = html[html.index('<div class="vm-player"') :]
    knobs = re.findall(r'<div class="vm-knob" data-knob="(\d)">(.*?)</div>', root)
    assert [int(k[0]) for k in knobs] == [0, 1]
    size, batch = knobs[0][1], knobs[1][1]
    assert 'type="range"' in size and 'max="4"' in size and 'value="1"' in size  # 4 KiB
    assert "<output" in size and ">4 KiB</output>" in size and "<button" not in size
    assert re.findall(r"<button[^>]*>([^<]*)</button>", batch) == ["1", "4", "16", "64"]
    assert 'aria-pressed="true">1</button>' in batch and 'type="range"' not in batch
    assert [c.description for c in live.children[1:-2]] == [k.label for k in ex.knobs]
    assert [type(c).__name__ for c in live.children[1:-2]] == ["SelectionSlider", "ToggleButtons"]
    data = json.loads(re.search(r'class="vm-player-data">(.*?)</script>', root).group(1))
    assert [k["labels"] for k in data["knobs"]] == [[k.fmt(v) for v in k.values] for k in ex.knobs]
    assert [k["label"] for k in data["knobs"]] == ["request size", "virtio/native batch"]
    assert len(data["frames"]) == 5 * 4 and data["url"] == "@@x@@/"
    assert data["start"] == [1, 0]
    default = data["names"][data["frames"][1 * 4 + 0]]
    assert re.search(rf'<img class="vm-frame" src="@@x@@/{default}"', root)
    assert "data:image" not in html  # frames are files, fetched when asked for
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(data["names"])
    assert len(data["narrow"]) == 5 * 4
    assert re.search(
        rf'<source media="{re.escape(static.NARROW_MEDIA)}" srcset="@@x@@/'
        rf'{data["names"][data["narrow"][4]]}"',
        root,
    )
    assert ex.state == {"request_bytes": 4096, "batch": 1}


def test_narrow_frames_stack_panels_and_wrap_titles():
    """A phone's frame of a three-panel explorer: the panels one under another, each the
    figure's width but the curves' labels beside the last (the column of names the
    lines at their ends), the long title wrapped within it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ex = explore.explore_batching()
    fig = Figure(figsize=static.NARROW_FIGSIZE, layout="constrained")
    FigureCanvasAgg(fig)
    ex.draw(fig, **ex.state)
    title = fig.get_suptitle()
    static.fit_narrow(fig)
    fig.canvas.draw()
    boxes = [ax.get_position() for ax in fig.axes]
    assert len(boxes) == 3
    fig_box = fig.bbox
    (labels,) = fig.axes[-1].artists
    names = labels.get_window_extent(fig.canvas.get_renderer())
    assert fig_box.x0 <= names.x0 and names.x1 <= fig_box.x1
    assert len({(round(b.x0, 6), round(b.width, 6)) for b in boxes}) == 1  # one column
    # each panel as wide as the figure less the y axis' labels and the names' column
    assert boxes[0].width * fig_box.width > fig_box.width - names.width - 110
    assert boxes[0].y0 > boxes[1].y1 and boxes[1].y0 > boxes[2].y1  # stacked, in order
    assert fig.get_suptitle().replace("\n", " ") == title.replace("\n", " ")
    assert "\n" in fig.get_suptitle()  # wrapped to the phone's width
    assert fig.get_figheight() >= 3 * static.PANEL_HEIGHT
    sup = fig._suptitle.get_window_extent()
    assert sup.x0 >= 0 and sup.x1 <= fig.bbox.width  # the wrapped title fits


def test_stacked_bar_panels_each_name_their_rows():
    """Side by side, the "which path" bars name each row once, left of the first panel;
    stacked on a phone, every panel names its rows (else only the colours would tell)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from virtmodel.paths import REGISTRY

    ex = explore.explore_which_path()
    wide = [[t.get_text() for t in ax.get_yticklabels()] for ax in ex.figure.axes]
    names = [p.label for p in REGISTRY.values()]
    assert wide[0] == names and not any(map(any, wide[1:]))
    fig = Figure(figsize=static.NARROW_FIGSIZE, layout="constrained")
    FigureCanvasAgg(fig)
    ex.draw(fig, **ex.state)
    static.fit_narrow(fig)
    assert [[t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes] == [names] * 3


def test_tour_draws_its_own_narrow_layout(tmp_path):
    ex = explore.vring_tour()
    m = static.render_grid(ex, static.FrameStore(tmp_path, ""), processes=2)
    assert len(m.narrow) == len(m.frames) == len(ex.knobs[0].values) * 2
    w, h = m.narrow_sizes[0]
    assert w < h and (w, h) == (
        round(ex.narrow[0] * ex.dpi * 1.5),
        round(ex.narrow[1] * ex.dpi * 1.5),
    )
    assert not set(m.narrow) & set(m.frames)
    fig = static.Figure(figsize=ex.narrow, layout="constrained")
    ex.draw(fig, step=3, event_idx=False)
    desc, avail, used = fig.axes  # the descriptor table above the two rings
    assert desc.get_position().y0 > avail.get_position().y1
    assert abs(avail.get_position().y0 - used.get_position().y0) < 1e-9


def test_player_outside_a_build_inlines_its_frames(monkeypatch):
    monkeypatch.delenv(static.FRAMES_DIR_ENV, raising=False)
    ex = explore.explore_request_size()
    html = ex.player_html()
    assert re.search(r'<img class="vm-frame" src="data:image/webp;base64,', html)
    assert ex.state == {"batch": 16}
    monkeypatch.setenv("VIRTMODEL_STATIC", "1")
    assert set(ex._repr_mimebundle_()) == {"text/html", "text/plain"}
    monkeypatch.delenv("VIRTMODEL_STATIC")
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


@pytest.mark.parametrize("raw", ["0", "two", "-1"])
def test_frame_workers_setting_is_checked(monkeypatch, raw):
    monkeypatch.setenv(static.WORKERS_ENV, raw)
    with pytest.raises(
        ValueError,
        match=rf"VIRTMODEL_FRAME_WORKERS must be a whole number "
        rf">= 1, got '{raw}'",
    ):
        static.workers()


def test_device_catalogue_counts_follow_the_registers():
    rows = explore.device_catalogue().rows
    ide = next(r for r in rows if r["hardware"] == "IDE disk (ata_piix, PIO)")
    # libata: 13 accesses to issue, 6 in the handler, one rep insl per 512 B sector; the HLT
    assert ide["exits"] == 13 + 6 + 8 + 1
    assert ide["copied_bytes"] == 2 * 4096
    e1000 = next(r for r in rows if r["operation"].startswith("send one 1500 B frame"))
    assert e1000["user_exits"] == 6  # TDT, ICR, IMC, STATUS, IMS, STATUS
    nvme = [r for r in rows if r["path"] == "nvme"]
    assert [r["user_exits"] for r in nvme] == [2, 2]  # QD1: both doorbells, shadow or not
    html = explore.device_catalogue()._repr_html_()
    assert html.count("<tr>") == len(rows) + 1


def test_lab_explorer_draws_the_models_prediction_for_each_cell():
    from virtmodel.lab import validate

    rep = explore.measure_your_machine()
    ex = rep.explorer
    ex.widget()
    ex.controls["request_bytes"].value = 65536
    m = rep.measurement
    for row in ex.data["rows"]:
        r = next(
            x
            for x in m.results
            if x.experiment == row.experiment
            and x.params["request_bytes"] == 65536
            and row.knob == x.params.get("batch", x.params.get("registers"))
        )
        assert row.predicted_us == pytest.approx(validate.predict(r, m.profile).us_per_request)
        assert row.measured_us == r.us_per_request
    ex.controls["costs_from"].value = "modern"
    assert ex.data["profile"].name == "modern"
    line = _line(ex.figure.axes[0], "model (the modern host's published costs)")
    want = simulate(
        "virtio",
        batch=64,
        request_bytes=65536,
        requests=20_000,
        ioeventfd=False,
        interrupts=False,
        event_idx=False,
        queue_size=256,
        notify_by="pio",
        device_type="net",
        profile="modern",
    )
    assert line.get_ydata()[-1] == pytest.approx(want.us_per_request)


def test_lab_report_without_kvm_shows_why_and_offers_no_button(monkeypatch):
    from virtmodel.lab import kvm

    monkeypatch.setattr(
        kvm, "probe", lambda *a, **k: kvm.Probe(False, "no /dev/kvm here", None, None)
    )
    monkeypatch.setattr("virtmodel.lab.probe", kvm.probe)
    rep = explore.measure_your_machine()
    assert not rep.live
    box = rep.widget()
    texts = [c.value for c in box.children if hasattr(c, "value") and isinstance(c.value, str)]
    assert any("The lab cannot run here: no /dev/kvm here." in t for t in texts)
    assert not any(getattr(c, "description", "").startswith("Measure") for c in box.children)


@pytest.mark.kvm
@pytest.mark.skipif(not __import__("virtmodel.lab").lab.probe().usable, reason="KVM not usable")
def test_lab_report_button_measures_this_machine():
    rep = explore.measure_your_machine(
        repeats=1,
        batches=(4,),
        sizes=(64,),
        registers=(1,),
        requests=200,
        emulated_requests=50,
        ops=200,
    )
    assert rep.live and not rep.here
    rep.widget()
    assert not rep.button.disabled
    rep.button.click()
    assert rep.here and "Measured on this machine just now" in rep.explorer.figure.get_suptitle()
    # virtio, virtio+irq, virtio+iothread at batch 4, then the emulated device
    assert [r.measured_user_exits for r in rep.measurement.rows()] == [0.25, 0.25, 0.0, 1.0]
    assert rep.button.disabled and rep.progress.value == "done"
    assert "cells of this machine" in rep.status()


EXPLORERS = {
    "exit_tax": explore.explore_exit_tax,
    "trap_path": explore.explore_trap_path,
    "dma_size": explore.explore_dma_size,
    "breakdown": explore.explore_breakdown,
    "vring_tour": explore.vring_tour,
    "packed_tour": lambda: explore.vring_tour(ring="packed"),
    "batching": explore.explore_batching,
    "request_size": explore.explore_request_size,
    "lab": lambda: explore.measure_your_machine().explorer,
    **{
        f.__name__: f
        for f in (
            explore.explore_ioeventfd,
            explore.explore_backends,
            explore.explore_interrupts,
            explore.explore_nvme,
            explore.explore_assignment,
            explore.explore_coalescing,
            explore.explore_packed,
            explore.explore_scaling,
            explore.explore_which_path,
        )
    },
}


@pytest.mark.parametrize("name", EXPLORERS)
def test_every_line_in_a_legend_can_be_told_from_the_others(name):
    """Two curves of one path (ioeventfd on and off, four interrupt modes, ...) share its
    colour, so they must differ in line style or marker; and two different things may
    not look the same."""
    from matplotlib.colors import to_hex

    fig = EXPLORERS[name]().figure
    looks: dict = {}
    for ax in fig.axes:
        for ln in ax.get_lines():
            label = ln.get_label()
            if label.startswith("_"):  # not in a legend (markers, guides)
                continue
            look = (to_hex(ln.get_color()), ln.get_linestyle(), ln.get_marker())
            assert looks.setdefault(look, label) == label, (
                f"{label!r} and {looks[look]!r} are drawn alike: {look}"
            )


@pytest.mark.parametrize("name", EXPLORERS)
def test_a_live_redraw_shows_what_a_fresh_figure_would(name):
    """Live redraws reuse the figure's axes and update its artists in place (figures.panels,
    the figure kinds' update) and draw through kept glyphs and axis layers
    (virtmodel.explore.render): every value of every knob, reached from another value,
    must draw what a brand-new figure draws for it, and the image the reader gets must be
    what matplotlib's own Agg draws for the live figure."""
    import io

    from figures import assert_same_pixels, plain_pixels
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    ex = EXPLORERS[name]()
    box = ex.widget()
    moves = [(k.name, v) for k in ex.knobs for v in k.values[1:] + k.values[:1]]
    if name == "batching":  # into the "does not fit" message and back out again
        moves += [("queue_size", 64), ("depth", 128), ("depth", 16), ("queue_size", 256)]
    if name in ("vring_tour", "packed_tour"):
        moves = moves[::3] + [("step", 0)]
    for knob, v in moves:
        ex.controls[knob].value = v
        shown = np.asarray(Image.open(io.BytesIO(box.children[-1].value)).convert("RGB"))
        assert_same_pixels(shown, plain_pixels(ex.figure), (knob, v, ex.state))
        fresh = Figure(figsize=ex.figsize, layout="constrained")
        FigureCanvasAgg(fresh)
        ex.draw(fresh, **ex.state)
        assert_same_figure(ex.figure, fresh, (knob, v, ex.state))


def test_the_request_size_explorer_simulates_fewer_requests_for_the_same_figure():
    """It shows only means, so it runs MEAN_REQUESTS per point: every value it draws is
    within 0.5 % of the same point run with REQUESTS."""
    ex = explore.explore_request_size()
    for batch in (1, 64):
        ex.update(batch=batch)
        shown = [r for c in ex.data["curves"].values() for r in c.results]
        assert shown and all(r.requests == core.MEAN_REQUESTS for r in shown)
        for r in shown:
            full = simulate(r.path, **{**r.params, "requests": REQUESTS})
            for m in ("us_per_request", "bytes_per_s"):
                assert getattr(r, m) == pytest.approx(getattr(full, m), rel=0.005), (
                    r.path,
                    r.params,
                    m,
                )


def test_chapter_five_explorers_draw_the_models_numbers():
    ex = explore.explore_backends()
    ex.update(depth=16)
    poll = ex.data["at"]["vhost-user, polling"]
    assert poll == simulate(
        "vhost-user",
        backend_poll=True,
        iodepth=16,
        device_type="blk",
        request_bytes=4096,
        requests=REQUESTS,
    )
    assert poll.kicks_per_request < 0.01 and "kicks per request" in ex.figure.get_suptitle()
    ex = explore.explore_assignment()
    ex.update(interrupt_mode="legacy")
    assert ex.data["share"] < 1
    ex = explore.explore_coalescing()
    ex.update(entries=8, depth=16)
    legacy = ex.data["at"]["passthrough, legacy"]
    assert legacy == simulate(
        "passthrough",
        interrupt_mode="legacy",
        coalesce_entries=8,
        coalesce_us=100,
        iodepth=16,
        requests=REQUESTS,
    )
    assert (
        legacy.interrupts_per_request
        < 0.2
        < ex.data["at"]["passthrough, legacy, off"].interrupts_per_request
    )
    assert "coalescing 8 per 100 µs" in ex.figure.get_suptitle()
    ex.update(entries=1)
    assert "coalescing off" in ex.figure.get_suptitle()
    assert ex.data["at"]["native"] == simulate("native", iodepth=16, requests=REQUESTS)
    ex = explore.explore_which_path()
    from virtmodel.paths import names

    assert list(ex.data["results"]) == list(names())
    labels = [t.get_text() for t in ex.figure.axes[0].get_yticklabels()]
    assert "native" in labels and "emulated NVMe" in labels
    # each bar's value: whole numbers from 10 up, three significant digits below
    cpu = ex.data["results"]["native"].cpu_ns_per_request / 1e3
    written = [t.get_text().strip() for ax in ex.figure.axes for t in ax.texts]
    assert cpu < 10 and f"{cpu:.3g}" in written
    assert all(len(w.replace(".", "").lstrip("0")) <= 3 for w in written if "." in w), written


@pytest.mark.parametrize("name", EXPLORERS)
def test_moving_the_main_knob_updates_the_artists_it_made(name):
    """Every explorer's figure makes its artists once (a figure kind of
    virtmodel.explore.figures, as matplotlib's blitting guide does): moving the main knob
    through its values leaves the same Line2D, Rectangle, Text and collection objects on
    the same axes, with new data."""
    ex = EXPLORERS[name]()
    ex.widget()

    def artists():
        return [
            a
            for ax in ex.figure.axes
            for a in [*ax.lines, *ax.patches, *ax.texts, *ax.collections, *ax.artists]
        ]

    axes, before = list(ex.figure.axes), artists()
    lines = [ln for ax in axes for ln in ax.lines]
    data = [ln.get_xydata().copy() for ln in lines]
    knob = ex.main
    for v in knob.values[1:]:
        ex.controls[knob.name].value = v
        assert ex.figure.axes == axes and artists() == before, (name, v)
    if lines:  # the lines moved
        assert any(
            d.shape != ln.get_xydata().shape or (d != ln.get_xydata()).any()
            for d, ln in zip(data, lines)
        ), name
