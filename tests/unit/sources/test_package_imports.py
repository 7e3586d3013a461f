"""``import oiradar.sources`` is free: its names load on first use, and the decoders never pull in
the network libraries (decision 0507)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import oiradar.sources

NETWORK = ("ccxt", "httpx", "aiohttp", "numba")


def loaded_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_the_package_loads_neither_ccxt_nor_httpx() -> None:
    assert loaded_after("import oiradar.sources").isdisjoint(NETWORK)


@pytest.mark.parametrize(
    "module",
    [
        "oiradar.sources.decode.venues",
        "oiradar.sources.decode.binance_archive",
        "oiradar.sources.decode.files.formats",
        "oiradar.sources.clients.retry",
    ],
)
def test_decoders_and_the_retry_policy_need_no_network_library(module: str) -> None:
    assert loaded_after(f"import {module}").isdisjoint(NETWORK)


def test_every_exported_name_resolves() -> None:
    assert oiradar.sources.__all__ == sorted(oiradar.sources.__all__, key=_isort_key)
    for name in oiradar.sources.__all__:
        assert getattr(oiradar.sources, name) is not None
    with pytest.raises(AttributeError):
        _ = oiradar.sources.no_such_name


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)
