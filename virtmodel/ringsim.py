"""A driver and a device exchanging requests through one split ring, in simulated time.

Two actors share a :class:`virtmodel.ring.Virtqueue`:

* the **vCPU** runs the guest driver in closed-loop batches: it prepares ``batch`` requests
  (guest work for each), makes them available, asks the ring once whether the device wants
  a kick, and waits until all of them are complete before it starts the next batch (fio's
  ``iodepth=batch`` with batch submission and completion).  The kick decision is the ring's (``_driver_kick_prepare``: ``VRING_USED_F_NO_NOTIFY`` or ``need_event``).  It takes
  interrupts (disable interrupts, reap every used buffer, re-enable, look again) or, with
  ``poll``, reaps used buffers whenever it sees some;
* the **device** sleeps until kicked (a wake-up costs time), then drains the ring with kicks
  disabled, serves each chain, pushes it used and asks the ring whether the driver wants an
  interrupt (``_device_should_interrupt``); when the ring looks empty it re-enables kicks and
  looks once more before sleeping (the race every real back end must close).

With ``kick_sync`` the device has no thread of its own: a kick is an exit to user space and
the device drains the ring inside it while the vCPU waits (QEMU without ioeventfd).

Nothing here computes "exits per request" from a formula: kicks and interrupts happen when
the ring's own suppression logic asks for them at that moment of simulated time.  Each
actor's action that takes time is split in two events (start, then effect at its end), and
events run in time order, so what one side sees of the other's writes is what it would see.

The kernel is numba-compiled and allocation-free; :func:`virtmodel.paths.simulate` is the
validating wrapper that builds its inputs.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
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

# rows of the cost matrix (ns per stage) and of the exit-count matrix
A_SUBMIT = 0  # vCPU: the guest prepares one request
A_KICK = 1  # vCPU: one kick (an exit, or a doorbell write on bare metal)
A_WAKE = 2  # device: a sleeping device thread is woken (a delay before it runs)
A_SERVE = 3  # device: one request served (jittered)
A_IRQ = 4  # vCPU: one interrupt taken
N_ACTIONS = 5

# counters[...] written by the kernel
C_KICKS = 0
C_IRQS = 1  # interrupts the vCPU took
C_IRQ_SIGNALS = 2  # interrupts the device raised (signals merge while one is pending)
C_WAKES = 3
C_EXITS = 4
C_USER_EXITS = 5
C_STATUS = 6
C_STEPS = 7
N_COUNTERS = 8

# status codes
OK = 0
RING_BROKEN = 1
STEP_LIMIT = 2
DEADLOCK = 3
STATUS_TEXT = {
    RING_BROKEN: "the ring broke (see ring.broken_reason)",
    STEP_LIMIT: "the step limit was reached",
    DEADLOCK: "both sides are waiting for each other",
}

# vCPU phases
_READY = 0
_PUBLISH_DUE = 1  # a prepared request is made available at t_v
_REAP_DUE = 2  # interrupt taken; the handler reaps at t_v
_IN_DEVICE = 3  # kick_sync: blocked in an exit while the device drains the ring


@njit(inline="always")
def _lognormal(rng, sigma):
    """A jitter factor with mean 1 (lognormal with shape ``sigma``); 1.0 if sigma is 0."""
    if sigma == 0.0:
        return 1.0
    return np.exp(sigma * rng.standard_normal() - 0.5 * sigma * sigma)


@njit(inline="always")
def _reap(vq, t, done_t):
    """Reap every used buffer now; return how many (or BROKEN)."""
    n = 0
    while True:
        tok = _driver_get_used(vq)
        if tok == EMPTY:
            return n
        if tok < 0:
            return BROKEN
        done_t[tok] = t
        n += 1


@njit
def simulate_ring(vq, n_req, batch, chain_lens, chain_write, written, cost, exits,
                  kick_sync, poll, rng, sigma, submit_t, done_t, stage_ns, counters):
    """Run ``n_req`` requests through ``vq``; fill ``submit_t``/``done_t`` (ns),
    ``stage_ns`` (total ns per stage) and ``counters`` (``C_STATUS`` says whether it
    finished: OK, or why not).

    ``cost[action, stage]`` and ``exits[action, (all, user)]`` describe what each action
    costs (rows ``A_*``).  Service and wake-up times are multiplied by lognormal factors of
    shape ``sigma`` drawn from ``rng`` (a numpy Generator) as they happen.
    """
    addrs = np.empty(chain_lens.shape[0], dtype=np.int64)
    c_row = np.empty(N_ACTIONS)
    for a in range(N_ACTIONS):
        c_row[a] = cost[a].sum()
    units = np.zeros(N_ACTIONS)  # actions taken, each weighted by its jitter factor
    _run(vq, n_req, batch, chain_lens, chain_write, written, cost, exits, kick_sync, poll,
         rng, sigma, submit_t, done_t, stage_ns, counters, addrs, c_row, units)


@njit(_nrt=False)
def _run(vq, n_req, batch, chain_lens, chain_write, written, cost, exits, kick_sync, poll,
         rng, sigma, submit_t, done_t, stage_ns, counters, addrs, c_row, units):
    """The event loop of :func:`simulate_ring`, which allocates its work arrays.

    Compiled without numba's runtime (``_nrt=False``): it allocates nothing, and with the
    runtime every ring operation inlined here reference-counts the queue's two arrays
    (atomic increments and decrements that the compiler could not prune), which took half
    of the loop's time.  Same events, same results, half the time per request."""
    inf = np.inf
    n_desc = chain_lens.shape[0]

    t_v = 0.0
    t_d = 0.0
    v_phase = _READY
    dev_awake = False
    wake_at = inf
    serving = -1
    irq_at = inf
    unseen_at = inf  # poll: when the oldest unreaped used buffer was published
    next_req = 0
    in_batch = 0
    done = 0
    steps = 0
    limit = 64 * n_req + 1024
    status = OK
    while done < n_req:
        steps += 1
        if steps > limit:
            status = STEP_LIMIT
            break
        # ---- when does each actor act next? --------------------------------------------
        if serving >= 0 or dev_awake:
            d_time = t_d
        else:
            d_time = wake_at
        action = -1
        v_time = inf
        if v_phase == _PUBLISH_DUE or v_phase == _REAP_DUE:
            v_time = t_v
        elif v_phase == _READY:
            # a batch, once started, is filled; a new one starts when all are complete
            can_submit = (next_req < n_req and _num_free(vq) >= n_desc
                          and (in_batch > 0 or done == next_req))
            if irq_at <= t_v:
                v_time, action = t_v, A_IRQ
            elif poll and unseen_at <= t_v:
                v_time, action = t_v, -2  # reap by polling
            elif can_submit:
                v_time, action = t_v, A_SUBMIT
            elif irq_at < inf:
                v_time, action = irq_at, A_IRQ
            elif poll and unseen_at < inf:
                v_time, action = unseen_at, -2
        if v_time == inf and d_time == inf:
            status = DEADLOCK
            break
        # ---- the vCPU acts ---------------------------------------------------------------
        # An action that takes time has its effect at its end (publish after submit, reap
        # after the interrupt).  When that end comes no later than the device's next event
        # the effect is applied in the same step: the order of events is the one the loop
        # would produce (ties go to the vCPU), at fewer steps.
        if v_time <= d_time:
            if action == A_SUBMIT:
                submit_t[next_req] = t_v
                units[A_SUBMIT] += 1.0
                t_v += c_row[A_SUBMIT]
                v_phase = _PUBLISH_DUE
            elif action == A_IRQ:
                t_v = max(t_v, irq_at)
                irq_at = inf
                counters[C_IRQS] += 1
                counters[C_EXITS] += exits[A_IRQ, 0]
                counters[C_USER_EXITS] += exits[A_IRQ, 1]
                units[A_IRQ] += 1.0
                t_v += c_row[A_IRQ]
                v_phase = _REAP_DUE
            elif action == -2:
                t_v = max(t_v, unseen_at)
                unseen_at = inf
                n = _reap(vq, t_v, done_t)
                if n < 0:
                    status = RING_BROKEN
                    break
                done += n
            if t_v > d_time:
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
                if in_batch == batch or next_req == n_req or _num_free(vq) < n_desc:
                    in_batch = 0
                    if _driver_kick_prepare(vq):
                        counters[C_KICKS] += 1
                        counters[C_EXITS] += exits[A_KICK, 0]
                        counters[C_USER_EXITS] += exits[A_KICK, 1]
                        units[A_KICK] += 1.0
                        t_v += c_row[A_KICK]
                        if kick_sync:
                            if not dev_awake:
                                dev_awake = True
                                t_d = max(t_d, t_v)
                                _device_disable_kicks(vq)
                            v_phase = _IN_DEVICE
                        elif not dev_awake and wake_at == inf:
                            jw = _lognormal(rng, sigma)
                            wake_at = t_v + c_row[A_WAKE] * jw
                            units[A_WAKE] += jw
            elif v_phase == _REAP_DUE:
                v_phase = _READY
                _driver_disable_interrupts(vq)
                while True:
                    n = _reap(vq, t_v, done_t)
                    if n < 0:
                        status = RING_BROKEN
                        break
                    done += n
                    if not _driver_enable_interrupts(vq):
                        break
                    _driver_disable_interrupts(vq)
                if status != OK:
                    break
        # ---- the device acts (wake-up, pop and serve; used at the end of the service) ----
        else:
            if serving < 0 and not dev_awake:
                t_d = max(t_d, wake_at)
                wake_at = inf
                dev_awake = True
                counters[C_WAKES] += 1
                _device_disable_kicks(vq)
            if serving < 0:
                head = _device_pop(vq)
                if head == BROKEN:
                    status = RING_BROKEN
                    break
                if head == EMPTY:
                    if _device_enable_kicks(vq):
                        _device_disable_kicks(vq)  # chains arrived meanwhile: keep draining
                    else:
                        dev_awake = False
                        if v_phase == _IN_DEVICE:
                            t_v = max(t_v, t_d)  # the exit returns; the vCPU runs again
                            v_phase = _READY
                    continue
                js = _lognormal(rng, sigma)
                units[A_SERVE] += js
                t_d += c_row[A_SERVE] * js
                serving = head
                if t_d >= v_time:
                    continue  # the vCPU acts before the service ends
            _device_push_used(vq, serving, written)
            serving = -1
            if poll:
                if unseen_at == inf:
                    unseen_at = t_d
            elif _device_should_interrupt(vq):
                counters[C_IRQ_SIGNALS] += 1
                if irq_at == inf:
                    irq_at = t_d
    for a in range(N_ACTIONS):  # the time of each stage is exact: sum of units x cost
        for k in range(stage_ns.shape[0]):
            stage_ns[k] += units[a] * cost[a, k]
    counters[C_STATUS] = status
    counters[C_STEPS] = steps
