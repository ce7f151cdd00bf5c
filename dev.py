#!/usr/bin/env python3
"""The project's commands, each self-contained on a fresh machine with only Python 3.11+:

    python3 dev.py book    build the book (HTML in _build/html/index.html)
    python3 dev.py test    run every test (also with the JIT off), after the lint
    python3 dev.py lint    ruff check and ruff format --check on the tree, mypy on the model core
    python3 dev.py quick   the fast inner loop: the lint, then the model's tests and the
                           package's docstring examples (JIT on, warm numba cache)
    python3 dev.py bench   run the benchmarks and print their ratios
    python3 dev.py lab [jupyter lab options]
                           open the chapters as live notebooks in JupyterLab

Each creates .venv (once; again when requirements.txt changes) and installs what it needs.
Only the standard library is used here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
# JupyterLab for `dev.py lab`, installed into .venv beside requirements.txt without changing
# any of its pins.  It is not in requirements.txt: Binder's image brings its own JupyterLab 4
# (repo2docker's base environment, which requirements.txt is installed into), and the book
# build and the tests other than the JupyterLab ones do not need it.  jupytext's JupyterLab
# extension ships inside the jupytext wheel (requirements.txt).
JUPYTERLAB = "jupyterlab==4.6.6"
# JupyterLab settings overrides for this environment only (the user's own settings, in
# ~/.jupyter, stay untouched and still win): MyST Markdown files open as notebooks.
LAB_OVERRIDES = {
    "@jupyterlab/docmanager-extension:plugin": {
        "defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    }
}


def run(cmd, **kw):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, **kw).returncode


def ensure_venv() -> None:
    want = hashlib.sha256(
        (ROOT / "requirements.txt").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    stamp = VENV / ".installed"
    if stamp.exists() and stamp.read_text() == want and PY.exists():
        return
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    steps = [
        [PY, "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [PY, "-m", "pip", "install", "-q", "-r", "requirements.txt"],
    ]
    for cmd in steps:
        if run(cmd) != 0:
            sys.exit("installing the requirements failed (see above)")
    stamp.write_text(want)


def requirement_pins() -> list[str]:
    """requirements.txt's exact pins (its `-e .` line left out), for use as constraints."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith(("#", "-"))]


def ensure_lab() -> None:
    """JupyterLab in .venv (requirements.txt's pins as constraints: pip fails rather than
    change one), and the chapters' .md files opening there as notebooks."""
    ensure_venv()
    want = hashlib.sha256(
        (ROOT / "requirements.txt").read_bytes() + JUPYTERLAB.encode()
    ).hexdigest()
    stamp = VENV / ".lab-installed"
    if not (stamp.exists() and stamp.read_text() == want):
        constraints = VENV / "lab-constraints.txt"
        constraints.write_text("\n".join(requirement_pins()) + "\n")
        if run([PY, "-m", "pip", "install", "-q", JUPYTERLAB, "-c", constraints]) != 0:
            sys.exit("installing JupyterLab failed (see above)")
        stamp.write_text(want)
    overrides = VENV / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    have = json.loads(overrides.read_text()) if overrides.exists() else {}
    merged = {**have, **{k: {**have.get(k, {}), **v} for k, v in LAB_OVERRIDES.items()}}
    if merged != have:
        overrides.parent.mkdir(parents=True, exist_ok=True)
        overrides.write_text(json.dumps(merged, indent=2) + "\n")


def ensure_apt_package(command: str, package: str, tests: str) -> None:
    """Install Debian's ``package`` (which provides ``command``) where it is missing and we
    can (root + apt-get); otherwise say which tests will skip (and fail the run in CI)."""
    if shutil.which(command):
        return
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            f"{command} is not installed and cannot be installed here (needs root and "
            f"apt-get): {tests} will skip (and fail the run in CI)",
            flush=True,
        )
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if (
        run(["apt-get", "update", "-q"], env=env) != 0
        or run(["apt-get", "install", "-y", "-q", package], env=env) != 0
    ):
        print(f"installing {package} failed (see above)", flush=True)


def ensure_chromium() -> None:
    """The site tests drive Debian's chromium."""
    ensure_apt_package("chromium", "chromium", "the browser tests")


def ensure_qemu() -> None:
    """The QEMU lab's tests drive Debian's QEMU 7.2 (qemu-system-x86)."""
    ensure_apt_package("qemu-system-x86_64", "qemu-system-x86", "the QEMU lab's tests")


def book() -> int:
    ensure_venv()
    rc = run([BIN / "jupyter-book", "build", ".", "-W", "-n", "--keep-going"])
    index = ROOT / "_build" / "html" / "index.html"
    if rc == 0:
        print(
            f"\nThe book is built: open {index}\n"
            f"(or serve it: {PY} -m http.server -d {index.parent} 8000)"
        )
    return rc


