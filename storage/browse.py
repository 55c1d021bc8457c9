"""The ledger as people browse it (`copydesk ledger browse`, Datasette): what every table and column means, and the canned
queries, as Datasette metadata. Plain data: it imports no Datasette, and bot/runtime/browse.py serves it.

Each description says what the column holds as storage/migrations.py made it; a migration that adds a table or a column
adds its description here (tests/test_browse.py fails on one without).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from bot.errors import LedgerError
from storage import readonly
from storage.migrations import names

DATABASE = "copydesk"  # the ledger's name in Datasette's URLs (/copydesk/drafts), whatever its file is called
HIDDEN = ("slack_events_seen", "_sqlite_migrations")  # plumbing: listed under "hidden tables", still described

TIME = "UTC, ISO 8601 with milliseconds (2026-11-22T17:00:00.000Z)"
USER = "a Slack user ID (U…)"

TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "drafts": (
        "One row per draft: its text as it stands now (its latest version), its state and its review card. "
        "Older versions are in the events (drafted, edited).",
        {
            "id": "The draft's number, shown to people as #id.",
            "account": "The account it is for: its key under accounts: in app.yaml.",
            "author_user_id": f"Who wrote it: {USER}.",
            "text": "Exactly what goes to the network (a thread's parts are separated as written).",
            "publish_at": f"When it is to go out, {TIME}; empty: as soon as it is approved.",
            "state": "in_review, approved, rejected, publishing, published, failed, held (waits for a person), withdrawn, "
            "retracted (taken back from the networks) or expired.",
            "origin_channel_id": "The Slack channel where /draft was typed, if it was typed in one.",
            "review_channel_id": "The Slack channel of its review card.",
            "card_ts": "The review card's Slack message ts; empty until the card is up.",
            "created_at": f"When it was written, {TIME}.",
            "updated_at": f"When its row last changed, {TIME}.",
            "retry_at": "While a network is being retried: when the next attempt is due.",
            "first_attempt_at": "When the current run of attempts to publish it began (retrying stops some time after).",
            "notice": "What its card tells people: why it is held or failed, who edited it.",
            "version": "Which version of its text and images it is at: 1, then one more for each edit or image change.",
            "content_sha256": "The fingerprint of this version: SHA-256 over the exact text, each image's SHA-256 and its "
            "alt text (bot/content.py). An approval is for exactly this.",
            "revised_by": "Everyone but the author who changed its text or images, space-separated; "
            "like the author, they cannot approve it.",
            "may_be_live": "1 when it is held because a network may have the post: it can be settled, never withdrawn.",
            "policy": "JSON: the editorial rules that applied to this version and what they ask (approvals_required, "
            "require, cooling_off_minutes); empty when none are configured.",
            "cooling_until": f"An approved draft goes out no earlier than this ({TIME}): the cooling-off window.",
            "networks": 'JSON: the networks its on: chose (["x", "bluesky"]); empty: every network of its account.',
            "dry_run": "1: written while its account was in a dry run (never sent for real); 0: a real draft.",
        },
    ),
    "votes": (
        "One row per vote that stands: an editor's reaction (or button) on a review card, for the version it showed. "
        "A vote taken back is deleted here and kept in the events (vote_added, vote_removed).",
        {
            "draft_id": "The draft voted on (drafts.id).",
            "user_id": f"The editor: {USER}.",
            "reaction": "The emoji name as Slack sent it, or button for the card's buttons.",
            "vote": "approve or reject.",
            "cast_at": f"When it was cast, {TIME}.",
            "version": "The version of the draft the card showed: the vote is for exactly that version.",
            "content_sha256": "The fingerprint of that version (drafts.content_sha256 then).",
        },
    ),
    "publications": (
        "One row per attempt to publish one post (or one part of a thread) on one network, written before the network "
        "is called, so a crash leaves a trace.",
        {
            "id": "The attempt's number.",
            "draft_id": "The draft published (drafts.id).",
            "account": "The account it went out for.",
            "handle": "The account's handle on that network.",
            "started_at": f"When the attempt began, {TIME}.",
            "finished_at": f"When it ended (the post made, or the failure), {TIME}; empty while under way.",
            "outcome": "publishing (under way), published, failed, or dry_run (nothing was sent).",
            "x_post_id": "The post's id on its network (despite the name, on Bluesky and Mastodon too); for a dry "
            "run, made up (dry-run-…): nothing was sent.",
            "url": "The post's link; empty for a dry run.",
            "error": "Why it failed, as the network said.",
            "retracted_at": f"When the post was deleted from the network, {TIME}; empty while it is up.",
            "part": "Which post of a thread this is, from 1; a single post is part 1.",
            "version": "The version of the draft that was sent: its approvals were checked to be for exactly this.",
            "content_sha256": "The fingerprint of the version sent.",
            "network": "x, bluesky or mastodon.",
            "key": "What makes a resend the same post: Bluesky's record key, Mastodon's Idempotency-Key; empty on X.",
        },
    ),
    "legs": (
        "One row per network a draft goes to, once it is claimed for publishing: where that network's post stands.",
        {
            "draft_id": "The draft (drafts.id).",
            "network": "x, bluesky or mastodon.",
            "stage": "pending, out, retrying, failed, held (waits for a person) or retracted (taken back, never sent again).",
            "retry_at": f"While retrying: when the next attempt is due, {TIME}.",
            "error": "Why it failed or is held.",
            "may_be_live": "1 when it is held because the network may have the post.",
            "updated_at": f"When it last changed, {TIME}.",
        },
    ),
    "events": (
        "The event log, append-only: every state change, who made it and when, hash-chained so that a change after the "
        "fact shows (copydesk ledger verify).",
        {
            "id": "The event's number, in the order they happened.",
            "at": f"When, {TIME}.",
            "draft_id": "The draft it is about (drafts.id); empty for events of copydesk as a whole (pause, resume).",
            "actor": f"Who did it: {USER}, or copydesk for what copydesk did on its own.",
            "action": "What happened: drafted, edited, images_changed, vote_added, vote_removed, approved, rejected, "
            "publishing, published, failed, held, retracted, expired, …",
            "detail": "JSON: what the event records (the text and fingerprint of a version, the vote and the version it was "
            "for, the approvers a publication was checked against, …).",
            "hash": "SHA-256 (or HMAC-SHA256 with the ledger's key) over this event and the hash before it.",
        },
    ),
    "media": (
        "One row per image attached to a draft, with the image itself.",
        {
            "id": "The image's number.",
            "draft_id": "The draft it is on (drafts.id).",
            "position": "Its place on the post, from 1.",
            "name": "The file name as shared in Slack.",
            "mimetype": "image/png, image/jpeg or image/webp, from the file's own bytes.",
            "size": "Its size in bytes.",
            "sha256": "The SHA-256 of its bytes (part of the draft's fingerprint).",
            "bytes": "The image itself, so that a restart or a Slack clean-up loses nothing.",
            "slack_file_id": "The Slack file (F…) it came from.",
            "added_at": f"When it was attached, {TIME}.",
            "alt_text": "What the image shows, in words: on the card, and the network's alt text.",
        },
    ),
    "pauses": (
        "One row per pull of the crisis switch (/draft pause): while a pause is open, nothing is published.",
        {
            "id": "The pause's number.",
            "paused_at": f"When publishing was paused, {TIME}.",
            "paused_by": f"The admin who paused it: {USER}.",
            "reason": "The reason they gave.",
            "resumed_at": f"When publishing resumed, {TIME}; empty while it is paused.",
            "resumed_by": f"The admin who resumed it: {USER}.",
        },
    ),
    "digests": (
        "One row per digest claimed (daily, on demand, weekly), written before Slack is called so no day's digest goes twice.",
        {
            "id": "The digest's number.",
            "scope": "* for the top-level digest, else the account that has a digest of its own.",
            "kind": "daily, on_demand (copydesk digest --post), weekly or weekly_on_demand.",
            "day": "The local date (YYYY-MM-DD) a daily or weekly digest is for; empty on demand.",
            "window_start": f"The start of the time it covers, {TIME} (included).",
            "window_end": f"The end of the time it covers, {TIME} (excluded).",
            "channel": "The Slack channel it goes to.",
            "outcome": "sending, sent, skipped or failed.",
            "claimed_at": f"When it was claimed, before Slack was called, {TIME}.",
            "message_ts": "The Slack message's ts, once Slack confirmed it.",
            "sent_at": f"When Slack confirmed it, {TIME}.",
            "error": "Why Slack refused it (outcome failed).",
        },
    ),
    "outbox": (
        "One row per message Slack must hear (a card, a thread reply, a direct message, …), written in the same "
        "transaction as the change it tells of, and delivered in order.",
        {
            "id": "The message's number: each queue is delivered in this order.",
            "queue": "draft:ID for everything about one draft, channel:C… for announcements, message:C…:TS for a "
            "reaction on a message copydesk did not know yet.",
            "draft_id": "The draft it is about (drafts.id), if any.",
            "kind": "card, redraw, reply, dm, confirm, retire, announce, remind, reaction, …",
            "payload": "JSON: what delivering it needs beyond the ledger as it is then.",
            "created_at": f"When it was queued, {TIME}.",
            "state": "pending, sent or gave_up.",
            "attempts": "Tries so far, counted before each call to Slack: above 0, an earlier try may have landed.",
            "next_at": f"Not before this ({TIME}): backoff, or Slack's Retry-After.",
            "last_attempt_at": f"When it was last tried, {TIME}.",
            "error": "The last failure.",
            "done_at": f"When it was sent or given up on, {TIME}.",
            "result": "The ts of the Slack message it made, when it made one.",
        },
    ),
    "metrics": (
        "One row per post (one part on one network): its latest engagement counts, as last read from the network.",
        {
            "publication_id": "The post (publications.id).",
            "draft_id": "Its draft (drafts.id).",
            "network": "x, bluesky or mastodon.",
            "read_at": f"When these counts were read, {TIME}.",
            "likes": "Likes (favourites on Mastodon); empty when the network does not give it.",
            "reposts": "Reposts (boosts on Mastodon); empty when the network does not give it.",
            "replies": "Replies; empty when the network does not give it.",
            "quotes": "Quotes; empty when the network does not give it.",
            "impressions": "Impressions; empty when the network does not give it.",
            "gone_at": f"When the network said the post no longer exists (deleted there by hand), {TIME}; the counts are "
            "the last read while it was there. Empty while it is there.",
        },
    ),
    "meta": (
        "Facts about the ledger itself.",
        {
            "key": "What the fact is: chain (how the event log is hashed).",
            "value": "For chain: sha256, or hmac-sha256 when it is keyed (ledger.hmac_key_env).",
        },
    ),
    "slack_events_seen": (
        "One row per Slack event already acted on, so that a redelivered event never counts twice.",
        {
            "event_id": "Slack's event_id.",
            "seen_at": f"When copydesk first saw it, {TIME}.",
        },
    ),
    "_sqlite_migrations": (
        "The schema changes applied to this ledger, in order (sqlite-utils' migrations; storage/migrations.py).",
        {
            "id": "The order they were applied in.",
            "migration_set": "copydesk.",
            "name": "The migration: m001_initial, m002_safety, …",
            "applied_at": "When it was applied (UTC).",
        },
    ),
}

# The event that records the approvals a post went out with: the latest of its draft, at or before the post's own
# publication, that names approvers (the claim's `publishing`, or `marked_published`; bot/desk/core.py
# approval_record). Never the votes table: a vote can still be taken back, or its editor leave, after the post is out.
_APPROVAL_EVENT = """(
        SELECT e.id FROM events e
        WHERE e.draft_id = {p}.draft_id AND json_type(e.detail, '$.approvers') = 'array'
          AND json_extract(e.detail, '$.publication_id') <= {p}.id
        ORDER BY e.id DESC LIMIT 1
    )"""

_APPROVERS = f"""
    SELECT group_concat(value, ' ') FROM (
        SELECT a.value FROM events e, json_each(e.detail, '$.approvers') a
        WHERE e.id = {_APPROVAL_EVENT.format(p="p")}
        ORDER BY a.key
    )"""

WHO_APPROVED_WHAT = f"""
SELECT
    p.draft_id AS draft,
    d.account,
    p.network,
    p.part,
    p.finished_at AS published_at,
    d.author_user_id AS author,
    d.text,
    ({_APPROVERS.strip()}) AS approvers,
    p.version AS approved_version,
    p.content_sha256,
    p.url,
    p.outcome,
    p.retracted_at
