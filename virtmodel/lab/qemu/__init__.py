"""The QEMU lab: QEMU 7.2's own device models driven from Python through qtest.

:mod:`~virtmodel.lab.qemu.process` runs ``qemu-system-x86_64 -qtest stdio -S`` (the guest
CPU never runs; this program is the guest driver), bounded by a watchdog, with guest RAM
shared with this process; :mod:`~virtmodel.lab.qemu.pci` sets PCI up as firmware would;
:mod:`~virtmodel.lab.qemu.virtio_blk` is a virtio-blk driver over the project's split ring.
"""

from __future__ import annotations

from .process import Qemu, QemuError, QemuTimeout, QemuUnavailable, binary, version
from .virtio_blk import Completion, Request, VirtioBlk

__all__ = [
    "Completion",
    "Qemu",
    "QemuError",
    "QemuTimeout",
    "QemuUnavailable",
    "Request",
    "VirtioBlk",
    "binary",
    "version",
]
