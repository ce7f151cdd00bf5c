"""What each step of an I/O costs: :class:`CostProfile`, the named :data:`PROFILES`, JSON I/O.

Every field is a time in nanoseconds (or ns per byte / per page), and every profile records,
per field, where the number came from and how sure it is::

    published   read in a primary source (cycles converted at the stated clock)
    derived     arithmetic on published values (the arithmetic is in the note)
    measured    measured by the project's labs (virtmodel.lab, the QEMU lab) on the
                machine the note names
    assumption  no source: a stated guess (bounded where the note says so), to be
                replaced by a measurement

``"modern"`` (the default) stands for a recent server with APICv and an NVMe SSD; its costs
come from published micro-benchmarks, most measured on other hosts (each source names its
host and the clock its cycles were converted at).  ``"legacy-2012"`` keeps the exit costs of
one 2012 host (kvm-unit-tests commit 00bfecaaa5a4), the era of the source's claims.  Costs
only ever come from micro-benchmarks; end-to-end results validate the model
(:mod:`virtmodel.validation`) and never set a cost.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

STATUSES = ("published", "derived", "measured", "assumption")
MAX_PARALLELISM = 1024


def _f(unit: str, doc: str):
    return field(metadata={"unit": unit, "doc": doc})


FLAG = "flag"
"""The unit of a profile's flags: what the host's KVM does (True) or does not, not a cost."""


@dataclass(frozen=True)
class CostProfile:
    """Costs of the steps of an I/O request; all times in ns.  Each field's unit and
    meaning are in its metadata, and :meth:`table` lists them with their sources."""

    name: str
    description: str
    # -- VM exits ---------------------------------------------------------------------------
    vmexit_ns: float = _f("ns", "hardware VM exit + VM entry round trip (the world switch)")
    kvm_exit_ns: float = _f(
        "ns",
        "KVM's in-kernel handling of a PIO or fast-MMIO exit "
        "(exit qualification, dispatch, ioeventfd match)",
    )
    mmio_decode_ns: float = _f(
        "ns",
        "KVM fetching and decoding the instruction of a trapped "
        "MMIO access or string PIO (plain PIO needs none)",
    )
    user_exit_ns: float = _f(
        "ns",
        "extra round trip when the exit goes on to user space: "
        "return from ioctl(KVM_RUN) to QEMU and back in",
    )
    emulate_access_ns: float = _f("ns", "QEMU emulating one device-register access")
    pio_element_ns: float = _f(
        "ns",
        "QEMU dispatching each further element of a string PIO exit to the device model "
        "(kvm_handle_io calls address_space_rw once per element; the exit's first "
        "dispatch is emulate_access_ns)",
    )
    fast_pio_in: bool = _f(
        FLAG,
        "KVM completes a plain IN without its instruction emulator (kvm_fast_pio_in); "
        "no: every IN is fetched and decoded, as OUT never was",
    )
    fast_mmio: bool = _f(
        FLAG,
        "KVM matches a guest's MMIO write to an ioeventfd without decoding the instruction "
        "(VMX's EPT-misconfiguration fast path, not for nested guests); no: the write is "
        "decoded first (SVM's nested page fault, PVM's shadow page fault)",
    )
    notify_ns: float = _f(
        "ns",
        "the back end's fixed cost per notification it acts on (a "
        "kick, or an emulated device's doorbell): entering the "
        "device model and finding the work",
    )
    # -- threads and interrupts -------------------------------------------------------------
    wakeup_ns: float = _f(
        "ns",
        "waking a sleeping thread (a back end on its eventfd, a vCPU "
        "thread scheduled out in HLT): until it runs",
    )
    signal_ns: float = _f(
        "ns", "a back end raising one interrupt (an eventfd write to KVM's irqfd)"
    )
    irq_inject_ns: float = _f(
        "ns",
        "KVM's work to inject one interrupt by software (no "
        "posted interrupts), besides the exit that carries it",
    )
    eoi_ns: float = _f(
        "ns",
        "one EOI exit: the guest's end-of-interrupt write trapping "
        "(without APICv, or for a level-triggered vector)",
    )
    halt_poll_ns: float = _f(
        "ns",
        "KVM's maximum halt-poll window (halt_poll_ns): how long "
        "a halted vCPU spins before its thread sleeps",
    )
    wake_entry_ns: float = _f(
        "ns",
        "the VM entry after a halted vCPU is woken (the entry half of the HLT exit's "
        "round trip, with the posted-interrupt sync): on the completion's latency path; "
        "part of vmexit_ns, not added to it",
    )
    # -- data movement ----------------------------------------------------------------------
    copy_ns_per_byte: float = _f("ns/B", "CPU copy of one byte (memcpy bandwidth)")
    dma_map_ns_per_page: float = _f(
        "ns/page", "mapping one guest page for the device (address translation in QEMU)"
    )
    # -- work that is not virtualization overhead -------------------------------------------
    guest_ns_per_request: float = _f(
        "ns",
        "the submit share of the I/O stack per request, in the guest (or on bare metal): "
        "the application's system call, block layer, driver",
    )
    virtio_ns_per_request: float = _f(
        "ns", "back end's ring processing per request (pop, parse, push used)"
    )
    host_io_ns_per_request: float = _f(
        "ns",
        "CPU a user-space or kernel back end spends per "
        "block request in the host's I/O stack "
        "(submission and completion system calls, block "
        "layer, driver)",
    )
    device_ns_per_request: float = _f("ns", "the physical device's service time per request")
    device_ns_per_byte: float = _f("ns/B", "the physical device's service time per byte")
    device_parallelism: float = _f(
        "requests", "requests the physical device serves at once (its internal parallelism)"
    )
    doorbell_ns: float = _f("ns", "native: posted MMIO write to a real device's doorbell")
    native_irq_ns: float = _f(
        "ns",
        "the completion share of the I/O stack per interrupt (entry, handler, EOI, "
        "completing the request to the application), on bare metal and in the guest",
    )
    jitter_cv: float = _f(
        "1", "coefficient of variation of service and wake-up times (lognormal), for tail latency"
    )
    cpu_ghz: float = _f("GHz", "clock used to convert published cycle counts to ns")
    sources: dict = field(default_factory=dict, compare=False)
    """field name -> {"status": one of STATUSES, "source": citation or measurement note}"""

    def __post_init__(self):
        for f in cost_fields():
            v = getattr(self, f.name)
            if f.metadata["unit"] == FLAG:
                if not isinstance(v, bool):
                    raise ValueError(f"{f.name} must be True or False, got {v!r}")
                continue
            if (
                not isinstance(v, (int, float))
                or isinstance(v, bool)
                or not math.isfinite(v)
                or v < 0
            ):
                raise ValueError(
                    f"{f.name} must be a finite number >= 0 ({f.metadata['unit']}), got {v!r}"
                )
        if not 0 <= self.jitter_cv <= 2:
            raise ValueError(f"jitter_cv must be in 0..2, got {self.jitter_cv}")
        if (
            self.device_parallelism != int(self.device_parallelism)
            or not 1 <= self.device_parallelism <= MAX_PARALLELISM
        ):
            raise ValueError(
                f"device_parallelism must be a whole number in "
                f"1..{MAX_PARALLELISM}, got {self.device_parallelism}"
            )
        if self.wake_entry_ns > self.vmexit_ns:
            raise ValueError(
                f"wake_entry_ns must be in 0..vmexit_ns ({self.vmexit_ns:g} ns): it is the "
                f"entry part of the HLT exit's round trip, got {self.wake_entry_ns}"
            )
        for k, s in self.sources.items():
            if k not in FIELD_NAMES:
                raise ValueError(f"sources names unknown field {k!r}")
            if s.get("status") not in STATUSES:
                raise ValueError(f"sources[{k!r}]['status'] must be one of {STATUSES}")

    @property
    def user_io_exit_ns(self) -> float:
        """The time of one trapping port access that QEMU emulates (exit, KVM, user space,
        emulation)."""
        return self.vmexit_ns + self.kvm_exit_ns + self.user_exit_ns + self.emulate_access_ns

    @property
    def user_mmio_exit_ns(self) -> float:
        """The time of one trapping MMIO access that QEMU emulates (a port access's, plus
        the decode)."""
        return self.user_io_exit_ns + self.mmio_decode_ns

    def replace(self, **changes) -> CostProfile:
        """A copy with some costs changed (their source becomes 'assumption: set by user'
        unless ``sources`` is given)."""
        src = dict(self.sources)
        for k in changes:
            if k in FIELD_NAMES:
                src[k] = {"status": "assumption", "source": "set by the user"}
        changes.setdefault("sources", src)
        return dataclasses.replace(self, **changes)

    def table(self) -> list[dict]:
        """One row per cost: name, value, unit, meaning, status, source."""
        rows = []
        for f in cost_fields():
            s = self.sources.get(f.name, {"status": "assumption", "source": "not stated"})
            rows.append(
                {
                    "name": f.name,
                    "value": getattr(self, f.name),
                    "unit": f.metadata["unit"],
                    "meaning": f.metadata["doc"],
                    "status": s["status"],
                    "source": s["source"],
                }
            )
        return rows

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def cost_fields():
    return [f for f in dataclasses.fields(CostProfile) if "unit" in f.metadata]


FIELD_NAMES = frozenset(f.name for f in cost_fields())


def save(profile: CostProfile, path) -> None:
    """Write ``profile`` to the file ``path`` as JSON: every field's value, and per field
    its status and source (what :func:`load` reads back)."""
    Path(path).write_text(json.dumps(profile.to_dict(), indent=2, sort_keys=False) + "\n")


def load(path) -> CostProfile:
    """Read a JSON profile written by :func:`save` (or by ``python -m virtmodel calibrate``).

    Raises
    ------
    ValueError
        The file is not such a profile.  The message starts with the file's name and says
        what is wrong: it cannot be read, is not JSON, is not an object, has unknown or
        missing keys, or holds a value the profile refuses (a cost that is not a number
        >= 0).
    """
    where = f"profile file {str(path)!r}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"{where} cannot be read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{where} is not UTF-8 text (a JSON profile is)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{where} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{where} must hold a JSON object (name, description and one key "
            f"per cost), got {_json_kind(data)}"
        )
    order = [f.name for f in dataclasses.fields(CostProfile)]  # the profile's own order
    unknown = sorted(set(data) - set(order))
    missing = [k for k in order if k != "sources" and k not in data]
    if unknown or missing:
        raise ValueError(
            f"{where} is not a cost profile: "
            + "; ".join(
                f"{what} keys {', '.join(keys)}"
                for what, keys in (("unknown", unknown), ("missing", missing))
                if keys
            )
        )
    for k in ("name", "description"):
        if not isinstance(data[k], str):
            raise ValueError(f"{where}: {k} must be a string, got {_json_kind(data[k])}")
    sources = data.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(s, dict) for s in sources.values()):
        raise ValueError(
            f'{where}: sources must be an object of {{"status": ..., "source": ...}} objects'
        )
    try:
        return CostProfile(**data)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None


def _json_kind(value) -> str:
    """The JSON name of a decoded value's type (for messages)."""
    for kind, name in (
        (bool, "a boolean"),
        (str, "a string"),
        (dict, "an object"),
        (list, "an array"),
        ((int, float), "a number"),
    ):
        if isinstance(value, kind):
            return name
    return "null"


