"""What each outbox message means to Slack: drawn from the ledger as it is when it goes, sent once, recorded as sent."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import BadImage
from bot.images import Image
from bot.model import Draft, Outgoing
from bot.ports import Announcement, CardMark, CardRef, Change, DraftView, Notifier
from bot.review import State

if TYPE_CHECKING:
    from storage.ledger import Ledger

log = logging.getLogger(__name__)

# The kinds of outbox message, and the queue each belongs to.
CARD, REDRAW, REPLY, DM, REMIND, RETIRE, ANNOUNCE, REACTION, CONFIRM, ATTACH, NOTICE = (
    "card",
    "redraw",
    "reply",
    "dm",
    "remind",
    "retire",
    "announce",
    "reaction",
    "confirm",
    "attach",
    "notice",
)


FORM_TRIES = 3  # tries at the files picked in the form before the first card goes up without them


def draft_queue(draft_id: int) -> str:
    """Everything about one draft goes out in the order it happened: its card first."""
    return f"draft:{draft_id}"


def channel_queue(channel: str) -> str:
    return f"channel:{channel}"


def message_queue(channel: str, ts: str) -> str:
    """Reactions on a message copydesk did not know yet, in the order Slack sent them."""
    return f"message:{channel}:{ts}"


def tag_of(message: Outgoing) -> str:
    """What a Slack message carries to be found again: its outbox row, and when that was written (unique across ledgers)."""
    return f"{message.id}@{message.created_at.isoformat(timespec='milliseconds')}"


def change_of(payload: dict) -> Change:
    return Change(State(payload["before"]), State(payload["after"]), payload["actor"])


class Postings:
    """Cards on their way to Slack, by channel: a reaction on a message copydesk does not know yet waits for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._channels: dict[str, int] = {}

    @contextmanager
    def posting(self, channel: str) -> Iterator[None]:
        """Held from before the card is sent until the ledger has its ts."""
        with self._cond:
            self._channels[channel] = self._channels.get(channel, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                self._channels[channel] -= 1
                if not self._channels[channel]:
                    del self._channels[channel]
                self._cond.notify_all()

    def wait(self, channel: str, timeout: float) -> bool:
        """Block until no card is being posted in `channel`; False if one still was after `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: channel not in self._channels, timeout)


class Messenger:
    """Delivers one outbox message (the courier's `deliver`): Slack first, then the ledger records it as sent."""

    def __init__(
        self,
        ledger: Ledger,
        notifier: Notifier,
        *,
        view: Callable[[int], DraftView],
        clock: Callable[[], datetime],
        card_view: Callable[[int], DraftView] | None = None,
        postings: Postings,
        card_posted: Callable[[int], None],
        reaction: Callable[[Outgoing, CardMark | None], None],
        attach: Callable[[Outgoing, list[Image], str | None], None] = lambda message, images, problem: None,
    ) -> None:
        self.ledger = ledger
        self.notifier = notifier
        self.view = view
        self.card_view = card_view or view  # what a card is drawn from (with its pre-flight notes)
        self.clock = clock
        self.postings = postings
        self.card_posted = card_posted  # plans the draft's reminder
        self.reaction = reaction  # counts a vote on a card found by its metadata, and records the message as sent
        self.attach = attach  # attaches the images fetched (or says why not), and records the message as sent

    def deliver(self, message: Outgoing) -> None:
        """Send `message` (unless an earlier try already did) and record it as sent."""
        if message.kind == REACTION:
            payload = message.payload
            self.reaction(message, self.notifier.card_mark(payload["channel"], payload["ts"]))
            return
        if message.kind == ANNOUNCE:
            self._announce(message)
            return
        if message.kind == NOTICE:
            self._notice(message)
            return
        if message.kind == ATTACH:
            self._attach(message)
            return
        assert message.draft_id is not None
        view = self.view(message.draft_id)
        handler = {
            CARD: self._card,
            REDRAW: self._redraw,
            REPLY: self._reply,
            DM: self._dm,
            REMIND: self._remind,
            RETIRE: self._retire,
            CONFIRM: self._confirm,
        }[message.kind]
        handler(message, view)

    # one method a kind

    def _card(self, message: Outgoing, view: DraftView) -> None:
        version, channel = message.payload["version"], message.payload["channel"]
        draft = view.draft
        with self.postings.posting(channel):
            found = self.notifier.find_card(channel, draft.id, version) if message.attempts > 1 else None
            if found is None and draft.version != version:
                self._sent(message)  # edited before its card went up: the newer version's card follows in this queue
                return
            card = found or self.notifier.post_card(self.card_view(draft.id))
            with self.ledger.transaction():
                self.ledger.outgoing_sent([message.id], at=self.clock(), result=card.ts)
                current = self.ledger.draft(draft.id)
                if current is not None and current.version == version and current.card_ts in (None, card.ts):
                    self.ledger.set_card(
                        draft.id, card.channel, card.ts, at=self.clock(), version=version, found=found is not None
                    )
        if draft.version == version:
            self.card_posted(draft.id)

    def _redraw(self, message: Outgoing, view: DraftView) -> None:
        """One redraw shows the ledger as it is now, so it stands for the redraws queued right behind it too."""
        run = []
        for queued in self.ledger.outbox_queue(message.queue):
            if queued.kind != REDRAW:
                break
            run.append(queued.id)
        view = self.card_view(view.draft.id)  # read after the run: it covers every change those redraws were queued for
        if view.draft.card_ts:
            self.notifier.redraw(CardRef(view.draft.review_channel, view.draft.card_ts), view)
        self.ledger.outgoing_sent(run or [message.id], at=self.clock())

    def _reply(self, message: Outgoing, view: DraftView) -> None:
        card = self._card_of(view.draft, message.payload.get("version"))
        if card is not None and not self._landed(message, card.channel, card.ts):
            self.notifier.reply(card, view, change_of(message.payload), tag_of(message))
        self._sent(message)

    def _remind(self, message: Outgoing, view: DraftView) -> None:
        if message.payload.get("version") != view.draft.version:  # an edit replaced those words: nobody is asked for them
            self._sent(message)
            return
        card = self._card_of(view.draft, message.payload.get("version"))
        if card is not None and not self._landed(message, card.channel, card.ts):
            self.notifier.remind(card, view, list(message.payload["editors"]), tag_of(message))
        self._sent(message)

    def _dm(self, message: Outgoing, view: DraftView) -> None:
        if not self._landed(message, view.draft.author_id, None):
            self.notifier.tell_author(view, change_of(message.payload), tag_of(message))
        self._sent(message)

    def _confirm(self, message: Outgoing, view: DraftView) -> None:
        """The author of a draft written in the form hears, in a direct message, where its card is."""
        if not self._landed(message, view.draft.author_id, None):
            card = self._card_of(view.draft, None)
            self.notifier.confirm(view, self.notifier.permalink(card) if card else None, tag_of(message))
        self._sent(message)

    def _retire(self, message: Outgoing, view: DraftView) -> None:
        payload = message.payload
        old = CardRef(payload["channel"], payload["ts"]) if payload.get("ts") else self._card_of(view.draft, payload["version"])
        if old is not None:
            current = CardRef(view.draft.review_channel, view.draft.card_ts) if view.draft.card_ts else None
            self.notifier.retire_card(old, view, self.notifier.permalink(current) if current else None)
        self._sent(message)

    def _announce(self, message: Outgoing) -> None:
        p = message.payload
        channel = p["channel"]
        if not self._landed(message, channel, None):
            news = Announcement(p.get("news", ""), p.get("actor", ""), p.get("reason"), p.get("held", 0), p.get("text"))
            self.notifier.announce(channel, news, tag_of(message))
        self._sent(message)

    def _attach(self, message: Outgoing) -> None:
        """Fetch the files from Slack (a failure to reach Slack is tried again later), then hand them to the desk.

        Files picked in the form hold the draft's first card back, so after FORM_TRIES failed tries the card goes up
        without them, and the author is told how to add them.
        """
        images: list[Image] = []
        try:
            for file in message.payload["files"]:
                images.append(self.notifier.fetch_image(file))
        except BadImage as e:
            self.attach(message, [], str(e))
            return
        except Exception as e:
            if not message.payload.get("initial") or message.attempts < FORM_TRIES:
                raise
            self.attach(
                message,
                [],
                f"Slack's files could not be fetched ({e}); the card went up without them. "
                "Share the images in the card's thread to add them.",
            )
            return
        self.attach(message, images, None)

    def _notice(self, message: Outgoing) -> None:
        """A word for one person only: in a channel (ephemeral, never doubled harmfully) or in a direct message."""
        p = message.payload
        if p.get("channel") or not self._landed(message, p["user"], None):
            self.notifier.tell_privately(
                p["user"], p["text"], tag_of(message), channel=p.get("channel"), thread_ts=p.get("thread_ts")
            )
        self._sent(message)

    # helpers

    def _landed(self, message: Outgoing, channel: str, thread_ts: str | None) -> bool:
        """Whether an earlier try of this message reached Slack although its answer never came back."""
        return message.attempts > 1 and self.notifier.find_tagged(channel, tag_of(message), thread_ts=thread_ts)

    def _card_of(self, draft: Draft, version: int | None) -> CardRef | None:
        """The card a message about one version of a draft belongs under (the current one when unsaid)."""
        if (version is None or version == draft.version) and draft.card_ts:
            return CardRef(draft.review_channel, draft.card_ts)
        found = self.ledger.card_of_version(draft.id, version) if version is not None else None
        return CardRef(*found) if found else None

    def _sent(self, message: Outgoing) -> None:
        self.ledger.outgoing_sent([message.id], at=self.clock())
