"""A guest driver, a back end and a physical device exchanging requests through one ring,
in simulated time.

Three actors share a :class:`virtmodel.ringmem.Virtqueue` (through the ring interface,
:mod:`virtmodel.ring`, so either layout runs):

* the **vCPU** runs the guest driver.  Its workload is fio-like: at most ``depth`` requests
  in flight; with ``closed`` a new batch starts only when the whole previous one completed
  (batch submission and completion); it asks the ring whether the device wants a kick after
  every ``kick_every`` requests (the ring answers by ``VRING_USED_F_NO_NOTIFY`` or
  ``need_event``).  It takes interrupts (disable interrupts, reap every used buffer,
  re-enable, look again) or, with ``poll``, spins on the used ring.  With nothing to do it
  **halts**: an HLT exit, then KVM polls for up to its adaptive halt-poll window (0, then
  10 µs doubling up to ``halt_poll_max_ns``; halved after a halt longer than the maximum, as
  ``kvm_vcpu_halt`` does) before it schedules the vCPU thread out; an interrupt inside the
  window resumes it cheaply, one after it pays a wake-up.  An interrupt that arrives while
  the vCPU runs is delivered as the interrupt mode's cost matrix says (an exit without
  posted interrupts, none with them); one the vCPU's own thread raises inside an exit
  (``kick_sync``) is injected on the entry that ends it, with no exit of its own;
* the **back end** (QEMU's I/O thread, vhost's worker, or the device's own controller on
  bare metal) sleeps until a kick or a completion wakes it.  When kicked it drains the ring
  with kicks disabled (``suppress_kicks``; an NVMe controller without shadow doorbells never
  suppresses them), hands each request to the device, and when the ring looks empty
  re-enables kicks and looks once more (the race every real back end must close).  It
  returns completions used, and at the end of each pass of completions makes one interrupt
  decision (QEMU's deferred irqfd write and vhost's signal after a batch both come to this;
  without ``suppress_interrupts``, as an NVMe controller, every pass raises one).  A
  ``backend_polls`` back end (a vhost-user process busy-polling its rings) never asks for a
  kick and sees new chains and completions as they appear, at the price of a core.  A
  ``doorbell_tail`` back end (an NVMe controller without shadow doorbells) takes only the
  chains a doorbell write has announced: the submission-queue tail it knows is the value
  last written to its doorbell register, as of the end of that write's exit (a chain
  written to memory but not yet rung for stays where it is);
* the **device** serves up to ``parallelism`` requests at once, each for its service time
  (jittered); the rest wait in order.  A request with no service time (a network back end
  whose work is the copy, or the KVM lab's device) completes in the thread that served it.

With ``kick_sync`` the vCPU itself drains the ring inside the kick's exit (QEMU without
ioeventfd): the exit returns when the ring is empty.

Nothing here computes exits from a formula: kicks, interrupts and halts happen when the
ring's suppression logic and the actors' states ask for them at that moment of simulated
time.  Events run in time order (ties: vCPU, then device, then back end), so what one side
sees of the other's writes is what it would see.

The kernel is numba-compiled and allocation-free; :mod:`virtmodel.paths.ringpath` builds
its inputs and reads its counters.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from .jitter import lognormal
from .ring import (
    BROKEN,
    EMPTY,
    _device_disable_kicks,
    _device_enable_kicks,
    _device_pop,
    _device_push_used,
    _device_should_interrupt,
    _driver_add,
    _driver_disable_interrupts,
    _driver_enable_interrupts,
    _driver_get_used,
    _driver_kick_prepare,
    _num_free,
)

# rows of the cost matrix (ns per stage) and of the exit matrix
A_SUBMIT = 0  # vCPU: the guest prepares one request
A_KICK = 1  # vCPU: one kick (a trapping write; a doorbell write on bare metal)
A_WAKE_BACKEND = 2  # back end: its sleeping thread is woken by a kick (jittered)
A_POP = 3  # back end: one request taken from the ring and handed to the device
A_SERVICE = 4  # device: one request served (jittered; time in parallel, not on a CPU)
A_COMPLETE = 5  # back end: one request returned used
A_SIGNAL = 6  # back end: one interrupt raised (irqfd write, MSI)
A_IRQ_RUNNING = 7  # vCPU: an interrupt delivered while it runs
A_HLT = 8  # vCPU: it halts (nothing to do)
A_WAKE_POLLED = 9  # vCPU: woken inside KVM's halt-poll window
A_WAKE_SLEPT = 10  # vCPU: woken after its thread was scheduled out (jittered)
A_HANDLER = 11  # vCPU: the guest's interrupt handler, its EOI and register accesses
A_WAKE_FOR_COMPLETION = 12  # back end: its thread is woken by a completion (jittered)
A_HANDLER_TAIL = 13  # vCPU: the handler's work after it reaped (an NVMe CQ-head doorbell)
N_ACTIONS = 14
ACTIONS = (
    "submit",
    "kick",
    "wake_backend",
    "pop",
    "service",
    "complete",
    "signal",
    "irq_running",
    "hlt",
    "wake_polled",
    "wake_slept",
    "handler",
    "wake_for_completion",
    "handler_tail",
)

# columns of the exit matrix: exits by reason, and how many of them go on to user space
X_IO = 0  # trapping PIO/MMIO accesses: kicks, doorbells, register accesses
X_EOI = 1
X_HLT = 2
X_INTERRUPT = 3  # exits to deliver an interrupt to a running vCPU
X_OTHER = 4
X_USER = 5  # of all the above, those that return to the user-space VMM
EXIT_REASONS = ("io", "eoi", "hlt", "interrupt", "other")
N_EXIT_COLS = 6

# counters[...] written by the kernel
C_KICKS = 0
C_IRQS = 1  # interrupts the vCPU took
C_SIGNALS = 2  # interrupts the back end raised (they merge while one is pending)
C_BACKEND_WAKES = 3
C_HALTS = 4
C_POLL_HITS = 5  # halts ended inside the halt-poll window
C_STATUS = 6
C_STEPS = 7
C_EXITS = 8  # N_EXIT_COLS counters from here: exits by reason, then to user space
N_COUNTERS = C_EXITS + N_EXIT_COLS

# what the kernel adds up besides the actions' costs (ns)
T_HALT_POLL = 0  # CPU spent by KVM halt-polling
T_GUEST_POLL = 1  # CPU spent by the guest spinning on the used ring (poll)
T_BACKEND_BUSY = 2  # the back end's working time (what a polling back end's core does
#                     besides spinning); not CPU to add: its actions' costs count it
T_LAST_DONE = 3  # when the last request completed (not a sum: the latest reap)
N_TIMES = 4

# status codes
OK = 0
RING_BROKEN = 1
STEP_LIMIT = 2
DEADLOCK = 3
STATUS_TEXT = {
    RING_BROKEN: "the ring broke (see ring.broken_reason)",
    STEP_LIMIT: "the step limit was reached",
    DEADLOCK: "every actor is waiting for another",
}

# vCPU phases
_READY = 0
_PUBLISH_DUE = 1  # a prepared request is made available at t_v
_HANDLER_DUE = 2  # interrupt taken; the handler reaps at t_v
_IN_EXIT = 3  # kick_sync: in the kick's exit, draining the ring
_HALTED = 4

HALT_POLL_GROW_START_NS = 10_000.0
"""KVM's ``halt_poll_ns_grow_start``: the first non-zero halt-poll window."""


