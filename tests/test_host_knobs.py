"""The host's knobs under load that issue 21 item 1 names: NVMe interrupt coalescing on the
hardware paths, IPI virtualization (Intel IPIv, AMD AVIC) for the wake-up IPIs between
vCPUs, and vhost-net's busy loop (``busyloop_timeout``)."""

from dataclasses import replace

import pytest

from virtmodel import costs
from virtmodel.paths import simulate

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off

STILL = costs.MODERN.replace(jitter_cv=0.0)


def run(path, **kw):
    kw.setdefault("requests", 2000)
    kw.setdefault("profile", STILL)
    return simulate(path, **kw)


# ---- NVMe interrupt coalescing (Set Features 08h) ------------------------------------------


@pytest.mark.parametrize("path", ["native", "passthrough"])
def test_coalescing_off_by_default_leaves_the_results_alone(path):
    assert run(path, iodepth=16) == run(path, iodepth=16, coalesce_entries=1, coalesce_us=0)


@pytest.mark.parametrize("path", ["native", "passthrough"])
@pytest.mark.parametrize("entries", [4, 8, 16])
def test_at_depth_an_interrupt_waits_for_the_threshold(path, entries):
    """iodepth 32, four at a time in the device: completions trickle in, so each interrupt
    is raised by the entries-th completion waiting; the handler's CQ-head doorbell resets
    the count, and the 100 us timer never runs out.  One interrupt per ``entries``
    completions, to within the run's last few."""
    r = run(path, iodepth=32, coalesce_entries=entries, coalesce_us=100)
    assert r.interrupts_per_request == pytest.approx(1 / entries, rel=0.03)
    assert r.events["signals"] == pytest.approx(1 / entries, rel=0.03)
    off = run(path, iodepth=32)
    assert off.interrupts_per_request > 0.9  # one per completion pass without it


@pytest.mark.parametrize("us", [100, 200])
def test_at_queue_depth_1_every_request_waits_for_the_timer(us):
    """One request in flight never reaches a threshold of 2: its interrupt comes when the
    aggregation time runs out, so every request takes that much longer -- why Linux leaves
    coalescing off."""
    off = run("native", iodepth=1)
    on = run("native", iodepth=1, coalesce_entries=2, coalesce_us=us)
    assert on.interrupts_per_request == 1.0
    assert on.mean_latency_ns - off.mean_latency_ns == pytest.approx(us * 1000, rel=0.01)


def test_the_timer_raises_what_the_threshold_did_not():
    """iodepth 3 with a threshold of 4: never four waiting, so every interrupt is the
    timer's, and each one covers the completions that came while it ran."""
    r = run("native", iodepth=3, coalesce_entries=4, coalesce_us=100)
    assert 0.3 <= r.interrupts_per_request <= 0.34  # three completions per 100 us timer
    assert r.mean_latency_ns > 100_000


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(coalesce_entries=8), "give coalesce_entries > 1 and coalesce_us > 0 together"),
        (dict(coalesce_us=100), "give coalesce_entries > 1 and coalesce_us > 0 together"),
        (dict(coalesce_entries=8, coalesce_us=150), "coalesce_us must be a multiple of 100"),
        (dict(coalesce_entries=257, coalesce_us=100), "coalesce_entries must be in 1..256"),
        (dict(coalesce_entries=8, coalesce_us=25600), "coalesce_us must be in 0..25500"),
    ],
)
def test_coalescing_parameters_are_checked_with_their_names(kw, words):
    with pytest.raises(ValueError, match=words):
        run("native", **kw)


def test_qemus_emulated_nvme_does_not_take_coalescing():
    """QEMU's controller stores Set Features 08h and ignores it: the path does not offer it."""
    with pytest.raises(ValueError, match="'nvme' takes no parameter coalesce_entries"):
        run("nvme", coalesce_entries=8, coalesce_us=100)


# ---- IPI virtualization ---------------------------------------------------------------------


def _shared(ipi):
    """Two jobs on one queue: the queue's interrupt lands on vCPU 0, which wakes vCPU 1's
    job with an IPI for about half the requests."""
    return run("virtio", vcpus=2, numjobs=2, queues=1, iodepth=1, ipi_virtualization=ipi)


