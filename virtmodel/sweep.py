"""Curves: one path simulated over the values of one parameter.

The simulation kernels release the GIL, so the points of a curve run in threads, one per
core.  Every point is an independent :func:`virtmodel.paths.simulate` call with the same
seed, so a curve is reproducible and each point equals a direct call.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from .paths import Result, get, names, simulate


@dataclass(frozen=True)
class Curve:
    """Results of ``path`` at each of ``values`` of the parameter ``over``."""

    path: str
    over: str
    values: tuple
    results: tuple

    def field(self, name: str) -> np.ndarray:
        """One Result field (or ``us_per_request``) along the curve."""
        return np.array([getattr(r, name) for r in self.results], dtype=float)


_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1))
    return _POOL


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist (a map on it would wait forever):
    the child makes its own when it first needs one."""
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def sweep(path: str, over: str, values, *, runner=simulate, **params) -> Curve:
    """Simulate ``path`` at each value of parameter ``over`` (other parameters fixed).

    Parameters
    ----------
    path : str
        A registered path.
    over : str
        One of its parameters.
    values : iterable
        The values of ``over``, one point each.
    runner : callable
        Called as :func:`~virtmodel.paths.simulate` would be (e.g. a memoised simulate).
    **params
        The other parameters, fixed along the curve.

    Returns
    -------
    Curve

    Raises
    ------
    ValueError
        ``over`` is not a parameter of ``path``, is also given fixed, or ``values`` is
        empty; or a value is out of range.
    """
    takes = get(path).param_names
    if over not in takes:
        raise ValueError(f"over must be a parameter of {path!r}: {', '.join(takes)}; got {over!r}")
    if over in params:
        raise ValueError(f"{over!r} is swept: do not also pass it as a fixed parameter")
    values = tuple(values)
    if not values:
        raise ValueError("values must not be empty")

    results = points([(path, {**params, over: v}) for v in values], runner=runner)
    return Curve(path, over, values, results)


def points(runs, *, runner=simulate) -> tuple[Result, ...]:
    """Simulate each ``(path, params)`` of ``runs``, at once on every core (the kernels
    release the GIL); the results in the same order.

    This thread and one pool thread per further core each take the next run not yet taken
    until none is left: a thread hands nothing to another per run (waking a waiting thread
    costs about as much as a small run on a virtual machine), and a slow run does not hold
    up a fixed share of the others."""
    runs = list(runs)
    threads = min(len(runs), os.cpu_count() or 1)
    if threads <= 1:
        return tuple(runner(path, **params) for path, params in runs)
    out: list = [None] * len(runs)
    order = itertools.count()  # its next() is atomic: each run is taken once
    failed: list = []

    def work() -> None:
        while not failed:
            i = next(order)
            if i >= len(runs):
                return
            try:
                out[i] = runner(runs[i][0], **runs[i][1])
            except BaseException as e:
                failed.append(e)
                raise

    helpers = [_pool().submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        for h in helpers:  # not started yet (the pool busy, e.g. with this very call's
            h.cancel()  # caller): nothing is left for it to do
        wait(helpers)
    if failed:
        raise failed[0]
    return tuple(out)


def compare(over: str, values, paths=None, **params) -> dict[str, Curve]:
    """One curve per path over the same values of ``over``.

    Parameters
    ----------
    over : str
        The swept parameter (every chosen path must take it).
    values : iterable
        Its values.
    paths : iterable of str, optional
        The paths (default: every registered one, in registration order).
    **params
        Fixed parameters; each path gets those it takes.

    Returns
    -------
    dict of str to Curve
        Path name -> its curve.
    """
    out = {}
    for path in names() if paths is None else paths:
        out[path] = sweep(path, over, values, **get(path).accepting(params))
    return out
