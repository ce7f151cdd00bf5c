"""The QEMU lab: QEMU 7.2's own device models driven from Python through qtest.

:mod:`~virtmodel.lab.qemu.process` runs ``qemu-system-x86_64 -qtest stdio -S`` (the guest
CPU never runs; this program is the guest driver), bounded by a watchdog, with guest RAM
shared with this process; :mod:`~virtmodel.lab.qemu.pci` sets PCI up as firmware would;
:mod:`~virtmodel.lab.qemu.virtio_blk` is a virtio-blk driver over the project's split ring;
:mod:`~virtmodel.lab.qemu.firmware` boots a guest of ours instead (its CPU runs, under TCG
or KVM) to time emulated register accesses;
:mod:`~virtmodel.lab.qemu.experiments` measures QEMU's virtio-blk back end with it,
:mod:`~virtmodel.lab.qemu.calibrate` makes cost profiles of the measurements, and
:func:`run` (:mod:`~virtmodel.lab.qemu.validate`) does it all and compares the model's
back-end half with QEMU (:func:`shipped`: the measurement shipped with virtmodel).
"""

from __future__ import annotations

from .figure import figure, picture
from .process import Qemu, QemuError, QemuTimeout, QemuUnavailable, binary, version
from .validate import Measurement, Row, run, shipped
from .virtio_blk import Completion, Request, VirtioBlk

__all__ = [
    "Completion",
    "Measurement",
    "Qemu",
    "QemuError",
    "QemuTimeout",
    "QemuUnavailable",
    "Request",
    "Row",
    "VirtioBlk",
    "binary",
    "figure",
    "picture",
    "run",
    "shipped",
    "version",
]
