"""What /metrics reads from the ledger, through a read-only connection of its own: a scrape never takes the bot's lock
or connection, and with the ledger in WAL mode the bot's writes never wait for it (nor it for them)."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from storage.rows import moment

DRAFTS = "SELECT account, state, COUNT(*) FROM drafts GROUP BY account, state"
TOP_EVENT = "SELECT COALESCE(MAX(id), 0) FROM events"
# votes cast between two events.ids: the rows since the last scrape, read by the primary key, never the whole log
VOTES = (
    "SELECT d.account, json_extract(e.detail, '$.vote'), COUNT(*) FROM events AS e "
    "JOIN drafts AS d ON d.id = e.draft_id WHERE e.id > ? AND e.id <= ? AND e.action = 'vote_added' GROUP BY 1, 2"
)
# the publications from the oldest one not yet settled on: the one still publishing, and those finished since; due is
# read for a published first part only (the latest of its time, its cooling-off's end and its last approval before)
PUBLICATIONS = (
    "SELECT p.id, p.account, p.network, p.outcome, p.finished_at, CASE WHEN p.outcome = 'published' AND p.part = 1 "
    "AND p.finished_at IS NOT NULL THEN MAX(COALESCE(d.publish_at, ''), COALESCE(d.cooling_until, ''), COALESCE(("
    "  SELECT MAX(e.at) FROM events AS e"
    "  WHERE e.draft_id = p.draft_id AND e.action = 'approved' AND e.at <= p.started_at"
    "), '')) END FROM publications AS p LEFT JOIN drafts AS d ON d.id = p.draft_id WHERE p.id >= ? ORDER BY p.id"
)
OUTBOX = "SELECT COUNT(*) FROM outbox INDEXED BY outbox_pending WHERE state = 'pending'"


@dataclass
class Fresh:
    """One scrape's reading: the drafts and the outbox as they are now; votes, finished publications and the lateness of
    posts (seconds from due to out, one per post and network) that are new since the previous reading."""

    drafts: dict[tuple[str, str], int]
    outbox: int
    votes: dict[tuple[str, str], int] = field(default_factory=dict)
    publications: dict[tuple[str, str, str], int] = field(default_factory=dict)
    lateness: list[float] = field(default_factory=list)


class ScrapeReader:
    """The ledger as /metrics reads it: counters from high-water marks, so a scrape reads what is new, not the history.

    Events are append-only; a publication, once finished (published, failed, dry_run), keeps its outcome (a retraction
    is a column of its own). So: events up to `_events_read` are counted, every publication below `_settled_below` is
    finished and counted, and `_counted_above` holds the finished ones at or above it (past one still publishing).
    """

    def __init__(self, conn: sqlite3.Connection, lock: AbstractContextManager[object] | None = None) -> None:
        self._conn = conn
        self._own = lock is None  # its own connection (a file), or the ledger's (an in-memory ledger, under its lock)
        self._lock: AbstractContextManager[object] = lock if lock is not None else threading.Lock()
        self._events_read = 0
        self._settled_below = 0
        self._counted_above: set[int] = set()

    @classmethod
    def open(cls, path: Path | str) -> ScrapeReader:
        """A read-only connection to the ledger file at `path` (mode=ro, query_only), for one running copydesk's scrapes."""
        uri = f"{Path(path).absolute().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10, isolation_level=None)
        conn.execute("PRAGMA query_only = 1")
        return cls(conn)

    def read(self) -> Fresh:
        """The drafts and the outbox now, and what was counted since the previous read, all as of one moment."""
        with self._lock:
            with self._snapshot():
                fresh = Fresh(
                    drafts={(a, s): n for a, s, n in self._conn.execute(DRAFTS)},
                    outbox=self._conn.execute(OUTBOX).fetchone()[0],
                )
                self._read_votes(fresh)
                self._read_publications(fresh)
            return fresh

    def close(self) -> None:
        """Close its own connection (an in-memory ledger's is the ledger's to close)."""
        if self._own:
            with self._lock:
                self._conn.close()

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read transaction on its own connection: every count of a scrape as of the same commit."""
        if not self._own:
            yield  # the ledger's connection, under the ledger's lock: nothing commits meanwhile
            return
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            self._conn.execute("COMMIT")

    def _read_votes(self, fresh: Fresh) -> None:
        [top] = self._conn.execute(TOP_EVENT).fetchone()
        fresh.votes = {(a, v): n for a, v, n in self._conn.execute(VOTES, [self._events_read, top])}
        self._events_read = top

    def _read_publications(self, fresh: Fresh) -> None:
        counted: Counter[tuple[str, str, str]] = Counter()
        open_ids: list[int] = []
        last = self._settled_below - 1
        for row_id, account, network, outcome, finished, due in self._conn.execute(PUBLICATIONS, [self._settled_below]):
            last = row_id
            if outcome == "publishing":
                open_ids.append(row_id)
            elif row_id not in self._counted_above:
                self._counted_above.add(row_id)
                counted[(account, network, outcome)] += 1
                if due:
                    fresh.lateness.append((moment(finished) - moment(due)).total_seconds())
        self._settled_below = min(open_ids, default=last + 1)
        self._counted_above = {i for i in self._counted_above if i >= self._settled_below}
        fresh.publications = dict(counted)
