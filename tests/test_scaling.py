"""More than one of each: vCPUs running fio jobs, queues mapped to them as blk-mq does,
back-end threads serving the queues round robin, and the utilisation that names the
ceiling (issue 21, item 2)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virtmodel import costs
from virtmodel import ringsim as rs
from virtmodel.paths import simulate

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off

STILL = costs.MODERN.replace(jitter_cv=0.0)


def run(path="virtio", **kw):
    kw.setdefault("requests", 800)
    kw.setdefault("profile", STILL)
    return simulate(path, **kw)


def test_the_maps_follow_blk_mq_and_round_robin():
    queue_of, irq_of, irq_queue, thread_of = rs.maps(4, 2, 2)
    assert queue_of.tolist() == [0, 0, 1, 1]  # contiguous groups of vCPUs per queue
    assert irq_of.tolist() == [0, 2]  # a queue's interrupt: its group's first vCPU
    assert irq_queue.tolist() == [0, -1, 1, -1]
    assert thread_of.tolist() == [0, 1]
    queue_of, irq_of, _, thread_of = rs.maps(6, 3, 2)
    assert queue_of.tolist() == [0, 0, 1, 1, 2, 2] and irq_of.tolist() == [0, 2, 4]
    assert thread_of.tolist() == [0, 1, 0]  # iothread-vq-mapping's round robin
    assert rs.maps(3, 3, 3)[0].tolist() == [0, 1, 2]


def test_an_idle_second_vcpu_changes_nothing():
    """The loop for many actors (_run_many) with one job, one queue and one thread gives
    exactly what the loop compiled for one of each (_run_one) gives: the idle vCPU never
    acts."""
    for kw in (dict(iodepth=8), dict(batch=4), dict(iodepth=4, ioeventfd=False)):
        one, two = run(**kw), run(vcpus=2, **kw)
        assert one == two.__class__(**{**two.__dict__, "params": one.params})
        assert np.array_equal(one.latencies_ns, two.latencies_ns)
        assert one.events == two.events


@pytest.mark.parametrize("queues, ipis", [(2, 0.0), (1, None)])
def test_a_completion_for_a_job_on_another_vcpu_costs_an_ipi(queues, ipis):
    """Two jobs on two vCPUs: with a queue each every completion is reaped on its job's
    own vCPU; sharing one queue, its interrupt goes to vCPU 0, which wakes the other
    job's halted vCPU with an IPI -- an exit (reason "other") for the sender."""
    r = run(vcpus=2, numjobs=2, queues=queues, iodepth=1)
    if ipis is not None:
        assert r.events["ipis"] == ipis and r.exits_by_reason["other"] == 0
    else:
        # at iodepth 1 each of job 1's requests completes while its vCPU is halted
        assert r.events["ipis"] == pytest.approx(0.5, abs=0.02)
        assert r.exits_by_reason["other"] == r.events["ipis"]
    assert r.interrupts_per_request >= 0.5  # every vCPU took an interrupt or an IPI
    assert (r.latencies_ns > 0).all()


def test_every_job_completes_its_share():
    r = run(vcpus=3, numjobs=3, queues=3, backend_threads=2, requests=1000, iodepth=4)
    assert r.requests == 1000 and (r.latencies_ns > 0).all()
    assert len(r.latencies_ns) == 1000


@pytest.mark.slow  # thousands of requests on 8-16 vCPUs: minutes with the JIT off
def test_one_back_end_thread_is_the_ceiling_until_there_is_one_per_queue():
    """16 jobs on 16 queues: one IOThread is busy nearly all the run and caps the
    throughput; a thread per queue lifts the cap until the device is the busy one."""
    kw = dict(vcpus=16, numjobs=16, queues=16, iodepth=32, requests=8000)
    one, many = run(backend_threads=1, **kw), run(backend_threads=16, **kw)
    assert one.utilisation["backend"] > 0.9 > one.utilisation["device"]
    assert many.utilisation["device"] > 0.9 > many.utilisation["backend"]
    assert many.throughput_rps > 1.3 * one.throughput_rps
    for r in (one, many):
        assert all(0.0 <= u <= 1.0 + 1e-9 for u in r.utilisation.values())


