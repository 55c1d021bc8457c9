"""/draft: a draft is stored, its card goes to the review channel, and the author hears back privately."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.review import State
from tests.fakes.slack_api import blocks_text
from tests.support.harness import AUTHOR, REVIEW, Copydesk, MovableClock, at, eventually


def test_a_draft_gets_a_review_card_and_the_author_a_private_link(bot: Copydesk) -> None:
    response = bot.command(AUTHOR, "to:main Big news tomorrow, stay tuned!")

    assert response.status == 200
    draft = bot.latest()
    assert (draft.id, draft.account, draft.author_id, draft.text, draft.state) == (
        1,
        "main",
        AUTHOR,
        "Big news tomorrow, stay tuned!",
        State.IN_REVIEW,
    )
    [card] = bot.slack.posts(REVIEW)
    shown = blocks_text(card)
    assert "Big news tomorrow, stay tuned!" in shown
    assert "Draft #1 for @aplusk" in shown and f"<@{AUTHOR}>" in shown
    assert "30/280" in shown and "0 of 2 approvals" in shown
    assert ":white_check_mark:" in shown and ":x:" in shown
    assert (draft.review_channel, draft.card_ts) == (REVIEW, card_ts(bot))
    [answer] = bot.slack.responses()
    assert answer["response_type"] == "ephemeral"
    assert "Draft #1 for @aplusk is in review" in answer["text"]
    assert f"https://copydesk-test.slack.com/archives/{REVIEW}/p" in answer["text"]
    assert [e.action for e in bot.ledger.events(draft.id)] == ["drafted", "card_posted"]


def card_ts(bot: Copydesk) -> str:
    """The ts Slack gave the card, as copydesk later asked for its permalink."""
    return bot.slack.calls("/api/chat.getPermalink")[0].body["message_ts"]


def test_the_text_is_kept_as_typed_not_as_slack_escaped_it(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Q&amp;A at 5 &lt;3 with @dana — <https://example.com/a?b=1&amp;c=2>\n\n  line two")

    assert bot.latest().text == "Q&A at 5 <3 with @dana — https://example.com/a?b=1&c=2\n\n  line two"
    card = bot.slack.posts(REVIEW)[0]
    text_block = json.loads(card["blocks"])[1] if isinstance(card["blocks"], str) else card["blocks"][1]
    assert text_block["text"] == {"type": "plain_text", "text": bot.latest().text, "emoji": False}


def test_the_default_account_is_used_when_there_is_only_one(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+2h Hello")
    draft = bot.latest()
    assert draft.account == "main"
    assert draft.publish_at is not None
    assert timedelta(hours=1, minutes=59) < draft.publish_at - draft.created_at <= timedelta(hours=2)


def late_2029(make_bot) -> Copydesk:
    """A copydesk whose clock reads 1 December 2029, so that times in January and July 2030 are less than a year ahead."""
    clock = MovableClock()
    clock.advance(seconds=(at("2029-12-01T00:00Z") - clock()).total_seconds())
    return make_bot(clock=clock)


def test_a_time_without_offset_is_read_in_the_authors_slack_time_zone(make_bot) -> None:
    bot = late_2029(make_bot)
    bot.slack.timezones[AUTHOR] = "Asia/Tokyo"
    bot.command(AUTHOR, "at:2030-01-15T09:00 Good morning, Tokyo")
    assert bot.latest().publish_at == at("2030-01-15T09:00+09:00")


def test_without_a_slack_time_zone_the_configured_one_is_used(make_bot) -> None:
    bot = late_2029(make_bot)
    bot.command(AUTHOR, "at:2030-07-01T09:00 Morning in LA")
    assert bot.latest().publish_at == at("2030-07-01T09:00-07:00")


def test_an_explicit_offset_wins_over_any_time_zone(make_bot) -> None:
    bot = late_2029(make_bot)
    bot.slack.timezones[AUTHOR] = "Asia/Tokyo"
    bot.command(AUTHOR, "at:2030-01-15T09:00+00:00 Hello UTC")
    assert bot.latest().publish_at == at("2030-01-15T09:00Z")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("to:main   ", "no text"),
        ("to:brand Hello", "no account 'brand'"),
        ("at:2001-01-01T09:00 Hello", "is in the past"),
        ("at:tomorrowish Hello", "not a time I can read"),
        ("at:2030-03-10T02:30 Hello", "does not exist in America/Los_Angeles"),
        ("at:+1h at:+2h Hello", "at: is given twice"),
        ("a" * 281, "281/280 as X counts it"),
        ("😀" * 141, "282/280"),
    ],
)
def test_bad_input_gets_a_private_answer_and_changes_nothing(bot: Copydesk, text: str, says: str) -> None:
    response = bot.command(AUTHOR, text)

    assert response.status == 200
    assert says in bot.private_answer(response)
    assert bot.ledger.drafts_in(list(State)) == []
    assert bot.ledger.events() == []
    assert bot.slack.posts() == []


def test_an_over_long_draft_is_told_by_how_much(bot: Copydesk) -> None:
    answer = bot.private_answer(bot.command(AUTHOR, "b" * 300))
    assert "300/280 as X counts it (links count 23, most emoji and CJK characters 2): 20 too many." in answer


def test_a_card_that_slack_refuses_leaves_the_draft_saved_the_author_told_and_the_card_tried_again(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.slack.failures["chat.postMessage"] = "not_in_channel"

    bot.command(AUTHOR, "Hello")

    draft = bot.latest()
    assert draft.state is State.IN_REVIEW and draft.card_ts is None
    [answer] = bot.slack.responses()
    assert "#1 is saved" in answer["text"] and "not_in_channel" in answer["text"] and "keeps trying" in answer["text"]
    assert [e.action for e in bot.ledger.events(draft.id)] == ["drafted"]
    assert bot.ledger.outbox_health(clock())["pending"] == 1

    del bot.slack.failures["chat.postMessage"]  # someone invites the bot to the review channel
    clock.advance(minutes=1)  # past the courier's backoff
    bot.services.courier.wake()
    eventually(lambda: bot.draft(1).card_ts is not None, what="the card going up once Slack takes it")
    assert "Hello" in blocks_text(bot.slack.posts(REVIEW)[-1])


def test_help_shows_usage_privately(bot: Copydesk) -> None:
    answer = bot.private_answer(bot.command(AUTHOR, "help"))
    assert "/draft [to:ACCOUNT] [at:WHEN] TEXT" in answer
    assert "/draft list" in answer
    assert bot.ledger.drafts_in(list(State)) == []


def test_list_shows_what_waits_for_review_or_its_time(bot: Copydesk) -> None:
    assert "Nothing is waiting" in bot.private_answer(bot.command(AUTHOR, "list"))
    bot.command(AUTHOR, "First & foremost")
    bot.command(AUTHOR, "at:+1d Second")

    listing = json.loads(bot.command(AUTHOR, "list").body)["text"]

    assert "*#1*" in listing and "*#2*" in listing
    assert "First &amp; foremost" in listing
    assert "0 of 2 approvals" in listing


def test_slack_hears_back_once_the_draft_is_stored_before_the_card_is_posted(bot: Copydesk, slack) -> None:
    gate = slack.hold("/api/chat.postMessage")

    response = bot.command(AUTHOR, "Acknowledged first", settle=False)

    # The command is answered with the draft already in the ledger; the card is still on its way to Slack.
    assert response.status == 200 and response.body == ""
    assert slack.wait_for_held("/api/chat.postMessage").body["channel"] == REVIEW
    assert bot.latest().text == "Acknowledged first"
    gate.set()
    slack.wait_for("/respond/cmd")
    assert "is in review" in slack.responses()[0]["text"]


def test_a_long_post_full_of_links_is_shown_whole_on_the_card(bot: Copydesk) -> None:
    links = " ".join(f"https://example.com/{i}/" + "a" * 380 for i in range(10))
    bot.command(AUTHOR, links)

    assert bot.latest().text == links and len(links) > 3000
    blocks = bot.slack.posts(REVIEW)[0]["blocks"]
    texts = [b["text"] for b in blocks if "text" in b]
    assert "".join(t["text"] for t in texts if t["type"] == "plain_text") == links
    assert all(len(t["text"]) <= 3000 for t in texts)
