"""The book's tables (HTML tables of rows) and the lab chapter's report.

The explorers (each chapter's figures with knobs, live and static) are in
:mod:`virtmodel.explore`.
"""

from __future__ import annotations

import html

from .costs import get as get_profile
from .explore.core import REQUESTS, is_static
from .explore.lab import explore_lab
from .hardware import catalogue
from .units import fmt_bytes


def device_catalogue(profile="modern"):
    """Chapter 2.2: a table of what typical operations of emulated devices cost (and, for
    contrast, the same transfers on the other paths)."""
    return Table(
        catalogue(profile, requests=REQUESTS),
        {
            "hardware": "device",
            "operation": "operation",
            "accesses": "trapping accesses",
            "exits": "VM exits",
            "user_exits": "to QEMU",
            "copied_bytes": "bytes copied",
            "us_per_request": "µs / op",
        },
    )


class Table:
    """Rows of dicts shown as an HTML table (numbers formatted, columns renamed)."""

    def __init__(self, rows: list[dict], columns: dict):
        self.rows, self.columns = rows, columns

    @staticmethod
    def _cell(v) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        return html.escape(str(v))

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(t)}</th>" for t in self.columns.values())
        body = "".join(
            "<tr>" + "".join(f"<td>{self._cell(r[c])}</td>" for c in self.columns) + "</tr>"
            for r in self.rows
        )
        return (
            f'<table class="vm-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        )

    def __repr__(self):
        return "\n".join(" | ".join(self._cell(r[c]) for c in self.columns) for r in self.rows)


def profile_table(profile="modern") -> Table:
    """Every cost of a profile with its unit, status and source (the calibration appendix)."""
    return Table(
        get_profile(profile).table(),
        {"name": "cost", "value": "value", "unit": "unit", "status": "status", "source": "source"},
    )


def lab_error_table(rows) -> Table:
    """Every grid cell (rows of :func:`virtmodel.lab.validate.compare`): measured,
    predicted, error, exits (measured / model)."""
    rows = [
        dict(
            experiment=r.experiment,
            knob=r.knob_label,
            size=fmt_bytes(r.request_bytes),
            measured=r.measured_us,
            range=f"{r.measured_min:.2f}–{r.measured_max:.2f}",
            predicted=r.predicted_us,
            error=f"{r.error:+.1%}",
            exits=f"{r.measured_user_exits:.4f} / {r.predicted_user_exits:.4f}",
        )
        for r in rows
    ]
    return Table(
        rows,
        {
            "experiment": "experiment",
            "knob": "knob",
            "size": "request",
            "measured": "measured µs",
            "range": "runs (min–max)",
            "predicted": "model µs",
            "error": "error",
            "exits": "exits to user space (lab / model)",
        },
    )


def micro_table(measurement) -> Table:
    """The micro-benchmarks the profile was calibrated from."""
    from .lab.calibrate import BENCHMARKS

    m, d = measurement.micro, measurement.device
    rows = []
    for k, (where, unit, text) in BENCHMARKS.items():
        src = m if k in m else d
        if k not in src:  # a measurement from before this benchmark existed
            continue
        rows.append(
            dict(
                name=k,
                where=where,
                value=src[k],
                unit=unit,
                spread=f"{src['spread'][k]:.0%}",
                what=text,
            )
        )
    return Table(
        rows,
        {
            "name": "benchmark",
            "where": "runs in",
            "value": "median",
            "unit": "unit",
            "spread": "spread",
            "what": "what it times",
        },
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
        from .lab import probe, validate

        self.probe = probe()
        self.measure_kw = dict(repeats=repeats, **measure_kw)
        self._show(*validate.shipped(), here=False)
        self._out = None

    def _show(self, measurement, header: dict, here: bool) -> None:
        from .lab import validate

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
        from .lab import validate

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

        from .lab import validate

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


# ---------------------------------------------------------------------------------------
# The validation appendix: the model beside published results.
# ---------------------------------------------------------------------------------------
def _workload_text(workload: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in workload.items())


def validation_table(rows=None) -> Table:
    """Every published result of :func:`virtmodel.validation.table` beside the model: the
    result, its workload, host and source, the reported and predicted values, the error and
    whether it is within its target (absolute rates and latencies have none)."""
    from . import validation

    rows = validation.table() if rows is None else rows
    out = []
    for r in rows:
        e = r.case.entry
        within = {True: "yes", False: "no", None: "no target"}[r.within]
        what = f"the entry's {r.case.raw_key!r} figure" if r.case.raw_key else e["quantity"]
        out.append(
            dict(
                result=f"{r.case.label}: {what} [{e['unit']}]",
                model_run=r.case.setup,
                workload=_workload_text(e["workload"]),
                host=e["host"],
                source=e["source"],
                reported=r.reported,
                model=r.model,
                error=f"{r.error:+.0%}",
                within=within,
            )
        )
    return Table(
        out,
        {
            "result": "result",
            "model_run": "the model's run",
            "workload": "workload",
            "host": "host",
            "source": "source",
            "reported": "reported",
            "model": "model",
            "error": "error",
            "within": "within target",
        },
    )
