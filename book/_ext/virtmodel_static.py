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
"""

import os


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, out = set(), []
    for js in context.get("script_files", []):
        key = (getattr(js, "filename", js) or "", tuple(sorted(getattr(js, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        out.append(js)
    context["script_files"] = out


def setup(app):
    os.environ["VIRTMODEL_STATIC"] = "1"
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
