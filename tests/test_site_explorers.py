"""The built site's explorers in real headless Chromium, on a desktop (1280 px) and a phone
(390 px): every knob of every player changes its frame or is shown disabled with its
reason, and no knob shown disabled changes anything; every frame's smallest text is at least
11 CSS pixels where it is shown (from the frame's pixel size, the size it is shown at and
the size its smallest text was drawn with); a frame is not drawn wider than it is shown;
clicking a frame enlarges it; the frames one step away are fetched before they are asked
for once the reader comes to the player (not on the page's first visit); a slow frame
shows a loading sign; printed code output stays within the column.

(The browser, the server and the helpers to move a control come from test_site.)
"""

import itertools
import json

import pytest
from test_site import PHONE, _open, _set, _shown, browser, server  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser]
DESKTOP = {"width": 1280, "height": 900}
MIN_TEXT_PX = 11


def _players(page):
    out = []
    players = page.locator(".vm-player")
    for i in range(players.count()):
        p = players.nth(i)
        out.append((p, json.loads(p.locator("script.vm-player-data").text_content())))
    return out


def _pages(site):
    return sorted(str(p.relative_to(site)) for p in (site / "book").glob("*.html"))


def _index(sizes, pos):
    i = 0
    for n, p in zip(sizes, pos):
        i = i * n + p
    return i


def test_every_knob_changes_its_frame_or_is_shown_disabled(browser, server):  # noqa: F811
    """From each player's frame table: at every setting of the other knobs, a knob whose
    values all show one frame is marked inert there (with a reason), and a knob marked
    inert shows one frame.  In the page: moved into such a setting, the control is shown
    disabled and its reason written beside it; moved out, both go."""
    base, site = server
    knobs = disabled = 0
    for rel in _pages(site):
        page, errors, *_ = _open(browser, base + rel, viewport=DESKTOP)
        for player, d in _players(page):
            sizes = [len(k["labels"]) for k in d["knobs"]]
            for k, knob in enumerate(d["knobs"]):
                knobs += 1
                first_off = first_on = None
                others = [range(n) if j != k else [0] for j, n in enumerate(sizes)]
                for pos in itertools.product(*others):
                    at = [_index(sizes, [*pos[:k], v, *pos[k + 1 :]]) for v in range(sizes[k])]
                    frames = {d["frames"][i] for i in at}
                    off = {d["inert"][k][i] if d["inert"][k] else 0 for i in at}
                    where = (rel, d["title"], knob["label"], pos)
                    if len(frames) == 1:
                        assert 0 not in off, ("changes nothing but is not shown disabled", where)
                        first_off = first_off or list(pos)
                    else:
                        assert off == {0}, ("shown disabled but changes the frame", where)
                        first_on = first_on or list(pos)
                if first_off is None:
                    continue
                disabled += 1
                el = player.locator(".vm-knob").nth(k)
                for want_off, pos in ((True, first_off), (False, first_on)):
                    for j, p in enumerate(pos):
                        if j != k:
                            _set(page, player.locator(".vm-knob").nth(j), p)
                    classes = el.get_attribute("class").split()
                    why = el.locator(".vm-knob-why")
                    assert ("vm-off" in classes) == want_off, (rel, knob["label"], pos)
                    if want_off:
                        reason = d["reasons"][d["inert"][k][_index(sizes, pos)] - 1]
                        assert why.is_visible() and why.inner_text() == reason
                    else:
                        assert not why.is_visible()
        assert errors == [], (rel, errors)
        page.close()
    assert knobs >= 30 and disabled >= 3  # the trap path's direction, the tour, batching


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_frame_text_is_at_least_11_px_where_shown(browser, server, viewport):  # noqa: F811
    """Each player's frame as the page shows it (the wide frame on a desktop, the narrow
    one on a phone): its smallest text, drawn ``text_px`` frame pixels high, is shown at
    least 11 CSS pixels high; on a desktop the frame is drawn at the width it is shown
    (not squeezed); on a phone, as wide as the screen's column."""
    base, site = server
    seen = 0
    for rel in _pages(site):
        page, *_ = _open(browser, base + rel, viewport=viewport)
        for player, d in _players(page):
            src, _ = _shown(player)
            narrow = src.split("/")[-1] in {d["names"][j] for j in d["narrow"]}
            assert narrow == (viewport is PHONE), (rel, d["title"], src)
            nat_w, shown_w = player.locator("img.vm-frame").evaluate(
                "e => [e.naturalWidth, e.getBoundingClientRect().width]"
            )
            text = d["text_px"][narrow] * shown_w / nat_w
            assert text >= MIN_TEXT_PX - 0.05, (rel, d["title"], nat_w, shown_w, text)
            if viewport is DESKTOP:
                assert nat_w <= shown_w * 1.01, (rel, d["title"], nat_w, shown_w)
            seen += 1
        page.close()
    assert seen >= 15


