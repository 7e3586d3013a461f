"""``serve``: the read-only web dashboard (docs/dashboard.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from oiradar.cli.context import CommandSet, session

commands = CommandSet()


@commands.add("serve")
def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="The address to listen on (\\[serve] host, default 127.0.0.1). Beyond loopback it needs a token (OIRADAR_TOKEN or \\[serve] token).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="The port (\\[serve] port, default 8050; 0: a free one, printed).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the dashboard in a web browser.")] = False,
) -> None:  # fmt: skip
    """Serve the read-only dashboard: the watchlist, each series' charts (updated as `watch` stores
    bars), the alert log, the paper accounts and the daily sheet, with their JSON API."""
    from contextlib import suppress
    from dataclasses import replace

    from oiradar.render.console import say
    from oiradar.web.security import serve_options
    from oiradar.web.server import bind, create_app, run

    s = session(ctx)
    cfg = s.settings.serve
    opts = serve_options(host or cfg.host, cfg.port if port is None else port, cfg.token)
    sock = bind(opts.host, opts.port)
    opts = replace(opts, port=sock.getsockname()[1])  # --port 0: the port the system chose
    app = create_app(s.home, ctx.find_root().obj.config_option, opts.token, loopback=opts.loopback)
    guard = ("a token is required (Authorization: Bearer, or ?token= in the address)"
             if opts.token else "loopback only, no token")  # fmt: skip
    say(f"oiradar dashboard of {s.home} at {opts.url} (read-only; {guard}); Ctrl-C stops")
    if open_browser:
        _open(opts.url, opts.token)
    with suppress(KeyboardInterrupt):  # uvicorn stops cleanly, then raises the Ctrl-C again
        run(app, sock)
    say("stopped")


def _open(url: str, token: str | None) -> None:
    import webbrowser
    from urllib.parse import quote

    webbrowser.open(url + (f"?token={quote(token)}" if token else ""))
