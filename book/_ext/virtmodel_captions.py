"""Sphinx extension used by the book's build: numbered captions for figures drawn by cells.

A chapter's figures are the outputs of code cells (an explorer's player, or a picture). Their
caption is a directive written right after the cell, outside its code, so the cell's code can
change without touching the caption::

    ```{code-cell} ipython3
    explore_exit_tax()
    ```

    ```{figure-caption} fig-exit-tax
    **The exit tax.** What the reader should look at, in a sentence or two.
    ```

The directive makes a docutils ``figure`` that holds only the caption (first paragraph) and
an optional legend (further paragraphs); the figure is numbered like any other (``numfig``:
"Figure 3" on its page) and can be cited with ``{numref}`fig-exit-tax```.  In the HTML it is
a ``<figure class="vm-caption">`` that follows the cell whose output it describes;
``tests/test_apparatus.py`` checks that every cell output with a figure has one.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

CSS = """
figure.vm-caption { margin: 0.2rem 0 1.8rem; padding: 0; text-align: start; }
figure.vm-caption figcaption {
  margin: 0; padding: 0; text-align: start; font-size: 0.92em;
  color: var(--pst-color-text-base); font-family: inherit; font-weight: normal;
}
figure.vm-caption figcaption p { display: block; margin: 0; }
figure.vm-caption .caption-number { font-weight: 600; font-style: normal; }
"""


class FigureCaption(SphinxDirective):
    """``{figure-caption} NAME``: the numbered caption of the figure the cell above draws."""

    required_arguments = 1
    has_content = True

    def run(self):
        if not self.content:
            raise self.error(f"figure-caption {self.arguments[0]}: the caption text is missing")
        body = nodes.Element()
        self.state.nested_parse(self.content, self.content_offset, body)
        first, rest = body.children[0], body.children[1:]
        if not isinstance(first, nodes.paragraph):
            raise self.error(
                f"figure-caption {self.arguments[0]}: the caption must start with a paragraph"
            )
        figure = nodes.figure(classes=["vm-caption"])
        figure["names"].append(nodes.fully_normalize_name(self.arguments[0]))
        self.state.document.note_explicit_target(figure, figure)
        caption = nodes.caption(first.rawsource, "", *first.children)
        caption.source, caption.line = self.get_source_info()
        figure += caption
        if rest:
            figure += nodes.legend("", *rest)
        self.set_source_info(figure)
        return [figure]


def _write_css(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    path = app.outdir / "_static" / "virtmodel_captions.css"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CSS, encoding="utf-8")


def _figure_word(app, config):
    config.numfig_format["figure"] = "Figure %s"  # after Sphinx fills its defaults (800)


def setup(app):
    app.connect("config-inited", _figure_word, priority=900)
    app.add_directive("figure-caption", FigureCaption)
    app.connect("build-finished", _write_css)
    app.add_css_file("virtmodel_captions.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