@njit(inline="always")
def _reap(vq, t, lat, times):
    """Reap every used buffer now: each request's latency is ``t`` less its submit time,
    which ``lat`` held while it was in flight.  Return how many (or BROKEN)."""
    n = 0
    while True:
        tok = _driver_get_used(vq)
        if tok == EMPTY:
            if n > 0 and t > times[T_LAST_DONE]:
                times[T_LAST_DONE] = t
            return n
        if tok < 0:
            return BROKEN
        lat[tok] = t - lat[tok]
        n += 1


@njit(inline="always")
def _take(taken, a, units, w):
    """Count action ``a`` once (its exits are added up at the end, from ``taken``) and
    weigh its cost by ``w``."""
    taken[a] += 1
    units[a] += w


@njit(inline="always")
def _wrap(i, q):
    """``i`` modulo ``q`` for 0 <= i < 2q, without a division."""
    return i - q if i >= q else i


@njit(inline="always")
def _free_slot(slot_t):
    for i in range(slot_t.shape[0]):
        if slot_t[i] == np.inf:
            return i
    return -1


@njit(inline="always")
def _earliest(slot_t):
    """The first slot with the earliest finish.  Written as selects, not a branch per slot:
    with jittered finish times the branch is a coin toss the CPU mispredicts (8 % of the
    whole run at batch 128)."""
    k = 0
    m = slot_t[0]
    for i in range(1, slot_t.shape[0]):
        v = slot_t[i]
        lt = v < m
        k = i if lt else k
        m = v if lt else m
    return k


