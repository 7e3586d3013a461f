"""Strict configuration: file, environment overrides, per-symbol overrides, helpful errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oiradar.config import duration_ms, load_settings, resolve_home
from oiradar.errors import ConfigError
from oiradar.model import DAY_MS


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "oiradar.toml"
    path.write_text(text)
    return path


def test_defaults_follow_the_spec(tmp_path: Path) -> None:
    s = load_settings(home=tmp_path, environ={})
    assert s.signals.oi_z_alert == 2.0
    assert s.signals.divergence_dd == 0.15
    assert duration_ms(s.features.z_window) == 30 * DAY_MS
    assert s.features.near_pct == 0.03


def test_unknown_key_suggests_the_close_match(tmp_path: Path) -> None:
    path = _write(tmp_path, "[signals]\ndivergance_dd = 0.2\n")
    with pytest.raises(
        ConfigError,
        match=r"unknown configuration key 'signals.divergance_dd'.*did you mean 'signals.divergence_dd'",
    ):
        load_settings(path, environ={})


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'signals'"):
        load_settings(_write(tmp_path, "[signal]\noi_z_alert = 3\n"), environ={})


def test_bad_value_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"signals\.divergence_dd"):
        load_settings(_write(tmp_path, "[signals]\ndivergence_dd = 1.5\n"), environ={})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[signals]\noi_z_alert = 2.5\n")
    env = {
        "OIRADAR__SIGNALS__OI_Z_ALERT": "3",
        "OIRADAR__VENUES__BINANCEUSDM__ARCHIVE_URL": "http://127.0.0.1:9/archive",
    }
    s = load_settings(path, environ=env)
    assert s.signals.oi_z_alert == 3.0
    assert s.venue("binanceusdm").archive_url == "http://127.0.0.1:9/archive"
    assert s.venue("okx").rest_url is None


def test_misspelt_environment_override_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean"):
        load_settings(home=tmp_path, environ={"OIRADAR__SIGNALS__OI_Z_ALRT": "3"})


def test_per_symbol_overrides(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[signals]\ndivergence_dd = 0.15\n[symbols."KSM/USDT:USDT".signals]\ndivergence_dd = 0.2\n',
    )
    s = load_settings(path, environ={})
    assert s.for_symbol("KSM/USDT:USDT").signals.divergence_dd == 0.2
    assert s.for_symbol("BTC/USDT:USDT").signals.divergence_dd == 0.15


def test_per_symbol_override_is_validated(tmp_path: Path) -> None:
    path = _write(tmp_path, '[symbols."KSM/USDT:USDT".signals]\ndivergence_dd = 7\n')
    with pytest.raises(ConfigError, match="divergence_dd"):
        load_settings(path, environ={}).for_symbol("KSM/USDT:USDT")


def test_config_with_secrets_must_be_private(tmp_path: Path) -> None:
    path = _write(tmp_path, '[alerts]\ntelegram_token = "x"\n')
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("url", "private"),
    [("tgram://123456:ABCDEF/987", True), ("json://127.0.0.1:8080/hook", True),
     ("console", False), ("jsonl:///tmp/alerts.jsonl", False)],
)  # fmt: skip
def test_alert_channel_urls_count_as_secrets(tmp_path: Path, url: str, private: bool) -> None:
    """A channel URL carries its token (Telegram, Slack, SMTP): a readable config is refused."""
    path = _write(tmp_path, f'[[alerts.channels]]\nurl = "{url}"\n')
    path.chmod(0o644)
    if private:
        with pytest.raises(ConfigError, match="chmod 600"):
            load_settings(path, environ={})
    else:
        assert load_settings(path, environ={}).alerts.channels[0].url == url


def test_invalid_duration(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid duration"):
        load_settings(_write(tmp_path, '[features]\nz_window = "30 days"\n'), environ={})


def test_home_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OIRADAR_HOME", str(tmp_path / "env"))
    assert resolve_home(str(tmp_path / "opt")) == tmp_path / "opt"
    assert resolve_home(None) == tmp_path / "env"
    monkeypatch.delenv("OIRADAR_HOME")
    assert resolve_home(None).name == "oiradar"


def test_a_file_that_is_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "oiradar.toml"
    path.write_bytes(b"[signals]\noi_z_alert = 2.5\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 32, line 3: b'\\xe9'\)"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("text", "key", "got"),
    [
        ("[fetch]\ntimeout = inf\n", "fetch.timeout", "inf"),
        ("[fetch]\ntimeout = nan\n", "fetch.timeout", "nan"),
        ("[fetch]\ntimeout = -1.0\n", "fetch.timeout", "-1.0"),
        ("[fetch]\nbackoff_max = inf\n", "fetch.backoff_max", "inf"),
        ("[fetch]\nmax_retry_after = -5.0\n", "fetch.max_retry_after", "-5.0"),
        ("[signals]\noi_z_alert = -inf\n", "signals.oi_z_alert", "-inf"),
        ("[venues.okx]\ntaker_fee = nan\n", "venues.okx.taker_fee", "nan"),
    ],
)
def test_numbers_must_be_finite_and_in_range(tmp_path: Path, text: str, key: str, got: str) -> None:
    with pytest.raises(ConfigError, match=rf"{re.escape(key)}: .*\(got {got}\)"):
        load_settings(_write(tmp_path, text), environ={})


def test_environment_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fetch.timeout: .*finite.*OIRADAR__FETCH__TIMEOUT"):
        load_settings(home=tmp_path, environ={"OIRADAR__FETCH__TIMEOUT": "inf"})
    with pytest.raises(ConfigError, match=r"'fetch.timout' from environment variable OIRADAR__"):
        load_settings(home=tmp_path, environ={"OIRADAR__FETCH__TIMOUT": "3"})


def test_environment_per_symbol_override_keeps_the_symbols_case(tmp_path: Path) -> None:
    var = "OIRADAR__SYMBOLS__KSM/USDT:USDT__SIGNALS__DIVERGENCE_DD"
    s = load_settings(home=tmp_path, environ={var: "0.2"})
    assert s.for_symbol("KSM/USDT:USDT").signals.divergence_dd == 0.2
    # with the symbol in the file, the variable lands in the same section, whatever its case
    path = _write(tmp_path, '[symbols."KSM/USDT:USDT".signals]\ndivergence_dd = 0.18\n')
    env = {"OIRADAR__SYMBOLS__ksm/usdt:usdt__SIGNALS__DIVERGENCE_DD": "0.25"}
    s = load_settings(path, environ=env)
    assert list(s.symbols) == ["KSM/USDT:USDT"]
    assert s.for_symbol("KSM/USDT:USDT").signals.divergence_dd == 0.25


def test_config_option_must_name_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings(tmp_path, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})
