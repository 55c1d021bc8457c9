"""What the domain needs from the outside world, so that bot/ never imports Slack."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from bot.config import Account
from bot.digest import Report
from bot.engagement import Read
from bot.images import Image
from bot.legs import Leg
from bot.length import Length
from bot.model import Draft, Pause, Publication
from bot.networks import Count
from bot.review import State
from bot.weekly import WeeklyReport

if TYPE_CHECKING:
    from bot.preflight import Note


@dataclass(frozen=True)
class Posted:
    """What the network created: its id of the post (opaque to the desk) and the post's public link."""

    post_id: str
    url: str
    dry_run: bool = False  # nothing was sent (bot/dryrun.py): the id is made up, and there is no link


@dataclass(frozen=True)
class Quota:
    """One of X's posting limits as it last reported it: how many posts are left until it resets."""

    remaining: int
    resets: datetime | None  # when the count starts again; None: X did not say
    limit: int | None = None


@dataclass(frozen=True)
class XLimits:
    """What X said of an account's posting limits in the rate-limit headers of its last answer to a post."""

    window: Quota | None  # x-rate-limit-*: the 15-minute window of POST /2/tweets
    day: Quota | None  # x-user-limit-24hour-*: the user's 24 hours


ApiErrorSeen = Callable[[str], None]  # an adapter's API error by kind (rate_limited, server_error, ...), for /metrics


def unheard(kind: str) -> None:
    """An adapter's default ApiErrorSeen: nobody counts its errors."""


@contextmanager
def reporting(seen: ApiErrorSeen, kind_of: Callable[[Exception], str | None]) -> Iterator[None]:
    """Tell `seen` the kind of each API error passing through (None from `kind_of`: not an API error), then re-raise it."""
    try:
        yield
    except Exception as e:
        if kind := kind_of(e):
            seen(kind)
        raise


def by_status(status: int) -> str:
    """The kind of an API error from its HTTP status: 429 rate_limited, 5xx server_error, other 4xx refused."""
    return "rate_limited" if status == 429 else "server_error" if status >= 500 else "refused"


class Publisher(Protocol):
    """Something that can put a text on one account's timeline on one network, look for it there, and take it down.

    Adapters: bot/x.py (tweepy), bot/bluesky.py (atproto), bot/mastodon.py (Mastodon.py); a new network is one more.
    """

    network: str  # x, bluesky or mastodon

    def publish(self, text: str, *, reply_to: str | None = None, media_ids: Sequence[str] = (), key: str | None = None) -> Posted:
        """Post `text` (as a reply to `reply_to`, with uploaded media) under `key` (from key_for), or raise PublishError."""
        ...

    def key_for(self, draft_id: int, version: int, part: int, at: datetime) -> str | None:
        """What makes every send of this part the same post on the network (None: it has no such thing); the desk stores
        it with the first claim of the part and passes it to each resend."""
        ...

    def count(self, text: str) -> Count:
        """How long the text is as this network counts it, and its limit there."""
        ...

    def link_id(self, url: str) -> str:
        """The post id a link to one of the account's posts names, or BadLink saying what is wrong with the link."""
        ...

    def url_of(self, post_id: str) -> str:
        """The public link of one of the account's posts, written from its id (never from what someone typed)."""
        ...

    def upload(self, image: Image) -> str:
        """Upload one image for a post about to be made; its media id, or PublishError (never UNKNOWN: unused media expire)."""
        ...

    def find(self, text: str, since: datetime, *, key: str | None = None) -> Posted | None:
        """The account's post of `text` made after `since` (or under `key`), None when certainly absent; PublishError when
        the network cannot tell."""
        ...

    def delete(self, post_id: str) -> None:
        """Delete a post; a post that is already gone counts as deleted."""
        ...

    def limits(self) -> XLimits | None:
        """What the network last said of the account's posting limits (kept in memory); None until it has said."""
        ...

    def engagement(self, post_ids: Sequence[str]) -> Iterator[Read]:
        """The counts of the account's posts, each as soon as its answer came, in as few requests as the network allows: the
        caller takes the next only while it still waits, so a request is made only when asked for. A post the network says
        is gone (deleted) comes with counts None; one it only does not show is left out; PublishError when the rest cannot
        be read (a failure, a rate limit, a timeout): what came before it stands."""
        ...


Publishers = Mapping[str, Mapping[str, Publisher]]  # account → network → its adapter


def post_url(handle: str, post_id: str) -> str:
    """The public address of a post."""
    return f"https://x.com/{handle}/status/{post_id}"


