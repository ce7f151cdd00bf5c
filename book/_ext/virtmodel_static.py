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

Run it live.  Every notebook page carries a note, "Run this page live", under its title
(the players' notes point to it).  With a repository it names the launch button and the
repository; without one it says how to run the page locally and offers what that needs,
both made at build time: the book's source as a zip of the checkout's tracked files
(``downloads/virtmodel-source.zip``) and the chapter as a notebook
(``downloads/<page>.ipynb``, converted from its MyST ``.md`` by jupytext, without outputs).

Footer.  Each page's footer gives the build's date (``SOURCE_DATE_EPOCH`` if set, else
today, UTC), virtmodel's version and git commit, and the licence (the LICENSE file, copied
into the site as ``LICENSE.txt``).

Light pages.  pydata-sphinx-theme (under sphinx-book-theme) loads ``fontawesome.js`` on
every page, 1.45 MiB of JavaScript that swaps its icons for SVGs (pydata-sphinx-theme
issue #2379), although its stylesheet already draws them with the Font Awesome webfonts it
ships.  The pages here leave that script out (``templates/layout.html``, the
:func:`light_head` filter) and link a copy of the theme's stylesheet that keeps only the
icons some page or script of the site names, whose fonts are cut to those glyphs
(:func:`trim_icon_css`, :func:`subset_font`): every icon stays, drawn by the font.
sphinx-design's stylesheet and script are left out of the pages that use none of its
components.  ``virtmodel.css`` (``static/``) holds the site's own rules: nothing on a page is wider
than a phone's screen.

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

import datetime
import html
import os
import re
import shutil
import subprocess
import zipfile
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


RUN_LIVE_ID = "run-live"
DOWNLOADS = "downloads"  # in the HTML output
SOURCE_ARCHIVE = "virtmodel-source.zip"


def run_live_note(source: str, downloads: str, repository: str | None) -> str:
    """The note under a notebook page's title: how to run the page live.

    ``source`` is the page's ``.md`` in the book's source (``book/virtio.md``),
    ``downloads`` the path from the page to the site's downloads folder, ``repository``
    the public repository (None: none)."""
    src = html.escape(source)
    name = html.escape(Path(source).stem)
    zip_href = f"{downloads}/{SOURCE_ARCHIVE}"
    nb_href = f"{downloads}/{name}.ipynb"
    local = (
        "<code>python3 dev.py lab</code> in its folder (Python 3.11 or later: it sets up a "
        f"<code>.venv</code> with JupyterLab and opens <code>{src}</code> as a notebook)"
    )
    if repository:
        repo = html.escape(repository, quote=True)
        body = (
            "<p>This page is a notebook. The launch button (the rocket at the top of the page) "
            "opens it live, on Binder or in place (Live Code). On your machine: clone "
            f'<a href="{repo}">{repo}</a> and run {local}.</p>'
        )
    else:
        body = (
            "<p>This page is a notebook; run it on your machine. Download "
            f'<a href="{zip_href}" download>the book\'s source</a> (a zip made with this '
            f"site), unpack it and run {local}. Or download "
            f'<a href="{nb_href}" download>this chapter as a notebook</a> '
            f"(<code>{name}.ipynb</code>) for any Jupyter with virtmodel installed.</p>"
        )
    return (
        f'<div class="admonition note vm-run-live" id="{RUN_LIVE_ID}">\n'
        '<p class="admonition-title">Run this page live</p>\n'
        f"{body}\n</div>\n"
    )


def _run_live_note(app, pagename, templatename, context, doctree):
    if "body" not in context or "kernelspec" not in app.env.metadata.get(pagename, {}):
        return
    note = run_live_note(
        str(app.env.doc2path(pagename, base=False)),
        "../" * pagename.count("/") + DOWNLOADS,
        app.config.virtmodel_repository or None,
    )
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


# Assets of sphinx-design (which Jupyter Book 1 always loads): needed only on a page that
# uses one of its components (cards, tabs, dropdowns, grids: class names "sd-...").
DESIGN_ASSETS = ("sphinx-design.min.css", "design-tabs.js")
_DESIGN_CLASS = re.compile(r'class="(?:[^"]*\s)?sd-')


def _design_only_where_used(app, pagename, templatename, context, doctree):
    if _DESIGN_CLASS.search(context.get("body", "")):
        return
    for key in ("css_files", "script_files"):
        context[key] = [
            f
            for f in context.get(key, [])
            if not str(getattr(f, "filename", f) or "").endswith(DESIGN_ASSETS)
        ]


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


# --- Downloads: the book's source and each notebook page as .ipynb ---------------------------
_NOT_SOURCE = {".git", ".venv", "_build", "__pycache__", ".pytest_cache", ".hypothesis"}


def tracked_files(root: Path) -> list[str]:
    """The checkout's files as git tracks them (their working-tree content), relative to
    ``root``; outside a git checkout, every file but builds, caches and virtualenvs."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z"], capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        out = None
    if out is not None and out.returncode == 0 and out.stdout:
        names = out.stdout.decode().split("\0")
        return sorted(n for n in names if n and (root / n).is_file())
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file()
        and not (_NOT_SOURCE & set(p.relative_to(root).parts))
        and not p.name.endswith((".pyc", ".egg-info"))
    )


def source_archive(root: Path, dest: Path) -> int:
    """Write the book's source (:func:`tracked_files`) as a zip with one top folder,
    ``virtmodel/``; return the number of files.  The entries carry a fixed date, so the
    same files make the same archive."""
    files = tracked_files(root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for name in files:
            info = zipfile.ZipInfo(f"virtmodel/{name}", date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = ((root / name).stat().st_mode & 0o777) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, (root / name).read_bytes())
    return len(files)


def _downloads_into_site(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    import jupytext

    out = Path(app.outdir) / DOWNLOADS
    source_archive(Path(app.srcdir), out / SOURCE_ARCHIVE)
    for doc in app.env.found_docs:
        if "kernelspec" in app.env.metadata.get(doc, {}):
            nb = jupytext.read(app.env.doc2path(doc))
            jupytext.write(nb, out / f"{Path(doc).name}.ipynb", fmt="ipynb")
    licence = Path(app.srcdir) / "LICENSE"
    if licence.exists():
        shutil.copyfile(licence, Path(app.outdir) / "LICENSE.txt")


# --- Footer: date, version, licence -------------------------------------------------------
def build_date(environ) -> str:
    """The build's date, ``YYYY-MM-DD`` (UTC): ``SOURCE_DATE_EPOCH`` if set, else today."""
    epoch = environ.get("SOURCE_DATE_EPOCH")
    when = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)
        if epoch
        else datetime.datetime.now(datetime.UTC)
    )
    return when.strftime("%Y-%m-%d")


