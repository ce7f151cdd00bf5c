"""Cache lines that move between the guest's core and the back end's core, per request, for
each ring layout: counted on a trace of the layout's own kernels, not derived by hand.

The driver runs on one core, the device on another.  A 64-byte line of the ring *moves*
when one side touches it (reads or writes) while the other side wrote it last and this side
has not seen that write yet: that is one transfer of the line between the two cores'
caches (the coherence miss a real run pays).  Writes to a line the other side only read, and
the request's data buffers, are not counted: what is counted is the ring's own traffic.

How the accesses are found: :func:`trace` runs a scripted closed-loop workload through
:class:`virtmodel.ring.Queue` with the kernels as plain Python (``NUMBA_DISABLE_JIT=1``, in a
child process if this one compiles them) and with the queue's bytes in an ndarray subclass
that logs every byte each operation reads and writes (every access goes through
:mod:`virtmodel.ringmem`'s loads and stores, so nothing is missed).  Each operation is
attributed to the side that runs it.

Where the lines are: the split ring is one allocation in its legacy layout (descriptor
table, available ring, then the used ring at the next 4096-byte boundary, as Linux's
``vring_init``).  Linux allocates the packed ring's three parts separately
(``vring_alloc_queue_packed``: the descriptor ring and each event suppression structure on
its own), so lines are counted per part: the two 4-byte event structures are not on one
line even though :mod:`virtmodel.packed` lays them out next to each other in ``mem``.  Each
part starts on a line boundary.

The workload (one batch after another, as :mod:`virtmodel.ringsim`'s closed loop, with each
side's operations in one block): the driver adds ``batch`` one-descriptor requests and asks
for a kick; the device, woken, disables kicks, pops, pushes and decides on an interrupt for
each request, and re-enables kicks when the ring is empty; the driver's interrupt handler
disables interrupts, reaps everything, and re-enables them.  Counts are averaged over whole
laps of the ring after a warm-up lap, so each request's position in the ring counts alike.

A published cost for one line's transfer (an assumption about the host, not a measurement
of this model): :data:`LINE_TRANSFER_NS`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache

import numpy as np

from .ring import LAYOUTS, make_virtqueue
from .ringmem import check_event_idx
from .spec import check_int

LINE = 64  # bytes per cache line (x86)

LINE_TRANSFER_NS = {
    "value_ns": 20.0,
    "range_ns": (17.2, 22.5),
    "what": "one-way latency of a cache line bouncing between two cores (half the round "
    "trip of compare-and-swap ping-pong on one shared line), mean over core pairs",
    "host": "Intel Core i7-9700K (8 cores, one die), Windows 10 22H2",
    "source": "nviennot/core-to-core-latency, issue #42, result posted 2024-11-05 "
    "(https://github.com/nviennot/core-to-core-latency/issues/42)",
    "caveat": "latency of one transfer; transfers that overlap cost less each, transfers "
    "across dies or sockets several times more (other results in the same "
    "repository: AMD EPYC 7453, ~25 ns within a core complex, 110-230 ns across)",
}
"""A published per-line transfer cost, with its host and source."""

RINGS = tuple(LAYOUTS)


def _areas(ring: str, q: int) -> list[tuple[int, int]]:
    """The separately allocated parts of a ring, as (start, end) byte offsets in ``mem``:
    the split ring's legacy layout is one allocation, the packed ring's three areas are
    three (see the module docstring)."""
    vq = make_virtqueue(q, ring=ring)
    if ring == "split":
        return [(0, vq.mem.size)]
    return [(0, vq.driver_off), (vq.driver_off, vq.device_off), (vq.device_off, vq.mem.size)]


def _line_of(ring: str, q: int):
    areas = _areas(ring, q)

    def line(offset: int) -> tuple[int, int]:
        for k, (lo, hi) in enumerate(areas):
            if lo <= offset < hi:
                return k, (offset - lo) // LINE
        raise ValueError(f"offset {offset} is outside the ring")

    return line


def _traced_ops(ring: str, queue_size: int, event_idx: bool, batch: int, requests: int):
    """Run the workload (see the module docstring) and return one record per operation:
    (side, name, byte offsets read, byte offsets written).  Needs the kernels as plain
    Python (NUMBA_DISABLE_JIT=1)."""
    from .ring import Queue

    log = []

    class Logged(np.ndarray):
        def __getitem__(self, key):
            if isinstance(key, (int, np.integer)):
                log.append((0, int(key)))
            return super().__getitem__(key)

        def __setitem__(self, key, value):
            if isinstance(key, (int, np.integer)):
                log.append((1, int(key)))
            super().__setitem__(key, value)

    from .spec import packed_ring_size, split_ring_size

    size = split_ring_size(queue_size) if ring == "split" else packed_ring_size(queue_size)
    q = Queue(queue_size, event_idx=event_idx, ring=ring, mem=np.zeros(size, np.uint8).view(Logged))
    ops = []

    def op(side, name, *args):
        log.clear()
        out = getattr(q, name)(*args)
        reads = sorted({o for w, o in log if w == 0})
        writes = sorted({o for w, o in log if w == 1})
        ops.append((side, name, reads, writes))
        return out

    done = 0
    while done < requests:
        n = min(batch, requests - done)
        for k in range(n):
            op("driver", "add", [512], None, done + k)
        if not op("driver", "kick_prepare"):
            raise RuntimeError("the device slept through a batch: no kick was asked for")
        op("device", "disable_kicks")
        irq = False
        while True:
            c = op("device", "pop")
            if c is None:
                if op("device", "enable_kicks"):
                    op("device", "disable_kicks")
                    continue
                break
            op("device", "push_used", c.head, 0)
            irq |= op("device", "should_interrupt")
        if not irq:
            raise RuntimeError("no interrupt for a whole batch")
        op("driver", "disable_interrupts")
        while True:
            while op("driver", "get_used") is not None:
                done += 1
            if not op("driver", "enable_interrupts"):
                break
            op("driver", "disable_interrupts")
    return ops


def count_transfers(ops, line) -> list[int]:
    """Line transfers caused by each operation of ``ops`` (records as :func:`_traced_ops`
    returns), with ``line`` mapping a byte offset to a line id."""
    version = {}  # line -> number of writes so far
    last_writer = {}
    seen = {}  # (side, line) -> the version that side holds
    out = []
    for side, _, reads, writes in ops:
        moved = 0
        touched = {line(o) for o in reads} | {line(o) for o in writes}
        for ln in sorted(touched):
            w = last_writer.get(ln)
            if w is not None and w != side and seen.get((side, ln), 0) < version[ln]:
                moved += 1
            seen[(side, ln)] = version.get(ln, 0)
        for ln in sorted({line(o) for o in writes}):
            version[ln] = version.get(ln, 0) + 1
            last_writer[ln] = side
            seen[(side, ln)] = version[ln]
        out.append(moved)
    return out


def _measure(ring: str, queue_size: int, event_idx: bool, batch: int) -> dict:
    """Per-request line transfers over whole laps after a warm-up lap."""
    laps = 2 if batch <= queue_size else 1
    per_lap = -(-queue_size // batch) * batch  # whole batches covering a lap
    warm = per_lap
    total = warm + laps * per_lap
    ops = _traced_ops(ring, queue_size, event_idx, batch, total)
    moved = count_transfers(ops, _line_of(ring, queue_size))
    # the measured window starts at the first add of request `warm`
    adds = [i for i, o in enumerate(ops) if o[1] == "add"]
    start = adds[warm]
    window_ops, window_moved = ops[start:], moved[start:]
    n = total - warm
    by_side = {"driver": 0, "device": 0}
    by_op = {}
    for (side, name, _, _), m in zip(window_ops, window_moved):
        by_side[side] += m
        by_op[name] = by_op.get(name, 0) + m
    return {
        "ring": ring,
        "queue_size": queue_size,
        "event_idx": event_idx,
        "batch": batch,
        "requests": n,
        "lines_per_request": sum(window_moved) / n,
        "to_driver_per_request": by_side["driver"] / n,
        "to_device_per_request": by_side["device"] / n,
        "by_operation": {k: v / n for k, v in by_op.items()},
    }


def _jit_off() -> bool:
    import numba

    return bool(numba.config.DISABLE_JIT)


@lru_cache(maxsize=32)
def _table(rings: tuple, queue_size: int, event_idx: bool, batches: tuple) -> tuple:
    if _jit_off():
        return tuple(_measure(r, queue_size, event_idx, b) for r in rings for b in batches)
    args = json.dumps([list(rings), queue_size, event_idx, list(batches)])
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-m", "virtmodel.cachelines", args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return tuple(json.loads(out.stdout))


def table(
    rings=RINGS, queue_size: int = 256, event_idx: bool = True, batches=tuple(range(1, 65))
) -> list[dict]:
    """Line transfers per request for each ring in ``rings`` and each batch size in
    ``batches`` (one dict each: ``lines_per_request``, split into transfers to the driver's
    core and to the device's core, and by operation)."""
    rings = tuple(rings)
    for r in rings:
        if r not in RINGS:
            raise ValueError(f"rings must name rings from {RINGS}, got {r!r}")
    q = check_int(queue_size, "queue_size", 1, 32768)
    event_idx = check_event_idx(event_idx)
    if "split" in rings:
        from .spec import check_queue_size

        check_queue_size(q)
    batches = tuple(check_int(b, "batch", 1, q, "at most queue_size") for b in batches)
    return [dict(r) for r in _table(rings, q, bool(event_idx), batches)]


def per_request(
    ring: str = "packed", batch: int = 1, queue_size: int = 256, event_idx: bool = True
) -> float:
    """Cache lines moved between the two cores per request (see the module docstring)."""
    return table((ring,), queue_size, event_idx, (batch,))[0]["lines_per_request"]


if __name__ == "__main__":  # the child process of _table: kernels as plain Python
    rings, queue_size, event_idx, batches = json.loads(sys.argv[1])
    print(json.dumps([_measure(r, queue_size, event_idx, b) for r in rings for b in batches]))
