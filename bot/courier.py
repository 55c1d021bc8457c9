"""The courier: delivers the ledger's outbox to Slack, in order within each queue, at least once, for up to a day."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import SlackFailed
from bot.model import Outgoing
from bot.progress import Progress

if TYPE_CHECKING:
    from storage.ledger import Ledger

log = logging.getLogger(__name__)

FIRST_DELAY = timedelta(seconds=0.25)  # after a failure; doubled each time, with jitter
MAX_DELAY = timedelta(minutes=5)  # so the end of an outage is noticed within minutes
GIVE_UP_AFTER = timedelta(hours=24)  # then it is dropped, loudly (log, /healthz, an event)
ROOM_CAP = 1.0  # seconds a delivery waits at most for acknowledgements and posts to X to leave room
LEDGER_TROUBLE_WAIT = 1.0  # seconds a queue rests after the ledger itself failed to record a try

Deliver = Callable[[Outgoing], None]  # delivers one message and records it as sent, or raises SlackFailed
Room = Callable[[float], None]  # blocks until there is room for Slack work, at most that many seconds


def backoff(attempts: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """How long to wait after the `attempts`-th failed try: doubling from FIRST_DELAY, capped, with jitter."""
    delay = min(FIRST_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)
    return delay * (0.5 + rng() / 2)


class Courier:
    """One dispatcher and a few delivery threads; never two messages of one queue at once, so each queue keeps its order."""

    def __init__(
        self,
        ledger: Ledger,
        deliver: Deliver,
        *,
        clock: Callable[[], datetime],
        workers: int = 4,
        room: Sequence[Room] = (),
        give_up_after: timedelta = GIVE_UP_AFTER,
        progress: Progress | None = None,
    ) -> None:
        self._ledger = ledger
        self._deliver = deliver
        self._clock = clock
        self._room = room
        self._give_up_after = give_up_after
        self._progress = progress or Progress()
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="courier")
        self._cond = threading.Condition()
        self._dirty = True  # something may have become due: look at the ledger again
        self._flying: set[str] = set()  # queues with a message being delivered now
        self._stopping = False
        self._thread: threading.Thread | None = None
        ledger.on_outbox(self.wake)

    def start(self) -> None:
        """Begin delivering (what a previous run left in the outbox goes first)."""
        self._thread = threading.Thread(target=self._dispatch, name="courier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the deliveries under way; what is still queued stays in the ledger for the next start."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=True)

    def wake(self) -> None:
        """Something was queued (the ledger calls this after each commit that queued a message)."""
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is being delivered and nothing due waits; False after `timeout` seconds."""
        with self._cond:  # checked again after each delivery or try
            return self._cond.wait_for(lambda: not self._flying and not self._ledger.outbox_due(self._clock(), limit=1), timeout)

    def _dispatch(self) -> None:
        """The one thread that reads the outbox and hands each queue's next message to a delivery thread."""
        while True:
            try:
                if not self._dispatch_once():
                    return
            except Exception:  # the ledger failed to read (a disk error): look again in a moment, never die silently
                log.exception("the courier could not read the outbox; trying again")
                with self._cond:
                    self._cond.wait(1.0)

    def _dispatch_once(self) -> bool:
        """Wait for something due, and hand it out; False once stopping."""
        with self._cond:
            while not self._dirty and not self._stopping:
                self._cond.wait(self._sleep())
                if not self._dirty:
                    self._dirty = self._sleep() == 0  # a backoff ran out
            if self._stopping:
                return False
            self._dirty = False
            flying = set(self._flying)
            if len(flying) >= 2 * self._workers:
                return True  # enough handed out: the next delivery to end wakes this again
        due = self._ledger.outbox_due(self._clock(), besides=flying, limit=self._workers)
        if not due:
            return True
        with self._cond:
            for message in due:
                if message.queue not in self._flying and not self._stopping:
                    self._flying.add(message.queue)
                    self._pool.submit(self._run, message)
        return True

    def _sleep(self) -> float | None:
        """Seconds until the next message of a queue not in flight is due (0: now); None: wait for a delivery to end
        (nothing else waits, or enough is handed out already)."""
        if len(self._flying) >= 2 * self._workers:
            return None
        wakeup = self._ledger.outbox_wakeup(besides=self._flying)
        return None if wakeup is None else max((wakeup - self._clock()).total_seconds(), 0.0)

    def _run(self, message: Outgoing) -> None:
        try:
            for room in self._room:  # each delivery makes way for acknowledgements and posts on their way to X
                room(ROOM_CAP)
            self._attempt(message)
        except Exception:  # the ledger itself failed (a read-only file): hold the queue a moment instead of spinning on it
            log.exception("the courier failed on outbox message %s", message.id)
            with self._cond:
                self._cond.wait_for(lambda: self._stopping, LEDGER_TROUBLE_WAIT)
        finally:
            try:  # first: whoever waits for this (the author's link) is on its way before we are idle
                self._progress.notify(message.draft_id)
            finally:
                with self._cond:
                    self._flying.discard(message.queue)
                    self._dirty = True
                    self._cond.notify_all()

    def _attempt(self, message: Outgoing) -> None:
        now = self._clock()
        # From here on, a crash leaves "it may have landed", and the next try looks first. Committed as ledger.synchronous
        # says: syncing every claim cost the publishing jobs a third more lateness; a power cut may double a message
        # (as it may lose the last votes), never a post to X.
        self._ledger.claim_outgoing(message.id, at=now)
        tried = Outgoing(**{**message.__dict__, "attempts": message.attempts + 1})
        try:
            self._deliver(tried)
        except SlackFailed as e:
            self._failed(tried, e.reason, permanent=e.permanent, retry_after=e.retry_after)
        except Exception as e:  # a network error, or a fault of ours: the same backoff, with the traceback in the log
            log.warning("outbox message %s (%s) failed: %s", message.id, message.kind, type(e).__name__, exc_info=True)
            self._failed(tried, type(e).__name__, permanent=False, retry_after=None)

    def _failed(self, message: Outgoing, reason: str, *, permanent: bool, retry_after: float | None) -> None:
        now = self._clock()
        if permanent or now - message.created_at >= self._give_up_after:
            why = reason if permanent else f"{reason}; gave up after {message.attempts} tries over {now - message.created_at}"
            log.error("Slack never took outbox message %s (%s of %s): %s", message.id, message.kind, message.queue, why)
            self._ledger.outgoing_gave_up(message.id, error=why, at=now)
            return
        wait = timedelta(seconds=retry_after) if retry_after is not None else backoff(message.attempts)
        log.info("outbox message %s (%s) waits %.1fs: %s", message.id, message.kind, wait.total_seconds(), reason)
        self._ledger.outgoing_later(message.id, next_at=now + wait, error=reason)
