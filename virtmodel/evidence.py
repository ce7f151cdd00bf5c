"""Evidence a reader can read: the tables and the chart that set the model beside
measurements (the validation appendix, the lab chapter, the calibration appendix).

A :class:`Table` puts the columns a reader compares first (what, reported or measured,
model, error, met) and the context after; a source named on many rows is cited by a short
key that links to a list of the sources below the table.  On a wide screen the table
scrolls inside its box with its first column fixed; on a phone each row becomes a card
(one line per column, labelled by its header), so nothing scrolls sideways.

:func:`validation_chart` draws the validation appendix's results as reported against
model on log axes, with the line model = reported and each kind's target band; every
point carries its row number in the table and, on hover, its result and values.
"""

from __future__ import annotations

import html
import io
import math
import re
from typing import NamedTuple

from .costs import DEFAULT as DEFAULT_PROFILE
from .costs import get as get_profile
from .units import fmt_bytes

# Narrower than this (CSS px), a table's rows are shown as cards.
CARD_WIDTH = 640
STYLE = (
    "<style>"
    ".vm-table-box{max-width:100%;overflow-x:auto;margin:.5em 0}"
    ".vm-table{border-collapse:collapse;font-size:.85em;line-height:1.35}"
    ".vm-table th,.vm-table td{padding:.25em .5em;border-bottom:1px solid #ddd;"
    "vertical-align:top;text-align:left}"
    ".vm-table td.vm-num{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    ".vm-table td.vm-wide{min-width:14em}"
    ".vm-table th:first-child,.vm-table td:first-child{position:sticky;left:0;"
    "background:var(--pst-color-background,#fff);z-index:1;min-width:12em}"
    ".vm-table td:first-child,.vm-table td.vm-wide{overflow-wrap:anywhere}"
    ".vm-table details summary{cursor:pointer;color:#555}"
    ".vm-sources{font-size:.8em;overflow-wrap:anywhere}.vm-sources dt{float:left;clear:left;margin-right:.5em}"
    ".vm-sources dd{margin:0 0 .3em 6.5em}"
    f"@media (max-width:{CARD_WIDTH}px){{"
    ".vm-table-box{overflow-x:visible}"
    ".vm-table,.vm-table tbody,.vm-table tr,.vm-table td{display:block;width:100%;"
    "box-sizing:border-box}"
    ".vm-table thead{position:absolute;width:1px;height:1px;overflow:hidden;"
    "clip:rect(0 0 0 0)}"
    ".vm-table tr{border:1px solid #ccc;border-radius:4px;margin:0 0 .6em;padding:.3em .5em}"
    ".vm-table td,.vm-table td.vm-num{display:grid;grid-template-columns:minmax(6em,38%) 1fr;"
    "gap:.6em;border:0;padding:.1em 0;white-space:normal;text-align:left;"
    "overflow-wrap:anywhere;min-width:0}"
    ".vm-table td::before{content:attr(data-label);color:#666}"
    ".vm-table td:first-child{position:static;display:block;font-weight:600;min-width:0}"
    ".vm-table td:first-child::before{content:none}"
    ".vm-sources dt{float:none}.vm-sources dd{margin:0 0 .4em 1em}}"
    "</style>"
)


class Cite(str):
    """A table cell citing a source by its key (a link to the key in the source list)."""


class Fold(NamedTuple):
    """A table cell whose text is folded behind a short summary (opened on a click)."""

    summary: str
    text: str


