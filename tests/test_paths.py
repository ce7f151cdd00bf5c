"""End-to-end paths: behaviour that emerges from the ring, invariants, errors."""

import math

import numpy as np
import pytest

from virtmodel import costs
from virtmodel.paths import names, simulate

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off

N = 2000


@pytest.mark.parametrize("event_idx", [True, False])
def test_virtio_kick_exits_fall_as_one_over_batch_and_all_exits_stay_below_emulated(event_idx):
    emulated = simulate("emulated", requests=N).exits_per_request
    for b in (1, 2, 4, 8, 16, 64, 256):
        r = simulate("virtio", batch=b, requests=N, event_idx=event_idx)
        assert r.exits_by_reason["io"] == pytest.approx(math.ceil(N / b) / N)
        assert r.exits_per_request < emulated
        assert r.exits_per_request == pytest.approx(sum(r.exits_by_reason.values()))


def test_batching_cuts_kicks_and_interrupts_to_one_per_group_the_device_finishes():
    # QEMU's pass pops the whole batch and submits it at once (one io_submit): the device
    # serves device_parallelism (4) of them together, their completions reach the back end
    # together, in one pass with one interrupt; before each the idle vCPU has halted.
    # (The model used to hand requests over one pop at a time, 2.3 us apart, so every
    # completion came alone with its own interrupt: > 0.5 per request, an artefact.)
    par = costs.MODERN.device_parallelism
    for b in (16, 256):
        r = simulate("virtio", batch=b, requests=N)
        assert r.kicks_per_request == pytest.approx(math.ceil(N / b) / N)
        assert r.interrupts_per_request == pytest.approx(1 / par, rel=0.15)
        assert r.exits_by_reason["hlt"] == pytest.approx(r.interrupts_per_request)


@pytest.mark.parametrize("b", [1, 3, 7, 16, 100])
def test_one_kick_per_batch_in_closed_loop(b):
    # the device drains each batch before the next begins, so it always asks for a kick
    r = simulate("virtio", batch=b, requests=N)
    assert r.kicks_per_request == pytest.approx(math.ceil(N / b) / N)


def test_without_ioeventfd_every_kick_is_a_user_exit():
    r = simulate("virtio", batch=8, requests=N, ioeventfd=False, interrupts=False)
    assert r.user_exits_per_request == pytest.approx(math.ceil(N / 8) / N)
    assert r.exits_per_request == r.user_exits_per_request
    assert r.interrupts_per_request == 0


def test_with_ioeventfd_no_user_exits():
    assert simulate("virtio", batch=4, requests=N).user_exits_per_request == 0


def test_native_has_no_exits_and_no_copies():
    r = simulate("native", batch=4, requests=N)
    assert r.exits_per_request == 0 and r.copied_bytes_per_request == 0


def test_emulated_counts_come_from_the_trap_model():
    r = simulate("emulated", request_bytes=8192, data_mode="string-pio", requests=N)
    assert r.exits_per_request == 3 + 8 + 1  # registers, rep ins at 1 KiB per exit, the HLT
    assert r.user_exits_per_request == 11
    assert r.copied_bytes_per_request == 2 * 8192


def test_emulated_ignores_ring_knobs():
    a = simulate("emulated", requests=N, batch=1)
    b = simulate("emulated", requests=N, batch=64, queue_size=1024, event_idx=False)
    assert a.us_per_request == b.us_per_request


def test_virtio_approaches_native_as_batch_grows():
    gap = [
        simulate("virtio", batch=b, requests=N).us_per_request
        / simulate("native", batch=b, requests=N).us_per_request
        for b in (1, 16, 128)
    ]
    assert gap[0] > gap[1] > gap[2] > 1
    emu = simulate("emulated", requests=N).us_per_request
    assert emu > simulate("virtio", batch=1, requests=N).us_per_request


