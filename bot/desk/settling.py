"""A person settles a post the desk could not: sends a held one again, records one found live, or takes one down."""

from __future__ import annotations

from typing import Any

from bot import thread
from bot.desk.core import Core
from bot.desk.publishing import first_unpublished
from bot.dryrun import not_sent
from bot.errors import BadLink, NotAllowed, Paused, PublishError, WrongState
from bot.legs import Stage, ordered, outcome, reasons, sentence, waiting, where
from bot.model import Draft, Publication
from bot.networks import label, listed
from bot.ports import Change, Publishers, post_url
from bot.review import State, decide

# A thread can stop part-way (the pause, a failure, a doubt): its parts on X can still be retracted.
PART_WAY = (State.APPROVED, State.HELD, State.FAILED)


class Settling:
    """Publish now, Mark as published, and retract: each checks who asks, then decides in one transaction."""

    def __init__(self, core: Core, *, publishers: Publishers) -> None:
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
            legs = ordered(self.ledger.legs(draft_id), self.core.networks_of(current))
            if len(legs) > 1 and all(leg.stage in (Stage.OUT, Stage.RETRACTED) for leg in legs):
                raise WrongState(
                    f"{draft.number} has nothing left to send: it is out or taken back on every network. "
                    f"/draft retract {draft.number} deletes what is still up."
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
            self.ledger.reopen_legs(draft_id, at=now)  # only the networks not yet out are sent again
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

    def mark_published(self, draft_id: int, user_id: str, url: str | None, network: str | None = None) -> Draft:
        """An editor or admin found a held post live on a network: record it as published there, with its link if given.

        For a thread it settles the part in doubt (the first not out there); only the last part makes the network out,
        and the draft is published once every network is. A part that more parts must reply to needs its link. Which
        network: `network` (on:), else the one the link is on, else the only one not out yet.
        """
        draft = self.core.draft(draft_id)
        self.core.require_editor_or_admin(draft, user_id, "mark a draft as published")
        network, post_id = self._where_found(draft, url, network)
        account = self.core.account(draft.account)
        on = account.on(network)
        handle = on.handle if on else account.handle
        publisher = self.publishers.get(draft.account, {}).get(network)
        # the link as copydesk writes it from the post's id, whatever was typed around it (a host, a query)
        url = (
            (post_url(handle, post_id) if network == "x" or publisher is None else publisher.url_of(post_id)) if post_id else None
        )
        count = len(thread.split(draft.text))
        networks = self.core.networks_of(draft)
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
                    f"hold now, so it is not recorded as published. If someone posted it by hand, delete it on "
                    f"{label(network)} and withdraw {draft.number}."
                )
            part = first_unpublished(self.ledger.published_parts(draft_id, network), count)
            if part > count:
                raise WrongState(f"{draft.number} is already out on {label(network)}.")
            last = part >= count
            if not last and not post_id:
                example = f"https://x.com/{handle}/status/…" if network == "x" else "its link"
                raise WrongState(
                    f"Part {part} of {count} of {draft.number} is followed by more parts, which reply to it: "
                    f"give its link, /draft mark-published {draft.number} {example}"
                )
            publication_id = self.ledger.start_publication(current, handle, at=now, part=part, network=network)
            # a dry run's draft marked without a link: nothing was sent, and it stays a dry run
            dry = current.dry_run and not post_id
            self.ledger.finish_publication(publication_id, post_id=post_id or "", url=url or "", at=now, dry_run=dry)
            said: dict[str, Any] = {
                "actor": user_id,
                "at": now,
                "may_be_live": False,
                "url": url,
                "publication_id": publication_id,
                "x_post_id": post_id or "",
                **self.core.approval_record(current, rules),
                **({"part": part, "of": count} if count > 1 else {}),
                **({"network": network} if len(networks) > 1 else {}),
                **({"dry_run": True} if dry else {}),
            }
            if last:
                self.ledger.set_leg(draft_id, network, Stage.OUT, at=now)
            legs = ordered(self.ledger.legs(draft_id), networks)
            after = outcome(legs)
            if len(networks) > 1:  # another network may still be in doubt: the draft stays so
                said["may_be_live"] = any(leg.may_be_live for leg in legs if leg.stage is Stage.HELD)
            everywhere = last and after is State.PUBLISHED
            if last and not everywhere and len(networks) > 1 and after in (State.HELD, State.FAILED):
                # out here; what is left is in doubt or failed elsewhere: the draft says so, and whether it may be live
                notice = f"Marked as published on {label(network)} by <@{user_id}>. {sentence(where(legs))} {reasons(legs)}"
                self.ledger.transition(
                    draft_id, after, only_from=[current.state], action="marked_published", notice=notice, **said
                )
                decision.tell(current, Change(current.state, after, user_id) if after is not current.state else None)
                return self.core.draft(draft_id)
            if everywhere or (last and len(networks) == 1):
                notice = f"Marked as published by <@{user_id}> after checking the account."
                self.ledger.transition(
                    draft_id, State.PUBLISHED, only_from=[current.state], action="marked_published", notice=notice, **said
                )
            elif last:  # out on this network; another is not yet
                notice = f"Marked as published on {label(network)} by <@{user_id}>; Publish now sends it where it is not out yet."
                self.ledger.note(draft_id, "marked_published", notice=notice, **said)
            else:  # a thread's part: the draft stays as it is, and Publish now sends the rest
                notice = f"Part {part} of {count} marked as published by <@{user_id}>; Publish now sends the rest, from part {part + 1}."
                self.ledger.note(draft_id, "marked_published", notice=notice, **said)
            decision.tell(
                current, Change(current.state, State.PUBLISHED, user_id) if everywhere or (last and len(networks) == 1) else None
            )
        return self.core.draft(draft_id)

    def _where_found(self, draft: Draft, url: str | None, network: str | None) -> tuple[str, str | None]:
        """The network a post was found on, and its id there from the link (None without a link)."""
        networks = self.core.networks_of(draft)
        if network is not None and network not in networks:
            raise WrongState(f"{draft.number} does not go to {label(network)}; it goes to {listed(networks)}.")
        legs = self.ledger.legs(draft.id)
        out = {n for n in networks if n in legs and legs[n].stage in (Stage.OUT, Stage.RETRACTED)}  # nothing to settle there
        candidates = [network] if network else [n for n in networks if n not in out] or list(networks)
        publishers = self.publishers.get(draft.account, {})
        if url:
            errors = []
            for name in candidates:
                publisher = publishers.get(name)
                if publisher is None:
                    continue
                try:
                    return name, publisher.link_id(url)
                except BadLink as e:
                    errors.append(e)
            if errors:
                raise errors[0]
            return candidates[0], None
        if len(candidates) > 1:
            raise WrongState(
                f"{draft.number} is not out on {listed(candidates)}: say where you found it, "
                f"/draft mark-published {draft.number} LINK (or on:{candidates[0]})."
            )
        return candidates[0], None

    def _close(
        self, draft: Draft, user_id: str, closing: list[str] | tuple[str, ...], live: dict[str, Any], confirmed: list[str]
    ) -> None:
        """Before any delete, in one decision: the networks being retracted are never sent again (nor one not yet out,
        when all of it is retracted; nor one a person found without the post, `confirmed`), and a draft left with
        nothing to send stops waiting for its job, so no retry goes out while, or after, it is deleted."""
        networks = self.core.networks_of(draft)
        several = len(networks) > 1
        with self.core.deciding() as decision:
            current = self.core.draft(draft.id)
            if current.state is State.PUBLISHING:
                raise WrongState(f"{draft.number} is going out right now; retract it in a moment, once this run is over.")
            legs = self.ledger.legs(draft.id)
            for network in closing if several else ():
                leg = legs.get(network)
                closable = (Stage.PENDING, Stage.RETRYING, Stage.FAILED) + ((Stage.HELD,) if network in confirmed else ())
                if leg is None or leg.stage in closable:  # an out one: once its posts are deleted
                    said = "retracted: never to be sent" if network not in live else "retracted"
                    self.ledger.set_leg(draft.id, network, Stage.RETRACTED, at=decision.at, error=said)
                    self.ledger.log(
                        "network_retracted",
                        actor=user_id,
                        at=decision.at,
                        draft_id=draft.id,
                        network=network,
                        sent=network in live,
                    )
            if confirmed and not self.ledger.live_posts(draft.id):
                self.ledger.set_doubt(draft.id, False)  # a person looked: the networks in doubt do not have it
            waits = waiting(ordered(self.ledger.legs(draft.id), networks)) if several else not self.ledger.current_pause()
            # (one network: an approved draft with parts out waits for a retry, or for the pause to end: only the first goes)
            if current.state is State.APPROVED and (not waits if several else waits):
                notice = f"Being retracted by <@{user_id}>: nothing more goes out."
                self.ledger.transition(
                    draft.id, State.HELD, only_from=[State.APPROVED], at=decision.at, actor=user_id, notice=notice, reason=notice
                )
                decision.tell(current, Change(State.APPROVED, State.HELD, user_id))
            decision.reschedule(draft.id)

    def retract(self, draft_id: int, user_id: str, on: tuple[str, ...] = ()) -> Draft:
        """Delete a published post (every part of a thread, last first) from every network it reached, or those `on`
        names (author, editors or admins), and record it; a network that fails does not stop the others."""
        draft = self.core.draft(draft_id)
        editors = self.core.rules(self.core.account(draft.account), draft.author_id).editors
        if user_id not in {draft.author_id, *editors, *self.config.admins}:
            raise NotAllowed(f"Only the author of {draft.number}, the editors of {draft.account} and admins can retract it.")
        live = self.ledger.live_posts(draft_id)
        networks = self.core.networks_of(draft)
        if unknown_on := [n for n in on if n not in networks]:
            raise WrongState(f"{draft.number} does not go to {listed(unknown_on)}; it goes to {listed(networks)}.")
        several = len(networks) > 1
        now_legs = self.ledger.legs(draft_id)
        targets = [n for n in networks if n in live and (not on or n in on)] or [n for n in live if not on or n in on]
        # nothing left to delete where it was in doubt: retracting again says a person found it is not there
        doubted = [n for n in networks if n in now_legs and now_legs[n].stage is Stage.HELD and now_legs[n].may_be_live]
        confirmed = [n for n in doubted if not on or n in on] if several and draft.state is State.HELD and not targets else []
        if draft.state is not State.PUBLISHED and not ((live or confirmed) and draft.state in PART_WAY):
            raise WrongState(f"{draft.number} is {draft.state.label}; only published posts can be retracted.")
        if not targets and not confirmed:
            raise WrongState(f"{draft.number} is not on {listed(on or networks)}; nothing to retract there.")
        account = self.config.accounts.get(draft.account)
        if account is not None and account.dry_run and (real := [n for n in targets if _sent(live[n])]):
            raise WrongState(
                f"{draft.number} is really on {listed(real)}, and copydesk runs @{account.handle} in a dry run now, which "
                f"sends nothing there, deletes included: delete it on {listed(real)} directly, or run copydesk without the "
                "dry run and retract it again."
            )
        still: list[str] = []
        for network in list(targets):
            out = live[network]
            if unknown := [part for part, p in out.items() if not p.x_post_id]:
                which = f" (part {', '.join(map(str, unknown))})" if len(out) > 1 else ""
                said = (
                    f"copydesk does not know which post on {label(network)} is {draft.number}{which}; delete it on "
                    f"{label(network)} directly"
                )
                if len(targets) == 1:
                    raise WrongState(f"{said}.")
                still.append(said)  # the networks whose posts are known are still deleted
                targets.remove(network)
        self._close(draft, user_id, networks if not on else [*targets, *confirmed], live, confirmed)
        for network in targets:
            out = live[network]
            for part in sorted(out, reverse=True):  # replies first, so no part is left answering a deleted one
                publication = out[part]
                assert publication.x_post_id
                try:
                    if publication.outcome != "dry_run":  # a dry run's post was never sent: nothing to delete anywhere
                        self.publishers[draft.account][network].delete(publication.x_post_id)
                except PublishError as e:
                    which = f"part {part} of {draft.number}" if len(out) > 1 else draft.number
                    still.append(f"{which} is still on {label(network)}: {e.reason}")
                    break
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
                        **({"network": network} if several else {}),
                    )
                    leg = self.ledger.legs(draft_id).get(network)
                    in_doubt = leg is not None and leg.stage is Stage.HELD and leg.may_be_live  # a later part may be there
                    if several and not in_doubt and network not in self.ledger.live_posts(draft_id):  # all of it is gone
                        self.ledger.set_leg(draft_id, network, Stage.RETRACTED, at=self.clock(), error="retracted")
        if still:
            gone = [n for n in targets if n not in self.ledger.live_posts(draft_id)]
            also = f" It was deleted from {listed(gone)}." if gone else ""
            raise WrongState(f"{'; '.join(still)}. Try again to delete what is left.{also}")
        left = self.ledger.live_posts(draft_id)
        now = self.clock()
        with self.core.deciding(at=now) as decision:
            legs = ordered(self.ledger.legs(draft_id), networks)
            doubt = [leg.network for leg in legs if leg.stage is Stage.HELD and leg.may_be_live] if several else []
            if left or doubt or (several and waiting(legs)):
                # some networks only (on:), or one still in doubt or still to be sent: the draft stays as it is, saying so
                rest = [f"still on {listed(left)}"] if left else []
                rest += [f"{listed(doubt)} may still have it" if doubt else ""] if doubt else []
                rest += [f"still to go to {listed(leg.network for leg in waiting(legs))}"] if waiting(legs) else []
                notice = f"Retracted from {listed(targets)} by <@{user_id}>; {'; '.join(r for r in rest if r)}."
                self.ledger.note(draft_id, "retracted_from", actor=user_id, at=now, notice=notice, networks=list(targets))
                decision.tell(self.core.draft(draft_id))
                return self.core.draft(draft_id)
            first = live.get(networks[0], {}).get(1) or next((p.get(1) for p in live.values()), None)
            detail: dict[str, Any] = {"parts": len(live[targets[0]])} if targets and len(live[targets[0]]) > 1 else {}
            if several:
                detail["networks"] = list(targets)
            where = "X" if not several and targets == ["x"] else listed(targets)
            dry = bool(targets) and all(p.outcome == "dry_run" for n in targets for p in live[n].values())
            if not self.ledger.transition(
                draft_id,
                State.RETRACTED,
                only_from=[State.PUBLISHED, *PART_WAY],
                at=now,
                actor=user_id,
                notice=f"Retracted by <@{user_id}>: it was a dry run ({not_sent(targets)}), so there was nothing to delete."
                if dry
                else f"Retracted by <@{user_id}>: the post was deleted from {where}."
                if targets
                else f"Retracted by <@{user_id}>, who checked that {listed(confirmed)} does not have it.",
                x_post_id=first.x_post_id if first else None,
                **detail,
            ):
                return self.core.draft(draft_id)  # someone else's retraction got there first
            decision.tell(draft, Change(draft.state, State.RETRACTED, user_id))
            decision.reschedule(draft_id)  # a thread stopped part-way by the pause has no more parts to send
        return self.core.draft(draft_id)


def _sent(parts: dict[int, Publication]) -> bool:
    """Whether any part of a post on a network was really sent there (not a dry run's)."""
    return any(p.outcome != "dry_run" for p in parts.values())
