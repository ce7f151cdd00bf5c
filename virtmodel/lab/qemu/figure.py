"""The QEMU lab's measurement in one figure: back-end CPU per request against requests per
kick (QEMU's points, the model's lines with the profile calibrated for each back end), the
fixed cost of a wake-up against the idle time before it, and interrupts per request."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .validate import Measurement, predict

COLORS = {"null": "#2471a3", "threads": "#b9770e", "io_uring": "#1e8449", "native": "#8e44ad"}
MODEL_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128)


def figure(m: Measurement) -> Figure:
    """Three panels of measurement ``m`` (:func:`virtmodel.lab.qemu.run` or
    :func:`~virtmodel.lab.qemu.shipped`)."""
    fig = Figure(figsize=(12, 3.9), layout="constrained")
    cpu, wake, irq = fig.subplots(1, 3, gridspec_kw={"width_ratios": (1.5, 1, 1)})
    for backend, color in COLORS.items():
        rows = m.experiments[f"pass_cpu/{backend}"]["results"]
        cpu.plot(
            [r["batch"] for r in rows],
            [r["ns_per_pass"] / r["batch"] / 1e3 for r in rows],
            "o",
            color=color,
            ms=4,
            label=f"QEMU, {backend}",
        )
        model = [
            predict(m.profiles[backend], b)["back-end ns/request"] / 1e3 for b in MODEL_BATCHES
        ]
        cpu.plot(MODEL_BATCHES, model, "-", color=color, lw=1, alpha=0.7)
    for name, style in (("null-polling", "x"), ("null-main-loop", "+")):
        rows = m.experiments[f"pass_cpu/{name}"]["results"]
        cpu.plot(
            [r["batch"] for r in rows],
            [r["ns_per_pass"] / r["batch"] / 1e3 for r in rows],
            style,
            color="grey",
            label=f"QEMU, {name.replace('null-', 'null, ')}",
        )
    cpu.plot([], [], "-", color="black", lw=1, label="model (profile of that back end)")
    cpu.set(
        xscale="log",
        yscale="log",
        xlabel="requests per kick",
        ylabel="back-end CPU per request (µs)",
        title="QEMU's virtio-blk back end: CPU per request",
    )
    cpu.legend(fontsize=7, ncols=2)
    w = m.experiments["wakeups"]["results"]
    gaps = [r["gap_us"] for r in w]
    wake.plot(gaps, [r["empty_kick_ns"] / 1e3 for r in w], "o-", label="a kick, nothing new")
    wake.plot(gaps, [r["one_request_ns"] / 1e3 for r in w], "s-", label="a pass of one request")
    wake.set(
        xscale="log",
        xlabel="idle time before it (µs)",
        ylabel="IOThread CPU (µs)",
        title="The fixed part: a wake-up",
    )
    wake.set_ylim(bottom=0)
    wake.legend(fontsize=7)
    for ev, marker in ((True, "o"), (False, "s")):
        rows = m.experiments[f"pass_counts/io_uring-event_idx-{'on' if ev else 'off'}-scattered"][
            "results"
        ]
        label = f"EVENT_IDX {'on' if ev else 'off'}"
        irq.plot(
            [r["batch"] for r in rows],
            [r["interrupts_per_pass"] / r["batch"] for r in rows],
            marker,
            color="black",
            ms=4 if ev else 9,
            mfc="black" if ev else "none",
            label=f"QEMU, {label}",
        )
        irq.plot(
            MODEL_BATCHES,
            [
                predict(m.profiles["io_uring"], b, event_idx=ev)["interrupts/request"]
                for b in MODEL_BATCHES
            ],
            "-" if ev else "--",
            color=COLORS["io_uring"],
            label=f"model, {label}",
        )
    irq.set(
        xscale="log",
        yscale="log",
        xlabel="requests per kick",
        ylabel="interrupts per request",
        title="Interrupts (io_uring)",
    )
    irq.legend(fontsize=7)
    fig.suptitle(f"{m.qemu_version.split(' (')[0]}; {m.host['cpu']}; {m.date}", fontsize=9)
    return fig


def picture(m: Measurement, dpi: int = 100):
    """:func:`figure` as a PNG image a notebook shows (``IPython.display.Image``)."""
    from IPython.display import Image

    buf = io.BytesIO()
    fig = figure(m)
    FigureCanvasAgg(fig)
    fig.savefig(buf, format="png", dpi=dpi)
    return Image(buf.getvalue())
