"""Chapter 5 ("After the source: how modern hosts closed the gap"): each explorer
compares a few configurations of the registered paths over the number of requests in
flight (fio's iodepth)."""

from __future__ import annotations

from .. import cachelines, registers
from ..costs import DEFAULT as DEFAULT_PROFILE
from ..costs import get as get_profile
from ..evidence import Table
from ..paths import REGISTRY, names
from ..sweep import points
from ..trap import INTERRUPT_MODES
from ..units import fmt_bytes
from . import figures
from .core import FRAME_WIDTH_IN, REQUESTS, Explorer, Knob, curve, run

DEPTHS = (1, 2, 4, 8, 16, 32, 64)
"""The curves' x values (iodepth)."""
MARKS = (1, 4, 16, 64)
"""The iodepths a reader can mark on them (each a frame on the static site)."""
ON_OFF = {True: "on", False: "off"}
KNOB_SIZES = (512, 4096, 65536)
IDE_DMA = f"{figures.IDE_DISK}, DMA"


def _by_depth(title, knob: Knob, variants, metrics, summary, profile, exits_in_legend=False):
    """The shape of most of this chapter's explorers: the curves of ``variants(value)``
    (label -> (path, params); ``value``: the setting of ``knob``, the one knob besides the
    iodepth) over ``DEPTHS``, the iodepth chosen marked (``exits_in_legend``: each label
    followed by its exits per request there).  ``summary(depth, value, at)`` (``at``: each
    variant's result at that depth) returns the figure's title and what else the explorer
    records in its data beside the curves and ``at``."""
    prof = get_profile(profile)

    def draw(fig, depth, **knobs):
        (value,) = knobs.values()
        v = variants(value)
        curves = {
            label: curve(path, "iodepth", DEPTHS, requests=REQUESTS, profile=prof, **kw)
            for label, (path, kw) in v.items()
        }
        at = {k: c.results[DEPTHS.index(depth)] for k, c in curves.items()}
        paths = {label: path for label, (path, _) in v.items()}
        figures.curves(
            curves,
            metrics,
            fig,
            marker=depth,
            colors={label: figures.path_color(path) for label, path in paths.items()},
            styles=figures.variant_styles(paths),
            labels={k: figures.with_exits(k, r) for k, r in at.items()}
            if exits_in_legend
            else None,
        )
        text, more = summary(depth, value, at)
        fig.suptitle(text, fontsize=9)
        return {"curves": curves, "at": at, **more}

    return Explorer(
        title, (Knob("depth", "iodepth", MARKS, 1), knob), draw, figsize=(FRAME_WIDTH_IN, 3.6)
    )


def explore_ioeventfd(profile=DEFAULT_PROFILE) -> Explorer:
    """ioeventfd and the I/O thread: the kick as an exit to QEMU, or an exit KVM ends with
    an eventfd signal that wakes QEMU's I/O thread."""

    def variants(request_bytes):
        v = {
            "virtio, ioeventfd (I/O thread)": ("virtio", dict(ioeventfd=True)),
            "virtio, kick exits to QEMU": ("virtio", dict(ioeventfd=False)),
            "emulated NVMe, doorbells to QEMU": ("nvme", dict(ioeventfd=False)),
            "emulated NVMe, doorbell ioeventfds": ("nvme", dict(ioeventfd=True)),
        }
        return {k: (p, dict(kw, request_bytes=request_bytes)) for k, (p, kw) in v.items()}

    def summary(depth, request_bytes, at):
        return (
            f"iodepth {depth}, {fmt_bytes(request_bytes)}: "
            + "; ".join(
                f"{k.split(',')[0]}{',' + k.split(',')[1] if ',' in k else ''}: "
                f"{r.user_exits_per_request:.2f} to QEMU"
                for k, r in list(at.items())[:2]
            ),
            {},
        )

    return _by_depth(
        "ioeventfd and the I/O thread",
        Knob("request_bytes", "request size", KNOB_SIZES, 4096, fmt_bytes),
        variants,
        ("user_exits_per_request", "throughput_rps", "mean_latency_ns"),
        summary,
        profile,
    )


