"""Publishing, at most once: claim in the ledger, call X, then record what X said, retry or flag for a person."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from bot.errors import Delivery, NotAllowed, Paused, PublishError, WrongState
from bot.model import Draft
from bot.ports import Change
from bot.publishing import Posted
from bot.review import State, decide, tally
from bot.desk_base import SYSTEM, DeskBase

log = logging.getLogger(__name__)

# A job may wake a little before its time (clock resolution); this much early still counts as on time.
EARLY_TOLERANCE = timedelta(milliseconds=5)
MAX_ATTEMPTS = 10  # however X keeps naming new reset times, a post is not tried forever
MAX_DELAY = timedelta(minutes=15)  # the longest wait between two attempts after a server error
CHECK = "check the account on X, then publish it again or mark it published"
INTERRUPTED = f"publishing was interrupted (copydesk stopped while X was being asked); {CHECK}"
_POST_ID = re.compile(r"/status(?:es)?/(\d+)")


class Publishing(DeskBase):
    """The scheduler's side of the desk, and the buttons that settle a post in doubt."""

    def publish(self, draft_id: int) -> None:
        """The scheduler's job: publish an approved draft once, if it is (still) approved, due and not paused."""
        started = self._claim(draft_id)
        if started is None:
            return
        draft, publication_id, first_attempt = started
        try:
            posted = self.publishers[draft.account].publish(draft.text)
        except PublishError as e:
            self._after_failure(draft, publication_id, first_attempt, e)
        except Exception as e:  # a fault of ours after the request may have gone: a person must look
            log.exception("publishing %s failed unexpectedly", draft.number)
            self._hold(draft, publication_id, f"copydesk failed while publishing ({type(e).__name__}); {CHECK}")
        else:
            self._succeed(draft, publication_id, posted)

    def _claim(self, draft_id: int) -> tuple[Draft, int, datetime] | None:
        """Mark the draft as publishing before calling X, so that nothing else can publish it too."""
        now = self.clock()
        with self._decisions, self.ledger.transaction():
            draft = self.ledger.draft(draft_id)
            if draft is None or draft.state is not State.APPROVED or self.ledger.current_pause():
                return None  # withdrawn, vetoed, published or paused since the job was scheduled
            if draft.due and draft.due - now > EARLY_TOLERANCE:
                self._sync_schedule(draft_id)
                return None
            if not self.ledger.move(draft_id, State.PUBLISHING, only_from=[State.APPROVED], at=now):
                return None
            self.ledger.set_attempts(draft_id, retry_at=None, first_attempt_at=draft.first_attempt_at or now)
            publication_id = self.ledger.start_publication(draft, self._account(draft.account).handle, at=now)
            self.ledger.log("publishing", actor=SYSTEM, at=now, draft_id=draft_id, publication_id=publication_id)
            first = self._draft(draft_id).first_attempt_at  # as stored (to the millisecond), to compare with attempts
        assert first is not None
        return draft, publication_id, first

    def _after_failure(self, draft: Draft, publication_id: int, first: datetime, error: PublishError) -> None:
        if error.delivery is Delivery.REFUSED:
            self._fail(draft, publication_id, error.reason)
        elif error.delivery is Delivery.NOT_SENT:
            self._retry_or_fail(draft, publication_id, first, error.reason, error.retry_at)
        else:
            self._settle_unknown(draft, publication_id, first, error.reason)

    def _settle_unknown(self, draft: Draft, publication_id: int, first: datetime, reason: str) -> None:
        """The request went out but no answer came back: look on the account before anything else."""
        try:  # from the first attempt of this run: X may have created any of them late
            found = self.publishers[draft.account].find(draft.text, since=first)
        except PublishError as e:
            self._hold(draft, publication_id, f"{reason}. copydesk could not check the account either ({e.reason})")
            return
        if found is not None:
            self._succeed(draft, publication_id, found, checked=True)
        else:
            why = reason.split(";")[0] + "; the post is not on the account"
            self._retry_or_fail(draft, publication_id, first, why, None)

    def _retry_or_fail(self, draft: Draft, publication_id: int, first: datetime, reason: str, reset: datetime | None) -> None:
        now = self.clock()
        attempts = sum(1 for p in self.ledger.publications(draft.id) if p.started_at >= first)
        delay = min(timedelta(seconds=self.config.x_retry_delay_seconds * 2 ** (attempts - 1)), MAX_DELAY)
        retry_at = max(reset, now) if reset else now + delay
        give_up = first + timedelta(minutes=self.config.x_retry_for_minutes)
        # X's named reset is waited for however long; our own backoff stops at the retry window.
        if attempts >= MAX_ATTEMPTS or (reset is None and retry_at > give_up):
            self._fail(draft, publication_id, f"{reason}; gave up after {attempts} attempt(s)")
            return
        with self._decisions:
            with self.ledger.transaction():
                self.ledger.fail_publication(publication_id, error=reason, at=now)
                self.ledger.move(draft.id, State.APPROVED, only_from=[State.PUBLISHING], at=now)
                self.ledger.set_attempts(draft.id, retry_at=retry_at, first_attempt_at=first)
                self.ledger.log("retry_scheduled", actor=SYSTEM, at=now, draft_id=draft.id, attempt=attempts,
                                error=reason, retry_at=retry_at.isoformat())
            self._sync_schedule(draft.id)
        self._notify(draft.id, Change(State.PUBLISHING, State.APPROVED, SYSTEM))

    def _succeed(self, draft: Draft, publication_id: int, posted: Posted, *, checked: bool = False) -> None:
        now = self.clock()
        with self.ledger.transaction():
            self.ledger.finish_publication(publication_id, post_id=posted.post_id, url=posted.url, at=now)
            self.ledger.move(draft.id, State.PUBLISHED, only_from=[State.PUBLISHING], at=now)
            self.ledger.set_attempts(draft.id, retry_at=None, first_attempt_at=None)
            detail = {"found_on_account": True} if checked else {}
            self.ledger.log("published", actor=SYSTEM, at=now, draft_id=draft.id, x_post_id=posted.post_id, url=posted.url, **detail)
        self._notify(draft.id, Change(State.PUBLISHING, State.PUBLISHED, SYSTEM))

    def _fail(self, draft: Draft, publication_id: int, reason: str) -> None:
        now = self.clock()
        with self.ledger.transaction():
            self.ledger.fail_publication(publication_id, error=reason, at=now)
            self.ledger.move(draft.id, State.FAILED, only_from=[State.PUBLISHING], at=now)
            self.ledger.set_attempts(draft.id, retry_at=None, first_attempt_at=None)
            self.ledger.log("failed", actor=SYSTEM, at=now, draft_id=draft.id, error=reason)
        self._notify(draft.id, Change(State.PUBLISHING, State.FAILED, SYSTEM))

    def _hold(self, draft: Draft, publication_id: int | None, reason: str) -> None:
        """Whether X has the post is unknown: stop, and ask a person on the card."""
        now = self.clock()
        with self.ledger.transaction():
            if publication_id is not None:
                self.ledger.fail_publication(publication_id, error=reason, at=now)
            self.ledger.move(draft.id, State.HELD, only_from=[State.PUBLISHING], at=now)
            self.ledger.set_attempts(draft.id, retry_at=None, first_attempt_at=None)
            self.ledger.set_notice(draft.id, reason)
            self.ledger.log("held", actor=SYSTEM, at=now, draft_id=draft.id, reason=reason)
        self._notify(draft.id, Change(State.PUBLISHING, State.HELD, SYSTEM))

    # a person settles it

    def publish_again(self, draft_id: int, user_id: str) -> Draft:
        """An editor or admin sends a held or failed draft to X again (or confirms one held by a pause)."""
        draft = self._draft(draft_id)
        self._require_editor_or_admin(draft, user_id, "publish a held draft")
        if self.ledger.current_pause():
            raise Paused("Publishing is paused; an admin must /draft resume before anything goes out.")
        needed = self._account(draft.account).approvals_required
        now = self.clock()
        with self._decisions:
            with self.ledger.transaction():
                current = self._draft(draft_id)
                if current.state not in (State.HELD, State.FAILED):
                    raise WrongState(f"{draft.number} is {current.state.label}; only held or failed drafts can be published again.")
                counted = tally(self.ledger.votes(draft_id))
                if decide(counted, needed) is not State.APPROVED:
                    raise WrongState(f"{draft.number} does not have the editors' approval now "
                                     f"({len(counted.approvers)} of {needed}, {len(counted.rejecters)} veto); it cannot go out.")
                self.ledger.move(draft_id, State.APPROVED, only_from=[current.state], at=now)
                self.ledger.set_attempts(draft_id, retry_at=None, first_attempt_at=None)
                self.ledger.set_notice(draft_id, None)
                self.ledger.log("publish_again", actor=user_id, at=now, draft_id=draft_id, before=current.state.value)
            self._sync_schedule(draft_id)
        self._notify(draft_id, Change(current.state, State.APPROVED, user_id))
        return self._draft(draft_id)

    def mark_published(self, draft_id: int, user_id: str, url: str | None) -> Draft:
        """An editor or admin found a held post live on X: record it as published, with its link if given."""
        draft = self._draft(draft_id)
        self._require_editor_or_admin(draft, user_id, "mark a draft as published")
        match = _POST_ID.search(url or "")
        if url and not match:
            raise WrongState(f"{url} is not a link to a post on X (…/status/123…).")
        now = self.clock()
        with self.ledger.transaction():
            if not self.ledger.move(draft_id, State.PUBLISHED, only_from=[State.HELD, State.FAILED], at=now):
                raise WrongState(f"{draft.number} is {self._draft(draft_id).state.label}; only held or failed drafts can be marked published.")
            self.ledger.set_attempts(draft_id, retry_at=None, first_attempt_at=None)
            publication_id = self.ledger.start_publication(draft, self._account(draft.account).handle, at=now)
            self.ledger.finish_publication(publication_id, post_id=match[1] if match else "", url=url or "", at=now)
            self.ledger.set_notice(draft_id, f"Marked as published by <@{user_id}> after checking the account.")
            self.ledger.log("marked_published", actor=user_id, at=now, draft_id=draft_id, url=url)
        self._notify(draft_id, Change(draft.state, State.PUBLISHED, user_id))
        return self._draft(draft_id)

    def _require_editor_or_admin(self, draft: Draft, user_id: str, what: str) -> None:
        if user_id in self.config.admins or user_id in self._rules(self._account(draft.account), draft.author_id).editors:
            return
        raise NotAllowed(f"Only editors of {draft.account} and admins can {what}.")
