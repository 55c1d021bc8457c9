"""The weekly report: its week, what it says, its chart reaching Slack, and never twice across a restart."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.chart import PNG_SIGNATURE
from bot.config import Config, load_config
from bot.digest import TOP
from bot.errors import ConfigError
from bot.model import Counts, Engagement
from bot.review import State
from bot.weekly import latest_weekly_due, next_weekly_due, week_before, weekly_scopes, weeks_owed
from storage import Ledger
from tests.fakes.slack_api import blocks_text
from tests.fakes.x_api import X_ENV
from tests.support.digests import DIGEST, LA, clock_at, fire_weekly, move, utc
from tests.support.harness import (
    AUTHOR,
    BASE_CONFIG,
    EDITOR_1,
    EDITOR_2,
    EDITOR_3,
    Copydesk,
    MovableClock,
    eventually,
    write_config,
)
from tests.support.ledger_file import peek
from tests.test_digest import run_cli

WEEKLY = {"digest": {"channel": DIGEST, "at": "18:00", "weekly": {"day": "monday", "at": "09:00"}}}


def monday(weeks: int = 0) -> date:
    """A Monday at least a day ahead of the wall clock (so nothing planned from it fires early), `weeks` later."""
    day = datetime.now(LA).date() + timedelta(days=1)
    return day + timedelta(days=(-day.weekday()) % 7 + 7 * weeks)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return utc(datetime.combine(day, time(hour, minute), tzinfo=LA).isoformat())


def reports(slack: Any, channel: str = DIGEST) -> list[dict[str, Any]]:
    """The weekly reports' messages in the channel, as Slack keeps them."""
    return [
        m
        for m in slack.top_level(channel)
        if (m.get("metadata") or {}).get("event_payload", {}).get("kind", "").startswith("weekly")
    ]


def weekly_config(tmp_path: Path, environ: dict[str, str]) -> Config:
    return load_config(write_config(tmp_path / "app.yaml", top=WEEKLY), environ)


# when it is due: pure functions


@pytest.mark.parametrize(
    ("now", "weekday", "at", "latest", "next_"),
    [
        # Monday 09:00 in Los Angeles; Nov 23 2026 is a Monday
        ("2026-11-23T09:00-08:00", 0, "09:00", "2026-11-23T09:00-08:00", "2026-11-30T09:00-08:00"),  # at its time: due
        ("2026-11-23T08:59-08:00", 0, "09:00", "2026-11-16T09:00-08:00", "2026-11-23T09:00-08:00"),
        ("2026-11-26T12:00-08:00", 0, "09:00", "2026-11-23T09:00-08:00", "2026-11-30T09:00-08:00"),
        ("2026-11-22T23:00-08:00", 6, "22:30", "2026-11-22T22:30-08:00", "2026-11-29T22:30-08:00"),  # Sundays
        ("2026-03-09T08:00-07:00", 0, "09:00", "2026-03-02T09:00-08:00", "2026-03-09T09:00-07:00"),  # the week of spring forward
    ],
)
def test_the_weekly_report_time(now: str, weekday: int, at: str, latest: str, next_: str) -> None:
    hour, minute = map(int, at.split(":"))
    assert latest_weekly_due(utc(now), weekday, time(hour, minute), LA)[1] == utc(latest)
    assert next_weekly_due(utc(now), weekday, time(hour, minute), LA)[1] == utc(next_)
    assert next_weekly_due(utc(now), weekday, time(hour, minute), LA)[0].weekday() == weekday


@pytest.mark.parametrize(
    ("latest", "sent", "owed"),
    [
        ("2026-11-30", [], ["2026-11-30"]),  # never sent: the latest only
        ("2026-11-30", ["2026-11-30"], []),
        ("2026-11-30", ["2026-11-23"], ["2026-11-30"]),
        ("2026-11-30", ["2026-11-09"], ["2026-11-16", "2026-11-23", "2026-11-30"]),
        ("2026-11-30", ["2026-10-05"], ["2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30"]),  # a month at most
        ("2026-11-30", ["2026-11-02", "2026-11-16"], ["2026-11-23", "2026-11-30"]),  # the 9th, left behind, is not owed
        ("2026-11-27", ["2026-11-23"], ["2026-11-27"]),  # the day moved from Monday to Friday
        ("2026-11-27", ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"], ["2026-11-27"]),  # four Mondays before
        ("2026-11-21", ["2026-11-16", "2026-11-23"], []),  # moved to Saturday after a Monday report went out
    ],
)
def test_the_weeks_owed_are_those_of_the_last_month_after_the_last_one_sent(
    latest: str, sent: list[str], owed: list[str]
) -> None:
    assert weeks_owed(date.fromisoformat(latest), {date.fromisoformat(d) for d in sent}) == [date.fromisoformat(d) for d in owed]


def test_the_week_is_the_seven_whole_local_days_before_the_report() -> None:
    assert week_before(date(2026, 11, 23), LA) == (utc("2026-11-16T00:00-08:00"), utc("2026-11-23T00:00-08:00"))
    start, end = week_before(date(2026, 3, 9), LA)  # the clocks spring forward on Sunday Mar 8: a week of 167 hours
    assert (start, end) == (utc("2026-03-02T00:00-08:00"), utc("2026-03-09T00:00-07:00"))
    assert end - start == timedelta(hours=167)


# settings


def load(tmp_path: Path, data: dict) -> Config:
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path, {"SLACK_BOT_TOKEN": "xoxb-x", **X_ENV})