def git_commit(root) -> str:
    """The checkout's commit (short), "+ changes" when tracked files differ from it; ""
    outside a git checkout."""

    def git(*args):
        try:
            r = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    commit = git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return ""
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + (" + changes" if dirty else "")


def footer_html(date: str, version: str, commit: str, licence: str | None) -> str:
    """The footer's line: when the site was built, from which version, under which
    licence (``licence``: its name, None when the source has no LICENSE file)."""
    made = f"virtmodel {html.escape(version)}" + (
        f", commit <code>{html.escape(commit)}</code>" if commit else ""
    )
    text = f"Built {html.escape(date)} from {made}."
    if licence:
        text += f' Licence: {html.escape(licence)} (<a href="{{root}}LICENSE.txt">LICENSE</a>).'
    return f'<p class="vm-footer">{text}</p>'


def _licence_name(root: Path) -> str | None:
    licence = root / "LICENSE"
    if not licence.exists():
        return None
    first = licence.read_text(encoding="utf-8").strip().splitlines()[0]
    return first.removesuffix(" License").strip() or "see LICENSE"


def _footer(app, config):
    from importlib.metadata import version

    root = Path(app.srcdir)
    config.virtmodel_footer = footer_html(
        build_date(os.environ), version("virtmodel"), git_commit(root), _licence_name(root)
    )


def _footer_in_page(app, pagename, templatename, context, doctree):
    context["theme_extra_footer"] = app.config.virtmodel_footer.replace(
        "{root}", "../" * pagename.count("/")
    )


# --- Light pages: no fontawesome.js, only the icons used ------------------------------------
THEME_CSS = "styles/pydata-sphinx-theme.css"
LIGHT_CSS = "styles/pydata-sphinx-theme.icons-used.css"
_FA_SCRIPT = re.compile(
    r'\s*<script\b[^>]*\bsrc="[^"]*scripts/fontawesome\.js[^"]*"[^>]*></script>'
)
_ICON_RULE = re.compile(r'((?:\.fa-[a-z0-9-]+:(?:before|after),?)+)\{content:"[^"]*"\}')
_ICON_NAME = re.compile(r"fa-[a-z0-9-]+")
_FONT_SRC = re.compile(
    r'src:url\((?P<dir>[^)]*/)(?P<name>fa-[a-z]+-\d+)\.woff2\) format\("woff2"\),'
    r'url\([^)]*\.ttf\) format\("truetype"\)'
)
_GLYPH = re.compile(r"\\([0-9a-fA-F]{4,5})|([\ue000-\uf8ff])")