class Table:
    """Rows of dicts shown as an HTML table (numbers formatted, columns renamed).

    ``columns`` maps a row's keys to the headers shown, in the order shown: the columns a
    reader compares first.  ``sources`` maps each :class:`Cite` key used in the rows to the
    full source, listed once below the table.  ``wide`` names the columns of running text
    (given a minimum width, so that a wide table scrolls rather than squeezes them)."""

    def __init__(
        self,
        rows: list[dict],
        columns: dict,
        sources: dict | None = None,
        wide: tuple = (),
    ):
        self.rows, self.columns = rows, columns
        self.sources = dict(sources or {})
        self.wide = frozenset(wide)
        cited = {r[c] for r in rows for c in columns if isinstance(r[c], Cite)}
        if cited - set(self.sources):
            raise ValueError(
                f"sources: no entry for the cited keys {sorted(cited - set(self.sources))}"
            )

    @staticmethod
    def _cell(v) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        if isinstance(v, Cite):
            return f'<a href="#{_anchor(v)}">[{html.escape(v)}]</a>'
        if isinstance(v, Fold):
            return (
                f"<details><summary>{html.escape(v.summary)}</summary>"
                f"{html.escape(v.text)}</details>"
            )
        return html.escape(str(v))

    def _td(self, key: str, v) -> str:
        kind = "vm-num" if isinstance(v, int | float) else "vm-wide" if key in self.wide else ""
        cls = f' class="{kind}"' if kind else ""
        label = html.escape(self.columns[key], quote=True)
        return f'<td data-label="{label}"{cls}>{self._cell(v)}</td>'

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(t)}</th>" for t in self.columns.values())
        body = "".join(
            "<tr>" + "".join(self._td(c, r[c]) for c in self.columns) + "</tr>" for r in self.rows
        )
        table = (
            f'<div class="vm-table-box"><table class="vm-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"
        )
        if self.sources:
            items = "".join(
                f'<dt id="{_anchor(k)}">[{html.escape(k)}]</dt><dd>{html.escape(text)}</dd>'
                for k, text in self.sources.items()
            )
            table += f'<dl class="vm-sources">{items}</dl>'
        return STYLE + table

    def __repr__(self):
        text = "\n".join(
            " | ".join(
                f"[{r[c]}]"
                if isinstance(r[c], Cite)
                else r[c].text
                if isinstance(r[c], Fold)
                else self._cell(r[c])
                for c in self.columns
            )
            for r in self.rows
        )
        if self.sources:
            text += "\n\n" + "\n".join(f"[{k}] {v}" for k, v in self.sources.items())
        return text


def _anchor(key: str) -> str:
    return "src-" + re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


def profile_table(profile=DEFAULT_PROFILE) -> Table:
    """Every cost of a profile with its value, unit, status and source (the calibration
    appendix)."""
    return Table(
        get_profile(profile).table(),
        {"name": "cost", "value": "value", "unit": "unit", "status": "status", "source": "source"},
        wide=("source",),
    )


def lab_error_table(rows) -> Table:
    """Every grid cell (rows of :func:`virtmodel.lab.validate.compare`): measured,
    predicted, error, then the runs' range and the exits (measured / model)."""
    rows = [
        dict(
            cell=f"{r.experiment}, {r.knob_label}, {fmt_bytes(r.request_bytes)}",
            measured=r.measured_us,
            predicted=r.predicted_us,
            error=f"{r.error:+.1%}",
            range=f"{r.measured_min:.2f}–{r.measured_max:.2f}",
            exits=f"{r.measured_user_exits:.4f} / {r.predicted_user_exits:.4f}",
        )
        for r in rows
    ]
    return Table(
        rows,
        {
            "cell": "experiment, knob, request",
            "measured": "measured µs",
            "predicted": "model µs",
            "error": "error",
            "range": "runs (min–max) µs",
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
                value=src[k],
                unit=unit,
                spread=f"{src['spread'][k]:.0%}",
                where=where,
                what=text,
            )
        )
    return Table(
        rows,
        {
            "name": "benchmark",
            "value": "median",
            "unit": "unit",
            "spread": "spread",
            "where": "runs in",
            "what": "what it times",
        },
        wide=("what",),
    )


# ---------------------------------------------------------------------------------------
# The validation appendix: the model beside published results.
# ---------------------------------------------------------------------------------------
MET = {True: "yes", False: "no", None: "no target"}


def _workload_text(workload: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in workload.items())


