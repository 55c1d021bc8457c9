"""One way to open the ledger file without ever writing it: for backups and verification, /metrics and Datasette."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from bot.errors import LedgerError

WAL_FORMAT = 2  # the header's read/write version bytes (offsets 18, 19) of a database in WAL mode


def connect(path: Path | str, *, timeout: float = 10, autocommit: bool = False) -> sqlite3.Connection:
    """A connection that cannot change the ledger: opened `mode=ro` (no write) and `query_only` (no statement that
    writes runs, whatever asks), usable from any thread; `autocommit`: transactions only where BEGIN says.

    A ledger in WAL mode that no copydesk has open has no -wal and -shm beside it, and SQLite makes them to read it
    (they stay, owned by whoever read): refused, saying why, when that reader is not the ledger's owner (the files would
    stay where the owner's copydesk could not write them) or cannot write its folder (SQLite could not read it).
    """
    path = Path(path)
    _refuse_leaving_files(path)
    uri = f"{path.absolute().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=timeout)
    if autocommit:
        conn.isolation_level = None
    conn.execute("PRAGMA query_only = 1")
    return conn


def _refuse_leaving_files(path: Path) -> None:
    """Reading must not leave -wal and -shm files its owner's copydesk could not write (then it could not start)."""
    if not _in_wal_mode(path) or all(Path(f"{path}-{end}").exists() for end in ("wal", "shm")):
        return  # nothing to make: a rollback-journal file (a backup), or a copydesk has it open
    if os.geteuid() == 0:
        return  # SQLite hands what root makes to the ledger's owner
    if path.stat().st_uid != os.geteuid():
        raise LedgerError(
            f"{path}: no copydesk has this ledger open, and reading it now would leave its -wal and -shm files owned by "
            "you (where its own copydesk could not write them), or fail; run this as the ledger's owner or while "
            "copydesk runs, or ask its owner for a copy (copydesk ledger backup)"
        )
    if not os.access(path.parent, os.W_OK, effective_ids=True):
        raise LedgerError(
            f"{path}: no copydesk has this ledger open, and SQLite cannot read it without making its -wal and -shm files "
            f"in {path.parent}, where you cannot write; read it while copydesk runs, or read a copy (copydesk ledger backup)"
        )


def _in_wal_mode(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            header = file.read(20)
    except OSError:
        return False  # SQLite names what is wrong with it
    return len(header) == 20 and header[18] == header[19] == WAL_FORMAT
