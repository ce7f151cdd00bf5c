"""Jitter factors: the same bits on every machine, compiled or not."""

import math

import numpy as np
import pytest

from virtmodel import jitter

pytestmark = pytest.mark.model  # the numba kernels: dev.py runs these again with the JIT off


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


def test_a_lent_generator_starts_where_a_new_one_with_its_seed_starts():
    with jitter.seeded(11) as rng:
        first = rng.standard_normal(50)  # moves it on: the next loan must start over
    with jitter.seeded(11) as again, jitter.seeded(12) as other:
        assert again is not other  # a loan inside a loan gets its own Generator
        assert again.standard_normal(50).tolist() == first.tolist()
        assert (
            other.standard_normal(50).tolist()
            == np.random.default_rng(12).standard_normal(50).tolist()
        )
    with jitter.seeded(11) as reused:  # one of the two lent before, back at seed 11
        assert reused in (again, other)
        assert reused.standard_normal(50).tolist() == first.tolist()


def test_each_thread_borrows_its_own_generators():
    import threading

    seen = {}

    def borrow(name):
        with jitter.seeded(5) as rng:
            seen[name] = rng
            gate.wait()  # both hold theirs at once

    gate = threading.Barrier(2)
    threads = [threading.Thread(target=borrow, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["a"] is not seen["b"]
