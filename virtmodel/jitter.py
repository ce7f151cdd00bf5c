"""Jitter: the random factors, lognormal with mean 1, that spread device service and
thread wake-up times around their costs.

A factor is drawn one at a time with ``math.exp`` (the C library's ``exp``, compiled or
not), never with numpy's vectorised ``exp``: numpy picks its ``exp`` by the CPU's vector
extensions (on AVX-512 its own vectorised routine, elsewhere the C library's), and their
last bits differ, so results would depend on the machine that ran them.  Drawn this way a
seed gives the same results, bit for bit, on every x86-64 machine, with the JIT or without.

:func:`seeded` lends the Generator a run draws from.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np

from ._jit import njit


def sigma(cv: float) -> float:
    """Shape of the lognormal with mean 1 and coefficient of variation ``cv``.

    Parameters
    ----------
    cv : float
        Standard deviation over mean (a profile's ``jitter_cv``).

    Returns
    -------
    float
        sigma, with ``exp(sigma**2) - 1 == cv**2``.
    """
    return math.sqrt(math.log1p(cv * cv))


@njit(inline="always")
def lognormal(rng, s):
    """One factor with mean 1: lognormal of shape ``s`` drawn from ``rng`` (a numpy
    Generator); 1.0 if ``s`` is 0 (and nothing drawn)."""
    if s == 0.0:
        return 1.0
    return math.exp(s * rng.standard_normal() - 0.5 * s * s)


@njit
def _fill(rng, s, out):
    for i in range(out.shape[0]):
        out[i] = lognormal(rng, s)


def factors(rng, cv: float, n: int) -> np.ndarray:
    """``n`` lognormal factors with mean 1, drawn one after another.

    Parameters
    ----------
    rng : numpy.random.Generator
        Where the normals come from (a runner's ``rng``).
    cv : float
        Their coefficient of variation; 0 gives ones and draws nothing.
    n : int
        How many.

    Returns
    -------
    numpy.ndarray
        ``n`` float64 factors, bit for bit the same on every x86-64 machine.
    """
    out = np.ones(n)
    if cv:
        _fill(rng, sigma(cv), out)
    return out


_lent = threading.local()  # this thread's Generators not lent out at the moment


@lru_cache(maxsize=4096)
def _start(seed: int) -> Mapping[str, Any]:
    """The bit generator's state right after seeding with ``seed``."""
    return np.random.default_rng(seed).bit_generator.state


@contextmanager
def seeded(seed: int):
    """Lend a numpy Generator in exactly the state ``np.random.default_rng(seed)`` starts
    in, for one run (``with seeded(seed) as rng: ...``); do not keep it past the block.

    Generators are reused, one set per thread (a run that starts another inside it gets
    another).  A new Generator costs about 20 µs before its first draw (making it, and a
    compiled kernel's typing of a new object): as much as simulating 2000 requests, and a
    curve's points each need one.

    Parameters
    ----------
    seed : int
        The run's seed.

    Yields
    ------
    numpy.random.Generator
        Drawing the same numbers as a new ``np.random.default_rng(seed)``.
    """
    spare = getattr(_lent, "spare", None)
    if spare is None:
        spare = _lent.spare = []
    if spare:
        rng = spare.pop()
        rng.bit_generator.state = _start(seed)
    else:
        rng = np.random.default_rng(seed)
    try:
        yield rng
    finally:
        spare.append(rng)
