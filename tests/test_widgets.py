"""Explorers driven headlessly: move a control, check the figure's data against the models.

Setting an ipywidgets control's ``value`` runs its observers synchronously, without a
kernel, so these tests exercise exactly the callback a reader's slider triggers.
"""

import re

import numpy as np
import pytest

from figures import assert_same_figure
from virtmodel import exit_tax, trap, widgets
from virtmodel.paths import simulate
from virtmodel.widgets import REQUESTS

pytestmark = pytest.mark.slow  # curves of thousands of requests: too slow with the JIT off


def _line(ax, label):
    for ln in ax.get_lines():
        if ln.get_label() == label:
            return ln
    raise AssertionError(f"no line {label!r} in {[ln.get_label() for ln in ax.get_lines()]}")


def _vlines(ax):
    return sorted({float(ln.get_xdata()[0]) for ln in ax.get_lines()
                   if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == ln.get_xdata()[1]})


def test_batching_slider_redraws_with_the_models_numbers():
    ex = widgets.explore_batching()
    box = ex.widget()
    png_before = box.children[-1].value
    ex.controls["depth"].value = 16
    want = simulate("virtio", batch=16, queue_size=256, event_idx=True, request_bytes=4096,
                    requests=REQUESTS)
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
    assert ex.data["virtio"] == simulate("virtio", iodepth=16, request_bytes=4096,
                                         requests=REQUESTS)
    ex.controls["interrupt_mode"].value = "legacy"
    got = ex.data["virtio"]
    assert got == simulate("virtio", iodepth=16, request_bytes=4096, requests=REQUESTS,
                           interrupt_mode="legacy")
    assert got.exits_by_reason["eoi"] > 0 and "eoi" in ex.figure.get_suptitle()


def test_batching_secondary_knobs_change_the_curves():
    ex = widgets.explore_batching()
    ex.widget()
    y_on = _line(ex.figure.axes[0], "virtio (QEMU)").get_ydata().copy()
    ex.controls["event_idx"].value = False
    y_off = _line(ex.figure.axes[0], "virtio (QEMU)").get_ydata()
    assert not np.array_equal(y_on, y_off)
    want = simulate("virtio", batch=4, event_idx=False, requests=REQUESTS, request_bytes=4096)
    assert y_off[2] == pytest.approx(want.exits_per_request)  # BATCHES[2] == 4


def test_batch_larger_than_queue_is_explained_not_clamped():
    ex = widgets.explore_batching()
    ex.update(queue_size=64, depth=128)
    assert ex.data == {"error": "depth > queue_size"}
    text = " ".join(t.get_text() for ax in ex.figure.axes for t in ax.texts)
    assert "128 requests in flight do not fit a queue of 64" in text
    ex.update(depth=16)
    assert ex.data["virtio"].params["batch"] == 16


def test_dma_size_slider_and_crossover():
    ex = widgets.explore_dma_size()
    ex.widget()
    ex.controls["request_bytes"].value = 65536
    for mode in trap.DATA_MODES:
        seq = widgets.ide_sequence(mode)
        want = simulate("emulated", data_mode=mode, request_bytes=65536, requests=REQUESTS,
                        **seq)
        assert ex.data["at"][mode].us_per_request == want.us_per_request
        assert ex.data["at"][mode].exits_per_request == trap.counts(
            65536, mode, accesses_per_request=seq["accesses_per_request"],
            dma_setup_accesses=seq["dma_setup_accesses"],
            handler_accesses=seq["handler_accesses"]).exits
    assert 65536.0 in _vlines(ex.figure.axes[0])
    read = ex.data["crossover"]
    ex.controls["direction"].value = "write"
    write = ex.data["crossover"]
    # rep outs moves 4 bytes per exit, rep ins a KiB: DMA pays off far sooner for writes
    assert write is not None and read is not None and write < read
    assert write == trap.crossover_bytes(
        widgets.SIZES, slow=dict(data_mode="string-pio", **widgets.ide_sequence("string-pio")),
        fast=dict(data_mode="dma", **widgets.ide_sequence("dma")), direction="write")