def light_head(head: str) -> str:
    """The theme's head (its ``css`` block) without ``fontawesome.js``, linking the
    stylesheet of :func:`trim_icon_css` instead of the theme's own."""
    return _FA_SCRIPT.sub("", head).replace(THEME_CSS, LIGHT_CSS)


def icons_named(texts) -> set[str]:
    """Every ``fa-...`` class name in ``texts`` (the site's pages and scripts)."""
    return {m for t in texts for m in _ICON_NAME.findall(t)}


def trim_icon_css(css: str, used: set[str]) -> str:
    """The theme's stylesheet with the icon rules (``.fa-x:before{content:...}``) of icons
    nothing uses left out, and each webfont pointing at its subset (:func:`subset_font`),
    a ``.woff`` beside the original."""

    def keep(m):
        names = {n.split(":")[0][1:] for n in m[1].split(",") if n}
        return m[0] if names & used else ""

    trimmed = _ICON_RULE.sub(keep, css)
    return _FONT_SRC.sub(r'src:url(\g<dir>\g<name>.icons-used.woff) format("woff")', trimmed)


def glyphs_named(css: str) -> set[int]:
    """The private-use code points a stylesheet draws (escaped or literal)."""
    return {int(m[1], 16) if m[1] else ord(m[2]) for m in _GLYPH.finditer(css)}


def subset_font(src: Path, dest: Path, codepoints: set[int]) -> None:
    """``src`` (a TrueType font) cut to ``codepoints``, written to ``dest`` as WOFF."""
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    font = subset.load_font(str(src), options)
    sub = subset.Subsetter(options)
    sub.populate(unicodes=sorted(codepoints))
    sub.subset(font)
    subset.save_font(font, str(dest), options)


def _light_theme_into_site(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    theme = static / THEME_CSS
    texts = [
        p.read_text(encoding="utf-8", errors="replace") for p in Path(app.outdir).rglob("*.html")
    ]
    texts += [
        p.read_text(encoding="utf-8", errors="replace")
        for p in static.rglob("*.js")
        if p.name != "fontawesome.js"
    ]
    light = trim_icon_css(theme.read_text(encoding="utf-8"), icons_named(texts))
    (static / LIGHT_CSS).write_text(light, encoding="utf-8")
    glyphs = set()
    for css in static.rglob("*.css"):
        if css != theme:
            glyphs |= glyphs_named(css.read_text(encoding="utf-8", errors="replace"))
    fonts = static / "vendor" / "fontawesome" / "webfonts"
    for m in _FONT_SRC.finditer(theme.read_text(encoding="utf-8")):
        subset_font(fonts / f"{m['name']}.ttf", fonts / f"{m['name']}.icons-used.woff", glyphs)


def _light_theme_filter(app):
    if hasattr(app.builder, "templates"):
        app.builder.templates.environment.filters["vm_light_head"] = light_head


def _site_files(app, config):
    here = Path(__file__).parent
    config.templates_path = [*config.templates_path, str(here / "templates")]
    config.html_static_path = [*config.html_static_path, str(here / "static")]


def setup(app):
    os.environ["VIRTMODEL_STATIC"] = "1"
    app.add_config_value("virtmodel_repository", "", "html")
    app.connect("config-inited", _set_repository)
    app.connect("html-page-context", _run_live_note)
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("html-page-context", _design_only_where_used)
    app.connect("builder-inited", _frames_for_kernels)
    app.connect("html-page-context", _frames_url_in_page)
    app.connect("build-finished", _frames_into_site)
    app.add_config_value("virtmodel_footer", "", "html")
    app.connect("config-inited", _footer)
    app.connect("config-inited", _site_files)
    app.connect("builder-inited", _light_theme_filter)
    app.add_css_file("virtmodel.css")
    app.connect("html-page-context", _footer_in_page)
    app.connect("build-finished", _downloads_into_site)
    app.connect("build-finished", _light_theme_into_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
