"""Schema changes as code, applied in order on open; a ledger is never changed by hand."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("copydesk")

STATES = "'in_review', 'approved', 'rejected', 'publishing', 'published', 'failed'"


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
        """
    )


def _run(db: Database, script: str) -> None:
    """Statement by statement: executescript would COMMIT the migration's transaction half-way."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)
