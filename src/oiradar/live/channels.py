"""Alert channels: where ``oiradar watch`` sends an alert.

A channel is a URL, from ``[[alerts.channels]]`` in the config, a ``--notify URL`` flag or
``[alerts] jsonl``:

- ``console``: the alert as one line on the terminal (:class:`ConsoleChannel`).
- ``jsonl:///abs/path/alerts.jsonl``: one JSON object per line, fsynced (:class:`JsonlChannel`).
- anything else is an Apprise URL (:class:`AppriseChannel`): ``tgram://BOT_TOKEN/CHAT_ID``,
  ``discord://ID/TOKEN``, ``slack://...``, ``mailto://...``, a webhook ``json://host:port/path``...
  A chat service gets :func:`~oiradar.app.live.alert_title` and the line of
  :func:`~oiradar.app.live.alert_text`. A ``json://`` (``jsons://``) receiver gets the alert's
  fields as JSON text in the ``message`` of Apprise's JSON body, so ``json.loads(body["message"])``
  is the alert. A request body as a receiver sees it::

      {"version": "1.0", "title": "oiradar: entry short KSM/USDT:USDT 4h",
       "message": "{\\"event_id\\": \\"binanceusdm|KSM/USDT:USDT|4h|entry|short|2024-03-01T08:00Z\\",
                    \\"exchange\\": \\"binanceusdm\\", \\"symbol\\": \\"KSM/USDT:USDT\\", ...}",
       "attachments": [], "type": "info"}

A channel's ``name`` keys its deliveries in the ledger and is shown by ``oiradar status``, so it
never holds a secret: the URL's scheme and, for services whose host is a server (``json://``,
``mailto://``, ``ntfy://``, ``https://``...), the host and port: ``json://127.0.0.1:8080``,
``mailto://smtp.example.com``; otherwise the scheme alone, ``tgram://…`` (the "host" of a
Telegram URL is the bot token). Two channels with one name are told apart by ``#2``, ``#3`` in
their order in the config; give a channel a ``name`` to keep it stable when the order changes.

:class:`ChannelError` (an :class:`~oiradar.errors.OiradarError`) is a failed send. Its message is
short and secret-free: it is stored in the ledger and shown by ``oiradar status``. The dispatcher
(:mod:`oiradar.live.dispatch`) retries it with backoff.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from oiradar.app.live import alert_text, alert_title
from oiradar.config import AlertSettings, ChannelSettings
from oiradar.errors import ConfigError, OiradarError

if TYPE_CHECKING:
    from apprise.plugins.base import NotifyBase

Payload = Mapping[str, Any]
Echo = Callable[[str], None]

# Services whose URL host is a server's name or address (safe to show); for every other scheme
# the host may be a token (tgram://BOT_TOKEN, discord://WEBHOOK_ID, pbul://ACCESS_TOKEN).
_HOST_SCHEMES = frozenset({
    "json", "jsons", "xml", "xmls", "form", "forms", "http", "https", "ntfy", "ntfys", "gotify",
    "gotifys", "mailto", "mailtos", "matrix", "matrixs", "mmost", "mmosts", "rocket", "rockets",
    "apprise", "apprises", "mqtt", "mqtts", "kodi", "kodis", "xbmc", "xbmcs",
})  # fmt: skip
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]{0,31}$")
_HOST_RE = re.compile(
    r"^(localhost|\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\]|[a-z0-9-]+(\.[a-z0-9-]+)+)(:\d{1,5})?$",
    re.IGNORECASE,
)
_SECRET_SPLIT = re.compile(r"[/:@?&=#]+")
_JSON_SCHEMES = frozenset({"json", "jsons"})
_JSONL = "jsonl://"


class ChannelError(OiradarError):
    """A channel could not deliver an alert; the message is the short, secret-free reason."""


def channel_name(url: str) -> str:
    """The secret-free name of a channel URL: ``console``, ``jsonl:///path``, ``scheme://host``
    for services whose host is a server, else ``scheme://…``."""
    if url == "console":
        return url
    if url.startswith(_JSONL):
        return url
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or not _SCHEME_RE.match(scheme):
        return "…"
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = netloc.rpartition("@")[2]
    if scheme in _HOST_SCHEMES and _HOST_RE.match(host):
        return f"{scheme}://{host.lower()}"
    return f"{scheme}://…" if rest else f"{scheme}://"


