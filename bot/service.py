"""The editorial desk: drafts in, votes counted, approved posts scheduled and published, all in the ledger."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot import when as when_
from bot.config import Account, Config
from bot.errors import CardNotPosted, NotAllowed, PublishError, UnknownAccount, UnknownDraft
from bot.length import check_postable, measure
from bot.model import Draft
from bot.ports import Change, Directory, DraftView, Notifier
from bot.publishing import Publisher
from bot.review import PENDING, UNDECIDED, Kind, Rules, State, Vote, decide, reaction_kind, tally

if TYPE_CHECKING:
    from bot.scheduling import PublishScheduler
    from storage.ledger import Ledger

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SYSTEM = "copydesk"
# A job may wake a little before its time (clock resolution); this much early still counts as on time.
EARLY_TOLERANCE = timedelta(milliseconds=5)
# One draft's card updates go out in order; a fixed set of locks keeps that bounded however many drafts exist.
CARD_LOCK_STRIPES = 64


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Recovery:
    """What start-up found in the ledger and did about it."""

    scheduled: int
    interrupted: int
    cards_posted: int


class Desk:
    """The domain service every Slack handler and scheduler job calls into."""

    def __init__(
        self,
        config: Config,
        ledger: Ledger,
        *,
        publishers: Mapping[str, Publisher],
        notifier: Notifier,
        directory: Directory,
        scheduler: PublishScheduler | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.publishers = publishers
        self.notifier = notifier
        self.directory = directory
        self.scheduler = scheduler
        self.clock = clock
        # Held across "commit a decision, then (un)schedule it" so two votes cannot reorder those steps.
        self._decisions = threading.RLock()
        self._card_locks = tuple(threading.Lock() for _ in range(CARD_LOCK_STRIPES))

    def attach_scheduler(self, scheduler: PublishScheduler) -> None:
        """The scheduler calls back into the desk, so it is wired after both exist."""
        self.scheduler = scheduler

    # drafting

    def submit(
        self, *, author_id: str, text: str, account: str | None, at: str | None, origin_channel: str | None
    ) -> Draft:
        """Check a new draft and store it in review; raise BadDraft and store nothing when it is wrong."""
        target = self._account(account)
        check_postable(text)
        now = self.clock()
        publish_at = when_.parse_when(at, now=now, zone=self._zone_of(author_id)) if at else None
        rules = self._rules(target, author_id)
        if not rules.reachable():
            raise NotAllowed(
                f"{target.name} needs {target.approvals_required} approval(s) from editors other than the author, "
                "and there are not enough of them; ask an admin to add editors or allow self-approval."
            )
        return self.ledger.add_draft(
            account=target.name,
            author_id=author_id,
            text=text,
            publish_at=publish_at,
            review_channel=target.review_channel,
            origin_channel=origin_channel,
            at=now,
        )

    def open_review(self, draft_id: int) -> tuple[DraftView, str | None]:
        """Post the draft's review card and remember it; return what the card showed and a link to it."""
        view = self.view(draft_id)
        try:
            card = self.notifier.post_card(view)
        except CardNotPosted as e:
            self.ledger.log("card_failed", actor=SYSTEM, at=self.clock(), draft_id=draft_id, error=str(e))
            raise CardNotPosted(
                f"{view.draft.number} is saved, but its review card could not be posted in "
                f"<#{view.account.review_channel}> ({e}). Invite the bot to that channel; "
                "copydesk posts missing cards again when it restarts."
            ) from None
        self.ledger.set_card(draft_id, card.channel, card.ts, at=self.clock())
        return view, self.notifier.permalink(card)

    # voting

    def react(
        self, *, user_id: str, reaction: str, channel: str, ts: str, added: bool, event_id: str | None
    ) -> None:
        """Count (or withdraw) an editor's reaction on a review card; anything else is ignored."""
        found = self.ledger.draft_for_card(channel, ts)
        kind = reaction_kind(reaction, self.config.approve_reactions, self.config.reject_reactions)
        if found is None or kind is None:
            return
        # Asked before anything is stored: if Slack cannot say who the editors are, the event is not
        # marked as seen, so Slack's redelivery gets another chance.
        rules = self._rules(self._account(found.account), found.author_id)
        with self._decisions:
            with self.ledger.transaction():
                if event_id and not self.ledger.first_sighting(event_id, at=self.clock()):
                    return  # Slack redelivered an event we already acted on
                draft = self.ledger.draft(found.id)
                assert draft is not None
                refusal = self._refusal(draft, rules, user_id, kind)
                change = None if refusal else self._vote(draft, Vote(user_id, reaction, kind), added, rules.approvals_required)
            if change:
                self._sync_schedule(draft.id)
        if refusal and added:
            raise NotAllowed(refusal)
        if not refusal:
            self._notify(draft.id, change)

    def _refusal(self, draft: Draft, rules: Rules, user_id: str, kind: Kind) -> str | None:
        if user_id not in rules.editors:
            return f"Only the editors of {draft.account} vote on drafts; your reaction on {draft.number} is not counted."
        if not rules.counts(user_id, kind):
            return f"Authors cannot approve their own drafts on {draft.account}; your reaction on {draft.number} is not counted."
        if draft.state not in UNDECIDED:
            return f"{draft.number} is already {draft.state.value.replace('_', ' ')}; votes no longer change it."
        return None

    def _vote(self, draft: Draft, vote: Vote, added: bool, approvals_required: int) -> Change | None:
        """Inside the caller's transaction (`draft` read within it): store the vote, move to what the votes decide."""
        now = self.clock()
        if added:
            changed = self.ledger.add_vote(draft.id, vote, at=now)
        else:
            changed = self.ledger.remove_vote(draft.id, vote.user_id, vote.reaction)
        if not changed:
            return None
        action = "vote_added" if added else "vote_removed"
        self.ledger.log(action, actor=vote.user_id, at=now, draft_id=draft.id, vote=vote.kind.value, reaction=vote.reaction)
        decided = decide(tally(self.ledger.votes(draft.id)), approvals_required)
        if decided == draft.state or not self.ledger.move(draft.id, decided, only_from=UNDECIDED, at=now):
            return None
        self.ledger.log(decided.value, actor=vote.user_id, at=now, draft_id=draft.id, before=draft.state.value)
        return Change(draft.state, decided, vote.user_id)

    # publishing

    def publish(self, draft_id: int) -> None:
        """The scheduler's job: publish an approved draft once, if it is (still) approved and due."""
        started = self._claim(draft_id)
        if started is None:
            return
        draft, publication_id = started
        try:
            posted = self.publishers[draft.account].publish(draft.text)
        except PublishError as e:
            self._finish(draft, publication_id, error=e.reason)
        except Exception as e:  # an unexpected fault must still end the attempt in the ledger
            log.exception("publishing %s failed unexpectedly", draft.number)
            self._finish(draft, publication_id, error=f"copydesk could not publish: {type(e).__name__}")
        else:
            self._finish(draft, publication_id, post_id=posted.post_id, url=posted.url)

    def _claim(self, draft_id: int) -> tuple[Draft, int] | None:
        """Mark the draft as publishing before calling X, so that nothing else can publish it too."""
        now = self.clock()
        with self._decisions, self.ledger.transaction():
            draft = self.ledger.draft(draft_id)
            if draft is None or draft.state is not State.APPROVED:
                return None  # withdrawn, vetoed or already published since the job was scheduled
            if draft.publish_at and draft.publish_at - now > EARLY_TOLERANCE:
                self._sync_schedule(draft_id)
                return None
            handle = self._account(draft.account).handle
            if not self.ledger.move(draft_id, State.PUBLISHING, only_from=[State.APPROVED], at=now):
                return None
            publication_id = self.ledger.start_publication(draft, handle, at=now)
            self.ledger.log("publishing", actor=SYSTEM, at=now, draft_id=draft_id, publication_id=publication_id)
        return draft, publication_id

    def _finish(
        self, draft: Draft, publication_id: int, *, post_id: str = "", url: str = "", error: str | None = None
    ) -> None:
        now = self.clock()
        with self.ledger.transaction():
            if error is None:
                self.ledger.finish_publication(publication_id, post_id=post_id, url=url, at=now)
                self.ledger.move(draft.id, State.PUBLISHED, only_from=[State.PUBLISHING], at=now)
                self.ledger.log("published", actor=SYSTEM, at=now, draft_id=draft.id, x_post_id=post_id, url=url)
                after = State.PUBLISHED
            else:
                self.ledger.fail_publication(publication_id, error=error, at=now)
                self.ledger.move(draft.id, State.FAILED, only_from=[State.PUBLISHING], at=now)
                self.ledger.log("failed", actor=SYSTEM, at=now, draft_id=draft.id, error=error)
                after = State.FAILED
        self._notify(draft.id, Change(State.PUBLISHING, after, SYSTEM))

    # start-up

    def recover(self) -> Recovery:
        """Rebuild the schedule from the ledger and settle what a previous run left half-done."""
        now = self.clock()
        self._retire_orphans(now)
        interrupted = self.ledger.drafts_in([State.PUBLISHING])
        for draft in interrupted:
            # The call to X may or may not have gone through: never post again blindly.
            self._finish_interrupted(draft, now)
        approved = self.ledger.drafts_in([State.APPROVED])
        for draft in approved:
            self._sync_schedule(draft.id)
        posted = 0
        for draft in self.ledger.drafts_without_card():
            try:
                self.open_review(draft.id)
                posted += 1
            except Exception:
                log.exception("could not post the review card of %s", draft.number)
        return Recovery(scheduled=len(approved), interrupted=len(interrupted), cards_posted=posted)

    def _retire_orphans(self, now: datetime) -> None:
        """Drafts waiting for an account that app.yaml no longer has can never go out: say so."""
        for draft in self.ledger.drafts_in([*PENDING, State.REJECTED]):
            if draft.account in self.config.accounts:
                continue
            reason = f"the account {draft.account!r} is no longer in app.yaml"
            with self.ledger.transaction():
                self.ledger.move(draft.id, State.FAILED, only_from=[draft.state], at=now)
                self.ledger.log("failed", actor=SYSTEM, at=now, draft_id=draft.id, error=reason)
            log.warning("%s failed: %s", draft.number, reason)

    def _finish_interrupted(self, draft: Draft, now: datetime) -> None:
        reason = "publishing was interrupted by a restart; check the account on X before posting it again"
        with self.ledger.transaction():
            for publication in self.ledger.publications(draft.id):
                if publication.outcome == "publishing":
                    self.ledger.fail_publication(publication.id, error=reason, at=now)
            self.ledger.move(draft.id, State.FAILED, only_from=[State.PUBLISHING], at=now)
            self.ledger.log("interrupted", actor=SYSTEM, at=now, draft_id=draft.id, error=reason)
        self._notify(draft.id, Change(State.PUBLISHING, State.FAILED, SYSTEM))

    # reading

    def view(self, draft_id: int) -> DraftView:
        """A draft with its votes and latest publication, ready to render."""
        draft = self.ledger.draft(draft_id)
        if draft is None:
            raise UnknownDraft(f"There is no draft #{draft_id}.")
        account = self._account(draft.account)
        counted = tally(self.ledger.votes(draft_id))
        publications = self.ledger.publications(draft_id)
        return DraftView(
            draft=draft,
            account=account,
            approvers=counted.approvers,
            rejecters=counted.rejecters,
            length=measure(draft.text),
            publication=publications[-1] if publications else None,
        )

    def pending(self) -> list[DraftView]:
        """Drafts in review or approved and waiting for their time, oldest first."""
        return [self.view(d.id) for d in self.ledger.drafts_in(PENDING)]

    # helpers

    def _account(self, name: str | None) -> Account:
        account = self.config.account(name)
        if account is not None:
            return account
        names = ", ".join(f"to:{n}" for n in self.config.accounts)
        if name is None:
            raise UnknownAccount(f"Say which account the draft is for: {names}.")
        raise UnknownAccount(f"There is no account {name!r}; this team posts to {names}.")

    def _rules(self, account: Account, author_id: str) -> Rules:
        editors: set[str] = set()
        for editor in account.editors:
            editors |= self.directory.members_of(editor) if editor.startswith("S") else {editor}
        return Rules(
            author_id=author_id,
            editors=frozenset(editors),
            approvals_required=account.approvals_required,
            allow_self_approval=account.allow_self_approval,
        )

    def _zone_of(self, user_id: str) -> ZoneInfo:
        return self.directory.timezone_of(user_id) or self.config.timezone

    def _sync_schedule(self, draft_id: int) -> None:
        """Make the scheduler agree with the ledger for one draft."""
        if self.scheduler is None:
            return
        with self._decisions:
            draft = self.ledger.draft(draft_id)
            if draft is None or draft.state is not State.APPROVED:
                self.scheduler.cancel(draft_id)
                return
            due = draft.publish_at
            self.scheduler.schedule(draft_id, due if due and due > self.clock() else None)

    def _notify(self, draft_id: int, change: Change | None) -> None:
        """Tell Slack; a failure here never undoes what the ledger already holds.

        One draft's updates go out one at a time, each rendered from the ledger as it is then, so the
        card always ends on the latest state even when two votes arrive together.
        """
        with self._card_locks[draft_id % CARD_LOCK_STRIPES]:
            try:
                view = self.view(draft_id)
                if view.draft.card_ts:
                    self.notifier.refresh(view, change)
            except Exception:
                log.exception("could not update Slack about #%s; the ledger has it", draft_id)