def test_trap_path_toggles_data_mode():
    ex = widgets.explore_trap_path()
    ex.widget()
    ex.controls["data_mode"].value = "pio"
    c = trap.counts(4096, "pio")
    assert ex.data["counts"] == c
    assert f"{c.exits} VM exits" in ex.figure.axes[0].get_title()
    ex.controls["request_bytes"].value = 64
    assert ex.data["counts"].data_exits == 16


def test_exit_tax_curve_follows_the_cost_slider():
    ex = widgets.explore_exit_tax()
    ex.widget()
    ex.controls["us_per_exit"].value = 2
    line = _line(ex.figure.axes[0], "2 µs per exit")
    assert np.allclose(line.get_ydata(), 100 * exit_tax.guest_speed(line.get_xdata(), 2000))
    emu = simulate("emulated", request_bytes=4096, requests=REQUESTS)
    rate = dict(ex.data["markers"])["emulated disk (4 KiB, DMA)"]
    assert rate == pytest.approx(emu.exits_per_request * 50_000)


def test_breakdown_and_request_size_match_simulate():
    ex = widgets.explore_breakdown()
    ex.widget()
    ex.controls["request_bytes"].value = 65536
    r = ex.data["results"]["virtio-blk, 1 per kick"]
    assert r == simulate("virtio", request_bytes=65536, batch=1, requests=REQUESTS)
    bars = ex.figure.axes[0].patches
    assert sum(b.get_width() for b in bars) > 0
    ex2 = widgets.explore_request_size()
    ex2.widget()
    ex2.controls["batch"].value = 64
    c = ex2.data["curves"]["virtio"]
    assert c.results[0] == simulate("virtio", request_bytes=256, batch=64, requests=REQUESTS)


def test_vring_tour_steps_and_event_idx():
    ex = widgets.vring_tour()
    ex.widget()
    ex.controls["step"].value = 10
    step = ex.data["step"]
    assert step.action == "kick_prepare()" and "No" in step.caption
    assert step.snapshot["avail_idx"] == 4 and step.snapshot["used_idx"] == 1
    from virtmodel.tour import ring_tour
    second_irq = [i for i, s in enumerate(ring_tour()) if s.action == "should_interrupt()"][1]
    ex.controls["step"].value = second_irq
    off = ex.data["step"].caption
    ex.controls["event_idx"].value = True
    on = ex.data["step"].caption
    assert "Yes" in off and "No" in on  # EVENT_IDX: the driver has not re-armed used_event


def test_knob_values_are_checked():
    ex = widgets.explore_request_size()
    with pytest.raises(ValueError, match=r"batch must be one of 1, 4, 16, 64; got 3"):
        ex.update(batch=3)
    with pytest.raises(ValueError, match=r"no knob 'queue_size'; it has batch"):
        ex.update(queue_size=64)


def test_player_has_one_frame_per_value_and_shows_the_default(monkeypatch):
    ex = widgets.explore_request_size()
    html = ex.player_html()
    frames = re.findall(r'<img class="vm-frame" data-label="([^"]+)"[^>]*src="([^"]+)"'
                        r' style="([^"]*)"', html)
    assert [f[0] for f in frames] == ["1", "4", "16", "64"]
    assert len({f[1] for f in frames}) == 4  # every frame differs
    visible = [f[0] for f in frames if "display:none" not in f[2]]
    assert visible == ["16"]  # the default
    assert 'max="3"' in html and 'value="2"' in html
    assert ex.state == {"batch": 16}  # rendering frames leaves the explorer as it was
    monkeypatch.setenv("VIRTMODEL_STATIC", "1")
    assert set(ex._repr_mimebundle_()) == {"text/html", "text/plain"}
    monkeypatch.delenv("VIRTMODEL_STATIC")
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


