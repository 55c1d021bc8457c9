"""The ledger is the source of truth: a restart rebuilds the schedule and never posts anything twice."""

from __future__ import annotations

from bot.review import State
from tests.fakes.slack_api import action_ids, blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, Copydesk, MovableClock


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def test_a_pending_schedule_is_rebuilt_after_a_restart(config, slack, x) -> None:
    first = Copydesk(config, slack, x).start()
    first.command(AUTHOR, "at:+2h See you in two hours")
    approve(first, 1)
    due = first.draft(1).publish_at
    first.stop()

    second = Copydesk(config, slack, x).start()
    try:
        assert second.services.scheduler.due_at(1) == due
        assert second.draft(1).state is State.APPROVED
        assert x.calls("/2/tweets") == []
    finally:
        second.stop()


def test_a_post_that_fell_due_while_down_goes_out_once_on_start(config, slack, x) -> None:
    first = Copydesk(config, slack, x).start()
    first.command(AUTHOR, "at:+1h Missed my slot")
    approve(first, 1)
    first.stop()

    later = MovableClock()
    later.advance(hours=2)
    second = Copydesk(config, slack, x, clock=later).start()
    try:
        second.wait_for_state(1, State.PUBLISHED)
        assert x.texts() == ["Missed my slot"]
    finally:
        second.stop()
    third = Copydesk(config, slack, x, clock=later).start()
    third.stop()
    assert len(x.calls("/2/tweets")) == 1


def test_a_publication_cut_off_by_a_crash_is_flagged_not_repeated(config, slack, x) -> None:
    clock = MovableClock()
    first = Copydesk(config, slack, x, clock=clock).start()
    first.command(AUTHOR, "at:+1h Did this go out?")
    approve(first, 1)
    first.services.scheduler.shutdown()  # the process "dies" after claiming the post, before X answers
    first.services.courier.stop()
    clock.advance(hours=2)
    first.desk.publishing._claim(1)
    first.ledger.close()

    second = Copydesk(config, slack, x, clock=clock).start()
    try:
        draft = second.draft(1)
        assert draft.state is State.HELD
        [publication] = second.ledger.publications(1)
        assert publication.outcome == "failed" and "interrupted" in (publication.error or "")
        assert x.calls("/2/tweets") == []
        assert second.services.scheduler.due_at(1) is None
        second.slack_told()
        assert "publishing was interrupted" in [p for p in slack.posts(REVIEW) if p.get("thread_ts")][-1]["text"]
        card = slack.updates()[-1]
        assert "check the account on X" in blocks_text(card)
        assert {"copydesk_publish_again", "copydesk_mark_published"} <= action_ids(card)
    finally:
        second.stop()


def test_a_card_that_never_reached_slack_is_posted_on_start(config, slack, x) -> None:
    first = Copydesk(config, slack, x).start()
    slack.failures["chat.postMessage"] = "not_in_channel"
    first.command(AUTHOR, "Waiting for a channel")
    assert first.draft(1).card_ts is None
    first.stop()

    del slack.failures["chat.postMessage"]
    second = Copydesk(config, slack, x).start()
    try:
        second.slack_told()  # a start tries again at once what Slack would not take before
        assert second.draft(1).card_ts is not None
        assert "Waiting for a channel" in str(slack.posts(REVIEW)[-1]["blocks"])
    finally:
        second.stop()