# slots of the device's queues' state (dq)
_W_HEAD = 0  # requests waiting for a device slot: a FIFO in ``waiting``
_W_LEN = 1
_R_HEAD = 2  # served requests waiting to be returned used: a FIFO in ``ready``
_R_LEN = 3
_BUSY = 4  # device slots in use


@njit(inline="always")
def _to_device(head, t, svc_ns, slot_t, slot_h, waiting, ready, dq, rng, sigma, units, d_next, d_k):
    """Hand a popped request to the device at ``t``: served at once when it has no service
    time, in a free slot, or queued for one.  Returns when the device next finishes and in
    which slot, given ``d_next`` and ``d_k`` before: a new request can only bring the next
    finish forward, so the slots need no scan (ties go to the lower slot, as in
    :func:`_earliest`)."""
    q = ready.shape[0]
    if svc_ns == 0.0:
        ready[_wrap(dq[_R_HEAD] + dq[_R_LEN], q)] = head
        dq[_R_LEN] += 1
    elif dq[_BUSY] < slot_t.shape[0]:
        k = _free_slot(slot_t)
        js = lognormal(rng, sigma)
        units[A_SERVICE] += js
        v = t + svc_ns * js
        slot_t[k] = v
        slot_h[k] = head
        dq[_BUSY] += 1
        if v < d_next or (v == d_next and k < d_k):
            return v, k
    else:
        waiting[_wrap(dq[_W_HEAD] + dq[_W_LEN], q)] = head
        dq[_W_LEN] += 1
    return d_next, d_k


@njit(inline="always")
def _return_used(vq, ready, dq, written):
    """Return the oldest served request used."""
    head = ready[dq[_R_HEAD]]
    dq[_R_HEAD] = _wrap(dq[_R_HEAD] + 1, ready.shape[0])
    dq[_R_LEN] -= 1
    _device_push_used(vq, head, written)


@njit(inline="always")
def _wants_interrupt(vq, poll, suppress_interrupts):
    """At the end of a pass of completions: raise an interrupt?"""
    return not poll and (not suppress_interrupts or _device_should_interrupt(vq))


