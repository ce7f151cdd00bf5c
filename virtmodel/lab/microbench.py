"""Micro-benchmarks of exits: what one exit of each kind costs on this machine.

Each kind runs the ``exit_loop`` guest (:mod:`virtmodel.lab.guests`) for ``ops`` operations
in a fresh VM:

``pio_user``, ``mmio_user``
    a port write / an MMIO write that exits to user space (the run loop included);
``cpuid_kernel``
    CPUID, an exit KVM handles in the kernel;
``ioeventfd_kernel``
    a port write KVM matches to an eventfd (``KVM_IOEVENTFD``): no exit to user space;
``python_loop``
    the run loop's own cost per exit, without a guest: a trivial ioctl and the same decoding;
``pio_irq``
    ``pio_user`` in a VM with KVM's in-kernel interrupt controller, where the VMM answers
    every exit by writing an irqfd (an MSI): KVM injects the interrupt on the entry and the
    guest's CPL0 handler (``guests/irq_setup.S``) takes it, EOIs and returns;
``irqfd_write``
    the VMM's write to that irqfd alone, the vCPU not running (KVM delivers the MSI to the
    local APIC in the writer's context);
``irq_taken``
    one interrupt taken: ``pio_irq`` less the same loop without the irqfd write (short
    loops run alternately with it in the same VM; the median of their differences) less
    ``irqfd_write``.

``kick_wake``
    a round trip through a back-end thread: the guest kicks through an ioeventfd and spins
    until a thread blocked on that eventfd (woken by KVM, placed by the scheduler) answers
    with a store to guest memory -- what the I/O thread's wake-up costs next to a running
    vCPU.

``pio_user - python_loop`` is the exit itself.  All values are µs per operation.
"""

from __future__ import annotations

import fcntl
import os
import statistics
import struct
import threading
import time

import numpy as np

from ..spec import check_int
from . import guests
from .experiments import DONE_PORT, NOTIFY_PORT, median_spread
from .kvm import BUFFERS, EXIT_IO, KVM_CHECK_EXTENSION, MMIO_ADDR, GuestError, Machine

KINDS = (
    "pio_user",
    "mmio_user",
    "cpuid_kernel",
    "ioeventfd_kernel",
    "python_loop",
    "pio_irq",
    "irqfd_write",
    "irq_taken",
    "kick_wake",
)
_OPS = {
    "pio_user": guests.OP_PIO,
    "mmio_user": guests.OP_MMIO,
    "cpuid_kernel": guests.OP_CPUID,
    "ioeventfd_kernel": guests.OP_PIO,
}


def _exit_kind(key: str, ops: int) -> tuple[float, str]:
    with Machine() as m:
        efd = m.ioeventfd(NOTIFY_PORT) if key == "ioeventfd_kernel" else None
        m.load(guests.CODE["exit_loop"])
        m.set_regs(rcx=ops, rdx=NOTIFY_PORT, rdi=MMIO_ADDR, r8=DONE_PORT, r9=_OPS[key])
        t0 = time.perf_counter()
        exits = m.run(lambda p, v: p == NOTIFY_PORT, DONE_PORT, on_mmio=lambda a, v: a == MMIO_ADDR)
        dt = time.perf_counter() - t0
        want = ops + 1 if key in ("pio_user", "mmio_user") else 1  # + the "done"
        if exits != want:
            raise GuestError(f"{key}: {exits} exits to user space, expected {want}")
        if efd is not None:
            count = os.eventfd_read(efd)
            if count != ops:
                raise GuestError(f"ioeventfd counted {count} writes, expected {ops}")
        return dt / ops * 1e6, m.flavour


def _python_loop(ops: int) -> float:
    with Machine() as m:
        page, kvm_fd = m.run_page, m.kvm
        unpack_io = struct.Struct("<BBHIQ").unpack_from
        t0 = time.perf_counter()
        for _ in range(ops):
            fcntl.ioctl(kvm_fd, KVM_CHECK_EXTENSION, 0)
            reason = int.from_bytes(page[8:12], "little")
            if reason == EXIT_IO:
                unpack_io(page, 32)
            int.from_bytes(page[40:41], "little")
        return (time.perf_counter() - t0) / ops * 1e6


