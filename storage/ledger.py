"""The Ledger: every SQL statement copydesk runs, behind short methods named for what they store."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import astuple
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.config import SYNCHRONOUS
from bot.errors import LedgerError, LedgerUnwritable
from bot.images import Image
from bot.legs import Leg, Stage
from bot.model import OUT as WENT_OUT
from bot.model import SYSTEM, ChainCheck, DigestRecord, Draft, Earlier, Engagement, Event, Outgoing, Pause, Publication
from bot.policy import Policy
from bot.review import BUTTON, State, Vote
from storage import audit, readonly
from storage import rows as read
from storage.chain import GENESIS, KEYED, PLAIN, event_hash
from storage.migrations import migrations, names
from storage.rows import from_text, moment, to_text
from storage.scrape import ScrapeReader

log = logging.getLogger(__name__)


class Keep(Enum):
    """A value left as it is by a ledger verb."""

    KEEP = "keep"


KEEP = Keep.KEEP
# the outcomes of a part that went through to the end: sent (published), or a dry run's (nothing sent: bot/dryrun.py)
OUT = f"({', '.join(repr(o) for o in WENT_OUT)})"  # as SQL


class Ledger:
    """One SQLite connection shared by Bolt's, APScheduler's and the server's threads, one at a time.

    SQLite serialises writers anyway; holding one re-entrant lock around each statement or
    transaction keeps a transaction's statements together and makes every change atomic.
    """

    def __init__(self, db: Database, synchronous: str = "normal", key: bytes | None = None, path: str = ":memory:") -> None:
        self._db = db
        self._path = path  # the file, for a reader of its own (ScrapeReader)
        self._key = key  # the chain's secret (ledger.hmac_key_env), when it is keyed
        self._lock = threading.RLock()
        self._depth = 0  # transactions open on the thread holding the lock
        self._synchronous = synchronous  # ledger.synchronous; a durable transaction syncs whatever it says
        self._queued = False  # the open transaction put something in the outbox
        self._on_outbox: Callable[[], None] = lambda: None

    @classmethod
    def open(cls, path: Path | str, *, synchronous: str = "normal", key: bytes | None = None, rekey: bool = False) -> Ledger:
        """Open (creating if needed) and migrate the ledger at `path`, or raise LedgerError saying why.

        With `key`, the event chain is keyed (HMAC-SHA256): a new ledger is keyed from its first event, a keyed one must
        match the key, and a plain one with events is refused unless `rekey` (`copydesk ledger key`, once, on purpose):
        a plain chain found where a keyed one is expected may have been rebuilt by someone without the key. Without a
        key, a keyed chain cannot be written and the ledger is refused.

        `synchronous` (ledger.synchronous): with WAL, NORMAL syncs at checkpoints only, so a commit survives the
        process dying (kill -9) but the last ones may roll back if the machine loses power; FULL syncs every commit.
        """
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be normal or full, not {synchronous!r}")
        target = str(path)
        conn: sqlite3.Connection | None = None
        try:
            if target != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(target, check_same_thread=False, timeout=10)
            db = Database(conn)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            cls._migrate(db, target)
            db.execute("PRAGMA foreign_keys = ON")
            _key_chain(db, target, key, rekey)
        except (sqlite3.DatabaseError, OSError, LedgerError) as e:
            if conn is not None:
                conn.close()
            if isinstance(e, LedgerError):
                raise
            why = e.strerror if isinstance(e, OSError) else str(e)
            raise LedgerError(f"{target}: cannot be opened as a copydesk ledger ({why})") from None
        return cls(db, synchronous, key, target)

    @classmethod
    def open_readonly(cls, path: Path | str) -> Ledger:
        """Open an existing ledger without changing it (no migrations): for backups and verification."""
        try:
            conn = readonly.connect(path)
            db = Database(conn)
            if "hash" not in {c.name for c in db["events"].columns} or not db["meta"].exists():
                conn.close()
                raise LedgerError(f"{path}: was written by an older copydesk; start copydesk once to bring it up to date")
        except sqlite3.DatabaseError as e:
            raise LedgerError(f"{path}: cannot be opened as a copydesk ledger ({e})") from None
        return cls(db)

    @staticmethod
    def _migrate(db: Database, target: str) -> None:
        known = set(names())
        newer = [m.name for m in migrations.applied(db) if m.name not in known]
        if newer:
            raise LedgerError(f"{target}: was written by a newer copydesk (migrations {', '.join(newer)})")
        if not migrations.pending(db):
            return  # nothing to change: no check over every row, so a start takes as long over a million posts as over ten
        migrations.apply(db)  # with foreign keys off, so a table can be rebuilt; checked right after
        broken = db.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise LedgerError(f"{target}: a migration left rows pointing nowhere ({broken[:3]})")

    def schema_version(self) -> list[str]:
        """The migrations applied, oldest first."""
        with self._lock:
            return [m.name for m in migrations.applied(self._db)]

    def scrape_reader(self) -> ScrapeReader:
        """What /metrics reads through: a read-only connection of its own to the same file, so a scrape never holds this
        ledger's lock (an in-memory ledger, which no other connection can see, is read under its lock instead)."""
        if self._path == ":memory:":
            return ScrapeReader(self._db.conn, self._lock)
        return ScrapeReader.open(self._path)

    def close(self) -> None:
        """Checkpoint and close; the ledger stays consistent without this, it just tidies the WAL."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[Ledger]:
        """All changes inside commit together or not at all; other threads wait meanwhile.

        A transaction inside another is part of it, without a savepoint: nothing here catches an error and
        carries on, so an inner failure always ends the outer transaction too (and two statements fewer each).
        A `durable` one is on disk when it returns even with synchronous = NORMAL: what must survive a power cut
        before copydesk acts on it (the claim made before a post is sent to X). It must be the outermost.
        """
        with self._lock:
            if self._depth:
                assert not durable, "a durable transaction must be the outermost one"
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            synced = durable and self._synchronous != "full"
            if synced:
                self._db.execute("PRAGMA synchronous = FULL")  # for this commit only
            self._depth, self._queued = 1, False
            try:
                with self._db.atomic():
                    yield self
                committed = self._queued
            except sqlite3.OperationalError as e:  # disk full, a read-only file: the whole change was rolled back
                raise LedgerUnwritable(f"the ledger could not be written ({e})") from e
            finally:
                self._depth, self._queued = 0, False
                if synced:
                    self._db.execute(f"PRAGMA synchronous = {self._synchronous.upper()}")
        if committed:
            self._on_outbox()  # after the commit and outside the lock: the courier reads what was just queued

    # drafts

    def add_draft(
        self,
        *,
        account: str,
        author_id: str,
        text: str,
        publish_at: datetime | None,
        review_channel: str,
        origin_channel: str | None,
        at: datetime,
        content_sha256: str,
        policy: Policy | None = None,
        networks: tuple[str, ...] = (),
        dry_run: bool = False,
    ) -> Draft:
        """Store a new draft in review and log who wrote which words, and the rules that applied to them (plain SQL: it
        runs before /draft is acknowledged)."""
        with self.transaction():
            row_id = self._db.execute(
                "INSERT INTO drafts (account, author_user_id, text, publish_at, state, origin_channel_id, review_channel_id,"
                " card_ts, created_at, updated_at, content_sha256, policy, networks, dry_run)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)",
                [
                    account,
                    author_id,
                    text,
                    to_text(publish_at) if publish_at else None,
                    State.IN_REVIEW.value,
                    origin_channel,
                    review_channel,
                    to_text(at),
                    to_text(at),
                    content_sha256,
                    policy.to_json() if policy else None,
                    json.dumps(list(networks)) if networks else None,
                    int(dry_run),
                ],
            ).lastrowid
            assert row_id is not None
            self.log(
                "drafted",
                actor=author_id,
                at=at,
                draft_id=row_id,
                account=account,
                version=1,
                content_sha256=content_sha256,
                text=text,
                **({"policy": policy.record()} if policy else {}),
                **({"networks": list(networks)} if networks else {}),
                **({"dry_run": True} if dry_run else {}),
            )
            return self._draft_row(row_id)

    def set_card(
        self, draft_id: int, channel: str, ts: str, *, at: datetime, version: int | None = None, found: bool = False
    ) -> None:
        """Remember where the draft's review card is, so reactions on it find the draft (`found`: by its metadata)."""
        with self.transaction():
            self._db.execute(
                "UPDATE drafts SET review_channel_id = ?, card_ts = ?, updated_at = ? WHERE id = ?",
                [channel, ts, to_text(at), draft_id],
            )
            detail: dict[str, Any] = {"version": version} if version is not None else {}
            if found:
                detail["found_in_channel"] = True
            self.log("card_posted", actor=SYSTEM, at=at, draft_id=draft_id, channel=channel, ts=ts, **detail)

    def forget_card(self, draft_id: int) -> None:
        """The draft's card is being replaced: until the new one is up (or on restart) it has none."""
        with self.transaction():
            self._db.execute("UPDATE drafts SET card_ts = NULL WHERE id = ?", [draft_id])

    def draft(self, draft_id: int) -> Draft | None:
        """The draft with this number, if there is one."""
        with self._lock:
            rows = list(self._db.query("SELECT * FROM drafts WHERE id = ?", [draft_id]))
        return read.draft(rows[0]) if rows else None

    def draft_for_card(self, channel: str, ts: str) -> Draft | None:
        """The draft whose review card is the message `ts` in `channel`."""
        with self._lock:
            rows = list(self._db.query("SELECT * FROM drafts WHERE review_channel_id = ? AND card_ts = ?", [channel, ts]))
        return read.draft(rows[0]) if rows else None

    def drafts_in(self, states: Iterable[State]) -> list[Draft]:
        """Drafts in any of these states, oldest first.

        INDEXED BY, as in open_drafts: with ANALYZE statistics of a long history, SQLite would scan every draft
        in id order (to skip sorting) rather than look up the few open ones; /draft list must not grow with the past.
        """
        wanted = [s.value for s in states]
        marks = ", ".join("?" for _ in wanted)
        with self._lock:
            rows = self._db.query(f"SELECT * FROM drafts INDEXED BY drafts_by_state WHERE state IN ({marks}) ORDER BY id", wanted)
            return [read.draft(row) for row in rows]

    def drafts_without_card(self) -> list[Draft]:
        """Drafts in review whose card never reached Slack."""
        with self._lock:
            rows = self._db.query(
                "SELECT * FROM drafts INDEXED BY drafts_by_state WHERE card_ts IS NULL AND state = ? ORDER BY id", ["in_review"]
            )
            return [read.draft(row) for row in rows]

    def move(self, draft_id: int, to: State, *, only_from: Iterable[State], at: datetime) -> bool:
        """Change the state only if it is still one of `only_from`; say whether it changed."""
        allowed = [s.value for s in only_from]
        marks = ", ".join("?" for _ in allowed)
        with self.transaction():
            cursor = self._db.execute(
                f"UPDATE drafts SET state = ?, updated_at = ? WHERE id = ? AND state IN ({marks})",
                [to.value, to_text(at), draft_id, *allowed],
            )
            return cursor.rowcount == 1

    def transition(
        self,
        draft_id: int,
        to: State,
        *,
        only_from: Iterable[State],
        at: datetime,
        actor: str,
        action: str | None = None,
        notice: str | None | Keep = KEEP,
        may_be_live: bool | None = None,
        retrying: tuple[datetime | None, datetime] | None = None,
        cooling_until: datetime | None = None,
        **detail: Any,
    ) -> bool:
        """One change of state as one call: moved only from `only_from`, its run of attempts at X over (or, with
        `retrying`, going on: when to try again, if planned, and since when it is tried), its cooling-off window set to
        end at `cooling_until` (any other window ends), then noted as `note` does.
        False, and nothing changed, when the draft was no longer in one of `only_from`."""
        with self.transaction():
            if not self.move(draft_id, to, only_from=only_from, at=at):
                return False
            retry_at, first_attempt_at = retrying or (None, None)
            self.set_attempts(draft_id, retry_at=retry_at, first_attempt_at=first_attempt_at)
            self._db.execute(
                "UPDATE drafts SET cooling_until = ? WHERE id = ?", [to_text(cooling_until) if cooling_until else None, draft_id]
            )
            if cooling_until is not None:
                detail["cooling_until"] = to_text(cooling_until)
            self.note(draft_id, action or to.value, actor=actor, at=at, notice=notice, may_be_live=may_be_live, **detail)
            return True

    def set_policy(self, draft_id: int, policy: Policy | None, *, at: datetime, cooling_until: datetime | None = None) -> None:
        """The rules that apply to the draft's version under today's app.yaml (judged again at start), recorded; with
        `cooling_until`, the longer cooling-off they ask of an approved draft."""
        with self.transaction():
            self._db.execute("UPDATE drafts SET policy = ? WHERE id = ?", [policy.to_json() if policy else None, draft_id])
            detail: dict[str, Any] = {"policy": policy.record() if policy else None}
            if cooling_until is not None:
                self._db.execute("UPDATE drafts SET cooling_until = ? WHERE id = ?", [to_text(cooling_until), draft_id])
                detail["cooling_until"] = to_text(cooling_until)
            self.log("policy_changed", actor=SYSTEM, at=at, draft_id=draft_id, **detail)

    def any_policy(self) -> bool:
        """Whether any open draft has rules recorded with its version (a start judges them again only then)."""
        with self._lock:
            return (
                self._db.execute(
                    "SELECT 1 FROM drafts WHERE policy IS NOT NULL AND state IN (?, ?, ?) LIMIT 1",
                    [State.IN_REVIEW.value, State.APPROVED.value, State.HELD.value],
                ).fetchone()
                is not None
            )

    def skip_cooling(self, draft_id: int, *, actor: str, at: datetime, notice: str) -> bool:
        """An admin lets an approved draft go without waiting out the rest of its cooling-off window; recorded as theirs.
        False, and nothing changed, when it is no longer approved and waiting."""
        with self.transaction():
            row = self._db.execute(
                "SELECT cooling_until FROM drafts WHERE id = ? AND state = ? AND cooling_until IS NOT NULL",
                [draft_id, State.APPROVED.value],
            ).fetchone()
            if row is None:
                return False
            self._db.execute("UPDATE drafts SET cooling_until = NULL, notice = ? WHERE id = ?", [notice, draft_id])
            self.log("cooling_off_skipped", actor=actor, at=at, draft_id=draft_id, was_until=row[0])
            return True

    def note(
        self,
        draft_id: int,
        action: str,
        *,
        actor: str,
        at: datetime,
        notice: str | None | Keep = KEEP,
        may_be_live: bool | None = None,
        **detail: Any,
    ) -> None:
        """What happened to a draft, as one call, its state aside: its card's notice set (unless KEEP), whether X may
        have it (when given), and the event `action` by `actor` logged."""
        with self.transaction():
            if not isinstance(notice, Keep):
                self.set_notice(draft_id, notice)
            if may_be_live is not None:
                self.set_doubt(draft_id, may_be_live)
            self.log(action, actor=actor, at=at, draft_id=draft_id, **detail)

    def set_attempts(self, draft_id: int, *, retry_at: datetime | None, first_attempt_at: datetime | None) -> None:
        """When to try X again, and since when it has been tried; both None ends the run of attempts."""
        with self.transaction():
            self._db.execute(
                "UPDATE drafts SET retry_at = ?, first_attempt_at = ? WHERE id = ?",
                [to_text(retry_at) if retry_at else None, to_text(first_attempt_at) if first_attempt_at else None, draft_id],
            )

    def set_notice(self, draft_id: int, notice: str | None) -> None:
        """What the card says about the draft beyond its state."""
        with self.transaction():
            self._db.execute("UPDATE drafts SET notice = ? WHERE id = ?", [notice, draft_id])

    def rewrite(
        self,
        draft_id: int,
        *,
        text: str,
        publish_at: datetime | None,
        at: datetime,
        by: str | None = None,
        content_sha256: str = "",
        keep_vetoes_of: str | None = None,
    ) -> str | None:
        """New text (and time) for a draft, as its next version: every vote on the old one is gone, and review starts
        over. With `keep_vetoes_of` (the account's owner), their veto stays, as one Reject-button vote, and the draft is
        rejected: the reaction it was cast with is returned.

        `by`: who made the version; anyone but the author joins the draft's revisers for good (their words may stay in
        later versions). `content_sha256`: its fingerprint (set_content fixes it once the version's images are in place).
        """
        with self.transaction():
            self._db.execute(
                "DELETE FROM votes WHERE draft_id = ? AND NOT (user_id IS ? AND vote = 'reject')", [draft_id, keep_vetoes_of]
            )
            # the owner's veto stays as one Reject-button vote: pressing Reject on the new card takes it back
            row = self._db.execute(
                "SELECT reaction FROM votes WHERE draft_id = ? ORDER BY reaction = ? DESC, cast_at LIMIT 1", [draft_id, BUTTON]
            ).fetchone()
            kept = row is not None
            if kept:
                self._db.execute("DELETE FROM votes WHERE draft_id = ? AND reaction != ?", [draft_id, row[0]])
                self._db.execute("UPDATE votes SET reaction = ? WHERE draft_id = ?", [BUTTON, draft_id])
            author, revisers = self._db.execute(
                "SELECT author_user_id, revised_by FROM drafts WHERE id = ?", [draft_id]
            ).fetchone()
            revised = sorted(read.revisers(revisers) | ({by} if by and by != author else set()))
            self._db.execute(
                "UPDATE drafts SET text = ?, publish_at = ?, state = ?, retry_at = NULL, first_attempt_at = NULL, "
                "cooling_until = NULL, updated_at = ?, version = version + 1, revised_by = ?, content_sha256 = ? WHERE id = ?",
                [
                    text,
                    to_text(publish_at) if publish_at else None,
                    (State.REJECTED if kept else State.IN_REVIEW).value,
                    to_text(at),
                    " ".join(revised) or None,
                    content_sha256,
                    draft_id,
                ],
            )
            return row[0] if kept else None

    def new_version(
        self,
        draft_id: int,
        *,
        text: str,
        publish_at: datetime | None,
        by: str,
        content_sha256: str,
        notice: str,
        action: str,
        at: datetime,
        detail: dict[str, Any],
        policy: Policy | None = None,
        keep_vetoes_of: str | None = None,
    ) -> None:
        """A draft's next version as one call: its text (and time), every vote cleared (but the owner's vetoes, when
        `keep_vetoes_of` names them), the rules that applied to it, the card's notice, the event that records it (with
        the version, its fingerprint and its policy), and no card until the new one is up."""
        with self.transaction():
            kept_from = self.rewrite(
                draft_id,
                text=text,
                publish_at=publish_at,
                at=at,
                by=by,
                content_sha256=content_sha256,
                keep_vetoes_of=keep_vetoes_of,
            )
            kept = [[v.user_id, v.reaction, kept_from] for v in self.votes(draft_id)]
            self._db.execute("UPDATE drafts SET policy = ? WHERE id = ?", [policy.to_json() if policy else None, draft_id])
            self.set_notice(draft_id, notice)
            version = self._draft_row(draft_id).version
            self.log(
                action,
                actor=by,
                at=at,
                draft_id=draft_id,
                **detail,
                votes_cleared=True,
                **({"votes_kept": kept} if kept else {}),
                **({"policy": policy.record()} if policy else {}),
                version=version,
                content_sha256=content_sha256,
            )
            self.forget_card(draft_id)  # reactions on the old card no longer find the draft
            # a new version is sent afresh where the old one is not out nor taken back (no retry time, error or doubt carries over)
            self._db.execute("DELETE FROM legs WHERE draft_id = ? AND stage NOT IN ('out', 'retracted')", [draft_id])

    def set_content(self, draft_id: int, content_sha256: str) -> None:
        """The fingerprint of the draft's version as it now stands (its images were just added or changed)."""
        with self.transaction():
            self._db.execute("UPDATE drafts SET content_sha256 = ? WHERE id = ?", [content_sha256, draft_id])

    def set_doubt(self, draft_id: int, may_be_live: bool) -> None:
        """Whether the draft is held because X may have it: then it is settled, never withdrawn."""
        with self.transaction():
            self._db.execute("UPDATE drafts SET may_be_live = ? WHERE id = ?", [int(may_be_live), draft_id])

    def recently_published(self, limit: int) -> list[Draft]:
        """The drafts that went out last, newest first (walking the publications index from its end)."""
        found: dict[int, None] = {}
        with self._lock:
            rows = self._db.query(
                f"SELECT draft_id FROM publications WHERE outcome IN {OUT} ORDER BY finished_at DESC"
            )  # a dry run went through the whole loop too: the App Home shows it, saying so
            for row in rows:  # read lazily: only as far as `limit` distinct drafts (a thread has several rows)
                found[row["draft_id"]] = None
                if len(found) == limit:
                    break
            order = {draft_id: i for i, draft_id in enumerate(found)}
            marks = ", ".join("?" for _ in order)
            drafts = [read.draft(row) for row in self._db.query(f"SELECT * FROM drafts WHERE id IN ({marks})", list(order))]
        return sorted(drafts, key=lambda d: order[d.id])

    def _draft_row(self, draft_id: int) -> Draft:
        draft = self.draft(draft_id)
        assert draft is not None
        return draft

    # votes

    def votes(self, draft_id: int) -> list[Vote]:
        """The votes on a draft, in the order they were cast."""
        with self._lock:
            rows = self._db.query(
                "SELECT user_id, reaction, vote, version, content_sha256 FROM votes WHERE draft_id = ? ORDER BY cast_at, rowid",
                [draft_id],
            )
            return [read.vote(r) for r in rows]

    def add_vote(self, draft_id: int, vote: Vote, *, at: datetime) -> bool:
        """Record a reaction as a vote for the version it was cast on; False when that exact reaction was already counted."""
        with self.transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO votes (draft_id, user_id, reaction, vote, cast_at, version, content_sha256)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [draft_id, vote.user_id, vote.reaction, vote.kind.value, to_text(at), vote.version, vote.content_sha256],
            )
            return cursor.rowcount == 1

    def remove_vote(self, draft_id: int, user_id: str, reaction: str) -> bool:
        """Withdraw a reaction's vote; False when there was none."""
        with self.transaction():
            cursor = self._db.execute(
                "DELETE FROM votes WHERE draft_id = ? AND user_id = ? AND reaction = ?", [draft_id, user_id, reaction]
            )
            return cursor.rowcount == 1

    def first_sighting(self, event_id: str, *, at: datetime) -> bool:
        """True the first time Slack's event_id is seen; a redelivery answers False."""
        with self.transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO slack_events_seen (event_id, seen_at) VALUES (?, ?)", [event_id, to_text(at)]
            )
            return cursor.rowcount == 1

    # publications

    def start_publication(
        self, draft: Draft, handle: str, *, at: datetime, part: int = 1, network: str = "x", key: str | None = None
    ) -> int:
        """Note that a post (or one part of a thread) is on its way to a network, before the call, so a crash leaves a trace."""
        with self.transaction():
            row_id = (
                self._db.table("publications")
                .insert(
                    {
                        "draft_id": draft.id,
                        "part": part,
                        "account": draft.account,
                        "handle": handle,
                        "started_at": to_text(at),
                        "finished_at": None,
                        "outcome": "publishing",
                        "x_post_id": None,
                        "url": None,
                        "error": None,
                        "version": draft.version,
                        "content_sha256": draft.content_sha256,
                        "network": network,
                        "key": key,
                    }
                )
                .last_pk
            )
            assert row_id is not None
            return int(row_id)

    def finish_publication(self, publication_id: int, *, post_id: str, url: str, at: datetime, dry_run: bool = False) -> None:
        """Record the post X created; a dry run's (nothing sent: a made-up id, no link) as the outcome dry_run."""
        outcome, url_kept = ("dry_run", None) if dry_run else ("published", url)
        with self.transaction():
            self._db.table("publications").update(
                publication_id, {"outcome": outcome, "x_post_id": post_id, "url": url_kept, "finished_at": to_text(at)}
            )

    def fail_publication(self, publication_id: int, *, error: str, at: datetime) -> None:
        """Record why the post did not go out."""
        with self.transaction():
            self._db.table("publications").update(
                publication_id, {"outcome": "failed", "error": error, "finished_at": to_text(at)}
            )

    def retract_publication(self, publication_id: int, *, at: datetime) -> None:
        """Record that the post was deleted from X."""
        with self.transaction():
            self._db.table("publications").update(publication_id, {"retracted_at": to_text(at)})

    def publications(self, draft_id: int) -> list[Publication]:
        """Every attempt to publish a draft, oldest first."""
        with self._lock:
            rows = self._db.query("SELECT * FROM publications WHERE draft_id = ? ORDER BY id", [draft_id])
            return [read.publication(row) for row in rows]

    def published_parts(self, draft_id: int, network: str | None = "x") -> dict[int, Publication]:
        """The parts of a draft that are on a network now (published, not retracted), by part number (network None:
        on any network, the first network's part winning)."""
        with self._lock:
            rows = self._db.query(
                f"SELECT * FROM publications WHERE draft_id = ? AND outcome IN {OUT} AND retracted_at IS NULL "
                "AND (? IS NULL OR network = ?) ORDER BY id",
                [draft_id, network, network],
            )
            return {row["part"]: read.publication(row) for row in rows}

    def live_posts(self, draft_id: int) -> dict[str, dict[int, Publication]]:
        """Every part of a draft on every network now, by network then part."""
        out: dict[str, dict[int, Publication]] = {}
        with self._lock:
            rows = self._db.query(
                f"SELECT * FROM publications WHERE draft_id = ? AND outcome IN {OUT} AND retracted_at IS NULL ORDER BY id",
                [draft_id],
            )
            for row in rows:
                out.setdefault(row["network"], {})[row["part"]] = read.publication(row)
        return out

    def publication_key(self, draft_id: int, network: str, version: int, part: int) -> str | None:
        """The key an earlier attempt at this part on this network used, so a resend is the same post there."""
        with self._lock:
            row = self._db.execute(
                "SELECT key FROM publications WHERE draft_id = ? AND network = ? AND version = ? AND part = ? "
                "AND key IS NOT NULL ORDER BY id DESC LIMIT 1",
                [draft_id, network, version, part],
            ).fetchone()
        return row[0] if row else None

    # legs: each network's post of a draft (bot/legs.py)

    def legs(self, draft_id: int) -> dict[str, Leg]:
        """Where each network's post of a draft is; a network without a row has not been tried."""
        with self._lock:
            rows = self._db.query("SELECT * FROM legs WHERE draft_id = ?", [draft_id])
            return {row["network"]: read.leg(row) for row in rows}

    def set_leg(
        self,
        draft_id: int,
        network: str,
        stage: Stage,
        *,
        at: datetime,
        retry_at: datetime | None = None,
        error: str | None = None,
        may_be_live: bool = False,
    ) -> None:
        """Move one network's post of a draft to `stage` (inside the decision that moves it)."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO legs (draft_id, network, stage, retry_at, error, may_be_live, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (draft_id, network) DO UPDATE SET stage = excluded.stage, "
                "retry_at = excluded.retry_at, error = excluded.error, may_be_live = excluded.may_be_live, "
                "updated_at = excluded.updated_at",
                [draft_id, network, stage.value, to_text(retry_at) if retry_at else None, error, int(may_be_live), to_text(at)],
            )

    def reopen_legs(self, draft_id: int, *, at: datetime, networks: Iterable[str] | None = None) -> None:
        """Every network of a draft that is not out (nor retracted) is to be sent again (Publish now, /draft retry); a
        network in doubt stays in doubt until its post is found or sent."""
        names = list(networks) if networks is not None else None
        with self.transaction():
            self._db.execute(
                "UPDATE legs SET stage = 'pending', retry_at = NULL, error = NULL, updated_at = ? "
                "WHERE draft_id = ? AND stage NOT IN ('out', 'retracted')"
                + (f" AND network IN ({', '.join('?' for _ in names)})" if names is not None else ""),
                [to_text(at), draft_id, *(names or [])],
            )

    # pre-flight (bot/preflight.py)

    def recent_posts(self, account: str, *, since: datetime, due_before: datetime, besides: int) -> list[Earlier]:
        """The account's posts that went out since `since` and are still up, newest first, then its drafts approved to go
        before `due_before` (or as soon as they can), soonest first; `besides` (the draft asking) left out.

        INDEXED BY: only the window's rows are read (publications_by_outcome, drafts_by_state), however long the ledger.
        """
        with self._lock:
            out = self._db.execute(
                "SELECT p.draft_id, d.text, p.finished_at FROM publications AS p INDEXED BY publications_by_outcome "
                "JOIN drafts AS d ON d.id = p.draft_id WHERE p.outcome = 'published' AND p.finished_at >= ? "
                "AND p.account = ? AND p.part = 1 AND p.retracted_at IS NULL AND p.draft_id != ? ORDER BY p.finished_at DESC",
                [to_text(since), account, besides],
            ).fetchall()
            due = self._db.execute(
                "SELECT id, text, publish_at FROM drafts INDEXED BY drafts_by_state WHERE state IN ('approved', 'publishing') "
                "AND (publish_at IS NULL OR publish_at < ?) AND account = ? AND id != ? ORDER BY publish_at, id",
                [to_text(due_before), account, besides],
            ).fetchall()
        out = list({i: (i, text, at) for i, text, at in reversed(out)}.values())[::-1]  # a post on several networks: once
        return [Earlier(i, text, from_text(at), True) for i, text, at in out] + [
            Earlier(i, text, from_text(at), False) for i, text, at in due
        ]

    def posts_since(self, account: str, since: datetime) -> int:
        """How many posts the account put on X since `since` (each part of a thread one; deleted ones too)."""
        with self._lock:
            [(count,)] = self._db.execute(
                "SELECT count(*) FROM publications INDEXED BY publications_by_outcome "
                "WHERE outcome = 'published' AND finished_at >= ? AND account = ? AND network = 'x'",
                [to_text(since), account],
            ).fetchall()
        return int(count)

    # images

    def add_images(self, draft_id: int, images: Iterable[Image], *, at: datetime) -> None:
        """Append images to a draft's, after those it has."""
        with self.transaction():
            [row] = self._db.query("SELECT COALESCE(MAX(position), 0) AS last FROM media WHERE draft_id = ?", [draft_id])
            for position, image in enumerate(images, row["last"] + 1):
                self._db.table("media").insert(
                    {
                        "draft_id": draft_id,
                        "position": position,
                        "name": image.name,
                        "mimetype": image.mimetype,
                        "size": image.size,
                        "sha256": image.sha256,
                        "bytes": image.data,
                        "slack_file_id": image.slack_file_id,
                        "alt_text": image.alt,
                        "added_at": to_text(at),
                    }
                )

    def remove_images(self, draft_id: int) -> None:
        """A draft's images are all gone."""
        with self.transaction():
            self._db.execute("DELETE FROM media WHERE draft_id = ?", [draft_id])

    def images(self, draft_id: int, *, with_bytes: bool = False) -> list[Image]:
        """A draft's images in order; their bytes only when asked for (uploading), not for every card."""
        data = "bytes" if with_bytes else "NULL AS bytes"
        with self._lock:
            rows = self._db.query(
                f"SELECT name, mimetype, size, sha256, {data}, slack_file_id, alt_text FROM media WHERE draft_id = ? ORDER BY position",
                [draft_id],
            )
            return [
                Image(
                    name=r["name"],
                    mimetype=r["mimetype"],
                    size=r["size"],
                    sha256=r["sha256"],
                    data=r["bytes"] or b"",
                    slack_file_id=r["slack_file_id"],
                    alt=r["alt_text"],
                )
                for r in rows
            ]

    # history

    def log(self, action: str, *, actor: str, at: datetime, draft_id: int | None = None, **detail: Any) -> None:
        """Append one line to the event log, chained by hash to the line before (plain SQL: votes and drafts wait on it)."""
        with self.transaction():
            last = self._db.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
            row = {
                "id": last[0] + 1 if last else 1,
                "at": to_text(at),
                "draft_id": draft_id,
                "actor": actor,
                "action": action,
                "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else None,
            }
            previous = (last[1] or GENESIS) if last else GENESIS
            self._db.execute(
                "INSERT INTO events (id, at, draft_id, actor, action, detail, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    row["id"],
                    row["at"],
                    row["draft_id"],
                    row["actor"],
                    row["action"],
                    row["detail"],
                    event_hash(previous, row, self._key),
                ],
            )

    def verify_chain(self, key: bytes | None = None) -> ChainCheck:
        """Recompute every event's hash from the first: an edited or removed row breaks the chain there.

        A keyed chain is checked with `key`; without it, its first event is reported broken (nothing can be proved).
        """
        with self._lock:
            return _walk_chain(self._db, key if self.chain_mode() == KEYED else None)

    def audit(self) -> list[str]:
        """Where drafts, votes and publications disagree with the event log (storage/audit.py); empty when they agree."""
        with self._lock:
            return audit.problems(self._db)

    def chain_mode(self) -> str:
        """How the event chain is hashed: sha256, or hmac-sha256 (keyed)."""
        with self._lock:
            return _chain_mode(self._db)

    def backup(self, target: Path | str) -> None:
        """A consistent copy of the whole ledger, taken with SQLite's online backup while it is in use; a file of its own
        (rollback journal, not WAL), so it can be read where nothing may be written, as on read-only media."""
        destination = sqlite3.connect(str(target))
        try:
            with self._lock:
                self._db.conn.backup(destination)
            destination.execute("PRAGMA journal_mode = DELETE")  # copydesk turns WAL back on when it opens the copy
        finally:
            destination.close()

    # test hooks: what only the ledger's own connection can do, for tests and operators (README: Development, Test hooks).
    # Anything else a test needs goes through the methods above, or a second connection to the file as anyone would open it.

    @contextmanager
    def trace(self, callback: Callable[[str], None]) -> Iterator[None]:
        """Hand `callback` every statement the ledger runs while inside, as SQLite ran it: what a call costs, which commit syncs."""
        with self._lock:  # not in the middle of another thread's transaction
            self._db.conn.set_trace_callback(callback)
        try:
            yield
        finally:
            with self._lock:
                self._db.conn.set_trace_callback(None)

    def pragma(self, name: str) -> Any:
        """A setting of the ledger's own connection as SQLite reads it back (synchronous, foreign_keys, query_only): these
        live per connection, so no other connection to the file can see them."""
        if not name.isidentifier():
            raise ValueError(f"not a PRAGMA name: {name!r}")
        with self._lock:
            row = self._db.execute(f"PRAGMA {name}").fetchone()
        return row[0] if row else None

    def refuse_writes(self, on: bool) -> None:
        """From now on every write fails as on a file turned read-only under copydesk ("attempt to write a readonly
        database"), or (`on` False) works again: a drill of a full disk or a read-only file without breaking either."""
        with self._lock:
            self._db.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")

    # the outbox: what Slack must hear, written in the same transaction as the change it tells of

    def on_outbox(self, callback: Callable[[], None]) -> None:
        """Call `callback` after each commit that queued something (the courier wakes up for it)."""
        self._on_outbox = callback

    def enqueue(self, queue: str, kind: str, *, at: datetime, draft_id: int | None = None, **payload: Any) -> int:
        """Queue a message for Slack as part of the caller's transaction; it goes once that commits."""
        with self.transaction():
            self._queued = True
            cursor = self._db.execute(
                "INSERT INTO outbox (queue, draft_id, kind, payload, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    queue,
                    draft_id,
                    kind,
                    json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
                    to_text(at),
                    to_text(at),
                ],
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def outbox_due(self, now: datetime, *, besides: Collection[str] = (), limit: int = 64) -> list[Outgoing]:
        """The first pending message of each queue but `besides` (in flight), among those whose time has come, oldest first."""
        skip = list(besides)
        with self._lock:
            rows = self._db.query(
                "SELECT * FROM outbox AS o WHERE state = 'pending' AND next_at <= ? "
                f"AND queue NOT IN ({', '.join('?' for _ in skip)}) "
                "AND id = (SELECT MIN(id) FROM outbox WHERE queue = o.queue AND state = 'pending') ORDER BY next_at, id LIMIT ?",
                [to_text(now), *skip, limit],
            )
            return [read.outgoing(row) for row in rows]

    def outbox_wakeup(self, *, besides: Collection[str] = ()) -> datetime | None:
        """When the next queue's first message may go (after a backoff), among the queues not `besides` (in flight)."""
        skip = list(besides)
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_at) FROM outbox AS o WHERE state = 'pending' "
                f"AND queue NOT IN ({', '.join('?' for _ in skip)}) "
                "AND id = (SELECT MIN(id) FROM outbox WHERE queue = o.queue AND state = 'pending')",
                skip,
            ).fetchone()
        return from_text(row[0]) if row and row[0] else None

    def outbox_queue(self, queue: str) -> list[Outgoing]:
        """A queue's pending messages in order."""
        with self._lock:
            rows = self._db.query("SELECT * FROM outbox WHERE queue = ? AND state = 'pending' ORDER BY id", [queue])
            return [read.outgoing(row) for row in rows]

    def claim_outgoing(self, outgoing_id: int, *, at: datetime) -> None:
        """Count a try before Slack is called: after a crash, attempts above 0 say it may have landed."""
        with self.transaction():
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ? WHERE id = ?", [to_text(at), outgoing_id]
            )

    def outgoing_sent(self, outgoing_ids: Iterable[int], *, at: datetime, result: str | None = None) -> None:
        """Slack has these (a redraw covers the redraws queued behind it); `result` is the message ts made, if any."""
        with self.transaction():
            for outgoing_id in outgoing_ids:
                self._db.execute(
                    "UPDATE outbox SET state = 'sent', done_at = ?, result = COALESCE(?, result), error = NULL WHERE id = ?",
                    [to_text(at), result, outgoing_id],
                )

    def outgoing_later(self, outgoing_id: int, *, next_at: datetime, error: str) -> None:
        """Slack failed for a passing reason: try again at `next_at`."""
        with self.transaction():
            self._db.execute(
                "UPDATE outbox SET next_at = ?, error = ? WHERE id = ? AND state = 'pending'",
                [to_text(next_at), error, outgoing_id],
            )

    def outgoing_gave_up(self, outgoing_id: int, *, error: str, at: datetime) -> None:
        """Slack refused it for good, or for too long: it stops blocking its queue, and the log and /healthz say so."""
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE outbox SET state = 'gave_up', done_at = ?, error = ? WHERE id = ? AND state = 'pending'",
                [to_text(at), error, outgoing_id],
            )
            if cursor.rowcount:  # not one that was delivered before something after it failed
                self.log("slack_gave_up", actor=SYSTEM, at=at, outbox_id=outgoing_id, error=error)

    def card_of_version(self, draft_id: int, version: int) -> tuple[str, str] | None:
        """Where the card of one version of a draft went (channel, ts), once Slack took it."""
        with self._lock:
            row = self._db.execute(
                "SELECT json_extract(payload, '$.channel'), result FROM outbox WHERE draft_id = ? AND kind = 'card' "
                "AND state = 'sent' AND result IS NOT NULL AND json_extract(payload, '$.version') = ? ORDER BY id DESC LIMIT 1",
                [draft_id, version],
            ).fetchone()
        return (row[0], row[1]) if row else None

    def card_message(self, draft_id: int, version: int) -> str | None:
        """Where the outbox is with the card of that version: pending, sent or gave_up (None: never queued)."""
        found = self._card_messages(draft_id, version)
        return found[0][0] if found else None

    def card_trouble(self, draft_id: int, version: int, *, tries: int = 2) -> str | None:
        """Why Slack has not taken the card of that version, once `tries` tries failed or copydesk gave up (else None)."""
        found = self._card_messages(draft_id, version)
        if not found or found[0][0] == "sent":
            return None
        state, error, attempts = found[0]
        return error if error and (state == "gave_up" or attempts >= tries) else None

    def _card_messages(self, draft_id: int, version: int) -> list[tuple[str, str | None, int]]:
        """The card messages of one version, newest first, as (state, error, attempts)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT state, error, attempts FROM outbox WHERE draft_id = ? AND kind = 'card' "
                "AND json_extract(payload, '$.version') = ? ORDER BY id DESC",
                [draft_id, version],
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def outbox_now(self, now: datetime) -> int:
        """Everything waiting out a backoff may go now (a start: Slack may well be back); how many were waiting."""
        with self.transaction():
            return self._db.execute(
                "UPDATE outbox SET next_at = ? WHERE state = 'pending' AND next_at > ?", [to_text(now), to_text(now)]
            ).rowcount

    def outbox_health(self, now: datetime) -> dict[str, Any]:
        """How much waits for Slack and for how long; how many messages copydesk gave up on."""
        with self._lock:
            pending, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(created_at) FROM outbox INDEXED BY outbox_pending WHERE state = 'pending'"
            ).fetchone()
            [gave_up] = self._db.execute(
                "SELECT COUNT(*) FROM outbox INDEXED BY outbox_gave_up WHERE state = 'gave_up'"
            ).fetchone()
        age = (now - moment(oldest)).total_seconds() if oldest else 0.0
        return {"pending": pending, "oldest_seconds": round(max(age, 0.0), 3), "gave_up": gave_up}

    # for operators (/metrics, bot/runtime/metrics.py)

    # the crisis switch

    def current_pause(self) -> Pause | None:
        """The pause in force, if publishing is paused."""
        with self._lock:
            rows = list(self._db.query("SELECT * FROM pauses WHERE resumed_at IS NULL"))
        if not rows:
            return None
        row = rows[0]
        return Pause(paused_at=moment(row["paused_at"]), paused_by=row["paused_by"], reason=row["reason"])

    def pause(self, *, by: str, reason: str | None, at: datetime) -> bool:
        """Turn the switch on; False when it already was."""
        with self.transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO pauses (paused_at, paused_by, reason) VALUES (?, ?, ?)", [to_text(at), by, reason]
            )
            if cursor.rowcount != 1:
                return False
            self.log("paused", actor=by, at=at, reason=reason)
            return True

    def resume(self, *, by: str, at: datetime) -> bool:
        """Turn the switch off; False when publishing was not paused."""
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE pauses SET resumed_at = ?, resumed_by = ? WHERE resumed_at IS NULL", [to_text(at), by]
            )
            if cursor.rowcount != 1:
                return False
            self.log("resumed", actor=by, at=at)
            return True

    def review_started(self, draft_id: int) -> datetime | None:
        """When the draft's current version went into review: it was written, or last edited."""
        with self._lock:
            rows = list(
                self._db.query(
                    "SELECT MAX(at) AS at FROM events WHERE draft_id = ? AND action IN ('drafted', 'edited', 'images_changed')",
                    [draft_id],
                )
            )
        return from_text(rows[0]["at"]) if rows else None

    def reminded_since(self, draft_id: int, since: datetime) -> bool:
        """Whether the draft's editors were reminded at or after `since`."""
        with self._lock:
            rows = list(
                self._db.query(
                    "SELECT 1 FROM events WHERE draft_id = ? AND action = 'reminded' AND at >= ? LIMIT 1",
                    [draft_id, to_text(since)],
                )
            )
        return bool(rows)

    def review_marks(self, draft_ids: Iterable[int]) -> dict[int, tuple[datetime | None, datetime | None]]:
        """For many drafts at once (a start): when each one's review began, and when it was last reminded."""
        found: dict[int, tuple[datetime | None, datetime | None]] = {}
        for chunk in _chunks(sorted(set(draft_ids))):
            with self._lock:
                rows = self._db.execute(
                    "SELECT draft_id, MAX(CASE WHEN action IN ('drafted', 'edited', 'images_changed') THEN at END), "
                    "MAX(CASE WHEN action = 'reminded' THEN at END) FROM events "
                    f"WHERE draft_id IN ({', '.join('?' for _ in chunk)}) GROUP BY draft_id",
                    chunk,
                ).fetchall()
            for draft_id, started, reminded in rows:
                found[draft_id] = (from_text(started) if started else None, from_text(reminded) if reminded else None)
        return found

    def events(self, draft_id: int | None = None) -> list[Event]:
        """The event log, oldest first, for one draft or for everything."""
        where, params = ("WHERE draft_id = ?", [draft_id]) if draft_id is not None else ("", [])
        with self._lock:
            rows = self._db.query(f"SELECT * FROM events {where} ORDER BY id", params)
            return [read.event(row) for row in rows]

    # the daily digest

    def published_between(self, accounts: Iterable[str], start: datetime, end: datetime) -> list[tuple[Draft, Publication]]:
        """Posts of these accounts that went out in [start, end), in the order they went out."""
        names = list(accounts)
        marks = ", ".join("?" for _ in names)
        with self._lock:
            rows = list(
                self._db.query(
                    f"SELECT * FROM publications INDEXED BY publications_by_outcome WHERE outcome IN {OUT} "
                    "AND finished_at >= ? AND finished_at < ? "
                    f"AND account IN ({marks}) ORDER BY finished_at, id",
                    [to_text(start), to_text(end), *names],
                )
            )
            drafts = self._drafts_by_id({row["draft_id"] for row in rows})
        return [(drafts[row["draft_id"]], read.publication(row)) for row in rows]

    def drafts_changed_between(
        self, states: Iterable[State], accounts: Iterable[str], start: datetime, end: datetime
    ) -> list[Draft]:
        """Drafts of these accounts that are in one of `states` and last changed state in [start, end)."""
        wanted, names = [s.value for s in states], list(accounts)
        with self._lock:
            rows = self._db.query(
                f"SELECT * FROM drafts INDEXED BY drafts_by_state_change WHERE state IN ({', '.join('?' for _ in wanted)}) "
                "AND updated_at >= ? AND updated_at < ? "
                f"AND account IN ({', '.join('?' for _ in names)}) ORDER BY updated_at, id",
                [*wanted, to_text(start), to_text(end), *names],
            )
            return [read.draft(row) for row in rows]

    def open_drafts(self, states: Iterable[State], accounts: Iterable[str]) -> list[Draft]:
        """Drafts of these accounts in these (open) states, oldest first.

        INDEXED BY: once ANALYZE has seen a history of mostly published drafts, SQLite would rather scan
        the whole table in id order than look up the few open ones; the digest must not depend on that.
        """
        wanted, names = [s.value for s in states], list(accounts)
        with self._lock:
            rows = self._db.query(
                f"SELECT * FROM drafts INDEXED BY drafts_by_state WHERE state IN ({', '.join('?' for _ in wanted)}) "
                f"AND account IN ({', '.join('?' for _ in names)}) ORDER BY id",
                [*wanted, *names],
            )
            return [read.draft(row) for row in rows]

    def approved_due_before(self, accounts: Iterable[str], horizon: datetime) -> list[Draft]:
        """Approved drafts of these accounts whose time is before `horizon` (or who have none: they go at once)."""
        names = list(accounts)
        marks = ", ".join("?" for _ in names)
        with self._lock:
            rows = self._db.query(
                f"SELECT * FROM drafts INDEXED BY drafts_by_state WHERE state = 'approved' AND (publish_at IS NULL OR publish_at < ?) "
                f"AND account IN ({marks}) ORDER BY publish_at, id",
                [to_text(horizon), *names],
            )
            return [read.draft(row) for row in rows]

    def votes_on(self, draft_ids: Iterable[int]) -> dict[int, list[Vote]]:
        """The votes on several drafts at once, each draft's in the order they were cast."""
        ids = sorted(set(draft_ids))
        found: dict[int, list[Vote]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            with self._lock:
                rows = self._db.query(
                    f"SELECT draft_id, user_id, reaction, vote, version, content_sha256 FROM votes WHERE draft_id IN ({', '.join('?' for _ in chunk)}) "
                    "ORDER BY draft_id, cast_at, rowid",
                    chunk,
                )
                for r in rows:
                    found[r["draft_id"]].append(read.vote(r))
        return found

    def last_actor(self, draft_id: int, action: str) -> str | None:
        """Who last did `action` to the draft, from the event log."""
        with self._lock:
            rows = list(
                self._db.query(
                    "SELECT actor FROM events WHERE draft_id = ? AND action = ? ORDER BY id DESC LIMIT 1", [draft_id, action]
                )
            )
        return rows[0]["actor"] if rows else None

    def digest_origin(self) -> datetime | None:
        """When this ledger's history begins (its first event); a digest due before that was never missed."""
        with self._lock:
            first = list(self._db.query("SELECT at FROM events WHERE id = (SELECT MIN(id) FROM events)"))
        return from_text(first[0]["at"]) if first else None

    def daily_digest(self, scope: str, day: date) -> DigestRecord | None:
        """The scope's daily digest for a local day, if one was claimed."""
        with self._lock:
            rows = list(
                self._db.query("SELECT * FROM digests WHERE kind = 'daily' AND scope = ? AND day = ?", [scope, day.isoformat()])
            )
        return read.digest(rows[0]) if rows else None

    def weekly_digest(self, scope: str, day: date) -> DigestRecord | None:
        """The scope's weekly report for a local day (the day it is sent), if one was claimed."""
        with self._lock:
            rows = list(
                self._db.query("SELECT * FROM digests WHERE kind = 'weekly' AND scope = ? AND day = ?", [scope, day.isoformat()])
            )
        return read.digest(rows[0]) if rows else None

    def publishing_since(self, after: datetime) -> datetime | None:
        """When the oldest publication still on its way, begun after `after`, began (None when none is): one finishing
        now gets a time after it, so a digest that ends there leaves it wholly to the next, never to neither."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(started_at) FROM publications INDEXED BY publications_by_outcome "
                "WHERE outcome = 'publishing' AND started_at > ?",
                [to_text(after)],
            ).fetchone()
        return from_text(row[0]) if row and row[0] else None

    def weekly_sent(self, scope: str) -> set[date]:
        """The days of the scope's weekly reports that went out: the weeks after the last of them are owed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT day FROM digests WHERE kind = 'weekly' AND scope = ? AND outcome = 'sent'", [scope]
            ).fetchall()
        return {date.fromisoformat(day) for (day,) in rows}

    def weekly_end_before(self, scope: str, day: date) -> datetime | None:
        """Where the scope's weekly report before `day` stopped (any claimed): the next one never counts those days again."""
        with self._lock:
            row = self._db.execute(
                "SELECT window_end FROM digests WHERE kind = 'weekly' AND scope = ? AND day < ? ORDER BY day DESC LIMIT 1",
                [scope, day.isoformat()],
            ).fetchone()
        return from_text(row[0]) if row else None

    def previous_digest_end(self, scope: str) -> datetime | None:
        """Where the scope's last daily digest (sent or skipped) stopped: the next one starts there."""
        with self._lock:
            rows = list(
                self._db.query(
                    "SELECT window_end FROM digests WHERE kind = 'daily' AND scope = ? AND outcome IN ('sent', 'skipped') "
                    "ORDER BY day DESC LIMIT 1",
                    [scope],
                )
            )
        return from_text(rows[0]["window_end"]) if rows else None

    def claim_digest(
        self,
        *,
        scope: str,
        day: date | None,
        start: datetime,
        end: datetime,
        channel: str,
        at: datetime,
        outcome: str = "sending",
        kind: str | None = None,
    ) -> int | None:
        """Claim a digest before Slack is asked; None when the scope's digest for that day is claimed already.

        `kind`: daily or on_demand by default (with a day or without), else weekly or weekly_on_demand.
        """
        kind = kind or ("daily" if day else "on_demand")
        with self.transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO digests (scope, kind, day, window_start, window_end, channel, outcome, claimed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    scope,
                    kind,
                    day.isoformat() if day else None,
                    to_text(start),
                    to_text(end),
                    channel,
                    outcome,
                    to_text(at),
                ],
            )
            if cursor.rowcount != 1:
                return None
            digest_id = cursor.lastrowid
            weekly: dict[str, Any] = {"kind": kind} if kind.startswith("weekly") else {}  # the daily ones' events as before
            self.log(
                f"digest_{'skipped' if outcome == 'skipped' else 'claimed'}",
                actor=SYSTEM,
                at=at,
                scope=scope,
                day=day.isoformat() if day else None,
                channel=channel,
                digest_id=digest_id,
                **weekly,
            )
            return digest_id

    def reclaim_digest(self, digest_id: int, *, at: datetime) -> bool:
        """Claim again a digest Slack refused (so it certainly was not posted); False if it is not failed."""
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE digests SET outcome = 'sending', claimed_at = ?, error = NULL WHERE id = ? AND outcome = 'failed'",
                [to_text(at), digest_id],
            )
            return cursor.rowcount == 1

    def digest_sent(self, digest_id: int, *, ts: str, channel: str, at: datetime, found: bool = False) -> None:
        """Record the Slack message of a claimed digest (`found`: in the channel, after a restart)."""
        with self.transaction():
            self._db.execute(
                "UPDATE digests SET outcome = 'sent', channel = ?, message_ts = ?, sent_at = ?, error = NULL WHERE id = ?",
                [channel, ts, to_text(at), digest_id],
            )
            detail = {"found_in_channel": True} if found else {}
            self.log("digest_sent", actor=SYSTEM, at=at, digest_id=digest_id, channel=channel, ts=ts, **detail)

    def digest_failed(self, digest_id: int, *, error: str, at: datetime) -> None:
        """Slack refused the digest: it was not posted, and may be claimed again."""
        with self.transaction():
            self._db.execute("UPDATE digests SET outcome = 'failed', error = ? WHERE id = ?", [error, digest_id])
            self.log("digest_failed", actor=SYSTEM, at=at, digest_id=digest_id, error=error)

    def digests(self) -> list[DigestRecord]:
        """Every digest claimed, oldest first."""
        with self._lock:
            return [read.digest(row) for row in self._db.query("SELECT * FROM digests ORDER BY id")]

    # engagement

    def record_engagement(self, readings: Iterable[Engagement]) -> None:
        """Keep the latest counts read for each post (one transaction; a post's earlier counts are replaced). A reading
        of a post gone from its network keeps the counts last read there and notes when it was found gone."""
        columns = ("publication_id", "draft_id", "network", "read_at", "likes", "reposts", "replies", "quotes", "impressions")
        found = list(readings)
        if not found:
            return
        with self.transaction():
            for e in found:
                if e.gone_at is None:
                    self._db.execute(
                        f"INSERT INTO metrics ({', '.join(columns)}, gone_at) VALUES ({', '.join('?' for _ in columns)}, NULL) "
                        f"ON CONFLICT (publication_id) DO UPDATE SET "
                        f"{', '.join(f'{c} = excluded.{c}' for c in columns[1:])}, gone_at = NULL",
                        [e.publication_id, e.draft_id, e.network, to_text(e.read_at), *astuple(e.counts)],
                    )
                else:
                    self._db.execute(
                        "INSERT INTO metrics (publication_id, draft_id, network, read_at, gone_at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (publication_id) DO UPDATE SET read_at = excluded.read_at, gone_at = excluded.gone_at",
                        [e.publication_id, e.draft_id, e.network, to_text(e.read_at), to_text(e.gone_at)],
                    )

    def engagement_of(self, publication_ids: Iterable[int]) -> dict[int, Engagement]:
        """The latest counts kept for these posts, by publication id (a post never read is absent)."""
        ids = list(publication_ids)
        found: dict[int, Engagement] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                for row in self._db.query(f"SELECT * FROM metrics WHERE publication_id IN ({marks})", chunk):
                    found[row["publication_id"]] = read.engagement(row)
        return found

    def _drafts_by_id(self, ids: set[int]) -> dict[int, Draft]:
        found: dict[int, Draft] = {}
        for chunk in _chunks(sorted(ids)):
            rows = self._db.query(f"SELECT * FROM drafts WHERE id IN ({', '.join('?' for _ in chunk)})", chunk)
            found.update((row["id"], read.draft(row)) for row in rows)
        return found


