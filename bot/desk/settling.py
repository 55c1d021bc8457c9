"""A person settles a post the desk could not: sends a held one again, records one found live, or takes one down."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot import links, thread
from bot.desk.core import Core
from bot.desk.publishing import first_unpublished
from bot.errors import NotAllowed, Paused, PublishError, WrongState
from bot.model import Draft
from bot.ports import Change, Publisher, post_url
from bot.review import State, decide

# A thread can stop part-way (the pause, a failure, a doubt): its parts on X can still be retracted.
PART_WAY = (State.APPROVED, State.HELD, State.FAILED)


class Settling:
    """Publish now, Mark as published, and retract: each checks who asks, then decides in one transaction."""

    def __init__(self, core: Core, *, publishers: Mapping[str, Publisher]) -> None:
        self.core = core
        self.ledger = core.ledger
        self.config = core.config
        self.clock = core.clock
        self.publishers = publishers

    def publish_again(self, draft_id: int, user_id: str) -> Draft:
        """An editor or admin sends a held or failed draft to X again (or confirms one held by a pause); on an approved
        draft waiting out its cooling-off window, an admin lets it go now."""
        draft = self.core.draft(draft_id)
        if draft.state is State.APPROVED and draft.cooling_until is not None:
            return self._skip_cooling(draft, user_id)
        self.core.require_editor_or_admin(draft, user_id, "publish a held draft")
        if self.ledger.current_pause():
            raise Paused("Publishing is paused; an admin must /draft resume before anything goes out.")
        rules = self.core.rules_of(draft)
        needed = rules.approvals_required
        now = self.clock()
        with self.core.deciding(at=now) as decision:
            current = self.core.draft(draft_id)
            if current.state not in (State.HELD, State.FAILED):
                raise WrongState(f"{draft.number} is {current.state.label}; only held or failed drafts can be published again.")
            if current.version != draft.version:
                rules = self.core.rules_of(current)
            if refusal := self.core.refusal(current, now):
                raise WrongState(f"{draft.number} cannot go out: {refusal}")
            counted = self.core.standing(current, rules)
            if decide(counted, rules) is not State.APPROVED:
                raise WrongState(
                    f"{draft.number} does not have the editors' approval now "
                    f"({len(counted.approvers)} of {needed} for this version by today's editors, "
                    f"{len(counted.rejecters)} veto); it cannot go out."
                )
            self.ledger.transition(
                draft_id,
                State.APPROVED,
                only_from=[current.state],
                at=now,
                actor=user_id,
                action="publish_again",
                notice=None,
                before=current.state.value,
            )
            # whether X has it stays in doubt until it is found or sent: a duplicate refused by X must not free it
            decision.tell(current, Change(current.state, State.APPROVED, user_id))
            decision.reschedule(draft_id)
        return self.core.draft(draft_id)

    def _skip_cooling(self, draft: Draft, user_id: str) -> Draft:
        self.core.require_admin(user_id, "skip a cooling-off window")
        if self.ledger.current_pause():
            raise Paused("Publishing is paused; an admin must /draft resume before anything goes out.")
        with self.core.deciding() as decision:
            notice = f"<@{user_id}> skipped the rest of its cooling-off window."
            if not self.ledger.skip_cooling(draft.id, actor=user_id, at=decision.at, notice=notice):
                current = self.core.draft(draft.id)
                raise WrongState(f"{draft.number} is {current.state.label} and not waiting out a cooling-off window now.")
            decision.tell(self.core.draft(draft.id))
            decision.reschedule(draft.id)
        return self.core.draft(draft.id)

    def mark_published(self, draft_id: int, user_id: str, url: str | None) -> Draft:
        """An editor or admin found a held post live on X: record it as published, with its link if given.

        For a thread it settles the part in doubt (the first not on X); only the last part makes the draft
        published. A part that more parts must reply to needs its link.
        """
        draft = self.core.draft(draft_id)
        self.core.require_editor_or_admin(draft, user_id, "mark a draft as published")
        handle = self.core.account(draft.account).handle
        post_id = links.status_id(url, handle) if url else None
        url = post_url(handle, post_id) if post_id else None  # the link as copydesk writes it, whatever the host
        count = len(thread.split(draft.text))
        rules = self.core.rules_of(draft)  # what is recorded beside it: the approvals its content had when it was found live
        now = self.clock()
        with self.core.deciding(at=now) as decision:
            current = self.core.draft(draft_id)
            if current.state not in (State.HELD, State.FAILED):
                raise WrongState(f"{draft.number} is {current.state.label}; only held or failed drafts can be marked published.")
            sent = any(p.content_sha256 == current.content_sha256 for p in self.ledger.publications(draft_id))
            if not (current.may_be_live or sent or decide(self.core.standing(current, rules), rules) is State.APPROVED):
                raise WrongState(
                    f"copydesk never sent {draft.number} as it stands, and the editors' approval of it does not "
                    "hold now, so it is not recorded as published. If someone posted it by hand, delete it on X "
                    f"and withdraw {draft.number}."
                )
            part = first_unpublished(self.ledger.published_parts(draft_id), count)
            last = part >= count
            if not last and not post_id:
                raise WrongState(
                    f"Part {part} of {count} of {draft.number} is followed by more parts, which reply to it: "
                    f"give its link, /draft mark-published {draft.number} https://x.com/{handle}/status/…"
                )
            publication_id = self.ledger.start_publication(current, handle, at=now, part=part)
            self.ledger.finish_publication(publication_id, post_id=post_id or "", url=url or "", at=now)
            said: dict[str, Any] = {
                "actor": user_id,
                "at": now,
                "may_be_live": False,
                "url": url,
                "publication_id": publication_id,
                "x_post_id": post_id or "",
                **self.core.approval_record(current, rules),
                **({"part": part, "of": count} if count > 1 else {}),
            }
            if last:
                notice = f"Marked as published by <@{user_id}> after checking the account."
                self.ledger.transition(
                    draft_id, State.PUBLISHED, only_from=[current.state], action="marked_published", notice=notice, **said
                )
            else:  # a thread's part: the draft stays as it is, and Publish now sends the rest
                notice = f"Part {part} of {count} marked as published by <@{user_id}>; Publish now sends the rest, from part {part + 1}."
                self.ledger.note(draft_id, "marked_published", notice=notice, **said)
            decision.tell(current, Change(current.state, State.PUBLISHED, user_id) if last else None)
        return self.core.draft(draft_id)

    def retract(self, draft_id: int, user_id: str) -> Draft:
        """Delete a published post (every part of a thread, last first) from X (author, editors or admins), and record it."""
        draft = self.core.draft(draft_id)
        editors = self.core.rules(self.core.account(draft.account), draft.author_id).editors
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
        with self.core.deciding(at=now) as decision:
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
                return self.core.draft(draft_id)  # someone else's retraction got there first
            decision.tell(draft, Change(draft.state, State.RETRACTED, user_id))
            decision.reschedule(draft_id)  # a thread stopped part-way by the pause has no more parts to send
        return self.core.draft(draft_id)
