"""The ledger's file as anyone with it can use it: an ordinary second SQLite connection, as the sqlite3 shell opens one.

Tests tamper with a ledger (or look inside it) this way, never through the Ledger's own connection: what they change is
then exactly what an operator or an attacker with the file could change, and the running copydesk sees it as it would
see theirs (the ledger is in WAL mode, so a commit here is visible to its next read).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any


def tamper(path: Path | str, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> None:
    """Run one statement on the file and commit it, as someone editing the ledger by hand would."""
    with closing(sqlite3.connect(path, timeout=10)) as conn, conn:
        conn.execute(sql, params)


def peek(path: Path | str, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
    """Read the file without changing it (read-only), while copydesk runs on it."""
    with closing(sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True, timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()
