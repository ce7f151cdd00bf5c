"""Chapter 5's table: every path at one workload (its explorers are in
:mod:`virtmodel.explore.beyond`)."""

from __future__ import annotations

from .explore.core import REQUESTS, run
from .paths import REGISTRY, names
from .widgets import Table


def path_table(profile="modern", request_bytes=4096, depth=1) -> Table:
    """Every path at one workload: exits by reason, CPU, throughput, latency."""
    rows = []
    for name in names():
        takes = REGISTRY[name].param_names
        kw = dict(request_bytes=request_bytes, requests=REQUESTS, profile=profile, iodepth=depth)
        r = run(name, **{k: v for k, v in kw.items() if k in takes})
        rows.append(
            dict(
                path=REGISTRY[name].label,
                exits=r.exits_per_request,
                io=r.exits_by_reason["io"],
                hlt=r.exits_by_reason["hlt"],
                eoi=r.exits_by_reason["eoi"],
                user=r.user_exits_per_request,
                cpu=r.cpu_ns_per_request / 1e3,
                kiops=r.throughput_rps / 1e3,
                lat=r.mean_latency_ns / 1e3,
            )
        )
    return Table(
        rows,
        {
            "path": "path",
            "exits": "exits / req",
            "io": "io",
            "hlt": "hlt",
            "eoi": "eoi",
            "user": "to user space",
            "cpu": "CPU µs / req",
            "kiops": "k req/s",
            "lat": "mean latency µs",
        },
    )
