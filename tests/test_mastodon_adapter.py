"""The Mastodon adapter: the real Mastodon.py client against a loopback instance, its answers mapped as X's are."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bot.config import Secret
from bot.errors import Delivery, PublishError
from bot.images import Image
from bot.mastodon import MastodonLimits, MastodonPublisher, publish_key, status_length
from tests.fakes.mastodon_api import ACCESS_TOKEN, ACCOUNT_ID, FakeMastodon
from tests.support.media import JPEG, PNG

HANDLE = "aplusk@mastodon.example"
STATUSES = "/api/v1/statuses"


@pytest.fixture
def masto() -> Iterator[FakeMastodon]:
    fake = FakeMastodon().start()
    yield fake
    fake.stop()


def publisher_for(masto: FakeMastodon, *, token: str = ACCESS_TOKEN, timeout: float = 5.0) -> MastodonPublisher:
    return MastodonPublisher(HANDLE, masto.url, Secret("MASTODON_ACCESS_TOKEN", token), timeout=timeout, poll_every=0.01)


@pytest.fixture
def publisher(masto: FakeMastodon) -> MastodonPublisher:
    return publisher_for(masto)


def test_a_post_goes_out_public_form_encoded_with_its_key_and_the_instances_link(
    masto: FakeMastodon, publisher: MastodonPublisher
) -> None:
    posted = publisher.publish("Big news tomorrow. Stay tuned 👀", key=publish_key(12, 1, 1))

    assert posted.url == f"{masto.url}/@aplusk/{posted.post_id}"
    [call] = masto.calls(STATUSES)
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}" and call.headers["Idempotency-Key"] == "copydesk-12-v1-p1"
    assert (call.body["status"], call.body["visibility"]) == ("Big news tomorrow. Stay tuned 👀", "public")
    assert masto.texts() == ["Big news tomorrow. Stay tuned 👀"]
    assert publisher.limits() is not None and publisher.limits().window.limit == 300  # type: ignore[union-attr]


def test_a_three_part_thread_goes_out_in_order_each_part_replying_to_the_one_before(
    masto: FakeMastodon, publisher: MastodonPublisher
) -> None:
    reply_to = None
    posted = []
    for part, text in enumerate(["One: the plan", "Two: the team", "Three: the date"], 1):
        post = publisher.publish(text, reply_to=reply_to, key=publish_key(7, 2, part))
        posted.append(post.post_id)
        reply_to = post.post_id

    assert masto.replies() == [("One: the plan", None), ("Two: the team", posted[0]), ("Three: the date", posted[1])]
    assert [c.headers["Idempotency-Key"] for c in masto.calls(STATUSES)] == [f"copydesk-7-v2-p{n}" for n in (1, 2, 3)]


def test_images_go_up_with_their_descriptions_and_one_still_processing_is_waited_for(
    masto: FakeMastodon, publisher: MastodonPublisher
) -> None:
    first = publisher.upload(Image.of("chart.png", PNG, alt="Sales doubled in November"))
    masto.process_next_upload(polls=2)  # 202, then two lookups answered 206, then ready
    second = publisher.upload(Image.of("team.jpg", JPEG, alt="The team at the launch"))

    post = publisher.publish("Look", media_ids=[first, second], key=publish_key(3, 1, 1))

    assert [c.path for c in masto.calls() if "media" in c.path] == ["/api/v2/media", "/api/v2/media"] + [
        f"/api/v1/media/{second}"
    ] * 3
    assert (masto.media[first]["description"], masto.media[first]["type"], masto.media[first]["bytes"]) == (
        "Sales doubled in November",
        "image/png",
        PNG,
    )
    assert (masto.media[second]["description"], masto.media[second]["type"]) == ("The team at the launch", "image/jpeg")
    assert masto.status(post.post_id)["media_ids"] == [first, second]
    assert f"media_ids%5B%5D={first}&media_ids%5B%5D={second}".encode() in masto.calls(STATUSES)[0].raw


def test_an_upload_the_instance_is_still_processing_when_the_time_is_up_is_not_sent(masto: FakeMastodon) -> None:
    publisher = publisher_for(masto, timeout=1.0)  # 1,000 polls every 10 ms outlast it
    masto.process_next_upload(polls=1000)

    with pytest.raises(PublishError) as failed:
        publisher.upload(Image.of("big.png", PNG, alt="A big picture"))

    assert failed.value.delivery is Delivery.NOT_SENT and "still processing big.png" in failed.value.reason


def test_a_429_is_not_sent_and_says_when_the_limit_lifts(masto: FakeMastodon, publisher: MastodonPublisher) -> None:
    masto.rate_limit_next(reset_in=120)

    with pytest.raises(PublishError) as limited:
        publisher.publish("Patience", key=publish_key(1, 1, 1))

    assert limited.value.delivery is Delivery.NOT_SENT and limited.value.reason == f"Mastodon is rate limiting @{HANDLE}"
    assert limited.value.retry_at is not None
    assert abs((limited.value.retry_at - datetime.now(UTC)).total_seconds() - 120) < 5
    assert masto.texts() == []
    assert publisher.publish("Patience", key=publish_key(1, 1, 1)).post_id  # after the reset: it goes out


def test_a_lost_answer_is_unknown_and_a_resend_with_the_same_key_gets_the_same_status(masto: FakeMastodon) -> None:
    publisher = publisher_for(masto, timeout=2.0)  # the lost answer comes only after 10 s
    since = datetime.now(UTC)
    masto.lose_next_answer(10)  # created, answered only after the client gave up

    with pytest.raises(PublishError) as lost:
        publisher.publish("We are live", key=publish_key(5, 1, 1))

    assert lost.value.delivery is Delivery.UNKNOWN and "did not answer in time" in lost.value.reason
    [created] = masto.statuses
    found = publisher.find("We are live", since)
    assert found is not None and found.post_id == created["id"]
    again = publisher.publish("We are live", key=publish_key(5, 1, 1))
    assert again == found and masto.texts() == ["We are live"]  # nothing twice
    assert publisher.publish("We are live", key=publish_key(5, 2, 1)).post_id != found.post_id  # a new version: a new key


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (lambda masto: masto.fail_after_posting(503), "Mastodon had a server error (503 Service Unavailable)"),
        (lambda masto: masto.garble_next_answer("soon"), "Mastodon's answer could not be read"),  # a 200 it could not parse
    ],
)
def test_a_status_created_before_a_bad_answer_is_unknown_and_found_on_the_account(
    masto: FakeMastodon, publisher: MastodonPublisher, fault, says: str
) -> None:
    since = datetime.now(UTC)
    fault(masto)

    with pytest.raises(PublishError) as failed:
        publisher.publish("Did it land?", key=publish_key(9, 1, 1))

    assert failed.value.delivery is Delivery.UNKNOWN and failed.value.reason.startswith(says)
    [created] = masto.statuses
    assert publisher.find("Did it land?", since) == publisher.publish("Did it land?", key=publish_key(9, 1, 1))
    assert masto.texts() == ["Did it land?"] and created["key"] == "copydesk-9-v1-p1"


def test_after_the_hour_the_key_is_forgotten_which_is_why_the_account_is_looked_at_first(
    masto: FakeMastodon, publisher: MastodonPublisher
) -> None:
    masto.idempotency_seconds = 0
    publisher.publish("Once", key=publish_key(4, 1, 1))
    publisher.publish("Once", key=publish_key(4, 1, 1))
    assert masto.texts() == ["Once", "Once"]


def test_find_reads_links_escapes_and_lines_back_from_the_html_and_skips_older_or_other_statuses(
    masto: FakeMastodon, publisher: MastodonPublisher
) -> None:
    text = "New site: https://example.com/launch/a-very-long-path-that-is-shortened?x=1 #launch\n\nFish & chips <3\nsee you"
    since = datetime.now(UTC)
    posted = publisher.publish(text)
    publisher.publish("Something else")

    shown = requests.get(
        f"{masto.url}/api/v1/accounts/{ACCOUNT_ID}/statuses", headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}, timeout=5
    ).json()
    content = shown[1]["content"]  # what the instance shows is HTML, not the text that was sent
    assert content.startswith("<p>New site: <a href=") and content.endswith("</p><p>Fish &amp; chips &lt;3<br />see you</p>")
    assert publisher.find(text, since) == posted
    assert masto.calls(f"/api/v1/statuses/{posted.post_id}/source") == []  # the HTML was enough
    assert publisher.find(text, since + timedelta(minutes=5)) is None  # made before `since`
    assert publisher.find("Never posted", since) is None


def test_find_tells_remote_mentions_apart_by_the_source_text(masto: FakeMastodon, publisher: MastodonPublisher) -> None:
    since = datetime.now(UTC)
    publisher.publish("Thanks @bob@one.example")
    second = publisher.publish("Thanks @bob@two.example")  # both read back as "Thanks @bob"

    assert publisher.find("Thanks @bob@two.example", since) == second
    assert publisher.find("Thanks @bob@three.example", since) is None
    assert masto.calls(f"/api/v1/statuses/{second.post_id}/source")


def test_find_without_read_accounts_is_refused_naming_the_scope(masto: FakeMastodon, publisher: MastodonPublisher) -> None:
    masto.scopes = frozenset({"write:statuses", "write:media", "read:statuses"})  # the list, without read:accounts

    with pytest.raises(PublishError) as refused:
        publisher.find("Anything", datetime.now(UTC))

    assert refused.value.delivery is Delivery.REFUSED
    assert refused.value.reason == "Mastodon refused the lookup of recent posts: 403 This action is outside the authorized scopes"


def test_a_post_is_deleted_and_deleting_it_again_is_done(masto: FakeMastodon, publisher: MastodonPublisher) -> None:
    since = datetime.now(UTC)
    posted = publisher.publish("Oops")

    publisher.delete(posted.post_id)
    publisher.delete(posted.post_id)  # 404: already gone

    assert masto.deleted == [posted.post_id]
    assert [c.method for c in masto.calls(f"{STATUSES}/{posted.post_id}")] == ["DELETE", "DELETE"]
    assert publisher.find("Oops", since) is None


def test_the_instances_limits_are_read_and_a_link_counts_as_it_reserves(
    masto: FakeMastodon, publisher: MastodonPublisher
) -> None:
    masto.max_characters, masto.characters_reserved_per_url = 100, 30

    limits = publisher.instance_limits()

    assert limits == MastodonLimits(max_characters=100, characters_reserved_per_url=30)
    assert [c.path for c in masto.calls()] == ["/api/v2/instance/"]
    fits = "a" * 69 + " https://example.com/" + "b" * 200  # 69 + 1 + 30: the link, however long, counts 30
    too_long = "c" * 70 + " https://example.com/" + "d" * 200
    assert (limits.length(fits), limits.over(fits)) == (100, 0)
    assert (limits.length(too_long), limits.over(too_long)) == (101, 1)
    assert publisher.publish(fits).post_id  # the instance agrees
    with pytest.raises(PublishError) as refused:
        publisher.publish(too_long)
    assert refused.value.delivery is Delivery.REFUSED
    assert refused.value.reason.startswith("Mastodon refused the post: 422 Validation failed: Text character limit of 100")
    assert masto.texts() == [fits]


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("see https://example.com/" + "a" * 100, 27),  # a link counts 23 on Mastodon's own rule
        ("hi @bob@mastodon.social", 7),  # a mention counts without its domain
        ("👩‍👩‍👧 family", 8),  # graphemes, not code points
        ("see example.com/abc", 19),  # a link without its scheme is text
    ],
)
def test_a_texts_length_as_mastodon_counts_it(text: str, length: int) -> None:
    assert status_length(text) == length == MastodonLimits().length(text)


def test_a_bad_token_is_refused_and_an_instance_that_cannot_be_reached_is_not_sent(masto: FakeMastodon) -> None:
    with pytest.raises(PublishError) as refused:
        publisher_for(masto, token="revoked").publish("Hello")
    assert refused.value.delivery is Delivery.REFUSED
    assert refused.value.reason == "Mastodon refused the post: 401 The access token is invalid"

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    nowhere = MastodonPublisher(HANDLE, f"http://127.0.0.1:{port}", Secret("MASTODON_ACCESS_TOKEN", ACCESS_TOKEN), timeout=2)
    with pytest.raises(PublishError) as unreachable:
        nowhere.publish("Hello")
    assert unreachable.value.delivery is Delivery.NOT_SENT and unreachable.value.reason == "Mastodon could not be reached"
    assert masto.texts() == []


def test_the_token_is_in_no_log_record_and_no_error(masto: FakeMastodon, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # copydesk run quiets it (bot/runtime/cli.py); here it says everything
    publisher = publisher_for(masto, timeout=2.0)
    errors: list[PublishError] = []
    since = datetime.now(UTC)
    publisher.instance_limits()
    media = publisher.upload(Image.of("chart.png", PNG, alt="A chart"))
    posted = publisher.publish("Secret keeping", media_ids=[media], key=publish_key(1, 1, 1))
    for fault in (masto.rate_limit_next, lambda: masto.lose_next_answer(10), masto.fail_after_posting):
        fault()
        try:
            publisher.publish(f"Fault {time.monotonic()}")
        except PublishError as e:
            errors.append(e)
    publisher.find("Secret keeping", since)
    publisher.delete(posted.post_id)
    try:
        publisher_for(masto, token=ACCESS_TOKEN + "-old").publish("Refused")
    except PublishError as e:
        errors.append(e)

    assert len(errors) == 4 and caplog.records  # urllib3 logged every request
    assert ACCESS_TOKEN not in caplog.text
    assert all(ACCESS_TOKEN not in "".join(traceback.format_exception(e)) + repr(e.__context__) for e in errors)
    assert ACCESS_TOKEN not in repr(publisher)
    assert masto.calls()[-1].headers["Authorization"] == f"Bearer {ACCESS_TOKEN}-old"  # it did travel, in the header only
