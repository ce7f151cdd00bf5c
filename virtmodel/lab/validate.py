"""Validation: does the calibrated model predict the lab's experiments?

Each lab experiment has a model twin, given by :func:`model_params`:

``run_virtio(batch=B, request_bytes=S, requests=N, queue_size=Q)``
    ``simulate("virtio", batch=B, request_bytes=S, requests=N, queue_size=Q,
    ioeventfd=False, interrupts=False, event_idx=False)``: the kick is an exit to user space
    during which the device drains the ring (the lab has no I/O thread unless asked), the
    guest polls the used ring instead of taking interrupts, and it kicks after every batch
    without looking at the event index.
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
import statistics
from dataclasses import asdict, dataclass

from .. import costs
from ..paths import Result, simulate

BATCHES = (1, 4, 16, 64)
SIZES = (64, 1500, 4096, 65536)
REGISTERS = (1, 3)
TARGET_MEDIAN_ERROR = 0.10


def model_params(lab_result) -> tuple[str, dict]:
    """The ``simulate`` path and parameters that model one lab experiment."""
    p = lab_result.params
    if lab_result.experiment == "virtio":
        return "virtio", dict(batch=p["batch"], request_bytes=p["request_bytes"],
                              requests=p["requests"], queue_size=p["queue_size"],
                              ioeventfd=p["ioeventfd"], interrupts=False, event_idx=False)
    if lab_result.experiment == "emulated":
        return "emulated", dict(accesses_per_request=p["registers"],
                                request_bytes=p["request_bytes"], requests=p["requests"],
                                data_mode="dma", dma_setup_accesses=0, interrupts=False)
    raise ValueError(f"no model for lab experiment {lab_result.experiment!r}")


def predict(lab_result, profile) -> Result:
    """The model's run of ``lab_result``'s experiment with ``profile``; its
    ``us_per_request`` is the prediction."""
    path, params = model_params(lab_result)
    return simulate(path, profile=costs.get(profile), seed=0, **params)


@dataclass(frozen=True)
class Row:
    """One cell of the error table."""

    experiment: str  # "virtio" or "emulated"
    knob: int  # batch (virtio) or registers (emulated)
    request_bytes: int
    measured_us: float
    spread: float
    predicted_us: float
    measured_exits: float  # exits to user space per request
    predicted_exits: float
    measured_min: float  # fastest and slowest run, µs per request
    measured_max: float

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return (self.predicted_us - self.measured_us) / self.measured_us


def compare(results, profile) -> list[Row]:
    """Predicted beside measured for each lab result."""
    rows = []
    for r in results:
        pred = predict(r, profile)
        knob = r.params["batch"] if r.experiment == "virtio" else r.params["registers"]
        rows.append(Row(r.experiment, knob, r.params["request_bytes"], r.us_per_request,
                        r.spread, pred.us_per_request, r.exits_per_request,
                        pred.user_exits_per_request, min(r.runs_us), max(r.runs_us)))
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


def grid_cells(batches=BATCHES, sizes=SIZES, registers=REGISTERS, requests: int = 20_000,
               emulated_requests: int = 5000) -> list[tuple[str, dict]]:
    """The validated (experiment, parameters) of every grid cell."""
    from .experiments import emulated_params, virtio_params

    cells = [("virtio", virtio_params(b, s, requests)) for b in batches for s in sizes]
    cells += [("emulated", emulated_params(r, s, emulated_requests))
              for r in registers for s in sizes]
    return cells


def measure(batches=BATCHES, sizes=SIZES, registers=REGISTERS, requests: int = 20_000,
            emulated_requests: int = 5000, repeats: int = 5, ops: int = 20_000,
            seed: int = 0, progress=None) -> Measurement:
    """Calibrate and run the grid, interleaved.

    The machine drifts (on a shared 2-core host, by several percent over tens of seconds),
    so a calibration taken before the grid describes another machine than the one the grid
    ran on.  Here every repeat takes one sample of every micro-benchmark and one run of
    every cell, in a shuffled order; the medians of both therefore sample the same span of
    time.  One warm-up run of each cell comes first and is dropped."""
    import random
    import time

    from .calibrate import DEVICE_KINDS, device_once, profile_from
    from .experiments import _check, emulated_once, summarize, virtio_once
    from .microbench import KINDS, medians, micro_once

    _check("repeats", repeats, 1, 100)
    t0 = time.perf_counter()
    cells = grid_cells(batches, sizes, registers, requests, emulated_requests)
    once = {"virtio": virtio_once, "emulated": emulated_once}
    runs = [[] for _ in cells]
    micro, dev = [], []
    rng = random.Random(seed)
    for rep in range(repeats + 1):
        jobs = [("micro", None), ("device", None)] + list(enumerate(cells))
        rng.shuffle(jobs)
        for key, cell in jobs:
            if key == "micro":
                if rep:
                    micro.append(micro_once(ops))
            elif key == "device":
                if rep:
                    dev.append(device_once(ops))
            else:
                run = once[cell[0]](cell[1])
                if rep:
                    runs[key].append(run)
        if progress:
            progress(rep, repeats)
    m = medians(micro, KINDS)
    m.update(flavour=micro[-1]["flavour"], ops=ops, repeats=repeats)
    d = medians(dev, DEVICE_KINDS)
    d.update(ops=ops, repeats=repeats, queue_size=256)
    results = [summarize(kind, p, r) for (kind, p), r in zip(cells, runs)]
    date = datetime.date.today().isoformat()
    return Measurement(m, d, results, profile_from(m, d, date=date),
                       time.perf_counter() - t0, date)


FORMAT = "virtmodel-lab-measurement/1"


def save(m: Measurement, path, command: str = "") -> None:
    """Write a measurement as JSON (what the package ships in ``virtmodel/data``)."""
    import json
    import platform
    from pathlib import Path

    from .calibrate import host_cpu

    data = dict(format=FORMAT, host_cpu=host_cpu(), flavour=m.micro.get("flavour"),
                date=m.date,
                kernel=platform.release(), python=platform.python_version(),
                command=command, seconds=round(m.seconds, 1), micro=m.micro, device=m.device,
                results=[dict(asdict(r), runs_us=list(r.runs_us)) for r in m.results],
                profile=m.profile.to_dict())
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def load(path) -> tuple[Measurement, dict]:
    """Read a measurement written by :func:`save`; returns it and the file's header (host
    CPU, flavour, date, kernel, command)."""
    import json
    from pathlib import Path

    from .experiments import LabResult

    data = json.loads(Path(path).read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a lab measurement ({FORMAT})")
    results = [LabResult(**dict(d, runs_us=tuple(d["runs_us"]))) for d in data["results"]]
    m = Measurement(data["micro"], data["device"], results,
                    costs.CostProfile(**data["profile"]), data["seconds"], data["date"])
    header = {k: data[k] for k in ("host_cpu", "flavour", "date", "kernel", "python",
                                   "command")}
    return m, header


def table_text(rows) -> str:
    """The error table as fixed-width text (for the CLI)."""
    lines = [f"{'experiment':<10}{'B/regs':>7}{'bytes':>8}{'measured µs':>13}{'spread':>8}"
             f"{'model µs':>10}{'error':>8}{'exits (lab/model)':>20}"]
    for r in rows:
        lines.append(f"{r.experiment:<10}{r.knob:>7}{r.request_bytes:>8}"
                     f"{r.measured_us:>13.3f}{r.spread:>8.0%}{r.predicted_us:>10.3f}"
                     f"{r.error:>+8.1%}{r.measured_exits:>11.4f} / {r.predicted_exits:.4f}")
    lines.append(f"median |error| {median_abs_error(rows):.1%} over {len(rows)} cells "
                 f"(target {TARGET_MEDIAN_ERROR:.0%})")
    return "\n".join(lines)
