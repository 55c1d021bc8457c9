"""The daily digest: what went out, failed or waits, posted once a day at its local time — across restarts and DST."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_config
from bot.digest import TOP, Line, Report, due_at, latest_due, next_due, parse_since, scopes, shorten, window
from bot.errors import BadTime, ConfigError
from bot.review import State
from bot.runtime.cli import main
from handlers import digest_render
from tests.fakes.slack_api import blocks_text
from tests.fakes.x_api import X_ENV
from tests.support.digests import DIGEST, LA, UTC, clock_at, fire, move, tomorrow, utc
from tests.support.harness import AUTHOR, BASE_CONFIG, EDITOR_1, EDITOR_2, EDITOR_3, OUTSIDER, Copydesk, eventually
from tests.support.ledger_file import peek


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def digests(bot: Copydesk, channel: str = DIGEST) -> list[dict[str, Any]]:
    return bot.slack.posts(channel)


# when it is due: pure functions, like APScheduler's trigger tests


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        ("2026-03-07", "18:00", "2026-03-08T02:00Z"),  # PST, UTC-8
        ("2026-03-08", "18:00", "2026-03-09T01:00Z"),  # PDT from 02:00 that morning, UTC-7
        ("2026-03-08", "02:30", "2026-03-08T10:30Z"),  # skipped by the clocks: 03:30 PDT, the gap later
        ("2026-03-08", "02:00", "2026-03-08T10:00Z"),  # the very moment they jump: 03:00 PDT
        ("2026-03-08", "01:59", "2026-03-08T09:59Z"),
        ("2026-10-31", "18:00", "2026-11-01T01:00Z"),
        ("2026-11-01", "18:00", "2026-11-02T02:00Z"),  # PST again
        ("2026-11-01", "01:30", "2026-11-01T08:30Z"),  # happens twice: the first one (PDT)
        ("2026-11-01", "02:00", "2026-11-01T10:00Z"),
    ],
)
def test_the_digest_time_of_a_day_in_los_angeles(day: str, at: str, expected: str) -> None:
    hour, minute = map(int, at.split(":"))
    assert due_at(date.fromisoformat(day), time(hour, minute), LA) == utc(expected)


@pytest.mark.parametrize(
    ("now", "at", "day", "due"),
    [
        ("2026-03-08T01:59:59Z", "18:00", "2026-03-07", "2026-03-08T02:00Z"),
        ("2026-03-08T02:00Z", "18:00", "2026-03-08", "2026-03-09T01:00Z"),  # strictly after now: the next day's, 23 h on
        ("2026-03-08T09:00Z", "02:30", "2026-03-08", "2026-03-08T10:30Z"),
        ("2026-03-08T10:30Z", "02:30", "2026-03-09", "2026-03-09T09:30Z"),
        ("2026-11-01T01:00Z", "18:00", "2026-11-01", "2026-11-02T02:00Z"),  # 25 h on
        ("2026-11-01T08:00Z", "01:30", "2026-11-01", "2026-11-01T08:30Z"),
        ("2026-11-01T08:30Z", "01:30", "2026-11-02", "2026-11-02T09:30Z"),  # not again at the repeated 01:30
    ],
)
def test_the_next_digest_time(now: str, at: str, day: str, due: str) -> None:
    hour, minute = map(int, at.split(":"))
    assert next_due(utc(now), time(hour, minute), LA) == (date.fromisoformat(day), utc(due))


@pytest.mark.parametrize(
    ("now", "at", "day", "due"),
    [
        ("2026-03-08T02:00Z", "18:00", "2026-03-07", "2026-03-08T02:00Z"),  # at its time exactly: it is due
        ("2026-03-09T00:59Z", "18:00", "2026-03-07", "2026-03-08T02:00Z"),
        ("2026-11-01T09:45Z", "01:30", "2026-11-01", "2026-11-01T08:30Z"),  # in the repeated hour: still that one
        ("2026-11-02T02:30Z", "18:00", "2026-11-01", "2026-11-02T02:00Z"),
    ],
)
def test_the_latest_digest_time(now: str, at: str, day: str, due: str) -> None:
    hour, minute = map(int, at.split(":"))
    assert latest_due(utc(now), time(hour, minute), LA) == (date.fromisoformat(day), utc(due))


@pytest.mark.parametrize(
    ("previous", "start"),
    [
        (None, "2026-11-20T02:00Z"),  # the first digest: the last 24 hours
        ("2026-11-20T03:00Z", "2026-11-20T03:00Z"),  # since the previous digest
        ("2026-11-19T01:00Z", "2026-11-19T01:00Z"),  # a missed day is covered by the next digest
        ("2026-10-01T02:00Z", "2026-11-14T02:00Z"),  # at most a week
    ],
)
def test_the_window_runs_from_the_previous_digest(previous: str | None, start: str) -> None:
    end = utc("2026-11-21T02:00Z")
    assert window(end, utc(previous) if previous else None) == (utc(start), end)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", "2026-11-20T17:00Z"),
        ("7d", "2026-11-14T17:00Z"),
        ("1d12h", "2026-11-20T05:00Z"),
        ("90m", "2026-11-21T15:30Z"),
        ("2026-11-20", "2026-11-20T08:00Z"),  # local midnight
        ("2026-11-20T09:00", "2026-11-20T17:00Z"),
        ("2026-11-20T09:00Z", "2026-11-20T09:00Z"),
    ],
)
def test_since_reads_durations_dates_and_times(text: str, expected: str) -> None:
    assert parse_since(text, now=utc("2026-11-21T17:00Z"), zone=LA) == utc(expected)


@pytest.mark.parametrize(("text", "message"), [("yesterday", "not a time I can read"), ("2026-12-01", "in the future")])
def test_since_refuses_what_it_cannot_use(text: str, message: str) -> None:
    with pytest.raises(BadTime, match=message):
        parse_since(text, now=utc("2026-11-21T17:00Z"), zone=LA)


def test_a_long_post_is_shortened_on_one_line() -> None:
    long = "Launch day!\nWe are live with " + "the new thing " * 20
    short = shorten(long)
    assert short.endswith("…") and len(short) <= 101 and "\n" not in short
    assert shorten("Short and\nsweet") == "Short and sweet"


# settings


def load(tmp_path: Path, data: dict):
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path, {"SLACK_BOT_TOKEN": "xoxb-x", **X_ENV})


def two_accounts(main_digest: dict | None = None, top_digest: dict | None = None) -> dict:
    data = json.loads(json.dumps(BASE_CONFIG))
    news = {**data["accounts"]["main"], "handle": "news"}
    if main_digest is not None:
        data["accounts"]["main"]["digest"] = main_digest
    data["accounts"]["news"] = news
    if top_digest is None:
        del data["digest"]
    else:
        data["digest"] = top_digest
    return data


def test_an_account_with_its_own_digest_leaves_the_top_level_one(tmp_path: Path) -> None:
    config = load(tmp_path, two_accounts({"channel": "C0MAINDIG1", "at": "09:00"}, {"channel": DIGEST, "skip_empty": True}))
    assert [(s.key, s.channel, s.at, s.skip_empty, s.accounts) for s in scopes(config)] == [
        (TOP, DIGEST, time(18, 0), True, ("news",)),
        ("main", "C0MAINDIG1", time(9, 0), True, ("main",)),  # skip_empty comes from the top-level digest
    ]
    inherited = load(tmp_path, two_accounts({"at": "07:30"}, {"channel": DIGEST}))
    assert inherited.accounts["main"].digest.channel == DIGEST
    alone = load(tmp_path, two_accounts({"channel": "C0MAINDIG1"}))
    assert [s.key for s in scopes(alone)] == ["main"]  # no top-level digest: news gets none


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (two_accounts({"at": "25:00"}, {"channel": DIGEST}), "accounts.main.digest.at '25:00' is not a time of day"),
        (two_accounts({"at": "09:00"}), "accounts.main.digest.channel is missing"),
        (two_accounts({"channel": "#digest"}), "accounts.main.digest.channel '#digest' is not a Slack channel ID"),
        (two_accounts({"chanel": "C0MAINDIG1"}, {"channel": DIGEST}), "unknown key 'accounts.main.digest.chanel'"),
        (two_accounts(None, {"channel": DIGEST, "skip_empty": "yes"}), "digest.skip_empty must be true or false"),
    ],
)
def test_a_bad_digest_setting_is_named(tmp_path: Path, data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load(tmp_path, data)


# the day's digest in Slack


def a_busy_day(bot: Copydesk) -> None:
    """Two posts go out (one is then retracted), X refuses one, one is vetoed, one withdrawn, one waits, one is set for tomorrow."""
    bot.command(AUTHOR, "Launch day & we are live 🚀 " + "with everything we promised, " * 5)
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    bot.x.answer_next(
        403,
        {
            "title": "Forbidden",
            "type": "about:blank",
            "status": 403,
            "detail": "You are not allowed to create a Tweet with duplicate content.",
        },
    )
    bot.command(AUTHOR, "Said this before")
    approve(bot, 2)
    bot.wait_for_state(2, State.FAILED)
    bot.command(AUTHOR, "Hot take nobody asked for")
    bot.react(EDITOR_3, "x", 3)
    bot.command(AUTHOR, "Never mind")
    bot.command(AUTHOR, "cancel #4")
    bot.command(AUTHOR, "Oops, wrong link")
    approve(bot, 5)
    bot.wait_for_state(5, State.PUBLISHED)
    bot.command(EDITOR_3, "retract #5")
    bot.command(AUTHOR, "Thoughts for Friday")
    bot.react(EDITOR_1, "white_check_mark", 6)
    bot.command(AUTHOR, "at:+20h Tomorrow's teaser")
    approve(bot, 7)


def test_the_digest_lists_the_day_with_links_authors_approvers_and_counts(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    a_busy_day(bot)

    due = fire(bot, clock)

    [message] = digests(bot)
    shown = blocks_text(message)
    url = bot.ledger.publications(1)[-1].url
    assert due == tomorrow(18)
    assert shown.startswith(f"Daily digest · {due.astimezone(LA):%a, %b} {due.astimezone(LA).day} · @aplusk")
    assert "2 published · 1 failed · 1 rejected · 1 withdrawn · 1 retracted · 0 expired · 1 waiting · 1 scheduled" in shown
    assert "*:rocket: Went out (2)*" in shown and f"#1 @aplusk · <{url}|on X>" in shown
    assert "“Launch day & we are live 🚀 with everything we promised, with everything we promised" in shown  # plain_text
    assert f"by <@{AUTHOR}> · approved by <@{EDITOR_1}> and <@{EDITOR_2}>" in shown
    assert "X said: X refused the post: 403 You are not allowed to create a Tweet with duplicate content." in shown
    assert f"by <@{AUTHOR}> · vetoed by <@{EDITOR_3}>\n“Hot take nobody asked for”" in shown
    assert f"by <@{AUTHOR}> · withdrawn by <@{AUTHOR}>\n“Never mind”" in shown
    assert f"retracted by <@{EDITOR_3}>" in shown and "since retracted" in shown
    assert "by <@U0AUTHOR1> · in review, 1 of 2 approvals\n“Thoughts for Friday”" in shown
    assert "*:calendar: Scheduled, next 24 hours (1)*" in shown and "Tomorrow's teaser" in shown
    assert "Nothing went out" not in shown
    assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if b["type"] == "section" and "text" in b)
    assert all(len(f["text"]) <= 2000 for b in message["blocks"] for f in b.get("fields", []))
    assert all(len(b.get("fields", [])) <= 10 for b in message["blocks"])
    # the plain-text fallback says the same, and the message can be recognised after a crash
    assert message["text"].startswith("Daily digest · ") and "Launch day &amp; we are live" in message["text"]
    assert message["metadata"] == {
        "event_type": "copydesk_digest",
        "event_payload": {"scope": "*", "kind": "daily", "day": due.astimezone(LA).date().isoformat()},
    }
    [record] = bot.ledger.digests()
    assert (record.outcome, record.day, record.channel) == ("sent", due.astimezone(LA).date(), DIGEST)
    assert record.message_ts == bot.slack.history[DIGEST][-1]["ts"]
    assert record.window_end - record.window_start == timedelta(hours=24)
    # the same day fires again (a duplicate job, a second scheduler): nothing more
    bot.desk.digests.run_digest(TOP)
    assert len(digests(bot)) == 1
    assert bot.services.scheduler.digest_due_at(TOP) == due + timedelta(days=1)


def test_the_scheduler_itself_fires_the_digest_at_its_time(make_bot) -> None:
    clock = clock_at(tomorrow(18) - timedelta(seconds=1))
    bot = make_bot(clock=clock)

    [call] = bot.slack.wait_for("/api/chat.postMessage", timeout=10)
    eventually(
        lambda: bot.services.scheduler.digest_due_at(TOP) == tomorrow(18) + timedelta(days=1)
    )  # the job goes on to the next

    assert call.body["channel"] == DIGEST
    assert datetime.fromtimestamp(call.at, UTC) + clock.offset >= tomorrow(18) - timedelta(milliseconds=50)  # not before its time
    assert [(d.day, d.outcome) for d in bot.ledger.digests()] == [(tomorrow(18).astimezone(LA).date(), "sent")]


def test_a_quiet_day_still_gets_a_short_digest(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)

    fire(bot, clock)

    [message] = digests(bot)
    shown = blocks_text(message)
    assert "Nothing went out since <!date^" in shown
    assert "0 published · 0 failed · 0 rejected · 0 withdrawn · 0 retracted · 0 expired · 0 waiting · 0 scheduled" in shown
    assert len(message["blocks"]) == 3  # header, counts, one line


def test_skip_empty_sends_nothing_on_a_quiet_day_and_the_next_digest_starts_after_it(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock, top={"digest": {"channel": DIGEST, "at": "18:00", "skip_empty": True}})

    first = fire(bot, clock)
    assert digests(bot) == []
    [skipped] = bot.ledger.digests()
    assert skipped.outcome == "skipped" and skipped.message_ts is None

    bot.command(AUTHOR, "Something at last")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    fire(bot, clock)

    [message] = digests(bot)
    assert "Something at last" in blocks_text(message)
    assert bot.ledger.digests()[-1].window_start == skipped.window_end
    assert bot.ledger.digests()[-1].day == (first + timedelta(days=1)).astimezone(LA).date()


def test_an_account_with_its_own_digest_gets_it_in_its_channel_at_its_time(make_bot) -> None:
    clock = clock_at(tomorrow(8))
    bot = make_bot({"digest": {"channel": "C0MAINDIG1", "at": "09:00"}}, clock=clock)
    bot.command(AUTHOR, "Morning post")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)

    assert bot.services.scheduler.digest_due_at(TOP) is None  # the only account has its own
    due = fire(bot, clock, "main")

    assert due == tomorrow(9)
    [message] = digests(bot, "C0MAINDIG1")
    assert "Morning post" in blocks_text(message)
    assert digests(bot) == []


def test_a_post_still_on_its_way_when_the_digest_is_composed_goes_in_the_next_one_not_in_neither(make_bot) -> None:
    clock = clock_at(tomorrow(17, 59))
    bot = make_bot(clock=clock)
    answer = bot.x.hold("/2/tweets")  # X is slow to answer the post
    bot.command(AUTHOR, "Out around six")
    approve(bot, 1)
    bot.x.wait_for_held("/2/tweets")
    [on_its_way] = bot.ledger.publications(1)

    fire(bot, clock)  # 18:00: the digest reads the ledger while the post is on its way
    # Its time is read (17:59:30) before its commit, which lands after the digest read the ledger.
    move(clock, tomorrow(17, 59) + timedelta(seconds=30))
    answer.set()
    bot.wait_for_state(1, State.PUBLISHED)
    fire(bot, clock)  # the next day's

    first, second = bot.slack.posts(DIGEST)
    assert "Out around six" not in blocks_text(first)
    assert "· 1 published ·" in blocks_text(second) and "*:rocket: Went out (1)*" in blocks_text(second)
    [day_one, _] = sorted((d for d in bot.ledger.digests() if d.kind == "daily"), key=lambda d: d.day)
    assert day_one.window_end == on_its_way.started_at  # it stopped short of the post on its way


def test_slack_refusing_the_digest_is_retried_and_it_goes_out_once(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    bot.slack.failures["chat.postMessage"] = "not_in_channel"

    due = fire(bot, clock)

    [record] = bot.ledger.digests()
    assert (record.outcome, record.error) == ("failed", f"Slack refused the digest in {DIGEST}: not_in_channel")
    retry = bot.services.scheduler.digest_due_at(TOP)
    assert retry is not None and timedelta(minutes=9) < retry - due < timedelta(minutes=11)
    del bot.slack.failures["chat.postMessage"]
    fire(bot, clock)
    bot.desk.digests.run_digest(TOP)  # and once more, for good measure

    assert len(digests(bot)) == 2 and len(bot.slack.history[DIGEST]) == 1  # one refused, one in the channel
    assert [(d.outcome, d.day) for d in bot.ledger.digests()] == [("sent", due.astimezone(LA).date())]
    assert bot.services.scheduler.digest_due_at(TOP) == due + timedelta(days=1)


@pytest.mark.parametrize("fault", ["HTTP 500", "dropped"])
def test_a_digest_slack_took_without_a_proper_answer_is_found_not_posted_again(make_bot, fault: str) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "In the channel, whatever Slack said")
    if fault == "HTTP 500":
        bot.slack.fail_after_success("chat.postMessage", 500)
    else:
        bot.slack.drop_after_success("chat.postMessage")

    due = fire(bot, clock)

    [posted] = bot.slack.top_level(DIGEST)  # Slack has it: nothing sent it again
    [record] = bot.ledger.digests()
    assert (record.outcome, record.message_ts) == ("sending", None)  # whether it went is not known: not failed
    retry = bot.services.scheduler.digest_due_at(TOP)
    assert retry is not None and timedelta(minutes=9) < retry - due < timedelta(minutes=11)
    fire(bot, clock)  # the retry looks in the channel before it posts
    bot.desk.digests.run_digest(TOP)

    assert bot.slack.top_level(DIGEST) == [posted] and len(digests(bot)) == 1
    assert "In the channel, whatever Slack said" in blocks_text(posted)
    [record] = bot.ledger.digests()
    assert (record.outcome, record.message_ts, record.day) == ("sent", posted["ts"], due.astimezone(LA).date())
    assert bot.ledger.events()[-1].detail["found_in_channel"] is True
    assert bot.services.scheduler.digest_due_at(TOP) == due + timedelta(days=1)


def test_a_digest_slack_failed_to_take_is_posted_by_the_retry_once_not_found(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    bot.slack.fail_next("chat.postMessage", 503)  # Slack's 503 before it did anything: the channel stays empty

    due = fire(bot, clock)

    assert bot.slack.top_level(DIGEST) == []
    assert [d.outcome for d in bot.ledger.digests()] == ["sending"]
    fire(bot, clock)

    [message] = bot.slack.top_level(DIGEST)
    [record] = bot.ledger.digests()
    assert (record.outcome, record.message_ts) == ("sent", message["ts"])
    assert len(bot.slack.calls("/api/conversations.history")) == 1  # looked for first, then posted
    assert bot.services.scheduler.digest_due_at(TOP) == due + timedelta(days=1)


# restarts


def test_a_restart_does_not_send_the_days_digest_again(config, slack, x) -> None:
    clock = clock_at(tomorrow(10))
    first = Copydesk(config, slack, x, clock=clock).start()
    due = fire(first, clock)
    first.stop()

    second = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert len(slack.posts(DIGEST)) == 1
        assert second.services.scheduler.digest_due_at(TOP) == due + timedelta(days=1)
    finally:
        second.stop()


def test_a_digest_missed_while_down_is_sent_once_on_start(config, slack, x) -> None:
    clock = clock_at(tomorrow(10))
    first = Copydesk(config, slack, x, clock=clock).start()
    first.command(AUTHOR, "Written before the outage")
    first.stop()

    move(clock, tomorrow(18) + timedelta(hours=15))  # down from 10:00 until 09:00 the next morning
    second = Copydesk(config, slack, x, clock=clock).start()
    second.stop()
    third = Copydesk(config, slack, x, clock=clock).start()
    try:
        [message] = slack.posts(DIGEST)
        assert "Written before the outage" in blocks_text(message) and "in review, 0 of 2 approvals" in blocks_text(message)
        [record] = third.ledger.digests()
        assert (record.day, record.outcome) == (tomorrow(18).astimezone(LA).date(), "sent")
    finally:
        third.stop()


def test_a_catch_up_asked_to_stop_begins_no_digest_and_the_next_start_sends_it(config, slack, x) -> None:
    clock = clock_at(tomorrow(10))
    first = Copydesk(config, slack, x, clock=clock).start()
    first.command(AUTHOR, "Written before the outage")
    first.stop()
    move(clock, tomorrow(18) + timedelta(hours=15))

    stopping = Copydesk(config, slack, x, clock=clock)
    assert stopping.desk.digests.start_digests(stopping=lambda: True) == 0  # SIGTERM came as it started
    assert slack.posts(DIGEST) == [] and stopping.ledger.digests() == []
    stopping.stop()

    again = Copydesk(config, slack, x, clock=clock).start()
    try:
        [message] = slack.posts(DIGEST)
        assert "Written before the outage" in blocks_text(message)
    finally:
        again.stop()


def test_a_new_ledger_does_not_start_with_a_digest(make_bot) -> None:
    bot = make_bot(clock=clock_at(tomorrow(20)))  # the day's time has passed, but this ledger did not exist then
    assert digests(bot) == []
    assert bot.services.scheduler.digest_due_at(TOP) == tomorrow(18) + timedelta(days=1)


def test_a_digest_posted_just_before_a_crash_is_found_in_the_channel_not_posted_again(config, slack, x) -> None:
    clock = clock_at(tomorrow(18, 1))
    first = Copydesk(config, slack, x, clock=clock).start()
    first.command(AUTHOR, "Before the crash")
    # copydesk claims the day's digest and posts it; it dies before Slack's answer is recorded
    [report] = first.desk.digests.digests_so_far()
    day = tomorrow(18).astimezone(LA).date()
    report = replace(report, day=day)
    first.ledger.claim_digest(scope=TOP, day=day, start=report.start, end=report.end, channel=DIGEST, at=clock())
    ts = first.desk.digests.notifier.post_digest(DIGEST, report)
    first.crash()

    second = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert len(slack.posts(DIGEST)) == 1
        [record] = second.ledger.digests()
        assert (record.outcome, record.message_ts) == ("sent", ts)
        assert second.ledger.events()[-1].detail["found_in_channel"] is True
        assert [c.body["include_all_metadata"] for c in slack.calls("/api/conversations.history")] == ["1"]
    finally:
        second.stop()


def test_a_claimed_digest_is_not_posted_while_slack_cannot_show_whether_it_went_out(config, slack, x) -> None:
    clock = clock_at(tomorrow(18, 1))
    first = Copydesk(config, slack, x, clock=clock).start()
    first.command(AUTHOR, "In doubt")
    day = tomorrow(18).astimezone(LA).date()
    first.ledger.claim_digest(scope=TOP, day=day, start=clock() - timedelta(hours=24), end=clock(), channel=DIGEST, at=clock())
    first.crash()
    slack.failures["conversations.history"] = "missing_scope"

    second = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert slack.posts(DIGEST) == []
        assert [d.outcome for d in second.ledger.digests()] == ["sending"]
        retry = second.services.scheduler.digest_due_at(TOP)
        assert retry is not None and timedelta(minutes=9) < retry - clock() <= timedelta(minutes=10)
        del slack.failures["conversations.history"]  # the app is reinstalled with the history scopes
        fire(second, clock)
        [message] = slack.posts(DIGEST)
        assert "In doubt" in blocks_text(message)
    finally:
        second.stop()


def test_a_digest_claimed_but_never_posted_is_posted_once_on_start(config, slack, x) -> None:
    clock = clock_at(tomorrow(18, 1))
    first = Copydesk(config, slack, x, clock=clock).start()
    first.command(AUTHOR, "Claimed, then the crash")
    day = tomorrow(18).astimezone(LA).date()
    first.ledger.claim_digest(scope=TOP, day=day, start=clock() - timedelta(hours=24), end=clock(), channel=DIGEST, at=clock())
    first.crash()

    second = Copydesk(config, slack, x, clock=clock).start()
    second.stop()
    third = Copydesk(config, slack, x, clock=clock).start()
    try:
        [message] = slack.posts(DIGEST)
        assert "Claimed, then the crash" in blocks_text(message)
        assert [d.outcome for d in third.ledger.digests()] == ["sent"]
    finally:
        third.stop()


# daylight saving, across restarts


def test_spring_forward_the_digest_comes_at_six_pm_both_days_and_covers_23_hours(config, slack, x) -> None:
    clock = clock_at(utc("2026-03-07T17:59:00-08:00"))
    bot = Copydesk(config, slack, x, clock=clock).start()
    assert bot.services.scheduler.digest_due_at(TOP) == utc("2026-03-08T02:00Z")  # 18:00 PST
    fire(bot, clock)
    assert bot.services.scheduler.digest_due_at(TOP) == utc("2026-03-09T01:00Z")  # 18:00 PDT, 23 hours later
    bot.stop()

    move(clock, utc("2026-03-08T12:00-07:00"))
    restarted = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert restarted.services.scheduler.digest_due_at(TOP) == utc("2026-03-09T01:00Z")
        fire(restarted, clock)
        saturday, sunday = restarted.ledger.digests()
        assert (saturday.day, sunday.day) == (date(2026, 3, 7), date(2026, 3, 8))
        assert sunday.window_start == saturday.window_end
        assert timedelta(hours=22, minutes=59) < sunday.window_end - sunday.window_start < timedelta(hours=23, minutes=1)
        assert [blocks_text(m).split("\n")[0] for m in slack.posts(DIGEST)] == [
            "Daily digest · Sat, Mar 7 · @aplusk",
            "Daily digest · Sun, Mar 8 · @aplusk",
        ]
    finally:
        restarted.stop()


def test_fall_back_a_digest_missed_while_down_goes_out_once_and_the_next_is_at_six_pm_pst(config, slack, x) -> None:
    clock = clock_at(utc("2026-10-31T17:59:00-07:00"))
    bot = Copydesk(config, slack, x, clock=clock).start()
    fire(bot, clock)
    assert bot.services.scheduler.digest_due_at(TOP) == utc("2026-11-02T02:00Z")  # 18:00 PST, 25 hours later
    bot.stop()

    move(clock, utc("2026-11-01T20:30:00-08:00"))  # down through Sunday's 18:00
    second = Copydesk(config, slack, x, clock=clock).start()
    second.stop()
    third = Copydesk(config, slack, x, clock=clock).start()
    try:
        assert [blocks_text(m).split("\n")[0] for m in slack.posts(DIGEST)] == [
            "Daily digest · Sat, Oct 31 · @aplusk",
            "Daily digest · Sun, Nov 1 · @aplusk",
        ]
        saturday, sunday = third.ledger.digests()
        assert sunday.day == date(2026, 11, 1) and sunday.window_start == saturday.window_end
        assert third.services.scheduler.digest_due_at(TOP) == utc("2026-11-03T02:00Z")
    finally:
        third.stop()


# on demand


def test_anyone_sees_the_digest_so_far_privately(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "Out this morning")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)

    response = bot.command(AUTHOR, "digest")  # a member of the review channel

    answer = bot.private_answer(response)
    assert answer.startswith("Digest so far · @aplusk") and "Out this morning" in answer
    body = json.loads(response.body)
    assert body["response_type"] == "ephemeral" and "Out this morning" in blocks_text(body)
    outside = bot.private_answer(bot.command(OUTSIDER, "digest"))  # anyone may ask; the text is for the channel's readers
    assert outside.startswith("Digest so far · @aplusk") and "#1 @aplusk" in outside and "Out this morning" not in outside
    assert digests(bot) == [] and bot.ledger.digests() == []


def run_cli(args: list[str], environ: dict[str, str], monkeypatch) -> int:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return main(args)


def test_copydesk_digest_prints_it_and_posts_it_as_an_extra_digest(bot: Copydesk, environ, monkeypatch, capsys) -> None:
    bot.command(AUTHOR, "Printed in the terminal")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    config = str(bot.config.config_path)

    assert run_cli(["digest", "--config", config], environ, monkeypatch) == 0
    out = capsys.readouterr().out
    assert out.startswith("Digest so far · @aplusk\nSince ")
    assert "Went out (1)" in out and '"Printed in the terminal"' in out
    assert f"by {AUTHOR} · approved by {EDITOR_1} and {EDITOR_2}" in out  # plain IDs, no Slack markup

    assert run_cli(["digest", "--since", "7d", "--post", "--config", config], environ, monkeypatch) == 0
    assert "posted to C0DIGEST01" in capsys.readouterr().out
    [message] = digests(bot)
    assert message["metadata"]["event_payload"] == {"scope": "*", "kind": "on_demand"}
    [record] = bot.ledger.digests()
    assert (record.kind, record.day, record.outcome) == ("on_demand", None, "sent")
    assert bot.ledger.previous_digest_end(TOP) is None  # the day's digest still covers the whole day

    assert run_cli(["digest", "--since", "someday", "--config", config], environ, monkeypatch) == 2
    assert "--since 'someday' is not a time I can read" in capsys.readouterr().err


# at scale: the window is read through indexes, never by scanning the history

HISTORY = ("drafts", "publications", "events", "votes", "digests")  # the tables that grow with every post


def test_the_digest_reads_the_ledger_through_indexes(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Indexed")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    assert bot.services.listeners.wait_idle()
    statements: list[str] = []
    with bot.ledger.trace(statements.append):
        bot.desk.digests.digests_so_far()
        bot.ledger.previous_digest_end(TOP)
        bot.ledger.daily_digest(TOP, date(2026, 11, 21))
        bot.ledger.digest_origin()

    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "_sqlite_migrations" not in s]
    steps = []
    for sql in reads:  # the plan is the file's (its schema and statistics): any connection to it reads the same one
        plan = [row[3] for row in peek(bot.config.db_path, f"EXPLAIN QUERY PLAN {sql}")]
        assert not [step for step in plan if step.split(" ")[:2] in (["SCAN", t] for t in HISTORY)], f"{sql}\n{plan}"
        steps += plan
    # the window itself is a range on an index, whatever the size of the history before it
    assert "SEARCH publications USING INDEX publications_by_outcome (outcome=? AND finished_at>? AND finished_at<?)" in steps
    assert "SEARCH drafts USING INDEX drafts_by_state_change (state=? AND updated_at>? AND updated_at<?)" in steps


def test_the_terminal_digest_renders_every_section() -> None:
    end = utc("2026-11-21T02:00Z")
    line = Line(7, "main", "aplusk", "Hello", AUTHOR, end - timedelta(hours=1), people=(EDITOR_1,))
    report = Report(TOP, date(2026, 11, 20), end - timedelta(hours=24), end, LA, ("aplusk",), scheduled=(line,))
    text = digest_render.plain(report)
    assert text.splitlines()[:3] == [
        "Daily digest · Fri, Nov 20 · @aplusk",
        "Since Thu Nov 19 18:00 PST · 0 published · 0 failed · 0 rejected · 0 withdrawn · 0 retracted · 0 expired · 0 waiting · 1 scheduled",
        "Nothing went out since Thu Nov 19 18:00 PST.",
    ]
    assert '  Fri Nov 20 17:00 PST  #7 @aplusk\n    "Hello"\n    by U0AUTHOR1 · approved by U0EDITOR1' in text


def test_the_readme_shows_the_digest_as_copydesk_renders_it() -> None:
    end = utc("2026-11-22T18:00-08:00")
    approvers = ("U0SAM", "U0LEE")
    report = Report(
        TOP,
        date(2026, 11, 22),
        end - timedelta(hours=24),
        end,
        LA,
        ("aplusk",),
        published=(
            Line(
                12,
                "main",
                "aplusk",
                "Big news tomorrow. Stay tuned 👀",
                "U0DANA",
                utc("2026-11-22T09:00:02-08:00"),
                url="https://x.com/aplusk/status/1790000000000000001",
                people=approvers,
            ),
            Line(
                14,
                "main",
                "aplusk",
                "We are live! Everything we promised is in the app today: faster sync, offline mode "
                "and the new editor that so many of you asked for.",
                "U0DANA",
                utc("2026-11-22T12:30:40-08:00"),
                url="https://x.com/aplusk/status/1790000000000000002",
                people=approvers,
            ),
        ),
        failed=(
            Line(
                15,
                "main",
                "aplusk",
                "Big news tomorrow. Stay tuned 👀",
                "U0KIM",
                utc("2026-11-22T13:05:00-08:00"),
                note="X refused the post: 403 You are not allowed to create a Tweet with duplicate content.",
            ),
        ),
        rejected=(
            Line(
                16, "main", "aplusk", "Hot take: Mondays are fine", "U0KIM", utc("2026-11-22T14:10:00-08:00"), people=("U0LEE",)
            ),
        ),
        waiting=(
            Line(
                17,
                "main",
                "aplusk",
                "Thank you all for a wonderful launch week",
                "U0DANA",
                utc("2026-11-22T16:45:00-08:00"),
                note="in review, 1 of 2 approvals",
            ),
        ),
        scheduled=(
            Line(
                13,
                "main",
                "aplusk",
                "Behind the scenes of the launch: a thread",
                "U0DANA",
                utc("2026-11-23T09:00:00-08:00"),
                people=approvers,
            ),
        ),
    )
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"```\n{digest_render.plain(report)}\n```" in readme
