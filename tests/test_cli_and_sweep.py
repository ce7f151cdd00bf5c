"""The CLI, sweeps and figures, and the numba cache fallback."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from virtmodel.__main__ import main
from virtmodel.explore import figures as plots
from virtmodel.paths import names, simulate
from virtmodel.paths.result import STAGES
from virtmodel.sweep import compare, points, sweep

ROOT = Path(__file__).resolve().parents[1]


def test_sweep_points_equal_direct_calls():
    c = sweep("virtio", "batch", [1, 8, 32], requests=500, seed=2)
    for v, r in zip(c.values, c.results):
        assert r == simulate("virtio", batch=v, requests=500, seed=2)
    assert c.field("kicks_per_request").tolist() == [1, 63 / 500, 16 / 500]  # ceil(500 / b) kicks


def test_compare_gives_each_path_its_own_parameters():
    cs = compare(
        "request_bytes", [512, 65536], requests=200, ioeventfd=False, data_mode="string-pio"
    )
    assert list(cs) == list(names())
    # 3 register writes, rep ins of 64 KiB at 1 KiB per exit, the halt; no EOI exit (posted)
    assert cs["emulated"].results[1].exits_per_request == 3 + 64 + 1
    assert cs["nvme"].results[0].user_exits_per_request == 2  # its own ioeventfd is off
    assert cs["virtio"].results[0].user_exits_per_request == 1


def test_sweep_errors():
    with pytest.raises(ValueError, match="over must be a parameter of 'native'"):
        sweep("native", "data_mode", ["dma"])
    with pytest.raises(ValueError, match="'batch' is swept"):
        sweep("virtio", "batch", [1], batch=2)


def test_cli_compare_table_and_plot(tmp_path, capsys):
    png = tmp_path / "c.png"
    assert main(["compare", "--batch", "1,16", "--requests", "300", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    rows = [ln.split() for ln in out.splitlines() if ln.strip().startswith(("1 ", "16 "))]
    assert [r[1] for r in rows] == list(names()) * 2
    virtio_exits = [float(r[5]) for r in rows if r[1] == "virtio"]
    assert virtio_exits[0] > virtio_exits[1]
    assert png.stat().st_size > 10_000


def test_cli_errors_name_the_option(capsys):
    with pytest.raises(SystemExit) as e:
        main(["compare", "--batch", "1,2", "--queue-size", "8,16"])
    assert e.value.code == 2
    assert "one option only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", "--batch", "0"])
    assert "batch must be in 1..256" in capsys.readouterr().err


def _bad_profiles(folder: Path) -> None:
    """Profile files with one thing wrong each, in ``folder``."""
    from virtmodel import costs

    (folder / "broken.json").write_text('{"name": "x",\n  "vmexit_ns": }\n')
    (folder / "list.json").write_text("[1, 2]\n")
    (folder / "partial.json").write_text('{"name": "x", "description": "y"}\n')
    good = costs.MODERN.to_dict()
    (folder / "negative.json").write_text(json.dumps(dict(good, vmexit_ns=-1)))
    (folder / "extra.json").write_text(json.dumps(dict(good, vmexit_cycles=3)))
    (folder / "nameless.json").write_text(json.dumps(dict(good, name=3)))
    (folder / "dir.json").mkdir()
    (folder / "latin1.json").write_bytes(b'{"name": "caf\xe9"}')


# Each bad invocation: the words its one line of error must contain (the option or file
# named, and the problem).  {d} is a folder holding _bad_profiles.
BAD_INVOCATIONS = [
    ("compare --profile {d}/missing.json", ["missing.json", "cannot be read", "No such file"]),
    ("trap --profile {d}/missing.json", ["missing.json", "cannot be read"]),
    ("profile {d}/missing.json", ["missing.json", "cannot be read"]),
    ("compare --profile {d}/dir.json", ["dir.json", "cannot be read", "directory"]),
    ("compare --profile {d}/broken.json", ["broken.json", "not valid JSON", "line 2"]),
    ("compare --profile {d}/latin1.json", ["latin1.json", "not UTF-8"]),
    ("compare --profile {d}/list.json", ["list.json", "JSON object", "got an array"]),
    ("compare --profile {d}/partial.json", ["partial.json", "missing keys", "vmexit_ns"]),
    ("compare --profile {d}/extra.json", ["extra.json", "unknown keys vmexit_cycles"]),
    ("compare --profile {d}/negative.json", ["negative.json", "vmexit_ns", ">= 0", "got -1"]),
    ("compare --profile {d}/nameless.json", ["nameless.json", "name must be a string"]),
    ("compare --profile nosuch", ["profile must be", "modern", "'nosuch'"]),
    ("compare --batch x", ["--batch", "'x'"]),
    ("compare --batch 1.5", ["--batch", "'1.5'"]),
    ("compare --batch ,", ["--batch", "','"]),
    ("compare --batch 0", ["batch must be in 1..256", "got 0"]),
    ("compare --request-bytes 1,x", ["--request-bytes", "'1,x'"]),
    ("compare --request-bytes -1", ["request_bytes must be in 0..", "got -1"]),
    ("compare --queue-size 3", ["queue_size", "power of two", "got 3"]),
    ("compare --requests 0", ["requests must be in 1..", "got 0"]),
    ("compare --seed -1", ["seed must be in 0..", "got -1"]),
    ("compare --batch 1,2 --queue-size 8,16", ["one option only", "--batch", "--queue-size"]),
    ("compare --paths virtio,foo", ["path must be one of", "virtio", "'foo'"]),
    ("compare --data-mode foo", ["data_mode must be one of", "'dma'", "'foo'"]),
    ("compare --event-idx maybe", ["--event-idx", "on or off", "'maybe'"]),
    ("compare --plot {d}/no/such/folder/c.png", ["--plot", "no folder"]),
    ("compare --plot {d}/c.txt", ["--plot", "c.txt", ".png"]),
    ("compare --plot {d}", ["--plot", ".png"]),
    ("trap --request-bytes x", ["--request-bytes", "invalid int", "'x'"]),
    ("trap --data-mode dma2", ["--data-mode", "'dma2'"]),
    ("lab --repeats two", ["--repeats", "'two'"]),
    ("lab --batch 1,y --shipped", ["--batch", "'1,y'"]),
    ("lab --shipped --save {d}/no/such/folder/m.json", ["--save", "no folder"]),
    ("calibrate --out {d}/p.txt", ["--out", "p.txt", ".json"]),
    ("calibrate", ["--out", "required"]),
    ("frobnicate", ["invalid choice", "'frobnicate'"]),
    ("", ["required", "cmd"]),
]


@pytest.mark.parametrize(
    "line,words", BAD_INVOCATIONS, ids=[b[0] or "(none)" for b in BAD_INVOCATIONS]
)
def test_cli_bad_input_is_one_line_and_status_2(line, words, tmp_path, capsys):
    _bad_profiles(tmp_path)
    argv = line.format(d=tmp_path).split()
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    assert e.value.code == 2, err
    assert out == ""
    assert len(err.splitlines()) == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    assert err.startswith("python -m virtmodel") and "error: " in err, err
    for w in words:
        assert w in err, (w, err)


def test_cli_bad_profile_in_a_real_process(tmp_path):
    """The same boundary seen from a shell: one line on stderr, nothing on stdout, status 2."""
    out = subprocess.run(
        [sys.executable, "-m", "virtmodel", "compare", "--profile", "missing.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == (
        "python -m virtmodel compare: error: profile file 'missing.json' "
        "cannot be read: No such file or directory\n"
    )


def test_cli_trap_and_profile(capsys):
    assert main(["trap", "--request-bytes", "8192", "--data-mode", "string-pio"]) == 0
    out = capsys.readouterr().out
    assert "data_exits=8" in out and " exits=12" in out  # 3 + 8 KiB / 1 KiB + the HLT
    assert main(["profile"]) == 0
    out = capsys.readouterr().out
    assert "user_exit_ns" in out and "[derived]" in out and "[assumption]" in out
    # a 2012 host decodes every IN: the CLI's counts follow the profile it was given
    args = ["trap", "--data-mode", "pio", "--pio-element-bytes", "2", "--request-bytes", "512"]
    assert main([*args, "--profile", "legacy-2012"]) == 0
    out = capsys.readouterr().out
    assert "data_exits=256" in out and "decoded=256" in out
    assert main(args) == 0
    assert "decoded=0" in capsys.readouterr().out
    assert main(["profile", "legacy-2012"]) == 0
    assert "fast_pio_in                  False flag" in capsys.readouterr().out


def test_figures_have_the_data():
    cs = compare("batch", [1, 4, 16], requests=300)
    fig = plots.curves(cs)
    line = fig.axes[1].lines[names().index("virtio")]  # exits panel
    assert np.allclose(line.get_ydata(), cs["virtio"].field("exits_per_request"))
    fig = plots.breakdown({p: c.results[0] for p, c in cs.items()})
    assert len(fig.axes[0].patches) == len(names()) * len(STAGES)


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)  # instant, same inode (modes untouched: nothing is chmod-ed)
    except OSError:
        shutil.copy2(src, dst)  # another file system


def test_numba_cache_falls_back_when_nothing_is_writable():
    """A read-only package folder and a read-only home: import works and a kernel compiles
    and is cached in the fallback folder.

    Importing ``virtmodel.paths`` decorates every kernel of the event loop and the paths
    (``cache=True`` needs a cache locator at decoration time: without the fallback, that
    import fails with "no locator available").  One small kernel, ``latency_stats``, is
    then compiled and called, and its index and object files must lie in the forced
    folder.  (Compiling the whole event loop here would check the same fallback at ~80 s.)

    As root the test drops to nobody, who must be able to read what it imports even when
    the checkout (and so .venv) lies in a private folder (``mktemp -d`` is 0700): the
    package is copied, and its dependencies hard-linked, into a world-readable folder, and
    the base interpreter runs it with only that folder on its path."""
    import sysconfig
    import tempfile

    if os.geteuid() == 0:
        user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        if not shutil.which("setpriv"):
            pytest.fail("setpriv (util-linux) is needed to drop root for this test")
    else:
        user = []
    base = Path(tempfile.mkdtemp(prefix="virtmodel-ro-"))
    cache_path = None
    try:
        base.chmod(0o755)
        pkg = base / "site"
        site = Path(sysconfig.get_path("purelib"))
        for dep in ("numpy", "numpy.libs", "numba", "llvmlite"):
            if (site / dep).exists():
                shutil.copytree(site / dep, pkg / dep, copy_function=_link_or_copy)
        shutil.copytree(
            ROOT / "virtmodel", pkg / "virtmodel", ignore=shutil.ignore_patterns("__pycache__")
        )
        for p in [pkg, *pkg.rglob("*")]:
            if p.is_dir():
                p.chmod(0o555)
        for p in (pkg / "virtmodel").rglob("*"):
            if p.is_file():
                p.chmod(0o444)
        code = (
            "import numpy as np, virtmodel._jit as j, virtmodel.paths as p; "
            "k = p.latency_stats; m, p99 = k(np.arange(1001.0)); "
            "print(j.CACHE_DIR_FORCED, m, p99, k.stats.cache_misses.get(k.signatures[0], 0), "
            "k._cache._cache_path, j.__file__)"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_CACHE", "PYTHON"))}
        env.update(HOME="/nonexistent-home", PYTHONPATH=str(pkg))
        python = os.path.realpath(sys.executable)  # the base interpreter, not .venv's
        out = subprocess.run(
            user + [python, "-s", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd="/",
        )
        assert out.returncode == 0, out.stderr
        forced, mean, p99, misses, cache_path, where = out.stdout.split()
        cached = sorted(f.name for f in Path(cache_path).iterdir())
    finally:
        for p in [base, *base.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)
        shutil.rmtree(base)
        if cache_path and Path(cache_path).is_relative_to(tempfile.gettempdir()):
            shutil.rmtree(cache_path, ignore_errors=True)  # this run's own subfolder
    assert where.startswith(str(pkg / "virtmodel"))  # the read-only copy, nothing else
    assert "virtmodel-numba-cache" in forced
    assert (float(mean), float(p99)) == (500.0, 990.0)
    assert misses == "1"  # compiled here (this copy's path is new to every cache)
    assert Path(cache_path).is_relative_to(forced)  # written to the fallback folder
    index = [n for n in cached if n.startswith("result.latency_stats-") and n.endswith(".nbi")]
    data = [n for n in cached if n.startswith("result.latency_stats-") and n.endswith(".nbc")]
    assert len(index) == 1 and len(data) == 1, cached


def test_points_nested_in_a_pool_thread_finish_and_keep_their_order():
    """A runner that itself sweeps (from the pool's threads) must not wait for pool
    threads that are all busy with the outer points; results stay in run order."""

    def runner(path, **params):
        inner = sweep(path, "batch", [1, 2, 3], requests=64, seed=params["seed"])
        return (params["seed"], tuple(r.kicks_per_request for r in inner.results))

    got = points([("virtio", {"seed": s}) for s in range(6)], runner=runner)
    assert [g[0] for g in got] == list(range(6))
    assert len({g[1] for g in got}) == 1  # the seed does not change kick counts


def test_points_raise_a_runners_error():
    def runner(path, **params):
        if params["k"] == 3:
            raise ValueError("k must not be 3")
        return params["k"]

    with pytest.raises(ValueError, match="k must not be 3"):
        points([("virtio", {"k": k}) for k in range(8)], runner=runner)
    assert points([("virtio", {"k": k}) for k in (5, 1, 7)], runner=runner) == (5, 1, 7)
