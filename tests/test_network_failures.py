"""Where one network's trouble meets a person's action: edits, withdrawals, the pause, retractions and app.yaml changes
while a network waits, is in doubt, or refused. Nothing goes out twice, or after it was taken back."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.legs import Stage
from bot.review import State
from tests.fakes.http import Reply
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, Copydesk, eventually
from tests.support.networks import Everywhere

THREAD = "One: the news\n---\nTwo: the details\n---\nThree: the end"
CREATE = "/xrpc/com.atproto.repo.createRecord"
BAD_GATEWAY = {"title": "Bad Gateway", "detail": "Bad Gateway", "type": "about:blank", "status": 502}


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def retrying(bot: Copydesk) -> None:
    eventually(lambda: bot.draft(1).state is State.APPROVED and bot.draft(1).retry_at is not None, what="a planned retry")


def stages(bot: Copydesk) -> dict[str, str]:
    return {network: leg.stage.value for network, leg in bot.ledger.legs(1).items()}


def test_on_x_alone_an_edit_while_a_retry_waits_goes_out_once_approved_again(make_bot) -> None:
    bot = make_bot(top={"x_retry": {"first_delay_seconds": 30}})
    bot.x.answer_next(502, BAD_GATEWAY)
    bot.command(AUTHOR, "First words")
    approve(bot, 1)
    retrying(bot)

    bot.command(AUTHOR, "edit #1 Second words")
    bot.slack_told()
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)
    assert bot.x.texts() == ["Second words"]


def test_a_new_version_goes_to_a_network_that_refused_the_old_one(make_everywhere: Callable[..., Everywhere]) -> None:
    bot = make_everywhere()
    bot.x.answer_next(400, {**BAD_GATEWAY, "title": "Invalid Request", "status": 400})
    bot.mastodon.rate_limit_next(reset_in=60.0)
    bot.command(AUTHOR, "on:x,mastodon Version one")
    approve(bot, 1)
    retrying(bot)
    assert stages(bot) == {"x": "failed", "mastodon": "retrying"}

    bot.command(AUTHOR, "edit #1 Version two")
    bot.slack_told()
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)
    assert (bot.x.texts(), bot.mastodon.texts()) == (["Version two"], ["Version two"])


def test_a_network_in_doubt_while_another_waits_keeps_the_draft_from_being_withdrawn(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere()
    bot.bluesky.lose_next_answer()  # the record is written, the answer lost
    bot.bluesky.answer_next("com.atproto.repo.getRecord", 502, {"error": "UpstreamFailure", "message": "down"})
    bot.mastodon.rate_limit_next(reset_in=120.0)
    bot.command(AUTHOR, "on:bluesky,mastodon In doubt on Bluesky, waiting on Mastodon")
    approve(bot, 1)
    retrying(bot)
    assert bot.ledger.legs(1)["bluesky"].may_be_live and bot.draft(1).may_be_live

    answer = bot.private_answer(bot.command(AUTHOR, "cancel #1"))

    assert "may already be on" in answer, answer
    assert bot.draft(1).state is State.APPROVED


def test_a_network_in_doubt_stays_in_doubt_through_the_pause_and_a_resend_it_refuses(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere()
    bot.x.fail_after_posting(503)  # X creates it, then answers 503
    bot.x.timeline_replies.append(Reply(502, BAD_GATEWAY))  # and the account cannot be checked
    gate = bot.bluesky.hold(CREATE)
    bot.command(AUTHOR, "Doubt then pause")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1, settle=False)
    bot.bluesky.wait_for_held(CREATE)
    bot.command("U0ADMIN01", "pause a crisis", settle=False)
    eventually(lambda: bot.ledger.current_pause() is not None, what="the pause")
    gate.set()
    eventually(lambda: bot.draft(1).state is State.APPROVED, what="the run stopping at the pause")
    assert (bot.ledger.legs(1)["x"].stage, bot.ledger.legs(1)["x"].may_be_live) == (Stage.HELD, True)

    bot.command("U0ADMIN01", "resume")
    held = bot.draft(1)
    assert held.state is State.HELD and held.notice and "X: " in held.notice  # the pause's hold names X's doubt too
    bot.command(EDITOR_1, "retry #1")

    eventually(lambda: bot.draft(1).state in (State.FAILED, State.HELD), what="the end of the run")
    assert bot.x.texts() == ["Doubt then pause"]  # X refused the resend as a duplicate: its post is live
    assert bot.draft(1).may_be_live and bot.ledger.legs(1)["x"].may_be_live
    assert bot.mastodon.texts() == ["Doubt then pause"]


def test_retracting_while_a_network_waits_stops_it_even_when_a_delete_fails(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere(top_level={"x_retry": {"first_delay_seconds": 30}})
    bot.x.answer_next(502, BAD_GATEWAY)
    bot.command(AUTHOR, "Regret everywhere")
    approve(bot, 1)
    retrying(bot)
    status_id = bot.mastodon.statuses[0]["id"]
    bot.mastodon.rate_limit_next(reset_in=60, path=f"/api/v1/statuses/{status_id}")

    answer = bot.private_answer(bot.command(AUTHOR, "retract #1"))

    assert "still on Mastodon" in answer, answer
    assert bot.bluesky.records == {}
    assert stages(bot)["x"] == "retracted"
    assert bot.draft(1).state is State.HELD and bot.services.scheduler.due_at(1) is None  # X is never tried again
    bot.desk.publishing.publish(1)  # even a job that fired anyway sends nothing
    assert bot.x.texts() == []


def test_a_thread_retracted_from_one_network_half_way_is_not_posted_there_again(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere()
    gate = bot.bluesky.hold(CREATE)
    bot.command(AUTHOR, THREAD)
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1, settle=False)
    bot.bluesky.wait_for_held(CREATE)  # part 1 is written, its answer held
    bot.bluesky.rate_limit_next(
        "com.atproto.repo.createRecord", int(time.time()) + 3600
    )  # part 2: a 429 (the retry is run below)
    gate.set()
    retrying(bot)

    bot.command(AUTHOR, "retract #1 on:bluesky")

    assert bot.bluesky.records == {} and stages(bot)["bluesky"] == "retracted"
    bot.desk.publishing.publish(1)  # the retry, whenever it comes
    eventually(lambda: bot.draft(1).state is not State.APPROVED, what="the retry run")
    assert bot.bluesky.records == {} and len(bot.bluesky.created) == 1


def test_a_network_taken_out_of_app_yaml_fails_there_and_the_others_go(make_everywhere: Callable[..., Everywhere]) -> None:
    first = make_everywhere()
    first.command(AUTHOR, "on:x,bluesky Going two places")
    first.stop()
    bot = make_everywhere(only=("x", "mastodon"))  # Bluesky taken out of app.yaml, and a restart

    approve(bot, 1)

    failed = bot.wait_for_state(1, State.FAILED)
    assert bot.x.texts() == ["Going two places"] and bot.bluesky.texts() == []
    assert "the account main is no longer on Bluesky in app.yaml" in (failed.notice or bot.ledger.events(1)[-1].detail["error"])


def test_a_bluesky_only_draft_is_told_nothing_of_x(make_everywhere: Callable[..., Everywhere]) -> None:
    from tests.fakes.slack_api import blocks_text

    bot = make_everywhere(only=("bluesky",))
    bot.command(AUTHOR, "Hi @friend see https://example.com/x")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    bot.bluesky.lose_next_answer()
    bot.bluesky.answer_next("com.atproto.repo.getRecord", 502, {"error": "UpstreamFailure", "message": "down"})

    bot.command(AUTHOR, "Hi @friend see https://example.com/x")  # the same words again
    bot.slack_told()  # draft 1's last thread reply may reach the channel after draft 2's card: find the card itself
    card = blocks_text([p for p in bot.slack.posts(bot.draft(2).review_channel) if not p.get("thread_ts")][-1])
    assert "*Duplicate:*" in card and " X" not in card.split("*Duplicate:*")[1], card
    approve(bot, 2)
    bot.wait_for_state(2, State.HELD)
    answer = bot.private_answer(bot.command(AUTHOR, "cancel #2"))
    assert "may already be on Bluesky" in answer and "on X" not in answer, answer


def test_a_network_taken_back_is_named_so_and_publish_now_leaves_it_out(make_everywhere: Callable[..., Everywhere]) -> None:
    bot = make_everywhere()
    bot.mastodon.answer_next(422, {"error": "Validation failed: <!channel> & <http://evil|click>"})
    bot.command(AUTHOR, "Three ways")
    approve(bot, 1)
    failed = bot.wait_for_state(1, State.FAILED)
    assert "<!channel>" not in str(bot.ledger.events(1)[-1].detail["error"])  # a network's words carry no markup

    bot.command(AUTHOR, "retract #1 on:x")

    assert stages(bot) == {"x": "retracted", "bluesky": "out", "mastodon": "failed"}
    assert failed.id == 1 and bot.draft(1).state is State.FAILED
    bot.command(EDITOR_1, "retry #1")  # Publish now: Mastodon alone, never X again
    bot.wait_for_state(1, State.PUBLISHED)
    assert (bot.x.texts(), len(bot.x.arrived("/2/tweets")), bot.mastodon.texts()) == (["Three ways"], 1, ["Three ways"])
    assert all(p.get("deleted") for p in bot.x.posts)


def test_publish_now_with_nothing_left_to_send_is_refused(make_everywhere: Callable[..., Everywhere]) -> None:
    bot = make_everywhere(only=("x", "bluesky"))
    bot.bluesky.answer_next("com.atproto.repo.createRecord", 400, {"error": "InvalidRequest", "message": "no"})
    bot.command(AUTHOR, "Once is enough")
    approve(bot, 1)
    bot.wait_for_state(1, State.FAILED)
    bot.x.delete_replies[bot.x.posts[0]["id"]] = Reply(503, BAD_GATEWAY)
    said = bot.private_answer(bot.command(AUTHOR, "retract #1"))  # X's delete fails; Bluesky, never sent, is taken back
    assert "still on X" in said and stages(bot) == {"x": "out", "bluesky": "retracted"}, said

    answer = bot.private_answer(bot.command(EDITOR_1, "retry #1"))

    assert "has nothing left to send" in answer, answer
    assert bot.draft(1).state is State.FAILED and bot.bluesky.texts() == [] and len(bot.x.arrived("/2/tweets")) == 1


def test_a_retraction_while_a_network_is_in_doubt_leaves_the_draft_held(make_everywhere: Callable[..., Everywhere]) -> None:
    bot = make_everywhere(only=("x", "bluesky"))
    bot.bluesky.lose_next_answer()
    bot.bluesky.answer_next("com.atproto.repo.getRecord", 502, {"error": "UpstreamFailure", "message": "down"})
    bot.command(AUTHOR, "Half known")
    approve(bot, 1)
    bot.wait_for_state(1, State.HELD)

    bot.command(AUTHOR, "retract #1")

    held = bot.draft(1)
    assert held.state is State.HELD and held.may_be_live and "Bluesky may still have it" in (held.notice or ""), held
    assert all(p.get("deleted") for p in bot.x.posts) and bot.bluesky.texts() == ["Half known"]


def out_but_on_mastodon(bot: Everywhere, text: str) -> None:
    """Draft #1, approved: out on X and Bluesky, refused by Mastodon (a 422), so it ends failed."""
    bot.mastodon.answer_next(422, {"error": "Validation failed"})
    bot.command(AUTHOR, text)
    approve(bot, 1)
    bot.wait_for_state(1, State.FAILED)


