"""`copydesk ledger verify`, beyond the chain: drafts, votes and publications must be what the event log says they are.

The chain proves the event log was not changed; this proves the tables agree with it. Replaying the log gives each
draft's text, version, fingerprint and standing votes, and the content each publication sent; a text changed by hand,
a vote added or removed by hand, or a publication of content its approvals were not for fails, naming the draft.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from bot.content import content_sha256
from bot.images import Image

VoteKey = tuple[str, str]  # (editor, reaction)
# a publication that did not put its part out: the draft's own event (one network), or its network's (several)
LEG_ENDED = ("failed", "held", "retry_scheduled", "network_failed", "network_retrying", "network_held")
Cast = tuple[str, int | None, str | None]  # (approve/reject, version, fingerprint)


@dataclass
class _Draft:
    """One draft as the event log tells it."""

    author: str | None = None
    account: str | None = None
    dry_run: bool = False  # written in a dry run: a rehearsal, never to be sent for real
    revisers: set[str] = field(default_factory=set)  # everyone but the author who changed its text or images
    text: str | None = None
    version: int | None = None
    sha: str | None = None
    votes: dict[VoteKey, Cast] = field(default_factory=dict)
    sent: dict[int, tuple[int | None, str | None]] = field(default_factory=dict)  # publication id → content sent
    # publication id → [outcome (published, or dry_run: nothing sent), post on X (None: unknown), retracted]
    rows: dict[int, list[Any]] = field(default_factory=dict)
    approved: set[str] = field(default_factory=set)  # fingerprints a `publishing` event proved approved
    files: list[str | None] = field(default_factory=list)  # the Slack file each image is on the card as

    @property
    def authors(self) -> set[str]:
        return {who for who in (self.author, *self.revisers) if who}


def problems(db: Database) -> list[str]:
    """Every way the tables disagree with the event log, one line each, naming the draft; empty when they agree."""
    replayed: dict[int, _Draft] = {}
    found: list[str] = []
    for event in db.query("SELECT id, draft_id, actor, action, detail FROM events WHERE draft_id IS NOT NULL ORDER BY id"):
        draft = replayed.setdefault(event["draft_id"], _Draft())
        detail = json.loads(event["detail"]) if event["detail"] else {}
        found.extend(f"#{event['draft_id']}: {p} (event {event['id']})" for p in _replay(draft, event, detail))
    found.extend(_compare(db, replayed))
    return found


def _replay(draft: _Draft, event: dict[str, Any], d: dict[str, Any]) -> Iterator[str]:
    """Apply one event to the draft's replayed state; yield what it proves wrong on its own."""
    action = event["action"]
    if action == "baseline":  # m006: the state of a draft from before content fingerprints, recorded once
        draft.author, draft.account, draft.revisers = d["author"], d["account"], set(d["revisers"])
        draft.files = d["files"]
        draft.text, draft.version, draft.sha = d["text"], d["version"], d["content_sha256"]
        draft.votes = {(u, r): (k, d["version"], d["content_sha256"]) for u, r, k in d["votes"]}
        draft.sent = {p: (d["version"], d["content_sha256"]) for p in d["publications"]}
        draft.rows = {}  # rows from before the baseline are not replayed: their attempts' events named no publication
        draft.approved = {d["content_sha256"]} if d["publications"] else set()
    elif action == "drafted" and "text" in d:
        draft.author, draft.account, draft.revisers, draft.files = event["actor"], d["account"], set(), []
        draft.text, draft.version, draft.sha, draft.votes = d["text"], 1, d["content_sha256"], {}
        draft.dry_run = d.get("dry_run") is True
    elif action == "edited" and "version" in d:
        draft.text, draft.version, draft.sha = d["after"], d["version"], d["content_sha256"]
        draft.votes = _kept(draft.votes, d)
        draft.revisers |= {event["actor"]} - {draft.author}
    elif action == "images_changed" and "content_sha256" in d:
        draft.version, draft.sha, draft.files = d["version"], d["content_sha256"], d.get("files", draft.files)
        draft.revisers |= {event["actor"]} - {draft.author}
        if d.get("votes_cleared"):
            draft.votes = _kept(draft.votes, d)
    elif action == "vote_added":
        draft.votes[(event["actor"], d["reaction"])] = (d["vote"], d.get("version"), d.get("content_sha256"))
    elif action == "vote_removed":
        draft.votes.pop((event["actor"], d["reaction"]), None)
    elif action == "publishing" and "publication_id" in d:
        yield from _publishing(draft, d)
    elif action == "marked_published" and "publication_id" in d:
        outcome = "dry_run" if d.get("dry_run") is True else "published"  # a dry run's, marked without a link, stays one
        draft.rows[d["publication_id"]] = [outcome, d.get("x_post_id"), False]  # a person gave its link, if any
        draft.sent[d["publication_id"]] = (d.get("version"), d.get("content_sha256"))
        if d.get("content_sha256") in draft.approved:
            pass  # found live after an approved sending of that content: it went out then, whatever came since
        elif "approvers" in d:  # never sent by copydesk (held by the pause): its approvals as they stood then
            yield from _publishing(draft, d)
        else:
            yield "marked published, but no approved sending of that content came before"
    elif action in ("part_published", "published", "network_out") and "publication_id" in d:
        post = d.get("last_post_id", d.get("x_post_id")) if action == "published" else d.get("x_post_id")
        draft.rows[d["publication_id"]] = ["dry_run" if d.get("dry_run") is True else "published", post, False]
    elif action in LEG_ENDED and "publication_id" in d:
        draft.rows.setdefault(d["publication_id"], ["failed", None, False])[0] = "failed"
    elif action == "part_retracted" and "publication_id" in d:
        if d["publication_id"] in draft.rows:
            draft.rows[d["publication_id"]][2] = True


