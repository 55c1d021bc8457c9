"""A draft nobody decides on in time expires: it never goes out, and everyone concerned is told (issue 13, point 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.desk.expiry import MISSED_TIME, duration
from bot.review import State
from bot.runtime.scheduling import EXPIRE
from handlers import digest_render, render
from tests.fakes.slack_api import action_ids, blocks_text
from tests.support.digests import DIGEST, clock_at, fire, tomorrow
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3, REVIEW, Copydesk, MovableClock, eventually
from tests.support.media import PNG

GONE = "it will not be published, and votes on it no longer count."


def thread(bot: Copydesk, number: int) -> list[str]:
    card = bot.draft(number).card_ts
    return [p["text"] for p in bot.slack.posts(REVIEW) if card and p.get("thread_ts") == card]


def expired_events(bot: Copydesk, number: int) -> list[tuple[str, dict]]:
    return [(e.actor, e.detail) for e in bot.ledger.events(number) if e.action == "expired"]


def expire_now(bot: Copydesk, number: int) -> None:
    """The scheduler's expiry job fires now (as a job woken at its time would), and Slack hears what it says."""
    bot.services.scheduler.expire(number, None)
    bot.wait_for_state(number, State.EXPIRED)
    bot.slack_told()


def snapshot(bot: Copydesk, number: int) -> tuple:
    return bot.draft(number), bot.ledger.votes(number), bot.ledger.events(number)


@pytest.mark.parametrize(
    ("hours", "said"), [(2, "2 hours"), (1, "1 hour"), (1.5, "1.5 hours"), (0.5, "30 minutes"), (0.01, "36 seconds")]
)
def test_a_duration_reads_as_people_say_it(hours: float, said: str) -> None:
    assert duration(hours) == said


