"""Launch buttons lead somewhere: the book's repository is one setting (VIRTMODEL_REPOSITORY,
else git's origin); with it the pages link Binder, Live Code and the repository to it,
without it they show none of these and say how to run the page locally, offering the
book's source and the chapter as .ipynb, both made by the build.  The same extension
gives each page its footer (date, version, licence) and keeps pages light (no
fontawesome.js, only the icons used, sphinx-design's files only where used); those parts
are tested here too.

The decision is tested directly, then in two builds of a one-page book made with the
book's own configuration and extension (a few seconds each); tests/test_site.py checks the
real book's pages against the same decision."""

import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import virtmodel_static as ext


@pytest.mark.parametrize(
    "remote,url",
    [
        ("https://github.com/someone/virtmodel", "https://github.com/someone/virtmodel"),
        ("https://github.com/someone/virtmodel.git\n", "https://github.com/someone/virtmodel"),
        ("https://github.com/someone/virtmodel/", "https://github.com/someone/virtmodel"),
        (
            "https://x-access-token:ghs_secret@github.com/someone/virtmodel.git",
            "https://github.com/someone/virtmodel",
        ),  # a token in the remote never reaches a page
        ("git@github.com:someone/virtmodel.git", "https://github.com/someone/virtmodel"),
        ("ssh://git@gitlab.com:22/group/virtmodel.git", "https://gitlab.com/group/virtmodel"),
        ("https://www.GitHub.com/someone/vm.x", "https://github.com/someone/vm.x"),
        ("https://bitbucket.org/team/virtmodel", "https://bitbucket.org/team/virtmodel"),
        ("/srv/git/virtmodel", None),  # a clone of a local folder (as CI's fresh clone)
        ("file:///srv/git/virtmodel", None),
        ("../virtmodel", None),
        ("https://example.org/someone/virtmodel", None),  # a host the theme cannot link
        ("https://github.com/someone", None),
        ("https://github.com/someone/virtmodel/tree/main", None),
        ("", None),
    ],
)
def test_public_repository(remote, url):
    assert ext.public_repository(remote) == url


def _git_checkout(folder: Path, origin: str | None) -> Path:
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    if origin is not None:
        subprocess.run(["git", "-C", str(folder), "remote", "add", "origin", origin], check=True)
    return folder


def test_repository_from_origin_or_environment(tmp_path):
    on_github = _git_checkout(tmp_path / "a", "git@github.com:someone/virtmodel.git")
    local_clone = _git_checkout(tmp_path / "b", "/srv/git/virtmodel")
    no_remote = _git_checkout(tmp_path / "c", None)
    not_git = tmp_path / "d"
    not_git.mkdir()
    assert ext.repository_url({}, on_github) == "https://github.com/someone/virtmodel"
    for root in (local_clone, no_remote, not_git):
        assert ext.repository_url({}, root) is None, root
    env = {"VIRTMODEL_REPOSITORY": "https://gitlab.com/other/fork"}
    for root in (on_github, no_remote):  # the environment wins over origin
        assert ext.repository_url(env, root) == "https://gitlab.com/other/fork"
    assert ext.repository_url({"VIRTMODEL_REPOSITORY": " "}, on_github) is None  # "none"
    with pytest.raises(
        ValueError,
        match=r"VIRTMODEL_REPOSITORY must be a repository on "
        r"github.com.*got '/srv/git/virtmodel'",
    ):
        ext.repository_url({"VIRTMODEL_REPOSITORY": "/srv/git/virtmodel"}, on_github)


def test_theme_options_follow_the_repository():
    book = {
        "launch_buttons": {"binderhub_url": "https://mybinder.org", "thebe": True},
        "repository_branch": "main",
    }
    with_repo = ext.theme_options(book, "https://github.com/someone/virtmodel")
    assert with_repo == dict(
        book, repository_url="https://github.com/someone/virtmodel", use_repository_button=True
    )
    without = ext.theme_options(dict(book, repository_url="https://github.com/x/y"), None)
    assert without["launch_buttons"] == {} and "repository_url" not in without
    assert not without["use_repository_button"]
    assert book["launch_buttons"]["thebe"]  # the caller's options are not changed


