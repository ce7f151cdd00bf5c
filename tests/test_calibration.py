"""Calibration and validation, without KVM: the mapping from micro-benchmarks to costs is
exact arithmetic; each lab experiment's model twin makes the same exits; the lab's devices
verify requests; and the shipped measurement is predicted by the model with its own
calibrated profile within the target.  (The KVM runs of the same code are in test_lab.py.)
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from virtmodel import costs, paths, trap
from virtmodel.__main__ import main
from virtmodel.lab import backends, calibrate, validate
from virtmodel.lab.experiments import LabResult
from virtmodel.ring import make_virtqueue

MICRO = {
    "pio_user": 28.0,
    "mmio_user": 28.5,
    "cpuid_kernel": 3.5,
    "ioeventfd_kernel": 3.0,
    "python_loop": 2.0,
    "flavour": "pvm",
}
DEV = {
    "notify_empty": 0.5,
    "ring_request": 0.03,
    "copy_ns_per_byte": 0.05,
    "register_write": 0.25,
    "doorbell": 0.6,
    "thread_wake": 20.0,
    "queue_size": 256,
}


def test_profile_from_maps_each_cost_by_its_stated_arithmetic():
    p = calibrate.profile_from(MICRO, DEV, name="t", date="2026-11-25")
    assert p.vmexit_ns + p.kvm_exit_ns == pytest.approx(3000)  # ioeventfd_kernel
    assert p.user_exit_ns == pytest.approx((28.0 - 3.0 - 2.0) * 1e3)
    assert p.emulate_access_ns == pytest.approx((2.0 + 0.25) * 1e3)
    assert p.notify_ns == pytest.approx(500) and p.wakeup_ns == pytest.approx(20_000)
    assert p.virtio_ns_per_request == pytest.approx(30) and p.copy_ns_per_byte == 0.05
    # an exit to user space in the model costs what pio_user measured, plus the device's
    # register write
    assert p.user_io_exit_ns == pytest.approx((28.0 + 0.25) * 1e3)
    st = {r["name"]: r["status"] for r in p.table()}
    assert {k for k, v in st.items() if v == "measured"} >= {
        "vmexit_ns",
        "user_exit_ns",
        "emulate_access_ns",
        "notify_ns",
        "wakeup_ns",
        "copy_ns_per_byte",
        "virtio_ns_per_request",
    }
    assert st["guest_ns_per_request"] == "assumption"
    assert "not measured by the lab" in p.sources["irq_inject_ns"]["source"]
    assert "pvm" in p.description and "2026-11-25" in p.description


IRQ_MICRO = dict(MICRO, pio_irq=70.0, irqfd_write=1.5, irq_taken=40.0)
WAKE_DEV = dict(DEV, kernel_wake=3.0)


def test_interrupt_and_wake_costs_come_from_their_benchmarks():
    p = calibrate.profile_from(IRQ_MICRO, WAKE_DEV, name="t", date="2026-11-25")
    assert p.signal_ns == pytest.approx(1500) and p.native_irq_ns == pytest.approx(40_000)
    assert p.irq_inject_ns == 0 and p.eoi_ns == 0  # measured with the handler, as one
    assert p.sources["eoi_ns"]["status"] == "derived"
    assert "included in native_irq_ns" in p.sources["irq_inject_ns"]["source"]
    # no kick_wake (a file from before it): kernel_wake, not thread_wake's 20 µs
    assert p.wakeup_ns == pytest.approx(3000)
    assert "two pthreads of a C program" in p.sources["wakeup_ns"]["source"]
    # with it: the kick's round trip through the woken thread, less the kick's exit
    p = calibrate.profile_from(dict(IRQ_MICRO, kick_wake=11.0), WAKE_DEV)
    assert p.wakeup_ns == pytest.approx((11.0 - 3.0) * 1e3)
    assert "kick_wake 11.000 - ioeventfd_kernel 3.000 µs" in p.sources["wakeup_ns"]["source"]
    assert "kernel_wake, is 3.000 µs" in p.sources["wakeup_ns"]["source"]
    with pytest.raises(
        ValueError,
        match=r"kick_wake 2\.000 µs is not more than "
        r"ioeventfd_kernel 3\.000 µs",
    ):
        calibrate.profile_from(dict(IRQ_MICRO, kick_wake=2.0), WAKE_DEV)
    # without a C compiler there is no kernel_wake: the Python ping-pong, and it says so
    p = calibrate.profile_from(IRQ_MICRO, dict(WAKE_DEV, kernel_wake=math.nan))
    assert p.wakeup_ns == pytest.approx(20_000)
    assert "kernel_wake was not measured" in p.sources["wakeup_ns"]["source"]
    with pytest.raises(ValueError, match=r"irq_taken -0\.500 µs is not positive"):
        calibrate.profile_from(dict(IRQ_MICRO, irq_taken=-0.5), WAKE_DEV)


def test_the_kernel_wake_benchmark_times_a_thread_wake_up_in_c(tmp_path, monkeypatch):
    from virtmodel.lab import native

    us = [calibrate._kernel_wake_us(3000) for _ in range(3)]
    # a wake-up costs at least a system call and at most a scheduler tick, here or anywhere
    assert all(0.05 < u < 1000 for u in us), us
    assert native.build("wake") == native.build("wake")  # built once, then cached
    with pytest.raises(RuntimeError, match=r"failed with status 2: usage: wake N"):
        native.run("wake", 0)
    with pytest.raises(ValueError, match="no native program 'nope'"):
        native.build("nope")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing cached there
    monkeypatch.setenv("CC", "no-such-cc")
    with pytest.raises(native.NoCompiler, match="needs a C compiler .CC=no-such-cc."):
        native.build("wake")
    assert math.isnan(calibrate._kernel_wake_us(100))


def test_inconsistent_micro_benchmarks_are_refused():
    bad = dict(MICRO, pio_user=4.0)
    with pytest.raises(ValueError, match=r"pio_user 4\.000 µs is not more than"):
        calibrate.profile_from(bad, DEV)


def _lab(experiment, **params):
    return LabResult(experiment, params, "pvm", 1.0, 0.0, 0.0, 0.0, (1.0,))


@pytest.mark.parametrize("batch,n", [(1, 100), (4, 1000), (16, 1000), (64, 1000), (7, 50)])
def test_the_virtio_twin_kicks_exactly_as_the_lab_guest(batch, n):
    r = validate.predict(
        _lab("virtio", batch=batch, request_bytes=64, requests=n, queue_size=256, ioeventfd=False),
        costs.MODERN,
    )
    assert r.kicks_per_request == r.user_exits_per_request == math.ceil(n / batch) / n
    assert r.interrupts_per_request == 0


@pytest.mark.parametrize("batch,n", [(1, 100), (4, 1000), (64, 1000), (7, 50)])
def test_the_interrupt_twin_takes_one_interrupt_per_kick_without_a_delivery_exit(batch, n):
    """The back end signals inside the kick's exit, from the vCPU's own thread: the model
    injects it on the entry (no "interrupt" exit); "legacy" leaves the EOI's exit."""
    r = validate.predict(
        _lab(
            "virtio+irq",
            batch=batch,
            request_bytes=64,
            requests=n,
            queue_size=256,
            ioeventfd=False,
            interrupts=True,
            interrupt_mode="legacy",
        ),
        costs.MODERN,
    )
    kicks = math.ceil(n / batch) / n
    assert r.kicks_per_request == r.user_exits_per_request == kicks
    assert r.interrupts_per_request == kicks
    assert r.exits_by_reason == pytest.approx(
        dict(io=kicks, eoi=kicks, hlt=0, interrupt=0, other=0)
    )
    assert r.exits_per_request == pytest.approx(2 * kicks)


