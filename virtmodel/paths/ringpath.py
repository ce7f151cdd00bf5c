"""What every path over a shared ring does the same way: turn the path's costs into the
event loop's inputs, run :func:`virtmodel.ringsim.simulate_ring`, read its counters.

A ring path describes itself with a :class:`RingSetup`: what each of the event loop's
actions costs (ns per stage, rows ``ringsim.A_*``) and which exits it takes (columns
``ringsim.X_*``), and how its back end behaves.  :func:`interrupt_rows` fills the rows that
depend on how interrupts reach the vCPU (``interrupt_mode``), which every virtualized ring
path shares.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import jitter, ring
from .. import ringsim as rs
from ..costs import CostProfile
from ..spec import PAGE_SIZE
from .result import STAGES, Outcome

MAX_STEPS_PER_REQUEST = 64


class RingSetup(NamedTuple):
    """How a ring path runs: action costs and exits, and its back end's behaviour."""

    cost: np.ndarray  # ns per stage of each action (N_ACTIONS x len(STAGES))
    exits: np.ndarray  # exits of each action by reason, and to user space
    kick_sync: bool  # a kick drains the ring inside its exit (no back-end thread)
    suppress_kicks: bool  # the back end disables kicks while it drains
    suppress_interrupts: bool  # the back end asks the ring before raising an interrupt
    halt_poll_ns: float  # KVM's maximum halt-poll window (0: none)
    copied: float  # bytes copied by a CPU per request
    software_backend: bool  # waking the back end is a thread switch
    backend_polls: bool = False  # the back end busy-polls: no kicks, one core spent
    doorbell_tail: bool = False  # the back end takes only chains a doorbell write announced
    submit_per_pass: bool = False  # a pass's requests go to the device in one submission
    rearm_every_pop: bool = False  # kicks re-armed after every request (NVMe's EventIdx)
    poll_fixed: bool = False  # the back end's poll window never adapts (vhost-net)
    pass_limit: int = 0  # requests a pass takes before it yields (vhost's weight; 0: none)

    def loop(
        self,
        *,
        requests: int,
        kick_every: int,
        closed: bool,
        depth: int,
        poll: bool,
        parallelism: int,
        halt_poll: bool = True,
        poll_ns: float = 0.0,
        sigma: float = 0.0,
        max_steps: int | None = None,
        vcpus: int = 1,
        numjobs: int = 1,
        queues: int = 1,
        threads: int = 1,
        coalesce_entries: int = 0,
        coalesce_ns: float = 0.0,
    ) -> rs.Loop:
        """The event loop's parameters for this setup and a workload: ``requests`` in all,
        at most ``depth`` in flight, a kick asked for after every ``kick_every``, whole
        batches if ``closed``; the vCPU polls the used ring if ``poll``; the device serves
        ``parallelism`` at once; KVM halt-polls unless ``halt_poll`` is off; the back-end
        thread polls adaptively up to ``poll_ns`` (0: never); service and
        wake-ups jittered with shape ``sigma``; at most ``max_steps`` steps (default
        MAX_STEPS_PER_REQUEST per request, plus 1024); ``numjobs`` jobs on ``vcpus``
        vCPUs, ``queues`` queues, ``threads`` back-end threads; interrupts held back for
        ``coalesce_entries`` completions or ``coalesce_ns`` (NVMe's interrupt coalescing;
        below 2 entries: off)."""
        return rs.Loop(
            requests=int(requests),
            kick_every=int(kick_every),
            closed=bool(closed),
            depth=int(depth),
            poll=bool(poll),
            kick_sync=bool(self.kick_sync),
            suppress_kicks=bool(self.suppress_kicks),
            suppress_interrupts=bool(self.suppress_interrupts),
            backend_polls=bool(self.backend_polls),
            doorbell_tail=bool(self.doorbell_tail),
            parallelism=int(parallelism),
            halt_poll_max_ns=float(self.halt_poll_ns if halt_poll else 0.0),
            sigma=float(sigma),
            max_steps=int(
                MAX_STEPS_PER_REQUEST * requests + 1024 if max_steps is None else max_steps
            ),
            submit_per_pass=bool(self.submit_per_pass),
            rearm_every_pop=bool(self.rearm_every_pop),
            poll_max_ns=float(poll_ns),
            vcpus=int(vcpus),
            numjobs=int(numjobs),
            queues=int(queues),
            threads=int(threads),
            poll_fixed=bool(self.poll_fixed),
            coalesce_entries=int(coalesce_entries),
            coalesce_ns=float(coalesce_ns),
            pass_limit=int(self.pass_limit),
        )