FROM publications p JOIN drafts d ON d.id = p.draft_id
WHERE p.outcome IN ('published', 'dry_run')
ORDER BY p.finished_at DESC, p.id DESC
""".strip()

DRAFT_HISTORY = """
SELECT e.id AS event, e.at, e.actor, e.action, e.detail
FROM events e
WHERE e.draft_id = CAST(ltrim(trim(:draft_id), '#') AS INTEGER)
ORDER BY e.id
""".strip()

FAILURES_AND_HOLDS = """
SELECT what, draft, account, state, network, part, at, error, may_be_live FROM (
    SELECT 'publication failed' AS what, p.draft_id AS draft, p.account, d.state, p.network, p.part,
           p.finished_at AS at, p.error, NULL AS may_be_live
    FROM publications p JOIN drafts d ON d.id = p.draft_id
    WHERE p.outcome = 'failed'
    UNION ALL
    SELECT 'network ' || l.stage, l.draft_id, d.account, d.state, l.network, NULL, l.updated_at, l.error, l.may_be_live
    FROM legs l JOIN drafts d ON d.id = l.draft_id
    WHERE l.stage IN ('failed', 'held')
    UNION ALL
    SELECT 'draft ' || d.state, d.id, d.account, d.state, NULL, NULL, d.updated_at, d.notice, d.may_be_live
    FROM drafts d
    WHERE d.state IN ('failed', 'held')
)
ORDER BY at DESC, draft DESC, what
""".strip()

PER_PERSON_PER_WEEK = f"""
WITH went_out AS (  -- each draft that went out, when it first did, and that first post
    SELECT draft_id, MIN(finished_at) AS at, id
    FROM publications WHERE outcome = 'published' GROUP BY draft_id
),
approvals AS (  -- whose approvals that first post went out with, as its event records them
    SELECT DISTINCT w.draft_id, a.value AS user_id
    FROM went_out w JOIN events e ON e.id = {_APPROVAL_EVENT.format(p="w")}, json_each(e.detail, '$.approvers') a
),
activity AS (
    SELECT author_user_id AS person, created_at AS at, 1 AS written, 0 AS published, 0 AS approved FROM drafts
    UNION ALL
    SELECT d.author_user_id, w.at, 0, 1, 0 FROM went_out w JOIN drafts d ON d.id = w.draft_id
    UNION ALL
    SELECT a.user_id, w.at, 0, 0, 1 FROM approvals a JOIN went_out w ON w.draft_id = a.draft_id
)
SELECT date(at, '-6 days', 'weekday 1') AS week, person,
       SUM(written) AS written, SUM(published) AS published, SUM(approved) AS approved
