"""Start-up: the schedule rebuilt from the ledger, and what a previous run left half-done settled."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.desk.core import Core
from bot.desk.expiry import Expiry
from bot.desk.publishing import Publishing
from bot.desk.reminders import Reminders
from bot.desk.voting import Voting
from bot.errors import RuleBlocks
from bot.model import SYSTEM, Draft
from bot.policy import Policy
from bot.ports import Change
from bot.review import OPEN, State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovery:
    """What start-up found in the ledger and did about it."""

    scheduled: int
    interrupted: int
    cards_queued: int  # cards that never reached Slack, queued again


class Recovering:
    """Runs once, before the server, the scheduler and the courier start: no request or job runs meanwhile."""

    def __init__(self, core: Core, *, voting: Voting, publishing: Publishing, reminders: Reminders, expiry: Expiry) -> None:
        self.core = core
        self.ledger = core.ledger
        self.config = core.config
        self.clock = core.clock
        self.voting = voting
        self.publishing = publishing
        self.reminders = reminders
        self.expiry = expiry

    def recover(self) -> Recovery:
        """Rebuild the schedule from the ledger and settle what a previous run left half-done."""
        now = self.clock()
        self._retire_orphans(now)
        interrupted = self.ledger.drafts_in([State.PUBLISHING])
        for draft in interrupted:
            # The call to the network may or may not have gone through: never post there again blindly, ask a person.
            self.publishing.interrupted(draft)
        # No request or job runs yet (the server, the scheduler and the courier start after this),
        # so the drafts just read are current.
        self._judge_again(now)
        self.voting.decide_again(self.ledger.drafts_in([State.APPROVED]), now)
        approved = self.ledger.drafts_in([State.APPROVED])
        if self.ledger.current_pause() is None:
            for draft in approved:
                self.core.schedule_approved(draft)
        # the drafts without a card get their reminder when their card is posted
        self.reminders.schedule_reminders([d.id for d in self.ledger.drafts_in([State.IN_REVIEW]) if d.card_ts])
        self.expiry.plan_all()  # after decide_again: a draft back in review expires too; one whose time ran out, at once
        self.ledger.outbox_now(now)  # what waited out a backoff before the restart goes at once
        queued = 0
        with self.ledger.transaction():  # a card Slack gave up on, or one from before the outbox: tried again now
            for draft in self.ledger.drafts_without_card():
                if self.ledger.card_message(draft.id, draft.version) not in ("pending",):
                    self.core.queue_card(draft, at=now)
                    queued += 1
        return Recovery(scheduled=len(approved), interrupted=len(interrupted), cards_queued=queued)

    def _judge_again(self, now: datetime) -> None:
        """app.yaml's rules may have changed while copydesk was down: each open draft's version is judged again, and a
        draft a rule now refuses is held for a person, saying which rule."""
        if not any(a.rules for a in self.config.accounts.values()) and not self.ledger.any_policy():
            return  # no rules today, and none recorded: nothing to judge (a start costs a team without rules nothing)
        for draft in self.ledger.drafts_in(OPEN):
            account = self.config.accounts.get(draft.account)
            if account is None or (not account.rules and draft.policy is None) or self.ledger.published_parts(draft.id, None):
                continue  # retired above; no rule then or now; or a thread partly on X (its next part is checked before it goes)
            media = bool(self.ledger.images(draft.id))
            try:
                policy = self.core.judge(account, draft.text, media=media, publish_at=draft.publish_at, at=now)
            except RuleBlocks as e:
                with self.core.deciding(at=now) as decision:
                    if self.ledger.transition(
                        draft.id,
                        State.HELD,
                        only_from=[State.IN_REVIEW, State.APPROVED],
                        at=now,
                        actor=SYSTEM,
                        notice=f"Held at start: {e}",
                        reason=str(e),
                    ):
                        decision.tell(draft, Change(draft.state, State.HELD, SYSTEM))
                continue
            if policy != draft.policy:
                with self.core.deciding(at=now) as decision:
                    self.ledger.set_policy(draft.id, policy, at=now, cooling_until=self._longer_wait(draft, policy))
                    decision.tell(draft)  # (the schedule is made after decide_again, from what it leaves approved)

    def _longer_wait(self, draft: Draft, policy: Policy | None) -> datetime | None:
        """An approved draft whose rules now ask a longer cooling-off waits it out, counted from its quorum."""
        minutes = policy.cooling_off_minutes if policy else 0.0
        if draft.state is not State.APPROVED or not minutes:
            return None
        approved = None
        for event in reversed(self.ledger.events(draft.id)):
            if event.action in ("cooling_off_skipped", "publish_again") or event.detail.get("votes_cleared"):
                return None  # an admin let it go, or a person confirmed it: no window to put back
            if event.action == "approved":
                approved = event.at
                break
        until = approved + timedelta(minutes=minutes) if approved else None
        if until is None or until <= self.clock() or (draft.cooling_until is not None and until <= draft.cooling_until):
            return None
        return until

    def _retire_orphans(self, now: datetime) -> None:
        """Drafts waiting for an account that app.yaml no longer has can never go out: say so.

        Only open drafts: a vetoed one of such an account stays as it is (a vote on it is refused, naming the account),
        and reading every veto in the history would make each start slower than the last.
        """
        for draft in self.ledger.drafts_in(OPEN):
            if draft.account in self.config.accounts:
                continue
            reason = f"the account {draft.account!r} is no longer in app.yaml"
            with self.core.deciding(at=now):
                self.ledger.transition(draft.id, State.FAILED, only_from=[draft.state], at=now, actor=SYSTEM, error=reason)
            log.warning("%s failed: %s", draft.number, reason)
