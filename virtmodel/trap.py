"""Trap-and-emulate: one I/O request to a device that QEMU emulates register by register.

The mechanism (the source's section 2.1, in KVM's terms, as the Linux and QEMU code does it):

1. The guest driver touches a device register.  A port access (``in``/``out``) always
   exits: VMX intercepts every I/O instruction, and the exit qualification already names
   the port, size and direction, so KVM needs **no instruction decode** (``kvm_fast_pio``).
   An MMIO access to a page with no memory behind it exits through an EPT misconfiguration
   and KVM must fetch and **decode** the instruction to learn what it does.
2. Finding no in-kernel handler, KVM describes the access in the ``kvm_run`` page it
   shares with QEMU (the source's **I/O sharing page**): port data in the page after
   ``kvm_run`` (``KVM_PIO_PAGE_OFFSET``), MMIO data inline in ``kvm_run.mmio.data`` (8
   bytes).  ``ioctl(KVM_RUN)`` returns to QEMU.
3. QEMU's device model emulates the access and calls ``ioctl(KVM_RUN)`` again; KVM
   completes the instruction and re-enters the guest.
4. Data cross one of three ways.  ``pio``: one element (``pio_element_bytes``: 1, 2 or 4
   bytes) per ``out``/``in``, each an exit.  On a host without ``kvm_fast_pio_in`` (the
   2012 profile: ``CostProfile.fast_pio_in``) every ``in`` is fetched and decoded too.
   ``string-pio``: ``rep outs``/``rep ins``, decoded by KVM's emulator, which sends one
   element per exit for ``rep outs`` (``em_out``) and reads ahead at most its 1 KiB
   ``read_cache`` per exit for ``rep ins`` (``pio_in_emulated``); the data are copied
   through the sharing page.  QEMU's ``kvm_handle_io`` (accel/kvm/kvm-all.c) then calls
   ``address_space_rw`` once **per element**: a 1 KiB ``rep insb`` exit is 1024 dispatches
   to the device model, a 512 B ``rep insl`` 128.  The exit's first dispatch costs
   ``emulate_access_ns`` (as any emulated access), each further one ``pio_element_ns``.
   (KVM's emulator also steps the ``rep`` element by element, writing each to guest
   memory; that per-element kernel work is not modelled.)
   ``dma``: the guest programs an address and a length (more register accesses), QEMU maps
   the guest pages and hands them to the host's I/O as they are: no per-chunk exits, no CPU
   copy.
5. The device works asynchronously (IDE, AHCI): the vCPU has nothing to do and halts; KVM
   polls for up to ``halt_poll_ns`` before it lets the vCPU thread sleep.  The HLT exit's
   round trip is split: its VM entry (``wake_entry_ns``) follows the wake-up, on the
   latency path.  On completion QEMU raises the interrupt; the guest's handler reads and clears the device's status
   registers (more exits), and its EOI exits unless the host virtualizes it (posted
   interrupts or PV EOI for an edge-triggered vector; a level-triggered vector, as PCI INTx,
   always exits).  A device that completes the request inside the doorbell's exit needs no
   interrupt (``interrupts=False``, as the KVM lab's device).

:func:`steps` lists a request step by step (for timelines); :func:`counts` gives the exact
counts; :data:`DEFAULTS` are the defaults every entry point (and the ``"emulated"`` path)
uses.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from . import params as P
from .costs import DEFAULT as DEFAULT_PROFILE
from .costs import CostProfile
from .costs import get as get_profile

DATA_MODES = P.DATA_MODE.choices
"""``pio``: one element (``pio_element_bytes``) per OUT/IN through the sharing page;
``string-pio``: ``rep outs`` / ``rep ins`` through KVM's emulator, dispatched by QEMU element
by element; ``dma``: QEMU reads or writes guest memory directly."""
DIRECTIONS = P.DIRECTION.choices
TRIGGERS = P.IRQ_TRIGGER.choices
INTERRUPT_MODES = P.INTERRUPT_MODE.choices

STRING_IN_BYTES_PER_EXIT = 1024
"""``rep ins``: KVM reads ahead up to its 1 KiB ``read_cache`` per exit
(``pio_in_emulated``)."""
PAGE_BYTES = 4096

DEFAULTS = {p.name: p.default for p in P.TRAP}
"""The defaults of one register-programmed device (:data:`virtmodel.params.TRAP`), a read
by DMA with three accesses to start it, two to program the transfer, an edge-triggered
interrupt on a host with posted interrupts.  The hardware catalogue's entries give the real
sequences of real drivers."""


class Step(NamedTuple):
    """One step of a request's path; ``count`` identical repetitions of ``ns`` each.
    A ``concurrent`` step runs beside the one before it (it adds CPU time, not latency)."""

    actor: str  # "guest", "cpu", "kvm", "qemu", "device"
    stage: str  # one of virtmodel.paths.result.STAGES
    ns: float
    count: int  # type: ignore[assignment]  # a field named count hides tuple.count: wanted
    what: str
    concurrent: bool = False


class TrapCounts(NamedTuple):
    """Exact per-request counts of the trap-and-emulate path."""

    register_accesses: int  # trapping accesses that program the device or serve its IRQ
    data_exits: int  # exits that carry data through the sharing page
    exits: int  # all VM exits
    user_exits: int  # exits that went on to QEMU in user space
    io_exits: int  # trapping port/MMIO accesses (registers and data)
    eoi_exits: int
    hlt_exits: int
    decoded: int  # exits whose instruction KVM decoded (MMIO, string PIO; IN on 2012 hosts)
    dispatches: int  # QEMU's calls into the device model: one per register access or element
    context_switches: int  # kernel <-> user transitions (two per user exit)
    copies: int  # separate copy operations of request data
    copied_bytes: int
    interrupts: int
    dma_pages: int

    @property
    def exits_by_reason(self) -> dict:
        return {
            "io": self.io_exits,
            "eoi": self.eoi_exits,
            "hlt": self.hlt_exits,
            "interrupt": 0,
            "other": 0,
        }


def _params(kw: dict) -> dict:
    return P.check_all(P.TRAP, kw, "the trap model")


def bytes_per_data_exit(
    data_mode: str,
    direction: str,
    string_chunk_bytes: int = 0,
    pio_element_bytes: int = P.PIO_ELEMENT.default,
) -> int:
    """Bytes one exit carries through the sharing page (0: DMA, no data exits): one
    element for ``pio`` and ``rep outs``; for ``rep ins`` KVM's 1 KiB read-ahead, or less
    for a driver that issues its ``rep ins`` in chunks (``string_chunk_bytes``: libata, one
    512 B sector per call), which takes at least one exit per chunk."""
    if data_mode == "pio" or (data_mode == "string-pio" and direction == "write"):
        return pio_element_bytes
    if data_mode == "string-pio":
        return min(STRING_IN_BYTES_PER_EXIT, string_chunk_bytes or STRING_IN_BYTES_PER_EXIT)
    return 0


def _data_exits(s: int, p: dict) -> int:
    per = bytes_per_data_exit(
        p["data_mode"], p["direction"], p["string_chunk_bytes"], p["pio_element_bytes"]
    )
    return math.ceil(s / per) if per else 0


def _elements(nbytes: int, element: int) -> int:
    """Elements that carry ``nbytes`` (the last one may be partly used)."""
    return math.ceil(nbytes / element)


def _in_decoded(p: dict, prof: CostProfile) -> bool:
    """Whether KVM decodes each data exit of a ``pio`` read: a host without
    ``kvm_fast_pio_in`` sends every IN to its emulator."""
    return p["data_mode"] == "pio" and p["direction"] == "read" and not prof.fast_pio_in


def _eoi_exit(p: dict) -> bool:
    return p["irq_trigger"] == "level" or p["interrupt_mode"] == "legacy"


def counts(
    request_bytes: int = P.REQUEST_BYTES.default,
    data_mode: str = P.DATA_MODE.default,
    profile: CostProfile | str = DEFAULT_PROFILE,
    **kw,
) -> TrapCounts:
    """Exact counts for one request (keywords as :data:`DEFAULTS`); they follow from the
    mechanism in the module docstring.  The halt while the device works is one HLT exit
    (none with ``interrupts=False``: the device is done before the exit returns).  The
    ``profile`` decides only ``decoded``: whether the host's KVM decodes a plain IN
    (``CostProfile.fast_pio_in``; register reads are not told from writes, so only the
    data exits of a ``pio`` read count)."""
    prof = get_profile(profile)
    p = _params(dict(kw, request_bytes=request_bytes, data_mode=data_mode))
    s = int(p["request_bytes"])
    dma = p["data_mode"] == "dma"
    irq = bool(p["interrupts"])
    regs = (
        p["accesses_per_request"]
        + (p["dma_setup_accesses"] if dma else 0)
        + (p["handler_accesses"] if irq else 0)
    )
    data = _data_exits(s, p)
    user = regs + data
    eoi = int(irq and _eoi_exit(p))
    hlt = int(irq and not p["served_in_exit"])
    decoded = (regs if p["mmio"] else 0) + (
        data if p["data_mode"] == "string-pio" or _in_decoded(p, prof) else 0
    )
    elements = _elements(s, p["pio_element_bytes"]) if data else 0
    if dma:  # the device model maps guest memory; some copy it anyway (e1000: twice)
        copies, copied = p["data_copies"], p["data_copies"] * s
    else:  # guest <-> sharing page (KVM) and sharing page <-> device buffer (QEMU)
        copies, copied = 2 * data, 2 * s
    pages = math.ceil(s / PAGE_BYTES) if dma else 0
    return TrapCounts(
        regs,
        data,
        user + eoi + hlt,
        user,
        user,
        eoi,
        hlt,
        decoded,
        regs + elements,
        2 * user,
        copies,
        copied,
        int(irq),
        pages,
    )


def _access_steps(
    out: list,
    p: CostProfile,
    n: int,
    what: str,
    decode: bool,
    chunk_bytes: int = 0,
    elements: int = 1,
) -> None:
    """``n`` identical trapping accesses, each to QEMU and back; each exit carries
    ``chunk_bytes`` of data in ``elements`` elements, which QEMU dispatches one by one."""
    if n == 0:
        return
    out.append(Step("cpu", "exit_entry", p.vmexit_ns / 2, n, f"VM exit: {what}"))
    out.append(
        Step(
            "kvm",
            "kvm",
            p.kvm_exit_ns + (p.mmio_decode_ns if decode else 0.0),
            n,
            "KVM "
            + ("fetches and decodes the instruction, " if decode else "")
            + "fills kvm_run (the I/O sharing page)",
        )
    )
    if chunk_bytes:
        out.append(
            Step(
                "kvm",
                "copy",
                chunk_bytes * p.copy_ns_per_byte,
                n,
                f"KVM copies {chunk_bytes} B between the guest and kvm_run",
            )
        )
    out.append(
        Step("kvm", "context_switch", p.user_exit_ns / 2, n, "ioctl(KVM_RUN) returns to QEMU")
    )
    out.append(Step("qemu", "qemu", p.emulate_access_ns, n, "QEMU emulates the access"))
    if elements > 1:
        out.append(
            Step(
                "qemu",
                "qemu",
                (elements - 1) * p.pio_element_ns,
                n,
                f"QEMU dispatches the other {elements - 1} elements one by one "
                "(kvm_handle_io: address_space_rw per element)",
            )
        )
    if chunk_bytes:
        out.append(
            Step(
                "qemu",
                "copy",
                chunk_bytes * p.copy_ns_per_byte,
                n,
                f"QEMU copies {chunk_bytes} B between kvm_run and its buffer",
            )
        )
    out.append(
        Step("qemu", "context_switch", p.user_exit_ns / 2, n, "QEMU calls ioctl(KVM_RUN) again")
    )
    out.append(Step("cpu", "exit_entry", p.vmexit_ns / 2, n, "VM entry"))


def steps(
    request_bytes: int = P.REQUEST_BYTES.default,
    data_mode: str = P.DATA_MODE.default,
    profile: CostProfile | str = DEFAULT_PROFILE,
    wait: str = "auto",
    **kw,
) -> list[Step]:
    """The request's path as an ordered list of :class:`Step` (repeated groups collapsed;
    keywords as :data:`DEFAULTS`).  ``wait`` says how the halted vCPU waits for the
    interrupt: ``"poll"`` (KVM halt-polls), ``"sleep"`` (its thread sleeps and is woken) or
    ``"auto"``: polled when halt polling is on and the device's time fits the profile's
    window (the steady state of KVM's adaptive window at one request at a time)."""
    if wait not in ("auto", "poll", "sleep"):
        raise ValueError(f"wait must be 'auto', 'poll' or 'sleep', got {wait!r}")
    prof = get_profile(profile)
    p = _params(dict(kw, request_bytes=request_bytes, data_mode=data_mode))
    c = counts(profile=prof, **p)
    s = int(p["request_bytes"])
    mode = p["data_mode"]
    out = [Step("guest", "guest", prof.guest_ns_per_request, 1, "driver prepares the request")]
    if p["busy_wait_ns"]:
        out.append(
            Step(
                "guest",
                "guest",
                float(p["busy_wait_ns"]),
                1,
                "driver busy-waits between register accesses (udelay)",
            )
        )
    reg = "MMIO" if p["mmio"] else "port"
    _access_steps(out, prof, p["accesses_per_request"], f"{reg} register access (start)", p["mmio"])
    if mode == "dma":
        _access_steps(
            out,
            prof,
            p["dma_setup_accesses"],
            f"{reg} register access (DMA address/length/start)",
            p["mmio"],
        )
    if prof.notify_ns:
        out.append(
            Step(
                "qemu",
                "qemu",
                prof.notify_ns,
                1,
                "the device model takes the doorbell and starts the request",
            )
        )
    if mode == "dma":
        if s:
            out.append(
                Step(
                    "qemu",
                    "qemu",
                    prof.dma_map_ns_per_page,
                    c.dma_pages,
                    "QEMU maps a guest page for the host's I/O (no copy)",
                )
            )
    else:
        el = p["pio_element_bytes"]
        per = bytes_per_data_exit(mode, p["direction"], p["string_chunk_bytes"], el)
        full, rest = divmod(s, per)
        what = f"{mode} {p['direction']} data exit"
        decode = mode == "string-pio" or _in_decoded(p, prof)
        _access_steps(out, prof, full, what, decode, per, _elements(per, el))
        _access_steps(
            out,
            prof,
            1 if rest else 0,
            what + " (last chunk)",
            decode,
            rest,
            _elements(rest, el),
        )
    if p["data_copies"] and mode == "dma":
        out.append(
            Step(
                "qemu",
                "copy",
                s * prof.copy_ns_per_byte,
                p["data_copies"],
                "the device model copies the data (e1000: into its buffer, then to the tap device)",
            )
        )
    if p["served_in_exit"]:  # e.g. a NIC's transmit: done before the exit returns
        dev = 0.0
    else:
        dev = prof.device_ns_per_request + s * prof.device_ns_per_byte
        out.append(
            Step(
                "kvm",
                "kvm",
                prof.host_io_ns_per_request,
                1,
                "QEMU's thread in the host's I/O stack submits it and reaps it (blk_aio_*)",
            )
        )
        out.append(Step("device", "device", dev, 1, "the physical device serves it"))
    if not p["interrupts"]:
        return out
    if not p["served_in_exit"]:  # the vCPU waits for the device, halted
        out.append(
            Step(
                "cpu",
                "exit_entry",
                prof.vmexit_ns - prof.wake_entry_ns,
                1,
                "the vCPU has nothing to do: HLT exits",
                concurrent=True,
            )
        )
        out.append(Step("kvm", "kvm", prof.kvm_exit_ns, 1, "KVM handles the HLT", concurrent=True))
        if wait == "auto":
            wait = "poll" if p["halt_poll"] and dev <= prof.halt_poll_ns else "sleep"
        if wait == "poll":
            out.append(
                Step(
                    "kvm",
                    "polling",
                    dev,
                    1,
                    "KVM halt-polls until the interrupt "
                    "(the window has grown past the device's time)",
                    concurrent=True,
                )
            )
        else:
            out.append(
                Step(
                    "kvm",
                    "context_switch",
                    prof.wakeup_ns,
                    1,
                    "the vCPU thread slept; the interrupt wakes it",
                )
            )
    out.append(Step("qemu", "qemu", prof.signal_ns, 1, "QEMU raises the interrupt"))
    if not p["served_in_exit"]:  # the interrupt ends the halt: the vCPU enters the guest
        out.append(
            Step(
                "cpu",
                "exit_entry",
                prof.wake_entry_ns,
                1,
                "the woken vCPU re-enters the guest (the entry of its halt's exit)",
            )
        )
    if p["interrupt_mode"] != "posted":
        out.append(Step("kvm", "kvm", prof.irq_inject_ns, 1, "KVM injects the interrupt on entry"))
    out.append(Step("guest", "guest", prof.native_irq_ns, 1, "the guest's handler"))
    _access_steps(
        out,
        prof,
        p["handler_accesses"],
        f"{reg} register access in the interrupt handler",
        p["mmio"],
    )
    if c.eoi_exits:
        out.append(Step("cpu", "exit_entry", prof.eoi_ns, 1, "the guest's EOI exits"))
    return out


def ns_by_stage(step_list: list[Step]) -> dict[str, float]:
    """Total ns per stage of a list of steps (CPU time and device time, concurrent steps
    included): stage -> ns, the stages that occur, in the order they first occur (a
    Result's schema, every stage in order, is ``virtmodel.paths.result.STAGES``)."""
    out: dict[str, float] = {}
    for st in step_list:
        out[st.stage] = out.get(st.stage, 0.0) + st.ns * st.count
    return out


def elapsed_ns(step_list: list[Step]) -> float:
    """Start to finish: the steps that do not run beside another."""
    return float(sum(st.ns * st.count for st in step_list if not st.concurrent))


def request_ns(
    request_bytes: int = P.REQUEST_BYTES.default,
    data_mode: str = P.DATA_MODE.default,
    profile: CostProfile | str = DEFAULT_PROFILE,
    **kw,
) -> float:
    """Time of one request on this path, start to finish (no jitter)."""
    return elapsed_ns(steps(request_bytes, data_mode, profile=profile, **kw))


def crossover_bytes(sizes, slow: dict | None = None, fast: dict | None = None, **common):
    """The smallest of ``sizes`` (ascending) from which the ``fast`` way takes no longer than
    the ``slow`` one at that size and every larger one; None if there is none.  ``slow`` and
    ``fast`` are :func:`request_ns` keywords of each way (default: string PIO and DMA);
    ``common`` go to both (direction, accesses, profile, ...)."""
    sizes = [int(s) for s in sizes]
    if sizes != sorted(sizes):
        raise ValueError("sizes must be ascending")
    slow = {"data_mode": "string-pio", **(slow or {})}
    fast = {"data_mode": "dma", **(fast or {})}
    wins = [
        request_ns(s, **{**common, **fast}) <= request_ns(s, **{**common, **slow}) for s in sizes
    ]
    at = None
    for s, w in zip(reversed(sizes), reversed(wins)):
        if not w:
            break
        at = s
    return at


FW_CFG_BLOB_BYTES = 1 << 20
"""The blob :func:`fw_cfg_rate` reads (1 MiB: the per-request costs vanish in it)."""


def fw_cfg_rate(profile: CostProfile | str = DEFAULT_PROFILE) -> float:
    """Bytes per second at which a guest reads a blob from QEMU's fw_cfg by string port I/O,
    as firmware and the multiboot option ROM did ([Multiboot2021]): one selector write (a
    port OUT), then ``rep insb`` on the data port, 1 KiB per exit, each byte one dispatch
    to the device model; QEMU serves it inside the exits (no interrupt, no halt)."""
    ns = request_ns(
        FW_CFG_BLOB_BYTES,
        "string-pio",
        profile=profile,
        direction="read",
        accesses_per_request=1,
        dma_setup_accesses=0,
        interrupts=False,
        served_in_exit=True,
        pio_element_bytes=1,
    )
    return FW_CFG_BLOB_BYTES / ns * 1e9
