"""Guest drivers, back ends and a physical device exchanging requests through rings, in
simulated time.

Three kinds of actor share the queues of a :class:`Rings` (each a
:class:`virtmodel.ringmem.Virtqueue`, reached through the ring interface,
:mod:`virtmodel.ring`, so either layout runs); there are ``Loop.vcpus`` vCPUs (``numjobs``
of them running a fio job each, with its share of the requests), ``Loop.queues`` queues and
``Loop.threads`` back-end threads, one device.  blk-mq maps the vCPUs to the queues in
contiguous groups; a queue's interrupt goes to the first vCPU of its group, and a
completion reaped there for a job on another vCPU that sleeps halted wakes it with an IPI
(:func:`_reap`); queue k is served by thread k mod ``threads`` (:func:`maps`):

* the **vCPU** runs the guest driver.  Its workload is fio-like: at most ``depth`` requests
  in flight; with ``closed`` a new batch starts only when the whole previous one completed
  (batch submission and completion); it asks the ring whether the device wants a kick after
  every ``kick_every`` requests (the ring answers by ``VRING_USED_F_NO_NOTIFY`` or
  ``need_event``).  It takes interrupts (disable interrupts, reap every used buffer,
  re-enable, look again) or, with ``poll``, spins on the used ring.  With nothing to do it
  **halts**: an HLT exit, then KVM polls for up to its adaptive halt-poll window (0, then
  10 µs doubling up to ``halt_poll_max_ns``; halved after a halt longer than the maximum, as
  ``kvm_vcpu_halt`` does since Linux 6.11, reset to 0 before) before it schedules the vCPU
  thread out; an interrupt inside the window resumes it cheaply, one after it pays a wake-up.  An interrupt that arrives while
  the vCPU runs is delivered as the interrupt mode's cost matrix says (an exit without
  posted interrupts, none with them); one the vCPU's own thread raises inside an exit
  (``kick_sync``) is injected on the entry that ends it, with no exit of its own;
* a **back-end thread** (QEMU's I/O thread, vhost's worker, or the device's own controller
  on bare metal, one per queue) sleeps until a kick or a completion for one of its queues
  wakes it.  It works in passes, as the
  real handlers do.  A *submission pass* (QEMU's ``virtio_blk_handle_vq``, vhost's
  handler, ``nvme_process_sq``) runs to its end once begun: kicks off while it takes
  chains (``suppress_kicks``; an NVMe controller without shadow doorbells never suppresses
  them), and when the ring looks empty re-enabled and the ring looked at once more (the
  race every real back end must close) -- so kicks are re-armed at the end of every pass,
  not when completions have drained.  With ``submit_per_pass`` the pass's requests reach
  the device together at its end, in one submission (QEMU's ``defer_call_begin/end``
  around the pass: one ``io_submit``); otherwise each goes as it is taken (vhost-scsi
  hands each command on).  With ``rearm_every_pop`` kicks are re-armed after every
  request taken (NVMe's shadow doorbells: ``nvme_process_sq`` writes EventIdx := the
  tail it knows after every command).  A *completion pass*, triggered by the device,
  returns served requests used, with kicks in whatever state the last pass or poll left
  them, and ends in one interrupt decision (QEMU's deferred irqfd write and vhost's signal
  after a batch both come to this; without ``suppress_interrupts``, as an NVMe
  controller, every pass raises one, unless interrupt coalescing holds it back until
  ``coalesce_entries`` completions wait or ``coalesce_ns`` passed since the first:
  :func:`_interrupt_decision`).  With nothing to do, a thread with a poll window
  (``poll_max_ns``: an IOThread's ``aio_poll``) first spins for up to its window with
  kicks disabled (``io_poll_begin``; they stay off while polls keep finding work), sees
  new chains and completions as they appear with no wake-up, and only when the window
  runs out re-enables kicks (``io_poll_end``), looks once more and blocks; the window
  adapts as ``adjust_polling_time`` does (:func:`_aio_poll_window`), or with
  ``poll_fixed`` is always the whole ``poll_max_ns`` (vhost-net's ``vhost_net_busy_poll``
  spins up to the queue's ``busyloop_timeout`` with kicks disabled, every time the ring
  looks empty, and never adapts it).  A
  ``backend_polls`` back end (SPDK's vhost target busy-polling its rings) never asks for
  a kick and sees new chains and completions as they appear, at the price of a core.  A
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

How the code is laid out (SimPy's shape, in one numba kernel):

* :class:`Loop` holds the run's parameters (scalars: the workload and the actors'
  behaviour); :meth:`virtmodel.paths.ringpath.RingSetup.loop` builds it.  :class:`Work`
  holds the arrays the loop works in; :func:`simulate_ring` makes them.
* :func:`_run` is the loop: it asks each actor when it acts next (:func:`_vcpu_next` for
  each vCPU, each thread's clock or wake-up time, the device's next finish), picks the
  earliest (ties: vCPUs in order, the device, threads in order), and that actor takes one
  step: :func:`_vcpu_step` (which dispatches on what the vCPU does next, ``DO_*``),
  :func:`_device_step`, :func:`_backend_step`.
* Each actor's state is named slots in rows of small arrays (``VT_``/``VN_`` for the
  vCPUs, ``BT_``/``BN_`` the back-end threads, ``DT_``/``DN_`` the device, ``QT_``/``QN_``
  the queues as their back ends know them): times in ns, and numbers and flags.  A step
  function takes the rows it reads and writes, or all of a kind where it reaches another
  actor through the maps of :class:`Work` (``queue_of``, ``thread_of``, ...).
* What the back end and the vCPU in a ``kick_sync`` exit both do is written once:
  :func:`_drain_step` (take a chain and hand it to the device or keep it for the pass's
  submission, or re-enable kicks, look again and submit), :func:`_complete`,
  :func:`_interrupt_decision`.  The back end's idle states are :func:`_backend_idle`
  (poll or block) and :func:`_backend_wakes`.
* The ring is reached only through :mod:`virtmodel.ring`'s kernel operations (imported
  below, one block).

The kernel is numba-compiled and allocation-free; :mod:`virtmodel.paths.ringpath` builds
its inputs and reads its counters.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._jit import njit, row, stack_array
from .jitter import lognormal
from .ringmem import BROKEN, EMPTY, Virtqueue
from .ringops import (
    device_disable_kicks,
    device_enable_kicks,
    device_pop,
    device_push_used,
    device_should_interrupt,
    driver_add,
    driver_disable_interrupts,
    driver_enable_interrupts,
    driver_get_used,
    driver_kick_prepare,
    num_free,
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
A_SUBMIT_PASS = 14  # back end: one submission of a whole pass's requests (io_submit)
A_IPI = 15  # vCPU: a wake-up IPI to the halted vCPU of a job whose request it completed
N_ACTIONS = 16
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
    "submit_pass",
    "ipi",
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
C_PASSES = 8  # submission passes that took at least one request
C_SUBMITS = 9  # submissions to the device (submit_per_pass: one per such pass)
C_COMPLETION_PASSES = 10  # passes of completions (each ends in one interrupt decision)
C_POLL_HITS_BACKEND = 11  # back-end poll windows that found work (no wake-up)
C_IPIS = 12  # wake-up IPIs between vCPUs (a completion reaped for another vCPU's job)
C_EXITS = 13  # N_EXIT_COLS counters from here: exits by reason, then to user space
N_COUNTERS = C_EXITS + N_EXIT_COLS

# what the kernel adds up besides the actions' costs (ns)
T_HALT_POLL = 0  # CPU spent by KVM halt-polling
T_GUEST_POLL = 1  # CPU spent by the guest spinning on the used ring (poll)
T_LAST_DONE = 2  # when the last request completed (not a sum: the latest reap)
T_BACKEND_POLL = 3  # CPU the back-end threads spent in adaptive poll windows
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

# ---- the loop's parameters ---------------------------------------------------------------


class Loop(NamedTuple):
    """What the event loop runs: the workload and the actors' behaviour, scalars only
    (:meth:`virtmodel.paths.ringpath.RingSetup.loop` builds it from a path's setup)."""

    requests: int  # requests to complete
    kick_every: int  # the vCPU asks whether to kick after this many requests
    closed: bool  # a new batch starts only when the previous one completed
    depth: int  # requests in flight at most
    poll: bool  # the vCPU spins on the used ring instead of taking interrupts
    kick_sync: bool  # a kick drains the ring inside its exit (no back-end thread)
    suppress_kicks: bool  # the back end disables kicks while it drains
    suppress_interrupts: bool  # the back end asks the ring before it interrupts
    backend_polls: bool  # the back end busy-polls the ring: never asks for a kick
    doorbell_tail: bool  # the back end takes only chains a doorbell write announced
    parallelism: int  # requests the device serves at once
    halt_poll_max_ns: float  # KVM's maximum halt-poll window (0: none)
    sigma: float  # shape of the lognormal jitter of service and wake-up times
    max_steps: int  # the loop stops (STEP_LIMIT) after this many steps
    written: int = 0  # bytes the device writes per request (the used element's len)
    submit_per_pass: bool = False  # a pass's requests reach the device together, at its end
    rearm_every_pop: bool = False  # the back end re-arms kicks after every request it takes
    poll_max_ns: float = 0.0  # the back-end thread's maximum adaptive poll window (0: none)
    vcpus: int = 1  # vCPUs (job j runs on vCPU j)
    numjobs: int = 1  # fio jobs, each with its share of ``requests``, at most ``depth`` in flight
    queues: int = 1  # rings (vCPUs map to them in contiguous groups, Work.queue_of)
    threads: int = 1  # back-end threads (queue k is served by thread Work.thread_of[k])
    poll_fixed: bool = False  # the poll window is always poll_max_ns (vhost-net's busy loop)
    coalesce_entries: int = 0  # interrupt coalescing: completions per interrupt (< 2: off)
    coalesce_ns: float = 0.0  # and the longest an interrupt is held back for them
    pass_limit: int = 0  # requests a pass takes before it yields to the thread's other work


class Rings(NamedTuple):
    """Every queue of a run: queue ``k``'s shared bytes and private state are row ``k`` of
    ``mem`` and ``st`` (one layout and size for all); :func:`queue` gives it as a
    :class:`~virtmodel.ringmem.Virtqueue`.  One compiled loop serves any number of queues
    (a tuple of queues would compile once per count)."""

    mem: np.ndarray  # (queues, bytes) uint8
    st: np.ndarray  # (queues, slots) int64
    queue_size: int
    driver_off: int
    device_off: int
    kind: int


def rings(vqs) -> Rings:
    """The queues ``vqs`` (made alike) as one :class:`Rings`; their ``mem`` and ``st`` are
    copied into it (read the run's queues back with :func:`queue`)."""
    v0 = vqs[0]
    return Rings(
        np.stack([v.mem for v in vqs]),
        np.stack([v.st for v in vqs]),
        v0.queue_size,
        v0.driver_off,
        v0.device_off,
        v0.kind,
    )


@njit(inline="always")
def queue(r, k):
    """Queue ``k`` of ``r`` (a :class:`Rings`) as a Virtqueue: views, no copy."""
    return Virtqueue(r.mem[k], r.st[k], r.queue_size, r.driver_off, r.device_off, r.kind)


class Work(NamedTuple):
    """The arrays the loop works in (made once per run by :func:`simulate_ring`)."""

    c_row: np.ndarray  # ns of each action (its cost row's sum)
    units: np.ndarray  # actions taken, each weighted by its jitter factor
    taken: np.ndarray  # actions taken
    chain_lens: np.ndarray  # a request's descriptor lengths
    chain_write: np.ndarray  # and which of them the device writes
    addrs: np.ndarray  # a request's buffer addresses (scratch)
    slot_t: np.ndarray  # when each device slot's request finishes (inf: free)
    slot_h: np.ndarray  # which chain each device slot serves (queue x queue_size + head)
    waiting: np.ndarray  # chains waiting for a device slot (a FIFO, coded as slot_h)
    ready: np.ndarray  # per queue: served chains waiting to be returned used (FIFOs)
    pending: np.ndarray  # per queue: chains taken in the current pass, not yet submitted
    lat: np.ndarray  # per request: its submit time in flight, its latency once reaped
    req_job: np.ndarray  # per request: the job (= vCPU) that submitted it
    queue_of: np.ndarray  # per vCPU: the queue it submits to (blk-mq's map)
    irq_of: np.ndarray  # per queue: the vCPU its interrupt goes to
    irq_queue: np.ndarray  # per vCPU: the queue whose interrupt it takes (-1: none)
    thread_of: np.ndarray  # per queue: the back-end thread that serves it
    times: np.ndarray  # T_*
    counters: np.ndarray  # C_*
    busy: np.ndarray  # out: per vCPU, then per back-end thread, the ns it worked


# ---- the actors and their state ------------------------------------------------------------
# Each kind of actor keeps its state in two small arrays of named slots, one row per actor
# (row i of a kind with n slots is [i * n, (i + 1) * n): _jit.row): times in ns
# (float64, slots *T_*) and numbers and flags (int64, slots *N_*).
MAX_VCPUS = 64
MAX_QUEUES = 64
MAX_THREADS = 64

VT_NOW = 0  # the vCPU's clock
VT_IRQ_AT = 1  # when a raised interrupt reaches it (inf: none pending)
VT_UNSEEN_AT = 2  # poll: when the oldest unreaped used buffer was published
VT_HALTED_AT = 3  # when it last halted
VT_WINDOW = 4  # KVM's current halt-poll window
VT_IDLE = 5  # time it spent halted (for its utilisation)
N_VT = 6
VN_PHASE = 0  # what it is doing (VCPU_READY, ... below)
VN_REQ = 1  # the request it is preparing (its id)
VN_IN_BATCH = 2  # requests made available since it last asked whether to kick
VN_DONE = 3  # its job's requests completed
VN_IN_PASS = 4  # completions returned inside a kick_sync exit since its last decision
VN_SUBMITTED = 5  # its job's requests submitted
VN_QUOTA = 6  # its job's share of the run's requests (0: no job on this vCPU)
N_VN = 7

# vCPU phases (VN_PHASE)
VCPU_READY = 0  # free to submit, take an interrupt, reap, or halt
VCPU_PUBLISH_DUE = 1  # a prepared request is made available at VT_NOW
VCPU_HANDLER_DUE = 2  # interrupt taken; the handler reaps at VT_NOW
VCPU_IN_EXIT = 3  # kick_sync: in the kick's exit, draining the ring
VCPU_HALTED = 4

# what the vCPU does next (_vcpu_next)
DO_NOTHING = 0  # waits for another actor
DO_SUBMIT = 1  # prepare a request
DO_PUBLISH = 2  # make the prepared request available (and kick if asked)
DO_TAKE_IRQ = 3  # take an interrupt while running
DO_REAP_POLLED = 4  # reap what polling found
DO_HALT = 5
DO_WAKE = 6  # woken from a halt by an interrupt
DO_HANDLE = 7  # the interrupt handler reaps
DO_DRAIN_IN_EXIT = 8  # one step of the drain inside a kick_sync exit

BT_NOW = 0  # the back-end thread's clock while it is awake
BT_WAKE_AT = 1  # when it wakes (inf: nothing woke it); while it polls, the window's end
BT_IDLE_AT = 2  # when it last found nothing to do (the start of aio_poll's wait)
BT_WINDOW = 3  # its adaptive poll window now (ns; QEMU's poll_ns)
BT_BUSY = 4  # the ns it worked (what a polling thread's core does besides spinning; not
#              CPU to add: its actions' costs count it)
BT_TIMER_AT = 5  # the earliest coalescing timer of its queues (inf: none; may be stale-early)
N_BT = 6
BN_AWAKE = 0
BN_POLLING = 1  # asleep in name only: spinning in a poll window until BT_WAKE_AT
BN_POLL_SECTION = 2  # kicks disabled by the poll section (io_poll_begin), until it blocks
N_BN = 3

DT_NEXT = 0  # the device's next finish (inf: idle)
N_DT = 1
DN_NEXT_SLOT = 0  # the slot that finishes at DT_NEXT (what _earliest would answer): kept,
#                   not rescanned, when a request starts (measured: 9 to 11 % of a run)
DN_W_HEAD = 1  # requests waiting for a device slot: a FIFO in Work.waiting
DN_W_LEN = 2
DN_BUSY = 3  # device slots in use
N_DN = 4

# each queue as its back end and the device know it.  QT_/QN_RUNG..: (doorbell_tail)
# chains taken; announced by doorbell writes that have landed; the last write's count and
# the time it lands (one write in flight at most: the vCPU rings again only after that
# write's exit ended)
QT_RUNG_AT = 0
QT_COALESCE_AT = 1  # when its held-back interrupt is raised anyway (inf: no timer)
N_QT = 2
QN_POPPED = 0
QN_ANNOUNCED = 1
QN_RUNG = 2
QN_ADDED = 3  # chains the driver made available
QN_R_HEAD = 4  # served requests waiting to be returned used: a FIFO in Work.ready[queue]
QN_R_LEN = 5
QN_KICKED = 6  # a kick (or a poll that saw new chains) its thread has not acted on yet
QN_DRAINING = 7  # its thread is in a submission pass over it
QN_IN_PASS = 8  # completions returned since its last interrupt decision
QN_PENDING = 9  # chains taken in this pass and not yet submitted (Work.pending[queue])
QN_RESERVED = 10  # requests prepared by a vCPU and not yet made available: each holds a
#                   place in the ring (blk-mq's tag, taken in blk_mq_get_tag before the
#                   driver's queue_rq), so jobs sharing a queue never prepare more than it
#                   has room for
QN_UNSIGNALLED = 11  # completions returned since its last interrupt (coalescing counts them)
QN_TAKEN = 12  # chains the current pass took (pass_limit)
N_QN = 13
assert DN_W_LEN == DN_W_HEAD + 1 and QN_R_LEN == QN_R_HEAD + 1  # as _fifo_push reads them

# the rows of every actor of a kind (stack_array needs each size as a constant)
ALL_VT, ALL_VN = MAX_VCPUS * N_VT, MAX_VCPUS * N_VN
ALL_BT, ALL_BN = MAX_THREADS * N_BT, MAX_THREADS * N_BN
ALL_QT, ALL_QN = MAX_QUEUES * N_QT, MAX_QUEUES * N_QN

G_NEXT_ID = 0  # the next request id (ids in submission order, over every job)
G_DONE = 1  # requests completed
N_G = 2

# one step of a drain (_drain_step)
DRAIN_TOOK = 0  # a chain was taken and handed to the device
DRAIN_AGAIN = 1  # the ring looked empty, but chains came with kicks re-enabled
DRAIN_WAITING = 2  # the next doorbell write has not landed yet
DRAIN_DONE = 3  # the ring is empty, kicks re-enabled
DRAIN_BROKEN = 4
DRAIN_YIELD = 5  # the pass took pass_limit chains: it ends with kicks off, requeued

HALT_POLL_GROW_START_NS = 10_000.0
"""KVM's ``halt_poll_ns_grow_start``: the first non-zero halt-poll window."""

AIO_POLL_GROW_START_NS = 4_000.0
"""QEMU's first non-zero adaptive poll window (util/aio-posix.c ``adjust_polling_time``)."""


# ---- helpers ---------------------------------------------------------------------------


@njit(inline="always")
def _take(w, a, f):
    """Count action ``a`` once (its exits are added up at the end, from ``taken``) and
    weigh its cost by ``f``."""
    w.taken[a] += 1
    w.units[a] += f


@njit(inline="always")
def _wrap(i, q):
    """``i`` modulo ``q`` for 0 <= i < 2q, without a division."""
    return i - q if i >= q else i


@njit(inline="always")
def _fifo_push(buf, dn, head, x):
    """Append ``x`` to the FIFO in ``buf`` whose head is ``dn[head]``, length the next."""
    buf[_wrap(dn[head] + dn[head + 1], buf.shape[0])] = x
    dn[head + 1] += 1


@njit(inline="always")
def _fifo_pop(buf, dn, head):
    x = buf[dn[head]]
    dn[head] = _wrap(dn[head] + 1, buf.shape[0])
    dn[head + 1] -= 1
    return x


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


@njit(inline="always")
def _reap(vq, q, lp, t, w, v, VT, VN, gn):
    """vCPU ``v`` reaps every used buffer of queue ``q`` (``vq``) now: each request's
    latency is ``t`` less its submit time, which ``lat`` held while it was in flight, and
    its job counts it done.  A job on another vCPU that sleeps halted waiting for it is
    woken by an IPI (Linux's block/blk-mq.c ``blk_mq_complete_need_ipi``: no block IPI when
    the two CPUs share a cache, as a VM's vCPUs do, so the request completes on the
    interrupted vCPU, and waking the job's task on its halted vCPU sends a reschedule IPI);
    the job sees the completion at ``t``, its vCPU runs again once the IPI woke it.  So is a
    job of this queue halted for want of room in the ring (block/blk-mq-tag.c: a task
    sleeps in ``blk_mq_get_tag`` until ``blk_mq_put_tag``'s ``sbitmap_queue_clear`` frees
    one; virtio-blk's tag depth is its queue's size).  Returns (how many or BROKEN, IPIs
    sent)."""
    n = 0
    ipis = 0
    while True:
        tok = driver_get_used(vq)
        if tok == EMPTY:
            break
        if tok < 0:
            return BROKEN, ipis
        w.lat[tok] = t - w.lat[tok]
        j = w.req_job[tok]
        VN[j * N_VN + VN_DONE] += 1
        n += 1
        if j != v:
            ipis = _ipi_if_halted(j, t, ipis, w, VT, VN)
    if n > 0 and t > w.times[T_LAST_DONE]:
        w.times[T_LAST_DONE] = t
    gn[G_DONE] += n
    if n > 0 and lp.vcpus > 1:  # room freed: wake the jobs of this queue waiting for it
        for j in range(lp.vcpus):
            o = j * N_VN
            if (
                j != v
                and w.queue_of[j] == q
                and VN[o + VN_SUBMITTED] < VN[o + VN_QUOTA]
                and VN[o + VN_SUBMITTED] - VN[o + VN_DONE] < lp.depth
            ):
                ipis = _ipi_if_halted(j, t, ipis, w, VT, VN)
    return n, ipis


@njit(inline="always")
def _ipi_if_halted(j, t, ipis, w, VT, VN):
    """vCPU ``j``, if it sleeps halted with no interrupt on its way, is woken by the reaping
    vCPU's next IPI (each IPI the reaper sends leaves ``A_IPI`` after the one before).
    Returns the IPIs sent so far."""
    if VN[j * N_VN + VN_PHASE] == VCPU_HALTED and VT[j * N_VT + VT_IRQ_AT] == np.inf:
        ipis += 1
        VT[j * N_VT + VT_IRQ_AT] = t + ipis * w.c_row[A_IPI]
    return ipis


@njit(inline="always")
def _send_ipis(w, vt, n):
    """The reaping vCPU sends ``n`` wake-up IPIs (an exit each without IPI virtualization)."""
    if n > 0:
        w.counters[C_IPIS] += n
        w.taken[A_IPI] += n
        w.units[A_IPI] += n
        vt[VT_NOW] += n * w.c_row[A_IPI]


# ---- what the back end and the vCPU in a kick_sync exit both do --------------------------


@njit(inline="always")
def _to_device(q, head, t, lp, w, dt, dn, qn, rng):
    """Hand chain ``head`` of queue ``q`` to the device at ``t``: served at once when it has
    no service time, in a free slot, or queued for one.  A new request can only bring the
    next finish forward, so the slots need no scan (ties go to the lower slot, as in
    :func:`_earliest`)."""
    svc_ns = w.c_row[A_SERVICE]
    code = q * w.ready.shape[1] + head
    if svc_ns == 0.0:
        _fifo_push(w.ready[q], qn, QN_R_HEAD, head)
    elif dn[DN_BUSY] < w.slot_t.shape[0]:
        k = _free_slot(w.slot_t)
        js = lognormal(rng, lp.sigma)
        w.units[A_SERVICE] += js
        v = t + svc_ns * js
        w.slot_t[k] = v
        w.slot_h[k] = code
        dn[DN_BUSY] += 1
        if v < dt[DT_NEXT] or (v == dt[DT_NEXT] and k < dn[DN_NEXT_SLOT]):
            dt[DT_NEXT] = v
            dn[DN_NEXT_SLOT] = k
    else:
        _fifo_push(w.waiting, dn, DN_W_HEAD, code)


@njit(inline="always")
def _begin_drain(vq, lp, bn):
    """A pass begins: kicks off while it takes chains (``virtio_blk_handle_vq``'s
    ``virtio_queue_set_notification(vq, 0)``, vhost's ``vhost_disable_notify``), unless a
    poll section already holds them off (then the pass leaves them alone)."""
    if lp.suppress_kicks and not bn[BN_POLL_SECTION]:
        device_disable_kicks(vq)


@njit(inline="always")
def _drain_step(vq, q, lp, w, t, busy, bt, bn, dt, dn, qt, qn, rng):
    """One step of a pass over queue ``q`` at ``t``: take the next chain and hand it to the
    device (or, with ``submit_per_pass``, keep it for the pass's submission); when the ring
    looks empty, re-enable kicks and look once more (the race every back end must close),
    then submit what the pass took.  A pass that took ``pass_limit`` chains ends there,
    kicks still off (vhost's weight: the handler requeues itself so that the worker's other
    work runs first).  ``busy``: count the work as the back end's.  Returns (DRAIN_*, the
    new time)."""
    head = EMPTY
    if not lp.doorbell_tail or qn[QN_POPPED] < (
        qn[QN_RUNG] if t >= qt[QT_RUNG_AT] else qn[QN_ANNOUNCED]
    ):
        head = device_pop(vq)
    elif qn[QN_POPPED] < qn[QN_RUNG]:
        return DRAIN_WAITING, qt[QT_RUNG_AT]
    if head == BROKEN:
        return DRAIN_BROKEN, t
    if head != EMPTY:
        qn[QN_POPPED] += 1
        qn[QN_TAKEN] += 1
        _take(w, A_POP, 1.0)
        t += w.c_row[A_POP]
        if busy:
            bt[BT_BUSY] += w.c_row[A_POP]
        if lp.rearm_every_pop:  # NVMe dbbuf: EventIdx := the tail it knows, per command
            device_enable_kicks(vq)
        if lp.submit_per_pass:
            w.pending[q, qn[QN_PENDING]] = head
            qn[QN_PENDING] += 1
        else:
            if qn[QN_PENDING] == 0:
                w.counters[C_PASSES] += 1
                qn[QN_PENDING] = 1
            w.counters[C_SUBMITS] += 1
            _to_device(q, head, t, lp, w, dt, dn, qn, rng)
        if lp.pass_limit == 0 or qn[QN_TAKEN] < lp.pass_limit:
            return DRAIN_TOOK, t
        res = DRAIN_YIELD  # vhost_exceeds_weight: the pass ends here, kicks still off
    elif (
        lp.suppress_kicks
        and not lp.backend_polls
        and not bn[BN_POLL_SECTION]
        and device_enable_kicks(vq)
    ):
        device_disable_kicks(vq)
        return DRAIN_AGAIN, t
    else:
        res = DRAIN_DONE
    if lp.submit_per_pass:
        t = _submit_pass(q, lp, w, t, busy, bt, dt, dn, qn, rng)
    qn[QN_PENDING] = 0
    qn[QN_TAKEN] = 0
    return res, t


@njit(inline="always")
def _submit_pass(q, lp, w, t, busy, bt, dt, dn, qn, rng):
    """The end of a pass that took chains: one submission for all of them (QEMU's
    ``defer_call_end`` running ``laio_deferred_fn``: one ``io_submit``), after which the
    device has them all.  Returns the new time."""
    n = qn[QN_PENDING]
    if n == 0:
        return t
    w.counters[C_PASSES] += 1
    w.counters[C_SUBMITS] += 1
    _take(w, A_SUBMIT_PASS, 1.0)
    t += w.c_row[A_SUBMIT_PASS]
    if busy:
        bt[BT_BUSY] += w.c_row[A_SUBMIT_PASS]
    for i in range(n):
        _to_device(q, w.pending[q, i], t, lp, w, dt, dn, qn, rng)
    return t


@njit(inline="always")
def _complete(vq, q, lp, w, t, busy, bt, VT, qn):
    """Return queue ``q``'s oldest served chain used at ``t``; a vCPU polling the queue sees
    it from then on.  Returns the new time."""
    device_push_used(vq, _fifo_pop(w.ready[q], qn, QN_R_HEAD), lp.written)
    qn[QN_UNSIGNALLED] += 1
    _take(w, A_COMPLETE, 1.0)
    t += w.c_row[A_COMPLETE]
    if busy:
        bt[BT_BUSY] += w.c_row[A_COMPLETE]
    if lp.poll:
        vt = row(VT, w.irq_of[q], N_VT)
        if vt[VT_UNSEEN_AT] == np.inf:
            vt[VT_UNSEEN_AT] = t
    return t


@njit(inline="always")
def _interrupt_decision(vq, lp, w, t, busy, bt, qt, qn):
    """At the end of a pass of completions: raise an interrupt?  (raised, the new time)

    With interrupt coalescing (NVMe's Set Features 08h: ``coalesce_entries`` is the
    aggregation threshold + 1, ``coalesce_ns`` the aggregation time) the interrupt is held
    back until that many completions wait for it; the first one held back arms the
    queue's timer, and when it runs out the interrupt is raised anyway
    (:func:`_coalesce_timers`).  The handler's CQ-head doorbell tells the controller
    what it consumed: no completion waits then, and the timer is off (:func:`_vcpu_handle`)."""
    w.counters[C_COMPLETION_PASSES] += 1
    if lp.poll or (lp.suppress_interrupts and not device_should_interrupt(vq)):
        return False, t
    if lp.coalesce_entries > 1 and qn[QN_UNSIGNALLED] < lp.coalesce_entries:
        if qt[QT_COALESCE_AT] == np.inf:
            qt[QT_COALESCE_AT] = t + lp.coalesce_ns
            bt[BT_TIMER_AT] = min(bt[BT_TIMER_AT], qt[QT_COALESCE_AT])
        return False, t
    return True, _signal(w, t, busy, bt, qt, qn)


@njit(inline="always")
def _signal(w, t, busy, bt, qt, qn):
    """The back end raises the queue's interrupt at ``t`` (irqfd write, MSI-X): nothing
    waits for one any more.  Returns the new time."""
    _nothing_waits(qt, qn)
    w.counters[C_SIGNALS] += 1
    _take(w, A_SIGNAL, 1.0)
    if busy:
        bt[BT_BUSY] += w.c_row[A_SIGNAL]
    return t + w.c_row[A_SIGNAL]


@njit(inline="always")
def _nothing_waits(qt, qn):
    """No completion of the queue waits for an interrupt: the count restarts, the
    coalescing timer is off."""
    qn[QN_UNSIGNALLED] = 0
    qt[QT_COALESCE_AT] = np.inf


@njit(inline="always")
def _coalesce_timers(b, lp, w, VT, bt, QT, QN):
    """Thread ``b``'s earliest coalescing timer runs out: each of its queues whose timer is
    due raises the interrupt it held back (one that the handler's doorbell disarmed
    meanwhile raises none); the thread's next timer is the earliest left."""
    t = bt[BT_TIMER_AT]
    nxt = np.inf
    q = b
    while q < lp.queues:
        qt = row(QT, q, N_QT)
        due = qt[QT_COALESCE_AT]
        if due <= t:
            _raise(row(VT, w.irq_of[q], N_VT), _signal(w, t, True, bt, qt, row(QN, q, N_QN)))
        elif due < nxt:
            nxt = due
        q += lp.threads
    bt[BT_TIMER_AT] = nxt


@njit(inline="always")
def _wake_backend(lp, w, bt, t, a, rng):
    """Wake the sleeping back-end thread at ``t`` by action ``a`` (a jittered wake-up)."""
    jw = lognormal(rng, lp.sigma)
    bt[BT_WAKE_AT] = t + w.c_row[a] * jw
    _take(w, a, jw)


# ---- the vCPU ----------------------------------------------------------------------------


@njit(inline="always")
def _vcpu_next(vq, lp, w, vt, vn, qn, others_busy):
    """When the vCPU acts next and what it does (DO_*); ``qn``: its queue's row;
    ``others_busy``: a back-end thread or the device has something coming."""
    phase = vn[VN_PHASE]
    t = vt[VT_NOW]
    if phase == VCPU_PUBLISH_DUE:
        return t, DO_PUBLISH
    if phase == VCPU_HANDLER_DUE:
        return t, DO_HANDLE
    if phase == VCPU_IN_EXIT:
        return t, DO_DRAIN_IN_EXIT
    if phase == VCPU_HALTED:
        return vt[VT_IRQ_AT], DO_WAKE
    if vt[VT_IRQ_AT] <= t:
        return t, DO_TAKE_IRQ
    if lp.poll and vt[VT_UNSEEN_AT] <= t:
        return t, DO_REAP_POLLED
    sub, done = vn[VN_SUBMITTED], vn[VN_DONE]
    if (
        sub < vn[VN_QUOTA]
        and num_free(vq) >= (qn[QN_RESERVED] + 1) * w.chain_lens.shape[0]
        and sub - done < lp.depth
        and (not lp.closed or vn[VN_IN_BATCH] > 0 or done == sub)
    ):
        return t, DO_SUBMIT
    if lp.poll:
        if vt[VT_UNSEEN_AT] < np.inf:
            return vt[VT_UNSEEN_AT], DO_REAP_POLLED
    elif vt[VT_IRQ_AT] < np.inf or others_busy or sub > done:
        return t, DO_HALT
    return np.inf, DO_NOTHING


@njit(inline="always")
def _vcpu_step(do, at, v, r, lp, w, rng, VT, VN, BT, BN, dt, dn, QT, QN, gn):
    """vCPU ``v`` does ``do`` at ``at``.  Returns a status (OK or RING_BROKEN)."""
    vt, vn = row(VT, v, N_VT), row(VN, v, N_VN)
    q = w.queue_of[v]
    if do == DO_SUBMIT:
        req = gn[G_NEXT_ID]
        gn[G_NEXT_ID] = req + 1
        vn[VN_REQ] = req
        w.req_job[req] = v
        w.lat[req] = vt[VT_NOW]  # its submit time, until it completes
        _take(w, A_SUBMIT, 1.0)
        vt[VT_NOW] += w.c_row[A_SUBMIT]
        vn[VN_PHASE] = VCPU_PUBLISH_DUE
        QN[q * N_QN + QN_RESERVED] += 1
    elif do == DO_PUBLISH:
        b = w.thread_of[q]
        return _vcpu_publish(
            queue(r, q),
            lp,
            w,
            rng,
            vt,
            vn,
            row(BT, b, N_BT),
            row(BN, b, N_BN),
            row(QT, q, N_QT),
            row(QN, q, N_QN),
        )
    elif do == DO_DRAIN_IN_EXIT:
        return _vcpu_drain_in_exit(q, v, r, lp, w, rng, VT, VN, BT, BN, dt, dn, QT, QN)
    elif do == DO_HANDLE:
        return _vcpu_handle(v, r, lp, w, VT, VN, QT, QN, gn)
    elif do == DO_TAKE_IRQ:
        vt[VT_IRQ_AT] = np.inf
        _take(w, A_IRQ_RUNNING, 1.0)
        _handler_due(w, vt, vn, w.c_row[A_IRQ_RUNNING])
    elif do == DO_WAKE:
        _vcpu_wake(lp, w, rng, vt, vn)
    elif do == DO_REAP_POLLED:
        w.times[T_GUEST_POLL] += at - vt[VT_NOW]
        vt[VT_NOW] = at
        vt[VT_UNSEEN_AT] = np.inf
        n, ipis = _reap(queue(r, q), q, lp, at, w, v, VT, VN, gn)
        if n < 0:
            return RING_BROKEN
        _send_ipis(w, vt, ipis)
    elif do == DO_HALT:
        w.counters[C_HALTS] += 1
        _take(w, A_HLT, 1.0)
        vt[VT_NOW] += w.c_row[A_HLT]
        vt[VT_HALTED_AT] = vt[VT_NOW]
        vn[VN_PHASE] = VCPU_HALTED
    return OK


@njit(inline="always")
def _vcpu_publish(vq, lp, w, rng, vt, vn, bt, bn, qt, qn):
    """The prepared request is made available; after every ``kick_every`` requests (or its
    job's last, or when the ring is full) the vCPU asks the ring whether to kick."""
    vn[VN_PHASE] = VCPU_READY
    n_desc = w.chain_lens.shape[0]
    req = vn[VN_REQ]
    for k in range(n_desc):
        w.addrs[k] = (req * n_desc + k) * 4096
    if driver_add(vq, w.addrs, w.chain_lens, w.chain_write, req) < 0:
        return RING_BROKEN  # never for want of room: the place was reserved (QN_RESERVED)
    qn[QN_RESERVED] -= 1
    vn[VN_SUBMITTED] += 1
    qn[QN_ADDED] += 1
    vn[VN_IN_BATCH] += 1
    # a polling back end sees the new chain (an IOThread polls the queue only when its
    # kicks are ioeventfds: with kick_sync the queue is not in its AioContext)
    if not lp.kick_sync and _sees_at_once(lp, bt, bn, vt[VT_NOW]):
        qn[QN_KICKED] = True
    if (
        vn[VN_IN_BATCH] == lp.kick_every
        or vn[VN_SUBMITTED] == vn[VN_QUOTA]
        or num_free(vq) < n_desc
    ):
        vn[VN_IN_BATCH] = 0
        if driver_kick_prepare(vq):
            _vcpu_kick(vq, lp, w, rng, vt, vn, bt, bn, qt, qn)
    return OK


@njit(inline="always")
def _vcpu_kick(vq, lp, w, rng, vt, vn, bt, bn, qt, qn):
    """A kick: the trapping write, then the queue's back-end thread woken (or, with
    ``kick_sync``, the vCPU drains the ring itself inside the exit)."""
    w.counters[C_KICKS] += 1
    _take(w, A_KICK, 1.0)
    vt[VT_NOW] += w.c_row[A_KICK]
    if lp.doorbell_tail:  # the new tail lands as the write's exit ends
        qn[QN_ANNOUNCED] = qn[QN_RUNG]
        qn[QN_RUNG] = qn[QN_ADDED]
        qt[QT_RUNG_AT] = vt[VT_NOW]
    if lp.kick_sync:
        vn[VN_PHASE] = VCPU_IN_EXIT
        _begin_drain(vq, lp, bn)
        return
    qn[QN_KICKED] = True
    if not bn[BN_AWAKE] and bt[BT_WAKE_AT] == np.inf:
        _wake_backend(lp, w, bt, vt[VT_NOW], A_WAKE_BACKEND, rng)


@njit(inline="always")
def _handler_due(w, vt, vn, delivery_ns):
    """An interrupt taken: the handler runs after ``delivery_ns`` and reaps at its end."""
    w.counters[C_IRQS] += 1
    _take(w, A_HANDLER, 1.0)
    vt[VT_NOW] += delivery_ns + w.c_row[A_HANDLER]
    vn[VN_PHASE] = VCPU_HANDLER_DUE


@njit(inline="always")
def _vcpu_handle(v, r, lp, w, VT, VN, QT, QN, gn):
    """The handler of the queue whose interrupt vCPU ``v`` takes reaps with interrupts
    disabled, re-enables them and looks again; what it reaps the application sees once
    the handler is done (its tail included): an entry that arrives during the tail waits
    for the next interrupt.  A vCPU woken only by an IPI has no queue to reap."""
    vt, vn = row(VT, v, N_VT), row(VN, v, N_VN)
    vn[VN_PHASE] = VCPU_READY
    q = w.irq_queue[v]
    if q < 0:
        return OK
    vq = queue(r, q)
    t_seen = vt[VT_NOW] + w.c_row[A_HANDLER_TAIL]
    ipis = 0
    while True:
        driver_disable_interrupts(vq)
        n, k = _reap(vq, q, lp, t_seen, w, v, VT, VN, gn)
        if n < 0:
            return RING_BROKEN
        ipis += k
        if not driver_enable_interrupts(vq):
            break
    _take(w, A_HANDLER_TAIL, 1.0)
    vt[VT_NOW] += w.c_row[A_HANDLER_TAIL]
    if lp.coalesce_entries > 1:  # the CQ-head doorbell: every completion was consumed
        _nothing_waits(row(QT, q, N_QT), row(QN, q, N_QN))
    _send_ipis(w, vt, ipis)
    return OK


@njit(inline="always")
def _vcpu_wake(lp, w, rng, vt, vn):
    """The interrupt reached the halted vCPU: it wakes (inside KVM's halt-poll window, or
    its thread was scheduled out), KVM adapts the window, the vCPU enters and takes it."""
    t_halt = vt[VT_HALTED_AT]
    halted = vt[VT_IRQ_AT] - t_halt
    halted = max(halted, 0.0)
    vt[VT_IDLE] += halted
    vt[VT_IRQ_AT] = np.inf
    window = vt[VT_WINDOW]
    if halted <= window:
        w.counters[C_POLL_HITS] += 1
        w.times[T_HALT_POLL] += halted
        _take(w, A_WAKE_POLLED, 1.0)
        vt[VT_NOW] = t_halt + halted + w.c_row[A_WAKE_POLLED]
    else:
        w.times[T_HALT_POLL] += window
        jw = lognormal(rng, lp.sigma)
        _take(w, A_WAKE_SLEPT, jw)
        vt[VT_NOW] = t_halt + halted + w.c_row[A_WAKE_SLEPT] * jw
    vt[VT_WINDOW] = _halt_poll_window(window, halted, lp.halt_poll_max_ns)
    _handler_due(w, vt, vn, 0.0)


@njit(inline="always")
def _halt_poll_window(window, halted, max_ns):
    """KVM's adaptive window after a halt of ``halted`` ns (``kvm_vcpu_halt``): kept,
    shrunk or grown."""
    if halted > window:
        if window > 0.0 and halted > max_ns:
            window = window / 2.0
            if window < HALT_POLL_GROW_START_NS:
                window = 0.0
        elif window < max_ns and halted < max_ns:
            window = max(HALT_POLL_GROW_START_NS, 2.0 * window)
            window = min(window, max_ns)
    return window


@njit(inline="always")
def _vcpu_drain_in_exit(q, v, r, lp, w, rng, VT, VN, BT, BN, dt, dn, QT, QN):
    """kick_sync: vCPU ``v`` drains its queue ``q`` inside the kick's exit; requests with no
    service time complete inline; the exit returns when the ring is empty, with the
    interrupt it raised (if any) injected on the entry that ends it, with no exit of its
    own (one that was already pending merges with it), or sent to the queue's vCPU."""
    vt, vn = row(VT, v, N_VT), row(VN, v, N_VN)
    vq = queue(r, q)
    qt, qn = row(QT, q, N_QT), row(QN, q, N_QN)
    b = w.thread_of[q]
    bt, bn = row(BT, b, N_BT), row(BN, b, N_BN)
    if qn[QN_R_LEN] > 0 and w.c_row[A_SERVICE] == 0.0:
        vt[VT_NOW] = _complete(vq, q, lp, w, vt[VT_NOW], False, bt, VT, qn)
        vn[VN_IN_PASS] = True
        return OK
    r_, vt[VT_NOW] = _drain_step(vq, q, lp, w, vt[VT_NOW], False, bt, bn, dt, dn, qt, qn, rng)
    if r_ == DRAIN_BROKEN:
        return RING_BROKEN
    if r_ != DRAIN_DONE:
        return OK
    vn[VN_PHASE] = VCPU_READY
    if vn[VN_IN_PASS]:
        vn[VN_IN_PASS] = False
        raised, vt[VT_NOW] = _interrupt_decision(vq, lp, w, vt[VT_NOW], False, bt, qt, qn)
        if raised:
            target = w.irq_of[q]
            if target == v:
                if vt[VT_IRQ_AT] <= vt[VT_NOW]:
                    vt[VT_IRQ_AT] = np.inf
                _handler_due(w, vt, vn, 0.0)
            else:
                _raise(row(VT, target, N_VT), vt[VT_NOW])
    return OK


@njit(inline="always")
def _raise(vt, t):
    """An interrupt raised at ``t`` for the vCPU whose state is ``vt`` (one still pending
    merges with it)."""
    if vt[VT_IRQ_AT] == np.inf:
        vt[VT_IRQ_AT] = t


# ---- the device and the back end -----------------------------------------------------------


@njit(inline="always")
def _device_step(lp, w, rng, dt, dn, BT, BN, QN):
    """A request finishes in slot DN_NEXT_SLOT: it waits to be returned used by its queue's
    thread, the slot takes the next waiting request, and that thread, asleep, is woken (a
    polling one sees it at once)."""
    k = dn[DN_NEXT_SLOT]
    tf = dt[DT_NEXT]
    code = w.slot_h[k]
    qs = w.ready.shape[1]
    q = code // qs
    _fifo_push(w.ready[q], row(QN, q, N_QN), QN_R_HEAD, code - q * qs)
    if dn[DN_W_LEN] > 0:
        js = lognormal(rng, lp.sigma)
        w.units[A_SERVICE] += js
        w.slot_t[k] = tf + w.c_row[A_SERVICE] * js
        w.slot_h[k] = _fifo_pop(w.waiting, dn, DN_W_HEAD)
    else:
        w.slot_t[k] = np.inf
        dn[DN_BUSY] -= 1
    k = _earliest(w.slot_t)
    dn[DN_NEXT_SLOT] = k
    dt[DT_NEXT] = w.slot_t[k]
    b = w.thread_of[q]
    bt, bn = row(BT, b, N_BT), row(BN, b, N_BN)
    if not _sees_at_once(lp, bt, bn, tf) and not bn[BN_AWAKE] and bt[BT_WAKE_AT] == np.inf:
        _wake_backend(lp, w, bt, tf, A_WAKE_FOR_COMPLETION, rng)


@njit(inline="always")
def _sees_at_once(lp, bt, bn, t):
    """Something for the back-end thread appears at ``t``: a busy-polling one (or one
    spinning in a poll window) sees it then, with no wake-up.  Returns whether it does."""
    if bn[BN_AWAKE]:
        return False
    if lp.backend_polls:
        if bt[BT_WAKE_AT] == np.inf:
            bt[BT_WAKE_AT] = t
        return True
    if bn[BN_POLLING]:
        bt[BT_WAKE_AT] = min(bt[BT_WAKE_AT], t)
        return True
    return False


@njit(inline="always")
def _first(QN, b, lp, slot):
    """The first of thread ``b``'s queues (``b``, ``b + threads``, ...: round robin) whose
    ``slot`` is set, or -1."""
    q = b
    while q < lp.queues:  # not a stepped range: its length is a division, every call
        if QN[q * N_QN + slot] != 0:
            return q
        q += lp.threads
    return -1


@njit(inline="always")
def _backend_step(b, r, lp, w, rng, VT, BT, BN, dt, dn, QT, QN):
    """Back-end thread ``b`` wakes if it slept (or its poll window found work or ran out);
    it runs a submission pass over one of its queues to its end once begun (QEMU's
    ``virtio_blk_handle_vq``, vhost's handler), returns served requests used and decides
    one interrupt per queue at the end of a pass of completions, or begins the pass a
    queue was kicked for; with nothing to do it polls or sleeps (:func:`_backend_idle`)
    until a kick or a completion."""
    bt, bn = row(BT, b, N_BT), row(BN, b, N_BN)
    if bt[BT_TIMER_AT] < np.inf and bt[BT_TIMER_AT] <= (
        bt[BT_NOW] if bn[BN_AWAKE] else bt[BT_WAKE_AT]
    ):
        _coalesce_timers(b, lp, w, VT, bt, QT, QN)
        return OK
    if not bn[BN_AWAKE] and not _backend_wakes(b, r, lp, w, bt, bn, QN):
        return OK
    if not lp.doorbell_tail:
        q = _first(QN, b, lp, QN_DRAINING)
        if q >= 0:
            return _backend_drain(q, r, lp, w, rng, bt, bn, dt, dn, QT, QN)
    q = _first(QN, b, lp, QN_R_LEN)
    if q >= 0:
        qn = row(QN, q, N_QN)
        bt[BT_NOW] = _complete(queue(r, q), q, lp, w, bt[BT_NOW], True, bt, VT, qn)
        qn[QN_IN_PASS] = True
        return OK
    q = _first(QN, b, lp, QN_IN_PASS)
    if q >= 0:
        QN[q * N_QN + QN_IN_PASS] = False
        raised, bt[BT_NOW] = _interrupt_decision(
            queue(r, q), lp, w, bt[BT_NOW], True, bt, row(QT, q, N_QT), row(QN, q, N_QN)
        )
        if raised:
            _raise(row(VT, w.irq_of[q], N_VT), bt[BT_NOW])
        return OK
    q = b
    while q < lp.queues:
        qn = row(QN, q, N_QN)
        if qn[QN_KICKED] and not qn[QN_DRAINING]:
            qn[QN_KICKED] = False
            qn[QN_DRAINING] = True
            _begin_drain(queue(r, q), lp, bn)
            break
        q += lp.threads
    q = _first(QN, b, lp, QN_DRAINING)
    if q >= 0:
        return _backend_drain(q, r, lp, w, rng, bt, bn, dt, dn, QT, QN)
    _backend_idle(b, r, lp, bt, bn, QN)
    return OK


@njit(inline="always")
def _backend_drain(q, r, lp, w, rng, bt, bn, dt, dn, QT, QN):
    qn = row(QN, q, N_QN)
    res, bt[BT_NOW] = _drain_step(
        queue(r, q), q, lp, w, bt[BT_NOW], True, bt, bn, dt, dn, row(QT, q, N_QT), qn, rng
    )
    if res == DRAIN_BROKEN:
        return RING_BROKEN
    if res == DRAIN_DONE:
        qn[QN_DRAINING] = False
    elif res == DRAIN_YIELD:  # vhost_exceeds_weight: requeued (vhost_poll_queue), kicks off
        qn[QN_DRAINING] = False
        qn[QN_KICKED] = True
    return OK


@njit(inline="always")
def _backend_idle(b, r, lp, bt, bn, QN):
    """Nothing to do: an IOThread with a poll window spins in it (``aio_poll``'s
    ``try_poll_mode``: the poll section's begin disables kicks on each of its queues, and
    they stay off while polls keep finding work); otherwise it blocks
    (:func:`_backend_blocks`)."""
    bt[BT_IDLE_AT] = bt[BT_NOW]
    bn[BN_AWAKE] = False
    if lp.poll_max_ns > 0.0 and bt[BT_WINDOW] > 0.0:
        if not lp.kick_sync:  # the queue's notifier is polled only if it is an ioeventfd
            if lp.suppress_kicks and not bn[BN_POLL_SECTION]:
                for q in range(b, lp.queues, lp.threads):
                    device_disable_kicks(queue(r, q))
            bn[BN_POLL_SECTION] = True
        bn[BN_POLLING] = True
        bt[BT_WAKE_AT] = bt[BT_NOW] + bt[BT_WINDOW]
    else:
        _backend_blocks(b, r, lp, bt, bn, QN)


@njit(inline="always")
def _backend_blocks(b, r, lp, bt, bn, QN):
    """The thread is about to block: a poll section ends (``io_poll_end``: kicks re-enabled
    on each of its queues) and the rings are looked at once more; chains found there are
    handled at once, else it sleeps until a kick or a completion wakes it."""
    if bn[BN_POLL_SECTION]:
        bn[BN_POLL_SECTION] = False
        if lp.suppress_kicks:
            found = False
            for q in range(b, lp.queues, lp.threads):
                if device_enable_kicks(queue(r, q)):
                    QN[q * N_QN + QN_KICKED] = True
                    found = True
            if found:
                bn[BN_AWAKE] = True
                return
    bt[BT_WAKE_AT] = np.inf


@njit(inline="always")
def _backend_wakes(b, r, lp, w, bt, bn, QN):
    """Thread ``b``'s time came while it was not running: its poll window saw work (it
    runs, no wake-up) or ran out (it blocks), or it was woken.  The poll window adapts to
    how long it waited.  Returns whether it now runs."""
    t = bt[BT_WAKE_AT]
    bt[BT_WAKE_AT] = np.inf
    bt[BT_NOW] = max(bt[BT_NOW], t)
    if bn[BN_POLLING]:
        bn[BN_POLLING] = False
        w.times[T_BACKEND_POLL] += t - bt[BT_IDLE_AT]
        if _first(QN, b, lp, QN_KICKED) >= 0 or _first(QN, b, lp, QN_R_LEN) >= 0:
            w.counters[C_POLL_HITS_BACKEND] += 1
            bn[BN_AWAKE] = True
            return True  # waited no longer than the window: it is kept
        _backend_blocks(b, r, lp, bt, bn, QN)
        return bool(bn[BN_AWAKE])
    bn[BN_AWAKE] = True
    w.counters[C_BACKEND_WAKES] += 1
    if lp.poll_max_ns > 0.0 and not lp.poll_fixed:
        bt[BT_WINDOW] = _aio_poll_window(bt[BT_WINDOW], t - bt[BT_IDLE_AT], lp.poll_max_ns)
    return True


@njit(inline="always")
def _aio_poll_window(window, blocked, max_ns):
    """QEMU's adaptive poll window after a wait of ``blocked`` ns (util/aio-posix.c
    ``adjust_polling_time`` with the default ``poll-grow`` 0 and ``poll-shrink`` 0): kept
    if the wait fit in it; reset to 0 after a wait longer than the maximum; else grown,
    from 4 µs, doubling, up to the maximum."""
    if blocked <= window:
        return window
    if blocked > max_ns:
        return 0.0
    if window < max_ns:
        window = AIO_POLL_GROW_START_NS if window == 0.0 else 2.0 * window
        window = min(window, max_ns)
    return window


# ---- the loop ----------------------------------------------------------------------------


@njit(inline="always")
def _start(lp, VT, VN, BT, BN, dt, dn, QT, QN, gn):
    """Every actor's state at time 0: each vCPU with a job ready, with its share of the
    requests (the others halted, nothing pending), each back-end thread asleep with
    nothing to wake it, the device idle, no doorbell rung."""
    VT[:] = 0.0
    VN[:] = 0
    for v in range(lp.vcpus):
        vt, vn = row(VT, v, N_VT), row(VN, v, N_VN)
        vt[VT_IRQ_AT] = np.inf
        vt[VT_UNSEEN_AT] = np.inf
        if v < lp.numjobs:
            vn[VN_QUOTA] = lp.requests // lp.numjobs + (v < lp.requests % lp.numjobs)
            vn[VN_PHASE] = VCPU_READY
        else:
            vn[VN_PHASE] = VCPU_HALTED
    BT[:] = 0.0
    BN[:] = 0
    for b in range(lp.threads):
        BT[b * N_BT + BT_WAKE_AT] = np.inf
        BT[b * N_BT + BT_TIMER_AT] = np.inf
        if lp.poll_fixed:  # vhost-net's busy loop: always its whole busyloop_timeout
            BT[b * N_BT + BT_WINDOW] = lp.poll_max_ns
    dt[DT_NEXT] = np.inf
    dn[:] = 0
    QT[:] = 0.0
    for k in range(lp.queues):
        QT[k * N_QT + QT_COALESCE_AT] = np.inf
    QN[:] = 0
    gn[:] = 0


@njit
def simulate_ring(
    r, lp, cost, exits, chain_lens, chain_write, maps, rng, lat, stage_ns, times, counters, busy
):
    """Run ``lp.requests`` requests (``lp``: a :class:`Loop`) through the queues of ``r``
    (a :class:`Rings`); fill ``lat`` (ns: each request's submit time while it is in
    flight, its latency once it completed), ``stage_ns`` (total ns per stage of the actions
    taken), ``times`` (``T_*``: polling CPU, the last completion; zeroed by the caller),
    ``counters`` (``C_STATUS`` says whether it finished: OK, or why not) and ``busy`` (ns
    each vCPU, then each back-end thread, worked).

    ``cost[action, stage]`` and ``exits[action, column]`` describe each action (rows
    ``A_*``; exit columns ``X_*``); ``chain_lens`` and ``chain_write`` each request's
    descriptors; ``maps`` (:func:`maps`) who serves whom: each vCPU's queue, each queue's
    interrupt vCPU and thread.  Device service and thread wake-ups are multiplied by
    lognormal factors of shape ``lp.sigma`` drawn from ``rng`` (a numpy Generator) as they
    happen.
    """
    q = r.queue_size
    c_row = np.empty(N_ACTIONS)
    for a in range(N_ACTIONS):
        c_row[a] = cost[a].sum()
    queue_of, irq_of, irq_queue, thread_of = maps
    w = Work(
        c_row,
        np.zeros(N_ACTIONS),
        np.zeros(N_ACTIONS, dtype=np.int64),
        chain_lens,
        chain_write,
        np.empty(chain_lens.shape[0], dtype=np.int64),
        np.full(lp.parallelism, np.inf),
        np.zeros(lp.parallelism, dtype=np.int64),
        np.zeros(lp.queues * q, dtype=np.int64),
        np.zeros((lp.queues, q), dtype=np.int64),
        np.zeros((lp.queues, q), dtype=np.int64),
        lat,
        np.zeros(lat.shape[0], dtype=np.int64),
        queue_of,
        irq_of,
        irq_queue,
        thread_of,
        times,
        counters,
        busy,
    )
    _run(r, lp, w, rng)
    _tally(w, cost, exits, stage_ns)


def maps(vcpus: int, queues: int, threads: int) -> tuple:
    """Who serves whom, as Linux and QEMU arrange it: ``(queue_of, irq_of, irq_queue,
    thread_of)``.  blk-mq maps vCPUs to queues in contiguous groups (virtio-blk's map,
    block/blk-mq-virtio.c ``blk_mq_virtio_map_queues``, maps each queue to the CPUs of its
    vector's managed affinity, which lib/group_cpus.c ``group_cpus_evenly`` spreads over
    the CPUs in order: with 4 vCPUs and 2 queues, vCPUs 0-1 use queue 0 and 2-3 queue 1);
    a queue's interrupt goes to the first vCPU of its group; queue k is served by back-end
    thread k mod ``threads`` (QEMU's ``iothread-vq-mapping`` without explicit vqs assigns
    them round robin; vhost with a worker per queue has ``threads`` = ``queues``)."""
    queue_of = np.arange(vcpus, dtype=np.int64) * queues // vcpus
    irq_of = np.array([int(np.argmax(queue_of == k)) for k in range(queues)], dtype=np.int64)
    irq_queue = np.full(vcpus, -1, dtype=np.int64)
    irq_queue[irq_of] = np.arange(queues)
    thread_of = np.arange(queues, dtype=np.int64) % threads
    return queue_of, irq_of, irq_queue, thread_of


@njit(_nrt=False)
def _run(r, lp, w, rng):
    """The event loop of :func:`simulate_ring`, which allocates its arrays: pick the next
    actor (the earliest; ties: vCPUs in order, then the device, then the back-end threads
    in order), let it take one step.

    Each kind of actor's state is rows of named slots (``VT_*`` times and ``VN_*`` numbers
    for the vCPUs, ``BT_``/``BN_`` the back-end threads, ``DT_``/``DN_`` the device,
    ``QT_``/``QN_`` the queues) in arrays on this kernel's stack: LLVM sees that nothing
    else points into them and keeps slots in registers (in arrays passed in, every store to
    another array might have changed them: the loop ran 5 to 20 % slower).  Compiled
    without numba's runtime (``_nrt=False``): it allocates nothing, and with the runtime
    every ring operation inlined here reference-counts the queue's two arrays (atomic
    increments and decrements that the compiler could not prune), which took half of the
    loop's time."""
    VT, VN = stack_array(ALL_VT, np.float64), stack_array(ALL_VN, np.int64)
    BT, BN = stack_array(ALL_BT, np.float64), stack_array(ALL_BN, np.int64)
    dt, dn = stack_array(N_DT, np.float64), stack_array(N_DN, np.int64)
    QT, QN = stack_array(ALL_QT, np.float64), stack_array(ALL_QN, np.int64)
    gn = stack_array(N_G, np.int64)
    _start(lp, VT, VN, BT, BN, dt, dn, QT, QN, gn)
    if lp.backend_polls:  # it never asks for a kick: it watches the rings
        for k in range(lp.queues):
            device_disable_kicks(queue(r, k))
    steps = 0
    status = OK
    while gn[G_DONE] < lp.requests:
        steps += 1
        if steps > lp.max_steps:
            status = STEP_LIMIT
            break
        b_time = np.inf
        b = 0
        for i in range(lp.threads):
            t = BT[i * N_BT + BT_NOW] if BN[i * N_BN + BN_AWAKE] else BT[i * N_BT + BT_WAKE_AT]
            t = min(t, BT[i * N_BT + BT_TIMER_AT])  # a coalescing timer runs out
            if t < b_time:
                b_time, b = t, i
        d_time = dt[DT_NEXT]
        others_busy = b_time < np.inf or d_time < np.inf
        v_time = np.inf
        v = 0
        do = DO_NOTHING
        for i in range(lp.vcpus):
            q = w.queue_of[i]
            t, d = _vcpu_next(
                queue(r, q),
                lp,
                w,
                row(VT, i, N_VT),
                row(VN, i, N_VN),
                row(QN, q, N_QN),
                others_busy,
            )
            if t < v_time:
                v_time, v, do = t, i, d
        if v_time == np.inf and d_time == np.inf and b_time == np.inf:
            status = DEADLOCK
        elif v_time <= d_time and v_time <= b_time:
            status = _vcpu_step(do, v_time, v, r, lp, w, rng, VT, VN, BT, BN, dt, dn, QT, QN, gn)
        elif d_time <= b_time:
            _device_step(lp, w, rng, dt, dn, BT, BN, QN)
        else:
            status = _backend_step(b, r, lp, w, rng, VT, BT, BN, dt, dn, QT, QN)
        if status != OK:
            break
    w.counters[C_STATUS] = status
    w.counters[C_STEPS] = steps
    for i in range(lp.vcpus):
        w.busy[i] = VT[i * N_VT + VT_NOW] - VT[i * N_VT + VT_IDLE]
    for i in range(lp.threads):
        w.busy[lp.vcpus + i] = BT[i * N_BT + BT_BUSY]


@njit(inline="always")
def _tally(w, cost, exits, stage_ns):
    """The time of each stage, exact: the sum of units x cost; and the exits: each
    action's, as often as it was taken."""
    for a in range(N_ACTIONS):
        for k in range(stage_ns.shape[0]):
            stage_ns[k] += w.units[a] * cost[a, k]
        for k in range(N_EXIT_COLS):
            w.counters[C_EXITS + k] += w.taken[a] * exits[a, k]
