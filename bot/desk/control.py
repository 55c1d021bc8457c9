"""The crisis switch: one command stops all publishing, for every account, and one starts it again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.desk.core import Core
from bot.errors import WrongState
from bot.legs import ordered, reasons
from bot.messenger import ANNOUNCE, channel_queue
from bot.model import SYSTEM, Draft, Pause
from bot.ports import Change
from bot.review import OPEN, State

PAUSE_HOLD = "Its time came while publishing was paused; an editor must confirm before it goes out."


@dataclass(frozen=True)
class Resumed:
    """What /draft resume found: posts that go on as planned, and posts that now wait for a confirmation."""

    rescheduled: int
    held: list[Draft]


class Control:
    """Pause and resume; only admins may do either, and drafting and voting go on meanwhile."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.ledger = core.ledger
        self.config = core.config

    def pause(self, user_id: str, reason: str | None) -> Pause:
        """Stop all publishing at once, for every account; drafting and voting go on. The review channels and every
        open card hear of it from the outbox, queued with the pause itself."""
        self.core.require_admin(user_id, "pause publishing")
        with self.core.deciding() as decision:
            if not self.ledger.pause(by=user_id, reason=reason, at=decision.at):
                current = self.ledger.current_pause()
                by = f", by <@{current.paused_by}>" if current else ""
                raise WrongState(f"Publishing is already paused{by}; /draft resume goes on.")
            self._announce(at=decision.at, news="paused", actor=user_id, reason=reason)
            for draft in self.ledger.drafts_in(OPEN):
                decision.tell(draft)
                if draft.state is State.APPROVED:
                    decision.reschedule(draft.id)  # its job is cancelled
        pause = self.ledger.current_pause()
        assert pause is not None
        return pause

    def resume(self, user_id: str) -> Resumed:
        """Go on publishing; posts whose time passed meanwhile wait for an editor instead of going out in a burst."""
        self.core.require_admin(user_id, "resume publishing")
        held: list[Draft] = []
        with self.core.deciding() as decision:
            now = decision.at
            if not self.ledger.resume(by=user_id, at=now):
                raise WrongState("Publishing is not paused.")
            approved = self.ledger.drafts_in([State.APPROVED])
            for draft in approved:
                # a network held or failed before the pause stays named on the card beside it
                trouble = reasons(ordered(self.ledger.legs(draft.id), self.core.networks_of(draft)))
                notice = f"{PAUSE_HOLD} {trouble}" if trouble else PAUSE_HOLD
                if (draft.due or now) <= now and self.ledger.transition(
                    draft.id,
                    State.HELD,
                    only_from=[State.APPROVED],
                    at=now,
                    actor=SYSTEM,
                    notice=notice,
                    reason=PAUSE_HOLD,
                ):
                    held.append(draft)
            self._announce(at=now, news="resumed", actor=user_id, held=len(held))
            ids = {d.id for d in held}
            for draft in self.ledger.drafts_in(OPEN):
                decision.tell(draft, Change(State.APPROVED, State.HELD, SYSTEM) if draft.id in ids else None)
            for draft in approved:
                decision.reschedule(draft.id)
        return Resumed(rescheduled=len(approved) - len(held), held=held)

    def _announce(self, *, at: datetime, **news: Any) -> None:
        """Inside the caller's transaction: a message to every review channel (an Announcement, worded by the Slack side)."""
        for channel in sorted({a.review_channel for a in self.config.accounts.values()}):
            self.ledger.enqueue(channel_queue(channel), ANNOUNCE, at=at, channel=channel, **news)
