"""The lab's two experiments, each run in a fresh VM and verified request by request.

* :func:`run_virtio` (experiment a): the guest is a virtio driver writing a real split ring
  in its memory and kicking every ``batch`` requests; the device
  (:class:`~virtmodel.lab.backends.RingBackend`) serves the ring during the kick's exit, or, with
  ``ioeventfd=True``, in a separate I/O thread woken by an eventfd (the vhost-like path).
  With ``interrupts=True`` the VM has KVM's in-kernel interrupt controller, the guest a CPL0
  interrupt handler (``guests/irq_setup.S``), and the back end signals each pass of
  completions with an MSI through an irqfd; the driver waits for the handler to report
  the used index instead of reading the used ring itself.
* :func:`run_emulated` (experiment b): the same requests made by 1 or 3 trapping port
  writes each to a :class:`~virtmodel.lab.backends.RegisterBackend`.

``virtio_once`` and ``emulated_once`` are one run each (what
:func:`virtmodel.lab.validate.measure` interleaves); the public functions repeat them and
return a :class:`LabResult` of medians.  The first run of each call warms up (numba, page
faults) and is dropped.
"""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from ..ring import make_virtqueue
from ..spec import check_int, check_queue_size, split_ring_size
from . import backends, guests
from .kvm import BUFFERS, IRQ_SHADOW, RING, GuestError, GuestTimeout, Machine, interrupt_mode

NOTIFY_PORT = 0x10
EMU_PORT = 0x20  # address, length, doorbell at +0, +1, +2
DONE_PORT = 0xF0
MAX_REQUEST_BYTES = 1 << 16
MAX_REQUESTS = 1_000_000
EMULATED_SLOTS = 256  # the emulated device's buffers rotate over this many slots


@dataclass(frozen=True)
class LabResult:
    """A measured experiment: medians over ``repeats`` runs, each in a fresh VM."""

    experiment: str  # a variant of virtio (VIRTIO_VARIANTS) or "emulated"
    params: dict
    flavour: str
    us_per_request: float  # median over the runs of (run time / requests)
    spread: float  # (max - min) / median of the runs' us_per_request
    user_exits_per_request: float  # exits to user space per request (the final "done"
    #                                excluded)
    kicks_per_request: float
    runs_us: tuple = field(repr=False)
    eventfd_count: int = 0  # ioeventfd: signals the I/O thread read (= kicks)
    interrupts_per_request: float = 0.0  # taken by the guest's handler (interrupts=True)
    kvm_exits_per_request: float | None = None  # every exit KVM counted (its binary
    #   stats, less the host's interrupts and first-touch page faults), in the last run


class Run(NamedTuple):
    """One run's raw outcome."""

    seconds: float
    exits: int
    kicks: int
    eventfd_count: int
    flavour: str
    interrupts: int = 0  # the guest's handler counted them
    kvm_exits: int = 0  # KVM's count (see _kvm_exits)


def median_spread(values) -> tuple[float, float]:
    """The median of ``values`` and their spread, (max - min) / median (0 if it is 0)."""
    med = statistics.median(values)
    return med, (max(values) - min(values)) / med if med else 0.0


