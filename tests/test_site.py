"""The built site in real headless Chromium (Debian's chromium, driven by playwright).

Every page loads with no JavaScript error and no request leaving the machine, and its own
payload (the HTML and the images it loads at first) stays within 600 KB; its whole first
visit, theme included, within 1 MB; every figure has rendered pixels; every control of
every player, moved through all its values, shows other frames that load; at a phone's
width (390 px) no page scrolls sideways, no player overflows the page and the vring tour
shows its narrow frames; no text names a button the page does not have; the validation
appendix shows its chart; the downloads offered to run a page locally are real files;
every internal link (and its #anchor) resolves.  In CI a missing browser fails the run.
"""

import functools
import http.server
import itertools
import json
import os
import shutil
import threading
import urllib.request
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from conftest import IN_CI

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = [pytest.mark.slow, pytest.mark.browser]
PAGE_BUDGET = 600 * 1024  # bytes: a page's HTML plus the images it loads at first
FIRST_VISIT_BUDGET = 1_000_000  # bytes: everything a first visit loads, theme included
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        msg = (
            "Chromium not found at /usr/bin/chromium: install Debian's chromium "
            "(python3 dev.py test does, as root)"
        )
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


def _open(browser, url, viewport=None):
    """Load ``url`` in a fresh context (an empty cache: a first visit); return (page, JS
    errors, console errors, requests to other hosts, (url, bytes) of the page's own
    payload: its HTML and images).  ``page.loaded`` lists (url, bytes) of everything it
    loaded."""
    page = browser.new_page(viewport=viewport) if viewport else browser.new_page()
    errors, console, outside, own = [], [], [], []
    page.loaded = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)

    def route(r):
        if urlparse(r.request.url).hostname in ("127.0.0.1", None) or r.request.url.startswith(
            "data:"
        ):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    def response(r):
        if r.url.startswith("data:"):
            return
        size = len(r.body()) if r.ok else 0
        page.loaded.append((r.url, size))
        if r.request.resource_type in ("document", "image"):
            own.append((r.url, size))

    page.route("**/*", route)
    page.on("response", response)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)
    return page, errors, console, outside, own


def test_every_page_loads_clean_and_renders_its_figures(browser, server):
    base, site = server
    seen_players = 0
    for rel in _pages(site):
        page, errors, console, outside, own = _open(browser, base + rel)
        assert errors == [], (rel, errors)
        assert console == [], (rel, console)
        assert outside == [], (rel, outside)  # the page needs no network beyond the site
        assert own and own[0][0] == base + rel  # the HTML itself was measured
        weight = sum(n for _, n in own)
        assert weight <= PAGE_BUDGET, (rel, weight, sorted(own, key=lambda x: -x[1])[:5])
        page.evaluate(_READ_THROUGH)  # frames load lazily: scroll as a reader does
        imgs = page.eval_on_selector_all(
            "main img",
            "els => els.filter(e => e.offsetParent !== null)"
            ".map(e => [e.currentSrc.slice(0, 40), e.complete, e.naturalWidth])",
        )
        for src, complete, width in imgs:
            assert complete and width > 0, (rel, src)
        players = page.locator(".vm-player")
        seen_players += players.count()
        for i in range(players.count()):
            shown = players.nth(i).locator("img.vm-frame")
            assert shown.count() == 1, (rel, i)  # one frame in the page, the default
            assert not shown.get_attribute("src").startswith("data:"), (rel, i)
        page.close()
    assert seen_players >= 7


_READ_THROUGH = """async () => {
  for (let y = 0; y < document.body.scrollHeight; y += innerHeight / 2) {
    scrollTo(0, y);
    await new Promise(r => setTimeout(r, 30));
  }
  await Promise.all([...document.images].filter(i => !i.complete).map(i => new Promise(r => {
    i.addEventListener("load", r, {once: true}); i.addEventListener("error", r, {once: true});
  })));
}"""


_LOADED = """img => new Promise(done => {
  const ok = () => done([img.currentSrc, img.naturalWidth]);
  img.scrollIntoView({block: "center"});  // frames load lazily: as a reader scrolls to them
  if (img.complete) return ok();
  img.addEventListener("load", ok, {once: true});
  img.addEventListener("error", ok, {once: true});
})"""


def _shown(player):
    return player.locator("img.vm-frame").evaluate(_LOADED)


def _where_it_matters(data, k):
    """Positions of the knobs (one per knob) from which moving knob ``k`` through its
    values shows more than one frame (a knob can be inert at some settings of the others:
    EVENT_IDX changes nothing at the tour's first step).  None if there are none."""
    sizes = [len(knob["labels"]) for knob in data["knobs"]]
    others = [range(n) if j != k else [0] for j, n in enumerate(sizes)]
    for pos in itertools.product(*others):
        frames = set()
        for v in range(sizes[k]):
            i = 0
            for j, n in enumerate(sizes):
                i = i * n + (v if j == k else pos[j])
            frames.add(data["frames"][i])
        if len(frames) > 1:
            return list(pos)
    return None


