"""A JSON webhook receiver on 127.0.0.1: what an Apprise ``json://`` channel posts, kept in order."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """``url`` is the Apprise URL to give ``--notify``; ``alerts`` the decoded alert fields."""

    def __init__(self, status: int = 200) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.status = status
        self.hits = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner._lock:
                    owner.hits += 1
                    ok = owner.status < 300
                    if ok:
                        owner.alerts.append(json.loads(json.loads(body)["message"]))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"json://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def event_ids(self) -> list[str]:
        with self._lock:
            return [a["event_id"] for a in self.alerts]
