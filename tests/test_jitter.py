"""Jitter factors: the same bits on every machine, compiled or not."""

import math

import numpy as np
import pytest

from virtmodel import jitter


def test_factors_are_the_c_library_exp_of_the_seeded_normals():
    """Bit for bit what ``math.exp`` gives for the seed's normals, in order: numpy's
    vectorised exp (its own routine on AVX-512 CPUs) would differ in the last bits."""
    cv = 0.3
    s = jitter.sigma(cv)
    z = np.random.default_rng(7).standard_normal(5000)
    want = [math.exp(s * x - 0.5 * s * s) for x in z]
    got = jitter.factors(np.random.default_rng(7), cv, 5000)
    assert got.tolist() == want


def test_factors_have_mean_one_and_the_asked_spread():
    f = jitter.factors(np.random.default_rng(1), 0.25, 200_000)
    assert f.mean() == pytest.approx(1.0, abs=0.003)
    assert f.std() / f.mean() == pytest.approx(0.25, rel=0.02)


def test_no_spread_draws_nothing():
    rng = np.random.default_rng(3)
    assert jitter.factors(rng, 0.0, 4).tolist() == [1.0] * 4
    assert rng.standard_normal() == np.random.default_rng(3).standard_normal()