def _interrupts(ops: int, chunks: int = 20) -> dict:
    """``pio_irq``, ``irqfd_write`` and ``irq_taken`` (see the module docstring), µs per
    operation.  One VM runs ``chunks`` pairs of short loops, each pair once with and once
    without the irqfd write per exit; the medians over the pairs keep a pair the host
    preempted from counting."""
    with Machine(irqchip=True) as m:
        irqfd = m.install_interrupt_handler(DONE_PORT)
        write = os.eventfd_write
        t0 = time.perf_counter()
        for _ in range(ops):  # the vCPU is not running: the MSI waits in the APIC
            write(irqfd, 1)
        signal = (time.perf_counter() - t0) / ops * 1e6
        m.load(guests.CODE["exit_loop"])
        per = max(1, ops // chunks)
        handlers = {
            True: lambda p, v: p == NOTIFY_PORT and write(irqfd, 1) is None,
            False: lambda p, v: p == NOTIFY_PORT,
        }
        with_irq, diff = [], []
        for _ in range(chunks):
            us = {}
            for irq in (True, False):
                m.set_regs(rcx=per, rdx=NOTIFY_PORT, r8=DONE_PORT, r9=guests.OP_PIO)
                t0 = time.perf_counter()
                exits = m.run(handlers[irq], DONE_PORT)
                us[irq] = (time.perf_counter() - t0) / per * 1e6
                if exits != per + 1:
                    raise GuestError(f"pio_irq: {exits} exits to user space, expected {per + 1}")
            with_irq.append(us[True])
            diff.append(us[True] - us[False])
        taken = m.interrupts_taken()  # + 1: the one the loop above left pending, taken on
        if taken != chunks * per + 1:  # the first entry
            raise GuestError(f"pio_irq: {taken} interrupts taken, expected {chunks * per + 1}")
        return {
            "pio_irq": statistics.median(with_irq),
            "irqfd_write": signal,
            "irq_taken": statistics.median(diff) - signal,
        }


def _kick_wake(ops: int) -> float:
    """``kick_wake`` (see the module docstring), µs per round trip."""
    with Machine() as m:
        efd = m.ioeventfd(NOTIFY_PORT)
        os.set_blocking(efd, True)
        answer = m.mem[BUFFERS : BUFFERS + 8].view(np.uint64)
        woken = [0]

        def back_end():
            while woken[0] < ops:
                woken[0] += os.eventfd_read(efd)
                answer[0] += 1

        m.load(guests.CODE["exit_loop"])
        m.set_regs(rcx=ops, rdx=NOTIFY_PORT, rdi=BUFFERS, r8=DONE_PORT, r9=guests.OP_KICK_WAIT)
        thread = threading.Thread(target=back_end, daemon=True)
        thread.start()
        try:
            t0 = time.perf_counter()
            exits = m.run(lambda p, v: False, DONE_PORT)
            dt = time.perf_counter() - t0
        finally:
            if thread.is_alive():  # the guest failed: release the thread
                woken[0] = ops
                os.eventfd_write(efd, 1)
            thread.join(5)
        if exits != 1 or int(answer[0]) != ops:
            raise GuestError(
                f"kick_wake: {exits} exits to user space and {int(answer[0])} "
                f"answers, expected 1 and {ops}"
            )
        return dt / ops * 1e6


def micro_once(ops: int = 20_000) -> dict:
    """One sample of every kind (µs per operation), plus the KVM flavour."""
    check_int(ops, "ops", 100, 10_000_000)
    out = {}
    for key in _OPS:
        out[key], out["flavour"] = _exit_kind(key, ops)
    out["python_loop"] = _python_loop(ops)
    out.update(_interrupts(ops))
    out["kick_wake"] = _kick_wake(max(100, ops // 4))
    return out


def medians(samples: list[dict], keys) -> dict:
    """Median of each key over ``samples``, with ``spread`` = (max - min) / median."""
    out = {k: median_spread([s[k] for s in samples]) for k in keys}
    return {
        **{k: med for k, (med, _) in out.items()},
        "spread": {k: sp for k, (_, sp) in out.items()},
    }


def summary(samples: list[dict], ops: int) -> dict:
    """What :func:`microbench` returns, from samples of :func:`micro_once`."""
    return {
        **medians(samples, KINDS),
        "flavour": samples[-1]["flavour"],
        "ops": ops,
        "repeats": len(samples),
    }


def microbench(ops: int = 20_000, repeats: int = 5) -> dict:
    """Per-operation costs in µs, medians over ``repeats`` samples (see the module
    docstring), with ``spread``, ``flavour``, ``ops`` and ``repeats``."""
    check_int(repeats, "repeats", 1, 100)
    return summary([micro_once(ops) for _ in range(repeats)], ops)