def _chain_mode(db: Database) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = 'chain'").fetchone() if db["meta"].exists() else None
    return row[0] if row else PLAIN


def _walk_chain(db: Database, key: bytes | None) -> ChainCheck:
    previous, count, mode = GENESIS, 0, _chain_mode(db)
    for row in db.query("SELECT id, at, draft_id, actor, action, detail, hash FROM events ORDER BY id"):
        count += 1
        expected = event_hash(previous, row, key)
        if row["hash"] != expected:
            return ChainCheck(events=count, head=previous, first_broken=row["id"], mode=mode)
        previous = expected
    return ChainCheck(events=count, head=previous, first_broken=None, mode=mode)


def _key_chain(db: Database, target: str, key: bytes | None, rekey: bool) -> None:
    """Make the chain's mode agree with the key copydesk was given: key a new or (on purpose) a plain chain, refuse the rest."""
    mode = _chain_mode(db)
    if key is None:
        if mode == KEYED:
            raise LedgerError(f"{target}: its event chain is keyed; set the variable ledger.hmac_key_env names to its secret")
        return
    if mode == KEYED:
        last = db.execute("SELECT id, at, draft_id, actor, action, detail, hash FROM events ORDER BY id DESC LIMIT 2").fetchall()
        if last:
            row = dict(zip(("id", "at", "draft_id", "actor", "action", "detail", "hash"), last[0], strict=True))
            previous = last[1][6] if len(last) > 1 else GENESIS
            if event_hash(previous, row, key) != row["hash"]:
                raise LedgerError(
                    f"{target}: the secret in ledger.hmac_key_env's variable is not the one this ledger's chain was keyed with"
                )
        return
    if db.execute("SELECT 1 FROM events UNION ALL SELECT 1 FROM drafts LIMIT 1").fetchone() is None:
        with db.atomic():  # a new ledger: keyed from its first event
            db.execute("UPDATE meta SET value = ? WHERE key = 'chain'", [KEYED])
        return
    if not rekey:
        raise LedgerError(
            f"{target}: ledger.hmac_key_env is set, but the event chain is plain SHA-256. If the key was just "
            "set, run `copydesk ledger key` once to key it; otherwise the chain may have been rebuilt by "
            "someone without the key: check it with `copydesk ledger verify` against a backup"
        )
    check = _walk_chain(db, None)
    if check.first_broken is not None:
        raise LedgerError(
            f"{target}: the event log was changed at event {check.first_broken}; a broken chain is not keyed "
            "(copydesk ledger verify shows it; restore a backup)"
        )
    if problems := audit.problems(db):
        raise LedgerError(
            f"{target}: the tables disagree with the event log ({problems[0]}; {len(problems)} in all); "
            "a ledger that does not verify is not keyed"
        )
    with db.atomic():  # one transaction: the whole chain is keyed, or none of it
        previous = GENESIS
        for row in list(db.query("SELECT id, at, draft_id, actor, action, detail FROM events ORDER BY id")):
            previous = event_hash(previous, row, key)
            db.execute("UPDATE events SET hash = ? WHERE id = ?", [previous, row["id"]])
        db.execute("UPDATE meta SET value = ? WHERE key = 'chain'", [KEYED])
    log.info("%s: the event chain is keyed now (HMAC-SHA256, %d event(s) re-hashed)", target, check.events)


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    """SQLite limits the number of parameters in one statement."""
    for i in range(0, len(ids), size):
        yield ids[i : i + size]
