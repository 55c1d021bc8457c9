"""One way to open the ledger file without ever writing it: for backups and verification, /metrics and Datasette."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path | str, *, timeout: float = 10, autocommit: bool = False) -> sqlite3.Connection:
    """A connection that cannot change the file: opened `mode=ro` (no write, no new file) and `query_only` (no statement
    that writes runs, whatever asks), usable from any thread; `autocommit`: transactions only where BEGIN says."""
    uri = f"{Path(path).absolute().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=timeout)
    if autocommit:
        conn.isolation_level = None
    conn.execute("PRAGMA query_only = 1")
    return conn