@pytest.mark.slow  # thousands of requests on 8-16 vCPUs: minutes with the JIT off
def test_vhost_workers_scale_with_jobs_and_one_worker_stops():
    kw = dict(vcpus=8, queues=8, iodepth=32, requests=8000, device_parallelism=64)
    per_q = [run("vhost", numjobs=j, backend_threads=8, **kw).throughput_rps for j in (1, 8)]
    one = [run("vhost", numjobs=j, backend_threads=1, **kw).throughput_rps for j in (1, 8)]
    assert per_q[1] > 2 * one[1]  # the single worker is the ceiling at 8 jobs
    assert per_q[1] > 4 * per_q[0]


def test_a_single_vcpu_run_reports_its_utilisation():
    r = run(iodepth=1)
    assert set(r.utilisation) == {"vcpu", "backend", "device"}
    assert 0 < r.utilisation["device"] < r.utilisation["vcpu"] + r.utilisation["device"] <= 2
    assert run("native").utilisation["backend"] == 0.0  # a hardware back end has no thread


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(numjobs=2), r"numjobs must be in 1\.\.1 \(vcpus\), got 2"),
        (dict(vcpus=2, queues=3), r"queues must be in 1\.\.2 \(vcpus\), got 3"),
        (dict(vcpus=2, queues=2, backend_threads=3), r"backend_threads must be in 0\.\.2"),
        (dict(vcpus=65), r"vcpus must be in 1\.\.64, got 65"),
        (dict(vcpus=2, interrupts=False), r"queues must equal vcpus \(2\) when interrupts"),
        (dict(poll_ns=32768), r"poll_ns=32768 needs an IOThread \(backend_threads >= 1\)"),
    ],
)
def test_bad_counts_are_refused_with_their_names_and_ranges(kw, message):
    with pytest.raises(ValueError, match=message):
        run(**kw)


def test_vhost_has_at_least_one_worker():
    with pytest.raises(ValueError, match=r"backend_threads must be in 1\.\.1"):
        run("vhost", backend_threads=0)


@pytest.mark.slow  # thousands of requests on 8-16 vCPUs: minutes with the JIT off
def test_jobs_sharing_a_queue_never_prepare_more_than_it_has_room_for():
    """16 jobs at iodepth 32 on one 256-entry queue: 512 requests want to be in flight; a
    request takes its place in the ring when it is prepared (blk-mq's tag), so a job
    waits for room instead of finding the ring full when it publishes."""
    r = run(vcpus=16, numjobs=16, queues=1, backend_threads=1, iodepth=32, requests=4000)
    assert (r.latencies_ns > 0).all()
    r = run("vhost", vcpus=4, numjobs=4, queue_size=16, iodepth=8, descriptors_per_request=2)
    assert (r.latencies_ns > 0).all()


@settings(max_examples=80, deadline=None)
@given(
    path=st.sampled_from(["virtio", "vhost", "vhost-user", "nvme", "passthrough", "native"]),
    vcpus=st.integers(1, 6),
    data=st.data(),
    queue_size=st.sampled_from([4, 8, 16, 64]),
    depth=st.integers(1, 16),
    batch=st.booleans(),
    event_idx=st.booleans(),
    interrupts=st.booleans(),
    seed=st.integers(0, 3),
)
def test_any_mix_of_jobs_queues_and_threads_completes_every_request(
    path, vcpus, data, queue_size, depth, batch, event_idx, interrupts, seed
):
    """Every request completes, once, whatever the counts: no lost wake-up (a job halted
    for want of room, a completion for a job on another vCPU), no deadlock."""
    from virtmodel.paths import REGISTRY

    takes = REGISTRY[path].param_names
    numjobs = data.draw(st.integers(1, vcpus))
    queues = vcpus if not interrupts else data.draw(st.integers(1, vcpus))
    kw = dict(vcpus=vcpus, numjobs=numjobs, queues=queues, queue_size=queue_size)
    kw["interrupts"] = interrupts
    kw["batch" if batch else "iodepth"] = min(depth, queue_size)
    if "event_idx" in takes:
        kw["event_idx"] = event_idx
    if "backend_threads" in takes:
        lo = REGISTRY[path].param("backend_threads").lo
        kw["backend_threads"] = data.draw(st.integers(max(lo, 0), queues))
    if path == "virtio":
        kw["ioeventfd"] = data.draw(st.booleans())
    r = run(path, requests=300, seed=seed, profile=costs.MODERN, **kw)  # jittered
    assert len(r.latencies_ns) == 300 and (r.latencies_ns > 0).all()
    assert all(0.0 <= u <= 1.0 + 1e-9 for u in r.utilisation.values())
