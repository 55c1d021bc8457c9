"""When X misbehaves: rate limits wait for X's reset, server errors are retried, and a lost answer is checked on the account."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest

from bot.images import Image
from bot.model import SYSTEM
from bot.ports import Change
from bot.review import State
from handlers.render import thread_reply
from tests.fakes.http import Reply
from tests.fakes.slack_api import action_ids, blocks_text
from tests.fakes.x_api import USER_ID
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, OUTSIDER, REVIEW, Copydesk, MovableClock, eventually

FAST_RETRY = {"x_retry": {"first_delay_seconds": 0.05}}


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def thread(bot: Copydesk) -> list[str]:
    return [p["text"] for p in bot.slack.posts(REVIEW) if p.get("thread_ts")]


def test_a_rate_limited_post_waits_for_the_reset_x_names_and_the_thread_hears_when(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    reset = int(time.time()) + 3600
    bot.x.answer_next(
        429,
        {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
        {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
    )
    bot.command(AUTHOR, "Patience")
    approve(bot, 1)

    bot.slack.wait_for("/api/chat.postMessage", count=4)  # card, approval reply and DM, then the retry note

    reset_at = datetime.fromtimestamp(reset, UTC)
    assert bot.draft(1).state is State.APPROVED and bot.draft(1).retry_at == reset_at
    assert bot.services.scheduler.due_at(1) == reset_at
    assert f"<!date^{reset}^" in thread(bot)[-1] and "X is rate limiting @aplusk" in thread(bot)[-1]
    assert "trying again" in blocks_text(bot.slack.updates()[-1])

    clock.advance(hours=1, minutes=1)  # the reset has passed: the job's wake-up publishes
    bot.desk.publishing.publish(1)
    assert bot.draft(1).state is State.PUBLISHED
    assert bot.x.texts() == ["Patience"]
    assert [p.outcome for p in bot.ledger.publications(1)] == ["failed", "published"]


def test_a_server_error_is_retried_and_then_goes_through(make_bot) -> None:
    bot = make_bot(top=FAST_RETRY)
    bot.x.answer_next(
        503, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503}
    )
    bot.command(AUTHOR, "Second time lucky")
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    first, second = bot.ledger.publications(1)
    assert first.error == "X had a server error (503 Service Unavailable); the post is not on the account"
    assert len(bot.x.calls(f"/2/users/{USER_ID}/tweets")) == 1  # a 5xx may come after X acted: it looked first
    assert second.outcome == "published"
    assert bot.x.texts() == ["Second time lucky"]
    assert "Attempt failed: X had a server error" in "\n".join(thread(bot))


def test_a_post_whose_answer_was_lost_is_found_on_the_account_and_not_sent_again(make_bot) -> None:
    bot = make_bot(top={"x_timeout_seconds": 2, **FAST_RETRY})  # X's other answers fit in it, under load too
    bot.x.lose_next_answer(delay=10)  # X creates the post, but its answer never arrives in time
    bot.command(AUTHOR, "Did it land? https://example.com/a-very-long-link-that-x-shortens &amp; more")
    approve(bot, 1)

    draft = bot.wait_for_state(1, State.PUBLISHED)

    assert len(bot.x.arrived("/2/tweets")) == 1
    [publication] = bot.ledger.publications(draft.id)
    assert publication.x_post_id == bot.x.posts[0]["id"]
    assert bot.ledger.events(1)[-1].detail["found_on_account"] is True


def test_when_the_account_cannot_be_checked_either_a_person_decides(make_bot) -> None:
    bot = make_bot(top={"x_timeout_seconds": 2, **FAST_RETRY})  # X's other answers fit in it, under load too
    bot.x.lose_next_answer(delay=10)
    bot.x.timeline_replies.append(
        Reply(503, {"title": "Service Unavailable", "status": 503, "type": "about:blank", "detail": "down"})
    )
    bot.command(AUTHOR, "In doubt")
    approve(bot, 1)

    draft = bot.wait_for_state(1, State.HELD)

    assert "the post may be live" in (draft.notice or "") and "could not check the account" in (draft.notice or "")
    assert len(bot.x.arrived("/2/tweets")) == 1
    bot.slack.wait_for("/api/chat.postMessage", count=5)  # card; approval reply and DM; hold reply and DM
    card = bot.slack.updates()[-1]
    assert {"copydesk_publish_again", "copydesk_mark_published"} <= action_ids(card)
    assert "Held" in thread(bot)[-1]
    assert "is held" in bot.slack.posts(AUTHOR)[-1]["text"]

    # A person looks at the account, sees the post, and says so: nothing is sent again.
    refused = bot.press(OUTSIDER, "copydesk_mark_published", 1)
    assert "Only editors of main and admins" in bot.private_answer(refused)
    assert bot.draft(1).state is State.HELD
    bot.command(EDITOR_1, f"mark-published #1 <https://x.com/aplusk/status/{bot.x.posts[0]['id']}>")
    assert bot.draft(1).state is State.PUBLISHED
    assert bot.ledger.publications(1)[-1].x_post_id == bot.x.posts[0]["id"]
    assert len(bot.x.arrived("/2/tweets")) == 1


def test_an_editor_can_send_a_held_post_again_with_the_button(make_bot) -> None:
    bot = make_bot(top={"x_timeout_seconds": 0.3, **FAST_RETRY})
    bot.x.answer_next(201, {"data": {"id": "1", "text": "x"}}, delay=5)  # hangs and creates nothing
    bot.x.timeline_replies.append(Reply(500, {"title": "Internal", "status": 500, "type": "about:blank", "detail": "err"}))
    bot.command(AUTHOR, "Try me again")
    approve(bot, 1)
    bot.wait_for_state(1, State.HELD)

    bot.press(EDITOR_2, "copydesk_publish_again", 1)

    bot.wait_for_state(1, State.PUBLISHED)
    assert bot.x.texts() == ["Try me again"]
    assert [e.action for e in bot.ledger.events(1)][-3:] == ["publish_again", "publishing", "published"]


def test_a_bad_request_fails_at_once_without_retrying(make_bot) -> None:
    bot = make_bot(top=FAST_RETRY)
    bot.x.answer_next(
        400,
        {
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "about:blank",
            "status": 400,
        },
    )
    bot.command(AUTHOR, "Malformed")
    approve(bot, 1)

    bot.wait_for_state(1, State.FAILED)

    assert len(bot.x.calls("/2/tweets")) == 1
    assert bot.ledger.publications(1)[0].error == "X refused the post: 400 One or more parameters to your request was invalid."


def test_a_request_cut_off_before_its_body_creates_nothing_on_x(x) -> None:
    """A bot killed between a request's headers and its body (urllib3 sends them apart) leaves X untouched."""
    host, port = x.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as cut:
        cut.sendall(b"POST /2/tweets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n")
    eventually(lambda: x.cut_off == ["/2/tweets"], what="the fake seeing the request cut off")
    assert x.posts == [] and x.arrived("/2/tweets") == []