def test_a_frame_enlarges_its_neighbours_are_fetched_and_a_slow_one_shows_a_sign(
    browser,  # noqa: F811
    server,  # noqa: F811
):
    base, _ = server
    page = browser.new_page(viewport=DESKTOP)
    fetched = []
    page.on("request", lambda r: fetched.append(r.url.split("/")[-1]))
    page.goto(base + "book/virtio.html", wait_until="load")
    page.wait_for_timeout(500)
    player, d = next((p, d) for p, d in _players(page) if d["title"] == "Batching")
    first = set(fetched)
    player.hover()  # the reader comes to the player: the frames around it are fetched
    page.wait_for_timeout(500)
    sizes = [len(k["labels"]) for k in d["knobs"]]
    start = d["start"]
    shown = d["names"][d["frames"][_index(sizes, start)]]
    for k in range(len(sizes)):  # one step along each control, from the first frame
        for step in (-1, 1):
            pos = list(start)
            pos[k] += step
            if 0 <= pos[k] < sizes[k]:
                want = d["names"][d["frames"][_index(sizes, pos)]]
                if want != shown:  # (a neighbour may show the same frame)
                    assert want in fetched and want not in first, (d["knobs"][k]["label"], step)
    img = player.locator("img.vm-frame")
    img.click()
    big = player.locator(".vm-enlarged")
    assert big.is_visible()
    assert big.locator("img").evaluate("e => e.src") == img.evaluate("e => e.src")
    box = big.locator("img").bounding_box()
    assert box["width"] > img.bounding_box()["width"]
    page.keyboard.press("Escape")
    assert not big.is_visible()
    # a slow link: frames answer after 1.5 s; the player says it is loading meanwhile
    page.route("**/_frames/*", lambda r: (page.wait_for_timeout(1500), r.continue_()))
    knob = player.locator(".vm-knob").nth(1)  # workload: a frame not prefetched yet
    knob.locator("button").nth(1).click()
    page.wait_for_timeout(400)
    assert "vm-loading" in player.get_attribute("class").split()
    assert player.locator(".vm-wait").is_visible()
    _shown(player)
    page.wait_for_timeout(100)
    assert "vm-loading" not in player.get_attribute("class").split()
    page.unroute_all(behavior="ignoreErrors")  # prefetches still held back by the route
    page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_printed_output_stays_within_the_column(browser, server, viewport):  # noqa: F811
    """No cell's printed output is wider than its box (it wraps instead of scrolling)."""
    base, site = server
    outputs = 0
    for rel in _pages(site):
        page, *_ = _open(browser, base + rel, viewport=viewport)
        wide = page.eval_on_selector_all(
            "div.cell_output pre",
            "els => els.map(e => [e.scrollWidth, e.clientWidth, e.textContent.slice(0, 50)])",
        )
        outputs += len(wide)
        for scroll_w, client_w, text in wide:
            assert scroll_w <= client_w + 1, (rel, scroll_w, client_w, text)
        page.close()
    assert outputs >= 10