def _tiny_book(folder: Path) -> Path:
    """A book with one notebook page and one plain page, configured as the real book is
    (its _config.yml and its extension), without executing anything."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cfg["execute"] = {"execute_notebooks": "off"}
    cfg["exclude_patterns"] = ["_build"]
    cfg["sphinx"]["local_extensions"] = {"virtmodel_static": str(ROOT / "book" / "_ext")}
    (folder / "book").mkdir(parents=True)
    (folder / "_config.yml").write_text(yaml.safe_dump(cfg))
    (folder / "_toc.yml").write_text(
        "format: jb-book\nroot: book/page\nchapters:\n  - file: book/plain\n"
    )
    head = (ROOT / "book" / "virtio.md").read_text().split("\n---\n")[0]  # its front matter
    assert "kernelspec:" in head
    (folder / "book" / "page.md").write_text(
        head + "\n---\n\n# A notebook page\n\n```{code-cell} ipython3\n1 + 1\n```\n"
    )
    (folder / "book" / "plain.md").write_text("# A plain page\n\nText.\n")
    return folder


def _build(folder: Path, repository: str) -> dict[str, str]:
    env = dict(os.environ, VIRTMODEL_REPOSITORY=repository)
    jb = Path(sysconfig.get_path("scripts")) / "jupyter-book"
    out = subprocess.run(
        [str(jb), "build", str(folder), "-W", "-n"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    html = folder / "_build" / "html" / "book"
    return {p: (html / f"{p}.html").read_text() for p in ("page", "plain")}


def launch_links(page: str) -> dict:
    """What a built page offers to launch: Binder links, Live Code buttons, repository
    links, its "Run this page live" notes and the downloads they offer."""
    notes = page.split('class="admonition note vm-run-live"')[1:]
    return {
        "binder": re.findall(r'href="(https://mybinder\.org/[^"]*)"', page),
        "live_code": page.count('onclick="initThebeSBT()"'),
        "repository": re.findall(r'<a href="([^"]*)"[^>]*btn-source-repository-button', page),
        "note": len(notes),
        "downloads": [
            h
            for n in notes
            for h in re.findall(r'<a href="([^"]*)" download>', n.split("</div>")[0])
        ],
    }


@pytest.mark.slow
def test_tiny_book_with_a_repository(tmp_path):
    pages = _build(_tiny_book(tmp_path), "git@github.com:someone/virtmodel.git")
    assert launch_links(pages["page"]) == {
        "binder": [
            "https://mybinder.org/v2/gh/someone/virtmodel/main?urlpath=lab/tree/book/page.md"
        ],
        "live_code": 1,
        "repository": ["https://github.com/someone/virtmodel"],
        "note": 1,  # naming the launch button, which the page has
        "downloads": [],
    }
    note = pages["page"].split('vm-run-live"')[1].split("</div>")[0]
    assert "launch button (the rocket" in note and "fa-rocket" in pages["page"]
    assert '<a href="https://github.com/someone/virtmodel">' in note
    assert launch_links(pages["plain"]) == {  # not a notebook: nothing to launch
        "binder": [],
        "live_code": 0,
        "repository": ["https://github.com/someone/virtmodel"],
        "note": 0,
        "downloads": [],
    }


@pytest.mark.slow
def test_tiny_book_without_a_repository(tmp_path):
    book = _tiny_book(tmp_path)
    pages = _build(book, "")
    assert launch_links(pages["page"]) == {
        "binder": [],
        "live_code": 0,
        "repository": [],
        "note": 1,
        "downloads": ["../downloads/virtmodel-source.zip", "../downloads/page.ipynb"],
    }
    assert "launch-buttons" not in pages["page"] and "mybinder" not in pages["page"]
    assert "rocket" not in pages["page"] and "launch button" not in pages["page"]
    note = pages["page"].split('vm-run-live"')[1].split("</div>")[0]
    assert "<code>python3 dev.py lab</code>" in note and "<code>book/page.md</code>" in note
    assert launch_links(pages["plain"]) == {
        "binder": [],
        "live_code": 0,
        "repository": [],
        "note": 0,
        "downloads": [],
    }
    site = book / "_build" / "html"
    nb = json.loads((site / "downloads" / "page.ipynb").read_text())
    assert nb["nbformat"] == 4
    assert ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"] == ["1 + 1"]
    with zipfile.ZipFile(site / "downloads" / "virtmodel-source.zip") as z:
        names = set(z.namelist())
    assert {"virtmodel/book/page.md", "virtmodel/_config.yml"} <= names
    assert not any("/_build/" in n for n in names)  # the source, not the build


def test_source_archive_holds_the_tracked_files(tmp_path):
    """In a git checkout the archive holds what git tracks (working-tree content), no
    untracked or ignored file; the same files make the same archive."""
    root = _git_checkout(tmp_path / "src", None)
    (root / "dev.py").write_text("print('hi')\n")
    (root / "book").mkdir()
    (root / "book" / "a.md").write_text("# A\n")
    (root / "scratch.txt").write_text("not tracked\n")
    subprocess.run(["git", "-C", str(root), "add", "dev.py", "book/a.md"], check=True)
    (root / "dev.py").write_text("print('changed')\n")  # tracked, changed since the add
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    assert ext.source_archive(root, a) == 2
    with zipfile.ZipFile(a) as z:
        assert sorted(z.namelist()) == ["virtmodel/book/a.md", "virtmodel/dev.py"]
        assert z.read("virtmodel/dev.py") == b"print('changed')\n"
    ext.source_archive(root, b)
    assert a.read_bytes() == b.read_bytes()


def test_footer_says_date_version_commit_and_licence(tmp_path):
    assert ext.build_date({"SOURCE_DATE_EPOCH": "1790000000"}) == "2026-09-21"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", ext.build_date({}))
    line = ext.footer_html("2026-12-06", "0.1.0", "4c4ce0118428", "MIT")
    assert line == (
        '<p class="vm-footer">Built 2026-12-06 from virtmodel 0.1.0, commit '
        '<code>4c4ce0118428</code>. Licence: MIT (<a href="{root}LICENSE.txt">LICENSE</a>).</p>'
    )
    assert "Licence" not in ext.footer_html("2026-12-06", "0.1.0", "", None)
    root = _git_checkout(tmp_path / "g", None)
    assert ext.git_commit(root) == ""  # no commit yet
    assert ext.git_commit(tmp_path) == ""  # not a checkout
    assert ext._licence_name(ROOT) == "MIT"  # the repository's LICENSE, as pyproject says
    assert 'license = "MIT"' in (ROOT / "pyproject.toml").read_text()


def test_light_theme_keeps_the_icons_used_and_drops_fontawesome_js():
    head = (
        '<link href="../_static/styles/pydata-sphinx-theme.css?digest=1" rel="stylesheet" />\n'
        '  <script defer src="../_static/scripts/fontawesome.js?digest=1"></script>\n'
        '<link rel="preload" as="script" href="../_static/scripts/bootstrap.js?digest=1" />'
    )
    assert ext.light_head(head) == (
        '<link href="../_static/styles/pydata-sphinx-theme.icons-used.css?digest=1" '
        'rel="stylesheet" />\n<link rel="preload" as="script" '
        'href="../_static/scripts/bootstrap.js?digest=1" />'
    )
    css = (
        "@font-face{font-family:X;src:url(../vendor/fontawesome/webfonts/fa-solid-900.woff2) "
        'format("woff2"),url(../vendor/fontawesome/webfonts/fa-solid-900.ttf) '
        'format("truetype")}'
        '.fa-sun:before{content:"\\f185"}.fa-rocket:before{content:"\\f135"}'
        '.fa-magnifying-glass:before,.fa-search:before{content:"\\f002"}'
        ".fa-lg{font-size:1.25em}"
    )
    used = ext.icons_named(['<i class="fa-solid fa-sun"></i>', 'x.classList.add("fa-search")'])
    light = ext.trim_icon_css(css, used)
    assert light == (
        "@font-face{font-family:X;src:url(../vendor/fontawesome/webfonts/"
        'fa-solid-900.icons-used.woff) format("woff")}'
        '.fa-sun:before{content:"\\f185"}'
        '.fa-magnifying-glass:before,.fa-search:before{content:"\\f002"}'
        ".fa-lg{font-size:1.25em}"
    )
    assert ext.glyphs_named(light + ':root{--i:"\uf05a"}') == {0xF185, 0xF002, 0xF05A}


def test_sphinx_design_assets_only_where_a_component_is_used():
    class File(str):
        @property
        def filename(self):
            return str(self)

    def context(body):
        return {
            "body": body,
            "css_files": [File("_static/sphinx-design.min.css"), File("_static/basic.css")],
            "script_files": [File("_static/design-tabs.js"), File("_static/doctools.js")],
        }

    plain = context("<p>text</p>")
    ext._design_only_where_used(None, "p", "page.html", plain, None)
    assert plain["css_files"] == ["_static/basic.css"]
    assert plain["script_files"] == ["_static/doctools.js"]
    tabs = context('<div class="sd-tab-set docutils">')
    ext._design_only_where_used(None, "p", "page.html", tabs, None)
    assert len(tabs["css_files"]) == 2 and len(tabs["script_files"]) == 2
