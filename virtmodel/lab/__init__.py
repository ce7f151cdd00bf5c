"""The KVM lab: run tiny real guests, measure exits, and check the models against them.

Where ``/dev/kvm`` is usable (:func:`probe`), the lab runs the programs of
:mod:`virtmodel.lab.guests` in a minimal VMM (:mod:`virtmodel.lab.kvm`):

* micro-benchmarks (:func:`microbench`): an exit to user space by PIO and by MMIO, an exit
  KVM handles in the kernel (CPUID), a PIO write matched by ``KVM_IOEVENTFD`` (no exit to
  user space), and the Python run loop's own cost, each per operation;
* :func:`run_virtio`: the guest is a virtio driver writing a real split ring in its memory
  and kicking every ``batch`` requests; the device (a numba kernel over guest memory, with
  :mod:`virtmodel.ring`'s device half) serves the ring during the kick's exit, or, with
  ``ioeventfd=True``, in a separate I/O thread woken by an eventfd (the vhost-like path);
* :func:`run_emulated`: the same requests made by 1 or 3 trapping port writes each.

Each experiment verifies every request (id and byte count) and returns a
:class:`LabResult` whose ``us_per_request`` is the median over ``repeats`` runs, each in a
fresh VM.  Without KVM everything raises :class:`KVMUnavailable` with the reason.
"""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ..ring import broken_reason, make_virtqueue  # noqa: F401 (broken_reason: public)
from ..spec import check_queue_size, split_ring_size
from . import device, guests
from .kvm import (BUFFERS, MMIO_ADDR, RING, GuestError, GuestTimeout, KVMUnavailable,
                  Machine, Probe, probe)

__all__ = ["probe", "Probe", "run_virtio", "run_emulated", "microbench", "LabResult",
           "KVMUnavailable", "GuestError", "GuestTimeout"]

NOTIFY_PORT = 0x10
EMU_PORT = 0x20  # address, length, doorbell at +0, +1, +2
DONE_PORT = 0xF0  # DONE_PORT + 1: the guest saw used_idx go wrong
MAX_REQUEST_BYTES = 1 << 16
MAX_REQUESTS = 1_000_000


@dataclass(frozen=True)
class LabResult:
    """A measured experiment: medians over ``repeats`` runs, each in a fresh VM."""

    experiment: str
    params: dict
    flavour: str
    us_per_request: float  # median over the runs of (run time / requests)
    spread: float  # (max - min) / median of the runs' us_per_request
    exits_per_request: float  # exits to user space per request (the final "done" excluded)
    kicks_per_request: float
    runs_us: tuple = field(repr=False)
    eventfd_count: int = 0  # ioeventfd: signals the I/O thread read (= kicks)


