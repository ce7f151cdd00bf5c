"""Validation: does the calibrated model predict the lab's experiments?

Each lab experiment has a model twin, given by :func:`model_params`:

``run_virtio(batch=B, request_bytes=S, requests=N, queue_size=Q)`` ("virtio")
    ``simulate("virtio", batch=B, request_bytes=S, requests=N, queue_size=Q,
    ioeventfd=False, interrupts=False, event_idx=False)``: the kick is an exit to user space
    during which the device drains the ring (the lab has no I/O thread unless asked), the
    guest polls the used ring instead of taking interrupts, and it kicks after every batch
    without looking at the event index.
``run_virtio(..., interrupts=True)`` ("virtio+irq")
    the same with ``interrupts=True, interrupt_mode=M``: the device signals the pass with
    an MSI through an irqfd inside the kick's exit, KVM injects it on the entry, and the
    guest's handler (CPL0; its EOI a trapping write to the local APIC) reports the used
    index.  M is what this host's KVM does (:func:`virtmodel.lab.kvm.interrupt_mode`,
    recorded in the result's parameters): "legacy" on PVM, which has no posted interrupts.
``run_virtio(..., ioeventfd=True)`` ("virtio+iothread")
    the same as "virtio" with ``ioeventfd=True``: the kick ends in the kernel, whose
    eventfd wakes the back end's I/O thread; the guest polls the used ring meanwhile.
``run_emulated(registers=R, request_bytes=S, requests=N)``
    ``simulate("emulated", accesses_per_request=R, data_mode="dma",
    dma_setup_accesses=0, interrupts=False, request_bytes=S, requests=N)``: R trapping
    register writes, the device reads the request straight out of guest memory on the
    doorbell and completes it before the guest resumes.

The prediction is :func:`predict`'s ``Result.us_per_request`` (elapsed simulated time per
request, in µs), to be compared with ``LabResult.us_per_request`` (the median over runs of
elapsed wall time per request).  :func:`run_grid` runs the B x S grid and :func:`compare`
makes the error table.
"""

from __future__ import annotations

import datetime
import json
import platform
import random
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import costs
from ..paths import Result, simulate
from ..spec import check_int
from ..sweep import points
from .calibrate import device_once, device_summary, host_cpu, host_kvm, profile_from
from .experiments import (
    VIRTIO_VARIANTS,
    LabResult,
    emulated_once,
    emulated_params,
    summarize,
    virtio_once,
    virtio_params,
)
from .microbench import micro_once
from .microbench import summary as micro_summary

VARIANTS = ("virtio", "virtio+irq", "virtio+iothread")
"""The virtio variants of the grid (keys of ``experiments.VIRTIO_VARIANTS``)."""
BATCHES = (1, 4, 16, 64)
REQUEST_SIZES = (64, 1500, 4096, 65536)
REGISTERS = (1, 3)
TARGET_MEDIAN_ERROR = 0.10


def model_params(lab_result) -> tuple[str, dict]:
    """The ``simulate`` path and parameters that model one lab experiment."""
    p = lab_result.params
    if lab_result.experiment in VIRTIO_VARIANTS:
        # the lab's guest kicks with a port write and polls the used ring or takes an
        # interrupt; its back end copies every request out of guest memory, as a network
        # back end does
        irq = p.get("interrupts", False)
        return "virtio", dict(
            batch=p["batch"],
            request_bytes=p["request_bytes"],
            requests=p["requests"],
            queue_size=p["queue_size"],
            ioeventfd=p["ioeventfd"],
            interrupts=irq,
            event_idx=False,
            notify_by="pio",
            device_type="net",
            **({"interrupt_mode": p["interrupt_mode"]} if irq else {}),
        )
    if lab_result.experiment == "emulated":
        return "emulated", dict(
            accesses_per_request=p["registers"],
            request_bytes=p["request_bytes"],
            requests=p["requests"],
            data_mode="dma",
            dma_setup_accesses=0,
            interrupts=False,
        )
    raise ValueError(f"no model for lab experiment {lab_result.experiment!r}")


def predict(lab_result, profile) -> Result:
    """The model's run of a lab experiment (its twin: :func:`model_params`).

    Parameters
    ----------
    lab_result : LabResult
        A measured experiment (its ``experiment`` and ``params`` are used).
    profile : CostProfile or str
        The costs (see :func:`virtmodel.costs.get`).

    Returns
    -------
    Result
        Its ``us_per_request`` is the prediction, its ``user_exits_per_request`` the
        predicted exits to user space.
    """
    path, params = _twin(lab_result, profile)
    return simulate(path, **params)


def _twin(lab_result, profile) -> tuple[str, dict]:
    """The model's run of a lab experiment with ``profile``: (path, parameters)."""
    path, params = model_params(lab_result)
    return path, dict(params, profile=costs.get(profile), seed=0)


