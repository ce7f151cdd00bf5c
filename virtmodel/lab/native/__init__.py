"""Small C programs the lab compiles at first use (with the C compiler ``cc``) and runs:
measurements that Python's own overhead, or its GIL, would swamp.

``build(name)`` compiles ``native/<name>.c`` into a per-user cache (keyed by the source's
hash, so an edited source is rebuilt) and returns the executable's path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCES = Path(__file__).resolve().parent


class NoCompiler(RuntimeError):
    """No C compiler here: the program cannot be built."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "virtmodel" / "lab"


def build(name: str) -> Path:
    """The executable of ``native/<name>.c``, compiled now if it is not cached yet."""
    src = SOURCES / f"{name}.c"
    if not src.is_file():
        raise ValueError(f"no native program {name!r} (no {src.name} in {SOURCES})")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    exe = cache_dir() / f"{name}-{digest}"
    if exe.is_file():
        return exe
    wanted = os.environ.get("CC")
    cc = shutil.which(wanted) if wanted else shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise NoCompiler(
            f"building {src.name} needs a C compiler "
            f"({'CC=' + wanted if wanted else 'cc or gcc'}) on PATH"
        )
    exe.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=exe.parent) as d:
        out = Path(d) / name
        r = subprocess.run(
            [cc, "-O2", "-pthread", "-o", str(out), str(src)], capture_output=True, text=True
        )
        if r.returncode:
            raise NoCompiler(f"{cc} could not build {src.name}: {r.stderr.strip()[:500]}")
        os.replace(out, exe)  # atomic: a concurrent build leaves one whole executable
    return exe


def run(name: str, *args) -> str:
    """Build (if needed) and run ``native/<name>``; its standard output."""
    r = subprocess.run(
        [str(build(name)), *map(str, args)], capture_output=True, text=True, timeout=120
    )
    if r.returncode:
        raise RuntimeError(
            f"{name} {' '.join(map(str, args))} failed with status "
            f"{r.returncode}: {r.stderr.strip()}"
        )
    return r.stdout
