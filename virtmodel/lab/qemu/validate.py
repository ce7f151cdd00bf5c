"""The QEMU lab end to end: run the experiments, calibrate a profile per back end from the
calibration batches, and hold the model's back-end half (``virtmodel.paths.simulate`` of
the ``virtio`` path with that profile) to the batches kept out of calibration.

The model's back-end half, per request: its ``qemu`` stage (notify per kick, the ring work,
signal per interrupt) plus its host I/O charge (``host_io_ns_per_request``, charged once
per request in the ``kvm`` stage); its kicks and interrupts per request.  Targets: counts
within 15 %, CPU within 25 % (median).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ... import costs
from ...paths import simulate
from ..calibrate import host_cpu
from ..kvm import probe as kvm_probe
from . import experiments as ex
from .calibrate import charged, profile_from
from .process import QemuError, version

CALIBRATION_BATCHES = (1, 4, 16, 64)
VALIDATION_BATCHES = (2, 8, 32, 128)
CALIBRATION_GAP_US = 200
"""The empty kick that calibrates ``notify_ns`` comes 200 µs after the last: about the
driver's time between passes (closer kicks coalesce in the eventfd: one wake-up for
several)."""
COUNT_TARGET, CPU_TARGET = 0.15, 0.25
SHIPPED = Path(__file__).resolve().parents[2] / "data" / "qemu-lab-2026-12-06.json"


@dataclass(frozen=True)
class Row:
    """One comparison: a measured quantity of QEMU beside the model's prediction."""

    experiment: str
    params: dict
    quantity: str  # "kicks/request", "interrupts/request", "back-end ns/request"
    measured: float
    predicted: float
    at_qemu_counts: float | None = None  # CPU: the model's costs at QEMU's counts

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return (self.predicted - self.measured) / self.measured

    @property
    def target(self) -> float:
        return CPU_TARGET if self.quantity.startswith("back-end") else COUNT_TARGET


@dataclass
class Measurement:
    """Everything one run of the QEMU lab measured, calibrated and compared."""

    qemu_version: str
    host: dict
    date: str
    seconds: float
    experiments: dict  # name -> {"params": ..., "results": [...]}
    profiles: dict  # back end -> CostProfile
    rows: list[Row]

    def to_dict(self) -> dict:
        return dict(
            qemu_version=self.qemu_version,
            host=self.host,
            date=self.date,
            seconds=self.seconds,
            experiments=self.experiments,
            profiles={k: p.to_dict() for k, p in self.profiles.items()},
            rows=[dict(dataclasses.asdict(r), error=r.error) for r in self.rows],
        )

    def median_error(self, quantity_prefix: str) -> float:
        errs = [abs(r.error) for r in self.rows if r.quantity.startswith(quantity_prefix)]
        return statistics.median(errs) if errs else float("nan")


def host() -> dict:
    """The host: CPU model, CPUs, kernel, Python, and its load average (other work on the
    host shares the caches and cores QEMU's threads run on)."""
    return dict(
        cpu=host_cpu(),
        cpus=os.cpu_count(),
        kernel=platform.release(),
        python=platform.python_version(),
        loadavg=os.getloadavg()[0],
    )


def predict(profile: costs.CostProfile, batch: int, event_idx: bool = True) -> dict:
    """The model's back-end half for passes of ``batch`` 4 KiB reads, one kick each."""
    r = simulate(
        "virtio",
        request_bytes=4096,
        batch=batch,
        requests=max(2000, 40 * batch),
        device_type="blk",
        ioeventfd=True,
        event_idx=event_idx,
        profile=profile,
    )
    return {
        "kicks/request": r.kicks_per_request,
        "interrupts/request": r.interrupts_per_request,
        "back-end ns/request": r.breakdown_ns["qemu"] + profile.host_io_ns_per_request,
    }


def _asdicts(rows) -> list[dict]:
    return [dataclasses.asdict(r) for r in rows]


