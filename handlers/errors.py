"""One way to turn an error into words for the person who caused it, for listeners and the work after them alike."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bot.errors import CopydeskError

log = logging.getLogger(__name__)


def error_text(error: Exception) -> str:
    """The error's own words for people's mistakes; a reference to the log for ours."""
    if isinstance(error, CopydeskError):
        return str(error)
    ref = secrets.token_hex(4)
    log.error("unexpected error (ref %s)", ref, exc_info=error)
    return f"Sorry, copydesk hit an internal error (ref {ref}); an admin can find it in the logs."


@contextmanager
def answered_privately(tell: Callable[[str], object]) -> Iterator[None]:
    """For work done after the acknowledgement (handed to `later`), where the app's error handler does not reach."""
    try:
        yield
    except Exception as e:
        tell(error_text(e))