@pytest.mark.parametrize("jitter", [0.0, 1.0])
def test_the_first_retry_after_a_server_error_comes_within_ten_seconds_by_default(make_bot, jitter: float) -> None:
    bot = make_bot(jitter=lambda: jitter)
    bot.x.answer_next(502, {"title": "Bad Gateway", "detail": "Bad Gateway", "type": "about:blank", "status": 502})
    bot.command(AUTHOR, "Soon again")
    approve(bot, 1)

    eventually(lambda: bot.draft(1).retry_at is not None, what="a retry planned after the server error")
    failed = bot.ledger.publications(1)[0]
    retry_at = bot.draft(1).retry_at
    assert failed.finished_at is not None and retry_at is not None
    assert round((retry_at - failed.finished_at).total_seconds()) == 5 + 5 * jitter  # 10 s, less up to half of it at random


LONG = "https://example.com/a-very-long-link-that-x-shortens"


def test_a_5xx_after_x_posted_is_found_on_the_account_as_x_shows_it_and_never_sent_again(make_bot) -> None:
    bot = make_bot(top=FAST_RETRY)
    text = f"Cafe\u0301 & <friends> at example.com, details: {LONG} 🎉"  # NFD, escaped by X, a bare domain, a long link
    bot.x.fail_after_posting(503)
    bot.command(AUTHOR, text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    approve(bot, 1)

    draft = bot.wait_for_state(1, State.PUBLISHED)

    assert len(bot.x.arrived("/2/tweets")) == 1, "a post X had was sent again"
    assert bot.ledger.publications(draft.id)[-1].x_post_id == bot.x.posts[0]["id"]
    assert bot.ledger.events(1)[-1].detail["found_on_account"] is True
    shown = bot.x.calls(f"/2/users/{USER_ID}/tweets")[-1]
    assert "entities" in shown.body.get("tweet.fields", "")


def test_a_lost_answer_for_a_post_with_an_image_is_found_despite_the_media_link_x_adds(make_bot) -> None:
    from tests.support.media import PNG

    bot = make_bot(top={"x_timeout_seconds": 2, **FAST_RETRY})  # X's other answers fit in it, under load too
    bot.x.lose_next_answer(delay=10)
    draft = bot.desk.drafting.submit(
        author_id=AUTHOR,
        text="A chart, see example.org",
        account=None,
        at=None,
        origin_channel=None,
        images=[Image.of("chart.png", PNG, alt="A chart")],
    )
    bot.slack_told()  # the courier puts its card up
    approve(bot, draft.id)

    bot.wait_for_state(draft.id, State.PUBLISHED)
    assert len(bot.x.arrived("/2/tweets")) == 1
    assert bot.ledger.events(draft.id)[-1].detail["found_on_account"] is True


def test_a_different_post_with_the_same_words_but_another_link_is_not_taken_for_ours(make_bot) -> None:
    bot = make_bot(top={"x_timeout_seconds": 0.3, **FAST_RETRY})
    bot.x.posts.append(
        {"id": "1700000000000000001", "text": "Read this: https://example.com/other", "at": time.time(), "body": {}}
    )
    bot.x.answer_next(201, {"data": {"id": "1", "text": "x"}}, delay=5)  # hangs and creates nothing
    bot.command(AUTHOR, "Read this: https://example.com/ours")
    approve(bot, 1)

    draft = bot.wait_for_state(1, State.PUBLISHED)
    assert bot.ledger.publications(1)[-1].x_post_id != "1700000000000000001"
    assert bot.x.texts()[-1] == "Read this: https://example.com/ours" and draft.state is State.PUBLISHED


def test_a_retry_told_to_slack_late_still_says_why_the_attempt_failed(make_bot) -> None:
    bot = make_bot(top=FAST_RETRY)
    bot.x.answer_next(
        503, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503}
    )
    bot.command(AUTHOR, "Told late")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)

    # the courier draws a reply when Slack hears it: here, after the next attempt went through (Slack was slow)
    late = thread_reply(bot.desk.reading.view(1), Change(State.PUBLISHING, State.APPROVED, SYSTEM))
    assert late.startswith("Attempt failed: X had a server error (503 Service Unavailable)")
