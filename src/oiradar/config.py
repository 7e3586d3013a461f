"""Typed, strict configuration: ``oiradar.toml`` plus ``OIRADAR__SECTION__KEY`` environment overrides.

Resolution order (later wins): built-in defaults < ``oiradar.toml`` < environment variables.
Per-symbol overrides live under ``[symbols."KSM/USDT:USDT".<section>]`` and are applied by
:meth:`Settings.for_symbol`.

Example ``oiradar.toml``::

    home = "/data/oiradar"

    [features]
    peak_window = "7d"

    [signals]
    oi_z_alert = 2.0

    [venues.binanceusdm]
    archive_url = "https://data.binance.vision"

    [symbols."KSM/USDT:USDT".signals]
    divergence_dd = 0.18

Unknown keys are an error that names the closest valid key.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from oiradar.errors import ConfigError
from oiradar.timeutil import duration_ms

ENV_PREFIX = "OIRADAR__"
_CLOCK_RANGE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
CONFIG_FILE = "oiradar.toml"

class _Section(BaseModel):
    # allow_inf_nan=False: ``timeout = inf`` or ``nan`` is refused here, naming the key, instead
    # of failing later inside a client.
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )


def _check_duration(v: str) -> str:
    try:
        duration_ms(v)
    except ConfigError as exc:  # a ValueError, so that pydantic names the key
        raise ValueError(str(exc)) from None
    return v


class FeatureSettings(_Section):
    """Feature windows (SPEC section 2), given in time and converted to bars."""

    z_window: str = "30d"
    chg_window: str = "7d"
    turnover_window: str = "24h"
    peak_window: str = "7d"
    vol_window: str = "20d"
    new_high_bars: int = Field(20, ge=1)
    near_pct: float = Field(0.03, ge=0, lt=1)
    atr_bars: int = Field(14, ge=1)
    rejection_rules: tuple[str, ...] = ("wick", "engulfing", "close_below_low")
    # Share of a rolling window's bars that must hold a value (1.0: the window must be full).
    min_coverage: float = Field(1.0, gt=0, le=1)

    _durations = field_validator(
        "z_window", "chg_window", "turnover_window", "peak_window", "vol_window"
    )(_check_duration)


class SignalSettings(_Section):
    """Signal thresholds (SPEC section 3)."""

    oi_z_alert: float = 2.0
    watch_chg_7d: float = 0.15
    watch_lookback_bars: int = Field(6, ge=1)
    trigger_new_high_bars: int = Field(3, ge=1)
    trigger_down_streak: int = Field(2, ge=1)
    divergence_dd: float = Field(0.15, ge=0, lt=1)
    entry_within_bars: int = Field(6, ge=1)
    exchange_div_drop: float = 0.05
    exchange_div_band: float = 0.02
    long_side: bool = False
    # Phase labels (SPEC section 3, "Phases"); windows in time, converted to bars.
    phase_spike_window: str = "1d"
    phase_oi_spike: float = Field(0.05, ge=0)
    phase_range_pct: float = Field(0.10, gt=0)
    phase_dist_dd: float = Field(0.05, ge=0, lt=1)
    cascade_window: str = "1d"
    cascade_atr: float = Field(3.0, gt=0)
    cascade_oi_drop: float = Field(0.05, ge=0, lt=1)
    cascade_liq_mult: float = Field(3.0, ge=0)
    cross_window: str = "1d"
    # mtf_entry: the setup (trigger or divergence) on this coarser timeframe, the rejection candle
    # on the series' own; the window is entry_within_bars bars of the setup's timeframe
    mtf_setup_timeframe: Literal["15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d"] = "4h"
    # liq_fade: a bar consumes estimated liquidations of one side of at least this multiple of
    # their mean over features.z_window (30 days), as cascade_liq_mult does for realized ones
    liq_fade_mult: float = Field(3.0, gt=0)

    _durations = field_validator("phase_spike_window", "cascade_window", "cross_window")(
        _check_duration
    )


class VenueSettings(_Section):
    """Base URLs of a venue; point them at a mirror, a proxy or a local fake exchange."""

    rest_url: str | None = None
    ws_url: str | None = None
    archive_url: str | None = None
    taker_fee: float | None = None


class FetchSettings(_Section):
    """How exchange and archive downloads retry (owned by ``oiradar.sources``).

    Backoff before retry ``k`` (0-based) is ``min(backoff_max, backoff_base * 2**k)`` scaled by a
    random jitter in ``[0.5, 1]``; a ``Retry-After`` header, when larger, wins, up to
    ``max_retry_after`` seconds: a venue asking for longer fails that request at once.
    """

    retries: int = Field(6, ge=0)
    backoff_base: float = Field(1.0, ge=0, le=3600)
    backoff_max: float = Field(60.0, ge=0, le=3600)
    max_retry_after: float = Field(60.0, ge=0, le=86_400)
    timeout: float = Field(30.0, gt=0, le=3600)
    concurrency: int = Field(4, ge=1)
    rate_limit_ms: int | None = Field(None, ge=0)


class CatalogSettings(_Section):
    """The catalog on disk (``oiradar.store``)."""

    # seconds a writer waits for another writer's lock before giving up (0: do not wait)
    lock_timeout: float = Field(60.0, ge=0, le=86_400)


class PerformanceSettings(_Section):
    """How the every-series commands (``features``, ``scan``, ``study --pooled``) hold memory:
    series are read and computed in batches, so peak memory follows the batch, not the universe
    (docs/analysis.md, "Memory"; decision 0710)."""

    batch_series: int = Field(32, ge=1)  # series per batch (a base asset's legs stay together)
    batch_rows: int = Field(4_000_000, ge=1)  # bars per batch; a longer series is a batch alone
    executor: Literal["local", "ray"] = "local"  # this process, or one Ray task per batch


class SimSettings(_Section):
    preset: str = "ksm"
    seed: int = 7
    days: int = Field(365, ge=1)


class LiquidationSettings(_Section):
    """The estimated liquidation map (SPEC section 6, ``oiradar.liquidations``)."""

    mix: str = "default"  # a preset name or "5:0.15,10:0.3,..." (leverage:weight)
    position_notional: float = Field(5_000.0, gt=0)  # assumed size (quote) that picks the tier
    colour_long_share: float = Field(0.6, ge=0, le=1)  # long share of new OI on a green bar
    bins: int = Field(400, ge=10)
    grid_pad: float = Field(0.3, gt=0, lt=1)
    impact_pct_per_musd: float = Field(0.0, ge=0)  # amplification: % price move per $1M liquidated
    cluster_min_share: float = Field(0.02, ge=0, lt=1)
    bootstrap: int = Field(1000, ge=0)


class ClaimSettings(_Section):
    """A user's claim to test (``[[evidence.claims]]``); see ``docs/evidence.md``."""

    name: str
    text: str
    signal: str
    side: str = "short"
    # "rate" (reversal rate > value), "lift" (over the baseline > value), "exit_gain" (OI-turn
    # exit minus the barriers' exit, mean return > value) or "liq_ratio" (liquidations after the
    # signal over their all-bar mean > value)
    metric: str = "rate"
    value: float = 0.5
    baseline: str = "matched"  # "all", "near_high" or "matched"


