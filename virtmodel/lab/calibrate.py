"""Calibration: a :class:`~virtmodel.costs.CostProfile` from micro-benchmarks alone.

Two sets of micro-benchmarks feed it, and no experiment does (the experiments are what the
calibrated model must then predict, :mod:`virtmodel.lab.validate`):

* the guest ones of :func:`virtmodel.lab.microbench` (an exit to user space, an exit KVM
  handles itself, an ioeventfd write, the run loop's own cost);
* the host ones of :func:`device_bench`, which need no KVM: the lab's devices
  (:mod:`virtmodel.lab.backends`) driven by :func:`~virtmodel.lab.backends.fill_ring` from the
  host -- the fixed cost of a notification, the ring work and the copy cost per request,
  a register write, and a thread wake-up through an eventfd (timed in C, without Python).

:func:`profile_from` maps them onto the profile's fields; each field's source says which
measurement (or which difference of two) it is, and the fields the lab cannot measure keep
the published value and say so.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import re
import statistics
import threading
import time
from typing import Any

import numpy as np

from .. import costs
from ..ring import make_virtqueue
from . import backends, native
from .experiments import EMU_PORT
from .microbench import medians, microbench

LARGE_BYTES = 1 << 16
"""Request size of the copy benchmark (the lab's largest; its buffers span 16 MiB)."""


def _ring_drain_us(queue_size: int, nbytes: int, laps: int) -> list[float]:
    """Per lap: fill the ring with ``queue_size`` requests (not timed), then time one
    notification that drains them all.  Returns µs per lap."""
    q = queue_size
    ram = np.zeros(q * nbytes + 4096, np.uint8)
    backends.prefill(ram, 0, q, nbytes)
    vq = make_virtqueue(q)
    dev = backends.RingBackend(vq, ram, nbytes)
    out = []
    for lap in range(laps + 1):
        if backends.fill_ring(vq, ram, 0, nbytes, lap * q, q) != q:
            raise RuntimeError("the host driver could not fill the ring")
        t0 = time.perf_counter()
        ok = dev.notify()
        dt = time.perf_counter() - t0
        if not ok or dev.served != (lap + 1) * q:
            raise RuntimeError(f"device benchmark: {dev.error or 'requests lost'}")
        if lap:  # the first lap compiles and faults pages in
            out.append(dt * 1e6)
    return out


def _per_call_us(fn, ops: int) -> float:
    t0 = time.perf_counter()
    for _ in range(ops):
        fn()
    return (time.perf_counter() - t0) / ops * 1e6


def _kernel_wake_us(ops: int) -> float:
    """Half an eventfd ping-pong between two pthreads of a small C program
    (``native/wake.c``, compiled at first use): the kernel's wake-up of a thread blocked in
    read(), without an interpreter.  NaN without a C compiler."""
    try:
        return float(native.run("wake", ops))
    except native.NoCompiler:
        return math.nan


def _thread_wake_us(ops: int) -> float:
    """Half an eventfd ping-pong between two Python threads (each side blocks in read):
    the kernel's wake-up plus the GIL changing hands (a cross-check of kernel_wake)."""
    a, b = os.eventfd(0), os.eventfd(0)
    try:

        def echo():
            for _ in range(ops):
                os.eventfd_read(a)
                os.eventfd_write(b, 1)

        t = threading.Thread(target=echo, daemon=True)
        t.start()
        t0 = time.perf_counter()
        for _ in range(ops):
            os.eventfd_write(a, 1)
            os.eventfd_read(b)
        dt = time.perf_counter() - t0
        t.join(5)
        return dt / ops / 2 * 1e6
    finally:
        os.close(a)
        os.close(b)


DEVICE_KINDS = (
    "notify_empty",
    "ring_request",
    "copy_ns_per_byte",
    "register_write",
    "doorbell",
    "thread_wake",
    "kernel_wake",
)
QUEUE_SIZE = 256  # the ring of the device benchmarks, as in the experiments

BENCHMARKS = {
    "pio_user": ("guest", "µs", "port write that exits to user space (run loop included)"),
    "mmio_user": ("guest", "µs", "MMIO write that exits to user space"),
    "cpuid_kernel": ("guest", "µs", "CPUID: an exit KVM handles in the kernel"),
    "ioeventfd_kernel": ("guest", "µs", "port write KVM matches to an eventfd (no user exit)"),
    "python_loop": ("host", "µs", "the VMM's run loop per exit, without a guest"),
    "pio_irq": (
        "guest",
        "µs",
        (
            "pio_user answered with an MSI through an irqfd, taken by "
            "the guest's CPL0 handler on the entry"
        ),
    ),
    "irqfd_write": ("host", "µs", "the VMM's write to an irqfd (MSI to a vCPU not running)"),
    "kick_wake": (
        "guest",
        "µs",
        "an ioeventfd kick answered by a thread blocked on its eventfd: the round trip",
    ),
    "irq_taken": (
        "guest",
        "µs",
        (
            "one interrupt injected on an entry and handled: pio_irq "
            "less the same loop without it, less irqfd_write"
        ),
    ),
    "notify_empty": ("host", "µs", "a notification to the virtio device, empty ring"),
    "ring_request": ("host", "µs", "ring work per request (pop, checks, push used)"),
    "copy_ns_per_byte": ("host", "ns/B", "copying one byte out of guest memory"),
    "register_write": ("host", "µs", "the emulated device taking a register write"),
    "doorbell": (
        "host",
        "µs",
        "the emulated device's doorbell, 8-byte request (a cross-check; not used in the profile)",
    ),
    "thread_wake": (
        "host",
        "µs",
        (
            "waking a Python thread blocked on an eventfd, GIL "
            "hand-off included (a cross-check; not used)"
        ),
    ),
    "kernel_wake": (
        "host",
        "µs",
        (
            "waking a thread blocked on an eventfd, timed in C "
            "(half a pthread ping-pong; a cross-check of kick_wake)"
        ),
    ),
}
"""Every micro-benchmark (guest ones from :mod:`~virtmodel.lab.microbench`, host ones from
:func:`device_bench`): where it runs, its unit, what it times."""


def device_once(ops: int = 20_000, queue_size: int = QUEUE_SIZE) -> dict:
    """One sample of each host-only device benchmark (see :func:`device_bench`)."""
    q = queue_size
    laps = max(4, ops // q)
    out = {}
    vq = make_virtqueue(q)
    empty = backends.RingBackend(vq, np.zeros(4096, np.uint8), 8)
    empty.notify()
    out["notify_empty"] = _per_call_us(empty.notify, ops)
    small = statistics.median(_ring_drain_us(q, 8, laps))
    large = statistics.median(_ring_drain_us(q, LARGE_BYTES, max(4, laps // 8)))
    out["ring_request"] = (small - out["notify_empty"]) / q
    out["copy_ns_per_byte"] = (large - small) / q / (LARGE_BYTES - 8) * 1e3
    reg = backends.RegisterBackend(np.zeros(4096, np.uint8), 8, EMU_PORT, 0, 1, False)
    out["register_write"] = _per_call_us(lambda: reg.write(EMU_PORT, 0), ops)
    ids = np.arange(ops + 1, dtype=np.int64)  # request k's buffer holds its id k
    bell = backends.RegisterBackend(ids.view(np.uint8), 8, EMU_PORT, 0, ops + 1, True)
    k = iter(range(ops + 1))
    bell.write(EMU_PORT + 2, next(k))  # compile
    out["doorbell"] = _per_call_us(lambda: bell.write(EMU_PORT + 2, next(k)), ops)
    if bell.error:
        raise RuntimeError(f"device benchmark: {bell.error}")
    out["thread_wake"] = _thread_wake_us(max(1000, ops // 10))
    out["kernel_wake"] = _kernel_wake_us(max(1000, ops // 10))
    return out


def device_summary(samples: list[dict], ops: int, queue_size: int = QUEUE_SIZE) -> dict:
    """What :func:`device_bench` returns, from samples of :func:`device_once`."""
    return {
        **medians(samples, DEVICE_KINDS),
        "ops": ops,
        "repeats": len(samples),
        "queue_size": queue_size,
    }


def device_bench(ops: int = 20_000, repeats: int = 5, queue_size: int = QUEUE_SIZE) -> dict:
    """Host-only micro-benchmarks of the lab's devices (no KVM needed).  Medians over
    ``repeats`` in µs (``copy_ns_per_byte`` in ns/B), with ``spread`` per key:

    ``notify_empty``
        :meth:`RingBackend.notify` on an empty ring: a notification's fixed cost (the call
        into the device's kernel, the look at the ring).
    ``ring_request``
        per request of a full drain of 8-byte requests, beyond ``notify_empty``: pop,
        checks, push used.
    ``copy_ns_per_byte``
        the extra cost per byte of a drain of 64 KiB requests over one of 8-byte ones.
    ``register_write``
        :meth:`RegisterBackend.write` to its address register.
    ``doorbell``
        :meth:`RegisterBackend.write` to its doorbell, serving an 8-byte request.
    ``thread_wake``
        waking a Python thread blocked on an eventfd (half a ping-pong between two Python
        threads: the GIL changes hands at every wake-up).
    ``kernel_wake``
        the same between two threads of a C program (``native/wake.c``): the kernel's
        wake-up alone; NaN where no C compiler is found.
    """
    samples = [device_once(ops, queue_size) for _ in range(repeats)]
    return device_summary(samples, ops, queue_size)


def host_cpu() -> str:
    """The host CPU's model name (from /proc/cpuinfo), or the platform's processor."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "cpu"


def _host_ghz() -> float | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":", 1)[1]) / 1e3
    except (OSError, ValueError):
        pass
    return None


GUEST_NS_PER_REQUEST = 10.0
"""assumption (ns): the lab guest's own work per request -- about 20 instructions and four
stores (descriptor, available entry, request id); below what the lab can resolve."""


def _wakeup(micro: dict, dev: dict, m) -> tuple:
    """wakeup_ns: waking the back end's thread by a kick, beyond the kick's own exit
    (kick_wake - ioeventfd_kernel).  Measurements without kick_wake (files from before
    2026-11-25) fall back on kernel_wake, then on thread_wake."""
    if "kick_wake" in micro:
        kw, kern = micro["kick_wake"], micro["ioeventfd_kernel"]
        if kw <= kern:
            raise ValueError(
                f"micro-benchmarks inconsistent: kick_wake {kw:.3f} µs is not "
                f"more than ioeventfd_kernel {kern:.3f} µs"
            )
        cross = dev.get("kernel_wake", math.nan)
        return (kw - kern) * 1e3, m(
            f"kick_wake {kw:.3f} - ioeventfd_kernel {kern:.3f} µs: a thread blocked on the "
            f"kick's eventfd woken and answering, next to the running vCPU (the kernel's "
            f"wake-up alone, kernel_wake, is {cross:.3f} µs: where the woken thread lands "
            f"on the vCPU's CPU it preempts the vCPU thread, which costs more)"
        )
    wake = dev.get("kernel_wake", math.nan)
    if not math.isnan(wake):
        return wake * 1e3, m(
            f"kernel_wake {wake:.3f} µs: half an eventfd ping-pong between "
            f"two pthreads of a C program (the kernel's wake-up of a "
            f"thread blocked in read(), no interpreter)"
        )
    return dev["thread_wake"] * 1e3, m(
        f"thread_wake {dev['thread_wake']:.3f} µs: half an eventfd ping-pong between Python "
        f"threads (a GIL hand-off included; kernel_wake was not measured)"
    )


def _interrupt_costs(micro: dict, m, pub) -> dict:
    """signal_ns, irq_inject_ns, native_irq_ns, eoi_ns from pio_irq and irqfd_write, or the
    published values where they were not measured (files from before 2026-11-25)."""
    if "pio_irq" not in micro:
        return {
            f: (getattr(costs.MODERN, f), pub(f))
            for f in ("signal_ns", "irq_inject_ns", "native_irq_ns", "eoi_ns")
        }
    taken, sig = micro["irq_taken"], micro["irqfd_write"]
    if taken <= 0:
        raise ValueError(
            f"micro-benchmarks inconsistent: irq_taken {taken:.3f} µs is not "
            f"positive (pio_irq {micro['pio_irq']:.3f} µs)"
        )
    lump = {
        "status": "derived",
        "source": "included in native_irq_ns: the lab takes the "
        "injection, the handler, its EOI and iretq as one measurement (on PVM a CPL0 "
        "handler runs in KVM's instruction emulator, as one exit)",
    }
    return dict(
        signal_ns=(
            sig * 1e3,
            m(
                f"irqfd_write {sig:.3f} µs: the back end's write to an "
                f"irqfd routed to an MSI (KVM delivers it to the local APIC "
                f"in the writer's context)"
            ),
        ),
        native_irq_ns=(
            taken * 1e3,
            m(
                f"irq_taken {taken:.3f} µs (an exit answered with an irqfd write, less the same "
                f"exit without it, less irqfd_write): one interrupt injected on the entry and "
                f"taken by the guest's CPL0 handler, its EOI (a local APIC write) and iretq"
            ),
        ),
        irq_inject_ns=(0.0, lump),
        eoi_ns=(0.0, lump),
    )


def from_modern(field: str) -> dict:
    """The source of a field the lab does not measure: the modern profile's, said so."""
    s = costs.MODERN.sources[field]
    return {
        "status": s["status"],
        "source": "not measured by the lab; from the modern profile: " + s["source"],
    }


def host_kvm(flavour: str) -> dict:
    """``pio_element_ns`` (the lab's device model has no string PIO: the modern profile's)
    and the flags of what the host's KVM does, by its flavour (field -> (value, source)): every KVM the lab runs on is
    recent (``fast_pio_in``), and only VMX matches an MMIO write to an ioeventfd without a
    decode (``fast_mmio``: PVM and SVM before 2025 decode it; the lab's ``mmio_decode_ns``
    is what its MMIO exits measure)."""
    vmx = flavour == "vmx"
    return dict(
        pio_element_ns=(costs.MODERN.pio_element_ns, from_modern("pio_element_ns")),
        fast_pio_in=(
            True,
            {"status": "published", "source": costs.MODERN.sources["fast_pio_in"]["source"]},
        ),
        fast_mmio=(
            vmx,
            {
                "status": "published",
                "source": f"KVM flavour {flavour}: "
                + (
                    "VMX's EPT-misconfiguration fast path"
                    if vmx
                    else "not VMX: an MMIO write is decoded before the ioeventfd match "
                    "(PVM's shadow page fault and SVM's nested page fault go through the "
                    "emulator; SVM's fast path came late in 2025)"
                ),
            },
        ),
    )


def profile_from(
    micro: dict, dev: dict, name: str | None = None, date: str | None = None
) -> costs.CostProfile:
    """Map micro-benchmark results (:func:`virtmodel.lab.microbench`, :func:`device_bench`)
    onto a :class:`CostProfile`.  The arithmetic of each field is in its source."""
    date = date or datetime.date.today().isoformat()
    flavour = micro.get("flavour", "?")
    cpu = host_cpu()
    name = name or f"lab-{_slug(cpu)}-{flavour}-{date}"
    us = 1e3  # ns per µs
    pio, kern, loop = micro["pio_user"], micro["ioeventfd_kernel"], micro["python_loop"]
    user_exit = pio - kern - loop
    if user_exit <= 0:
        raise ValueError(
            f"micro-benchmarks inconsistent: pio_user {pio:.3f} µs is not more "
            f"than ioeventfd_kernel + python_loop ({kern + loop:.3f} µs)"
        )

    def m(note):
        return {"status": "measured", "source": f"{note} (virtmodel.lab, {flavour}, {date})"}

    pub = from_modern
    ghz = _host_ghz()
    fields = dict(
        vmexit_ns=(
            kern * us,
            m(
                f"ioeventfd_kernel {kern:.3f} µs: a port write KVM matches "
                f"to an eventfd -- exit, decode, signal, entry (the lab "
                f"cannot split the world switch from KVM's decode)"
            ),
        ),
        kvm_exit_ns=(0.0, {"status": "derived", "source": "included in vmexit_ns"}),
        user_exit_ns=(
            user_exit * us,
            m(
                f"pio_user {pio:.3f} - ioeventfd_kernel {kern:.3f} - python_loop {loop:.3f} µs: "
                f"the extra round trip of an exit that returns from ioctl(KVM_RUN)"
            ),
        ),
        emulate_access_ns=(
            (loop + dev["register_write"]) * us,
            m(
                f"python_loop {loop:.3f} + register_write {dev['register_write']:.3f} µs: "
                f"the VMM decoding the exit and the device taking a register write"
            ),
        ),
        mmio_decode_ns=(
            max(0.0, micro["mmio_user"] - pio) * us,
            m(
                f"mmio_user {micro['mmio_user']:.3f} - pio_user {pio:.3f} µs: what an MMIO "
                f"exit adds to a port exit (the decode)"
            ),
        ),
        halt_poll_ns=(costs.MODERN.halt_poll_ns, pub("halt_poll_ns")),
        **host_kvm(flavour),
        wake_entry_ns=(
            0.0,
            {
                "status": "derived",
                "source": "0: included in vmexit_ns (the lab times whole exit round trips and "
                "cannot split the entry off; the HLT exit's whole round trip is charged "
                "when the vCPU halts)",
            },
        ),
        device_parallelism=(
            1,
            {"status": "derived", "source": "the lab's back end serves one request at a time"},
        ),
        notify_ns=(
            dev["notify_empty"] * us,
            m(
                f"notify_empty {dev['notify_empty']:.3f} µs: the device's kernel called on an "
                f"empty ring"
            ),
        ),
        wakeup_ns=_wakeup(micro, dev, m),
        **_interrupt_costs(micro, m, pub),
        copy_ns_per_byte=(
            dev["copy_ns_per_byte"],
            m(
                f"(drain of {dev['queue_size']} x 64 KiB - drain of {dev['queue_size']} x 8 B) "
                f"per byte"
            ),
        ),
        dma_map_ns_per_page=(
            0.0,
            {
                "status": "derived",
                "source": "the lab's device addresses guest RAM as one array: no per-page mapping",
            },
        ),
        guest_ns_per_request=(
            GUEST_NS_PER_REQUEST,
            {
                "status": "assumption",
                "source": "about 20 guest instructions and 4 "
                "stores per request; below the lab's "
                "resolution",
            },
        ),
        virtio_ns_per_request=(
            dev["ring_request"] * us,
            m(
                f"ring_request {dev['ring_request']:.4f} µs: pop, checks, push used, per "
                f"request of a full drain"
            ),
        ),
        host_io_ns_per_request=(
            0.0,
            {"status": "derived", "source": "the lab's back end does no host I/O"},
        ),
        device_ns_per_request=(
            0.0,
            {"status": "derived", "source": "no physical device behind the lab's back end"},
        ),
        device_ns_per_byte=(
            0.0,
            {"status": "derived", "source": "no physical device behind the lab's back end"},
        ),
        doorbell_ns=(costs.MODERN.doorbell_ns, pub("doorbell_ns")),
        jitter_cv=(
            0.0,
            {
                "status": "assumption",
                "source": "the lab reports medians of whole runs; per-request jitter is not "
                "measured",
            },
        ),
        cpu_ghz=(
            ghz or costs.MODERN.cpu_ghz,
            m("cpu MHz in /proc/cpuinfo (no cycle counts are converted)")
            if ghz
            else pub("cpu_ghz"),
        ),
    )
    missing = costs.FIELD_NAMES - set(fields)
    if missing:  # a new cost field must be mapped here, not silently defaulted
        raise AssertionError(f"calibration does not map {sorted(missing)}")
    values: dict[str, Any] = {  # a flag stays a bool, a cost becomes a float
        k: v if isinstance(v, bool) else float(v) for k, (v, _) in fields.items()
    }
    return costs.CostProfile(
        name=name,
        description=f"Calibrated by virtmodel.lab from micro-benchmarks alone on {cpu}, "
        f"KVM flavour {flavour}, {date}",
        sources={k: s for k, (_, s) in fields.items()},
        **values,
    )


def calibrate(ops: int = 20_000, repeats: int = 5, name: str | None = None):
    """Run both micro-benchmark sets here and return ``(profile, micro, dev)``.  Raises
    :class:`~virtmodel.lab.KVMUnavailable` without a usable /dev/kvm."""
    micro = microbench(ops=ops, repeats=repeats)
    dev = device_bench(ops=ops, repeats=repeats)
    return profile_from(micro, dev, name=name), micro, dev
