"""The daily digest, exactly once per scope and day: claimed in the ledger before Slack hears of it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from bot import thread
from bot.desk.core import Core
from bot.digest import DAY, TOP, Line, Report, Scope, latest_due, next_due, scopes, window
from bot.dryrun import not_sent
from bot.engagement import Counts, Read, within
from bot.errors import ConfigError, CopydeskError, DigestNotPosted
from bot.model import DigestRecord, Draft, Engagement, Publication
from bot.networks import label
from bot.ports import Notifier, Publishers
from bot.review import State, tally

log = logging.getLogger(__name__)

RETRY = timedelta(minutes=10)  # after Slack failed (or could not be asked whether a digest went out)
EARLY = timedelta(seconds=1)  # a job that wakes this little before its time is on time
DECIDED = (State.FAILED, State.REJECTED, State.WITHDRAWN, State.RETRACTED, State.EXPIRED)
WAITING = (State.IN_REVIEW, State.HELD)
IN_FLIGHT = timedelta(minutes=10)  # a post on its way longer than this is stuck, not in flight: it holds no digest back
FRESH = timedelta(hours=1)  # counts read this recently are shown again, not read (and billed) again: a retry after Slack
# refused a digest, or a copydesk digest --post before the daily one, reads nothing more
R = TypeVar("R")  # what a report says: a digest's Report, a WeeklyReport


@dataclass(frozen=True)
class Slot:
    """One scheduled report in the ledger: its scope, its kind (daily or weekly), the local day it is for, its channel."""

    scope: str
    kind: str
    day: date
    channel: str


class Sending:
    """Claim, post, record: each scheduled report once per scope, kind and day, whoever fires it and however often.

    Shared by the daily digest and the weekly report: the claim is in the ledger before Slack is asked, so a second
    firing or a restart finds it; one claimed but never recorded is looked for in the channel before it is posted again;
    one Slack refused is failed, and may be claimed again.
    """

    def __init__(self, core: Core, *, notifier: Notifier) -> None:
        self.ledger = core.ledger
        self.clock = core.clock
        self.notifier = notifier
        # one firing of a slot at a time: a second waits, then finds the claim; other slots (another scope, the weekly
        # report) never wait behind one whose counts are being read
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def record_of(self, slot: Slot) -> DigestRecord | None:
        """The slot's claim in the ledger, if any."""
        find = self.ledger.weekly_digest if slot.kind == "weekly" else self.ledger.daily_digest
        return find(slot.scope, slot.day)

    def missed(self, slot: Slot, due: datetime, origin: datetime | None) -> bool:
        """On start: whether the slot's time passed without it going out (a ledger begun after that time missed nothing)."""
        record = self.record_of(slot)
        return record.outcome in ("sending", "failed") if record else origin is not None and origin <= due

    def once(
        self,
        slot: Slot,
        *,
        window: Callable[[datetime], tuple[datetime, datetime]],
        compose: Callable[[datetime, datetime], R],
        post: Callable[[str, R], str],
        skip: Callable[[R], bool] = lambda _: False,
        found: Callable[[str, str, R], None] | None = None,
    ) -> bool:
        """Send the slot's report unless the ledger has it; whether it was posted now. `found`: what finishes a report
        found in the channel after a restart (its channel, its ts, the report), e.g. the weekly chart it may lack."""
        with self._lock_of(slot):
            now = self.clock()
            record = self.record_of(slot)
            if record is None:
                start, end = window(now)
                report = compose(start, end)
                skipped = skip(report)
                digest_id = self.ledger.claim_digest(
                    scope=slot.scope,
                    day=slot.day,
                    start=start,
                    end=end,
                    channel=slot.channel,
                    at=now,
                    outcome="skipped" if skipped else "sending",
                    kind=slot.kind,
                )
                if digest_id is None or skipped:
                    return False
            elif record.outcome == "sending":
                # Claimed by a run that stopped before Slack's answer was recorded: it may be in the channel.
                ts = self.notifier.find_digest(record.channel, slot.scope, slot.day, slot.kind)
                if ts is not None:
                    if found is not None:  # finished before it is recorded: a stop in between finishes it again
                        found(record.channel, ts, compose(record.window_start, record.window_end))
                    self.ledger.digest_sent(record.id, ts=ts, channel=record.channel, at=now, found=True)
                    return False
                digest_id, report = record.id, compose(record.window_start, record.window_end)
            elif record.outcome == "failed" and self.ledger.reclaim_digest(record.id, at=now):
                digest_id, report = record.id, compose(record.window_start, record.window_end)
            else:
                return False  # sent or skipped already
            self.record(digest_id, slot.channel, post, report)
            return True

    def _lock_of(self, slot: Slot) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault((slot.scope, slot.kind), threading.Lock())

    def on_demand(
        self, scope: Scoped, kind: str, start: datetime, end: datetime, report: R, post: Callable[[str, R], str]
    ) -> str:
        """A report asked for now (copydesk digest --post): recorded as on demand, never in a scheduled report's place."""
        digest_id = self.ledger.claim_digest(
            scope=scope.key, day=None, start=start, end=end, channel=scope.channel, at=self.clock(), kind=kind
        )
        assert digest_id is not None  # on-demand reports are never unique per day
        return self.record(digest_id, scope.channel, post, report)

    def record(self, digest_id: int, channel: str, post: Callable[[str, R], str], report: R) -> str:
        """Post a claimed report and record Slack's answer: sent with its ts, or failed when Slack said no. Any other
        failure (SlackUnavailable: a 5xx, no answer) leaves the claim `sending`: the next try looks in the channel first."""
        try:
            ts = post(channel, report)
        except DigestNotPosted as e:  # Slack said no: certainly not posted, so it may be claimed again
            self.ledger.digest_failed(digest_id, error=str(e), at=self.clock())
            raise
        self.ledger.digest_sent(digest_id, ts=ts, channel=channel, at=self.clock())
        return ts