def run(
    progress: Callable[[str], None] | None = None, passes: int = 40, repeats: int = 5
) -> Measurement:
    """Run the QEMU lab (under a minute): the experiments, one profile per back end from
    the calibration batches, the comparison on the validation batches.

    Parameters
    ----------
    progress : callable, optional
        Called with a line of text as each experiment finishes.
    passes : int
        Passes per timed run (1..1000).
    repeats : int
        Timed runs per batch and setup, interleaved across setups; their median counts
        (1..50).

    Returns
    -------
    Measurement
        QEMU's version, the host, every experiment with its parameters and results, the
        profiles, and the rows of measured vs predicted values with their errors.
    """
    if not (isinstance(passes, int) and 1 <= passes <= 1000):
        raise ValueError(f"passes must be in 1..1000, got {passes!r}")
    if not (isinstance(repeats, int) and 1 <= repeats <= 50):
        raise ValueError(f"repeats must be in 1..50, got {repeats!r}")
    say = progress or (lambda _line: None)
    t0 = time.monotonic()
    start = host()
    qv = version()
    where = f"{qv}; {host_cpu()}; {datetime.date.today().isoformat()}"
    exps: dict = {}
    batches = tuple(sorted(CALIBRATION_BATCHES + VALIDATION_BATCHES))

    def record(name, params, rows):
        exps[name] = {"params": params, "results": _asdicts(rows)}
        say(f"  {name}: done ({time.monotonic() - t0:.0f} s)")
        return rows

    setups = [ex.Setup(backend=b, poll_max_ns=0) for b in ex.BACKENDS]
    setups += [ex.Setup(backend="null"), ex.Setup(backend="null", iothread=False)]
    names = [*ex.BACKENDS, "null-polling", "null-main-loop"]
    say(f"  pass_cpu: {len(setups)} QEMUs side by side, batches {batches} ...")
    rows_all = ex.pass_cpu(setups, batches, passes=passes, repeats=repeats)
    cpu = {}
    for name, s in zip(names, setups):
        cpu[name] = record(
            f"pass_cpu/{name}",
            dict(s.as_dict(), batches=batches, passes=passes, repeats=repeats),
            [r for r in rows_all if r.setup == s],
        )
    fits = {b: ex.fit([r for r in cpu[b] if r.batch in CALIBRATION_BATCHES]) for b in ex.BACKENDS}
    exps["fits"] = {"params": {"batches": CALIBRATION_BATCHES}, "results": _asdicts_map(fits)}
    gaps = (20, 200, 2000, 20_000)
    wake = record(
        "wakeups",
        dict(ex.Setup(poll_max_ns=0).as_dict(), gaps_us=gaps),
        ex.wakeups(ex.Setup(poll_max_ns=0), gaps),
    )
    counts = {}
    # Counted with polling off: a poll that sees a pass's chains before the kick's eventfd
    # is read runs the handler twice, a second notify in one pass on a loaded host (the
    # stream experiment is where polling is compared).
    for ev in (True, False):
        for pattern in ex.PATTERNS:
            s = ex.Setup(backend="io_uring", event_idx=ev, poll_max_ns=0)
            counts[ev, pattern] = record(
                f"pass_counts/io_uring-event_idx-{'on' if ev else 'off'}-{pattern}",
                dict(s.as_dict(), batches=VALIDATION_BATCHES, pattern=pattern, passes=10),
                ex.pass_counts(s, VALIDATION_BATCHES, passes=10, pattern=pattern),
            )
    streams = []
    for poll in (None, 0):
        for gap in (0, 50):
            streams.append(ex.stream(ex.Setup(poll_max_ns=poll), count=300, gap_us=gap))
    record("stream", dict(count=300, gaps_us=(0, 50), poll_max_ns=(None, 0)), streams)
    for dbbuf in (False, True):
        tag = "shadow-doorbells" if dbbuf else "mmio-doorbells"
        record(
            f"nvme_counts/{tag}",
            dict(dbbuf=dbbuf, batches=(1, 8, 32), rounds=10),
            ex.nvme_counts(dbbuf),
        )
        record(f"nvme_cpu/{tag}", dict(dbbuf=dbbuf, batches=(1, 4, 16, 32)), [ex.nvme_cpu(dbbuf)])

    adds = ((8, 0), (32, 0), (1, 15), (8, 8))
    record(
        "nvme_adds",
        dict(bursts_extras=adds, rounds=5),
        [ex.nvme_adds(b, e, rounds=5) for b, e in adds],
    )
    kick = next(w for w in wake if w.gap_us == CALIBRATION_GAP_US)
    ide = {}
    for accel in ("tcg", "kvm"):
        params = dict(accel=accel, counts=ex.IDE_COUNTS[accel], repeats=3)
        usable = kvm_probe() if accel == "kvm" else None
        if usable is not None and not usable.usable:
            exps[f"ide_guest/{accel}"] = {"params": params, "results": [], "why": str(usable)}
            continue
        try:
            ide[accel] = record(f"ide_guest/{accel}", params, [ex.ide_guest_cost(accel)])[0]
        except QemuError as e:  # QEMU's KVM refused this host: say so, measure the rest
            exps[f"ide_guest/{accel}"] = {"params": params, "results": [], "why": str(e)}
    profiles = {
        b: profile_from(b, fits, kick.empty_kick_ns, where, ide.get("tcg")) for b in ex.BACKENDS
    }
    rows = []
    seen = {c.batch: c for c in counts[True, "scattered"]}
    for b in ex.BACKENDS:
        for r in cpu[b]:
            if r.batch not in VALIDATION_BATCHES:
                continue
            pred = predict(profiles[b], r.batch)
            c = seen[r.batch]
            rows.append(
                Row(
                    "pass_cpu",
                    dict(r.setup.as_dict(), batch=r.batch),
                    "back-end ns/request",
                    r.ns_per_request,
                    pred["back-end ns/request"],
                    charged(
                        profiles[b],
                        c.kicks_per_pass / c.batch,
                        c.interrupts_per_pass / c.batch,
                    ),
                )
            )
    for (ev, pattern), rs in counts.items():
        if pattern != "scattered":
            continue
        for c in rs:
            pred = predict(profiles["io_uring"], c.batch, event_idx=ev)
            for q, measured in (
                ("kicks/request", c.kicks_per_pass / c.batch),
                ("interrupts/request", c.interrupts_per_pass / c.batch),
            ):
                rows.append(
                    Row("pass_counts", dict(c.setup.as_dict(), batch=c.batch), q, measured, pred[q])
                )
    end = host()
    start["loadavg_end"] = end["loadavg"]
    return Measurement(
        qv,
        start,
        datetime.date.today().isoformat(),
        time.monotonic() - t0,
        exps,
        profiles,
        rows,
    )


