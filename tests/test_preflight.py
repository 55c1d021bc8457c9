"""Pre-flight notes on the card, from its first drawing: a duplicate, links, mentions, the budget, a rule's hours.

None of them blocks a draft: it stays in review, and the editors can approve it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import preflight
from bot.model import Earlier
from bot.ports import Quota, XLimits
from bot.review import State
from bot.x import read_limits
from tests.fakes.x_api import POSTS_PER_DAY, POSTS_PER_WINDOW
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, Copydesk, MovableClock

ZONE = ZoneInfo("America/Los_Angeles")  # the harness's app.yaml timezone
HEADER = ":mag: *Pre-flight*"


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def published(bot: Copydesk, text: str) -> int:
    """A post that went out: drafted, approved by two editors, on X."""
    bot.command(AUTHOR, text)
    number = bot.latest().id
    approve(bot, number)
    bot.wait_for_state(number, State.PUBLISHED)
    return number


def first_card(bot: Copydesk, number: int) -> dict[str, Any]:
    """The draft's card as Slack first showed it, before anyone could vote on it."""
    return next(
        m for m in bot.slack.top_level(REVIEW) if (m.get("metadata") or {}).get("event_payload", {}).get("draft_id") == number
    )


def notes(message: dict[str, Any]) -> list[str]:
    """The lines of the card's pre-flight notes (none: no such block)."""
    found = [
        e["text"]
        for b in message.get("blocks") or []
        if b["type"] == "context"
        for e in b["elements"]
        if e.get("text", "").startswith(HEADER)
    ]
    assert len(found) <= 1
    return found[0].split("\n")[1:] if found else []


def note(bot: Copydesk, number: int, kind: str) -> str:
    """The one note of this kind (Duplicate, Links, ...) on the draft's first card."""
    [line] = [n for n in notes(first_card(bot, number)) if f"*{kind}" in n]
    return line


def local(day_offset: int, at: time) -> datetime:
    """A wall-clock time in the config's timezone, `day_offset` days from today there."""
    day = datetime.now(ZONE).date() + timedelta(days=day_offset)
    return datetime.combine(day, at, ZONE)


# duplicate


def test_the_words_of_a_post_that_went_out_are_noted_as_a_duplicate_on_the_first_card(bot: Copydesk) -> None:
    first = published(bot, "Big news: we ship today! https://example.com/launch")

    bot.command(AUTHOR, "big   NEWS:  we SHIP today!   example.org/another-link")  # case, spaces and the link differ

    line = note(bot, 2, "Duplicate")
    assert f"as #{first}, which went out <!date^" in line
    assert "X refuses a post that duplicates one of the account's" in line
    assert bot.draft(2).state is State.IN_REVIEW


@pytest.mark.parametrize(("days_later", "noted"), [(29, True), (31, False)], ids=["inside-30-days", "outside-30-days"])
def test_only_a_post_inside_the_duplicate_window_is_a_duplicate(make_bot, days_later: int, noted: bool) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    published(bot, "Same words, a month apart")
    clock.advance(days=days_later)

    bot.command(AUTHOR, "Same words, a month apart ")

    assert any("*Duplicate" in n for n in notes(first_card(bot, 2))) is noted


