"""The seam with Slack: a vote sent the instant a card exists counts, and Slack hears everything the ledger says, once, in order."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from bot.review import State
from tests.fakes.slack_api import blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, Copydesk, MovableClock, eventually

APPROVE = "white_check_mark"


def vote_the_instant_a_card_exists(bot: Copydesk, editor: str, answers: list[int]) -> None:
    """Slack delivers a reaction the moment a message exists, before copydesk has heard chat.postMessage's answer."""

    def on_message(channel: str, message: dict[str, Any]) -> None:
        if (message.get("metadata") or {}).get("event_type") != "copydesk_card":
            return

        def react() -> None:
            answers.append(bot.react_on(editor, APPROVE, channel, message["ts"], settle=False).status)

        threading.Thread(target=react, daemon=True).start()

    bot.slack.on_message.append(on_message)


def test_a_hundred_drafts_each_voted_the_instant_its_card_appears_lose_no_vote(make_bot) -> None:
    bot = make_bot({"approvals_required": 1})
    answers: list[int] = []
    vote_the_instant_a_card_exists(bot, EDITOR_1, answers)

    for n in range(100):
        bot.command(AUTHOR, f"Race {n:03d}: voted the instant its card appeared", settle=False)

    eventually(lambda: len(answers) == 100, timeout=30, what="a reaction on each of the 100 cards")
    assert answers == [200] * 100
    eventually(
        lambda: all(d.state is State.PUBLISHED for d in bot.ledger.drafts_in(list(State))),
        timeout=30,
        what="every draft published on its one vote",
    )
    drafts = bot.ledger.drafts_in(list(State))
    assert len(drafts) == 100
    lost = [d.number for d in drafts if [v.user_id for v in bot.ledger.votes(d.id)] != [EDITOR_1]]
    assert lost == [], f"votes lost on {lost}"
    assert sorted(bot.x.texts()) == sorted(d.text for d in drafts)
    assert {n: len(ts) for n, ts in bot.slack.cards(REVIEW).items()} == {d.id: 1 for d in drafts}


def test_a_vote_on_a_card_whose_answer_slack_holds_is_kept_and_counted_when_the_card_is_known(bot: Copydesk) -> None:
    slack = bot.slack
    slack.hold("/api/chat.postMessage")
    bot.command(AUTHOR, "at:+1d Slack is slow to answer", settle=False)
    slack.wait_for_held("/api/chat.postMessage")
    [card] = slack.top_level(REVIEW)  # Slack made it; copydesk has not heard its ts

    response = bot.react_on(EDITOR_1, APPROVE, REVIEW, card["ts"], settle=False)

    assert response.status == 200  # kept in the outbox before the 200: nothing is lost if copydesk dies now
    assert bot.ledger.votes(1) == [] and bot.draft(1).card_ts is None
    slack.gates.pop("/api/chat.postMessage").set()
    eventually(lambda: [v.user_id for v in bot.ledger.votes(1)] == [EDITOR_1], what="the vote counted once the card is known")
    assert bot.draft(1).card_ts == card["ts"]
    bot.slack_told()
    assert "1 of 2 approvals" in blocks_text(slack.top_level(REVIEW)[0])
    assert len(slack.cards(REVIEW)[1]) == 1


