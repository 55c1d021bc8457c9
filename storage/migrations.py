"""Schema changes as code, applied in order on open; a ledger is never changed by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.content import content_sha256
from bot.images import Image
from bot.model import SYSTEM
from storage.chain import GENESIS, event_hash

migrations = Migrations("copydesk")

STATES = "'in_review', 'approved', 'rejected', 'publishing', 'published', 'failed'"
STATES_2 = STATES + ", 'held', 'withdrawn', 'retracted'"
STATES_3 = STATES_2 + ", 'expired'"


@migrations()
def m001_initial(db: Database) -> None:
    """The first release: drafts, votes, publications and the event log."""
    _run(
        db,
        f"""
        CREATE TABLE drafts (
            id INTEGER PRIMARY KEY,              -- shown to people as #id
            account TEXT NOT NULL,               -- key under accounts: in app.yaml
            author_user_id TEXT NOT NULL,        -- Slack user who wrote it
            text TEXT NOT NULL,                  -- exactly what goes to X
            publish_at TEXT,                     -- UTC ISO 8601; NULL: as soon as approved
            state TEXT NOT NULL CHECK (state IN ({STATES})),
            origin_channel_id TEXT,              -- where /draft was typed
            review_channel_id TEXT NOT NULL,     -- where the review card is
            card_ts TEXT,                        -- the card's Slack message ts
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX drafts_by_card ON drafts (review_channel_id, card_ts) WHERE card_ts IS NOT NULL;
        CREATE INDEX drafts_by_state ON drafts (state, publish_at);

        CREATE TABLE votes (
            draft_id INTEGER NOT NULL REFERENCES drafts (id),
            user_id TEXT NOT NULL,               -- the editor
            reaction TEXT NOT NULL,              -- emoji name as Slack sent it
            vote TEXT NOT NULL CHECK (vote IN ('approve', 'reject')),
            cast_at TEXT NOT NULL,
            PRIMARY KEY (draft_id, user_id, reaction)
        );

        CREATE TABLE publications (
            id INTEGER PRIMARY KEY,
            draft_id INTEGER NOT NULL REFERENCES drafts (id),
            account TEXT NOT NULL,
            handle TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN ('publishing', 'published', 'failed')),
            x_post_id TEXT,
            url TEXT,
            error TEXT
        );
        CREATE INDEX publications_by_draft ON publications (draft_id);
        CREATE INDEX publications_by_outcome ON publications (outcome, finished_at);

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            draft_id INTEGER REFERENCES drafts (id),
            actor TEXT NOT NULL,                 -- Slack user ID, or copydesk itself
            action TEXT NOT NULL,                -- drafted, vote_added, approved, published, ...
            detail TEXT                          -- JSON
        );
        CREATE INDEX events_by_draft ON events (draft_id);

        CREATE TABLE slack_events_seen (
            event_id TEXT PRIMARY KEY,           -- Slack's event_id: a redelivery is recognised here
            seen_at TEXT NOT NULL
        );
        """,
    )


@migrations()
def m002_safety(db: Database) -> None:
    """Retries, drafts held for a person, edits and withdrawals, the pause switch, a tamper-evident log."""
    # SQLite cannot change a CHECK in place: rebuild drafts the way SQLite's ALTER TABLE page says
    # (Ledger.open runs migrations with foreign keys off and checks them afterwards).
    _run(
        db,
        f"""
        CREATE TABLE drafts_new (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            author_user_id TEXT NOT NULL,
            text TEXT NOT NULL,
            publish_at TEXT,
            state TEXT NOT NULL CHECK (state IN ({STATES_2})),
            origin_channel_id TEXT,
            review_channel_id TEXT NOT NULL,
            card_ts TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            retry_at TEXT,                       -- next attempt after X failed in a way worth retrying
            first_attempt_at TEXT,               -- when the current run of attempts began (bounds retrying)
            notice TEXT                          -- what the card must tell people (why it is held, edited, ...)
        );
        INSERT INTO drafts_new (id, account, author_user_id, text, publish_at, state, origin_channel_id,
                                review_channel_id, card_ts, created_at, updated_at)
            SELECT id, account, author_user_id, text, publish_at, state, origin_channel_id,
                   review_channel_id, card_ts, created_at, updated_at FROM drafts;
        DROP TABLE drafts;
        ALTER TABLE drafts_new RENAME TO drafts;
        CREATE UNIQUE INDEX drafts_by_card ON drafts (review_channel_id, card_ts) WHERE card_ts IS NOT NULL;
        CREATE INDEX drafts_by_state ON drafts (state, publish_at);

        ALTER TABLE publications ADD COLUMN retracted_at TEXT;

        CREATE TABLE pauses (
            id INTEGER PRIMARY KEY,
            paused_at TEXT NOT NULL,
            paused_by TEXT NOT NULL,             -- the admin who pulled the switch
            reason TEXT,
            resumed_at TEXT,                     -- NULL while publishing is paused
            resumed_by TEXT
        );
        CREATE UNIQUE INDEX one_open_pause ON pauses ((resumed_at IS NULL)) WHERE resumed_at IS NULL;

        ALTER TABLE events ADD COLUMN hash TEXT
        """,
    )
    # events.hash: sha256 chained to the event before (storage/chain.py); existing events join the chain now.
    previous = GENESIS
    rows = list(db.query("SELECT id, at, draft_id, actor, action, detail FROM events ORDER BY id"))
    for row in rows:
        previous = event_hash(previous, row)
        db.execute("UPDATE events SET hash = ? WHERE id = ?", [previous, row["id"]])


@migrations()
def m003_digests(db: Database) -> None:
    """The daily digest: one row per digest claimed, so that no day's digest is sent twice.

    Its window is read through indexes: publications_by_outcome (outcome, finished_at) for what went out,
    drafts_by_state_change for what failed, was rejected, withdrawn or retracted, drafts_by_state for the rest.
    """
    _run(
        db,
        """
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,                 -- '*' for the top-level digest, else the account with its own
            kind TEXT NOT NULL CHECK (kind IN ('daily', 'on_demand')),
            day TEXT,                            -- the local date a daily digest is for (YYYY-MM-DD); NULL on demand
            window_start TEXT NOT NULL,          -- UTC; the digest covers [window_start, window_end)
            window_end TEXT NOT NULL,
            channel TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('sending', 'sent', 'skipped', 'failed')),
            claimed_at TEXT NOT NULL,            -- claimed before Slack is called: a second firing finds this row
            message_ts TEXT,                     -- the Slack message, once Slack confirmed it
            sent_at TEXT,
            error TEXT,                          -- why Slack refused it (outcome failed)
            CHECK ((kind = 'daily') = (day IS NOT NULL))
        );
        CREATE UNIQUE INDEX one_digest_per_scope_and_day ON digests (scope, day) WHERE kind = 'daily';

        CREATE INDEX drafts_by_state_change ON drafts (state, updated_at)
        """,
    )


@migrations()
def m004_threads_media(db: Database) -> None:
    """Threads publish part by part (each part's attempts are its own rows); images are kept with their drafts."""
    _run(
        db,
        """
        -- which post of a thread an attempt is for, from 1; a single post is part 1
        ALTER TABLE publications ADD COLUMN part INTEGER NOT NULL DEFAULT 1;

        CREATE TABLE media (
            id INTEGER PRIMARY KEY,
            draft_id INTEGER NOT NULL REFERENCES drafts (id),
            position INTEGER NOT NULL,           -- 1-based order on the post
            name TEXT NOT NULL,                  -- the file name as shared
            mimetype TEXT NOT NULL,              -- from the file's own bytes: image/png, image/jpeg, image/webp
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            bytes BLOB NOT NULL,                 -- the image itself: a restart or a Slack clean-up loses nothing
            slack_file_id TEXT,                  -- F…, when it came from Slack
            added_at TEXT NOT NULL,
            UNIQUE (draft_id, position)
        )
        """,
    )


@migrations()
def m005_outbox(db: Database) -> None:
    """Slack hears of every change through a durable outbox, written in the change's own transaction; drafts count versions.

    A queue is delivered in id order: `draft:12` for everything about one draft (its card first), `channel:C…` for
    announcements, `message:C…:ts` for reactions on a message copydesk did not know yet when they came.
    """
    _run(
        db,
        """
        -- which version of its text and images a draft is at, from 1; each edit or image change adds one
        ALTER TABLE drafts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            queue TEXT NOT NULL,                 -- delivered in id order within a queue, one at a time
            draft_id INTEGER REFERENCES drafts (id),
            kind TEXT NOT NULL,                  -- card, redraw, reply, dm, retire, announce, remind, reaction
            payload TEXT NOT NULL,               -- JSON: what delivery needs beyond the ledger as it is then
            created_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'gave_up')),
            attempts INTEGER NOT NULL DEFAULT 0, -- claimed before each call to Slack: above 0, an earlier try may have landed
            next_at TEXT NOT NULL,               -- not before (backoff, Retry-After)
            last_attempt_at TEXT,
            error TEXT,                          -- the last failure
            done_at TEXT,
            result TEXT                          -- the message ts it made, when it made one
        );
        CREATE INDEX outbox_pending ON outbox (queue, id) WHERE state = 'pending';
        CREATE INDEX outbox_by_draft ON outbox (draft_id);
        CREATE INDEX outbox_gave_up ON outbox (id) WHERE state = 'gave_up'
        """,
    )


@migrations()
def m006_integrity(db: Database) -> None:
    """Approvals are bound to content: each version has a fingerprint, and votes and publications say which they were for.

    Every existing draft gets a `baseline` event recording its text, fingerprint, standing votes and publications, so
    that `copydesk ledger verify` can check the tables against the event log from here on. `meta` says how the event
    chain is hashed (plain SHA-256 until a key is configured; storage/chain.py).
    """
    _run(
        db,
        """
        -- bot/content.py: the fingerprint of the draft's text, images and alt texts
        ALTER TABLE drafts ADD COLUMN content_sha256 TEXT NOT NULL DEFAULT '';
        -- everyone but the author who changed its text or images, space-separated (barred from approving it too)
        ALTER TABLE drafts ADD COLUMN revised_by TEXT;
        -- held because X may have the post: it can be settled, never withdrawn
        ALTER TABLE drafts ADD COLUMN may_be_live INTEGER NOT NULL DEFAULT 0;
        -- what the image shows, in words: on the card, and X's alt text
        ALTER TABLE media ADD COLUMN alt_text TEXT NOT NULL DEFAULT '';
        -- the version (and its fingerprint) the card showed when the vote was cast: the vote is for exactly that
        ALTER TABLE votes ADD COLUMN version INTEGER;
        ALTER TABLE votes ADD COLUMN content_sha256 TEXT;
        -- the version (and its fingerprint) sent to X, checked against the approvals before sending
        ALTER TABLE publications ADD COLUMN version INTEGER;
        ALTER TABLE publications ADD COLUMN content_sha256 TEXT;
        -- chain: how the event log's hashes are made (sha256, or hmac-sha256 with ledger.hmac_key_env's secret)
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        INSERT INTO meta (key, value) VALUES ('chain', 'sha256')
        """,
    )
    drafts = list(db.query("SELECT id, account, text, version, author_user_id, state FROM drafts ORDER BY id"))
    for draft in drafts:
        media = list(db.query("SELECT sha256, slack_file_id FROM media WHERE draft_id = ? ORDER BY position", [draft["id"]]))
        images = [Image(name="", mimetype="", size=0, sha256=m["sha256"]) for m in media]
        sha = content_sha256(draft["text"], images)
        revisers = {
            row[0]
            for row in db.execute(
                "SELECT actor FROM events WHERE draft_id = ? AND action IN ('edited', 'images_changed')",
                [draft["id"]],
            ).fetchall()
        } - {draft["author_user_id"]}
        revised_by = " ".join(sorted(revisers)) or None
        db.execute(
            "UPDATE drafts SET content_sha256 = ?, revised_by = ?, may_be_live = ? WHERE id = ?",
            [sha, revised_by, int(draft["state"] == "held" and _attempted(db, draft["id"])), draft["id"]],
        )
        db.execute("UPDATE votes SET version = ?, content_sha256 = ? WHERE draft_id = ?", [draft["version"], sha, draft["id"]])
        db.execute(
            "UPDATE publications SET version = ?, content_sha256 = ? WHERE draft_id = ?", [draft["version"], sha, draft["id"]]
        )
        votes = [
            [v["user_id"], v["reaction"], v["vote"]]
            for v in db.query(
                "SELECT user_id, reaction, vote FROM votes WHERE draft_id = ? ORDER BY cast_at, rowid", [draft["id"]]
            )
        ]
        publications = [p["id"] for p in db.query("SELECT id FROM publications WHERE draft_id = ? ORDER BY id", [draft["id"]])]
        _append_event(
            db,
            draft["id"],
            "baseline",
            {
                "account": draft["account"],
                "author": draft["author_user_id"],
                "revisers": sorted(revisers),
                "version": draft["version"],
                "content_sha256": sha,
                "text": draft["text"],
                "images": [m["sha256"] for m in media],
                "files": [m["slack_file_id"] for m in media],
                "votes": votes,
                "publications": publications,
            },
        )


def names() -> list[str]:
    """Every migration's name, in the order they are defined and run: what a ledger of this copydesk has applied."""
    return [m.name for m in migrations.pending(Database(memory=True))]  # on an empty database, all of them are pending


def _attempted(db: Database, draft_id: int) -> bool:
    return db.execute("SELECT 1 FROM publications WHERE draft_id = ? LIMIT 1", [draft_id]).fetchone() is not None


def _append_event(db: Database, draft_id: int, action: str, detail: dict) -> None:
    """One event chained to the last, as Ledger.log writes it (the chain is plain SHA-256 during migrations)."""
    last = db.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    row = {
        "id": last[0] + 1 if last else 1,
        "at": at,
        "draft_id": draft_id,
        "actor": SYSTEM,
        "action": action,
        "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True),
    }
    db.execute(
        "INSERT INTO events (id, at, draft_id, actor, action, detail, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            row["id"],
            row["at"],
            row["draft_id"],
            row["actor"],
            row["action"],
            row["detail"],
            event_hash((last[1] or GENESIS) if last else GENESIS, row),
        ],
    )


