"""Pre-flight notes: what editors should know about a draft before they vote on it. None of them blocks it.

Pure: the desk reads the ledger and the network's last answer, and hands the values in (bot/desk/reading.py); the
card draws the notes (handlers/render.py).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.model import Earlier
from bot.policy import Condition, Rule, Subject, domains_in, holds, links_in, mentions_in
from bot.ports import Quota, XLimits

SEEN_TEXTS = 8192  # normalised texts remembered between renders: a card is redrawn often, over the same window of posts


@dataclass(frozen=True)
class Duplicate:
    """The same words as an earlier post of the account (ignoring case, spaces and links): X refuses duplicates."""

    draft_id: int
    at: datetime | None
    published: bool


@dataclass(frozen=True)
class Links:
    """The domains linked: X's pay-per-use pricing charges more for a post with a link."""

    domains: tuple[str, ...]


@dataclass(frozen=True)
class Mentions:
    """Who the post @-mentions on X (without the @)."""

    handles: tuple[str, ...]


@dataclass(frozen=True)
class Budget:
    """The account's posts in the last 24 hours, and what X last said is left of its limits (still current)."""

    posted: int
    window: Quota | None  # the 15-minute window
    day: Quota | None  # the 24 hours


@dataclass(frozen=True)
class Hours:
    """The draft's time (now, when it has none) falls inside a rule's `hours`."""

    rule: str
    hours: tuple[time, time]
    at: datetime
    timed: bool  # False: the draft has no time, and `at` is now


Note = Duplicate | Links | Mentions | Budget | Hours


def notes(
    text: str,
    *,
    publish_at: datetime | None,
    now: datetime,
    zone: ZoneInfo,
    earlier: Iterable[Earlier],
    posted: int,
    limits: XLimits | None,
    rules: Sequence[Rule],
) -> tuple[Note, ...]:
    """Every note that applies to the draft, in the order the card shows them."""
    found: list[Note | None] = [
        duplicate(text, earlier),
        Links(tuple(domains)) if (domains := domains_in(text)) else None,
        Mentions(tuple(handles)) if (handles := mentions_in(text)) else None,
        budget(posted, limits, now),
        *hours(publish_at, now, zone, rules),
    ]
    return tuple(n for n in found if n is not None)


def same_words(text: str) -> str:
    """The text as the duplicate check compares it: NFC, without its links, whitespace or case."""
    return _same_words(text)


@lru_cache(maxsize=SEEN_TEXTS)
def _same_words(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    for url in links_in(text):
        text = text.replace(url, " ")
    return "".join(text.casefold().split())


def duplicate(text: str, earlier: Iterable[Earlier]) -> Duplicate | None:
    """The first earlier post with the same words, if any (an empty text once its links are gone matches nothing)."""
    wanted = same_words(text)
    if not wanted:
        return None
    for post in earlier:
        if same_words(post.text) == wanted:
            return Duplicate(post.draft_id, post.at, post.published)
    return None


def budget(posted: int, limits: XLimits | None, now: datetime) -> Budget | None:
    """The budget, with only the limits whose window has not reset since X reported them; None when nothing is known."""
    window = _current(limits.window, now) if limits else None
    day = _current(limits.day, now) if limits else None
    if not posted and window is None and day is None:
        return None
    return Budget(posted, window, day)


def _current(quota: Quota | None, now: datetime) -> Quota | None:
    return quota if quota is not None and (quota.resets is None or quota.resets > now) else None


def hours(publish_at: datetime | None, now: datetime, zone: ZoneInfo, rules: Sequence[Rule]) -> list[Hours]:
    """The rules whose `hours` the draft's time (now, when it has none) falls inside, in the config's timezone."""
    at = (publish_at or now).astimezone(zone)
    subject = Subject(text="", media=False, at=at)
    return [
        Hours(rule.name, rule.when.hours, at, publish_at is not None)
        for rule in rules
        if rule.when.hours is not None and holds(Condition(hours=rule.when.hours), subject)
    ]
