"""The App Home: the switch, what waits for this editor's vote, the queue, and what went out lately."""

from __future__ import annotations

from bot.review import State
from handlers import render
from tests.conftest import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, Copydesk
from tests.fakes.slack_api import action_ids, blocks_text


def home_of(bot: Copydesk, user: str) -> dict:
    bot.open_home(user)
    call = bot.slack.calls("/api/views.publish")[-1]
    assert call.body["user_id"] == user
    return bot.slack.views("views.publish")[-1]


def section(home: dict, heading: str) -> str:
    """Everything shown under a heading, up to the next divider (a draft's words are in its section's fields)."""
    blocks = home["blocks"]
    at = next(i for i, b in enumerate(blocks) if b["type"] == "section" and b["text"]["text"].startswith(f"*{heading}"))
    shown = []
    for block in blocks[at + 1 :]:
        if block["type"] == "divider":
            break
        shown += [block["text"]["text"], *(f["text"] for f in block.get("fields", []))]
    return "\n".join(shown)


def test_an_editor_sees_what_waits_for_their_vote_the_queue_and_what_went_out(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Waiting for votes")
    bot.command(AUTHOR, "at:+2d Already approved")
    bot.react(EDITOR_1, "white_check_mark", 2)
    bot.react(EDITOR_2, "white_check_mark", 2)
    bot.command(AUTHOR, "Gone out")
    bot.react(EDITOR_1, "white_check_mark", 3)
    bot.react(EDITOR_2, "white_check_mark", 3)
    published = bot.wait_for_state(3, State.PUBLISHED)

    home = home_of(bot, EDITOR_1)

    assert home["type"] == "home"
    text = blocks_text(home)
    assert "Publishing is on" in text
    assert "*Waiting for your vote (1)*" in text and action_ids(home) == set()
    waiting = section(home, "Waiting for your vote")
    card = bot.draft(1).card_ts.replace(".", "")
    assert "*#1* @aplusk" in waiting and f"/archives/{REVIEW}/p{card}|Read it and vote on its card>" in waiting
    assert "Waiting for votes" in section(home, "In review (1)")
    assert "Already approved" in section(home, "Approved and scheduled (1)")
    assert section(home, ":raised_hand: Held for a person (0)") == "_Nothing._"
    went_out = section(home, "Went out lately")
    assert "Gone out" in went_out and bot.ledger.publications(published.id)[-1].url in went_out

    # The author does not vote on their own draft; their home asks nothing of them.
    assert "Waiting for your vote" not in blocks_text(home_of(bot, AUTHOR))


def test_the_card_links_are_asked_of_slack_once(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Linked")
    asked = len(bot.slack.calls("/api/chat.getPermalink"))  # the author's confirmation asked once
    home_of(bot, EDITOR_1)
    home_of(bot, EDITOR_2)
    assert len(bot.slack.calls("/api/chat.getPermalink")) == asked


def test_held_posts_are_flagged_and_long_lists_point_to_draft_list(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Due while paused")
    bot.command("U0ADMIN01", "pause First scare")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.command("U0ADMIN01", "resume")  # its time passed while paused: held for an editor
    assert bot.draft(1).state is State.HELD
    for n in range(render.HOME_LIST_LIMIT + 1):
        bot.command(AUTHOR, f"at:+1d Draft number {n}")
    bot.command("U0ADMIN01", "pause Checking something")

    home = home_of(bot, EDITOR_2)

    assert "Publishing is paused* by <@U0ADMIN01>" in blocks_text(home) and "Checking something" in blocks_text(home)
    assert "*#1*" in section(home, ":raised_hand: Held for a person (1)")
    in_review = section(home, f"In review ({render.HOME_LIST_LIMIT + 1})")
    assert in_review.endswith("…and 1 more: /draft list shows them all.")
    assert len(home["blocks"]) <= 100  # Slack's limit for a view
