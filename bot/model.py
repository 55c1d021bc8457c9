"""The records copydesk keeps, as the rest of the code sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.policy import Policy
from bot.review import State

SYSTEM = "copydesk"  # the actor of what copydesk does on its own, in the ledger and on cards


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
    retry_at: datetime | None = None  # the next attempt, after X failed in a way worth retrying
    first_attempt_at: datetime | None = None  # when the current run of attempts began
    notice: str | None = None  # what its card must tell people: why it is held, that it was edited
    version: int = 1  # which version of its text and images, from 1: a card shows one version, and votes on it count for that one
    content_sha256: str = ""  # the fingerprint of this version's text and images (bot/content.py): what an approval is for
    revisers: frozenset[str] = frozenset()  # who else ever changed its text or images: barred from approving it like the author
    may_be_live: bool = False  # held because X may have the post: it can be settled, never withdrawn
    policy: Policy | None = None  # the rules that applied to this version and what they ask (None: no rule applied)
    cooling_until: datetime | None = None  # approved: it goes out no earlier than this (the cooling-off window)
    networks: tuple[str, ...] = ()  # where it goes (its on:); () means every network of its account
    dry_run: bool = False  # written while its account was in a dry run: nothing of it is ever sent (bot/dryrun.py)

    @property
    def due(self) -> datetime | None:
        """When the post may go: its time, the retry X asked for, or the end of its cooling-off, whichever is latest;
        None means now."""
        times = [t for t in (self.publish_at, self.retry_at, self.cooling_until) if t is not None]
        return max(times) if times else None

    @property
    def number(self) -> str:
        """How people refer to it: #12."""
        return f"#{self.id}"


OUT = ("published", "dry_run")  # a publication's outcomes that went through to the end: sent, or in a dry run (nothing sent)


@dataclass(frozen=True)
class Publication:
    """One attempt to publish a draft (one part of it) on one network, and how it ended."""

    id: int
    draft_id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    x_post_id: str | None
    url: str | None
    error: str | None
    retracted_at: datetime | None = None
    part: int = 1  # which post of a thread; a single post is part 1
    content_sha256: str | None = None  # the fingerprint of the content it sent (None: from before fingerprints)
    network: str = "x"
    key: str | None = None  # what makes a resend the same post there (Bluesky's record key, Mastodon's Idempotency-Key)

    @property
    def post_id(self) -> str | None:
        """The network's id of the post (X's post id, Bluesky's at:// URI and cid, Mastodon's status id)."""
        return self.x_post_id


@dataclass(frozen=True)
class Event:
    """One line of the append-only history: who did what to which draft, when."""

    id: int
    at: datetime
    draft_id: int | None
    actor: str
    action: str
    detail: dict


@dataclass(frozen=True)
class Pause:
    """The crisis switch, while it is on: who pulled it, when and why."""

    paused_at: datetime
    paused_by: str
    reason: str | None


@dataclass(frozen=True)
class ChainCheck:
    """What `copydesk ledger verify` found: how many events, the head of the chain, the first bad one."""

    events: int
    head: str
    first_broken: int | None  # the id of the first event whose hash does not match, if any
    mode: str = "sha256"  # sha256 (anyone who can write the file can rebuild it) or hmac-sha256 (only with the secret)


@dataclass(frozen=True)
class DigestRecord:
    """One digest in the ledger: claimed before Slack is asked, then sent (with its message), skipped or failed."""

    id: int
    scope: str
    kind: str  # daily, or on_demand (copydesk digest --post): only daily ones move the next window
    day: date | None
    window_start: datetime
    window_end: datetime
    channel: str
    outcome: str  # sending (claimed, Slack's answer not recorded yet), sent, skipped (empty), failed (Slack refused)
    claimed_at: datetime
    message_ts: str | None = None
    sent_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class Counts:
    """What a network says of one post: likes, reposts, replies, quotes, impressions; None where it gives no such count."""

    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    impressions: int | None = None

    @property
    def interactions(self) -> int:
        """Likes, reposts, replies and quotes together: what ranks one post against another (impressions do not)."""
        return sum(n or 0 for n in (self.likes, self.reposts, self.replies, self.quotes))


@dataclass(frozen=True)
class Engagement:
    """How one post (one part, on one network) landed, as the network counted it when last read (the metrics table)."""

    publication_id: int
    draft_id: int
    network: str
    read_at: datetime
    counts: Counts  # as last read while it was there
    gone_at: datetime | None = None  # when the network said it no longer has the post (deleted there by hand)


@dataclass(frozen=True)
class Outgoing:
    """One thing Slack must hear, kept in the ledger's outbox from the transaction that caused it until Slack has it."""

    id: int
    queue: str  # delivered in id order within a queue: draft:12, channel:C…, message:C…:ts
    draft_id: int | None
    kind: str  # card, redraw, reply, dm, retire, announce, remind, reaction
    payload: dict
    created_at: datetime
    attempts: int  # tries claimed so far: above 0, an earlier try may have reached Slack
    next_at: datetime


@dataclass(frozen=True)
class Earlier:
    """A post of the same account that went out lately, or is approved to go: what a draft's words are compared with."""

    draft_id: int
    text: str
    at: datetime | None  # when it went out, or when it is due (None: as soon as it can)
    published: bool
