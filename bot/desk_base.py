"""What every part of the desk shares: its collaborators, the rules it looks up, and how it tells Slack."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot import thread
from bot.config import Account, Config
from bot.errors import UnknownAccount, UnknownDraft
from bot.length import measure
from bot.model import Draft, Pause
from bot.ports import Change, Directory, DraftView, Notifier
from bot.publishing import Publisher
from bot.review import Rules, State, tally

if TYPE_CHECKING:
    from bot.scheduling import PublishScheduler
    from storage.ledger import Ledger

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# One draft's card updates go out in order; a fixed set of locks keeps that bounded however many drafts exist.
CARD_LOCK_STRIPES = 64


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(timezone.utc)


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
        # Held across "commit a decision, then (un)schedule it" so two decisions cannot reorder those steps.
        self._decisions = threading.RLock()
        self._card_locks = tuple(threading.Lock() for _ in range(CARD_LOCK_STRIPES))
        self._afterwards: Callable[[Callable[[], None]], object] = lambda task: task()

    def attach_scheduler(self, scheduler: PublishScheduler) -> None:
        """The scheduler calls back into the desk, so it is wired after both exist."""
        self.scheduler = scheduler

    def attach_afterwards(self, submit: Callable[[Callable[[], None]], object]) -> None:
        """Where Slack hears about a publication: one queue, in order, so a publishing job is free for the next post
        as soon as X has answered and the ledger has it (without this, Slack is told inline)."""
        self._afterwards = submit

    def _notify_later(self, draft_id: int, change: Change | None) -> None:
        """_notify, from the afterwards queue: the scheduler's jobs use this, so posts due together reach X together."""
        self._afterwards(lambda: self._notify(draft_id, change))

    # reading

    def view(self, draft_id: int) -> DraftView:
        """A draft with its votes, latest publication and the pause, ready to render."""
        return self._view_of(self._draft(draft_id), self.ledger.current_pause())

    def current_pause(self) -> Pause | None:
        """Whether publishing is paused, by whom and why."""
        return self.ledger.current_pause()

    def _view_of(self, draft: Draft, pause: Pause | None) -> DraftView:
        account = self._account(draft.account)
        counted = tally(self.ledger.votes(draft.id))
        publications = self.ledger.publications(draft.id)
        shown = publications[-1] if publications else None
        if draft.state in (State.PUBLISHED, State.RETRACTED):  # a thread's link is its first part's
            shown = next((p for p in reversed(publications) if p.outcome == "published" and p.part == 1), shown)
        return DraftView(
            draft=draft,
            account=account,
            approvers=counted.approvers,
            rejecters=counted.rejecters,
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

    def zone_of(self, user_id: str) -> ZoneInfo:
        """The user's Slack time zone, or the configured one when their profile has none."""
        return self.directory.timezone_of(user_id) or self.config.timezone

    def _sync_schedule(self, draft_id: int) -> None:
        """Make the scheduler agree with the ledger for one draft: nothing is scheduled while paused."""
        if self.scheduler is None:
            return
        with self._decisions:
            draft = self.ledger.draft(draft_id)
            if draft is None or draft.state is not State.APPROVED or self.ledger.current_pause():
                self.scheduler.cancel(draft_id)
                return
            self._schedule_approved(draft)

    def _schedule_approved(self, draft: Draft) -> None:
        """Publish an approved draft at its time, or at once when it has none or its time has passed."""
        assert self.scheduler is not None
        due = draft.due
        self.scheduler.schedule(draft.id, due if due and due > self.clock() else None)

    def _notify(self, draft_id: int, change: Change | None) -> None:
        """Tell Slack; a failure here never undoes what the ledger already holds.

        One draft's updates go out one at a time, each rendered from the ledger as it is then, so the
        card always ends on the latest state even when two votes arrive together.
        """
        with self._card_lock(draft_id):
            self._tell(draft_id, change)

    def _card_lock(self, draft_id: int) -> threading.Lock:
        """Held while one draft's card is redrawn; taken under _decisions to keep a decision's news before the next one's."""
        return self._card_locks[draft_id % CARD_LOCK_STRIPES]

    def _tell(self, draft_id: int, change: Change | None) -> None:
        """_notify's work, with the draft's card lock already held."""
        try:
            view = self.view(draft_id)
            if view.draft.card_ts:
                self.notifier.refresh(view, change)
        except Exception:
            log.exception("could not update Slack about #%s; the ledger has it", draft_id)
