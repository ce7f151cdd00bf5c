"""``"vhost-user"``: the virtio back end in another user-space process (SPDK, DPDK or a
libvhost-user daemon), sharing guest memory with QEMU's help.

The guest's driver and ring are those of ``"virtio"``.  A kick is an ioeventfd (an exit
handled in the kernel) whose eventfd the back-end process waits on; completions go back
through an irqfd.  Nothing exits to QEMU.  With ``backend_poll`` the process busy-polls
the ring instead: it never asks for a kick (so the guest's driver, asking the ring, does
not kick: with EVENT_IDX once per 65536 requests, when its index passes the stale
``avail_event``), sees each request at once, and spends a whole core doing so.
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
    return ringpath.run(
        "vhost-user",
        p,
        prof,
        rng,
        setup(p["request_bytes"], p["backend_poll"], p["interrupt_mode"], p["device_type"], prof),
        queues=p["queues"],
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
        color="#d35400",
        doc="the virtio back end in another user-space process; optionally busy-polling",
        params=(*P.VIRTQUEUE, BACKEND_POLL, P.QUEUES, *P.HOST, *P.DEVICE, P.PROFILE, P.SEED),
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
