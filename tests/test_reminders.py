"""Editors who have not voted hear of a waiting draft once, in its card's thread, after a while."""

from __future__ import annotations

from datetime import timedelta

from bot.runtime.scheduling import REMIND
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3, REVIEW, Copydesk, MovableClock, eventually
from tests.support.media import PNG

SOON = {"reminders": {"after_minutes": 0.005}}  # 0.3 s: the real scheduler fires it during the test


def reminders(bot: Copydesk) -> list[dict]:
    return [p for p in bot.slack.posts(REVIEW) if p.get("thread_ts") and ":bell:" in p["text"]]


def test_the_editors_who_have_not_voted_are_reminded_once_in_the_cards_thread(make_bot) -> None:
    bot = make_bot(top=SOON)
    bot.command(AUTHOR, "at:+1d Still waiting")
    bot.react(EDITOR_1, "white_check_mark", 1)

    bot.slack.wait_for("/api/chat.postMessage", count=2)  # the card, then the reminder

    [reminder] = reminders(bot)
    assert reminder["thread_ts"] == bot.draft(1).card_ts
    assert reminder["text"].startswith(
        f":bell: <@{EDITOR_2}> and <@{EDITOR_3}>: #1 still waits for your vote (1 of 2 approvals)."
    )
    assert [e.detail["editors"] for e in bot.ledger.events(1) if e.action == "reminded"] == [[EDITOR_2, EDITOR_3]]
    assert bot.services.scheduler.due_at(1, REMIND) is None  # once: nothing more is planned

    bot.stop()  # a restart does not remind again
    again = make_bot(top=SOON)
    assert again.services.scheduler.due_at(1, REMIND) is None


def test_a_reminder_waits_its_time_and_skips_drafts_decided_meanwhile(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(top={"reminders": {"after_minutes": 60}}, clock=clock)
    bot.command(AUTHOR, "at:+1d Decided in time")
    due = bot.services.scheduler.due_at(1, REMIND)
    assert due is not None and due - bot.ledger.review_started(1) == timedelta(hours=1)

    bot.services.scheduler.remind(1, None)  # a job woken before its time (clock drift): nothing is said…
    eventually(lambda: bot.services.scheduler.due_at(1, REMIND) == due, what="planning the reminder again")
    assert reminders(bot) == []  # …and it is planned again for its time

    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    clock.advance(hours=2)
    bot.desk.reminders.remind(1)  # approved meanwhile: nobody needs reminding
    assert reminders(bot) == [] and not [e for e in bot.ledger.events(1) if e.action == "reminded"]


def test_an_edit_starts_the_wait_again_and_a_restart_keeps_the_plan(make_bot, tmp_path) -> None:
    clock = MovableClock()
    bot = make_bot(top={"reminders": {"after_minutes": 60}}, clock=clock)
    bot.command(AUTHOR, "at:+1d First version")
    first = bot.services.scheduler.due_at(1, REMIND)
    clock.advance(minutes=30)
    bot.command(AUTHOR, "edit #1 Second version")
    second = bot.services.scheduler.due_at(1, REMIND)
    assert first is not None and second is not None
    assert 1799 < (second - first).total_seconds() < 1801
    clock.advance(minutes=10)
    bot.share_files(AUTHOR, 1, [bot.slack.add_file("chart.png", PNG)], text="A chart")  # new images: a new version to review
    third = bot.services.scheduler.due_at(1, REMIND)
    assert third is not None and 599 < (third - second).total_seconds() < 601
    second = third

    bot.stop()
    restarted = make_bot(top={"reminders": {"after_minutes": 60}}, clock=clock)
    assert restarted.services.scheduler.due_at(1, REMIND) == second

    clock.advance(hours=1)
    restarted.desk.reminders.remind(1)
    restarted.slack_told()
    [reminder] = reminders(restarted)
    assert f"<@{EDITOR_1}>, <@{EDITOR_2}> and <@{EDITOR_3}>" in reminder["text"]


def test_reminders_can_be_turned_off(make_bot) -> None:
    bot = make_bot(top={"reminders": {"after_minutes": 0}})
    bot.command(AUTHOR, "at:+1d Nobody is nagged")
    assert bot.services.scheduler.due_at(1, REMIND) is None
    bot.desk.reminders.remind(1)
    assert reminders(bot) == []


def test_a_job_that_plans_itself_again_leaves_the_scheduler_running_and_stopping_never_hangs(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(top={"reminders": {"after_minutes": 60}}, clock=clock)
    bot.command(AUTHOR, "at:+1d Woken too early")
    due = bot.services.scheduler.due_at(1, REMIND)
    bot.services.scheduler.remind(1, None)  # replaces its own job
    eventually(lambda: bot.services.scheduler.due_at(1, REMIND) == due, what="planning the reminder again")

    clock.advance(hours=1)
    bot.services.scheduler.remind(1, None)  # the loop is alive: this one fires, and reminds

    bot.slack.wait_for("/api/chat.postMessage", count=2)
    assert len(reminders(bot)) == 1
    bot.stop()
    for _ in range(5):  # early again, and copydesk stops while it plans itself again
        again = make_bot(top={"reminders": {"after_minutes": 60}}, clock=clock)
        again.command(AUTHOR, "at:+1d Another")
        again.services.scheduler.remind(again.latest().id, None)
        again.stop()  # APScheduler's own shutdown(wait=True) deadlocked here with the job waiting for its lock
