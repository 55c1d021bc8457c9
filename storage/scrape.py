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
# a publication's lateness in seconds (from Julian days, worked out by SQLite: a scrape parses no dates): a published first
# part, from when it was due (the latest of its time, its cooling-off's end and its last approval before it was sent);
# NULL for every other row, and for a post a person marked published (when they looked, not when the network had it)
DUE = (
    "MAX(COALESCE(d.publish_at, ''), COALESCE(d.cooling_until, ''), COALESCE(("
    "  SELECT MAX(e.at) FROM events AS e"
    "  WHERE e.draft_id = p.draft_id AND e.action = 'approved' AND e.at <= p.started_at"
    "), ''))"
)
LATE = (
    "CASE WHEN p.outcome = 'published' AND p.part = 1 AND p.finished_at IS NOT NULL AND NOT EXISTS ("
    "  SELECT 1 FROM events AS m WHERE m.draft_id = p.draft_id AND m.action = 'marked_published'"
    "  AND json_extract(m.detail, '$.publication_id') = p.id"
    f") THEN (julianday(p.finished_at) - julianday({DUE})) * 86400.0 END"
)
FROM = "FROM publications AS p LEFT JOIN drafts AS d ON d.id = p.draft_id"
TOP_PUBLICATION = "SELECT COALESCE(MAX(id), 0) FROM publications"
# the publications added since the last read (by id), finished ones counted by SQLite, the ones still publishing listed
NEW_FINISHED = (
    "SELECT account, network, outcome, COUNT(*) FROM publications "
    "WHERE id > ? AND id <= ? AND outcome != 'publishing' GROUP BY 1, 2, 3"
)
NEW_OPEN = "SELECT id FROM publications WHERE id > ? AND id <= ? AND outcome = 'publishing'"


def new_lateness(bounds: tuple[float, ...]) -> str:
    """The lateness of the posts added since the last read, as a histogram SQLite fills: how many, their sum, and how
    many at or under each bound."""
    under = "".join(f", SUM(late <= {float(b)!r})" for b in bounds)
    # MATERIALIZED: each row's lateness worked out once, not once for each bucket that reads it
    return (
        f"WITH new AS MATERIALIZED (SELECT {LATE} AS late {FROM} WHERE p.id > ? AND p.id <= ?) "
        f"SELECT COUNT(late), TOTAL(late){under} FROM new"
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
    late: list[int] = field(default_factory=list)  # posts at or under each bound, then all of them (a histogram's counts)
    late_sum: float = 0.0


class ScrapeReader:
    """The ledger as /metrics reads it: counters from high-water marks, so a scrape reads what is new, not the history.

    Events are append-only; a publication, once finished (published, failed, dry_run), keeps its outcome (a retraction
    is a column of its own). So: events up to `_events_read` are counted, and publications up to `_publications_read`,
    but for `_open`, those that were still publishing then (each looked up by its id until it has finished).
    """

    def __init__(self, conn: sqlite3.Connection, lock: AbstractContextManager[object] | None = None) -> None:
        self._conn = conn
        self._own = lock is None  # its own connection (a file), or the ledger's (an in-memory ledger, under its lock)
        self._lock: AbstractContextManager[object] = lock if lock is not None else threading.Lock()
        self._events_read = 0
        self._publications_read = 0
        self._open: set[int] = set()

    @classmethod
    def open(cls, path: Path | str) -> ScrapeReader:
        """A read-only connection to the ledger file at `path` (mode=ro, query_only), for one running copydesk's scrapes."""
        return cls(readonly.connect(path, autocommit=True))

    def read(self, bounds: tuple[float, ...]) -> Fresh:
        """The drafts and the outbox now, and what was counted since the previous read (lateness in a histogram of these
        bounds), all as of one moment; the marks move only once the whole read has succeeded."""
        with self._lock:
            with self._snapshot():
                fresh = Fresh(
                    drafts={(a, s): n for a, s, n in self._conn.execute(DRAFTS)},
                    outbox=self._conn.execute(OUTBOX).fetchone()[0],
                )
                events_read = self._read_votes(fresh)
                publications_read, still_open = self._read_publications(fresh, bounds)
            self._events_read, self._publications_read, self._open = events_read, publications_read, still_open
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

    def _read_publications(self, fresh: Fresh, bounds: tuple[float, ...]) -> tuple[int, set[int]]:
        """The publications finished since the last read: the new ones counted by SQLite (a first read over a long
        history hands Python a few rows, not one per post), those open before looked up by id. The new marks."""
        [top] = self._conn.execute(TOP_PUBLICATION).fetchone()
        since = [self._publications_read, top]
        counted: Counter[tuple[str, str, str]] = Counter()
        for account, network, outcome, n in self._conn.execute(NEW_FINISHED, since):
            counted[(account, network, outcome)] += n
        many, total, *under = self._conn.execute(new_lateness(bounds), since).fetchone()
        fresh.late, fresh.late_sum = [*(n or 0 for n in under), many], total
        still_open = {row_id for (row_id,) in self._conn.execute(NEW_OPEN, since)}
        if self._open:
            marks = ", ".join("?" for _ in self._open)
            query = f"SELECT p.id, p.account, p.network, p.outcome, {LATE} {FROM} WHERE p.id IN ({marks})"
            for row_id, account, network, outcome, late in self._conn.execute(query, sorted(self._open)):
                if outcome == "publishing":
                    still_open.add(row_id)
                    continue
                counted[(account, network, outcome)] += 1
                if late is not None:
                    fresh.late = [n + (late <= b) for n, b in zip(fresh.late, bounds, strict=False)] + [fresh.late[-1] + 1]
                    fresh.late_sum += late
        fresh.publications = dict(counted)
        return int(top), still_open