def stage_vec(**ns) -> np.ndarray:
    """ns per stage (ordered as STAGES) from keyword amounts."""
    v = np.zeros(len(STAGES))
    for k, x in ns.items():
        v[STAGES.index(k)] += x
    return v


def exit_vec(user: int = 0, **reasons) -> np.ndarray:
    """One action's exits: counts by reason (io, eoi, hlt, interrupt, other) and how many
    of them return to user space."""
    v = np.zeros(rs.N_EXIT_COLS, dtype=np.int64)
    for k, n in reasons.items():
        v[rs.EXIT_REASONS.index(k)] = n
    v[rs.X_USER] = user
    return v


def action_matrices():
    """Empty cost matrix (ns per stage) and exit matrix of the loop's actions."""
    return (
        np.zeros((rs.N_ACTIONS, len(STAGES))),
        np.zeros((rs.N_ACTIONS, rs.N_EXIT_COLS), dtype=np.int64),
    )


def interrupt_rows(
    cost, exits, prof: CostProfile, mode: str, level: bool = False, tail_ns=0.0, tail_exits=None
) -> None:
    """Fill the vCPU's interrupt and idle rows for ``interrupt_mode`` ``mode``.

    * delivery to a running vCPU: ``legacy`` and ``pv-eoi`` need an exit (an IPI kicks the
      vCPU out, KVM injects on entry); ``posted`` (APICv/AVIC) none;
    * the EOI: an exit with ``legacy``; none with ``pv-eoi`` (an edge vector delivered alone)
      or ``posted`` (virtual-interrupt delivery), except for a ``level``-triggered vector,
      which is in the EOI-exit bitmap and always exits;
    * a wake-up IPI between vCPUs: the sender's ICR write exits (no IPI virtualization,
      or AVIC, whose IPI to a halted vCPU exits too; :func:`run` takes it off for IPIv);
    * idle: an HLT exit.  Its round trip is charged once, split: the exit (and KVM's
      handling) when the vCPU halts, the VM entry (``wake_entry_ns``) when the interrupt
      wakes it, on the completion's latency path (KVM's ``vcpu_run`` syncs the posted
      interrupt and enters after ``kvm_vcpu_halt`` returns).  A wake-up inside the
      halt-poll window costs that entry only; one after the thread slept adds a thread
      wake-up (and the software injection without posting).

    ``tail_ns`` and ``tail_exits`` are the handler's work after it consumed the completions
    (NVMe's CQ-head doorbell write, which Linux's nvme driver rings once it has read every
    new completion-queue entry: an entry posted meanwhile waits for the next interrupt)."""
    sv = stage_vec
    software = mode != "posted"
    if software:
        cost[rs.A_IRQ_RUNNING] = sv(
            exit_entry=prof.vmexit_ns, kvm=prof.kvm_exit_ns + prof.irq_inject_ns
        )
        exits[rs.A_IRQ_RUNNING] = exit_vec(interrupt=1)
    eoi_exit = level or mode == "legacy"
    cost[rs.A_HANDLER] = sv(guest=prof.native_irq_ns) + (
        sv(exit_entry=prof.eoi_ns) if eoi_exit else 0.0
    )
    exits[rs.A_HANDLER] = exit_vec(eoi=int(eoi_exit))
    if tail_exits is not None:
        cost[rs.A_HANDLER_TAIL] += tail_ns
        exits[rs.A_HANDLER_TAIL] += tail_exits
    cost[rs.A_HLT] = sv(exit_entry=prof.vmexit_ns - prof.wake_entry_ns, kvm=prof.kvm_exit_ns)
    exits[rs.A_HLT] = exit_vec(hlt=1)
    cost[rs.A_WAKE_POLLED] = sv(exit_entry=prof.wake_entry_ns)
    cost[rs.A_WAKE_SLEPT] = sv(
        exit_entry=prof.wake_entry_ns,
        context_switch=prof.wakeup_ns,
        kvm=prof.irq_inject_ns if software else 0.0,
    )
    # a wake-up IPI to another vCPU (a completion reaped for its job): the sender's x2APIC
    # ICR write exits, handled in KVM's fastpath (handle_fastpath_set_msr_irqoff), without
    # IPI virtualization; with AMD AVIC the target is halted, so the hardware cannot
    # deliver it and the sender exits all the same (avic_incomplete_ipi_interception,
    # AVIC_IPI_FAILURE_TARGET_NOT_RUNNING: avic_kick_target_vcpus); the target wakes as
    # from any interrupt.  Intel IPIv: see run (ipi_virtualization)
    cost[rs.A_IPI] = sv(exit_entry=prof.vmexit_ns, kvm=prof.kvm_exit_ns)
    exits[rs.A_IPI] = exit_vec(other=1)