@njit
def simulate_ring(
    vq,
    n_req,
    kick_every,
    closed,
    depth,
    chain_lens,
    chain_write,
    written,
    cost,
    exits,
    kick_sync,
    poll,
    suppress_kicks,
    suppress_interrupts,
    backend_polls,
    doorbell_tail,
    parallelism,
    halt_poll_max_ns,
    rng,
    sigma,
    lat,
    stage_ns,
    times,
    counters,
    max_steps,
):
    """Run ``n_req`` requests through ``vq``; fill ``lat`` (ns: each request's submit time
    while it is in flight, its latency once it completed), ``stage_ns`` (total ns per
    stage of the actions taken), ``times`` (``T_*``: polling CPU, the last completion;
    zeroed by the caller) and ``counters`` (``C_STATUS`` says whether it finished: OK, or
    why not).

    ``cost[action, stage]`` and ``exits[action, column]`` describe each action (rows
    ``A_*``; exit columns ``X_*``).  Device service and thread wake-ups are multiplied by
    lognormal factors of shape ``sigma`` drawn from ``rng`` (a numpy Generator) as they
    happen.  ``max_steps`` bounds the loop (``C_STATUS`` = STEP_LIMIT past it).
    """
    q = vq.queue_size
    addrs = np.empty(chain_lens.shape[0], dtype=np.int64)
    c_row = np.empty(N_ACTIONS)
    for a in range(N_ACTIONS):
        c_row[a] = cost[a].sum()
    units = np.zeros(N_ACTIONS)  # actions taken, each weighted by its jitter factor
    taken = np.zeros(N_ACTIONS, dtype=np.int64)  # actions taken
    slot_t = np.full(parallelism, np.inf)  # when each device slot's request finishes
    slot_h = np.zeros(parallelism, dtype=np.int64)
    waiting = np.zeros(q, dtype=np.int64)  # requests waiting for a device slot (FIFO)
    ready = np.zeros(q, dtype=np.int64)  # served requests waiting to be returned (FIFO)
    dq = np.zeros(5, dtype=np.int64)  # the two FIFOs' heads and lengths, slots in use
    _run(
        vq,
        n_req,
        kick_every,
        closed,
        depth,
        chain_lens,
        chain_write,
        written,
        cost,
        exits,
        kick_sync,
        poll,
        suppress_kicks,
        suppress_interrupts,
        backend_polls,
        doorbell_tail,
        halt_poll_max_ns,
        rng,
        sigma,
        lat,
        stage_ns,
        times,
        counters,
        max_steps,
        addrs,
        c_row,
        units,
        taken,
        slot_t,
        slot_h,
        waiting,
        ready,
        dq,
    )


