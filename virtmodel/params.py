"""Every keyword parameter of the model, declared once.

A :class:`Param` says what a parameter means (unit, one-line doc), its default and the
values it takes, and checks a value (a bad one raises ValueError naming the parameter and
what it allows).  The declarations below are the whole vocabulary: a path lists the ones it
takes (:class:`~virtmodel.paths.registry.Path`), the trap model's functions check theirs
(:data:`TRAP`) with the same objects, and the CLI builds its options from them.  This module
sits below ``virtmodel.trap`` and ``virtmodel.paths`` (it needs only the costs and the
spec), so both can use it.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .costs import DEFAULT as DEFAULT_PROFILE
from .costs import MAX_PARALLELISM
from .costs import get as get_profile
from .spec import MAX_QUEUE_SIZE, check_int, check_packed_queue_size, check_queue_size

PARAM_KINDS = ("int", "bool", "choice", "profile", "seed", "custom")
"""What a :class:`Param` can take (its ``kind``)."""


@dataclass(frozen=True)
class Param:
    """One keyword parameter of the model (of a path, or of the trap model's functions).

    Parameters
    ----------
    name : str
        The keyword.
    default
        Its value when not given.
    unit : str
        Unit of the value ("" if none).
    doc : str
        One line: what it means.
    kind : str
        What it takes: ``"int"`` (``lo``..``hi``; ``hi`` may be a function of the
        parameters checked before it, described by ``hi_text``), ``"bool"``, ``"choice"``
        (one of ``choices``), ``"profile"`` (a CostProfile, a profile name or a .json
        path), ``"seed"`` (0..2**63-1) or ``"custom"`` (``check_fn`` alone decides;
        ``hi_text`` says what it allows).
    lo, hi, hi_text, choices, check_fn
        The allowed values, as ``kind`` says; ``check_fn(value, params so far)`` returns
        the value, checked further.
    """

    name: str
    default: Any
    unit: str
    doc: str
    kind: str = "int"
    lo: int | None = None
    hi: int | Callable[[dict], int] | None = None
    hi_text: str = ""
    choices: tuple = ()
    check_fn: Callable | None = None  # extra check: (value, params so far) -> value

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(
                f"{self.name}: kind must be one of {', '.join(PARAM_KINDS)}, got {self.kind!r}"
            )
        if self.kind == "int" and (self.lo is None or self.hi is None):
            raise ValueError(f"{self.name}: an int parameter declares lo and hi")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"{self.name}: the default {self.default!r} is not a choice")

    def allowed(self) -> str:
        """The allowed values, in words (for errors, ``--help`` and ``paths``)."""
        if self.kind == "bool":
            return "True or False"
        if self.kind == "choice":
            return "one of " + ", ".join(map(repr, self.choices))
        if self.kind == "profile":
            return "a CostProfile, a profile name or a .json file"
        if self.kind == "seed":
            return "0..2**63-1"
        if self.kind == "custom":
            return self.hi_text
        hi = self.hi_text or (str(self.hi) if not callable(self.hi) else "")
        return f"{self.lo}..{hi}"

    def check(self, value, params: dict):
        """``value`` checked and converted (a profile name becomes a CostProfile).

        Parameters
        ----------
        value
            The value given.
        params : dict
            The parameters checked before this one (a range may depend on them).

        Raises
        ------
        ValueError
            Naming the parameter and its allowed values.
        """
        if self.kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{self.name} must be True or False, got {value!r}")
            value = bool(value)
        elif self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{self.name} must be {self.allowed()}, got {value!r}")
        elif self.kind == "profile":
            value = get_profile(value)
        elif self.kind == "seed":
            value = check_int(value, self.name, 0, 2**63 - 1, "2**63-1")
        elif self.kind == "int":
            hi = self.hi(params) if callable(self.hi) else self.hi
            assert self.lo is not None and hi is not None  # __post_init__ saw to it
            value = check_int(value, self.name, self.lo, hi, self.hi_text)
        if self.check_fn is not None:
            value = self.check_fn(value, params)
        return value


def check_all(decls: Iterable[Param], given: dict, owner: str) -> dict:
    """``given`` checked against the declarations ``decls`` (in their order: a range may
    depend on the parameters before it): the full set, defaults filled.

    Parameters
    ----------
    decls : iterable of Param
        What ``owner`` takes.
    given : dict
        The values given.
    owner : str
        Who takes them, for the error on an unknown name (``"'virtio'"``).

    Raises
    ------
    ValueError
        An unknown parameter (naming the ones ``owner`` takes), or a value outside its
        allowed range.

    Examples
    --------
    >>> check_all((REQUESTS,), {"request": 5}, "'toy'")
    Traceback (most recent call last):
    ...
    ValueError: 'toy' takes no parameter request; it takes requests
    """
    decls = tuple(decls)
    names = [p.name for p in decls]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(
            f"{owner} takes no parameter {', '.join(unknown)}; it takes {', '.join(names)}"
        )
    out: dict = {}
    for p in decls:
        out[p.name] = p.check(given.get(p.name, p.default), out)
    return out


MAX_REQUEST_BYTES = 1 << 24
MAX_REQUESTS = 10_000_000

REQUEST_BYTES = Param(
    "request_bytes",
    4096,
    "B",
    "bytes per request (the DMA size)",
    lo=0,
    hi=MAX_REQUEST_BYTES,
    hi_text="16 MiB",
)
QUEUE_SIZE = Param(
    "queue_size",
    256,
    "descriptors",
    "descriptors in the ring",
    kind="custom",
    hi_text=f"a power of two, 1..{MAX_QUEUE_SIZE} (the packed ring: any size)",
    check_fn=lambda v, p: (
        check_packed_queue_size(v) if p.get("ring") == "packed" else check_queue_size(v)
    ),
)
LAYOUT = Param(
    "ring",
    "split",
    "",
    "the virtqueue's layout: split (virtio 1.0's descriptor "
    "table, available and used rings) or packed (virtio 1.1's one descriptor ring)",
    kind="choice",
    choices=("split", "packed"),
)
DESCRIPTORS = Param(
    "descriptors_per_request",
    1,
    "descriptors",
    "descriptors per chain (the request's bytes spread over them)",
    lo=1,
    hi=lambda p: min(p["queue_size"], 64),
    hi_text="min(queue_size, 64)",
)
BATCH = Param(
    "batch",
    1,
    "requests",
    "requests the driver makes available before it considers a kick",
    lo=1,
    hi=lambda p: p["queue_size"] // p["descriptors_per_request"],
    hi_text="queue_size // descriptors_per_request",
)


def _one_workload(iodepth, p):
    if iodepth > 1 and p["batch"] > 1:
        raise ValueError(
            f"give batch or iodepth, not both: batch={p['batch']} (closed-loop "
            f"batches) and iodepth={iodepth} (fio's libaio queue depth)"
        )
    return iodepth


IODEPTH = Param(
    "iodepth",
    1,
    "requests",
    "fio's iodepth: requests kept in flight, a new one "
    "submitted (and a kick considered) as each completes; with batch > 1 it "
    "must be 1",
    lo=1,
    hi=lambda p: p["queue_size"] // p["descriptors_per_request"],
    hi_text="queue_size // descriptors_per_request",
    check_fn=_one_workload,
)
REQUESTS = Param("requests", 10_000, "requests", "requests simulated", lo=1, hi=MAX_REQUESTS)
EVENT_IDX = Param(
    "event_idx",
    True,
    "",
    "VIRTIO_F_EVENT_IDX negotiated (kick and interrupt suppression by index, not by flag)",
    kind="bool",
)
INTERRUPTS = Param(
    "interrupts",
    True,
    "",
    "completions by interrupt (else the driver polls; "
    "emulated: the device completes during the doorbell's exit)",
    kind="bool",
)
IOEVENTFD = Param(
    "ioeventfd",
    True,
    "",
    "a kick is an in-kernel exit that wakes an I/O thread "
    "(else an exit to user space; QEMU drains the ring in the vCPU thread)",
    kind="bool",
)
INTERRUPT_MODE = Param(
    "interrupt_mode",
    "posted",
    "",
    "how interrupts reach the vCPU: "
    "posted (APICv/AVIC: no exit to deliver an MSI or for its EOI), "
    "pv-eoi (an exit to deliver; the EOI needs none), legacy (an exit to "
    "deliver, one for the EOI).  On AMD without x2AVIC (before Zen 4) a guest in x2APIC "
    "mode, as Linux guests on KVM are by default, does not get posted: KVM inhibits AVIC "
    "(APICV_INHIBIT_REASON_X2APIC, arch/x86/kvm/svm/avic.c) or, since Linux 6.0, runs it "
    "in a hybrid mode that traps the x2APIC registers (the EOI exits)",
    kind="choice",
    choices=("posted", "pv-eoi", "legacy"),
)
HALT_POLL = Param(
    "halt_poll",
    True,
    "",
    "KVM polls a halted vCPU for up to the profile's "
    "halt_poll_ns before its thread sleeps (the window adapts as KVM's does)",
    kind="bool",
)
DEVICE_TYPE = Param(
    "device_type",
    "blk",
    "",
    "what the back end does with the data: blk "
    "(the physical device serves it, no CPU copy), net (the back end copies "
    "it into the host's network stack: a tap write)",
    kind="choice",
    choices=("blk", "net"),
)
DEVICE_PARALLELISM = Param(
    "device_parallelism",
    0,
    "requests",
    "requests the physical device serves at once (0: the profile's device_parallelism)",
    lo=0,
    hi=MAX_PARALLELISM,
)
NOTIFY_BY = Param(
    "notify_by",
    "mmio",
    "",
    "how the driver kicks: mmio (virtio-pci 1.0's "
    "notify area; KVM decodes it unless it is an ioeventfd) or pio (legacy "
    "virtio-pci's queue-notify port: no decode)",
    kind="choice",
    choices=("mmio", "pio"),
)
SHADOW_DOORBELL = Param(
    "shadow_doorbell",
    True,
    "",
    "NVMe 1.3 Doorbell Buffer Config: "
    "doorbells in shared memory with EventIdx values (the NVMe "
    "counterpart of VIRTIO_F_EVENT_IDX)",
    kind="bool",
)
NVME_IOEVENTFD = Param(
    "ioeventfd",
    False,
    "",
    "the doorbells are ioeventfds (QEMU's nvme "
    "ioeventfd=on; off by default): KVM still decodes, no exit to user "
    "space; QEMU registers them only with shadow doorbells, so without "
    "shadow_doorbell this changes nothing",
    kind="bool",
)
DIRECTION = Param(
    "direction",
    "read",
    "",
    "read (device to guest: rep ins moves up to "
    "1 KiB per exit) or write (guest to device: rep outs, one element per "
    "exit)",
    kind="choice",
    choices=("read", "write"),
)
MAX_VCPUS = 64
"""vCPUs (and queues, and back-end threads) a run takes at most (the event loop's limit)."""

VCPUS = Param(
    "vcpus",
    1,
    "vCPUs",
    "vCPUs (CPUs on bare metal); fio's job j runs on vCPU j",
    lo=1,
    hi=MAX_VCPUS,
)
NUMJOBS = Param(
    "numjobs",
    1,
    "jobs",
    "fio jobs, one per vCPU, each keeping iodepth in flight (or its batches); the "
    "requests are shared among them",
    lo=1,
    hi=lambda p: p["vcpus"],
    hi_text="vcpus",
)


def _queues_polled(queues, p):
    if not p["interrupts"] and queues != p["vcpus"]:
        raise ValueError(
            f"queues must equal vcpus ({p['vcpus']}) when interrupts=False: a job polls "
            f"its own queue for its completions; got queues={queues}"
        )
    return queues


QUEUES = Param(
    "queues",
    1,
    "queues",
    "virtqueues (or device queues), each with its own interrupt; blk-mq maps the vCPUs "
    "to them in contiguous groups and a queue's interrupt goes to its group's first "
    "vCPU (a completion for a job on another vCPU wakes it with an IPI); at most one per "
    "vCPU, as Linux's virtio-blk and nvme drivers use",
    lo=1,
    hi=lambda p: p["vcpus"],
    hi_text="vcpus",
    check_fn=_queues_polled,
)
USER_THREADS = Param(
    "backend_threads",
    1,
    "threads",
    "the vhost-user back end's threads (SPDK's reactors, a daemon's workers); queue k is "
    "served by thread k mod backend_threads (round robin)",
    lo=1,
    hi=lambda p: p["queues"],
    hi_text="queues",
)
"""The back-end threads of a path; the paths below differ only in what a thread is, the
default and whether 0 (QEMU's main loop) is one."""
VHOST_WORKERS = replace(
    USER_THREADS,
    doc="vhost worker threads: 1 = one worker for the device (Linux before 6.5), = queues "
    "a worker per queue (VHOST_NEW_WORKER, Linux 6.5); queue k is served by worker k mod "
    "backend_threads",
)
IOTHREADS = replace(
    USER_THREADS,
    default=0,
    lo=0,
    doc="QEMU's threads serving the queues: 0 = its main loop (which never polls), n = n "
    "IOThreads, the queues assigned round robin (iothread-vq-mapping, QEMU 9.0; before "
    "it, every queue of a device in one IOThread)",
)


def _poll_needs_iothread(poll_ns, p):
    if poll_ns > 0 and p.get("backend_threads", 1) == 0:
        raise ValueError(
            f"poll_ns={poll_ns} needs an IOThread (backend_threads >= 1): QEMU's main loop "
            "does not poll"
        )
    return poll_ns


POLL_NS = Param(
    "poll_ns",
    0,
    "ns",
    "an IOThread's maximum adaptive poll window (QEMU's poll-max-ns: "
    "32768 by default; 0: no polling); the window grows from 4000 ns x2 and resets to 0 "
    "after a longer wait",
    lo=0,
    hi=1_000_000,
    check_fn=_poll_needs_iothread,
)


def _busyloop_net_only(poll_ns, p):
    if poll_ns > 0 and p["device_type"] != "net":
        raise ValueError(
            f"poll_ns={poll_ns} is vhost-net's busyloop_timeout: device_type must be 'net' "
            "(vhost-scsi, the in-kernel block back end, does not busy-poll)"
        )
    return poll_ns


BUSYLOOP_NS = replace(
    POLL_NS,
    doc="vhost-net's busy-poll window (busyloop_timeout, QEMU's -netdev tap,poll-us=; 0: "
    "none): each time the ring looks empty the worker spins up to this long with kicks "
    "disabled, the same window every time (it does not adapt)",
    check_fn=_busyloop_net_only,
)


IPI_VIRTUALIZATION = Param(
    "ipi_virtualization",
    "none",
    "",
    "how the host handles a wake-up IPI between vCPUs (all the model's IPIs go to a halted "
    "vCPU): none (the sender's ICR write exits to KVM), ipiv (Intel IPI virtualization, "
    "Sapphire Rapids and later, KVM since Linux 5.19: no exit; the host's wake-up vector "
    "wakes the target), avic (AMD AVIC: no exit to a running target, but one to a halted "
    "target, AVIC_IPI_FAILURE_TARGET_NOT_RUNNING, so here the same as none); with one vCPU "
    "there is none to send",
    kind="choice",
    choices=("none", "ipiv", "avic"),
)
SCALE = (VCPUS, NUMJOBS, QUEUES)
"""How many vCPUs, jobs and queues (after the ring's parameters: ``interrupts`` first)."""
VM_SCALE = (*SCALE, IPI_VIRTUALIZATION)
"""The same in a VM, with how the host handles the IPIs between its vCPUs."""

COALESCE_ENTRIES = Param(
    "coalesce_entries",
    1,
    "completions",
    "NVMe interrupt coalescing (Set Features 08h), its aggregation threshold + 1: "
    "completions an interrupt waits for (1: off, Linux's default; then coalesce_us must "
    "be 0)",
    lo=1,
    hi=256,
)


def _coalesce_time(us, p):
    if us % 100:
        raise ValueError(
            f"coalesce_us must be a multiple of 100 (the aggregation time counts 100 us "
            f"units), got {us}"
        )
    if (us > 0) != (p["coalesce_entries"] > 1):
        raise ValueError(
            "give coalesce_entries > 1 and coalesce_us > 0 together (either alone turns "
            f"coalescing off): got coalesce_entries={p['coalesce_entries']}, "
            f"coalesce_us={us}"
        )
    return us


COALESCE_US = Param(
    "coalesce_us",
    0,
    "us",
    "NVMe interrupt coalescing's aggregation time: the longest an interrupt is held back "
    "(100 us units, 0..25500; 0: off)",
    lo=0,
    hi=25_500,
    check_fn=_coalesce_time,
)
COALESCING = (COALESCE_ENTRIES, COALESCE_US)
"""An NVMe controller's interrupt coalescing (the hardware paths: QEMU's NVMe stores the
feature and ignores it)."""
# The trap-and-emulate model's own parameters (:mod:`virtmodel.trap`; the "emulated" path).
DATA_MODE = Param(
    "data_mode",
    "dma",
    "",
    "how data cross: pio (an element of pio_element_bytes per OUT/IN), string-pio "
    "(rep outs/ins through KVM's emulator, QEMU dispatching each element), dma (QEMU maps "
    "guest memory)",
    kind="choice",
    choices=("pio", "string-pio", "dma"),
)
ACCESSES = Param(
    "accesses_per_request",
    3,
    "accesses",
    "trapping register accesses that start a request (at least the one that tells the "
    "device: a doorbell or command write)",
    lo=1,
    hi=256,
)
DMA_SETUP = Param(
    "dma_setup_accesses",
    2,
    "accesses",
    "extra register accesses that program a DMA transfer",
    lo=0,
    hi=64,
)
HANDLER_ACCESSES = Param(
    "handler_accesses",
    0,
    "accesses",
    "register accesses in the interrupt handler (status reads, acknowledgements)",
    lo=0,
    hi=64,
)
MMIO = Param(
    "mmio",
    False,
    "",
    "the registers are memory-mapped (KVM decodes each access; port accesses need no decode)",
    kind="bool",
)
BUSY_WAIT = Param(
    "busy_wait_ns",
    0,
    "ns",
    "the driver's busy-waits per request (udelay between register accesses)",
    lo=0,
    hi=10_000_000,
)
IRQ_TRIGGER = Param(
    "irq_trigger",
    "edge",
    "",
    "edge (ISA IRQ, MSI) or level (PCI INTx: its EOI always exits)",
    kind="choice",
    choices=("edge", "level"),
)
PIO_ELEMENT_SIZES = (1, 2, 4)


def _element_size(value: int, params: dict) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value not in PIO_ELEMENT_SIZES
    ):
        raise ValueError(
            f"pio_element_bytes must be 1, 2 or 4 (the operand of in/out and ins/outs: "
            f"b, w or l), got {value!r}"
        )
    return int(value)


def _whole_elements(value: int, params: dict) -> int:
    size = params.get("pio_element_bytes", PIO_ELEMENT.default)
    if value % size:
        raise ValueError(
            f"string_chunk_bytes must be a multiple of pio_element_bytes ({size} B): a rep "
            f"ins moves whole elements, got {value}"
        )
    return value


PIO_ELEMENT = Param(
    "pio_element_bytes",
    4,
    "B",
    "port I/O: bytes per element, 1, 2 or 4 (inb/insb, inw/insw, inl/insl): one per "
    "pio exit and per rep outs exit, and QEMU dispatches a string exit element by element "
    "(libata: insw in ata_sff_data_xfer, insl in ata_sff_data_xfer32, which ata_piix uses)",
    kind="custom",
    hi_text="1, 2 or 4",
    check_fn=_element_size,
)
STRING_CHUNK = Param(
    "string_chunk_bytes",
    0,
    "B",
    "string PIO reads: bytes per "
    "rep ins the driver issues (libata: one 512 B sector; 0: the whole transfer)",
    lo=0,
    hi=MAX_REQUEST_BYTES,
    check_fn=_whole_elements,
)
SERVED_IN_EXIT = Param(
    "served_in_exit",
    False,
    "",
    "the device model completes the "
    "request before the doorbell's exit returns (e1000's transmit): no wait, no halt",
    kind="bool",
)
DATA_COPIES = Param(
    "data_copies",
    0,
    "copies",
    "DMA: CPU copies of the data the device "
    "model makes anyway (e1000: into its buffer, then to the tap device)",
    lo=0,
    hi=4,
)
PROFILE = Param(
    "profile",
    DEFAULT_PROFILE,
    "",
    "the costs: a CostProfile, a name in costs.PROFILES or a .json file",
    kind="profile",
)
SEED = Param("seed", 0, "", "seeds the jitter of service and wake-up times", kind="seed")

RING = (REQUEST_BYTES, QUEUE_SIZE, DESCRIPTORS, BATCH, IODEPTH, REQUESTS, EVENT_IDX, INTERRUPTS)
"""What every path over a shared ring takes (in checking order)."""
VIRTQUEUE = (REQUEST_BYTES, LAYOUT, *RING[1:])
"""The same, for paths whose ring is a virtqueue of either layout."""
HOST = (INTERRUPT_MODE, HALT_POLL)
"""How the host delivers interrupts and idles a vCPU."""
DEVICE = (DEVICE_TYPE, DEVICE_PARALLELISM)
"""What is behind the back end."""
TRAP_OWN = (
    DATA_MODE,
    DIRECTION,
    ACCESSES,
    DMA_SETUP,
    HANDLER_ACCESSES,
    MMIO,
    BUSY_WAIT,
    IRQ_TRIGGER,
    PIO_ELEMENT,
    STRING_CHUNK,
    SERVED_IN_EXIT,
    DATA_COPIES,
)
"""The trap model's parameters that no ring path takes (the "emulated" path's own)."""
TRAP = (REQUEST_BYTES, *TRAP_OWN, INTERRUPTS, *HOST)
"""What the trap model's functions take (:func:`virtmodel.trap.counts`, ...), in checking
order; the "emulated" path takes them too, with the ring's parameters."""
