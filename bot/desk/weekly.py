"""The weekly report, exactly once per scope and week: claimed in the ledger like the daily digest, with its chart."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time

from bot import chart
from bot.desk.core import Core
from bot.desk.digests import EARLY, Routine, Sending, Slot
from bot.digest import TOP
from bot.errors import ConfigError
from bot.model import OUT, Publication
from bot.ports import Notifier
from bot.review import tally
from bot.weekly import (
    Post,
    WeeklyReport,
    WeeklyScope,
    compose,
    latest_weekly_due,
    next_weekly_due,
    week_after,
    week_so_far,
    weekly_scopes,
    weeks_owed,
)

log = logging.getLogger(__name__)


class Weekly:
    """Composes weekly reports from the ledger (engagement as last read), sends each scope's once, and shows one so far."""

    def __init__(
        self, core: Core, *, notifier: Notifier, sending: Sending, draw: Callable[[WeeklyReport], bytes] = chart.draw
    ) -> None:
        self.core = core
        self.ledger = core.ledger
        self.config = core.config
        self.clock = core.clock
        self.notifier = notifier
        self.sending = sending  # the daily digest's: each report claimed the same way
        self.draw = draw
        self._stopping: Callable[[], bool] = lambda: False  # start_weekly's, once copydesk runs
        zone = self.config.timezone
        self.routine: Routine[WeeklyScope] = Routine(
            core,
            sending,
            kind="weekly",
            latest=lambda scope, now: latest_weekly_due(now, scope.weekday, scope.at, zone),
            following=lambda scope, now: next_weekly_due(now, scope.weekday, scope.at, zone),
            send=self._send_due,
            wake=lambda key, day, due, wait: core.scheduler.schedule_weekly(key, day, due, wait=wait),
        )

    def weekly_scopes(self) -> list[WeeklyScope]:
        """The weekly reports app.yaml asks for."""
        return weekly_scopes(self.config)

    # asked for

    def weekly_so_far(self) -> list[WeeklyReport]:
        """copydesk digest --weekly: each scope's last 7 local days up to now (every account without one); sends nothing."""
        now = self.clock()
        start, end = week_so_far(now, self.config.timezone)
        return [self._compose(scope, start, end, day=None) for scope in self._scopes_or_all()]

    def post_weekly_now(self) -> list[tuple[WeeklyScope, str]]:
        """copydesk digest --weekly --post: each report so far to its channel, recorded as on demand; the scheduled one is
        untouched."""
        found = self.weekly_scopes()
        if not found:
            raise ConfigError('app.yaml has no weekly report: add digest.weekly (say {day: monday, at: "09:00"}) to post one')
        posted = []
        for scope in found:
            now = self.clock()
            start, end = week_so_far(now, self.config.timezone)
            report = self._compose(scope, start, end, day=None)
            posted.append((scope, self.sending.on_demand(scope, "weekly_on_demand", start, end, report, self._post)))
        return posted

    def _scopes_or_all(self) -> list[WeeklyScope]:
        """Without a weekly report in app.yaml, who asks still gets one covering every account."""
        return self.weekly_scopes() or [WeeklyScope(TOP, "", 0, time(0), tuple(self.config.accounts))]

    # the scheduled one

    def start_weekly(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """On start: send once a report whose time passed while copydesk was down, then schedule the next of each (no
        further scope once `stopping`)."""
        self._stopping = stopping  # a backlog being sent stops between weeks too
        return self.routine.start(self.weekly_scopes(), stopping)

    def run_weekly(self, scope_key: str) -> None:
        """The scheduler's job: send the scope's report if its time has come and the ledger lacks it; schedule the next."""
        scope = next((s for s in self.weekly_scopes() if s.key == scope_key), None)
        if scope is not None:
            self.routine.attempt(scope)

    def _send_due(self, scope: WeeklyScope) -> bool:
        """Every report the scope is owed, oldest first; whether one was posted. One that fails does not hold the later
        ones back: the round goes on, then raises the first failure, so the retry takes up what is still owed (a past
        week left behind by a later one that went out is owed no more)."""
        latest, _ = latest_weekly_due(self.clock() + EARLY, scope.weekday, scope.at, self.config.timezone)
        sent, failure = False, None
        for day in weeks_owed(latest, self.ledger.weekly_sent(scope.key)):
            if self._stopping():
                break  # copydesk is stopping: the weeks left are still owed at the next start
            try:
                sent = self._send_week(scope, day, latest=day == latest) or sent
            except Exception as e:
                if failure is not None:  # the first is raised, and logged by the routine; the others are logged here
                    log.warning("the %s weekly report for %s could not be sent either: %s", scope.key, day, e)
                failure = failure or e
        if failure is not None:
            raise failure
        return sent

    def _send_week(self, scope: WeeklyScope, day: date, *, latest: bool) -> bool:
        """Claim, post, record, as the daily digest: the week is the 7 local days before the report's day. A past week
        in which nothing went out (copydesk was down) is recorded as skipped rather than posted."""
        start, end = week_after(day, self.config.timezone, self.ledger.weekly_end_before(scope.key, day))
        return self.sending.once(
            Slot(scope.key, "weekly", day, scope.channel),
            window=lambda now: (start, end),
            compose=lambda first, last: self._compose(scope, first, last, day=day),
            post=self._post,
            skip=lambda report: not latest and report.posts == 0,
            found=lambda channel, ts, report: self.notifier.finish_weekly(channel, ts, report, self._chart(report)),
        )

    def _post(self, channel: str, report: WeeklyReport) -> str:
        """The report with its chart; a chart that cannot be drawn leaves the text to say it all."""
        return self.notifier.post_weekly(channel, report, self._chart(report))

    def _chart(self, report: WeeklyReport) -> bytes | None:
        try:
            return self.draw(report)
        except Exception:
            log.exception("the weekly chart could not be drawn; the report goes without it")
            return None

    # what it says

    def _compose(self, scope: WeeklyScope, start: datetime, end: datetime, *, day: date | None) -> WeeklyReport:
        """The scope's posts that went out in [start, end), with the engagement the ledger last read for each."""
        published = self.ledger.published_between(scope.accounts, start, end)
        drafts = {draft.id: draft for draft, _ in published}
        parts: dict[int, list[Publication]] = {}
        for draft, publication in published:
            parts.setdefault(draft.id, []).append(publication)
        votes = self.ledger.votes_on(drafts)
        posts = [
            Post(
                draft=drafts[draft_id],
                handle=self._handle(drafts[draft_id].account),
                publications=tuple(out),
                approvers=self._went_out_with(draft_id) or tally(votes[draft_id]).approvers,
            )
            for draft_id, out in parts.items()
            if self._first_out(draft_id) >= start  # a post belongs to the week it first went out in, on any network
        ]
        engagement = self.ledger.engagement_of(p.id for post in posts for p in post.publications)
        handles = tuple(self._handle(a) for a in scope.accounts if a in self.config.accounts)
        return compose(scope.key, day, start, end, self.config.timezone, handles, posts, engagement)

    def _first_out(self, draft_id: int) -> datetime:
        """When the draft first went out anywhere (a thread's first part, its first network)."""
        return min(p.finished_at for p in self.ledger.publications(draft_id) if p.outcome in OUT and p.finished_at)

    def _went_out_with(self, draft_id: int) -> tuple[str, ...]:
        """The approvals its content went out with, as the event log recorded them when it was sent (votes may change
        after, on a draft held part-way); () when none was recorded."""
        for event in reversed(self.ledger.events(draft_id)):
            if event.action in ("publishing", "marked_published") and "approvers" in event.detail:
                return tuple(event.detail["approvers"])
        return ()

    def _handle(self, account: str) -> str:
        found = self.config.accounts.get(account)
        return found.handle if found else account
