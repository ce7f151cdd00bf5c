"""The QEMU lab's shipped measurement, its calibration arithmetic and its CLI: these need
no QEMU (the book reads the shipped file)."""

import html
import json
import re

import pytest

from virtmodel import costs
from virtmodel.__main__ import main
from virtmodel.lab import qemu
from virtmodel.lab.qemu import calibrate, validate
from virtmodel.lab.qemu.experiments import Fit

FITS = {
    "null": Fit(6000.0, 700.0, (1, 4, 16, 64), 0.05),
    "io_uring": Fit(9000.0, 2000.0, (1, 4, 16, 64), 0.05),
    "threads": Fit(-500.0, 3000.0, (1, 4, 16, 64), 0.5),
}


def test_profile_splits_the_fixed_part_between_kick_and_completion():
    p = calibrate.profile_from("null", FITS, 4000.0, "QEMU x; host y")
    assert (p.notify_ns, p.signal_ns, p.virtio_ns_per_request) == (4000, 2000, 700)
    assert p.host_io_ns_per_request == p.device_ns_per_request == p.dma_map_ns_per_page == 0
    assert p.sources["notify_ns"]["status"] == "measured"
    assert "QEMU x; host y" in p.sources["signal_ns"]["source"]
    # a file back end: its extra per pass goes to the kick, its extra per request to host I/O
    u = calibrate.profile_from("io_uring", FITS, 4000.0, "w")
    assert (u.notify_ns, u.signal_ns, u.host_io_ns_per_request) == (7000, 2000, 1300)
    # an empty kick dearer than the whole fixed part: all of it is the kick's, said so
    p = calibrate.profile_from("null", FITS, 9000.0, "w")
    assert (p.notify_ns, p.signal_ns) == (6000, 0)
    # a per-pass part below null-co's (cost per request not constant) adds nothing, said so
    t = calibrate.profile_from("threads", FITS, 4000.0, "w")
    assert t.notify_ns == 4000 and "the fit gave -6500 ns" in t.sources["notify_ns"]["source"]


def _ide(accel="tcg", register=45.0):
    from virtmodel.lab.qemu.experiments import IdeGuestCost

    pts = [(n, 1e6 + register * n, (0.0,)) for n in (250_000, 500_000, 1_000_000)]
    return IdeGuestCost(accel, None, 3, {"status": pts}, {}, 0.01, register, 80.0, 30.0)


def test_a_real_guests_register_read_is_the_profiles_emulated_access():
    p = calibrate.profile_from("null", FITS, 4000.0, "QEMU x; host y", _ide())
    assert p.emulate_access_ns == 45.0
    assert p.pio_element_ns == 30.0  # one rep insw element, from the same measurement
    assert "kvm_handle_io" in p.sources["pio_element_ns"]["source"]
    src = p.sources["emulate_access_ns"]
    assert src["status"] == "measured" and "QEMU x; host y" in src["source"]
    assert "accelerator tcg" in src["source"] and "[250000, 500000, 1000000]" in src["source"]
    # without the measurement: the modern profile's assumption, its source kept
    q = calibrate.profile_from("null", FITS, 4000.0, "w")
    assert q.emulate_access_ns == costs.MODERN.emulate_access_ns
    assert q.sources["emulate_access_ns"] == costs.MODERN.sources["emulate_access_ns"]
    with pytest.raises(ValueError, match="register must be measured under TCG"):
        calibrate.profile_from("null", FITS, 4000.0, "w", _ide("kvm"))
    with pytest.raises(ValueError, match="an emulated register access fits to -3.0 ns"):
        calibrate.profile_from("null", FITS, 4000.0, "w", _ide(register=-3.0))


def test_profile_refuses_a_fit_without_a_fixed_part():
    bad = dict(FITS, null=Fit(-10.0, 700.0, (1, 4), 0.1))
    with pytest.raises(ValueError, match="null-co's fixed part of a pass fits to -10 ns"):
        calibrate.profile_from("null", bad, 4000.0, "w")


def test_charged_is_the_models_charges_at_given_counts():
    p = calibrate.profile_from("io_uring", FITS, 4000.0, "w")
    assert calibrate.charged(p, 1 / 8, 1 / 8) == pytest.approx((7000 + 2000) / 8 + 700 + 1300)


def test_the_models_kicks_follow_the_batch():
    p = calibrate.profile_from("null", FITS, 4000.0, "w")
    for batch in (2, 8, 32):
        assert validate.predict(p, batch)["kicks/request"] == pytest.approx(1 / batch, rel=0.02)


def test_shipped_measurement_is_complete():
    m = qemu.shipped()
    assert m.qemu_version.startswith("QEMU emulator version 7.2")
    assert {"cpu", "cpus", "kernel", "loadavg", "loadavg_end"} <= set(m.host)
    assert set(m.profiles) == {"null", "threads", "io_uring", "native"}
    for p in m.profiles.values():
        assert p.sources["virtio_ns_per_request"]["status"] == "measured"
        assert m.qemu_version in p.sources["virtio_ns_per_request"]["source"]
    batches = {r.params["batch"] for r in m.rows}
    assert batches == set(validate.VALIDATION_BATCHES)
    assert not batches & set(validate.CALIBRATION_BATCHES)
    kicks = [r for r in m.rows if r.quantity == "kicks/request"]
    assert kicks and all(abs(r.error) < 0.15 for r in kicks)
    # QEMU: one interrupt per pass; the model's back end (its pass as QEMU's): the same
    irqs = [r for r in m.rows if r.quantity == "interrupts/request" and r.params["event_idx"]]
    assert all(r.measured == pytest.approx(1 / r.params["batch"]) for r in irqs)
    assert all(r.predicted == pytest.approx(1 / r.params["batch"], rel=0.02) for r in irqs)
    # the targets on the grid not used for calibration: counts within 15 %, CPU
    # per request within 25 % (medians)
    assert m.median_error("kicks") <= validate.COUNT_TARGET
    assert m.median_error("interrupts") <= validate.COUNT_TARGET
    assert m.median_error("back-end") <= validate.CPU_TARGET