class Schedule(Protocol):
    """When the desk is woken up: a post's time, a reminder, a digest (bot/runtime/scheduling.py keeps it with APScheduler)."""

    def schedule(self, draft_id: int, when: datetime | None) -> None:
        """Publish at `when`, or as soon as possible when it is None; replaces the draft's earlier job."""
        ...

    def cancel(self, draft_id: int) -> None:
        """Forget a draft's publishing job, if it has one."""
        ...

    def remind(self, draft_id: int, when: datetime | None) -> None:
        """Remind the draft's editors at `when`; replaces its earlier reminder."""
        ...

    def expire(self, draft_id: int, when: datetime | None) -> None:
        """Expire the draft at `when` (at once when None) if it is still in review then; replaces its earlier expiry."""
        ...

    def cancel_expiry(self, draft_id: int) -> None:
        """Forget a draft's expiry job, if it has one."""
        ...

    def schedule_digest(self, scope: str, day: date, due: datetime, *, wait: timedelta) -> None:
        """Wake the digest job of `scope` after `wait`, for its digest due at `due`."""
        ...

    def schedule_weekly(self, scope: str, day: date, due: datetime, *, wait: timedelta) -> None:
        """Wake the weekly report's job of `scope` after `wait`, for its report due at `due`."""
        ...


class Unscheduled:
    """A Schedule that wakes nothing: for a desk used by a command that runs once (copydesk digest) or a benchmark."""

    def schedule(self, draft_id: int, when: datetime | None) -> None:
        """Nothing fires by itself."""

    def cancel(self, draft_id: int) -> None:
        """Nothing was planned."""

    def remind(self, draft_id: int, when: datetime | None) -> None:
        """Nothing fires by itself."""

    def expire(self, draft_id: int, when: datetime | None) -> None:
        """Nothing fires by itself."""

    def cancel_expiry(self, draft_id: int) -> None:
        """Nothing was planned."""

    def schedule_digest(self, scope: str, day: date, due: datetime, *, wait: timedelta) -> None:
        """Nothing fires by itself."""

    def schedule_weekly(self, scope: str, day: date, due: datetime, *, wait: timedelta) -> None:
        """Nothing fires by itself."""


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
    unmet: tuple[str, ...] = ()  # the users or groups its rules require among the approvers who have not approved yet
    notes: tuple[Note, ...] = ()  # pre-flight notes for the editors (bot/preflight.py): a card's, while it may still go out
    networks: tuple[str, ...] = ("x",)  # where it goes, in order
    legs: tuple[Leg, ...] = ()  # each network's post, in that order, once publishing began (bot/legs.py)
    links: tuple[tuple[str, str], ...] = ()  # (network, link of its first part) for each network it is out on
    counts: tuple[Count, ...] = ()  # its longest part on each network, as that network counts it
    retracted: tuple[str, ...] = ()  # the networks a post of it was deleted from
    dry_run: tuple[str, ...] = ()  # the networks it goes (or went) to in a dry run: nothing is sent there (bot/dryrun.py)
    # why its latest failed attempt failed: a retry's reply is drawn when Slack hears it, maybe after the next attempt began
    last_error: str | None = None

    @property
    def several(self) -> bool:
        """Whether it goes to more than one network (the card then names each)."""
        return len(self.networks) > 1

    @property
    def needed(self) -> int:
        """How many approvals this version needs: what its rules ask, or the account's own quorum."""
        return self.draft.policy.approvals_required if self.draft.policy else self.account.approvals_required


@dataclass(frozen=True)
class Overview:
    """One person's App Home: the switch, what waits for their vote, the queue, and what went out lately."""

    pause: Pause | None
    waiting_for_you: list[DraftView]
    queue: list[DraftView]
    recent: list[DraftView]
    card_links: dict[int, str] = field(default_factory=dict)  # draft → its review card, for what waits for a vote
    readable: frozenset[str] = frozenset()  # the accounts whose drafts this person may read (bot.privacy); others: numbers


@dataclass(frozen=True)
class Change:
    """A draft moved from one state to another because of `actor` (a user ID, or copydesk)."""

    before: State
    after: State
    actor: str


@dataclass(frozen=True)
class Announcement:
    """News for a whole review channel, as data: the Slack side words it (and escapes the reason) when it goes."""

    kind: str  # "paused" or "resumed"
    actor: str
    reason: str | None = None  # why it was paused, as the admin typed it
    held: int = 0  # posts whose time passed while paused, now waiting for an editor
    text: str | None = None  # an announcement worded by an older copydesk (queued before an upgrade): sent as it is


@dataclass(frozen=True)
class CardRef:
    """Where a review card lives in Slack."""

    channel: str
    ts: str


