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

from storage import readonly

DRAFTS = "SELECT account, state, COUNT(*) FROM drafts GROUP BY account, state"
TOP_EVENT = "SELECT COALESCE(MAX(id), 0) FROM events"
# votes cast between two events.ids: the rows since the last scrape, read by the primary key, never the whole log
VOTES = (
    "SELECT d.account, json_extract(e.detail, '$.vote'), COUNT(*) FROM events AS e "
    "JOIN drafts AS d ON d.id = e.draft_id WHERE e.id > ? AND e.id <= ? AND e.action = 'vote_added' GROUP BY 1, 2"
)
# the publications from the oldest one not yet settled on: the one still publishing, and those finished since; due is
# read for a published first part only (the latest of its time, its cooling-off's end and its last approval before), and
# its lateness worked out by SQLite (seconds, from Julian days): a first scrape over a long history parses no dates
DUE = (
    "MAX(COALESCE(d.publish_at, ''), COALESCE(d.cooling_until, ''), COALESCE(("
    "  SELECT MAX(e.at) FROM events AS e"
    "  WHERE e.draft_id = p.draft_id AND e.action = 'approved' AND e.at <= p.started_at"
    "), ''))"
)
PUBLICATIONS = (
    "SELECT p.id, p.account, p.network, p.outcome, CASE WHEN p.outcome = 'published' AND p.part = 1 "
    "AND p.finished_at IS NOT NULL AND NOT EXISTS ("  # a post a person marked published: when they looked, not lateness
    "  SELECT 1 FROM events AS m WHERE m.draft_id = p.draft_id AND m.action = 'marked_published'"
    "  AND json_extract(m.detail, '$.publication_id') = p.id"
    f") THEN (julianday(p.finished_at) - julianday({DUE})) * 86400.0 END "
    "FROM publications AS p LEFT JOIN drafts AS d ON d.id = p.draft_id WHERE p.id >= ? ORDER BY p.id"
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
        return cls(readonly.connect(path, autocommit=True))

    def read(self) -> Fresh:
        """The drafts and the outbox now, and what was counted since the previous read, all as of one moment."""
        with self._lock:
            with self._snapshot():
                fresh = Fresh(
                    drafts={(a, s): n for a, s, n in self._conn.execute(DRAFTS)},
                    outbox=self._conn.execute(OUTBOX).fetchone()[0],
                )
                events_read = self._read_votes(fresh)
                settled, counted = self._read_publications(fresh)
            self._events_read, self._settled_below, self._counted_above = events_read, settled, counted
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

    def _read_votes(self, fresh: Fresh) -> int:
        """The votes cast since the last read; the new mark, kept only once the whole read has succeeded."""
        [top] = self._conn.execute(TOP_EVENT).fetchone()
        fresh.votes = {(a, v): n for a, v, n in self._conn.execute(VOTES, [self._events_read, top])}
        return int(top)

    def _read_publications(self, fresh: Fresh) -> tuple[int, set[int]]:
        """The publications finished since the last read; the new marks, kept only once the whole read has succeeded
        (a read that fails half-way leaves them where they were, so nothing it saw goes uncounted)."""
        counted: Counter[tuple[str, str, str]] = Counter()
        seen = set(self._counted_above)
        open_ids: list[int] = []
        last = self._settled_below - 1
        for row_id, account, network, outcome, late in self._conn.execute(PUBLICATIONS, [self._settled_below]):
            last = row_id
            if outcome == "publishing":
                open_ids.append(row_id)
            elif row_id not in seen:
                seen.add(row_id)
                counted[(account, network, outcome)] += 1
                if late is not None:  # NULL: no due time, or a person marked it published
                    fresh.lateness.append(late)
        settled = min(open_ids, default=last + 1)
        fresh.publications = dict(counted)
        return settled, {i for i in seen if i >= settled}
