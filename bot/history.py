"""A draft's whole story, told from the ledger (`copydesk ledger history`): its versions, the votes on each, the rules
that applied, cooling-off and expiry, every attempt at publishing it, and every event, in time order.

Assembled from the draft's row, its events and its publications as plain values; `History.record()` is the JSON document
scripts read, and its field names are a contract (README: Command line): add, never rename or drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.model import Draft, Event, Publication
from bot.review import BUTTON

if TYPE_CHECKING:
    from storage.ledger import Ledger

VERSION_ACTIONS = ("drafted", "edited", "images_changed", "baseline")  # the events that make (or record) a version
POLICY_ACTIONS = ("drafted", "edited", "images_changed", "policy_changed")  # the events whose `policy` detail is a judgement


@dataclass
class Version:
    """One version of a draft's text and images: who made it, when, and the fingerprint its approvals were for."""

    version: int | None  # None: an edit from before versions were counted
    action: str  # drafted, edited, images_changed, or baseline (a ledger from before fingerprints, as it stood then)
    by: str
    at: datetime
    text: str | None  # None: an old event that did not record the words
    content_sha256: str | None  # None: from before content fingerprints
    publish_at: datetime | None = None  # the time an edit set (drafted events do not record it)
    images: list[dict[str, Any]] | None = None  # name, sha256 and alt of each image, when the ledger says
    policy: dict[str, Any] | None = None  # the rules that applied when it was made (Policy.record()), if any did
    event_id: int = 0


@dataclass
class CastVote:
    """One vote as cast, and how it ended, if it did: taken back, or cleared by a new version."""

    by: str
    vote: str  # approve or reject
    reaction: str  # the emoji name, or `button` for the card's buttons
    via: str  # reaction or button
    version: int | None  # the version the card showed
    content_sha256: str | None
    cast_at: datetime | None  # None: standing when the ledger's baseline was taken, cast before the log recorded votes
    event_id: int | None
    ended: str | None = None  # taken_back, new_version, not_standing_at_baseline; None while it stands
    ended_at: datetime | None = None
    ended_by: str | None = None
    kept_into: list[int] = field(default_factory=list)  # later versions it was carried into (the owner's veto outlives an edit)

    @property
    def stands(self) -> bool:
        """Still counted for the version it was cast on."""
        return self.ended is None


@dataclass(frozen=True)
class Judgement:
    """What the rules asked of one version, when they were judged (at the version, or again at a start)."""

    version: int | None
    source: str  # drafted, edited, images_changed, policy_changed
    by: str
    at: datetime
    rules: list[dict[str, Any]]  # each rule that applied: name, and what it asked
    approvals_required: int | None
    require: list[str]
    cooling_off_minutes: float | None
    event_id: int


@dataclass(frozen=True)
class Timing:
    """A cooling-off window set or skipped, or the draft expiring."""

    action: str  # approved (with a window), cooling_off_skipped, expired
    by: str
    at: datetime
    version: int | None
    until: datetime | None = None  # the window's end
    reason: str | None = None  # why it expired
    event_id: int = 0


@dataclass(frozen=True)
class Attempt:
    """One attempt at publishing (a post, or one part of a thread), from the publications table."""

    id: int
    part: int
    version: int | None
    content_sha256: str | None
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    x_post_id: str | None
    url: str | None
    error: str | None
    retracted_at: datetime | None
    network: str = "x"


@dataclass(frozen=True)
class Happening:
    """One event of the draft, as logged."""

    id: int
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


