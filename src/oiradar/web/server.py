"""``oiradar serve``: the read-only dashboard, a FastAPI app over the application layer.

Every page is a small HTML shell (``static/page.html``) whose script (``static/app.js``) draws
from the JSON API, the API scripts use too. Every route is a GET; there is nothing to change.

==========================================  ==============================================
page                                        API (JSON)
==========================================  ==============================================
``/`` the watchlist                          ``/api/watchlist`` (one row per series)
``/series/EXCHANGE/TIMEFRAME/SYMBOL``        ``/api/series?exchange=&symbol=&timeframe=``
  e.g. ``/series/sim/1h/DOT/USDT:USDT``        (the report's Plotly figures, as JSON)
``/alerts`` the alert log                    ``/api/alerts?limit=200``
``/paper`` the paper accounts and journal    ``/api/paper``
``/sheet`` the daily sheet                   ``/api/sheet?date=YYYY-MM-DD``
                                             ``/api/versions`` (last stored bar per series)
                                             ``/api/events`` (server-sent events: new bars)
==========================================  ==============================================

A symbol keeps its ``/`` and ``:`` in a page's path: it is the path's last part. Static files
come from a fixed list (:data:`STATIC`: name -> file); a request never names a path on disk.
Security (loopback, token, hosts): :mod:`oiradar.web.security`.
"""

from __future__ import annotations

import errno
import html
import socket
import threading
from contextlib import asynccontextmanager
from datetime import date
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse

from oiradar.app.dashboard import Dashboard, alert_log, paper_view, sheet_view
from oiradar.app.live import parse_series, series_label
from oiradar.app.session import Session
from oiradar.errors import InputError, OiradarError
from oiradar.model import SeriesKey
from oiradar.web.events import POLL_S, BarWatch, event_stream
from oiradar.web.security import LoopbackHosts, SecurityHeaders, TokenGate

HERE = Path(__file__).resolve().parent / "static"
STATIC: dict[str, tuple[Path, str]] = {
    "plotly.min.js": (Path(str(resources.files("plotly") / "package_data" / "plotly.min.js")),
                      "text/javascript; charset=utf-8"),
    "app.js": (HERE / "app.js", "text/javascript; charset=utf-8"),
    "style.css": (HERE / "style.css", "text/css; charset=utf-8"),
}  # fmt: skip
PAGES = {"watchlist": "Watchlist", "symbol": "Series", "alerts": "Alerts", "paper": "Paper",
         "sheet": "Daily sheet"}  # fmt: skip
NOT_FOUND = "404: no such page or file"
MAX_ALERTS = 5_000


def create_app(
    home: str | Path | None = None,
    config: str | None = None,
    token: str | None = None,
    *,
    loopback: bool = True,
    poll_s: float = POLL_S,
) -> FastAPI:
    """The dashboard of ``home`` (settings from ``config``). With ``token`` every request but the
    static files needs it; ``loopback`` (bound to loopback) answers loopback host names only."""
    base = Session.open(None if home is None else str(home), config)
    settings, root = base.settings, base.home

    def session() -> Session:
        return Session(settings, root)  # a fresh catalog per request: nothing shared by threads

    board = Dashboard()  # the cache the requests and the event poller share
    bars = BarWatch(session, poll_s, board)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        bars.start()  # polls from the start: the first watchlist is ready before a page asks
        yield
        bars.close()

    app = FastAPI(title="oiradar", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)  # fmt: skip
    app.state.bars = bars
    _pages(app)
    _api(app, session, bars, board)
    _static(app)
    app.add_middleware(SecurityHeaders)
    if token is not None:
        app.add_middleware(TokenGate, token=token)
    if loopback:
        app.add_middleware(LoopbackHosts)
    return app


# ------------------------------------------------------------------------- pages
def _shell() -> str:
    return (HERE / "page.html").read_text(encoding="utf-8")


def page_html(page: str, key: SeriesKey | None = None) -> str:
    """The HTML shell of ``page``; the script draws it from the API (``data-*`` say what)."""
    title = series_label(key) if key is not None else PAGES[page]
    attrs = {"page": page}
    if key is not None:
        attrs |= {"exchange": key.exchange, "symbol": key.symbol, "timeframe": key.timeframe.value}
    data = " ".join(f'data-{k}="{html.escape(v, quote=True)}"' for k, v in attrs.items())
    # plotly.js (4.8 MB to parse) only where charts are drawn: the tables paint without waiting
    plotly = '<script src="/static/plotly.min.js" defer></script>\n' if page == "symbol" else ""
    return (_shell().replace("{{title}}", html.escape(title)).replace("{{data}}", data)
            .replace("{{plotly}}", plotly))  # fmt: skip


def _key(exchange: str, symbol: str, timeframe: str) -> SeriesKey:
    return parse_series(f"{exchange} {symbol} {timeframe}", "series")


