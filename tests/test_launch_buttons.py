"""Launch buttons lead somewhere: the book's repository is one setting (VIRTMODEL_REPOSITORY,
else git's origin); with it the pages link Binder, Live Code and the repository to it,
without it they show none of these and say how to run the page locally.

The decision is tested directly, then in two builds of a one-page book made with the
book's own configuration and extension (a few seconds each); tests/test_site.py checks the
real book's pages against the same decision."""

import os
import re
import subprocess
import sys
import sysconfig
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
    links, and whether it carries the run-it-locally note."""
    return {
        "binder": re.findall(r'href="(https://mybinder\.org/[^"]*)"', page),
        "live_code": page.count('onclick="initThebeSBT()"'),
        "repository": re.findall(r'<a href="([^"]*)"[^>]*btn-source-repository-button', page),
        "local_note": page.count('class="admonition note vm-run-locally"'),
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
        "local_note": 0,
    }
    assert launch_links(pages["plain"]) == {  # not a notebook: nothing to launch
        "binder": [],
        "live_code": 0,
        "repository": ["https://github.com/someone/virtmodel"],
        "local_note": 0,
    }


@pytest.mark.slow
def test_tiny_book_without_a_repository(tmp_path):
    pages = _build(_tiny_book(tmp_path), "")
    assert launch_links(pages["page"]) == {
        "binder": [],
        "live_code": 0,
        "repository": [],
        "local_note": 1,
    }
    assert "launch-buttons" not in pages["page"] and "mybinder" not in pages["page"]
    note = pages["page"].split('vm-run-locally">')[1].split("</div>")[0]
    assert "<code>python3 dev.py lab</code>" in note and "<code>book/page.md</code>" in note
    assert launch_links(pages["plain"]) == {
        "binder": [],
        "live_code": 0,
        "repository": [],
        "local_note": 0,
    }
