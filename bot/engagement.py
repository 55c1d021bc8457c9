"""How posts landed: the counts a network gives for a post, and reading them from several networks within a deadline.

Pure but for `within`, which runs the reads on threads of their own so that a slow network never holds up a digest, and
keeps what a read gave before its deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import NamedTuple, TypeVar

from bot.errors import CopydeskError, PublishError
from bot.model import Counts

__all__ = ["Counts", "Read", "total", "within"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def total(counts: Iterable[Counts]) -> Counts:
    """The sum of each count; a count no post was given stays None."""
    found = list(counts)

    def add(name: str) -> int | None:
        given = [getattr(c, name) for c in found if getattr(c, name) is not None]
        return sum(given) if given else None

    return Counts(add("likes"), add("reposts"), add("replies"), add("quotes"), add("impressions"))


class Read(NamedTuple):
    """One post's counts as its network gave them; counts None: the network says plainly that the post is gone."""

    post_id: str
    counts: Counts | None


def within(tasks: Mapping[K, Callable[[], Iterable[V]]], seconds: float) -> tuple[dict[K, list[V]], dict[K, str]]:
    """Run each task on a thread of its own, taking what it gives one item at a time, for at most `seconds` (real time):
    what each gave by then (all of it, or what came before it stopped), and why each that did not finish stopped (its
    own error, or no answer in time).

    A task is never asked for another item after the deadline, so a read that asks a network one request per item stops
    asking there; an item still awaited is left to come, and dropped. The threads are daemons, so a read that hangs
    never keeps the process (`copydesk digest`) from exiting.
    """
    given: dict[K, list[V]] = {key: [] for key in tasks}
    finished: set[K] = set()
    failures: dict[K, str] = {}
    changed = threading.Condition()
    deadline = time.monotonic() + seconds

    def run(key: K, task: Callable[[], Iterable[V]]) -> None:
        try:
            items = iter(task())
            while time.monotonic() < deadline:
                try:
                    item = next(items)
                except StopIteration:
                    with changed:
                        finished.add(key)
                        changed.notify_all()
                    return
                with changed:
                    given[key].append(item)
            return  # past the deadline: ask for nothing more
        except (PublishError, CopydeskError) as e:  # worded for people, without secrets
            failed = str(e)
        except Exception as e:  # anything else: only its kind, never its text (it may hold a URL or a header)
            failed = f"an unexpected {type(e).__name__}"
        with changed:
            failures[key] = failed
            changed.notify_all()

    for key, task in tasks.items():
        threading.Thread(target=run, args=(key, task), name=f"engagement {key}", daemon=True).start()
    with changed:
        while len(finished) + len(failures) < len(tasks) and (left := deadline - time.monotonic()) > 0:
            changed.wait(left)
        answered = {key: list(items) for key, items in given.items() if items or key in finished}
        failed = dict(failures)
    for key in tasks:
        if key not in finished and key not in failed:
            failed[key] = f"no answer within {seconds:g}s"
    return answered, failed
