"""Publishing, at most once: claim in the ledger, call X, then record what X said, retry or flag for a person."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot import thread
from bot.content import content_sha256
from bot.desk.core import EARLY_TOLERANCE, Core, Decision
from bot.errors import CopydeskError, Delivery, LedgerUnwritable, PublishError, WrongState
from bot.legs import Stage, next_try, ordered, outcome, reasons, sentence, waiting, where
from bot.model import SYSTEM, Draft
from bot.networks import label, listed
from bot.ports import CardRef, Change, Notifier, Posted, Publishers
from bot.review import Rules, State

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # however X keeps naming new reset times, a post is not tried forever
MAX_DELAY = timedelta(minutes=15)  # the longest wait between two attempts after a server error
RULES_AGAIN = timedelta(seconds=30)  # a post due while Slack cannot say who its editors are is tried again this soon
RECORD_FOR = timedelta(minutes=10)  # how long a post X took is tried to be recorded before a restart must settle it


@dataclass(frozen=True)
class Attempt:
    """One call to a network on its way: which publication row records it, and which part of the draft it posts where."""

    publication_id: int
    part: int
    parts: tuple[str, ...]  # every part's text; a single post has one
    network: str = "x"
    key: str | None = None  # the same for every send of this part there (bot/bluesky.py, bot/mastodon.py)
    several: bool = False  # the draft goes to more than one network: what is said of it names the network

    @property
    def text(self) -> str:
        return self.parts[self.part - 1]

    @property
    def last(self) -> bool:
        return self.part == len(self.parts)

    def detail(self) -> dict[str, Any]:
        """What the event log adds: which part of how many (nothing for a single post), and where (for several networks)."""
        said: dict[str, Any] = {"part": self.part, "of": len(self.parts)} if len(self.parts) > 1 else {}
        return {**said, "network": self.network} if self.several else said

    def where(self) -> dict[str, Any]:
        """The network, for an event of a draft that goes to several (nothing for one network: as before)."""
        return {"network": self.network} if self.several else {}

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
    """The scheduler's side of the desk: each approved post sent once to each of its networks, retried, or held for a
    person (Settling takes it from there). Each network is a leg (bot/legs.py): one failing never stops another."""

    def __init__(self, core: Core, *, publishers: Publishers, notifier: Notifier, jitter: Callable[[], float]) -> None:
        self.core = core
        self.ledger = core.ledger
        self.config = core.config
        self.clock = core.clock
        self.publishers = publishers
        self.notifier = notifier
        self._jitter = jitter  # 0 to 1: spreads the retries of posts that failed together

    def publish(self, draft_id: int) -> None:
        """The scheduler's job: publish an approved draft once on each network it goes to, if it is (still) approved,
        due and not paused.

        A thread goes out part by part, each a reply to the one before; a run that stops half-way (an error,
        a restart, the pause) starts again from the first part that is not on the network. Networks go one after the
        other; whatever happens on one, the next is tried in the same run.
        """
        started = self._claim(draft_id)
        if started is None:
            return
        draft, first, first_attempt = started
        attempt: Attempt | None = first
        while attempt is not None:
            attempt = self._send(draft, attempt, first_attempt)

    def _send(self, draft: Draft, attempt: Attempt, first_attempt: datetime) -> Attempt | None:
        """Post one part; the next attempt (the next part, or the next network) when there is one to make now."""
        publisher = self.publishers[draft.account][attempt.network]
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
            posted = publisher.publish(attempt.text, reply_to=reply_to, media_ids=media_ids, key=attempt.key)
        except PublishError as e:
            return self._after_failure(draft, attempt, first_attempt, e)
        except Exception as e:  # a fault of ours after the request may have gone: a person must look
            log.exception("publishing %s failed unexpectedly", draft.number)
            reason = f"copydesk failed while publishing ({type(e).__name__}); {check(attempt.network)}"
            return self._ended(draft, attempt, first_attempt, Stage.HELD, attempt.says(reason), may_be_live=True)
        return self._posted(draft, attempt, posted, first_attempt)

    def _recording(self, draft: Draft, attempt: Attempt, posted: Posted, write: Callable[[], Attempt | None]) -> Attempt | None:
        """Record what the network created; if the ledger refuses (disk full, a read-only file), say so at once and keep
        trying.

        The post is live whatever the ledger says: its link goes to the log and the card's thread straight away (the
        outbox is in the ledger too), and the write is tried again with doubling waits, for RECORD_FOR at most.
        """
        wait, deadline, told = 1.0, self.clock() + RECORD_FOR, False
        while True:
            try:
                return write()
            except LedgerUnwritable as e:
                what = f"{draft.number} {attempt.says('is on ' + label(attempt.network))}: {posted.url} (post {posted.post_id})"
                if not told:
                    told = True
                    log.error("%s, but %s; trying again", what, e)
                    self._say_now(
                        draft,
                        f":rotating_light: {what}. copydesk could not record it: {e}. It keeps trying; "
                        f"nothing is sent to {label(attempt.network)} again meanwhile.",
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
        """The post the part answers: the part before it on the same network, as the ledger has it."""
        if attempt.part == 1:
            return None
        before = self.ledger.published_parts(draft.id, attempt.network).get(attempt.part - 1)
        if before is None or not before.x_post_id:
            raise PublishError(
                f"copydesk does not know which post on {label(attempt.network)} is part {attempt.part - 1}, so part "
                f"{attempt.part} cannot reply to it; publish the rest by hand, then mark it published",
                delivery=Delivery.REFUSED,
            )
        return before.x_post_id

    def _claim(self, draft_id: int) -> tuple[Draft, Attempt, datetime] | None:
        """Mark the draft as publishing before calling any network, so that nothing else can publish it too.

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
            attempt = self._next_leg(draft, after=None, at=now)
            if attempt is None:
                self._nothing_due(decision, draft)
                return None
            if not self.ledger.transition(
                draft_id,
                State.PUBLISHING,
                only_from=[State.APPROVED],
                at=now,
                actor=SYSTEM,
                action="publishing",
                retrying=(None, draft.first_attempt_at or now),
                publication_id=attempt.publication_id,
                **self.core.approval_record(draft, rules),
                **attempt.detail(),
            ):  # cannot happen (read approved above, under the decision lock): undone, nothing is sent
                raise WrongState(f"{draft.number} is no longer approved")
            first = self.core.draft(draft_id).first_attempt_at  # as stored (to the millisecond), to compare with attempts
        assert first is not None
        return draft, attempt, first

    def _nothing_due(self, decision: Decision, draft: Draft) -> None:
        """Inside the claim: no network is due now (a veto lifted while one waits out its retry, an account's network
        gone from app.yaml): wait for the soonest retry, or settle the draft from its legs."""
        legs = ordered(self.ledger.legs(draft.id), self.core.networks_of(draft))
        if waiting(legs):
            self.ledger.set_attempts(draft.id, retry_at=next_try(legs), first_attempt_at=draft.first_attempt_at)
            decision.reschedule(draft.id)
            return
        state = outcome(legs)
        said = f"{sentence(where(legs))} {reasons(legs)}".strip()
        self.ledger.transition(
            draft.id, state, only_from=[State.APPROVED], at=decision.at, actor=SYSTEM, notice=said, reason=said
        )
        decision.tell(draft, Change(State.APPROVED, state, SYSTEM))
        decision.reschedule(draft.id)

    def _next_leg(self, draft: Draft, *, after: str | None, at: datetime) -> Attempt | None:
        """Inside a transaction: claim the first part not yet out on the next network due (after `after`), or None."""
        networks = self.core.networks_of(draft)
        stored = self.ledger.legs(draft.id)
        legs = ordered(stored, networks)
        for unsent in legs:  # every network a row from the claim on: the ledger says where each one stands
            if unsent.network not in stored:
                self.ledger.set_leg(draft.id, unsent.network, Stage.PENDING, at=at)
        later = networks[networks.index(after) + 1 :] if after in networks else networks
        leg = next((leg for leg in legs if leg.network in later and leg.due(at, EARLY_TOLERANCE)), None)
        if leg is None:
            return None
        if leg.network not in self.publishers.get(draft.account, {}):  # app.yaml no longer has the account there
            gone = f"the account {draft.account} is no longer on {label(leg.network)} in app.yaml"
            self.ledger.set_leg(draft.id, leg.network, Stage.FAILED, at=at, error=gone)
            return self._next_leg(draft, after=leg.network, at=at)
        parts = tuple(thread.split(draft.text))
        part = first_unpublished(self.ledger.published_parts(draft.id, leg.network), len(parts))
        if part > len(parts):  # every part is out there (recorded before the leg was): the leg is out
            self.ledger.set_leg(draft.id, leg.network, Stage.OUT, at=at)
            return self._next_leg(draft, after=leg.network, at=at)
        publication_id, key = self._start_part(draft, leg.network, part, at)
        self.ledger.set_leg(
            draft.id, leg.network, leg.stage, at=at, retry_at=leg.retry_at, error=leg.error, may_be_live=leg.may_be_live
        )
        return Attempt(publication_id, part, parts, leg.network, key, several=len(networks) > 1)

    def _start_part(self, draft: Draft, network: str, part: int, at: datetime) -> tuple[int, str | None]:
        """Inside a transaction: the publication row of one part on one network, under the key its first claim got (so
        every resend of it is the same post there); its id and that key."""
        key = self.ledger.publication_key(draft.id, network, draft.version, part) or self.publishers[draft.account][
            network
        ].key_for(draft.id, draft.version, part, at)
        handle = self._handle(draft, network)
        return self.ledger.start_publication(draft, handle, at=at, part=part, network=network, key=key), key

    def _log_publishing(self, draft: Draft, attempt: Attempt, at: datetime) -> None:
        """The event of a part on its way, after the first (which the claim's own transition records)."""
        self.ledger.log(
            "publishing",
            actor=SYSTEM,
            at=at,
            draft_id=draft.id,
            publication_id=attempt.publication_id,
            version=draft.version,
            content_sha256=draft.content_sha256,
            **attempt.detail(),
        )

    def _handle(self, draft: Draft, network: str) -> str:
        on = self.core.account(draft.account).on(network)
        return on.handle if on else self.core.account(draft.account).handle

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
        return self.core.other_mode(draft)

    def _stop_unapproved(self, decision: Decision, draft: Draft, reason: str) -> None:
        """Inside the claim's decision: hold the draft instead of sending it; a person decides what happens next."""
        at = decision.at
        networks = self.core.networks_of(draft)
        legs = ordered(self.ledger.legs(draft.id), networks)
        if any(leg.stage is Stage.OUT for leg in legs):  # a run stopped earlier left some networks out
            notice = f"Not sent: {reason}. {sentence(where(legs))}"
        else:
            notice = f"Not sent: {reason}. Nothing went to {'X' if networks == ('x',) else 'any network'}."
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
            return self._ended(draft, attempt, first, Stage.FAILED, reason)
        if error.delivery is Delivery.NOT_SENT:
            return self._retry_or_fail(draft, attempt, first, reason, error.retry_at)
        return self._settle_unknown(draft, attempt, first, reason)

    def _settle_unknown(self, draft: Draft, attempt: Attempt, first: datetime, reason: str) -> Attempt | None:
        """The request went out but no answer came back: look on the account before anything else."""
        try:  # from the first attempt of this run: the network may have created any of them late
            found = self.publishers[draft.account][attempt.network].find(attempt.text, since=first, key=attempt.key)
        except PublishError as e:
            why = f"{reason}. copydesk could not check the account either ({e.reason})"
            return self._ended(draft, attempt, first, Stage.HELD, why, may_be_live=True)
        if found is not None:
            return self._posted(draft, attempt, found, first, checked=True)
        why = reason.split(";")[0] + "; the post is not on the account"
        return self._retry_or_fail(draft, attempt, first, why, None)

    def _posted(
        self, draft: Draft, attempt: Attempt, posted: Posted, first: datetime, *, checked: bool = False
    ) -> Attempt | None:
        """Record a part the network has; the leg is out with its last part, else the next part is claimed at once."""
        return self._recording(
            draft, attempt, posted, lambda: self._record_posted(draft, attempt, posted, first, checked=checked)
        )

    def _record_posted(self, draft: Draft, attempt: Attempt, posted: Posted, first: datetime, *, checked: bool) -> Attempt | None:
        if attempt.last:
            return self._ended(draft, attempt, first, Stage.OUT, None, posted=posted, checked=checked)
        rules = self._rules_now(draft)  # may ask Slack: before the transaction
        now = self.clock()
        following: Attempt | None = None
        with self.core.deciding(at=now) as decision:
            self.ledger.finish_publication(
                attempt.publication_id, post_id=posted.post_id, url=posted.url, at=now, dry_run=posted.dry_run
            )
            self.ledger.log(
                "part_published",
                actor=SYSTEM,
                at=now,
                draft_id=draft.id,
                x_post_id=posted.post_id,
                url=posted.url or None,
                publication_id=attempt.publication_id,
                version=draft.version,
                content_sha256=draft.content_sha256,
                **attempt.detail(),
                **({"found_on_account": True} if checked else {}),
                **({"dry_run": True} if posted.dry_run else {}),
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
                    **attempt.where(),
                )
            elif rules is not None and (refusal := self._unapproved(self.core.draft(draft.id), rules)):
                # a veto (or a lost approval) that came while the thread was going out stops its next part
                notice = (
                    f"Part {attempt.part + 1} of {len(attempt.parts)} was not sent: {refusal}. Parts up to "
                    f"{attempt.part} are on {label(attempt.network)}; retract them, or settle it on this card."
                )
                self.ledger.transition(
                    draft.id, State.HELD, only_from=[State.PUBLISHING], at=now, actor=SYSTEM, notice=notice, reason=notice
                )
                decision.tell(draft, Change(State.PUBLISHING, State.HELD, SYSTEM))
            else:
                part = attempt.part + 1
                publication_id, key = self._start_part(draft, attempt.network, part, now)
                following = replace(attempt, publication_id=publication_id, part=part, key=key)
                self._log_publishing(draft, following, now)
            decision.tell(draft)  # the card shows how far the thread is
            if following is None:
                decision.reschedule(draft.id)
        return following

    def _retry_or_fail(
        self, draft: Draft, attempt: Attempt, first: datetime, reason: str, reset: datetime | None
    ) -> Attempt | None:
        now = self.clock()
        # failed attempts of this run on this network (and the one failing now); parts that went out do not count
        attempts = sum(
            1
            for p in self.ledger.publications(draft.id)
            if p.started_at >= first and p.outcome not in ("published", "dry_run") and p.network == attempt.network
        )
        delay = min(timedelta(seconds=self.config.x_retry_delay_seconds * 2 ** (attempts - 1)), MAX_DELAY)
        delay *= 0.5 + self._jitter() / 2  # posts that failed together do not all come back together
        retry_at = max(reset, now) if reset else now + delay
        give_up = first + timedelta(minutes=self.config.x_retry_for_minutes)
        # The network's named reset is waited for however long; our own backoff stops at the retry window.
        if attempts >= MAX_ATTEMPTS or (reset is None and retry_at > give_up):
            return self._ended(draft, attempt, first, Stage.FAILED, f"{reason}; gave up after {attempts} attempt(s)")
        return self._ended(draft, attempt, first, Stage.RETRYING, reason, retry_at=retry_at, attempts=attempts)

    def _ended(
        self,
        draft: Draft,
        attempt: Attempt,
        first: datetime,
        stage: Stage,
        reason: str | None,
        *,
        retry_at: datetime | None = None,
        may_be_live: bool = False,
        posted: Posted | None = None,
        checked: bool = False,
        attempts: int = 0,
    ) -> Attempt | None:
        """One network's run is over (out, to retry, failed or held): record it, then claim the next network due, or
        settle the draft from all its legs, in one transaction."""
        stopped = attempt.several and self._stopped(draft)  # may ask Slack: before the transaction
        now = self.clock()
        nxt: Attempt | None = None
        with self.core.deciding(at=now) as decision:
            if posted is not None:
                self.ledger.finish_publication(
                    attempt.publication_id, post_id=posted.post_id, url=posted.url, at=now, dry_run=posted.dry_run
                )
            elif attempt.publication_id:
                self.ledger.fail_publication(attempt.publication_id, error=reason or "", at=now)
            before = self.ledger.legs(draft.id).get(attempt.network)
            # a network in doubt stays in doubt until its post is found or sent (a resend it refused proves nothing)
            doubt = may_be_live or (stage is not Stage.OUT and before is not None and before.may_be_live)
            self.ledger.set_leg(draft.id, attempt.network, stage, at=now, retry_at=retry_at, error=reason, may_be_live=doubt)
            if doubt and attempt.several:
                self.ledger.set_doubt(draft.id, True)  # withdraw, edit and votes see it while the other networks go on
            said = self._leg_record(draft, attempt, stage, reason, retry_at, posted, checked, attempts)
            if attempt.several:
                self.ledger.log(f"network_{stage.value}", actor=SYSTEM, at=now, draft_id=draft.id, **said)
            if self.ledger.current_pause() is None and not stopped:
                nxt = self._next_leg(self.core.draft(draft.id), after=attempt.network, at=now)
            if nxt is not None:
                self._log_publishing(draft, nxt, now)
                decision.tell(draft)  # the card shows which networks have it
            else:
                self._conclude(decision, draft, first, said if not attempt.several else {}, attempt, stopped=stopped)
        return nxt

    def _stopped(self, draft: Draft) -> bool:
        """A veto or a lost approval since the run began: no further network is sent (the claim's check, once more)."""
        rules = self._rules_now(draft)
        return rules is not None and self._unapproved(self.core.draft(draft.id), rules) is not None

    @staticmethod
    def _leg_record(
        draft: Draft,
        attempt: Attempt,
        stage: Stage,
        reason: str | None,
        retry_at: datetime | None,
        posted: Posted | None,
        checked: bool,
        attempts: int,
    ) -> dict[str, Any]:
        """What the event log says of one network's outcome (for a single network: the draft's own event's detail)."""
        said: dict[str, Any] = {"network": attempt.network} if attempt.several else {}
        if stage is Stage.OUT and posted is not None:
            said.update(x_post_id=posted.post_id, url=posted.url or None, last_post_id=posted.post_id)
            if checked:
                said["found_on_account"] = True
            if posted.dry_run:  # nothing was sent: the ledger never reads it as a post on the network
                said["dry_run"] = True
        elif stage is Stage.RETRYING:
            said.update(attempt=attempts, error=reason)
            if retry_at is not None:
                said["retry_at"] = retry_at.isoformat()
        elif stage is Stage.FAILED:
            said["error"] = reason
        elif stage is Stage.HELD:
            said["reason"] = reason
        said["publication_id"] = attempt.publication_id
        if stage is Stage.OUT:
            said.update(version=draft.version, content_sha256=draft.content_sha256)
        return said

    def _conclude(
        self, decision: Decision, draft: Draft, first: datetime, said: dict[str, Any], attempt: Attempt, *, stopped: bool
    ) -> None:
        """No network is left to try now: the draft's state follows from its legs (out everywhere, waiting, held or
        failed somewhere), or it waits for the pause or a person (a veto during the run)."""
        now = decision.at
        networks = self.core.networks_of(draft)
        legs = ordered(self.ledger.legs(draft.id), networks)
        current = self.core.draft(draft.id)
        state = outcome(legs)
        several = len(networks) > 1
        summary: dict[str, Any] = {"networks": {leg.network: leg.stage.value for leg in legs}} if several else {}
        named = {} if several else _named(attempt.publication_id)  # several: each network's own event names its attempt
        pending = [leg.network for leg in legs if leg.stage is Stage.PENDING]
        if several and pending and self.ledger.current_pause() is not None:
            trouble = reasons(legs)
            self.ledger.transition(
                draft.id,
                State.APPROVED,
                only_from=[State.PUBLISHING],
                at=now,
                actor=SYSTEM,
                action="networks_paused",
                notice=f"{sentence(where(legs))} {trouble}" if trouble else None,
                **summary,
            )
            decision.tell(current)
            return
        if several and pending and stopped:
            notice = (
                f"Not sent to {listed(pending)}: a veto, or an approval that no longer counts, came while it was going out "
                f"(an editor must review it again). {sentence(where(legs))}"
            )
            self.ledger.transition(
                draft.id, State.HELD, only_from=[State.PUBLISHING], at=now, actor=SYSTEM, notice=notice, reason=notice
            )
            decision.tell(draft, Change(State.PUBLISHING, State.HELD, SYSTEM))
            decision.reschedule(draft.id)
            return
        if state is State.PUBLISHED:
            out = self.ledger.published_parts(draft.id, networks[0])
            first_part = out.get(1)
            detail = dict(said)
            if not several:
                detail.pop("x_post_id", None), detail.pop("url", None)
            else:
                detail.update(version=draft.version, content_sha256=draft.content_sha256)
                live = self.ledger.live_posts(draft.id)
                detail["links"] = {n: p[1].url for n, p in live.items() if 1 in p}
                if dry := [n for n, p in live.items() if 1 in p and p[1].outcome == "dry_run"]:
                    detail["dry_run"] = dry  # the networks it went through in a dry run: nothing was sent there
            if len(out) > 1:
                detail["parts"] = len(out)
            self.ledger.transition(
                draft.id,
                State.PUBLISHED,
                only_from=[State.PUBLISHING],
                at=now,
                actor=SYSTEM,
                may_be_live=False,
                x_post_id=first_part.x_post_id if first_part else said.get("x_post_id"),
                url=first_part.url if first_part else said.get("url"),
                **detail,
                **summary,
            )
        elif state is State.APPROVED:
            retry_at = next_try(legs)
            self.ledger.transition(
                draft.id,
                State.APPROVED,
                only_from=[State.PUBLISHING],
                at=now,
                actor=SYSTEM,
                action="retry_scheduled",
                retrying=(retry_at, first),
                **(said if not several else {"retry_at": retry_at.isoformat() if retry_at else None, "error": where(legs)}),
                **summary,
            )
            decision.reschedule(draft.id)
        elif state is State.FAILED:
            error = said.get("error") if not several else f"{sentence(where(legs))} {reasons(legs)}"
            self.ledger.transition(
                draft.id,
                State.FAILED,
                only_from=[State.PUBLISHING],
                at=now,
                actor=SYSTEM,
                error=error,
                **named,
                **summary,
            )
        elif state is State.RETRACTED:  # every network taken back meanwhile: nothing of it is out
            said_now = sentence(where(legs))
            self.ledger.transition(
                draft.id, State.RETRACTED, only_from=[State.PUBLISHING], at=now, actor=SYSTEM, notice=said_now, **summary
            )
        else:  # held somewhere
            reason = said.get("reason") if not several else f"{sentence(where(legs))} {reasons(legs)}"
            self.ledger.transition(
                draft.id,
                State.HELD,
                only_from=[State.PUBLISHING],
                at=now,
                actor=SYSTEM,
                notice=reason,
                may_be_live=True if any(leg.may_be_live for leg in legs) else None,
                reason=reason,
                **named,
                **summary,
            )
        decision.tell(draft, Change(State.PUBLISHING, state, SYSTEM))

    def interrupted(self, draft: Draft) -> None:
        """At start, a draft left publishing: the network being asked may have the post, so that leg is held for a
        person; the networks not yet tried still go out (at start, never blindly again where it may be live)."""
        open_attempts = [p for p in self.ledger.publications(draft.id) if p.outcome == "publishing"]
        networks = self.core.networks_of(draft)
        count = len(thread.split(draft.text))
        if not open_attempts:
            self.hold(draft, None, interrupted(networks[0]))
            return
        last = open_attempts[-1]
        which = f"part {last.part} of {count}: " if count > 1 else ""
        attempt = Attempt(last.id, last.part, tuple(thread.split(draft.text)), last.network, last.key, several=len(networks) > 1)
        reason = which + interrupted(last.network)
        now = self.clock()
        with self.core.deciding(at=now) as decision:
            self.ledger.fail_publication(last.id, error=reason, at=now)
            self.ledger.set_leg(draft.id, last.network, Stage.HELD, at=now, error=reason, may_be_live=True)
            said = self._leg_record(draft, attempt, Stage.HELD, reason, None, None, False, 0)
            if attempt.several:
                self.ledger.log("network_held", actor=SYSTEM, at=now, draft_id=draft.id, **said)
            first = draft.first_attempt_at or now
            self._conclude(decision, draft, first, said if not attempt.several else {}, attempt, stopped=False)

    def hold(self, draft: Draft, publication_id: int | None, reason: str) -> None:
        """Whether the network has the post is unknown: stop, and ask a person on the card."""
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
                may_be_live=True if publication_id is not None else None,  # a request went out: it may have it
                reason=reason,
                **_named(publication_id),
            )
            decision.tell(draft, Change(State.PUBLISHING, State.HELD, SYSTEM))


def check(network: str) -> str:
    """What a person does about a post whose fate is unknown."""
    return f"check the account on {label(network)}, then publish it again or mark it published"


def interrupted(network: str) -> str:
    return f"publishing was interrupted (copydesk stopped while {label(network)} was being asked); {check(network)}"
