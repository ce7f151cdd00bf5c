"""Trap-and-emulate: one I/O request to a device that QEMU emulates register by register.

The mechanism (the source's section 2.1, in KVM's terms):

1. The guest driver touches a device register (``out``/``in`` or an MMIO load/store).  The
   CPU leaves guest mode: a **VM exit**.
2. KVM decodes the access and, finding no in-kernel handler, describes it in the ``kvm_run``
   page it shares with QEMU: port or address, size, direction and the data itself.  That
   page is the source's **I/O sharing page**.  ``ioctl(KVM_RUN)`` returns to QEMU.
3. QEMU's device model emulates the access, writes any result back into ``kvm_run`` and
   calls ``ioctl(KVM_RUN)`` again; KVM copies the result into the guest and performs a
   **VM entry**.
4. Data moves one of two ways.  Through the sharing page: each exit carries at most 4 bytes
   (``out``) or one page (string ``rep outs``), and is copied twice (guest -> page by KVM,
   page -> device buffer by QEMU).  By **DMA**: the guest programs an address and a length
   (more register accesses), then QEMU maps the guest pages and reads or writes guest memory
   directly -- one copy, no per-chunk exits.
5. When the I/O completes, QEMU raises an interrupt; KVM injects it on the next VM entry,
   and the guest's handler ends with an EOI, which traps too (without APICv).  A device that
   completes the request while it handles the doorbell's exit needs no interrupt: the guest
   finds the request done when it resumes (``interrupts=False``, as the lab's device).

Meanwhile the vCPU is blocked: this whole sequence is synchronous for the guest.
:func:`steps` lists it step by step (for timelines); :func:`counts` gives the exact counts.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .costs import CostProfile, get as get_profile
from .spec import PAGE_SIZE, check_int

DATA_MODES = ("pio", "string-pio", "dma")
"""``pio``: 4 bytes per OUT through the sharing page; ``string-pio``: up to one page per
``rep outs``; ``dma``: QEMU writes guest memory directly."""

PIO_BYTES_PER_EXIT = 4
STRING_PIO_BYTES_PER_EXIT = PAGE_SIZE
MAX_REQUEST_BYTES = 1 << 24

STAGES = ("guest", "exit_entry", "kvm", "context_switch", "qemu", "copy", "device")
"""Where time goes, in the words of the source's section 2.3 (exits and entries, context
switches, copies) plus the work that is not overhead (guest, device)."""
_S = {s: i for i, s in enumerate(STAGES)}


class Step(NamedTuple):
    """One step of a request's path; ``count`` identical repetitions of ``ns`` each."""

    actor: str  # "guest", "cpu", "kvm", "qemu", "device"
    stage: str  # one of STAGES
    ns: float
    count: int
    what: str


class TrapCounts(NamedTuple):
    """Exact per-request counts of the trap-and-emulate path."""

    register_accesses: int  # trapping accesses that program the device
    data_exits: int  # exits that carry data through the sharing page
    exits: int  # all VM exits (register, data and the EOI)
    user_exits: int  # exits that went on to QEMU in user space
    context_switches: int  # kernel <-> user transitions (two per user exit)
    copies: int  # separate copy operations of request data
    copied_bytes: int
    interrupts: int
    dma_pages: int


def check_request_bytes(request_bytes) -> int:
    """The request size as an int in 0..MAX_REQUEST_BYTES (every path's size check)."""
    return check_int(request_bytes, "request_bytes", 0, MAX_REQUEST_BYTES)


def check_params(request_bytes, data_mode, accesses_per_request, dma_setup_accesses):
    """Validated (request_bytes, accesses_per_request, dma_setup_accesses)."""
    s = check_request_bytes(request_bytes)
    if data_mode not in DATA_MODES:
        raise ValueError(f"data_mode must be one of {DATA_MODES}, got {data_mode!r}")
    return (s, check_int(accesses_per_request, "accesses_per_request", 1, 64),
            check_int(dma_setup_accesses, "dma_setup_accesses", 0, 16))


def counts(request_bytes: int = 4096, data_mode: str = "dma", accesses_per_request: int = 3,
           dma_setup_accesses: int = 2, interrupts: bool = True) -> TrapCounts:
    """Exact counts for one request; they follow from the mechanism in the module docstring.

    Parameters
    ----------
    request_bytes : int
        Bytes moved, 0..16 MiB.
    data_mode : str
        ``"pio"``, ``"string-pio"`` or ``"dma"`` (see ``DATA_MODES``).
    accesses_per_request : int
        Trapping register accesses that start the request (address, length, doorbell ...),
        1..64.
    dma_setup_accesses : int
        With ``dma``, the further accesses that program the transfer, 0..16.
    interrupts : bool
        The completion interrupt's EOI is one more, kernel-handled, exit (none if False).

    Returns
    -------
    TrapCounts
    """
    s, a, d = check_params(request_bytes, data_mode, accesses_per_request, dma_setup_accesses)
    if data_mode == "dma":
        regs, data_exits = a + d, 0
        pages = math.ceil(s / PAGE_SIZE)
        copies, copied = (1 if s else 0), s
    else:
        per = PIO_BYTES_PER_EXIT if data_mode == "pio" else STRING_PIO_BYTES_PER_EXIT
        regs, data_exits, pages = a, math.ceil(s / per), 0
        copies, copied = 2 * data_exits, 2 * s
    user = regs + data_exits
    irq = 1 if interrupts else 0
    return TrapCounts(regs, data_exits, user + irq, user, 2 * user, copies, copied, irq, pages)


