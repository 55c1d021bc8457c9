"""The card shows exactly the words that go out: no Slack markup from a draft (or a pause reason) is interpreted anywhere
copydesk shows it, /draft refuses markup that cannot mean the same on X, and forms take text as typed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.review import State
from handlers import render
from handlers.slack_text import escape
from tests.fakes.slack_api import FakeSlack, blocks_text
from tests.support.digests import DIGEST, clock_at, fire, tomorrow
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, Copydesk, MovableClock

ADMIN = "U0ADMIN01"
# Every kind of markup at once, as someone types it in the form (which Slack sends as typed).
MARKUP = "<!channel> <https://evil.example|innocent.example> *now* &lt; <@U0X> <#C0X>"
LIVE = ("<!channel>", "<https://evil.example", "<@U0X>", "<#C0X>", "*now*")  # markup, were it interpreted


FALLBACK = "\x00fallback:"  # marks a message's `text` beside blocks: notifications show it, the channel does not


def said(value: Any, mrkdwn: list[str], plain: list[str]) -> None:
    """Sort every text Slack was given into what Slack interprets (mrkdwn, a message's `text`) and what it shows as is."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, dict) and value.get("blocks") and isinstance(value.get("text"), str):
        mrkdwn.append(FALLBACK + value["text"])
        value = {k: v for k, v in value.items() if k != "text"}
    if isinstance(value, dict):
        if value.get("type") == "plain_text" and isinstance(value.get("text"), str):
            plain.append(value["text"])
            return
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            mrkdwn.append(value["text"])
            return
        for key, inner in value.items():
            if key == "text" and isinstance(inner, str):
                mrkdwn.append(inner)  # a message's text: mrkdwn, and what notifications show
            elif key in ("blocks", "view", "text", "fields", "elements"):
                said(inner, mrkdwn, plain)
    elif isinstance(value, list):
        for item in value:
            said(item, mrkdwn, plain)


def everything_slack_was_told(slack: FakeSlack) -> tuple[list[str], list[str]]:
    mrkdwn: list[str] = []
    plain: list[str] = []
    for call in slack.calls():
        if call.path.startswith(("/respond/", "/api/chat.", "/api/views.")):
            said(call.body, mrkdwn, plain)
    return mrkdwn, plain


def assert_nothing_interpreted(slack: FakeSlack) -> None:
    """No markup in anything Slack interprets; a fallback's mrkdwn formatting (*now*) cannot be escaped, and only
    notifications show it (the words themselves are in plain_text blocks beside it)."""
    mrkdwn, _ = everything_slack_was_told(slack)
    leaks = [text for text in mrkdwn for live in LIVE if live in text and not (text.startswith(FALLBACK) and live == "*now*")]
    assert leaks == [], leaks


def shows(message: dict[str, Any], words: str) -> bool:
    """The words are in one of the message's plain_text objects, exactly."""
    _, plain = everything_slack_was_told_in(message)
    return any(words in text for text in plain)


def everything_slack_was_told_in(message: dict[str, Any]) -> tuple[list[str], list[str]]:
    mrkdwn: list[str] = []
    plain: list[str] = []
    said(message, mrkdwn, plain)
    return mrkdwn, plain


def draft_in_form(bot: Copydesk, text: str) -> int:
    bot.command(AUTHOR, "")
    bot.submit_form(AUTHOR, text)
    return bot.latest().id


def test_a_draft_full_of_markup_is_shown_literally_everywhere(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    waiting = draft_in_form(bot, MARKUP)
    bot.command(AUTHOR, "Second: " + escape(MARKUP))  # the same typed in /draft: Slack escapes what is not its markup
    approved = bot.latest().id
    assert (bot.draft(waiting).text, bot.draft(approved).text) == (MARKUP, "Second: " + MARKUP)  # stored as typed
    bot.react(EDITOR_1, "white_check_mark", waiting)
    bot.react(EDITOR_1, "white_check_mark", approved)
    bot.react(EDITOR_2, "white_check_mark", approved)
    bot.wait_for_state(approved, State.PUBLISHED)
    bot.slack_told()  # the thread hears of the publication from the outbox, after the ledger has it

    # the card: the words exactly, as plain_text
    card = bot.slack.top_level(REVIEW)[0]
    assert shows(card, MARKUP)
    # the card's thread heard the approval and the publication
    replies = bot.slack.thread(REVIEW, bot.draft(approved).card_ts)
    assert any(r["text"].startswith("Approved by") for r in replies) and any("Published on X" in r["text"] for r in replies)
    # the reminder in the first draft's thread
    clock.advance(hours=3)
    bot.desk.reminders.remind(waiting)
    bot.slack_told()
    assert any(":bell:" in r["text"] for r in bot.slack.thread(REVIEW, bot.draft(waiting).card_ts))
    # /draft list
    listing = json.loads(bot.command(EDITOR_2, "list").body)
    assert shows(listing, f"“{MARKUP}”") and escape(MARKUP) in listing["text"]
    # the App Home of an editor who still has to vote
    bot.open_home(EDITOR_2)
    home = bot.slack.views("views.publish")[-1]
    assert shows(home, f"“{MARKUP}”") and "*Waiting for your vote (1)*" in blocks_text(home)
    # the daily digest: its blocks, and the text notifications show
    fire(bot, clock)
    [digest] = bot.slack.posts(DIGEST)
    assert shows(digest, f"“{MARKUP}”") and shows(digest, f"“Second: {MARKUP}”")
    assert f'"{escape(MARKUP)}"' in digest["text"]

    assert_nothing_interpreted(bot.slack)
    assert bot.x.posts[0]["body"]["text"] == "Second: " + MARKUP  # and X got exactly those words


def test_a_pause_reason_is_shown_literally_on_the_cards_and_in_the_announcement(bot: Copydesk) -> None:
    draft_in_form(bot, "Open during the pause")
    reason = "<!channel> the site is *down* <https://evil.example|status>"

    bot.command(ADMIN, "pause " + escape(reason))  # typed literally, Slack sends it escaped

    assert bot.ledger.current_pause().reason == reason
    announcement = bot.slack.posts(REVIEW)[-1]
    assert shows(announcement, reason) and escape(reason) in announcement["text"]
    card = next(m for m in bot.slack.top_level(REVIEW) if (m.get("metadata") or {}).get("event_type") == "copydesk_card")
    assert shows(card, reason) and "Publishing is paused" in blocks_text(card)
    bot.open_home(AUTHOR)
    assert shows(bot.slack.views("views.publish")[-1], reason)
    assert_nothing_interpreted(bot.slack)


def nothing_stored(bot: Copydesk) -> None:
    assert bot.ledger.drafts_in(list(State)) == [] and bot.ledger.events() == [] and bot.slack.posts() == []


@pytest.mark.parametrize(
    ("slack_sent", "says"),
    [
        ("Thanks <@U0EDITOR2> for this", ["X does not know Slack users", "X handle", "<@U0EDITOR2>"]),
        ("Thanks <@U0EDITOR2|sam> for this", ["X does not know Slack users", "@sam", "X handle"]),
        ("Join us in <#C0GENERAL|general>", ["#general is a Slack channel"]),
        ("<!channel> big news", ["@channel notifies people in Slack"]),
        ("<!here> big news", ["@here notifies people in Slack"]),
        ("<!everyone> big news", ["@everyone notifies people in Slack"]),
        ("Hi <!subteam^S0TEAM|@editors>", ["The Slack user group @editors"]),
        ("Read <https://evil.example|innocent.example>", ["“innocent.example” leads to https://evil.example"]),
        ("Read <https://evil.example/?a=1&amp;b=2|example.com>", ["“example.com” leads to https://evil.example/?a=1&amp;b=2"]),
    ],
)
def test_draft_refuses_slack_markup_that_means_nothing_on_x(bot: Copydesk, slack_sent: str, says: list[str]) -> None:
    answer = bot.private_answer(bot.command(AUTHOR, slack_sent))

    for words in says:
        assert words in answer, answer
    nothing_stored(bot)


def test_an_edit_with_a_slack_mention_is_refused_and_changes_nothing(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Thanks to our editor")
    before = bot.draft(1)

    answer = bot.private_answer(bot.command(AUTHOR, "edit #1 Thanks to <@U0EDITOR2>"))

    assert "X handle" in answer and bot.draft(1) == before


@pytest.mark.parametrize(
    ("slack_sent", "stored"),
    [
        ("More at <http://example.com|example.com>", "More at example.com"),
        ("More at <https://example.com/a>", "More at https://example.com/a"),
        ("More at <https://example.com/a|https://example.com/a>", "More at https://example.com/a"),
        ("More at <http://www.example.com/a?b=1&amp;c=2|www.example.com/a?b=1&amp;c=2>", "More at www.example.com/a?b=1&c=2"),
        ("Write to <mailto:press@example.com|press@example.com>", "Write to press@example.com"),
        ("Say hi to @aplusk #launch", "Say hi to @aplusk #launch"),
    ],
)
def test_links_slack_made_of_a_typed_address_stay_as_typed(bot: Copydesk, slack_sent: str, stored: str) -> None:
    bot.command(AUTHOR, slack_sent)
    assert bot.latest().text == stored


def test_the_edit_form_saved_unchanged_changes_nothing(bot: Copydesk) -> None:
    draft = draft_in_form(bot, "Q&A <3 you")
    assert bot.draft(draft).text == "Q&A <3 you"
    bot.react(EDITOR_1, "white_check_mark", draft)
    before, cards = bot.draft(draft), len(bot.slack.posts(REVIEW))
    events = len(bot.ledger.events(draft))

    bot.press(AUTHOR, render.EDIT, draft)
    form = bot.slack.views()[-1]
    shown = form["blocks"][0]["element"]["initial_value"]
    assert shown == "Q&A <3 you"
    done = bot.submit_edit(AUTHOR, draft, shown)

    assert done.status == 200 and not done.body  # the form closes quietly
    after = bot.draft(draft)
    assert (after.text, after.version, after.card_ts) == ("Q&A <3 you", before.version, before.card_ts)
    assert [v.user_id for v in bot.ledger.votes(draft)] == [EDITOR_1]
    assert len(bot.slack.posts(REVIEW)) == cards and len(bot.ledger.events(draft)) == events

    # the same text by /draft edit: told privately that nothing changed
    answer = bot.private_answer(bot.command(AUTHOR, f"edit #{draft} Q&amp;A &lt;3 you"))
    assert "nothing changed" in answer and [v.user_id for v in bot.ledger.votes(draft)] == [EDITOR_1]
    assert bot.draft(draft).version == before.version


def test_a_changed_form_is_taken_as_typed_not_unescaped(bot: Copydesk) -> None:
    draft = draft_in_form(bot, "Fish &amp; chips")
    assert bot.draft(draft).text == "Fish &amp; chips"  # what was typed, entity and all
    bot.press(AUTHOR, render.EDIT, draft)
    bot.submit_edit(AUTHOR, draft, "Fish &lt;3 chips <@U0EDITOR1>")
    assert bot.draft(draft).text == "Fish &lt;3 chips <@U0EDITOR1>"
    assert bot.draft(draft).version == 2
    assert shows(bot.slack.top_level(REVIEW)[-1], "Fish &lt;3 chips <@U0EDITOR1>")
    assert_nothing_interpreted_for(bot.slack, "<@U0EDITOR1>")


def assert_nothing_interpreted_for(slack: FakeSlack, markup: str) -> None:
    mrkdwn, _ = everything_slack_was_told(slack)
    assert not [t for t in mrkdwn if "Fish" in t and markup in t]


def test_a_legacy_announcement_queued_before_an_upgrade_is_sent_as_worded(bot: Copydesk) -> None:
    from bot.messenger import ANNOUNCE, channel_queue

    clock = MovableClock()
    with bot.ledger.transaction():
        bot.ledger.enqueue(channel_queue(REVIEW), ANNOUNCE, at=clock(), channel=REVIEW, text=":arrow_forward: Worded before")
    bot.services.courier.wake()
    bot.slack_told()
    assert bot.slack.posts(REVIEW)[-1]["text"] == ":arrow_forward: Worded before"