def test_a_draft_approved_and_scheduled_with_the_same_words_is_a_duplicate_too(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Tomorrow we launch")
    approve(bot, 1)
    assert bot.draft(1).state is State.APPROVED

    bot.command(AUTHOR, "tomorrow we LAUNCH")

    line = note(bot, 2, "Duplicate")
    assert "as #1, approved to go out <!date^" in line


def test_a_post_deleted_from_x_is_no_duplicate(bot: Copydesk) -> None:
    first = published(bot, "Words we took back")
    bot.command(AUTHOR, f"retract {first}")
    bot.wait_for_state(first, State.RETRACTED)

    bot.command(AUTHOR, "Words we took back")

    assert not any("*Duplicate" in n for n in notes(first_card(bot, bot.latest().id)))


# links and mentions


def test_the_domains_linked_are_noted_with_what_a_link_costs(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Read https://www.Example.com/a, news.example.org/b and https://example.com/c")

    line = note(bot, 1, "Links")
    assert "`www.example.com`, `news.example.org`, `example.com`" in line
    assert "X's pay-per-use pricing charges more for a post with a link" in line


def test_who_is_mentioned_is_noted_but_not_an_email_address(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Thanks @alice and @Bob_2 for the help (write to press@example.com)")

    line = note(bot, 1, "Mentions")
    assert "`@alice`, `@Bob_2` on X" in line
    assert "example" not in line


# budget


def test_the_budget_shows_the_posts_of_the_last_day_and_the_limits_x_reported(bot: Copydesk) -> None:
    published(bot, "First post of the day")
    published(bot, "Second post of the day")
    said = bot.x.limit_headers[-1]  # what the fake X sent with its answer to the second post
    assert (said["x-rate-limit-remaining"], said["x-user-limit-24hour-remaining"]) == (
        str(POSTS_PER_WINDOW - 2),
        str(POSTS_PER_DAY - 2),
    )

    bot.command(AUTHOR, "A third one")

    line = note(bot, 3, "Budget")
    assert "@aplusk put 2 post(s) on X in the last 24 hours" in line
    assert (
        f"{POSTS_PER_WINDOW - 2} of {POSTS_PER_WINDOW} left in this 15-minute window (until <!date^{said['x-rate-limit-reset']}^"
        in line
    )
    assert f"{POSTS_PER_DAY - 2} of {POSTS_PER_DAY} left in 24 hours (until <!date^{said['x-user-limit-24hour-reset']}^" in line


def test_a_rate_limited_answer_counts_too(bot: Copydesk) -> None:
    reset = int((datetime.now(UTC) + timedelta(minutes=10)).timestamp())
    bot.x.answer_next(
        429,
        {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
        {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
    )
    bot.command(AUTHOR, "Not now, X says")
    approve(bot, 1)
    bot.x.wait_for("/2/tweets")

    bot.command(AUTHOR, "Another one")

    assert f"0 of 100 left in this 15-minute window (until <!date^{reset}^" in note(bot, 2, "Budget")
    assert bot.draft(1).state is State.APPROVED  # waiting for X's window to reset, as before


# hours


LATE_NIGHT = {"name": "late night", "if": {"hours": "22:00-07:00"}, "then": {"approvals_required": 2}}


@pytest.mark.parametrize(
    ("day", "at", "noted"),
    [(1, time(23, 30), True), (2, time(5, 45), True), (1, time(12, 0), False), (1, time(7, 0), False)],
    ids=["before-midnight", "after-midnight", "midday", "the-end-minute"],
)
def test_a_publish_time_inside_a_rules_hours_is_noted_across_midnight(make_bot, day: int, at: time, noted: bool) -> None:
    bot = make_bot({"rules": [LATE_NIGHT]})
    when = local(day, at)

    bot.command(AUTHOR, f"at:{when.isoformat(timespec='minutes')} Good night, everyone")

    lines = [n for n in notes(first_card(bot, 1)) if "*Hours" in n]
    assert bool(lines) is noted
    if noted:
        assert lines == [
            f":crescent_moon: *Hours:* Its time, {when:%H:%M %Z}, is inside 22:00–07:00, the hours of the rule “late night”."
        ]


def test_a_draft_without_a_time_is_judged_by_now(make_bot) -> None:
    now = datetime.now(ZONE)
    around_now = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
    bot = make_bot({"rules": [{"name": "this hour", "if": {"hours": around_now}, "then": {"approvals_required": 2}}]})

    bot.command(AUTHOR, "As soon as it is approved")

    assert "*Hours:* Now, " in note(bot, 1, "Hours")
    assert "the rule “this hour”" in note(bot, 1, "Hours")


# none, and never blocking


def test_a_draft_with_nothing_to_note_has_no_notes(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Plain words and nothing else")

    assert notes(first_card(bot, 1)) == []
    assert HEADER not in str(bot.slack.updates())


def test_notes_never_block_a_draft_it_stays_in_review_and_can_be_approved(make_bot) -> None:
    now = datetime.now(ZONE)
    around_now = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
    bot = make_bot({"rules": [{"name": "this hour", "if": {"hours": around_now}, "then": {"approvals_required": 2}}]})
    published(bot, "Hello @alice, see https://example.com/one")

    bot.command(AUTHOR, "hello @alice,  see https://example.com/two")

    kinds = [line.split("*")[1].rstrip(":") for line in notes(first_card(bot, 2))]
    assert kinds == ["Duplicate", "Links", "Mentions", "Budget", "Hours"]
    assert bot.draft(2).state is State.IN_REVIEW
    approve(bot, 2)
    assert bot.wait_for_state(2, State.PUBLISHED).state is State.PUBLISHED
    assert bot.x.texts()[-1] == "hello @alice,  see https://example.com/two"
    bot.slack_told()  # the card's last redraw is delivered after the ledger says published
    assert HEADER not in str(bot.slack.updates()[-1].get("blocks"))  # out: the card's notes are done


# the pure parts, without Slack


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Big news today", "big  NEWS\ntoday", True),
        ("See https://a.example.com/x now", "see b.example.org now", True),
        ("Straße", "STRASSE", True),
        ("Big news today", "Big news tomorrow", False),
    ],
)
def test_same_words_ignores_case_spaces_and_links_only(a: str, b: str, same: bool) -> None:
    assert (preflight.same_words(a) == preflight.same_words(b)) is same


def test_a_text_that_is_only_a_link_is_no_duplicate_of_another_link() -> None:
    earlier = [Earlier(1, "https://example.com/a", None, True)]
    assert preflight.duplicate("https://example.com/b", earlier) is None


def test_limits_are_dropped_once_their_window_has_reset() -> None:
    now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    limits = XLimits(Quota(3, now - timedelta(seconds=1), 100), Quota(40, now + timedelta(hours=5), 100))
    assert preflight.budget(0, limits, now) == preflight.Budget(0, None, limits.day)
    assert preflight.budget(0, XLimits(limits.window, None), now) is None


def test_the_x_adapter_reads_the_rate_limit_headers_and_keeps_what_an_answer_leaves_out() -> None:
    first = read_limits(
        {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "97",
            "x-rate-limit-reset": "1772539200",
            "x-user-limit-24hour-remaining": "15",
            "x-user-limit-24hour-reset": "1772600000",
        }
    )
    assert first == XLimits(
        Quota(97, datetime.fromtimestamp(1772539200, UTC), 100), Quota(15, datetime.fromtimestamp(1772600000, UTC), None)
    )
    later = read_limits({"x-rate-limit-remaining": "96", "x-rate-limit-reset": "1772539200"}, first)
    assert later == XLimits(Quota(96, datetime.fromtimestamp(1772539200, UTC), None), first.day)
    assert read_limits({}, None) is None
