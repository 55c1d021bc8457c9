"""A ledger with a long past, built fast: two days written by the real desk, the first copied back in time with SQL.

Writing a million posts through the Desk would take hours, so the desk writes a template ledger: one ordinary
day (posts written, carded, approved by two editors, published; a thread; vetoes, a withdrawal, a failure, a
retraction; the daily digest at its end), then the last 24 hours (the same day again, plus what is open now:
drafts in review, scheduled, held). A target ledger gets the ordinary day copied back N days N times, oldest
first, then the last day as written: only the length of the history differs between two targets.

All the SQL here is benchmark set-up, not product code: copydesk itself never writes a ledger this way.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.config import Config, load_config
from bot.desk import Desk
from bot.desk.core import Core
from bot.digest import TOP, Report
from bot.errors import Delivery, PublishError
from bot.images import Image
from bot.messenger import Messenger, draft_queue
from bot.model import Draft
from bot.networks import Count, count_x
from bot.ports import Announcement, CardRef, Change, DraftView, Posted
from bot.weekly import WeeklyReport
from storage.ledger import Ledger

# 18:00 in Los Angeles: the daily digest is due, and the last one went out 24 hours ago.
NOW = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
POSTS_PER_DAY = 100  # published posts in each day of history, and in the last 24 hours
SLOT = timedelta(minutes=12)  # one draft's life from /draft to X, one after the other, through the day

AUTHORS = ("U0AUTHOR01", "U0AUTHOR02", "U0AUTHOR03", "U0AUTHOR04", "U0AUTHOR05")
ACCOUNTS: dict[str, dict[str, Any]] = {  # name: (share of the day's posts, app.yaml block)
    "main": {
        "share": 60,
        "handle": "copydesk_main",
        "review_channel": "C0REVIEWMAIN",
        "editors": ["U0EDITOR01", "U0EDITOR02", "U0EDITOR03"],
    },
    "news": {
        "share": 30,
        "handle": "copydesk_news",
        "review_channel": "C0REVIEWNEWS",
        "editors": ["U0EDITOR03", "U0EDITOR04", "U0EDITOR05"],
    },
    "jobs": {"share": 10, "handle": "copydesk_jobs", "review_channel": "C0REVIEWJOBS", "editors": ["U0EDITOR01", "U0EDITOR05"]},
}
PLACEHOLDER = "not-used-by-the-benchmark"  # nothing here talks to Slack or X
WORDS = (
    "launch",
    "update",
    "today",
    "our",
    "team",
    "ships",
    "a",
    "new",
    "release",
    "thanks",
    "everyone",
    "who",
    "came",
    "to",
    "the",
    "meetup",
    "read",
    "more",
    "about",
    "how",
    "we",
    "built",
    "it",
    "and",
    "what",
    "comes",
    "next",
)


def write_config(folder: Path) -> Config:
    """The app.yaml of a team with three accounts, each approved by two editors, and a daily digest at 18:00."""
    raw = {
        "timezone": "America/Los_Angeles",
        "admins": ["U0ADMIN01"],
        "accounts": {
            name: {k: v for k, v in spec.items() if k != "share"} | {"approvals_required": 2} for name, spec in ACCOUNTS.items()
        },
        "default_account": "main",
        "digest": {"channel": "C0DIGEST01", "at": "18:00"},
    }
    path = folder / "app.yaml"
    path.write_text(yaml.safe_dump(raw))
    environ = {
        "SLACK_BOT_TOKEN": PLACEHOLDER,
        "X_CONSUMER_KEY": PLACEHOLDER,
        "X_CONSUMER_SECRET": PLACEHOLDER,
        "X_ACCESS_TOKEN": PLACEHOLDER,
        "X_ACCESS_TOKEN_SECRET": PLACEHOLDER,
    }
    return load_config(path, environ, db=folder / "unused.db")


# The desk's collaborators, without Slack or X


class QuietNotifier:
    """A Slack that accepts every card and digest and says nothing (the Notifier port)."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.sent = 0

    def _ts(self) -> str:
        self.sent += 1
        return f"{int(self.clock().timestamp())}.{self.sent % 1_000_000:06d}"

    def post_card(self, view: DraftView) -> CardRef:
        return CardRef(view.account.review_channel, self._ts())

    def find_card(self, channel: str, draft_id: int, version: int) -> CardRef | None:
        return None

    def card_mark(self, channel: str, ts: str) -> None:
        return None

    def permalink(self, card: CardRef) -> str | None:
        return None

    def redraw(self, card: CardRef, view: DraftView) -> None:
        pass

    def reply(self, card: CardRef, view: DraftView, change: Change, tag: str) -> None:
        pass

    def remind(self, card: CardRef, view: DraftView, editors: list[str], tag: str) -> None:
        pass

    def tell_author(self, view: DraftView, change: Change, tag: str) -> None:
        pass

    def confirm(self, view: DraftView, link: str | None, tag: str) -> None:
        pass

    def retire_card(self, card: CardRef, view: DraftView, replaced_by: str | None) -> None:
        pass

    def note(self, card: CardRef, text: str) -> None:
        pass

    def fetch_image(self, file: Any) -> Image:
        raise NotImplementedError("the benchmarks share no files")

    def tell_privately(self, user: str, text: str, tag: str, *, channel: str | None = None, thread_ts: str | None = None) -> None:
        pass

    def announce(self, channel: str, announcement: Announcement, tag: str) -> None:
        pass

    def find_tagged(self, channel: str, tag: str, *, thread_ts: str | None = None) -> bool:
        return False

    def post_digest(self, channel: str, report: Report) -> str:
        return self._ts()

    def finish_weekly(self, channel: str, ts: str, report: WeeklyReport, chart: bytes | None) -> None:
        pass

    def post_weekly(self, channel: str, report: WeeklyReport, chart: bytes | None) -> str:
        return self._ts()

    def find_digest(self, channel: str, scope: str, day: date, kind: str = "daily") -> str | None:
        return None


