"""The KVM lab: run tiny real guests, measure exits, and check the models against them.

Where ``/dev/kvm`` is usable (:func:`probe`), the lab runs the programs of
:mod:`virtmodel.lab.guests` in a minimal VMM (:mod:`virtmodel.lab.kvm`):

* :func:`microbench` (:mod:`~virtmodel.lab.microbench`): what each kind of exit costs;
* :func:`run_virtio` and :func:`run_emulated` (:mod:`~virtmodel.lab.experiments`): a mini
  virtio over a real split ring in guest memory, and an emulated device programmed by
  trapping port writes, both verified request by request;
* :mod:`~virtmodel.lab.calibrate`: a cost profile from the micro-benchmarks alone;
* :mod:`~virtmodel.lab.validate`: the calibrated model's predictions beside the
  experiments, and the error table.

Without KVM everything raises :class:`KVMUnavailable` with the reason.
"""

from __future__ import annotations

from ..ring import broken_reason  # noqa: F401 (re-exported for the lab's users)
from . import backends, guests  # noqa: F401
from .experiments import (DONE_PORT, EMU_PORT, NOTIFY_PORT, LabResult,  # noqa: F401
                          predicted_user_exits_per_request, run_emulated, run_virtio)
from .kvm import GuestError, GuestTimeout, KVMUnavailable, Machine, Probe, probe  # noqa: F401
from .microbench import microbench

__all__ = ["probe", "Probe", "run_virtio", "run_emulated", "microbench", "LabResult",
           "KVMUnavailable", "GuestError", "GuestTimeout", "predicted_user_exits_per_request"]
