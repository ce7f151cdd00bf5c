"""The static site's figures: clean build time, each page's own payload and its whole first
visit, the players' frames.

A clean build (a fresh output folder, every notebook executed, every player's grid
rendered) is timed; then, from the built HTML, each page's own payload: its HTML plus the
images it loads at first (the ``src`` of every ``<img>``; on a phone the narrow
``<source>`` instead where a player has one), theme files aside.  A page's first visit is
everything Chromium loads for it with an empty cache (HTML, the theme's stylesheets,
scripts and fonts, images), at 1280 px and at 390 px (target: 1 MB, issue 22).  The frames' total size
is given as stored (256-colour lossless WebP) and as the same pixels stored as palette PNG
(the other compact encoding: equal legibility, since the pixels are identical).

    python benchmarks/static_site.py            # build into a temporary folder, measure
    python benchmarks/static_site.py SITE_DIR   # measure an existing build's _build/html
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_TARGET_S = 240
PAGE_TARGET_BYTES = 600 * 1024
FIRST_VISIT_TARGET_BYTES = 1_000_000
CHROMIUM = "/usr/bin/chromium"

_IMG = re.compile(r'<img\b[^>]*?\bsrc="([^"]+)"')
_NARROW = re.compile(r'<source media="[^"]*" srcset="([^"]+)"[^>]*><img\b[^>]*?\bsrc="([^"]+)"')


def build(out: Path) -> tuple[float, str]:
    """A clean strict build into ``out``; (seconds, log)."""
    jb = Path(sysconfig.get_path("scripts")) / "jupyter-book"
    t = time.perf_counter()
    r = subprocess.run(
        [str(jb), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit("the book's build failed:\n" + (r.stdout + r.stderr)[-4000:])
    return seconds, r.stdout + r.stderr


def page_weights(site: Path) -> dict[str, tuple[int, int]]:
    """For each chapter page: (desktop bytes, phone bytes) of its HTML and first images."""
    out = {}
    for page in sorted((site / "book").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        base = len(page.read_bytes())

        def size(src, folder=page.parent):
            return 0 if src.startswith("data:") else (folder / src).stat().st_size

        wide = base + sum(size(s) for s in _IMG.findall(text))
        swap = {img: src for src, img in _NARROW.findall(text)}
        phone = base + sum(size(swap.get(s, s)) for s in _IMG.findall(text))
        out[page.name] = (wide, phone)
    return out


def first_visits(site: Path) -> dict[str, tuple[int, int]] | None:
    """For each chapter page: (desktop bytes, phone bytes) that Chromium loads on a first
    visit (a fresh context, so an empty cache), theme included.  None without Chromium
    (Debian's, at :data:`CHROMIUM`) or playwright."""
    import functools
    import http.server
    import os
    import threading

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.path.exists(CHROMIUM):
        return None

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_port}/"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    out = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
            for page in sorted((site / "book").glob("*.html")):
                sizes = []
                for width, height in ((1280, 900), (390, 844)):
                    ctx = browser.new_context(viewport={"width": width, "height": height})
                    tab, loaded = ctx.new_page(), []
                    tab.on(
                        "response", lambda r, got=loaded: got.append(len(r.body()) if r.ok else 0)
                    )
                    tab.goto(f"{base}book/{page.name}", wait_until="load")
                    tab.wait_for_timeout(300)
                    sizes.append(sum(loaded))
                    ctx.close()
                out[page.name] = (sizes[0], sizes[1])
            browser.close()
    finally:
        httpd.shutdown()
    return out


def frames(site: Path) -> tuple[int, int, int]:
    """(count, bytes as stored, bytes of the same pixels as palette PNG)."""
    from PIL import Image

    files = sorted((site / "_frames").glob("*.webp"))
    stored = sum(f.stat().st_size for f in files)
    as_png = 0
    for f in files:
        buf = io.BytesIO()
        Image.open(f).convert("RGB").quantize(256, method=Image.Quantize.MAXCOVERAGE).save(
            buf, format="PNG", optimize=True
        )
        as_png += len(buf.getvalue())
    return len(files), stored, as_png


def measure(report, site: Path | None = None) -> None:
    """Print the figures through ``report(name, value, unit, target, ok)``."""
    with tempfile.TemporaryDirectory() as tmp:
        if site is None:
            seconds, _ = build(Path(tmp))
            site = Path(tmp) / "_build" / "html"
            report(
                "static book build, clean (every grid)",
                seconds,
                "s",
                f"<= {BUILD_TARGET_S}",
                seconds <= BUILD_TARGET_S,
            )
        weights = page_weights(site)
        if not weights:
            raise SystemExit(
                f"no chapter pages in {site / 'book'}: is it a built book's _build/html?"
            )
        for name, (wide, phone) in weights.items():
            print(f"  {name:<20} {wide / 1024:7.1f} KiB (phone {phone / 1024:7.1f} KiB)")
        worst = max(max(w) for w in weights.values())
        report(
            "heaviest page: HTML + first images",
            worst / 1024,
            "KiB",
            f"<= {PAGE_TARGET_BYTES // 1024}",
            worst <= PAGE_TARGET_BYTES,
        )
        visits = first_visits(site)
        if visits is None:
            print("  (no Chromium or playwright: first visits not measured)")
        else:
            for name, (wide, phone) in visits.items():
                print(
                    f"  {name:<20} first visit {wide / 1e6:6.3f} MB (phone {phone / 1e6:6.3f} MB)"
                )
            heaviest = max(max(v) for v in visits.values())
            report(
                "heaviest first visit, theme included",
                heaviest / 1e6,
                "MB",
                f"<= {FIRST_VISIT_TARGET_BYTES / 1e6:g}",
                heaviest <= FIRST_VISIT_TARGET_BYTES,
            )
        n, stored, as_png = frames(site)
        report("player frames (distinct files)", n, "files", "-", True)
        report("player frames, lossless WebP (as stored)", stored / 2**20, "MiB", "-", True)
        report("same frames as palette PNG", as_png / 2**20, "MiB", "- (context)", True)


if __name__ == "__main__":

    def _print(name, value, unit, target, ok):
        print(f"{name:<46}{value:>12.4g} {unit:<10} target {target:<14}{'PASS' if ok else 'MISS'}")

    measure(_print, Path(sys.argv[1]) / "_build" / "html" if len(sys.argv) > 1 else None)