# =========================================================================================
# Profiles from published figures
# =========================================================================================
CALIBRATION = "the book's appendix 'Calibration: where the numbers come from'"


def _cyc(cycles: float, ghz: float) -> float:
    return cycles / ghz


def _src(status: str, source: str) -> dict:
    return {"status": status, "source": source}


_GHZ = 3.0  # Xeon Gold 6248R: "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz"
_SKX = "an unnamed Skylake-SP server (its TSC taken as 3.0 GHz, the 6248R's: an assumption)"
_KAUER = (
    "B. Kauer, kvm@vger 2024-11-01 (ZySXgqcYKoHJ3jcf@mias.mediconcil.de), an AMD laptop "
    "(model and TSC not stated; 3.0 GHz assumed)"
)
_P4800X = "Intel Optane SSD DC P4800X 375 GB, 4 KiB random read (AnandTech review 11209)"

# The I/O stack of one 4 KiB read on bare metal (fio, system calls, block layer, NVMe driver,
# interrupt, completion), from per-core IOPS of interrupt-driven fio on two hosts:
# 608 k IOPS with libaio (J. Axboe, "Efficient IO with io_uring", kernel.dk/io_uring.pdf,
# 2019, section 9.1; his "test box", not named) = 1,645 ns, and 638 k IOPS with fio's
# io_uring engine at QD8 on a P5800X (fio issue #1206, 2021-03-12; host not named) =
# 1,567 ns.  Both are peak, batched figures: per request at QD1 it may be more.
_STACK_NS = 1600.0
_STACK = (
    "the I/O stack per request, 1,600 ns: fio interrupt-driven peak per core, 608 k IOPS "
    "with libaio (J. Axboe, 'Efficient IO with io_uring', https://kernel.dk/io_uring.pdf, "
    "2019, sec. 9.1, host not named) = 1,645 ns, and 638 k IOPS with io_uring at QD8 on a "
    "P5800X (https://github.com/axboe/fio/issues/1206, 2021, host not named) = 1,567 ns"
)
_SUBMIT_SHARE = 0.6  # assumption: the submit side's share of that stack (50-70 % plausible)
_SPLIT = (
    "; the split, 60 % submit (system call, bio, blk-mq, driver queue_rq) and 40 % "
    "completion (interrupt, blk_mq_complete, aio_complete, the reap), is an ASSUMPTION: "
    "no source splits it"
)
_DOORBELL_NS = 100.0
# the device's own time: AnandTech's bare-metal mean less what the native path charges the
# CPU around it (the stack's two shares and the doorbell write)
_DEVICE_4K_NS = 8900.0 - _STACK_NS - _DOORBELL_NS
_WAKE = (
    "half of 'perf bench sched pipe', 8.814 us/op on the unpatched mainline kernel "
    "(A. Vagin, LKML 2022-10-27, "
    "https://lore.kernel.org/all/20221027202603.670616-1-avagin@google.com/; an 8-CPU "
    "host, not named; the patched figure of the same mail, 3.74 us/op, is an unmerged RFC): "
    "a pipe write, a cross-CPU wake-up and a read per half; range 2.4-4.4 us on two "
    "mainline hosts (4.77 us/op in the perf-tools pull for v6.3)"
)
_QEMU_LAB = (
    "QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18), virtio-blk with an IOThread on null-co, "
    "64 requests per kick, no tracing: ~2.3 us of IOThread CPU per request (schedstat, ns: "
    "no clock conversion), on the project's lab machine, a KVM guest with 2 vCPUs of an AMD "
    "EPYC (family 26, TSC ~2.6 GHz) -- a VM, probably slower than bare metal; the per-wake "
    "fixed part (~109 us at 1 request per kick) is not explained and not used "
    "(shared/qemu-lab-notes.md, 2026-12-06)"
)