def _kept(votes: dict[tuple[str, str], Any], d: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """A new version clears the votes, but those the event says it kept (the owner's veto)."""
    kept = {}
    for user, reaction, *before in d.get("votes_kept", []):  # [user, reaction now, reaction it was cast with]
        if (was := (user, before[0] if before and before[0] else reaction)) in votes:
            kept[(user, reaction)] = votes[was]
    return kept


def _publishing(draft: _Draft, d: dict[str, Any]) -> Iterator[str]:
    """A part on its way to X: its content must be the draft's, and (for the first part of a run) approved then."""
    sha = d.get("content_sha256")
    draft.sent[d["publication_id"]] = (d.get("version"), sha)
    draft.rows.setdefault(d["publication_id"], ["publishing", None, False])
    if sha is None:
        return  # from before content fingerprints, and after the baseline only if the log itself was written so
    if sha != draft.sha or d.get("version") != draft.version:
        yield f"publication {d['publication_id']} sent content that was not the draft's version as recorded"
        return
    if "approvers" not in d:
        if sha not in draft.approved:
            yield f"publication {d['publication_id']} continued a thread whose content was never approved"
        return
    standing = {
        u
        for (u, _), (kind, version, vsha) in draft.votes.items()
        if kind == "approve" and (version, vsha) == (draft.version, sha)
    }
    vetoes = sorted({u for (u, _), (kind, *_) in draft.votes.items() if kind == "reject"})
    missing = [u for u in d["approvers"] if u not in standing]
    own = [u for u in d["approvers"] if u in draft.authors and not d.get("self_approval")]
    outside = [u for u in d["approvers"] if u not in d.get("editors", d["approvers"])]
    if missing:
        yield f"publication {d['publication_id']} names approvals the log does not show for that content ({', '.join(missing)})"
    elif outside:
        yield f"publication {d['publication_id']} counted approvals of people who were not editors then ({', '.join(outside)})"
    elif own:
        yield f"publication {d['publication_id']} counted its own author's approval ({', '.join(own)})"
    elif len(d["approvers"]) < d.get("required", 1):
        yield f"publication {d['publication_id']} went out with {len(d['approvers'])} of {d.get('required')} approvals"
    elif vetoes:
        yield f"publication {d['publication_id']} went out over a veto ({', '.join(vetoes)})"
    else:
        draft.approved.add(sha)


def _compare(db: Database, replayed: dict[int, _Draft]) -> Iterator[str]:
    """The tables against the replay."""
    seen: set[int] = set()
    # a ledger from before dry runs (verified before copydesk has migrated it) has no such column: none of its drafts is one
    dry = "dry_run" if "dry_run" in {c.name for c in db["drafts"].columns} else "0 AS dry_run"
    for row in db.query(
        f"SELECT id, account, author_user_id, revised_by, text, version, content_sha256, {dry} FROM drafts ORDER BY id"
    ):
        seen.add(row["id"])
        draft = replayed.get(row["id"])
        if draft is None or draft.text is None:
            yield f"#{row['id']}: the draft is in the drafts table but the event log never recorded its words"
            continue
        if row["text"] != draft.text:
            yield f"#{row['id']}: its text is not the text the event log recorded for it"
        if (row["author_user_id"], row["account"]) != (draft.author, draft.account):
            yield f"#{row['id']}: its author or account is not the one the event log recorded"
        if bool(row["dry_run"]) != draft.dry_run:  # a rehearsal turned real (or a real draft turned rehearsal) by hand
            yield f"#{row['id']}: it is {'' if row['dry_run'] else 'not '}a dry run in the drafts table, but the event log says otherwise"
        if set((row["revised_by"] or "").split()) != draft.revisers:
            yield f"#{row['id']}: who changed it is not what the event log recorded"
        if (row["version"], row["content_sha256"]) != (draft.version, draft.sha):
            yield f"#{row['id']}: its version or fingerprint is not the one the event log recorded"
        elif content_sha256(row["text"], _images(db, row["id"])) != row["content_sha256"]:
            yield f"#{row['id']}: its text or images do not match the fingerprint its version was reviewed under"
        shown = [
            r["slack_file_id"]
            for r in db.query("SELECT slack_file_id FROM media WHERE draft_id = ? ORDER BY position", [row["id"]])
        ]
        if shown != draft.files:
            yield f"#{row['id']}: the card would show other Slack files than the event log recorded for its images"
        yield from _votes(db, row["id"], draft)
        yield from _publications(db, row["id"], draft)
    for draft_id in sorted(set(replayed) - seen):
        yield f"#{draft_id}: the event log records this draft, but the drafts table has no such row"


def _images(db: Database, draft_id: int) -> list[Image]:
    """The draft's images as stored, each described by the SHA-256 of its bytes as they are now."""
    rows = db.query("SELECT bytes, alt_text FROM media WHERE draft_id = ? ORDER BY position", [draft_id])
    return [Image(name="", mimetype="", size=0, sha256=hashlib.sha256(r["bytes"]).hexdigest(), alt=r["alt_text"]) for r in rows]


def _votes(db: Database, draft_id: int, draft: _Draft) -> Iterator[str]:
    stored = {
        (r["user_id"], r["reaction"]): (r["vote"], r["version"], r["content_sha256"])
        for r in db.query("SELECT user_id, reaction, vote, version, content_sha256 FROM votes WHERE draft_id = ?", [draft_id])
    }
    for key in sorted(set(stored) | set(draft.votes)):
        if key not in draft.votes:
            yield f"#{draft_id}: a vote by {key[0]} ({key[1]}) is in the votes table but not in the event log"
        elif key not in stored:
            yield f"#{draft_id}: a vote by {key[0]} ({key[1]}) in the event log is missing from the votes table"
        elif stored[key] != draft.votes[key]:
            yield f"#{draft_id}: the vote by {key[0]} ({key[1]}) is not the one the event log recorded"


def _publications(db: Database, draft_id: int, draft: _Draft) -> Iterator[str]:
    rows = {
        r["id"]: r
        for r in db.query(
            "SELECT id, outcome, version, content_sha256, x_post_id, retracted_at FROM publications WHERE draft_id = ? ORDER BY id",
            [draft_id],
        )
    }
    for row in rows.values():
        sent = draft.sent.get(row["id"])
        if sent is None:
            yield f"#{draft_id}: publication {row['id']} ({row['outcome']}) is not in the event log"
        elif (row["version"], row["content_sha256"]) != sent:
            yield f"#{draft_id}: publication {row['id']} does not record the content the event log says it sent"
    for publication_id, (outcome, post_id, retracted) in draft.rows.items():
        stored = rows.get(publication_id)
        if stored is None:
            yield f"#{draft_id}: publication {publication_id} is in the event log but not in the publications table"
        elif stored["outcome"] != outcome:
            yield f"#{draft_id}: publication {publication_id} is {stored['outcome']} in the table, {outcome} in the event log"
        elif post_id is not None and stored["x_post_id"] != post_id:
            yield f"#{draft_id}: publication {publication_id} names another post on X than the event log"
        elif (stored["retracted_at"] is not None) != retracted:
            yield f"#{draft_id}: publication {publication_id} is {'' if retracted else 'not '}retracted in the event log, "
            "but the table says otherwise"
