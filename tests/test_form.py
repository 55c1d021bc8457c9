"""/draft with no text opens a form: the same draft as the command, with its mistakes shown on their fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.review import State
from tests.fakes.slack_api import blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, Copydesk, MovableClock
from tests.support.media import PNG


def errors(response) -> dict[str, str]:
    answer = json.loads(response.body)
    assert answer["response_action"] == "errors", answer
    return answer["errors"]


def test_an_empty_draft_command_opens_the_form_and_submitting_it_makes_the_draft(bot: Copydesk) -> None:
    bot.slack.timezones[AUTHOR] = "Europe/Berlin"
    response = bot.command(AUTHOR, "", channel="C0NEWS0001", trigger_id="123.456.abc")

    assert response.status == 200 and not response.body  # nothing to read: the form is the answer
    [form] = bot.slack.views()
    assert form["callback_id"] == "copydesk_draft_modal"
    assert [b["block_id"] for b in form["blocks"]] == ["text", "images", "alt", "when"]  # one account: nothing to choose
    assert "Up to 280 characters as X counts them" in form["blocks"][0]["hint"]["text"]
    assert "Europe/Berlin" in form["blocks"][3]["hint"]["text"]
    assert bot.slack.calls("/api/views.open")[0].body["trigger_id"] == "123.456.abc"

    due = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    done = bot.submit_form(AUTHOR, "Written in the form", when=due)

    assert done.status == 200 and not done.body  # the form closes
    draft = bot.latest()
    assert (draft.text, draft.publish_at, draft.state, draft.origin_channel) == (
        "Written in the form",
        due,
        State.IN_REVIEW,
        "C0NEWS0001",
    )
    assert "Written in the form" in blocks_text(bot.slack.posts(REVIEW)[0])
    [note] = bot.slack.posts(AUTHOR)
    assert note["text"].startswith("Draft #1 for @aplusk is in review: see <https://")


def test_mistakes_show_on_their_fields_and_store_nothing(bot: Copydesk) -> None:
    bot.command(AUTHOR, "")

    too_long = errors(bot.submit_form(AUTHOR, "x" * 281))
    assert list(too_long) == ["text"] and "281" in too_long["text"]

    past = errors(bot.submit_form(AUTHOR, "Fine text", when=datetime.now(UTC) - timedelta(hours=1)))
    assert list(past) == ["when"] and "is in the past" in past["when"]

    assert bot.ledger.drafts_in(list(State)) == [] and bot.slack.posts(REVIEW) == []


def test_with_several_accounts_the_form_asks_which_one(make_bot) -> None:
    second = {"handle": "aplusk_news", "review_channel": "C0REVIEW02", "editors": ["U0EDITOR1"]}
    bot = make_bot(
        top={"accounts": {"main": {"handle": "aplusk", "review_channel": REVIEW, "editors": ["U0EDITOR1"]}, "news": second}}
    )
    bot.command(AUTHOR, "")
    [form] = bot.slack.views()
    account = next(b for b in form["blocks"] if b["block_id"] == "account")
    assert [o["value"] for o in account["element"]["options"]] == ["main", "news"]
    assert "initial_option" not in account["element"]  # no default_account: the author must choose

    unchosen = errors(bot.submit_form(AUTHOR, "Where does this go?"))
    assert list(unchosen) == ["account"] and "Say which account" in unchosen["account"]

    bot.submit_form(AUTHOR, "Breaking", account="news")
    assert bot.latest().account == "news"
    assert "Breaking" in blocks_text(bot.slack.posts("C0REVIEW02")[0])


def test_images_picked_in_the_form_go_up_with_the_post(bot: Copydesk) -> None:
    bot.command(AUTHOR, "")
    chart = bot.slack.add_file("chart.png", PNG)

    bot.submit_form(AUTHOR, "A chart\n---\nand what it means", files=[chart], alt="Sales by month, doubling in November")

    draft = bot.latest()
    assert [i.name for i in bot.ledger.images(draft.id)] == ["chart.png"]
    card = blocks_text(bot.slack.posts(REVIEW)[0])
    assert "chart.png" in card and "1/2" in card and "2/2" in card
    bot.react(EDITOR_1, "white_check_mark", draft)
    bot.react(EDITOR_2, "white_check_mark", draft)
    bot.wait_for_state(draft.id, State.PUBLISHED)
    first, second = bot.x.posts
    assert first["body"]["media"] == {"media_ids": list(bot.x.media)} and "media" not in second["body"]
    assert [m["bytes"] for m in bot.x.media.values()] == [PNG]


def test_a_file_slack_describes_as_no_image_is_refused_on_its_field(bot: Copydesk) -> None:
    bot.command(AUTHOR, "")
    dance = bot.slack.add_file("dance.gif", b"GIF89a" + bytes(10), mimetype="image/gif")

    refused = errors(bot.submit_form(AUTHOR, "With a GIF", files=[dance]))

    assert list(refused) == ["images"] and "dance.gif is not a PNG or JPEG image" in refused["images"]
    assert bot.ledger.drafts_in(list(State)) == []
    assert bot.slack.calls("/files-pri/T0TEAM001-" + dance["id"] + "/dance.gif") == []  # nothing fetched to know it


def test_a_file_whose_bytes_are_no_image_is_left_out_and_the_author_hears_why(bot: Copydesk) -> None:
    bot.command(AUTHOR, "")
    notes = bot.slack.add_file("notes.png", b"just text, not a picture")  # Slack calls it a PNG; its bytes say otherwise

    done = bot.submit_form(AUTHOR, "With a fake image", files=[notes], alt="Notes")

    assert done.status == 200 and not done.body  # the form closes: the bytes are fetched after it has
    draft = bot.latest()
    assert bot.ledger.images(draft.id) == [] and draft.card_ts is not None
    told = [m["text"] for m in bot.slack.dms(AUTHOR)]
    assert any("Not attached to #1: notes.png is not a PNG or JPEG image" in t for t in told), told


def test_a_form_sent_twice_makes_one_draft(bot: Copydesk) -> None:
    bot.command(AUTHOR, "")
    bot.submit_form(AUTHOR, "Pressed twice")
    again = bot.submit_form(AUTHOR, "Pressed twice")  # the same view: Slack retried, or a double click

    assert again.status == 200 and not again.body
    assert [d.text for d in bot.ledger.drafts_in(list(State))] == ["Pressed twice"]
    assert len(bot.slack.posts(REVIEW)) == 1


def test_images_slack_cannot_hand_over_stop_holding_the_first_card_back_after_three_tries(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "")
    chart = bot.slack.add_file("chart.png", PNG)
    bot.slack.files_down = True

    bot.submit_form(AUTHOR, "A chart, one day", files=[chart], alt="A chart")

    assert bot.latest().card_ts is None  # the card waits for its image…
    for _ in range(3):
        clock.advance(minutes=10)  # past each backoff
        bot.services.courier.wake()
        bot.slack_told()
    draft = bot.latest()
    assert draft.card_ts is not None and bot.ledger.images(draft.id) == []  # …but not for ever
    told = " ".join(m["text"] for m in bot.slack.dms(AUTHOR))
    assert "Not attached to #1" in told and "Share the images in the card's thread" in told
