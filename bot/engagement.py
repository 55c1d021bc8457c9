"""How posts landed: the counts a network gives for a post, and reading them from several networks within a deadline.

Pure but for `within`, which runs the reads on threads of their own so that a slow network never holds up a digest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TypeVar

from bot.errors import CopydeskError, PublishError
from bot.model import Counts

__all__ = ["Counts", "total", "within"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def total(counts: Iterable[Counts]) -> Counts:
    """The sum of each count; a count no post was given stays None."""
    found = list(counts)

    def add(name: str) -> int | None:
        given = [getattr(c, name) for c in found if getattr(c, name) is not None]
        return sum(given) if given else None

    return Counts(add("likes"), add("reposts"), add("replies"), add("quotes"), add("impressions"))


def within(tasks: Mapping[K, Callable[[], V]], seconds: float) -> tuple[dict[K, V], dict[K, str]]:
    """Run each task on a thread of its own and wait for them at most `seconds` (real time): what answered, and why the
    others did not (their own error, or no answer in time). A task still running is left to finish; its answer is dropped.

    The threads are daemons, so a read that hangs never keeps the process (`copydesk digest`) from exiting.
    """
    answers: dict[K, V] = {}
    failures: dict[K, str] = {}
    changed = threading.Condition()

    def run(key: K, task: Callable[[], V]) -> None:
        try:
            value = task()
        except (PublishError, CopydeskError) as e:  # worded for people, without secrets
            failed = str(e)
        except Exception as e:  # anything else: only its kind, never its text (it may hold a URL or a header)
            failed = f"an unexpected {type(e).__name__}"
        else:
            with changed:
                answers[key] = value
                changed.notify_all()
            return
        with changed:
            failures[key] = failed
            changed.notify_all()

    deadline = time.monotonic() + seconds
    for key, task in tasks.items():
        threading.Thread(target=run, args=(key, task), name=f"engagement {key}", daemon=True).start()
    with changed:
        while len(answers) + len(failures) < len(tasks) and (left := deadline - time.monotonic()) > 0:
            changed.wait(left)
        answered, failed = dict(answers), dict(failures)
    for key in tasks:
        if key not in answered and key not in failed:
            failed[key] = f"no answer within {seconds:g}s"
    return answered, failed