def test_a_network_marked_published_without_a_link_shows_so_and_the_others_can_still_be_retracted(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    from tests.fakes.slack_api import blocks_text

    bot = make_everywhere()
    out_but_on_mastodon(bot, "Mostly out")

    bot.command(EDITOR_1, "mark-published #1 on:mastodon")

    bot.wait_for_state(1, State.PUBLISHED)
    bot.slack_told()
    card = blocks_text(bot.slack.updates()[-1])
    assert "Mastodon: marked published (no link given)" in card and "Retract" in card, card
    answer = bot.private_answer(bot.command(AUTHOR, "retract #1"))
    assert "does not know which post on Mastodon" in answer and "deleted from X and Bluesky" in answer, answer
    assert all(p.get("deleted") for p in bot.x.posts) and bot.bluesky.records == {}


def test_a_typed_link_is_recorded_as_copydesk_writes_it(make_everywhere: Callable[..., Everywhere]) -> None:
    bot = make_everywhere(only=("x", "mastodon"))
    out_but_on_mastodon(bot, "Found by hand")

    bot.command(EDITOR_1, f"mark-published #1 {bot.mastodon.url}/@aplusk/123456?ref=&lt;!channel&gt; on:mastodon")

    bot.wait_for_state(1, State.PUBLISHED)
    assert bot.ledger.live_posts(1)["mastodon"][1].url == f"{bot.mastodon.url}/@aplusk/123456"


def test_a_key_pasted_in_place_of_its_variable_is_not_repeated(tmp_path) -> None:
    import pytest
    import yaml

    from bot.config import ConfigError, load_config
    from tests.support.harness import BASE_CONFIG

    data = yaml.safe_load(yaml.safe_dump(BASE_CONFIG))
    token = "ZK3v9aQpL0wXbN7cT2rYhU5sD8fGjK1mE4oIuA6zV"
    data["accounts"]["main"]["credentials"] = {"oauth2_access_token": token}
    (tmp_path / "app.yaml").write_text(yaml.safe_dump(data))

    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "app.yaml", {"SLACK_BOT_TOKEN": "xoxb-1"})
    assert token not in str(raised.value) and "never the key itself" in str(raised.value)