def test_shipped_guest_timings_feed_the_profiles():
    """The real guest's register read under TCG is every lab profile's emulated access,
    labelled with QEMU's version and the accelerator; KVM's figure (this host's, whole
    exits) is recorded beside it, far dearer; a burst's EventIdx is its tail throughout."""
    m = qemu.shipped()
    (tcg,) = m.experiments["ide_guest/tcg"]["results"]
    assert 0 < tcg["pio_element_ns"] < tcg["register_ns"] < tcg["command_ns"]
    for p in m.profiles.values():
        assert p.emulate_access_ns == tcg["register_ns"]
        src = p.sources["emulate_access_ns"]["source"]
        assert m.qemu_version in src and "accelerator tcg" in src
    kvm = m.experiments["ide_guest/kvm"]
    if kvm["results"]:
        assert kvm["results"][0]["register_ns"] > 10 * tcg["register_ns"]
    else:
        assert kvm["why"]
    for a in m.experiments["nvme_adds"]["results"]:
        n = a["burst"] + a["extra"]
        assert all(len(r) == n and r[-1] == n for r in a["eventidx_written"])
        if not a["extra"]:
            assert all(set(r) == {n} for r in a["eventidx_written"])


def test_a_saved_measurement_is_held_against_todays_model():
    """What QEMU did stays as recorded; the predictions are the model's as it is now."""
    saved = json.loads(validate.SHIPPED.read_text())["rows"]
    m = validate.shipped()
    assert [r.measured for r in m.rows] == [r["measured"] for r in saved]
    r = m.rows[0]
    p = m.profiles[r.params["backend"]]
    want = validate.predict(p, r.params["batch"], event_idx=r.params["event_idx"])
    assert r.predicted == want[r.quantity]
    assert json.loads(validate.SHIPPED.read_text())["command"].startswith(
        "python -m virtmodel lab qemu"
    )


def test_cli_prints_the_shipped_measurement(capsys):
    assert main(["lab", "qemu", "--shipped"]) == 0
    out = capsys.readouterr().out
    assert "shipped measurement: QEMU emulator version 7.2" in out
    assert "median |error| of back-end" in out and "interrupts/request" in out
    assert "median |error| of the model's back-end costs at QEMU's counts" in out


def test_cli_json_is_only_for_the_qemu_lab(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["lab", "--shipped", "--json", str(tmp_path / "x.json")])
    assert e.value.code == 2
    assert "--json is for 'lab qemu'" in capsys.readouterr().err


def test_run_checks_its_parameters():
    with pytest.raises(ValueError, match=r"passes must be in 1\.\.1000, got 0"):
        qemu.run(passes=0)
    with pytest.raises(ValueError, match=r"repeats must be in 1\.\.50, got 99"):
        qemu.run(repeats=99)


def test_shipped_profiles_are_not_kvm_lab_profiles():
    """The QEMU lab's file is not a KVM lab measurement (costs.SHIPPED reads lab-*.json)."""
    assert all(not str(p.name).startswith("qemu-lab") for p in costs.SHIPPED.values())


def test_cpu_rows_carry_the_models_costs_at_qemus_counts():
    m = qemu.shipped()
    cpu = [r for r in m.rows if r.quantity == "back-end ns/request"]
    assert len(cpu) == 16
    for r in cpu:
        p = m.profiles[r.params["backend"]]
        assert r.at_qemu_counts == pytest.approx(
            calibrate.charged(p, 1 / r.params["batch"], 1 / r.params["batch"])
        )


def test_the_figure_draws_qemu_and_the_model():
    m = qemu.shipped()
    fig = qemu.figure(m)
    cpu, wake, irq = fig.axes
    assert cpu.get_xlabel() == "requests per kick" and wake.get_xscale() == "log"
    assert irq.get_ylabel() == "interrupts per request"
    # one set of points and one model line per back end, the polling and main-loop marks
    assert len(cpu.lines) == 2 * 4 + 2 + 1
    assert qemu.picture(m).data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_lab_page_shows_the_qemu_lab_from_the_shipped_measurement(built_site):
    site, _ = built_site
    page = (site / "book" / "lab.html").read_text()
    section = page.split('<section id="qemu-s-own-back-end-measured-here">')[1]
    section = section.split('<div class="prev-next-area">')[0]
    figure = section.split("The fixed part is a wake-up")[0]
    assert "<img" in figure  # the figure
    text = html.unescape(re.sub(r"<[^>]+>", "", section))
    m = qemu.shipped()
    assert m.qemu_version in text and "load average" in text
    assert "median |error| of the model's back-end costs at QEMU's counts" in text
    assert "shadow-doorbells:" in text and "tcg: status register read" in text
    assert "MMIO doorbells per added command" in text and "emulate_access_ns" in text
