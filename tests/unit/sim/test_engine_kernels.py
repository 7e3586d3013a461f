"""The engine's small kernels against plain numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest

from oiradar.liquidations.prices import liq_price_linear
from oiradar.model import LONG, SHORT
from oiradar.sim import engine as E


def _rng(seed: int) -> np.ndarray:
    return np.array([seed], dtype=np.uint64)


def test_uniform_is_in_unit_interval_and_flat() -> None:
    rng = _rng(1)
    u = np.array([E.uniform(rng) for _ in range(20_000)])
    assert u.min() >= 0.0 and u.max() < 1.0
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    assert np.all(np.abs(counts - 2_000) < 5 * np.sqrt(2_000))  # ~5 sigma


def test_generator_is_a_pure_function_of_its_state() -> None:
    a, b = _rng(42), _rng(42)
    assert [E.uniform(a) for _ in range(5)] == [E.uniform(b) for _ in range(5)]
    assert E.uniform(_rng(42)) != E.uniform(_rng(43))


@pytest.mark.parametrize("lam", [0.5, 1.2, 3.6])
def test_poisson_mean_and_variance(lam: float) -> None:
    rng = _rng(7)
    x = np.array([E.poisson(rng, lam) for _ in range(40_000)])
    se = np.sqrt(lam / x.size)
    assert abs(x.mean() - lam) < 5 * se  # equals np.random.poisson(lam) in distribution
    assert abs(x.var() - lam) < 0.05 * lam + 5 * se


def test_normal_moments() -> None:
    rng = _rng(3)
    x = np.array([E.normal(rng) for _ in range(40_000)])
    assert abs(x.mean()) < 0.03 and abs(x.std() - 1.0) < 0.02


def test_categorical_matches_weights() -> None:
    w = np.array([0.15, 0.30, 0.25, 0.20, 0.10])
    cum = np.cumsum(w)
    rng = _rng(5)
    x = np.array([E.categorical(rng, cum) for _ in range(50_000)])
    freq = np.bincount(x, minlength=5) / x.size
    np.testing.assert_allclose(freq, w, atol=0.01)


@pytest.mark.parametrize("side", [LONG, SHORT])
def test_liq_price_is_bit_identical_to_liq_price_linear(side: int) -> None:
    gen = np.random.default_rng(0)
    entry = gen.uniform(1, 60_000, 500)
    lev = gen.choice([2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 125.0], 500)
    mmr = gen.choice([0.004, 0.005, 0.01, 0.025], 500)
    cum = gen.choice([0.0, 50.0, 1_300.0], 500)
    qty = gen.uniform(0.1, 5_000, 500)
    ours = np.array(
        [
            E.liq_price(side, *args)
            for args in zip(entry, lev, mmr, cum, qty, strict=True)
        ]
    )
    ref = liq_price_linear(side, entry, lev, mmr, cum, qty)
    assert np.array_equal(ours, ref)
