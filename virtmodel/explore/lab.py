"""The lab chapter: a measurement beside the model's predictions (an explorer), and the
report that measures this machine from the page (:func:`measure_your_machine`)."""

from __future__ import annotations

import html

from ..costs import get as get_profile
from ..evidence import lab_error_table, micro_table
from ..sweep import points
from ..units import fmt_bytes
from . import figures
from .core import FRAME_WIDTH_IN, Explorer, Knob, is_static, run

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


def _measurement_label(head: dict, here: bool) -> str:
    if here:
        return (
            f"Measured on this machine just now ({head['host_cpu']}, KVM "
            f"{head['flavour']}, {head['date']})"
        )
    return (
        f"Shipped measurement, not your machine: {head['host_cpu']}, KVM "
        f"{head['flavour']}, {head['date']} ({head['command']})"
    )


class LabReport:
    """The "Measure your machine" chapter's demo: the shipped measurement (labelled as
    such) and, in a live kernel where KVM is usable, a button that measures this machine
    and shows the result in its place.  On the static site there is no button."""

    def __init__(self, repeats: int = 5, **measure_kw):
        from ..lab import probe, validate

        self.probe = probe()
        self.measure_kw = dict(repeats=repeats, **measure_kw)
        self._show(*validate.shipped(), here=False)
        self._out = None

    def _show(self, measurement, header: dict, here: bool) -> None:
        from ..lab import validate

        self.measurement, self.header, self.here = measurement, header, here
        self.rows = validate.compare(measurement.results, measurement.profile)
        self.explorer = explore_lab(measurement, _measurement_label(header, here))

    @property
    def live(self) -> bool:
        """A button is offered: a live kernel and a usable /dev/kvm."""
        return not is_static() and self.probe.usable

    def why_not_live(self) -> str:
        """Why no button is offered ("" when one is)."""
        if self.live:
            return ""
        return "The lab cannot run here: " + (
            "this is the static site (no kernel)." if is_static() else f"{self.probe.reason}."
        )

    def status(self) -> str:
        from ..lab import validate

        med = validate.median_abs_error(self.rows)
        src = "this machine" if self.here else "the shipped measurement"
        why = "" if self.here else self.why_not_live()
        return (
            f"Median |error| of the calibrated model over the {len(self.rows)}"
            f" cells of {src}: {med:.1%} (target {validate.TARGET_MEDIAN_ERROR:.0%})."
            + (" " + why if why else "")
        )

    def run_here(self, progress=None) -> None:
        """Measure this machine (KVM needed) and show it in place of the shipped data."""
        import datetime

        from ..lab import validate

        m = validate.measure(progress=progress, **self.measure_kw)
        self._show(m, validate.header(m, f"measured at {datetime.datetime.now():%H:%M}"), here=True)

    def _html_tables(self) -> str:
        label = _measurement_label(self.header, self.here)
        return (
            f'<p class="vm-lab-source">{html.escape(label)}</p>'
            f"<p><b>{html.escape(self.status())}</b></p>"
            f"<details><summary>Error table (every cell)</summary>"
            f"{lab_error_table(self.rows)._repr_html_()}</details>"
            f"<details><summary>Micro-benchmarks the model was calibrated from</summary>"
            f"{micro_table(self.measurement)._repr_html_()}</details>"
        )

    def widget(self):
        import ipywidgets as w

        self._out = w.VBox()
        self.button = w.Button(
            description="Measure this machine (a few minutes)",
            layout=w.Layout(width="24em"),
            disabled=not self.live,
        )
        self.progress = w.HTML()

        def click(_):
            self.button.disabled = True
            self.progress.value = "measuring: warm-up ..."
            self.run_here(
                progress=lambda r, n: setattr(
                    self.progress, "value", f"measuring: repeat {r} of {n} done"
                )
            )
            self.progress.value = "done"
            self._fill()

        self.button.on_click(click)
        self._fill()
        return self._out

    def _fill(self):
        import ipywidgets as w

        parts = [self.explorer.widget(), w.HTML(self._html_tables())]
        if self.live:
            parts.insert(0, w.HBox([self.button, self.progress]))
        else:
            parts.insert(0, w.HTML(f"<i>{html.escape(self.why_not_live())}</i>"))
        self._out.children = parts

    def _repr_mimebundle_(self, include=None, exclude=None):
        if is_static():
            return {
                "text/html": self.explorer.player_html() + self._html_tables(),
                "text/plain": self.status(),
            }
        return self.widget()._repr_mimebundle_(include=include, exclude=exclude)


def measure_your_machine(**measure_kw) -> LabReport:
    """The lab chapter's demo: a :class:`LabReport` (``measure_kw`` go to
    :func:`virtmodel.lab.validate.measure` when this machine is measured)."""
    return LabReport(**measure_kw)
