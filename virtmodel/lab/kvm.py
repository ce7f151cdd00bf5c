"""A minimal virtual machine monitor over the KVM ioctl API (Linux, x86-64).

Just enough to run the small programs of :mod:`virtmodel.lab.guests`: one VM, one memory
slot, one vCPU entered directly in 64-bit mode at CPL3 (what runs natively on every KVM
flavour, including PVM), and a run loop that hands port and MMIO exits to a handler.  Every
run is bounded by a watchdog; every file descriptor and mapping is released by
:meth:`Machine.close` (a ``with`` block does it).

Register and structure layouts follow ``Documentation/virt/kvm/api.rst`` and
``<linux/kvm.h>``; the constants below are the x86-64 values.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import signal
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# ioctl numbers (x86-64)
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_CHECK_EXTENSION = 0xAE03
KVM_GET_VCPU_MMAP_SIZE = 0xAE04
KVM_CREATE_VCPU = 0xAE41
KVM_SET_USER_MEMORY_REGION = 0x4020AE46
KVM_IOEVENTFD = 0x4040AE79
KVM_CREATE_IRQCHIP = 0xAE60
KVM_IRQFD = 0x4020AE76
KVM_GET_STATS_FD = 0xAECE
KVM_SET_GSI_ROUTING = 0x4008AE6A
KVM_IRQ_ROUTING_MSI = 2
KVM_RUN = 0xAE80
KVM_GET_REGS, KVM_SET_REGS = 0x8090AE81, 0x4090AE82
KVM_GET_SREGS, KVM_SET_SREGS = 0x8138AE83, 0x4138AE84
KVM_CAP_IOEVENTFD = 36
KVM_CAP_IRQCHIP, KVM_CAP_IRQFD, KVM_CAP_BINARY_STATS_FD = 0, 32, 203
KVM_IOEVENTFD_FLAG_PIO = 2

KVM_EXIT_NAMES = {
    0: "UNKNOWN",
    1: "EXCEPTION",
    2: "IO",
    3: "HYPERCALL",
    4: "DEBUG",
    5: "HLT",
    6: "MMIO",
    7: "IRQ_WINDOW_OPEN",
    8: "SHUTDOWN",
    9: "FAIL_ENTRY",
    10: "INTR",
    17: "INTERNAL_ERROR",
    24: "SYSTEM_EVENT",
}
EXIT_IO, EXIT_MMIO = 2, 6

# guest-physical layout
PAGE_TABLES = 0x1000  # PML4, PDPT, PD: a 1 GiB identity map of 2 MiB pages
CODE = 0x10000
STACK_TOP = 0xF000
RING = 0x100000
BUFFERS = 0x200000
MMIO_ADDR = 0x3000_0000  # mapped by the page tables, not backed by a memory slot
# descriptor tables (a TSS with an I/O bitmap: see Machine._descriptor_tables); with an
# interrupt controller (Machine(irqchip=True)) also the local APIC's page mapped by a second
# page directory, the CPL0 stack interrupts switch to, and the interrupt handler's data
# (see guests/irq_setup.S)
APIC_BASE = 0xFEE0_0000
APIC_PD = 0x4000  # page directory of guest-physical 3..4 GiB (only the APIC's 2 MiB)
GDT, IDT, TSS = 0x5000, 0x6000, 0x7000
TSS_LIMIT = 0x68 + 0x100 // 8  # the 64-bit TSS, an I/O bitmap for ports 0..0xFF, 0xFF
IRQ_DATA = 0x7100  # u64 interrupts taken; u64 address of the used ring; its shadow (4 B)
IRQ_COUNT, IRQ_USED_RING, IRQ_SHADOW = IRQ_DATA, IRQ_DATA + 8, IRQ_DATA + 16
KERNEL_STACK_TOP = 0x9000
IRQ_CODE = 0x18000  # where the irq_setup program (and its handler) lives
IRQ_VECTOR = 0x40  # the vector of the completion interrupt (an MSI to the local APIC)
IRQ_GSI = 1  # the GSI its irqfd raises (routed to that MSI)
RFLAGS_IF = 0x200

_SEG = struct.Struct("<QIHBBBBBBBBBx")  # kvm_segment, 24 bytes
_SEG_NAMES = ("cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt")
REG_NAMES = (
    "rax",
    "rbx",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "rsp",
    "rbp",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
    "rip",
    "rflags",
)


class KVMUnavailable(RuntimeError):
    """KVM cannot be used here; the message says why."""


class GuestError(RuntimeError):
    """The guest did something the VMM did not expect (or the watchdog fired)."""


class GuestTimeout(GuestError):
    pass


@dataclass(frozen=True)
class Probe:
    """Whether KVM is usable here, and which flavour it is."""

    usable: bool
    reason: str  # "ok" or why not (with the errno name)
    flavour: str | None  # "vmx", "svm", "pvm" or None
    api_version: int | None

    def __str__(self):
        return (
            f"KVM usable ({self.flavour}, API {self.api_version})"
            if self.usable
            else f"KVM not usable: {self.reason}"
        )


def flavour() -> str | None:
    """vmx / svm / pvm from the loaded kernel modules (PVM first: it may sit beside them)."""
    mods = Path("/sys/module")
    for name, fl in (("kvm_pvm", "pvm"), ("kvm_intel", "vmx"), ("kvm_amd", "svm")):
        if (mods / name).exists():
            return fl
    return None


def interrupt_mode(fl: str | None = None) -> str:
    """How this host's KVM delivers the lab guest's interrupts, as the model's
    ``interrupt_mode`` names it.  PVM (and a KVM without APICv or AVIC) injects every
    interrupt in software: "legacy" -- one into a running vCPU needs an exit, and the EOI
    traps (the lab's guest does not enable KVM's PV EOI, so never "pv-eoi").  With APICv
    (``kvm_intel enable_apicv``) or AVIC (``kvm_amd avic``) on: "posted"."""
    fl = flavour() if fl is None else fl
    param = {"vmx": "kvm_intel/parameters/enable_apicv", "svm": "kvm_amd/parameters/avic"}
    if fl in param:
        try:
            on = (Path("/sys/module") / param[fl]).read_text().strip() in ("Y", "1")
        except OSError:
            on = False
        return "posted" if on else "legacy"
    return "legacy"


def probe(path: str = "/dev/kvm") -> Probe:
    """Open ``path``, check the API version and create (and drop) a VM."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        name = errno.errorcode.get(e.errno, str(e.errno))
        why = {
            "ENOENT": f"{path} does not exist (no KVM module, or not exposed here)",
            "EACCES": f"no permission to open {path} (join the 'kvm' group or run as root)",
        }.get(name, f"cannot open {path}: {e.strerror}")
        return Probe(False, f"{why} [{name}]", flavour(), None)
    try:
        try:
            version = fcntl.ioctl(fd, KVM_GET_API_VERSION, 0)
        except OSError as e:
            return Probe(
                False, f"{path} is not a KVM device [{errno.errorcode.get(e.errno)}]", None, None
            )
        if version != 12:
            return Probe(False, f"KVM API version {version}, expected 12", flavour(), version)
        try:
            vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        except OSError as e:
            return Probe(
                False,
                f"KVM_CREATE_VM failed: {e.strerror} [{errno.errorcode.get(e.errno)}]",
                flavour(),
                version,
            )
        os.close(vm)
        return Probe(True, "ok", flavour(), version)
    finally:
        os.close(fd)