def _set(page, knob, j):
    """Move a player's control to its ``j``-th value as a reader would."""
    slider = knob.locator("input[type=range]")
    if slider.count():
        slider.focus()
        page.keyboard.press("Home")
        for _ in range(j):
            page.keyboard.press("ArrowRight")
    else:
        knob.locator("button").nth(j).click()


def test_every_control_of_every_player_shows_other_frames(browser, server):
    """Each control moved through all its values (keyboard for sliders, clicks for
    buttons), from a setting of the other controls where it matters: the frame's address
    changes, every frame loads, the control's label follows; no JS error and nothing
    fetched from elsewhere.  No control is inert at every setting of the others."""
    base, site = server
    controls = 0
    for rel in _pages(site):
        page, errors, console, outside, _ = _open(browser, base + rel)
        players = page.locator(".vm-player")
        for i in range(players.count()):
            player = players.nth(i)
            data = json.loads(player.locator("script.vm-player-data").text_content())
            knobs = player.locator(".vm-knob")
            assert knobs.count() == len(data["knobs"]), (rel, i)
            for k in range(knobs.count()):
                knob, labels = knobs.nth(k), data["knobs"][k]["labels"]
                pos = _where_it_matters(data, k)
                assert pos is not None, (rel, i, data["knobs"][k]["label"], "never matters")
                for j, p in enumerate(pos):
                    if j != k:
                        _set(page, knobs.nth(j), p)
                seen = set()
                slider = knob.locator("input[type=range]")
                if slider.count():
                    slider.focus()
                    page.keyboard.press("Home")
                    for j in range(len(labels)):
                        if j:
                            page.keyboard.press("ArrowRight")
                        src, width = _shown(player)
                        assert width > 0, (rel, i, k, j, src)
                        assert knob.locator("output").inner_text() == labels[j]
                        seen.add(src)
                else:
                    buttons = knob.locator("button")
                    assert [b.strip() for b in buttons.all_inner_texts()] == labels
                    for j in list(range(1, len(labels))) + [0]:
                        buttons.nth(j).click()
                        src, width = _shown(player)
                        assert width > 0, (rel, i, k, j, src)
                        assert buttons.nth(j).get_attribute("aria-pressed") == "true"
                        seen.add(src)
                assert len(seen) > 1, (rel, i, data["knobs"][k]["label"])
                controls += 1
        assert errors == [] and console == [] and outside == [], (rel, errors, console, outside)
        page.close()
    assert controls >= 15


def test_on_a_phone_players_fit_and_show_their_narrow_frames(browser, server):
    """At 390 px wide: no player is wider than the screen (nor scrolls sideways inside),
    and each shows its narrow frame (drawn 4.4 inches wide at 1.5 times the dpi, panels
    stacked; the vring tours' tables stacked with larger type): shown at (nearly) the
    screen's width and scaled down no more than the doubled dpi, so its text is as large
    as on a desktop; the narrow set follows the controls."""
    from virtmodel.explore import static as vm_player

    base, site = server
    players = tours = 0
    for rel in _pages(site):
        page, errors, _, _, own = _open(browser, base + rel, viewport=PHONE)
        assert errors == [], (rel, errors)
        assert sum(n for _, n in own) <= PAGE_BUDGET, rel
        boxes = page.eval_on_selector_all(
            ".vm-player",
            """els => els.map(e => {
            const r = e.getBoundingClientRect();
            return [r.left, r.right, e.scrollWidth, e.clientWidth]; })""",
        )
        for left, right, scroll_w, client_w in boxes:
            assert left >= 0 and right <= PHONE["width"], (rel, left, right)
            assert scroll_w <= client_w, (rel, scroll_w, client_w)
        for i in range(page.locator(".vm-player").count()):
            player = page.locator(".vm-player").nth(i)
            data = json.loads(player.locator("script.vm-player-data").text_content())
            narrow = {data["names"][j] for j in data["narrow"]}
            src, _ = _shown(player)
            assert src.split("/")[-1] in narrow, (rel, i, src)
            img = player.locator("img.vm-frame")
            nat_w, nat_h, shown_w = img.evaluate(
                "e => [e.naturalWidth, e.naturalHeight, e.getBoundingClientRect().width]"
            )
            assert shown_w >= 0.8 * PHONE["width"], (rel, i, shown_w)
            assert nat_w <= vm_player.NARROW_DPI_SCALE * shown_w * 1.1, (rel, i, nat_w)
            players += 1
            if data["title"] in ("The vring, step by step", "The packed ring, step by step"):
                tours += 1
                assert nat_h > nat_w  # the tables stacked
            knob = player.locator(".vm-knob").first
            if knob.locator("input").count():
                slider = knob.locator("input")
                slider.focus()
                at_end = slider.input_value() == slider.get_attribute("max")
                page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
            else:
                knob.locator("button[aria-pressed=false]").first.click()
            src2, width2 = _shown(player)
            assert src2 != src and width2 > 0 and src2.split("/")[-1] in narrow, (rel, i)
        page.close()
    assert players >= 7 and tours == 2  # the split ring's (ch. 3) and the packed one's (ch. 5)


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
        assert got["note"] == int(notebook), rel  # "Run this page live" on every notebook
        if url is None:
            assert got == {
                "binder": [],
                "live_code": 0,
                "repository": [],
                "note": int(notebook),
                "downloads": [
                    "../downloads/virtmodel-source.zip",
                    f"../downloads/{Path(rel).stem}.ipynb",
                ]
                * notebook,
            }, rel
        else:
            assert got["repository"] == [url] and got["downloads"] == [], rel
            assert got["live_code"] == int(notebook), rel
            assert len(got["binder"]) == int(notebook), rel
            assert all(b.endswith(f"?urlpath=lab/tree/{rel[:-5]}.md") for b in got["binder"])
    assert notebooks >= 4


