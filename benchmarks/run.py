"""virtmodel's speed and start-up figures, measured and compared in one run.

Targets (issue 13): a live explorer redraws (slider moved -> new PNG in the widget) in
<= 50 ms median, worst <= 120 ms, every explorer, as a reader first meets it: a new
explorer is shown (its default state drawn), the simulation cache is emptied of everything
else, and the main knob moves once to each of its other values, so every move is the first
visit of its state (results that do not depend on the moved knob are the ones the explorer
already drew, as for a reader).  The median and worst of those moves are held to the
targets; every knob moved the same way, one after another, is reported beside them, and so
is the harsher figure of the same main-knob moves with the cache emptied before each one
(what a move costs when nothing it needs was computed before).  The machine's load average
is printed with them: on a shared 2-core machine other processes' load shows directly in
these wall-clock times.

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

import simpy_virtio
import static_site

from virtmodel import paths
from virtmodel.costs import MODERN
from virtmodel.sweep import sweep

results = {}


def report(name, value, unit, target, ok):
    results[name] = {"value": value, "unit": unit, "target": target, "pass": ok}
    print(f"{name:<46}{value:>12.4g} {unit:<10} target {target:<14}{'PASS' if ok else 'MISS'}")


def rates_jit(n=100_000, batch=16, repeats=21):
    """Requests simulated per second, split and packed ring, runs alternated so that a
    noisy machine slows both alike (medians).  21 runs each, about 0.4 s in all: over 7
    (0.12 s) one hiccup of this virtual machine's host once slowed most of them alike
    (7.3 M req/s, against 11.7-12.3 M in the runs around it)."""
    for ring in ("split", "packed"):
        paths.simulate("virtio", requests=1000, batch=batch, ring=ring)
    ts = {"split": [], "packed": []}
    for _ in range(repeats):
        for ring, runs in ts.items():
            t = time.perf_counter()
            paths.simulate("virtio", requests=n, batch=batch, ring=ring)
            runs.append(time.perf_counter() - t)
    return {ring: n / statistics.median(v) for ring, v in ts.items()}


MANY = dict(iodepth=16, vcpus=4, numjobs=4, queues=4, backend_threads=4)
"""4 fio jobs on 4 vCPUs, 4 queues, 4 IOThreads (issue 21's multi-queue speed target)."""


def rate_many(n=100_000, repeats=11):
    """Requests simulated per second with :data:`MANY` (median of ``repeats`` runs)."""
    paths.simulate("virtio", requests=1000, **MANY)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        paths.simulate("virtio", requests=n, **MANY)
        ts.append(time.perf_counter() - t)
    return n / statistics.median(ts)


def rate_plain_python(n=3000, batch=16):
    code = (
        f"import time; from virtmodel import paths; t=time.perf_counter(); "
        f"paths.simulate('virtio', requests={n}, batch={batch}); "
        f"print(time.perf_counter()-t)"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return n / float(out.stdout.split()[-1])


SIMPY_PROFILE = MODERN.replace(jitter_cv=0.0, device_parallelism=1)
"""The SimPy yardstick's host: the modern profile, one request served at a time, no jitter
(so both engines must land on the same simulated time to the last bit of rounding)."""


def rate_simpy(ring, n, batch=16):
    """SimPy's rate on the same protocol and costs (benchmarks/simpy_virtio.py); with the
    split ring it must land on the numba run's simulated time."""
    from virtmodel import ringsim as rs
    from virtmodel.paths import virtio

    st = virtio.setup(
        4096, ioeventfd=True, notify_by="mmio", mode="posted", device_type="blk", prof=SIMPY_PROFILE
    )
    rows = st.cost.sum(axis=1)
    c = {name: rows[i] for i, name in enumerate(rs.ACTIONS)}
    simpy_virtio.run(200, batch, c, ring=ring)  # warm: the ring's Python entry points
    #                                             compile (or load) on their first call
    t = time.perf_counter()
    elapsed = simpy_virtio.run(n, batch, c, ring=ring)
    rate = n / (time.perf_counter() - t)
    if ring == "split":
        want = paths.simulate(
            "virtio", batch=batch, requests=n, halt_poll=False, profile=SIMPY_PROFILE
        ).elapsed_ns
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
    code = (
        "import time; t=time.perf_counter(); from virtmodel.paths import simulate; "
        "simulate('virtio'); print(time.perf_counter()-t)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # warm
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


EXPLORERS = (
    "explore_exit_tax",
    "explore_trap_path",
    "explore_dma_size",
    "explore_breakdown",
    "vring_tour",
    "explore_batching",
    "explore_request_size",
    "lab",
    "beyond.explore_ioeventfd",
    "beyond.explore_backends",
    "beyond.explore_interrupts",
    "beyond.explore_nvme",
    "beyond.explore_assignment",
    "beyond.explore_coalescing",
    "beyond.explore_packed",
    "beyond.explore_scaling",
    "beyond.explore_which_path",
)


def _explorer(name):
    from virtmodel import explore

    if name == "lab":
        return explore.measure_your_machine().explorer
    return getattr(explore, name.removeprefix("beyond."))()


def redraw_ms(every_knob=False, clear_each=False):
    """A new explorer, shown; then its main knob (or each knob in turn) moved to each of
    its other values and back to its default (untimed), every move a state's first visit:
    by explorer, the ms per move on the clock and the process's CPU ms per move (all
    threads: the model's curves run in a pool).  The simulation cache keeps only what the
    shown explorer drew, or with ``clear_each`` nothing at all before each move."""
    from virtmodel.explore import core

    per, cpu = {}, {}
    for name in EXPLORERS:
        core._cached.cache_clear()
        ex = _explorer(name)
        ex.widget()
        knobs = ex.knobs if every_knob else ex.knobs[:1]
        per[name], cpu[name] = [], []
        for k in knobs:
            c = ex.controls[k.name]
            for v in (*(x for x in k.values if x != k.default), k.default):
                if clear_each:
                    core._cached.cache_clear()
                t, p = time.perf_counter(), time.process_time()
                c.value = v
                if v == k.default:  # back where it started: a revisit, not timed
                    continue
                per[name].append((time.perf_counter() - t) * 1e3)
                cpu[name].append((time.process_time() - p) * 1e3)
    return per, cpu


def main():
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    rates = rates_jit()
    jit, packed = rates["split"], rates["packed"]
    py = rate_plain_python()
    sp = rate_simpy("split", 10_000)
    spi = rate_simpy("index", 50_000)
    # issue 21's target for one queue (the loop for many vCPUs, queues and threads; it
    # was >= 1.1e7 for the one-of-each loop before it)
    report("virtio sim, numba (requests/s)", jit, "req/s", ">= 1e7", jit >= 1e7)
    report("virtio sim, packed ring (requests/s)", packed, "req/s", "-", True)
    report("packed ring's speed / split ring's", packed / jit, "x", ">= 0.8", packed / jit >= 0.8)
    many = rate_many()
    report("4 vCPUs x 4 queues x 4 threads (requests/s)", many, "req/s", ">= 5e6", many >= 5e6)
    report("virtio sim, same kernel plain Python", py, "req/s", "-", True)
    report("virtio sim, SimPy, same ring and jitter", sp, "req/s", "-", True)
    report("virtio sim, SimPy, indices only, no jitter", spi, "req/s", "-", True)
    report("speed-up over plain Python", jit / py, "x", ">= 100", jit / py >= 100)
    report(
        "speed-up over SimPy, same ring (same time)",
        jit / sp,
        "x",
        ">= 300 (1000)",
        jit / sp >= 300,
    )
    report("speed-up over SimPy, indices only", jit / spi, "x", "- (context)", True)
    ms = curve_ms()
    report("32-point curve, 10k requests each (median)", ms, "ms", "<= 20", ms <= 20)
    s = cold_start_s()
    report("fresh process: import + first simulate", s, "s", "<= 2", s <= 2)
    load = os.getloadavg()[0]
    (main_knob, main_cpu), (every, _) = redraw_ms(), redraw_ms(every_knob=True)
    cold, _ = redraw_ms(clear_each=True)
    print(
        f"\nlive redraws (1-minute load average {load:.1f} on {os.cpu_count()} cores, this "
        "benchmark's earlier work included), ms: main "
        "knob on the clock (CPU of all threads) | every knob on the clock"
    )
    for name in EXPLORERS:
        m, e = main_knob[name], every[name]
        print(
            f"  {name:<27} median {statistics.median(m):6.1f} "
            f"({statistics.median(main_cpu[name]):5.1f}), worst {max(m):6.1f}"
            f"  | median {statistics.median(e):6.1f}, worst {max(e):6.1f}"
        )
    moves = [t for ts in main_knob.values() for t in ts]
    med, worst = statistics.median(moves), max(moves)
    report("live redraw, slider -> new figure (median)", med, "ms", "<= 50", med <= 50)
    report("live redraw, slider -> new figure (worst)", worst, "ms", "<= 120", worst <= 120)
    cpu = statistics.median([t for ts in main_cpu.values() for t in ts])
    report("live redraw, CPU per move, all threads (median)", cpu, "ms", "- (context)", True)
    moves = [t for ts in every.values() for t in ts]
    report("live redraw, every knob (median)", statistics.median(moves), "ms", "- (context)", True)
    report("live redraw, every knob (worst)", max(moves), "ms", "- (context)", True)
    moves = [t for ts in cold.values() for t in ts]
    report(
        "live redraw, nothing cached (median)", statistics.median(moves), "ms", "- (context)", True
    )
    report("live redraw, nothing cached (worst)", max(moves), "ms", "- (context)", True)
    results["live redraw, per explorer"] = {
        name: {
            "median_ms": statistics.median(main_knob[name]),
            "worst_ms": max(main_knob[name]),
            "median_cpu_ms": statistics.median(main_cpu[name]),
            "every_knob_median_ms": statistics.median(every[name]),
            "every_knob_worst_ms": max(every[name]),
        }
        for name in EXPLORERS
    }
    results["live redraw, load average"] = load
    print("\nstatic site")
    site = sys.argv[sys.argv.index("--site") + 1] if "--site" in sys.argv else None
    static_site.measure(report, Path(site) / "_build" / "html" if site else None)
    out = HERE / "results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
