"""What the desk shows: one draft ready to render, the queue, the App Home, and who may read which drafts."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot import preflight, privacy, thread
from bot.config import Account
from bot.desk.core import Core
from bot.errors import CopydeskError, SlackUnavailable
from bot.legs import ordered
from bot.length import measure
from bot.model import OUT, Draft, Pause, Publication
from bot.networks import Count
from bot.ports import CardRef, DraftView, Notifier, Overview, Publishers
from bot.review import OPEN, Kind, State, tally

log = logging.getLogger(__name__)

HOME_LINKS = 15  # cards linked from one App Home (each link is a Slack call, cached after the first)


class Reading:
    """Reads only: nothing here changes the ledger."""

    def __init__(self, core: Core, *, notifier: Notifier, publishers: Publishers | None = None) -> None:
        self.core = core
        self.ledger = core.ledger
        self.notifier = notifier
        self.publishers = publishers or {}  # asked what X last said of each account's limits (the card's budget note)

    def view(self, draft_id: int) -> DraftView:
        """A draft with its votes, latest publication and the pause, ready to render."""
        return self.view_of(self.core.draft(draft_id), self.ledger.current_pause())

    def card(self, draft_id: int) -> DraftView:
        """As view, with the pre-flight notes its review card shows (they read the account's recent posts: cards only)."""
        return self.view_of(self.core.draft(draft_id), self.ledger.current_pause(), notes=True)

    def view_of(self, draft: Draft, pause: Pause | None, *, notes: bool = False) -> DraftView:
        """As view, with the pause read once by the caller (a list of many drafts agrees on it)."""
        account = self.core.account(draft.account)
        unmet: tuple[str, ...] = ()
        try:
            rules = self.core.rules_of(draft)
            standing = self.core.standing(draft, rules)
            unmet = tuple(r.id for r in rules.missing(standing.approvers))
        except CopydeskError:  # Slack could not say who the editors are: show the votes for this version as cast
            standing = tally(v for v in self.ledger.votes(draft.id) if v.version == draft.version)
            unmet = draft.policy.require if draft.policy else ()
        publications = self.ledger.publications(draft.id)
        networks = self.core.networks_of(draft)
        shown = publications[-1] if publications else None
        if draft.state in (State.PUBLISHED, State.RETRACTED):  # a thread's link is its first part's
            shown = next((p for p in reversed(publications) if p.outcome in OUT and p.part == 1), shown)
        links = {
            p.network: p.url
            for p in publications
            if p.outcome == "published" and p.part == 1 and p.retracted_at is None and p.url and p.network in networks
        }
        several = len(networks) > 1
        legs = tuple(ordered(self.ledger.legs(draft.id), networks)) if several and publications else ()
        return DraftView(
            draft=draft,
            account=account,
            approvers=standing.approvers,
            rejecters=standing.rejecters,
            length=measure(draft.text),
            publication=shown,
            pause=pause,
            parts=tuple(measure(part) for part in thread.split(draft.text)),
            parts_out=tuple(sorted(self.ledger.published_parts(draft.id, networks[0]))),
            images=tuple(self.ledger.images(draft.id)),
            unmet=unmet,
            notes=self.preflight_notes(draft, account) if notes else (),
            networks=networks,
            legs=legs,
            links=tuple((n, links[n]) for n in networks if n in links),
            retracted=tuple(n for n in networks if any(p.network == n and p.retracted_at for p in publications)),
            counts=self._counts(draft, networks) if networks != ("x",) else (),  # X alone: `length`, as ever
            dry_run=dry_networks(draft, networks, publications),
            last_error=next((p.error for p in reversed(publications) if p.error), None),
        )

    def _counts(self, draft: Draft, networks: tuple[str, ...]) -> tuple[Count, ...]:
        """Its longest part on each network, as that network counts it (the card shows each)."""
        parts = thread.split(draft.text)
        counted = []
        for network in networks:
            count = self.core.counter(draft.account, network)
            counted.append(max((count(p) for p in parts), key=lambda c: (c.excess, c.used)))
        return tuple(counted)

    def pending(self) -> list[DraftView]:
        """Drafts in review, approved and waiting for their time, or held for a person, oldest first."""
        pause = self.ledger.current_pause()
        return [self.view_of(d, pause) for d in self.ledger.drafts_in(OPEN)]

    def overview(self, user_id: str, *, recent: int = 10) -> Overview:
        """What `user_id` sees on the App Home; the pause is read once, so every part agrees on it."""
        pause = self.ledger.current_pause()
        queue = [self.view_of(d, pause) for d in self.ledger.drafts_in(OPEN)]
        waiting = [v for v in queue if self._awaits_vote(v, user_id)]
        went_out = [self.view_of(d, pause) for d in self.ledger.recently_published(recent)]
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
        return self.core.rules_of(view.draft).counts(user_id, Kind.APPROVE)

    def readable(self, viewer: str) -> frozenset[str]:
        """The accounts whose drafts `viewer` may read word for word (bot.privacy); of the others they see only numbers."""
        return frozenset(a.name for a in self.core.config.accounts.values() if self._may_read(viewer, a))

    def _may_read(self, viewer: str, account: Account) -> bool:
        try:
            editors = self.core.rules(account, "").editors
        except SlackUnavailable:  # an editor group Slack cannot list: its members may still be in the channel
            editors = frozenset()
        return privacy.may_read(
            viewer,
            editors=editors,
            admins=self.core.config.admins,
            members=lambda: self._channel_members(account.review_channel),
        )

    def _channel_members(self, channel: str) -> frozenset[str] | None:
        try:
            return self.core.directory.members_of_channel(channel)
        except SlackUnavailable as e:
            log.warning("%s; its drafts' text is shown to editors and admins only", e)
            return None

    def warm_up(self) -> None:
        """Ask Slack once, at start, who is in each editor group and review channel; a failure is logged and asked again
        on first use."""
        for account in self.core.config.accounts.values():
            try:
                self.core.rules(account, "")
            except Exception as e:
                log.warning("could not list the editors of %s yet (%s)", account.name, e)
            try:  # who may read its drafts in /draft list, /draft digest and the App Home
                self.core.directory.members_of_channel(account.review_channel)
            except Exception as e:
                log.warning("could not list the members of %s yet (%s)", account.review_channel, e)

    # pre-flight notes (bot/preflight.py): one draft's, for its card; a list of many drafts does without them

    def preflight_notes(self, draft: Draft, account: Account) -> tuple[preflight.Note, ...]:
        """What the editors should know before voting: a duplicate, links, mentions, the budget, a rule's hours; only
        while the draft may still go out."""
        if draft.state not in OPEN:
            return ()
        now, config = self.core.clock(), self.core.config
        networks = self.core.networks_of(draft)
        publisher = self.publishers.get(draft.account, {}).get("x") if "x" in networks else None
        notes = preflight.notes(
            draft.text,
            publish_at=draft.publish_at,
            now=now,
            zone=config.timezone,
            earlier=self.ledger.recent_posts(
                draft.account,
                since=now - timedelta(days=config.duplicate_days),
                due_before=now + timedelta(days=config.duplicate_days),
                besides=draft.id,
            ),
            posted=self.ledger.posts_since(draft.account, now - timedelta(hours=24)),
            limits=publisher.limits() if publisher is not None else None,
            rules=account.rules,
        )
        if "x" in networks:
            return notes
        # the links' price, the mentions and the budget are X's: a draft that does not go there is told of none of them
        return tuple(n for n in notes if isinstance(n, (preflight.Duplicate, preflight.Hours)))


def dry_networks(draft: Draft, networks: tuple[str, ...], publications: list[Publication]) -> tuple[str, ...]:
    """Where a draft goes (or went) in a dry run: a network it went through in one, or, where nothing of it was sent,
    every network of a draft written in a dry run. A post really sent is never called a dry run."""
    sent = {p.network for p in publications if p.outcome == "published"}
    went = {p.network for p in publications if p.outcome == "dry_run"}
    return tuple(n for n in networks if n in went or (draft.dry_run and n not in sent))
