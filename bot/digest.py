"""The daily digest as data: who gets which digest, when it is due, the window it covers and what it says.

Pure: no Slack, no SQL. Times in, times out; the desk (bot/desk/digests.py) feeds it from the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import SETTINGS, Config, Digest
from bot.engagement import Counts, total
from bot.errors import BadTime

TOP = "*"  # the top-level digest's scope: every account without a digest of its own
DAY = timedelta(hours=24)
MAX_WINDOW = timedelta(days=7)  # after a long outage the catch-up digest covers at most a week
SECTIONS = ("published", "failed", "rejected", "withdrawn", "retracted", "expired", "waiting", "scheduled")


@dataclass(frozen=True)
class Scope:
    """One daily digest: its key in the ledger, where and when it goes, and the accounts it covers."""

    key: str
    channel: str
    at: time
    skip_empty: bool
    accounts: tuple[str, ...]
    metrics: bool = field(default_factory=lambda: _setting("digest.metrics"))  # read the listed posts' counts first
    metrics_timeout: float = field(default_factory=lambda: float(_setting("digest.metrics_timeout_seconds")))


def scopes(config: Config) -> list[Scope]:
    """An account with a digest block gets its own; the top-level digest covers every other account."""
    found: list[Scope] = []
    if config.digest is not None:
        rest = tuple(name for name, account in config.accounts.items() if account.digest is None)
        if rest:
            found.append(_scope(TOP, config.digest, rest))
    for name, account in config.accounts.items():
        if account.digest is not None:
            found.append(_scope(name, account.digest, (name,)))
    return found


def _scope(key: str, digest: Digest, accounts: tuple[str, ...]) -> Scope:
    hour, minute = (int(part) for part in digest.at.split(":"))
    return Scope(
        key=key,
        channel=digest.channel,
        at=time(hour, minute),
        skip_empty=digest.skip_empty,
        accounts=accounts,
        metrics=digest.metrics,
        metrics_timeout=digest.metrics_timeout_seconds,
    )


def _setting(path: str) -> Any:
    return next(s.default for s in SETTINGS if s.path == path)


# when it is due


def due_at(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant `zone` shows `at` on `day`: exactly one per day, whatever daylight saving does.

    A time the clocks skip (02:30 on a spring-forward day) moves forward by the gap (03:30); a time
    they repeat (01:30 on a fall-back day) is its first occurrence. PEP 495's fold=0 gives both.
    """
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)


def latest_due(now: datetime, at: time, zone: ZoneInfo) -> tuple[date, datetime]:
    """The local day and instant of the most recent digest time at or before `now`."""
    today = now.astimezone(zone).date()
    for back in range(3):
        day = today - timedelta(days=back)
        instant = due_at(day, at, zone)
        if instant <= now:
            return day, instant
    raise AssertionError("a digest time exists every day")  # pragma: no cover


def next_due(now: datetime, at: time, zone: ZoneInfo) -> tuple[date, datetime]:
    """The local day and instant of the first digest time after `now`."""
    today = now.astimezone(zone).date()
    for ahead in range(3):
        day = today + timedelta(days=ahead)
        instant = due_at(day, at, zone)
        if instant > now:
            return day, instant
    raise AssertionError("a digest time exists every day")  # pragma: no cover