def test_a_reaction_on_a_replaced_card_or_on_any_other_message_counts_for_nothing(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d First words")
    old = bot.draft(1).card_ts
    assert old is not None
    bot.command(AUTHOR, "edit #1 Second words")
    chatter = bot.services.client.chat_postMessage(channel=REVIEW, text="Lunch at noon?")  # someone else's message

    for ts in (old, chatter["ts"]):
        assert bot.react_on(EDITOR_1, APPROVE, REVIEW, ts).status == 200

    bot.slack_told()
    assert bot.ledger.votes(1) == []  # the old card showed words that are gone; the other message is no card
    assert bot.draft(1).state is State.IN_REVIEW and bot.draft(1).version == 2
    assert [m["metadata"]["event_payload"] for m in bot.slack.top_level(REVIEW) if m.get("metadata")] == [
        {"draft_id": 1, "version": 1},
        {"draft_id": 1, "version": 2},
    ]
    retired = next(m for m in bot.slack.top_level(REVIEW) if m["ts"] == old)
    assert "this version is replaced" in retired["text"]


def test_a_slack_outage_during_votes_and_a_publication_ends_with_everything_said_once_in_order(make_bot, caplog) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "Said during an outage")
    card = bot.draft(1).card_ts
    bot.slack.outage(503)

    assert bot.react(EDITOR_1, APPROVE, 1).status == 200
    bot.slack.outage(429, retry_after=30)
    assert bot.react(EDITOR_2, APPROVE, 1).status == 200
    bot.x.wait_for("/2/tweets")
    bot.wait_for_state(1, State.PUBLISHED)
    eventually(lambda: bot.ledger.outbox_health(clock())["pending"] >= 5, what="the news piling up in the outbox")
    bot.slack_told()  # nothing more can go while Slack is down: it waits, in the ledger

    clock.advance(minutes=10)
    waiting = bot.services.health()["outbox"]
    assert waiting["pending"] >= 5 and waiting["oldest_seconds"] >= 600 and waiting["gave_up"] == 0  # what /healthz says
    bot.slack.restore()
    bot.services.courier.wake()
    eventually(lambda: bot.ledger.outbox_health(clock())["pending"] == 0, what="the outbox delivered after the outage")

    url = bot.ledger.published_parts(1)[1].url
    thread = [m["text"] for m in bot.slack.thread(REVIEW, card)]
    assert thread[0].startswith("Approved by <@U0EDITOR1> and <@U0EDITOR2>") and thread[1:] == [f"Published on X: {url}"]
    dms = [m["text"] for m in bot.slack.dms(AUTHOR)]
    assert len(dms) == 2 and "was approved" in dms[0] and dms[1].endswith(f"is live: {url}")
    assert "Published" in blocks_text(bot.slack.top_level(REVIEW)[0]) and url in blocks_text(bot.slack.top_level(REVIEW)[0])
    assert len(bot.slack.top_level(REVIEW)) == 1


def test_a_thread_reply_whose_answer_was_a_5xx_is_looked_up_not_sent_twice(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Slack posts, then says 500")
    bot.react(EDITOR_1, APPROVE, 1)
    bot.slack.fail_after_success("chat.postMessage")  # the approval's thread reply lands, but Slack answers 500

    bot.react(EDITOR_2, APPROVE, 1)
    eventually(lambda: bot.ledger.outbox_health(bot.desk.core.clock())["pending"] == 0, what="the courier settling it")

    replies = [m["text"] for m in bot.slack.thread(REVIEW, bot.draft(1).card_ts)]
    assert len(replies) == 1 and replies[0].startswith("Approved by")
    assert bot.slack.calls("/api/conversations.replies"), "the thread was not looked at before sending again"


def test_a_message_slack_keeps_refusing_is_given_up_after_a_day_loudly_and_the_queue_moves_on(make_bot, caplog) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "at:+1d Refused for a day")
    bot.slack.failures["chat.update"] = "fatal_error"
    bot.react(EDITOR_1, APPROVE, 1)
    assert bot.ledger.outbox_health(clock())["pending"] == 1

    clock.advance(hours=25)
    with caplog.at_level(logging.ERROR, logger="bot.courier"):
        bot.services.courier.wake()
        eventually(lambda: bot.ledger.outbox_health(clock())["gave_up"] == 1, what="giving up")
    assert "Slack never took outbox message" in caplog.text and "fatal_error" in caplog.text
    assert [e.action for e in bot.ledger.events() if e.action == "slack_gave_up"] == ["slack_gave_up"]

    del bot.slack.failures["chat.update"]
    bot.react(EDITOR_2, APPROVE, 1)
    bot.slack_told()
    assert bot.ledger.outbox_health(clock())["pending"] == 0  # the queue did not stay stuck behind it
    assert "Approved by" in blocks_text(bot.slack.top_level(REVIEW)[0])


