"""Experiments on QEMU's virtio-blk back end, each a function returning its result type.

What is measured is QEMU's own work: the CPU time of the thread that runs the back end (an
IOThread, or the main loop), of the thread pool's workers and of io_uring's kernel workers
(``/proc/PID/task/TID/schedstat``), and what QEMU's trace events count.  The driver (this
Python process) is slow next to QEMU, so each experiment is built so its speed does not
decide the result: a pass's requests are written to guest RAM before the one kick, and only
QEMU's threads' CPU is counted, never the driver's wall clock.  The kick is a write to the
queue's ioeventfd itself (``VirtioBlk(direct_kick=True)``), as KVM signals it for a guest:
no qtest command, so the driver costs QEMU nothing and the main loop's CPU is the back
end's.

Timed runs have no tracing (a trace event costs CPU); counted runs trace.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..kvm import probe as kvm_probe
from . import firmware
from .nvme import DATA as NVME_DATA
from .nvme import IO_READ, Nvme
from .process import Qemu, QemuError
from .virtio_blk import Request, VirtioBlk

BACKENDS = ("null", "threads", "io_uring", "native")
"""null: QEMU's null-co driver (reads return zeroes, nothing touches a disk); the others: a
file on tmpfs opened with O_DIRECT (``cache.direct=on``) and that ``aio=`` mode."""
PATTERNS = ("scattered", "sequential")
"""scattered: 4 KiB requests 4 KiB apart (QEMU cannot merge them); sequential: adjacent
(QEMU merges them, up to 32 to a submission)."""
SLOT = 4
DISK_BYTES = 64 << 20
MAIN, IOTHREAD, VCPU = "qemu-system-x86", "IO io0", "CPU 0/TCG"
# Trace events counted (QEMU 7.2's names, `-trace help`)
KICK_EVENT = "virtio_queue_notify"
READ_EVENT = "virtio_blk_handle_read"
MERGE_EVENT = "virtio_blk_submit_multireq"  # only for merged submissions (num_reqs > 1)
URING_ENTER_EVENT = "luring_io_uring_submit"
INTERRUPT_EVENTS = ("virtio_notify", "virtio_notify_irqfd")
POLL_EVENTS = ("poll_grow", "poll_shrink")
TRACED = (KICK_EVENT, READ_EVENT, MERGE_EVENT, URING_ENTER_EVENT, *INTERRUPT_EVENTS, *POLL_EVENTS)


@dataclass(frozen=True)
class Setup:
    """What QEMU runs: a back end, the main loop or an IOThread (``poll_max_ns``: its
    adaptive polling limit, None for QEMU's default of 32768 ns), EVENT_IDX."""

    backend: str = "null"
    iothread: bool = True
    poll_max_ns: int | None = None
    event_idx: bool = True

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.poll_max_ns is not None:
            if not self.iothread:
                raise ValueError("poll_max_ns needs iothread=True (the main loop never polls)")
            if not (isinstance(self.poll_max_ns, int) and 0 <= self.poll_max_ns <= 10**9):
                raise ValueError(f"poll_max_ns must be in 0..10**9 ns, got {self.poll_max_ns!r}")

    @property
    def label(self) -> str:
        loop = "iothread" if self.iothread else "main loop"
        if self.iothread and self.poll_max_ns is not None:
            loop += f" poll-max-ns={self.poll_max_ns}"
        return f"{self.backend}, {loop}, EVENT_IDX {'on' if self.event_idx else 'off'}"

    def args(self, disk: str | None) -> list[str]:
        """QEMU's options for this setup (``disk``: the tmpfs file of a file back end)."""
        if self.backend == "null":
            node = f"driver=null-co,node-name=d0,size={1 << 30},read-zeroes=on"
        else:
            node = f"driver=file,node-name=d0,filename={disk},aio={self.backend},cache.direct=on"
        out = ["-blockdev", node]
        dev = f"virtio-blk-pci,drive=d0,addr={SLOT:02x}.0"
        if self.iothread:
            poll = "" if self.poll_max_ns is None else f",poll-max-ns={self.poll_max_ns}"
            out += ["-object", f"iothread,id=io0{poll}"]
            dev += ",iothread=io0"
        return [*out, "-device", dev]

    def as_dict(self) -> dict:
        return dict(
            backend=self.backend,
            iothread=self.iothread,
            poll_max_ns=self.poll_max_ns,
            event_idx=self.event_idx,
        )


@contextlib.contextmanager
def machine(setup: Setup, trace: tuple[str, ...] = ()) -> Iterator[tuple[Qemu, VirtioBlk]]:
    """QEMU with ``setup`` and our driver on its virtio-blk (the disk file, if any, on
    tmpfs and removed afterwards)."""
    disk = None
    if setup.backend != "null":
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, disk = tempfile.mkstemp(prefix="virtmodel-qemu-disk-", dir=shm)
        os.ftruncate(fd, DISK_BYTES)
        os.close(fd)
    try:
        with Qemu(setup.args(disk), trace=trace, deadline=120) as q:
            dev = VirtioBlk(q, SLOT, event_idx=setup.event_idx, direct_kick=True)
            try:
                dev.run([Request(0)])  # warm: QEMU's first request allocates and maps
                yield q, dev
            finally:
                dev.close()
    finally:
        if disk:
            os.unlink(disk)


def requests(n: int, pattern: str = "scattered") -> list[Request]:
    """``n`` 4 KiB reads laid out as ``pattern`` says."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")
    step = 16 if pattern == "scattered" else 8
    return [Request(step * i) for i in range(n)]


def check_batch(batch: int) -> int:
    if not (isinstance(batch, int) and 1 <= batch <= 128):
        raise ValueError(f"batch must be in 1..128 (requests per kick), got {batch!r}")
    return batch


def _backend_ns(setup: Setup, before: dict, after: dict) -> float:
    """QEMU's CPU between two readings that belongs to the back end: every thread but the
    vCPU's (held by -S) and, with an IOThread, the main loop's."""
    total = 0.0
    for name, ns in after.items():
        if name == VCPU or (setup.iothread and name == MAIN):
            continue
        total += ns - before.get(name, 0)
    return total


@dataclass(frozen=True)
class PassCpu:
    """Back-end CPU of passes of ``batch`` requests, one kick each (median of repeats)."""

    setup: Setup
    batch: int
    passes: int
    pattern: str
    ns_per_pass: float
    ns_per_pass_runs: tuple[float, ...]

    @property
    def ns_per_request(self) -> float:
        return self.ns_per_pass / self.batch


def pass_cpu(
    setups: Setup | list[Setup],
    batches=(1, 2, 4, 8, 16, 32, 64, 128),
    passes: int = 40,
    repeats: int = 5,
    pattern: str = "scattered",
) -> list[PassCpu]:
    """Back-end CPU per pass against requests per kick: each pass puts ``batch`` reads on
    the ring, kicks once, waits for all of them and reaps them.  Several ``setups`` run
    side by side, their repeats interleaved, so that a change in the host's load over the
    run weighs on all of them alike (rows in the order setups x batches)."""
    setups = [setups] if isinstance(setups, Setup) else list(setups)
    for b in batches:
        check_batch(b)
    runs: dict = {(i, b): [] for i in range(len(setups)) for b in batches}
    with contextlib.ExitStack() as stack:
        machines = [stack.enter_context(machine(s)) for s in setups]
        for i, (_, dev) in enumerate(machines):
            for b in batches:  # warm: the first passes of a new size cost more
                for _ in range(3):
                    dev.run(requests(b, pattern))
        for _ in range(repeats):
            for b in batches:
                for i, (q, dev) in enumerate(machines):
                    before = q.thread_cpu_ns()
                    for _ in range(passes):
                        dev.run(requests(b, pattern))
                    runs[i, b].append(_backend_ns(setups[i], before, q.thread_cpu_ns()) / passes)
    return [
        PassCpu(s, b, passes, pattern, statistics.median(runs[i, b]), tuple(runs[i, b]))
        for i, s in enumerate(setups)
        for b in batches
    ]


@dataclass(frozen=True)
class Fit:
    """Back-end CPU per pass = ``per_pass_ns`` + ``per_request_ns`` x requests (least
    squares over the batches); ``worst_residual`` relative to the measured value."""

    per_pass_ns: float
    per_request_ns: float
    batches: tuple[int, ...]
    worst_residual: float


def fit(rows: list[PassCpu]) -> Fit:
    """Separate the fixed per-pass (per wake-up) cost from the per-request cost."""
    if len({r.batch for r in rows}) < 2:
        raise ValueError("rows must span at least two batch sizes to fit")
    icept, slope, worst = line([float(r.batch) for r in rows], [r.ns_per_pass for r in rows])
    return Fit(icept, slope, tuple(r.batch for r in rows), worst)


@dataclass(frozen=True)
class PassCounts:
    """What QEMU did per pass of ``batch`` requests (trace events; the ring afterwards)."""

    setup: Setup
    batch: int
    passes: int
    pattern: str
    kicks_per_pass: float  # virtio_queue_notify: notifications QEMU handled
    submissions_per_pass: float  # block-layer submissions: merged ones + unmerged requests
    uring_enters_per_pass: float  # luring_io_uring_submit (aio=io_uring only)
    interrupts_per_pass: float  # virtio_notify + virtio_notify_irqfd that signalled
    avail_event_lag: float  # avail idx - avail_event after the pass (0: kicks re-armed)
    used_flags: int  # VRING_USED_F_NO_NOTIFY set after the pass? (without EVENT_IDX)


def pass_counts(
    setup: Setup, batches=(1, 8, 64), passes: int = 20, pattern: str = "scattered"
) -> list[PassCounts]:
    """Count submissions, interrupts and notifications per pass, and read what QEMU left
    in ``avail_event`` and the used flags when it finished."""
    for b in batches:
        check_batch(b)
    out = []
    with machine(setup, trace=TRACED) as (q, dev):
        q.trace_counts()
        for b in batches:
            lags, flags = [], 0
            for _ in range(passes):
                dev.run(requests(b, pattern))
                time.sleep(200e-6)  # let the IOThread finish its pass (its poll, its flags)
                avail = int(dev.fields["avail_idx"][0])
                lags.append((avail - dev.avail_event) & 0xFFFF if setup.event_idx else 0)
                flags |= dev.used_flags
            time.sleep(0.01)  # the trace file catches up
            events = q.trace_events()
            c = _by_event(events)
            merged = [e for e in events if e[0] == MERGE_EVENT]
            in_merges = sum(int(args.split("num_reqs ")[1].split()[0]) for _, _, args in merged)
            submissions = c[READ_EVENT] - in_merges + len(merged)
            out.append(
                PassCounts(
                    setup,
                    b,
                    passes,
                    pattern,
                    c[KICK_EVENT] / passes,
                    submissions / passes,
                    c[URING_ENTER_EVENT] / passes,
                    sum(c[e] for e in INTERRUPT_EVENTS) / passes,
                    statistics.fmean(lags),
                    flags,
                )
            )
    return out


def _by_event(events) -> dict[str, int]:
    out = dict.fromkeys(TRACED, 0)
    for event, _, _ in events:
        out[event] = out.get(event, 0) + 1
    return out


@dataclass(frozen=True)
class WakeUp:
    """The fixed cost of waking the back end, by how long it slept before: CPU per kick of
    ``kicks`` kicks ``gap_us`` apart that find nothing new (``empty_kick_ns``), and per
    pass of one request, passes ``gap_us`` apart (``one_request_ns``)."""

    setup: Setup
    gap_us: float
    kicks: int
    empty_kick_ns: float
    one_request_ns: float


def _pause(us: float) -> None:
    if us >= 1000:
        time.sleep(us * 1e-6)
        return
    end = time.perf_counter() + us * 1e-6  # a short gap: spin (sleep overshoots)
    while time.perf_counter() < end:
        pass


def wakeups(
    setup: Setup, gaps_us=(20, 200, 2000, 20000), kicks: int = 20, repeats: int = 3
) -> list[WakeUp]:
    """Back-end CPU of one wake-up after an idle gap: what the fixed per-pass cost is.
    The sweep over the gaps runs ``repeats`` times; each value is the median."""
    for gap in gaps_us:
        if not 0 <= gap <= 1e6:
            raise ValueError(f"gaps_us must be in 0..1000000 µs, got {gap}")
    empty: dict = {g: [] for g in gaps_us}
    one: dict = {g: [] for g in gaps_us}
    with machine(setup) as (q, dev):
        for _ in range(repeats):
            for gap in gaps_us:
                before = q.thread_cpu_ns()
                for _ in range(kicks):
                    _pause(gap)
                    dev.kick()
                _pause(max(gap, 1000))  # the last one handled
                empty[gap].append(_backend_ns(setup, before, q.thread_cpu_ns()) / kicks)
                before = q.thread_cpu_ns()
                for _ in range(kicks):
                    _pause(gap)
                    dev.run([Request(0)])
                one[gap].append(_backend_ns(setup, before, q.thread_cpu_ns()) / kicks)
    return [
        WakeUp(setup, g, kicks * repeats, statistics.median(empty[g]), statistics.median(one[g]))
        for g in gaps_us
    ]


@dataclass(frozen=True)
class Stream:
    """A driver that adds requests one at a time while QEMU works (kicking only when QEMU
    asks, by ``avail_event`` or the used flags): kicks it needed and QEMU's CPU."""

    setup: Setup
    requests: int
    gap_us: float
    kicks_per_request: float
    ns_per_request: float


def stream(setup: Setup, count: int = 300, gap_us: float = 0.0, window: int = 32) -> Stream:
    """Add ``count`` reads one at a time, ``gap_us`` apart (plus the driver's own time,
    some µs), at most ``window`` outstanding (reaping when full), a kick only when asked."""
    if not 1 <= count <= 100_000:
        raise ValueError(f"count must be in 1..100000, got {count}")
    if not 1 <= window <= 128:
        raise ValueError(f"window must be in 1..128, got {window}")
    with machine(setup) as (q, dev):
        dev.reap()
        before, k0 = q.thread_cpu_ns(), dev.kicks
        for i in range(count):
            if dev.outstanding() >= window:
                dev.wait(1)
                dev.reap()
            _pause(gap_us)
            dev.submit([Request(16 * (i % 64))])
        dev.wait(dev.outstanding())
        dev.reap()
        after = q.thread_cpu_ns()
        kicks = dev.kicks - k0
        return Stream(
            setup,
            count,
            gap_us,
            kicks / count,
            _backend_ns(setup, before, after) / count,
        )


NVME_SLOT = 5
NVME_EVENTS = (
    "pci_nvme_io_cmd",
    "pci_nvme_mmio_doorbell_sq",
    "pci_nvme_shadow_doorbell_sq",
    "pci_nvme_eventidx_sq",
    "pci_nvme_mmio_doorbell_cq",
    "pci_nvme_shadow_doorbell_cq",
    "pci_nvme_eventidx_cq",
)


@contextlib.contextmanager
def nvme_machine(dbbuf: bool, trace: tuple[str, ...] = ()) -> Iterator[tuple[Qemu, Nvme]]:
    """QEMU's NVMe controller on a null-co namespace, our driver on it."""
    args = [
        "-blockdev",
        f"driver=null-co,node-name=d0,size={1 << 30},read-zeroes=on",
        "-device",
        f"nvme,drive=d0,serial=virtmodel,addr={NVME_SLOT:02x}.0",
    ]
    with Qemu(args, trace=trace, deadline=120) as q:
        yield q, Nvme(q, NVME_SLOT, dbbuf=dbbuf)


@dataclass(frozen=True)
class NvmeCounts:
    """Per command of batches of ``batch`` reads, one doorbell decision per batch: what
    QEMU's NVMe controller did (trace events), and its CPU per command (the slope over the
    batches: the qtest command of each doorbell write falls out)."""

    dbbuf: bool
    batch: int
    commands: int
    per_command: dict  # trace event -> count per command
    mmio_doorbells_per_batch: float  # the driver's MMIO doorbell writes (SQ)
    sq_eventidx_lag: float  # after a batch: the driver's SQ tail - the SQ EventIdx in RAM
    cq_eventidx_lag: float  # after a batch: the driver's CQ head - the CQ EventIdx in RAM


def nvme_counts(dbbuf: bool, batches=(1, 8, 32), rounds: int = 10) -> list[NvmeCounts]:
    """NVMe doorbell processing and, with shadow doorbells, EventIdx updates per command."""
    out = []
    with nvme_machine(dbbuf, trace=NVME_EVENTS) as (q, dev):
        dev.read([0])
        time.sleep(0.01)
        q.trace_counts()
        for b in batches:
            check_batch(b)
            rings = dev.io.doorbell_writes
            sq_lag, cq_lag = [], []
            for _ in range(rounds):
                dev.read([8 * i for i in range(b)])
                time.sleep(0.002)  # QEMU has handled the CQ doorbell
                if dbbuf:
                    sq_lag.append((dev.io.tail - int(dev.eventidx(2)[0])) % dev.io.size)
                    cq_lag.append((dev.io.head - int(dev.eventidx(3)[0])) % dev.io.size)
            time.sleep(0.02)
            c = _by_event(q.trace_events())
            n = b * rounds
            out.append(
                NvmeCounts(
                    dbbuf,
                    b,
                    n,
                    {e: c.get(e, 0) / n for e in NVME_EVENTS},
                    (dev.io.doorbell_writes - rings) / rounds,
                    statistics.fmean(sq_lag) if dbbuf else 0.0,
                    statistics.fmean(cq_lag) if dbbuf else 0.0,
                )
            )
    return out


@dataclass(frozen=True)
class NvmeAdds:
    """Shadow doorbells and a driver that adds while the controller works: each round
    rings ``burst`` reads with one MMIO doorbell, then adds ``extra`` more one at a time
    straight after (at the driver's own pace, some µs apart), each rung by MMIO only if
    the SQ EventIdx asks for it (Linux's ``nvme_dbbuf_need_event``).

    ``eventidx_written``: per round, what QEMU wrote to the SQ EventIdx after each command
    it processed (its ``pci_nvme_eventidx_sq`` trace), counted from the round's first
    command; ``extra_doorbells``: the extra commands' MMIO doorbells per extra command."""

    burst: int
    extra: int
    rounds: int
    eventidx_written: tuple[tuple[int, ...], ...]
    extra_doorbells: float


def nvme_adds(burst: int, extra: int, rounds: int = 5) -> NvmeAdds:
    """Ring a burst, add ``extra`` commands during its pass; see :class:`NvmeAdds`."""
    check_batch(burst)
    if not (isinstance(extra, int) and 0 <= extra and burst + extra <= 63):
        raise ValueError(f"extra must be in 0..{63 - burst} (the queue holds 63), got {extra!r}")
    if not 1 <= rounds <= 100:
        raise ValueError(f"rounds must be in 1..100, got {rounds}")
    written, rang = [], 0
    with nvme_machine(True, trace=("pci_nvme_eventidx_sq",)) as (q, dev):
        io = dev.io
        dev.read([0])
        time.sleep(0.01)
        q.trace_events()
        for _ in range(rounds):
            start = io.tail
            for i in range(burst):
                io.add(IO_READ, 1, NVME_DATA + 4096 * i, cdw=[8 * i, 0, 7])
            io.ring()
            for i in range(burst, burst + extra):
                io.add(IO_READ, 1, NVME_DATA + 4096 * i, cdw=[8 * i, 0, 7])
                rang += io.ring()
            bad = {c: st for c, st in io.completions(burst + extra) if st}
            if bad:
                raise QemuError(f"NVMe reads failed: {bad}")
            time.sleep(0.005)  # the trace file catches up
            seen = [
                (int(args.split("new_eventidx ")[1].split()[0]) - start) % io.size
                for event, _, args in q.trace_events()
                if event == "pci_nvme_eventidx_sq" and args.startswith("sqid 1 ")
            ]
            written.append(tuple(seen))
    return NvmeAdds(burst, extra, rounds, tuple(written), rang / (extra * rounds) if extra else 0.0)


@dataclass(frozen=True)
class NvmeCpu:
    """QEMU's CPU per NVMe read command (main loop: QEMU 7.2's NVMe has no IOThread), from
    the slope over batches, with and without shadow doorbells."""

    dbbuf: bool
    fit: Fit


def nvme_cpu(dbbuf: bool, batches=(1, 4, 16, 32), passes: int = 30, repeats: int = 3) -> NvmeCpu:
    rows = []
    with nvme_machine(dbbuf) as (q, dev):
        for b in batches:
            check_batch(b)
            runs = []
            for _ in range(repeats):
                before = q.thread_cpu_ns()
                for _ in range(passes):
                    dev.read([8 * i for i in range(b)])
                after = q.thread_cpu_ns()
                runs.append(sum(after[k] - before.get(k, 0) for k in after if k != VCPU) / passes)
            rows.append(
                PassCpu(
                    Setup(iothread=False),
                    b,
                    passes,
                    "scattered",
                    statistics.median(runs),
                    tuple(runs),
                )
            )
    return NvmeCpu(dbbuf, fit(rows))


IDE_COUNTS = {
    "tcg": {
        "baseline": (250_000, 500_000, 1_000_000),
        "status": (250_000, 500_000, 1_000_000),
        "identify": (1000, 2000, 4000),
        "check_power": (1000, 2000, 4000),
    },
    "kvm": {
        "baseline": (1000, 2000, 4000),
        "status": (1000, 2000, 4000),
        "identify": (250, 500, 1000),
        "check_power": (250, 500, 1000),
    },
}
"""How many iterations each mode runs per accelerator: some tens of ms of vCPU time at
the largest (a TCG register read costs ~0.1 µs, a KVM one on this PVM host ~10 µs)."""


@dataclass(frozen=True)
class IdeGuestCost:
    """The CPU of emulated IDE accesses made by a real guest (:mod:`.firmware`), from the
    vCPU thread's time on CPU: least-squares slopes over the runs' iteration counts (each
    point the median of ``repeats`` QEMU processes), so the fixed cost of a run (QEMU's
    start, translating the program) falls out.

    ``register_ns``: one ``in`` of the status register, less an empty loop iteration;
    ``command_ns``: CHECK POWER MODE (two register writes and the command's handling),
    less a loop iteration; ``pio_element_ns``: one element of ``rep insw`` (IDENTIFY
    DEVICE less CHECK POWER MODE, over its 256 words: it carries 1/256 of a transfer's
    start and end).  Under TCG a cost is QEMU's device model plus TCG's dispatch to it
    (a helper call, the memory API); under KVM the whole trapped access (exit, KVM, the
    return to QEMU, its handler), on this host's KVM as it runs real-mode code; there
    ``exits_per_iteration`` counts the exits each mode's iteration takes (QEMU's
    ``kvm_run_exit`` trace over two short runs)."""

    accel: str
    kvm_flavour: str | None  # with KVM: "vmx", "svm" or "pvm" (this host's)
    repeats: int
    points: dict  # mode -> [(count, median vCPU ns, (the repeats' ns, ...)), ...]
    slopes: dict  # mode -> ns per iteration
    worst_residual: float  # the fits' worst residual relative to the measured value
    register_ns: float
    command_ns: float
    pio_element_ns: float
    exits_per_iteration: dict | None = None  # KVM: mode -> exits per iteration (traced)


def line(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares ``y = a + b x``: ``(a, b, worst residual relative to y)``."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    icept = my - slope * mx
    worst = max(abs(icept + slope * x - y) / y for x, y in zip(xs, ys))
    return icept, slope, worst


def ide_guest_cost(accel: str = "tcg", repeats: int = 3, scale: float = 1.0) -> IdeGuestCost:
    """Run the firmware guest in each timed mode at :data:`IDE_COUNTS` (times ``scale``),
    ``repeats`` QEMU processes per point, the points interleaved, and fit the slopes."""
    if accel not in IDE_COUNTS:
        raise ValueError(f"accel must be one of {tuple(IDE_COUNTS)}, got {accel!r}")
    if not (isinstance(repeats, int) and 1 <= repeats <= 20):
        raise ValueError(f"repeats must be in 1..20, got {repeats!r}")
    if not 0.01 <= scale <= 10:
        raise ValueError(f"scale must be in 0.01..10, got {scale!r}")
    plan = {m: [max(1, round(n * scale)) for n in ns] for m, ns in IDE_COUNTS[accel].items()}
    got: dict = {(m, n): [] for m, ns in plan.items() for n in ns}
    for _ in range(repeats):
        for m, ns in plan.items():
            for n in ns:
                r = firmware.run(m, n, accel)
                if m == "identify" and r.data[0:2] != b"\x40\x00":
                    raise QemuError(f"IDENTIFY's data did not reach the guest: {r.data[:8]!r}")
                if m == "check_power" and r.nsector != 0xFF:
                    raise QemuError(f"CHECK POWER MODE left sector count {r.nsector:#x}")
                got[m, n].append(r.vcpu_ns)
    points = {
        m: [(n, statistics.median(got[m, n]), tuple(got[m, n])) for n in ns]
        for m, ns in plan.items()
    }
    exits = None
    if accel == "kvm":  # what one iteration costs in exits: two traced runs per mode
        exits = {}
        for m in plan:
            a, b = (firmware.run(m, n, accel, count_exits=True).exits for n in (10, 20))
            exits[m] = (b - a) / 10
    slopes, worst = {}, 0.0
    for m, pts in points.items():
        _, slopes[m], w = line([float(n) for n, _, _ in pts], [y for _, y, _ in pts])
        worst = max(worst, w)
    return IdeGuestCost(
        accel,
        kvm_probe().flavour if accel == "kvm" else None,
        repeats,
        points,
        slopes,
        worst,
        slopes["status"] - slopes["baseline"],
        slopes["check_power"] - slopes["baseline"],
        (slopes["identify"] - slopes["check_power"]) / firmware.IDENTIFY_WORDS,
        exits,
    )
