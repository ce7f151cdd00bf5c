"""The book: every chapter executes in a fresh kernel (live form), and the static build
(warnings as errors, notebooks executed) contains exactly the TOC's pages with players."""

import re
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.name for p in (ROOT / "book").glob("*.md"))
TOC_PAGES = {"index.html", "search.html", "genindex.html"} | {
    f"book/{c[:-3]}.html" for c in CHAPTERS
}
EXPLORER_CALLS = re.compile(
    r'^(?:beyond\.)?(explore_\w+|vring_tour|measure_your_machine)\((?:ring="packed")?\)$',
    re.MULTILINE,
)

pytestmark = pytest.mark.slow


LIVE_CHAPTERS = ("lab.md", "beyond.md")
"""Chapters run live here.  Every chapter runs top to bottom in the strict book build (cells
must not fail); ``virtio.md`` runs live in JupyterLab in test_jupyterlab and test_binder;
every explorer's live form is driven in test_widgets.  These two have what nothing else runs
live: the lab's report (its button logic) and chapter 5's explorers in a kernel."""


@pytest.mark.parametrize("chapter", LIVE_CHAPTERS)
def test_chapter_executes_live(chapter, monkeypatch):
    """Top to bottom in a fresh kernel, as in Jupyter or Binder: explorers show widgets."""
    monkeypatch.delenv("VIRTMODEL_STATIC", raising=False)
    nb = jupytext.read(ROOT / "book" / chapter)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "book")}}
    ).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        if EXPLORER_CALLS.search(cell.source):
            kinds = {k for o in cell.outputs for k in o.get("data", {})}
            assert "application/vnd.jupyter.widget-view+json" in kinds, cell.source


def test_book_builds_strict(built_site):
    site, _log = built_site
    built = {
        str(p.relative_to(site))
        for p in site.rglob("*.html")
        if not str(p.relative_to(site)).startswith("_")
    }
    assert built == TOC_PAGES, built  # nothing outside the TOC, nothing missing
    html = (site / "book" / "intro.html").read_text()
    assert "VM exits/request" in html  # an executed cell's output is on the page


def test_every_explorer_is_a_player_not_a_widget(built_site):
    site, _ = built_site
    for chapter in CHAPTERS:
        src = (ROOT / "book" / chapter).read_text()
        page = (site / "book" / chapter.replace(".md", ".html")).read_text()
        n = len(EXPLORER_CALLS.findall(src))
        assert page.count('class="vm-player"') == n, chapter
        assert page.count('class="vm-player-data"') == n, chapter
        # no stored widget state, so no inert ipywidgets and no widget JS from a CDN
        assert "widget-state+json" not in page and "widget-view+json" not in page
        assert "cdn.jsdelivr.net" not in page
        assert page.count("const THEBE_JS_URL") <= 1


def test_lab_page_shows_the_shipped_measurement_labelled_and_no_button(built_site):
    from virtmodel import costs
    from virtmodel.lab import validate

    site, _ = built_site
    page = (site / "book" / "lab.html").read_text()
    m, head = validate.shipped()
    assert "Shipped measurement, not your machine" in page
    assert f"{head['host_cpu']}, KVM {head['flavour']}, {head['date']}" in page
    assert "this is the static site (no kernel)" in page
    assert "Measure this machine" not in page  # no button without a kernel
    table = page.split("Error table (every cell)")[1].split("</table>")[0]
    cells = len(validate.compare(m.results, m.profile))
    assert cells >= 24 and table.count("<tr>") == 1 + cells  # header + every cell
    assert costs.MEASURED in page  # the calibrated profile's table
