"""One copydesk writes a ledger at a time: an exclusive lock on a file beside it, held for the process's life."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bot.errors import LedgerInUse


class LedgerLock:
    """Held by the one process that may write the ledger; the OS lets go of it when that process ends, however it ends."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        self.path = path

    @classmethod
    def take(cls, db: Path) -> LedgerLock:
        """Take the lock of the ledger at `db`, or raise LedgerInUse naming the process that holds it."""
        path = db.with_name(db.name + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            who = f"process {holder}" if holder.isdigit() else holder
            raise LedgerInUse(f"{db} is in use by {who}; run one copydesk per ledger (stop that one first)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Let go (a clean stop); a killed process lets go without this."""
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