def test_on_x_alone_a_retraction_stops_a_thread_waiting_for_a_retry_even_when_the_delete_fails(make_bot) -> None:
    bot = make_bot(top={"x_retry": {"first_delay_seconds": 30}})
    bot.x.answer_for("Part two", 502, BAD_GATEWAY)  # part 1 goes out; part 2 must wait for a retry
    bot.command(AUTHOR, "Part one\n---\nPart two")
    approve(bot, 1)
    eventually(lambda: bot.draft(1).retry_at is not None, what="part 2's retry")
    bot.x.delete_replies[bot.x.posts[0]["id"]] = Reply(503, BAD_GATEWAY)

    answer = bot.private_answer(bot.command(AUTHOR, "retract #1"))

    assert "still on X" in answer, answer
    assert bot.draft(1).state is State.HELD and bot.services.scheduler.due_at(1) is None
    bot.desk.publishing.publish(1)  # a job that fired anyway sends nothing
    assert bot.x.texts() == ["Part one"]


def test_after_a_network_is_taken_back_publish_now_and_mark_published_name_only_the_others(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere()
    out_but_on_mastodon(bot, "Two of three")
    bot.command(AUTHOR, "retract #1 on:x")

    answer = bot.private_answer(bot.command(EDITOR_1, "mark-published #1"))  # found by hand on Mastodon, no link

    assert bot.draft(1).state is State.PUBLISHED, answer
    assert stages(bot) == {"x": "retracted", "bluesky": "out", "mastodon": "out"}


def test_publish_now_after_a_network_is_taken_back_says_it_goes_only_where_it_was_not_out(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere()
    out_but_on_mastodon(bot, "Again, not there")
    bot.command(AUTHOR, "retract #1 on:x")

    answer = bot.private_answer(bot.command(EDITOR_1, "retry #1"))

    assert answer == "#1 is on its way again to Mastodon.", answer


def test_a_network_in_doubt_stays_so_through_a_retraction_until_a_person_retracts_it_again(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere(only=("x", "bluesky"))
    bot.bluesky.lose_next_answer()
    bot.bluesky.answer_next("com.atproto.repo.getRecord", 502, {"error": "UpstreamFailure", "message": "down"})
    bot.command(AUTHOR, "Half known")
    approve(bot, 1)
    bot.wait_for_state(1, State.HELD)
    bot.command(AUTHOR, "retract #1")
    assert bot.draft(1).state is State.HELD and bot.ledger.legs(1)["bluesky"].may_be_live

    bot.command(AUTHOR, "retract #1 on:bluesky")  # a person looked, and deleted it there by hand

    done = bot.draft(1)
    assert done.state is State.RETRACTED and not done.may_be_live, done
    assert stages(bot) == {"x": "retracted", "bluesky": "retracted"} and len(bot.bluesky.creates()) == 1