def ioeventfd_kick(prof: CostProfile, notify_by: str = "mmio") -> tuple:
    """A kick KVM matches to an ioeventfd: an exit that signals the eventfd and re-enters,
    nothing in user space.  (cost, exits) of the kick row.  A port kick needs no decode
    (``kvm_fast_pio``); an MMIO kick (virtio-pci 1.0's notify, ``notify_by="mmio"``) none
    on a host with fast MMIO (``prof.fast_mmio``: VMX's ``handle_ept_misconfig`` writes to
    the fast-MMIO bus before any decode), else KVM decodes the write before it matches the
    ioeventfd (SVM's nested page fault until late 2025, PVM, a nested guest)."""
    decode = prof.mmio_decode_ns if notify_by == "mmio" and not prof.fast_mmio else 0.0
    return stage_vec(exit_entry=prof.vmexit_ns, kvm=prof.kvm_exit_ns + decode), exit_vec(io=1)


def _virtqueue_rows(prof: CostProfile, mode: str, kick: tuple):
    """The rows every virtqueue path fills the same way: the guest prepares a request, kicks
    with ``kick`` ((cost, exits) of the kick row), takes interrupts as ``mode`` says."""
    cost, exits = action_matrices()
    cost[rs.A_SUBMIT] = stage_vec(guest=prof.guest_ns_per_request)
    cost[rs.A_KICK], exits[rs.A_KICK] = kick
    interrupt_rows(cost, exits, prof, mode)
    return cost, exits


