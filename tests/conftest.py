"""Shared fixtures. Tests are loud: warnings are errors (pyproject), numpy raises on FP errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oiradar.store import Catalog

# ../shared/data beside the checkout (CI lays a copy of shared/ beside the clone).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _loud_numpy():
    old = np.seterr(all="raise")
    yield
    np.seterr(**old)


@pytest.fixture
def shared_data() -> Path:
    """The real recorded market data folder; tests using it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data file {path} is absent")
    return path


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(tmp_path / "home")
