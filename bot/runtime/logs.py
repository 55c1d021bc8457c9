"""Logging, set up in one place: plain text or one JSON object a line, and the configured secrets blotted out of both."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from bot.config import Secret

TEXT, JSON = "text", "json"
FORMATS = (TEXT, JSON)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY = ("slack_sdk", "slack_bolt", "apscheduler", "urllib3", "requests_oauthlib", "oauthlib", "tweepy", "httpx", "httpcore")
HIDDEN = "<secret>"
MIN_SECRET = 4  # a value shorter than this would blot out ordinary words; no real key or token is
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class Redactor(logging.Filter):
    """Replaces every configured secret value in a record (message, arguments, exception, stack, extra fields) before
    any handler formats it, whatever the format."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()

    def hide(self, values: Iterable[str]) -> None:
        """Blot these out from now on (longest first, so a secret containing another goes whole)."""
        kept = {v for v in (*self._secrets, *values) if len(v) >= MIN_SECRET}
        self._secrets = tuple(sorted(kept, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, HIDDEN)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            record.msg, record.args = self.redact(record.getMessage()), None
        except (TypeError, ValueError):  # arguments that do not fit the message: logging reports that itself
            record.msg = self.redact(str(record.msg))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in _extra(record).items():
            if isinstance(value, str):
                setattr(record, name, self.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers: time (UTC), level, logger, message, exception and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        for name, value in _extra(record).items():
            line.setdefault(name, value)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: str = TEXT) -> Redactor:
    """Log INFO and up to stderr in `log_format`, through a Redactor; hand it the secrets once the config is read.

    Like logging.basicConfig, it leaves a root logger that already has handlers alone (a test's, say), Redactor and all.
    """
    redactor = Redactor()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == JSON else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(redactor)
    if not logging.getLogger().handlers:  # this process's own logging, not a host's (a test's): crashes go through it
        sys.excepthook = _logged_crash
        threading.excepthook = lambda crash: _logged_crash(crash.exc_type, crash.exc_value, crash.exc_traceback, crash.thread)
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor


def _logged_crash(
    kind: type[BaseException],
    error: BaseException | None,
    trace: TracebackType | None,
    thread: threading.Thread | None = None,
) -> None:
    """An exception nothing caught, logged like any other line: in the log's format, and through the Redactor."""
    if kind is SystemExit:
        return
    where = f" in thread {thread.name}" if thread is not None else ""
    logging.getLogger("copydesk").critical("uncaught %s%s", kind.__name__, where, exc_info=error or False)


def secrets_in(value: Any) -> set[str]:
    """Every Secret's value anywhere in a config (Slack's tokens, each network's keys, the ledger's key)."""
    if isinstance(value, Secret):
        return {value.reveal()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return set().union(*(secrets_in(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, Mapping):
        return set().union(*(secrets_in(v) for v in value.values()))
    if isinstance(value, (tuple, list, frozenset, set)):
        return set().union(*(secrets_in(v) for v in value))
    return set()


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller added with `extra=` (a draft_id, say): the record's attributes that logging itself does not set."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