def test_larger_queue_allows_larger_batch_only():
    with pytest.raises(ValueError, match=r"batch must be in 1..8 "):
        simulate("virtio", queue_size=8, batch=9)
    with pytest.raises(ValueError, match=r"batch must be in 1..4 "):
        simulate("virtio", queue_size=8, descriptors_per_request=2, batch=5)


def test_same_seed_same_result_other_seed_other_tail():
    a = simulate("virtio", batch=4, requests=N, seed=3)
    b = simulate("virtio", batch=4, requests=N, seed=3)
    c = simulate("virtio", batch=4, requests=N, seed=4)
    assert a == b and np.array_equal(a.latencies_ns, b.latencies_ns)
    assert a.p99_latency_ns != c.p99_latency_ns


def test_no_jitter_no_spread():
    prof = costs.MODERN.replace(jitter_cv=0.0)
    r = simulate("emulated", requests=100, profile=prof)
    assert r.p99_latency_ns == pytest.approx(r.mean_latency_ns)


def test_breakdown_adds_up_for_the_synchronous_path():
    # without interrupts nothing runs beside anything else: the stages are the elapsed time
    r = simulate("emulated", requests=N, interrupts=False)
    assert sum(r.breakdown_ns.values()) == pytest.approx(r.elapsed_ns / N)
    # with them, KVM's halt polling runs beside the device: CPU time, not latency
    r = simulate("emulated", requests=N)
    assert r.breakdown_ns["polling"] > 0
    assert sum(r.breakdown_ns.values()) > r.elapsed_ns / N


# ---- a hand count: one request at a time, no jitter --------------------------------------
STILL = costs.PROFILES["modern"].replace(jitter_cv=0)
S = 8192  # bytes: two pages


def _hand(path, ioeventfd=True):
    """(ns per request, ns per stage) counted by hand from the profile's fields, for one
    request at a time on a host with posted interrupts and halt polling off: the vCPU
    halts after its kick, and its thread sleeps until the interrupt wakes it; the HLT
    exit's round trip is split, its VM entry after the wake-up on the latency path."""
    f = STILL
    serve_device = f.device_ns_per_request + S * f.device_ns_per_byte
    if path == "native":  # submit, doorbell, device, interrupt; an idle CPU costs nothing
        stages = dict(
            guest=f.guest_ns_per_request + f.doorbell_ns + f.native_irq_ns, device=serve_device
        )
        return sum(stages.values()), stages
    # the HLT exit, beside the back end's work; its entry follows the wake-up
    hlt = dict(exit_entry=f.vmexit_ns - f.wake_entry_ns, kvm=f.kvm_exit_ns)
    if path == "virtio":
        stages = dict(
            guest=f.guest_ns_per_request + f.native_irq_ns,
            exit_entry=f.vmexit_ns + f.wake_entry_ns,  # the kick's exit (no EOI exit: posted)
            kvm=f.kvm_exit_ns + f.host_io_ns_per_request,
            qemu=f.notify_ns + f.virtio_ns_per_request + 2 * f.dma_map_ns_per_page + f.signal_ns,
            # the back end woken for the completion, the vCPU for the interrupt
            context_switch=2 * f.wakeup_ns,
            device=serve_device,
        )
        if ioeventfd:  # the exit ends in the kernel, which wakes QEMU's I/O thread
            stages["context_switch"] += f.wakeup_ns
        else:  # the exit, decoded, goes on to QEMU, which pops the ring in the vCPU thread
            stages["context_switch"] += f.user_exit_ns
            stages["kvm"] += f.mmio_decode_ns
            stages["qemu"] += f.emulate_access_ns
    else:  # emulated, DMA: 3 + 2 trapping port accesses (no decode), each a trip to QEMU
        trips = 5
        stages = dict(
            guest=f.guest_ns_per_request + f.native_irq_ns,
            exit_entry=trips * f.vmexit_ns + f.wake_entry_ns,
            kvm=trips * f.kvm_exit_ns + f.host_io_ns_per_request,
            context_switch=trips * f.user_exit_ns + f.wakeup_ns,
            qemu=trips * f.emulate_access_ns
            + f.notify_ns
            + 2 * f.dma_map_ns_per_page
            + f.signal_ns,
            device=serve_device,
        )
    latency = sum(stages.values())
    for k, v in hlt.items():
        stages[k] += v
    return latency, stages