@dataclass(frozen=True)
class CardMark:
    """What a message's metadata says it is: the review card of one version of one draft."""

    draft_id: int
    version: int


class Notifier(Protocol):
    """Tells people in Slack what happened to a draft. Each call is one message; SlackFailed says Slack did not take it.

    A `tag` names the outbox message a Slack message is for: it travels in the message's metadata, so that a try
    whose answer was lost (a crash, a timeout, a 5xx) can be looked up before the message is sent again.
    """

    def post_card(self, view: DraftView) -> CardRef:
        """Post the review card of the draft's current version, tagged with the draft and the version."""
        ...

    def find_card(self, channel: str, draft_id: int, version: int) -> CardRef | None:
        """The card of that version of the draft, if an earlier try posted it."""
        ...

    def card_mark(self, channel: str, ts: str) -> CardMark | None:
        """Which draft and version the message `ts` is the review card of; None for any other message."""
        ...

    def permalink(self, card: CardRef) -> str | None:
        """A link to the card, for the author."""
        ...

    def redraw(self, card: CardRef, view: DraftView) -> None:
        """Draw the card again as the ledger has the draft now."""
        ...

    def reply(self, card: CardRef, view: DraftView, change: Change, tag: str) -> None:
        """Say in the card's thread what changed."""
        ...

    def remind(self, card: CardRef, view: DraftView, editors: list[str], tag: str) -> None:
        """Tell the editors who have not voted, in the card's thread, that the draft waits for them."""
        ...

    def tell_author(self, view: DraftView, change: Change, tag: str) -> None:
        """A direct message to the author about the change, when it is news to them."""
        ...

    def confirm(self, view: DraftView, link: str | None, tag: str) -> None:
        """A direct message to the author saying the draft is in review, and where its card is."""
        ...

    def retire_card(self, card: CardRef, view: DraftView, replaced_by: str | None) -> None:
        """Mark an old card of an edited draft as replaced, so nobody votes on the old text there."""
        ...

    def fetch_image(self, file: Mapping[str, Any]) -> Image:
        """The bytes of a file shared in Slack, checked as an image; BadImage when X would refuse it."""
        ...

    def tell_privately(self, user: str, text: str, tag: str, *, channel: str | None = None, thread_ts: str | None = None) -> None:
        """A message only `user` sees: in `channel` (its thread) when given, else in a direct message."""
        ...

    def note(self, card: CardRef, text: str) -> None:
        """Say something in the card's thread at once, outside the outbox (when the ledger cannot be written)."""
        ...

    def announce(self, channel: str, announcement: Announcement, tag: str) -> None:
        """Say something to a whole review channel (the pause, and the resume)."""
        ...

    def find_tagged(self, channel: str, tag: str, *, thread_ts: str | None = None) -> bool:
        """Whether a message with this tag is in the channel (or the thread; a user ID means their direct messages)."""
        ...

    def post_digest(self, channel: str, report: Report) -> str:
        """Post a digest tagged with its scope and day, so it can be found again; its message ts.

        Raises DigestNotPosted when Slack refused it (it certainly is not there); SlackUnavailable when Slack's answer was
        a 5xx or never came (it may be there).
        """
        ...

    def find_digest(self, channel: str, scope: str, day: date, kind: str = "daily") -> str | None:
        """The ts of the scope's daily digest (or weekly report) for `day` if it is in the channel; SlackUnavailable if
        that cannot be told."""
        ...

    def finish_weekly(self, channel: str, ts: str, report: WeeklyReport, chart: bytes | None) -> None:
        """A weekly report found in the channel after a restart: attach its chart if it is not under the message yet (the
        process may have stopped between the two)."""
        ...

    def post_weekly(self, channel: str, report: WeeklyReport, chart: bytes | None) -> str:
        """Post the weekly report (tagged like a digest, so it can be found again) and its chart (a PNG; None: it could not
        be drawn); its message ts. The text says everything the chart shows, so a chart Slack will not take is only noted.

        Raises DigestNotPosted when Slack refused the report's message (it certainly is not there); SlackUnavailable when
        Slack's answer was a 5xx or never came (it may be there).
        """
        ...


class Directory(Protocol):
    """What Slack knows about people."""

    def timezone_of(self, user_id: str) -> ZoneInfo | None:
        """The user's time zone from their Slack profile, if it has a valid one."""
        ...

    def members_of(self, group_id: str) -> frozenset[str]:
        """The users in a user group (S…)."""
        ...

    def members_of_channel(self, channel_id: str) -> frozenset[str]:
        """The users in a channel (who can read a review card there); SlackUnavailable when Slack cannot say."""
        ...
