"""What every part of the desk shares: its collaborators, the rules it looks up, and how it tells Slack."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot import thread
from bot.config import Account, Config
from bot.content import content_sha256, counted
from bot.errors import CopydeskError, UnknownAccount, UnknownDraft
from bot.length import measure
from bot.messenger import CARD, DM, REDRAW, REPLY, RETIRE, Postings, draft_queue
from bot.model import Draft, Pause
from bot.ports import Change, Directory, DraftView, Notifier, Publisher, Schedule, Unscheduled
from bot.progress import Progress
from bot.review import Rules, State, Tally, tally

if TYPE_CHECKING:
    from storage.ledger import Ledger

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class DeskBase:
    """The desk's state and helpers; the mixins in desk_publishing and desk_control add what it does."""

    def __init__(
        self,
        config: Config,
        ledger: Ledger,
        *,
        publishers: Mapping[str, Publisher],
        notifier: Notifier,
        directory: Directory,
        scheduler: Schedule | None = None,
        clock: Clock = utc_now,
        postings: Postings | None = None,
        progress: Progress | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.publishers = publishers
        self.notifier = notifier
        self.directory = directory
        self.scheduler: Schedule = scheduler or Unscheduled()  # nothing fires by itself without one
        self.clock = clock
        # Held across "commit a decision, then (un)schedule it" so two decisions cannot reorder those steps.
        self._decisions = threading.RLock()
        self.postings = postings or Postings()  # cards on their way to Slack: a reaction on an unknown message waits for them
        self.progress = progress or Progress()  # told after each outbox delivery: the author's link waits for their card
        self._jitter = jitter  # 0 to 1: spreads the retries of posts that failed together

    # reading

    def view(self, draft_id: int) -> DraftView:
        """A draft with its votes, latest publication and the pause, ready to render."""
        return self._view_of(self._draft(draft_id), self.ledger.current_pause())

    def _view_of(self, draft: Draft, pause: Pause | None) -> DraftView:
        account = self._account(draft.account)
        try:
            standing = self._standing(draft)
        except CopydeskError:  # Slack could not say who the editors are: show the votes for this version as cast
            standing = tally(v for v in self.ledger.votes(draft.id) if v.version == draft.version)
        publications = self.ledger.publications(draft.id)
        shown = publications[-1] if publications else None
        if draft.state in (State.PUBLISHED, State.RETRACTED):  # a thread's link is its first part's
            shown = next((p for p in reversed(publications) if p.outcome == "published" and p.part == 1), shown)
        return DraftView(
            draft=draft,
            account=account,
            approvers=standing.approvers,
            rejecters=standing.rejecters,
            length=measure(draft.text),
            publication=shown,
            pause=pause,
            parts=tuple(measure(part) for part in thread.split(draft.text)),
            parts_out=tuple(sorted(self.ledger.published_parts(draft.id))),
            images=tuple(self.ledger.images(draft.id)),
        )

    def _draft(self, draft_id: int) -> Draft:
        draft = self.ledger.draft(draft_id)
        if draft is None:
            raise UnknownDraft(f"There is no draft #{draft_id}; /draft list shows the open ones.")
        return draft

    # helpers

    def _account(self, name: str | None) -> Account:
        account = self.config.account(name)
        if account is not None:
            return account
        names = ", ".join(f"to:{n}" for n in self.config.accounts)
        if name is None:
            raise UnknownAccount(f"Say which account the draft is for: {names}.")
        raise UnknownAccount(f"There is no account {name!r}; this team posts to {names}.")

    def _rules_of(self, draft: Draft) -> Rules:
        """The rules a vote on `draft` is judged by now: today's editors, and the authors of its current version."""
        return self._rules(self._account(draft.account), draft.author_id, draft.revisers)

    def _standing(self, draft: Draft, rules: Rules | None = None) -> Tally:
        """The votes that count for the draft as it stands: vetoes, and approvals by today's editors of this very content."""
        return counted(self.ledger.votes(draft.id), rules or self._rules_of(draft), draft.version, draft.content_sha256)

    def _rules(self, account: Account, author_id: str, revisers: frozenset[str] = frozenset()) -> Rules:
        editors: set[str] = set()
        for editor in account.editors:
            editors |= self.directory.members_of(editor) if editor.startswith("S") else {editor}
        return Rules(
            author_id=author_id,
            editors=frozenset(editors),
            approvals_required=account.approvals_required,
            allow_self_approval=account.allow_self_approval,
            revisers=revisers,
        )

    def warm_up(self) -> None:
        """Ask Slack once, at start, who is in each editor group and review channel; a failure is logged and asked again
        on first use."""
        for account in self.config.accounts.values():
            try:
                self._rules(account, "")
            except Exception as e:
                log.warning("could not list the editors of %s yet (%s)", account.name, e)
            try:  # who may read its drafts in /draft list, /draft digest and the App Home
                self.directory.members_of_channel(account.review_channel)
            except Exception as e:
                log.warning("could not list the members of %s yet (%s)", account.review_channel, e)

    def zone_of(self, user_id: str) -> ZoneInfo:
        """The user's Slack time zone, or the configured one when their profile has none."""
        return self.directory.timezone_of(user_id) or self.config.timezone

    def _sync_schedule(self, draft_id: int) -> None:
        """Make the scheduler agree with the ledger for one draft: nothing is scheduled while paused."""
        with self._decisions:
            draft = self.ledger.draft(draft_id)
            if draft is None or draft.state is not State.APPROVED or self.ledger.current_pause():
                self.scheduler.cancel(draft_id)
                return
            self._schedule_approved(draft)

    def _schedule_approved(self, draft: Draft) -> None:
        """Publish an approved draft at its time, or at once when it has none or its time has passed."""
        due = draft.due
        self.scheduler.schedule(draft.id, due if due and due > self.clock() else None)

    def _tell_slack(self, draft: Draft, change: Change | None, *, at: datetime) -> None:
        """Inside the change's own transaction: queue its card redraw and, for a change of state, the thread reply and the
        author's message. The courier delivers them in order after the commit, and again after a crash or an outage."""
        queue = draft_queue(draft.id)
        self.ledger.enqueue(queue, REDRAW, at=at, draft_id=draft.id)
        if change is not None:
            said = {"before": change.before.value, "after": change.after.value, "actor": change.actor}
            self.ledger.enqueue(queue, REPLY, at=at, draft_id=draft.id, version=draft.version, **said)
            self.ledger.enqueue(queue, DM, at=at, draft_id=draft.id, **said)

    def _new_version(
        self,
        current: Draft,
        *,
        text: str,
        publish_at: datetime | None,
        by: str,
        notice: str,
        action: str,
        at: datetime,
        detail: dict[str, Any],
    ) -> None:
        """Inside the caller's transaction (its images already as they will be): the draft's next version, fingerprinted,
        its votes cleared, and its card queued to replace the old one."""
        sha = content_sha256(text, self.ledger.images(current.id))
        self.ledger.new_version(
            current.id,
            text=text,
            publish_at=publish_at,
            by=by,
            content_sha256=sha,
            notice=notice,
            action=action,
            at=at,
            detail=detail,
        )
        self._queue_card(self._draft(current.id), at=at, replaces=current)

    def _queue_card(self, draft: Draft, *, at: datetime, replaces: Draft | None = None) -> None:
        """Inside the transaction that made this version: its card goes up, then (after an edit) the old card is retired."""
        queue = draft_queue(draft.id)
        self.ledger.enqueue(queue, CARD, at=at, draft_id=draft.id, version=draft.version, channel=draft.review_channel)
        if replaces is not None:
            self.ledger.enqueue(
                queue,
                RETIRE,
                at=at,
                draft_id=draft.id,
                version=replaces.version,
                channel=replaces.review_channel,
                ts=replaces.card_ts,
            )