def explore_backends(profile=DEFAULT_PROFILE) -> Explorer:
    """vhost, vhost-user and polling: exits saved against a core burned."""

    def variants(device_type):
        v = {
            "virtio (QEMU)": ("virtio", {}),
            "vhost (kernel)": ("vhost", {}),
            "vhost-user, woken by kicks": ("vhost-user", dict(backend_poll=False)),
            "vhost-user, polling": ("vhost-user", dict(backend_poll=True)),
        }
        size = 1500 if device_type == "net" else 4096
        return {
            k: (p, dict(kw, device_type=device_type, request_bytes=size))
            for k, (p, kw) in v.items()
        }

    def summary(depth, device_type, at):
        poll, woken = at["vhost-user, polling"], at["vhost-user, woken by kicks"]
        return (
            (
                f"iodepth {depth}, {device_type}: polling takes "
                f"{poll.kicks_per_request:.3f} kicks per request (woken: "
                f"{woken.kicks_per_request:.2f}) and {poll.cpu_ns_per_request / 1e3:.1f} "
                f"µs of CPU (woken: {woken.cpu_ns_per_request / 1e3:.1f})"
            ),
            {},
        )

    return _by_depth(
        "Back ends: QEMU, vhost, vhost-user, polling",
        Knob(
            "device_type",
            "device",
            ("blk", "net"),
            "blk",
            {"blk": "block (4 KiB)", "net": "network (1500 B)"}.get,
        ),
        variants,
        ("exits_per_request", "cpu_ns_per_request", "mean_latency_ns"),
        summary,
        profile,
    )


def explore_interrupts(profile=DEFAULT_PROFILE) -> Explorer:
    """Interrupt virtualization and halt polling: exits per request and tail latency."""

    def variants(halt_poll):
        v = {
            f"virtio, {m}": ("virtio", dict(interrupt_mode=m, halt_poll=halt_poll))
            for m in INTERRUPT_MODES
        }
        v["virtio, guest polls"] = ("virtio", dict(interrupts=False))
        return v

    def summary(depth, halt_poll, at):
        legacy, posted = at["virtio, legacy"], at["virtio, posted"]
        return (
            (
                f"iodepth {depth}, halt polling {ON_OFF[halt_poll]}: legacy "
                f"{legacy.exits_per_request:.2f} exits per request (EOI "
                f"{legacy.exits_by_reason['eoi']:.2f}, delivery "
                f"{legacy.exits_by_reason['interrupt']:.2f}, HLT "
                f"{legacy.exits_by_reason['hlt']:.2f}); posted "
                f"{posted.exits_per_request:.2f}"
            ),
            {},
        )

    return _by_depth(
        "Interrupts and idle vCPUs",
        Knob("halt_poll", "KVM halt polling", (True, False), True, ON_OFF.get),
        variants,
        ("exits_per_request", "p99_latency_ns", "cpu_ns_per_request"),
        summary,
        profile,
    )


def explore_nvme(profile=DEFAULT_PROFILE) -> Explorer:
    """Emulated is not slow by nature: QEMU's NVMe, with and without shadow doorbells,
    beside virtio and an IDE disk."""

    def variants(ioeventfd):
        return {
            "NVMe, no shadow doorbells": ("nvme", dict(shadow_doorbell=False, ioeventfd=ioeventfd)),
            "NVMe, shadow doorbells": ("nvme", dict(shadow_doorbell=True, ioeventfd=ioeventfd)),
            "virtio-blk": ("virtio", {}),
            IDE_DMA: ("emulated", registers.params(registers.IDE_DMA_READ)),
        }

    def summary(depth, ioeventfd, at):
        return (
            (
                f"iodepth {depth}, doorbell ioeventfds {ON_OFF[ioeventfd]}: NVMe "
                f"{at['NVMe, shadow doorbells'].exits_per_request:.2f} exits per I/O "
                f"with shadow doorbells, "
                f"{at['NVMe, no shadow doorbells'].exits_per_request:.2f} without; "
                f"IDE {at[IDE_DMA].exits_per_request:.0f}"
            ),
            {},
        )

    return _by_depth(
        "Emulated is not slow by nature: NVMe",
        Knob("ioeventfd", "doorbell ioeventfds", (False, True), False, ON_OFF.get),
        variants,
        ("exits_per_request", "throughput_rps", "mean_latency_ns"),
        summary,
        profile,
        exits_in_legend=True,
    )


def explore_assignment(profile=DEFAULT_PROFILE) -> Explorer:
    """Device assignment and vDPA beside virtio and bare metal."""

    def variants(interrupt_mode):
        return {
            "native": ("native", {}),
            "passthrough (VFIO)": ("passthrough", dict(interrupt_mode=interrupt_mode)),
            "vDPA": ("vdpa", dict(interrupt_mode=interrupt_mode)),
            "vhost": ("vhost", dict(interrupt_mode=interrupt_mode)),
            "virtio (QEMU)": ("virtio", dict(interrupt_mode=interrupt_mode)),
        }

    def summary(depth, interrupt_mode, at):
        share = at["passthrough (VFIO)"].throughput_rps / at["native"].throughput_rps
        return (
            (
                f"iodepth {depth}, {interrupt_mode} interrupts: passthrough at "
                f"{share:.0%} of native throughput"
            ),
            {"share": share},
        )

    return _by_depth(
        "Device assignment and vDPA",
        Knob("interrupt_mode", "interrupts", INTERRUPT_MODES, "posted"),
        variants,
        ("throughput_rps", "mean_latency_ns", "cpu_ns_per_request"),
        summary,
        profile,
    )