def test_the_interrupt_twin_follows_the_recorded_interrupt_mode():
    kw = dict(
        batch=4, request_bytes=64, requests=400, queue_size=256, ioeventfd=False, interrupts=True
    )
    legacy = validate.predict(_lab("virtio+irq", **kw, interrupt_mode="legacy"), "modern")
    posted = validate.predict(_lab("virtio+irq", **kw, interrupt_mode="posted"), "modern")
    assert legacy.exits_by_reason["eoi"] == 0.25 and posted.exits_by_reason["eoi"] == 0
    assert (
        validate.model_params(_lab("virtio+irq", **kw, interrupt_mode="legacy"))[1][
            "interrupt_mode"
        ]
        == "legacy"
    )


@pytest.mark.parametrize("batch,n", [(1, 100), (16, 1000)])
def test_the_io_thread_twin_kicks_in_the_kernel_and_polls(batch, n):
    r = validate.predict(
        _lab(
            "virtio+iothread",
            batch=batch,
            request_bytes=1500,
            requests=n,
            queue_size=256,
            ioeventfd=True,
        ),
        costs.MODERN,
    )
    kicks = math.ceil(n / batch) / n
    assert r.user_exits_per_request == 0 and r.interrupts_per_request == 0
    assert r.kicks_per_request == r.exits_per_request == pytest.approx(kicks)


def test_grid_variants_are_checked():
    cells = validate.grid_cells(
        batches=(4,), sizes=(64,), registers=(1,), requests=10, emulated_requests=10
    )
    assert [(k, p.get("ioeventfd"), p.get("interrupts")) for k, p in cells] == [
        ("virtio", False, False),
        ("virtio+irq", False, True),
        ("virtio+iothread", True, False),
        ("emulated", None, None),
    ]
    with pytest.raises(ValueError, match=r"variants must be some of \['virtio', "):
        validate.grid_cells(variants=("virtio+nope",))