@dataclass
class History:
    """Everything the ledger knows about one draft."""

    draft: Draft
    versions: list[Version] = field(default_factory=list)
    votes: list[CastVote] = field(default_factory=list)
    rules: list[Judgement] = field(default_factory=list)
    cooling_off: list[Timing] = field(default_factory=list)
    expiry: list[Timing] = field(default_factory=list)
    publications: list[Attempt] = field(default_factory=list)
    events: list[Happening] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The JSON document of `copydesk ledger history --json`: times in UTC, ISO 8601."""
        return {
            "draft": draft_record(self.draft),
            "versions": [_plain(v) for v in self.versions],
            "votes": [{**_plain(v), "stands": v.stands} for v in self.votes],
            "rules": [_plain(j) for j in self.rules],
            "cooling_off": [_plain(t) for t in self.cooling_off],
            "expiry": [_plain(t) for t in self.expiry],
            "publications": [_plain(p) for p in self.publications],
            "events": [_plain(e) for e in self.events],
        }


def read(ledger: Ledger, draft_id: int) -> History | None:
    """The draft's history, or None when there is no such draft; read in one transaction, so that a bot writing beside
    it cannot show a row of one moment with the events of another."""
    with ledger.transaction():
        draft = ledger.draft(draft_id)
        if draft is None:
            return None
        return assemble(draft, ledger.events(draft_id), ledger.publications(draft_id))


def assemble(draft: Draft, events: Sequence[Event], publications: Sequence[Publication]) -> History:
    """Replay the draft's events (oldest first) into its story; the publications come from their own table."""
    story = History(draft)
    standing: dict[tuple[str, str], CastVote] = {}  # (editor, reaction) → the vote counted now
    current: int | None = None  # the version the log has reached
    sent: dict[int, int] = {}  # publication id → the version its events say it sent
    for event in events:
        d = event.detail
        story.events.append(Happening(event.id, event.at, event.actor, event.action, d))
        if event.action in VERSION_ACTIONS:
            current = _version(story, event, current, standing)
        if event.action in POLICY_ACTIONS and "policy" in d:
            story.rules.append(_judgement(event, d["policy"], d.get("version", current)))
        if event.action in ("vote_added", "vote_removed"):
            _vote(story, event, standing)
        elif event.action == "approved" and d.get("cooling_until"):
            story.cooling_off.append(_timing(event, current, until=d["cooling_until"]))
        elif event.action == "policy_changed" and d.get("cooling_until"):  # a start's rules asked a longer window
            story.cooling_off.append(_timing(event, current, until=d["cooling_until"]))
        elif event.action == "cooling_off_skipped":
            story.cooling_off.append(_timing(event, current, until=d.get("was_until", d.get("cooling_until"))))
        elif event.action == "expired":
            story.expiry.append(_timing(event, d.get("version", current), reason=d.get("reason")))
        if "publication_id" in d and d.get("version") is not None:
            sent.setdefault(d["publication_id"], d["version"])
    shas = {v.content_sha256: v.version for v in story.versions if v.content_sha256}
    story.publications = [
        Attempt(
            id=p.id,
            part=p.part,
            version=sent.get(p.id, shas.get(p.content_sha256 or "")),
            content_sha256=p.content_sha256,
            started_at=p.started_at,
            finished_at=p.finished_at,
            outcome=p.outcome,
            x_post_id=p.x_post_id,
            url=p.url,
            error=p.error,
            retracted_at=p.retracted_at,
            network=p.network,
        )
        for p in publications
    ]
    return story


def _version(story: History, event: Event, current: int | None, standing: dict[tuple[str, str], CastVote]) -> int | None:
    """A version made, changed (images attached before its card was up), or recorded by a baseline; the version now."""
    d = event.detail
    number = d.get("version", 1 if event.action == "drafted" else None)
    same = next((v for v in story.versions if number is not None and v.version == number), None)
    if event.action == "baseline":
        _baseline_votes(story, event, number, standing)
        if same is not None and same is story.versions[-1] and same.text in (None, d.get("text")):
            same.content_sha256 = same.content_sha256 or d.get("content_sha256")  # what its events lacked, if anything
            same.text = d.get("text")
            return number
    if event.action == "images_changed" and same is not None:  # images joined the first version before its card was up
        same.content_sha256, same.images = d.get("content_sha256", same.content_sha256), _images(d)
        return number
    if event.action == "edited" or d.get("votes_cleared"):  # a new version: no vote on the one before counts for it,
        kept = {  # but those it kept (the owner's veto, now a Reject-button vote): keyed as they were cast
            (user, before[0] if before and before[0] else reaction): (user, reaction)
            for user, reaction, *before in d.get("votes_kept", [])
        }
        carried = {}
        for key, vote in list(standing.items()):  # every vote leaves the standing set first…
            del standing[key]
            if key in kept:
                vote.kept_into += [number] if number is not None else []
                carried[kept[key]] = vote
            else:
                vote.ended, vote.ended_at, vote.ended_by = "new_version", event.at, event.actor
        standing.update(carried)  # …then what was kept comes back under the key it has now
    previous = story.versions[-1] if story.versions else None
    kept_text, kept_images = (previous.text, previous.images) if previous else (None, None)
    made = {
        "drafted": (d.get("text"), []),
        "edited": (d.get("after"), kept_images),
        "images_changed": (kept_text, _images(d)),
        "baseline": (d.get("text"), _images(d)),
    }
    text, images = made[event.action]
    story.versions.append(
        Version(
            version=number,
            action=event.action,
            by=event.actor,
            at=event.at,
            text=text,
            content_sha256=d.get("content_sha256"),
            publish_at=_when(d.get("publish_at")) if event.action == "edited" else None,
            images=images,
            policy=d.get("policy"),
            event_id=event.id,
        )
    )
    return number if number is not None else current