def software_setup(
    prof: CostProfile,
    s: int,
    mode: str,
    kick: tuple,
    device_type: str,
    stage: str,
    *,
    maps_pages: bool,
    kick_sync: bool = False,
    polls: bool = False,
    submit_per_pass: bool = False,
) -> RingSetup:
    """A virtqueue served by a software back end (QEMU, vhost, a vhost-user process) whose
    CPU time counts in ``stage``: woken by a kick (plus its per-notification work) or by a
    completion, or busy-polling the ring (``polls``); per request its ring work, QEMU's
    mapping of each guest page (``maps_pages``), the tap copy for ``"net"`` or the host I/O
    stack and the physical device for ``"blk"``; an irqfd write per interrupt.  With
    ``kick_sync`` the kick's exit drains the ring (QEMU without ioeventfd).  Like every
    virtio back end it disables kicks while a pass takes requests and re-enables them when
    the ring is empty, and asks the ring before it interrupts.  ``submit_per_pass``: the
    pass's requests reach the device together at its end, in one submission (QEMU's
    virtio-blk: ``defer_call`` around the pass, one ``io_submit``; the submission's own
    CPU is not separated from the per-request cost yet: row ``A_SUBMIT_PASS`` costs 0)."""
    sv = stage_vec
    cost, exits = _virtqueue_rows(prof, mode, kick)
    cost[rs.A_WAKE_BACKEND] = sv(context_switch=prof.wakeup_ns, **{stage: prof.notify_ns})
    cost[rs.A_WAKE_FOR_COMPLETION] = sv(context_switch=prof.wakeup_ns)
    work = prof.virtio_ns_per_request
    if maps_pages:
        work += -(-s // PAGE_SIZE) * prof.dma_map_ns_per_page
    if device_type == "net":
        cost[rs.A_POP] = sv(copy=s * prof.copy_ns_per_byte, **{stage: work})
    else:
        cost[rs.A_POP] = sv(kvm=prof.host_io_ns_per_request) + sv(**{stage: work})
        cost[rs.A_SERVICE] = sv(device=prof.device_ns_per_request + s * prof.device_ns_per_byte)
    cost[rs.A_SIGNAL] = sv(**{stage: prof.signal_ns})
    return RingSetup(
        cost,
        exits,
        kick_sync=kick_sync,
        suppress_kicks=True,
        suppress_interrupts=True,
        halt_poll_ns=prof.halt_poll_ns,
        copied=float(s) if device_type == "net" else 0.0,
        software_backend=not polls,
        backend_polls=polls,
        submit_per_pass=submit_per_pass,
    )


def hardware_setup(
    prof: CostProfile, s: int, mode: str, kick: tuple, *, suppress_interrupts: bool
) -> RingSetup:
    """A virtqueue (or a device's own queue) served by hardware (an assigned device, a vDPA
    device): the device serves each request; without posted interrupts its MSI goes
    through the host's IRQ handler, which signals KVM's irqfd.  ``suppress_interrupts``:
    the device asks the ring before it interrupts, as a virtio device does (vDPA); an
    NVMe controller does not (see :data:`NVME_INTERRUPTS`)."""
    cost, exits = _virtqueue_rows(prof, mode, kick)
    cost[rs.A_SERVICE] = stage_vec(device=prof.device_ns_per_request + s * prof.device_ns_per_byte)
    if mode != "posted":
        cost[rs.A_SIGNAL] = stage_vec(kvm=prof.native_irq_ns + prof.signal_ns)
    return RingSetup(
        cost,
        exits,
        kick_sync=False,
        suppress_kicks=True,
        suppress_interrupts=suppress_interrupts,
        halt_poll_ns=prof.halt_poll_ns,
        copied=0.0,
        software_backend=False,
    )


NVME_INTERRUPTS = (
    "An NVMe controller has no virtio-style interrupt suppression: it does not read the "
    "driver's progress (no used_event, no NO_INTERRUPT flag) before it interrupts, so it "
    "raises an MSI-X for every pass of completions it posts (one still pending merges "
    "with it).  NVMe's interrupt coalescing (Set Features 08h) can hold interrupts back "
    "until an aggregation threshold of completions wait or an aggregation time (100 us "
    "units) has passed since the first; Linux's nvme driver leaves it at the device's "
    "default, off, and so does the model (coalesce_entries, coalesce_us on the hardware "
    "paths).  QEMU's emulated controller stores the feature (nvme_set_feature) and "
    "ignores it: nvme_post_cqes asserts the interrupt whenever the queue holds entries."
)
"""Why the hardware NVMe paths (``native``, ``passthrough``) interrupt per completion pass."""


def run(
    name: str, p: dict, prof: CostProfile, rng, setup: RingSetup, threads: int | None = None
) -> Outcome:
    """Run ``p["requests"]`` requests of path ``name`` with ``setup`` on ``p["queues"]``
    virtqueues (layout ``p["ring"]``, split if the path has no such parameter; 1 queue if
    it has no ``queues``), driven by ``p["numjobs"]`` fio jobs on ``p["vcpus"]`` vCPUs,
    served by ``threads`` back-end threads (default: one per queue, as a device serves
    each of its queues: the hardware paths)."""
    n, s, n_desc = p["requests"], p["request_bytes"], p["descriptors_per_request"]
    nq, nv, jobs = p.get("queues", 1), p.get("vcpus", 1), p.get("numjobs", 1)
    nt = nq if threads is None else threads
    layout = p.get("ring", "split")
    r = rs.rings(
        [
            ring.make_virtqueue(p["queue_size"], event_idx=p["event_idx"], ring=layout)
            for _ in range(nq)
        ]
    )
    # the request's bytes spread over its descriptors, all device-readable
    lens = np.full(n_desc, s // n_desc, dtype=np.int64)
    lens[: s % n_desc] += 1
    chain_write = np.zeros(n_desc, dtype=np.bool_)
    if p.get("ipi_virtualization") == "ipiv":  # the ICR write completes without an exit
        setup = _ipiv(setup)
    batch, iodepth = p["batch"], p.get("iodepth", 1)
    if iodepth > 1:  # fio iodepth: keep iodepth in flight, submit (and kick) one by one
        kick_every, closed, depth = 1, False, iodepth
    else:  # closed-loop batches
        kick_every, closed, depth = batch, True, batch
    parallelism = p.get("device_parallelism") or int(prof.device_parallelism)
    lat = np.empty(n)  # not zeroed: the kernel writes each entry when it submits
    stage_ns = np.zeros(len(STAGES))
    times = np.zeros(rs.N_TIMES)
    counters = np.zeros(rs.N_COUNTERS, dtype=np.int64)
    busy = np.zeros(nv + nt)
    loop = setup.loop(
        requests=n,
        kick_every=kick_every,
        closed=closed,
        depth=depth,
        poll=not p["interrupts"],
        parallelism=parallelism,
        halt_poll=p.get("halt_poll", True),
        poll_ns=p.get("poll_ns", 0.0),
        sigma=jitter.sigma(prof.jitter_cv),
        vcpus=nv,
        numjobs=jobs,
        queues=nq,
        threads=nt,
        coalesce_entries=p.get("coalesce_entries", 1),
        coalesce_ns=p.get("coalesce_us", 0) * 1000.0,
    )
    rs.simulate_ring(
        r,
        loop,
        setup.cost,
        setup.exits,
        lens,
        chain_write,
        rs.maps(nv, nq, nt),
        rng,
        lat,
        stage_ns,
        times,
        counters,
        busy,
    )
    status = int(counters[rs.C_STATUS])
    if status != rs.OK:
        why = " ".join(filter(None, (ring.broken_reason(_queue(r, k)) for k in range(nq))))
        raise RuntimeError(f"{name} simulation failed: {rs.STATUS_TEXT[status]} {why}")
    last_done = float(times[rs.T_LAST_DONE])
    stage_ns[STAGES.index("polling")] += times[rs.T_HALT_POLL] + times[rs.T_GUEST_POLL]
    if setup.backend_polls:  # each thread's core spins from the first request to the last
        for b in range(nt):
            stage_ns[STAGES.index("polling")] += max(0.0, last_done - busy[nv + b])
    stage_ns[STAGES.index("polling")] += times[rs.T_BACKEND_POLL]  # IOThread poll windows
    by_reason = {r_: counters[rs.C_EXITS + k] / n for k, r_ in enumerate(rs.EXIT_REASONS)}
    user = counters[rs.C_EXITS + rs.X_USER]
    wakes = counters[rs.C_BACKEND_WAKES] if setup.software_backend else 0
    # a halt that outlived the poll window scheduled the vCPU thread out and back in
    slept = (
        counters[rs.C_HALTS] - counters[rs.C_POLL_HITS] if setup.exits[rs.A_HLT, rs.X_HLT] else 0
    )
    device_ns = stage_ns[STAGES.index("device")]
    span = last_done if last_done > 0 else 1.0
    return Outcome(
        elapsed_ns=last_done,
        latencies=lat,
        exits=sum(by_reason.values()),
        user_exits=user / n,
        interrupts=counters[rs.C_IRQS] / n,
        kicks=counters[rs.C_KICKS] / n,
        context_switches=(wakes + slept + 2 * user) / n,
        copied=setup.copied,
        stage_ns=stage_ns / n,
        exits_by_reason=by_reason,
        events={k: counters[c] / n for k, c in EVENTS.items()},
        utilisation={
            "vcpu": float(busy[:jobs].max() / span),
            "backend": float(busy[nv:].max() / span)
            if setup.software_backend or setup.backend_polls
            else 0.0,
            "device": float(device_ns / (parallelism * span)),
        },
    )


def _ipiv(setup: RingSetup) -> RingSetup:
    """``setup`` on a host with Intel IPI virtualization (IPIv, Sapphire Rapids and later;
    KVM since Linux 5.19, ``enable_ipiv``): the sender's ICR write is virtualized, no exit;
    a halted target's posted-interrupt descriptor points at the host's wake-up vector, whose
    handler (``pi_wakeup_handler``) wakes its thread, which the target's wake-up already
    costs.  The write's own cost in hardware is not charged (no figure found)."""
    cost, exits = setup.cost.copy(), setup.exits.copy()
    cost[rs.A_IPI] = 0.0
    exits[rs.A_IPI] = 0
    return setup._replace(cost=cost, exits=exits)


def _queue(r: rs.Rings, k: int) -> ring.Virtqueue:
    return ring.Virtqueue(r.mem[k], r.st[k], r.queue_size, r.driver_off, r.device_off, r.kind)


EVENTS = {
    "passes": rs.C_PASSES,
    "submissions": rs.C_SUBMITS,
    "completion_passes": rs.C_COMPLETION_PASSES,
    "signals": rs.C_SIGNALS,
    "wakes": rs.C_BACKEND_WAKES,
    "poll_hits": rs.C_POLL_HITS_BACKEND,
    "ipis": rs.C_IPIS,
}
"""The back end's event counters a ring path reports per request (``Result.events``)."""