FROM activity
GROUP BY week, person
ORDER BY week DESC, published DESC, approved DESC, person
""".strip()

QUERIES: dict[str, dict[str, Any]] = {
    "who_approved_what": {
        "title": "Who approved what",
        "description": "Each post that went out (one row per part of a thread on each network), newest first: its text, "
        "its author, the editors whose approvals it went out with, as its publishing event recorded them then (in the "
        "order they approved; a vote taken back later does not change them), "
        "that version and its fingerprint, and its link. A dry run (outcome dry_run) was not sent; retracted_at says "
        "when a post was taken back.",
        "sql": WHO_APPROVED_WHAT,
    },
    "draft_history": {
        "title": "A draft's history",
        "description": "Every event of one draft, in order: who did what, when, and what it recorded (detail, JSON). "
        "Give its number: 12 or #12. copydesk ledger history ID tells the same story in words.",
        "sql": DRAFT_HISTORY,
        "params": ["draft_id"],
    },
    "failures_and_holds": {
        "title": "Failures and holds",
        "description": "What did not go as planned, newest first: each failed attempt to publish (with the network's "
        "error), each network on which a draft failed or is held, and each draft that failed or waits for a person "
        "(with what its card says). state is the draft's state now.",
        "sql": FAILURES_AND_HOLDS,
    },
    "per_person_per_week": {
        "title": "Posts and approvals per person per week",
        "description": "For each week (from Monday, UTC) and person: drafts written that week, their posts that first "
        "went out that week, and the posts that went out that week with their approval, as recorded when they went out. "
        "Dry runs do not count.",
        "sql": PER_PERSON_PER_WEEK,
    },
}


def metadata() -> dict[str, Any]:
    """Datasette's metadata for the ledger: its title, every table and column described, the canned queries."""
    return {
        "title": "copydesk ledger",
        "description": "Everything copydesk did: drafts and their versions, the votes on them, every attempt to publish, "
        "and the event log that records it all. Read-only: nothing here can change the ledger. Times are UTC.",
        "databases": {
            DATABASE: {
                "description": "The copydesk ledger. Start with the canned queries below; every table and column is "
                "described on its page.",
                "tables": {
                    name: {"description": about, "columns": columns, **({"hidden": True} if name in HIDDEN else {})}
                    for name, (about, columns) in TABLES.items()
                },
                "queries": QUERIES,
            }
        },
    }


def check(path: Path) -> None:
    """Raise LedgerError unless `path` is a copydesk ledger of this copydesk's schema; opened read-only, changing nothing."""
    if not path.is_file():
        raise LedgerError(f"{path}: there is no ledger here (set --db or COPYDESK_DB)")
    try:
        conn = readonly.connect(path)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            applied = (
                [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'copydesk' ORDER BY id")]
                if "_sqlite_migrations" in tables
                else []
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise LedgerError(f"{path}: cannot be opened as a copydesk ledger ({e})") from None
    if not applied or not {"drafts", "events"} <= tables:
        raise LedgerError(f"{path}: is not a copydesk ledger")
    known = names()
    if newer := [name for name in applied if name not in known]:
        raise LedgerError(f"{path}: was written by a newer copydesk (migrations {', '.join(newer)}); browse it with that one")
    if applied != known:
        raise LedgerError(f"{path}: was written by an older copydesk; start copydesk once to bring it up to date")
