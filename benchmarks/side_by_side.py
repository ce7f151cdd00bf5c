"""The simulation's speed, this tree against another copy of ``virtmodel``, side by side.

``python benchmarks/side_by_side.py OLD [PAIRS]`` runs benchmarks/run.py's simulation
figures (virtio and packed-ring requests per second, the 32-point curve, on the clock) and
the CPU time per request of a few workloads (process time, median of 9 runs of 100,000
requests: less hurt by other processes than the clock) in fresh processes, alternating:
one with the folder OLD (which holds an older ``virtmodel/``, e.g. main's copied to
/tmp/old) first on ``PYTHONPATH``, one with this tree's.  On a shared, noisy machine
alternating makes both sides meet the same load; each process's line is printed, then the
medians of each side and new / old.
"""

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

WORKLOADS = {
    "batch 1": dict(batch=1),
    "batch 16": dict(batch=16),
    "batch 128": dict(batch=128),
    "iodepth 8": dict(iodepth=8),
    "no ioeventfd": dict(batch=16, ioeventfd=False),
    "packed": dict(batch=16, ring="packed"),
}
"""virtio workloads whose CPU ns per request are compared (kick_sync: no ioeventfd)."""

ONE = f"""
import json, statistics, sys, time
sys.path.insert(0, {str(HERE)!r})
import run
from virtmodel import __file__ as where, paths
rates = run.rates_jit()
out = dict(split=rates["split"], packed=rates["packed"], curve_ms=run.curve_ms(), where=where)
cpu = {{k: [] for k in {WORKLOADS!r}}}
for _ in range(9):
    for k, kw in {WORKLOADS!r}.items():
        t = time.process_time()
        paths.simulate("virtio", requests=100_000, **kw)
        cpu[k].append((time.process_time() - t) / 100_000 * 1e9)
out["cpu_ns"] = {{k: statistics.median(v) for k, v in cpu.items()}}
print(json.dumps(out))
"""


def measure(pythonpath: str | None) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, "-c", ONE], env=env, cwd="/", capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    old, pairs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4
    if not (Path(old) / "virtmodel" / "__init__.py").is_file():
        raise SystemExit(f"OLD must be a folder holding virtmodel/: {old}")
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for _ in range(pairs):
        for side, pp in (("old", old), ("new", None)):
            r = measure(pp)
            runs[side].append(r)
            print(
                f"{side}  virtio {r['split'] / 1e6:5.2f} M req/s  packed "
                f"{r['packed'] / 1e6:5.2f} M req/s  32-point curve {r['curve_ms']:5.1f} ms"
                f"  ({r['where']})\n     CPU ns/request: "
                + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_ns"].items()),
                flush=True,
            )
    med = {
        side: {k: statistics.median(r[k] for r in rs) for k in ("split", "packed", "curve_ms")}
        for side, rs in runs.items()
    }
    for side, m in med.items():
        print(
            f"median {side}: virtio {m['split'] / 1e6:5.2f} M req/s, packed "
            f"{m['packed'] / 1e6:5.2f} M req/s, curve {m['curve_ms']:5.1f} ms"
        )
    for side, rs in runs.items():
        print(
            f"median {side}: CPU ns/request "
            + ", ".join(
                f"{k} {statistics.median(r['cpu_ns'][k] for r in rs):.1f}" for k in WORKLOADS
            )
        )
    n, o = med["new"], med["old"]
    print(
        f"new / old: virtio {n['split'] / o['split']:.3f}x, packed "
        f"{n['packed'] / o['packed']:.3f}x, curve time {n['curve_ms'] / o['curve_ms']:.3f}x"
    )


if __name__ == "__main__":
    main()