def test() -> int:
    """Every test, in two lanes at once (this is a 2-core machine and most tests use one):
    the main lane runs the suite with the JIT on, except the Binder check; the side lane
    runs the Binder check (a fresh environment: pip and numba's compiler, one core), then
    the model's tests again as plain Python.  The side lane's output is printed after the
    main lane's; the command fails if either lane does."""
    lint_rc = lint()  # first: a new finding fails the run (the tests still run, to report)
    ensure_lab()  # for the JupyterLab test (the Binder test builds its own environment)
    ensure_chromium()
    ensure_qemu()
    env = dict(os.environ)
    jit_off = dict(env, NUMBA_DISABLE_JIT="1")
    side_lane = [
        (
            "the Binder check (an environment built as repo2docker builds it)",
            [PY, "-m", "pytest", BINDER_TEST],
            env,
        ),
        (
            (
                "the model's tests again with NUMBA_DISABLE_JIT=1 (plain Python: a missing "
                f"16-bit mask shows): the tests marked {MODEL!r} and the package's docstring "
                "examples"
            ),
            [
                PY,
                "-m",
                "pytest",
                *SUITE,
                "-m",
                f"{MODEL} and not slow",
                "-p",
                "no:cacheprovider",
            ],
            jit_off,
        ),
    ]
    log = VENV / "side-lane.log"
    side_rc = []

    def side() -> None:
        with open(log, "w") as out:
            for title, cmd, lane_env in side_lane:
                print(f"=== {title}\n+ {' '.join(str(c) for c in cmd)}", file=out, flush=True)
                side_rc.append(
                    subprocess.run(
                        [str(c) for c in cmd],
                        cwd=ROOT,
                        env=lane_env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    ).returncode
                )

    lane = threading.Thread(target=side)
    lane.start()
    print(
        "=== side lane started (its output follows the main lane's): "
        + "; then ".join(t.split(":")[0] for t, _, _ in side_lane),
        flush=True,
    )
    rc = run([PY, "-m", "pytest", *SUITE, "--ignore", BINDER_TEST], env=env)
    lane.join()
    print("\n=== side lane\n" + log.read_text(), flush=True)
    failed = rc != 0 or any(side_rc) or lint_rc != 0
    if failed:
        print(
            f"lint: {'failed' if lint_rc else 'clean'}; main lane: {'failed' if rc else 'passed'}; "
            f"side lane: {'failed' if any(side_rc) else 'passed'}",
            flush=True,
        )
    return 1 if failed else 0


BINDER_TEST = "tests/test_binder.py"


MODEL = "model"
"""The marker of the tests of the numba kernels (rings, event loop, paths): each such test
module sets ``pytestmark = pytest.mark.model`` (tests/test_lanes.py checks that every test
module of a module with kernels does), and tests/conftest.py marks the package's docstring
examples.  They run a second time as plain Python; the lab's, the CLI's and the book's
tests run once, with the JIT on."""
SUITE = ["tests", "virtmodel", "--doctest-modules"]
"""What pytest collects: the test suite and the package's docstring examples."""

MYPY_MODULES = (
    "spec",
    "ringmem",
    "split",
    "packed",
    "ring",
    "ringops",
    "ringsim",
    "paths",
    "costs",
    "sweep",
    "jitter",
    "params",
    "trap",
)
"""The model core mypy checks (settings in pyproject.toml's [tool.mypy])."""


def lint() -> int:
    """ruff check and ruff format --check on the whole tree (pyproject.toml's [tool.ruff]),
    then mypy on the model core; every step runs, the command fails if any does."""
    ensure_venv()
    core = [
        f"virtmodel/{m}" if (ROOT / "virtmodel" / m).is_dir() else f"virtmodel/{m}.py"
        for m in MYPY_MODULES
    ]
    steps = {
        "ruff check": [BIN / "ruff", "check", "."],
        "ruff format": [BIN / "ruff", "format", "--check", "."],
        "mypy": [BIN / "mypy", *core],
    }
    failed = [name for name, cmd in steps.items() if run(cmd) != 0]
    print(
        f"lint: {'failed: ' + ', '.join(failed) if failed else 'clean'} ({', '.join(steps)})",
        flush=True,
    )
    return 1 if failed else 0


def quick() -> int:
    """The fast inner loop: the lint, then the model's tests (not the slow ones) and the
    package's docstring examples with the JIT on.  Fast with a warm numba cache (a fresh
    worktree compiles the kernels first, a minute or two)."""
    start = time.monotonic()
    lint_rc = lint()
    lint_s = time.monotonic() - start
    rc = run(
        [
            PY,
            "-m",
            "pytest",
            *SUITE,
            "-m",
            f"{MODEL} and not slow",
            "-q",
            "-p",
            "no:cacheprovider",
        ]
    )
    total = time.monotonic() - start
    print(
        f"quick: lint {'clean' if lint_rc == 0 else 'FAILED'} ({lint_s:.0f} s: ruff check, ruff "
        f"format --check, mypy on {len(MYPY_MODULES)} modules); tests marked {MODEL!r} and the "
        f"docstring examples, JIT on: {'passed' if rc == 0 else 'FAILED'} ({total - lint_s:.0f} s); "
        f"total {total:.0f} s",
        flush=True,
    )
    return 1 if lint_rc or rc else 0


def bench() -> int:
    ensure_venv()
    return run([PY, "benchmarks/run.py"])


def lab(options) -> int:
    """JupyterLab on the book (the repository's root, the first chapter open); ``options``
    go to ``jupyter lab`` after ours, so they win."""
    ensure_lab()
    cmd = [
        str(BIN / "jupyter-lab"),
        f"--ServerApp.root_dir={ROOT}",
        "--LabApp.default_url=/lab/tree/book/intro.md",
        *options,
    ]
    print("+", " ".join(cmd), flush=True)
    if os.name == "posix":  # become the server: Ctrl-C and signals reach it directly
        os.chdir(ROOT)
        os.execv(cmd[0], cmd)
    try:
        return subprocess.run(cmd, cwd=ROOT).returncode
    except KeyboardInterrupt:
        return 130


def main(argv) -> int:
    cmds = {"book": book, "test": test, "lint": lint, "quick": quick, "bench": bench}
    if argv[:1] == ["lab"]:
        return lab(argv[1:])
    if len(argv) != 1 or argv[0] not in cmds:
        print(__doc__)
        return 2
    return cmds[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