def test_no_page_scrolls_sideways(browser, server):
    """At 1280 px and at a phone's 390 px, no page is wider than the window (long names,
    signatures, printed output and tables wrap or scroll inside their own box)."""
    base, site = server
    for rel in _pages(site):
        for viewport in (DESKTOP, PHONE):
            page, *_ = _open(browser, base + rel, viewport=viewport)
            wide = page.evaluate(
                """() => [document.documentElement.scrollWidth, innerWidth,
                [...document.querySelectorAll('.bd-article *')]
                  .filter(e => e.getBoundingClientRect().right > innerWidth + 1
                          && !e.closest('.vm-table-box, pre, .highlight, .vm-player'))
                  .slice(0, 3).map(e => e.tagName + '.' + e.className + ': '
                                   + (e.textContent || '').slice(0, 40))]"""
            )
            assert wide[0] <= wide[1], (rel, viewport["width"], wide)
            page.close()


def test_every_first_visit_is_light(browser, server):
    """A first visit (empty cache), everything included (HTML, theme, scripts, fonts,
    images), weighs at most 1 MB on a desktop and on a phone; fontawesome.js (1.45 MiB)
    is not among it, and every icon the page shows is drawn (the theme's webfont, cut to
    the icons used, has loaded)."""
    base, site = server
    for rel in _pages(site):
        for viewport in (DESKTOP, PHONE):
            page, *_ = _open(browser, base + rel, viewport=viewport)
            weight = sum(n for _, n in page.loaded)
            heaviest = sorted(page.loaded, key=lambda x: -x[1])[:4]
            assert weight <= FIRST_VISIT_BUDGET, (rel, viewport["width"], weight, heaviest)
            assert not any("fontawesome.js" in u for u, _ in page.loaded), rel
            icons = page.evaluate(
                """() => document.fonts.ready.then(() => [...document.querySelectorAll(
                  'i.fa-solid, i.fas, i.fa-brands, i.fab, i.fa-regular, i.far')]
                  .filter(e => e.offsetParent !== null)
                  .map(e => [e.className, getComputedStyle(e, '::before').content,
                             getComputedStyle(e).fontFamily,
                             e.getBoundingClientRect().width]))"""
            )
            assert icons, rel  # the search button at least
            for cls, content, family, width in icons:
                assert content not in ("none", "normal", '""') and width > 0, (rel, cls)
                assert "Font Awesome 6" in family, (rel, cls, family)
            fonts = [
                u for u, n in page.loaded if u.split("?")[0].endswith(".icons-used.woff") and n
            ]
            assert fonts, (rel, "no icon font loaded")
            page.close()


# Words that name a control of the page, and what must be on the page for them to be true.
BUTTON_WORDS = {
    r"\blaunch button|\brocket\b": ".dropdown-launch-buttons",
    r"\bLive Code\b": "button[onclick='initThebeSBT()']",
    r"\brepository button\b": ".btn-source-repository-button",
    r"\btop right\b": None,  # a place, not a control: never true of every layout
}


