"""Images: checked as X checks them, kept in the ledger, uploaded to X's v2 media endpoint and attached to the post."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient

from bot import images
from bot.errors import BadImage, Delivery, PublishError
from bot.images import Image
from bot.review import State
from bot.x import XPublisher
from handlers.files import download
from tests.fakes.http import Reply
from tests.fakes.slack_api import blocks_text
from tests.fakes.x_api import OAUTH2_TOKEN
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, OUTSIDER, REVIEW, Copydesk, MovableClock, eventually
from tests.support.media import JPEG, PNG, WEBP


def pic(name: str, data: bytes, alt: str | None = None) -> Image:
    """An image as the form hands it over: checked, with its alt text."""
    return Image.of(name, data, alt=alt or f"What {name} shows")


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def submit(bot: Copydesk, text: str, *pictures: Image) -> int:
    """What the new-draft modal does with its file_input: the desk call, then the card."""
    draft = bot.desk.drafting.submit(
        author_id=AUTHOR, text=text, account=None, at=None, origin_channel=None, images=list(pictures)
    )
    bot.slack_told()  # the courier puts its card up
    return draft.id


# what X takes


@pytest.mark.parametrize(("data", "mimetype"), [(PNG, "image/png"), (JPEG, "image/jpeg")])
def test_an_image_is_known_by_its_own_bytes_not_its_name(data: bytes, mimetype: str) -> None:
    image = Image.of("whatever.bin", data)
    assert (image.mimetype, image.size) == (mimetype, len(data))


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("empty.png", b"", "empty.png is empty"),
        ("notes.txt", b"hello", "notes.txt is not a PNG or JPEG image"),
        ("anim.gif", b"GIF89a" + bytes(20), "GIFs and videos are not supported"),
        ("photo.webp", WEBP, "Slack shows no other kind there"),
        ("huge.png", PNG[:8] + bytes(5 * 1024 * 1024), "huge.png is 5.0 MB; X takes images up to 5.0 MB"),
    ],
)
def test_what_x_would_refuse_is_refused_with_the_files_name(name: str, data: bytes, error: str) -> None:
    with pytest.raises(BadImage, match=error):
        Image.of(name, data)


def test_a_post_takes_at_most_four_images(bot: Copydesk) -> None:
    five = [pic(f"{n}.png", PNG + bytes([n])) for n in range(5)]
    with pytest.raises(BadImage, match="at most 4 images; this draft would have 5"):
        submit(bot, "Too many pictures", *five)
    assert bot.ledger.drafts_in(list(State)) == []
    assert images.summary(five[:2]) == "2 images: 0.png, 1.png"


# to X


def test_an_approved_draft_uploads_its_images_and_attaches_their_media_ids(bot: Copydesk) -> None:
    submit(bot, "Look at this chart", pic("chart.png", PNG), pic("photo.jpg", JPEG))
    assert ":frame_with_picture: 2 images: chart.png, photo.jpg" in blocks_text(bot.slack.posts(REVIEW)[0])

    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)
    uploads = bot.x.calls("/2/media/upload")
    assert [u.headers["Content-Type"].split(";")[0] for u in uploads] == ["multipart/form-data"] * 2
    assert all(u.headers["Authorization"].startswith("OAuth ") for u in uploads)  # and FakeX checked the signature
    media_ids = list(bot.x.media)
    assert [(m["bytes"], m["category"], m["name"], m["type"]) for m in bot.x.media.values()] == [
        (PNG, "tweet_image", "chart.png", "image/png"),
        (JPEG, "tweet_image", "photo.jpg", "image/jpeg"),
    ]
    [post] = bot.x.calls("/2/tweets")
    assert post.body == {"text": "Look at this chart", "media": {"media_ids": media_ids}}


def test_a_threads_images_go_on_its_first_post(bot: Copydesk) -> None:
    submit(bot, "With a picture\n---\nWithout one", pic("a.png", PNG))
    assert "1 image: a.png (on the first post)" in blocks_text(bot.slack.posts(REVIEW)[0])
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    first, second = bot.x.calls("/2/tweets")
    assert first.body["media"] == {"media_ids": list(bot.x.media)}
    assert "media" not in second.body


def test_an_oauth2_account_uploads_with_its_bearer_token(make_bot) -> None:
    bot = make_bot({"credentials": {"oauth2_access_token": "X_OAUTH2_TOKEN"}}, env={"X_OAUTH2_TOKEN": OAUTH2_TOKEN})
    submit(bot, "Bearer of pictures", pic("a.jpg", JPEG))
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    [upload] = bot.x.calls("/2/media/upload")
    assert upload.headers["Authorization"] == f"Bearer {OAUTH2_TOKEN}"
    assert bot.x.calls("/2/tweets")[0].body["media"] == {"media_ids": list(bot.x.media)}


def test_a_failed_upload_is_retried_with_the_post_and_the_post_goes_out_once(make_bot) -> None:
    bot = make_bot(top={"x_retry": {"first_delay_seconds": 0.05}})
    bot.x.upload_replies.append(
        Reply(503, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503})
    )
    submit(bot, "Second upload lucky", pic("a.png", PNG))
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    assert len(bot.x.calls("/2/media/upload")) == 2 and len(bot.x.calls("/2/tweets")) == 1
    assert bot.ledger.publications(1)[0].error == "X had a server error (503 Service Unavailable)"


def test_x_refuses_a_post_with_media_it_never_received(bot: Copydesk) -> None:
    publisher = XPublisher(bot.config.accounts["main"], base_url=bot.x.url, timeout=5)
    with pytest.raises(PublishError) as refused:
        publisher.publish("Where is my picture", media_ids=["1234567890"])
    assert refused.value.delivery is Delivery.REFUSED and "Your media IDs are invalid" in refused.value.reason
    assert publisher.upload(Image.of("a.png", PNG)) in bot.x.media


# from Slack


def test_the_author_attaches_an_image_in_the_cards_thread_and_review_starts_over(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Picture to follow")
    bot.react(EDITOR_1, "white_check_mark", 1)
    old_card = bot.draft(1).card_ts
    file = bot.slack.add_file("chart.png", PNG)

    response = bot.share_files(AUTHOR, 1, [file], text="Sales doubled in November", event_id="EvFILE0001")

    assert response.status == 200
    [stored] = bot.ledger.images(1, with_bytes=True)
    assert (stored.name, stored.data, stored.slack_file_id) == ("chart.png", PNG, file["id"])
    draft = bot.draft(1)
    assert draft.state is State.IN_REVIEW and bot.ledger.votes(1) == [] and draft.card_ts != old_card
    assert "1 image: chart.png" in blocks_text(bot.slack.posts(REVIEW)[-1])
    retired = [u for u in bot.slack.updates() if u["ts"] == old_card][-1]
    assert "this version is replaced" in retired["text"]
    assert bot.ledger.events(1)[-2].action == "images_changed"

    bot.share_files(AUTHOR, 1, [file], text="Sales doubled in November", event_id="EvFILE0001")  # Slack redelivers: nothing twice
    assert len(bot.ledger.images(1)) == 1

    photo = bot.slack.add_file("photo.jpg", JPEG, mimetype="image/jpeg")
    bot.share_files(
        AUTHOR, 1, [photo], text="The team at the launch", subtype=None
    )  # some clients send files without the file_share subtype
    assert [i.name for i in bot.ledger.images(1)] == ["chart.png", "photo.jpg"]


def test_only_the_author_attaches_images_and_other_files_are_left_alone(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Mine")
    file = bot.slack.add_file("theirs.png", PNG)

    bot.share_files(OUTSIDER, 1, [file])

    [answer] = bot.slack.ephemerals()
    assert answer["user"] == OUTSIDER and "Only the author of #1" in answer["text"] and "attach images to it" in answer["text"]
    assert bot.ledger.images(1) == [] and bot.slack.calls("/files-pri/T0TEAM001-" + file["id"] + "/theirs.png") == []

    pdf = bot.slack.add_file("brief.pdf", b"%PDF-1.7", mimetype="application/pdf")
    assert bot.share_files(AUTHOR, 1, [pdf]).status == 200
    assert bot.ledger.images(1) == [] and len(bot.slack.ephemerals()) == 1

    chatter = {
        "type": "event_callback",
        "event_id": "EvCHAT0001",
        "team_id": "T0TEAM001",
        "api_app_id": "A0COPYDESK",
        "event": {"type": "message", "user": EDITOR_1, "text": "looks good", "channel": REVIEW, "ts": "1.2"},
    }
    assert bot.dispatch(json.dumps(chatter), "application/json").status == 200  # not a 404 that Slack would retry


def test_a_gif_shared_in_the_thread_is_refused_privately(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Animated")
    bot.share_files(AUTHOR, 1, [bot.slack.add_file("dance.gif", b"GIF89a" + bytes(10), mimetype="image/gif")])

    [answer] = bot.slack.ephemerals()
    assert "dance.gif is not a PNG or JPEG image" in answer["text"]
    assert bot.ledger.images(1) == []


def test_the_author_drops_the_images_and_review_starts_over(bot: Copydesk) -> None:
    submit(bot, "Second thoughts", pic("a.png", PNG))
    bot.react(EDITOR_1, "white_check_mark", 1)

    answer = bot.private_answer(bot.command(AUTHOR, "drop-images #1"))

    assert "#1 has no images now" in answer
    assert bot.ledger.images(1) == [] and bot.ledger.votes(1) == []
    card = blocks_text(bot.slack.posts(REVIEW)[-1])
    assert ":frame_with_picture:" not in card and f"<@{AUTHOR}> removed the images" in card
    again = bot.command(AUTHOR, "drop-images #1")
    assert "#1 has no images to remove" in bot.private_answer(again)


def test_download_uses_the_bot_token_and_asks_files_info_when_the_event_has_no_url(bot: Copydesk) -> None:
    file = bot.slack.add_file("from-modal.jpg", JPEG, mimetype="image/jpeg")
    client = WebClient(token=bot.config.slack_bot_token.reveal(), base_url=bot.slack.api_url)

    image = download(client, {"id": file["id"]})

    assert (image.name, image.data, image.mimetype) == ("from-modal.jpg", JPEG, "image/jpeg")
    assert bot.slack.calls("/api/files.info")
    stranger = WebClient(token="xoxb-someone-else", base_url=bot.slack.api_url)
    with pytest.raises(BadImage, match="Slack would not let copydesk download from-modal.jpg"):
        download(stranger, file)


def test_the_bot_token_never_leaves_for_a_file_stored_outside_slack(bot: Copydesk, x) -> None:
    client = WebClient(token=bot.config.slack_bot_token.reveal(), base_url=bot.slack.api_url)
    elsewhere = {"id": "F0REMOTE1", "name": "doc.png", "mimetype": "image/png", "url_private": f"{x.url}/steal.png"}
    remote = {**bot.slack.add_file("remote.png", PNG), "is_external": True}

    for file in (elsewhere, remote):
        with pytest.raises(BadImage, match="is not stored in Slack"):
            download(client, file)

    assert x.calls() == []  # nothing was fetched from the other server, so no token went there


def test_images_shared_while_slacks_file_host_is_down_are_fetched_once_it_is_back(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "Picture when Slack can")
    bot.slack.files_down = True

    assert bot.share_files(AUTHOR, 1, [bot.slack.add_file("chart.png", PNG)], text="A chart").status == 200  # kept in the outbox

    assert bot.ledger.images(1) == [] and bot.ledger.outbox_health(clock())["pending"] == 1
    bot.slack.files_down = False
    clock.advance(minutes=1)  # past the courier's backoff
    bot.services.courier.wake()
    eventually(lambda: [i.name for i in bot.ledger.images(1)] == ["chart.png"], what="the image attached")
    bot.slack_told()
    assert "1 image: chart.png" in blocks_text(bot.slack.top_level(REVIEW)[-1])
    bad = bot.slack.add_file("notes.png", b"not a picture at all")
    bot.share_files(AUTHOR, 1, [bad], text="My notes")
    [answer] = bot.slack.ephemerals()
    assert answer["user"] == AUTHOR and "Not attached to #1: notes.png is not a PNG" in answer["text"]


# editors see what they approve, and people who cannot see it hear what it shows


def image_blocks(message: dict) -> list[dict]:
    return [b for b in message.get("blocks") or [] if b.get("type") == "image"]


def test_images_from_the_form_are_on_the_card_with_their_alt_text_and_the_alt_text_goes_to_x(bot: Copydesk) -> None:
    bot.command(AUTHOR, "")
    chart, photo = bot.slack.add_file("chart.png", PNG), bot.slack.add_file("photo.jpg", JPEG, mimetype="image/jpeg")

    bot.submit_form(
        AUTHOR, "Our November", files=[chart, photo], alt="Sales by month, doubling in November\nThe team at the launch"
    )

    card = bot.slack.posts(REVIEW)[0]
    assert [(b["slack_file"], b["alt_text"]) for b in image_blocks(card)] == [
        ({"id": chart["id"]}, "Sales by month, doubling in November"),
        ({"id": photo["id"]}, "The team at the launch"),
    ]
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    assert [m.get("alt_text") for m in bot.x.media.values()] == ["Sales by month, doubling in November", "The team at the launch"]
    metadata, [post] = bot.x.calls("/2/media/metadata"), bot.x.calls("/2/tweets")
    assert len(metadata) == 2 and all(m.at <= post.at for m in metadata)  # described before the post that shows them
    assert [i.alt for i in bot.ledger.images(1)] == ["Sales by month, doubling in November", "The team at the launch"]


@pytest.mark.parametrize(
    ("alt", "error"),
    [
        (None, "chart.png has no alt text"),
        ("Only one line", "2 images need 2 lines of alt text"),
        ("x" * 1001 + "\nfine", "The alt text of chart.png is 1,001 characters; X takes up to 1,000"),
        ("Sales\u202e reversed\nfine", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ],
)
def test_images_without_fitting_alt_text_are_refused_on_the_alt_field(bot: Copydesk, alt: str | None, error: str) -> None:
    bot.command(AUTHOR, "")
    chart, photo = bot.slack.add_file("chart.png", PNG), bot.slack.add_file("photo.jpg", JPEG, mimetype="image/jpeg")

    refused = json.loads(bot.submit_form(AUTHOR, "Undescribed", files=[chart, photo], alt=alt).body)["errors"]

    assert list(refused) == ["alt"] and error in refused["alt"]
    assert bot.ledger.drafts_in(list(State)) == [] and bot.slack.posts(REVIEW) == []


def test_words_shared_with_an_image_in_the_thread_are_its_alt_text_and_none_is_refused(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Picture to follow")
    bare = bot.slack.add_file("chart.png", PNG)

    bot.share_files(AUTHOR, 1, [bare])

    [answer] = bot.slack.ephemerals()
    assert answer["user"] == AUTHOR and "chart.png has no alt text" in answer["text"]
    assert bot.ledger.images(1) == [] and bot.draft(1).version == 1

    described = {**bot.slack.add_file("photo.jpg", JPEG, mimetype="image/jpeg"), "alt_txt": "The team at the launch"}
    bot.share_files(AUTHOR, 1, [described])  # alt text set in Slack itself
    bot.share_files(AUTHOR, 1, [bot.slack.add_file("chart.png", PNG)], text="Sales by month")
    assert [(i.name, i.alt) for i in bot.ledger.images(1)] == [
        ("photo.jpg", "The team at the launch"),
        ("chart.png", "Sales by month"),
    ]
    assert [b["alt_text"] for b in image_blocks(bot.slack.posts(REVIEW)[-1])] == ["The team at the launch", "Sales by month"]


def test_alt_text_is_part_of_what_the_editors_approve() -> None:
    from bot.content import content_sha256

    one, other = Image.of("a.png", PNG, alt="A chart"), Image.of("a.png", PNG, alt="A chart of losses")
    fingerprints = {content_sha256("Words", [one]), content_sha256("Words", [other]), content_sha256("Words", [])}
    assert len(fingerprints) == 3
    assert content_sha256("Words", [one]) == content_sha256("Words", [Image.of("renamed.png", PNG, alt="A chart")])
