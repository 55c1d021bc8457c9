"""Reminding editors, once per version of a draft, that it still waits for their vote."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.desk.core import EARLY_TOLERANCE, Core
from bot.messenger import REMIND, draft_queue
from bot.model import SYSTEM
from bot.review import Kind, State

log = logging.getLogger(__name__)


class Reminders:
    """The reminder job, and its scheduling when a card goes up and when copydesk starts."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.ledger = core.ledger
        self.config = core.config
        self.clock = core.clock

    def schedule_reminder(self, draft_id: int) -> None:
        """Plan the draft's reminder from when its review (of this version) began; nothing if it was sent."""
        self._plan_reminder(draft_id, self._reminder_due(draft_id))

    def schedule_reminders(self, draft_ids: list[int]) -> None:
        """schedule_reminder for many drafts, reading the ledger once (a start on thousands in review)."""
        marks = self.ledger.review_marks(draft_ids)
        for draft_id in draft_ids:
            self._plan_reminder(draft_id, self._due_after(*marks.get(draft_id, (None, None))))

    def _plan_reminder(self, draft_id: int, due: datetime | None) -> None:
        if due is not None:
            self.core.scheduler.remind(draft_id, due if due > self.clock() else None)

    def remind(self, draft_id: int) -> None:
        """The reminder job: name, in the card's thread, the editors who have not voted on this version."""
        draft = self.ledger.draft(draft_id)
        if draft is None or draft.state is not State.IN_REVIEW or draft.account not in self.config.accounts:
            return
        rules = self.core.rules_of(draft)  # may ask Slack: outside the transaction
        now = self.clock()
        with self.ledger.transaction():
            due = self._reminder_due(draft_id)
            current = self.ledger.draft(draft_id)
            if due is None or current is None or current.state is not State.IN_REVIEW or not current.card_ts:
                return  # reminded already, decided, withdrawn, or its card is being replaced
            if due - now > EARLY_TOLERANCE:
                early = True
            else:
                early = False
                counted = self.core.standing(current, rules)
                voted = {*counted.approvers, *counted.rejecters}
                waiting = sorted(e for e in rules.editors if e not in voted and rules.counts(e, Kind.APPROVE))
                if not waiting:
                    return
                self.ledger.log("reminded", actor=SYSTEM, at=now, draft_id=draft_id, editors=waiting)
                self.ledger.enqueue(
                    draft_queue(draft_id), REMIND, at=now, draft_id=draft_id, version=current.version, editors=waiting
                )
        if early:
            self.schedule_reminder(draft_id)

    def _reminder_due(self, draft_id: int) -> datetime | None:
        """When this version's reminder is due, or None when reminders are off or it went out already."""
        if self.config.remind_after_minutes is None:
            return None
        started = self.ledger.review_started(draft_id)
        if started is None or self.ledger.reminded_since(draft_id, started):
            return None
        return self._due_after(started, None)

    def _due_after(self, started: datetime | None, reminded: datetime | None) -> datetime | None:
        """A review that began at `started` is reminded once, after the configured delay, unless it was already."""
        delay = self.config.remind_after_minutes
        if delay is None or started is None or (reminded is not None and reminded >= started):
            return None
        return started + timedelta(minutes=delay)
