"""Suite-wide rules: in CI (CI=true) a skipped test is a failure, and the summary says what
ran in each group, so nothing that should run can silently not run."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # reference_ring and friends

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_skipped = []


def pytest_collection_modifyitems(config, items):
    """The package's docstring examples (``--doctest-modules virtmodel``) are model tests:
    they run in the fast loop and again with the JIT off."""
    for item in items:
        if isinstance(item, pytest.DoctestItem):
            item.add_marker(pytest.mark.model)


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):  # an expected failure ran
        _skipped.append(
            (
                report.nodeid,
                str(report.longrepr[-1])
                if isinstance(report.longrepr, tuple)
                else str(report.longrepr),
            )
        )


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = terminalreporter.stats
    groups = {}
    for key in ("passed", "failed"):
        for rep in stats.get(key, []):
            if rep.when != "call":
                continue
            f = rep.nodeid.split("::")[0].removeprefix("tests/")
            groups.setdefault(f, [0, 0])[key == "failed"] += 1
    terminalreporter.write_sep("-", "what ran (file: passed/failed)")
    jit = "off (NUMBA_DISABLE_JIT=1)" if os.environ.get("NUMBA_DISABLE_JIT") == "1" else "on"
    terminalreporter.write_line(f"numba JIT: {jit}; CI: {IN_CI}")
    for f, (p, fl) in sorted(groups.items()):
        terminalreporter.write_line(f"  {f}: {p}/{fl}")
    for rep in stats.get("xfailed", []):
        terminalreporter.write_line(f"  XFAIL (known, explained) {rep.nodeid}: {rep.wasxfail}")
    if _skipped:
        terminalreporter.write_sep("!" if IN_CI else "-", f"{len(_skipped)} skipped")
        for nodeid, why in _skipped:
            terminalreporter.write_line(f"  SKIPPED {nodeid}: {why}")


def pytest_sessionfinish(session, exitstatus):
    if IN_CI and _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nCI: {len(_skipped)} test(s) skipped; in CI every test must run.")


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The book built once per run, as the README's command builds it (strict, executed):
    returns (site folder, build log).  ``VIRTMODEL_BUILT_SITE=_build/html`` tests a site
    already built from this checkout instead (no log), for work on the site tests; CI
    always builds."""
    if os.environ.get("VIRTMODEL_BUILT_SITE") and not IN_CI:
        return Path(os.environ["VIRTMODEL_BUILT_SITE"]).resolve(), ""
    out_dir = tmp_path_factory.mktemp("book")
    jb = Path(sysconfig.get_path("scripts")) / "jupyter-book"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [str(jb), "build", str(root), "--path-output", str(out_dir), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-6000:]
    return out_dir / "_build" / "html", log


@pytest.fixture(autouse=True, scope="session")
def _canvas_text_hinting():
    """Reference pictures (plain Agg, fresh figures) are drawn with the text hinting that
    virtmodel's canvas draws the explorers with, so that pixels can be compared."""
    import matplotlib

    from virtmodel.explore import render as canvas

    matplotlib.rcParams["text.hinting"] = canvas.HINTING