def _scrub(text: str, url: str, name: str) -> str:
    """``text`` with every part of ``url`` that its name hides (tokens, passwords, paths) cut."""
    parts = {p for p in _SECRET_SPLIT.split(url.partition("://")[2]) if len(p) >= 4}
    for part in sorted(parts - {p for p in parts if p in name}, key=len, reverse=True):
        text = text.replace(part, "…")
    return text


class Channel:
    """Where alerts go: a name (secret-free), a quiet-hours flag, routing filters and ``send``.

    ``send`` delivers one alert payload (:func:`~oiradar.app.live.alert_payload`) or raises
    :class:`ChannelError`; it returns only once the channel acknowledged the alert.
    """

    def __init__(self, name: str, *, quiet: bool = True, signals: Sequence[str] = (),
                 sides: Sequence[str] = ()) -> None:  # fmt: skip
        self.name = name
        self.quiet = quiet  # held back during [alerts] quiet_hours
        self.signals = frozenset(signals)  # only these signals (all when empty)
        self.sides = frozenset(sides)  # only these sides (all when empty)

    def accepts(self, payload: Payload) -> bool:
        return (not self.signals or payload.get("signal") in self.signals) and (
            not self.sides or payload.get("side") in self.sides
        )

    def send(self, payload: Payload) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ConsoleChannel(Channel):
    """``console``: the alert's line, through ``echo`` (the front end's printer)."""

    def __init__(self, echo: Echo, *, name: str = "console", **filters: Any) -> None:
        super().__init__(name, **filters)
        self._echo = echo

    def send(self, payload: Payload) -> None:
        try:
            self._echo(alert_text(dict(payload)))
        except OSError as exc:  # a closed pipe
            raise ChannelError(f"cannot write to the console ({exc})") from exc