COALESCE_ENTRIES = (1, 4, 8, 32)
"""The coalescing explorer's thresholds (completions per interrupt; 1: off)."""
COALESCE_US = 100
"""Its aggregation time: the shortest NVMe offers (one 100 µs unit)."""


def explore_coalescing(profile=DEFAULT_PROFILE) -> Explorer:
    """NVMe interrupt coalescing on the hardware paths: interrupts saved under load against
    the timer's wait at low depth."""

    def variants(entries):
        on = dict(coalesce_entries=entries, coalesce_us=COALESCE_US if entries > 1 else 0)
        return {
            "native": ("native", on),
            "passthrough, posted": ("passthrough", dict(on, interrupt_mode="posted")),
            "passthrough, legacy": ("passthrough", dict(on, interrupt_mode="legacy")),
            "passthrough, legacy, off": ("passthrough", dict(interrupt_mode="legacy")),
        }

    def summary(depth, entries, at):
        leg, off = at["passthrough, legacy"], at["passthrough, legacy, off"]
        what = f"{entries} per {COALESCE_US} µs" if entries > 1 else "off"
        return (
            (
                f"iodepth {depth}, coalescing {what}: passthrough without posted interrupts "
                f"takes {leg.interrupts_per_request:.2f} interrupts per I/O "
                f"({off.interrupts_per_request:.2f} off) and waits "
                f"{leg.mean_latency_ns / 1e3:.0f} µs ({off.mean_latency_ns / 1e3:.0f} off)"
            ),
            {},
        )

    return _by_depth(
        "NVMe interrupt coalescing",
        Knob(
            "entries",
            "completions per interrupt",
            COALESCE_ENTRIES,
            8,
            lambda n: f"{n} (or {COALESCE_US} µs)" if n > 1 else "1 (off)",
        ),
        variants,
        ("interrupts_per_request", "mean_latency_ns", "throughput_rps"),
        summary,
        profile,
    )


def explore_packed(profile=DEFAULT_PROFILE) -> Explorer:
    """The packed ring beside the split ring: cache lines moved between the guest's and
    the back end's cores per request, and the simulated run."""
    prof = get_profile(profile)
    batches = (1, 2, 4, 8, 16, 32, 64)
    for ev in (True, False):  # trace once here (cached): the static player's workers share it
        cachelines.table(("split", "packed"), 256, ev, batches)

    def draw(fig, batch, event_idx):
        rows = cachelines.table(("split", "packed"), 256, event_idx, batches)
        lines = {
            r: [x["lines_per_request"] for x in rows if x["ring"] == r] for r in ("split", "packed")
        }
        res = {
            r: run(
                "vhost",
                ring=r,
                batch=batch,
                event_idx=event_idx,
                requests=REQUESTS,
                profile=prof,
                device_type="net",
                request_bytes=64,
            )
            for r in ("split", "packed")
        }
        i = batches.index(batch)
        figures.drawing(fig, figures.RingCompare).update(
            batches,
            lines,
            batch,
            {r: x.us_per_request for r, x in res.items()},
            f"batch {batch}, EVENT_IDX {ON_OFF[event_idx]}: split moves "
            f"{lines['split'][i]:.2f} lines per request, packed {lines['packed'][i]:.2f}",
        )
        return {"lines": lines, "results": res}

    return Explorer(
        "Split or packed?",
        (
            Knob("batch", "batch size", batches, 1),
            Knob("event_idx", "VIRTIO_F_EVENT_IDX", (True, False), True, ON_OFF.get),
        ),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.6),
    )


JOBS = (1, 2, 4, 8, 16)
"""The scaling explorer's x values: fio jobs, one per vCPU."""
SCALE_VCPUS = 16
SCALE_REQUESTS = 16_000
"""Requests per point of the scaling explorer (1,000 per job at 16 jobs)."""
SCALE_BACKENDS = {"qemu": ("virtio", "QEMU, IOThreads"), "vhost": ("vhost", "vhost, workers")}
BUSIEST = {"vcpu": "a vCPU", "backend": "a back-end thread", "device": "the device"}
ONE_OR_MANY = {"one": "one", "many": "one per vCPU"}
THREADS = {"one": "one", "many": "one per queue"}


