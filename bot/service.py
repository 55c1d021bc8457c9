"""The editorial desk: drafts in, votes counted, approved posts scheduled and published, all in the ledger."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import images as images_
from bot import privacy, thread
from bot import when as when_
from bot.config import Account
from bot.content import content_sha256
from bot.desk_base import Clock, utc_now
from bot.desk_control import Control, Resumed
from bot.desk_digest import Digests
from bot.desk_media import Media
from bot.desk_publishing import EARLY_TOLERANCE, INTERRUPTED, Publishing
from bot.desk_reminders import Reminders
from bot.errors import AlreadySubmitted, CardNotPosted, CopydeskError, NotAllowed, SlackUnavailable, WrongState
from bot.images import Image
from bot.messenger import ATTACH, CONFIRM, REACTION, draft_queue, message_queue
from bot.model import SYSTEM, Draft, Outgoing
from bot.ports import CardMark, CardRef, Change, DraftView, Overview
from bot.review import BUTTON, OPEN, UNDECIDED, Kind, Rules, State, Vote, decide, reaction_kind

__all__ = ["Clock", "Desk", "EARLY_TOLERANCE", "Recovery", "Resumed", "utc_now"]

log = logging.getLogger(__name__)

HOME_LINKS = 15  # cards linked from one App Home (each link is a Slack call, cached after the first)
CARD_WAIT = 5.0  # seconds the author's confirmation waits for their card to be up (the card keeps being tried after)
UNKNOWN_WAIT = 1.0  # seconds a reaction on an unknown message waits for the cards being posted in its channel


@dataclass(frozen=True)
class Recovery:
    """What start-up found in the ledger and did about it."""

    scheduled: int
    interrupted: int
    cards_queued: int  # cards that never reached Slack, queued again


class Desk(Publishing, Control, Media, Reminders, Digests):
    """The domain service every Slack handler and scheduler job calls into."""

    # drafting

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
    ) -> Draft:
        """Check a new draft (a thread when lines of --- split it; images go on its first post) and store it in review.

        The time comes as `at` (the /draft at:WHEN words) or as `publish_at` (the form's date picker).
        Raise BadDraft (BadImage for images) and store nothing when it is wrong. With `once` (a form's
        view ID), a second submission of the same form raises AlreadySubmitted and stores nothing. With `confirm`, the
        author gets a direct message with a link to the card once it is up (the form has no other place to say so).
        `fetch`: files still in Slack (picked in the form, described and checked by the handler); the courier fetches
        them after the acknowledgement, before the card goes up.
        """
        target = self._account(account)
        thread.check(text)
        images_.check_new(images)
        images_.check_count(len(images) + len(fetch))
        now = self.clock()
        if at:
            publish_at = when_.parse_when(at, now=now, zone=self.zone_of(author_id))
        elif publish_at is not None:
            when_.check_ahead(publish_at, now=now, zone=self.zone_of(author_id))
        rules = self._rules(target, author_id)
        if not rules.reachable():
            raise NotAllowed(
                f"{target.name} needs {target.approvals_required} approval(s) from editors other than the author, "
                "and there are not enough of them; ask an admin to add editors or allow self-approval."
            )
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
            self._queue_card(draft, at=now)
            if confirm:
                self.ledger.enqueue(draft_queue(draft.id), CONFIRM, at=now, draft_id=draft.id)
        return draft

    def watch_card(self, draft_id: int, then: Callable[[], None], timeout: float = CARD_WAIT) -> None:
        """Call `then()` once the draft's card is up, or Slack refused it twice, or `timeout` passed; no thread waits."""
        self.progress.watch(lambda: self._card_settled(draft_id), then, timeout, key=draft_id)

    def card_link(self, draft_id: int) -> tuple[DraftView, str | None]:
        """The draft's card and a link to it; CardNotPosted when Slack has refused it or not answered yet.

        The card goes up from the outbox, and keeps being tried whatever this says.
        """
        view = self.view(draft_id)
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

    # voting

    def react(self, *, user_id: str, reaction: str, channel: str, ts: str, added: bool, event_id: str | None) -> None:
        """Count (or withdraw) an editor's reaction on a review card; anything else is ignored.

        Slack sends a reaction the instant a card exists, maybe before copydesk has stored its ts. So a reaction on a
        message of a review channel that the ledger does not know first waits for the cards being posted there; if
        the message is still unknown, it is kept in the outbox (in this transaction, before Slack hears 200) until the
        message's metadata says which card it is, and counted then.
        """
        kind = reaction_kind(reaction, self.config.approve_reactions, self.config.reject_reactions)
        if kind is None:
            return
        found = self.ledger.draft_for_card(channel, ts)
        if found is None:
            if channel not in {a.review_channel for a in self.config.accounts.values()}:
                return
            self.postings.wait(channel, UNKNOWN_WAIT)
            found = self.ledger.draft_for_card(channel, ts)
        vote = Vote(user_id, reaction, kind)
        if found is None:
            now = self.clock()
            with self.ledger.transaction():
                if not event_id or self.ledger.first_sighting(event_id, at=now):
                    self._keep_reaction(channel, ts, vote, added, at=now)
            return
        refusal = self._count(found, ts, vote, added=added, event_id=event_id, behind=message_queue(channel, ts))
        if refusal and added:
            raise NotAllowed(refusal)

    def settle_reaction(self, message: Outgoing, mark: CardMark | None) -> None:
        """The courier read the metadata of a message reacted on before copydesk knew it: count the vote if it is a card.

        A card whose ts was never stored (copydesk stopped between Slack's answer and the ledger) is adopted here.
        A reaction on another message, or on the card of an earlier version, counts for nothing.
        """
        p = message.payload
        kind = reaction_kind(p["reaction"], self.config.approve_reactions, self.config.reject_reactions)
        draft = self.ledger.draft(mark.draft_id) if mark else None
        if mark is None or kind is None or draft is None or draft.version != mark.version or draft.review_channel != p["channel"]:
            self.ledger.outgoing_sent([message.id], at=self.clock())
            return
        refusal = self._count(
            draft,
            p["ts"],
            Vote(p["user"], p["reaction"], kind),
            added=p["added"],
            event_id=None,
            settles=message,
            version=mark.version,
        )
        if refusal:
            log.info("%s on %s (found by its metadata) not counted: %s", p["user"], draft.number, refusal)

    def _keep_reaction(self, channel: str, ts: str, vote: Vote, added: bool, *, at: datetime) -> None:
        """Inside the caller's transaction: keep a reaction until the courier has read what its message is."""
        self.ledger.enqueue(
            message_queue(channel, ts),
            REACTION,
            at=at,
            channel=channel,
            ts=ts,
            user=vote.user_id,
            reaction=vote.reaction,
            added=added,
        )

    def _count(
        self,
        found: Draft,
        ts: str,
        vote: Vote,
        *,
        added: bool,
        event_id: str | None,
        settles: Outgoing | None = None,
        version: int | None = None,
        behind: str | None = None,
    ) -> str | None:
        """Store the vote if it was cast on the draft's current card, in one transaction with its news for Slack.

        The card is checked inside the transaction: a reaction that raced an edit counts for nothing, never for the new
        text. With `behind` (the message's reaction queue), a reaction whose earlier ones on the same message are still
        being looked up joins them there, in order. Returns why the vote does not count, if it does not.
        """
        # Asked before anything is stored: if Slack cannot say who the editors are, the event is not
        # marked as seen, so Slack's redelivery gets another chance.
        rules = self._rules_of(found)
        change = None
        with self._decisions:
            now = self.clock()
            with self.ledger.transaction():
                if event_id and not self.ledger.first_sighting(event_id, at=now):
                    return None  # Slack redelivered an event we already acted on
                if behind and self.ledger.outbox_queue(behind):
                    self._keep_reaction(found.review_channel, ts, vote, added, at=now)
                    return None
                if settles is not None:
                    self.ledger.outgoing_sent([settles.id], at=now)
                draft = self.ledger.draft(found.id)
                assert draft is not None
                if version is not None and draft.card_ts is None and draft.version == version:
                    self.ledger.set_card(draft.id, draft.review_channel, ts, at=now, version=version, found=True)
                    draft = self.ledger.draft(found.id)
                    assert draft is not None
                if draft.version != (version or found.version) or draft.card_ts != ts:
                    return None  # the card was replaced by an edit meanwhile (the vote was for words that are gone), or
                    # the message only claims to be a card of this version while its real card is another message
                refusal = self._refusal(draft, rules, vote.user_id, vote.kind, taking_back=not added)
                if refusal is None:
                    change = self._vote(draft, self._for_version(vote, draft), added, rules)
                    self._tell_slack(draft, change, at=now)
            if change:
                self._sync_schedule(draft.id)
        return refusal

    def vote_by_button(
        self, draft_id: int, user_id: str, kind: Kind, *, card_ts: str | None, version: int | None = None
    ) -> tuple[bool, Change | None]:
        """The card's (or the App Home's) Approve or Reject button: the same rules as a reaction; pressing it again takes
        the vote back.

        An editor has one button vote, which a press of the other button replaces; their reactions
        count beside it exactly as they would without buttons. A press on a card that is not the
        draft's current one (an edit replaced it) counts for nothing, like a reaction there. A press on the card of the
        current `version` whose ts is not stored yet (pressed the instant it appeared) adopts that card.
        Without `card_ts` (the App Home, which has no card message) the press counts only for the `version` it showed,
        if that is still the draft's current one; checked inside the vote's transaction, as the card is.
        Returns whether the vote now stands, and the change it made; Slack hears of it from the outbox.
        """
        found = self._draft(draft_id)
        rules = self._rules_of(found)
        if found.card_ts is None:  # pressed the instant the card appeared, before its ts was stored
            self.postings.wait(found.review_channel, UNKNOWN_WAIT)
        with self._decisions:
            now = self.clock()
            with self.ledger.transaction():
                before = self._draft(draft_id)
                if before.card_ts is None and card_ts and version == before.version:
                    self.ledger.set_card(draft_id, before.review_channel, card_ts, at=now, version=version, found=True)
                    before = self._draft(draft_id)
                if card_ts is None and version != before.version:  # the App Home: no card, only the version it showed
                    raise WrongState(
                        f"{before.number} was changed after your App Home showed it; your vote was not "
                        "counted. Read it as it is now and vote again."
                    )
                if card_ts is None and (before.card_ts is None or self.ledger.images(draft_id)):
                    raise WrongState(
                        f"Vote on the review card of {before.number}: "
                        + ("its images are shown there." if before.card_ts else "it is not up yet.")
                    )
                if card_ts is not None and (card_ts != before.card_ts or before.version != (version or found.version)):
                    raise WrongState(f"This card shows an earlier version of {before.number}; read and vote on its new card.")
                earlier = next((v for v in self.ledger.votes(draft_id) if v.user_id == user_id and v.reaction == BUTTON), None)
                taking_back = earlier is not None and earlier.kind is kind  # the same button again: anyone takes back their own
                if refusal := self._refusal(before, rules, user_id, kind, taking_back=taking_back):
                    raise NotAllowed(refusal.replace("your reaction", "your vote"))
                if earlier is not None:
                    self._vote(before, earlier, False, rules)
                stands = earlier is None or earlier.kind is not kind
                if stands:
                    self._vote(self._draft(draft_id), self._for_version(Vote(user_id, BUTTON, kind), before), True, rules)
                after = self._draft(draft_id)
                change = Change(before.state, after.state, user_id) if after.state is not before.state else None
                self._tell_slack(after, change, at=now)  # in this transaction: "approved" is queued before "published"
            if change:
                self._sync_schedule(draft_id)
        return stands, change

    def _refusal(self, draft: Draft, rules: Rules, user_id: str, kind: Kind, *, taking_back: bool = False) -> str | None:
        """Why this vote does not count, if it does not. Anyone takes back a vote they cast (an editor who has left too),
        as long as votes still change the draft."""
        if taking_back:
            return (
                f"{draft.number} is already {draft.state.label}; votes no longer change it."
                if draft.state not in (*UNDECIDED, State.HELD, State.FAILED)
                else None
            )
        if user_id not in rules.editors:
            return f"Only the editors of {draft.account} vote on drafts; your reaction on {draft.number} is not counted."
        if not rules.counts(user_id, kind):
            who = "whoever changed a draft counts as its author" if user_id != draft.author_id else "authors"
            return (
                f"Authors cannot approve their own drafts on {draft.account} ({who}); "
                f"your reaction on {draft.number} is not counted."
            )
        if draft.state in (State.HELD, State.FAILED):
            return None  # stored, so that Publish now sees a veto or a withdrawn approval; the state stays
        if draft.state is State.PUBLISHING and len(thread.split(draft.text)) > 1:
            return None  # a thread going out: stored, and the check before its next part stops it
        if draft.state not in UNDECIDED:
            return f"{draft.number} is already {draft.state.label}; votes no longer change it."
        return None  # a thread partly on X too: its vote is stored, and the check before its next part holds it

    @staticmethod
    def _for_version(vote: Vote, draft: Draft) -> Vote:
        """The vote as cast on the card of the draft's current version: it is for exactly that content."""
        return Vote(vote.user_id, vote.reaction, vote.kind, draft.version, draft.content_sha256)

    def _vote(self, draft: Draft, vote: Vote, added: bool, rules: Rules) -> Change | None:
        """Inside the caller's transaction (`draft` read within it): store the vote, move to what the votes decide."""
        now = self.clock()
        if added:
            changed = self.ledger.add_vote(draft.id, vote, at=now)
        else:
            changed = self.ledger.remove_vote(draft.id, vote.user_id, vote.reaction)
        if not changed:
            return None
        action = "vote_added" if added else "vote_removed"
        self.ledger.log(
            action,
            actor=vote.user_id,
            at=now,
            draft_id=draft.id,
            vote=vote.kind.value,
            reaction=vote.reaction,
            version=vote.version,
            content_sha256=vote.content_sha256,
        )
        if self.ledger.published_parts(draft.id):
            return None  # a thread partly on X stays as it is (its parts out can still be retracted); its next part is checked
        decided = decide(self._standing(draft, rules), rules.approvals_required)
        if decided == draft.state or not self.ledger.transition(
            draft.id, decided, only_from=UNDECIDED, at=now, actor=vote.user_id, before=draft.state.value
        ):
            return None  # (a new decision starts its attempts at X afresh)
        return Change(draft.state, decided, vote.user_id)

    # start-up

    def recover(self) -> Recovery:
        """Rebuild the schedule from the ledger and settle what a previous run left half-done."""
        now = self.clock()
        self._retire_orphans(now)
        interrupted = self.ledger.drafts_in([State.PUBLISHING])
        for draft in interrupted:
            # The call to X may or may not have gone through: never post again blindly, ask a person.
            open_attempts = [p for p in self.ledger.publications(draft.id) if p.outcome == "publishing"]
            count = len(thread.split(draft.text))
            which = f"part {open_attempts[-1].part} of {count}: " if open_attempts and count > 1 else ""
            self._hold(draft, open_attempts[-1].id if open_attempts else None, which + INTERRUPTED)
        # No request or job runs yet (the server, the scheduler and the courier start after this),
        # so the drafts just read are current.
        self._decide_again(self.ledger.drafts_in([State.APPROVED]), now)
        approved = self.ledger.drafts_in([State.APPROVED])
        if self.ledger.current_pause() is None:
            for draft in approved:
                self._schedule_approved(draft)
        # the drafts without a card get their reminder when their card is posted
        self.schedule_reminders([d.id for d in self.ledger.drafts_in([State.IN_REVIEW]) if d.card_ts])
        self.ledger.outbox_now(now)  # what waited out a backoff before the restart goes at once
        queued = 0
        with self.ledger.transaction():  # a card Slack gave up on, or one from before the outbox: tried again now
            for draft in self.ledger.drafts_without_card():
                if self.ledger.card_message(draft.id, draft.version) not in ("pending",):
                    self._queue_card(draft, at=now)
                    queued += 1
        return Recovery(scheduled=len(approved), interrupted=len(interrupted), cards_queued=queued)

    def _decide_again(self, approved: list[Draft], now: datetime) -> None:
        """app.yaml may have changed while copydesk was down: an approval by someone no longer an editor stops counting."""
        for draft in approved:
            if self.ledger.published_parts(draft.id):
                continue  # a thread partly on X stays as it is; the check before its next part holds it if need be
            try:
                rules = self._rules_of(draft)
            except CopydeskError as e:  # Slack cannot say now; the check before sending still holds it if need be
                log.warning("could not check the approvals of %s again at start (%s)", draft.number, e)
                continue
            decided = decide(self._standing(draft, rules), rules.approvals_required)
            if decided is State.APPROVED:
                continue
            with self.ledger.transaction():
                if not self.ledger.transition(
                    draft.id,
                    decided,
                    only_from=[State.APPROVED],
                    at=now,
                    actor=SYSTEM,
                    notice="Back in review: an approval it had no longer counts under today's editors in app.yaml.",
                    before=State.APPROVED.value,
                    reason="approvals counted again under today's editors",
                ):
                    continue
                self._tell_slack(draft, Change(State.APPROVED, decided, SYSTEM), at=now)

    def _retire_orphans(self, now: datetime) -> None:
        """Drafts waiting for an account that app.yaml no longer has can never go out: say so.

        Only open drafts: a vetoed one of such an account stays as it is (a vote on it is refused, naming the account),
        and reading every veto in the history would make each start slower than the last.
        """
        for draft in self.ledger.drafts_in(OPEN):
            if draft.account in self.config.accounts:
                continue
            reason = f"the account {draft.account!r} is no longer in app.yaml"
            with self.ledger.transaction():
                self.ledger.move(draft.id, State.FAILED, only_from=[draft.state], at=now)
                self.ledger.log("failed", actor=SYSTEM, at=now, draft_id=draft.id, error=reason)
            log.warning("%s failed: %s", draft.number, reason)

    # reading

    def overview(self, user_id: str, *, recent: int = 10) -> Overview:
        """What `user_id` sees on the App Home; the pause is read once, so every part agrees on it."""
        pause = self.ledger.current_pause()
        queue = [self._view_of(d, pause) for d in self.ledger.drafts_in(OPEN)]
        waiting = [v for v in queue if self._awaits_vote(v, user_id)]
        went_out = [self._view_of(d, pause) for d in self.ledger.recently_published(recent)]
        links = {}
        for view in waiting[:HOME_LINKS]:  # a vote is cast on the card, where the whole draft is
            if view.draft.card_ts and (link := self.notifier.permalink(CardRef(view.draft.review_channel, view.draft.card_ts))):
                links[view.draft.id] = link
        return Overview(
            pause=pause, waiting_for_you=waiting, queue=queue, recent=went_out, card_links=links, readable=self.readable(user_id)
        )

    def _awaits_vote(self, view: DraftView, user_id: str) -> bool:
        if view.draft.state is not State.IN_REVIEW or user_id in (*view.approvers, *view.rejecters):
            return False
        return self._rules_of(view.draft).counts(user_id, Kind.APPROVE)

    def readable(self, viewer: str) -> frozenset[str]:
        """The accounts whose drafts `viewer` may read word for word (bot.privacy); of the others they see only numbers."""
        return frozenset(a.name for a in self.config.accounts.values() if self._may_read(viewer, a))

    def _may_read(self, viewer: str, account: Account) -> bool:
        try:
            editors = self._rules(account, "").editors
        except SlackUnavailable:  # an editor group Slack cannot list: its members may still be in the channel
            editors = frozenset()
        return privacy.may_read(
            viewer, editors=editors, admins=self.config.admins, members=lambda: self._channel_members(account.review_channel)
        )

    def _channel_members(self, channel: str) -> frozenset[str] | None:
        try:
            return self.directory.members_of_channel(channel)
        except SlackUnavailable as e:
            log.warning("%s; its drafts' text is shown to editors and admins only", e)
            return None

    def pending(self) -> list[DraftView]:
        """Drafts in review, approved and waiting for their time, or held for a person, oldest first."""
        pause = self.ledger.current_pause()
        return [self._view_of(d, pause) for d in self.ledger.drafts_in(OPEN)]