def with_weekly(weekly: Any, account_digest: dict | None = None) -> dict:
    data = json.loads(json.dumps(BASE_CONFIG))
    data["digest"]["weekly"] = weekly
    data["accounts"]["news"] = {**data["accounts"]["main"], "handle": "news"}
    if account_digest is not None:
        data["accounts"]["main"]["digest"] = account_digest
    return data


def test_weekly_settings_default_inherit_and_can_be_left_out(tmp_path: Path) -> None:
    [top] = weekly_scopes(load(tmp_path, with_weekly({})))
    assert (top.key, top.channel, top.day_name, top.at, top.accounts) == (TOP, DIGEST, "monday", time(9, 0), ("main", "news"))
    scopes = weekly_scopes(load(tmp_path, with_weekly({"day": "Friday", "at": "16:30"}, {"channel": "C0MAINDIG1"})))
    assert [(s.key, s.channel, s.day_name, s.at, s.accounts) for s in scopes] == [
        (TOP, DIGEST, "friday", time(16, 30), ("news",)),
        ("main", "C0MAINDIG1", "friday", time(16, 30), ("main",)),  # its own digest takes the top-level weekly
    ]
    own = weekly_scopes(load(tmp_path, with_weekly({"day": "friday"}, {"channel": "C0MAINDIG1", "weekly": {"at": "07:00"}})))
    assert [(s.key, s.day_name, s.at) for s in own] == [(TOP, "friday", time(9, 0)), ("main", "friday", time(7, 0))]
    off = weekly_scopes(load(tmp_path, with_weekly({}, {"channel": "C0MAINDIG1", "weekly": None})))
    assert [s.key for s in off] == [TOP]
    assert weekly_scopes(load(tmp_path, BASE_CONFIG)) == []  # no digest.weekly: no weekly report


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ({"day": "funday"}, "digest.weekly.day 'funday' is not a day of the week (monday … sunday)"),
        ({"day": 1}, "digest.weekly.day 1 is not a day of the week"),
        ({"at": "9am"}, "digest.weekly.at '9am' is not a time of day"),
        ("monday", "digest.weekly must be a mapping"),
        ({"hour": "09:00"}, "unknown key 'digest.weekly.hour'"),
    ],
)
def test_a_bad_weekly_setting_is_named(tmp_path: Path, weekly: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load(tmp_path, with_weekly(weekly))


def test_a_bad_weekly_setting_of_an_account_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"accounts\.main\.digest\.weekly\.day 'someday' is not a day of the week"):
        load(tmp_path, with_weekly({}, {"weekly": {"day": "someday"}}))


# the week in Slack


def publish(bot: Copydesk, author: str, text: str, approvers: tuple[str, str]) -> int:
    """A post written by `author`, approved by two editors, out on X now (by the desk's clock)."""
    bot.command(author, text)
    number = bot.latest().id
    for editor in approvers:
        bot.react(editor, "white_check_mark", number)
    bot.wait_for_state(number, State.PUBLISHED)
    return number


def counts(bot: Copydesk, number: int, likes: int, reposts: int, replies: int, quotes: int, impressions: int | None) -> None:
    """What a reading of X's public_metrics leaves in the ledger for the post (the engagement reader's verb)."""
    [out] = [p for p in bot.ledger.publications(number) if p.outcome == "published"]
    bot.ledger.record_engagement(
        [Engagement(out.id, number, "x", bot.desk.core.clock(), Counts(likes, reposts, replies, quotes, impressions))]
    )


def a_week(bot: Copydesk, clock: MovableClock, week: date) -> dict[str, int]:
    """Monday: one post; Wednesday: two (one never read); Thursday: one; the report's own morning: one, for next week."""
    move(clock, local(week, 10))
    launch = publish(bot, AUTHOR, "Launch day & we are live 🚀", (EDITOR_1, EDITOR_2))
    counts(bot, launch, 10, 2, 1, 0, 500)
    move(clock, local(week + timedelta(days=2), 10))
    thanks = publish(bot, AUTHOR, "Thank you for a wonderful launch", (EDITOR_1, EDITOR_3))
    counts(bot, thanks, 30, 5, 4, 1, 2000)
    move(clock, local(week + timedelta(days=2), 15))
    unread = publish(bot, EDITOR_3, "Behind the scenes", (EDITOR_1, EDITOR_2))
    move(clock, local(week + timedelta(days=3), 10))
    small = publish(bot, AUTHOR, "A quiet update", (EDITOR_1, EDITOR_2))
    counts(bot, small, 3, 0, 0, 0, None)
    move(clock, local(week + timedelta(days=7), 8))
    later = publish(bot, AUTHOR, "Monday morning, before the report", (EDITOR_1, EDITOR_2))
    return {"launch": launch, "thanks": thanks, "unread": unread, "small": small, "later": later}


