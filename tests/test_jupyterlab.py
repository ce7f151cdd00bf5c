"""Local notebooks: ``python3 dev.py lab`` (the README's command, as a reader runs it) starts
JupyterLab on the book; in headless Chromium ``book/virtio.md`` opens as a notebook, all its
cells run, and moving an explorer's slider redraws its figure (tests/jupyterlab_check.py)."""

import sys
from pathlib import Path

import pytest
from jupyterlab_check import (
    NOTEBOOK,
    chromium,
    jupyter_env,
    jupyterlab,
    run_chapter_and_move_a_slider,
)

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_dev_py_lab_runs_the_virtio_chapter_live(tmp_path, capsys):
    env = jupyter_env(tmp_path / "jupyter")
    log = tmp_path / "jupyterlab.log"
    with (
        chromium() as browser,
        jupyterlab([sys.executable, ROOT / "dev.py", "lab"], ROOT, env, log) as (base, tok),
    ):
        got = run_chapter_and_move_a_slider(browser, base, tok, log, ROOT / NOTEBOOK)
    with capsys.disabled():  # shown in every run, not only when the test fails
        print(f"\n  python3 dev.py lab: {got}")
    assert got["kernel"] == "python3"
