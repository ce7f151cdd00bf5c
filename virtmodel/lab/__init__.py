"""The KVM lab: run tiny real guests, measure exits, and check the models against them.

Where ``/dev/kvm`` is usable (:func:`probe`), the lab runs the programs of
:mod:`virtmodel.lab.guests` in a minimal VMM (:mod:`virtmodel.lab.kvm`):

* :func:`microbench` (:mod:`~virtmodel.lab.microbench`): what each kind of exit costs;
* :func:`run_virtio` and :func:`run_emulated` (:mod:`~virtmodel.lab.experiments`): a mini
  virtio over a real split ring in guest memory (its variants: completions signalled by an
  MSI through an irqfd to a CPL0 handler, ``interrupts=True``; kicks through an ioeventfd
  to an I/O thread, ``ioeventfd=True``), and an emulated device programmed by trapping
  port writes, all verified request by request, their exits counted by the VMM, by the
  guest's handler and by KVM itself (:meth:`Machine.stats`);
* :mod:`~virtmodel.lab.calibrate`: a cost profile from the micro-benchmarks alone;
* :mod:`~virtmodel.lab.validate`: the calibrated model's predictions beside the
  experiments, and the error table.

Without KVM everything raises :class:`KVMUnavailable` with the reason.
"""

from __future__ import annotations

from ..ring import broken_reason  # noqa: F401 (re-exported for the lab's users)
from . import backends, guests  # noqa: F401
from .experiments import (
    DONE_PORT as DONE_PORT,
)
from .experiments import (
    EMU_PORT as EMU_PORT,
)
from .experiments import (
    NOTIFY_PORT as NOTIFY_PORT,
)
from .experiments import (
    LabResult,
    predicted_user_exits_per_request,
    run_emulated,
    run_virtio,
)
from .kvm import GuestError, GuestTimeout, KVMUnavailable, Machine, Probe, probe  # noqa: F401
from .microbench import microbench

__all__ = [
    "GuestError",
    "GuestTimeout",
    "KVMUnavailable",
    "LabResult",
    "Probe",
    "microbench",
    "predicted_user_exits_per_request",
    "probe",
    "run_emulated",
    "run_virtio",
]
