"""``"vdpa"``: a virtio ring consumed by hardware (vhost-vdpa).  The guest runs the plain
virtio driver; the device's own data path reads the ring and the buffers by DMA; there is
no software back end per request.

A kick goes to the device's notification area.  When the device lets its notification
area be mapped into the guest (``notify_mapped``, QEMU's host notifiers), the write
reaches the device without an exit; otherwise it is an ioeventfd exit that vhost-vdpa
forwards to the device.  Interrupts come from the device's MSI-X through the irqfd the
vDPA driver signals, or posted directly to the vCPU (IRQ bypass) with
``interrupt_mode="posted"``.
"""

from __future__ import annotations

from functools import lru_cache

from .. import params as P
from ..costs import CostProfile
from ..params import Param
from . import ringpath
from .registry import Example, Path, register
from .ringpath import exit_vec
from .ringpath import stage_vec as sv


@lru_cache(maxsize=256)
def setup(s: int, mapped: bool, mode: str, prof: CostProfile):
    """The event loop's inputs (shared: do not modify)."""
    if mapped:
        kick = sv(guest=prof.doorbell_ns), exit_vec()
    else:  # an ioeventfd; the vhost-vdpa driver rings the device's doorbell
        kick = (
            sv(exit_entry=prof.vmexit_ns, kvm=prof.kvm_exit_ns + prof.notify_ns + prof.doorbell_ns),
            exit_vec(io=1),
        )
    return ringpath.hardware_setup(prof, s, mode, kick, suppress_interrupts=True)


def _run(p: dict, prof: CostProfile, rng):
    return ringpath.run(
        "vdpa",
        p,
        prof,
        rng,
        setup(p["request_bytes"], p["notify_mapped"], p["interrupt_mode"], prof),
    )


NOTIFY_MAPPED = Param(
    "notify_mapped",
    True,
    "",
    "the device's notification area is mapped "
    "into the guest (a kick reaches the device without an exit); else a "
    "kick is an ioeventfd exit the vhost-vdpa driver forwards",
    kind="bool",
)

PATH = register(
    Path(
        name="vdpa",
        label="vDPA (ring in hardware)",
        color="#56B4E9",
        doc="a virtio ring consumed by hardware: the virtio driver, no software back end",
        params=(
            *P.RING,
            NOTIFY_MAPPED,
            *P.VM_SCALE,
            *P.HOST,
            P.DEVICE_PARALLELISM,
            P.PROFILE,
            P.SEED,
        ),
        run=_run,
        examples=(
            Example(
                "virtio-net vDPA NIC",
                "send 1500 B, notify area mapped",
                "none",
                dict(request_bytes=1500),
            ),
        ),
    )
)
