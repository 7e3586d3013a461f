"""oiradar sets polars' allocator decay before polars loads (decision 0307), never over a user's
setting, and cannot once polars is loaded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from oiradar._allocator import ENV, POLARS_MALLOC_CONF

SHOW = "import os; print(os.environ.get('_RJEM_MALLOC_CONF'))"


def _conf(code: str, env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if env_value is not None:
        env[ENV] = env_value
    out = subprocess.run([sys.executable, "-c", code + "; " + SHOW], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return out.strip()


@pytest.mark.parametrize("inherited", [None, "dirty_decay_ms:500,muzzy_decay_ms:1000"])
def test_set_when_oiradar_loads_first(inherited: str | None) -> None:
    """Unset, or only what polars wrote in a parent process: oiradar's setting goes in, and
    polars (loaded after) keeps it last, so it wins."""
    conf = _conf("import oiradar, polars", inherited)
    assert conf.endswith(POLARS_MALLOC_CONF)


def test_a_users_setting_wins() -> None:
    assert _conf("import oiradar, polars", "narenas:2").endswith("narenas:2")


def test_no_effect_once_polars_is_loaded() -> None:
    conf = _conf("import polars, oiradar", None)
    assert POLARS_MALLOC_CONF not in conf
    code = "import polars; from oiradar._allocator import keep_freed_memory as k; print(k())"
    assert _conf(code, None).splitlines()[0] == "False"
