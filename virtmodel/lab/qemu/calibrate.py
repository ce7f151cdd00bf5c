"""QEMU back-end costs for :class:`virtmodel.costs.CostProfile`, from the QEMU lab's
micro-benchmarks alone, one profile per back end (null-co, or a tmpfs file with an
``aio=`` mode).

How the measurements map onto the model's back-end fields (``virtmodel.paths.ringpath``
``software_setup`` charges them): per wake-up by a kick ``notify_ns``, per interrupt
``signal_ns``, per request ``virtio_ns_per_request`` (plus ``dma_map_ns_per_page`` per
page) and ``host_io_ns_per_request``.

* ``notify_ns``: the CPU of a kick that finds nothing new (the IOThread wakes on its
  eventfd, runs the handler, pops nothing, re-arms kicks), at most the fixed part of a
  null-co pass (below); for a
  file back end plus what its passes cost more than null-co's per pass (the io_uring enter
  or io_submit, the completion's event) -- the model has no per-pass host I/O cost.
* ``signal_ns``: the rest of the fixed part of a pass of null-co requests (the fit's
  per-pass cost less ``notify_ns``): completing (the notify bottom half, the irqfd).
* ``virtio_ns_per_request``: the fit's per-request cost with null-co (pop, parse, map
  the 4 KiB buffer, submit to null-co, complete, push used); ``dma_map_ns_per_page`` is 0
  since the mapping of the lab's one-page requests is inside it.
* ``host_io_ns_per_request``: a file back end's per-request cost less null-co's.
* ``emulate_access_ns``: one read of the IDE status register by a real guest under TCG
  (:func:`~.experiments.ide_guest_cost`): QEMU's device model and the memory API's
  dispatch to it, as QEMU runs them after a KVM exit too, plus TCG's helper call (a few
  ns; said so in the source).  Without that measurement, the modern profile's.
* ``pio_element_ns``: one element of a real guest's ``rep insw`` from the IDE data port
  under TCG, from the same measurement.
* ``device_ns_*`` = 0: null-co and tmpfs have no device; their work is the CPU above.

Every other field is the modern profile's, its source kept.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from ... import costs
from .experiments import Fit, IdeGuestCost


def _measured(note: str, where: str) -> dict:
    return {"status": "measured", "source": f"{note} ({where})"}


def profile_from(
    backend: str,
    fits: dict[str, Fit],
    empty_kick_ns: float,
    where: str,
    register: IdeGuestCost | None = None,
) -> costs.CostProfile:
    """The profile of ``backend`` from the per-pass/per-request ``fits`` (by back end; must
    hold ``"null"`` and ``backend``), the warm empty kick's CPU and (if given) a real
    guest's register accesses under TCG; ``where`` names the QEMU version, host and date
    for every source."""
    null, own = fits["null"], fits[backend]
    if null.per_pass_ns <= 0:
        raise ValueError(
            f"measurements inconsistent: null-co's fixed part of a pass fits to "
            f"{null.per_pass_ns:.0f} ns (it must be > 0)"
        )
    # The fixed part of a pass is a kick's wake-up and a completion's signal; the empty
    # kick measures the first.  When it costs as much as the whole fixed part (it does on
    # the VM this was written on: the completion's bottom half and irqfd write are lost in
    # the wake-up's noise) all of it is the kick's, and the source says so.
    notify = min(empty_kick_ns, null.per_pass_ns)
    signal = null.per_pass_ns - notify
    fitted_extra = own.per_pass_ns - null.per_pass_ns
    extra_req = own.per_request_ns - null.per_request_ns
    # A back end whose per-request cost grows with the batch (aio=threads: more thread-pool
    # workers woken) fits a per-pass part below null-co's, even below 0: the profile then
    # takes no extra per-pass cost, says so, and the validation shows the miss.
    extra_pass = max(fitted_extra, 0.0)
    file_note = (
        ""
        if backend == "null"
        else f" + {extra_pass:.0f} ns: a pass with aio={backend} less a pass with null-co"
        + (
            f" (the fit gave {fitted_extra:.0f} ns: its cost per request is not constant)"
            if fitted_extra < 0
            else ""
        )
    )
    fields = dict(
        notify_ns=(
            notify + (extra_pass if backend != "null" else 0.0),
            _measured(
                f"QEMU IOThread CPU of a kick finding nothing new, 200 µs after the last "
                f"({empty_kick_ns:.0f} ns), "
                f"at most the fixed part of a null-co pass ({null.per_pass_ns:.0f} ns)"
                f"{file_note}",
                where,
            ),
        ),
        signal_ns=(
            signal,
            _measured(
                f"fixed part of a null-co pass ({null.per_pass_ns:.0f} ns, least squares over "
                f"batches {list(null.batches)}) less the kick's part ({notify:.0f} ns): "
                f"completing the pass (notify bottom half, irqfd)",
                where,
            ),
        ),
        virtio_ns_per_request=(
            null.per_request_ns,
            _measured(
                "per-request part of a null-co pass (least squares over batches "
                f"{list(null.batches)}): pop, parse, map a 4 KiB buffer, submit, complete, "
                "push used",
                where,
            ),
        ),
        dma_map_ns_per_page=(
            0.0,
            {
                "status": "derived",
                "source": "inside virtio_ns_per_request (the lab's requests are one page)",
            },
        ),
        host_io_ns_per_request=(
            max(extra_req, 0.0) if backend != "null" else 0.0,
            _measured(
                f"per-request part with aio={backend} on tmpfs (O_DIRECT) less null-co's: "
                f"{extra_req:.0f} ns"
                + (" (below null-co's: taken as 0, within the noise)" if extra_req < 0 else ""),
                where,
            )
            if backend != "null"
            else {"status": "derived", "source": "null-co does no host I/O"},
        ),
        device_ns_per_request=(
            0.0,
            {"status": "derived", "source": "null-co / tmpfs: no device; its work is CPU"},
        ),
        device_ns_per_byte=(
            0.0,
            {"status": "derived", "source": "null-co / tmpfs: no device; its work is CPU"},
        ),
    )
    if register is not None:
        if register.accel != "tcg":
            raise ValueError(
                f"register must be measured under TCG (QEMU's own cost), got {register.accel!r}"
            )
        if not 0 < register.register_ns < 1e6:
            raise ValueError(
                f"measurements inconsistent: an emulated register access fits to "
                f"{register.register_ns:.1f} ns (it must be in 0..1e6)"
            )
        fields["emulate_access_ns"] = (
            register.register_ns,
            _measured(
                f"a real guest's read of QEMU's IDE status register (port 0x1f7) under TCG, "
                f"less an empty loop iteration ({register.register_ns:.1f} ns): the vCPU thread's "
                f"CPU, least squares over "
                f"{[n for n, _, _ in register.points['status']]} "
                f"reads, medians of {register.repeats} QEMU processes; QEMU's device model "
                f"and dispatch plus TCG's helper call (accelerator tcg)",
                where,
            ),
        )
        fields["pio_element_ns"] = (
            register.pio_element_ns,
            _measured(
                f"one element of a real guest's rep insw from QEMU's IDE data port under TCG "
                f"({register.pio_element_ns:.1f} ns: IDENTIFY DEVICE less CHECK POWER MODE "
                f"over its 256 words): the memory API's dispatch and ide_data_readw, as "
                f"kvm_handle_io runs them per element, plus TCG's loop (accelerator tcg)",
                where,
            ),
        )
    sources = dict(costs.MODERN.sources)
    values: dict[str, Any] = {}
    for k, (v, s) in fields.items():
        values[k] = float(v)
        sources[k] = s
    date = datetime.date.today().isoformat()
    return dataclasses.replace(
        costs.MODERN,
        name=f"qemu-lab-{backend}-{date}",
        description=f"QEMU's virtio-blk back end ({backend}) measured by the QEMU lab: {where}; "
        "the rest from the modern profile",
        sources=sources,
        **values,
    )


def charged(profile: costs.CostProfile, kicks: float, interrupts: float) -> float:
    """The back-end CPU per request the model's charges come to at the given kicks and
    interrupts per request (``ringpath.software_setup``'s ``notify_ns`` per kick,
    ``signal_ns`` per interrupt, the per-request work and host I/O): the model's costs at
    QEMU's counts, to tell a miss in the counts from a miss in the costs."""
    return (
        kicks * profile.notify_ns
        + interrupts * profile.signal_ns
        + profile.virtio_ns_per_request
        + profile.dma_map_ns_per_page
        + profile.host_io_ns_per_request
    )