@pytest.mark.parametrize("regs", [1, 3])
def test_the_emulated_twin_traps_once_per_register_and_takes_no_interrupt(regs):
    r = validate.predict(
        _lab("emulated", registers=regs, request_bytes=4096, requests=10), costs.MODERN
    )
    assert r.user_exits_per_request == r.exits_per_request == regs
    assert r.interrupts_per_request == 0


def test_emulated_without_interrupts_drops_exactly_the_halt_the_interrupt_and_its_eoi():
    kw = dict(accesses_per_request=3, dma_setup_accesses=2, interrupt_mode="legacy")
    with_irq = trap.counts(4096, "dma", **kw)
    without = trap.counts(4096, "dma", interrupts=False, **kw)
    assert with_irq.exits - without.exits == 2 and without.interrupts == 0  # HLT and EOI
    p = costs.MODERN.replace(halt_poll_ns=0.0)  # the vCPU's thread sleeps while it waits
    diff = trap.request_ns(4096, profile=p, **kw) - trap.request_ns(
        4096, profile=p, interrupts=False, **kw
    )
    # the HLT exit runs while the device works; the wake-up, the VM entry after it, the
    # interrupt and its EOI add
    assert diff == pytest.approx(
        p.wakeup_ns + p.wake_entry_ns + p.signal_ns + p.irq_inject_ns + p.native_irq_ns + p.eoi_ns
    )
    r = paths.simulate("emulated", interrupts=False, requests=10)
    assert r.interrupts_per_request == 0


def test_notify_cost_lands_once_per_doorbell_and_once_per_kick():
    p = costs.MODERN.replace(notify_ns=1000.0)
    kw = dict(accesses_per_request=1, dma_setup_accesses=0, interrupts=False)
    base = trap.request_ns(64, "dma", profile=costs.MODERN, **kw)
    assert trap.request_ns(64, "dma", profile=p, **kw) == pytest.approx(base + 1000)
    kw = dict(
        batch=4,
        requests=400,
        request_bytes=64,
        ioeventfd=False,
        interrupts=False,
        event_idx=False,
        queue_size=256,
    )
    a = paths.simulate("virtio", profile=costs.MODERN.replace(jitter_cv=0), **kw)
    b = paths.simulate("virtio", profile=p.replace(jitter_cv=0), **kw)
    assert b.elapsed_ns - a.elapsed_ns == pytest.approx(1000 * 100)  # 100 kicks


def test_ring_device_serves_what_the_host_driver_made_available():
    q, s = 16, 64
    ram = np.zeros(q * s, np.uint8)
    vq = make_virtqueue(q)
    dev = backends.RingBackend(vq, ram, s)
    for lap in range(3):  # wraps the buffers and reuses descriptors
        assert backends.fill_ring(vq, ram, 0, s, lap * q, q) == q
        assert backends.fill_ring(vq, ram, 0, s, 0, 1) == 0  # full
        assert dev.notify() and dev.error is None
    assert dev.served == 3 * q and dev.bytes_copied == 3 * q * s
    ram[0] = 0xFF  # the next request's id is corrupted
    backends.fill_ring(vq, ram, 0, s, 3 * q, 1)
    ram[0] ^= 0xFF
    ram[1] = 7
    assert not dev.notify()
    assert dev.error == "device: a request carried the wrong id"
    assert not dev.notify()  # stays stopped


def test_ring_device_rejects_a_wrong_length():
    ram = np.zeros(4096, np.uint8)
    vq = make_virtqueue(8)
    backends.fill_ring(vq, ram, 0, 64, 0, 1)
    dev = backends.RingBackend(vq, ram, 32)
    assert not dev.notify() and "wrong byte count" in dev.error


def test_register_device_checks_ports_ids_and_lengths():
    ids = np.arange(4, dtype=np.int64)
    dev = backends.RegisterBackend(ids.view(np.uint8), 8, 0x20, 0, 4, implicit_address=True)
    assert dev.write(0x22, 0) and dev.write(0x22, 1) and dev.served == 2
    assert not dev.write(0x20, 0)  # no address register when the address is implicit
    assert dev.error == "write of 0x0 to port 0x20: not a register of this device"
    dev = backends.RegisterBackend(ids.view(np.uint8), 8, 0x20, 0, 4, implicit_address=False)
    assert dev.write(0x20, 0) and dev.write(0x21, 8) and dev.write(0x22, 0)
    assert not dev.write(0x22, 0)  # rung twice with the same id
    assert dev.error.startswith("request 1: a request carried the wrong id")
    dev = backends.RegisterBackend(ids.view(np.uint8), 8, 0x20, 0, 4, implicit_address=False)
    dev.write(0x21, 16)
    assert not dev.write(0x22, 0) and "wrong byte count" in dev.error