def test_device_catalogue_counts_follow_the_registers():
    rows = widgets.device_catalogue().rows
    ide = next(r for r in rows if r["hardware"] == "IDE disk (ata_piix, PIO)")
    # libata: 13 accesses to issue, 6 in the handler, one rep insl per 512 B sector; the HLT
    assert ide["exits"] == 13 + 6 + 8 + 1
    assert ide["copied_bytes"] == 2 * 4096
    e1000 = next(r for r in rows if r["operation"].startswith("send one 1500 B frame"))
    assert e1000["user_exits"] == 6  # TDT, ICR, IMC, STATUS, IMS, STATUS
    nvme = [r for r in rows if r["hardware"].startswith("NVMe")]
    assert [r["user_exits"] for r in nvme] == [2, 2]  # QD1: both doorbells, shadow or not
    html = widgets.device_catalogue()._repr_html_()
    assert html.count("<tr>") == len(rows) + 1


def test_lab_explorer_draws_the_models_prediction_for_each_cell():
    from virtmodel.lab import validate

    rep = widgets.measure_your_machine()
    ex = rep.explorer
    ex.widget()
    ex.controls["request_bytes"].value = 65536
    m = rep.measurement
    for row in ex.data["rows"]:
        r = next(x for x in m.results if x.experiment == row.experiment
                 and x.params["request_bytes"] == 65536
                 and row.knob == x.params.get("batch", x.params.get("registers")))
        assert row.predicted_us == pytest.approx(validate.predict(r, m.profile).us_per_request)
        assert row.measured_us == r.us_per_request
    ex.controls["costs_from"].value = "modern"
    assert ex.data["profile"].name == "modern"
    line = _line(ex.figure.axes[0], "model (the modern host's published costs)")
    want = simulate("virtio", batch=64, request_bytes=65536, requests=20_000,
                    ioeventfd=False, interrupts=False, event_idx=False, queue_size=256,
                    notify_by="pio", device_type="net", profile="modern")
    assert line.get_ydata()[-1] == pytest.approx(want.us_per_request)


def test_lab_report_without_kvm_shows_why_and_offers_no_button(monkeypatch):
    from virtmodel.lab import kvm

    monkeypatch.setattr(kvm, "probe", lambda *a, **k: kvm.Probe(False, "no /dev/kvm here",
                                                                  None, None))
    monkeypatch.setattr("virtmodel.lab.probe", kvm.probe)
    rep = widgets.measure_your_machine()
    assert not rep.live
    box = rep.widget()
    texts = [c.value for c in box.children if hasattr(c, "value") and isinstance(c.value, str)]
    assert any("The lab cannot run here: no /dev/kvm here." in t for t in texts)
    assert not any(getattr(c, "description", "").startswith("Measure") for c in box.children)


@pytest.mark.kvm
@pytest.mark.skipif(not __import__("virtmodel.lab").lab.probe().usable,
                    reason="KVM not usable")
def test_lab_report_button_measures_this_machine():
    rep = widgets.measure_your_machine(repeats=1, batches=(4,), sizes=(64,), registers=(1,),
                                       requests=200, emulated_requests=50, ops=200)
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
    "exit_tax": widgets.explore_exit_tax, "trap_path": widgets.explore_trap_path,
    "dma_size": widgets.explore_dma_size, "breakdown": widgets.explore_breakdown,
    "vring_tour": widgets.vring_tour, "batching": widgets.explore_batching,
    "request_size": widgets.explore_request_size,
    "lab": lambda: widgets.measure_your_machine().explorer,
}


@pytest.mark.parametrize("name", EXPLORERS)
def test_a_live_redraw_shows_what_a_fresh_figure_would(name):
    """Live redraws reuse the figure's axes (plots.panels): every value of every knob,
    reached from another value, must draw what a brand-new figure draws for it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ex = EXPLORERS[name]()
    ex.widget()
    moves = [(k.name, v) for k in ex.knobs for v in k.values[1:] + k.values[:1]]
    if name == "batching":  # into the "does not fit" message and back out again
        moves += [("queue_size", 64), ("depth", 128), ("depth", 16), ("queue_size", 256)]
    if name == "vring_tour":
        moves = moves[::3] + [("step", 0)]
    for knob, v in moves:
        ex.controls[knob].value = v
        fresh = Figure(figsize=ex.figsize, layout="constrained")
        FigureCanvasAgg(fresh)
        ex.draw(fresh, **ex.state)
        assert_same_figure(ex.figure, fresh, (knob, v, ex.state))
