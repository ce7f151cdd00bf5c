"""The live-notebook check shared by the local JupyterLab test and the Binder test.

A JupyterLab server (random port, random token, ``--expose-app-in-browser``) runs in a
process group of its own with Jupyter's config, data and runtime folders in a temporary
folder (the user's own settings neither help nor suffer); headless Chromium opens
``book/virtio.md`` there, which must open as a notebook, runs all its cells, moves the first
explorer's ipywidgets slider with the keyboard and waits for the explorer's figure (the
``Image`` widget's picture) to change.  Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

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
NOTEBOOK = "book/virtio.md"
SERVER_UP_S = 600  # dev.py lab may first install JupyterLab into .venv
RUN_ALL_S = 600  # the chapter's cells, numba compiling on a cold cache
REDRAW_S = 90  # slider moved -> new picture


def need(what: str, ok: bool) -> None:
    """Skip when ``what`` is missing (a failure in CI, where every test must run)."""
    if not ok:
        if IN_CI:
            pytest.fail(f"{what} is missing")
        pytest.skip(f"{what} is missing")


@contextlib.contextmanager
def chromium():
    need(
        "Chromium (Debian's chromium; python3 dev.py test installs it as root)",
        os.path.exists(CHROMIUM),
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def jupyter_env(folder: Path, path_first: Path | None = None) -> dict:
    """This process's environment with Jupyter's per-user folders moved into ``folder``
    (and ``path_first`` first on PATH), without what would change the notebook's code:
    PYTHONPATH, and VIRTMODEL_STATIC (a static build's frame players instead of widgets)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPYTER", "PYTHONPATH", "VIRTMODEL_STATIC"))
    }
    for name in ("config", "data", "runtime"):
        (folder / name).mkdir(parents=True, exist_ok=True)
        env[f"JUPYTER_{name.upper()}_DIR"] = str(folder / name)
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(command: list, cwd: Path, env: dict, log: Path):
    """Start ``command`` (something that runs ``jupyter lab``) with a random port and token
    and the app exposed to the page; yield (base URL, token); stop its kernels and it."""
    port, token = _free_port(), secrets.token_hex(16)
    args = [str(c) for c in command] + [
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--expose-app-in-browser",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    print("+", " ".join(args).replace(token, "<token>"), flush=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + SERVER_UP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer in {SERVER_UP_S} s:\n{_tail(log)}")
            try:
                _api(base, token, "status")
                break
            except OSError:
                time.sleep(0.5)
        yield base, token
    finally:
        try:
            for k in _api(base, token, "kernels"):
                _api(base, token, f"kernels/{k['id']}", method="DELETE")
        except OSError:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _api(base: str, token: str, what: str, method: str = "GET"):
    req = urllib.request.Request(
        f"{base}/api/{what}", method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return json.loads(body) if body else None


def _tail(log: Path, n: int = 4000) -> str:
    return log.read_text(errors="replace")[-n:]


def run_chapter_and_move_a_slider(browser, base: str, token: str, log: Path, source: Path) -> dict:
    """The check itself (``source``: the notebook's file, to count its code cells); returns
    what ran and how long each step took (seconds)."""
    code_cells = source.read_text().count("\n```{code-cell}")
    took, t0 = {}, time.monotonic()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(120_000)
    try:
        page.goto(f"{base}/lab/tree/{NOTEBOOK}?reset&token={token}", wait_until="load")
        # The chapter's .md file opens as a notebook (jupytext), not in a text editor.
        opened = page.wait_for_function(
            """path => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                         return w && w.context && w.context.path === path
                                && (w.hasClass('jp-NotebookPanel') ? 'notebook' : 'other'); }""",
            arg=NOTEBOOK,
        ).json_value()
        assert opened == "notebook", f"{NOTEBOOK} opened as {opened}, not as a notebook"
        took["open"] = time.monotonic() - t0
        t0 = time.monotonic()
        ran = page.evaluate(
            """async ms => {
                 const w = window.jupyterapp.shell.currentWidget;
                 await w.context.ready;
                 await w.sessionContext.ready;
                 const done = window.jupyterapp.commands.execute('notebook:run-all-cells');
                 const late = new Promise(r => setTimeout(() => r('timeout'), ms));
                 const ok = await Promise.race([done, late]);
                 const cells = w.model.toJSON().cells.filter(c => c.cell_type === 'code');
                 return {ok: ok, kernel: w.sessionContext.session.kernel.name,
                         code_cells: cells.length,
                         executed: cells.filter(c => c.execution_count !== null).length,
                         errors: cells.flatMap(c => c.outputs)
                                      .filter(o => o.output_type === 'error')
                                      .map(o => o.ename + ': ' + o.evalue)};
               }""",
            RUN_ALL_S * 1000,
        )
        took["run_all"] = time.monotonic() - t0
        assert ran["errors"] == [], f"cells failed in {NOTEBOOK}: {ran['errors']}"
        assert ran["ok"] is True, (ran, _tail(log))
        assert ran["code_cells"] == code_cells and ran["executed"] == code_cells, ran

        # The first explorer with a slider: its box holds the controls and the figure.
        t0 = time.monotonic()
        box = page.locator(".widget-vbox:has(> .widget-slider):has(> .widget-image)").first
        box.wait_for(state="attached", timeout=120_000)
        box.scroll_into_view_if_needed()
        img = box.locator("> img.widget-image")
        before = img.get_attribute("src")
        assert before and before.startswith(("blob:", "data:image/png")), before
        handle = box.locator(".widget-slider .noUi-handle").first
        at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        label = box.locator(".widget-slider .widget-readout").first
        label_before = label.inner_text()
        handle.focus()
        page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
        page.wait_for_function(
            "([el, src]) => el.getAttribute('src') !== src",
            arg=[img.element_handle(), before],
            timeout=REDRAW_S * 1000,
        )
        took["redraw"] = time.monotonic() - t0
        assert label.inner_text() != label_before
        page.wait_for_function(
            "el => el.complete && el.naturalWidth > 100", arg=img.element_handle(), timeout=30_000
        )
        assert errors == [], errors
        return {
            "kernel": ran["kernel"],
            "cells": ran["executed"],
            "slider": f"{label_before} -> {label.inner_text()}",
            "seconds": {k: round(v, 1) for k, v in took.items()},
        }
    finally:
        page.close()
