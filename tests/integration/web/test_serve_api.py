"""``oiradar serve`` over real HTTP: a real server (the entry point in a subprocess, uvicorn on a
free loopback port) and httpx as the client, no mocks.

- the JSON API returns what the use cases return (:mod:`oiradar.app.dashboard`), the events say
  hello with the version of every series;
- read-only: every route answers GET, and POST, PUT, PATCH, DELETE get 405;
- no file outside the fixed list is served: ``..``, its encodings, absolute paths, planted links
  all get 404 and never a file's contents;
- bound to 127.0.0.1 by default (its listening sockets, read from /proc), answering loopback
  host names only; beyond loopback it refuses to start without a token (exit 2, one message);
- with a token, every request but the static files needs it (header, or ``?token=`` on pages and
  the event stream), and the token is never printed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from oiradar.app.dashboard import alert_log, series_versions, watchlist
from oiradar.app.session import Session
from tests.integration.cli_helpers import assert_refused, run_cli
from tests.integration.web.served import DOT, Served, build_home, serving

TOKEN = "s3cret-token-for-the-tests-0123456789"
SERIES_Q = {"exchange": "sim", "symbol": DOT, "timeframe": "1h"}
PAGES = ["/", "/alerts", "/paper", "/sheet", f"/series/sim/1h/{DOT}"]
API = ["/api/watchlist", "/api/versions", "/api/series", "/api/alerts", "/api/paper", "/api/sheet",
       "/api/events"]  # fmt: skip
STATIC = ["/static/plotly.min.js", "/static/app.js", "/static/style.css"]
PASSWD = Path("/etc/passwd")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("serve-home")
    build_home(home)
    return home


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The default server, run in a folder with planted links to /etc/passwd (``static/passwd``,
    ``passwd``): a server that resolved names against its folder would serve them."""
    folder = tmp_path_factory.mktemp("serve-cwd")
    (folder / "static").mkdir()
    (folder / "static" / "passwd").symlink_to(PASSWD)
    (folder / "passwd").symlink_to(PASSWD)
    (home / "static").mkdir(exist_ok=True)
    (home / "static" / "passwd").symlink_to(PASSWD)
    with serving(home, folder) as served:
        yield served


