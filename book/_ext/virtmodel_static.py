"""Sphinx extension used by the book's build: marks the build as static.

The notebooks run in kernels started by this process; ``VIRTMODEL_STATIC=1`` in their
environment makes :mod:`virtmodel.widgets` explorers render kernel-free frame players
instead of ipywidgets (which would be dead controls on a static page).

It also drops repeated inline scripts.  sphinx-thebe 0.3.1 adds its configuration script
(``const THEBE_JS_URL = ...``) from an ``env-before-read-docs`` handler, and
sphinx-togglebutton adds its selector script from ``builder-inited``; both end up in the
page's script list twice, once with filename None and once with "" (Sphinx only drops
exact duplicates), so every page declared ``THEBE_JS_URL`` twice: a JavaScript error ("Identifier 'THEBE_JS_URL'
has already been declared") on every page.

And it gives the players' frames a home (see :mod:`virtmodel.player`).  The kernels write
frames into a store beside the doctrees (``<doctreedir>/virtmodel_frames``: it lives as long
as the executed pages it belongs to, so an incremental build that re-reads nothing still has
them), addressed in the pages by a placeholder URL; each written page gets the placeholder
replaced by the path from that page to ``_frames/`` in the HTML output, and at the end of the
build the frames the site's pages name are copied there (and any others removed).
"""

import os
import re
import shutil
from pathlib import Path


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, out = set(), []
    for js in context.get("script_files", []):
        key = (getattr(js, "filename", js) or "", tuple(sorted(getattr(js, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        out.append(js)
    context["script_files"] = out


FRAMES_URL_PLACEHOLDER = "@@virtmodel-frames@@/"
FRAMES_FOLDER = "_frames"  # in the HTML output
_FRAME_NAME = re.compile(r"[0-9a-f]{20}\.webp")


def _frame_store(app) -> Path:
    return Path(app.doctreedir) / "virtmodel_frames"


def _frames_for_kernels(app):
    """Tell the kernels the book's build starts where to put their players' frames."""
    os.environ["VIRTMODEL_FRAMES_DIR"] = str(_frame_store(app))
    os.environ["VIRTMODEL_FRAMES_URL"] = FRAMES_URL_PLACEHOLDER


def _frames_url_in_page(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and FRAMES_URL_PLACEHOLDER in body:
        context["body"] = body.replace(FRAMES_URL_PLACEHOLDER,
                                       "../" * pagename.count("/") + FRAMES_FOLDER + "/")


def _frames_into_site(app, exception):
    """Copy the frames the site's pages name into ``_frames/`` (and drop the others)."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    wanted = set()
    for page in out.rglob("*.html"):
        if FRAMES_FOLDER + "/" in (text := page.read_text(encoding="utf-8", errors="replace")):
            wanted.update(_FRAME_NAME.findall(text))
    site = out / FRAMES_FOLDER
    store = _frame_store(app)
    missing = sorted(n for n in wanted if not (store / n).exists()
                     and not (site / n).exists())
    if missing:
        raise RuntimeError(f"{len(missing)} player frame(s) named by the pages are in neither "
                           f"{store} nor {site}, e.g. {missing[0]}: rebuild from clean")
    site.mkdir(exist_ok=True)
    for name in wanted:
        if not (site / name).exists():
            shutil.copyfile(store / name, site / name)
    for f in site.iterdir():
        if f.name not in wanted:
            f.unlink()


def setup(app):
    os.environ["VIRTMODEL_STATIC"] = "1"
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("builder-inited", _frames_for_kernels)
    app.connect("html-page-context", _frames_url_in_page)
    app.connect("build-finished", _frames_into_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
