"""Who may do what to a draft: edits and withdrawals by the author, retractions, and the admins' crisis switch."""

from __future__ import annotations

from bot.review import State
from tests.fakes.slack_api import action_ids, blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3, OUTSIDER, REVIEW, Copydesk, MovableClock

ADMIN = "U0ADMIN01"


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def cards(bot: Copydesk) -> list[dict]:
    return [p for p in bot.slack.posts(REVIEW) if not p.get("thread_ts") and p.get("blocks")]


# edits


def test_an_edit_clears_every_vote_and_the_editors_review_it_again_on_a_new_card(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d First try")
    approve(bot, 1)
    old_ts = bot.draft(1).card_ts
    assert bot.services.scheduler.due_at(1) is not None

    response = bot.command(AUTHOR, "edit #1 Second try, better")

    draft = bot.draft(1)
    assert (draft.text, draft.state) == ("Second try, better", State.IN_REVIEW)
    assert bot.ledger.votes(1) == [] and bot.services.scheduler.due_at(1) is None
    assert "votes are cleared" in bot.private_answer(response)
    new_card = cards(bot)[-1]
    assert draft.card_ts != old_ts and "Second try, better" in blocks_text(new_card)
    assert "every vote on the earlier version was cleared" in blocks_text(new_card)
    retired = [u for u in bot.slack.updates() if u["ts"] == old_ts][-1]
    assert "this version is replaced" in retired["text"]
    edited = [e for e in bot.ledger.events(1) if e.action == "edited"][0]
    assert (edited.actor, edited.detail["before"], edited.detail["after"]) == (AUTHOR, "First try", "Second try, better")

    # Reactions left on the old card count for nothing; on the new card they do.
    bot.react_on(EDITOR_3, "white_check_mark", REVIEW, old_ts)
    assert bot.ledger.votes(1) == []
    approve(bot, 1)
    assert bot.draft(1).state is State.APPROVED


def test_only_the_author_or_an_admin_edits_and_nothing_changes_otherwise(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Mine")

    refused = bot.command(EDITOR_1, "edit #1 Yours now")
    assert "Only the author of #1" in bot.private_answer(refused)
    assert bot.draft(1).text == "Mine"

    unknown = bot.command(AUTHOR, "edit #42 Nothing here")
    assert "There is no draft #42" in bot.private_answer(unknown)

    too_long = bot.command(AUTHOR, "edit #1 " + "a" * 281)
    assert "281" in bot.private_answer(too_long) and bot.draft(1).text == "Mine"

    bot.command(ADMIN, "edit #1 Fixed by the admin")
    assert bot.draft(1).text == "Fixed by the admin"


def test_the_edit_button_opens_a_prefilled_modal_whose_errors_show_on_their_fields(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Needs a tweak")
    assert {"copydesk_edit", "copydesk_withdraw"} <= action_ids(cards(bot)[-1])

    bot.press(AUTHOR, "copydesk_edit", 1)
    [modal] = bot.slack.views("views.open")
    assert modal["blocks"][0]["element"]["initial_value"] == "Needs a tweak"

    past = bot.submit_edit(AUTHOR, 1, "Tweaked", at="2020-01-01T09:00")
    assert past.status == 200 and '"response_action": "errors"' in past.body and '"at"' in past.body
    assert bot.draft(1).text == "Needs a tweak"

    saved = bot.submit_edit(AUTHOR, 1, "Tweaked")
    assert saved.status == 200 and saved.body == ""
    assert bot.draft(1).text == "Tweaked" and "Tweaked" in blocks_text(cards(bot)[-1])

    bot.press(OUTSIDER, "copydesk_edit", 1)
    assert len(bot.slack.views("views.open")) == 1  # no modal for someone who may not edit


def test_a_published_draft_cannot_be_edited(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Out already")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)

    answer = bot.private_answer(bot.command(AUTHOR, "edit #1 Too late"))

    assert "#1 is published" in answer and bot.draft(1).text == "Out already"


# withdrawals and retractions


def test_the_author_withdraws_a_scheduled_draft_and_it_never_goes_out(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1h Never mind")
    approve(bot, 1)

    assert "Only the author" in bot.private_answer(bot.command(EDITOR_1, "cancel #1"))
    answer = bot.private_answer(bot.command(AUTHOR, "cancel #1"))

    assert "withdrawn" in answer
    assert bot.draft(1).state is State.WITHDRAWN and bot.services.scheduler.due_at(1) is None
    assert "Withdrawn by" in blocks_text(bot.slack.updates()[-1])
    bot.desk.publishing.publish(1)
    assert bot.x.calls("/2/tweets") == []


def test_the_withdraw_button_does_the_same(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Button away")
    bot.press(AUTHOR, "copydesk_withdraw", 1)
    assert bot.draft(1).state is State.WITHDRAWN


def test_a_published_post_is_retracted_from_x_by_an_editor_and_recorded(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Regrettable")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    post_id = bot.x.posts[0]["id"]

    assert "Only the author of #1, the editors" in bot.private_answer(bot.command(OUTSIDER, "retract #1"))
    answer = bot.private_answer(bot.command(EDITOR_3, "retract #1"))

    assert "deleted from X" in answer
    assert bot.x.deleted == [post_id]
    assert bot.draft(1).state is State.RETRACTED
    assert bot.ledger.publications(1)[-1].retracted_at is not None
    assert bot.ledger.events(1)[-1].action == "retracted" and bot.ledger.events(1)[-1].actor == EDITOR_3


# the crisis switch


def test_only_admins_pause_and_a_pause_stops_everything_at_once(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "at:+1h Scheduled before the crisis")
    approve(bot, 1)

    assert "Only admins can pause" in bot.private_answer(bot.command(EDITOR_1, "pause"))
    assert bot.ledger.current_pause() is None
    answer = bot.private_answer(bot.command(ADMIN, "pause Breaking news, hold everything"))

    assert "paused for every account" in answer
    pause = bot.ledger.current_pause()
    assert pause is not None and (pause.paused_by, pause.reason) == (ADMIN, "Breaking news, hold everything")
    assert bot.services.scheduler.due_at(1) is None
    assert "paused all publishing: Breaking news" in bot.slack.posts(REVIEW)[-1]["text"]
    assert "Publishing is paused" in blocks_text(bot.slack.updates()[-1])

    # Drafting and approving go on; nothing goes out, even when a job wakes.
    bot.command(AUTHOR, "Written during the pause")
    approve(bot, 2)
    assert bot.draft(2).state is State.APPROVED
    assert "Publishing is paused" in blocks_text(bot.slack.updates()[-1])
    clock.advance(hours=2)
    bot.desk.publishing.publish(1)
    bot.desk.publishing.publish(2)
    assert bot.x.calls("/2/tweets") == []
    assert "already paused" in bot.private_answer(bot.command(ADMIN, "pause again"))

    bot.open_home(EDITOR_1)
    [home] = bot.slack.views("views.publish")
    assert "Publishing is paused" in str(home) and "Breaking news" in str(home)


def test_after_resume_posts_whose_time_passed_wait_for_an_editor_and_the_rest_keep_their_time(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "at:+1h Due during the pause")
    bot.command(AUTHOR, "at:+1d Due tomorrow")
    approve(bot, 1)
    approve(bot, 2)
    bot.command(ADMIN, "pause")
    clock.advance(hours=2)

    answer = bot.private_answer(bot.command(ADMIN, "resume"))

    assert "#1 came due while paused" in answer
    assert bot.ledger.current_pause() is None
    assert bot.draft(1).state is State.HELD and bot.draft(2).state is State.APPROVED
    assert bot.services.scheduler.due_at(2) == bot.draft(2).publish_at
    assert bot.x.calls("/2/tweets") == []
    assert any("resumed publishing" in p["text"] for p in bot.slack.posts(REVIEW))

    bot.press(EDITOR_1, "copydesk_publish_again", 1)
    bot.wait_for_state(1, State.PUBLISHED)
    assert bot.x.texts() == ["Due during the pause"]


def held_by_a_pause(bot: Copydesk, text: str) -> None:
    """Draft #1 is approved while publishing is paused, so on resume it waits for an editor."""
    bot.command(AUTHOR, text)
    bot.command(ADMIN, "pause")
    approve(bot, 1)
    bot.command(ADMIN, "resume")
    assert bot.draft(1).state is State.HELD


def test_a_held_draft_cannot_be_sent_while_paused(bot: Copydesk) -> None:
    held_by_a_pause(bot, "Waiting")
    bot.command(ADMIN, "pause")

    answer = bot.private_answer(bot.press(EDITOR_1, "copydesk_publish_again", 1))

    assert "paused" in answer and bot.draft(1).state is State.HELD


def test_publish_now_needs_the_approvals_as_they_are_now(bot: Copydesk) -> None:
    held_by_a_pause(bot, "Held by the pause")

    bot.react(EDITOR_2, "white_check_mark", 1, removed=True)  # second thoughts while it waits
    answer = bot.private_answer(bot.press(EDITOR_1, "copydesk_publish_again", 1))

    assert "does not have the editors' approval now (1 of 2" in answer
    assert bot.draft(1).state is State.HELD and bot.x.calls("/2/tweets") == []
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.press(EDITOR_1, "copydesk_publish_again", 1)
    bot.wait_for_state(1, State.PUBLISHED)


def test_a_draft_that_failed_before_any_review_cannot_be_sent_with_retry(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Never reviewed")
    with bot.ledger.transaction():  # as when its account was missing from app.yaml for one restart
        bot.ledger.move(1, State.FAILED, only_from=[State.IN_REVIEW], at=bot.desk.core.clock())

    answer = bot.private_answer(bot.command(EDITOR_1, "retry #1"))

    assert "does not have the editors' approval now (0 of 2" in answer
    assert bot.draft(1).state is State.FAILED and bot.x.calls("/2/tweets") == []


def test_edit_works_with_or_without_the_hash(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Version one")
    bot.command(AUTHOR, "edit 1 Version two")
    assert bot.draft(1).text == "Version two" and len(bot.ledger.drafts_in(list(State))) == 1
