"""The Bluesky adapter against a loopback PDS: the real atproto Client on the wire, each answer mapped as for X."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.bluesky import BlueskyPublisher, PostRef, key_time, record_key, tid
from bot.config import Secret
from bot.errors import BadDraft, Delivery, PublishError
from bot.images import Image
from bot.length import check_bluesky, measure_bluesky
from tests.fakes.bluesky_pds import APP_PASSWORD, DID, HANDLE, POST, FakeBluesky, bearer
from tests.support.media import PNG

CREATE = "com.atproto.repo.createRecord"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one grapheme, 18 bytes


@pytest.fixture
def pds() -> Iterator[FakeBluesky]:
    fake = FakeBluesky().start()
    yield fake
    fake.stop()


def publisher_for(pds: FakeBluesky, *, password: str = APP_PASSWORD, timeout: float = 5.0) -> BlueskyPublisher:
    return BlueskyPublisher(HANDLE, Secret("BLUESKY_APP_PASSWORD", password), service=pds.url, timeout=timeout)


@pytest.fixture
def publisher(pds: FakeBluesky) -> BlueskyPublisher:
    return publisher_for(pds)


def key(part: int = 1) -> str:
    return record_key(datetime.now(UTC), f"draft 1 v1 part {part}")


def test_a_record_key_is_a_tid_that_says_when_it_was_claimed() -> None:
    assert tid(1724171495793000, 512) == "3l25zusnsfck2"  # @atcute/tid's own example
    claimed = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
    assert key_time(record_key(claimed, "draft 12 v3 part 2")) == claimed
    assert record_key(claimed, "draft 12 v3 part 2") == record_key(claimed, "draft 12 v3 part 2")
    assert record_key(claimed, "draft 12 v3 part 2") != record_key(claimed, "draft 12 v3 part 3")


def test_a_post_with_a_link_gets_a_link_facet_at_its_utf8_byte_offsets(pds: FakeBluesky, publisher: BlueskyPublisher) -> None:
    url = "https://example.com/a-long/path?x=1"
    text = f"Café {FAMILY} 🇫🇷 see {url}."
    rkey = key()

    posted = publisher.publish(text, key=rkey)

    [created] = pds.created
    start = len(text[: text.index(url)].encode())
    assert created["value"]["facets"] == [
        {
            "$type": "app.bsky.richtext.facet",
            "index": {"$type": "app.bsky.richtext.facet#byteSlice", "byteStart": start, "byteEnd": start + len(url)},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
        }
    ]
    assert text.encode()[start : start + len(url)].decode() == url
    assert created["rkey"] == rkey and created["value"]["createdAt"] == key_time(rkey).isoformat().replace("+00:00", "Z")
    assert posted.url == f"https://bsky.app/profile/{HANDLE}/post/{rkey}"
    assert PostRef.parse(posted.post_id) == PostRef(created["uri"], created["cid"])


def test_a_three_part_thread_names_its_root_and_its_parent(pds: FakeBluesky, publisher: BlueskyPublisher) -> None:
    first = publisher.publish("1/3 The plan", key=key(1))
    second = publisher.publish("2/3 The details", reply_to=first.post_id, key=key(2))
    third = publisher.publish("3/3 The end", reply_to=second.post_id, key=key(3))

    one, two, three = pds.created
    assert "reply" not in one["value"]

    def ref(record: dict) -> dict:
        return {"$type": "com.atproto.repo.strongRef", "uri": record["uri"], "cid": record["cid"]}

    assert two["value"]["reply"] == {"$type": "app.bsky.feed.post#replyRef", "root": ref(one), "parent": ref(one)}
    assert three["value"]["reply"] == {"$type": "app.bsky.feed.post#replyRef", "root": ref(one), "parent": ref(two)}
    assert PostRef.parse(third.post_id) == PostRef(three["uri"], three["cid"], one["uri"], one["cid"])
    assert pds.texts() == ["1/3 The plan", "2/3 The details", "3/3 The end"]


def test_images_go_up_as_blobs_and_into_an_images_embed_with_their_alt_text(
    pds: FakeBluesky, publisher: BlueskyPublisher
) -> None:
    chart, photo = Image.of("chart.png", PNG, alt="Sales doubled in November"), Image.of("b.png", PNG + b"\0", alt="A dot")

    media = [publisher.upload(chart), publisher.upload(photo)]
    publisher.publish("Look", media_ids=media, key=key())

    embed = pds.created[0]["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [i["alt"] for i in embed["images"]] == ["Sales doubled in November", "A dot"]
    assert [pds.blobs[i["image"]["ref"]["$link"]]["bytes"] for i in embed["images"]] == [chart.data, photo.data]
    assert [(i["image"]["mimeType"], i["image"]["size"]) for i in embed["images"]] == [
        ("image/png", len(PNG)),
        ("image/png", len(PNG) + 1),
    ]


def test_an_image_over_bluesky_s_million_bytes_is_refused_before_it_is_sent(
    pds: FakeBluesky, publisher: BlueskyPublisher
) -> None:
    big = Image.of("big.png", PNG + b"\0" * 1_000_000, alt="Big")
    with pytest.raises(PublishError) as refused:
        publisher.upload(big)
    assert refused.value.delivery is Delivery.REFUSED and "up to 1,000,000 bytes" in refused.value.reason
    assert pds.calls("/xrpc/com.atproto.repo.uploadBlob") == []


def test_a_429_is_not_sent_and_names_the_ratelimit_reset(pds: FakeBluesky, publisher: BlueskyPublisher) -> None:
    reset = int(time.time()) + 3600
    pds.rate_limit_next(CREATE, reset)

    with pytest.raises(PublishError) as limited:
        publisher.publish("Patience", key=key())

    assert limited.value.delivery is Delivery.NOT_SENT
    assert limited.value.retry_at == datetime.fromtimestamp(reset, UTC)
    assert f"Bluesky is rate limiting @{HANDLE} (429 RateLimitExceeded" in limited.value.reason
    assert pds.created == []


def test_the_write_budget_bluesky_reports_is_kept(pds: FakeBluesky, publisher: BlueskyPublisher) -> None:
    assert publisher.limits() is None
    publisher.publish("One", key=key(1))
    publisher.publish("Two", key=key(2))
    limits = publisher.limits()
    assert limits is not None and limits.window is not None
    assert (limits.window.remaining, limits.window.limit) == (5000 - 6, 5000)


@pytest.mark.parametrize("fault", ["lose_next_answer", "fail_after_creating"])
def test_a_lost_answer_after_the_record_was_made_is_unknown_and_find_finds_it(
    pds: FakeBluesky, publisher: BlueskyPublisher, fault: str
) -> None:
    since = datetime.now(UTC)
    publisher.publish("Older post", key=key(0))
    getattr(pds, fault)()
    rkey = key(1)

    with pytest.raises(PublishError) as lost:
        publisher.publish("Did it go?", key=rkey)

    assert lost.value.delivery is Delivery.UNKNOWN and "the post may be live" in lost.value.reason
    assert pds.texts()[-1] == "Did it go?"
    found = publisher.find("Did it go?", since)
    assert found is not None and found.url.endswith(f"/post/{rkey}")
    assert publisher.lookup(rkey) == found
    assert publisher.find("Never sent", since) is None and publisher.lookup(key(2)) is None


def test_a_read_timeout_after_the_request_went_is_unknown(pds: FakeBluesky) -> None:
    publisher = publisher_for(pds, timeout=0.5)
    publisher.lookup(key(0))  # logged in before the hold
    gate = pds.hold(f"/xrpc/{CREATE}")
    rkey = key(1)

    with pytest.raises(PublishError) as lost:
        publisher.publish("Slow", key=rkey)
    gate.set()

    assert lost.value.delivery is Delivery.UNKNOWN and "did not answer in time" in lost.value.reason
    assert publisher.lookup(rkey) is not None


def test_a_service_nobody_listens_on_is_not_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    publisher = BlueskyPublisher(HANDLE, Secret("BLUESKY_APP_PASSWORD", APP_PASSWORD), service=f"http://127.0.0.1:{port}")
    with pytest.raises(PublishError) as unreachable:
        publisher.publish("Hello", key=key())
    assert unreachable.value.delivery is Delivery.NOT_SENT and unreachable.value.reason == "Bluesky could not be reached"


@pytest.mark.parametrize("status", [500, 409])  # the reference PDS today; cirrus's RecordAlreadyExists
def test_a_resend_under_the_same_key_makes_no_second_post(pds: FakeBluesky, publisher: BlueskyPublisher, status: int) -> None:
    pds.duplicate_status = status
    rkey = key()
    first = publisher.publish("Once only", key=rkey)

    with pytest.raises(PublishError) as again:
        publisher.publish("Once only", key=rkey)

    assert again.value.delivery is Delivery.UNKNOWN  # decided by looking, never by the status
    assert len(pds.creates(rkey)) == 2 and len(pds.created) == 1 and pds.texts() == ["Once only"]
    assert publisher.lookup(rkey) == first


def test_delete_takes_the_post_down_and_a_second_delete_is_fine(pds: FakeBluesky, publisher: BlueskyPublisher) -> None:
    rkey = key()
    posted = publisher.publish("Oops", key=rkey)

    publisher.delete(posted.post_id)
    publisher.delete(posted.post_id)

    assert pds.texts() == [] and pds.deleted == [rkey]
    [first, _] = pds.calls("/xrpc/com.atproto.repo.deleteRecord")
    assert first.body == {"repo": DID, "collection": POST, "rkey": rkey}
    assert publisher.lookup(rkey) is None


def test_one_login_and_the_session_is_refreshed_across_calls(pds: FakeBluesky, publisher: BlueskyPublisher) -> None:
    pds.access_seconds = 10 * 60  # inside the SDK's 15 minutes: it refreshes before each call
    for part in (1, 2, 3):
        publisher.publish(f"Post {part}", key=key(part))

    assert pds.sessions_created() == 1 and pds.sessions_refreshed() == 3
    refreshes = pds.calls("/xrpc/com.atproto.server.refreshSession")
    assert len({bearer(c) for c in refreshes}) == 3  # each refresh token was used once (rotated)
    assert pds.texts() == ["Post 1", "Post 2", "Post 3"]


def test_a_long_lived_session_is_used_as_it_is(pds: FakeBluesky, publisher: BlueskyPublisher) -> None:
    publisher.publish("One", key=key(1))
    publisher.find("One", datetime.now(UTC) - timedelta(minutes=5))
    publisher.publish("Two", key=key(2))
    assert (pds.sessions_created(), pds.sessions_refreshed()) == (1, 0)


def test_a_session_the_pds_refuses_is_not_sent_and_the_next_call_logs_in_again(
    pds: FakeBluesky, publisher: BlueskyPublisher
) -> None:
    publisher.publish("One", key=key(1))
    pds.answer_next(CREATE, 400, {"error": "ExpiredToken", "message": "Token has expired"})

    with pytest.raises(PublishError) as refused:
        publisher.publish("Two", key=key(2))
    publisher.publish("Two", key=key(2))

    assert refused.value.delivery is Delivery.NOT_SENT and "logs in again" in refused.value.reason
    assert pds.sessions_created() == 2 and pds.texts() == ["One", "Two"]


def test_a_wrong_app_password_is_refused(pds: FakeBluesky) -> None:
    with pytest.raises(PublishError) as refused:
        publisher_for(pds, password="wrong-pass-word-0000").publish("Hello", key=key())
    assert refused.value.delivery is Delivery.REFUSED
    assert (
        refused.value.reason
        == f"Bluesky refused the login of @{HANDLE}: 401 AuthenticationRequired: Invalid identifier or password"
    )
    assert pds.created == []


def test_no_log_record_or_error_carries_the_app_password_or_a_token(
    pds: FakeBluesky, publisher: BlueskyPublisher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pds.access_seconds = 10 * 60  # refreshes too
    errors: list[BaseException] = []
    publisher.publish("One", media_ids=[publisher.upload(Image.of("a.png", PNG, alt="A dot"))], key=key(1))
    for fault in (
        lambda: pds.rate_limit_next(CREATE, int(time.time()) + 60),
        pds.lose_next_answer,
        lambda: pds.answer_next(CREATE, 400, {"error": "ExpiredToken", "message": "Token has expired"}),
    ):
        fault()
        with pytest.raises(PublishError) as failed:
            publisher.publish("Two", key=key(2))
        errors.append(failed.value)
    with pytest.raises(PublishError) as refused:
        publisher_for(pds, password="wrong-pass-word-0000").publish("Three", key=key(3))
    errors.append(refused.value)

    tokens = {bearer(c).removeprefix("Bearer ") for c in pds.calls() if bearer(c)}
    secrets = {APP_PASSWORD, "wrong-pass-word-0000", *tokens}
    assert len(tokens) >= 4  # access and refresh tokens of two sessions were in use
    said = [r.getMessage() for r in caplog.records] + ["".join(traceback.format_exception_only(e)) + repr(e) for e in errors]
    assert said and not [s for s in said if any(secret in s for secret in secrets)]
    assert all(e.__cause__ is None and e.__suppress_context__ for e in errors)  # no httpx request (headers) rides along
    logins = pds.calls("/xrpc/com.atproto.server.createSession")
    assert not [c for c in logins if APP_PASSWORD.encode() in c.raw or c.body["password"] != "<redacted>"]


def test_bluesky_counts_graphemes_and_bytes_links_in_full() -> None:
    assert measure_bluesky(f"Café {FAMILY} 🇫🇷").graphemes == 8
    assert measure_bluesky("e\u0301" * 300).graphemes == 300  # 600 code points, 300 characters as a reader sees them
    assert check_bluesky("a" * 300).graphemes == 300
    url = "https://example.com/" + "x" * 30
    with pytest.raises(BadDraft, match=r"is 301/300 characters as Bluesky counts them \(links count in full\): 1 too many"):
        check_bluesky("a" * (300 - len(url)) + " " + url)
    with pytest.raises(BadDraft, match=r"is 5400/3000 bytes, more than Bluesky stores in one post .*: 2400 too many"):
        check_bluesky(FAMILY * 300)  # 300 characters, but 18 bytes each


@pytest.mark.parametrize("text", ["a" * 301, FAMILY * 300], ids=["301 graphemes", "300 graphemes in 5400 bytes"])
def test_a_text_too_long_for_bluesky_is_refused_before_anything_is_sent(
    pds: FakeBluesky, publisher: BlueskyPublisher, text: str
) -> None:
    with pytest.raises(PublishError) as refused:
        publisher.publish(text, key=key())
    assert refused.value.delivery is Delivery.REFUSED and "Bluesky takes 300 characters and 3000 bytes" in refused.value.reason
    assert pds.calls() == []
