"""The book builds with warnings as errors, every notebook executed."""

import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_book_builds_strict(tmp_path):
    jb = Path(sysconfig.get_path("scripts")) / "jupyter-book"
    out = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(tmp_path),
                          "-W", "-n", "--keep-going"], capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    site = tmp_path / "_build" / "html"
    html = (site / "book" / "intro.html").read_text()
    assert "VM exits/request" in html  # the executed cell's output is on the page
    built = {str(p.relative_to(site)) for p in site.rglob("*.html")
             if not str(p.relative_to(site)).startswith("_")}
    assert built == {"index.html", "search.html", "genindex.html", "book/intro.html"}, built