def test_the_weekly_report_says_the_week_and_its_chart_reaches_slack(make_bot) -> None:
    week = monday(1)
    clock = clock_at(local(week, 9, 30))
    bot = make_bot(clock=clock, top=WEEKLY)
    posts = a_week(bot, clock, week)

    due = fire_weekly(bot, clock)

    assert due == local(week + timedelta(days=7), 9)
    [message] = reports(bot.slack)
    shown = blocks_text(message)
    day = week + timedelta(days=7)
    assert shown.startswith(f"Weekly report · {day:%a, %b} {day.day} · @aplusk")
    first, last = week, week + timedelta(days=6)
    assert f"{first:%a %b} {first.day} – {last:%a %b} {last.day} · 4 posts · 56 interactions · 2,500 impressions" in shown
    table = shown[shown.index("```") :]
    assert f"{week:%a %b} {week.day:<2}      1            13          500" in table
    assert f"{week + timedelta(days=1):%a %b} {(week + timedelta(days=1)).day:<2}      0             0            —" in table
    wednesday = week + timedelta(days=2)
    assert f"{wednesday:%a %b} {wednesday.day:<2}      2            40        2,000" in table  # the unread one adds 0
    thursday = week + timedelta(days=3)
    assert f"{thursday:%a %b} {thursday.day:<2}      1             3            —" in table
    assert "Monday morning, before the report" not in shown  # next week's
    # the top 3, by interactions, each with its link; the post never read is not ranked
    links = {n: bot.ledger.publications(n)[-1].url for n in posts.values()}
    top = shown[shown.index("Top posts") :]
    assert top.index(f"1. #{posts['thanks']} @aplusk · on <{links[posts['thanks']]}|X>") < top.index(
        f"2. #{posts['launch']} @aplusk · on <{links[posts['launch']]}|X>"
    )
    assert f"3. #{posts['small']} @aplusk" in top and f"#{posts['unread']} " not in top
    assert "40 interactions: 30 likes, 5 reposts, 4 replies, 1 quotes · 2,000 impressions" in top
    assert "“Thank you for a wonderful launch”" in top
    assert f"Wrote most: <@{AUTHOR}> (3 posts), <@{EDITOR_3}> (1 post)" in shown
    assert f"Approved most: <@{EDITOR_1}> (4 approvals), <@{EDITOR_2}> (3 approvals), <@{EDITOR_3}> (1 approval)" in shown
    assert "could not be attached" not in shown
    # the plain text says it all too, for notifications and clients without images
    assert message["text"].startswith("Weekly report · ") and "Launch day &amp; we are live" in message["text"]
    assert f"{wednesday:%a %b} {wednesday.day:<2}      2            40        2,000" in message["text"]
    assert message["metadata"] == {
        "event_type": "copydesk_digest",
        "event_payload": {"scope": "*", "kind": "weekly", "day": day.isoformat()},
    }
    # the chart: files_upload_v2's three steps, a PNG of a fixed size, shared in the channel right under the report
    [chart] = bot.slack.uploaded()
    assert [c.path for c in bot.slack.calls() if c.path.startswith(("/api/files.", "/upload/"))] == [
        "/api/files.getUploadURLExternal",
        f"/upload/v1/{chart['id']}",
        "/api/files.completeUploadExternal",
    ]
    png = chart["bytes"]
    assert png.startswith(PNG_SIGNATURE) and chart["file"]["mimetype"] == "image/png"
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (800, 400)  # its IHDR: always the same
    assert chart["channel"] == DIGEST and chart["thread_ts"] is None
    assert chart["file"]["name"] == f"copydesk-week-{last.isoformat()}.png"
    assert "Wed 2 posts, 40" in chart["file"]["alt_txt"]
    shared = bot.slack.top_level(DIGEST)[-1]
    assert shared["files"][0]["id"] == chart["id"] and shared["text"].startswith(":bar_chart: Posts and engagement per day")
    assert float(shared["ts"]) > float(message["ts"])
    # recorded once, for its day and its week; a second firing sends nothing more
    [record] = [d for d in bot.ledger.digests() if d.kind == "weekly"]
    assert (record.day, record.outcome, record.message_ts) == (day, "sent", message["ts"])
    assert (record.window_start, record.window_end) == week_before(day, LA)
    bot.desk.weekly.run_weekly(TOP)
    assert len(reports(bot.slack)) == 1 and len(bot.slack.uploaded()) == 1
    assert bot.services.scheduler.weekly_due_at(TOP) == local(day + timedelta(days=7), 9)


def test_a_week_without_counts_says_they_are_missing(make_bot) -> None:
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=4), 10))
    bot = make_bot(clock=clock, top=WEEKLY)
    publish(bot, AUTHOR, "Nobody has read my counts", (EDITOR_1, EDITOR_2))

    fire_weekly(bot, clock)

    [message] = reports(bot.slack)
    shown = blocks_text(message)
    assert "1 post · 0 interactions" in shown and "impressions" not in shown.split("\n")[1]
    assert "counts not read yet" in shown
    assert "No engagement counts were read for this week's posts yet" in shown
    assert "None ranked: no counts were read for these posts yet." in shown


def test_a_post_taken_back_is_neither_ranked_nor_linked(make_bot) -> None:
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=1), 10))
    bot = make_bot(clock=clock, top=WEEKLY)
    oops = publish(bot, AUTHOR, "Oops, wrong price: 10 dollars", (EDITOR_1, EDITOR_2))
    counts(bot, oops, 800, 20, 10, 0, 9000)  # read by a digest before it was taken back
    gone = bot.ledger.publications(oops)[-1].url
    bot.command(AUTHOR, f"retract #{oops}")
    assert bot.draft(oops).state is State.RETRACTED
    fine = publish(bot, AUTHOR, "The right price: 100 dollars", (EDITOR_1, EDITOR_2))
    counts(bot, fine, 3, 0, 0, 0, 100)

    fire_weekly(bot, clock)

    shown = blocks_text(reports(bot.slack)[0])
    top = shown[shown.index("Top posts") :]
    assert f"1. #{fine} @aplusk" in top and f"#{oops} " not in top and "wrong price" not in top
    assert gone not in shown


def test_a_week_whose_only_post_was_taken_back_says_why_none_is_ranked(make_bot) -> None:
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=1), 10))
    bot = make_bot(clock=clock, top=WEEKLY)
    oops = publish(bot, AUTHOR, "Oops, wrong price", (EDITOR_1, EDITOR_2))
    counts(bot, oops, 800, 20, 10, 0, 9000)
    bot.command(AUTHOR, f"retract #{oops}")

    fire_weekly(bot, clock)

    shown = blocks_text(reports(bot.slack)[0])
    assert "None ranked: the posts whose counts were read were taken back or deleted since." in shown
    assert "no counts were read" not in shown