def steps(request_bytes: int = 4096, data_mode: str = "dma", accesses_per_request: int = 3,
          dma_setup_accesses: int = 2, interrupts: bool = True,
          profile: CostProfile | str = "published") -> list[Step]:
    """The request's path as an ordered list of :class:`Step` (repeated groups collapsed).

    The parameters are those of :func:`counts`, and ``profile`` (a CostProfile, a name in
    ``costs.PROFILES`` or a .json file) gives each step's ns.
    """
    p = get_profile(profile)
    c = counts(request_bytes, data_mode, accesses_per_request, dma_setup_accesses, interrupts)
    s = int(request_bytes)
    out = [Step("guest", "guest", p.guest_ns_per_request, 1, "driver prepares the request")]

    def trap(n, what, chunk_bytes=0):
        if n == 0:
            return
        out.append(Step("cpu", "exit_entry", p.vmexit_ns / 2, n, f"VM exit: {what}"))
        out.append(Step("kvm", "kvm", p.kvm_exit_ns, n,
                        "KVM decodes the access, fills kvm_run (the I/O sharing page)"))
        if chunk_bytes:
            out.append(Step("kvm", "copy", chunk_bytes * p.copy_ns_per_byte, n,
                            f"KVM copies {chunk_bytes} B of guest data into kvm_run"))
        out.append(Step("kvm", "context_switch", p.user_exit_ns / 2, n,
                        "ioctl(KVM_RUN) returns to QEMU"))
        out.append(Step("qemu", "qemu", p.emulate_access_ns, n, "QEMU emulates the access"))
        if chunk_bytes:
            out.append(Step("qemu", "copy", chunk_bytes * p.copy_ns_per_byte, n,
                            f"QEMU copies {chunk_bytes} B out of kvm_run"))
        out.append(Step("qemu", "context_switch", p.user_exit_ns / 2, n,
                        "QEMU calls ioctl(KVM_RUN) again"))
        out.append(Step("cpu", "exit_entry", p.vmexit_ns / 2, n, "VM entry"))

    trap(accesses_per_request, "register access (program the device)")
    if data_mode == "dma":
        trap(dma_setup_accesses, "register access (DMA address/length/start)")
    if p.notify_ns:  # zero in profiles that count it inside emulate_access_ns
        out.append(Step("qemu", "qemu", p.notify_ns, 1,
                        "the device model takes the doorbell and starts the request"))
    if data_mode == "dma":
        if s:
            out.append(Step("qemu", "qemu", p.dma_map_ns_per_page, c.dma_pages,
                            "QEMU maps a guest page"))
            out.append(Step("qemu", "copy", s * p.copy_ns_per_byte, 1,
                            "QEMU moves the data straight to/from guest memory (DMA)"))
    else:
        per = PIO_BYTES_PER_EXIT if data_mode == "pio" else STRING_PIO_BYTES_PER_EXIT
        full, rest = divmod(s, per)
        trap(full, f"{data_mode} data exit", per)
        trap(1 if rest else 0, f"{data_mode} data exit (last chunk)", rest)
    out.append(Step("device", "device",
                    p.device_ns_per_request + s * p.device_ns_per_byte, 1,
                    "host driver and physical device do the I/O (vCPU waits)"))
    if interrupts:
        out.append(Step("kvm", "kvm", p.irq_inject_ns, 1,
                        "KVM injects the completion interrupt"))
        out.append(Step("cpu", "exit_entry", p.eoi_ns, 1,
                        "guest EOI traps (kernel-handled exit)"))
    return out


def stage_ns(step_list: list[Step]) -> np.ndarray:
    """Total ns per stage (ordered as :data:`STAGES`) of a list of steps."""
    out = np.zeros(len(STAGES))
    for st in step_list:
        out[_S[st.stage]] += st.ns * st.count
    return out


def request_ns(request_bytes: int = 4096, data_mode: str = "dma", accesses_per_request: int = 3,
               dma_setup_accesses: int = 2, interrupts: bool = True,
               profile: CostProfile | str = "published") -> float:
    """Time of one request on this path, start to finish (the sum of its steps, no jitter)."""
    return float(stage_ns(steps(request_bytes, data_mode, accesses_per_request,
                                dma_setup_accesses, interrupts, profile)).sum())


def crossover_bytes(sizes, slow: str = "string-pio", fast: str = "dma", **params):
    """The smallest of ``sizes`` (ascending) from which ``fast`` takes no longer than
    ``slow`` at that size and every larger one; None if there is none.  ``params`` go to
    :func:`request_ns` (accesses, setup accesses, profile)."""
    sizes = [int(s) for s in sizes]
    if sizes != sorted(sizes):
        raise ValueError("sizes must be ascending")
    wins = [request_ns(s, fast, **params) <= request_ns(s, slow, **params) for s in sizes]
    at = None
    for s, w in zip(reversed(sizes), reversed(wins)):
        if not w:
            break
        at = s
    return at
