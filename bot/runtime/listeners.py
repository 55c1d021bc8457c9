"""The threads that do copydesk's work after an acknowledgement, out of the way of the acknowledgements themselves."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Work after an acknowledgement waits until no Slack request has been answered for QUIET seconds: long enough
# that the next request of a busy moment (a fraction of a millisecond away) arrives first, short enough that
# nobody sees it. It never waits longer than CAP after it was queued, so under sustained load it still runs.
QUIET = 0.005
CAP = 1.0


@dataclass(frozen=True)
class _Queued:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    due: float  # the cap: it starts by then, requests or not


class ListenerPool(ThreadPoolExecutor):
    """Bolt's listener threads, and the work each acknowledgement leaves for later (`later`), started when Slack's
    requests leave room for it; able to say when all work handed to it is done (for shutdown and tests)."""

    def __init__(
        self,
        max_workers: int,
        *,
        quiet: float = QUIET,
        cap: float = CAP,
        clock: Callable[[], float] = time.monotonic,
        name: str = "listener",
    ) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=name)
        self._busy = 0
        self._idle = threading.Condition()
        self._quiet, self._cap, self._clock = quiet, cap, clock
        self._gate = threading.Condition()  # guards what follows; the dispatcher and wait_for_room wait on it
        self._answering = 0
        self._last_answer = -math.inf
        self._queue: deque[_Queued] = deque()
        self._stopping = False
        self._dispatcher: threading.Thread | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self._hold()
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:  # shut down already: nothing will run, so nothing is owed
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    def later(self, fn: Callable[..., Any], /, *args: Any) -> None:
        """Run `fn(*args)` once no request is being answered (after a quiet moment), at the latest `cap` seconds from now.

        An exception it raises is logged with its traceback; work that owes someone an answer catches its own
        errors (handlers.errors.answered_privately) first.
        """
        self._hold()  # counted from now: wait_idle and shutdown wait for it
        with self._gate:
            stopping = self._stopping
            if not stopping:
                wake = not self._queue or not self._answering
                self._queue.append(_Queued(fn, args, self._clock() + self._cap))
                if self._dispatcher is None:
                    self._dispatcher = threading.Thread(target=self._dispatch, name="after-ack", daemon=True)
                    self._dispatcher.start()
                elif wake:
                    self._gate.notify_all()
        if stopping:
            self._start(_Queued(fn, args, 0.0))  # shutting down: no more waiting for a moment

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Around the answer to one Slack request (the server's, in HTTP and in Socket Mode): work waits meanwhile."""
        with self._gate:
            self._answering += 1
        try:
            yield
        finally:
            with self._gate:
                self._answering -= 1
                self._last_answer = self._clock()
                if not self._answering:  # the dispatcher, and whoever waits in wait_for_room (the courier), may go on
                    self._gate.notify_all()

    def wait_for_room(self, cap: float = CAP) -> None:
        """Return once no request is being answered (after a quiet moment), or after `cap` seconds at the latest."""
        with self._gate:
            self._wait_for_room(self._clock() + cap)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or running; False if that took longer than `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Start whatever still waits for its moment, then (with `wait`) let all of it finish."""
        with self._gate:
            self._stopping = True
            self._gate.notify_all()
            dispatcher = self._dispatcher
        if dispatcher is not None:
            dispatcher.join()
        super().shutdown(wait=wait, cancel_futures=cancel_futures)

    def _dispatch(self) -> None:
        """The one thread that waits for the moment: it hands queued work to the pool, oldest first."""
        while True:
            with self._gate:
                while not self._queue and not self._stopping:
                    self._gate.wait()
                if not self._queue:
                    return
                self._wait_for_room(self._queue[0].due)
                item = self._queue.popleft()
            self._start(item)

    def _wait_for_room(self, due: float) -> None:
        """Return once no request is answered and none was for `quiet` seconds, or at `due`, or on shutdown."""
        while not self._stopping:
            now = self._clock()
            if now >= due:
                return
            if self._answering:
                until = due
            else:
                until = min(due, self._last_answer + self._quiet)
                if now >= until:
                    return
            self._gate.wait(until - now)

    def _start(self, item: _Queued) -> None:
        try:
            self.submit(_logged, item.fn, item.args)
        finally:
            self._release()  # the submit holds it from here

    def _hold(self) -> None:
        with self._idle:
            self._busy += 1

    def _release(self, _future: Future[Any] | None = None) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()


def _logged(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("work after an acknowledgement failed (%s)", getattr(fn, "__qualname__", fn))


class Gate:
    """Work others should make way for (a post on its way to X): `held()` around it, `wait_for_room()` to make way."""

    def __init__(self, *, quiet: float = QUIET, clock: Callable[[], float] = time.monotonic) -> None:
        self._cond = threading.Condition()
        self._held = 0
        self._last = -math.inf
        self._quiet, self._clock = quiet, clock

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._cond:
            self._held += 1
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
                self._last = self._clock()
                self._cond.notify_all()

    def wait_for_room(self, cap: float = CAP) -> None:
        """Return once nothing is held and nothing was for `quiet` seconds, or after `cap` seconds at the latest."""
        due = self._clock() + cap
        with self._cond:
            while True:
                now = self._clock()
                until = due if self._held else min(due, self._last + self._quiet)
                if now >= until:
                    return
                self._cond.wait(until - now)
