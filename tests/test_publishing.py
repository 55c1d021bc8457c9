"""Approved posts go to X at their time through tweepy, and every outcome lands in the ledger and on the card."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta

from bot.review import State
from tests.fakes.slack_api import blocks_text
from tests.fakes.x_api import OAUTH2_TOKEN
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, Copydesk, MovableClock


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def test_an_approved_draft_without_a_time_goes_out_at_once_exactly_as_written(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Launch day &amp; we are live 🚀 <https://example.com/launch>")
    approve(bot, 1)

    [request] = bot.x.wait_for("/2/tweets")
    draft = bot.wait_for_state(1, State.PUBLISHED)

    assert request.body == {"text": "Launch day & we are live 🚀 https://example.com/launch"}
    assert request.headers["Authorization"].startswith("OAuth ")
    [publication] = bot.ledger.publications(draft.id)
    post_id = bot.x.posts[0]["id"]
    assert (publication.outcome, publication.x_post_id, publication.url, publication.error) == (
        "published",
        post_id,
        f"https://x.com/aplusk/status/{post_id}",
        None,
    )
    assert [e.action for e in bot.ledger.events(1)] == [
        "drafted",
        "card_posted",
        "vote_added",
        "vote_added",
        "approved",
        "publishing",
        "published",
    ]
    bot.slack.wait_for("/api/chat.postMessage", count=5)  # the card, then a reply and a DM for approval and publication
    assert publication.url in blocks_text(bot.slack.updates()[-1])
    assert any(publication.url in p["text"] for p in bot.slack.posts(REVIEW) if p.get("thread_ts"))
    assert f"is live: {publication.url}" in bot.slack.posts(AUTHOR)[-1]["text"]


def test_a_scheduled_post_waits_for_its_time(bot: Copydesk) -> None:
    due = (datetime.now(UTC) + timedelta(seconds=1.5)).replace(microsecond=0) + timedelta(seconds=1)
    bot.command(AUTHOR, f"at:{due.isoformat()} Right on time")
    approve(bot, 1)
    assert bot.services.scheduler.due_at(1) == due
    assert bot.x.calls("/2/tweets") == []

    [request] = bot.x.wait_for("/2/tweets", timeout=10)

    assert request.at >= due.timestamp()
    assert bot.wait_for_state(1, State.PUBLISHED).state is State.PUBLISHED


def test_the_job_firing_twice_still_posts_once(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "at:+1d Only once")
    approve(bot, 1)
    clock.advance(days=1, minutes=1)
    # Several wake-ups at the same moment (a duplicate job, a second scheduler): only one may reach X.
    threads = [threading.Thread(target=bot.desk.publishing.publish, args=[1]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(bot.x.calls("/2/tweets")) == 1
    assert bot.draft(1).state is State.PUBLISHED
    assert len(bot.ledger.publications(1)) == 1


def test_x_refusing_the_post_fails_it_with_xs_own_reason_everywhere(bot: Copydesk) -> None:
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
    approve(bot, 1)

    draft = bot.wait_for_state(1, State.FAILED)

    [publication] = bot.ledger.publications(draft.id)
    assert publication.error == "X refused the post: 403 You are not allowed to create a Tweet with duplicate content."
    bot.slack.wait_for("/api/chat.postMessage", count=5)
    assert "duplicate content" in blocks_text(bot.slack.updates()[-1])
    assert "Publishing failed: X refused the post" in [p for p in bot.slack.posts(REVIEW) if p.get("thread_ts")][-1]["text"]
    assert "could not be published" in bot.slack.posts(AUTHOR)[-1]["text"]
    assert bot.ledger.events(1)[-1].detail == {"error": publication.error, "publication_id": publication.id}


def test_an_unreachable_x_is_retried_with_backoff_then_the_post_fails_and_says_so(make_bot) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    bot = make_bot(
        top={"x_retry": {"first_delay_seconds": 0.05, "give_up_after_minutes": 0.02}},
        env={"X_API_URL": f"http://127.0.0.1:{port}"},
    )
    bot.command(AUTHOR, "Into the void")
    approve(bot, 1)

    bot.wait_for_state(1, State.FAILED)

    attempts = bot.ledger.publications(1)
    assert len(attempts) == 5  # at 0, 0.05, 0.15, 0.35 and 0.75 s; the next (1.55 s) is past the 1.2 s window
    assert [a.error for a in attempts[:-1]] == ["X could not be reached"] * 4
    assert attempts[-1].error == "X could not be reached; gave up after 5 attempt(s)"
    gaps = [round((b.started_at - a.started_at).total_seconds(), 2) for a, b in zip(attempts, attempts[1:], strict=False)]
    assert all(gap >= want for gap, want in zip(gaps, [0.05, 0.1, 0.2, 0.4], strict=True)), gaps
    assert [e.action for e in bot.ledger.events(1)].count("retry_scheduled") == 4


def test_a_hanging_x_is_abandoned_after_the_timeout_and_the_post_is_sent_again_only_once_it_is_known_absent(make_bot) -> None:
    bot = make_bot(top={"x_timeout_seconds": 2, "x_retry": {"first_delay_seconds": 0.05}})  # X's other answers fit in it
    bot.x.answer_next(201, {"data": {"id": "1", "text": "late"}}, delay=30)  # hangs, and creates nothing
    bot.command(AUTHOR, "Slow day")
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    first, second = bot.ledger.publications(1)
    assert first.error == "X did not answer in time; the post is not on the account"
    assert bot.x.calls("/2/users/2244994945/tweets"), "the account was looked at before sending again"
    assert second.outcome == "published" and bot.x.texts() == ["Slow day"]


def test_an_oauth2_user_token_can_publish_instead_of_oauth1_keys(make_bot) -> None:
    bot = make_bot({"credentials": {"oauth2_access_token": "X_OAUTH2_TOKEN"}}, env={"X_OAUTH2_TOKEN": OAUTH2_TOKEN})
    bot.command(AUTHOR, "Bearer of good news")
    approve(bot, 1)

    [request] = bot.x.wait_for("/2/tweets")

    assert request.headers["Authorization"] == f"Bearer {OAUTH2_TOKEN}"
    assert bot.wait_for_state(1, State.PUBLISHED).state is State.PUBLISHED


def test_a_draft_re_approved_while_its_last_job_still_runs_is_still_scheduled() -> None:
    from bot.runtime.scheduling import PublishScheduler

    first_running, release, second_ran = threading.Event(), threading.Event(), threading.Event()

    def publish(draft_id: int) -> None:
        if not first_running.is_set():
            first_running.set()
            release.wait(10)
        else:
            second_ran.set()

    scheduler = PublishScheduler(publish)
    scheduler.start()
    try:
        scheduler.schedule(7, None)
        assert first_running.wait(10)
        scheduler.schedule(7, None)  # approved again while the first run is still busy
        assert second_ran.wait(10), "the second run was dropped"
        deadline = time.monotonic() + 10
        while scheduler.due_at(7) is not None:  # let APScheduler retire the job before shutting down
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        release.set()
        scheduler.shutdown()


def test_posts_due_beyond_the_horizon_wait_in_the_timetable_and_fire_once_brought_forward() -> None:
    """A start on weeks of scheduled posts creates no APScheduler job for them until they come within the horizon."""
    from bot.runtime.scheduling import HORIZON, PublishScheduler

    real = datetime.now(UTC)
    wall = [real - HORIZON - timedelta(minutes=5)]  # APScheduler's clock as the scheduler reads it, moved by the test
    fired: list[int] = []
    done = threading.Event()
    scheduler = PublishScheduler(lambda draft_id: (fired.append(draft_id), done.set()), wall=lambda: wall[0])

    def jobs() -> list[str]:  # APScheduler's own jobs, besides the planner
        return sorted(job.rsplit(":", 1)[0] for job in scheduler.jobs() if job != "planner")

    scheduler.start()
    try:
        soon = real + timedelta(milliseconds=50)
        scheduler.schedule(1, soon)
        scheduler.schedule(2, soon)
        scheduler.cancel(2)  # withdrawn before it came near
        scheduler.schedule(3, soon)
        scheduler.schedule(3, soon + timedelta(days=7))  # moved a week on: its first time is stale
        assert (scheduler.count(), scheduler.due_at(1), scheduler.due_at(2), scheduler.due_at(3)) == (
            2,
            soon,
            None,
            soon + timedelta(days=7),
        )
        assert jobs() == []

        wall[0] = real  # the horizon reaches them: the planner job makes the near one a job, and it fires
        scheduler.promote()

        assert jobs() in (["publish:1"], [])  # it may have fired already
        assert done.wait(10) and fired == [1]
        assert scheduler.count() == 1 and scheduler.due_at(3) == soon + timedelta(days=7)
    finally:
        scheduler.shutdown()


def test_slacks_news_of_earlier_posts_waits_while_a_post_is_on_its_way_to_x() -> None:
    """Posts due together reach X together: the courier makes way (Gate.wait_for_room) while a publishing job runs."""
    from bot.runtime.listeners import Gate
    from bot.runtime.scheduling import PublishScheduler

    sending, sent = threading.Event(), threading.Event()
    told: list[str] = []
    gate = Gate()
    scheduler = PublishScheduler(lambda draft_id: (sending.set(), sent.wait(10)), publishing=gate.held)
    scheduler.start()
    try:
        scheduler.schedule(1, None)
        assert sending.wait(10)
        courier = threading.Thread(target=lambda: (gate.wait_for_room(10), told.append("the card of an earlier post")))
        courier.start()

        courier.join(0.3)
        assert courier.is_alive() and told == [], "Slack was told while a post was on its way to X"
        sent.set()

        courier.join(10)
        assert told == ["the card of an earlier post"]
    finally:
        sent.set()
        scheduler.shutdown()
