"""What each step of an I/O costs: :class:`CostProfile`, the named :data:`PROFILES`, JSON I/O.

Every field is a time in nanoseconds (or ns per byte / per page), and every profile records,
per field, where the number came from and how sure it is::

    published   read in a primary source (cycles converted at the stated clock)
    derived     arithmetic on published values (the arithmetic is in the note)
    measured    measured by virtmodel.lab on the machine named in the profile
    assumption  no source: a stated guess, to be replaced by a measurement

The "published" profile is assembled from ``shared/calibration-sources.md``.  Its exit costs
come from one machine and one date (kvm-unit-tests commit 00bfecaaa5a4, 2012), so that their
differences mean something; that commit reports TSC cycles without naming the CPU, so the
conversion clock is itself an assumption (``cpu_ghz``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

STATUSES = ("published", "derived", "measured", "assumption")


def _f(unit: str, doc: str):
    return field(metadata={"unit": unit, "doc": doc})


@dataclass(frozen=True)
class CostProfile:
    """Costs of the steps of an I/O request; all times in ns.  See :data:`FIELDS_DOC`."""

    name: str
    description: str
    # -- VM exits ---------------------------------------------------------------------------
    vmexit_ns: float = _f("ns", "hardware VM exit + VM entry round trip (the world switch)")
    kvm_exit_ns: float = _f("ns", "KVM's in-kernel handling of a PIO/MMIO exit (decode, "
                                  "dispatch, ioeventfd match)")
    user_exit_ns: float = _f("ns", "extra round trip when the exit goes on to user space: "
                                   "return from ioctl(KVM_RUN) to QEMU and back in")
    emulate_access_ns: float = _f("ns", "QEMU emulating one device-register access")
    notify_ns: float = _f("ns", "the back end's fixed cost per notification it acts on (a "
                                "kick, or an emulated device's doorbell): entering the "
                                "device model and finding the work")
    # -- threads and interrupts -------------------------------------------------------------
    wakeup_ns: float = _f("ns", "waking a sleeping back-end thread (eventfd write -> it runs)")
    irq_inject_ns: float = _f("ns", "delivering one interrupt to the vCPU (irqfd, kick, "
                                    "injection on entry, guest handler entry)")
    eoi_ns: float = _f("ns", "the guest's end-of-interrupt write (traps without APICv)")
    # -- data movement ----------------------------------------------------------------------
    copy_ns_per_byte: float = _f("ns/B", "CPU copy of one byte (memcpy bandwidth)")
    dma_map_ns_per_page: float = _f("ns/page", "mapping one guest page for the device "
                                               "(address translation in QEMU)")
    # -- work that is not virtualization overhead -------------------------------------------
    guest_ns_per_request: float = _f("ns", "the guest's own driver work per request")
    virtio_ns_per_request: float = _f("ns", "back end's ring processing per request (pop, "
                                            "parse, push used)")
    device_ns_per_request: float = _f("ns", "the physical device's service time per request")
    device_ns_per_byte: float = _f("ns/B", "the physical device's service time per byte")
    doorbell_ns: float = _f("ns", "native: posted MMIO write to a real device's doorbell")
    native_irq_ns: float = _f("ns", "native: interrupt entry, handler and EOI on bare metal")
    jitter_cv: float = _f("1", "coefficient of variation of service and wake-up times "
                               "(lognormal), for tail latency")
    cpu_ghz: float = _f("GHz", "clock used to convert published cycle counts to ns")
    sources: dict = field(default_factory=dict, compare=False)
    """field name -> {"status": one of STATUSES, "source": citation or measurement note}"""

    def __post_init__(self):
        for f in cost_fields():
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) \
                    or v < 0:
                raise ValueError(f"{f.name} must be a finite number >= 0 "
                                 f"({f.metadata['unit']}), got {v!r}")
        if not 0 <= self.jitter_cv <= 2:
            raise ValueError(f"jitter_cv must be in 0..2, got {self.jitter_cv}")
        for k, s in self.sources.items():
            if k not in FIELD_NAMES:
                raise ValueError(f"sources names unknown field {k!r}")
            if s.get("status") not in STATUSES:
                raise ValueError(f"sources[{k!r}]['status'] must be one of {STATUSES}")

    @property
    def user_io_exit_ns(self) -> float:
        """One trapping access that QEMU emulates: exit, KVM, user space, emulation."""
        return self.vmexit_ns + self.kvm_exit_ns + self.user_exit_ns + self.emulate_access_ns

    def replace(self, **changes) -> "CostProfile":
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
            rows.append({"name": f.name, "value": getattr(self, f.name),
                         "unit": f.metadata["unit"], "meaning": f.metadata["doc"],
                         "status": s["status"], "source": s["source"]})
        return rows

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def cost_fields():
    return [f for f in dataclasses.fields(CostProfile) if "unit" in f.metadata]


FIELD_NAMES = frozenset(f.name for f in cost_fields())


def save(profile: CostProfile, path) -> None:
    """Write a profile as JSON (values, and per field its status and source)."""
    Path(path).write_text(json.dumps(profile.to_dict(), indent=2, sort_keys=False) + "\n")


def load(path) -> CostProfile:
    """Read a JSON profile written by :func:`save` (or by ``python -m virtmodel calibrate``).

    Whatever is wrong with the file is a ValueError whose message starts with the file's
    name and says what: it cannot be read, is not JSON, is not an object, has unknown or
    missing keys, or holds a value the profile refuses (a cost that is not a number >= 0)."""
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
        raise ValueError(f"{where} is not valid JSON: {e.msg} at line {e.lineno} "
                         f"column {e.colno}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where} must hold a JSON object (name, description and one key "
                         f"per cost), got {_json_kind(data)}")
    order = [f.name for f in dataclasses.fields(CostProfile)]  # the profile's own order
    unknown = sorted(set(data) - set(order))
    missing = [k for k in order if k != "sources" and k not in data]
    if unknown or missing:
        raise ValueError(f"{where} is not a cost profile: " + "; ".join(
            f"{what} keys {', '.join(keys)}" for what, keys in
            (("unknown", unknown), ("missing", missing)) if keys))
    for k in ("name", "description"):
        if not isinstance(data[k], str):
            raise ValueError(f"{where}: {k} must be a string, got {_json_kind(data[k])}")
    sources = data.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(s, dict) for s in sources.values()):
        raise ValueError(f"{where}: sources must be an object of "
                         '{"status": ..., "source": ...} objects')
    try:
        return CostProfile(**data)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _json_kind(value) -> str:
    """The JSON name of a decoded value's type (for messages)."""
    for kind, name in ((bool, "a boolean"), (str, "a string"), (dict, "an object"),
                       (list, "an array"), ((int, float), "a number")):
        if isinstance(value, kind):
            return name
    return "null"


