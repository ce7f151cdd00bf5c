"""A fixed grid of simulate() configurations and their Results, recorded to a file, so
that a change meant to keep behaviour (a refactoring) can be checked bit for bit.

``python tests/frozen.py`` records the grid with the current code (do that only when a
change of results is intended, and say which change caused which difference);
tests/test_frozen.py compares the current code against the recording.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import sys
from pathlib import Path

import numpy as np

FILE = Path(__file__).parent / "data" / "frozen_results.json.gz"
SKIP = {"path", "params", "latencies_ns", "breakdown_ns"}


def grid() -> list[tuple[str, dict]]:
    """(path, params) for every recorded configuration."""
    out = []
    ring_axes = dict(
        batch=(1, 4, 16),
        queue_size=(16, 256),
        event_idx=(True, False),
        request_bytes=(512, 4096, 65536),
        interrupts=(True, False),
        descriptors_per_request=(1, 2),
        requests=(200, 1000),
    )
    for path, extra in (("virtio", dict(ioeventfd=(True, False))), ("native", {})):
        axes = {**ring_axes, **extra}
        for combo in itertools.product(*axes.values()):
            kw = dict(zip(axes, combo))
            if kw["batch"] * kw["descriptors_per_request"] > kw["queue_size"]:
                kw["batch"] = kw["queue_size"] // kw["descriptors_per_request"]
            out.append((path, kw))
    emu_axes = dict(
        data_mode=("pio", "string-pio", "dma"),
        request_bytes=(0, 512, 4096, 65536),
        interrupts=(True, False),
        accesses_per_request=(1, 3),
        dma_setup_accesses=(0, 2),
        requests=(200, 1000),
    )
    for combo in itertools.product(*emu_axes.values()):
        out.append(("emulated", dict(zip(emu_axes, combo))))
    return out


def key(path: str, params: dict) -> str:
    return path + "|" + json.dumps(params, sort_keys=True)


def fingerprint(r) -> dict:
    """Every field of a Result, floats exactly (repr round-trips), latencies by hash."""
    d = {}
    for name, v in r.__dict__.items():
        if name in SKIP:
            continue
        d[name] = v
    d["breakdown_ns"] = {k: float(v) for k, v in r.breakdown_ns.items()}
    lat = np.ascontiguousarray(r.latencies_ns, dtype=np.float64)
    d["latencies_sha256"] = hashlib.sha256(lat.tobytes()).hexdigest()
    return d


def record() -> dict:
    from virtmodel.paths import simulate

    return {key(p, kw): fingerprint(simulate(p, **kw)) for p, kw in grid()}


def load() -> dict:
    with gzip.open(FILE, "rt") as f:
        return json.load(f)


if __name__ == "__main__":
    data = record()
    FILE.parent.mkdir(exist_ok=True)
    with gzip.open(FILE, "wt") as f:
        json.dump(data, f, sort_keys=True)
    print(f"recorded {len(data)} configurations to {FILE}", file=sys.stderr)