def scaling_setup(backend: str, queues: str, threads: str) -> tuple:
    """(path, parameters) of the scaling explorer's setting: 16 vCPUs, one queue or one per
    vCPU, one back-end thread or one per queue."""
    path = SCALE_BACKENDS[backend][0]
    nq = 1 if queues == "one" else SCALE_VCPUS
    nt = 1 if threads == "one" else nq
    return path, dict(vcpus=SCALE_VCPUS, queues=nq, backend_threads=nt, request_bytes=4096)


def explore_scaling(profile=DEFAULT_PROFILE) -> Explorer:
    """More queues, more threads: throughput against fio jobs (one per vCPU, 16 vCPUs) and
    the busy share of the busiest vCPU, back-end thread and the device: the resource that
    reaches 100 % is the ceiling."""
    prof = get_profile(profile)

    def draw(fig, jobs, backend, queues, threads, depth):
        path, kw = scaling_setup(backend, queues, threads)
        res = [
            run(path, numjobs=j, iodepth=depth, requests=SCALE_REQUESTS, profile=prof, **kw)
            for j in JOBS
        ]
        at = res[JOBS.index(jobs)]
        top = max(figures.CEILINGS, key=lambda k: at.utilisation[k])
        figures.drawing(fig, figures.Ceiling).update(
            JOBS,
            [r.throughput_rps / 1e3 for r in res],
            {k: [r.utilisation[k] for r in res] for k in figures.CEILINGS},
            jobs,
            f"{jobs} job{'s' if jobs > 1 else ''}, iodepth {depth}, {SCALE_BACKENDS[backend][1]}: "
            f"{at.throughput_rps / 1e3:.0f} k requests/s; the busiest is "
            f"{BUSIEST[top]} ({at.utilisation[top]:.0%})",
        )
        return {"results": dict(zip(JOBS, res)), "ceiling": top}

    return Explorer(
        "More queues, more threads",
        (
            Knob("jobs", "fio jobs", JOBS, 4),
            Knob("backend", "back end", tuple(SCALE_BACKENDS), "qemu", lambda k: k),
            Knob("queues", "queues", tuple(ONE_OR_MANY), "one", ONE_OR_MANY.get),
            Knob(
                "threads",
                "back-end threads",
                tuple(THREADS),
                "one",
                THREADS.get,
                applies=lambda s: "one queue: one thread serves it" if s["queues"] == "one" else "",
            ),
            Knob("depth", "iodepth", (1, 32), 32),
        ),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.6),
    )


def explore_which_path(profile=DEFAULT_PROFILE) -> Explorer:
    """Which path, when: every registered path on one figure for the workload chosen."""
    prof = get_profile(profile)

    def draw(fig, request_bytes, depth, device_type):
        kw = dict(
            request_bytes=request_bytes,
            requests=REQUESTS,
            profile=prof,
            iodepth=depth,
            device_type=device_type,
        )
        res = dict(
            zip(
                names(),
                points(
                    [(name, REGISTRY[name].accepting(kw)) for name in names()],
                    runner=run,
                ),
            )
        )
        figures.path_bars(res, ("throughput_rps", "mean_latency_ns", "cpu_ns_per_request"), fig)
        fig.suptitle(f"{fmt_bytes(request_bytes)}, iodepth {depth}, {device_type}", fontsize=9)
        return {"results": res}

    return Explorer(
        "Which path, when?",
        (
            Knob("request_bytes", "request size", KNOB_SIZES, 4096, fmt_bytes),
            Knob("depth", "iodepth", (1, 8, 64), 1),
            Knob("device_type", "device", ("blk", "net"), "blk"),
        ),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.8),
    )


def path_table(profile=DEFAULT_PROFILE, request_bytes=4096, depth=1) -> Table:
    """Every path at one workload: exits by reason, CPU, throughput, latency."""
    rows = []
    for name in names():
        kw = dict(request_bytes=request_bytes, requests=REQUESTS, profile=profile, iodepth=depth)
        r = run(name, **REGISTRY[name].accepting(kw))
        rows.append(
            dict(
                path=REGISTRY[name].label,
                exits=r.exits_per_request,
                io=r.exits_by_reason["io"],
                hlt=r.exits_by_reason["hlt"],
                eoi=r.exits_by_reason["eoi"],
                user=r.user_exits_per_request,
                cpu=r.cpu_ns_per_request / 1e3,
                kiops=r.throughput_rps / 1e3,
                lat=r.mean_latency_ns / 1e3,
            )
        )
    return Table(
        rows,
        {
            "path": "path",
            "exits": "exits / req",
            "io": "io",
            "hlt": "hlt",
            "eoi": "eoi",
            "user": "to user space",
            "cpu": "CPU µs / req",
            "kiops": "k req/s",
            "lat": "mean latency µs",
        },
    )