def test_approved_most_counts_the_approvals_a_post_went_out_with_not_todays_votes(make_bot) -> None:
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=1), 10))
    bot = make_bot(clock=clock, top=WEEKLY)
    forbidden = {"title": "Forbidden", "detail": "You are not permitted to perform this action.", "type": "about:blank"}
    bot.x.answer_for(
        "Two: the details", 403, {**forbidden, "status": 403}
    )  # part 2 is refused: the thread stops with part 1 live
    bot.command(AUTHOR, "One: the news\n---\nTwo: the details\n---\nThree: the end")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.wait_for_state(1, State.FAILED)
    bot.react(EDITOR_1, "white_check_mark", 1, removed=True)  # taken back after part 1 went out

    fire_weekly(bot, clock)

    shown = blocks_text(reports(bot.slack)[0])
    assert f"Approved most: <@{EDITOR_1}> (1 approval), <@{EDITOR_2}> (1 approval)" in shown


def test_the_scheduler_itself_fires_the_weekly_report_at_its_time(make_bot) -> None:
    due = local(monday(1), 9)
    clock = clock_at(due - timedelta(seconds=1))
    bot = make_bot(clock=clock, top=WEEKLY)

    eventually(lambda: len(reports(bot.slack)) == 1, what="the weekly report")
    eventually(lambda: bot.services.scheduler.weekly_due_at(TOP) == due + timedelta(days=7), what="the next week's job")

    [call] = [c for c in bot.slack.calls("/api/chat.postMessage") if c.body.get("channel") == DIGEST]
    assert datetime.fromtimestamp(call.at, LA) + clock.offset >= due - timedelta(milliseconds=50)  # not before its time
    assert "Nothing went out this week." in blocks_text(reports(bot.slack)[0])
    eventually(lambda: len(bot.slack.uploaded()) == 1, what="the chart")


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("upload", "the upload failed with HTTP 500"),
        ("url", "Slack said ratelimited"),
        ("complete", "Slack said internal_error"),
    ],
)
def test_a_chart_slack_will_not_take_leaves_the_report_saying_so(make_bot, fault: str, problem: str) -> None:
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=1), 10))
    bot = make_bot(clock=clock, top=WEEKLY)
    publish(bot, AUTHOR, "Out on Tuesday", (EDITOR_1, EDITOR_2))
    if fault == "upload":
        bot.slack.upload_refused = 500
    elif fault == "url":
        bot.slack.failures["files.getUploadURLExternal"] = "ratelimited"
    else:
        bot.slack.failures["files.completeUploadExternal"] = "internal_error"

    fire_weekly(bot, clock)

    [message] = reports(bot.slack)  # as it stands in the channel, after the note was added
    shown = blocks_text(message)
    assert "· 1 post · 0 interactions" in shown and "counts not read yet" in shown
    assert f"The chart could not be attached ({problem}); the table shows everything it would." in shown
    assert "The chart could not be attached" in message["text"]
    assert bot.slack.uploaded() == []
    [record] = [d for d in bot.ledger.digests() if d.kind == "weekly"]
    assert (record.outcome, record.message_ts) == ("sent", message["ts"])


def test_slack_refusing_the_report_is_retried_and_it_goes_out_once(make_bot) -> None:
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=1), 10))
    bot = make_bot(clock=clock, top=WEEKLY)
    bot.slack.failures["chat.postMessage"] = "not_in_channel"

    due = fire_weekly(bot, clock)

    [record] = [d for d in bot.ledger.digests() if d.kind == "weekly"]
    assert (record.outcome, record.error) == ("failed", f"Slack refused the weekly report in {DIGEST}: not_in_channel")
    retry = bot.services.scheduler.weekly_due_at(TOP)
    assert retry is not None and timedelta(minutes=9) < retry - due < timedelta(minutes=11)
    assert bot.slack.uploaded() == []  # no chart under a report that is not there
    del bot.slack.failures["chat.postMessage"]
    fire_weekly(bot, clock)
    bot.desk.weekly.run_weekly(TOP)

    assert len(reports(bot.slack)) == 1 and len(bot.slack.uploaded()) == 1
    assert [(d.outcome, d.day) for d in bot.ledger.digests() if d.kind == "weekly"] == [("sent", due.astimezone(LA).date())]


def out_on_tuesday_then_an_answer_lost(make_bot, method: str, fault: str) -> tuple[Copydesk, MovableClock]:
    """A week with a post out on Tuesday; then Slack does `method`'s work and answers 500, or drops the answer."""
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=1), 10))
    bot = make_bot(clock=clock, top=WEEKLY)
    publish(bot, AUTHOR, "Out on Tuesday", (EDITOR_1, EDITOR_2))
    if fault == "HTTP 500":
        bot.slack.fail_after_success(method, 500)
    else:
        bot.slack.drop_after_success(method)
    return bot, clock