class Scoped(Protocol):
    """A scheduled report's scope: its key in the ledger and the channel it goes to."""

    @property
    def key(self) -> str: ...

    @property
    def channel(self) -> str: ...


S = TypeVar("S", bound=Scoped)
Due = Callable[[S, datetime], tuple[date, datetime]]  # a scope's report day and instant around a moment


class Routine(Generic[S]):
    """A report that goes at its time for each scope: once on start for a time passed while copydesk was down, again
    RETRY after a failure, and then at the next time; shared by the daily digest and the weekly report."""

    def __init__(
        self,
        core: Core,
        sending: Sending,
        *,
        kind: str,
        latest: Due[S],
        following: Due[S],
        send: Callable[[S], bool],
        wake: Callable[[str, date, datetime, timedelta], None],
    ) -> None:
        self.ledger = core.ledger
        self.clock = core.clock
        self.sending = sending
        self.kind = kind  # daily or weekly: the digests row's kind, and what the log calls it
        self.latest = latest
        self.following = following
        self.send = send  # claim, post, record (Sending.once)
        self.wake = wake  # the scheduler's job for a scope: its key, report day, due time and the wait until then

    def start(self, scopes: list[S], stopping: Callable[[], bool] = lambda: False) -> int:
        """On start: send once a report whose time passed while copydesk was down, then schedule the next of each; once
        `stopping` (copydesk was asked to stop meanwhile), no further scope is begun."""
        sent = 0
        origin: list[datetime | None] = []  # when the ledger's history began, read once
        for scope in scopes:
            if stopping():
                break
            day, due = self.latest(scope, self.clock())
            try:
                origin = origin or [self.ledger.digest_origin()]
                # A ledger whose history began after that time missed nothing: a new install does not start with one.
                missed = self.sending.missed(Slot(scope.key, self.kind, day, scope.channel), due, origin[0])
            except Exception:  # the ledger could not be read (a lock held too long): never a scope left unplanned
                log.exception("the %s %s report could not be checked on start; trying again in %s", scope.key, self.kind, RETRY)
                self._schedule(scope, day, self.clock() + RETRY)
                continue
            if missed:
                sent += self.attempt(scope)
            else:
                self._schedule_next(scope)
        return sent

    def attempt(self, scope: S) -> bool:
        """Send the scope's report if the ledger lacks it; after a failure, wake again in RETRY; else at the next time."""
        try:
            sent = self.send(scope)
        except Exception:
            log.exception("the %s %s report could not be sent; trying again in %s", scope.key, self.kind, RETRY)
            self._schedule(scope, self.latest(scope, self.clock())[0], self.clock() + RETRY)
            return False
        self._schedule_next(scope)
        return sent

    def _schedule_next(self, scope: S) -> None:
        day, due = self.following(scope, self.clock())  # after an early wake-up: again, finding it sent
        self._schedule(scope, day, due)

    def _schedule(self, scope: S, day: date, due: datetime) -> None:
        self.wake(scope.key, day, due, due - self.clock())