@dataclass(frozen=True)
class Row:
    """One cell of the error table."""

    experiment: str  # a virtio variant or "emulated"
    knob: int  # batch (virtio) or registers (emulated)
    request_bytes: int
    measured_us: float
    spread: float
    predicted_us: float
    measured_user_exits: float  # exits to user space per request
    predicted_user_exits: float
    measured_min: float  # fastest and slowest run, µs per request
    measured_max: float
    measured_interrupts: float = 0.0  # interrupts per request: the guest's handler's count
    predicted_interrupts: float = 0.0
    measured_kvm_exits: float | None = None  # every exit per request, KVM's own count
    #   (less those of the host's interrupts; None in files from before 2026-11-25)
    predicted_exits: float = 0.0  # the model's exits_per_request

    @property
    def knob_label(self) -> str:
        """ "batch 4", "1 register", "3 registers"."""
        if self.experiment != "emulated":
            return f"batch {self.knob}"
        return f"{self.knob} register{'s' if self.knob > 1 else ''}"

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return (self.predicted_us - self.measured_us) / self.measured_us


def compare(results, profile) -> list[Row]:
    """Predicted beside measured for each lab result."""
    rows = []
    for r, pred in zip(results, points([_twin(r, profile) for r in results])):
        knob = r.params["registers"] if r.experiment == "emulated" else r.params["batch"]
        rows.append(
            Row(
                r.experiment,
                knob,
                r.params["request_bytes"],
                r.us_per_request,
                r.spread,
                pred.us_per_request,
                r.user_exits_per_request,
                pred.user_exits_per_request,
                min(r.runs_us),
                max(r.runs_us),
                r.interrupts_per_request,
                pred.interrupts_per_request,
                r.kvm_exits_per_request,
                pred.exits_per_request,
            )
        )
    return rows


def median_abs_error(rows) -> float:
    return statistics.median(abs(r.error) for r in rows)


@dataclass
class Measurement:
    """Everything one :func:`measure` took: micro-benchmark medians (guest and host), the
    grid's lab results, and the profile calibrated from the micro-benchmarks alone."""

    micro: dict
    device: dict
    results: list
    profile: object  # costs.CostProfile
    seconds: float
    date: str  # ISO date of the measurement

    def rows(self, profile=None) -> list[Row]:
        return compare(self.results, profile or self.profile)


def grid_cells(
    batches=BATCHES,
    sizes=REQUEST_SIZES,
    registers=REGISTERS,
    requests: int = 20_000,
    emulated_requests: int = 5000,
    variants=VARIANTS,
) -> list[tuple[str, dict]]:
    """The validated (experiment, parameters) of every grid cell: each virtio variant over
    batches x sizes, then the emulated device over registers x sizes."""
    unknown = [v for v in variants if v not in VIRTIO_VARIANTS]
    if unknown or not variants:
        raise ValueError(
            f"variants must be some of {sorted(VIRTIO_VARIANTS)}, got {list(variants)}"
        )
    cells = [
        (
            v,
            virtio_params(
                b, s, requests, ioeventfd=VIRTIO_VARIANTS[v][0], interrupts=VIRTIO_VARIANTS[v][1]
            ),
        )
        for v in variants
        for b in batches
        for s in sizes
    ]
    cells += [
        ("emulated", emulated_params(r, s, emulated_requests)) for r in registers for s in sizes
    ]
    return cells


def measure(
    batches=BATCHES,
    sizes=REQUEST_SIZES,
    registers=REGISTERS,
    requests: int = 20_000,
    emulated_requests: int = 5000,
    repeats: int = 5,
    ops: int = 20_000,
    seed: int = 0,
    progress=None,
    variants=VARIANTS,
) -> Measurement:
    """Calibrate and run the grid, interleaved.

    The machine drifts (on a shared 2-core host, by several percent over tens of seconds),
    so a calibration taken before the grid describes another machine than the one the grid
    ran on.  Here every repeat takes one sample of every micro-benchmark and one run of
    every cell, in a shuffled order; the medians of both therefore sample the same span of
    time.  One warm-up run of each cell comes first and is dropped."""
    check_int(repeats, "repeats", 1, 100)
    t0 = time.perf_counter()
    cells = grid_cells(batches, sizes, registers, requests, emulated_requests, variants)
    once = {**dict.fromkeys(VIRTIO_VARIANTS, virtio_once), "emulated": emulated_once}
    micro, dev = [], []
    runs = [[] for _ in cells]
    # each job: where its samples go, and one sample
    jobs = [(micro, lambda: micro_once(ops)), (dev, lambda: device_once(ops))] + [
        (sink, lambda kind=kind, p=p: once[kind](p)) for sink, (kind, p) in zip(runs, cells)
    ]
    rng = random.Random(seed)
    for rep in range(repeats + 1):
        rng.shuffle(jobs)
        for sink, sample in jobs:
            got = sample()
            if rep:  # repeat 0 warms up
                sink.append(got)
        if progress:
            progress(rep, repeats)
    m, d = micro_summary(micro, ops), device_summary(dev, ops)
    results = [summarize(kind, p, r) for (kind, p), r in zip(cells, runs)]
    date = datetime.date.today().isoformat()
    return Measurement(m, d, results, profile_from(m, d, date=date), time.perf_counter() - t0, date)


