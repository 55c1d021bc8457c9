"""APScheduler jobs for approved drafts; the ledger decides what is due, the jobs only wake us up."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_REMOVED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


PUBLISH, REMIND, DIGEST = "publish", "remind", "digest"
EXPIRE = "expire"  # a draft in review whose time runs out (expire_after_hours, on_missed_time: expire)
WEEKLY = "weekly"  # a scope's weekly report
# Posts and reminders due further ahead wait in a timetable, not as APScheduler jobs: a start on thousands of
# drafts scheduled weeks ahead creates none of them (measured in bench/recovery.py), and every HORIZON / 2
# those coming due within the horizon become jobs.
HORIZON = timedelta(minutes=10)
PLANNER = "planner"


def job_id(kind: str, draft_id: int, generation: int) -> str:
    """Each scheduling gets a fresh job ID: APScheduler removes a fired date job *after* starting it, so a
    job that reschedules its own draft under the same ID (a retry) would have the new job removed."""
    return f"{kind}:{draft_id}:{generation}"


class _Scheduler(BackgroundScheduler):
    """APScheduler's BackgroundScheduler, except that removing a job that is already gone is not an error.

    APScheduler removes a fired date job right after handing it to a worker; if that job has meanwhile
    replaced itself (a reminder or a publish woken early plans itself again, removing its old job), the
    main loop's own remove_job raised JobLookupError, which killed the loop thread and every later job.
    """

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        try:
            super().remove_job(job_id, jobstore)
        except JobLookupError:
            log.debug("job %s was already removed", job_id)


def digest_job_id(scope: str, day: date, generation: int, kind: str = DIGEST) -> str:
    """The digest (or weekly report) of `scope` for a local day; fresh per scheduling, for the same reason as job_id."""
    return f"{kind}:{scope}:{day.isoformat()}:{generation}"


class PublishScheduler:
    """Wakes the desk for a post's time, a reminder or a digest; holds no state the ledger does not also hold."""

    def __init__(
        self,
        publish: Callable[[int], None] | None = None,
        *,
        remind: Callable[[int], None] | None = None,
        digest: Callable[[str], None] | None = None,
        expire: Callable[[int], None] | None = None,
        weekly: Callable[[str], None] | None = None,
        workers: int = 8,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        publishing: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        self._calls: dict[str, Callable[[Any], None] | None] = {PUBLISH: publish, REMIND: remind, DIGEST: digest, EXPIRE: expire}
        self._calls[WEEKLY] = weekly
        # (kind, draft) → its one live job of that kind; the old one is removed on replacing
        self._current: dict[tuple[str, int], str] = {}
        self._digests: dict[str, tuple[str, datetime]] = {}  # digest scope → its one live job and when it is due
        self._weeklies: dict[str, tuple[str, datetime]] = {}  # the same for each scope's weekly report
        self._generations = itertools.count(1)
        self._lock = threading.Lock()
        self._running = 0  # jobs inside their call now; shutdown waits for them
        self._stopping = False
        self._idle = threading.Condition()
        self._scheduler = _Scheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={
                "coalesce": True,
                # Publishing.publish claims a draft in the ledger before calling X, so overlapping runs are
                # harmless; with max_instances=1 APScheduler would drop a re-approved draft's new job.
                "max_instances": 16,
                "misfire_grace_time": None,  # a post due while we were busy still goes out
            },
        )
        self._scheduler.add_listener(self._forget, EVENT_JOB_REMOVED)
        self._wall = wall  # APScheduler's clock; tests move it to see the horizon pass
        self._publishing = publishing  # around each publishing job: Slack's news of earlier posts waits meanwhile
        # One planning change at a time. Lock order: _plan, then APScheduler's job store lock, then _lock; APScheduler
        # holds its lock when it calls _forget, which takes only _lock, so nothing waits in a circle.
        self._plan = threading.Lock()
        self._later: dict[tuple[str, int], datetime] = {}  # (kind, draft) → when, for those beyond the horizon
        self._timetable: list[tuple[datetime, str, int]] = []  # a heap over _later; entries _later no longer has are stale
        self._scheduler.add_job(
            self.promote,
            trigger="interval",
            seconds=HORIZON.total_seconds() / 2,
            id=PLANNER,
            name="bring posts and reminders within the horizon forward",
        )

    def register(
        self,
        *,
        publish: Callable[[int], None],
        remind: Callable[[int], None],
        digest: Callable[[str], None],
        expire: Callable[[int], None],
        weekly: Callable[[str], None] | None = None,
    ) -> None:
        """What each kind of job calls: the desk's, once it is built around this scheduler (before start)."""
        self._calls.update({PUBLISH: publish, REMIND: remind, DIGEST: digest, EXPIRE: expire, WEEKLY: weekly})

    def start(self) -> None:
        """Begin firing jobs (call once, from main, after the schedule is rebuilt)."""
        self._scheduler.start()

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop firing; with `wait`, let posts already on their way to X finish.

        APScheduler's own shutdown(wait=True) holds its job store lock while it waits for running jobs,
        and a running job that schedules (a retry, a reminder planned again) needs that lock: they would
        wait for each other forever. So APScheduler stops without waiting, and we wait for our jobs.
        """
        with self._idle:
            self._stopping = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if wait:
            with self._idle:
                self._idle.wait_for(lambda: self._running == 0)

    def _run(self, kind: str, key: Any) -> None:
        """Every job goes through here, so shutdown knows what is still running; none starts once it began."""
        with self._idle:
            if self._stopping:
                return  # the ledger still has it; the next start plans it again
            self._running += 1
        try:
            call = self._calls[kind]
            assert call is not None
            with self._publishing() if kind == PUBLISH else nullcontext():
                call(key)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def schedule(self, draft_id: int, when: datetime | None) -> None:
        """Publish at `when`, or as soon as possible when it is None; replaces the draft's earlier job."""
        self._add(PUBLISH, draft_id, when)

    def cancel(self, draft_id: int) -> None:
        """Forget a draft's publishing job, if it has one."""
        self._drop(PUBLISH, draft_id)

    def remind(self, draft_id: int, when: datetime | None) -> None:
        """Remind the draft's editors at `when`; replaces its earlier reminder."""
        self._add(REMIND, draft_id, when)

    def expire(self, draft_id: int, when: datetime | None) -> None:
        """Expire the draft at `when` (at once when None) if it is still in review then; replaces its earlier expiry."""
        self._add(EXPIRE, draft_id, when)

    def cancel_expiry(self, draft_id: int) -> None:
        """Forget a draft's expiry job, if it has one."""
        self._drop(EXPIRE, draft_id)

    def _add(self, kind: str, draft_id: int, when: datetime | None) -> None:
        assert self._calls[kind] is not None, f"no {kind} job was given to the scheduler"
        with self._plan:
            if when is not None and when > self._wall() + HORIZON:
                with self._lock:
                    old = self._current.pop((kind, draft_id), None)
                    self._later[(kind, draft_id)] = when
                heapq.heappush(self._timetable, (when, kind, draft_id))
                self._remove(old)
                return
            self._later.pop((kind, draft_id), None)
            self._add_job(kind, draft_id, when)

    def _add_job(self, kind: str, draft_id: int, when: datetime | None) -> None:
        new = job_id(kind, draft_id, next(self._generations))
        self._scheduler.add_job(
            self._run, trigger="date", run_date=when, args=[kind, draft_id], id=new, name=f"{kind} draft #{draft_id}"
        )
        # _lock is never held while calling APScheduler, whose own lock is held when it tells _forget.
        with self._lock:
            old, self._current[(kind, draft_id)] = self._current.get((kind, draft_id)), new
        self._remove(old)

    def promote(self) -> None:
        """Turn what comes due within the horizon into APScheduler jobs (the planner job, every HORIZON / 2)."""
        limit = self._wall() + HORIZON
        with self._plan:
            if self._stopping:
                return  # the ledger still has them; the next start plans them again
            while self._timetable and self._timetable[0][0] <= limit:
                when, kind, draft_id = heapq.heappop(self._timetable)
                if self._later.get((kind, draft_id)) == when:
                    del self._later[(kind, draft_id)]
                    self._add_job(kind, draft_id, when)

    def _drop(self, kind: str, draft_id: int) -> None:
        with self._plan:
            self._later.pop((kind, draft_id), None)
            with self._lock:
                old = self._current.pop((kind, draft_id), None)
            self._remove(old)

    def _remove(self, job: str | None) -> None:
        if job is not None:
            self._scheduler.remove_job(job)  # one that has fired already is simply gone

    def _forget(self, event: JobEvent) -> None:
        """A job fired (and APScheduler dropped it) or was removed: stop tracking it."""
        kind, _, rest = event.job_id.partition(":")
        key = rest.partition(":")[0]
        with self._lock:
            if key.isdigit() and self._current.get((kind, int(key))) == event.job_id:
                del self._current[(kind, int(key))]
            elif kind == DIGEST and self._digests.get(key, ("",))[0] == event.job_id:
                del self._digests[key]
            elif kind == WEEKLY and self._weeklies.get(key, ("",))[0] == event.job_id:
                del self._weeklies[key]

    def due_at(self, draft_id: int, kind: str = PUBLISH) -> datetime | None:
        """When the draft's job (publishing, unless told) will fire, or None when it has none."""
        with self._plan:  # held while APScheduler is asked too, so a promotion cannot fall between the two reads
            if (kind, draft_id) in self._later:
                return self._later[(kind, draft_id)]
            with self._lock:
                current = self._current.get((kind, draft_id))
            job = self._scheduler.get_job(current) if current else None
            return job.next_run_time if job else None

    def count(self, kind: str = PUBLISH) -> int:
        """How many posts are waiting for their time (or drafts for their reminder), as jobs or beyond the horizon."""
        with self._plan:  # as in due_at: a promotion between the two counts would count a post twice
            later = sum(1 for k, _ in self._later if k == kind)
            return later + sum(1 for job in self._scheduler.get_jobs() if job.id.startswith(f"{kind}:"))

    def jobs(self) -> list[str]:
        """The ids of the APScheduler jobs waiting now (the planner's among them): what fires within the horizon, not what
        waits in the timetable beyond it. For tests and operators."""
        return [job.id for job in self._scheduler.get_jobs()]

    def schedule_digest(self, scope: str, day: date, due: datetime, *, wait: timedelta) -> None:
        """Wake the digest job of `scope` after `wait`, for its digest due at `due`; replaces the scope's earlier job.

        Given as a wait, not an instant: APScheduler keeps the wall clock while the desk's clock is injected
        (tests move it), and the ledger, read with the desk's clock, decides what the job does when it wakes.
        """
        self._report(DIGEST, self._digests, scope, day, due, wait)

    def schedule_weekly(self, scope: str, day: date, due: datetime, *, wait: timedelta) -> None:
        """Wake the weekly report's job of `scope` after `wait`, for its report due at `due`; as schedule_digest."""
        self._report(WEEKLY, self._weeklies, scope, day, due, wait)

    def _report(
        self, kind: str, live: dict[str, tuple[str, datetime]], scope: str, day: date, due: datetime, wait: timedelta
    ) -> None:
        if self._calls[kind] is None:
            return
        new = digest_job_id(scope, day, next(self._generations), kind)
        run_date = datetime.now(UTC) + max(wait, timedelta(0))
        self._scheduler.add_job(
            self._run,
            trigger="date",
            run_date=run_date,
            args=[kind, scope],
            id=new,
            name=f"{kind} {scope} for {day.isoformat()}",
        )
        with self._lock:
            old, live[scope] = live.get(scope), (new, due)
        self._remove(old[0] if old else None)

    def digest_due_at(self, scope: str) -> datetime | None:
        """When the scope's next digest is due (by the desk's clock), or None when none is scheduled."""
        with self._lock:
            current = self._digests.get(scope)
        return current[1] if current and self._scheduler.get_job(current[0]) else None

    def weekly_due_at(self, scope: str) -> datetime | None:
        """When the scope's next weekly report is due (by the desk's clock), or None when none is scheduled."""
        with self._lock:
            current = self._weeklies.get(scope)
        return current[1] if current and self._scheduler.get_job(current[0]) else None
