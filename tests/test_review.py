"""Editors vote with reactions on the card: a quorum approves, one veto rejects, removing takes it back."""

from __future__ import annotations

import pytest

from bot.review import Kind, State
from tests.fakes.slack_api import blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3, OUTSIDER, REVIEW, Copydesk


@pytest.fixture
def draft(bot: Copydesk) -> int:
    bot.command(AUTHOR, "at:+1d A post for tomorrow")
    return bot.latest().id


def test_two_editors_approve_and_the_post_is_scheduled_for_its_time(bot: Copydesk, draft: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", draft)
    assert bot.draft(draft).state is State.IN_REVIEW
    assert "1 of 2 approvals" in blocks_text(bot.slack.updates()[-1])

    bot.react(EDITOR_2, "heavy_check_mark", draft)

    approved = bot.draft(draft)
    assert approved.state is State.APPROVED
    assert bot.services.scheduler.due_at(draft) == approved.publish_at
    assert bot.x.posts == []
    card = blocks_text(bot.slack.updates()[-1])
    assert f"Approved by <@{EDITOR_1}> and <@{EDITOR_2}>" in card
    [reply] = [p for p in bot.slack.posts(REVIEW) if p.get("thread_ts")]
    assert reply["thread_ts"] == approved.card_ts and "Approved by" in reply["text"]
    [dm] = bot.slack.posts(AUTHOR)
    assert "Your draft #1 for @aplusk was approved" in dm["text"]
    assert [(e.action, e.actor) for e in bot.ledger.events(draft)][-3:] == [
        ("vote_added", EDITOR_1),
        ("vote_added", EDITOR_2),
        ("approved", EDITOR_2),
    ]


def test_one_editor_twice_is_still_one_approval(bot: Copydesk, draft: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", draft)
    bot.react(EDITOR_1, "heavy_check_mark", draft)
    assert bot.draft(draft).state is State.IN_REVIEW
    assert len(bot.ledger.votes(draft)) == 2


def test_one_veto_rejects_even_after_a_quorum(bot: Copydesk, draft: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", draft)
    bot.react(EDITOR_2, "white_check_mark", draft)
    bot.react(EDITOR_3, "x", draft)

    assert bot.draft(draft).state is State.REJECTED
    assert bot.services.scheduler.due_at(draft) is None
    assert f"Rejected by <@{EDITOR_3}>" in blocks_text(bot.slack.updates()[-1])
    assert "was vetoed by" in bot.slack.posts(AUTHOR)[-1]["text"]


def test_withdrawing_the_veto_brings_back_what_the_votes_say(bot: Copydesk, draft: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", draft)
    bot.react(EDITOR_2, "white_check_mark", draft)
    bot.react(EDITOR_3, "no_entry_sign", draft)

    bot.react(EDITOR_3, "no_entry_sign", draft, removed=True)

    assert bot.draft(draft).state is State.APPROVED
    assert bot.services.scheduler.due_at(draft) is not None


def test_removing_an_approval_below_quorum_unschedules_the_post(bot: Copydesk, draft: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", draft)
    bot.react(EDITOR_2, "white_check_mark", draft)
    assert bot.services.scheduler.due_at(draft) is not None

    bot.react(EDITOR_2, "white_check_mark", draft, removed=True)

    assert bot.draft(draft).state is State.IN_REVIEW
    assert bot.services.scheduler.due_at(draft) is None
    reply = [p for p in bot.slack.posts(REVIEW) if p.get("thread_ts")][-1]
    assert "withdrew an approval" in reply["text"] and "no longer scheduled" in reply["text"]
    assert (
        bot.slack.posts(AUTHOR)[-1]["text"] == f"Your draft #1 for @aplusk is back in review: <@{EDITOR_2}> withdrew an approval."
    )


def test_a_non_editor_reaction_is_not_a_vote_and_they_are_told_privately(bot: Copydesk, draft: int) -> None:
    bot.react(OUTSIDER, "white_check_mark", draft)
    bot.react(OUTSIDER, "x", draft)

    assert bot.draft(draft).state is State.IN_REVIEW
    assert bot.ledger.votes(draft) == []
    notes = bot.slack.ephemerals()
    assert [n["user"] for n in notes] == [OUTSIDER, OUTSIDER]
    assert "Only the editors of main vote" in notes[0]["text"] and notes[0]["channel"] == REVIEW


def test_other_reactions_and_reactions_elsewhere_are_ignored(bot: Copydesk, draft: int) -> None:
    bot.react(EDITOR_1, "tada", draft)
    bot.react_on(EDITOR_1, "white_check_mark", REVIEW, "1699999999.000001")
    bot.react_on(EDITOR_1, "white_check_mark", "C0ELSEWHERE", bot.draft(draft).card_ts or "")

    assert bot.ledger.votes(draft) == []
    assert bot.slack.updates() == [] and bot.slack.ephemerals() == []


def test_skin_toned_reactions_count_like_the_plain_one(bot: Copydesk, draft: int) -> None:
    bot.react(EDITOR_1, "white_check_mark::skin-tone-4", draft)
    assert [v.kind for v in bot.ledger.votes(draft)] == [Kind.APPROVE]


def test_a_redelivered_event_is_not_counted_twice(bot: Copydesk, draft: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", draft, event_id="Ev0001")
    bot.react(EDITOR_1, "white_check_mark", draft, removed=True, event_id="Ev0002")
    # Slack retries the first delivery after a timeout: the vote must stay withdrawn.
    bot.react(EDITOR_1, "white_check_mark", draft, event_id="Ev0001", retry=1)

    assert bot.ledger.votes(draft) == []
    assert [e.action for e in bot.ledger.events(draft)].count("vote_added") == 1


def test_the_author_cannot_approve_their_own_draft(make_bot) -> None:
    bot = make_bot({"editors": [AUTHOR, EDITOR_1, EDITOR_2]})
    bot.command(AUTHOR, "at:+1d Mine")

    bot.react(AUTHOR, "white_check_mark", 1)
    bot.react(EDITOR_1, "white_check_mark", 1)

    assert bot.draft(1).state is State.IN_REVIEW
    assert "cannot approve their own" in bot.slack.ephemerals()[0]["text"]
    bot.react(AUTHOR, "x", 1)  # an author who is an editor can still veto
    assert bot.draft(1).state is State.REJECTED


def test_self_approval_counts_when_allowed(make_bot) -> None:
    bot = make_bot({"editors": [AUTHOR, EDITOR_1], "allow_self_approval": True})
    bot.command(AUTHOR, "at:+1d Mine")

    bot.react(AUTHOR, "white_check_mark", 1)
    bot.react(EDITOR_1, "white_check_mark", 1)

    assert bot.draft(1).state is State.APPROVED


def test_a_draft_that_could_never_reach_quorum_is_refused(make_bot) -> None:
    bot = make_bot({"editors": [AUTHOR, EDITOR_1]})

    answer = bot.private_answer(bot.command(AUTHOR, "Mine"))

    assert "needs 2 approval(s) from editors other than the author" in answer
    assert bot.ledger.drafts_in(list(State)) == []


def test_editors_can_be_a_slack_user_group(make_bot, slack) -> None:
    slack.groups["S0EDITORS"] = [EDITOR_1, EDITOR_2]
    bot = make_bot({"editors": ["S0EDITORS"]})
    bot.command(AUTHOR, "at:+1d Grouped")

    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_3, "white_check_mark", 1)  # not in the group
    bot.react(EDITOR_2, "white_check_mark", 1)

    assert bot.draft(1).state is State.APPROVED
    assert {v.user_id for v in bot.ledger.votes(1)} == {EDITOR_1, EDITOR_2}
    assert bot.services.scheduler.due_at(1) is not None


def test_when_slack_cannot_list_the_editor_group_nothing_is_counted_and_the_redelivery_is(make_bot, slack) -> None:
    bot = make_bot({"editors": ["S0EDITORS"], "approvals_required": 1})
    slack.groups["S0EDITORS"] = [EDITOR_1]
    bot.command(AUTHOR, "at:+1d Grouped")  # needs the group to check the quorum: cached from here on
    slack.failures["usergroups.users.list"] = "ratelimited"
    bot.desk.core.directory.forget()  # as after a restart: the next vote must ask Slack who is in the group

    response = bot.react(EDITOR_1, "white_check_mark", 1, event_id="Ev0100")

    assert response.status == 500  # so that Slack delivers it again
    assert bot.ledger.votes(1) == []
    assert bot.slack.ephemerals() == []
    del slack.failures["usergroups.users.list"]
    bot.react(EDITOR_1, "white_check_mark", 1, event_id="Ev0100", retry=1)
    assert bot.draft(1).state is State.APPROVED


def test_a_stale_editor_group_is_better_than_none(slack) -> None:
    from slack_sdk import WebClient

    from handlers.notifier import SlackDirectory
    from tests.fakes.slack_api import BOT_TOKEN

    directory = SlackDirectory(WebClient(token=BOT_TOKEN, base_url=slack.api_url), ttl_seconds=0)
    slack.groups["S0EDITORS"] = [EDITOR_1, EDITOR_2]
    assert directory.members_of("S0EDITORS") == {EDITOR_1, EDITOR_2}
    slack.failures["usergroups.users.list"] = "ratelimited"
    assert directory.members_of("S0EDITORS") == {EDITOR_1, EDITOR_2}
    assert len(slack.calls("/api/usergroups.users.list")) == 2  # it did ask again, and fell back


def test_a_veto_stands_even_if_the_vetoing_editor_leaves_the_group_later(make_bot, slack) -> None:
    slack.groups["S0EDITORS"] = [EDITOR_1, EDITOR_2, EDITOR_3]
    bot = make_bot({"editors": ["S0EDITORS"]})
    bot.command(AUTHOR, "at:+1d Grouped")
    bot.react(EDITOR_3, "x", 1)

    slack.groups["S0EDITORS"] = [EDITOR_1, EDITOR_2]
    bot.desk.core.directory.forget()
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)

    assert bot.draft(1).state is State.REJECTED
