"""What the domain needs from the outside world, so that bot/ never imports Slack."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.config import Account
from bot.images import Image
from bot.digest import Report
from bot.length import Length
from bot.model import Draft, Pause, Publication
from bot.review import State


@dataclass(frozen=True)
class DraftView:
    """Everything a card or a list line shows about one draft."""

    draft: Draft
    account: Account
    approvers: tuple[str, ...]
    rejecters: tuple[str, ...]
    length: Length
    publication: Publication | None
    pause: Pause | None = None
    parts: tuple[Length, ...] = ()  # a thread's parts, in order; one entry for a single post
    parts_out: tuple[int, ...] = ()  # the parts already on X (a thread that stopped half-way)
    images: tuple[Image, ...] = ()  # described, without their bytes


@dataclass(frozen=True)
class Overview:
    """One person's App Home: the switch, what waits for their vote, the queue, and what went out lately."""

    pause: Pause | None
    waiting_for_you: list[DraftView]
    queue: list[DraftView]
    recent: list[DraftView]
    card_links: dict[int, str] = field(default_factory=dict)  # draft → its review card, for what waits for a vote


@dataclass(frozen=True)
class Change:
    """A draft moved from one state to another because of `actor` (a user ID, or copydesk)."""

    before: State
    after: State
    actor: str


@dataclass(frozen=True)
class CardRef:
    """Where a review card lives in Slack."""

    channel: str
    ts: str


class Notifier(Protocol):
    """Tells people in Slack what happened to a draft."""

    def post_card(self, view: DraftView) -> CardRef:
        """Post the review card in the account's review channel."""
        ...

    def permalink(self, card: CardRef) -> str | None:
        """A link to the card, for the author."""
        ...

    def refresh(self, view: DraftView, change: Change | None) -> None:
        """Update the card in place; for a change, also reply in its thread and tell the author."""
        ...

    def retire_card(self, card: CardRef, view: DraftView, replaced_by: str | None) -> None:
        """Mark an old card of an edited draft as replaced, so nobody votes on the old text there."""
        ...

    def remind(self, view: DraftView, editors: list[str]) -> None:
        """Tell the editors who have not voted, in the card's thread, that the draft waits for them."""
        ...

    def announce(self, channel: str, text: str) -> None:
        """Say something to a whole review channel (the pause, and the resume)."""
        ...

    def post_digest(self, channel: str, report: Report) -> str:
        """Post a digest tagged with its scope and day, so it can be found again; its message ts.

        Raises DigestNotPosted when Slack refused it (it certainly is not there).
        """
        ...

    def find_digest(self, channel: str, scope: str, day: date) -> str | None:
        """The ts of the scope's daily digest for `day` if it is in the channel; SlackUnavailable if that cannot be told."""
        ...


class Directory(Protocol):
    """What Slack knows about people."""

    def timezone_of(self, user_id: str) -> ZoneInfo | None:
        """The user's time zone from their Slack profile, if it has a valid one."""
        ...

    def members_of(self, group_id: str) -> frozenset[str]:
        """The users in a user group (S…)."""
        ...