@njit(_nrt=False)
def _run(
    vq,
    n_req,
    kick_every,
    closed,
    depth,
    chain_lens,
    chain_write,
    written,
    cost,
    exits,
    kick_sync,
    poll,
    suppress_kicks,
    suppress_interrupts,
    backend_polls,
    doorbell_tail,
    halt_poll_max_ns,
    rng,
    sigma,
    lat,
    stage_ns,
    times,
    counters,
    max_steps,
    addrs,
    c_row,
    units,
    taken,
    slot_t,
    slot_h,
    waiting,
    ready,
    dq,
):
    """The event loop of :func:`simulate_ring`, which allocates its work arrays.

    Compiled without numba's runtime (``_nrt=False``): it allocates nothing, and with the
    runtime every ring operation inlined here reference-counts the queue's two arrays
    (atomic increments and decrements that the compiler could not prune), which took half
    of the loop's time."""
    inf = np.inf
    q = vq.queue_size
    n_desc = chain_lens.shape[0]
    svc_ns = c_row[A_SERVICE]

    # vCPU
    t_v = 0.0
    v_phase = _READY
    irq_at = inf  # when a raised interrupt reaches the vCPU
    unseen_at = inf  # poll: when the oldest unreaped used buffer was published
    t_halt = 0.0
    window = 0.0  # KVM's current halt-poll window
    next_req = 0
    in_batch = 0
    done = 0
    # back end
    b_awake = False
    t_b = 0.0
    wake_at = inf
    kicked = False  # a kick the back end has not acted on yet
    draining = False
    in_pass = False  # completions returned since the last interrupt decision
    v_pass = False  # the same, for completions returned inside a kick_sync exit
    # device (its queues' state in dq)
    d_next = inf
    d_k = 0  # the slot that finishes at d_next (what _earliest would answer): kept, not
    #          rescanned, when a request starts (measured: 9 to 11 % of a run)
    # doorbell_tail: chains taken; announced by doorbell writes that have landed; the last
    # write's count and the time it lands (one write in flight at most: the vCPU rings
    # again only after that write's exit ended)
    popped = 0
    announced = 0
    rung = 0
    rung_at = 0.0

    if backend_polls:  # it never asks for a kick: it watches the ring
        _device_disable_kicks(vq)
    steps = 0
    status = OK
    while done < n_req:
        steps += 1
        if steps > max_steps:
            status = STEP_LIMIT
            break
        # ---- when does each actor act next? --------------------------------------------
        b_time = t_b if b_awake else wake_at
        v_time = inf
        action = -1
        if v_phase == _PUBLISH_DUE or v_phase == _HANDLER_DUE or v_phase == _IN_EXIT:
            v_time = t_v
        elif v_phase == _HALTED:
            v_time = irq_at
        else:
            can_submit = (
                next_req < n_req
                and _num_free(vq) >= n_desc
                and next_req - done < depth
                and (not closed or in_batch > 0 or done == next_req)
            )
            if irq_at <= t_v:
                v_time, action = t_v, A_IRQ_RUNNING
            elif poll and unseen_at <= t_v:
                v_time, action = t_v, -2  # reap by polling
            elif can_submit:
                v_time, action = t_v, A_SUBMIT
            elif poll:
                if unseen_at < inf:
                    v_time, action = unseen_at, -2
            elif irq_at < inf or b_time < inf or d_next < inf:
                v_time, action = t_v, A_HLT
        if v_time == inf and b_time == inf and d_next == inf:
            status = DEADLOCK
            break
        # ---- the vCPU acts ---------------------------------------------------------------
        if v_time <= d_next and v_time <= b_time:
            if v_phase == _READY:
                if action == A_SUBMIT:
                    lat[next_req] = t_v  # its submit time, until it completes
                    _take(taken, A_SUBMIT, units, 1.0)
                    t_v += c_row[A_SUBMIT]
                    v_phase = _PUBLISH_DUE
                elif action == A_IRQ_RUNNING:
                    irq_at = inf
                    counters[C_IRQS] += 1
                    _take(taken, A_IRQ_RUNNING, units, 1.0)
                    _take(taken, A_HANDLER, units, 1.0)
                    t_v += c_row[A_IRQ_RUNNING] + c_row[A_HANDLER]
                    v_phase = _HANDLER_DUE
                elif action == -2:
                    times[T_GUEST_POLL] += v_time - t_v
                    t_v = v_time
                    unseen_at = inf
                    n = _reap(vq, t_v, lat, times)
                    if n < 0:
                        status = RING_BROKEN
                        break
                    done += n
                elif action == A_HLT:
                    counters[C_HALTS] += 1
                    _take(taken, A_HLT, units, 1.0)
                    t_v += c_row[A_HLT]
                    t_halt = t_v
                    v_phase = _HALTED
                continue
            if v_phase == _HALTED:  # the interrupt arrived: wake, enter, take it
                halted = irq_at - t_halt
                halted = max(halted, 0.0)
                irq_at = inf
                if halted <= window:
                    counters[C_POLL_HITS] += 1
                    times[T_HALT_POLL] += halted
                    _take(taken, A_WAKE_POLLED, units, 1.0)
                    t_v = t_halt + halted + c_row[A_WAKE_POLLED]
                else:
                    times[T_HALT_POLL] += window
                    jw = lognormal(rng, sigma)
                    _take(taken, A_WAKE_SLEPT, units, jw)
                    t_v = t_halt + halted + c_row[A_WAKE_SLEPT] * jw
                # KVM's adaptive window (kvm_vcpu_halt): keep, shrink or grow
                if halted > window:
                    if window > 0.0 and halted > halt_poll_max_ns:
                        window = window / 2.0
                        if window < HALT_POLL_GROW_START_NS:
                            window = 0.0
                    elif window < halt_poll_max_ns and halted < halt_poll_max_ns:
                        window = max(HALT_POLL_GROW_START_NS, 2.0 * window)
                        window = min(window, halt_poll_max_ns)
                counters[C_IRQS] += 1
                _take(taken, A_HANDLER, units, 1.0)
                t_v += c_row[A_HANDLER]
                v_phase = _HANDLER_DUE
                continue
            if v_phase == _PUBLISH_DUE:
                v_phase = _READY
                for k in range(n_desc):
                    addrs[k] = (next_req * n_desc + k) * 4096
                head = _driver_add(vq, addrs, chain_lens, chain_write, next_req)
                if head < 0:
                    status = RING_BROKEN
                    break
                next_req += 1
                in_batch += 1
                if backend_polls and not b_awake and wake_at == inf:
                    kicked = True  # the polling back end sees the new chain at once
                    wake_at = t_v
                if in_batch == kick_every or next_req == n_req or _num_free(vq) < n_desc:
                    in_batch = 0
                    if _driver_kick_prepare(vq):
                        counters[C_KICKS] += 1
                        _take(taken, A_KICK, units, 1.0)
                        t_v += c_row[A_KICK]
                        if doorbell_tail:  # the new tail lands as the write's exit ends
                            announced = rung
                            rung = next_req
                            rung_at = t_v
                        if kick_sync:
                            v_phase = _IN_EXIT
                            if suppress_kicks:
                                _device_disable_kicks(vq)
                        elif not b_awake:
                            kicked = True
                            if wake_at == inf:
                                jw = lognormal(rng, sigma)
                                wake_at = t_v + c_row[A_WAKE_BACKEND] * jw
                                _take(taken, A_WAKE_BACKEND, units, jw)
                        else:
                            kicked = True
                continue
            if v_phase == _HANDLER_DUE:
                v_phase = _READY
                _driver_disable_interrupts(vq)
                # what it reaps, the application sees once the handler is done (its tail
                # included); an entry that arrives during the tail waits for the next one
                t_seen = t_v + c_row[A_HANDLER_TAIL]
                while True:
                    n = _reap(vq, t_seen, lat, times)
                    if n < 0:
                        status = RING_BROKEN
                        break
                    done += n
                    if not _driver_enable_interrupts(vq):
                        break
                    _driver_disable_interrupts(vq)
                if status != OK:
                    break
                _take(taken, A_HANDLER_TAIL, units, 1.0)
                t_v += c_row[A_HANDLER_TAIL]
                continue
            # _IN_EXIT: the vCPU drains the ring (kick_sync), requests with no service time
            # complete inline; the exit returns when the ring is empty
            if dq[_R_LEN] > 0 and svc_ns == 0.0:
                _return_used(vq, ready, dq, written)
                _take(taken, A_COMPLETE, units, 1.0)
                t_v += c_row[A_COMPLETE]
                v_pass = True
                if poll and unseen_at == inf:
                    unseen_at = t_v
                continue
            head = _device_pop(vq)
            if head == BROKEN:
                status = RING_BROKEN
                break
            if head != EMPTY:
                popped += 1
                _take(taken, A_POP, units, 1.0)
                t_v += c_row[A_POP]
                d_next, d_k = _to_device(
                    head,
                    t_v,
                    svc_ns,
                    slot_t,
                    slot_h,
                    waiting,
                    ready,
                    dq,
                    rng,
                    sigma,
                    units,
                    d_next,
                    d_k,
                )
                continue
            if suppress_kicks and _device_enable_kicks(vq):
                _device_disable_kicks(vq)
                continue
            v_phase = _READY
            if v_pass:
                v_pass = False
                if _wants_interrupt(vq, poll, suppress_interrupts):
                    counters[C_SIGNALS] += 1
                    _take(taken, A_SIGNAL, units, 1.0)
                    t_v += c_row[A_SIGNAL]
                    # raised by the vCPU's own thread inside its exit: KVM injects it on
                    # the entry that ends the exit, with no exit to deliver it (one that
                    # was already pending merges with it)
                    if irq_at <= t_v:
                        irq_at = inf
                    counters[C_IRQS] += 1
                    _take(taken, A_HANDLER, units, 1.0)
                    t_v += c_row[A_HANDLER]
                    v_phase = _HANDLER_DUE
            continue
        # ---- the device: a request finishes ----------------------------------------------
        if d_next <= b_time:
            k = d_k
            tf = d_next
            ready[_wrap(dq[_R_HEAD] + dq[_R_LEN], q)] = slot_h[k]
            dq[_R_LEN] += 1
            if dq[_W_LEN] > 0:
                js = lognormal(rng, sigma)
                units[A_SERVICE] += js
                slot_t[k] = tf + svc_ns * js
                slot_h[k] = waiting[dq[_W_HEAD]]
                dq[_W_HEAD] = _wrap(dq[_W_HEAD] + 1, q)
                dq[_W_LEN] -= 1
            else:
                slot_t[k] = inf
                dq[_BUSY] -= 1
            d_k = _earliest(slot_t)
            d_next = slot_t[d_k]
            if not b_awake and wake_at == inf:
                if backend_polls:
                    wake_at = tf
                else:
                    jw = lognormal(rng, sigma)
                    wake_at = tf + c_row[A_WAKE_FOR_COMPLETION] * jw
                    _take(taken, A_WAKE_FOR_COMPLETION, units, jw)
            continue
        # ---- the back end ------------------------------------------------------------------
        if not b_awake:
            t_b = max(t_b, wake_at)
            wake_at = inf
            b_awake = True
            counters[C_BACKEND_WAKES] += 1
        if dq[_R_LEN] > 0:  # return a served request
            _return_used(vq, ready, dq, written)
            _take(taken, A_COMPLETE, units, 1.0)
            t_b += c_row[A_COMPLETE]
            times[T_BACKEND_BUSY] += c_row[A_COMPLETE]
            in_pass = True
            if poll and unseen_at == inf:
                unseen_at = t_b
            continue
        if in_pass:  # one interrupt decision per pass of completions
            in_pass = False
            if _wants_interrupt(vq, poll, suppress_interrupts):
                counters[C_SIGNALS] += 1
                _take(taken, A_SIGNAL, units, 1.0)
                t_b += c_row[A_SIGNAL]
                times[T_BACKEND_BUSY] += c_row[A_SIGNAL]
                if irq_at == inf:
                    irq_at = t_b
            continue
        if kicked and not draining:
            kicked = False
            draining = True
            if suppress_kicks:
                _device_disable_kicks(vq)
        if draining:
            head = EMPTY
            if not doorbell_tail or popped < (rung if t_b >= rung_at else announced):
                head = _device_pop(vq)
            elif popped < rung:  # the next doorbell write has not landed yet: wait for it
                t_b = rung_at
                continue
            if head == BROKEN:
                status = RING_BROKEN
                break
            if head != EMPTY:
                popped += 1
                _take(taken, A_POP, units, 1.0)
                t_b += c_row[A_POP]
                times[T_BACKEND_BUSY] += c_row[A_POP]
                d_next, d_k = _to_device(
                    head,
                    t_b,
                    svc_ns,
                    slot_t,
                    slot_h,
                    waiting,
                    ready,
                    dq,
                    rng,
                    sigma,
                    units,
                    d_next,
                    d_k,
                )
                continue
            if suppress_kicks and not backend_polls and _device_enable_kicks(vq):
                _device_disable_kicks(vq)
                continue
            draining = False
            continue
        b_awake = False  # nothing to do: sleep (or poll) until a kick or a completion
    for a in range(N_ACTIONS):  # the time of each stage is exact: sum of units x cost
        for k in range(stage_ns.shape[0]):
            stage_ns[k] += units[a] * cost[a, k]
        for k in range(N_EXIT_COLS):  # and the exits: each action's, as often as taken
            counters[C_EXITS + k] += taken[a] * exits[a, k]
    counters[C_STATUS] = status
    counters[C_STEPS] = steps