class TimeoutRule(StrEnum):
    """How an event that touches neither barrier within the horizon counts in a reversal rate
    (``docs/evidence.md``, decision 0605)."""

    FAIL = "fail"  # not a reversal: in the denominator, not in the numerator
    EXCLUDE = "exclude"  # out of the rate altogether (the default)
    SIGN = "sign"  # a reversal when the return at the horizon is in the trade's favour


class EvidenceSettings(_Section):
    """Event study and verdicts (``docs/evidence.md``)."""

    horizon: int = Field(12, ge=1)
    width: float = Field(2.0, gt=0)
    cooldown: int | None = Field(None, ge=0)  # None: the horizon
    timeouts: TimeoutRule = TimeoutRule.EXCLUDE
    min_events: int = Field(80, ge=1)
    # the lift a "lift > 0" claim is taken to promise when counting the events it needs
    detect_lift: float = Field(0.10, gt=0, lt=1)
    power: float = Field(0.8, gt=0, lt=1)  # of the "events needed" figure, at level alpha
    reps: int = Field(2000, ge=100)
    conf: float = Field(0.95, gt=0, lt=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    seed: int = 0
    # the OI-turn exit measured against the barriers: hold until the OI streak against the trade
    # reaches turn_streak bars (oi_up_streak for a short), at most hold_max bars
    turn_streak: int = Field(2, ge=1)
    hold_max: int = Field(24, ge=1)
    claims: tuple[ClaimSettings, ...] = ()


class BacktestSettings(_Section):
    """Trade model (SPEC section 4); the per-venue taker fee is ``venues.<id>.taker_fee``."""

    risk: float = Field(0.02, gt=0, le=1)
    scale_by_oi: bool = True
    leverage: float = Field(5.0, ge=1)
    venue_max_leverage: float = Field(125.0, ge=1)
    fee: float = Field(0.0005, ge=0, lt=0.1)
    slippage: float = Field(0.0002, ge=0, lt=0.1)
    stop_lookback: int = Field(20, ge=1)
    stop_atr: float = Field(0.5, ge=0)
    use_stop: bool = True
    take_profit_r: float = Field(2.0, ge=0)
    time_stop: int = Field(30, ge=0)
    thesis_streak: int = Field(2, ge=0)
    mmr: float = Field(0.004, ge=0, lt=0.5)
    initial_equity: float = Field(10_000.0, gt=0)


class ChannelSettings(_Section):
    """One alert channel: an Apprise URL (``tgram://``, ``discord://``, ``json://host/path``, ...),
    ``console`` or ``jsonl:///path/alerts.jsonl``; ``signals``/``sides`` route only those to it."""

    url: str
    name: str | None = None  # shown by ``oiradar status`` (default: the URL's scheme and host)
    signals: tuple[str, ...] = ()  # only these signals (all when empty)
    sides: tuple[str, ...] = ()  # only these sides (all when empty)
    quiet: bool = True  # held back during the quiet hours (sent when they end)


def _check_clock(v: str) -> str:
    if v and not _CLOCK_RANGE.match(v):
        raise ValueError(f"invalid quiet hours {v!r}; write e.g. '22:00-07:00' (UTC)")
    return v


class AlertSettings(_Section):
    """``[alerts]``: where alerts go and when (``[[alerts.channels]]``), retries, quiet hours."""

    channels: tuple[ChannelSettings, ...] = ()
    quiet_hours: str = ""  # "22:00-07:00" (UTC): quiet channels wait until it ends
    min_interval: str = "0m"  # per series and channel: a later alert waits this long (never dropped)
    retries: int = Field(8, ge=0)  # per delivery, before the channel is reported unreachable
    backoff_base: float = Field(1.0, ge=0, le=3600)  # seconds; doubles per failed attempt
    backoff_max: float = Field(300.0, ge=0, le=86_400)
    timeout: float = Field(10.0, gt=0, le=600)  # one send
    jsonl: str | None = None  # also append every alert to this JSONL file
    daily_brief: bool = False  # send the morning brief as an alert at each UTC day close

    _q = field_validator("quiet_hours")(_check_clock)
    _m = field_validator("min_interval")(_check_duration)


class WatchSettings(_Section):
    """``[watch]``: the series ``oiradar watch`` keeps current and the signals it alerts on."""

    series: tuple[str, ...] = ()  # "binanceusdm KSM/USDT:USDT 4h" (exchange symbol timeframe)
    signals: tuple[str, ...] = ()  # alert on these (all when empty)
    poll_s: float = Field(30.0, gt=0, le=86_400)  # how often a venue is asked for new bars
    history: str = "45d"  # backfilled before the first evaluation (>= the 30-day z window)
    sim_speed: float = Field(60.0, gt=0)  # ``-e sim``: simulated seconds per real second
    settle_s: float = Field(2.0, ge=0, le=3600)  # a bar is fetched this long after its close
    liquidations: bool = True  # stream liquidations where the venue has a websocket
    sheet_dir: str | None = None  # the daily sheet's CSV (default: <home>/sheets)

    _h = field_validator("history")(_check_duration)


class PaperSettings(_Section):
    """``[paper]``: paper trading runs the ``[backtest]`` trade model on live bars."""

    signal: str = "entry"  # the signal that opens a paper trade
    side: str = "short"


class ServeSettings(_Section):
    """``[serve]``: where ``oiradar serve`` listens, and the token it asks for. A token in the file
    makes the file a secret one (``chmod 600``); ``OIRADAR_TOKEN`` in the environment wins."""

    host: str = "127.0.0.1"  # beyond loopback, serve refuses to start without a token
    port: int = Field(8050, ge=0, le=65_535)
    token: str | None = None


class SymbolOverrides(_Section):
    features: dict[str, Any] = Field(default_factory=dict)
    signals: dict[str, Any] = Field(default_factory=dict)


class Settings(_Section):
    """The whole configuration. Build it with :func:`load_settings`."""

    home: Path | None = None
    features: FeatureSettings = FeatureSettings()
    signals: SignalSettings = SignalSettings()
    venues: dict[str, VenueSettings] = Field(default_factory=dict)
    fetch: FetchSettings = FetchSettings()
    catalog: CatalogSettings = CatalogSettings()
    performance: PerformanceSettings = PerformanceSettings()
    sim: SimSettings = SimSettings()
    liquidations: LiquidationSettings = LiquidationSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    backtest: BacktestSettings = BacktestSettings()
    watch: WatchSettings = WatchSettings()
    alerts: AlertSettings = AlertSettings()
    paper: PaperSettings = PaperSettings()
    serve: ServeSettings = ServeSettings()
    symbols: dict[str, SymbolOverrides] = Field(default_factory=dict)

    def for_symbol(self, symbol: str) -> Settings:
        """These settings with the per-symbol overrides of ``symbol`` applied."""
        over = self.symbols.get(symbol)
        if over is None:
            return self
        data = self.model_dump()
        for section in ("features", "signals"):
            data[section].update(getattr(over, section))
        return _validate(data, source=f"[symbols.{symbol!r}]")

    def venue(self, exchange: str) -> VenueSettings:
        return self.venues.get(exchange, VenueSettings())


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("oiradar", appauthor=False))


