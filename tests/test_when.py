"""at:WHEN is read in the author's zone, exact instants stay exact, and the past is refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import BadTime
from bot.when import check_ahead, parse_when

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)  # 12:00 in Los Angeles


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("2026-11-22T09:00", "2026-11-22T17:00Z"),
        ("2026-11-22T09:00-05:00", "2026-11-22T14:00Z"),
        ("2026-11-22T09:00Z", "2026-11-22T09:00Z"),
        ("2026-11-22 09:00", "2026-11-22T17:00Z"),
        ("13:30", "2026-11-21T21:30Z"),  # later today
        ("09:00", "2026-11-22T17:00Z"),  # already passed today: tomorrow
        ("+30m", "2026-11-21T20:30Z"),
        ("+2h", "2026-11-21T22:00Z"),
        ("+1d", "2026-11-22T20:00Z"),
        ("+1h30m", "2026-11-21T21:30Z"),
    ],
)
def test_readable_times(spec: str, expected: str) -> None:
    assert parse_when(spec, now=NOW, zone=LA) == datetime.fromisoformat(expected)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("2026-11-20T09:00", "is in the past"),
        ("2026-11-21T12:00", "is in the past"),  # exactly now
        ("soon", "not a time I can read"),
        ("2026-11-22", "has no time of day"),
        ("25:00", "not a time of day"),
        ("+0m", "not a delay I can read"),
        ("+", "not a delay I can read"),
        ("2026-03-08T02:30", "does not exist in America/Los_Angeles"),
    ],
)
def test_unreadable_or_past_times_are_refused_with_the_reason(spec: str, message: str) -> None:
    with pytest.raises(BadTime, match=message):
        parse_when(spec, now=datetime(2026, 3, 1, tzinfo=UTC) if "03-08" in spec else NOW, zone=LA)


def test_a_clock_time_swallowed_by_dst_moves_to_the_next_day() -> None:
    before_gap = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)  # 01:00 PST, the night clocks spring forward
    assert parse_when("02:30", now=before_gap, zone=LA) == datetime(2026, 3, 9, 9, 30, tzinfo=UTC)


@given(days=st.integers(0, 30), hours=st.integers(0, 48), minutes=st.integers(0, 600))
def test_a_delay_is_exactly_that_long_from_now(days: int, hours: int, minutes: int) -> None:
    spec = "+" + "".join(f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
    if spec == "+":
        return
    assert parse_when(spec, now=NOW, zone=LA) - NOW == timedelta(days=days, hours=hours, minutes=minutes)


def test_the_repeated_hour_picks_the_occurrence_still_ahead() -> None:
    during_first = datetime(2026, 11, 1, 8, 45, tzinfo=UTC)  # 01:45 PDT; at 02:00 clocks go back to 01:00
    assert parse_when("01:30", now=during_first, zone=LA) == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)  # 01:30 PST
    assert parse_when("2026-11-01T01:30", now=during_first, zone=LA) == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def test_absurd_times_are_bad_input_not_crashes() -> None:
    with pytest.raises(BadTime, match="too far in the future"):
        parse_when("+99999999d", now=NOW, zone=LA)


ZONES = ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "America/Sao_Paulo"]


@given(
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    zone=st.sampled_from(ZONES),
    now=st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1), timezones=st.just(UTC)),
)
def test_a_clock_time_is_the_next_one_the_zone_shows(hour: int, minute: int, zone: str, now: datetime) -> None:
    instant = parse_when(f"{hour:02d}:{minute:02d}", now=now, zone=ZoneInfo(zone))
    local = instant.astimezone(ZoneInfo(zone))
    assert now < instant <= now + timedelta(days=2)
    # It shows that clock time, unless a DST gap swallowed it, and no earlier instant ahead of now does.
    assert (local.hour, local.minute) == (hour, minute)
    assert instant - now <= timedelta(days=1, hours=1) or _skipped(hour, minute, ZoneInfo(zone), now)


def _skipped(hour: int, minute: int, zone: ZoneInfo, now: datetime) -> bool:
    """Whether that clock time falls into a DST gap within the next day."""
    day = now.astimezone(zone).date()
    for offset in (0, 1):
        wall = datetime.combine(day + timedelta(days=offset), datetime.min.time()).replace(hour=hour, minute=minute)
        if wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            return True
    return False


def test_a_time_more_than_a_year_ahead_is_refused_in_every_form() -> None:
    assert parse_when("+365d", now=NOW, zone=LA) == NOW + timedelta(days=365)
    assert parse_when("+300d", now=NOW, zone=LA) == NOW + timedelta(days=300)
    for spec in ("+366d", "+365d1m", "2027-11-22T12:01", "2062-11-22T09:00Z"):
        with pytest.raises(BadTime, match=re.escape(f"at:{spec} is more than a year ahead")):
            parse_when(spec, now=NOW, zone=LA)


def test_a_picked_time_is_checked_against_the_same_year() -> None:
    check_ahead(NOW + timedelta(days=365), now=NOW, zone=LA)
    with pytest.raises(BadTime, match="2027-11-21 12:01 PST is more than a year ahead; pick a time within 365 days"):
        check_ahead(NOW + timedelta(days=365, minutes=1), now=NOW, zone=LA)
