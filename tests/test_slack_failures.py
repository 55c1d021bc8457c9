"""When Slack misbehaves: rate limits and errors are retried, and a card that cannot be updated never costs the ledger anything."""

from __future__ import annotations

from bot.review import State
from tests.fakes.slack_api import blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, Copydesk, MovableClock, eventually


def test_a_rate_limited_card_update_is_retried_after_slacks_retry_after(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Busy Slack")
    bot.slack.fail_next("chat.update", 429, {"Retry-After": "0"})

    bot.react(EDITOR_1, "white_check_mark", 1)

    updates = bot.slack.calls("/api/chat.update")
    assert len(updates) == 2  # the 429, then the retry that landed
    assert "1 of 2 approvals" in blocks_text(updates[-1].body)


def test_a_slack_server_error_is_retried(bot: Copydesk) -> None:
    bot.slack.fail_next("chat.postMessage", 503)

    bot.command(AUTHOR, "Flaky Slack")

    assert bot.draft(1).card_ts is not None
    assert len(bot.slack.calls("/api/chat.postMessage")) == 2


def test_when_the_card_cannot_be_updated_the_ledger_still_holds_every_vote_and_the_card_catches_up(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "at:+1d Slack is down")
    bot.slack.failures["chat.update"] = "fatal_error"

    response = bot.react(EDITOR_1, "white_check_mark", 1)

    assert response.status == 200  # the vote is stored: Slack must not redeliver it
    assert [v.user_id for v in bot.ledger.votes(1)] == [EDITOR_1]
    bot.react(EDITOR_2, "white_check_mark", 1)
    assert bot.draft(1).state is State.APPROVED
    assert bot.ledger.outbox_health(clock())["pending"] == 4  # the redraws, and the approval's reply and message

    del bot.slack.failures["chat.update"]
    clock.advance(minutes=1)  # past the courier's backoff
    bot.services.courier.wake()
    eventually(lambda: bot.ledger.outbox_health(clock())["pending"] == 0, what="Slack catching up")
    assert "Approved by <@U0EDITOR1> and <@U0EDITOR2>" in blocks_text(bot.slack.updates()[-1])
    assert [p["text"] for p in bot.slack.posts() if p.get("thread_ts")] == [
        "Approved by <@U0EDITOR1> and <@U0EDITOR2>. It goes out " + bot.slack.posts()[-2]["text"].split("goes out ")[1]
    ]


def test_a_redelivered_event_is_acknowledged_and_never_counted_twice(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Once only")
    bot.react(EDITOR_1, "white_check_mark", 1, event_id="Ev0DUP")
    bot.react(EDITOR_1, "white_check_mark", 1, removed=True, event_id="Ev0REMOVE")

    again = bot.react(EDITOR_1, "white_check_mark", 1, event_id="Ev0DUP", retry=1)

    assert again.status == 200
    assert bot.ledger.votes(1) == []  # the redelivered "added" did not bring the withdrawn vote back
    assert [e.action for e in bot.ledger.events(1)].count("vote_added") == 1
