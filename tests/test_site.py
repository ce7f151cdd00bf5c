"""The built site in real headless Chromium (Debian's chromium, driven by playwright).

Every page loads with no JavaScript error and no request leaving the machine; every figure
has rendered pixels; moving a player's slider with the keyboard shows another frame; every
internal link (and its #anchor) resolves.  In CI a missing browser fails the run.
"""

import functools
import http.server
import os
import shutil
import threading
import urllib.request
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from conftest import IN_CI

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        msg = ("Chromium not found at /usr/bin/chromium: install Debian's chromium "
               "(python3 dev.py test does, as root)")
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(built_site):
    site, _ = built_site
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/", site
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _pages(site):
    return sorted(str(p.relative_to(site)) for p in (site / "book").glob("*.html"))


def _open(browser, url):
    """Load ``url``; return (page, JS errors, console errors, requests to other hosts)."""
    page = browser.new_page()
    errors, console, outside = [], [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)

    def route(r):
        if urlparse(r.request.url).hostname in ("127.0.0.1", None) or \
                r.request.url.startswith("data:"):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)
    return page, errors, console, outside


def test_every_page_loads_clean_and_renders_its_figures(browser, server):
    base, site = server
    seen_players = 0
    for rel in _pages(site):
        page, errors, console, outside = _open(browser, base + rel)
        assert errors == [], (rel, errors)
        assert console == [], (rel, console)
        assert outside == [], (rel, outside)  # the page needs no network beyond the site
        imgs = page.eval_on_selector_all(
            "main img", "els => els.filter(e => e.offsetParent !== null)"
                        ".map(e => [e.currentSrc.slice(0, 40), e.complete, e.naturalWidth])")
        for src, complete, width in imgs:
            assert complete and width > 0, (rel, src)
        players = page.locator(".vm-player")
        seen_players += players.count()
        for i in range(players.count()):
            visible = players.nth(i).locator("img.vm-frame:visible")
            assert visible.count() == 1, (rel, i)
        page.close()
    assert seen_players >= 7


def test_player_slider_changes_the_frame(browser, server):
    base, _ = server
    page, errors, _, _ = _open(browser, base + "book/virtio.html")
    for i in range(page.locator(".vm-player").count()):
        player = page.locator(".vm-player").nth(i)
        slider = player.locator("input.vm-player-slider")
        before_src = player.locator("img.vm-frame:visible").get_attribute("src")
        before_label = player.locator("output").inner_text()
        slider.focus()
        key = "ArrowLeft" if slider.input_value() == slider.get_attribute("max") else "ArrowRight"
        page.keyboard.press(key)
        after = player.locator("img.vm-frame:visible")
        assert after.count() == 1
        assert after.get_attribute("src") != before_src, i
        assert player.locator("output").inner_text() != before_label, i
        assert player.locator("output").inner_text() == after.get_attribute("data-label")
    assert errors == []
    page.close()


def test_internal_links_resolve(browser, server):
    base, site = server
    anchors_cache = {}

    def anchors(url):
        if not urlparse(url).path.endswith((".html", "/")):  # downloads: .ipynb, .md, .pdf
            with urllib.request.urlopen(url) as r:
                assert r.status == 200, url
            return set()
        if url not in anchors_cache:
            p = browser.new_page()
            resp = p.goto(url, wait_until="networkidle")
            assert resp is not None and resp.ok, url
            anchors_cache[url] = set(p.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
            p.close()
        return anchors_cache[url]

    checked = 0
    for rel in _pages(site) + ["index.html"]:
        page = browser.new_page()
        page.goto(base + rel, wait_until="networkidle")
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        here = page.url  # index.html redirects to the first chapter
        page.close()
        for href in hrefs:
            full = urljoin(here, href)
            if not full.startswith(base):
                continue
            target, frag = urldefrag(full)
            ids = anchors(target)
            if frag:
                assert frag in ids, f"{rel}: {href} -> no #{frag} in {target}"
            checked += 1
    assert checked > 50


def test_launch_buttons_lead_somewhere(built_site):
    """Every page's launch and repository links follow the book's repository setting
    (VIRTMODEL_REPOSITORY, else git's origin; none in a clone of a local folder, as in CI):
    without one no page offers Binder, Live Code or a repository link, and each notebook
    page says how to run it locally; with one, they point at it."""
    import sys
    from pathlib import Path

    from test_launch_buttons import launch_links

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "book" / "_ext"))
    from virtmodel_static import repository_url

    url = repository_url(os.environ, root)
    site, _ = built_site
    pages = _pages(site)
    assert len(pages) >= 9
    notebooks = 0
    for rel in pages:
        source = (root / rel).with_suffix(".md").read_text()
        notebook = "\nkernelspec:" in source.split("\n---\n")[0]
        notebooks += notebook
        got = launch_links((site / rel).read_text())
        if url is None:
            assert got == {"binder": [], "live_code": 0, "repository": [],
                           "local_note": int(notebook)}, rel
        else:
            assert got["repository"] == [url] and got["local_note"] == 0, rel
            assert got["live_code"] == int(notebook), rel
            assert len(got["binder"]) == int(notebook), rel
            assert all(b.endswith(f"?urlpath=lab/tree/{rel[:-5]}.md") for b in got["binder"])
    assert notebooks >= 4
