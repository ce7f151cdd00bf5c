"""virtmodel's speed and start-up figures, measured and compared in one run.

Targets (issue 3): a live explorer redraws (slider moved -> new PNG in the widget) in
<= 150 ms median, measured with the simulation cache cleared before every move (the first
visit of a value, the slow case).

Targets (issue 2): the virtio simulation >= 100x a plain-Python run of the same kernel and
>= 300x an equivalent SimPy model (stretch 1000x): SimPy driving the same split ring with
the same costs and jitter, checked to finish at exactly the numba run's simulated time (an
indices-only SimPy model is reported beside it for scale); a 32-point curve of 10,000 requests each
<= 20 ms median after warm-up; import + first simulate in a fresh process with a warm cache
<= 2 s.

Targets (issue 13, the static site; benchmarks/static_site.py): a clean book build, every
player's whole grid rendered, <= 4 min on this 2-core machine; each page's own payload
(HTML + the images it loads at first) <= 600 KB; the frames' total size is reported.
``--site DIR`` measures an existing build (``jupyter-book build --path-output DIR``)
instead of building afresh.

Prints each figure, its target and PASS/MISS; exits 0 either way (figures, not
tests: a 2-core machine is noisy).
"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from virtmodel import paths  # noqa: E402
from virtmodel.costs import MODERN  # noqa: E402
from virtmodel.sweep import sweep  # noqa: E402

import simpy_virtio  # noqa: E402
import static_site  # noqa: E402

results = {}


def report(name, value, unit, target, ok):
    results[name] = {"value": value, "unit": unit, "target": target, "pass": ok}
    print(f"{name:<46}{value:>12.4g} {unit:<10} target {target:<14}{'PASS' if ok else 'MISS'}")


def rates_jit(n=100_000, batch=16, repeats=7):
    """Requests simulated per second, split and packed ring, runs alternated so that a
    noisy machine slows both alike (medians)."""
    for ring in ("split", "packed"):
        paths.simulate("virtio", requests=1000, batch=batch, ring=ring)
    ts = {"split": [], "packed": []}
    for _ in range(repeats):
        for ring in ts:
            t = time.perf_counter()
            paths.simulate("virtio", requests=n, batch=batch, ring=ring)
            ts[ring].append(time.perf_counter() - t)
    return {ring: n / statistics.median(v) for ring, v in ts.items()}


def rate_plain_python(n=3000, batch=16):
    code = (f"import time; from virtmodel import paths; t=time.perf_counter(); "
            f"paths.simulate('virtio', requests={n}, batch={batch}); "
            f"print(time.perf_counter()-t)")
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    return n / float(out.stdout.split()[-1])


SIMPY_PROFILE = MODERN.replace(jitter_cv=0.0, device_parallelism=1)
"""The SimPy yardstick's host: the modern profile, one request served at a time, no jitter
(so both engines must land on the same simulated time to the last bit of rounding)."""


def rate_simpy(ring, n, batch=16):
    """SimPy's rate on the same protocol and costs (benchmarks/simpy_virtio.py); with the
    split ring it must land on the numba run's simulated time."""
    from virtmodel import ringsim as rs
    from virtmodel.paths import virtio

    st = virtio.setup(4096, True, "mmio", "posted", "blk", SIMPY_PROFILE)
    rows = st.cost.sum(axis=1)
    c = {name: rows[i] for i, name in enumerate(rs.ACTIONS)}
    t = time.perf_counter()
    elapsed = simpy_virtio.run(n, batch, c, ring=ring)
    rate = n / (time.perf_counter() - t)
    if ring == "split":
        want = paths.simulate("virtio", batch=batch, requests=n, halt_poll=False,
                              profile=SIMPY_PROFILE).elapsed_ns
        if abs(elapsed - want) > 1e-9 * want:
            raise SystemExit(f"the SimPy model is not equivalent: {elapsed} ns, numba {want}")
    return rate


def curve_ms():
    vals = [1 + i * 8 for i in range(32)]
    sweep("virtio", "batch", vals, requests=10_000)
    ts = []
    for _ in range(15):
        t = time.perf_counter()
        sweep("virtio", "batch", vals, requests=10_000)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3


def cold_start_s():
    code = ("import time; t=time.perf_counter(); from virtmodel.paths import simulate; "
            "simulate('virtio'); print(time.perf_counter()-t)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # warm
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def redraw_ms():
    """Move each explorer's main knob through its values, cache cleared before each move."""
    from virtmodel import widgets

    per, ts = {}, []
    for make in (widgets.explore_exit_tax, widgets.explore_trap_path,
                 widgets.explore_dma_size, widgets.explore_breakdown, widgets.vring_tour,
                 widgets.explore_batching, widgets.explore_request_size):
        ex = make()
        ex.widget()
        c = ex.controls[ex.main.name]
        mine = []
        for v in ex.main.values[1:] + ex.main.values[:1]:
            widgets._cached.cache_clear()
            t = time.perf_counter()
            c.value = v
            mine.append((time.perf_counter() - t) * 1e3)
        per[make.__name__] = (statistics.median(mine), max(mine))
        ts += mine
    return statistics.median(ts), per


def main():
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    rates = rates_jit()
    jit, packed = rates["split"], rates["packed"]
    py = rate_plain_python()
    sp = rate_simpy("split", 10_000)
    spi = rate_simpy("index", 50_000)
    report("virtio sim, numba (requests/s)", jit, "req/s", ">= 1e7", jit >= 1e7)
    report("virtio sim, packed ring (requests/s)", packed, "req/s", "-", True)
    report("packed ring's speed / split ring's", packed / jit, "x", ">= 0.8",
           packed / jit >= 0.8)
    report("virtio sim, same kernel plain Python", py, "req/s", "-", True)
    report("virtio sim, SimPy, same ring and jitter", sp, "req/s", "-", True)
    report("virtio sim, SimPy, indices only, no jitter", spi, "req/s", "-", True)
    report("speed-up over plain Python", jit / py, "x", ">= 100", jit / py >= 100)
    report("speed-up over SimPy, same ring (same time)", jit / sp, "x", ">= 300 (1000)",
           jit / sp >= 300)
    report("speed-up over SimPy, indices only", jit / spi, "x", "- (context)", True)
    ms = curve_ms()
    report("32-point curve, 10k requests each (median)", ms, "ms", "<= 20", ms <= 20)
    s = cold_start_s()
    report("fresh process: import + first simulate", s, "s", "<= 2", s <= 2)
    med, per = redraw_ms()
    for name, (m, worst) in per.items():
        print(f"  {name:<28} median {m:6.1f} ms, worst {worst:6.1f} ms")
    report("live redraw, slider -> new figure (median)", med, "ms", "<= 150", med <= 150)
    print("\nstatic site")
    site = sys.argv[sys.argv.index("--site") + 1] if "--site" in sys.argv else None
    static_site.measure(report, Path(site) / "_build" / "html" if site else None)
    out = HERE / "results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