def test_without_ipi_virtualization_each_ipi_is_an_exit():
    r = _shared("none")
    assert r.events["ipis"] == pytest.approx(0.5, abs=0.02)
    assert r.exits_by_reason["other"] == r.events["ipis"]


def test_avic_cannot_deliver_to_a_halted_vcpu_so_it_exits_the_same():
    """AVIC's IPI to a vCPU that is not running ends in AVIC_IPI_FAILURE_TARGET_NOT_RUNNING,
    an exit for the sender: every IPI in the model goes to a halted vCPU."""
    none, avic = _shared("none"), _shared("avic")
    assert avic == replace(none, params=avic.params)


def test_ipiv_sends_the_same_ipis_without_an_exit():
    none, ipiv = _shared("none"), _shared("ipiv")
    assert ipiv.events["ipis"] == pytest.approx(none.events["ipis"], abs=0.02)
    assert ipiv.exits_by_reason["other"] == 0.0
    assert ipiv.exits_per_request < none.exits_per_request
    assert ipiv.breakdown_ns["exit_entry"] < none.breakdown_ns["exit_entry"]


def test_ipi_virtualization_is_checked_and_native_has_none():
    with pytest.raises(ValueError, match="ipi_virtualization must be one of 'none', 'ipiv'"):
        run("virtio", ipi_virtualization="x2avic")
    with pytest.raises(ValueError, match="'native' takes no parameter ipi_virtualization"):
        run("native", ipi_virtualization="ipiv")


# ---- vhost-net's busy loop --------------------------------------------------------------------


def _net(poll_ns, iodepth=4):
    """vhost-net sending 1500 B packets; KVM does not halt-poll, so the "polling" stage is
    the worker's spinning alone."""
    return run(
        "vhost",
        device_type="net",
        request_bytes=1500,
        iodepth=iodepth,
        poll_ns=poll_ns,
        halt_poll=False,
    )


def test_vhost_net_busy_polling_keeps_kicks_off_and_spends_the_window():
    """With a 50 us busyloop_timeout the worker finds each new chain while it spins: no
    kick, no wake-up; without it every pass ends asleep and the next request kicks."""
    off, on = _net(0), _net(50_000)
    assert off.kicks_per_request == pytest.approx(0.25, abs=0.02)
    assert off.events["poll_hits"] == 0.0
    assert on.kicks_per_request < 0.01 and on.events["wakes"] < 0.01
    assert on.events["poll_hits"] == pytest.approx(off.events["wakes"], abs=0.02)
    assert on.breakdown_ns["polling"] > 0.0 and off.breakdown_ns["polling"] == 0.0


def test_vhost_nets_window_does_not_adapt():
    """A window shorter than the gap between passes never finds work: QEMU's IOThread
    would shrink it to 0 and stop spinning, vhost-net spins it out every time."""
    short = _net(1_000, iodepth=1)
    assert short.events["poll_hits"] == 0.0
    assert short.kicks_per_request == pytest.approx(1.0, abs=0.01)
    # every pass ends in one whole 1 us window spent spinning
    assert short.breakdown_ns["polling"] == pytest.approx(1_000 * short.events["passes"], rel=0.02)


def test_vhost_scsi_has_no_busy_loop():
    with pytest.raises(ValueError, match="device_type must be 'net'.*vhost-scsi"):
        run("vhost", poll_ns=50_000)


# ---- vhost's weight ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "device_type, size, limit",
    [("blk", 4096, 256), ("net", 1500, 256), ("net", 65536, 8), ("net", 600_000, 1)],
)
def test_vhost_weight_follows_vhost_exceeds_weight(device_type, size, limit):
    """vhost-scsi requeues its handler after 256 commands; vhost-net after 256 packets or
    512 KiB, whichever comes first."""
    from virtmodel.paths import vhost

    assert vhost.weight(size, device_type) == limit


@pytest.mark.parametrize("size, per_pass", [(1500, 256), (65536, 8)])
def test_a_vhost_pass_yields_at_its_weight(size, per_pass):
    """A deep queue kept full: every pass takes exactly the weight's worth of requests,
    then requeues itself with kicks still off (no kick is needed to resume it)."""
    r = run(
        "vhost",
        device_type="net",
        request_bytes=size,
        queue_size=1024,
        iodepth=1024,
        requests=8192,
    )
    assert r.events["passes"] == pytest.approx(1 / per_pass, rel=0.02)
    assert r.kicks_per_request < 0.001
