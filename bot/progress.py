"""Told after each outbox delivery or try, for whoever waits for Slack to have something (the author's link to a card)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Watch:
    ready: Callable[[], bool]
    then: Callable[[], None]
    key: Hashable
    fired: bool = False
    timer: threading.Timer | None = field(default=None, repr=False)


class Progress:
    """A condition over the outbox's progress: the ledger says what happened, this says when to look again.

    `watch` waits without holding a thread that answers Slack: the condition is checked after each delivery about its
    key (a draft), and its follow-up runs then, or at its deadline.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: list[_Watch] = []

    def notify(self, key: Hashable = None) -> None:
        """Something about `key` (None: anything) was delivered, or tried and failed: waiters look again."""
        with self._cond:
            self._cond.notify_all()
            watches = [w for w in self._watches if key is None or w.key == key]
        for watch in watches:
            try:
                ready = watch.ready()
            except Exception:  # a ledger read failed: not ready yet; its deadline still comes
                log.exception("could not tell whether a follow-up may go")
                continue
            if ready:
                self._fire(watch)

    def watch(self, ready: Callable[[], bool], then: Callable[[], None], timeout: float, *, key: Hashable = None) -> None:
        """Call `then()` (it must be quick: hand the work on) once `ready()` holds, or after `timeout` seconds."""
        watch = _Watch(ready, then, key)
        watch.timer = threading.Timer(timeout, self._fire, [watch])
        watch.timer.daemon = True
        with self._cond:
            self._watches.append(watch)
        watch.timer.start()
        self.notify(key)  # it may hold already

    def wait_unwatched(self, timeout: float) -> bool:
        """Block until no watch is pending or running (tests: everything owed an answer has been handed on)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._watches, timeout)

    def _fire(self, watch: _Watch) -> None:
        with self._cond:
            if watch.fired:
                return  # fired already (ready and the deadline can both come)
            watch.fired = True
        if watch.timer is not None:
            watch.timer.cancel()
        try:
            watch.then()
        except Exception:  # it runs on the courier's thread (or a timer's): a failure must not stop deliveries
            log.exception("a follow-up waiting for the outbox failed")
        finally:
            with self._cond:
                self._watches.remove(watch)  # only now: a waiter never sees it gone before its follow-up is handed on
                self._cond.notify_all()
