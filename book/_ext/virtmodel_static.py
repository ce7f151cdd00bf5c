"""Sphinx extension used by the book's build: marks the build as static, decides the launch
buttons, and drops repeated inline scripts.

Static build.  The notebooks run in kernels started by this process;
``VIRTMODEL_STATIC=1`` in their environment makes :mod:`virtmodel.explore` explorers render
kernel-free frame players instead of ipywidgets (which would be dead controls on a static
page).

Launch buttons.  The book's public repository is one setting: the environment variable
``VIRTMODEL_REPOSITORY`` if it is set (empty means "none"), else the checkout's git remote
``origin``; only a repository on a host that Binder and sphinx-book-theme's links understand
counts (a clone of a local folder has none).  With a repository, the pages get the
repository button and the launch buttons configured under ``launch_buttons`` in
``_config.yml`` (Binder, Live Code), all pointing at it.  Without one they get none (a
Binder button for a repository that does not exist is a dead end); each notebook page says
instead how to run it locally: ``python3 dev.py lab``.

Scripts.  sphinx-thebe 0.3.1 adds its configuration script (``const THEBE_JS_URL = ...``)
from an ``env-before-read-docs`` handler, and sphinx-togglebutton adds its selector script
from ``builder-inited``; both end up in the page's script list twice, once with filename
None and once with "" (Sphinx only drops exact duplicates), so every page declared
``THEBE_JS_URL`` twice: a JavaScript error ("Identifier 'THEBE_JS_URL' has already been
declared") on every page.

Frames.  The players' frames get a home (see :mod:`virtmodel.explore.static`).  The kernels write
frames into a store beside the doctrees (``<doctreedir>/virtmodel_frames``: it lives as long
as the executed pages it belongs to, so an incremental build that re-reads nothing still has
them), addressed in the pages by a placeholder URL; each written page gets the placeholder
replaced by the path from that page to ``_frames/`` in the HTML output, and at the end of the
build the frames the site's pages name are copied there (and any others removed).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

REPOSITORY_ENV = "VIRTMODEL_REPOSITORY"
# Hosts whose repositories sphinx-book-theme turns into repository and Binder links.
HOSTS = ("github.com", "gitlab.com", "bitbucket.org")

_URL = re.compile(r"(?:https?|ssh|git)://(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?/(?P<path>.+)")
_SCP = re.compile(r"[^@/:]+@(?P<host>[^/:]+):(?P<path>[^/].*)")  # git@github.com:owner/name


def public_repository(remote: str) -> str | None:
    """``https://HOST/OWNER/NAME`` for a git remote on one of :data:`HOSTS` (https, ssh or
    scp-like form; ``.git``, a trailing slash and any user or token dropped), else None."""
    text = remote.strip()
    m = _URL.fullmatch(text) or _SCP.fullmatch(text)
    if not m:
        return None
    host = m["host"].lower().removeprefix("www.")
    path = m["path"].rstrip("/").removesuffix(".git")
    parts = path.split("/")
    if host not in HOSTS or len(parts) != 2 or not all(re.fullmatch(r"[\w.-]+", p) for p in parts):
        return None
    return f"https://{host}/{parts[0]}/{parts[1]}"


def repository_url(environ, root) -> str | None:
    """The book's public repository URL, or None when it has none.

    ``environ[VIRTMODEL_REPOSITORY]`` wins when present: empty means none, a value that is
    not a repository on one of :data:`HOSTS` is a ValueError.  Otherwise the git remote
    ``origin`` of the checkout at ``root``, when it is on one of :data:`HOSTS`."""
    if REPOSITORY_ENV in environ:
        raw = environ[REPOSITORY_ENV].strip()
        if not raw:
            return None
        url = public_repository(raw)
        if url is None:
            raise ValueError(
                f"{REPOSITORY_ENV} must be a repository on {', '.join(HOSTS)} "
                f"such as https://github.com/OWNER/NAME (or empty for none), "
                f"got {raw!r}"
            )
        return url
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return public_repository(out.stdout) if out.returncode == 0 else None


def theme_options(options: dict, url: str | None) -> dict:
    """sphinx-book-theme's options for a book whose repository is ``url`` (None: none)."""
    opts = dict(options)
    if url:
        opts.update(repository_url=url, use_repository_button=True)
    else:
        opts.pop("repository_url", None)
        opts.update(
            use_repository_button=False,
            use_edit_page_button=False,
            use_issues_button=False,
            launch_buttons={},
        )
    return opts


def _set_repository(app, config):
    url = repository_url(os.environ, app.srcdir)
    config.virtmodel_repository = url or ""
    config.html_theme_options = theme_options(config.html_theme_options, url)


def run_locally_note(source: str) -> str:
    """The note a notebook page carries when there is no repository to launch it from."""
    return (
        '<div class="admonition note vm-run-locally">\n'
        '<p class="admonition-title">Run this page live</p>\n'
        "<p>This page is a notebook. To run its code and move its explorers live, run "
        "<code>python3 dev.py lab</code> in the book's source folder: it installs "
        "JupyterLab into the project's <code>.venv</code> and opens it, and "
        f"<code>{html.escape(source)}</code> opens there as a notebook.</p>\n</div>\n"
    )


def _note_where_no_repository(app, pagename, templatename, context, doctree):
    if app.config.virtmodel_repository or "body" not in context:
        return
    if "kernelspec" not in app.env.metadata.get(pagename, {}):
        return
    note = run_locally_note(str(app.env.doc2path(pagename, base=False)))
    body = context["body"]
    at = body.find("</h1>")
    at = at + len("</h1>") if at >= 0 else 0
    context["body"] = body[:at] + "\n" + note + body[at:]


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, out = set(), []
    for js in context.get("script_files", []):
        key = (
            getattr(js, "filename", js) or "",
            tuple(sorted(getattr(js, "attributes", {}).items())),
        )
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
        context["body"] = body.replace(
            FRAMES_URL_PLACEHOLDER, "../" * pagename.count("/") + FRAMES_FOLDER + "/"
        )


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
    missing = sorted(n for n in wanted if not (store / n).exists() and not (site / n).exists())
    if missing:
        raise RuntimeError(
            f"{len(missing)} player frame(s) named by the pages are in neither "
            f"{store} nor {site}, e.g. {missing[0]}: rebuild from clean"
        )
    site.mkdir(exist_ok=True)
    for name in wanted:
        if not (site / name).exists():
            shutil.copyfile(store / name, site / name)
    for f in site.iterdir():
        if f.name not in wanted:
            f.unlink()


def setup(app):
    os.environ["VIRTMODEL_STATIC"] = "1"
    app.add_config_value("virtmodel_repository", "", "html")
    app.connect("config-inited", _set_repository)
    app.connect("html-page-context", _note_where_no_repository)
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("builder-inited", _frames_for_kernels)
    app.connect("html-page-context", _frames_url_in_page)
    app.connect("build-finished", _frames_into_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