def test_a_draft_still_in_review_after_its_hours_expires_and_its_card_thread_and_author_are_told(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot({"expire_after_hours": 0.01}, clock=clock)  # 36 seconds
    bot.command(AUTHOR, "at:+1d Nobody gets to this one")
    bot.react(EDITOR_1, "white_check_mark", 1)
    due = bot.services.scheduler.due_at(1, EXPIRE)
    started = bot.ledger.review_started(1)
    assert due is not None and started is not None and due - started == timedelta(seconds=36)

    bot.services.scheduler.expire(1, None)  # woken before its time (clock drift): nothing happens…
    eventually(lambda: bot.services.scheduler.due_at(1, EXPIRE) == due, what="planning the expiry again")
    assert bot.draft(1).state is State.IN_REVIEW and expired_events(bot, 1) == []  # …and it is planned again for its time

    clock.advance(seconds=37)
    expire_now(bot, 1)

    reason = "no decision within 36 seconds of its latest version"
    assert expired_events(bot, 1) == [("copydesk", {"reason": reason, "version": 1})]
    card = bot.slack.updates()[-1]
    assert ":hourglass: Expired" in blocks_text(card)
    assert f"No decision within 36 seconds of its latest version: {GONE}" in blocks_text(card)
    assert f"Votes: Approved by <@{EDITOR_1}>" in blocks_text(card)  # what it had when it ran out
    assert action_ids(card) == set() and "react with" not in blocks_text(card)  # nothing left to press
    assert thread(bot, 1)[-1] == f":hourglass: Expired. No decision within 36 seconds of its latest version: {GONE}"
    assert bot.slack.posts(AUTHOR)[-1]["text"] == (
        f"Your draft #1 for @aplusk expired. No decision within 36 seconds of its latest version: {GONE}"
    )
    assert bot.services.scheduler.due_at(1, EXPIRE) is None and bot.services.scheduler.due_at(1) is None
    assert bot.x.posts == []

    before = snapshot(bot, 1)
    answer = bot.private_answer(bot.command(AUTHOR, "edit #1 Better late than never"))
    assert answer == "#1 is expired; only drafts in review, approved or rejected can be edited."
    assert snapshot(bot, 1) == before


def test_an_edit_or_new_images_start_the_wait_again(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot({"expire_after_hours": 2}, clock=clock)
    bot.command(AUTHOR, "at:+1d First words")
    first = bot.services.scheduler.due_at(1, EXPIRE)
    clock.advance(hours=1.5)
    bot.command(AUTHOR, "edit #1 Second words")
    second = bot.services.scheduler.due_at(1, EXPIRE)
    assert first is not None and second is not None
    assert 5399 < (second - first).total_seconds() < 5401

    clock.advance(hours=1)  # 2.5 hours after the first version, 1 after the second
    bot.desk.expiry.expire(1)  # the first version's job, had it not been replaced: too early for the second
    assert bot.draft(1).state is State.IN_REVIEW and bot.services.scheduler.due_at(1, EXPIRE) == second

    clock.advance(minutes=10)
    bot.share_files(AUTHOR, 1, [bot.slack.add_file("chart.png", PNG)], text="A chart")  # a new version to review
    third = bot.services.scheduler.due_at(1, EXPIRE)
    assert third is not None and 4199 < (third - second).total_seconds() < 4201

    clock.advance(hours=2, seconds=1)
    expire_now(bot, 1)
    assert expired_events(bot, 1) == [("copydesk", {"reason": "no decision within 2 hours of its latest version", "version": 3})]


def test_an_approved_or_vetoed_draft_does_not_expire_and_one_back_in_review_after_its_time_does(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot({"expire_after_hours": 1}, clock=clock)
    bot.command(AUTHOR, "at:+1d Approved in time")
    bot.command(AUTHOR, "at:+1d Vetoed in time")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.react(EDITOR_3, "x", 2)
    assert bot.services.scheduler.due_at(1, EXPIRE) is None and bot.services.scheduler.due_at(2, EXPIRE) is None

    clock.advance(hours=2)
    bot.desk.expiry.expire(1)
    bot.desk.expiry.expire(2)
    assert (bot.draft(1).state, bot.draft(2).state) == (State.APPROVED, State.REJECTED)
    assert bot.services.scheduler.due_at(1) == bot.draft(1).publish_at  # still goes out at its time

    bot.react(EDITOR_2, "white_check_mark", 1, removed=True)  # back in review, its hour long gone: it expires now
    bot.wait_for_state(1, State.EXPIRED)
    assert bot.services.scheduler.due_at(1) is None and bot.x.posts == []


def test_on_missed_time_expire_expires_a_draft_in_review_at_its_publish_time(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot({"on_missed_time": "expire", "expire_after_hours": 10}, clock=clock)
    bot.command(AUTHOR, "at:+2h Lunch special, today only")
    publish_at = bot.draft(1).publish_at
    assert bot.services.scheduler.due_at(1, EXPIRE) == publish_at  # the earlier of the two

    clock.advance(hours=2, seconds=1)
    expire_now(bot, 1)

    assert expired_events(bot, 1) == [("copydesk", {"reason": MISSED_TIME, "version": 1})]
    assert thread(bot, 1)[-1] == f":hourglass: Expired. Its publish time passed while it was still in review: {GONE}"
    assert bot.x.posts == []


def test_on_missed_time_publish_the_default_lets_a_late_approval_go_out(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "at:+2h Better late than never")
    assert bot.services.scheduler.due_at(1, EXPIRE) is None

    clock.advance(hours=2, seconds=1)
    bot.desk.expiry.expire(1)  # nothing expires on this account
    assert bot.draft(1).state is State.IN_REVIEW

    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.wait_for_state(1, State.PUBLISHED)
    assert [p["text"] for p in bot.x.posts] == ["Better late than never"]


def test_a_reaction_or_a_button_on_an_expired_card_is_answered_privately_and_changes_nothing(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot({"expire_after_hours": 1}, clock=clock)
    bot.command(AUTHOR, "at:+1d Too late to vote")
    clock.advance(hours=1, seconds=1)
    expire_now(bot, 1)
    before, updates = snapshot(bot, 1), len(bot.slack.updates())

    bot.react(EDITOR_2, "white_check_mark", 1)
    [note] = bot.slack.ephemerals()
    assert (note["user"], note["channel"]) == (EDITOR_2, REVIEW)
    assert note["text"] == "#1 is already expired; votes no longer change it."

    answer = bot.private_answer(bot.press(EDITOR_3, render.REJECT, 1))
    assert answer == "#1 is already expired; votes no longer change it."

    bot.press(AUTHOR, render.EDIT, 1)
    assert bot.slack.responses()[-1]["text"] == "#1 is expired; only drafts in review, approved or rejected can be edited."
    assert bot.slack.views() == []

    assert snapshot(bot, 1) == before
    assert len(bot.slack.updates()) == updates  # the card is not redrawn: nothing changed


def test_a_restart_plans_expiries_again_and_expires_at_once_what_ran_out_while_down(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot({"expire_after_hours": 1}, clock=clock)
    bot.command(AUTHOR, "at:+1d Written first")
    clock.advance(minutes=30)
    bot.command(AUTHOR, "at:+1d Written later")
    bot.stop()

    clock.advance(minutes=40)  # down meanwhile: #1's hour ran out, #2 has 20 minutes left
    restarted = make_bot({"expire_after_hours": 1}, clock=clock)

    restarted.wait_for_state(1, State.EXPIRED)
    restarted.slack_told()
    assert thread(restarted, 1)[-1].startswith(":hourglass: Expired. No decision within 1 hour")
    assert restarted.slack.posts(AUTHOR)[-1]["text"].startswith("Your draft #1 for @aplusk expired.")
    started = restarted.ledger.review_started(2)
    assert started is not None
    assert restarted.services.scheduler.due_at(2, EXPIRE) == started + timedelta(hours=1)
    assert restarted.draft(2).state is State.IN_REVIEW


def test_the_digest_lists_the_drafts_that_expired(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot({"expire_after_hours": 1}, clock=clock)
    bot.command(AUTHOR, "Nobody decided on this")
    bot.react(EDITOR_1, "white_check_mark", 1)
    clock.advance(hours=1, seconds=1)
    bot.desk.expiry.expire(1)
    assert bot.draft(1).state is State.EXPIRED

    fire(bot, clock)

    [message] = bot.slack.posts(DIGEST)
    shown = blocks_text(message)
    assert "0 withdrawn · 0 retracted · 1 expired · 0 waiting · 0 scheduled" in shown
    assert "*:hourglass: Expired (1)*" in shown
    assert (
        f"by <@{AUTHOR}> · no decision within 1 hour of its latest version; 1 of 2 approvals\n“Nobody decided on this”" in shown
    )
    [report] = bot.desk.digests.digests_so_far(since=clock() - timedelta(days=1))
    printed = digest_render.plain(report)
    assert (
        "Expired (1)" in printed
        and f"    by {AUTHOR} · no decision within 1 hour of its latest version; 1 of 2 approvals" in printed
    )
