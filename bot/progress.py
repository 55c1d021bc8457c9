"""Told after each outbox delivery or try, for whoever waits for Slack to have something (the author's link to a card)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Watch:
    ready: Callable[[], bool]
    then: Callable[[], None]
    timer: threading.Timer | None = field(default=None, repr=False)


class Progress:
    """A condition over the outbox's progress: the ledger says what happened, this says when to look again.

    `watch` waits without a thread: the condition is checked after each delivery, and its follow-up runs then (or at
    its deadline), so a burst of drafts waiting for their cards holds none of the threads that answer Slack.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: list[_Watch] = []

    def notify(self) -> None:
        """Something was delivered, or tried and failed: waiters read the ledger again; watches that hold run."""
        with self._cond:
            self._cond.notify_all()
            watches = list(self._watches)
        for watch in watches:
            if watch.ready():
                self._fire(watch)

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Block until `condition()` holds, checked after each delivery; False after `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(condition, timeout)

    def watch(self, ready: Callable[[], bool], then: Callable[[], None], timeout: float) -> None:
        """Call `then()` (it must be quick: hand the work on) once `ready()` holds, or after `timeout` seconds."""
        watch = _Watch(ready, then)
        with self._cond:
            self._watches.append(watch)
        watch.timer = threading.Timer(timeout, self._fire, [watch])
        watch.timer.daemon = True
        watch.timer.start()
        if ready():
            self._fire(watch)

    def wait_unwatched(self, timeout: float) -> bool:
        """Block until no watch is pending (tests: everything owed an answer has been handed on)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._watches, timeout)

    def _fire(self, watch: _Watch) -> None:
        with self._cond:
            if watch not in self._watches:
                return  # fired already (ready and the deadline can both come)
            self._watches.remove(watch)
        if watch.timer is not None:
            watch.timer.cancel()
        try:
            watch.then()
        except Exception:  # it runs on the courier's thread (or a timer's): a failure must not stop deliveries
            log.exception("a follow-up waiting for the outbox failed")
        finally:
            with self._cond:
                self._cond.notify_all()
