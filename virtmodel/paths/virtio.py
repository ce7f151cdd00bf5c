"""``"virtio"``: a virtio driver and QEMU's virtio back end share a split ring.

:mod:`virtmodel.ringsim` runs :mod:`virtmodel.ring`: kicks, interrupts and halts happen when
the ring's suppression logic and the actors' states ask for them.

* The kick is a write to the queue's notify address (``notify_by="mmio"``, virtio-pci 1.0;
  legacy virtio-pci's notify register is a port, ``"pio"``).  With ``ioeventfd`` (QEMU's
  default for virtio-pci) KVM matches it in the kernel (an MMIO notify on the fast-MMIO bus)
  with no instruction decode and signals an eventfd that wakes QEMU's I/O thread (an
  IOThread or the main loop).  Without, the exit goes to user space (an MMIO write decoded
  first), and QEMU drains the ring in the vCPU thread before the exit returns.
* QEMU disables notifications while it drains (``virtio_blk_handle_vq``), re-enables them
  and looks once more when the ring looks empty; since QEMU 5.0 ("virtio: don't enable
  notifications during polling") it leaves them off while an IOThread's poll section has
  disabled them.
* ``device_type="blk"``: the popped buffers go to the host block layer as they are (mapped
  guest memory, no copy with cache=none); the physical device serves them.  ``"net"``: the
  packet is written to a tap device, which copies it into the host's network stack.
* Completions return used in passes; QEMU defers the irqfd write to the end of the pass and
  writes it at most once (QEMU 8.2's defer_call; the used ring's suppression decides).
"""

from __future__ import annotations

from functools import lru_cache

from .. import params as P
from ..costs import CostProfile
from . import ringpath
from .registry import Example, Path, register
from .ringpath import exit_vec
from .ringpath import stage_vec as sv


@lru_cache(maxsize=512)
def setup(s: int, ioeventfd: bool, notify_by: str, mode: str, device_type: str, prof: CostProfile):
    """The event loop's inputs for these parameters (shared: do not modify)."""
    if ioeventfd:
        kick = ringpath.ioeventfd_kick(prof, notify_by)
    else:  # to QEMU in user space, which drains the ring inside the exit
        decode = prof.mmio_decode_ns if notify_by == "mmio" else 0.0
        kick = (
            sv(
                exit_entry=prof.vmexit_ns,
                kvm=prof.kvm_exit_ns + decode,
                context_switch=prof.user_exit_ns,
                qemu=prof.emulate_access_ns + prof.notify_ns,
            ),
            exit_vec(io=1, user=1),
        )
    return ringpath.software_setup(
        prof,
        s,
        mode,
        kick,
        device_type,
        "qemu",
        maps_pages=True,
        kick_sync=not ioeventfd,
        submit_per_pass=device_type == "blk",
    )


def _run(p: dict, prof: CostProfile, rng):
    return ringpath.run(
        "virtio",
        p,
        prof,
        rng,
        setup(
            p["request_bytes"],
            p["ioeventfd"],
            p["notify_by"],
            p["interrupt_mode"],
            p["device_type"],
            prof,
        ),
        threads=max(1, p["backend_threads"]),  # 0: the main loop, one thread
    )


PATH = register(
    Path(
        name="virtio",
        label="virtio (QEMU)",
        color="#0072B2",
        doc="a virtio driver and QEMU's back end share a split ring",
        params=(
            *P.VIRTQUEUE,
            *P.VM_SCALE,
            P.IOTHREADS,
            P.IOEVENTFD,
            P.NOTIFY_BY,
            P.POLL_NS,
            *P.HOST,
            *P.DEVICE,
            P.PROFILE,
            P.SEED,
        ),
        run=_run,
        examples=tuple(
            Example(
                what,
                f"{size} B, {batch} per kick",
                "kick (ioeventfd)",
                dict(request_bytes=size, batch=batch, device_type=kind),
            )
            for size, what, kind in ((4096, "virtio-blk", "blk"), (1500, "virtio-net", "net"))
            for batch in (1, 16)
        ),
    )
)
