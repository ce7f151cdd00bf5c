"""``"vhost"``: the virtio back end in the host kernel (Linux drivers/vhost).

The guest's driver and ring are those of ``"virtio"``.  A kick is always an ioeventfd (an
exit handled in the kernel, no decode) that wakes vhost's worker thread; the worker drains
the ring with notifications disabled (``vhost_disable_notify``), re-enables them and looks
again (``vhost_enable_notify``), and signals the guest through an irqfd after a batch
(``vhost_add_used_and_signal_n``).  vhost-net can busy-poll: with ``poll_ns`` (its
``busyloop_timeout``, QEMU's ``-netdev tap,poll-us=``) the worker spins on the ring for that
long with kicks disabled each time it finds it empty (``vhost_net_busy_poll``), a window
that never adapts; vhost-scsi has no busy loop.  Nothing goes to user space: no exit to QEMU, no QEMU
memory mapping per page.  vhost-net transmits by copying the packet into an skb (its
zero-copy mode is off by default); a block back end passes the request to the device.
"""

from __future__ import annotations

from functools import lru_cache

from .. import params as P
from ..costs import CostProfile
from . import ringpath
from .registry import Example, Path, register


@lru_cache(maxsize=512)
def setup(s: int, mode: str, device_type: str, prof: CostProfile):
    """The event loop's inputs for these parameters (shared: do not modify)."""
    return ringpath.software_setup(
        prof, s, mode, ringpath.ioeventfd_kick(prof), device_type, "kvm", maps_pages=False
    )._replace(poll_fixed=True, pass_limit=weight(s, device_type))


VHOST_SCSI_WEIGHT = 256
"""Commands vhost-scsi's handler takes before it requeues itself (drivers/vhost/scsi.c)."""
VHOST_NET_PKT_WEIGHT = 256
VHOST_NET_WEIGHT = 0x80000
"""Packets, and bytes, vhost-net's handler sends before it requeues itself
(drivers/vhost/net.c, ``vhost_exceeds_weight``)."""


def weight(s: int, device_type: str) -> int:
    """Requests of ``s`` bytes a vhost handler takes in one pass before it requeues its work
    (``vhost_exceeds_weight``, then ``vhost_poll_queue``) so the worker's other queues get
    their turn: kicks stay disabled and the pass resumes when the worker comes back to it."""
    if device_type == "net":
        return min(VHOST_NET_PKT_WEIGHT, -(-VHOST_NET_WEIGHT // max(s, 1)))
    return VHOST_SCSI_WEIGHT


def _run(p: dict, prof: CostProfile, rng):
    return ringpath.run(
        "vhost",
        p,
        prof,
        rng,
        setup(p["request_bytes"], p["interrupt_mode"], p["device_type"], prof),
        threads=p["backend_threads"],
    )


PATH = register(
    Path(
        name="vhost",
        label="vhost (in-kernel)",
        color="#E69F00",
        doc="the virtio back end in the host kernel: ioeventfd kicks, irqfd interrupts, no exit "
        "to user space",
        params=(
            *P.VIRTQUEUE,
            *P.VM_SCALE,
            P.VHOST_WORKERS,
            *P.HOST,
            *P.DEVICE,
            P.BUSYLOOP_NS,
            P.PROFILE,
            P.SEED,
        ),
        run=_run,
        examples=(
            Example(
                "vhost-net",
                "send 1500 B, 1 per kick",
                "kick (ioeventfd)",
                dict(request_bytes=1500, device_type="net"),
            ),
        ),
    )
)