def window(end: datetime, previous_end: datetime | None) -> tuple[datetime, datetime]:
    """Since the previous digest of the scope (a week at most), else the last 24 hours; half-open [start, end)."""
    if previous_end is None:
        return end - DAY, end
    return min(max(previous_end, end - MAX_WINDOW), end), end


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def parse_since(text: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """`--since`: a duration back from now (24h, 7d, 1d12h, 90m), an ISO date (its local midnight) or datetime."""
    spec = text.strip()
    duration = _DURATION.match(spec)
    if spec and duration and any(duration.groups()):
        days, hours, minutes = (int(g) if g else 0 for g in duration.groups())
        return now - timedelta(days=days, hours=hours, minutes=minutes)
    try:
        if len(spec) == 10:
            moment = datetime.combine(date.fromisoformat(spec), time(0))
        else:
            moment = datetime.fromisoformat(spec)
    except ValueError:
        raise BadTime(f"--since {spec!r} is not a time I can read; try 24h, 7d, 2026-11-20 or 2026-11-20T09:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    moment = moment.astimezone(UTC)
    if moment > now:
        raise BadTime(f"--since {spec} is in the future")
    return moment


# what it says


@dataclass(frozen=True)
class Line:
    """One draft in a digest: what it says, who wrote it, when, and who decided it."""

    draft_id: int
    account: str
    handle: str
    text: str
    author: str
    at: datetime | None  # when it went out, failed or changed; when it is due for the scheduled ones
    url: str | None = None  # its link on X, once published
    people: tuple[str, ...] = ()  # approvers, vetoers, or who withdrew or retracted it
    note: str | None = None  # X's reason for a failure, why it is held, how far its review is
    networks: tuple[str, ...] = ("x",)  # where it goes, in order
    links: tuple[tuple[str, str], ...] = ()  # (network, link of its first post) for each network it went out on
    counts: tuple[tuple[str, Counts], ...] = ()  # (network, how its first post there landed), for each network read
    gone: tuple[str, ...] = ()  # the networks that say its post is no longer there (deleted by hand): no counts, no best
    dry: str | None = None  # a dry run's "DRY RUN — not sent to X": in whichever section, it goes (or went) nowhere

    @property
    def interactions(self) -> int:
        """Likes, reposts, replies and quotes on every network it is on: what makes it the best post of a digest."""
        return sum(c.interactions for _, c in self.counts)

    @property
    def several(self) -> bool:
        """Whether it goes to more than one network (its line then links each)."""
        return len(self.networks) > 1

    @property
    def number(self) -> str:
        """How people refer to it: #12."""
        return f"#{self.draft_id}"


@dataclass(frozen=True)
class Report:
    """What one digest says: the window it covers and a section per kind of outcome."""

    scope: str
    day: date | None  # the local day of a daily digest; None for one asked for
    start: datetime
    end: datetime
    zone: ZoneInfo
    handles: tuple[str, ...]
    published: tuple[Line, ...] = ()
    failed: tuple[Line, ...] = ()
    rejected: tuple[Line, ...] = ()
    withdrawn: tuple[Line, ...] = ()
    retracted: tuple[Line, ...] = ()
    expired: tuple[Line, ...] = ()  # still in review when their time ran out (expire_after_hours, on_missed_time)
    waiting: tuple[Line, ...] = ()  # in review, or held for a person: waiting for a decision
    scheduled: tuple[Line, ...] = ()  # approved, going out in the 24 hours after `end`
    landed: tuple[Line, ...] = ()  # the posts of the window before this one, with their counts read again now
    read: tuple[tuple[str, str], ...] = ()  # (handle, network) of each account's counts asked for on each network
    unavailable: tuple[tuple[str, str], ...] = ()  # ... and those that failed, were rate-limited or did not answer in time
    dry_runs: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (handle, its networks) of each account here in a dry run

    @property
    def best(self) -> Line | None:
        """The post that went out in the window with the most likes, reposts, replies and quotes (the first of a tie);
        None when none has any."""
        ranked = [line for line in self.published if line.interactions > 0]
        return max(ranked, key=lambda line: line.interactions) if ranked else None

    @property
    def totals(self) -> Counts | None:
        """Every count of the window's posts added up, over their networks; None when no post has counts."""
        counted = [c for line in self.published for _, c in line.counts]
        return total(counted) if counted else None

    @property
    def counts(self) -> Mapping[str, int]:
        """How many lines each section has."""
        return {name: len(getattr(self, name)) for name in SECTIONS}

    @property
    def empty(self) -> bool:
        """Nothing happened, nothing waits and nothing is coming: the digest would list nothing."""
        return not any(self.counts.values())


def shorten(text: str, limit: int = 100) -> str:
    """A post on one line, cut at a word near `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.6 else cut).rstrip(" ,.;:") + "…"
