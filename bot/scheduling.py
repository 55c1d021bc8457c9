"""APScheduler jobs for approved drafts; the ledger decides what is due, the jobs only wake us up."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from apscheduler.events import EVENT_JOB_REMOVED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


def job_id(draft_id: int, generation: int) -> str:
    """Each scheduling gets a fresh job ID: APScheduler removes a fired date job *after* starting it, so a
    job that reschedules its own draft under the same ID (a retry) would have the new job removed."""
    return f"publish:{draft_id}:{generation}"


def digest_job_id(scope: str, day: date, generation: int) -> str:
    """The digest of `scope` for a local day; fresh per scheduling, for the same reason as job_id."""
    return f"digest:{scope}:{day.isoformat()}:{generation}"


class PublishScheduler:
    """Wakes `publish(draft_id)` at a draft's time; holds no state the ledger does not also hold."""

    def __init__(
        self, publish: Callable[[int], None], *, digest: Callable[[str], None] | None = None, workers: int = 8
    ) -> None:
        self._publish = publish
        self._digest = digest
        self._current: dict[int, str] = {}  # draft → its one live job; the old one is removed on replacing
        self._digests: dict[str, tuple[str, datetime]] = {}  # digest scope → its one live job and when it is due
        self._generations = itertools.count(1)
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(
            timezone=timezone.utc,
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={
                "coalesce": True,
                # Desk.publish claims a draft in the ledger before calling X, so overlapping runs are
                # harmless; with max_instances=1 APScheduler would drop a re-approved draft's new job.
                "max_instances": 16,
                "misfire_grace_time": None,  # a post due while we were busy still goes out
            },
        )
        self._scheduler.add_listener(self._forget, EVENT_JOB_REMOVED)

    def start(self) -> None:
        """Begin firing jobs (call once, from main, after the schedule is rebuilt)."""
        self._scheduler.start()

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop firing; with `wait`, let posts already on their way to X finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def schedule(self, draft_id: int, when: datetime | None) -> None:
        """Publish at `when`, or as soon as possible when it is None; replaces the draft's earlier job."""
        new = job_id(draft_id, next(self._generations))
        self._scheduler.add_job(
            self._publish, trigger="date", run_date=when, args=[draft_id], id=new, name=f"publish draft #{draft_id}"
        )
        # Our lock is never held while calling APScheduler, whose own lock is held when it tells _forget.
        with self._lock:
            old, self._current[draft_id] = self._current.get(draft_id), new
        self._remove(old)

    def cancel(self, draft_id: int) -> None:
        """Forget a draft's job, if it has one."""
        with self._lock:
            old = self._current.pop(draft_id, None)
        self._remove(old)

    def _remove(self, job: str | None) -> None:
        if job is None:
            return
        try:
            self._scheduler.remove_job(job)
        except JobLookupError:
            pass  # it has fired already

    def _forget(self, event: JobEvent) -> None:
        """A job fired (and APScheduler dropped it) or was removed: stop tracking it."""
        kind, _, rest = event.job_id.partition(":")
        key = rest.split(":")[0]
        with self._lock:
            if kind == "publish" and key.isdigit() and self._current.get(int(key)) == event.job_id:
                del self._current[int(key)]
            elif kind == "digest" and self._digests.get(key, ("",))[0] == event.job_id:
                del self._digests[key]

    def due_at(self, draft_id: int) -> datetime | None:
        """When the draft's job will fire, or None when it has none."""
        with self._lock:
            current = self._current.get(draft_id)
        job = self._scheduler.get_job(current) if current else None
        return job.next_run_time if job else None

    def count(self) -> int:
        """How many posts are waiting for their time."""
        return sum(1 for job in self._scheduler.get_jobs() if job.id.startswith("publish:"))

    def schedule_digest(self, scope: str, day: date, due: datetime, *, wait: timedelta) -> None:
        """Wake the digest job of `scope` after `wait`, for its digest due at `due`; replaces the scope's earlier job.

        Given as a wait, not an instant: APScheduler keeps the wall clock while the desk's clock is injected
        (tests move it), and the ledger, read with the desk's clock, decides what the job does when it wakes.
        """
        if self._digest is None:
            return
        new = digest_job_id(scope, day, next(self._generations))
        run_date = datetime.now(timezone.utc) + max(wait, timedelta(0))
        self._scheduler.add_job(self._digest, trigger="date", run_date=run_date, args=[scope], id=new,
                                name=f"digest {scope} for {day.isoformat()}")
        with self._lock:
            old, self._digests[scope] = self._digests.get(scope), (new, due)
        self._remove(old[0] if old else None)

    def digest_due_at(self, scope: str) -> datetime | None:
        """When the scope's next digest is due (by the desk's clock), or None when none is scheduled."""
        with self._lock:
            current = self._digests.get(scope)
        return current[1] if current and self._scheduler.get_job(current[0]) else None