@pytest.mark.parametrize(
    "path,kw", [("native", {}), ("virtio", {}), ("virtio", {"ioeventfd": False}), ("emulated", {})]
)
def test_one_request_at_a_time_takes_the_hand_counted_time(path, kw):
    n = 50
    host = {} if path == "native" else dict(halt_poll=False)
    r = simulate(path, batch=1, request_bytes=S, requests=n, profile=STILL, **host, **kw)
    latency, stages = _hand(path, **kw)
    assert r.latencies_ns == pytest.approx(np.full(n, latency), rel=1e-12)
    # each request starts when the one before completes: completions at k * latency
    assert r.elapsed_ns == pytest.approx(n * latency, rel=1e-12)
    assert r.throughput_rps == pytest.approx(1e9 / latency, rel=1e-12)
    assert r.breakdown_ns == pytest.approx(
        {k: stages.get(k, 0.0) for k in r.breakdown_ns}, rel=1e-12, abs=1e-9
    )


def test_every_request_completes_and_throughput_follows_the_completions():
    n = 333
    for path in names():
        r = simulate(path, batch=1, requests=n)
        assert r.latencies_ns.shape == (n,) and (r.latencies_ns > 0).all()
        # closed loop of one: the run's length is the sum of the requests' latencies
        assert r.elapsed_ns == pytest.approx(r.latencies_ns.sum(), rel=1e-12)
        assert r.throughput_rps == pytest.approx(n / r.latencies_ns.sum() * 1e9, rel=1e-12)


def test_queue_of_one_and_wrap_through_the_simulation():
    r = simulate("virtio", queue_size=1, requests=70000, batch=1)
    assert r.kicks_per_request == 1


@pytest.mark.parametrize(
    "path,kw,msg",
    [
        ("virtio", {"request_bytes": -5}, "request_bytes must be in 0..16777216"),
        ("virtio", {"requests": 0}, "requests must be in 1..10000000"),
        ("virtio", {"queue_size": 100}, "queue_size must be a power of two"),
        ("virtio", {"batch": 0}, "batch must be in 1..256"),
        ("virtio", {"event_idx": "yes"}, "event_idx must be True or False"),
        ("virtio", {"data_mode": "dma"}, "'virtio' takes no parameter data_mode"),
        ("native", {"ioeventfd": False}, "'native' takes no parameter ioeventfd"),
        ("emulated", {"data_mode": "x"}, "data_mode must be one of"),
        ("virtio", {"profile": "nope"}, "profile must be a CostProfile"),
        ("no-such-path", {}, "path must be one of"),
        ("virtio", {"seed": -1}, "seed must be in"),
    ],
)
def test_bad_parameters_name_themselves(path, kw, msg):
    with pytest.raises(ValueError, match=msg):
        simulate(path, **kw)


@pytest.mark.parametrize("n", [1, 2, 3, 99, 100, 101, 1023, 1025, 4000, 100_003])
def test_latency_summary_equals_numpy(n):
    """simulate's mean and p99 come from a kernel that finds the top order statistics by a
    sampled threshold; it must give exactly numpy's percentile whatever the data."""
    from virtmodel.paths import latency_stats as _latency_stats

    rng = np.random.default_rng(n)
    for x in (
        rng.random(n) * 1e4,
        rng.integers(0, 3, n).astype(float),
        np.exp(rng.standard_normal(n)),
        np.sort(rng.random(n))[::-1].copy(),
        np.full(n, 7.0),
    ):
        mean, p99 = _latency_stats(x)
        assert p99 == np.percentile(x, 99)
        assert mean == pytest.approx(x.mean(), rel=1e-12)
    r = simulate("virtio", requests=n, batch=4)
    assert r.p99_latency_ns == np.percentile(r.latencies_ns, 99)