FORMAT = "virtmodel-lab-measurement/1"

HEADER = ("host_cpu", "flavour", "date", "kernel", "python", "command")


def header(m: Measurement, command: str = "") -> dict:
    """Where and how ``m`` was measured (run here, now): the keys of :data:`HEADER`."""
    return dict(
        host_cpu=host_cpu(),
        flavour=m.micro["flavour"],
        date=m.date,
        kernel=platform.release(),
        python=platform.python_version(),
        command=command,
    )


def save(m: Measurement, path, command: str = "") -> None:
    """Write a measurement as JSON (what the package ships in ``virtmodel/data``)."""
    data = dict(
        format=FORMAT,
        **header(m, command),
        seconds=round(m.seconds, 1),
        micro=m.micro,
        device=m.device,
        results=[dict(asdict(r), runs_us=list(r.runs_us)) for r in m.results],
        profile=m.profile.to_dict(),
    )
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def _renamed(result: dict) -> dict:
    """A saved LabResult with the names of today (files before 2026-12 called the exits to
    user space ``exits_per_request``)."""
    if "exits_per_request" in result:
        result["user_exits_per_request"] = result.pop("exits_per_request")
    return result


def _profile_fields(profile: dict, flavour: str) -> dict:
    """A saved profile with the cost fields of today: files before 2026-12 have no
    ``wake_entry_ns``, which the lab never splits off its exit round trips (0, as
    :func:`virtmodel.lab.calibrate.profile_from` sets it), nor ``pio_element_ns`` and the
    KVM flags (as the calibration sets them for the file's KVM flavour)."""

    profile = dict(profile, sources=dict(profile.get("sources", {})))
    if "wake_entry_ns" not in profile:
        profile["wake_entry_ns"] = 0.0
        profile["sources"]["wake_entry_ns"] = {
            "status": "derived",
            "source": "0: included in vmexit_ns",
        }
    for k, (v, s) in host_kvm(flavour).items():
        if k not in profile:
            profile[k] = v
            profile["sources"][k] = s
    return profile


def load(path) -> tuple[Measurement, dict]:
    """Read a measurement written by :func:`save`; returns it and the file's header (host
    CPU, flavour, date, kernel, command)."""
    data = json.loads(Path(path).read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a lab measurement ({FORMAT})")
    results = [LabResult(**_renamed(dict(d, runs_us=tuple(d["runs_us"])))) for d in data["results"]]
    m = Measurement(
        data["micro"],
        data["device"],
        results,
        costs.CostProfile(**_profile_fields(data["profile"], data.get("flavour", "?"))),
        data["seconds"],
        data["date"],
    )
    return m, {k: data[k] for k in HEADER}


def shipped(name: str | None = None) -> tuple[Measurement, dict]:
    """The shipped lab measurement behind profile ``name`` (default
    :data:`virtmodel.costs.MEASURED`), read from its file in ``virtmodel/data``.  Needs no
    KVM.

    Returns
    -------
    tuple of (Measurement, dict)
        The measurement and its header: host CPU, KVM flavour, date, kernel, Python and
        the command that made it.

    Raises
    ------
    ValueError
        No shipped measurement has that name.
    """
    name = name or costs.MEASURED
    if name not in costs.SHIPPED:
        raise ValueError(
            f"no shipped lab measurement named {name!r}; shipped: {sorted(costs.SHIPPED)}"
        )
    return load(costs.SHIPPED[name])


def table_text(rows) -> str:
    """The error table as fixed-width text (for the CLI)."""
    lines = [
        (
            f"{'experiment':<16}{'B/regs':>7}{'bytes':>8}{'measured µs':>13}{'spread':>8}"
            f"{'model µs':>10}{'error':>8}{'user exits (lab/model)':>25}"
            f"{'irqs (lab/model)':>19}{'all exits (KVM/model)':>24}"
        )
    ]
    for r in rows:
        kvm = "-" if r.measured_kvm_exits is None else f"{r.measured_kvm_exits:.4f}"
        lines.append(
            f"{r.experiment:<16}{r.knob:>7}{r.request_bytes:>8}"
            f"{r.measured_us:>13.3f}{r.spread:>8.0%}{r.predicted_us:>10.3f}"
            f"{r.error:>+8.1%}{r.measured_user_exits:>16.4f} / "
            f"{r.predicted_user_exits:.4f}{r.measured_interrupts:>10.4f} / "
            f"{r.predicted_interrupts:.4f}{kvm:>15} / {r.predicted_exits:.4f}"
        )
    lines.append(
        f"median |error| {median_abs_error(rows):.1%} over {len(rows)} cells "
        f"(target {TARGET_MEDIAN_ERROR:.0%})"
    )
    return "\n".join(lines)