def _check(name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {v!r}")
    return int(v)


def _mem_for(queue_size: int, request_bytes: int) -> int:
    need = BUFFERS + queue_size * request_bytes
    return max(4 << 20, -(-need // (2 << 20)) * (2 << 20))


def _summary(kind, params, flavour, runs, exits, kicks, n, efd_count=0):
    med = statistics.median(runs)
    return LabResult(kind, params, flavour, med, (max(runs) - min(runs)) / med,
                     exits / n, kicks / n, tuple(runs), efd_count)


def _run_guest(m: Machine, on_io, errors: list, timeout_s: float):
    """Run ``m`` to its "done" write; return (exits to user space before it, seconds).
    A guest error is reported with the device's own findings when it has any."""
    t0 = time.perf_counter()
    try:
        exits = m.run(on_io, DONE_PORT, timeout_s) - 1
    except GuestError as e:
        raise GuestError("; ".join(errors) or str(e)) from None
    dt = time.perf_counter() - t0
    if errors:
        raise GuestError("; ".join(errors))
    return exits, dt


def run_virtio(batch: int = 1, request_bytes: int = 4096, requests: int = 20_000,
               queue_size: int = 256, repeats: int = 5, ioeventfd: bool = False,
               timeout_s: float = 30.0) -> LabResult:
    """The mini virtio experiment (see the module docstring)."""
    q = check_queue_size(queue_size)
    b = _check("batch", batch, 1, q)
    s = _check("request_bytes", request_bytes, 8, MAX_REQUEST_BYTES)
    n = _check("requests", requests, 1, MAX_REQUESTS)
    _check("repeats", repeats, 1, 100)
    if split_ring_size(q) > BUFFERS - RING:
        raise ValueError(f"queue_size must be at most 4096 here, got {q}")
    params = dict(batch=b, request_bytes=s, requests=n, queue_size=q, ioeventfd=ioeventfd)
    runs, flavour = [], None
    for rep in range(repeats + 1):  # the first run warms up (numba, page faults): dropped
        with Machine(_mem_for(q, s)) as m:
            flavour = m.flavour
            vq = make_virtqueue(q, mem=m.mem[RING:])
            dst = np.empty(s, np.uint8)
            state = np.zeros(2, np.int64)
            kicks = [0]
            errors = []

            def serve():
                rc = device.serve_ring(vq, m.mem, dst, s, state)
                if rc < 0:
                    errors.append(device.ERRORS[rc] + (f": {broken_reason(vq)}"
                                                       if rc == device.BAD_RING else ""))
                return rc >= 0

            def on_io(port, value):
                if port == NOTIFY_PORT:
                    kicks[0] += 1
                    return serve()
                if port == DONE_PORT + 1:
                    errors.append("the guest found used_idx behind avail_idx after a kick")
                return False

            m.load(guests.CODE["virtio_driver"])
            m.set_regs(rdi=RING, r11=RING + vq.avail_off, r14=RING + vq.used_off, rsi=q,
                       rdx=NOTIFY_PORT, rcx=n, r8=b, r9=s, r10=BUFFERS, r15=DONE_PORT)
            thread = None
            if ioeventfd:
                efd = m.ioeventfd(NOTIFY_PORT)
                os.set_blocking(efd, True)
                stop = threading.Event()

                def io_thread():
                    while True:
                        kicks[0] += os.eventfd_read(efd)
                        if stop.is_set():
                            return
                        if not serve():
                            return
                thread = threading.Thread(target=io_thread, daemon=True)
                thread.start()
            try:
                exits, dt = _run_guest(m, on_io, errors, timeout_s)
            finally:
                if thread is not None:
                    stop.set()
                    os.eventfd_write(efd, 1)
                    thread.join(5)
                    kicks[0] -= 1  # the stop signal
            if errors:  # the I/O thread may have reported after the guest's last check
                raise GuestError("; ".join(errors))
            if state[0] != n or state[1] != n * s:
                raise GuestError(f"the device served {state[0]} requests ({state[1]} B), "
                                 f"expected {n} ({n * s} B)")
            if rep:
                runs.append(dt / n * 1e6)
    return _summary("virtio", params, flavour, runs, exits, kicks[0], n,
                    kicks[0] if ioeventfd else 0)


def run_emulated(registers: int = 1, request_bytes: int = 4096, requests: int = 5000,
                 repeats: int = 5, timeout_s: float = 30.0) -> LabResult:
    """The emulated-device experiment: ``registers`` (1 or 3) trapping port writes per
    request; the device copies the request's bytes out of guest memory on the doorbell."""
    if registers not in (1, 3):
        raise ValueError(f"registers must be 1 or 3, got {registers!r}")
    s = _check("request_bytes", request_bytes, 8, MAX_REQUEST_BYTES)
    n = _check("requests", requests, 1, MAX_REQUESTS)
    _check("repeats", repeats, 1, 100)
    q = 256
    params = dict(registers=registers, request_bytes=s, requests=n)
    runs, flavour = [], None
    for rep in range(repeats + 1):  # the first run warms up: dropped
        with Machine(_mem_for(q, s)) as m:
            flavour = m.flavour
            dst = np.empty(s, np.uint8)
            reg = {"addr": 0, "len": s, "next": 0}
            errors = []

            def on_io(port, value):
                if port == EMU_PORT:
                    reg["addr"] = value
                elif port == EMU_PORT + 1:
                    reg["len"] = value
                elif port == EMU_PORT + 2:
                    k = reg["next"]
                    addr = reg["addr"] if registers == 3 else BUFFERS + (k % q) * s
                    if value != k or reg["len"] != s:
                        errors.append(f"request {k}: doorbell {value}, length {reg['len']}")
                        return False
                    rc = device.serve_one(m.mem, addr, s, dst, k)
                    if rc < 0:
                        errors.append(f"request {k}: {device.ERRORS[rc]}")
                        return False
                    reg["next"] = k + 1
                else:
                    return False
                return True

            m.load(guests.CODE["emulated_driver"])
            m.set_regs(rcx=n, rdx=EMU_PORT, r8=registers, rsi=q, r9=s, r10=BUFFERS,
                       r15=DONE_PORT)
            exits, dt = _run_guest(m, on_io, errors, timeout_s)
            if reg["next"] != n:
                raise GuestError(f"the device saw {reg['next']} requests, expected {n}")
            if rep:
                runs.append(dt / n * 1e6)
    return _summary("emulated", params, flavour, runs, exits, 0, n)


def microbench(ops: int = 20_000, repeats: int = 5) -> dict:
    """Per-operation costs in µs (median over ``repeats`` runs, each in a fresh VM):
    ``pio_user``, ``mmio_user`` (exits to user space, run loop included), ``cpuid_kernel``
    (an exit KVM handles), ``ioeventfd_kernel`` (a PIO write KVM turns into an eventfd
    signal), and ``python_loop`` (the run loop's own cost per exit: a trivial ioctl and the
    same exit decoding, no guest).  ``pio_user - python_loop`` is the exit itself."""
    import fcntl
    import struct

    from .kvm import KVM_CHECK_EXTENSION

    _check("ops", ops, 100, 10_000_000)
    out = {k: [] for k in ("pio_user", "mmio_user", "cpuid_kernel", "ioeventfd_kernel",
                           "python_loop")}
    flavour = None
    for _ in range(repeats):
        for op, key in ((guests.OP_PIO, "pio_user"), (guests.OP_MMIO, "mmio_user"),
                        (guests.OP_CPUID, "cpuid_kernel"), (guests.OP_PIO, "ioeventfd_kernel")):
            with Machine() as m:
                flavour = m.flavour
                efd = m.ioeventfd(NOTIFY_PORT) if key == "ioeventfd_kernel" else None
                m.load(guests.CODE["exit_loop"])
                m.set_regs(rcx=ops, rdx=NOTIFY_PORT, rdi=MMIO_ADDR, r8=DONE_PORT, r9=op)
                t0 = time.perf_counter()
                exits = m.run(lambda p, v: p == NOTIFY_PORT, DONE_PORT,
                              on_mmio=lambda a, v: a == MMIO_ADDR)
                dt = time.perf_counter() - t0
                want = ops + 1 if key in ("pio_user", "mmio_user") else 1  # + the "done"
                if exits != want:
                    raise GuestError(f"{key}: {exits} exits to user space, expected {want}")
                if efd is not None:
                    count = os.eventfd_read(efd)
                    if count != ops:
                        raise GuestError(f"ioeventfd counted {count} writes, expected {ops}")
                out[key].append(dt / ops * 1e6)
        # the run loop's own cost: same Python work per exit around a trivial ioctl
        with Machine() as m:
            page, kvm_fd = m.run_page, m.kvm
            unpack_io = struct.Struct("<BBHIQ").unpack_from
            t0 = time.perf_counter()
            for _ in range(ops):
                fcntl.ioctl(kvm_fd, KVM_CHECK_EXTENSION, 0)
                reason = int.from_bytes(page[8:12], "little")
                if reason == 2:
                    unpack_io(page, 32)
                int.from_bytes(page[40:41], "little")
            out["python_loop"].append((time.perf_counter() - t0) / ops * 1e6)
    med = {k: statistics.median(v) for k, v in out.items()}
    med["spread"] = {k: (max(v) - min(v)) / statistics.median(v) for k, v in out.items()}
    med["flavour"] = flavour
    med["ops"], med["repeats"] = ops, repeats
    return med


def predicted_exits_per_request(batch: int, requests: int) -> float:
    """Kicks (= exits to user space) per request of :func:`run_virtio`: ceil(N/B)/N."""
    return math.ceil(requests / batch) / requests