def resolve_home(option: str | Path | None, settings: Settings | None = None) -> Path:
    """``--home`` beats ``OIRADAR_HOME`` beats the config's ``home`` beats the user data dir."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get("OIRADAR_HOME")
    if env:
        return Path(env).expanduser()
    if settings is not None and settings.home is not None:
        return settings.home.expanduser()
    return default_home()


def load_settings(
    path: str | Path | None = None,
    *,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load defaults, then ``path`` (or ``<home>/oiradar.toml`` / ``./oiradar.toml``), then env."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    file = _find_config(path, home)
    if file is not None:
        data = _read_toml(file)
    origins = _merge_env(data, environ)
    source = str(file) if file else ("environment" if origins else "defaults")
    return _validate(data, source=source, origins=origins)


def _find_config(path: str | Path | None, home: Path | None) -> Path | None:
    if path is not None:
        p = Path(path)
        if p.is_dir():
            raise ConfigError(f"config file {p} is a directory; give the path of an oiradar.toml")
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        return p
    for candidate in ([home / CONFIG_FILE] if home else []) + [Path.cwd() / CONFIG_FILE]:
        if candidate.is_file():
            return candidate
    return None


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        text = file.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(_not_utf8(file, exc)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    if _holds_secret(data) and file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{file} holds secrets but others can read it; run: chmod 600 {file}")
    return data


def _not_utf8(file: Path, exc: UnicodeDecodeError) -> str:
    line = exc.object[: exc.start].count(b"\n") + 1
    bad = exc.object[exc.start : exc.start + 1]
    return f"{file} is not UTF-8 text (byte {exc.start}, line {line}: {bad!r}); save it as UTF-8"


def _holds_secret(data: Any) -> bool:
    """Keys named like a secret, and alert channel URLs (a Telegram bot token, a Slack webhook,
    an SMTP password live in the URL) other than ``console`` and ``jsonl://`` files."""
    if isinstance(data, dict):
        return any(
            any(w in str(k).lower() for w in ("token", "secret", "password", "api_key"))
            or (str(k) == "url" and _secret_url(v))
            or _holds_secret(v)
            for k, v in data.items()
        )
    if isinstance(data, list | tuple):
        return any(_holds_secret(v) for v in data)
    return False


