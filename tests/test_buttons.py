"""The card's Approve and Reject buttons, for people who prefer clicking: the same rules as reactions."""

from __future__ import annotations

from bot.review import State
from handlers import render
from tests.fakes.slack_api import action_ids, blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3, OUTSIDER, REVIEW, Copydesk


def test_two_editors_press_approve_and_the_post_is_scheduled(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Clicked through")
    assert {render.APPROVE, render.REJECT, render.EDIT, render.WITHDRAW} <= action_ids(bot.slack.posts(REVIEW)[0])

    bot.press(EDITOR_1, render.APPROVE, 1)
    assert "You approved #1: :hourglass_flowing_sand: In review — 1 of 2 approvals" in bot.slack.responses()[-1]["text"]
    assert "1 of 2 approvals" in blocks_text(bot.slack.updates()[-1])

    bot.press(EDITOR_2, render.APPROVE, 1)

    draft = bot.draft(1)
    assert draft.state is State.APPROVED
    assert bot.services.scheduler.due_at(1) == draft.publish_at
    assert f"Approved by <@{EDITOR_1}> and <@{EDITOR_2}>" in blocks_text(bot.slack.updates()[-1])
    assert "was approved by" in bot.slack.posts(AUTHOR)[-1]["text"]
    assert [(e.action, e.actor) for e in bot.ledger.events(1)][-3:] == [
        ("vote_added", EDITOR_1),
        ("vote_added", EDITOR_2),
        ("approved", EDITOR_2),
    ]


def test_pressing_approve_again_takes_the_vote_back(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Second thoughts")
    bot.press(EDITOR_1, render.APPROVE, 1)
    bot.press(EDITOR_2, render.APPROVE, 1)
    assert bot.draft(1).state is State.APPROVED

    bot.press(EDITOR_2, render.APPROVE, 1)

    assert bot.draft(1).state is State.IN_REVIEW
    assert bot.services.scheduler.due_at(1) is None
    assert bot.slack.responses()[-1]["text"].startswith("You took back your vote on #1")
    reply = [p for p in bot.slack.posts(REVIEW) if p.get("thread_ts")][-1]
    assert "withdrew an approval" in reply["text"]


def test_reject_vetoes_and_approve_from_the_same_editor_replaces_it(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Contested")
    bot.press(EDITOR_1, render.APPROVE, 1)
    bot.press(EDITOR_3, render.REJECT, 1)
    assert bot.draft(1).state is State.REJECTED
    card = blocks_text(bot.slack.updates()[-1])
    assert f"Rejected by <@{EDITOR_3}>" in card
    assert f"Votes: Approved by <@{EDITOR_1}> · vetoed by <@{EDITOR_3}>" in card  # every vote stays visible

    bot.press(EDITOR_3, render.APPROVE, 1)  # changed their mind: one button vote each, the latest press

    assert bot.draft(1).state is State.APPROVED
    assert [(v.user_id, v.kind.value) for v in bot.ledger.votes(1)] == [(EDITOR_1, "approve"), (EDITOR_3, "approve")]


def test_a_button_and_a_reaction_from_one_editor_are_one_approval(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Belt and braces")
    bot.press(EDITOR_1, render.APPROVE, 1)
    bot.react(EDITOR_1, "white_check_mark", 1)
    assert bot.draft(1).state is State.IN_REVIEW

    bot.react(EDITOR_2, "white_check_mark", 1)
    assert bot.draft(1).state is State.APPROVED


def test_buttons_follow_the_reaction_rules_and_a_refusal_changes_nothing(make_bot) -> None:
    bot = make_bot({"editors": [AUTHOR, EDITOR_1, EDITOR_2], "approvals_required": 2})
    bot.command(AUTHOR, "at:+1d My own post")

    bot.press(OUTSIDER, render.APPROVE, 1)
    assert "Only the editors of main vote on drafts; your vote on #1 is not counted." == bot.slack.responses()[-1]["text"]
    bot.press(AUTHOR, render.APPROVE, 1)
    assert "Authors cannot approve their own drafts" in bot.slack.responses()[-1]["text"]
    assert bot.ledger.votes(1) == [] and bot.draft(1).state is State.IN_REVIEW

    bot.press(AUTHOR, render.REJECT, 1)  # an author who is an editor may still veto their own draft
    assert bot.draft(1).state is State.REJECTED


def test_no_vote_changes_a_published_post(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Out now")
    bot.press(EDITOR_1, render.APPROVE, 1)
    bot.press(EDITOR_2, render.APPROVE, 1)
    bot.wait_for_state(1, State.PUBLISHED)

    bot.press(EDITOR_3, render.REJECT, 1)

    assert bot.slack.responses()[-1]["text"] == "#1 is already published; votes no longer change it."
    assert bot.draft(1).state is State.PUBLISHED and len(bot.ledger.votes(1)) == 2


def test_a_press_on_a_replaced_card_counts_for_nothing(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d First words")
    old = bot.draft(1).card_ts
    bot.command(AUTHOR, "edit #1 Second words")
    assert bot.draft(1).card_ts != old

    bot.press(EDITOR_1, render.APPROVE, 1, card_ts=old)

    assert bot.slack.responses()[-1]["text"] == "This card shows an earlier version of #1; read and vote on its new card."
    assert bot.ledger.votes(1) == []


def test_the_thread_hears_approved_before_published_when_a_press_or_a_reaction_sends_it_at_once(bot: Copydesk) -> None:
    """The publishing job's news and the vote's news leave from different threads; their order is kept anyway."""
    bot.command(AUTHOR, "By buttons, out at once")
    bot.command(AUTHOR, "By reactions, out at once")

    bot.press(EDITOR_1, render.APPROVE, 1)
    bot.press(EDITOR_2, render.APPROVE, 1)
    bot.react(EDITOR_1, "white_check_mark", 2)
    bot.react(EDITOR_2, "white_check_mark", 2)
    for number in (1, 2):
        bot.wait_for_state(number, State.PUBLISHED)
    bot.slack_told()

    for number in (1, 2):
        card = bot.draft(number).card_ts
        thread = [p["text"] for p in bot.slack.posts(REVIEW) if p.get("thread_ts") == card]
        assert [t.split(" ")[0] for t in thread] == ["Approved", "Published"], thread
        told = [p["text"] for p in bot.slack.posts(AUTHOR) if f"#{number}" in p["text"]]
        assert ["approved" in told[0], "live" in told[-1]] == [True, True], told
