"""The records copydesk keeps, as the rest of the code sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.review import State


@dataclass(frozen=True)
class Draft:
    """A post as written, where it is in review, and where its card is."""

    id: int
    account: str
    author_id: str
    text: str
    publish_at: datetime | None
    state: State
    review_channel: str
    card_ts: str | None
    origin_channel: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def number(self) -> str:
        """How people refer to it: #12."""
        return f"#{self.id}"


@dataclass(frozen=True)
class Publication:
    """One attempt to publish a draft on X, and how it ended."""

    id: int
    draft_id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    x_post_id: str | None
    url: str | None
    error: str | None


@dataclass(frozen=True)
class Event:
    """One line of the append-only history: who did what to which draft, when."""

    id: int
    at: datetime
    draft_id: int | None
    actor: str
    action: str
    detail: dict