class QuietDirectory:
    """A Slack with no profile time zones, no user groups and empty channels (the Directory port)."""

    def timezone_of(self, user_id: str) -> None:
        return None

    def members_of(self, group_id: str) -> frozenset[str]:
        return frozenset()

    def members_of_channel(self, channel_id: str) -> frozenset[str]:
        return frozenset()


class StandInX:
    """An X account that posts whatever it is given, with snowflake-like ids, or fails the way it is told to."""

    EPOCH_MS = 1288834974657  # X's snowflake epoch

    def __init__(self, handle: str, clock: FixedClock) -> None:
        self.handle = handle
        self.clock = clock
        self.failing: Delivery | None = None
        self.posted = 0

    network = "x"

    def publish(self, text: str, *, reply_to: str | None = None, media_ids: Any = (), key: str | None = None) -> Posted:
        if self.failing is not None:
            raise PublishError(
                "X answered 403 Forbidden" if self.failing is Delivery.REFUSED else "X did not answer", delivery=self.failing
            )
        self.posted += 1
        post_id = str(((int(self.clock().timestamp() * 1000) - self.EPOCH_MS) << 22) | (self.posted % 4096))
        return Posted(post_id, f"https://x.com/{self.handle}/status/{post_id}")

    def upload(self, image: Image) -> str:
        return "1"

    def find(self, text: str, since: datetime, *, key: str | None = None) -> Posted | None:
        raise PublishError("X did not answer the search either", delivery=Delivery.UNKNOWN)

    def delete(self, post_id: str) -> None:
        pass

    def key_for(self, draft_id: int, version: int, part: int, at: datetime) -> None:
        return None

    def count(self, text: str) -> Count:
        return count_x(text)

    def url_of(self, post_id: str) -> str:
        return post_id

    def link_id(self, url: str) -> str:
        return url.rsplit("/", 1)[-1]

    def limits(self) -> None:
        return None  # X's rate-limit headers: this stand-in sends none

    def engagement(self, post_ids: Any) -> Iterator[Any]:
        return iter(())  # no counts: the benchmark's digest reads none


