"""Reading the at:WHEN of a draft: an exact time, the next such clock time, or a delay from now."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import BadTime

_DELAY = re.compile(r"^\+(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_FORMS = "2026-11-22T09:00, 2026-11-22T09:00-08:00, 09:00, +30m, +2h or +1d"
MAX_AHEAD = timedelta(days=365)  # a rule, not a setting: a time further ahead is a typo (2062 for 2026), not a plan


def parse_when(spec: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant that `spec` names, seen from `now` by someone living in `zone`; ahead, by a year at most."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    spec = spec.strip()
    try:
        if delay := _DELAY.match(spec):
            instant = _after(delay, spec, now)
        elif clock := _CLOCK.match(spec):
            instant = _next_clock(int(clock[1]), int(clock[2]), spec, now, zone)
        else:
            instant = _exact(spec, now, zone)
    except OverflowError:
        raise BadTime(f"at:{spec} is too far in the future") from None
    if instant - now > MAX_AHEAD:
        raise BadTime(f"at:{spec} is more than a year ahead ({_shown(instant, zone)}); give a time within {MAX_AHEAD.days} days")
    return instant


def check_ahead(instant: datetime, *, now: datetime, zone: ZoneInfo) -> None:
    """A time picked in a date picker must still be ahead when the draft is stored, and at most a year ahead."""
    if instant <= now:
        raise BadTime(f"{_shown(instant, zone)} is in the past; pick a later time, or none to post as soon as it is approved")
    if instant - now > MAX_AHEAD:
        raise BadTime(f"{_shown(instant, zone)} is more than a year ahead; pick a time within {MAX_AHEAD.days} days")


def _shown(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _after(match: re.Match[str], spec: str, now: datetime) -> datetime:
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    if not any(match.groups()) or (days == hours == minutes == 0):
        raise BadTime(f"at:{spec} is not a delay I can read; try {_FORMS}")
    return (now + timedelta(days=days, hours=hours, minutes=minutes)).astimezone(UTC)


def _next_clock(hour: int, minute: int, spec: str, now: datetime, zone: ZoneInfo) -> datetime:
    if hour > 23 or minute > 59:
        raise BadTime(f"at:{spec} is not a time of day; try {_FORMS}")
    today = now.astimezone(zone).date()
    for offset in range(0, 3):  # a clock time skipped by a DST change exists again the day after
        day = today + timedelta(days=offset)
        for instant in _local(day, time(hour, minute), zone):
            if instant > now:
                return instant
    raise BadTime(f"at:{spec} does not exist in {zone.key} in the next days")  # pragma: no cover


def _exact(spec: str, now: datetime, zone: ZoneInfo) -> datetime:
    try:
        parsed = datetime.fromisoformat(spec)
    except ValueError:
        raise BadTime(f"at:{spec} is not a time I can read; try {_FORMS}") from None
    if len(spec) <= 10:  # a bare date: the time of day is missing
        raise BadTime(f"at:{spec} has no time of day; try {spec}T09:00")
    if parsed.tzinfo is None:
        candidates = _local(parsed.date(), parsed.time(), zone)
        if not candidates:
            raise BadTime(f"at:{spec} does not exist in {zone.key}: the clocks skip that hour for daylight saving")
        # A clock time that happens twice (the hour repeated when clocks go back): the first one still ahead.
        instant = next((c for c in candidates if c > now), candidates[-1])
    else:
        instant = parsed.astimezone(UTC)
    if instant <= now:
        raise BadTime(f"at:{spec} is in the past ({_shown(instant, zone)}); give a later time")
    return instant


def _local(day: date, clock: time, zone: ZoneInfo) -> list[datetime]:
    """Every UTC instant at which `zone` shows `day` at `clock`: none in a DST gap, two in a repeated hour."""
    wall = datetime.combine(day, clock)
    found: list[datetime] = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall and instant not in found:
            found.append(instant)
    return sorted(found)
