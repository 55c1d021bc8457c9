"""Expiry: a draft still in review when its account's time runs out never goes out (expire_after_hours, on_missed_time)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.config import Account
from bot.desk.core import EARLY_TOLERANCE, Core
from bot.model import SYSTEM, Draft
from bot.ports import Change
from bot.review import State

log = logging.getLogger(__name__)

# What expired a draft: the event's `reason`, and what its card, thread and author are told.
NO_DECISION = "no decision within {span} of its latest version"
MISSED_TIME = "its publish time passed while it was still in review"
NOTICE = "{reason}: it will not be published, and votes on it no longer count."


class Expiry:
    """The expiry job, and its planning when a draft enters review (or comes back to it) and when copydesk starts."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.ledger = core.ledger
        self.config = core.config
        self.clock = core.clock

    def plan(self, draft_id: int) -> None:
        """Make the draft's expiry job agree with the ledger: planned while it is in review, gone otherwise."""
        if not self._any_expires():
            return  # nothing ever expires: not even a read of the ledger
        draft = self.ledger.draft(draft_id)
        account = self.config.accounts.get(draft.account) if draft else None
        if draft is None or account is None or draft.state is not State.IN_REVIEW or not _expires(account):
            self.core.scheduler.cancel_expiry(draft_id)
            return
        self._plan(draft, account, self.ledger.review_started(draft_id))

    def plan_all(self) -> int:
        """At start: plan the expiry of every draft in review, reading when each one's review began in one query; those
        whose time ran out while copydesk was down expire as soon as the scheduler starts. How many were planned."""
        if not self._any_expires():
            return 0  # a start on thousands of drafts in review reads none of them again
        drafts = [
            (d, a)
            for d in self.ledger.drafts_in([State.IN_REVIEW])
            if (a := self.config.accounts.get(d.account)) is not None and _expires(a)
        ]
        marks = self.ledger.review_marks([d.id for d, _ in drafts]) if drafts else {}
        return sum(self._plan(draft, account, marks.get(draft.id, (None, None))[0]) for draft, account in drafts)

    def _any_expires(self) -> bool:
        """Whether any account expires drafts: a team without expiry pays nothing for it."""
        return any(_expires(a) for a in self.config.accounts.values())

    def _plan(self, draft: Draft, account: Account, started: datetime | None) -> bool:
        expiry = expiry_of(draft, account, started)
        if expiry is None:
            self.core.scheduler.cancel_expiry(draft.id)
            return False
        due = expiry[0]
        self.core.scheduler.expire(draft.id, due if due > self.clock() else None)
        return True

    def expire(self, draft_id: int) -> None:
        """The expiry job: a draft still in review once its time has come expires, its card, thread and author told in the
        same transaction. Nothing happens to one decided, withdrawn or edited meanwhile (a new version moved its time)."""
        early = False
        with self.core.deciding() as decision:
            draft = self.ledger.draft(draft_id)
            account = self.config.accounts.get(draft.account) if draft else None
            if draft is None or account is None or draft.state is not State.IN_REVIEW:
                return
            expiry = expiry_of(draft, account, self.ledger.review_started(draft_id))
            if expiry is None:
                return  # app.yaml no longer expires it
            due, reason = expiry
            if due - decision.at > EARLY_TOLERANCE:
                early = True  # woken before its time (clock drift): planned again below, after the lock
            elif self.ledger.transition(
                draft_id,
                State.EXPIRED,
                only_from=[State.IN_REVIEW],
                at=decision.at,
                actor=SYSTEM,
                action="expired",
                notice=NOTICE.format(reason=reason[:1].upper() + reason[1:]),
                reason=reason,
                version=draft.version,
            ):
                decision.tell(draft, Change(State.IN_REVIEW, State.EXPIRED, SYSTEM))
                decision.reschedule(draft_id)
                log.info("%s expired: %s", draft.number, reason)
        if early:
            self.plan(draft_id)


def _expires(account: Account) -> bool:
    """Whether anything of this account ever expires."""
    return account.expire_after_hours is not None or account.on_missed_time == "expire"


def expiry_of(draft: Draft, account: Account, started: datetime | None) -> tuple[datetime, str] | None:
    """When a draft in review expires under its account's keys, and why: the earlier of its version's review start plus
    expire_after_hours and (with on_missed_time: expire) its publish time; None when it never does."""
    found: list[tuple[datetime, str]] = []
    if account.expire_after_hours is not None and started is not None:
        span = timedelta(hours=account.expire_after_hours)
        found.append((started + span, NO_DECISION.format(span=duration(account.expire_after_hours))))
    if account.on_missed_time == "expire" and draft.publish_at is not None:
        found.append((draft.publish_at, MISSED_TIME))
    return min(found, key=lambda f: f[0]) if found else None


def duration(hours: float) -> str:
    """A number of hours as people say it: 2 hours, 1.5 hours, 30 minutes, 36 seconds."""
    if hours >= 1:
        amount, unit = hours, "hour"
    elif hours * 60 >= 1:
        amount, unit = hours * 60, "minute"
    else:
        amount, unit = hours * 3600, "second"
    amount = round(amount, 2)
    return f"{amount:g} {unit}" + ("" if amount == 1 else "s")
