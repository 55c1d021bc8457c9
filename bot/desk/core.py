"""What every desk service shares: the ledger, the clock, the rules of an account, and the one way a decision is made."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot import thread
from bot.config import Account, Config
from bot.content import content_sha256, counted
from bot.errors import BadDraft, NotAllowed, RuleBlocks, UnknownAccount, UnknownDraft, WrongState
from bot.messenger import CARD, DM, REDRAW, REPLY, RETIRE, draft_queue
from bot.model import Draft
from bot.networks import DEFAULT_COUNTERS, Counter, check_fits, label, listed
from bot.policy import Blocked, Policy, Subject, judge
from bot.ports import Change, Directory, Schedule, Unscheduled
from bot.review import EDITABLE, Kind, Requirement, Rules, State, Tally

if TYPE_CHECKING:
    from storage.ledger import Ledger

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# A job may wake a little before its time (clock resolution); this much early still counts as on time.
EARLY_TOLERANCE = timedelta(milliseconds=5)


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class Decision:
    """One decision in the making: its time, its news for Slack, and the drafts whose schedule follows it after commit."""

    def __init__(self, core: Core, at: datetime) -> None:
        self.core = core
        self.at = at
        self.to_sync: list[int] = []

    def tell(self, draft: Draft, change: Change | None = None) -> None:
        """Queue the draft's card redraw and, for a change of state, its thread reply and the author's message."""
        self.core.tell_slack(draft, change, at=self.at)

    def reschedule(self, draft_id: int) -> None:
        """After the commit, make the scheduler agree with what was decided for this draft."""
        if draft_id not in self.to_sync:
            self.to_sync.append(draft_id)


class Core:
    """The desk's shared collaborators and rules; every service gets it through its constructor."""

    def __init__(
        self,
        config: Config,
        ledger: Ledger,
        *,
        directory: Directory,
        scheduler: Schedule | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.directory = directory
        self.scheduler: Schedule = scheduler or Unscheduled()  # nothing fires by itself without one
        self.clock = clock
        self.counters: dict[str, dict[str, Counter]] = {}  # account → network → its length rule (Desk.around fills it)
        self.planners: list[Callable[[int], None]] = []  # what else the schedule holds for a draft (its expiry): see plan
        # Held across "commit a decision, then (un)schedule it" so two decisions cannot reorder those steps.
        self._decisions = threading.RLock()

    # the lock protocol, in one place

    @contextmanager
    def deciding(self, *, at: datetime | None = None, durable: bool = False) -> Iterator[Decision]:
        """The one way state changes: under the decision lock, one transaction (with its news for Slack), then the
        schedule made to agree with it. An exception rolls everything back, and nothing is rescheduled."""
        with self._decisions:
            decision = Decision(self, at or self.clock())
            with self.ledger.transaction(durable=durable):
                yield decision
            for draft_id in decision.to_sync:
                self.sync_schedule(draft_id)

    def sync_schedule(self, draft_id: int) -> None:
        """Make the scheduler agree with the ledger for one draft: nothing is scheduled while paused."""
        with self._decisions:
            self.plan(draft_id)
            draft = self.ledger.draft(draft_id)
            if draft is None or draft.state is not State.APPROVED or self.ledger.current_pause():
                self.scheduler.cancel(draft_id)
                return
            self.schedule_approved(draft)

    def plan(self, draft_id: int) -> None:
        """After a commit that may have put a draft in review (a new draft, a new version, a vote taken back) or out of it:
        each planner makes its own job for the draft agree with the ledger."""
        for planner in self.planners:
            planner(draft_id)

    def schedule_approved(self, draft: Draft) -> None:
        """Publish an approved draft at its time, or at once when it has none or its time has passed."""
        due = draft.due
        self.scheduler.schedule(draft.id, due if due and due > self.clock() else None)

    # networks

    def networks_of(self, draft: Draft) -> tuple[str, ...]:
        """Where a draft goes: what its on: named, else every network of its account (X alone for an account gone)."""
        if draft.networks:
            return draft.networks
        account = self.config.accounts.get(draft.account)
        return account.network_names if account else ("x",)

    def counter(self, account: str, network: str) -> Counter:
        """How `network` counts a text of `account` (Mastodon: as its instance said at start)."""
        return self.counters.get(account, {}).get(network) or DEFAULT_COUNTERS[network]

    def choose_networks(self, account: Account, on: Sequence[str] | None) -> tuple[str, ...]:
        """The networks an on: names, checked against the account's; () for all of them (the draft then follows the
        account). BadDraft names a network the account is not on."""
        if not on:
            return ()
        names = account.network_names
        for network in on:
            if network not in names:
                raise BadDraft(f"{account.name} is not on {label(network)}; it posts to {listed(names)} (on:{','.join(names)}).")
        chosen = tuple(n for n in names if n in on)
        return () if chosen == names else chosen

    def check_text(self, account: Account, text: str, networks: Sequence[str]) -> None:
        """BadDraft naming the part, the network and by how much, when the text does not fit one of its networks."""
        thread.check(text, on_x="x" in networks)
        others = [n for n in networks if n != "x"]
        if others:
            check_fits(thread.split(text), {n: self.counter(account.name, n) for n in others}, others)

    # reading what the rules need

    def draft(self, draft_id: int) -> Draft:
        """The draft, or UnknownDraft naming where to look."""
        draft = self.ledger.draft(draft_id)
        if draft is None:
            raise UnknownDraft(f"There is no draft #{draft_id}; /draft list shows the open ones.")
        return draft

    def account(self, name: str | None) -> Account:
        """The account by name (None: the only or default one), or UnknownAccount naming those there are."""
        account = self.config.account(name)
        if account is not None:
            return account
        names = ", ".join(f"to:{n}" for n in self.config.accounts)
        if name is None:
            raise UnknownAccount(f"Say which account the draft is for: {names}.")
        raise UnknownAccount(f"There is no account {name!r}; this team posts to {names}.")

    def rules(
        self, account: Account, author_id: str, revisers: frozenset[str] = frozenset(), policy: Policy | None = None
    ) -> Rules:
        """Who may vote on a draft of `account` (its editors and its owner), and what its approval needs: the account's
        quorum, or what the rules that applied to its version ask (`policy`). Editor groups are asked of Slack."""
        editors: set[str] = {account.owner} if account.owner else set()
        for editor in account.editors:
            editors |= self._members(editor)
        return Rules(
            author_id=author_id,
            editors=frozenset(editors),
            approvals_required=policy.approvals_required if policy else account.approvals_required,
            allow_self_approval=account.allow_self_approval,
            revisers=revisers,
            owner=account.owner,
            require=tuple(Requirement(i, frozenset(self._members(i))) for i in (policy.require if policy else ())),
        )

    def _members(self, user_or_group: str) -> set[str]:
        return set(self.directory.members_of(user_or_group)) if user_or_group.startswith("S") else {user_or_group}

    def rules_of(self, draft: Draft) -> Rules:
        """The rules a vote on `draft` is judged by now: today's editors, the authors of its current version, and what
        the rules that applied to that version ask."""
        return self.rules(self.account(draft.account), draft.author_id, draft.revisers, draft.policy)

    def judge(self, account: Account, text: str, *, media: bool, publish_at: datetime | None, at: datetime) -> Policy | None:
        """What the account's rules ask of a version with this text, media and time (None: the account has no rules);
        RuleBlocks, naming the rule, when one refuses it."""
        if not account.rules:
            return None
        when = (publish_at or at).astimezone(self.config.timezone)
        try:
            return judge(
                account.rules,
                Subject(text=text, media=media, at=when),
                approvals_required=account.approvals_required,
                cooling_off_minutes=account.cooling_off_minutes,
            )
        except Blocked as e:
            raise RuleBlocks(f"The rule {e.rule!r} of {account.name} refuses this draft: {e.reason}") from None

    def refusal(self, draft: Draft, at: datetime) -> str | None:
        """Why the account's rules refuse the draft as it stands, if they do (a rule may be newer than its version)."""
        account = self.account(draft.account)
        if not any(rule.then.block for rule in account.rules):
            return None  # no rule here can refuse a draft: nothing to read
        try:
            self.judge(
                account,
                draft.text,
                media=bool(self.ledger.images(draft.id)),
                publish_at=draft.publish_at,
                at=at,
            )
        except RuleBlocks as e:
            return str(e)
        return None

    def other_mode(self, draft: Draft) -> str | None:
        """Why a draft may not go in the mode its account runs in now: a rehearsal written in a dry run is never sent for
        real, and a real draft is never used up as a dry run (the account's dry run was switched since it was written)."""
        account = self.config.accounts.get(draft.account)
        if account is None or account.dry_run == draft.dry_run:
            return None
        places = listed(self.networks_of(draft))
        if draft.dry_run:
            return (
                f"it was written in a dry run, and @{account.handle} now posts to {places} for real; "
                "write it again with /draft to send it"
            )
        return (
            f"it was written to go to {places} for real, and copydesk runs @{account.handle} in a dry run now; "
            "press Publish now once copydesk runs without the dry run"
        )

    def cooling_off(self, draft: Draft) -> float:
        """Minutes an approval of this version waits before it goes: what its rules ask, or the account's own."""
        if draft.policy is not None:
            return draft.policy.cooling_off_minutes
        return self.account(draft.account).cooling_off_minutes

    def standing(self, draft: Draft, rules: Rules | None = None) -> Tally:
        """The votes that count for the draft as it stands: vetoes, and approvals by today's editors of this very content."""
        return counted(self.ledger.votes(draft.id), rules or self.rules_of(draft), draft.version, draft.content_sha256)

    def approval_record(self, draft: Draft, rules: Rules) -> dict[str, Any]:
        """What the event log keeps of why this content could go: for `copydesk ledger verify` to check later."""
        standing = self.standing(draft, rules)
        return {
            "version": draft.version,
            "content_sha256": draft.content_sha256,
            "approvers": list(standing.approvers),
            "required": rules.approvals_required,
            "editors": sorted(rules.editors),
            "authors": sorted(rules.authors),
            "self_approval": rules.allow_self_approval,
        }

    def zone_of(self, user_id: str) -> ZoneInfo:
        """The user's Slack time zone, or the configured one when their profile has none."""
        return self.directory.timezone_of(user_id) or self.config.timezone

    # who may do what

    def require_admin(self, user_id: str, what: str) -> None:
        """Admins only: NotAllowed names the admins to ask."""
        if user_id not in self.config.admins:
            raise NotAllowed(
                f"Only admins can {what}; ask one of {', '.join(f'<@{a}>' for a in self.config.admins) or 'the admins in app.yaml'}."
            )

    def require_author_or_admin(self, draft: Draft, user_id: str, what: str) -> None:
        """The draft's author or an admin only."""
        if user_id != draft.author_id and user_id not in self.config.admins:
            raise NotAllowed(f"Only the author of {draft.number} (<@{draft.author_id}>) or an admin can {what} it.")

    def require_editor_or_admin(self, draft: Draft, user_id: str, what: str) -> None:
        """The account's editors or an admin only."""
        if user_id in self.config.admins or user_id in self.rules(self.account(draft.account), draft.author_id).editors:
            return
        raise NotAllowed(f"Only editors of {draft.account} and admins can {what}.")

    def check_can_edit(self, draft: Draft, user_id: str, what: str = "edit") -> None:
        """Raise what stands in the way of `user_id` editing `draft`, before a modal is opened for nothing."""
        self.require_author_or_admin(draft, user_id, what)
        if draft.state not in EDITABLE:
            raise WrongState(f"{draft.number} is {draft.state.label}; only drafts in review, approved or rejected can be edited.")
        if live := self.ledger.live_posts(draft.id):
            raise WrongState(f"{draft.number} is {self.out_where(live)}; the rest can only go out as written.")

    @staticmethod
    def out_where(live: Mapping[str, Mapping[int, Any]]) -> str:
        """What is out of a draft, in words: "a thread already on X up to part 2", "already on Bluesky"."""
        if set(live) == {"x"}:
            return f"a thread already on X up to part {max(live['x'])}"
        return f"already on {listed(live)}"

    # inside a decision's transaction

    def tell_slack(self, draft: Draft, change: Change | None, *, at: datetime) -> None:
        """Inside the change's own transaction: queue its card redraw and, for a change of state, the thread reply and the
        author's message. The courier delivers them in order after the commit, and again after a crash or an outage."""
        queue = draft_queue(draft.id)
        self.ledger.enqueue(queue, REDRAW, at=at, draft_id=draft.id)
        if change is not None:
            said = {"before": change.before.value, "after": change.after.value, "actor": change.actor}
            self.ledger.enqueue(queue, REPLY, at=at, draft_id=draft.id, version=draft.version, **said)
            self.ledger.enqueue(queue, DM, at=at, draft_id=draft.id, **said)

    def new_version(
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
        """Inside the caller's transaction (its images already as they will be): the draft's next version, fingerprinted
        and judged by the account's rules (RuleBlocks when one refuses it), its votes cleared but the owner's veto, and
        its card queued to replace the old one."""
        images = self.ledger.images(current.id)
        account = self.account(current.account)
        policy = self.judge(account, text, media=bool(images), publish_at=publish_at, at=at)
        revisers = current.revisers | ({by} - {current.author_id})
        if policy is not None and not self.rules(account, current.author_id, frozenset(revisers), policy).reachable():
            raise NotAllowed(
                f"{current.number} would need approvals its editors cannot give (its rules now ask for more, and "
                "whoever changed it cannot approve it); nothing was changed. Ask an admin to add editors."
            )
        vetoed = any(v.user_id == account.owner and v.kind is Kind.REJECT for v in self.ledger.votes(current.id))
        if vetoed:
            notice += (
                f" The veto of the account's owner, <@{account.owner}>, stands: only they can lift it, by pressing Reject "
                "on the new card."
            )
        self.ledger.new_version(
            current.id,
            text=text,
            publish_at=publish_at,
            by=by,
            content_sha256=content_sha256(text, images),
            notice=notice,
            action=action,
            at=at,
            detail=detail,
            policy=policy,
            keep_vetoes_of=account.owner if vetoed else None,
        )
        self.queue_card(self.draft(current.id), at=at, replaces=current)

    def queue_card(self, draft: Draft, *, at: datetime, replaces: Draft | None = None) -> None:
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
