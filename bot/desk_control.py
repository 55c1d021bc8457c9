"""What people do to drafts besides voting: edit, withdraw, retract, and the crisis switch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import thread
from bot import when as when_
from bot.desk_base import DeskBase
from bot.errors import NotAllowed, PublishError, Unchanged, WrongState
from bot.messenger import ANNOUNCE, channel_queue
from bot.model import SYSTEM, Draft, Pause
from bot.ports import Change
from bot.review import EDITABLE, OPEN, State

log = logging.getLogger(__name__)

# A thread can stop part-way (the pause, a failure, a doubt): its parts on X can still be retracted.
PART_WAY = (State.APPROVED, State.HELD, State.FAILED)
PAUSE_HOLD = "Its time came while publishing was paused; an editor must confirm before it goes out."


@dataclass(frozen=True)
class Resumed:
    """What /draft resume found: posts that go on as planned, and posts that now wait for a confirmation."""

    rescheduled: int
    held: list[Draft]


class Control(DeskBase):
    """Edits, withdrawals, retractions and the pause; each checks who asks before it changes anything."""

    # the author's (or an admin's) own draft

    def edit(self, draft_id: int, user_id: str, *, text: str | None, at: str | None) -> Draft:
        """New text or time for a draft not yet out, as its next version: its votes are cleared, and a new card goes up
        for the editors to review it again (queued with the edit, as is retiring the old card). Unchanged when the text
        and time are what they were: votes are only cleared when the words or the time change."""
        draft = self._draft(draft_id)
        self.check_can_edit(draft, user_id)
        if text is not None:
            thread.check(text)
        now = self.clock()
        new_time = when_.parse_when(at, now=now, zone=self.zone_of(user_id)) if at else None
        with self._decisions:
            with self.ledger.transaction():
                current = self._draft(draft_id)  # what is kept unchanged comes from the latest version
                if current.state not in EDITABLE:
                    raise WrongState(f"{draft.number} is {current.state.label} now; it can no longer be edited.")
                new_text = current.text if text is None else text
                publish_at = new_time or current.publish_at
                if (new_text, publish_at) == (current.text, current.publish_at):
                    raise Unchanged(
                        f"{draft.number} already says that and goes out at that time: nothing changed, and its votes stand."
                    )
                self._new_version(
                    current,
                    text=new_text,
                    publish_at=publish_at,
                    by=user_id,
                    at=now,
                    action="edited",
                    notice=f"Edited by <@{user_id}>: every vote on the earlier version was cleared; editors, "
                    "please review it again.",
                    detail={
                        "before": current.text,
                        "after": new_text,
                        "publish_at": publish_at.isoformat() if publish_at else None,
                    },
                )
            self._sync_schedule(draft_id)
        return self._draft(draft_id)

    def check_can_edit(self, draft: Draft, user_id: str, what: str = "edit") -> None:
        """Raise what stands in the way of `user_id` editing `draft`, before a modal is opened for nothing."""
        self._require_author_or_admin(draft, user_id, what)
        if draft.state not in EDITABLE:
            raise WrongState(f"{draft.number} is {draft.state.label}; only drafts in review, approved or rejected can be edited.")
        if out := sorted(self.ledger.published_parts(draft.id)):
            raise WrongState(
                f"{draft.number} is a thread already on X up to part {out[-1]}; the rest can only go out as written."
            )

    def withdraw(self, draft_id: int, user_id: str) -> Draft:
        """The author (or an admin) takes a draft back before it goes out."""
        draft = self._draft(draft_id)
        self._require_author_or_admin(draft, user_id, "withdraw")
        now = self.clock()
        with self._decisions:
            with self.ledger.transaction():
                current = self._draft(draft_id)
                if out := sorted(self.ledger.published_parts(draft_id)):
                    raise WrongState(
                        f"{draft.number} is a thread already on X up to part {out[-1]}; withdrawing would leave "
                        f"that online. Delete what is out with /draft retract {draft.number}, or publish the rest."
                    )
                if current.may_be_live:
                    raise WrongState(
                        f"{draft.number} may already be on X, so it cannot be withdrawn: check the account, then "
                        "settle it on its card (Publish now, or Mark as published and retract it if need be)."
                    )
                if not self.ledger.transition(
                    draft_id,
                    State.WITHDRAWN,
                    only_from=[*EDITABLE, State.HELD, State.FAILED],
                    at=now,
                    actor=user_id,
                    notice=f"Withdrawn by <@{user_id}>.",
                    before=current.state.value,
                ):
                    raise WrongState(f"{draft.number} is {current.state.label}; it can no longer be withdrawn.")
                self._tell_slack(current, Change(current.state, State.WITHDRAWN, user_id), at=now)
            self._sync_schedule(draft_id)
        return self._draft(draft_id)

    def retract(self, draft_id: int, user_id: str) -> Draft:
        """Delete a published post (every part of a thread, last first) from X (author, editors or admins), and record it."""
        draft = self._draft(draft_id)
        editors = self._rules(self._account(draft.account), draft.author_id).editors
        if user_id not in {draft.author_id, *editors, *self.config.admins}:
            raise NotAllowed(f"Only the author of {draft.number}, the editors of {draft.account} and admins can retract it.")
        out = self.ledger.published_parts(draft_id)
        if draft.state is not State.PUBLISHED and not (out and draft.state in PART_WAY):
            raise WrongState(f"{draft.number} is {draft.state.label}; only published posts can be retracted.")
        unknown = [part for part, p in out.items() if not p.x_post_id]
        if not out or unknown:
            which = f" (part {', '.join(map(str, unknown))})" if len(out) > 1 else ""
            raise WrongState(f"copydesk does not know which post on X is {draft.number}{which}; delete it on X directly.")
        first = out.get(1)
        for part in sorted(out, reverse=True):  # replies first, so no part is left answering a deleted one
            publication = out[part]
            assert publication.x_post_id
            try:
                self.publishers[draft.account].delete(publication.x_post_id)
            except PublishError as e:
                which = f"part {part} of {draft.number}" if len(out) > 1 else draft.number
                raise WrongState(f"{which} is still on X: {e.reason}. Try again to delete what is left.") from None
            with self.ledger.transaction():  # a retry deletes only what is left
                self.ledger.retract_publication(publication.id, at=self.clock())
                self.ledger.log(
                    "part_retracted",
                    actor=user_id,
                    at=self.clock(),
                    draft_id=draft_id,
                    part=part,
                    x_post_id=publication.x_post_id,
                    publication_id=publication.id,
                )
        now = self.clock()
        with self._decisions:
            with self.ledger.transaction():
                detail: dict[str, Any] = {"parts": len(out)} if len(out) > 1 else {}
                if not self.ledger.transition(
                    draft_id,
                    State.RETRACTED,
                    only_from=[State.PUBLISHED, *PART_WAY],
                    at=now,
                    actor=user_id,
                    notice=f"Retracted by <@{user_id}>: the post was deleted from X.",
                    x_post_id=first.x_post_id if first else None,
                    **detail,
                ):
                    return self._draft(draft_id)  # someone else's retraction got there first
                self._tell_slack(draft, Change(draft.state, State.RETRACTED, user_id), at=now)
            self._sync_schedule(draft_id)  # a thread stopped part-way by the pause has no more parts to send
        return self._draft(draft_id)

    def _require_author_or_admin(self, draft: Draft, user_id: str, what: str) -> None:
        if user_id != draft.author_id and user_id not in self.config.admins:
            raise NotAllowed(f"Only the author of {draft.number} (<@{draft.author_id}>) or an admin can {what} it.")

    # the crisis switch

    def pause(self, user_id: str, reason: str | None) -> Pause:
        """Stop all publishing at once, for every account; drafting and voting go on. The review channels and every
        open card hear of it from the outbox, queued with the pause itself."""
        self._require_admin(user_id, "pause publishing")
        now = self.clock()
        with self._decisions:
            with self.ledger.transaction():
                if not self.ledger.pause(by=user_id, reason=reason, at=now):
                    current = self.ledger.current_pause()
                    by = f", by <@{current.paused_by}>" if current else ""
                    raise WrongState(f"Publishing is already paused{by}; /draft resume goes on.")
                self._announce(at=now, news="paused", actor=user_id, reason=reason)
                for draft in self.ledger.drafts_in(OPEN):
                    self._tell_slack(draft, None, at=now)
            for draft in self.ledger.drafts_in([State.APPROVED]):
                self.scheduler.cancel(draft.id)
        pause = self.ledger.current_pause()
        assert pause is not None
        return pause

    def resume(self, user_id: str) -> Resumed:
        """Go on publishing; posts whose time passed meanwhile wait for an editor instead of going out in a burst."""
        self._require_admin(user_id, "resume publishing")
        now = self.clock()
        held: list[Draft] = []
        with self._decisions:
            with self.ledger.transaction():
                if not self.ledger.resume(by=user_id, at=now):
                    raise WrongState("Publishing is not paused.")
                approved = self.ledger.drafts_in([State.APPROVED])
                for draft in approved:
                    if (draft.due or now) <= now and self.ledger.transition(
                        draft.id,
                        State.HELD,
                        only_from=[State.APPROVED],
                        at=now,
                        actor=SYSTEM,
                        notice=PAUSE_HOLD,
                        reason=PAUSE_HOLD,
                    ):
                        held.append(draft)
                self._announce(at=now, news="resumed", actor=user_id, held=len(held))
                ids = {d.id for d in held}
                for draft in self.ledger.drafts_in(OPEN):
                    self._tell_slack(draft, Change(State.APPROVED, State.HELD, SYSTEM) if draft.id in ids else None, at=now)
            for draft in approved:
                self._sync_schedule(draft.id)
        return Resumed(rescheduled=len(approved) - len(held), held=held)

    def _require_admin(self, user_id: str, what: str) -> None:
        if user_id not in self.config.admins:
            raise NotAllowed(
                f"Only admins can {what}; ask one of {', '.join(f'<@{a}>' for a in self.config.admins) or 'the admins in app.yaml'}."
            )

    def _announce(self, *, at: datetime, **news: Any) -> None:
        """Inside the caller's transaction: a message to every review channel (an Announcement, worded by the Slack side)."""
        for channel in sorted({a.review_channel for a in self.config.accounts.values()}):
            self.ledger.enqueue(channel_queue(channel), ANNOUNCE, at=at, channel=channel, **news)
