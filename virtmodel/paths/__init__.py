"""End-to-end I/O paths, compared on the same :class:`Result`.

Each path is one module here that registers a :class:`~virtmodel.paths.registry.Path`
(its name, label, colour, parameters and runner); :data:`REGISTRY` lists them.
``python -m virtmodel paths`` prints every path with its parameters.

``simulate(path, **params)`` checks the parameters against the path's declaration (bad
values raise ValueError naming the parameter and its allowed range), draws the jitter from
``seed`` and runs the path.  The same parameters and seed give the same Result.
"""

from __future__ import annotations

from .. import jitter
from .registry import REGISTRY, Example, Param, Path, get, names, register, taking, unregister
from .result import STAGES, Outcome, Result, latency_stats, result

__all__ = [
    "REGISTRY",
    "STAGES",
    "Example",
    "Outcome",
    "Param",
    "Path",
    "Result",
    "check_params",
    "get",
    "latency_stats",
    "names",
    "register",
    "simulate",
    "taking",
    "unregister",
]


def check_params(path: str, params: dict) -> dict:
    """Validate ``params`` for ``path``; return the full parameter set (defaults filled,
    the profile resolved to a CostProfile)."""
    return get(path).check(params)


def simulate(path: str, **params) -> Result:
    """Simulate ``requests`` I/O requests of ``request_bytes`` each along ``path``.

    Parameters
    ----------
    path : str
        A registered path name (:func:`~virtmodel.paths.registry.names`): ``"emulated"``,
        ``"nvme"``, ``"virtio"``, ``"vhost"``, ... ``"native"``.
    **params
        Keywords the path declares (``python -m virtmodel paths`` lists them with their
        defaults, units and allowed ranges), e.g. ``request_bytes`` (bytes per request),
        ``batch`` (requests made available per kick decision), ``queue_size``,
        ``requests``, ``event_idx``, ``interrupts``, ``profile`` (a CostProfile, a name in
        ``costs.PROFILES`` or a .json file) and ``seed``.

    Returns
    -------
    Result
        Throughput, latencies (mean, p99), exits, kicks and interrupts per request, bytes
        copied, and where the time went (``breakdown_ns``).

    Raises
    ------
    ValueError
        An unknown path or parameter, or a value outside its allowed range.
    """
    p = check_params(path, params)
    with jitter.seeded(p["seed"]) as rng:
        return result(path, p, REGISTRY[path].run(p, p["profile"], rng))


# the paths, each registering itself (order: how they appear in tables and legends)
from . import emulated, nvme, virtio  # noqa: F401, I001
from . import vhost, vhost_user, vdpa, passthrough, native  # noqa: F401
