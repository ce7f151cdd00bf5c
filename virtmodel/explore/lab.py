"""The lab chapter's explorer: a measurement beside the model's predictions."""

from __future__ import annotations

from ..costs import get as get_profile
from ..sweep import points
from ..units import fmt_bytes
from . import figures
from .core import FRAME_WIDTH_IN, Explorer, Knob, run

MODEL_BATCHES = (1, 2, 4, 8, 16, 32, 64)
COSTS_FROM = {
    "calibrated": "calibrated in this measurement",
    "modern": "the modern host's published costs",
}


def explore_lab(measurement, label: str) -> Explorer:
    """A lab measurement beside the model's predictions, one request size at a time; the
    model's costs either calibrated in the same measurement or the modern host's published
    ones."""
    from ..lab import validate

    sizes = tuple(sorted({r.params["request_bytes"] for r in measurement.results}))

    def draw(fig, request_bytes, costs_from):
        prof = measurement.profile if costs_from == "calibrated" else get_profile("modern")
        at = [r for r in measurement.results if r.params["request_bytes"] == request_bytes]
        rows = validate.compare(at, prof)
        path, params = validate.model_params(next(r for r in at if r.experiment == "virtio"))
        model = [
            r.us_per_request
            for r in points(
                [(path, {**params, "batch": b, "profile": prof}) for b in MODEL_BATCHES], runner=run
            )
        ]
        figures.lab_validation(
            rows, MODEL_BATCHES, model, request_bytes, label, COSTS_FROM[costs_from], fig
        )
        return {"rows": rows, "model_us": model, "profile": prof}

    return Explorer(
        "Measured beside predicted",
        (
            Knob(
                "request_bytes",
                "request size",
                sizes,
                4096 if 4096 in sizes else sizes[0],
                fmt_bytes,
            ),
            Knob("costs_from", "model costs", tuple(COSTS_FROM), "calibrated", COSTS_FROM.get),
        ),
        draw,
        figsize=(FRAME_WIDTH_IN, 3.9),
    )