def _secret_url(value: Any) -> bool:
    text = str(value).strip().lower()
    return not (text == "console" or text.startswith("jsonl://"))


def _merge_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """``OIRADAR__SIGNALS__OI_Z_ALERT=2.5`` -> ``data['signals']['oi_z_alert'] = '2.5'``.

    Names are case-insensitive except a symbol's:
    ``OIRADAR__SYMBOLS__KSM/USDT:USDT__SIGNALS__DIVERGENCE_DD`` keeps ``KSM/USDT:USDT`` as written
    (or as the file spells it, when the file has that symbol in another case).
    Returns ``{dotted key: variable name}`` so that errors can name the variable.
    """
    origins: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = _env_path(name[len(ENV_PREFIX) :].split("__"), data)
        if not parts:
            continue
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name} overrides a non-section key")
        node[parts[-1]] = _env_value(value)
        origins[".".join(parts)] = name
    return origins


def _env_path(raw: list[str], data: dict[str, Any]) -> list[str]:
    parts = [p for p in raw if p]
    keep = len(parts) > 1 and parts[0].lower() == "symbols"  # parts[1] is a case-sensitive symbol
    path = [p if keep and i == 1 else p.lower() for i, p in enumerate(parts)]
    if keep:
        known = data.get("symbols")
        names = list(known) if isinstance(known, dict) else []
        same = [k for k in names if str(k).lower() == path[1].lower()]
        path[1] = same[0] if len(same) == 1 else path[1]
    return path