def _pages(app: FastAPI) -> None:
    def page(name: str) -> Any:
        return lambda: HTMLResponse(page_html(name))

    app.get("/", response_class=HTMLResponse)(page("watchlist"))
    app.get("/alerts", response_class=HTMLResponse)(page("alerts"))
    app.get("/paper", response_class=HTMLResponse)(page("paper"))
    app.get("/sheet", response_class=HTMLResponse)(page("sheet"))

    @app.get("/series/{exchange}/{timeframe}/{symbol:path}", response_class=HTMLResponse)
    def series_page(exchange: str, timeframe: str, symbol: str) -> HTMLResponse:
        try:
            key = _key(exchange, symbol, timeframe)
        except InputError as exc:
            return HTMLResponse(f"404: {html.escape(str(exc))}\n", status_code=404)
        return HTMLResponse(page_html("symbol", key))


# ------------------------------------------------------------------------- the JSON API
def _error(exc: OiradarError, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=status)


def _api(app: FastAPI, session: Any, bars: BarWatch, board: Dashboard) -> None:
    payloads = Payloads()

    @app.get("/api/watchlist")
    def api_watchlist() -> Any:
        return board.watchlist(session())

    @app.get("/api/versions")
    def api_versions() -> Any:
        return board.versions(session())

    @app.get("/api/series")
    def api_series(exchange: str, symbol: str, timeframe: str) -> Any:
        try:
            key = _key(exchange, symbol, timeframe)
        except InputError as exc:
            return _error(exc)
        try:
            return payloads.get(session(), key, board)
        except OiradarError as exc:
            return _error(exc, 404)

    @app.get("/api/alerts")
    def api_alerts(limit: int = 200) -> Any:
        if not 1 <= limit <= MAX_ALERTS:
            return _error(InputError(f"limit must be 1..{MAX_ALERTS}, got {limit}"))
        return alert_log(session(), limit)

    @app.get("/api/paper")
    def api_paper() -> Any:
        return paper_view(session())

    @app.get("/api/sheet")
    def api_sheet(day: Annotated[str | None, Query(alias="date")] = None) -> Any:
        try:
            when = None if day is None else _date(day)
        except InputError as exc:
            return _error(exc)
        return sheet_view(session(), when)

    @app.get("/api/events")
    async def api_events(request: Request) -> StreamingResponse:
        return StreamingResponse(event_stream(bars, request.is_disconnected),
                                 media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})  # fmt: skip


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"day must be a UTC day YYYY-MM-DD, e.g. 2024-05-03; got {text!r}"
        ) from None


PAYLOADS_KEPT = 16  # series pages' figures kept, each for the version it was drawn at


class Payloads:
    """The series pages' figures of one server, kept per (series, version): a page opened again
    draws without computing the study and the backtest again; a new bar is a new version."""

    def __init__(self) -> None:
        self._kept: dict[tuple[SeriesKey, int | None], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, key: SeriesKey, board: Dashboard) -> dict[str, Any]:
        version = board.versions(session, [key]).get(series_label(key))
        with self._lock:
            kept = self._kept.get((key, version))
        if kept is not None:
            return kept
        payload = _series_payload(session, key, version)
        with self._lock:
            self._kept[(key, version)] = payload
            while len(self._kept) > PAYLOADS_KEPT:
                self._kept.pop(next(iter(self._kept)))
        return payload


def _series_payload(session: Session, key: SeriesKey, version: int | None) -> dict[str, Any]:
    """The report's figures of ``key`` as Plotly JSON, with the version (last stored bar) they
    were drawn at; the parts that could not be drawn say why in ``missing``."""
    from oiradar.app.report import ReportOptions, report_data
    from oiradar.render.figures import FIGURES, figures_json

    data = report_data(session, ReportOptions(key.exchange, key.symbol, key.timeframe))
    figures = figures_json(data)
    order = [n for n in FIGURES if n in figures] + [n for n in figures if n not in FIGURES]
    return {"series": series_label(key), "exchange": key.exchange, "symbol": key.symbol,
            "timeframe": key.timeframe.value, "version": version, "order": order,
            "figures": figures, "notes": list(data.notes), "missing": data.missing}  # fmt: skip


# ------------------------------------------------------------------------- running it
def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a port in use or refused is one clear InputError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(
            f"--host {host}: not an address of this machine ({exc.strerror})"
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(
        socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
    )  # as uvicorn: TIME_WAIT is no obstacle
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise InputError(_bind_error(host, port, exc)) from None
    return sock


def _bind_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"--port {port}: {host}:{port} is in use (another serve?); pick another with --port"
    if exc.errno == errno.EACCES:
        return f"--port {port}: not allowed to listen on {host}:{port}; pick a port above 1023"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def run(app: FastAPI, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C or SIGTERM (uvicorn, warnings only, no access log: an
    address may carry the token). uvicorn raises the signal again once it has stopped."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            app.state.bars.stop()  # the event streams end, so the shutdown need not cut them
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2, server_header=False)  # fmt: skip
    Server(config).run(sockets=[sock])


# ------------------------------------------------------------------------- static files
def _static(app: FastAPI) -> None:
    @app.get("/static/{name}")
    def static(name: str) -> Any:
        found = STATIC.get(name)  # the fixed list only: a name never becomes a path
        if found is None or not found[0].is_file():
            return HTMLResponse(NOT_FOUND, status_code=404)
        path, media = found
        return FileResponse(path, media_type=media, headers={"cache-control": "no-cache"})


__all__ = ["PAGES", "STATIC", "bind", "create_app", "page_html", "run"]
