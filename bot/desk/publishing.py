"""Publishing, at most once: claim in the ledger, call X, then record what X said, retry or flag for a person."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import thread
from bot.content import content_sha256
from bot.desk.core import EARLY_TOLERANCE, Core, Decision
from bot.errors import CopydeskError, Delivery, LedgerUnwritable, PublishError, WrongState
from bot.model import SYSTEM, Draft
from bot.ports import CardRef, Change, Notifier, Posted, Publisher
from bot.review import Rules, State

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # however X keeps naming new reset times, a post is not tried forever
MAX_DELAY = timedelta(minutes=15)  # the longest wait between two attempts after a server error
RULES_AGAIN = timedelta(seconds=30)  # a post due while Slack cannot say who its editors are is tried again this soon
RECORD_FOR = timedelta(minutes=10)  # how long a post X took is tried to be recorded before a restart must settle it
CHECK = "check the account on X, then publish it again or mark it published"
INTERRUPTED = f"publishing was interrupted (copydesk stopped while X was being asked); {CHECK}"


@dataclass(frozen=True)
class Attempt:
    """One call to X on its way: which publication row records it, and which part of the draft it posts."""

    publication_id: int
    part: int
    parts: tuple[str, ...]  # every part's text; a single post has one

    @property
    def text(self) -> str:
        return self.parts[self.part - 1]

    @property
    def last(self) -> bool:
        return self.part == len(self.parts)

    def detail(self) -> dict[str, Any]:
        """What the event log adds for a thread: which part of how many (nothing for a single post)."""
        return {"part": self.part, "of": len(self.parts)} if len(self.parts) > 1 else {}

    def says(self, reason: str) -> str:
        """A reason that names the part, for threads."""
        return f"part {self.part} of {len(self.parts)}: {reason}" if len(self.parts) > 1 else reason


def _named(publication_id: int | None) -> dict[str, Any]:
    """The publication an event is about, when there is one."""
    return {"publication_id": publication_id} if publication_id is not None else {}


def first_unpublished(published: dict[int, Any], count: int) -> int:
    """The part a (re)started run begins with: parts already on X are never posted again (count + 1: all are out)."""
    return next((part for part in range(1, count + 1) if part not in published), count + 1)


class Publishing:
    """The scheduler's side of the desk: each approved post sent once, retried, or held for a person (Settling takes it from there)."""

    def __init__(
        self, core: Core, *, publishers: Mapping[str, Publisher], notifier: Notifier, jitter: Callable[[], float]
    ) -> None:
        self.core = core
        self.ledger = core.ledger
        self.config = core.config
        self.clock = core.clock
        self.publishers = publishers
        self.notifier = notifier
        self._jitter = jitter  # 0 to 1: spreads the retries of posts that failed together

    def publish(self, draft_id: int) -> None:
        """The scheduler's job: publish an approved draft once, if it is (still) approved, due and not paused.

        A thread goes out part by part, each a reply to the one before; a run that stops half-way (an error,
        a restart, the pause) starts again from the first part that is not on X.
        """
        started = self._claim(draft_id)
        if started is None:
            return
        draft, first, first_attempt = started
        attempt: Attempt | None = first
        while attempt is not None:
            attempt = self._send(draft, attempt, first_attempt)

    def _send(self, draft: Draft, attempt: Attempt, first_attempt: datetime) -> Attempt | None:
        """Post one part; the next part's attempt when there is one to make now."""
        publisher = self.publishers[draft.account]
        try:
            reply_to = self._reply_to(draft, attempt)
            media = self.ledger.images(draft.id, with_bytes=True) if attempt.part == 1 else []  # images go on the first part
            if changed := [i.name for i in media if hashlib.sha256(i.data).hexdigest() != i.sha256]:
                raise PublishError(
                    f"the image {', '.join(changed)} is not the one the editors approved (its bytes changed "
                    "in the ledger); nothing was sent",
                    delivery=Delivery.REFUSED,
                )
            media_ids = [publisher.upload(image) for image in media]
            posted = publisher.publish(attempt.text, reply_to=reply_to, media_ids=media_ids)
        except PublishError as e:
            return self._after_failure(draft, attempt, first_attempt, e)
        except Exception as e:  # a fault of ours after the request may have gone: a person must look
            log.exception("publishing %s failed unexpectedly", draft.number)
            self.hold(
                draft, attempt.publication_id, attempt.says(f"copydesk failed while publishing ({type(e).__name__}); {CHECK}")
            )
            return None
        return self._posted(draft, attempt, posted)

    def _recording(self, draft: Draft, attempt: Attempt, posted: Posted, write: Callable[[], Attempt | None]) -> Attempt | None:
        """Record what X created; if the ledger refuses (disk full, a read-only file), say so at once and keep trying.

        The post is live whatever the ledger says: its link goes to the log and the card's thread straight away (the
        outbox is in the ledger too), and the write is tried again with doubling waits, for RECORD_FOR at most.
        """
        wait, deadline, told = 1.0, self.clock() + RECORD_FOR, False
        while True:
            try:
                return write()
            except LedgerUnwritable as e:
                what = f"{draft.number} {attempt.says('is on X')}: {posted.url} (post {posted.post_id})"
                if not told:
                    told = True
                    log.error("%s, but %s; trying again", what, e)
                    self._say_now(
                        draft,
                        f":rotating_light: {what}. copydesk could not record it: {e}. It keeps trying; "
                        "nothing is sent to X again meanwhile.",
                    )
                if self.clock() >= deadline:
                    log.critical(
                        "%s and still could not be recorded after %s; a restart will hold it for a person", what, RECORD_FOR
                    )
                    return None
                time.sleep(wait)
                wait = min(wait * 2, 30.0)

    def _say_now(self, draft: Draft, text: str) -> None:
        """Straight to the card's thread, not through the outbox: for when the ledger itself cannot be written."""
        if draft.card_ts:
            try:
                self.notifier.note(CardRef(draft.review_channel, draft.card_ts), text)
            except Exception:
                log.exception("could not tell the thread of %s either", draft.number)

    def _reply_to(self, draft: Draft, attempt: Attempt) -> str | None:
        """The post the part answers: the part before it, as the ledger has it."""
        if attempt.part == 1:
            return None
        before = self.ledger.published_parts(draft.id).get(attempt.part - 1)
        if before is None or not before.x_post_id:
            raise PublishError(
                f"copydesk does not know which post on X is part {attempt.part - 1}, so part {attempt.part} cannot reply to it; "
                "publish the rest by hand, then mark it published",
                delivery=Delivery.REFUSED,
            )
        return before.x_post_id

    def _claim(self, draft_id: int) -> tuple[Draft, Attempt, datetime] | None:
        """Mark the draft as publishing before calling X, so that nothing else can publish it too.

        Nothing is sent unless every approval counted is for exactly the content being sent, under today's rules:
        otherwise the draft is held for a person, saying why.
        """
        found = self.ledger.draft(draft_id)
        if found is None or found.state is not State.APPROVED:
            return None
        try:
            rules = self.core.rules_of(found)  # may ask Slack who the editors are: before the claim's transaction
        except CopydeskError as e:  # nothing is sent without knowing whose approvals count: asked again shortly
            log.warning("%s waits: who its editors are could not be read (%s)", found.number, e)
            self.core.scheduler.schedule(draft_id, self.clock() + RULES_AGAIN)
            return None
        now = self.clock()
        # durable: were this claim lost to a power cut, the restart would find the draft approved and send it again
        with self.core.deciding(at=now, durable=True) as decision:
            draft = self.ledger.draft(draft_id)
            if draft is None or draft.state is not State.APPROVED or self.ledger.current_pause():
                return None  # withdrawn, vetoed, published or paused since the job was scheduled
            if draft.due and draft.due - now > EARLY_TOLERANCE:
                decision.reschedule(draft_id)  # woken early: put back at its time
                return None
            if draft.version != found.version:
                return None  # edited since: a new review is under way
            if refusal := self._unapproved(draft, rules):
                self._stop_unapproved(decision, draft, refusal)
                return None
            parts = tuple(thread.split(draft.text))
            part = first_unpublished(self.ledger.published_parts(draft_id), len(parts))
            if part > len(parts):  # cannot happen (the last part and "published" are one transaction); never post again
                raise WrongState(f"every part of {draft.number} is already on X")
            publication_id = self.ledger.start_publication(draft, self.core.account(draft.account).handle, at=now, part=part)
            attempt = Attempt(publication_id, part, parts)
            if not self.ledger.transition(
                draft_id,
                State.PUBLISHING,
                only_from=[State.APPROVED],
                at=now,
                actor=SYSTEM,
                action="publishing",
                retrying=(None, draft.first_attempt_at or now),
                publication_id=publication_id,
                **self.core.approval_record(draft, rules),
                **attempt.detail(),
            ):  # cannot happen (read approved above, under the decision lock): undone, nothing is sent
                raise WrongState(f"{draft.number} is no longer approved")
            first = self.core.draft(draft_id).first_attempt_at  # as stored (to the millisecond), to compare with attempts
        assert first is not None
        return draft, attempt, first

    def _rules_now(self, draft: Draft) -> Rules | None:
        """The draft's rules, or None when Slack cannot say who its editors are (the part goes on as its run was approved)."""
        try:
            return self.core.rules_of(draft)
        except CopydeskError as e:
            log.warning("%s: its editors could not be read before its next part (%s)", draft.number, e)
            return None

    def _unapproved(self, draft: Draft, rules: Rules) -> str | None:
        """Inside the claim: why this content may not go out now, if it may not (the ledger's own record is checked too)."""
        sha = content_sha256(draft.text, self.ledger.images(draft.id))
        if sha != draft.content_sha256:
            return (
                "its text or images in the ledger are not the content its version was approved as; an editor must review it again"
            )
        standing = self.core.standing(draft, rules)
        if standing.rejecters:
            return f"it has a veto ({', '.join(f'<@{r}>' for r in standing.rejecters)}); an editor must review it again"
        if len(standing.approvers) < rules.approvals_required:
            return (
                f"only {len(standing.approvers)} of the {rules.approvals_required} approval(s) it needs count now "
                "(an approval counts only for the exact content it was cast on, and only while its editor is one); "
                "an editor must review it again"
            )
        if missing := rules.missing(standing.approvers):
            return f"its rules require the approval of {', '.join(r.id for r in missing)}, which it does not have now"
        if refusal := self.core.refusal(draft, self.clock()):
            return f"{refusal}. It can only be withdrawn now"
        return None

    def _stop_unapproved(self, decision: Decision, draft: Draft, reason: str) -> None:
        """Inside the claim's decision: hold the draft instead of sending it; a person decides what happens next."""
        at = decision.at
        notice = f"Not sent: {reason}. Nothing went to X."
        self.ledger.transition(
            draft.id,
            State.HELD,
            only_from=[State.APPROVED],
            at=at,
            actor=SYSTEM,
            notice=notice,
            reason=notice,
            version=draft.version,
            content_sha256=draft.content_sha256,
        )
        decision.tell(draft, Change(State.APPROVED, State.HELD, SYSTEM))
        log.warning("%s held before sending: %s", draft.number, reason)

    def _after_failure(self, draft: Draft, attempt: Attempt, first: datetime, error: PublishError) -> Attempt | None:
        reason = attempt.says(error.reason)
        if error.delivery is Delivery.REFUSED:
            self._fail(draft, attempt.publication_id, reason)
        elif error.delivery is Delivery.NOT_SENT:
            self._retry_or_fail(draft, attempt.publication_id, first, reason, error.retry_at)
        else:
            return self._settle_unknown(draft, attempt, first, reason)
        return None

    def _settle_unknown(self, draft: Draft, attempt: Attempt, first: datetime, reason: str) -> Attempt | None:
        """The request went out but no answer came back: look on the account before anything else."""
        try:  # from the first attempt of this run: X may have created any of them late
            found = self.publishers[draft.account].find(attempt.text, since=first)
        except PublishError as e:
            self.hold(draft, attempt.publication_id, f"{reason}. copydesk could not check the account either ({e.reason})")
            return None
        if found is not None:
            return self._posted(draft, attempt, found, checked=True)
        why = reason.split(";")[0] + "; the post is not on the account"
        self._retry_or_fail(draft, attempt.publication_id, first, why, None)
        return None

    def _posted(self, draft: Draft, attempt: Attempt, posted: Posted, *, checked: bool = False) -> Attempt | None:
        """Record a part X has; the draft is published with its last part, else the next part is claimed at once."""
        return self._recording(draft, attempt, posted, lambda: self._record_posted(draft, attempt, posted, checked=checked))

    def _record_posted(self, draft: Draft, attempt: Attempt, posted: Posted, *, checked: bool) -> Attempt | None:
        if attempt.last:
            self._succeed(draft, attempt.publication_id, posted, checked=checked)
            return None
        rules = self._rules_now(draft)  # may ask Slack: before the transaction
        now = self.clock()
        following: Attempt | None = None
        with self.core.deciding(at=now) as decision:
            self.ledger.finish_publication(attempt.publication_id, post_id=posted.post_id, url=posted.url, at=now)
            self.ledger.log(
                "part_published",
                actor=SYSTEM,
                at=now,
                draft_id=draft.id,
                x_post_id=posted.post_id,
                url=posted.url,
                publication_id=attempt.publication_id,
                version=draft.version,
                content_sha256=draft.content_sha256,
                **attempt.detail(),
                **({"found_on_account": True} if checked else {}),
            )
            if self.ledger.current_pause():  # the crisis switch stops a thread half-way too
                self.ledger.transition(
                    draft.id,
                    State.APPROVED,
                    only_from=[State.PUBLISHING],
                    at=now,
                    actor=SYSTEM,
                    action="thread_paused",
                    next_part=attempt.part + 1,
                )
            elif rules is not None and (refusal := self._unapproved(self.core.draft(draft.id), rules)):
                # a veto (or a lost approval) that came while the thread was going out stops its next part
                notice = (
                    f"Part {attempt.part + 1} of {len(attempt.parts)} was not sent: {refusal}. Parts up to "
                    f"{attempt.part} are on X; retract them, or settle it on this card."
                )
                self.ledger.transition(
                    draft.id, State.HELD, only_from=[State.PUBLISHING], at=now, actor=SYSTEM, notice=notice, reason=notice
                )
                decision.tell(draft, Change(State.PUBLISHING, State.HELD, SYSTEM))
            else:
                part = attempt.part + 1
                publication_id = self.ledger.start_publication(draft, self.core.account(draft.account).handle, at=now, part=part)
                following = Attempt(publication_id, part, attempt.parts)
                self.ledger.log(
                    "publishing",
                    actor=SYSTEM,
                    at=now,
                    draft_id=draft.id,
                    publication_id=publication_id,
                    version=draft.version,
                    content_sha256=draft.content_sha256,
                    **following.detail(),
                )
            decision.tell(draft)  # the card shows how far the thread is
            if following is None:
                decision.reschedule(draft.id)
        return following

    def _retry_or_fail(self, draft: Draft, publication_id: int, first: datetime, reason: str, reset: datetime | None) -> None:
        now = self.clock()
        # failed attempts of this run (and the one failing now); parts that went out are not attempts that failed
        attempts = sum(1 for p in self.ledger.publications(draft.id) if p.started_at >= first and p.outcome != "published")
        delay = min(timedelta(seconds=self.config.x_retry_delay_seconds * 2 ** (attempts - 1)), MAX_DELAY)
        delay *= 0.5 + self._jitter() / 2  # posts that failed together do not all come back together
        retry_at = max(reset, now) if reset else now + delay
        give_up = first + timedelta(minutes=self.config.x_retry_for_minutes)
        # X's named reset is waited for however long; our own backoff stops at the retry window.
        if attempts >= MAX_ATTEMPTS or (reset is None and retry_at > give_up):
            self._fail(draft, publication_id, f"{reason}; gave up after {attempts} attempt(s)")
            return
        with self.core.deciding(at=now) as decision:
            self.ledger.fail_publication(publication_id, error=reason, at=now)
            self.ledger.transition(
                draft.id,
                State.APPROVED,
                only_from=[State.PUBLISHING],
                at=now,
                actor=SYSTEM,
                action="retry_scheduled",
                retrying=(retry_at, first),
                attempt=attempts,
                publication_id=publication_id,
                error=reason,
                retry_at=retry_at.isoformat(),
            )
            decision.tell(draft, Change(State.PUBLISHING, State.APPROVED, SYSTEM))
            decision.reschedule(draft.id)

    def _succeed(self, draft: Draft, publication_id: int, posted: Posted, *, checked: bool = False) -> None:
        """The last (or only) part is out: the draft is published, and its link is its first part's."""
        now = self.clock()
        with self.core.deciding(at=now) as decision:
            self.ledger.finish_publication(publication_id, post_id=posted.post_id, url=posted.url, at=now)
            out = self.ledger.published_parts(draft.id)
            first = out.get(1)
            detail: dict[str, Any] = {"found_on_account": True} if checked else {}
            detail.update(publication_id=publication_id, version=draft.version, content_sha256=draft.content_sha256)
            if len(out) > 1:
                detail["parts"] = len(out)
            self.ledger.transition(
                draft.id,
                State.PUBLISHED,
                only_from=[State.PUBLISHING],
                at=now,
                actor=SYSTEM,
                may_be_live=False,
                x_post_id=first.x_post_id if first else posted.post_id,
                url=first.url if first else posted.url,
                last_post_id=posted.post_id,
                **detail,
            )
            decision.tell(draft, Change(State.PUBLISHING, State.PUBLISHED, SYSTEM))

    def _fail(self, draft: Draft, publication_id: int, reason: str) -> None:
        now = self.clock()
        with self.core.deciding(at=now) as decision:
            self.ledger.fail_publication(publication_id, error=reason, at=now)
            self.ledger.transition(
                draft.id,
                State.FAILED,
                only_from=[State.PUBLISHING],
                at=now,
                actor=SYSTEM,
                error=reason,
                publication_id=publication_id,
            )
            decision.tell(draft, Change(State.PUBLISHING, State.FAILED, SYSTEM))

    def hold(self, draft: Draft, publication_id: int | None, reason: str) -> None:
        """Whether X has the post is unknown: stop, and ask a person on the card."""
        now = self.clock()
        with self.core.deciding(at=now) as decision:
            if publication_id is not None:
                self.ledger.fail_publication(publication_id, error=reason, at=now)
            self.ledger.transition(
                draft.id,
                State.HELD,
                only_from=[State.PUBLISHING],
                at=now,
                actor=SYSTEM,
                notice=reason,
                may_be_live=True if publication_id is not None else None,  # a request went to X: it may have it
                reason=reason,
                **_named(publication_id),
            )
            decision.tell(draft, Change(State.PUBLISHING, State.HELD, SYSTEM))