def validation_table(rows=None) -> Table:
    """Every published result of :func:`virtmodel.validation.table` beside the model,
    numbered as in :func:`validation_chart`: the result, the reported and predicted
    values, the error and whether it meets its target (absolute rates and latencies have
    none), then the model's run, the source (by key, listed below the table) and, folded,
    what was measured, the workload and the host."""
    from . import validation

    rows = validation.table() if rows is None else rows
    out: list[dict] = []
    sources: dict[str, str] = {}  # key -> the source, in full
    for n, r in enumerate(rows, 1):
        e = r.case.entry
        sources.setdefault(r.case.source_key, e["source"])
        what = e["quantity"]
        if r.case.raw_key:
            what = f"the entry's {r.case.raw_key!r} figure of: {what}"
        out.append(
            dict(
                result=f"{n}. {r.case.label} [{e['unit']}]",
                reported=r.reported,
                model="not run" if r.skipped else r.model,
                error="-" if r.skipped else f"{r.error:+.0%}",
                met=r.skipped or MET[r.within],
                model_run=r.case.setup,
                source=Cite(r.case.source_key),
                details=Fold(
                    "measured, workload, host",
                    f"Measured: {what}. Workload: {_workload_text(e['workload'])}. "
                    f"Host: {e['host']}.",
                ),
            )
        )
    return Table(
        out,
        {
            "result": "result",
            "reported": "reported",
            "model": "model",
            "error": "error",
            "met": "met",
            "model_run": "the model's run",
            "source": "source",
            "details": "details",
        },
        sources=dict(sorted(sources.items())),
        wide=("model_run", "details"),
    )


# The chart's panels: which results each holds, its title and its target band.
PANELS = (
    ("count", "Counts per I/O", "within 15 % or 0.1"),
    ("ratio", "Ratios", "median error within 30 %"),
    ("scaling", "Scaling", "median error within 30 %"),
    ("absolute", "Rates and latencies", "median error within 35 %"),
)
MARKS = {  # met -> (marker, colour, words); Okabe-Ito colours, told apart by shape too
    True: ("o", "#0072B2", "within its target"),
    False: ("X", "#D55E00", "outside its target"),
    None: ("D", "#666666", "no target"),
}


def _band(kind: str, x: float) -> tuple[float, float] | None:
    from . import validation

    if kind == "count":
        d = max(validation.COUNT_TOLERANCE * x, validation.COUNT_ABSOLUTE)
        return max(x - d, 1e-3), x + d
    if kind in ("ratio", "scaling"):
        return x * (1 - validation.RATIO_MEDIAN), x * (1 + validation.RATIO_MEDIAN)
    if kind == "absolute":
        return x * (1 - validation.ABSOLUTE_MEDIAN), x * (1 + validation.ABSOLUTE_MEDIAN)
    return None


# Where a point's label may go (offset in points, alignment), tried in this order.
_LABEL_SPOTS = ((4, 2, "left"), (-4, 2, "right"), (4, -10, "left"), (-4, -10, "right"))
_TICKS = [m * 10.0**e for e in range(-2, 7) for m in (1, 2, 5)]


def _tick(v: float) -> str:
    return f"{v / 1000:g} k" if v >= 10_000 else f"{v:g}"