def _asdicts_map(fits: dict) -> dict:
    return {b: dataclasses.asdict(f) for b, f in fits.items()}


def save(m: Measurement, path, command: str = "") -> None:
    data = m.to_dict()
    data["command"] = command
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def _profile(saved: dict) -> costs.CostProfile:
    """A saved profile with the cost fields of today: a field the file predates (the
    profile's unmeasured part, which :func:`~virtmodel.lab.qemu.calibrate.profile_from`
    takes from the modern profile) comes from the modern profile as it is now."""
    later = {
        f.name: getattr(costs.MODERN, f.name)
        for f in dataclasses.fields(costs.CostProfile)
        if f.name not in saved
    }
    sources = dict(saved.get("sources", {}))
    for name in later:
        sources[name] = costs.MODERN.sources[name]
    return costs.CostProfile(**{**saved, **later, "sources": sources})


def repredict(rows: list[Row], profiles: dict) -> list[Row]:
    """``rows`` with each prediction made again by the model as it is now (what QEMU did
    stays as measured): a saved measurement is held against today's model, not against
    the model of the day it was taken."""
    cache: dict[tuple, dict] = {}

    def now(backend: str, batch: int, event_idx: bool) -> dict:
        key = (backend, batch, event_idx)
        if key not in cache:
            cache[key] = predict(profiles[backend], batch, event_idx=event_idx)
        return cache[key]

    return [
        dataclasses.replace(
            r,
            predicted=now(r.params["backend"], r.params["batch"], r.params["event_idx"])[
                r.quantity
            ],
        )
        for r in rows
    ]


def load(path) -> Measurement:
    """A measurement written by :func:`save`, its predictions made by today's model
    (:func:`repredict`)."""
    data = json.loads(Path(path).read_text())
    rows = [Row(**{f.name: r[f.name] for f in dataclasses.fields(Row)}) for r in data["rows"]]
    profiles = {b: _profile(p) for b, p in data["profiles"].items()}
    rows = repredict(rows, profiles)
    return Measurement(
        data["qemu_version"],
        data["host"],
        data["date"],
        data["seconds"],
        data["experiments"],
        profiles,
        rows,
    )


def shipped() -> Measurement:
    """The measurement shipped with virtmodel (needs no QEMU)."""
    return load(SHIPPED)


def table_text(m: Measurement) -> str:
    """The model-vs-QEMU table as fixed-width text (for the CLI)."""
    head = (
        f"{'back end':<10}{'loop':<10}{'EVENT_IDX':<10}{'batch':>6}  {'quantity':<22}"
        f"{'QEMU':>10}{'model':>10}{'error':>9}   model's costs at QEMU's counts"
    )
    lines = [head]
    for r in m.rows:
        p = r.params
        lines.append(
            f"{p['backend']:<10}{'iothread' if p['iothread'] else 'main':<10}"
            f"{'on' if p['event_idx'] else 'off':<10}{p['batch']:>6}  {r.quantity:<22}"
            f"{r.measured:>10.4g}{r.predicted:>10.4g}{r.error:>+9.1%}"
            + (
                ""
                if r.at_qemu_counts is None
                else f"   {r.at_qemu_counts:.4g} ({(r.at_qemu_counts - r.measured) / r.measured:+.1%})"
            )
        )
    at = [abs(r.at_qemu_counts - r.measured) / r.measured for r in m.rows if r.at_qemu_counts]
    for q, target in (
        ("back-end", CPU_TARGET),
        ("kicks", COUNT_TARGET),
        ("interrupts", COUNT_TARGET),
    ):
        lines.append(f"median |error| of {q}: {m.median_error(q):.1%} (target {target:.0%})")
    if at:
        lines.append(
            f"median |error| of the model's back-end costs at QEMU's counts: "
            f"{statistics.median(at):.1%} (worst {max(at):.0%})"
        )
    return "\n".join(lines)