def test_a_message_slack_can_never_take_is_given_up_at_once(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Too long for Slack, somehow")
    bot.slack.failures["chat.update"] = "msg_too_long"

    bot.react(EDITOR_1, APPROVE, 1)

    health = bot.ledger.outbox_health(bot.desk.core.clock())
    assert (health["pending"], health["gave_up"]) == (0, 1)


def test_a_draft_slack_sends_again_because_the_answer_was_late_makes_one_draft(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Said once", trigger_id="777.888.first")

    again = bot.command(AUTHOR, "Said once", trigger_id="777.888.first", retry=1)

    assert again.status == 200
    assert "sent already" in bot.private_answer(again)
    assert [d.text for d in bot.ledger.drafts_in(list(State))] == ["Said once"]
    assert len(bot.slack.cards(REVIEW)) == 1


def test_a_rate_limited_slack_never_holds_an_acknowledgement(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot({"editors": ["S0EDITORS"], "approvals_required": 1}, clock=clock)
    bot.slack.groups["S0EDITORS"] = [EDITOR_1, EDITOR_2]
    bot.desk.reading.warm_up()  # as at start, once the group exists
    bot.command(AUTHOR, "at:+1d Voted while Slack rate limits everything")
    bot.slack.outage(429, retry_after=2)  # 2 s twice is past Slack's 3 s for a client that sleeps it out

    for send in (
        lambda: bot.command(EDITOR_2, "at:+2h Written while Slack rate limits", settle=False),  # a new user's zone
        lambda: bot.react(EDITOR_1, APPROVE, 1, settle=False),  # the group is known
        lambda: bot.open_home(EDITOR_2, settle=False),
    ):
        started = time.monotonic()
        response = send()
        assert (response.status, time.monotonic() - started < 3) == (200, True)

    assert bot.draft(1).state is State.APPROVED and len(bot.ledger.drafts_in(list(State))) == 2
    bot.slack_told()  # every try made meanwhile was refused, and waits out Slack's Retry-After
    bot.slack.restore()
    clock.advance(minutes=1)  # past Slack's Retry-After
    bot.services.courier.wake()
    eventually(lambda: bot.draft(2).card_ts is not None, what="the second card once Slack is back")


def test_a_post_x_took_that_the_ledger_cannot_record_is_told_at_once_and_recorded_when_it_can(bot: Copydesk, caplog) -> None:
    bot.command(AUTHOR, "Live before the ledger knows")
    card = bot.draft(1).card_ts
    bot.react(EDITOR_1, APPROVE, 1)
    answer = bot.x.hold("/2/tweets")
    bot.react(EDITOR_2, APPROVE, 1)
    bot.x.wait_for_held("/2/tweets")
    bot.ledger.refuse_writes(True)  # the file turns read-only under copydesk: SQLite's own "attempt to write a readonly database"

    with caplog.at_level(logging.ERROR, logger="bot.desk.publishing"):
        answer.set()
        eventually(
            lambda: any("could not record it" in m["text"] for m in bot.slack.thread(REVIEW, card)),
            what="the thread told at once",
        )
    post = bot.x.posts[0]
    url = f"https://x.com/aplusk/status/{post['id']}"
    [told] = [m["text"] for m in bot.slack.thread(REVIEW, card) if "could not record it" in m["text"]]
    assert url in told and "readonly" in told
    assert url in caplog.text and "readonly" in caplog.text
    assert bot.draft(1).state is State.PUBLISHING  # nothing could be written, nothing was lost

    bot.ledger.refuse_writes(False)  # the operator frees the disk
    bot.wait_for_state(1, State.PUBLISHED)
    assert bot.ledger.published_parts(1)[1].url == url
    assert len(bot.x.arrived("/2/tweets")) == 1


def test_a_button_pressed_on_a_card_whose_ts_is_not_stored_yet_counts_and_adopts_the_card(bot: Copydesk) -> None:
    slack = bot.slack
    slack.hold("/api/chat.postMessage")
    bot.command(AUTHOR, "at:+1d Pressed at once", settle=False)
    slack.wait_for_held("/api/chat.postMessage")
    [card] = slack.top_level(REVIEW)
    [actions] = [b for b in card["blocks"] if b["type"] == "actions"]
    assert actions["block_id"] == "draft-1-v1"

    response = bot.press(EDITOR_1, "copydesk_approve", 1, card_ts=card["ts"], version=1, settle=False)

    assert response.status == 200
    assert [v.user_id for v in bot.ledger.votes(1)] == [EDITOR_1] and bot.draft(1).card_ts == card["ts"]
    slack.gates.pop("/api/chat.postMessage").set()
    bot.slack_told()
    assert len(slack.cards(REVIEW)[1]) == 1  # the courier found the card was adopted: no second one


def test_an_app_installed_without_the_scope_to_look_sends_anyway_rather_than_hold_the_queue(bot: Copydesk, caplog) -> None:
    bot.command(AUTHOR, "at:+1d Installed before im:history existed")
    bot.react(EDITOR_1, APPROVE, 1)
    bot.slack.failures["conversations.open"] = "missing_scope"  # no im:write: the author's messages cannot be looked for
    bot.slack.fail_once_if("chat.postMessage", lambda body: body.get("channel") == AUTHOR)  # the author's message: try again

    with caplog.at_level(logging.WARNING, logger="handlers.notifier"):
        bot.react(EDITOR_2, APPROVE, 1)
        eventually(lambda: bot.ledger.outbox_health(bot.desk.core.clock())["pending"] == 0, what="the queue not held")

    assert [m["text"] for m in bot.slack.dms(AUTHOR) if "was approved" in m["text"]] != []
    assert "could not look for an earlier try" in caplog.text and "missing_scope" in caplog.text
    assert bot.ledger.outbox_health(bot.desk.core.clock())["gave_up"] == 0