class JsonlChannel(Channel):
    """``jsonl:///abs/path.jsonl``: appends one JSON object per line, flushed and fsynced.

    Each line is one ``write`` on a file opened in append mode, so two writers (the
    ``[alerts] jsonl`` file also listed as a channel) never interleave inside a line.
    """

    def __init__(self, path: Path | str, *, name: str | None = None, **filters: Any) -> None:
        self.path = Path(path)
        super().__init__(name or f"{_JSONL}{self.path}", **filters)

    def send(self, payload: Payload) -> None:
        line = (json.dumps(payload, ensure_ascii=False) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if os.write(fd, line) != len(line):
                    raise OSError("short write (disk full?)")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise ChannelError(f"cannot append to {self.path} ({exc.strerror or exc})") from exc


class _ThreadLog(logging.Handler):
    """Apprise's warnings and errors logged by this thread. ``apprise.LogCapture`` hooks the
    shared ``apprise`` logger, so with a worker per channel it would mix the channels' reasons."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append(record.getMessage())


@contextmanager
def _apprise_log() -> Iterator[list[str]]:
    # While attached, the handler also keeps Apprise's records off stderr (logging's last resort).
    handler = _ThreadLog()
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


class AppriseChannel(Channel):
    """Any Apprise URL; ``timeout`` (seconds) bounds the connection and each read of one send,
    unless the URL sets Apprise's own ``cto``/``rto``."""

    def __init__(self, url: str, timeout: float, *, name: str | None = None,
                 where: str = "[alerts] channels", **filters: Any) -> None:  # fmt: skip
        super().__init__(name or channel_name(url), **filters)
        self._url = url
        self._plugin = _instantiate(url, where)
        query = parse_qs(urlsplit(url).query)
        if "cto" not in query:
            self._plugin.socket_connect_timeout = timeout
        if "rto" not in query:
            self._plugin.socket_read_timeout = timeout
        self._json = url.partition("://")[0].lower() in _JSON_SCHEMES

    def send(self, payload: Payload) -> None:
        body = json.dumps(payload, ensure_ascii=False) if self._json else alert_text(dict(payload))
        with _apprise_log() as log:
            try:
                ok = self._plugin.notify(body=body, title=alert_title(dict(payload)),
                                         body_format="text")  # fmt: skip
            except Exception as exc:  # a plugin may raise anything (a disabled service, a bug)
                raise ChannelError(self._reason(f"{type(exc).__name__}: {exc}")) from exc
        if not ok:
            raise ChannelError(self._reason(" ".join(log) or "Apprise reported a failure"))

    def _reason(self, text: str) -> str:
        return _scrub(text, self._url, self.name)[:300]


@functools.cache
def _apprise() -> ModuleType:
    """Apprise with its plugins loaded; imported lazily (console and jsonl channels, and every
    other command, do without it)."""
    with warnings.catch_warnings():
        # Its e-mail plugin imports imghdr, deprecated on Python 3.11 and 3.12.
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        import apprise
        from apprise.plugins import N_MGR

        N_MGR.load_modules()
    return apprise


def _instantiate(url: str, where: str) -> NotifyBase:
    apprise = _apprise()
    with _apprise_log():
        plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise ConfigError(f"{where}: cannot use {channel_name(url)!r}: {_why_unparsed(url)}")
    return plugin


def _why_unparsed(url: str) -> str:
    N_MGR = _apprise().plugins.N_MGR
    scheme = url.partition("://")[0].lower()
    if "://" not in url:
        return ("not a channel URL; write 'console', 'jsonl:///abs/path.jsonl' or an Apprise URL "
                "such as 'tgram://BOT_TOKEN/CHAT_ID' or 'json://host:port/path'")  # fmt: skip
    if scheme in N_MGR:
        return (f"Apprise cannot parse it as a {scheme}:// URL (a missing or malformed token?); "
                "see https://github.com/caronc/apprise/wiki for its form")  # fmt: skip
    close = difflib.get_close_matches(scheme, [*N_MGR.schemas(), "jsonl"], n=1)
    hint = f"; did you mean {close[0]}://?" if close else ""
    return f"Apprise has no service {scheme}://{hint}"


def _jsonl_path(url: str, where: str) -> Path:
    path = url[len(_JSONL) :]
    if not path.startswith("/"):
        raise ConfigError(f"{where}: {url!r}: write jsonl:///absolute/path/alerts.jsonl "
                          "(three slashes, an absolute path)")  # fmt: skip
    return Path(path)


def make_channel(spec: ChannelSettings, timeout: float, echo: Echo, *,
                 where: str = "[alerts] channels", name: str | None = None) -> Channel:  # fmt: skip
    """The channel ``spec`` describes, named ``name`` (default: ``spec.name`` or the URL's)."""
    filters: dict[str, Any] = {"quiet": spec.quiet, "signals": spec.signals, "sides": spec.sides}
    name = name or spec.name
    if spec.url == "console":
        return ConsoleChannel(echo, name=name or "console", **filters)
    if spec.url.startswith(_JSONL):
        return JsonlChannel(_jsonl_path(spec.url, where), name=name, **filters)
    return AppriseChannel(spec.url, timeout, name=name, where=where, **filters)


def _print(line: str) -> None:
    print(line, flush=True)


def build_channels(settings: AlertSettings, extra_urls: Sequence[str] = (),
                   echo: Echo = _print) -> list[Channel]:  # fmt: skip
    """The ``[[alerts.channels]]``, then one channel per ``--notify URL`` (quiet as a configured
    channel is by default, except ``console``), then the ``[alerts] jsonl`` file (never quiet: it is a record).

    A spec repeated exactly is built once; names are made unique with ``#2``, ``#3``...
    Raises :class:`~oiradar.errors.ConfigError` for a URL no channel can use.
    """
    specs = [(s, "[alerts] channels") for s in settings.channels]
    # the terminal is watched by whoever runs the command: never held by the quiet hours
    specs += [(ChannelSettings(url=u, quiet=u != "console"), "--notify") for u in extra_urls]
    if settings.jsonl:
        path = Path(settings.jsonl).expanduser().absolute()
        specs.append((ChannelSettings(url=f"{_JSONL}{path}", quiet=False), "[alerts] jsonl"))
    seen: set[ChannelSettings] = set()
    taken: set[str] = set()
    channels = []
    for spec, where in specs:
        if spec in seen:  # the same channel twice (in the config and a flag) would send twice
            continue
        seen.add(spec)
        name = _unique(spec.name or channel_name(spec.url), taken)
        channels.append(make_channel(spec, settings.timeout, echo, where=where, name=name))
    return channels


def _unique(name: str, taken: set[str]) -> str:
    k, out = 2, name
    while out in taken:
        out, k = f"{name}#{k}", k + 1
    taken.add(out)
    return out


def route(channels: Sequence[Channel], payload: Payload) -> tuple[str, ...]:
    """The names of the channels that take this alert (their ``signals``/``sides`` filters)."""
    return tuple(ch.name for ch in channels if ch.accepts(payload))


__all__ = [
    "AppriseChannel",
    "Channel",
    "ChannelError",
    "ConsoleChannel",
    "JsonlChannel",
    "build_channels",
    "channel_name",
    "make_channel",
    "route",
]
