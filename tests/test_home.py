"""The App Home: the switch, what waits for this editor's vote, the queue, and what went out lately."""

from __future__ import annotations

from bot.review import State
from handlers import render
from tests.conftest import AUTHOR, EDITOR_1, EDITOR_2, Copydesk
from tests.fakes.slack_api import action_ids, blocks_text


def home_of(bot: Copydesk, user: str) -> dict:
    bot.open_home(user)
    call = bot.slack.calls("/api/views.publish")[-1]
    assert call.body["user_id"] == user
    return bot.slack.views("views.publish")[-1]


def section(home: dict, heading: str) -> str:
    """The text of the section that follows a heading."""
    texts = [b["text"]["text"] for b in home["blocks"] if b["type"] == "section"]
    at = next(i for i, t in enumerate(texts) if t.startswith(f"*{heading}"))
    return texts[at + 1]


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
    assert "*Waiting for your vote (1)*" in text and action_ids(home) == {render.APPROVE, render.REJECT}
    assert "*#1* @aplusk" in section(home, "Waiting for your vote")
    assert "Waiting for votes" in section(home, "In review (1)")
    assert "Already approved" in section(home, "Approved and scheduled (1)")
    assert section(home, ":raised_hand: Held for a person (0)") == "_Nothing._"
    went_out = section(home, "Went out lately")
    assert "Gone out" in went_out and bot.ledger.publications(published.id)[-1].url in went_out

    # The author does not vote on their own draft; their home asks nothing of them.
    assert "Waiting for your vote" not in blocks_text(home_of(bot, AUTHOR))


def test_approving_from_the_home_counts_the_vote_answers_in_a_dm_and_redraws_the_home(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d From the home tab")
    home_of(bot, EDITOR_1)

    bot.press(EDITOR_1, render.APPROVE, 1, on_home=True)

    assert [(v.user_id, v.kind.value) for v in bot.ledger.votes(1)] == [(EDITOR_1, "approve")]
    assert bot.slack.posts(EDITOR_1)[-1]["text"].startswith("You approved #1")
    redrawn = bot.slack.views("views.publish")[-1]
    assert "Waiting for your vote" not in blocks_text(redrawn)
    assert "1 of 2 approvals" in section(redrawn, "In review (1)")


def test_a_refused_press_on_the_home_is_answered_in_a_dm(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Not yours to approve")
    bot.press(AUTHOR, render.APPROVE, 1, on_home=True)
    assert "Only the editors of main vote" in bot.slack.posts(AUTHOR)[-1]["text"]
    assert bot.ledger.votes(1) == []


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