class FixedClock:
    """The desk's clock: it reads whatever the builder (or the benchmark) set."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def quiet_desk(config: Config, ledger: Ledger, clock: FixedClock, kind: type[Core] = Core) -> Desk:
    """The real Desk with nothing that goes over HTTP and no scheduler (nothing fires by itself)."""
    return Desk.around(
        kind(config, ledger, directory=QuietDirectory(), clock=clock),
        publishers={name: {"x": StandInX(account.handle, clock)} for name, account in config.accounts.items()},
        notifier=QuietNotifier(clock),
    )


class UnseenCore(Core):
    """The real desk's core for writing the template, minus queueing card redraws and thread replies: only cards go up.

    Nobody sees these cards, and rendering each one (X's length rules over every text) would be most of the set-up time.
    """

    def tell_slack(self, draft: Draft, change: Change | None, *, at: datetime) -> None:
        pass


def put_up_cards(desk: Desk, draft_id: int) -> None:
    """What the courier does for a new draft, at once and in this thread: its card goes up and the ledger records it."""
    messenger = Messenger(
        desk.core.ledger,
        desk.digests.notifier,
        view=desk.reading.view,
        clock=desk.core.clock,
        postings=desk.postings,
        card_posted=lambda _draft_id: None,
        reaction=desk.voting.settle_reaction,
    )
    for message in desk.core.ledger.outbox_queue(draft_queue(draft_id)):
        messenger.deliver(replace(message, attempts=message.attempts + 1))


# The template: one ordinary day, then the last 24 hours


@dataclass
class Spans:
    """The template's highest ids at the end of the ordinary day: rows up to these are the day that is copied."""

    drafts: int
    events: int
    publications: int
    digests: int
    counts: dict[str, int] = field(default_factory=dict)  # the template's rows per table, for the report


class Writer:
    """Drives the desk through a day as people would: /draft, reactions, the scheduler's publish job, /draft cancel."""

    def __init__(self, desk: Desk, clock: FixedClock) -> None:
        self.desk = desk
        self.clock = clock
        self.made = 0
        self.events_seen = 0
        self.written: dict[int, Draft] = {}  # as submitted: its account and author
        self.editors = {name: spec["editors"] for name, spec in ACCOUNTS.items()}

    def text(self, thread: bool = False) -> str:
        n = self.made
        words = [WORDS[(n * 7 + i * 3) % len(WORDS)] for i in range(12 + n % 25)]
        body = f"#{n} " + " ".join(words).capitalize() + "."
        if n % 4 == 0:
            body += f" https://example.com/notes/{n}"
        if thread:
            body += "\n---\n" + " ".join(words[:10]) + ".\n---\nMore soon."
        return body

    def draft(self, account: str, *, publish_at: datetime | None = None, thread: bool = False) -> int:
        self.made += 1
        draft = self.desk.drafting.submit(
            author_id=AUTHORS[self.made % len(AUTHORS)],
            text=self.text(thread),
            account=account,
            at=None,
            origin_channel="C0GENERAL",
            publish_at=publish_at,
        )
        self.written[draft.id] = draft
        self.clock.now += timedelta(seconds=2)
        put_up_cards(self.desk, draft.id)
        return draft.id

    def editor(self, draft_id: int, which: int) -> str:
        return self.editors[self.written[draft_id].account][which]

    def react(self, draft_id: int, editor: int, reaction: str) -> None:
        draft = self.desk.core.ledger.draft(draft_id)
        assert draft is not None and draft.card_ts is not None
        self.events_seen += 1
        self.desk.voting.react(
            user_id=self.editor(draft_id, editor),
            reaction=reaction,
            channel=draft.review_channel,
            ts=draft.card_ts,
            added=True,
            event_id=f"Ev{self.events_seen:08X}",
        )

    def approve(self, draft_id: int) -> None:
        self.clock.now += timedelta(minutes=4)
        self.react(draft_id, 0, "white_check_mark")
        self.clock.now += timedelta(minutes=4)
        self.react(draft_id, 1, "white_check_mark")

    def publish(self, draft_id: int, at: datetime | None = None, failing: Delivery | None = None) -> None:
        """The scheduler's job fires (at the post's time, or at once) and X answers, or fails as told."""
        self.clock.now = at or self.clock.now + timedelta(seconds=1)
        x = self.desk.publishing.publishers[self.written[draft_id].account]["x"]
        assert isinstance(x, StandInX)
        x.failing = failing
        try:
            self.desk.publishing.publish(draft_id)
        finally:
            x.failing = None

    def day(self, start: datetime) -> datetime:
        """One ordinary day from `start`: POSTS_PER_DAY posts go out, two are vetoed, one withdrawn, one fails, one retracted."""
        accounts = [name for name, spec in ACCOUNTS.items() for _ in range(spec["share"])]
        extras = {17: "vetoed", 43: "withdrawn", 61: "failed", 88: "vetoed"}
        slot, published = start, []
        for i in range(POSTS_PER_DAY + len(extras)):
            self.clock.now = slot
            account = accounts[(i * 37) % len(accounts)]
            kind = extras.get(i)
            if kind == "vetoed":
                draft_id = self.draft(account)
                self.clock.now += timedelta(minutes=6)
                self.react(draft_id, 1, "x")
            elif kind == "withdrawn":
                draft_id = self.draft(account)
                self.clock.now += timedelta(minutes=9)
                self.desk.drafting.withdraw(draft_id, self.written[draft_id].author_id)
            elif kind == "failed":
                draft_id = self.draft(account)
                self.approve(draft_id)
                self.publish(draft_id, failing=Delivery.REFUSED)
            else:
                due = slot + timedelta(minutes=10) if i % 5 == 0 else None  # every fifth post has a time (at:WHEN)
                draft_id = self.draft(account, publish_at=due, thread=i == 50)
                self.approve(draft_id)
                self.publish(draft_id, at=due)
                published.append(draft_id)
            if i == 70:  # an editor deletes an earlier post from X
                self.clock.now += timedelta(seconds=30)
                self.desk.settling.retract(published[30], self.editor(published[30], 0))
            slot += SLOT
        return slot

    def open_now(self, start: datetime) -> None:
        """What waits at NOW: 20 drafts in review (8 with one approval), 10 approved for later, 3 held for a person."""
        self.clock.now = start
        names = list(ACCOUNTS)
        for i in range(20):
            draft_id = self.draft(names[i % 3])
            if i % 5 < 2:
                self.clock.now += timedelta(minutes=1)
                self.react(draft_id, 0, "white_check_mark")
            self.clock.now += timedelta(minutes=1)
        for i in range(10):
            draft_id = self.draft(names[i % 3], publish_at=NOW + timedelta(hours=1 + 7 * i))  # within and beyond tomorrow
            self.approve(draft_id)
        for i in range(3):
            draft_id = self.draft(names[i % 3])
            self.approve(draft_id)
            self.publish(draft_id, failing=Delivery.UNKNOWN)  # X never answered, nor could say: a person must look


def write_template(folder: Path) -> tuple[Path, Spans, Config]:
    """The ordinary day and the last 24 hours, written through the real desk into `folder`/template.db."""
    config = write_config(folder)
    path = folder / "template.db"
    ledger = Ledger.open(path)
    clock = FixedClock(NOW - 2 * DAY)
    desk = quiet_desk(config, ledger, clock, UnseenCore)
    writer = Writer(desk, clock)
    writer.day(NOW - 2 * DAY + timedelta(minutes=5))
    clock.now = NOW - DAY
    desk.digests.run_digest(TOP)  # the daily digest closes the ordinary day
    spans = Spans(_max_id(path, "drafts"), _max_id(path, "events"), _max_id(path, "publications"), _max_id(path, "digests"))
    end = writer.day(NOW - DAY + timedelta(minutes=5))
    writer.open_now(end)
    ledger.close()
    with closing(sqlite3.connect(path)) as conn:
        spans.counts = table_counts(conn)
    return path, spans, config


def _max_id(path: Path, table: str) -> int:
    """Read through a connection of its own, as anyone with the file can (the desk's ledger keeps writing meanwhile)."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0]


HISTORY_TABLES = ("drafts", "votes", "publications", "events", "digests", "slack_events_seen", "media")


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in HISTORY_TABLES}


# Copying: one transaction on a plain sqlite3 connection


def _shift(column: str) -> str:
    """A stored UTC time (to_text's format) moved back by the copy's days; NULL stays NULL."""
    return f"strftime('%Y-%m-%dT%H:%M:%fZ', {column}, p.modifier)"


def _shift_ts(column: str) -> str:
    """A Slack message ts (seconds.micro) moved back by the copy's days, so (channel, ts) stays unique."""
    return f"CAST(CAST({column} AS INTEGER) - p.back * 86400 AS TEXT) || substr({column}, instr({column}, '.'))"


X_DAY = 86_400_000 << 22  # one day in a snowflake id's timestamp bits


def _shift_x(column: str) -> str:
    """An X post id (a snowflake: its high bits are the time) moved back by the copy's days."""
    return f"CAST(CAST({column} AS INTEGER) - p.back * {X_DAY} AS TEXT)"


COPIES = {
    "drafts": f"""
        INSERT INTO main.drafts (id, account, author_user_id, text, publish_at, state, origin_channel_id, review_channel_id,
                                 card_ts, created_at, updated_at, retry_at, first_attempt_at, notice, version, content_sha256,
                                 revised_by, may_be_live)
        SELECT d.id + p.drafts, d.account, d.author_user_id, d.text, {_shift("d.publish_at")}, d.state, d.origin_channel_id,
               d.review_channel_id, {_shift_ts("d.card_ts")}, {_shift("d.created_at")}, {_shift("d.updated_at")},
               {_shift("d.retry_at")}, {_shift("d.first_attempt_at")}, d.notice, d.version, d.content_sha256, d.revised_by,
               d.may_be_live
        FROM temp.plan p CROSS JOIN t.drafts d WHERE d.id BETWEEN p.drafts_from AND p.drafts_to ORDER BY p.copy, d.id""",
    "votes": f"""
        INSERT INTO main.votes (draft_id, user_id, reaction, vote, cast_at, version, content_sha256)
        SELECT v.draft_id + p.drafts, v.user_id, v.reaction, v.vote, {_shift("v.cast_at")}, v.version, v.content_sha256
        FROM temp.plan p CROSS JOIN t.votes v WHERE v.draft_id BETWEEN p.drafts_from AND p.drafts_to
        ORDER BY p.copy, v.draft_id, v.rowid""",
    "publications": f"""
        INSERT INTO main.publications (id, draft_id, account, handle, started_at, finished_at, outcome, x_post_id, url,
                                       error, retracted_at, part, version, content_sha256)
        SELECT u.id + p.publications, u.draft_id + p.drafts, u.account, u.handle, {_shift("u.started_at")},
               {_shift("u.finished_at")}, u.outcome, {_shift_x("u.x_post_id")},
               CASE WHEN u.x_post_id IS NULL THEN u.url ELSE 'https://x.com/' || u.handle || '/status/' || {_shift_x("u.x_post_id")} END,
               u.error, {_shift("u.retracted_at")}, u.part, u.version, u.content_sha256
        FROM temp.plan p CROSS JOIN t.publications u
        WHERE u.id BETWEEN p.publications_from AND p.publications_to ORDER BY p.copy, u.id""",
    # The event log is hash-chained (storage/chain.py). A copied event keeps its template row's hash: the column
    # is filled as copydesk fills it, but the copies do not chain (verify_chain would stop at the first copy).
    # Neither the digest nor /draft list reads the chain. The publication an event names is the copy's, so the tables
    # still agree with the log (`copydesk ledger verify` past the chain).
    "events": f"""
        INSERT INTO main.events (id, at, draft_id, actor, action, detail, hash)
        SELECT e.id + p.events, {_shift("e.at")}, e.draft_id + p.drafts, e.actor, e.action,
               CASE WHEN json_extract(e.detail, '$.publication_id') IS NULL THEN e.detail
                    ELSE json_set(e.detail, '$.publication_id', json_extract(e.detail, '$.publication_id') + p.publications) END,
               e.hash
        FROM temp.plan p CROSS JOIN t.events e WHERE e.id BETWEEN p.events_from AND p.events_to ORDER BY p.copy, e.id""",
    "digests": f"""
        INSERT INTO main.digests (id, scope, kind, day, window_start, window_end, channel, outcome, claimed_at,
                                  message_ts, sent_at, error)
        SELECT g.id + p.digests, g.scope, g.kind, date(g.day, p.modifier), {_shift("g.window_start")},
               {_shift("g.window_end")}, g.channel, g.outcome, {_shift("g.claimed_at")}, {_shift_ts("g.message_ts")},
               {_shift("g.sent_at")}, g.error
        FROM temp.plan p CROSS JOIN t.digests g WHERE g.id BETWEEN p.digests_from AND p.digests_to ORDER BY p.copy, g.id""",
    # Slack's event ids seen (one per reaction): the copy number goes into the id, oldest first.
    "slack_events_seen": f"""
        INSERT INTO main.slack_events_seen (event_id, seen_at)
        SELECT printf('Ev%06d', p.copy) || substr(s.event_id, 3), {_shift("s.seen_at")}
        FROM temp.plan p CROSS JOIN t.slack_events_seen s
        WHERE s.seen_at >= p.seen_from AND s.seen_at < p.seen_to ORDER BY p.copy, s.event_id""",
}


def _plan(spans: Spans, days: int, total: dict[str, int]) -> Iterator[tuple[Any, ...]]:
    """One row per copy of the ordinary day (oldest first), then the last 24 hours as written."""
    cut = (NOW - DAY).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for copy in range(days):
        back = days - 1 - copy
        yield (
            copy,
            back,
            f"-{back} days",
            copy * spans.drafts,
            1,
            spans.drafts,
            copy * spans.events,
            1,
            spans.events,
            copy * spans.publications,
            1,
            spans.publications,
            copy * spans.digests,
            1,
            spans.digests,
            "",
            cut,
        )
    last = days - 1
    yield (
        days,
        0,
        "-0 days",
        last * spans.drafts,
        spans.drafts + 1,
        total["drafts"],
        last * spans.events,
        spans.events + 1,
        total["events"],
        last * spans.publications,
        spans.publications + 1,
        total["publications"],
        last * spans.digests,
        spans.digests + 1,
        total["digests"],
        cut,
        "9",
    )


def grow(target: Path, template: Path, spans: Spans, posts: int) -> dict[str, Any]:
    """A ledger at `target` with `posts` published posts: the template's ordinary day copied back, then its last day."""
    recent = POSTS_PER_DAY
    if posts < 2 * recent or (posts - recent) % POSTS_PER_DAY:
        raise ValueError(f"posts must be a multiple of {POSTS_PER_DAY}, at least {2 * recent}")
    days = (posts - recent) // POSTS_PER_DAY  # copies of the ordinary day
    started = time.perf_counter()
    Ledger.open(target).close()  # copydesk's own schema, every migration applied
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        # A rollback journal for the bulk copy (new pages past the end of the file are not journaled) instead of a WAL
        # that would hold the whole ledger twice; put back to WAL at the end, as copydesk keeps it.
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")
        conn.execute("ATTACH DATABASE ? AS t", [str(template)])
        total = {
            table: conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM t.{table}").fetchone()[0]
            for table in ("drafts", "events", "publications", "digests")
        }
        conn.execute("BEGIN")
        conn.execute(
            "CREATE TEMP TABLE plan (copy INTEGER PRIMARY KEY, back INTEGER, modifier TEXT, drafts INTEGER, drafts_from INTEGER,"
            " drafts_to INTEGER, events INTEGER, events_from INTEGER, events_to INTEGER, publications INTEGER,"
            " publications_from INTEGER, publications_to INTEGER, digests INTEGER, digests_from INTEGER, digests_to INTEGER,"
            " seen_from TEXT, seen_to TEXT)"
        )
        conn.executemany(f"INSERT INTO temp.plan VALUES ({', '.join('?' * 17)})", _plan(spans, days, total))
        for statement in COPIES.values():
            conn.execute(statement)
        conn.execute("DROP TABLE temp.plan")
        conn.execute("COMMIT")
        copied = time.perf_counter()
        conn.execute("DETACH DATABASE t")
        # A ledger that has lived for years has statistics (ANALYZE, or PRAGMA optimize): the planner uses them.
        conn.execute("ANALYZE")
        analysed = time.perf_counter()
        conn.execute("PRAGMA journal_mode = WAL")
        stats = conn.execute("SELECT COUNT(*) FROM sqlite_stat1").fetchone()[0]
        counts = table_counts(conn)
        published = conn.execute("SELECT COUNT(DISTINCT draft_id) FROM publications WHERE outcome = 'published'").fetchone()[0]
    finally:
        conn.close()
    return {
        "posts": published,
        "days": days + 1,
        "rows": counts,
        "mib": round(target.stat().st_size / 2**20, 1),
        "copy_seconds": round(copied - started, 2),
        "analyze_seconds": round(analysed - copied, 2),
        "stat1_rows": stats,
    }