def _run(db: Database, script: str) -> None:
    """Statement by statement: executescript would COMMIT the migration's transaction half-way."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m007_policy(db: Database) -> None:
    """Editorial policy: a draft can expire, each version records the rules that applied, and an approval may wait out
    a cooling-off window before it goes."""
    # SQLite cannot change a CHECK in place: rebuild drafts from its own schema, with `expired` among the states
    # (Ledger.open runs migrations with foreign keys off and checks them afterwards).
    _widen(db, "drafts", {f"CHECK (state IN ({STATES_2}))": f"CHECK (state IN ({STATES_3}))"}, made_by="m002")
    _run(
        db,
        """
        -- the rules that applied to this version and what they ask (bot/policy.py), as JSON; NULL: none configured
        ALTER TABLE drafts ADD COLUMN policy TEXT;
        -- an approved draft goes out no earlier than this (the cooling-off window after its quorum)
        ALTER TABLE drafts ADD COLUMN cooling_until TEXT
        """,
    )


def _widen(db: Database, name: str, checks: dict[str, str], *, made_by: str) -> None:
    """Rebuild a table from its own schema with CHECKs replaced, keeping its rows and indexes (SQLite's ALTER TABLE
    page: a CHECK cannot be changed in place)."""
    [table] = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [name]).fetchone()
    for check, wider in checks.items():
        if check not in table:
            raise RuntimeError(f"{name}'s {check} is not the one {made_by} made; the ledger was changed by hand")
        table = table.replace(check, wider)
    indexes = [
        row[0]
        for row in db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql NOT NULL", [name])
    ]
    columns = ", ".join(c.name for c in db[name].columns)
    steps = [
        table.replace(name, f"{name}_new", 1),
        f"INSERT INTO {name}_new ({columns}) SELECT {columns} FROM {name}",
        f"DROP TABLE {name}",
        f"ALTER TABLE {name}_new RENAME TO {name}",
        *indexes,
    ]
    for statement in steps:
        db.execute(statement)


@migrations()
def m008_networks(db: Database) -> None:
    """One approval, several networks: a draft names where it goes, each publication which network it was on, and each
    network's post of a draft (a leg) has its own stage, retry time and error."""
    _run(
        db,
        """
        -- the networks a draft goes to, as JSON (["x", "bluesky"]); NULL: every network of its account
        ALTER TABLE drafts ADD COLUMN networks TEXT;
        ALTER TABLE publications ADD COLUMN network TEXT NOT NULL DEFAULT 'x';
        -- what makes a resend the same post: Bluesky's record key, Mastodon's Idempotency-Key (X has none)
        ALTER TABLE publications ADD COLUMN key TEXT;
        CREATE TABLE legs (
            draft_id INTEGER NOT NULL REFERENCES drafts (id),
            network TEXT NOT NULL,
            stage TEXT NOT NULL CHECK (stage IN ('pending', 'out', 'retrying', 'failed', 'held', 'retracted')),
            retry_at TEXT,
            error TEXT,
            may_be_live INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (draft_id, network)
        )
        """,
    )


