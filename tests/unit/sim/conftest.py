"""Small simulations shared by the simulator tests (module-scoped: each costs under a second)."""

from __future__ import annotations

import pytest

from oiradar.model import Timeframe
from oiradar.sim import SimResult, simulate


@pytest.fixture(scope="package")
def ksm_small() -> SimResult:
    """Eight days of the ksm preset at 5m: enough for liquidations of both sides and funding."""
    return simulate("ksm", days=8, seed=3)


@pytest.fixture(scope="package")
def btc_small() -> SimResult:
    """The btc preset uses tiered maintenance margins (cum != 0)."""
    return simulate("btc", days=3, seed=11, timeframe=Timeframe.M15)
