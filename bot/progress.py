"""Told after each outbox delivery or try, for whoever waits for Slack to have something (the author's link to a card)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Progress:
    """A condition variable over the outbox's progress: the ledger says what happened, this says when to look again."""

    def __init__(self) -> None:
        self._cond = threading.Condition()

    def notify(self) -> None:
        """Something was delivered, or tried and failed: waiters read the ledger again."""
        with self._cond:
            self._cond.notify_all()

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Block until `condition()` holds, checked after each delivery; False after `timeout` seconds."""
        with self._cond:
            return self._cond.wait_for(condition, timeout)