@pytest.mark.parametrize("fault", ["HTTP 500", "dropped"])
def test_a_report_slack_took_without_a_proper_answer_is_found_and_gets_its_chart_once(make_bot, fault: str) -> None:
    bot, clock = out_on_tuesday_then_an_answer_lost(make_bot, "chat.postMessage", fault)

    due = fire_weekly(bot, clock)

    [message] = reports(bot.slack)  # Slack has it: nothing sent it again
    assert [(d.outcome, d.message_ts) for d in bot.ledger.digests() if d.kind == "weekly"] == [("sending", None)]
    retry = bot.services.scheduler.weekly_due_at(TOP)
    assert retry is not None and timedelta(minutes=9) < retry - due < timedelta(minutes=11)
    assert bot.slack.uploaded() == []
    fire_weekly(bot, clock)  # the retry finds it in the channel, and gives it its chart
    bot.desk.weekly.run_weekly(TOP)

    assert reports(bot.slack) == [message] and " · 1 post · " in blocks_text(message)
    [chart] = bot.slack.uploaded()
    assert chart["channel"] == DIGEST and float(bot.slack.top_level(DIGEST)[-1]["ts"]) > float(message["ts"])
    [record] = [d for d in bot.ledger.digests() if d.kind == "weekly"]
    assert (record.outcome, record.message_ts, record.day) == ("sent", message["ts"], due.astimezone(LA).date())
    assert bot.services.scheduler.weekly_due_at(TOP) == due + timedelta(days=7)


@pytest.mark.parametrize("fault", ["HTTP 500", "dropped"])
def test_a_chart_slack_shared_without_a_proper_answer_is_not_called_missing(make_bot, fault: str) -> None:
    bot, clock = out_on_tuesday_then_an_answer_lost(make_bot, "files.completeUploadExternal", fault)

    fire_weekly(bot, clock)

    [message] = reports(bot.slack)
    assert "could not be attached" not in blocks_text(message) and "could not be attached" not in message["text"]
    assert [u for u in bot.slack.updates() if u["channel"] == DIGEST] == []
    [chart] = bot.slack.uploaded()
    assert len(bot.slack.calls("/api/files.completeUploadExternal")) == 1  # shared once, and not asked again
    assert chart["channel"] == DIGEST and chart["file"]["name"].startswith("copydesk-week-")
    [record] = [d for d in bot.ledger.digests() if d.kind == "weekly"]
    assert (record.outcome, record.message_ts) == ("sent", message["ts"])


def test_a_chart_slack_is_still_sharing_when_its_answer_is_lost_is_found_a_moment_later(make_bot) -> None:
    bot, clock = out_on_tuesday_then_an_answer_lost(make_bot, "files.completeUploadExternal", "HTTP 500")
    bot.slack.hold_shares()  # as Slack does, the share shows in the channel a moment after the upload completes
    looked = len(bot.slack.calls("/api/conversations.history"))

    def shown_once_looked_for() -> None:  # it shows right after copydesk first looked for it, and did not find it
        def looked_under_the_report() -> bool:  # the chart's search reads from the report's ts on
            return any(c.body.get("oldest") for c in bot.slack.calls("/api/conversations.history")[looked:])

        eventually(looked_under_the_report, what="a look for the chart")
        bot.slack.release_shares()

    sharing = threading.Thread(target=shown_once_looked_for, daemon=True)
    sharing.start()
    fire_weekly(bot, clock)
    sharing.join(10)

    [message] = reports(bot.slack)
    assert "could not be attached" not in blocks_text(message)
    assert [u for u in bot.slack.updates() if u["channel"] == DIGEST] == []
    assert len(bot.slack.uploaded()) == 1 and len(bot.slack.calls("/api/files.completeUploadExternal")) == 1


def test_a_chart_whose_upload_lost_its_answer_and_is_not_there_is_called_missing(make_bot) -> None:
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=1), 10))
    bot = make_bot(clock=clock, top=WEEKLY)
    bot.slack.fail_next("files.completeUploadExternal", 503)  # before Slack shared anything

    fire_weekly(bot, clock)

    [message] = reports(bot.slack)
    assert "The chart could not be attached (Slack said internal_error)" in blocks_text(message)
    assert bot.slack.uploaded() == []


# restarts


def test_a_restart_after_the_report_went_does_not_send_it_again(tmp_path: Path, environ, slack, x) -> None:
    config = weekly_config(tmp_path, environ)
    clock = clock_at(local(monday(1), 8))
    first = Copydesk(config, slack, x, clock=clock).start()
    due = fire_weekly(first, clock)
    first.stop()

    second = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert len(reports(slack)) == 1 and len(slack.uploaded()) == 1
        assert second.services.scheduler.weekly_due_at(TOP) == due + timedelta(days=7)
    finally:
        second.stop()


def test_a_report_due_while_down_is_sent_once_on_start(tmp_path: Path, environ, slack, x) -> None:
    config = weekly_config(tmp_path, environ)
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=2), 10))
    first = Copydesk(config, slack, x, clock=clock).start()
    counts(first, publish(first, AUTHOR, "Out before the outage", (EDITOR_1, EDITOR_2)), 5, 0, 0, 0, None)
    first.stop()

    move(clock, local(week + timedelta(days=8), 12))  # down from Wednesday until Tuesday noon, through Monday 09:00
    third = started_twice(config, slack, x, clock)
    try:
        [message] = reports(slack)
        assert "Out before the outage" in blocks_text(message)
        assert [(d.day, d.outcome) for d in third.ledger.digests() if d.kind == "weekly"] == [(week + timedelta(days=7), "sent")]
        assert len(slack.uploaded()) == 1
        assert third.services.scheduler.weekly_due_at(TOP) == local(week + timedelta(days=14), 9)
    finally:
        third.stop()


def test_each_week_missed_during_a_long_outage_gets_its_report_once_on_start(tmp_path: Path, environ, slack, x) -> None:
    config = weekly_config(tmp_path, environ)
    clock = clock_at(local(monday(1), 8))
    week = three_weeks_down(config, slack, x, clock)
    third = started_twice(config, slack, x, clock)
    try:
        weeks = weekly_outcomes(third)
        assert weeks == caught_up_after(week)
        on_time, caught_up, latest = reports(slack)
        assert " · 1 post · " in blocks_text(caught_up)  # the one that went out the day before the outage
        assert caught_up["metadata"]["event_payload"]["day"] == (week + timedelta(days=7)).isoformat()
        assert latest["metadata"]["event_payload"]["day"] == (week + timedelta(days=21)).isoformat()
        assert " · 0 posts" in blocks_text(latest)
        assert len(slack.uploaded()) == 3
        assert third.services.scheduler.weekly_due_at(TOP) == local(week + timedelta(days=28), 9)
    finally:
        third.stop()


