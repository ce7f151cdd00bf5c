"""Binder: the environment built the way repo2docker builds it for this repository, then the
same live-notebook check as the local JupyterLab test (tests/jupyterlab_check.py).

What repo2docker does here (Python buildpack; runtime.txt says ``python-3.11``): a base
environment with that Python and its own JupyterLab 4 (repo2docker's
environment.py-3.11.yml: jupyterlab 4.*, jupyter_server 2.*, notebook 7.*, ipywidgets 8.*),
the repository's files, ``pip install -r requirements.txt`` in the repository's folder
(its last line, ``-e .``, installs virtmodel from it), then the repository's ``postBuild``
with the environment's ``bin`` first on PATH.  Here a fresh venv from ``python3.11`` stands
for the base environment, with dev.py's JupyterLab pin standing for the image's JupyterLab 4;
the repository's files are copied as git lists them (tracked and untracked-but-not-ignored,
with their working-tree contents).  Jupyter's per-user folders are temporary, so postBuild's
``jupytext-config set-default-viewer`` writes where only this server reads.
"""

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from jupyterlab_check import (
    NOTEBOOK,
    chromium,
    jupyter_env,
    jupyterlab,
    need,
    run_chapter_and_move_a_slider,
)

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _dev():
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _runtime_python() -> str:
    text = (ROOT / "runtime.txt").read_text().strip()
    assert text.startswith("python-"), text
    version = ".".join(text.removeprefix("python-").split(".")[:2])
    return f"python{version}"


def _copy_repository(dest: Path) -> None:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    )
    files = [f for f in out.stdout.decode().split("\0") if f]
    assert "postBuild" in files and "requirements.txt" in files
    for rel in files:
        src = ROOT / rel
        if src.is_file():  # a tracked file deleted in the working tree is not there
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def test_binder_environment_runs_the_virtio_chapter_live(tmp_path, capsys):
    python = shutil.which(_runtime_python())
    need(f"{_runtime_python()} (runtime.txt's Python)", python is not None)
    pip_cache = subprocess.run(
        [python, "-m", "pip", "cache", "dir"], capture_output=True, text=True
    ).stdout.strip()
    repo, venv, log = tmp_path / "repo", tmp_path / "env", tmp_path / "build.log"
    _copy_repository(repo)
    env = jupyter_env(tmp_path / "jupyter", path_first=venv / "bin")
    env.pop("VIRTUAL_ENV", None)
    if pip_cache:
        env["PIP_CACHE_DIR"] = pip_cache
    steps = [
        ("base environment", [python, "-m", "venv", venv]),
        ("base JupyterLab", ["python", "-m", "pip", "install", "-q", _dev().JUPYTERLAB]),
        ("requirements.txt", ["python", "-m", "pip", "install", "-q", "-r", "requirements.txt"]),
        ("postBuild", ["bash", "./postBuild"]),
        ("pip check", ["python", "-m", "pip", "check"]),
        ("virtmodel from", ["python", "-c", "import virtmodel; print(virtmodel.__file__)"]),
    ]
    took = {}
    for name, cmd in steps:
        t0 = time.monotonic()
        print("+", " ".join(str(c) for c in cmd), flush=True)
        with open(log, "a") as out:
            out.write(f"\n=== {name}\n")
        with open(log, "a") as out:
            rc = subprocess.run(
                [str(c) for c in cmd],
                cwd=repo,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=900,
            ).returncode
        took[name] = round(time.monotonic() - t0, 1)
        assert rc == 0, f"{name} failed:\n{log.read_text()[-5000:]}"
    built = log.read_text()
    assert str(repo / "virtmodel" / "__init__.py") in built  # the copy, not this checkout
    assert "numba kernels compiled or loaded" in built  # postBuild warmed the cache

    server_log = tmp_path / "jupyterlab.log"
    with (
        chromium() as browser,
        jupyterlab([venv / "bin" / "jupyter-lab"], repo, env, server_log) as (base, tok),
    ):
        got = run_chapter_and_move_a_slider(browser, base, tok, server_log, repo / NOTEBOOK)
    with capsys.disabled():  # shown in every run, not only when the test fails
        print(f"\n  Binder environment: steps {took} s; in JupyterLab: {got}")
    assert got["kernel"] == "python3"
