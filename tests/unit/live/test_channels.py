"""Alert channels: secret-free names, routing filters, the JSONL file, refused URLs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oiradar.app.live import alert_payload, alert_text
from oiradar.config import AlertSettings, ChannelSettings
from oiradar.errors import ConfigError
from oiradar.live.channels import (
    AppriseChannel,
    ConsoleChannel,
    JsonlChannel,
    build_channels,
    channel_name,
    route,
)
from oiradar.model import HOUR_MS, Timeframe

T0 = 1_709_280_000_000  # 2024-03-01 08:00 UTC


def payload(signal: str = "entry", side: str = "short", bar: int = 0) -> dict[str, Any]:
    event = {"ts": T0 + bar * 4 * HOUR_MS, "exchange": "binanceusdm", "symbol": "KSM/USDT:USDT",
             "signal": signal, "side": side, "close": 31.5, "oi_z_30d": 2.4, "why": "OI z 2.4"}  # fmt: skip
    return alert_payload(event, Timeframe.parse("4h"), T0 + (bar + 1) * 4 * HOUR_MS)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("tgram://123456:ABCDEF/987", "tgram://…"),
        ("discord://1234567/webhooktoken", "discord://…"),
        ("https://discord.com/api/webhooks/1234567/webhooktoken", "https://discord.com"),
        ("json://127.0.0.1:8080/hook/s3cr3t", "json://127.0.0.1:8080"),
        ("jsons://user:password@hooks.example.com/x", "jsons://hooks.example.com"),
        ("mailto://me:hunter22@gmail.com", "mailto://gmail.com"),
        ("pbul://access.token", "pbul://…"),
        ("console", "console"),
        ("jsonl:///var/log/alerts.jsonl", "jsonl:///var/log/alerts.jsonl"),
        ("just-a-token", "…"),
    ],
)
def test_names_show_scheme_and_host_only(url: str, name: str) -> None:
    assert channel_name(url) == name


def test_a_built_channel_name_holds_no_token() -> None:
    ch = AppriseChannel("tgram://123456:ABCDEF/987", 5.0)
    assert ch.name == "tgram://…"
    assert "123456" not in repr(ch) and "ABCDEF" not in repr(ch)


def test_routing_filters_by_signal_and_side() -> None:
    every = ConsoleChannel(print, name="all")
    entries = ConsoleChannel(print, name="entries", signals=("entry",))
    longs = ConsoleChannel(print, name="longs", sides=("long",))
    both = ConsoleChannel(print, name="entry-short", signals=("entry",), sides=("short",))
    channels = [every, entries, longs, both]
    assert route(channels, payload("entry", "short")) == ("all", "entries", "entry-short")
    assert route(channels, payload("entry", "long")) == ("all", "entries", "longs")
    assert route(channels, payload("squeeze", "long")) == ("all", "longs")


def test_jsonl_appends_one_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "alerts.jsonl"
    ch = JsonlChannel(path)
    alerts = [payload(bar=0), payload("squeeze", "long", bar=1)]
    for a in alerts:
        ch.send(a)
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == alerts
    assert ch.name == f"jsonl://{path}"


def test_console_echoes_the_alert_line() -> None:
    lines: list[str] = []
    ConsoleChannel(lines.append).send(payload())
    assert lines == [alert_text(payload())]
    assert "KSM/USDT:USDT" in lines[0] and "entry short" in lines[0]


def test_build_channels_config_flags_and_jsonl_with_unique_names(tmp_path: Path) -> None:
    settings = AlertSettings(
        channels=(
            ChannelSettings(url="tgram://111:AAA/1"),
            ChannelSettings(url="tgram://222:BBB/2", signals=("entry",)),
            ChannelSettings(url="json://127.0.0.1:9/x", name="desk"),
        ),
        jsonl=str(tmp_path / "alerts.jsonl"),
    )
    extra = ["console", "tgram://333:CCC/3", "tgram://111:AAA/1"]  # the last repeats the config
    channels = build_channels(settings, extra, echo=print)
    names = [ch.name for ch in channels]
    assert names == ["tgram://…", "tgram://…#2", "desk", "console", "tgram://…#3",
                     f"jsonl://{tmp_path / 'alerts.jsonl'}"]  # fmt: skip
    assert channels[1].signals == {"entry"}
    assert channels[-1].quiet is False  # the jsonl record is never held by quiet hours


@pytest.mark.parametrize(
    ("url", "shown", "hint"),
    [
        ("foo://secrettoken123/x", "foo://…", "no service foo://"),
        ("jsn://127.0.0.1/secretpath", "jsn://…", "did you mean json://"),
        ("tgram://", "tgram://", "cannot parse it as a tgram:// URL"),
        ("secrettoken123", "…", "not a channel URL"),
    ],
)
def test_a_url_apprise_cannot_parse_is_refused_naming_the_setting(
    url: str, shown: str, hint: str
) -> None:
    settings = AlertSettings(channels=(ChannelSettings(url=url),))
    with pytest.raises(ConfigError, match=r"\[alerts\] channels") as err:
        build_channels(settings, ())
    assert repr(shown) in str(err.value) and hint in str(err.value)
    assert "secret" not in str(err.value)


def test_a_bad_notify_flag_names_the_flag() -> None:
    with pytest.raises(ConfigError, match="--notify: cannot use 'foo://…'"):
        build_channels(AlertSettings(), ["foo://bar"])


def test_a_relative_jsonl_url_is_refused() -> None:
    settings = AlertSettings(channels=(ChannelSettings(url="jsonl://alerts.jsonl"),))
    with pytest.raises(ConfigError, match="absolute path"):
        build_channels(settings, ())