def get(server: Served, path: str, **kw: object) -> httpx.Response:
    return httpx.get(server.url.rstrip("/") + path, timeout=60, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- the API
def test_the_watchlist_is_the_use_cases(server: Served, home: Path) -> None:
    res = get(server, "/api/watchlist")
    assert res.status_code == 200 and res.headers["content-type"] == "application/json"
    rows = res.json()
    assert [r["series"] for r in rows] == [f"sim {DOT} 1h", "sim KSM/USDT:USDT 1h"]
    mine = watchlist(Session.open(str(home)))
    for got, want in zip(rows, mine, strict=True):
        assert {k: v for k, v in got.items() if k != "lag_ms"} == \
            {k: v for k, v in want.items() if k != "lag_ms"}  # fmt: skip
        assert got["oi"] > 0 and got["bar_time"] and got["phase"]


def test_every_api_answers_json(server: Served, home: Path) -> None:
    session = Session.open(str(home))
    assert get(server, "/api/versions").json() == series_versions(session)
    alerts = get(server, "/api/alerts").json()
    assert alerts and alerts == alert_log(session)
    assert all(a["deliveries"] is not None and a["text"] for a in alerts)
    paper = get(server, "/api/paper").json()
    assert len(paper["accounts"]) == 1 and paper["accounts"][0]["journal"]
    sheet = get(server, "/api/sheet").json()
    assert sheet["day"] and len(sheet["rows"]) == 2 and sheet["note"] is None
    fig = get(server, "/api/series", params=SERIES_Q).json()
    assert (
        fig["series"] == f"sim {DOT} 1h"
        and fig["version"] == series_versions(session)[fig["series"]]
    )
    assert fig["order"][0] == "price" and len(fig["order"]) == 8
    assert all({"data", "layout"} <= set(fig["figures"][n]) for n in fig["order"])


def test_the_events_say_hello_with_every_version(server: Served) -> None:
    versions = get(server, "/api/versions").json()
    with httpx.stream("GET", server.url + "api/events", timeout=60) as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in res.iter_lines():
            if not line:
                break
            lines.append(line)
    assert lines[0] == "event: hello"
    hello = json.loads(lines[1].removeprefix("data: "))
    assert {s: v["ts"] for s, v in hello["versions"].items()} == versions


@pytest.mark.parametrize(("path", "params", "status", "says"), [
    ("/api/series", {**SERIES_Q, "exchange": "nosuch"}, 404, "nosuch"),
    ("/api/series", {**SERIES_Q, "timeframe": "7m"}, 400, "7m"),
    ("/api/series", {"exchange": "sim"}, 422, "symbol"),
    ("/api/alerts", {"limit": "0"}, 400, "limit"),
    ("/api/sheet", {"date": "2024-13-01"}, 400, "2024-13-01"),
    ("/series/sim/1h/NOPE", {}, 404, "NOPE"),
    ("/nosuch", {}, 404, ""),
])  # fmt: skip
def test_a_bad_request_is_refused_by_name(
    server: Served, path: str, params: dict[str, str], status: int, says: str
) -> None:
    res = get(server, path, params=params)
    assert res.status_code == status, res.text
    assert says in res.text and "Traceback" not in res.text


# ------------------------------------------------------------------------- read-only
def test_the_table_covers_every_route(home: Path) -> None:
    from oiradar.web.server import create_app

    routes = {getattr(r, "path", "") for r in create_app(home).routes}
    listed = {"/", "/alerts", "/paper", "/sheet", "/series/{exchange}/{timeframe}/{symbol:path}",
              "/static/{name}", *API}  # fmt: skip
    assert routes == listed


@pytest.mark.parametrize("path", PAGES + API + STATIC)
def test_every_route_is_read_only(server: Served, path: str) -> None:
    url = server.url.rstrip("/") + path
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        res = httpx.request(method, url, timeout=30, content=b"x")
        assert res.status_code == 405, f"{method} {path}: {res.status_code}"
        assert "GET" in res.headers["allow"]
    if path != "/api/events":
        params = SERIES_Q if path == "/api/series" else None
        assert get(server, path, params=params).status_code == 200, path


# ------------------------------------------------------------------------- files
def raw_get(server: Served, target: str, host: str = "127.0.0.1") -> tuple[int, bytes]:
    """``GET target`` exactly as written (httpx would normalise ``..`` away)."""
    where = urlsplit(server.url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


HOSTILE = [
    "/static/../../etc/passwd",
    "/static/../../../../../../etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%252e%252e%252fetc%252fpasswd",
    "/static/..%5c..%5c..%5cetc%5cpasswd",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/%2Fetc%2Fpasswd",
    "/static/etc/passwd",
    "/static/passwd",  # a link in the server's folder and in its home
    "/passwd",
    "/etc/passwd",
    "//etc/passwd",
    "/static/page.html",  # a real file beside the listed ones, not listed
    "/static/..%2fserver.py",
    "/static/../server.py",
    "/static/app.js%00.html",
    "/static/.",
    "/static/..",
    "/series/sim/1h/../../../../etc/passwd",
    "/series/sim/1h/..%2f..%2f..%2fetc%2fpasswd",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_no_file_outside_the_list_is_served(server: Served, target: str) -> None:
    status, body = raw_get(server, target)
    assert status == 404, f"{target}: {status} {body[:200]!r}"
    assert b"root:" not in body and b"import " not in body and b"<body" not in body


def test_the_listed_files_are_the_packages(server: Served) -> None:
    from oiradar.web.server import STATIC as FILES

    for name, (path, media) in FILES.items():
        res = get(server, f"/static/{name}")
        assert res.status_code == 200 and res.content == path.read_bytes(), name
        assert res.headers["content-type"] == media


def test_pages_carry_the_security_headers(server: Served) -> None:
    res = get(server, "/")
    assert res.status_code == 200 and "text/html" in res.headers["content-type"]
    assert "script-src 'self'" in res.headers["content-security-policy"]
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["referrer-policy"] == "no-referrer"
    assert "uvicorn" not in res.headers.get("server", "")


# ------------------------------------------------------------------------- who may connect
def _listening_of(pid: int) -> list[str]:
    """``address:port`` of every listening TCP socket the process holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # TCP_LISTEN
                host, port = cols[1].split(":")
                raw = bytes.fromhex(host)
                addr = ipaddress.ip_address(
                    b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                )
                out.append(f"{addr}:{int(port, 16)}")
    return out


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_it_listens_on_loopback_by_default(server: Served) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    listening = _listening_of(server.proc.pid)
    assert listening == [f"127.0.0.1:{urlsplit(server.url).port}"], listening


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "192.168.1.2", "[::2]"])
def test_a_foreign_host_name_is_refused(server: Served, host: str) -> None:
    """DNS rebinding: a page of evil.example pointing its name at 127.0.0.1 gets nothing."""
    status, body = raw_get(server, "/api/watchlist", host=host)
    assert status == 400 and b"oi" not in body.split(b"\n", 1)[-1]
    for name in ("localhost", "127.0.0.1", f"localhost:{urlsplit(server.url).port}", "[::1]"):
        assert raw_get(server, "/api/watchlist", host=name)[0] == 200, name


@pytest.mark.parametrize(("args", "config", "says"), [
    (("--host", "0.0.0.0"), "", ("--host 0.0.0.0", "OIRADAR_TOKEN", "[serve] token", "chmod 600")),
    (("--host", "192.168.77.5"), "", ("--host 192.168.77.5", "OIRADAR_TOKEN")),
    ((), '[serve]\nhost = "0.0.0.0"\n', ("--host 0.0.0.0", "OIRADAR_TOKEN")),
    (("--port", "70000"), "", ("--port", "70000")),
    (("--port", "-1"), "", ("--port", "-1")),
])  # fmt: skip
def test_serve_refuses_to_start_unguarded(
    tmp_path: Path, args: tuple[str, ...], config: str, says: tuple[str, ...]
) -> None:
    if config:
        (tmp_path / "oiradar.toml").write_text(config)
    res = run_cli(["serve", *args], tmp_path, timeout=60)
    assert_refused(res, says)
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_a_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        res = run_cli(["serve", "--port", str(port)], tmp_path, timeout=60)
    assert_refused(res, (f"--port {port}", "in use"))


def test_a_short_token_is_refused(tmp_path: Path) -> None:
    res = run_cli(["serve"], tmp_path, timeout=60, env={"OIRADAR_TOKEN": "short"})
    assert_refused(res, ("shorter than 16",), absent=("short'",))


def test_a_token_in_a_readable_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "oiradar.toml"
    config.write_text(f'[serve]\ntoken = "{TOKEN}"\n')
    config.chmod(0o644)
    assert_refused(run_cli(["serve"], tmp_path, timeout=60), ("chmod 600",), absent=(TOKEN,))


@pytest.fixture(scope="module")
def guarded(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(home, tmp_path_factory.mktemp("serve-token"),
                 env={"OIRADAR_TOKEN": TOKEN}) as served:  # fmt: skip
        yield served


@pytest.mark.parametrize("path", PAGES + API)
def test_with_a_token_nothing_is_read_without_it(guarded: Served, path: str) -> None:
    params = SERIES_Q if path == "/api/series" else {}
    for headers, query in (({}, {}), ({"Authorization": "Bearer wrong-token-wrong-token"}, {}),
                           ({"Authorization": f"Basic {TOKEN}"}, {}),
                           ({}, {"token": TOKEN[:-1]})):  # fmt: skip
        res = get(guarded, path, headers=headers, params={**params, **query})
        assert res.status_code == 401, f"{path} {headers} {query}: {res.status_code}"
        assert TOKEN not in res.text
    res = httpx.post(guarded.url.rstrip("/") + path, timeout=30)
    assert res.status_code == 401


@pytest.mark.parametrize("path", PAGES + API)
def test_with_the_token_everything_is_read(guarded: Served, path: str) -> None:
    params = SERIES_Q if path == "/api/series" else {}
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    url = guarded.url.rstrip("/") + path
    if path == "/api/events":
        with httpx.stream("GET", url, params={"token": TOKEN}, timeout=60) as res:
            assert res.status_code == 200 and next(res.iter_lines()) == "event: hello"
        return
    assert get(guarded, path, headers=bearer, params=params).status_code == 200
    by_query = get(guarded, path, params={**params, "token": TOKEN}).status_code
    assert by_query == (401 if path.startswith("/api/") else 200)  # the API wants the header
    assert httpx.post(url, headers=bearer, timeout=30).status_code == 405


def test_with_a_token_the_static_files_are_open_and_the_token_never_shows(guarded: Served) -> None:
    for path in STATIC:
        assert get(guarded, path).status_code == 200, path
    assert "token is required" in guarded.output
    assert TOKEN not in guarded.output


def test_beyond_loopback_with_a_private_config_token(home: Path, tmp_path: Path) -> None:
    """``[serve] host = "0.0.0.0"`` and a token in a chmod 600 file: it starts, and asks for it."""
    config = tmp_path / "oiradar.toml"
    config.write_text(f'[serve]\nhost = "0.0.0.0"\ntoken = "{TOKEN}"\n')
    config.chmod(0o600)
    with serving(home, tmp_path, config=config) as served:
        port = urlsplit(served.url).port
        assert served.url == f"http://0.0.0.0:{port}/"
        url = f"http://127.0.0.1:{port}/api/watchlist"
        assert httpx.get(url, timeout=60).status_code == 401
        ok = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        assert ok.status_code == 200 and len(ok.json()) == 2
    assert TOKEN not in served.output