def test_no_text_names_a_button_the_page_lacks(browser, server):
    """Every mention of a control in a page's text (its prose, its players' notes) is of
    a control the page has."""
    import re

    base, site = server
    for rel in _pages(site):
        page, *_ = _open(browser, base + rel, viewport=DESKTOP)
        text = page.locator("main").inner_text()
        for words, control in BUTTON_WORDS.items():
            for m in re.finditer(words, text, re.IGNORECASE):
                around = text[max(0, m.start() - 60) : m.end() + 60]
                assert control and page.locator(control).count(), (rel, around)
        page.close()


def test_validation_appendix_leads_with_its_chart(browser, server):
    """Appendix C: the chart (a panel per kind, log axes, each result a point numbered as
    its row, with its values on hover) before the table, whose first columns are result,
    reported, model, error, met."""
    from virtmodel import validation

    base, _ = server
    rows = validation.table()
    for viewport in (DESKTOP, PHONE):
        page, *_ = _open(browser, base + "book/validation.html", viewport=viewport)
        panels = page.locator(".vm-chart .vm-chart-panel svg")
        assert panels.count() == 4  # counts, ratios, scaling, rates and latencies
        boxes = [panels.nth(i).bounding_box() for i in range(4)]
        # one size for every panel: two across on a desktop (a 2 x 2 grid), one on a phone
        assert max(b["width"] for b in boxes) - min(b["width"] for b in boxes) < 1, boxes
        assert max(b["height"] for b in boxes) - min(b["height"] for b in boxes) < 1, boxes
        across = len({round(b["x"]) for b in boxes})
        assert across == (1 if viewport is PHONE else 2), (viewport["width"], boxes)
        for i in range(4):
            box = panels.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (i, box)
            smallest = panels.nth(i).evaluate(  # px on screen: user units times the scale
                """svg => Math.min(...[...svg.querySelectorAll('text')].map(t =>
                parseFloat(getComputedStyle(t).fontSize)
                * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width))"""
            )
            assert smallest >= 11, (viewport["width"], i, smallest)
        tips = page.eval_on_selector_all(
            ".vm-chart g[id^=vm-pt-] > title", "ts => ts.map(t => t.textContent)"
        )
        ran = {n for n, r in enumerate(rows, 1) if not r.skipped}  # the others: "not run"
        numbers = [int(t.split(".", 1)[0]) for t in tips]
        assert sorted(numbers) == sorted(ran)
        for n, tip in zip(numbers, tips):
            assert tip.startswith(f"{n}. {rows[n - 1].case.label}: reported "), tip
        heads = page.eval_on_selector_all(".vm-table th", "hs => hs.map(h => h.textContent)")
        assert heads[:5] == ["result", "reported", "model", "error", "met"]
        chart_y = page.locator(".vm-chart").bounding_box()["y"]
        assert chart_y < page.locator(".vm-table").first.bounding_box()["y"]
        page.close()


def test_downloads_to_run_locally_are_real_files(server):
    """Where the site offers the book's source and the chapters as .ipynb (no
    repository), they are what they say: a zip of the source with the book, its
    command and its licence; each notebook the chapter's code, in the chapter's order."""
    import io
    import re
    import zipfile
    from pathlib import Path

    import jupytext

    base, site = server
    root = Path(__file__).resolve().parents[1]
    offered = 0
    for rel in _pages(site):
        page = (site / rel).read_text()
        for href in re.findall(r'<a href="([^"]*)" download>', page):
            url = urljoin(base + rel, href)
            with urllib.request.urlopen(url) as r:
                body = r.read()
            offered += 1
            if href.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(body)) as z:
                    names = set(z.namelist())
                assert {
                    "virtmodel/dev.py",
                    "virtmodel/LICENSE",
                    f"virtmodel/{rel[:-5]}.md",
                } <= names
            else:
                assert href.endswith(f"/{Path(rel).stem}.ipynb"), (rel, href)
                nb = json.loads(body)
                want = jupytext.read(root / rel.replace(".html", ".md"))
                code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
                assert code == [c.source for c in want.cells if c.cell_type == "code"], rel
    from test_launch_buttons import ext

    if ext.repository_url(os.environ, root) is None:
        assert offered >= 8  # a source and a notebook on every notebook page


def test_footer_names_date_version_and_licence(built_site):
    import re
    from importlib.metadata import version

    site, _ = built_site
    for rel in _pages(site):
        foot = (site / rel).read_text().split('class="vm-footer"')[1].split("</p>")[0]
        assert re.search(r"Built \d{4}-\d{2}-\d{2} from virtmodel ", foot), rel
        assert f"virtmodel {version('virtmodel')}, commit <code>" in foot, rel
        assert 'Licence: MIT (<a href="../LICENSE.txt">LICENSE</a>)' in foot, rel
    assert (site / "LICENSE.txt").read_text().startswith("MIT License")