def test_missed_weeks_slack_refuses_are_all_tried_again_in_order(tmp_path: Path, environ, slack, x) -> None:
    config = weekly_config(tmp_path, environ)
    clock = clock_at(local(monday(1), 8))
    week = three_weeks_down(config, slack, x, clock)
    slack.failures["chat.postMessage"] = "not_in_channel"
    bot = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert weekly_outcomes(bot) == {
            week: "sent",
            week + timedelta(days=7): "failed",
            week + timedelta(days=14): "skipped",  # nothing to post: Slack was not asked
            week + timedelta(days=21): "failed",
        }
        del slack.failures["chat.postMessage"]
        fire_weekly(bot, clock)  # the retry, ten minutes on

        assert weekly_outcomes(bot) == caught_up_after(week)
        assert [r["metadata"]["event_payload"]["day"] for r in reports(slack)] == [
            (week + timedelta(days=n)).isoformat() for n in (0, 7, 21)
        ]
    finally:
        bot.stop()


def test_a_missed_week_that_can_never_be_checked_does_not_hold_the_later_ones(tmp_path: Path, environ, slack, x, caplog) -> None:
    config = weekly_config(tmp_path, environ)
    clock = clock_at(local(monday(1), 8))
    week = three_weeks_down(config, slack, x, clock)
    stuck = week + timedelta(days=7)
    bot = Copydesk(config, slack, x, clock=clock)
    start, end = week_before(stuck, LA)
    bot.ledger.claim_digest(scope=TOP, day=stuck, start=start, end=end, channel=DIGEST, at=clock(), kind="weekly")
    slack.failures["conversations.history"] = "missing_scope"  # whether the claimed one went out cannot be told
    bot.start()
    try:
        assert weekly_outcomes(bot) == {
            week: "sent",
            stuck: "sending",  # not posted blind: it may be in the channel
            week + timedelta(days=14): "skipped",
            week + timedelta(days=21): "sent",
        }
        assert [r["metadata"]["event_payload"]["day"] for r in reports(slack)] == [
            (week + timedelta(days=n)).isoformat() for n in (0, 21)
        ]
        retry = bot.services.scheduler.weekly_due_at(TOP)
        assert retry is not None and retry - clock() < timedelta(minutes=11)  # the round failed: it is tried again
        assert f"Slack could not show {DIGEST}'s history (missing_scope) to tell whether the weekly report went out" in (
            caplog.text
        )
        fire_weekly(bot, clock)  # the retry: the week left behind by a later one that went out is owed no more
        assert len(reports(slack)) == 2 and bot.ledger.weekly_digest(TOP, stuck).outcome == "sending"
        assert bot.services.scheduler.weekly_due_at(TOP) == local(week + timedelta(days=28), 9)
    finally:
        bot.stop()


def test_a_stop_during_the_backlog_sends_no_further_week_and_the_next_start_sends_them(tmp_path: Path, environ, slack, x) -> None:
    config = weekly_config(tmp_path, environ)
    clock = clock_at(local(monday(1), 8))
    week = three_weeks_down(config, slack, x, clock)
    bot = Copydesk(config, slack, x, clock=clock)
    stopped_after_one = lambda: len(reports(slack)) >= 2  # noqa: E731  (SIGTERM as the first missed week went out)
    bot.desk.weekly.start_weekly(stopped_after_one)
    assert weekly_outcomes(bot) == {week: "sent", week + timedelta(days=7): "sent"}
    bot.stop()

    again = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert weekly_outcomes(again) == caught_up_after(week)
    finally:
        again.stop()


def test_a_stop_while_the_missed_digest_goes_out_begins_no_weekly_report(tmp_path: Path, environ, slack, x) -> None:
    config = weekly_config(tmp_path, environ)
    clock = clock_at(local(monday(1), 8))
    week = three_weeks_down(config, slack, x, clock)
    bot = Copydesk(config, slack, x, clock=clock)
    to_digest = lambda body: body.get("channel") == DIGEST  # noqa: E731
    slack.hold_next("chat.postMessage", when=to_digest)  # the missed daily digest, caught up first, waits for Slack
    bot.services.start(catch_up_aside=True)  # as copydesk run starts
    eventually(lambda: slack.holding() == 1, what="the digest held at Slack")
    stopping = threading.Thread(target=bot.stop)  # SIGTERM now, while Slack has not answered the digest
    stopping.start()
    eventually(bot.services.stopping.is_set, what="the stop under way")
    slack.release()
    stopping.join(30)

    assert not stopping.is_alive()
    ledger = Ledger.open_readonly(config.db_path)
    try:
        assert {d.day: d.outcome for d in ledger.digests() if d.kind == "weekly"} == {week: "sent"}  # none begun
    finally:
        ledger.close()
    assert len(reports(slack)) == 1


def caught_up_after(week: date) -> dict[date, str]:
    """The weekly outcomes once three_weeks_down's outage is caught up: week 1 with its post sent, week 2 (nothing
    went out while copydesk was down) skipped, and the latest sent as ever, even empty."""
    return {
        week: "sent",
        week + timedelta(days=7): "sent",
        week + timedelta(days=14): "skipped",
        week + timedelta(days=21): "sent",
    }