_IDE_ELEMENT_NS = 32.5
_IDE_ELEMENT = (
    "32.5 ns (32.55 fitted): one element of a real guest's rep insw from QEMU's IDE data "
    "port under TCG (IDENTIFY DEVICE less CHECK POWER MODE over its 256 words, vCPU "
    "thread CPU, medians of 3 QEMU processes), QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18) on "
    "the project's lab machine, a KVM guest on an AMD EPYC, 2026-12-06 "
    "(virtmodel/data/qemu-lab-2026-12-06.json, ide_guest/tcg): QEMU's user-space code -- the "
    "memory API's dispatch to the port and ide_data_readw, as kvm_handle_io runs it per "
    "element after a KVM exit -- plus TCG's loop over the rep (a few ns; TCG's guest store)"
)
_FAST_PIO_IN = (
    "kvm_fast_pio_in: SVM's io_interception since Linux 4.10 (8370c3d08bd9, T. Lendacky, "
    "2016), VMX's handle_io since 432baf60eee3 (S. Christopherson, 2018); before, "
    "handle_io sent every IN (and every string instruction) to the emulator"
)
_FAST_MMIO = (
    "VMX's handle_ept_misconfig writes to the fast-MMIO bus (kvm_io_bus_write with "
    "KVM_FAST_MMIO_BUS) before any decode, for L1 guests only (68c3b4d1676d 'KVM: VMX: "
    "speed up wildcard MMIO EVENTFD', M. S. Tsirkin, 2015)"
)

