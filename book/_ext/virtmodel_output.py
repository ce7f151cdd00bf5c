"""Sphinx extension used by the book's build: printed code output kept within the column.

A cell's printed output is preformatted text; a line longer than the column made the page's
output box scroll sideways (at 1280 px as on a phone).  This adds a stylesheet that wraps
such lines at the column's edge instead, and lets a long unbroken token break anywhere
rather than overflow.
"""

from __future__ import annotations

from pathlib import Path

CSS = """/* virtmodel: printed output wraps within the column (book/_ext/virtmodel_output.py) */
div.cell_output .output pre, div.cell_output pre {
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
"""
NAME = "virtmodel-output.css"


def _write_css(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        (static / NAME).write_text(CSS)


def setup(app):
    app.add_css_file(NAME)
    app.connect("build-finished", _write_css)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