def _baseline_votes(story: History, event: Event, version: int | None, standing: dict[tuple[str, str], CastVote]) -> None:
    """A baseline names the votes standing when it was taken: those the log showed but it does not had ended unseen, and
    those it shows that the log never did were cast before votes were logged."""
    d = event.detail
    named = {(user, reaction): kind for user, reaction, kind in d.get("votes", [])}
    for key in [k for k in standing if k not in named]:
        vote = standing.pop(key)
        vote.ended, vote.ended_at, vote.ended_by = "not_standing_at_baseline", event.at, event.actor
    for (user, reaction), kind in named.items():
        if (user, reaction) not in standing:
            standing[(user, reaction)] = _cast(story, user, kind, reaction, version, d.get("content_sha256"), None, None)


def _images(d: dict[str, Any]) -> list[dict[str, Any]]:
    """The images an event says the version has: images_changed names them; a baseline has only their hashes."""
    if "after" in d:
        alts = d.get("alt") or [None] * len(d["after"])
        return [{"name": n, "sha256": s, "alt": a} for n, s, a in zip(d["after"], d.get("sha256", []), alts, strict=False)]
    return [{"name": None, "sha256": s, "alt": None} for s in d.get("images", [])]


def _vote(story: History, event: Event, standing: dict[tuple[str, str], CastVote]) -> None:
    d = event.detail
    key = (event.actor, d.get("reaction", ""))
    if event.action == "vote_added":
        standing[key] = _cast(
            story, event.actor, d.get("vote", "?"), key[1], d.get("version"), d.get("content_sha256"), event.at, event.id
        )
        return
    vote = standing.pop(key, None)
    if vote is None:  # cast before the log recorded votes
        vote = _cast(story, event.actor, d.get("vote", "?"), key[1], d.get("version"), d.get("content_sha256"), None, None)
    vote.ended, vote.ended_at, vote.ended_by = "taken_back", event.at, event.actor


def _cast(
    story: History,
    by: str,
    kind: str,
    reaction: str,
    version: int | None,
    sha: str | None,
    at: datetime | None,
    event_id: int | None,
) -> CastVote:
    vote = CastVote(by, kind, reaction, "button" if reaction == BUTTON else "reaction", version, sha, at, event_id)
    story.votes.append(vote)
    return vote


def _judgement(event: Event, policy: dict[str, Any] | None, version: int | None) -> Judgement:
    """A recorded Policy (None: no rule applies any more)."""
    policy = policy or {}
    return Judgement(
        version=version,
        source=event.action,
        by=event.actor,
        at=event.at,
        rules=list(policy.get("rules", [])),
        approvals_required=policy.get("approvals_required"),
        require=list(policy.get("require", [])),
        cooling_off_minutes=policy.get("cooling_off_minutes"),
        event_id=event.id,
    )


def _timing(event: Event, version: int | None, *, until: Any = None, reason: str | None = None) -> Timing:
    return Timing(event.action, event.actor, event.at, version, until=_when(until), reason=reason, event_id=event.id)


def _when(value: Any) -> datetime | None:
    """A time an event recorded as ISO text."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def draft_record(draft: Draft) -> dict[str, Any]:
    """The draft's row as it is now, under the ledger's column names (README: The ledger)."""
    return {
        "id": draft.id,
        "account": draft.account,
        "author_user_id": draft.author_id,
        "text": draft.text,
        "state": draft.state.value,
        "publish_at": _iso(draft.publish_at),
        "version": draft.version,
        "content_sha256": draft.content_sha256 or None,
        "revised_by": sorted(draft.revisers),
        "review_channel_id": draft.review_channel,
        "card_ts": draft.card_ts,
        "origin_channel_id": draft.origin_channel,
        "created_at": _iso(draft.created_at),
        "updated_at": _iso(draft.updated_at),
        "retry_at": _iso(draft.retry_at),
        "first_attempt_at": _iso(draft.first_attempt_at),
        "notice": draft.notice,
        "may_be_live": draft.may_be_live,
        "policy": draft.policy.record() if draft.policy else None,
        "cooling_until": _iso(draft.cooling_until),
    }


def _iso(moment: datetime | None) -> str | None:
    """UTC, ISO 8601 with milliseconds and a Z, as the ledger writes its times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def _plain(value: Any) -> Any:
    """A dataclass of the history as JSON-ready data."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
