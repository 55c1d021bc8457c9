"""Rows to domain values and back: how each ledger column reads as Python. No SQL and no connection here (the Ledger owns those)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from bot.legs import Leg, Stage
from bot.model import Counts, DigestRecord, Draft, Engagement, Event, Outgoing, Publication
from bot.policy import Policy
from bot.review import Kind, State, Vote


def to_text(moment: datetime) -> str:
    """UTC, ISO 8601 with milliseconds and a Z: sorts as text and reads well in Datasette."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def moment(text: str) -> datetime:
    """A time the ledger always has (a NOT NULL column), back as an aware datetime."""
    return datetime.fromisoformat(text)


def from_text(text: str | None) -> datetime | None:
    """The inverse of to_text."""
    return datetime.fromisoformat(text) if text else None


def digest(row: dict[str, Any]) -> DigestRecord:
    """A digests row as the domain's record of one digest."""
    return DigestRecord(
        id=row["id"],
        scope=row["scope"],
        kind=row["kind"],
        day=date.fromisoformat(row["day"]) if row["day"] else None,
        window_start=moment(row["window_start"]),
        window_end=moment(row["window_end"]),
        channel=row["channel"],
        outcome=row["outcome"],
        claimed_at=moment(row["claimed_at"]),
        message_ts=row["message_ts"],
        sent_at=from_text(row["sent_at"]),
        error=row["error"],
    )


def draft(row: dict[str, Any]) -> Draft:
    """A drafts row as the domain's Draft."""
    return Draft(
        id=row["id"],
        account=row["account"],
        author_id=row["author_user_id"],
        text=row["text"],
        publish_at=from_text(row["publish_at"]),
        state=State(row["state"]),
        review_channel=row["review_channel_id"],
        card_ts=row["card_ts"],
        origin_channel=row["origin_channel_id"],
        created_at=moment(row["created_at"]),
        updated_at=moment(row["updated_at"]),
        retry_at=from_text(row["retry_at"]),
        first_attempt_at=from_text(row["first_attempt_at"]),
        notice=row["notice"],
        version=row["version"],
        content_sha256=row["content_sha256"],
        revisers=frozenset(revisers(row["revised_by"])),
        may_be_live=bool(row["may_be_live"]),
        policy=Policy.from_json(row["policy"]) if row.get("policy") else None,
        cooling_until=from_text(row.get("cooling_until")),
        networks=tuple(json.loads(row["networks"])) if row.get("networks") else (),
        dry_run=bool(row.get("dry_run")),
    )


def revisers(column: str | None) -> set[str]:
    """drafts.revised_by: the user IDs of everyone but the author who changed the draft, space-separated."""
    return set((column or "").split())


def vote(row: dict[str, Any]) -> Vote:
    """A votes row as the domain's Vote."""
    return Vote(row["user_id"], row["reaction"], Kind(row["vote"]), row["version"], row["content_sha256"])


def outgoing(row: dict[str, Any]) -> Outgoing:
    """An outbox row as a message waiting for Slack."""
    return Outgoing(
        id=row["id"],
        queue=row["queue"],
        draft_id=row["draft_id"],
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        created_at=moment(row["created_at"]),
        attempts=row["attempts"],
        next_at=moment(row["next_at"]),
    )


def publication(row: dict[str, Any]) -> Publication:
    """A publications row: one attempt to put a post (or one part of a thread) on X."""
    return Publication(
        id=row["id"],
        draft_id=row["draft_id"],
        started_at=moment(row["started_at"]),
        finished_at=from_text(row["finished_at"]),
        outcome=row["outcome"],
        x_post_id=row["x_post_id"],
        url=row["url"],
        error=row["error"],
        retracted_at=from_text(row["retracted_at"]),
        part=row["part"],
        content_sha256=row["content_sha256"],
        network=row.get("network") or "x",
        key=row.get("key"),
    )


def engagement(row: dict[str, Any]) -> Engagement:
    """A metrics row: the latest counts read for one post."""
    return Engagement(
        publication_id=row["publication_id"],
        draft_id=row["draft_id"],
        network=row["network"],
        read_at=moment(row["read_at"]),
        counts=Counts(row["likes"], row["reposts"], row["replies"], row["quotes"], row["impressions"]),
        gone_at=from_text(row.get("gone_at")),
    )


def leg(row: dict[str, Any]) -> Leg:
    """A legs row: one network's post of one draft."""
    return Leg(
        network=row["network"],
        stage=Stage(row["stage"]),
        retry_at=from_text(row["retry_at"]),
        error=row["error"],
        may_be_live=bool(row["may_be_live"]),
    )


def event(row: dict[str, Any]) -> Event:
    """An events row, its detail decoded from JSON."""
    return Event(
        id=row["id"],
        at=moment(row["at"]),
        draft_id=row["draft_id"],
        actor=row["actor"],
        action=row["action"],
        detail=json.loads(row["detail"]) if row["detail"] else {},
    )
