"""A draft's images: attached, replaced or dropped by its author before it goes out; a change clears the votes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot import images as images_
from bot.content import content_sha256
from bot.desk.core import Core
from bot.errors import CopydeskError, LedgerUnwritable, WrongState
from bot.images import Image
from bot.messenger import ATTACH, NOTICE, draft_queue
from bot.model import Draft, Outgoing
from bot.review import EDITABLE


class Media:
    """Images go to X with the draft's first post; editors approve them with the text, so changing them re-opens review."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.ledger = core.ledger
        self.clock = core.clock

    def set_images(self, draft_id: int, user_id: str, images: Sequence[Image]) -> Draft:
        """Replace every image of a draft (none: drop them); like an edit, the votes are cleared and a new card goes up."""
        changed = self._change_images(draft_id, user_id, images, replace=True, event_id=None)
        assert changed is not None
        return changed

    def add_images(self, draft_id: int, user_id: str, images: Sequence[Image], *, event_id: str | None = None) -> Draft | None:
        """Attach more images after those the draft has (files shared in its card's thread); None for a redelivered event."""
        return self._change_images(draft_id, user_id, images, replace=False, event_id=event_id)

    def attach_later(
        self,
        draft_id: int,
        user_id: str,
        files: Sequence[Mapping[str, Any]],
        *,
        event_id: str | None,
        channel: str,
        thread_ts: str,
    ) -> bool:
        """Files shared in the card's thread: who may attach is checked now, and the courier fetches and attaches them
        after Slack has its 200 (kept in the outbox meanwhile); False for a redelivered event."""
        draft = self.core.draft(draft_id)
        self.core.check_can_edit(draft, user_id, "attach images to")
        now = self.clock()
        with self.ledger.transaction():
            if event_id and not self.ledger.first_sighting(event_id, at=now):
                return False
            self.ledger.enqueue(
                draft_queue(draft_id),
                ATTACH,
                at=now,
                draft_id=draft_id,
                files=list(files),
                user=user_id,
                channel=channel,
                thread_ts=thread_ts,
                initial=False,
            )
        return True

    def settle_attachment(self, message: Outgoing, images: list[Image], problem: str | None) -> None:
        """The courier fetched a draft's files: attach them (a new version, unless its first card is not up yet), or tell
        the person privately why not; either way in the transaction that marks the message delivered."""
        p = message.payload
        assert message.draft_id is not None
        if problem is None:
            try:
                if p.get("initial") and self._attach_first(message, images):
                    return
                self._change_images(message.draft_id, p["user"], images, replace=False, event_id=None, settles=message)
                return
            except LedgerUnwritable:
                raise  # the ledger's trouble, not the images': the courier tries again
            except CopydeskError as e:
                problem = str(e)
        with self.ledger.transaction():
            now = self.clock()
            self.ledger.outgoing_sent([message.id], at=now)
            self.ledger.enqueue(
                draft_queue(message.draft_id),
                NOTICE,
                at=now,
                draft_id=message.draft_id,
                user=p["user"],
                channel=p.get("channel"),
                thread_ts=p.get("thread_ts"),
                text=f"Not attached to #{message.draft_id}: {problem}",
            )

    def _attach_first(self, message: Outgoing, images: list[Image]) -> bool:
        """Images picked in the form join the draft's first version, if its card is not up yet (else they are a change)."""
        assert message.draft_id is not None
        now = self.clock()
        with self.ledger.transaction():
            draft = self.core.draft(message.draft_id)
            if draft.version != 1 or draft.card_ts is not None or self.ledger.images(draft.id):
                return False
            images_.check_new(images)
            images_.check_networks(images, self.core.networks_of(draft))
            self.ledger.outgoing_sent([message.id], at=now)
            self.ledger.add_images(draft.id, images, at=now)
            sha = content_sha256(draft.text, images)  # still version 1: no card, so no vote, has seen it without them
            self.ledger.set_content(draft.id, sha)
            self.ledger.log(
                "images_changed",
                actor=message.payload["user"],
                at=now,
                draft_id=draft.id,
                **images_.change_record([], images),
                version=draft.version,
                content_sha256=sha,
            )
        return True

    def draft_on_card(self, channel: str, ts: str) -> Draft | None:
        """The draft whose review card is this message (a thread's parent), if any."""
        return self.ledger.draft_for_card(channel, ts)

    def _change_images(
        self,
        draft_id: int,
        user_id: str,
        images: Sequence[Image],
        *,
        replace: bool,
        event_id: str | None,
        settles: Outgoing | None = None,
    ) -> Draft | None:
        draft = self.core.draft(draft_id)
        self.core.check_can_edit(draft, user_id, "change the images of")
        images_.check_new(images)
        images_.check_networks(images, self.core.networks_of(draft))
        now = self.clock()
        with self.core.deciding(at=now) as decision:
            if event_id and not self.ledger.first_sighting(event_id, at=now):
                return None  # Slack redelivered a file share we already attached
            if settles is not None:
                self.ledger.outgoing_sent([settles.id], at=now)
            current = self.core.draft(draft_id)
            if current.state not in EDITABLE:
                raise WrongState(f"{draft.number} is {current.state.label} now; its images can no longer change.")
            before = self.ledger.images(draft_id)
            if not images and not (replace and before):
                raise WrongState(f"{draft.number} has no images to remove." if replace else "There is no image to attach.")
            after = list(images) if replace else [*before, *images]
            images_.check(after)
            if replace:
                self.ledger.remove_images(draft_id)
            self.ledger.add_images(draft_id, images, at=now)
            what = "changed the images" if after else "removed the images"
            self.core.new_version(
                current,
                text=current.text,
                publish_at=current.publish_at,
                by=user_id,
                at=now,
                action="images_changed",
                notice=f"<@{user_id}> {what}: every vote on the earlier version was cleared; editors, please review it again.",
                detail=images_.change_record(before, after),
            )
            decision.reschedule(draft_id)
        return self.core.draft(draft_id)