def started_twice(config: Config, slack: Any, x: Any, clock: MovableClock) -> Copydesk:
    """copydesk started, stopped, and started again: whatever is owed on start goes once, not once per start."""
    Copydesk(config, slack, x, clock=clock).start().stop()
    return Copydesk(config, slack, x, clock=clock).start()


def weekly_outcomes(bot: Copydesk) -> dict[date, str]:
    """Each weekly report claimed in the ledger: its day, and how it ended."""
    return {d.day: d.outcome for d in bot.ledger.digests() if d.kind == "weekly"}


def three_weeks_down(config: Config, slack: Any, x: Any, clock: MovableClock) -> date:
    """A report sent on time on Monday, a post on Tuesday, then copydesk down until Wednesday three weeks on."""
    week = clock().astimezone(LA).date()
    first = Copydesk(config, slack, x, clock=clock).start()
    fire_weekly(first, clock)
    move(clock, local(week + timedelta(days=1), 10))
    publish(first, AUTHOR, "Out the day before the outage", (EDITOR_1, EDITOR_2))
    first.stop()
    move(clock, local(week + timedelta(days=23), 12))
    return week


def test_a_report_moved_to_another_weekday_counts_no_day_twice(tmp_path: Path, environ, slack, x) -> None:
    week = monday(1)
    clock = clock_at(local(week - timedelta(days=2), 10))  # the Saturday before
    first = Copydesk(weekly_config(tmp_path, environ), slack, x, clock=clock).start()
    publish(first, AUTHOR, "Saturday's post", (EDITOR_1, EDITOR_2))
    fire_weekly(first, clock)  # Monday 09:00: Monday to Sunday, Saturday's post in it
    move(clock, local(week + timedelta(days=1), 10))
    publish(first, AUTHOR, "Tuesday's post", (EDITOR_1, EDITOR_2))
    first.stop()

    on_fridays = {"digest": {**WEEKLY["digest"], "weekly": {"day": "friday", "at": "09:00"}}}
    moved = load_config(write_config(tmp_path / "app.yaml", top=on_fridays), environ)
    second = Copydesk(moved, slack, x, clock=clock).start()
    try:
        fire_weekly(second, clock)  # Friday 09:00: from where Monday's report stopped, not the Friday before it

        on_monday, on_friday = reports(slack)
        assert " · 1 post · " in blocks_text(on_monday) and " · 1 post · " in blocks_text(on_friday)
        friday = week + timedelta(days=4)
        [record] = [d for d in second.ledger.digests() if d.kind == "weekly" and d.day == friday]
        assert (record.window_start, record.window_end) == (local(week, 0), local(friday, 0))
        assert f"{week:%a %b} {week.day} – {friday - timedelta(days=1):%a %b} {(friday - timedelta(days=1)).day}" in (
            blocks_text(on_friday)
        )
    finally:
        second.stop()


def test_a_new_ledger_does_not_start_with_a_weekly_report(make_bot) -> None:
    bot = make_bot(clock=clock_at(local(monday(1), 12)), top=WEEKLY)  # its time passed today, before this ledger existed
    assert reports(bot.slack) == []
    assert bot.services.scheduler.weekly_due_at(TOP) == local(monday(2), 9)


def test_a_report_posted_just_before_a_crash_is_found_in_the_channel_not_posted_again(tmp_path: Path, environ, slack, x) -> None:
    config = weekly_config(tmp_path, environ)
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=1), 10))
    first = Copydesk(config, slack, x, clock=clock).start()
    counts(first, publish(first, AUTHOR, "Before the crash", (EDITOR_1, EDITOR_2)), 5, 0, 0, 0, None)
    # the report's time: copydesk claims it and Slack has it, chart and all; it dies before Slack's answer is recorded
    day = week + timedelta(days=7)
    move(clock, local(day - timedelta(days=1), 23, 59))
    [report] = first.desk.weekly.weekly_so_far()  # the same 7 days the report covers: its chart has the same name
    move(clock, local(day, 9, 1))
    start, end = week_before(day, LA)
    first.ledger.claim_digest(scope=TOP, day=day, start=start, end=end, channel=DIGEST, at=clock(), kind="weekly")
    ts = first.desk.weekly.notifier.post_weekly(DIGEST, replace(report, day=day), b"\x89PNG\r\n\x1a\n")
    first.crash()

    second = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert len(reports(slack)) == 1 and len(slack.uploaded()) == 1
        [record] = [d for d in second.ledger.digests() if d.kind == "weekly"]
        assert (record.outcome, record.message_ts) == ("sent", ts)
        assert second.ledger.events()[-1].detail["found_in_channel"] is True
        assert second.services.scheduler.weekly_due_at(TOP) == local(day + timedelta(days=7), 9)
    finally:
        second.stop()


def test_a_report_found_under_too_many_messages_to_see_its_chart_gets_no_second_chart(tmp_path: Path, environ, slack, x) -> None:
    config = weekly_config(tmp_path, environ)
    week = monday(1)
    day = week + timedelta(days=7)
    clock = clock_at(local(day - timedelta(days=1), 23, 59))
    first = Copydesk(config, slack, x, clock=clock).start()
    [report] = first.desk.weekly.weekly_so_far()  # the same 7 days the report covers: its chart has the same name
    move(clock, local(day, 9, 1))
    start, end = week_before(day, LA)
    first.ledger.claim_digest(scope=TOP, day=day, start=start, end=end, channel=DIGEST, at=clock(), kind="weekly")
    ts = first.desk.weekly.notifier.post_weekly(DIGEST, replace(report, day=day), b"\x89PNG\r\n\x1a\n")
    first.crash()
    for n in range(600):  # a busy channel while copydesk was down: the report is still found, its chart is too far back
        slack.post_as_other_app(DIGEST, f"chatter {n}")

    second = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert len(reports(slack)) == 1 and len(slack.uploaded()) == 1  # no second chart
        [record] = [d for d in second.ledger.digests() if d.kind == "weekly"]
        assert (record.outcome, record.message_ts) == ("sent", ts)
        [message] = reports(slack)
        assert "Slack could not show whether it is there (more than 500 messages came after the report)" in blocks_text(message)
    finally:
        second.stop()