def _panel_svg(kind: str, title: str, points: list) -> str:
    """One panel (points: (number, row)) as an SVG document whose points have tooltips."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    xs = [r.reported for _, r in points] + [r.model for _, r in points]
    lo, hi = min(xs) / 1.6, max(xs) * 1.6
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": f"vm-{kind}", "font.size": 9}):
        fig = Figure(figsize=(2.45, 2.55), layout="constrained")
        ax = fig.add_subplot()
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), aspect="equal")
        grid = [lo * (hi / lo) ** (i / 40) for i in range(41)]
        band = [b for x in grid if (b := _band(kind, x)) is not None]
        if band:
            ax.fill_between(grid, [b[0] for b in band], [b[1] for b in band], color="#cfe3f0")
        ax.plot([lo, hi], [lo, hi], color="#333", lw=0.8)
        placed: list[tuple[float, float, list[str]]] = []
        for n, r in points:
            marker, colour, _ = MARKS[r.within]
            ax.plot([r.reported], [r.model], marker, color=colour, ms=5.5, gid=f"vm-pt-{n}")
            near = 0.045 * math.log(hi / lo)  # in log units: ~10 px on the panel
            for p in placed:  # points close together share one label
                if abs(math.log(p[0] / r.reported)) < near and abs(math.log(p[1] / r.model)) < near:
                    p[2].append(str(n))
                    break
            else:
                placed.append((r.reported, r.model, [str(n)]))
        taken: list[tuple[float, float, float, float]] = []  # label boxes, in points
        for x, y, names in placed:
            text = ",".join(names)
            px, py = ax.transData.transform((x, y)) * 72 / fig.dpi
            w, h = 5.2 * len(text), 9.0  # the label's box at 9 pt, roughly
            near_right = math.log(x / lo) > 0.75 * math.log(hi / lo)
            spots = _LABEL_SPOTS[1::-1] + _LABEL_SPOTS[3:1:-1] if near_right else _LABEL_SPOTS
            for dx, dy, ha in spots:  # the first spot that overlaps no label
                x0 = px + dx - (w if ha == "right" else 0)
                box = (x0, py + dy, x0 + w, py + dy + h)
                if all(
                    b[2] <= box[0] or box[2] <= b[0] or b[3] <= box[1] or box[3] <= b[1]
                    for b in taken
                ):
                    break
            taken.append(box)
            ax.annotate(
                text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, fontsize=9
            )
        ticks = [t for t in _TICKS if lo <= t <= hi and (hi / lo < 1000 or f"{t:g}"[0] == "1")]
        if hi / lo > 1e4:  # many decades: every other one
            ticks = ticks[::2]
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(FixedLocator(ticks))
            axis.set_major_formatter(FuncFormatter(lambda v, _: _tick(v)))
            axis.set_minor_formatter(NullFormatter())
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_xlabel("reported")
        ax.set_ylabel("model")
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    for n, r in points:
        tip = html.escape(
            f"{n}. {r.case.label}: reported {r.reported:.4g}, model {r.model:.4g} "
            f"({r.error:+.0%}), {MARKS[r.within][2]}"
        )
        svg = svg.replace(f'<g id="vm-pt-{n}">', f'<g id="vm-pt-{n}"><title>{tip}</title>', 1)
    return svg


CHART_CSS = (
    ".vm-chart{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:.5em 1em;"
    "margin:.5em 0;max-width:700px}"
    "@media (max-width:640px){.vm-chart{grid-template-columns:minmax(0,1fr);"
    "max-width:400px}}"
    ".vm-chart-panel{min-width:0}"
    ".vm-chart-panel svg{width:100%;height:auto;display:block}"
    ".vm-chart-legend{font-size:.85em}"
)
"""The chart's layout: its panels in a grid of equal cells, two across (a 2 x 2 grid of
the four kinds in the content column, each panel about 330 px wide, its 9 pt text about
17 px), one across on a phone (:data:`virtmodel.explore.static.NARROW_MEDIA`'s width;
a panel the column's width, about 360 px)."""


class Chart:
    """The validation appendix's chart: one SVG panel per kind of result, all of one
    size (:data:`CHART_CSS`)."""

    def __init__(self, panels: list[tuple[str, str, str, list]]):
        """``panels``: (kind, title, target in words, [(row number, row)])."""
        self.panels = panels

    def _repr_html_(self) -> str:
        svgs = "".join(
            f'<div class="vm-chart-panel" data-kind="{kind}">{_panel_svg(kind, title, pts)}</div>'
            for kind, title, _, pts in self.panels
        )
        targets = "; ".join(f"{t.lower()}: {target}" for _, t, target, _ in self.panels if target)
        legend = " · ".join(
            f'<span style="color:{c}">{ {"o": "●", "X": "✖", "D": "◆"}[m] }</span> {w}'
            for m, c, w in MARKS.values()
        )
        return (
            f"<style>{CHART_CSS}</style>"
            f'<div class="vm-chart" role="figure" aria-label="Reported against model">{svgs}</div>'
            f'<p class="vm-chart-legend">{legend}. Shaded: the target band ({targets}); '
            "line: model = reported; log scales. Numbers are the rows of the table further "
            "down; "
            "hover a point for its values.</p>"
        )

    def __repr__(self):
        return f"Chart({', '.join(t for _, t, _, _ in self.panels)})"


def validation_chart(rows=None) -> Chart:
    """Reported against model for every result of :func:`virtmodel.validation.table`, on
    log axes: counts, ratios and absolute values (rates, latencies) in a panel each, with
    the line model = reported and the kind's target band; each point numbered as its row
    in :func:`validation_table`, with its values on hover."""
    from . import validation

    rows = validation.table() if rows is None else rows
    groups: dict[str, list] = {kind: [] for kind, _, _ in PANELS}
    for n, r in enumerate(rows, 1):
        if not r.skipped:  # a row the model cannot run yet has no point (the table says why)
            groups[r.case.kind if r.case.kind in groups else "absolute"].append((n, r))
    return Chart([(k, title, target, groups[k]) for k, title, target in PANELS if groups[k]])