# --- the shipped measurement -----------------------------------------------------------

needs_shipped = pytest.mark.skipif(costs.MEASURED is None, reason="no shipped measurement")


@needs_shipped
def test_the_shipped_profile_is_named_for_its_machine_and_matches_its_measurement():
    m, head = validate.shipped()
    prof = costs.PROFILES[costs.MEASURED]
    assert prof == m.profile
    assert costs.MEASURED.startswith("lab-") and head["flavour"] in costs.MEASURED
    assert head["date"] in costs.MEASURED and head["host_cpu"] in prof.description
    # the profile is what the calibration computes from the shipped micro-benchmarks alone
    again = calibrate.profile_from(m.micro, m.device, name=prof.name, date=head["date"])
    for f in costs.cost_fields():
        if prof.sources[f.name]["status"] == "measured" and f.name != "cpu_ghz":
            assert getattr(again, f.name) == pytest.approx(getattr(prof, f.name)), f.name


@needs_shipped
def test_the_model_predicts_the_shipped_grid_within_the_target():
    m, _ = validate.shipped()
    rows = m.rows()
    variants = {r.experiment for r in rows} - {"emulated"}
    assert "virtio" in variants and variants <= set(validate.VARIANTS)
    assert len(rows) == len(variants) * len(validate.BATCHES) * len(validate.REQUEST_SIZES) + len(
        validate.REGISTERS
    ) * len(validate.REQUEST_SIZES)  # every cell of the grid it ran
    for r in rows:  # exits are not a fit: they must agree exactly
        assert r.predicted_user_exits == pytest.approx(r.measured_user_exits, abs=1e-12), r
        assert r.predicted_interrupts == pytest.approx(r.measured_interrupts, abs=1e-12), r
        if r.measured_kvm_exits is not None:  # KVM's own count: now and then a re-injected
            assert r.predicted_exits <= r.measured_kvm_exits <= r.predicted_exits * 1.01, r
    assert validate.median_abs_error(rows) <= validate.TARGET_MEDIAN_ERROR


@needs_shipped
def test_cli_prints_the_shipped_measurement(capsys):
    assert main(["lab", "--shipped"]) == 0
    out = capsys.readouterr().out
    assert "shipped measurement" in out and "median |error|" in out
    assert out.count("virtio ") == 16 and out.count("emulated ") == 8


def test_unknown_shipped_name_is_a_clear_error():
    with pytest.raises(ValueError, match="no shipped lab measurement named 'nope'"):
        validate.shipped("nope")


@needs_shipped
def test_a_measurement_saved_before_the_user_exits_rename_still_loads(tmp_path):
    data = json.loads(costs.SHIPPED[costs.MEASURED].read_text())
    for r in data["results"]:
        r["exits_per_request"] = r.pop("user_exits_per_request")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    then, _ = validate.load(old)
    now, _ = validate.shipped()
    assert then.results == now.results
    kicks = {0.01565, 0.0625, 0.25, 1, 3}  # B = 64, 16, 4, 1; 3 registers (and 1)
    assert {r.user_exits_per_request for r in then.results} - {0} == kicks


OLD = Path(__file__).parent / "data" / "lab-before-interrupts.json"


def test_a_measurement_from_before_the_interrupt_experiments_still_loads_and_calibrates():
    """The measurement shipped until 2026-11-25 (no interrupt or I/O-thread cells, no
    pio_irq, irq_taken, kick_wake or kernel_wake, no KVM exit counts)."""
    m, head = validate.load(OLD)
    assert head["flavour"] == "pvm" and len(m.results) == 24
    assert {r.experiment for r in m.results} == {"virtio", "emulated"}
    rows = m.rows()
    assert all(r.measured_kvm_exits is None and r.measured_interrupts == 0 for r in rows)
    assert all(r.predicted_user_exits == pytest.approx(r.measured_user_exits) for r in rows)
    assert validate.median_abs_error(rows) <= validate.TARGET_MEDIAN_ERROR
    assert " - / 1.0000" in validate.table_text(rows)  # no KVM count: shown as "-"
    prof = calibrate.profile_from(m.micro, m.device, name="then", date=head["date"])
    assert prof.wakeup_ns == pytest.approx(m.device["thread_wake"] * 1e3)
    assert "kernel_wake was not measured" in prof.sources["wakeup_ns"]["source"]
    assert prof.signal_ns == costs.MODERN.signal_ns
    assert "not measured by the lab" in prof.sources["native_irq_ns"]["source"]