MODERN = CostProfile(
    name="modern",
    description="A recent x86 server: Intel Xeon Gold 6248R (Cascade Lake, 3.0 GHz TSC) with "
    "APICv, and an Intel Optane P4800X NVMe SSD. Every cost from a published "
    "micro-benchmark; most were measured on other, often unnamed, hosts and "
    "converted at 3.0 GHz; costs with no published figure are assumptions. "
    f"Sources: {CALIBRATION}.",
    vmexit_ns=_cyc(1559, _GHZ),
    kvm_exit_ns=_cyc(2008 - 1559, _GHZ),
    mmio_decode_ns=_cyc(1200, _GHZ),
    user_exit_ns=_cyc(6200 - 1400, _GHZ),
    emulate_access_ns=250.0,
    pio_element_ns=_IDE_ELEMENT_NS,
    fast_pio_in=True,
    fast_mmio=True,
    notify_ns=0.0,
    wakeup_ns=8814.0 / 2,
    signal_ns=300.0,
    irq_inject_ns=0.0,
    eoi_ns=_cyc(4780.75 - 2919, _GHZ),
    halt_poll_ns=200_000.0,
    wake_entry_ns=400.0,
    copy_ns_per_byte=1 / 9.95,
    dma_map_ns_per_page=50.0,
    guest_ns_per_request=_SUBMIT_SHARE * _STACK_NS,
    virtio_ns_per_request=2300.0,
    host_io_ns_per_request=1100.0,
    device_ns_per_request=_DEVICE_4K_NS - 4096 * (1 / 2.4),
    device_ns_per_byte=1 / 2.4,
    device_parallelism=4,
    doorbell_ns=_DOORBELL_NS,
    native_irq_ns=(1 - _SUBMIT_SHARE) * _STACK_NS,
    jitter_cv=0.05,
    cpu_ghz=_GHZ,
    sources={
        "vmexit_ns": _src(
            "published",
            f"kvm-unit-tests vmcall 1559 TSC cycles on {_SKX} "
            "(W. Li, kvm@vger 2020-03-12, 'KVM: VMX: Micro-optimize vmexit "
            "time when not exposing PMU'); / 3.0 GHz",
        ),
        "kvm_exit_ns": _src(
            "derived",
            "outl_to_kernel 2008 TSC cycles (S. Jitindar Singh, "
            "2022-10-05, an eIBRS Intel CPU, not named) - vmcall 1559 (above): "
            "449 cycles / 3.0 GHz; two different hosts",
        ),
        "mmio_decode_ns": _src(
            "published", f"'instruction emulation takes 1200' TSC cycles, {_KAUER}"
        ),
        "user_exit_ns": _src(
            "derived",
            f"'going to user-level needs at least 6200' minus an "
            f"exit of 1400 TSC cycles, {_KAUER}: 4800 cycles, a lower bound. "
            "Cross-check: inl_from_qemu 5826 - outl_to_kernel 2008 = 3818 "
            "cycles (P. Bonzini 2016, Linux ad3610919e6f; unnamed host)",
        ),
        "emulate_access_ns": _src(
            "assumption",
            "no published figure for QEMU dispatching "
            "one register access to a device model (~750 cycles)",
        ),
        "pio_element_ns": _src(
            "measured",
            _IDE_ELEMENT + "; QEMU's code is the same on this host, its CPU is not: "
            "taken as measured, on another host",
        ),
        "fast_pio_in": _src("published", _FAST_PIO_IN + "; a Cascade Lake host: VMX"),
        "fast_mmio": _src(
            "published",
            _FAST_MMIO + "; a Cascade Lake host: VMX.  On AMD (SVM) the nested page fault "
            "decodes the write first, until a late-2025 change (01cde4eaaeca 'KVM: SVM: Add "
            "support for expedited writes to the fast MMIO bus', when the next RIP is known)",
        ),
        "notify_ns": _src(
            "assumption",
            "0: counted inside virtio_ns_per_request (the QEMU lab's per-wake fixed part "
            "is not explained yet)",
        ),
        "wakeup_ns": _src("derived", _WAKE + ": a proxy for an eventfd wake-up"),
        "wake_entry_ns": _src(
            "assumption",
            "no micro-benchmark found; bounded below by the entry half of the vmcall round "
            "trip (~780 of 1,559 cycles, ~260 ns) and above by the whole round trip "
            "(vmexit_ns): 400 ns, the entry with KVM's posted-interrupt sync (PIR to vIRR) "
            "in vcpu_run after kvm_vcpu_halt returns",
        ),
        "signal_ns": _src(
            "assumption",
            "no published figure for one eventfd write to an "
            "irqfd (a system call: a few hundred ns)",
        ),
        "irq_inject_ns": _src(
            "derived",
            "0: the software injection's cost is counted in "
            "eoi_ns, whose source measures both together",
        ),
        "eoi_ns": _src(
            "derived",
            f"kvm-unit-tests tscdeadline_immed 4780.75 TSC cycles with "
            f"APICv off vs 2919 on, {_SKX} (W. Li, kvm@vger 2020, TSC-deadline "
            f"fastpath series): 1862 cycles for the EOI exit and software "
            f"injection together; / 3.0 GHz",
        ),
        "halt_poll_ns": _src(
            "published",
            "KVM_HALT_POLL_NS_DEFAULT = 200000 on x86 "
            "(arch/x86/include/asm/kvm_host.h); the window starts at 0 and "
            "grows from 10 us x2 (virt/kvm/kvm_main.c), and a halt longer than the "
            "maximum halves it since Linux 6.11 (halt_poll_ns_shrink = 2, aeb1b22a3ac8), "
            "resets it to 0 before",
        ),
        "copy_ns_per_byte": _src(
            "derived",
            "single-thread STREAM triad ~19.9 GB/s on a Xeon "
            "E5-2690 v3 (J. McCalpin, Intel forum) counts reads and "
            "writes: ~9.95 GB/s of copied payload; an older core",
        ),
        "dma_map_ns_per_page": _src(
            "assumption", "no published figure; a page-table walk in QEMU's memory API"
        ),
        "guest_ns_per_request": _src("derived", "60 % of " + _STACK + _SPLIT),
        "virtio_ns_per_request": _src("measured", _QEMU_LAB),
        "host_io_ns_per_request": _src(
            "derived",
            "the bare-metal stack (1,600 ns, as guest_ns_per_request) less ~500 ns a back "
            "end does not pay per request: fio's user-space work and the application's "
            "wake-up and reap (QEMU submits a whole pass with one io_submit and reaps from "
            "the user-mapped AIO ring); the 500 ns is an ASSUMPTION (range 1.0-1.3 us)",
        ),
        "device_ns_per_request": _src(
            "derived",
            f"{_P4800X}: mean 8.9 us at QD1 on bare metal, less the CPU the native path "
            "charges around the device (the stack, 1,600 ns, and the doorbell, 100 ns) = "
            "7,200 ns for 4 KiB, less 4096 B x device_ns_per_byte; cross-check: 120,005 "
            "IOPS polled at QD1 on bare metal (S. Hajnoczi, KVM Forum 2020, read in a "
            "transcript) = 8,333 ns, less a polled stack of 0.6-1.0 us = 7.3-7.7 us",
        ),
        "device_ns_per_byte": _src(
            "derived",
            "P4800X sequential read 2400 MB/s (Intel's "
            "specification as tabulated by AnandTech review 11930)",
        ),
        "device_parallelism": _src(
            "derived",
            f"Little's law on {_P4800X}: 584.8 k IOPS at QD16 x the device's own time at "
            "QD1 (7.2 us, above) = 4.2 requests in service, rounded to 4 (with the old "
            "8.9 us, which held the host's stack, it gave 5); the QD16 point is near one "
            "core's ceiling (1 / 1.7 us = 588 k), so it may be CPU-bound and the device "
            "able to serve more",
        ),
        "doorbell_ns": _src("assumption", "a posted MMIO write; no published figure found"),
        "native_irq_ns": _src("derived", "40 % of " + _STACK + _SPLIT),
        "jitter_cv": _src(
            "derived", f"{_P4800X}: median 9 us, p99 10 us at QD1: a lognormal with CV 0.045"
        ),
        "cpu_ghz": _src(
            "published",
            "the 6248R's model string (J. Fan, qemu-devel "
            "2022-06-16, the emulated-NVMe measurements this host stands for)",
        ),
    },
)