# =========================================================================================
# The published-figures profile
# =========================================================================================
_GHZ = 3.0  # assumption: TSC rate of the unnamed 2012 host in kvm-unit-tests 00bfecaaa5a4
_KUT2012 = ("kvm-unit-tests commit 00bfecaaa5a4 'vmexit: time the number of cycles for "
            "simple PIO' (P. Bonzini, 2012-12-13)")


def _cyc(cycles: float, ghz: float = _GHZ) -> float:
    return cycles / ghz


PUBLISHED = CostProfile(
    name="published",
    description="Assembled from published figures (shared/calibration-sources.md); exit "
                "costs from one 2012 KVM host; several costs are labelled assumptions.",
    vmexit_ns=_cyc(3898),
    kvm_exit_ns=_cyc(4451 - 3898),
    user_exit_ns=_cyc(20574 - 7237),
    emulate_access_ns=500.0,
    notify_ns=0.0,
    wakeup_ns=3.743971e3 / 2,
    irq_inject_ns=_cyc(4238),
    eoi_ns=1556 / 2.1,
    copy_ns_per_byte=1 / 7.766,
    dma_map_ns_per_page=50.0,
    guest_ns_per_request=408.2,
    virtio_ns_per_request=300.0,
    device_ns_per_request=1000.0,
    device_ns_per_byte=0.05,
    doorbell_ns=100.0,
    native_irq_ns=1000.0,
    jitter_cv=0.2,
    cpu_ghz=_GHZ,
    sources={
        "vmexit_ns": {"status": "published", "source":
                      f"vmcall round trip 3898 TSC cycles, {_KUT2012}; / cpu_ghz"},
        "kvm_exit_ns": {"status": "derived", "source":
                        f"outl_to_kernel 4451 - vmcall 3898 = 553 cycles, {_KUT2012}"},
        "user_exit_ns": {"status": "derived", "source":
                         f"inl_from_qemu 20574 - inl_from_kernel 7237 = 13337 cycles "
                         f"(the commit: 'cost of exiting to userspace ~13000'), {_KUT2012}"},
        "emulate_access_ns": {"status": "assumption", "source":
                              "no published figure for one QEMU register emulation; "
                              "VMware's 2001 Lance emulation took ~1-3 us on a 733 MHz "
                              "Pentium III (Sugerman et al., USENIX ATC 2001)"},
        "notify_ns": {"status": "assumption", "source":
                      "0: no published figure; this profile counts the back end's work per "
                      "notification inside emulate_access_ns and virtio_ns_per_request"},
        "wakeup_ns": {"status": "derived", "source":
                      "half of a pipe ping-pong round trip, 3.744 us/op (perf bench sched "
                      "pipe, A. Vagin, LKML 2022-10-31); low confidence"},
        "irq_inject_ns": {"status": "published", "source":
                          "vmexit 'ipi' test without fastpath, 4238 cycles, SKX server "
                          "(W. Li, kvm@vger 2020-04-10), as a proxy for injection; / cpu_ghz"},
        "eoi_ns": {"status": "published", "source":
                   "virtual IRQ completion 1556 cycles on a Xeon E5-2450 at 2.1 GHz (Dall "
                   "et al., ISCA 2016, Table II; read in a secondary note: R2)"},
        "copy_ns_per_byte": {"status": "derived", "source":
                             "median single-thread copy bandwidth 7766 MB/s of four Xeons "
                             "(T. Benson, Intel forum: 5896, 6249, 9283, 11525 MB/s)"},
        "dma_map_ns_per_page": {"status": "assumption", "source":
                                "no published figure; a page-table walk in QEMU's memory API"},
        "guest_ns_per_request": {"status": "published", "source":
                                 "guest syscall 408.2 ns, Xeon W-2135 (gVisor PR #7370), "
                                 "as a proxy for the guest's per-request driver work"},
        "virtio_ns_per_request": {"status": "assumption", "source":
                                  "no published figure for QEMU's pop/push per request"},
        "device_ns_per_request": {"status": "assumption", "source":
                                  "a fast device (1 us), so that virtualization overhead is "
                                  "visible; an Optane P4800X is ~10 us (Hajnoczi, KVM Forum "
                                  "2020)"},
        "device_ns_per_byte": {"status": "assumption", "source": "20 GB/s device"},
        "doorbell_ns": {"status": "assumption", "source": "posted MMIO write, no published "
                                                          "figure found"},
        "native_irq_ns": {"status": "assumption", "source": "bare-metal interrupt entry + "
                                                            "handler + EOI"},
        "jitter_cv": {"status": "assumption", "source": "20 % lognormal spread"},
        "cpu_ghz": {"status": "assumption", "source": "the 2012 commit does not name its CPU"},
    },
)

