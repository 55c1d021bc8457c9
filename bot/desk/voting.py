"""Votes: reactions and buttons on a review card, counted only for the version and content they were cast on."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot import thread
from bot.desk.core import Core
from bot.errors import CopydeskError, NotAllowed, WrongState
from bot.messenger import REACTION, Postings, message_queue
from bot.model import SYSTEM, Draft, Outgoing
from bot.ports import CardMark, Change
from bot.review import BUTTON, UNDECIDED, Kind, Rules, State, Vote, decide, reaction_kind

log = logging.getLogger(__name__)

FINAL = "the owner's veto is final"  # the reason recorded when it rejects a held or failed draft
UNKNOWN_WAIT = 1.0  # seconds a reaction on an unknown message waits for the cards being posted in its channel


class Voting:
    """An editor's vote, stored with its news for Slack in one transaction; the state follows what the votes decide."""

    def __init__(self, core: Core, *, postings: Postings) -> None:
        self.core = core
        self.ledger = core.ledger
        self.config = core.config
        self.clock = core.clock
        self.postings = postings  # cards on their way to Slack: a reaction on an unknown message waits for them

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
        rules = self.core.rules_of(found)
        change = None
        with self.core.deciding() as decision:
            now = decision.at
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
                decision.tell(draft, change)
            if change:
                decision.reschedule(draft.id)
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
        found = self.core.draft(draft_id)
        rules = self.core.rules_of(found)
        if found.card_ts is None:  # pressed the instant the card appeared, before its ts was stored
            self.postings.wait(found.review_channel, UNKNOWN_WAIT)
        with self.core.deciding() as decision:
            now = decision.at
            before = self.core.draft(draft_id)
            if before.card_ts is None and card_ts and version == before.version:
                self.ledger.set_card(draft_id, before.review_channel, card_ts, at=now, version=version, found=True)
                before = self.core.draft(draft_id)
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
                self._vote(self.core.draft(draft_id), self._for_version(Vote(user_id, BUTTON, kind), before), True, rules)
            after = self.core.draft(draft_id)
            change = Change(before.state, after.state, user_id) if after.state is not before.state else None
            decision.tell(after, change)  # in this transaction: "approved" is queued before "published"
            if change:
                decision.reschedule(draft_id)
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
        if self.ledger.published_parts(draft.id, None):
            return None  # a thread partly on X stays as it is (its parts out can still be retracted); its next part is checked
        if added and self._final(draft, vote, rules):
            self.ledger.transition(
                draft.id,
                State.REJECTED,
                only_from=[draft.state],
                at=now,
                actor=vote.user_id,
                before=draft.state.value,
                reason=FINAL,
            )
            return Change(draft.state, State.REJECTED, vote.user_id)
        if not added and vote.kind is Kind.REJECT and (back := self._before_final(draft)):
            if not self.core.standing(self.core.draft(draft.id), rules).rejecters:  # the last veto is gone
                self.ledger.transition(
                    draft.id,
                    back,
                    only_from=[State.REJECTED],
                    at=now,
                    actor=vote.user_id,
                    action="owner_veto_lifted",
                    back_to=back.value,
                )
                return Change(State.REJECTED, back, vote.user_id)
        decided = decide(self.core.standing(draft, rules), rules)
        if decided == draft.state or not self.ledger.transition(
            draft.id,
            decided,
            only_from=UNDECIDED,
            at=now,
            actor=vote.user_id,
            before=draft.state.value,
            cooling_until=self._cooling_until(draft, decided, now),
        ):
            return None  # (a new decision starts its attempts at X afresh)
        return Change(draft.state, decided, vote.user_id)

    @staticmethod
    def _final(draft: Draft, vote: Vote, rules: Rules) -> bool:
        """The owner's veto rejects a draft held or failed too (one X may already have is left for a person to settle)."""
        return (
            vote.kind is Kind.REJECT
            and vote.user_id == rules.owner
            and draft.state in (State.HELD, State.FAILED)
            and not draft.may_be_live
        )

    def _before_final(self, draft: Draft) -> State | None:
        """The held or failed state the owner's veto rejected the draft from, if that is how it was rejected: lifting
        the veto puts it back there, for a person to settle, rather than sending it."""
        if draft.state is not State.REJECTED:
            return None
        rejected = None
        for event in reversed(self.ledger.events(draft.id)):
            if event.detail.get("votes_cleared"):
                return None  # a new version since: it was never held, and goes back to review like any other
            if event.action == "rejected":
                rejected = event
                break
        if rejected is None or rejected.detail.get("reason") != FINAL:
            return None
        before = State(rejected.detail["before"])
        return before if before in (State.HELD, State.FAILED) else None

    def _cooling_until(self, draft: Draft, decided: State, now: datetime) -> datetime | None:
        """A fresh quorum waits out the cooling-off window (the draft's rules', or the account's) before it goes."""
        minutes = self.core.cooling_off(draft) if decided is State.APPROVED else 0
        return now + timedelta(minutes=minutes) if minutes else None

    def decide_again(self, approved: list[Draft], now: datetime) -> None:
        """app.yaml may have changed while copydesk was down: an approval by someone no longer an editor, or short of what
        today's rules ask, stops counting. (A draft in review waits for its next vote to be decided under them.)"""
        for draft in approved:
            if self.ledger.published_parts(draft.id, None):
                continue  # a thread partly on X stays as it is; the check before its next part holds it if need be
            try:
                rules = self.core.rules_of(draft)
            except CopydeskError as e:  # Slack cannot say now; the check before sending still holds it if need be
                log.warning("could not check the approvals of %s again at start (%s)", draft.number, e)
                continue
            decided = decide(self.core.standing(draft, rules), rules)
            if decided is State.APPROVED:
                continue
            with self.core.deciding(at=now) as decision:
                if not self.ledger.transition(
                    draft.id,
                    decided,
                    only_from=[State.APPROVED],
                    at=now,
                    actor=SYSTEM,
                    notice="Back in review: an approval it had no longer counts under today's editors and rules in app.yaml.",
                    before=State.APPROVED.value,
                    reason="approvals counted again under today's editors",
                ):
                    continue
                decision.tell(draft, Change(State.APPROVED, decided, SYSTEM))