@migrations()
def m009_insights(db: Database) -> None:
    """How posts landed and how copydesk is tried: the latest engagement counts of each post, a publication that was
    a dry run (nothing sent), and the weekly report claimed like the daily digest."""
    _widen(
        db,
        "publications",
        {
            "CHECK (outcome IN ('publishing', 'published', 'failed'))": "CHECK (outcome IN ('publishing', 'published', 'failed', 'dry_run'))"
        },
        made_by="m001",
    )
    _widen(
        db,
        "digests",
        {
            "CHECK (kind IN ('daily', 'on_demand'))": "CHECK (kind IN ('daily', 'on_demand', 'weekly', 'weekly_on_demand'))",
            "CHECK ((kind = 'daily') = (day IS NOT NULL))": "CHECK ((kind IN ('daily', 'weekly')) = (day IS NOT NULL))",
        },
        made_by="m003",
    )
    _run(
        db,
        """
        -- written while its account was in a dry run: it is never sent for real, and a real draft never as a dry run
        ALTER TABLE drafts ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0;
        -- a weekly report is claimed once per scope and week (day: the local date it is for), like the daily digest
        CREATE UNIQUE INDEX one_weekly_per_scope_and_day ON digests (scope, day) WHERE kind = 'weekly';
        CREATE TABLE metrics (
            publication_id INTEGER PRIMARY KEY REFERENCES publications (id),  -- the post (one part on one network)
            draft_id INTEGER NOT NULL REFERENCES drafts (id),
            network TEXT NOT NULL,
            read_at TEXT NOT NULL,               -- UTC; when these counts were read from the network (the latest read)
            likes INTEGER,                       -- NULL: the network does not give this count
            reposts INTEGER,
            replies INTEGER,
            quotes INTEGER,
            impressions INTEGER
        );
        CREATE INDEX metrics_by_draft ON metrics (draft_id);
        -- /metrics counts drafts by account and state at every scrape: from this index alone, not the table
        CREATE INDEX drafts_by_account_state ON drafts (account, state)
        """,
    )


@migrations()
def m010_gone(db: Database) -> None:
    """A post deleted on its network by hand: the network said plainly it is gone, and its last counts stay as read."""
    _run(
        db,
        """
        -- UTC; when the network answered that the post no longer exists (X's resource-not-found, Mastodon's 404)
        ALTER TABLE metrics ADD COLUMN gone_at TEXT
        """,
    )