PROFILES: dict[str, CostProfile] = {PUBLISHED.name: PUBLISHED}
"""Named profiles: ``"published"`` (from the literature), and each profile the KVM lab
calibrated on a named machine and shipped in ``virtmodel/data`` (``lab-<cpu>-<flavour>-
<date>``; see :data:`MEASURED`)."""

DATA = Path(__file__).parent / "data"
SHIPPED: dict[str, Path] = {}
"""Profile name -> the shipped lab measurement it was calibrated in."""

for _f in sorted(DATA.glob("lab-*.json")):
    _p = CostProfile(**json.loads(_f.read_text())["profile"])
    PROFILES[_p.name] = _p
    SHIPPED[_p.name] = _f

MEASURED: str | None = max(SHIPPED, key=lambda n: n[-10:]) if SHIPPED else None
"""Name of the most recent shipped lab-calibrated profile (None if none is shipped)."""


def shipped_measurement(name: str | None = None):
    """The shipped lab measurement behind profile ``name`` (default :data:`MEASURED`):
    ``(virtmodel.lab.validate.Measurement, header)``, header naming the host CPU, KVM
    flavour, date, kernel and command.  Needs no KVM."""
    from .lab import validate

    name = name or MEASURED
    if name not in SHIPPED:
        raise ValueError(f"no shipped lab measurement named {name!r}; shipped: "
                         f"{sorted(SHIPPED)}")
    return validate.load(SHIPPED[name])


def get(profile) -> CostProfile:
    """A CostProfile from a profile, a name in PROFILES, or a path to a JSON file."""
    if isinstance(profile, CostProfile):
        return profile
    if isinstance(profile, str):
        if profile in PROFILES:
            return PROFILES[profile]
        if profile.endswith(".json"):
            return load(profile)
    raise ValueError(f"profile must be a CostProfile, a name in {sorted(PROFILES)} or a "
                     f".json path, got {profile!r}")
