"""copydesk ledger browse: the ledger in Datasette, read-only, beside a running bot.

Every connection Datasette opens to the ledger, the one it would write through too, is `mode=ro` and `query_only` (never
`immutable`, so the bot's WAL is honoured and new rows show); Datasette runs with its own plugins only (one installed
beside it could write from a hook), with no write canned query and no setting that writes; and the ledger is never
migrated: a file that is not a ledger of this copydesk's schema is refused before anything is served (storage/browse.py
says what is in it).
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn
from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import DEFAULT_PLUGINS, pm

from bot.errors import ConfigError, LedgerError
from bot.runtime.server import stop_on_signals
from storage import browse, readonly

log = logging.getLogger("copydesk")

Asgi = Callable[[dict[str, Any], Callable[..., Any], Callable[..., Any]], Awaitable[None]]


def serve(path: Path, *, host: str, port: int) -> int:
    """Serve the ledger at `path` read-only until Ctrl-C or SIGTERM; the URL it serves on goes to the log."""
    if any(c in str(path.absolute()) for c in "?#%"):  # Datasette puts the path in an SQLite URI unescaped
        raise LedgerError(f"{path}: a path with ?, # or % cannot be served; make a link to the ledger under a plain name")
    browse.check(path)
    app = datasette(path)
    logging.getLogger("uvicorn").setLevel(logging.WARNING)  # the URL below says all that its start-up would
    listener = _listen(host, port)
    server = uvicorn.Server(uvicorn.Config(read_only(app.app()), log_config=None, access_log=False, lifespan="on"))
    stop_on_signals()
    try:
        host_, port_ = listener.getsockname()[:2]
        shown = f"[{host_}]" if ":" in host_ else host_
        log.info("copydesk listening on http://%s:%s/%s (the ledger %s, read-only)", shown, port_, browse.DATABASE, path)
        server.run(sockets=[listener])  # it stops on SIGINT or SIGTERM, then raises that signal again
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
    log.info("copydesk stopped")
    return 0


def datasette(path: Path) -> Datasette:
    """Datasette over the ledger alone, named `copydesk` whatever its file is called, with its metadata and queries."""
    _own_plugins_only()
    app = Datasette(metadata=browse.metadata(), settings={"allow_download": False})
    app.remove_database("_memory")  # Datasette adds an empty in-memory database when it is given no files
    app.add_database(ReadOnly(app, path=str(path.absolute()), is_mutable=True), name=browse.DATABASE)
    return app  # Datasette's own start-up runs on its first request, in the server's event loop


class ReadOnly(Database):
    """The ledger as Datasette opens it: read-only on every connection, the one Datasette would write through too."""

    def connect(self, write: bool = False) -> sqlite3.Connection:
        """`mode=ro` and `query_only`, whatever `write` asks: no hook, query or write task can change the ledger."""
        conn = readonly.connect(self.path)
        self._all_file_connections.append(conn)  # closed with the database, as Datasette's own are
        return conn


def _own_plugins_only() -> None:
    """Unregister every Datasette plugin but Datasette's own: one installed beside it loads itself, and could write."""
    others = sorted(name for name, _ in pm.list_name_plugin() if name not in DEFAULT_PLUGINS)
    for name in others:
        pm.unregister(name=name)
    if others:
        log.warning("copydesk ledger browse leaves out the Datasette plugins installed beside it: %s", ", ".join(others))


def read_only(app: Asgi) -> Asgi:
    """Only GET and HEAD reach Datasette (405 for the rest): no form, API or plugin of it can be asked to change anything."""

    async def guarded(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            body = b"copydesk ledger browse is read-only\n"
            headers = [(b"allow", b"GET, HEAD"), (b"content-type", b"text/plain; charset=utf-8")]
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return guarded


def _listen(host: str, port: int) -> socket.socket:
    """Bound and listening before the URL is shown, so that it answers as soon as anyone reads it (port 0: a free one)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
