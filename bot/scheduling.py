"""APScheduler jobs for approved drafts; the ledger decides what is due, the jobs only wake us up."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from apscheduler.events import EVENT_JOB_REMOVED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


PUBLISH, REMIND = "publish", "remind"


def job_id(kind: str, draft_id: int, generation: int) -> str:
    """Each scheduling gets a fresh job ID: APScheduler removes a fired date job *after* starting it, so a
    job that reschedules its own draft under the same ID (a retry) would have the new job removed."""
    return f"{kind}:{draft_id}:{generation}"


class PublishScheduler:
    """Wakes `publish(draft_id)` at a draft's time; holds no state the ledger does not also hold."""

    def __init__(self, publish: Callable[[int], None], *, remind: Callable[[int], None] | None = None, workers: int = 8) -> None:
        self._calls = {PUBLISH: publish, REMIND: remind}
        # (kind, draft) → its one live job of that kind; the old one is removed on replacing
        self._current: dict[tuple[str, int], str] = {}
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
        self._add(PUBLISH, draft_id, when)

    def cancel(self, draft_id: int) -> None:
        """Forget a draft's publishing job, if it has one."""
        self._drop(PUBLISH, draft_id)

    def remind(self, draft_id: int, when: datetime | None) -> None:
        """Remind the draft's editors at `when`; replaces its earlier reminder."""
        self._add(REMIND, draft_id, when)

    def cancel_reminder(self, draft_id: int) -> None:
        """Forget a draft's reminder, if it has one."""
        self._drop(REMIND, draft_id)

    def _add(self, kind: str, draft_id: int, when: datetime | None) -> None:
        call = self._calls[kind]
        assert call is not None, f"no {kind} job was given to the scheduler"
        new = job_id(kind, draft_id, next(self._generations))
        self._scheduler.add_job(call, trigger="date", run_date=when, args=[draft_id], id=new, name=f"{kind} draft #{draft_id}")
        # Our lock is never held while calling APScheduler, whose own lock is held when it tells _forget.
        with self._lock:
            old, self._current[(kind, draft_id)] = self._current.get((kind, draft_id)), new
        self._remove(old)

    def _drop(self, kind: str, draft_id: int) -> None:
        with self._lock:
            old = self._current.pop((kind, draft_id), None)
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
        key = rest.partition(":")[0]
        with self._lock:
            if key.isdigit() and self._current.get((kind, int(key))) == event.job_id:
                del self._current[(kind, int(key))]

    def due_at(self, draft_id: int, kind: str = PUBLISH) -> datetime | None:
        """When the draft's job (publishing, unless told) will fire, or None when it has none."""
        with self._lock:
            current = self._current.get((kind, draft_id))
        job = self._scheduler.get_job(current) if current else None
        return job.next_run_time if job else None

    def count(self, kind: str = PUBLISH) -> int:
        """How many posts are waiting for their time (or drafts for their reminder)."""
        return sum(1 for job in self._scheduler.get_jobs() if job.id.startswith(f"{kind}:"))
