"""Drafts in: a new draft stored in review with its card queued, and its author's edits and withdrawal."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot import images as images_
from bot import when as when_
from bot.content import content_sha256
from bot.desk.core import Core
from bot.desk.reading import Reading
from bot.errors import AlreadySubmitted, CardNotPosted, NotAllowed, Unchanged, WrongState
from bot.images import Image
from bot.messenger import ATTACH, CONFIRM, draft_queue
from bot.model import Draft
from bot.networks import listed
from bot.ports import CardRef, Change, DraftView, Notifier
from bot.progress import Progress
from bot.review import EDITABLE, State

CARD_WAIT = 5.0  # seconds the author's confirmation waits for their card to be up (the card keeps being tried after)


class Drafting:
    """Who writes what: each verb checks the words, the time and who asks before it stores anything."""

    def __init__(self, core: Core, *, reading: Reading, notifier: Notifier, progress: Progress) -> None:
        self.core = core
        self.ledger = core.ledger
        self.clock = core.clock
        self.reading = reading
        self.notifier = notifier
        self.progress = progress  # told after each outbox delivery: the author's link waits for their card

    def submit(
        self,
        *,
        author_id: str,
        text: str,
        account: str | None,
        at: str | None,
        origin_channel: str | None,
        publish_at: datetime | None = None,
        images: Sequence[Image] = (),
        once: str | None = None,
        confirm: bool = False,
        fetch: Sequence[Mapping[str, Any]] = (),
        on: Sequence[str] | None = None,
    ) -> Draft:
        """Check a new draft (a thread when lines of --- split it; images go on its first post) and store it in review.

        The time comes as `at` (the /draft at:WHEN words) or as `publish_at` (the form's date picker).
        Raise BadDraft (BadImage for images) and store nothing when it is wrong. With `once` (a form's
        view ID), a second submission of the same form raises AlreadySubmitted and stores nothing. With `confirm`, the
        author gets a direct message with a link to the card once it is up (the form has no other place to say so).
        `fetch`: files still in Slack (picked in the form, described and checked by the handler); the courier fetches
        them after the acknowledgement, before the card goes up. `on`: the networks it goes to (None: all the account's).
        """
        target = self.core.account(account)
        networks = self.core.choose_networks(target, on)
        self.core.check_text(target, text, networks or target.network_names)
        images_.check_new(images)
        images_.check_networks(images, networks or target.network_names)
        images_.check_count(len(images) + len(fetch))
        now = self.clock()
        if at:
            publish_at = when_.parse_when(at, now=now, zone=self.core.zone_of(author_id))
        elif publish_at is not None:
            when_.check_ahead(publish_at, now=now, zone=self.core.zone_of(author_id))
        policy = self.core.judge(target, text, media=bool(images or fetch), publish_at=publish_at, at=now)
        rules = self.core.rules(target, author_id, policy=policy)
        if not rules.reachable():
            needs = rules.approvals_required
            also = (
                f" including {', '.join(f'<@{r.id}>' if r.id[0] in 'UW' else f'<!subteam^{r.id}>' for r in rules.require)}"
                if rules.require
                else ""
            )
            raise NotAllowed(
                f"{target.name} needs {needs} approval(s){also} from editors other than the author, "
                "and there are not enough of them; ask an admin to add editors or allow self-approval."
            )
        # A new draft decides nothing (no vote, no schedule): no decision lock, so a /draft never waits behind one.
        with self.ledger.transaction():
            if once and not self.ledger.first_sighting(once, at=now):
                what = "form" if once.startswith("view:") else "/draft"
                raise AlreadySubmitted(f"This {what} was sent already (Slack sent it again); its draft is in review.")
            draft = self.ledger.add_draft(
                account=target.name,
                author_id=author_id,
                text=text,
                publish_at=publish_at,
                review_channel=target.review_channel,
                origin_channel=origin_channel,
                at=now,
                content_sha256=content_sha256(text, images),
                policy=policy,
                networks=networks,
                dry_run=target.dry_run,
            )
            if images:
                self.ledger.add_images(draft.id, images, at=now)
                self.ledger.log(
                    "images_changed",
                    actor=author_id,
                    at=now,
                    draft_id=draft.id,
                    **images_.change_record([], images),
                    version=draft.version,
                    content_sha256=draft.content_sha256,
                )
            if fetch:  # before the card, so the card shows them
                self.ledger.enqueue(
                    draft_queue(draft.id),
                    ATTACH,
                    at=now,
                    draft_id=draft.id,
                    files=list(fetch),
                    user=author_id,
                    channel=None,
                    thread_ts=None,
                    initial=True,
                )
            self.core.queue_card(draft, at=now)
            if confirm:
                self.ledger.enqueue(draft_queue(draft.id), CONFIRM, at=now, draft_id=draft.id)
        self.core.plan(draft.id)  # its expiry, if its account has one
        return draft

    def watch_card(self, draft_id: int, then: Callable[[], None], timeout: float = CARD_WAIT) -> None:
        """Call `then()` once the draft's card is up, or Slack refused it twice, or `timeout` passed; no thread waits."""
        self.progress.watch(lambda: self._card_settled(draft_id), then, timeout, key=draft_id)

    def card_link(self, draft_id: int) -> tuple[DraftView, str | None]:
        """The draft's card and a link to it; CardNotPosted when Slack has refused it or not answered yet.

        The card goes up from the outbox, and keeps being tried whatever this says.
        """
        view = self.reading.view(draft_id)
        if view.draft.card_ts:
            return view, self.notifier.permalink(CardRef(view.draft.review_channel, view.draft.card_ts))
        trouble = self.ledger.card_trouble(draft_id, view.draft.version) or "Slack has not answered yet"
        raise CardNotPosted(
            f"{view.draft.number} is saved, but its review card could not be posted in <#{view.account.review_channel}> yet "
            f"({trouble}). copydesk keeps trying; invite the bot to that channel if it is not there."
        )

    def _card_settled(self, draft_id: int) -> bool:
        draft = self.ledger.draft(draft_id)
        return draft is None or draft.card_ts is not None or self.ledger.card_trouble(draft_id, draft.version) is not None

    def edit(self, draft_id: int, user_id: str, *, text: str | None, at: str | None) -> Draft:
        """New text or time for a draft not yet out, as its next version: its votes are cleared, and a new card goes up
        for the editors to review it again (queued with the edit, as is retiring the old card). Unchanged when the text
        and time are what they were: votes are only cleared when the words or the time change."""
        draft = self.core.draft(draft_id)
        self.core.check_can_edit(draft, user_id)
        if text is not None:
            self.core.check_text(self.core.account(draft.account), text, self.core.networks_of(draft))
        now = self.clock()
        new_time = when_.parse_when(at, now=now, zone=self.core.zone_of(user_id)) if at else None
        with self.core.deciding(at=now) as decision:
            current = self.core.draft(draft_id)  # what is kept unchanged comes from the latest version
            if current.state not in EDITABLE:
                raise WrongState(f"{draft.number} is {current.state.label} now; it can no longer be edited.")
            new_text = current.text if text is None else text
            publish_at = new_time or current.publish_at
            if (new_text, publish_at) == (current.text, current.publish_at):
                raise Unchanged(
                    f"{draft.number} already says that and goes out at that time: nothing changed, and its votes stand."
                )
            self.core.new_version(
                current,
                text=new_text,
                publish_at=publish_at,
                by=user_id,
                at=now,
                action="edited",
                notice=f"Edited by <@{user_id}>: every vote on the earlier version was cleared; editors, please review it again.",
                detail={
                    "before": current.text,
                    "after": new_text,
                    "publish_at": publish_at.isoformat() if publish_at else None,
                },
            )
            decision.reschedule(draft_id)
        return self.core.draft(draft_id)

    def withdraw(self, draft_id: int, user_id: str) -> Draft:
        """The author (or an admin) takes a draft back before it goes out."""
        draft = self.core.draft(draft_id)
        self.core.require_author_or_admin(draft, user_id, "withdraw")
        now = self.clock()
        with self.core.deciding(at=now) as decision:
            current = self.core.draft(draft_id)
            if live := self.ledger.live_posts(draft_id):
                raise WrongState(
                    f"{draft.number} is {self.core.out_where(live)}; withdrawing would leave "
                    f"that online. Delete what is out with /draft retract {draft.number}, or publish the rest."
                )
            if current.may_be_live:
                legs = self.ledger.legs(draft_id)
                doubt = [n for n in self.core.networks_of(current) if n in legs and legs[n].may_be_live] or ["x"]
                raise WrongState(
                    f"{draft.number} may already be on {listed(doubt)}, so it cannot be withdrawn: check the account, then "
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
            decision.tell(current, Change(current.state, State.WITHDRAWN, user_id))
            decision.reschedule(draft_id)
        return self.core.draft(draft_id)
