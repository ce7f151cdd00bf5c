"""``"vhost-user"``: the virtio back end in another user-space process (SPDK, DPDK or a
libvhost-user daemon), sharing guest memory with QEMU's help.

The guest's driver and ring are those of ``"virtio"``.  A kick is an ioeventfd (an exit
handled in the kernel) whose eventfd the back-end process waits on; completions go back
through an irqfd.  Nothing exits to QEMU.  A woken back end (libvhost-user's
``vu_queue_pop``, as qemu-storage-daemon's export uses it) runs QEMU's pass: kicks off
while it pops, re-armed (with EVENT_IDX, ``avail_event`` rewritten) when the ring is
empty.  With ``backend_poll`` the process busy-polls the ring instead, as SPDK's vhost
target does: SPDK masks EVENT_IDX out of the features it offers
(``SPDK_VHOST_DISABLED_FEATURES``) and sets ``VRING_USED_F_NO_NOTIFY`` for good when a
session starts (``rte_vhost_enable_guest_notification(..., 0)``), so the guest never kicks
and interrupts follow its ``VRING_AVAIL_F_NO_INTERRUPT`` flag; ``event_idx`` is then off
whatever was asked.  It sees each request at once and spends a whole core doing so.
"""

from __future__ import annotations

from functools import lru_cache

from .. import params as P
from ..costs import CostProfile
from ..params import Param
from . import ringpath
from .registry import Example, Path, register


@lru_cache(maxsize=512)
def setup(s: int, poll: bool, mode: str, device_type: str, prof: CostProfile):
    """The event loop's inputs for these parameters (shared: do not modify)."""
    return ringpath.software_setup(
        prof,
        s,
        mode,
        ringpath.ioeventfd_kick(prof),
        device_type,
        "qemu",
        maps_pages=False,
        polls=poll,
    )


def _run(p: dict, prof: CostProfile, rng):
    if p["backend_poll"]:  # SPDK does not offer EVENT_IDX
        p = {**p, "event_idx": False}
    return ringpath.run(
        "vhost-user",
        p,
        prof,
        rng,
        setup(p["request_bytes"], p["backend_poll"], p["interrupt_mode"], p["device_type"], prof),
        threads=p["backend_threads"],
    )


BACKEND_POLL = Param(
    "backend_poll",
    False,
    "",
    "the back-end process busy-polls the ring: no kicks and no wake-ups, one host core spent",
    kind="bool",
)

PATH = register(
    Path(
        name="vhost-user",
        label="vhost-user (user-space back end)",
        color="#CC79A7",
        doc="the virtio back end in another user-space process; optionally busy-polling",
        params=(
            *P.VIRTQUEUE,
            BACKEND_POLL,
            *P.VM_SCALE,
            P.USER_THREADS,
            *P.HOST,
            *P.DEVICE,
            P.PROFILE,
            P.SEED,
        ),
        run=_run,
        examples=tuple(
            Example(
                "vhost-user-blk (SPDK)",
                f"read 4 KiB, back end {'polling' if poll else 'woken by kicks'}",
                "none" if poll else "kick (ioeventfd)",
                dict(request_bytes=4096, backend_poll=poll),
            )
            for poll in (False, True)
        ),
    )
)
