"""The digest's clock for tests: its channel, Los Angeles time, a desk clock set to a moment, the digest job run now."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.digest import TOP
from tests.support.harness import Copydesk, MovableClock

LA = ZoneInfo("America/Los_Angeles")
UTC = UTC
DIGEST = "C0DIGEST01"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def clock_at(moment: datetime) -> MovableClock:
    """A desk clock that reads `moment` now and then moves on with real time."""
    clock = MovableClock()
    clock.offset = moment - datetime.now(UTC)
    return clock


def move(clock: MovableClock, moment: datetime) -> None:
    clock.offset += moment - clock()


def tomorrow(hour: int, minute: int = 0) -> datetime:
    """A local time tomorrow in Los Angeles: ahead of the wall clock, so posts scheduled from it never fire early."""
    day = datetime.now(LA).date() + timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=LA).astimezone(UTC)


def fire(bot: Copydesk, clock: MovableClock, scope: str = TOP) -> datetime:
    """The digest's time comes: move the desk's clock to it and run the job the scheduler holds for it."""
    return _when_due(clock, bot.services.scheduler.digest_due_at(scope), lambda: bot.desk.digests.run_digest(scope))


def fire_weekly(bot: Copydesk, clock: MovableClock, scope: str = TOP) -> datetime:
    """The weekly report's time comes: as fire, with the weekly report's job."""
    return _when_due(clock, bot.services.scheduler.weekly_due_at(scope), lambda: bot.desk.weekly.run_weekly(scope))


def _when_due(clock: MovableClock, due: datetime | None, run: Callable[[], None]) -> datetime:
    assert due is not None, "nothing is scheduled for that scope"
    move(clock, due + timedelta(seconds=1))
    run()
    return due