_GHZ_2012 = 3.0  # assumption: TSC rate of the unnamed 2012 host in kvm-unit-tests 00bfecaaa5a4
_KUT2012 = (
    "kvm-unit-tests commit 00bfecaaa5a4 'vmexit: time the number of cycles for "
    "simple PIO' (P. Bonzini, 2012-12-13)"
)

LEGACY_2012 = CostProfile(
    name="legacy-2012",
    description="History: the KVM host of 2012 whose exit costs the source's claims rest on "
    "(kvm-unit-tests 00bfecaaa5a4; CPU not named, TSC assumed 3 GHz), before "
    "halt polling and APICv. Not a model of any host today. "
    f"Sources: {CALIBRATION}.",
    vmexit_ns=_cyc(3898, _GHZ_2012),
    kvm_exit_ns=_cyc(4451 - 3898, _GHZ_2012),
    mmio_decode_ns=_cyc(7237 - 4451, _GHZ_2012),
    user_exit_ns=_cyc(20574 - 7237, _GHZ_2012),
    emulate_access_ns=0.0,
    pio_element_ns=_IDE_ELEMENT_NS,
    fast_pio_in=False,
    fast_mmio=False,
    notify_ns=0.0,
    wakeup_ns=8814.0 / 2,
    signal_ns=300.0,
    irq_inject_ns=0.0,
    eoi_ns=1556 / 2.1,
    halt_poll_ns=0.0,
    wake_entry_ns=_cyc(3898 / 2, _GHZ_2012),
    copy_ns_per_byte=1 / 7.766,
    dma_map_ns_per_page=50.0,
    guest_ns_per_request=_SUBMIT_SHARE * _STACK_NS,
    virtio_ns_per_request=2300.0,
    host_io_ns_per_request=1100.0,
    device_ns_per_request=1000.0,
    device_ns_per_byte=0.05,
    device_parallelism=1,
    doorbell_ns=100.0,
    native_irq_ns=(1 - _SUBMIT_SHARE) * _STACK_NS,
    jitter_cv=0.2,
    cpu_ghz=_GHZ_2012,
    sources={
        "vmexit_ns": _src("published", f"vmcall round trip 3898 TSC cycles, {_KUT2012}"),
        "kvm_exit_ns": _src(
            "derived", f"outl_to_kernel 4451 - vmcall 3898 = 553 cycles, {_KUT2012}"
        ),
        "mmio_decode_ns": _src(
            "derived",
            f"inl_from_kernel 7237 - outl_to_kernel 4451 = 2786 "
            f"cycles (the commit: 'cost of emulation ~3300'), {_KUT2012}",
        ),
        "user_exit_ns": _src(
            "derived",
            f"inl_from_qemu 20574 - inl_from_kernel 7237 = 13337 "
            f"cycles ('cost of exiting to userspace ~13000'), {_KUT2012}; it "
            f"includes QEMU's handling of the port",
        ),
        "emulate_access_ns": _src(
            "derived", "0: QEMU's handling of the access is inside user_exit_ns (measured together)"
        ),
        "pio_element_ns": _src(
            "assumption",
            "no figure for a QEMU of 2012 (whose kvm_handle_io dispatched per element too); "
            "the modern profile's: " + _IDE_ELEMENT,
        ),
        "fast_pio_in": _src(
            "published",
            "no: 2012's handle_io (vmx.c) and io_interception (svm.c) emulated every IN "
            "('if (string || in)'); only OUT took kvm_fast_pio_out.  Later: " + _FAST_PIO_IN,
        ),
        "fast_mmio": _src(
            "published",
            "no: the fast-MMIO bus came in 2015 (" + _FAST_MMIO + "); a 2012 MMIO exit "
            "was decoded before any ioeventfd match",
        ),
        "notify_ns": _src("assumption", "0: counted inside virtio_ns_per_request"),
        "wakeup_ns": _src("derived", _WAKE + ": a later host, low confidence"),
        "wake_entry_ns": _src(
            "assumption",
            f"half of the vmcall round trip of 3898 cycles, {_KUT2012}: entry and exit "
            "taken as equal halves",
        ),
        "signal_ns": _src("assumption", "no published figure for one eventfd write"),
        "irq_inject_ns": _src(
            "assumption",
            "0: no figure for this host; injection is counted with the exit that carries it",
        ),
        "eoi_ns": _src(
            "published",
            "virtual IRQ completion 1556 cycles on a Xeon E5-2450 at "
            "2.1 GHz (Dall et al., ISCA 2016, Table II; read in a secondary note)",
        ),
        "halt_poll_ns": _src("published", "0: KVM had no halt polling before Linux 4.0 (2015)"),
        "copy_ns_per_byte": _src(
            "derived",
            "median single-thread copy bandwidth 7766 MB/s of "
            "four Xeons (T. Benson, Intel forum: 5896, 6249, 9283, "
            "11525 MB/s)",
        ),
        "dma_map_ns_per_page": _src("assumption", "no published figure"),
        "guest_ns_per_request": _src(
            "assumption",
            "the modern profile's figure (no per-core IOPS of a 2012 kernel found; before "
            "blk-mq, Linux 3.13, the stack was probably slower): 60 % of " + _STACK + _SPLIT,
        ),
        "virtio_ns_per_request": _src(
            "assumption",
            "the modern profile's QEMU 7.2 measurement (no figure for a QEMU of 2012, "
            "before virtio-blk dataplane): " + _QEMU_LAB,
        ),
        "host_io_ns_per_request": _src(
            "assumption", "the modern profile's derived figure, on a later kernel"
        ),
        "device_ns_per_request": _src(
            "assumption", "a fast device (1 us), so that virtualization overhead is visible"
        ),
        "device_ns_per_byte": _src("assumption", "a 20 GB/s device"),
        "device_parallelism": _src("assumption", "one request at a time"),
        "doorbell_ns": _src("assumption", "a posted MMIO write; no published figure"),
        "native_irq_ns": _src(
            "assumption", "the modern profile's figure: 40 % of " + _STACK + _SPLIT
        ),
        "jitter_cv": _src("assumption", "20 % lognormal spread"),
        "cpu_ghz": _src("assumption", "the 2012 commit does not name its CPU"),
    },
)