def test_a_report_whose_copydesk_died_before_its_chart_gets_its_chart_once_after_the_restart(
    tmp_path: Path, environ, slack, x
) -> None:
    config = weekly_config(tmp_path, environ)
    week = monday(1)
    clock = clock_at(local(week + timedelta(days=1), 10))
    first = Copydesk(config, slack, x, clock=clock).start()
    counts(first, publish(first, AUTHOR, "Before the crash", (EDITOR_1, EDITOR_2)), 5, 0, 0, 0, None)
    due = first.services.scheduler.weekly_due_at(TOP)
    assert due is not None
    move(clock, due + timedelta(seconds=1))
    slack.hold_next("files.getUploadURLExternal")  # the report's message is in the channel; its chart's upload hangs
    threading.Thread(target=first.desk.weekly.run_weekly, args=(TOP,), daemon=True).start()
    eventually(lambda: bool(slack.arrived("/api/files.getUploadURLExternal")), what="the chart's upload to begin")
    first.crash()  # killed between the message and its chart

    second = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert len(reports(slack)) == 1  # found in the channel, not posted again
        [chart] = slack.uploaded()  # and its chart, which the first run never attached, is there now: once
        assert chart["bytes"].startswith(PNG_SIGNATURE)
        [record] = [d for d in second.ledger.digests() if d.kind == "weekly"]
        assert record.outcome == "sent"
        second.desk.weekly.run_weekly(TOP)  # a second firing finds it all done
        assert len(reports(slack)) == 1 and len(slack.uploaded()) == 1
    finally:
        second.stop()
        slack.release()


def test_a_report_claimed_but_never_posted_is_posted_once_on_start(tmp_path: Path, environ, slack, x) -> None:
    config = weekly_config(tmp_path, environ)
    week = monday(1)
    day = week + timedelta(days=7)
    clock = clock_at(local(week + timedelta(days=3), 10))
    first = Copydesk(config, slack, x, clock=clock).start()
    counts(first, publish(first, AUTHOR, "Claimed, then the crash", (EDITOR_1, EDITOR_2)), 5, 0, 0, 0, None)
    move(clock, local(day, 9, 1))
    start, end = week_before(day, LA)
    first.ledger.claim_digest(scope=TOP, day=day, start=start, end=end, channel=DIGEST, at=clock(), kind="weekly")
    first.crash()

    third = started_twice(config, slack, x, clock)
    try:
        [message] = reports(slack)
        assert "Claimed, then the crash" in blocks_text(message)
        assert [d.outcome for d in third.ledger.digests() if d.kind == "weekly"] == ["sent"]
        assert len(slack.uploaded()) == 1
    finally:
        third.stop()


# on demand


def test_copydesk_digest_weekly_prints_it_and_posts_it_apart_from_the_scheduled_one(
    tmp_path: Path, environ, slack, x, monkeypatch, capsys
) -> None:
    config = weekly_config(tmp_path, environ)
    bot = Copydesk(config, slack, x).start()
    publish(bot, AUTHOR, "Printed in the terminal", (EDITOR_1, EDITOR_2))
    counts(bot, 1, 7, 1, 0, 0, 90)
    bot.stop()
    path = str(config.config_path)
    today = datetime.now(LA).date()

    assert run_cli(["digest", "--weekly", "--config", path], environ, monkeypatch) == 0
    out = capsys.readouterr().out
    first = today - timedelta(days=6)
    assert out.startswith(f"Weekly report so far · @aplusk\n{first:%a %b} {first.day} – {today:%a %b} {today.day} · 1 post")
    assert f"  {today:%a %b} {today.day:<2}      1             8           90" in out
    assert "1. #1 @aplusk · 8 interactions: 7 likes, 1 reposts, 0 replies, 0 quotes · 90 impressions  https://x.com/" in out
    assert f"Wrote most: {AUTHOR} (1 post)" in out and f"Approved most: {EDITOR_1} (1 approval), {EDITOR_2}" in out
    assert reports(slack) == []

    assert run_cli(["digest", "--weekly", "--post", "--config", path], environ, monkeypatch) == 0
    assert f"posted to {DIGEST}" in capsys.readouterr().out
    [message] = reports(slack)
    assert message["metadata"]["event_payload"] == {"scope": "*", "kind": "weekly_on_demand"}
    assert len(slack.uploaded()) == 1
    [record] = peek(config.db_path, "SELECT kind, day, outcome FROM digests")
    assert tuple(record) == ("weekly_on_demand", None, "sent")  # the scheduled one is untouched

    assert run_cli(["digest", "--weekly", "--since", "7d", "--config", path], environ, monkeypatch) == 2
    assert "--since does not go with --weekly" in capsys.readouterr().err


def test_posting_a_weekly_report_needs_one_in_app_yaml(bot: Copydesk, environ, monkeypatch, capsys) -> None:
    assert run_cli(["digest", "--weekly", "--post", "--config", str(bot.config.config_path)], environ, monkeypatch) == 2
    assert "app.yaml has no weekly report: add digest.weekly" in capsys.readouterr().err