def _mem_for(slots: int, request_bytes: int) -> int:
    need = BUFFERS + slots * request_bytes
    return max(4 << 20, -(-need // (2 << 20)) * (2 << 20))


def _run_guest(m: Machine, on_io, dev, timeout_s: float, waiting=None):
    """Run ``m`` to its "done" write; return (exits to user space before it, seconds).
    A guest error is reported as the device's own finding when it has one; a run stopped
    by the watchdog says what the guest was still waiting for (``waiting()``, if given)."""
    t0 = time.perf_counter()
    try:
        exits = m.run(on_io, DONE_PORT, timeout_s) - 1
    except GuestError as e:
        if dev.error:
            raise GuestError(dev.error) from None
        if isinstance(e, GuestTimeout) and waiting is not None:
            raise GuestTimeout(f"{e}; {waiting()}") from None
        raise
    return exits, time.perf_counter() - t0


def _check_served(dev, n: int, s: int) -> None:
    """After a run (and after the I/O thread, if any, has stopped): every request served
    once, with its bytes, and nothing reported."""
    if dev.error:
        raise GuestError(dev.error)
    if dev.served != n or dev.bytes_copied != n * s:
        raise GuestError(
            f"the device served {dev.served} requests ({dev.bytes_copied} B), "
            f"expected {n} ({n * s} B)"
        )


def virtio_params(
    batch=1, request_bytes=4096, requests=20_000, queue_size=256, ioeventfd=False, interrupts=False
) -> dict:
    """Validated parameters of experiment (a)."""
    q = check_queue_size(queue_size)
    if split_ring_size(q) > BUFFERS - RING:
        raise ValueError(f"queue_size must be at most 4096 here, got {q}")
    for name, flag in (("ioeventfd", ioeventfd), ("interrupts", interrupts)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    return dict(
        batch=check_int(batch, "batch", 1, q),
        request_bytes=check_int(request_bytes, "request_bytes", 8, MAX_REQUEST_BYTES),
        requests=check_int(requests, "requests", 1, MAX_REQUESTS),
        queue_size=q,
        ioeventfd=ioeventfd,
        interrupts=interrupts,
        **({"interrupt_mode": interrupt_mode()} if interrupts else {}),
    )


def emulated_params(registers=1, request_bytes=4096, requests=5000) -> dict:
    """Validated parameters of experiment (b)."""
    if registers not in (1, 3) or isinstance(registers, bool):
        raise ValueError(f"registers must be 1 or 3, got {registers!r}")
    return dict(
        registers=int(registers),
        request_bytes=check_int(request_bytes, "request_bytes", 8, MAX_REQUEST_BYTES),
        requests=check_int(requests, "requests", 1, MAX_REQUESTS),
    )


VIRTIO_VARIANTS = {
    "virtio": (False, False),
    "virtio+irq": (False, True),
    "virtio+iothread": (True, False),
    "virtio+iothread+irq": (True, True),
}
"""Experiment (a)'s variants by name: (ioeventfd, interrupts).  "virtio": the kick's exit
drains the ring, the guest polls the used index; "+irq": completions signalled by an MSI
through an irqfd; "+iothread": the kick is an ioeventfd, an I/O thread drains."""


def virtio_variant(p: dict) -> str:
    """The name of the variant parameters ``p`` run (a key of :data:`VIRTIO_VARIANTS`)."""
    flags = (p.get("ioeventfd", False), p.get("interrupts", False))
    return next(k for k, v in VIRTIO_VARIANTS.items() if v == flags)


def virtio_once(p: dict, timeout_s: float = 30.0) -> Run:
    """One run of experiment (a) with validated parameters ``p``."""
    q, b, s, n = p["queue_size"], p["batch"], p["request_bytes"], p["requests"]
    irq = p.get("interrupts", False)
    with Machine(_mem_for(q, s), irqchip=irq) as m:
        vq = make_virtqueue(q, mem=m.mem[RING:])
        backends.prefill(m.mem, BUFFERS, q, s)
        used = RING + vq.device_off
        irqfd = m.install_interrupt_handler(DONE_PORT, watch=used) if irq else None
        dev = backends.RingBackend(vq, m.mem, s, irqfd)
        kicks = [0]

        def on_io(port, value):
            if port == NOTIFY_PORT:
                kicks[0] += 1
                return dev.notify()
            return False

        def waiting():  # the guest spins until its requests come back (no budget of its own)
            how = " and the interrupt that reports them" if irq else ""
            return (
                f"the guest was waiting for its requests to come back used{how}: the "
                f"back end had returned {dev.served} of {n}, after {kicks[0]} kicks"
            )

        m.load(guests.CODE["virtio_driver"])
        # the driver waits for the used index at r14 + 2: the used ring's own, or with
        # interrupts the copy the handler makes
        m.set_regs(
            rdi=RING,
            r11=RING + vq.driver_off,
            r14=IRQ_SHADOW if irq else used,
            rsi=q,
            rdx=NOTIFY_PORT,
            rcx=n,
            r8=b,
            r9=s,
            r10=BUFFERS,
            r15=DONE_PORT,
        )
        thread = None
        if p["ioeventfd"]:
            efd = m.ioeventfd(NOTIFY_PORT)
            os.set_blocking(efd, True)
            stop = threading.Event()

            def io_thread():
                while True:
                    kicks[0] += os.eventfd_read(efd)
                    if stop.is_set() or not dev.notify():
                        return

            thread = threading.Thread(target=io_thread, daemon=True)
            thread.start()
        before = m.stats()
        try:
            exits, dt = _run_guest(m, on_io, dev, timeout_s, waiting)
        finally:
            if thread is not None:
                stop.set()
                os.eventfd_write(efd, 1)
                thread.join(5)
                kicks[0] -= 1  # the stop signal
        _check_served(dev, n, s)
        taken = m.interrupts_taken()
        if taken != dev.signals:
            raise GuestError(
                f"the back end raised {dev.signals} interrupts, the guest took {taken}"
            )
        return Run(
            dt,
            exits,
            kicks[0],
            kicks[0] if p["ioeventfd"] else 0,
            m.flavour,
            taken,
            _kvm_exits(before, m.stats()),
        )


def emulated_once(p: dict, timeout_s: float = 30.0) -> Run:
    """One run of experiment (b) with validated parameters ``p``."""
    r, s, n = p["registers"], p["request_bytes"], p["requests"]
    with Machine(_mem_for(EMULATED_SLOTS, s)) as m:
        backends.prefill(m.mem, BUFFERS, EMULATED_SLOTS, s)
        dev = backends.RegisterBackend(
            m.mem, s, EMU_PORT, BUFFERS, EMULATED_SLOTS, implicit_address=r == 1
        )
        m.load(guests.CODE["emulated_driver"])
        m.set_regs(rcx=n, rdx=EMU_PORT, r8=r, rsi=EMULATED_SLOTS, r9=s, r10=BUFFERS, r15=DONE_PORT)
        before = m.stats()
        exits, dt = _run_guest(m, dev.write, dev, timeout_s)
        _check_served(dev, n, s)
        return Run(dt, exits, 0, 0, m.flavour, 0, _kvm_exits(before, m.stats()))


def _kvm_exits(before: dict, after: dict) -> int:
    """Exits KVM counted between two :meth:`Machine.stats`, less those the model has no
    notion of -- the host's own interrupts (timer ticks, IPIs: ``irq_exits``) and the page
    faults of guest RAM touched the first time (``pf_taken``) -- and less the final
    "done"."""
    d = {k: after[k] - before[k] for k in ("exits", "irq_exits", "pf_taken")}
    return d["exits"] - d["irq_exits"] - d["pf_taken"] - 1


def summarize(experiment: str, p: dict, runs: list) -> LabResult:
    """A :class:`LabResult` from the timed runs of one experiment."""
    n = p["requests"]
    us = [r.seconds / n * 1e6 for r in runs]
    med, spread = median_spread(us)
    last = runs[-1]
    return LabResult(
        experiment,
        dict(p),
        last.flavour,
        med,
        spread,
        last.exits / n,
        last.kicks / n,
        tuple(us),
        last.eventfd_count,
        last.interrupts / n,
        last.kvm_exits / n,
    )


def _repeat(experiment, once, p, repeats, timeout_s):
    check_int(repeats, "repeats", 1, 100)
    runs = [once(p, timeout_s) for _ in range(repeats + 1)][1:]  # the first warms up
    return summarize(experiment, p, runs)


def run_virtio(
    batch: int = 1,
    request_bytes: int = 4096,
    requests: int = 20_000,
    queue_size: int = 256,
    repeats: int = 5,
    ioeventfd: bool = False,
    interrupts: bool = False,
    timeout_s: float = 30.0,
) -> LabResult:
    """Experiment (a), the mini virtio (see the module docstring)."""
    p = virtio_params(batch, request_bytes, requests, queue_size, ioeventfd, interrupts)
    return _repeat(virtio_variant(p), virtio_once, p, repeats, timeout_s)


def run_emulated(
    registers: int = 1,
    request_bytes: int = 4096,
    requests: int = 5000,
    repeats: int = 5,
    timeout_s: float = 30.0,
) -> LabResult:
    """Experiment (b): ``registers`` (1 or 3) trapping port writes per request; the device
    copies the request's bytes out of guest memory on the doorbell."""
    p = emulated_params(registers, request_bytes, requests)
    return _repeat("emulated", emulated_once, p, repeats, timeout_s)


def predicted_user_exits_per_request(batch: int, requests: int) -> float:
    """Kicks (= exits to user space) per request of :func:`run_virtio`: ceil(N/B)/N."""
    return math.ceil(requests / batch) / requests
