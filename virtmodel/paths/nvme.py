"""``"nvme"``: QEMU's emulated NVMe controller (hw/nvme) and Linux's nvme driver.

Emulated, yet built like virtio: the submission and completion queues live in guest memory
(here, the ring), and the only trapping accesses are two doorbells per I/O: the
submission-queue tail after the driver queues a command (once per batch of submissions),
and the completion-queue head after its interrupt handler consumed the completions.

* Each doorbell is an MMIO write that KVM decodes and, with QEMU's default
  ``ioeventfd=off``, hands to QEMU in user space; the SQ doorbell schedules QEMU's
  submission processing in its main loop, which then wakes.
* ``shadow_doorbell`` (NVMe 1.3's Doorbell Buffer Config, which QEMU implements since 7.1
  and Linux uses when offered): the driver writes the doorbell values to shared memory and
  rings the real doorbell only when the controller's EventIdx asks for it, by the same
  rule as virtio's ``need_event``.  An idle controller has caught up, so at queue depth 1
  both doorbells still trap; they are saved only while the controller is busy.  Without
  shadow doorbells nothing suppresses them.
* Without shadow doorbells the controller's SQ tail is what the driver last wrote to the
  doorbell (QEMU hw/nvme/ctrl.c ``nvme_process_db``; ``nvme_process_sq`` stops there), so
  it takes a command only once its doorbell write has landed, however long the command
  has sat in memory (``RingSetup.doorbell_tail``).
* Completions raise an MSI-X interrupt per pass of completions (no interrupt coalescing:
  the controller never consults the driver's progress before interrupting).  The driver's
  handler reads every new completion, then rings the CQ-head doorbell (Linux
  drivers/nvme/host/pci.c: ``nvme_ring_cq_doorbell`` after the loop in ``nvme_poll_cq``):
  a completion posted during that write waits for its own interrupt.
"""

from __future__ import annotations

import math
from functools import lru_cache

from .. import params as P
from .. import ringsim as rs
from ..costs import CostProfile
from ..params import Param
from ..spec import PAGE_SIZE
from . import ringpath
from .registry import Example, Path, register
from .ringpath import RingSetup, exit_vec
from .ringpath import stage_vec as sv


def doorbell(prof: CostProfile, ioeventfd: bool):
    """(cost, exits) of one doorbell write: an MMIO exit, decoded; to QEMU in user space
    unless it is an ioeventfd."""
    if ioeventfd:
        return (
            sv(exit_entry=prof.vmexit_ns, kvm=prof.kvm_exit_ns + prof.mmio_decode_ns),
            exit_vec(io=1),
        )
    return (
        sv(
            exit_entry=prof.vmexit_ns,
            kvm=prof.kvm_exit_ns + prof.mmio_decode_ns,
            context_switch=prof.user_exit_ns,
            qemu=prof.emulate_access_ns,
        ),
        exit_vec(io=1, user=1),
    )


@lru_cache(maxsize=512)
def setup(s: int, shadow: bool, cq_eventidx: bool, ioeventfd: bool, mode: str, prof: CostProfile):
    """The event loop's inputs for these parameters (shared: do not modify)."""
    cost, exits = ringpath.action_matrices()
    cost[rs.A_SUBMIT] = sv(guest=prof.guest_ns_per_request)
    db_cost, db_exits = doorbell(prof, ioeventfd)
    cost[rs.A_KICK] = db_cost + sv(qemu=prof.notify_ns)
    exits[rs.A_KICK] = db_exits
    cost[rs.A_WAKE_BACKEND] = sv(context_switch=prof.wakeup_ns)
    cost[rs.A_WAKE_FOR_COMPLETION] = sv(context_switch=prof.wakeup_ns)
    cost[rs.A_POP] = sv(
        qemu=prof.virtio_ns_per_request + math.ceil(s / PAGE_SIZE) * prof.dma_map_ns_per_page
    )
    cost[rs.A_POP] += sv(kvm=prof.host_io_ns_per_request)  # the host's I/O stack
    cost[rs.A_SERVICE] = sv(device=prof.device_ns_per_request + s * prof.device_ns_per_byte)
    cost[rs.A_SIGNAL] = sv(qemu=prof.signal_ns)
    # the handler rings the CQ-head doorbell: with shadow doorbells too, since QEMU
    # publishes the head it knows as the EventIdx when it posts; before QEMU 8.0 (7.2.1 in
    # the stable series) it never updated the CQ EventIdx, which stayed 0, so the guest almost never rang it
    cq_rings = not shadow or cq_eventidx
    ringpath.interrupt_rows(
        cost, exits, prof, mode, tail_ns=db_cost * cq_rings, tail_exits=db_exits * cq_rings
    )
    # without shadow doorbells the controller knows only the SQ tail written to its
    # doorbell register (QEMU's nvme_process_db sets sq->tail from the MMIO write, and
    # nvme_process_sq stops there); with them it reads the tail the driver keeps in memory
    return RingSetup(
        cost,
        exits,
        kick_sync=False,
        suppress_kicks=shadow,
        suppress_interrupts=False,
        halt_poll_ns=prof.halt_poll_ns,
        copied=0.0,
        software_backend=True,
        doorbell_tail=not shadow,
        rearm_every_pop=shadow,
    )


def _run(p: dict, prof: CostProfile, rng):
    q = {**p, "event_idx": p["shadow_doorbell"], "device_type": "blk"}
    # QEMU registers the doorbells' ioeventfds only when the driver sets up shadow
    # doorbells (hw/nvme/ctrl.c nvme_dbbuf_config); without them ioeventfd=on changes nothing
    return ringpath.run(
        "nvme",
        q,
        prof,
        rng,
        setup(
            p["request_bytes"],
            p["shadow_doorbell"],
            p["cq_eventidx"],
            p["ioeventfd"] and p["shadow_doorbell"],
            p["interrupt_mode"],
            prof,
        ),
        threads=1,  # QEMU's main loop serves every queue
    )


_QUEUE = tuple(x for x in P.RING if x.name != "event_idx")
CQ_EVENTIDX = Param(
    "cq_eventidx",
    True,
    "",
    "with shadow doorbells, QEMU publishes a CQ "
    "EventIdx when it posts completions (since QEMU 8.0, commit fa5db2aa168b, "
    "backported to 7.2.1; "
    "the first implementation never did, so the guest almost never rang the "
    "CQ-head doorbell)",
    kind="bool",
)

PATH = register(
    Path(
        name="nvme",
        label="emulated NVMe",
        color="#882255",
        doc="QEMU's emulated NVMe: queues in guest memory, an SQ-tail and a CQ-head doorbell",
        params=(
            *_QUEUE,
            *P.VM_SCALE,
            P.SHADOW_DOORBELL,
            CQ_EVENTIDX,
            P.NVME_IOEVENTFD,
            *P.HOST,
            P.DEVICE_PARALLELISM,
            P.PROFILE,
            P.SEED,
        ),
        run=_run,
        examples=tuple(
            Example(
                "NVMe (QEMU hw/nvme)",
                f"read 4 KiB, shadow doorbells {'on' if sd else 'off'}",
                "SQ tail + CQ head doorbells",
                dict(request_bytes=4096, shadow_doorbell=sd),
            )
            for sd in (False, True)
        ),
    )
)