@contextlib.contextmanager
def watchdog(seconds: float):
    """Raise :class:`GuestTimeout` in this (main) thread after ``seconds`` of wall time;
    a blocked ``ioctl(KVM_RUN)`` is interrupted by the signal."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("guests run in the main thread (the watchdog uses SIGALRM)")

    def fire(signum, frame):
        raise GuestTimeout(f"the guest ran longer than the {seconds:g} s watchdog")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Machine:
    """One VM with ``mem_bytes`` of RAM at guest-physical 0 and one vCPU in long mode.

    ``mem`` is a numpy uint8 view of guest RAM (shared with the guest: the lab's devices
    read and write it directly, as QEMU does).
    """

    def __init__(self, mem_bytes: int = 4 << 20, path: str = "/dev/kvm", irqchip: bool = False):
        if mem_bytes % (2 << 20) or not (2 << 20) <= mem_bytes <= (1 << 30):
            raise ValueError(
                f"mem_bytes must be a multiple of 2 MiB in 2 MiB..1 GiB, got {mem_bytes}"
            )
        if not isinstance(irqchip, bool):
            raise ValueError(f"irqchip must be True or False, got {irqchip!r}")
        p = probe(path)
        if not p.usable:
            raise KVMUnavailable(p.reason)
        self.flavour = p.flavour
        self.irqchip = irqchip
        self._stats = None
        self._fds: list[int] = []
        self._eventfds: list[int] = []
        self._maps: list[mmap.mmap] = []
        try:
            self.kvm = self._keep(os.open(path, os.O_RDWR | os.O_CLOEXEC))
            self.vm = self._keep(fcntl.ioctl(self.kvm, KVM_CREATE_VM, 0))
            # guest RAM: page-aligned zeroed memory (calloc'd lazily by the OS); a numpy
            # array rather than an mmap so that views of it (rings, devices) may outlive
            # the VM without blocking close(); the VM's fd is closed before it is freed
            raw = np.zeros(mem_bytes + mmap.PAGESIZE, dtype=np.uint8)
            start = -raw.ctypes.data % mmap.PAGESIZE
            self.mem = raw[start : start + mem_bytes]
            region = struct.pack("<IIQQQ", 0, 0, 0, mem_bytes, self.mem.ctypes.data)
            fcntl.ioctl(self.vm, KVM_SET_USER_MEMORY_REGION, region)
            if irqchip:  # the in-kernel PIC, IOAPIC and local APIC: before the vCPU
                for cap, name in (
                    (KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"),
                    (KVM_CAP_IRQFD, "KVM_CAP_IRQFD"),
                ):
                    if not fcntl.ioctl(self.kvm, KVM_CHECK_EXTENSION, cap):
                        raise KVMUnavailable(f"this KVM has no {name}")
                fcntl.ioctl(self.vm, KVM_CREATE_IRQCHIP, 0)
            self.vcpu = self._keep(fcntl.ioctl(self.vm, KVM_CREATE_VCPU, 0))
            size = fcntl.ioctl(self.kvm, KVM_GET_VCPU_MMAP_SIZE, 0)
            self.run_page = mmap.mmap(
                self.vcpu, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
            )
            self._maps.append(self.run_page)
            self._page_tables()
            self._descriptor_tables()
            self._long_mode()
        except BaseException:
            self.close()
            raise
        self.mem_bytes = mem_bytes

    def _keep(self, fd: int) -> int:
        self._fds.append(fd)
        return fd

    # -- set-up --------------------------------------------------------------------------
    def _page_tables(self):
        m = self.mem
        pml4, pdpt, pd = PAGE_TABLES, PAGE_TABLES + 0x1000, PAGE_TABLES + 0x2000
        m[pml4 : pml4 + 8] = np.frombuffer(struct.pack("<Q", pdpt | 0x7), np.uint8)
        m[pdpt : pdpt + 8] = np.frombuffer(struct.pack("<Q", pd | 0x7), np.uint8)
        entries = (np.arange(512, dtype=np.uint64) << np.uint64(21)) | np.uint64(0x87)
        m[pd : pd + 4096] = entries.view(np.uint8)
        if self.irqchip:  # the local APIC's registers: one uncached 2 MiB page at 0xFEE00000
            m[pdpt + 24 : pdpt + 32] = np.frombuffer(struct.pack("<Q", APIC_PD | 0x7), np.uint8)
            slot = APIC_PD + 8 * ((APIC_BASE >> 21) & 511)
            m[slot : slot + 8] = np.frombuffer(struct.pack("<Q", APIC_BASE | 0x97), np.uint8)

    def _descriptor_tables(self):
        """A GDT with CPL0 and CPL3 segments, a 64-bit TSS and an empty IDT.  The TSS's I/O
        bitmap lets the CPL3 program use ports 0..0xFF: PVM does not keep RFLAGS.IOPL (it
        reads back 0), so IN/OUT at CPL3 pass only through the bitmap (a TSS without one
        makes every OUT triple-fault).  Its rsp0 is the stack the CPU switches to on an
        interrupt from CPL3; the guest fills its IDT gate (guests/irq_setup.S)."""
        tss_low = (
            TSS_LIMIT
            | (TSS & 0xFFFFFF) << 16
            | 0x8B << 40  # present, busy TSS
            | (TSS >> 24 & 0xFF) << 56
        )
        gdt = (
            0,
            0x00AF9B000000FFFF,  # 0x08: CPL0 code, 64-bit (the handler's)
            0x00CF93000000FFFF,  # 0x10: CPL0 data
            tss_low,
            TSS >> 32,  # 0x18: the TSS (two slots)
            0x00CFF3000000FFFF,  # 0x2b: CPL3 data (the program's SS, DS, ...)
            0x00AFFB000000FFFF,
        )  # 0x33: CPL3 code, 64-bit (the program's CS)
        self.mem[GDT : GDT + 8 * len(gdt)] = np.frombuffer(
            struct.pack(f"<{len(gdt)}Q", *gdt), np.uint8
        )
        self.mem[IDT : IDT + 4096] = 0
        self.mem[TSS : TSS + TSS_LIMIT + 1] = 0  # ... and a zero I/O bitmap: every port
        self.mem[TSS + 4 : TSS + 12] = np.frombuffer(
            struct.pack("<Q", KERNEL_STACK_TOP), np.uint8
        )  # rsp0
        self.mem[TSS + 0x66 : TSS + 0x68] = np.frombuffer(struct.pack("<H", 0x68), np.uint8)
        self.mem[TSS + TSS_LIMIT] = 0xFF  # the bitmap's terminating byte
        self.mem[IRQ_DATA : IRQ_DATA + 24] = 0

    def _long_mode(self):
        buf = bytearray(312)
        fcntl.ioctl(self.vcpu, KVM_GET_SREGS, buf)
        code = (0, 0xFFFFFFFF, 0x33, 11, 1, 3, 0, 1, 1, 1, 0, 0)
        data = (0, 0xFFFFFFFF, 0x2B, 3, 1, 3, 1, 1, 0, 1, 0, 0)
        segs = {
            "cs": code,
            "ds": data,
            "es": data,
            "fs": data,
            "gs": data,
            "ss": data,
            "tr": (TSS, TSS_LIMIT, 0x18, 11, 1, 0, 0, 0, 0, 0, 0, 0),
            "ldt": (0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1),
        }
        for i, name in enumerate(_SEG_NAMES):
            _SEG.pack_into(buf, 24 * i, *segs[name])
        struct.pack_into("<QH", buf, 192, GDT, 7 * 8 - 1)  # GDTR, IDTR: base u64, limit u16
        struct.pack_into("<QH", buf, 208, IDT, 256 * 16 - 1)
        cr0 = 0x80000000 | 0x20 | 0x10 | 0x2 | 0x1  # PG NE ET MP PE
        struct.pack_into("<QQQQQQ", buf, 224, cr0, 0, PAGE_TABLES, 0x20, 0, 0x500)
        fcntl.ioctl(self.vcpu, KVM_SET_SREGS, bytes(buf))

    def load(self, code: bytes, at: int = CODE) -> None:
        self.mem[at : at + len(code)] = np.frombuffer(code, np.uint8)

    def set_regs(self, rip: int = CODE, **regs) -> None:
        """Set the general registers (the guest program's parameters) and RIP."""
        unknown = set(regs) - set(REG_NAMES)
        if unknown:
            raise ValueError(f"unknown registers {sorted(unknown)}")
        vals = dict.fromkeys(REG_NAMES, 0)
        # IOPL 3: in/out at CPL3.  With an interrupt controller the program starts with
        # interrupts enabled: STI at CPL3 is not an option (on PVM it triple-faults)
        vals.update(rsp=STACK_TOP, rflags=0x3002 | (RFLAGS_IF if self.irqchip else 0), rip=rip)
        vals.update(regs)
        fcntl.ioctl(
            self.vcpu,
            KVM_SET_REGS,
            struct.pack("<18Q", *(int(vals[n]) & (2**64 - 1) for n in REG_NAMES)),
        )

    def regs(self) -> dict:
        buf = bytearray(144)
        fcntl.ioctl(self.vcpu, KVM_GET_REGS, buf)
        return dict(zip(REG_NAMES, struct.unpack("<18Q", buf)))

    def ioeventfd(self, port: int) -> int:
        """Register an eventfd that KVM signals, without leaving the kernel, on every 1-byte
        write to ``port``.  Returns the eventfd (closed by :meth:`close`)."""
        if not fcntl.ioctl(self.kvm, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD):
            raise KVMUnavailable("this KVM has no KVM_CAP_IOEVENTFD")
        efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._eventfds.append(efd)
        arg = struct.pack("<QQIiI36x", 0, port, 1, efd, KVM_IOEVENTFD_FLAG_PIO)
        fcntl.ioctl(self.vm, KVM_IOEVENTFD, arg)
        return efd

    def irqfd(self, vector: int = IRQ_VECTOR, gsi: int = IRQ_GSI) -> int:
        """An eventfd whose every write sends the vCPU an MSI with ``vector`` (fixed
        delivery, edge, to APIC ID 0), as virtio-pci's MSI-X vectors reach a guest: GSI
        ``gsi`` is routed to the MSI (``KVM_SET_GSI_ROUTING``, which replaces the default
        routes) and the eventfd bound to it (``KVM_IRQFD``).  KVM injects an MSI from the
        writer's own context, without a worker thread.  Needs ``irqchip=True``; returns the
        eventfd (closed by :meth:`close`)."""
        if not self.irqchip:
            raise ValueError("irqfd needs a Machine(irqchip=True)")
        if not 0x20 <= vector <= 0xFE:
            raise ValueError(f"vector must be in 0x20..0xfe, got {vector:#x}")
        routing = struct.pack("<II", 1, 0) + struct.pack(
            "<IIIIIIII16x", gsi, KVM_IRQ_ROUTING_MSI, 0, 0, APIC_BASE, 0, vector, 0
        )
        fcntl.ioctl(self.vm, KVM_SET_GSI_ROUTING, routing)
        efd = os.eventfd(0, os.EFD_CLOEXEC)
        self._eventfds.append(efd)
        fcntl.ioctl(self.vm, KVM_IRQFD, struct.pack("<IIII16x", efd, gsi, 0, 0))
        return efd

    def install_interrupt_handler(
        self, done_port: int, watch: int = IRQ_SHADOW, timeout_s: float = 5.0
    ) -> int:
        """Run ``guests/irq_setup.S`` (an IDT gate to its CPL0 handler for
        :data:`IRQ_VECTOR`, the local APIC enabled) and return the irqfd that raises that
        vector (:meth:`irqfd`).  On every interrupt the handler copies the 16-bit index at
        ``watch + 2`` (a used ring's ``idx``) to ``IRQ_SHADOW + 2`` and counts it
        (:meth:`interrupts_taken`).  Needs ``irqchip=True``."""
        from .guests import CODE  # the guest programs do not depend on this module

        if not self.irqchip:
            raise ValueError("an interrupt handler needs a Machine(irqchip=True)")
        self.load(CODE["irq_setup"], IRQ_CODE)
        self.mem[IRQ_USED_RING : IRQ_USED_RING + 8] = np.frombuffer(
            struct.pack("<Q", watch), np.uint8
        )
        self.set_regs(rip=IRQ_CODE, rdi=IDT, rsi=IRQ_VECTOR, r15=done_port)
        exits = self.run(lambda port, value: False, done_port, timeout_s)
        if exits != 1:
            raise GuestError(f"irq_setup made {exits} exits to user space, expected 1")
        return self.irqfd(IRQ_VECTOR)

    def interrupts_taken(self) -> int:
        """How many interrupts the guest's handler has counted."""
        return int(self.mem[IRQ_COUNT : IRQ_COUNT + 8].view(np.uint64)[0])

    def stats(self) -> dict:
        """The vCPU's statistics from KVM's binary stats interface (``KVM_GET_STATS_FD``):
        cumulative counters such as ``exits``, ``io_exits``, ``irq_exits``,
        ``irq_injections``, ``halt_exits``, ``insn_emulation`` (scalars only)."""
        if self._stats is None:
            if not fcntl.ioctl(self.kvm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD):
                raise KVMUnavailable("this KVM has no KVM_CAP_BINARY_STATS_FD")
            fd = self._keep(fcntl.ioctl(self.vcpu, KVM_GET_STATS_FD, 0))
            _, name_size, num, _, desc_off, data_off = struct.unpack("<6I", os.pread(fd, 24, 0))
            size = 16 + name_size  # kvm_stats_desc: flags, exponent, size, offset, bucket
            raw = os.pread(fd, size * num, desc_off)
            scalars = []
            for i in range(num):
                _, _, n, off, _ = struct.unpack_from("<IhHII", raw, i * size)
                name = raw[i * size + 16 : (i + 1) * size].split(b"\0")[0].decode()
                if n == 1:
                    scalars.append((name, data_off + off))
            self._stats = (fd, scalars)
        fd, scalars = self._stats
        return {name: struct.unpack("<Q", os.pread(fd, 8, off))[0] for name, off in scalars}

    # -- running -------------------------------------------------------------------------
    def run(self, on_io, done_port: int, timeout_s: float = 10.0, on_mmio=None) -> int:
        """Run until the guest writes ``done_port``; return the number of exits that came
        to user space (including the final one).  ``on_io(port, value)`` handles every other
        port write (return False to stop with an error); ``on_mmio(addr, value)`` MMIO
        writes.  Anything else the guest does is a :class:`GuestError`."""
        run_page, vcpu = self.run_page, self.vcpu
        unpack_io = struct.Struct("<BBHIQ").unpack_from
        n = 0
        with watchdog(timeout_s):
            while True:
                fcntl.ioctl(vcpu, KVM_RUN, 0)
                n += 1
                reason = int.from_bytes(run_page[8:12], "little")
                if reason == EXIT_IO:
                    direction, size, port, _count, off = unpack_io(run_page, 32)
                    if port == done_port:
                        return n
                    value = int.from_bytes(run_page[off : off + size], "little")
                    if direction != 1 or on_io(port, value) is False:
                        raise GuestError(
                            f"guest {'wrote' if direction else 'read'} port "
                            f"{port:#x} (value {value:#x}): not expected "
                            f"after {n} exits; {self._where()}"
                        )
                elif reason == EXIT_MMIO and on_mmio is not None:
                    (addr,) = struct.unpack_from("<Q", run_page, 32)
                    length, is_write = struct.unpack_from("<IB", run_page, 48)
                    value = int.from_bytes(run_page[40 : 40 + length], "little")
                    if not is_write or on_mmio(addr, value) is False:
                        raise GuestError(f"unexpected MMIO access at {addr:#x}; {self._where()}")
                else:
                    raise GuestError(
                        f"guest stopped with exit reason "
                        f"{KVM_EXIT_NAMES.get(reason, reason)} after {n} exits; "
                        f"{self._where()}"
                    )

    def _where(self) -> str:
        try:
            r = self.regs()
            return f"rip={r['rip']:#x} rcx={r['rcx']} r12={r['r12']}"
        except OSError:
            return "registers unavailable"

    def close(self) -> None:
        """Release every mapping and file descriptor (idempotent)."""
        for m in getattr(self, "_maps", []):
            m.close()
        self._maps = []
        for fd in getattr(self, "_eventfds", []) + list(reversed(getattr(self, "_fds", []))):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds, self._eventfds = [], []
        self.mem = None  # guest RAM is freed with its last view, after the VM is gone

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