def _env_value(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _validate(
    data: dict[str, Any], *, source: str, origins: Mapping[str, str] | None = None
) -> Settings:
    origins = origins or {}
    _check_unknown(data, Settings, path="", origins=origins)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: invalid configuration"]
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            got = f"got {err.get('input')!r}{_from_env(loc, origins)}"
            lines.append(f"  {loc}: {err['msg']} ({got})")
        raise ConfigError("\n".join(lines)) from None


def _from_env(where: str, origins: Mapping[str, str]) -> str:
    """`` from environment variable X`` when ``where`` (or a key below it) was set by X."""
    for key, name in origins.items():
        if key == where or key.startswith(where + ".") or where.startswith(key + "."):
            return f" from environment variable {name}"
    return ""


def _check_unknown(
    data: Any, model: type[BaseModel], path: str, origins: Mapping[str, str]
) -> None:
    if not isinstance(data, dict):
        return
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            where = f"{path}{key}"
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.5)
            hint = f"; did you mean '{path}{close[0]}'?" if close else ""
            valid = ", ".join(sorted(fields))
            raise ConfigError(
                f"unknown configuration key {where!r}{_from_env(where, origins)}{hint} "
                f"(valid here: {valid})"
            )
        sub = _section_model(fields[key].annotation)
        if sub is not None:
            _check_unknown(value, sub, path=f"{path}{key}.", origins=origins)
        elif key in ("venues", "symbols") and isinstance(value, dict):
            inner = VenueSettings if key == "venues" else SymbolOverrides
            for name, section in value.items():
                _check_unknown(section, inner, path=f"{path}{key}.{name}.", origins=origins)


def _section_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
