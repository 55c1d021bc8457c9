"""The weekly report as data: who gets which, when it is due, the week it covers and what it says.

Pure: no Slack, no SQL, no drawing. The desk (bot/desk/weekly.py) feeds it from the ledger; handlers/weekly_render.py
and bot/chart.py show it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import WEEKDAYS, Config
from bot.digest import TOP, due_at
from bot.engagement import total
from bot.model import Counts, Draft, Engagement, Publication

DAYS = 7  # a week of local days
TOP_POSTS = 3
MOST = 3  # people named under "wrote most" and "approved most"


@dataclass(frozen=True)
class WeeklyScope:
    """One weekly report: its key in the ledger (as the daily digest's), where and when it goes, the accounts it covers."""

    key: str
    channel: str
    weekday: int  # 0 is Monday
    at: time
    accounts: tuple[str, ...]

    @property
    def day_name(self) -> str:
        """monday … sunday, as app.yaml writes it."""
        return WEEKDAYS[self.weekday]


def weekly_scopes(config: Config) -> list[WeeklyScope]:
    """The daily digest's scopes that have a weekly report: the top-level one, and each account with a digest of its own."""
    found: list[WeeklyScope] = []
    top = config.digest
    if top is not None and top.weekly is not None:
        rest = tuple(name for name, account in config.accounts.items() if account.digest is None)
        if rest:
            found.append(_scope(TOP, top.channel, top.weekly.weekday, top.weekly.at, rest))
    for name, account in config.accounts.items():
        own = account.digest
        if own is not None and own.weekly is not None:
            found.append(_scope(name, own.channel, own.weekly.weekday, own.weekly.at, (name,)))
    return found


def _scope(key: str, channel: str, weekday: int, at: str, accounts: tuple[str, ...]) -> WeeklyScope:
    hour, minute = (int(part) for part in at.split(":"))
    return WeeklyScope(key=key, channel=channel, weekday=weekday, at=time(hour, minute), accounts=accounts)


# when it is due


def latest_weekly_due(now: datetime, weekday: int, at: time, zone: ZoneInfo) -> tuple[date, datetime]:
    """The local day and instant of the most recent report time at or before `now` (daylight saving as the digest's)."""
    today = now.astimezone(zone).date()
    back = (today.weekday() - weekday) % DAYS
    for day in (today - timedelta(days=back), today - timedelta(days=back + DAYS)):
        instant = due_at(day, at, zone)
        if instant <= now:
            return day, instant
    raise AssertionError("a report time exists every week")  # pragma: no cover


def next_weekly_due(now: datetime, weekday: int, at: time, zone: ZoneInfo) -> tuple[date, datetime]:
    """The local day and instant of the first report time after `now`."""
    today = now.astimezone(zone).date()
    ahead = (weekday - today.weekday()) % DAYS
    for day in (today + timedelta(days=ahead), today + timedelta(days=ahead + DAYS)):
        instant = due_at(day, at, zone)
        if instant > now:
            return day, instant
    raise AssertionError("a report time exists every week")  # pragma: no cover


BACKLOG = 4  # weeks a report is owed for after an outage, the latest included: a month, never a flood


def weeks_owed(latest: date, sent: set[date]) -> list[date]:
    """The report days owed, oldest first: of the last BACKLOG weeks, each after the last report that went out (a week
    that failed before a later one went out is not owed again); only the latest when none ever did (a report just
    turned on does not start with the past). A week already done among them is found so, and not sent again."""
    if not sent:
        return [latest]
    last = max(sent)
    return sorted(day for day in (latest - timedelta(days=DAYS * back) for back in range(BACKLOG)) if day > last)


def week_before(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The 7 whole local days before `day`, midnight to midnight, half-open: a Monday's report covers Monday to Sunday."""
    return due_at(day - timedelta(days=DAYS), time(0), zone), due_at(day, time(0), zone)


def week_after(day: date, zone: ZoneInfo, previous_end: datetime | None) -> tuple[datetime, datetime]:
    """The report's window: the 7 whole local days before `day`, less any the report before it covered (its weekday
    changed in app.yaml), so a post is never in two reports."""
    start, end = week_before(day, zone)
    if previous_end is not None and start < previous_end < end:
        start = previous_end
    return start, end


def week_so_far(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The last 7 local days, today's part of it included: what `copydesk digest --weekly` shows."""
    today = now.astimezone(zone).date()
    return due_at(today - timedelta(days=DAYS - 1), time(0), zone), now


# what it says


@dataclass(frozen=True)
class Day:
    """One local day of the week: how many posts went out, and how they landed by the counts read so far."""

    day: date
    posts: int
    interactions: int  # likes, reposts, replies and quotes of that day's posts; a post with no counts read adds 0
    impressions: int | None  # None: no post of the day has impressions read
    read: int  # that day's posts with counts read
    dry_runs: int = 0  # that day's posts that were a dry run: sent nowhere, they never have counts

    @property
    def unread(self) -> bool:
        """Posts went out, and not one of them has counts yet."""
        return self.posts > 0 and self.read == 0

    @property
    def only_dry_runs(self) -> bool:
        """Posts went out, all of them dry runs: no counts will ever come."""
        return self.posts > 0 and self.dry_runs == self.posts


@dataclass(frozen=True)
class TopPost:
    """One of the week's best posts, with its link on each network it went out on."""

    draft_id: int
    handle: str
    text: str
    author: str
    at: datetime
    links: tuple[tuple[str, str], ...]  # (network, link of its first post)
    counts: Counts  # over its parts and networks

    @property
    def number(self) -> str:
        """How people refer to it: #12."""
        return f"#{self.draft_id}"


@dataclass(frozen=True)
class WeeklyReport:
    """What one weekly report says: its days, its best posts, and who wrote and approved most."""

    scope: str
    day: date | None  # the local day it is sent; None for one asked for
    start: datetime
    end: datetime
    zone: ZoneInfo
    handles: tuple[str, ...]
    days: tuple[Day, ...]
    top: tuple[TopPost, ...] = ()
    writers: tuple[tuple[str, int], ...] = ()  # (Slack user, posts written that went out), most first
    approvers: tuple[tuple[str, int], ...] = ()  # (Slack user, approvals of those posts), most first
    dry_runs: int = 0  # of the posts, those that were a dry run (sent nowhere)
    dry_networks: tuple[str, ...] = ()  # the networks those dry runs were not sent to

    @property
    def posts(self) -> int:
        """Posts that went out in the week."""
        return sum(d.posts for d in self.days)

    @property
    def interactions(self) -> int:
        """Every day's interactions together."""
        return sum(d.interactions for d in self.days)

    @property
    def impressions(self) -> int | None:
        """Every day's impressions together, or None when none were read."""
        given = [d.impressions for d in self.days if d.impressions is not None]
        return sum(given) if given else None

    @property
    def read(self) -> int:
        """Posts with counts read."""
        return sum(d.read for d in self.days)

    @property
    def counts_missing(self) -> bool:
        """Posts went out and no counts were read for any of them: the engagement figures say nothing yet."""
        return self.posts > 0 and self.read == 0

    @property
    def only_dry_runs(self) -> bool:
        """Posts went out, all of them dry runs: no counts will ever come."""
        return self.posts > 0 and self.dry_runs == self.posts


@dataclass(frozen=True)
class Post:
    """A post that went out in the week, as the desk hands it over: the draft, its publications there, who approved it."""

    draft: Draft
    handle: str
    publications: tuple[Publication, ...]  # every part on every network that went out in the week, in order
    approvers: tuple[str, ...]

    @property
    def retracted(self) -> bool:
        """Taken back everywhere it went: it went out that day, but is neither ranked nor linked."""
        return all(p.retracted_at is not None for p in self.publications)

    @property
    def dry_run(self) -> bool:
        """A dry run: recorded as going out, sent nowhere (it has no counts and no link)."""
        return all(p.outcome == "dry_run" for p in self.publications)

    @property
    def at(self) -> datetime:
        """When it first went out (its first publication in the week)."""
        return min(p.finished_at or p.started_at for p in self.publications)


def compose(
    scope: str,
    day: date | None,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    handles: tuple[str, ...],
    posts: Iterable[Post],
    engagement: Mapping[int, Engagement],
) -> WeeklyReport:
    """The report for [start, end): each local day's posts and counts (engagement keyed by publication id), the top 3."""
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    dates = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    out = sorted(posts, key=lambda p: (p.at, p.draft.id))
    tallies = {p.draft.id: _tally(p, engagement) for p in out}
    days = []
    for local in dates:
        those = [p for p in out if p.at.astimezone(zone).date() == local]
        counted = [tallies[p.draft.id] for p in those]
        impressions = [t.impressions for t in counted if t is not None and t.impressions is not None]
        days.append(
            Day(
                day=local,
                posts=len(those),
                interactions=sum(t.interactions for t in counted if t is not None),
                impressions=sum(impressions) if impressions else None,
                read=sum(1 for t in counted if t is not None),
                dry_runs=sum(1 for p in those if p.dry_run),
            )
        )
    live = {p.draft.id: _tally(p, engagement, live=True) for p in out}
    ranked = sorted(
        (p for p in out if live[p.draft.id] is not None and not p.retracted), key=lambda p: -_interactions(live[p.draft.id])
    )
    return WeeklyReport(
        scope=scope,
        day=day,
        start=start,
        end=end,
        zone=zone,
        handles=handles,
        days=tuple(days),
        top=tuple(_top(p, live[p.draft.id], engagement) for p in ranked[:TOP_POSTS]),
        writers=_most(p.draft.author_id for p in out),
        approvers=_most(user for p in out for user in p.approvers),
        dry_runs=sum(1 for p in out if p.dry_run),
        dry_networks=tuple(dict.fromkeys(x.network for p in out if p.dry_run for x in p.publications)),
    )


def _tally(post: Post, engagement: Mapping[int, Engagement], *, live: bool = False) -> Counts | None:
    """A post's counts over its parts and networks (as last read: those of a post deleted since count for its day);
    None when none was read yet. `live`: only where it is still there, for the ranking: a post deleted on every network
    by hand is neither ranked nor linked, as one taken back."""
    read = [
        e.counts
        for p in post.publications
        if (e := engagement.get(p.id)) is not None
        and not (e.gone_at is not None and (live or e.counts == Counts()))  # found gone before it was ever read: unread
    ]
    return total(read) if read else None


def _interactions(counts: Counts | None) -> int:
    return counts.interactions if counts else 0


def _top(post: Post, counts: Counts | None, engagement: Mapping[int, Engagement]) -> TopPost:
    links: dict[str, str] = {}
    for publication in post.publications:
        gone = publication.id in engagement and engagement[publication.id].gone_at is not None
        if publication.part == 1 and publication.url and publication.retracted_at is None and not gone:
            links.setdefault(publication.network, publication.url)
    assert counts is not None  # only posts with counts are ranked
    return TopPost(
        draft_id=post.draft.id,
        handle=post.handle,
        text=post.draft.text,
        author=post.draft.author_id,
        at=post.at,
        links=tuple(links.items()),
        counts=counts,
    )


def _most(people: Iterable[str]) -> tuple[tuple[str, int], ...]:
    """The people who come up most, most first (ties in the order they first came up), at most MOST of them."""
    return tuple(Counter(people).most_common(MOST))