DATA = Path(__file__).parent / "data"


def shipped_profiles(folder=DATA) -> dict[str, tuple[CostProfile, Path]]:
    """The profiles the KVM lab calibrated and the package ships: profile name ->
    (profile, the ``lab-<cpu>-<flavour>-<date>.json`` measurement file it comes from)."""
    out = {}
    for path in sorted(Path(folder).glob("lab-*.json")):
        prof = CostProfile(**json.loads(path.read_text())["profile"])
        out[prof.name] = (prof, path)
    return out


_SHIPPED = shipped_profiles()

PROFILES: dict[str, CostProfile] = {
    MODERN.name: MODERN,
    LEGACY_2012.name: LEGACY_2012,
    **{n: prof for n, (prof, _) in _SHIPPED.items()},
}
"""The named profiles, ``"modern"`` (the book's default: a recent server, from published
micro-benchmarks), ``"legacy-2012"`` (the 2012 host behind the source's claims), and each
profile the KVM lab
calibrated on a named machine and shipped in ``virtmodel/data`` (``lab-<cpu>-<flavour>-
<date>``; see :data:`MEASURED`)."""

SHIPPED: dict[str, Path] = {n: path for n, (_, path) in _SHIPPED.items()}
"""Profile name -> the shipped lab measurement it was calibrated in (read it with
:func:`virtmodel.lab.validate.shipped`)."""

MEASURED: str | None = max(SHIPPED, key=lambda n: n[-10:]) if SHIPPED else None
"""Name of the most recent shipped lab-calibrated profile (None if none is shipped)."""


DEFAULT = MODERN.name
"""The profile the models use unless told otherwise."""


def get(profile) -> CostProfile:
    """A CostProfile from a profile, a name in :data:`PROFILES`, or a path to a JSON file
    (read with :func:`load`); ValueError listing the names otherwise."""
    if isinstance(profile, CostProfile):
        return profile
    if isinstance(profile, str):
        if profile in PROFILES:
            return PROFILES[profile]
        if profile.endswith(".json"):
            return load(profile)
    raise ValueError(
        f"profile must be a CostProfile, a name in {sorted(PROFILES)} or a "
        f".json path, got {profile!r}"
    )