class Digests:
    """Composes digests from the ledger, sends each scope's daily one once, and answers who asks for one."""

    def __init__(
        self, core: Core, *, notifier: Notifier, sending: Sending | None = None, publishers: Publishers | None = None
    ) -> None:
        self.core = core
        self.publishers: Publishers = publishers or {}  # where each account's counts are read
        self.ledger = core.ledger
        self.config = core.config
        self.clock = core.clock
        self.notifier = notifier
        self.sending = sending or Sending(core, notifier=notifier)
        zone = self.config.timezone
        self.routine: Routine[Scope] = Routine(
            core,
            self.sending,
            kind="daily",
            latest=lambda scope, now: latest_due(now, scope.at, zone),
            following=lambda scope, now: next_due(now, scope.at, zone),
            send=self._send_due,
            wake=lambda key, day, due, wait: core.scheduler.schedule_digest(key, day, due, wait=wait),
        )

    def digest_scopes(self) -> list[Scope]:
        """The digests app.yaml asks for."""
        return scopes(self.config)

    # asked for

    def digests_so_far(self, since: datetime | None = None, *, read: bool = False) -> list[Report]:
        """What each digest would say now (since its last daily digest, or `since`); sends nothing. With `read` (copydesk
        digest) the posts' counts are read from the networks; without (/draft digest, which anyone may ask for and
        which should cost nothing), the counts last read are shown."""
        now = self.clock()
        return [
            self._compose(scope, *self._window_so_far(scope, since, now), day=None, read=read) for scope in self._scopes_or_all()
        ]

    def post_digests_now(self, since: datetime | None = None) -> list[tuple[Scope, str]]:
        """copydesk digest --post: each digest so far to its channel, recorded as on demand; the daily ones are untouched."""
        found = self.digest_scopes()
        if not found:
            raise ConfigError("app.yaml has no digest: add digest.channel (or an account's digest) to post one")
        posted = []
        for scope in found:
            now = self.clock()
            start, end = self._window_so_far(scope, since, now)
            report = self._compose(scope, start, end, day=None)
            posted.append((scope, self.sending.on_demand(scope, "on_demand", start, end, report, self.notifier.post_digest)))
        return posted

    def _scopes_or_all(self) -> list[Scope]:
        """Without a digest in app.yaml, who asks still gets one covering every account."""
        return self.digest_scopes() or [Scope(TOP, "", time(0), False, tuple(self.config.accounts))]

    def _window_so_far(self, scope: Scope, since: datetime | None, now: datetime) -> tuple[datetime, datetime]:
        return (since, now) if since is not None else window(now, self.ledger.previous_digest_end(scope.key))

    # the daily one

    def start_digests(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """On start: send once a digest whose time passed while copydesk was down, then schedule the next of each (no
        further scope once `stopping`)."""
        return self.routine.start(self.digest_scopes(), stopping)

    def run_digest(self, scope_key: str) -> None:
        """The scheduler's job: send the scope's digest if its time has come and the ledger lacks it; schedule the next."""
        scope = next((s for s in self.digest_scopes() if s.key == scope_key), None)
        if scope is not None:
            self.routine.attempt(scope)

    def _send_due(self, scope: Scope) -> bool:
        """Claim, post, record: a second firing or a restart finds the claim; a crash before the record is found in Slack."""
        day, _ = latest_due(self.clock() + EARLY, scope.at, self.config.timezone)
        return self.sending.once(
            Slot(scope.key, "daily", day, scope.channel),
            window=lambda now: self._window(scope, now),
            compose=lambda start, end: self._compose(scope, start, end, day=day),
            post=self.notifier.post_digest,
            skip=lambda report: report.empty and scope.skip_empty,
        )

    def _window(self, scope: Scope, now: datetime) -> tuple[datetime, datetime]:
        """The scheduled digest's window: from where the last one ended to now, or to before any post still on its way
        (its time is read before its commit, which may come after this digest's read), so that post goes in the next
        digest rather than in neither; not before the last one ended (unless the clock went back), so a post on its way
        since before then is left to the window it began in."""
        previous_end = self.ledger.previous_digest_end(scope.key)
        end = now
        # A post on its way longer than IN_FLIGHT is stuck, in doubt, and holds no digest back (a post that really takes
        # that long and finishes in the millisecond of this read could still miss both: a window too small to wait for).
        if (on_its_way := self.ledger.publishing_since(now - IN_FLIGHT)) is not None:
            end = min(now, max(on_its_way, previous_end or on_its_way))
        return window(end, previous_end)

    # what it says

    def _compose(self, scope: Scope, start: datetime, end: datetime, *, day: date | None, read: bool = True) -> Report:
        """Everything the ledger knows about the scope's accounts in [start, end), and what is open or coming; with
        digest.metrics, how its posts (and the previous window's) landed."""
        accounts = scope.accounts
        published = self.ledger.published_between(accounts, start, end)
        decided = self.ledger.drafts_changed_between(DECIDED, accounts, start, end)
        waiting = self.ledger.open_drafts(WAITING, accounts)
        horizon = end + DAY
        scheduled = [d for d in self.ledger.approved_due_before(accounts, horizon) if d.due is None or d.due < horizon]
        votes = self.ledger.votes_on([d.id for d, _ in published] + [d.id for d in (*decided, *waiting, *scheduled)])
        counted = {draft_id: tally(v) for draft_id, v in votes.items()}
        firsts: dict[int, tuple[Draft, Publication]] = {}  # a thread is one line, linked to its first post
        parts: dict[int, int] = {}
        for draft, publication in published:
            if draft.id in firsts:
                continue
            if publication.part == 1 and len(thread.split(draft.text)) == 1:
                firsts[draft.id], parts[draft.id] = (draft, publication), 1
            else:  # a thread, perhaps begun before the window: its first post and all its parts, wherever they fell
                out = self.ledger.published_parts(draft.id, publication.network)
                firsts[draft.id], parts[draft.id] = (draft, out.get(1, publication)), len(out)

        line = self._line

        def of(state: State) -> list[Draft]:
            return [d for d in decided if d.state is state]

        report = Report(
            scope=scope.key,
            day=day,
            start=start,
            end=end,
            zone=self.config.timezone,
            handles=tuple(self.config.accounts[a].handle for a in accounts if a in self.config.accounts),
            dry_runs=tuple(
                (self.config.accounts[a].handle, self.config.accounts[a].network_names)
                for a in accounts
                if a in self.config.accounts and self.config.accounts[a].dry_run
            ),
            published=tuple(
                line(
                    d,
                    p.finished_at,
                    url=p.url or None,
                    people=counted[d.id].approvers,
                    note=_published_note(p, parts[d.id]),
                    dry=not_sent(self.core.networks_of(d)) if p.outcome == "dry_run" else None,  # as it went out
                )
                for d, p in firsts.values()
            ),
            failed=tuple(line(d, d.updated_at, note=self._failure(d)) for d in of(State.FAILED)),
            rejected=tuple(
                line(d, d.updated_at, people=counted[d.id].rejecters, note=self._owners_veto(d, counted[d.id].rejecters))
                for d in of(State.REJECTED)
            ),
            withdrawn=tuple(line(d, d.updated_at, people=self._who(d, "withdrawn")) for d in of(State.WITHDRAWN)),
            retracted=tuple(
                line(d, d.updated_at, people=self._who(d, "retracted"), url=self._url(d)) for d in of(State.RETRACTED)
            ),
            expired=tuple(
                line(d, d.updated_at, people=counted[d.id].approvers, note=self._expired_note(d, counted[d.id].approvers))
                for d in of(State.EXPIRED)
            ),
            waiting=tuple(
                line(d, d.updated_at, people=counted[d.id].approvers, note=self._waiting_for(d, counted[d.id].approvers))
                for d in waiting
            ),
            scheduled=tuple(line(d, d.due, people=counted[d.id].approvers) for d in scheduled),
        )
        if not scope.metrics or (day is not None and report.empty and scope.skip_empty):  # a skipped digest reads nothing
            return report
        return self._engaged(scope, report, read=read)

    def _line(self, draft: Draft, at: datetime | None, **extra: Any) -> Line:
        account = self.config.accounts.get(draft.account)
        networks = self.core.networks_of(draft)
        if len(networks) > 1:  # a link for each network it went out on, whichever section it is in
            extra["links"] = self._links(draft, networks)
        if draft.dry_run:  # written in a dry run: nothing of it is ever sent, whichever section it is in
            extra.setdefault("dry", not_sent(networks))
        return Line(
            draft.id,
            draft.account,
            account.handle if account else draft.account,
            draft.text,
            draft.author_id,
            at,
            networks=networks,
            **extra,
        )

    # how it landed

    def _engaged(self, scope: Scope, report: Report, *, read: bool) -> Report:
        """The report with each post's counts (its first post on each network; a thread counts its first post), the
        previous window's posts with theirs, and the networks that could not be read."""
        shown = {line.draft_id for line in report.published}
        earlier: dict[int, tuple[Draft, Publication]] = {}
        for draft, publication in self.ledger.published_between(scope.accounts, *self._previous_window(scope, report.start)):
            if draft.id not in shown:
                earlier.setdefault(draft.id, (draft, publication))
        accounts = {line.draft_id: line.account for line in report.published}
        accounts.update((draft.id, draft.account) for draft, _ in earlier.values())
        posts = {draft_id: self._first_posts(draft_id) for draft_id in accounts}
        found, asked, unavailable = self._counts(accounts, posts, read=read, wait=scope.metrics_timeout)

        def counted(draft_id: int, networks: tuple[str, ...]) -> tuple[tuple[str, Counts], ...]:
            on = posts[draft_id]
            read = [(n, found[on[n].id]) for n in networks if n in on and on[n].id in found]
            return tuple((n, e.counts) for n, e in read if e.gone_at is None)

        def gone(draft_id: int, networks: tuple[str, ...]) -> tuple[str, ...]:
            on = posts[draft_id]
            return tuple(n for n in networks if n in on and on[n].id in found and found[on[n].id].gone_at is not None)

        landed = []
        for draft, publication in earlier.values():
            live = posts[draft.id]
            if live:  # taken down since: nothing to count
                first = next((live[n] for n in self.core.networks_of(draft) if n in live), publication)
                at = min((p.finished_at for p in live.values() if p.finished_at), default=publication.finished_at)
                landed.append(
                    _unlinked(
                        self._line(
                            draft,
                            at,
                            url=first.url or None,
                            counts=counted(draft.id, self.core.networks_of(draft)),
                            gone=gone(draft.id, self.core.networks_of(draft)),
                        )
                    )
                )

        def unlinked(lines: tuple[Line, ...]) -> tuple[Line, ...]:  # the same post in another section (failed, retracted)
            return tuple(
                _unlinked(replace(line, gone=gone(line.draft_id, line.networks))) if line.draft_id in posts else line
                for line in lines
            )

        return replace(
            report,
            published=tuple(
                _unlinked(replace(line, counts=counted(line.draft_id, line.networks), gone=gone(line.draft_id, line.networks)))
                for line in report.published
            ),
            failed=unlinked(report.failed),
            retracted=unlinked(report.retracted),
            landed=tuple(landed),
            read=asked,
            unavailable=unavailable,
        )

    def _previous_window(self, scope: Scope, start: datetime) -> tuple[datetime, datetime]:
        """The window of the daily digest that ended where this one starts; the 24 hours before it when there is none."""
        local = start.astimezone(self.config.timezone).date()
        for day in (local, local - timedelta(days=1)):
            record = self.ledger.daily_digest(scope.key, day)
            if record is not None and record.window_end == start:
                return record.window_start, start
        return start - DAY, start

    def _first_posts(self, draft_id: int) -> dict[str, Publication]:
        """A draft's first post on each network it is on now (published, not retracted; never a dry run)."""
        return {
            network: parts[1]
            for network, parts in self.ledger.live_posts(draft_id).items()
            if 1 in parts and parts[1].outcome == "published" and parts[1].post_id
        }

    def _counts(
        self, accounts: dict[int, str], posts: dict[int, dict[str, Publication]], *, read: bool, wait: float
    ) -> tuple[dict[int, Engagement], tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
        """Each post's counts by publication id: read now (within the scope's deadline, one read per account and network,
        recorded in one transaction) or, without `read` or when read within FRESH, as last recorded. Also which accounts
        were asked on which networks, and which of those could not answer (as (handle, network))."""
        now = self.clock()
        everything = [(accounts[d], network, p) for d, on in posts.items() for network, p in on.items()]
        stored = self.ledger.engagement_of(p.id for _, _, p in everything)
        if not read:
            return stored, (), ()
        fresh = {i: e for i, e in stored.items() if now - e.read_at < FRESH}  # a post gone may come back (a suspension)
        stale: dict[tuple[str, str], list[Publication]] = {}
        for account, network, publication in everything:
            if publication.id not in fresh and network in self.publishers.get(account, {}):
                stale.setdefault((account, network), []).append(publication)
        tasks: dict[tuple[str, str], Callable[[], Iterable[Read]]] = {
            (account, network): partial(self.publishers[account][network].engagement, [p.post_id or "" for p in group])
            for (account, network), group in stale.items()
        }
        answers, failures = within(tasks, wait) if tasks else ({}, {})
        heard = {key: dict(reads) for key, reads in answers.items()}  # what came before the deadline, even from a failed read
        readings = []
        for (account, network), group in stale.items():
            for p in group:
                said = heard.get((account, network), {})
                if (p.post_id or "") not in said:
                    continue  # not read
                counts = said[p.post_id or ""]
                if counts is None:  # the network says plainly it is gone: its last counts stay, noted gone
                    last = stored.get(p.id)
                    gone_at = last.gone_at if last and last.gone_at else now
                    readings.append(Engagement(p.id, p.draft_id, network, now, last.counts if last else Counts(), gone_at))
                else:
                    readings.append(Engagement(p.id, p.draft_id, network, now, counts))
        self.ledger.record_engagement(readings)
        for (account, network), reason in failures.items():
            log.warning("the counts of %s's posts on %s could not be read: %s", account, label(network), reason)
        pairs = [*stale, *((accounts[e.draft_id], e.network) for e in fresh.values())]
        asked = tuple(dict.fromkeys((self._handle(account), network) for account, network in pairs))
        unavailable = tuple(dict.fromkeys((self._handle(account), network) for account, network in failures))
        return {**fresh, **{e.publication_id: e for e in readings}}, asked, unavailable

    def _handle(self, account: str) -> str:
        """The handle an account's lines show (its name, for an account gone from app.yaml)."""
        found = self.config.accounts.get(account)
        return found.handle if found else account

    def _failure(self, draft: Draft) -> str | None:
        if len(self.core.networks_of(draft)) > 1:  # where it is out and why not elsewhere, as its failure recorded it
            failed = next((e for e in reversed(self.ledger.events(draft.id)) if e.action == "failed"), None)
            if failed is not None and failed.detail.get("error"):
                return str(failed.detail["error"])
        attempts = self.ledger.publications(draft.id)
        return attempts[-1].error if attempts else draft.notice

    def _links(self, draft: Draft, networks: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """Each network's link to the post (its first part), in the order it goes out; a retracted one too, as for X."""
        found: dict[str, str] = {}
        for publication in self.ledger.publications(draft.id):
            if publication.outcome == "published" and publication.part == 1 and publication.url:
                found.setdefault(publication.network, publication.url)
        return tuple((network, found[network]) for network in networks if network in found)

    def _url(self, draft: Draft) -> str | None:
        return next((p.url for p in reversed(self.ledger.publications(draft.id)) if p.outcome == "published" and p.url), None)

    def _who(self, draft: Draft, action: str) -> tuple[str, ...]:
        actor = self.ledger.last_actor(draft.id, action)
        return (actor,) if actor else ()

    def _expired_note(self, draft: Draft, approvers: tuple[str, ...]) -> str:
        """Why it expired (the event's reason) and how far its review had come."""
        reason = next((e.detail.get("reason") for e in reversed(self.ledger.events(draft.id)) if e.action == "expired"), None)
        account = self.config.accounts.get(draft.account)
        needed = draft.policy.approvals_required if draft.policy else account.approvals_required if account else 1
        return f"{reason or 'expired in review'}; {len(approvers)} of {needed} approvals"

    def _waiting_for(self, draft: Draft, approvers: tuple[str, ...]) -> str:
        if draft.state is State.HELD:
            return f"held: {draft.notice or 'check the account'}"
        account = self.config.accounts.get(draft.account)
        needed = draft.policy.approvals_required if draft.policy else account.approvals_required if account else 1
        said = f"in review, {len(approvers)} of {needed} approvals"
        if unmet := self._unmet(draft, approvers):
            rules = [a.name for a in draft.policy.applied if set(a.require) & set(unmet)] if draft.policy else []
            named = ", ".join(rules) or "a rule"
            missing = f"{len(unmet)} required approval(s) not given"
            said += f"; held back by {named}: {missing}" if len(approvers) >= needed else f"; {named}: {missing}"
        return said

    def _unmet(self, draft: Draft, approvers: tuple[str, ...]) -> tuple[str, ...]:
        """Who the draft's rules require among its approvers and who has not approved (each group as one)."""
        if draft.policy is None or not draft.policy.require:
            return ()
        try:
            return tuple(r.id for r in self.core.rules_of(draft).missing(approvers))
        except CopydeskError:  # an editor group Slack cannot list now: name what the rules require, not yet met by name
            return tuple(i for i in draft.policy.require if i not in approvers)

    def _owners_veto(self, draft: Draft, rejecters: tuple[str, ...]) -> str | None:
        account = self.config.accounts.get(draft.account)
        return "the owner's veto: final" if account and account.owner in rejecters else None


def _published_note(first: Publication, parts: int) -> str | None:
    notes = [f"a thread of {parts} posts"] if parts > 1 else []
    if first.retracted_at:
        notes.append("since retracted")
    return ", ".join(notes) or None


def _unlinked(line: Line) -> Line:
    """A line without its links to posts deleted since on their network (no link to a page that is gone)."""
    if not line.gone:
        return line
    links = tuple((network, link) for network, link in line.links if network not in line.gone)
    if line.several:  # its link is then one of the links left, or none (never one to a network where it is gone)
        return replace(line, links=links, url=links[0][1] if links else None)
    return replace(line, links=links, url=None)
