"""Engagement in the daily digest: each post's counts read from its network just before the digest goes, kept in the
ledger, the best post and the totals named; a network that fails, rate-limits or hangs never holds the digest up."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import astuple, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import tweepy
import yaml

from bot.config import load_config
from bot.digest import TOP, Line, Report
from bot.engagement import Counts, within
from bot.errors import ConfigError, Delivery, PublishError
from bot.review import State
from bot.runtime.cli import main
from bot.x import XPublisher, XSession
from handlers import digest_render
from tests.fakes.slack_api import blocks_text
from tests.fakes.x_api import ACCESS_TOKEN_SECRET, CONSUMER_SECRET, OAUTH2_TOKEN, X_ENV, FakeX
from tests.support.digests import DIGEST, LA, clock_at, fire, move, tomorrow
from tests.support.harness import AUTHOR, BASE_CONFIG, EDITOR_1, EDITOR_2, Copydesk, eventually


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def publish(bot: Copydesk, number: int, text: str) -> str:
    """/draft `text`, approved, out on X: its post id there."""
    bot.command(AUTHOR, text)
    approve(bot, number)
    bot.wait_for_state(number, State.PUBLISHED)
    return post_id(bot, number, "x")


def post_id(bot: Copydesk, number: int, network: str) -> str:
    found = next(p.post_id for p in bot.ledger.publications(number) if p.network == network and p.outcome == "published")
    assert found is not None
    return found


def the_digest(bot: Copydesk) -> str:
    [message] = bot.slack.posts(DIGEST)
    return blocks_text(message)


def with_digest(**settings: Any) -> dict[str, Any]:
    return {"digest": {"channel": DIGEST, "at": "18:00", **settings}}


# X, through tweepy, against the fake's GET /2/tweets


def test_the_digest_shows_each_posts_counts_from_x_the_best_post_and_the_totals(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    first = publish(bot, 1, "Launch day")
    second = publish(bot, 2, "Thank you all")
    bot.x.set_metrics(first, like_count=12, retweet_count=3, reply_count=2, quote_count=1, impression_count=1204)
    bot.x.set_metrics(second, like_count=30, retweet_count=5, reply_count=0, quote_count=0, impression_count=4000)

    fire(bot, clock)

    shown = the_digest(bot)
    assert "♥ 12 · ↻ 3 · 💬 2 · ❝ 1 · 👁 1,204" in shown and "♥ 30 · ↻ 5 · 💬 0 · ❝ 0 · 👁 4,000" in shown
    assert "Best: #2 @aplusk (35 likes, reposts, replies and quotes)" in shown
    assert "Total: ♥ 42 · ↻ 8 · 💬 2 · ❝ 1 · 👁 5,204" in shown
    assert "engagement unavailable" not in shown
    [lookup] = bot.x.lookups()  # one request for both, asking for public_metrics
    assert sorted(lookup.body["ids"].split(",")) == sorted([first, second])
    assert lookup.body["tweet.fields"] == "public_metrics"
    # the latest counts are kept in the ledger, for the weekly report and Datasette
    kept = bot.ledger.engagement_of(p.id for n in (1, 2) for p in bot.ledger.publications(n))
    assert sorted((e.draft_id, e.network, *astuple(e.counts)) for e in kept.values()) == [
        (1, "x", 12, 3, 2, 1, 1204),
        (2, "x", 30, 5, 0, 0, 4000),
    ]
    end = bot.ledger.digests()[0].window_end
    assert all(end <= e.read_at < end + timedelta(seconds=5) for e in kept.values())  # read as the digest was composed


def test_x_is_read_100_posts_a_request_and_a_deleted_post_comes_as_gone(config, x: FakeX) -> None:
    publisher = XPublisher(config.accounts["main"], base_url=x.url, timeout=5)
    live = publisher.publish("Still there").post_id
    gone = publisher.publish("Deleted on X since").post_id
    publisher.delete(gone)
    x.set_metrics(live, like_count=4)
    asked = [live, gone] + [str(1700000000000000000 + n) for n in range(248)]  # 250 ids: never made, or deleted

    found = dict(publisher.engagement(asked))

    assert found == {live: Counts(likes=4, reposts=0, replies=0, quotes=0, impressions=0), **dict.fromkeys(asked[1:])}
    assert [len(c.body["ids"].split(",")) for c in x.lookups()] == [100, 100, 50]
    assert [i for c in x.lookups() for i in c.body["ids"].split(",")] == asked


def test_the_fake_x_refuses_more_than_100_ids_as_x_does(x: FakeX) -> None:
    client = tweepy.Client(bearer_token=OAUTH2_TOKEN)
    client.session = XSession(x.url, 5)
    with pytest.raises(tweepy.BadRequest, match="is not between 1 and 100"):
        client.get_tweets([str(n) for n in range(101)], tweet_fields=["public_metrics"])


def test_a_deleted_post_has_no_counts_and_the_others_still_show(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    kept = publish(bot, 1, "Still there")
    gone = publish(bot, 2, "Deleted on X by hand")
    bot.x.set_metrics(kept, like_count=9)
    bot.x.posts[[p["id"] for p in bot.x.posts].index(gone)]["deleted"] = True  # someone deleted it in X's app

    fire(bot, clock)

    shown = the_digest(bot)
    assert "♥ 9 · ↻ 0" in shown and shown.count("♥") == 2  # its line, and the totals
    assert "deleted on X since" in shown
    assert "engagement unavailable" not in shown
    kept_on = bot.ledger.engagement_of(p.id for p in bot.ledger.publications(2) + bot.ledger.publications(1))
    assert sorted((e.draft_id, e.gone_at is not None) for e in kept_on.values()) == [(1, False), (2, True)]


def test_a_post_deleted_by_hand_after_its_counts_were_read_is_named_so_unlinked_and_never_best(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock, top=with_digest(weekly={"day": "monday", "at": "09:00"}))
    popular = publish(bot, 1, "Loved, then deleted")
    quiet = publish(bot, 2, "Still there")
    bot.x.set_metrics(popular, like_count=500)
    bot.x.set_metrics(quiet, like_count=3)
    fire(bot, clock)  # the day's digest: both read, the popular one best
    assert "Best: #1" in the_digest(bot)
    bot.x.posts[[p["id"] for p in bot.x.posts].index(popular)]["deleted"] = True  # deleted in X's app that night

    fire(bot, clock)  # the next day's: how yesterday's posts landed, read again

    _, next_day = bot.slack.posts(DIGEST)
    landed = blocks_text(next_day)
    assert "#1 @aplusk" in landed and "deleted on X since" in landed and "Best: #1" not in landed
    assert f"status/{popular}" not in json.dumps(next_day["blocks"])  # no link to a page that is gone
    assert f"status/{quiet}" in json.dumps(next_day["blocks"])
    [gone] = [e for e in bot.ledger.engagement_of(p.id for p in bot.ledger.publications(1)).values()]
    assert gone.gone_at is not None and gone.counts.likes == 500  # its last counts kept, as read while it was there
    [week] = bot.desk.weekly.weekly_so_far()
    assert [top.draft_id for top in week.top] == [2]  # neither ranked nor linked in the weekly report
    assert week.interactions == 503  # but what it got while it was there counts for its day


# failures, rate limits and a hanging lookup never hold the digest up


@pytest.mark.parametrize("status", [503, 429])
def test_a_lookup_that_fails_leaves_the_digest_going_saying_engagement_unavailable(make_bot, status: int, caplog) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    publish(bot, 1, "Launch day")
    bot.x.fail_lookup(status)

    with caplog.at_level(logging.WARNING):
        fire(bot, clock)

    shown = the_digest(bot)
    assert "engagement unavailable" in shown and "♥" not in shown
    assert "Launch day" in shown
    assert [(d.outcome, d.error) for d in bot.ledger.digests()] == [("sent", None)]
    assert bot.ledger.engagement_of(p.id for p in bot.ledger.publications(1)) == {}
    assert "could not be read" in caplog.text
    assert CONSUMER_SECRET not in caplog.text and ACCESS_TOKEN_SECRET not in caplog.text


def test_a_lookup_that_hangs_does_not_hold_the_digest_past_its_deadline(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock, top=with_digest(metrics_timeout_seconds=1))
    publish(bot, 1, "Launch day")
    bot.x.hold_lookups()
    try:
        started = time.monotonic()
        fire(bot, clock)
        took = time.monotonic() - started

        assert took < 1 + 5, f"the digest waited {took:.1f}s for a lookup held open (30 s)"
        [held] = bot.x.lookups()
        assert [c for c in bot.x.calls("/2/tweets") if c.method == "GET"] == []  # X has still not answered it
        shown = the_digest(bot)
        assert "engagement unavailable" in shown and "Launch day" in shown
        assert [d.outcome for d in bot.ledger.digests()] == ["sent"]
    finally:
        bot.x.release_lookups()
    # the late answer is dropped: nothing is written after the digest went
    bot.x.wait_for("/2/tweets", count=2)  # the post, then the lookup's late answer
    assert bot.ledger.engagement_of(p.id for p in bot.ledger.publications(1)) == {}


def test_a_digest_slack_refused_is_sent_again_without_reading_and_billing_the_counts_again(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    post = publish(bot, 1, "Read once")
    bot.x.set_metrics(post, like_count=5)
    bot.slack.failures["chat.postMessage"] = "not_in_channel"  # the bot was never invited to the digest channel

    fire(bot, clock)
    assert [d.outcome for d in bot.ledger.digests()] == ["failed"] and len(bot.x.lookups()) == 1
    del bot.slack.failures["chat.postMessage"]
    fire(bot, clock)  # ten minutes later

    assert [d.outcome for d in bot.ledger.digests()] == ["sent"]
    assert len(bot.x.lookups()) == 1  # the counts read for the first try are shown: X is not billed again
    assert "♥ 5" in blocks_text(bot.slack.history[DIGEST][-1])


def test_a_digest_waiting_on_its_counts_holds_up_no_other_report(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    day = tomorrow(10).astimezone(LA).strftime("%A").lower()
    bot = make_bot(clock=clock, top=with_digest(metrics_timeout_seconds=30, weekly={"day": day, "at": "18:00"}))
    publish(bot, 1, "Counted slowly")
    bot.x.hold_lookups()
    due = bot.services.scheduler.digest_due_at(TOP)
    assert due is not None
    move(clock, due + timedelta(seconds=1))
    daily = threading.Thread(target=bot.desk.digests.run_digest, args=(TOP,), daemon=True)
    try:
        daily.start()
        eventually(lambda: bool(bot.x.lookups()), what="the daily digest asking X for its counts")  # X does not answer
        bot.desk.weekly.run_weekly(TOP)  # the weekly report's time is the same: it goes at once all the same
        assert [d.kind for d in bot.ledger.digests() if d.outcome == "sent"] == ["weekly"]
    finally:
        bot.x.release_lookups()
    daily.join(timeout=30)
    assert sorted(d.kind for d in bot.ledger.digests() if d.outcome == "sent") == ["daily", "weekly"]


def test_metrics_false_reads_nothing(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock, top=with_digest(metrics=False))
    publish(bot, 1, "Launch day")

    fire(bot, clock)

    shown = the_digest(bot)
    assert "Launch day" in shown and "♥" not in shown and "engagement unavailable" not in shown
    assert bot.x.lookups() == []


def test_the_next_digest_reads_again_how_the_previous_days_posts_landed(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    first = publish(bot, 1, "An hour before the digest")
    bot.x.set_metrics(first, like_count=2)
    fire(bot, clock)
    assert "♥ 2 · ↻ 0" in the_digest(bot)

    second = publish(bot, 2, "The next morning")  # after the first digest: in the next one's window
    bot.x.set_metrics(first, like_count=58, retweet_count=14)
    bot.x.set_metrics(second, like_count=5)
    due = fire(bot, clock)

    latest = blocks_text(bot.slack.posts(DIGEST)[-1])
    assert "How yesterday's posts landed (1)" in latest
    landed = latest[latest.index("How yesterday's posts landed") :]
    assert "#1 @aplusk" in landed and "♥ 58 · ↻ 14" in landed
    assert "Best: #2 @aplusk (5 likes" in latest  # the best of the day is among the day's own posts
    [lookup] = bot.x.lookups()[1:]
    assert sorted(lookup.body["ids"].split(",")) == sorted([first, second])
    [kept] = bot.ledger.engagement_of(p.id for p in bot.ledger.publications(1)).values()
    assert (kept.counts.likes, kept.counts.reposts) == (58, 14) and kept.read_at >= due


def test_copydesk_digest_prints_the_counts_last_read_in_the_terminal_and_reads_none(
    bot: Copydesk, environ, monkeypatch, capsys
) -> None:
    post = publish(bot, 1, "Printed with its counts")
    bot.x.set_metrics(post, like_count=7, impression_count=1500)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    assert main(["digest", "--config", str(bot.config.config_path)]) == 0  # reads nothing: no counts yet, none billed
    assert bot.x.lookups() == [] and "♥" not in capsys.readouterr().out

    bot.desk.digests.digests_so_far(read=True)  # what the daily digest (or digest --post) reads, and keeps
    assert main(["digest", "--config", str(bot.config.config_path)]) == 0

    out = capsys.readouterr().out  # the counts last read, from the ledger: X is not asked again
    assert "    ♥ 7 · ↻ 0 · 💬 0 · ❝ 0 · 👁 1,500" in out
    assert "Best: #1 @aplusk (7 likes, reposts, replies and quotes) · Total: ♥ 7" in out
    assert len(bot.x.lookups()) == 1


def test_slash_draft_digest_reads_nothing_and_shows_the_counts_last_read(make_bot) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_bot(clock=clock)
    post = publish(bot, 1, "Read at the digest")
    bot.x.set_metrics(post, like_count=3)
    fire(bot, clock)
    bot.x.set_metrics(post, like_count=100)

    [report] = bot.desk.digests.digests_so_far(clock() - timedelta(days=1))

    assert report.published[0].counts == (("x", Counts(3, 0, 0, 0, 0)),)
    assert len(bot.x.lookups()) == 1


# Bluesky and Mastodon


def test_each_network_of_a_post_shows_its_own_counts(make_everywhere) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_everywhere(clock=clock)
    bot.command(AUTHOR, "Everywhere at once")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    bot.x.set_metrics(post_id(bot, 1, "x"), like_count=12, retweet_count=3, impression_count=900)
    bot.bluesky.set_counts(post_id(bot, 1, "bluesky").split()[0].rsplit("/", 1)[1], likeCount=4, repostCount=1, quoteCount=2)
    bot.mastodon.set_counts(post_id(bot, 1, "mastodon"), favourites_count=7, reblogs_count=2, replies_count=1)

    fire(bot, clock)

    shown = the_digest(bot)
    assert "X: ♥ 12 · ↻ 3 · 💬 0 · ❝ 0 · 👁 900" in shown
    assert "Bluesky: ♥ 4 · ↻ 1 · 💬 0 · ❝ 2" in shown  # Bluesky counts no impressions
    assert "Mastodon: ♥ 7 · ↻ 2 · 💬 1" in shown  # nor quotes, on Mastodon
    assert "Best: #1 @aplusk (32 likes, reposts, replies and quotes)" in shown
    assert "Total: ♥ 23 · ↻ 6 · 💬 1 · ❝ 2 · 👁 900" in shown
    assert len(bot.bluesky.calls("/xrpc/app.bsky.feed.getPosts")) == 1
    assert [c.method for c in bot.mastodon.calls() if c.path.startswith("/api/v1/statuses/")] == ["GET"]
    kept = bot.ledger.engagement_of(p.id for p in bot.ledger.publications(1))
    assert sorted((e.network, e.counts.likes, e.counts.quotes, e.counts.impressions) for e in kept.values()) == [
        ("bluesky", 4, 2, None),
        ("mastodon", 7, None, None),
        ("x", 12, 0, 900),
    ]


def test_one_network_failing_is_named_and_the_others_still_show(make_everywhere) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_everywhere(clock=clock)
    bot.command(AUTHOR, "Everywhere at once")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    bot.bluesky.rate_limit_next("app.bsky.feed.getPosts", reset=int(time.time()) + 300)

    fire(bot, clock)

    shown = the_digest(bot)
    assert "engagement unavailable on Bluesky" in shown
    assert "X: ♥ 0" in shown and "Mastodon: ♥ 0" in shown and "Bluesky: ♥" not in shown


def publish_everywhere(bot: Any, number: int, text: str) -> None:
    bot.command(AUTHOR, text)
    approve(bot, number)
    bot.wait_for_state(number, State.PUBLISHED)


def reading_stopped(account: str, network: str) -> bool:
    """Whether the digest's read of that account's counts on the network has stopped (within's thread is gone)."""
    return not any(t.name == f"engagement {(account, network)}" for t in threading.enumerate())


def test_mastodon_read_past_the_deadline_shows_what_came_and_asks_no_more(make_everywhere) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_everywhere(clock=clock, top_level=with_digest(metrics_timeout_seconds=5))  # X and Bluesky answer well in it
    for number, text in enumerate(["Read in time", "Answered too late", "Never asked"], start=1):
        publish_everywhere(bot, number, text)
    first, late, never = (post_id(bot, n, "mastodon") for n in (1, 2, 3))
    bot.mastodon.set_counts(first, favourites_count=7, reblogs_count=2, replies_count=1)
    bot.mastodon.set_counts(late, favourites_count=50)
    bot.mastodon.set_counts(never, favourites_count=60)
    gate = bot.mastodon.hold(f"/api/v1/statuses/{late}")  # the instance is slow to answer the second one
    try:
        started = time.monotonic()
        fire(bot, clock)
        assert time.monotonic() - started < 5 + 5
        shown = the_digest(bot)
    finally:
        gate.set()
    assert "Mastodon: ♥ 7 · ↻ 2 · 💬 1" in shown  # read before the deadline: shown, not thrown away with the rest
    assert "♥ 50" not in shown and "♥ 60" not in shown
    assert "engagement unavailable on Mastodon" in shown and shown.count("X: ♥ 0") == 3
    kept = bot.ledger.engagement_of(p.id for n in (1, 2, 3) for p in bot.ledger.publications(n) if p.network == "mastodon")
    assert [(e.draft_id, e.counts.likes) for e in kept.values()] == [(1, 7)]
    eventually(lambda: reading_stopped("main", "mastodon"), what="the read of Mastodon's counts to stop")
    assert bot.mastodon.arrived(f"/api/v1/statuses/{never}") == []  # nothing was asked after the deadline


def test_a_rate_limit_half_way_through_mastodon_keeps_the_counts_read_before_it(make_everywhere) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_everywhere(clock=clock)
    for number, text in enumerate(["Read first", "Rate limited", "Not asked"], start=1):
        publish_everywhere(bot, number, text)
    first, limited, after = (post_id(bot, n, "mastodon") for n in (1, 2, 3))
    bot.mastodon.set_counts(first, favourites_count=7)
    bot.mastodon.rate_limit_next(reset_in=300, path=f"/api/v1/statuses/{limited}")

    fire(bot, clock)

    shown = the_digest(bot)
    assert "Mastodon: ♥ 7" in shown and "engagement unavailable on Mastodon" in shown
    assert bot.mastodon.arrived(f"/api/v1/statuses/{after}") == []  # a 429 stops the asking
    kept = bot.ledger.engagement_of(p.id for n in (1, 2, 3) for p in bot.ledger.publications(n) if p.network == "mastodon")
    assert [(e.draft_id, e.counts.likes) for e in kept.values()] == [(1, 7)]


def test_a_post_marked_published_from_its_bsky_app_link_gets_its_counts(make_everywhere) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_everywhere(clock=clock, only=("bluesky",))
    bot.bluesky.lose_next_answer()  # the record is written, the answer lost, and the lookup fails: held, to be marked
    bot.bluesky.answer_next("com.atproto.repo.getRecord", 502, {"error": "UpstreamFailure", "message": "down"})
    bot.command(AUTHOR, "Found on Bluesky by hand")
    approve(bot, 1)
    bot.wait_for_state(1, State.HELD)
    [rkey] = bot.bluesky.records
    bot.command(EDITOR_1, f"mark-published #1 https://bsky.app/profile/{bot.bluesky.handle}/post/{rkey}")
    bot.wait_for_state(1, State.PUBLISHED)
    bot.bluesky.set_counts(rkey, likeCount=9, repostCount=4)

    fire(bot, clock)

    shown = the_digest(bot)
    assert "♥ 9 · ↻ 4 · 💬 0 · ❝ 0" in shown and "engagement unavailable" not in shown
    [asked] = bot.bluesky.calls("/xrpc/app.bsky.feed.getPosts")
    assert parse_qs(asked.query)["uris"] == [f"at://{bot.bluesky.did}/app.bsky.feed.post/{rkey}"]


def test_a_bluesky_post_kept_by_its_handle_is_asked_for_by_the_accounts_did(bluesky) -> None:
    from bot.bluesky import BlueskyPublisher
    from bot.config import Secret
    from tests.fakes.bluesky_pds import APP_PASSWORD, HANDLE

    publisher = BlueskyPublisher(HANDLE, Secret("BLUESKY_APP_PASSWORD", APP_PASSWORD), service=bluesky.url)
    rkey = publisher.publish("Marked by an older copydesk").post_id.split()[0].rsplit("/", 1)[1]
    bluesky.set_counts(rkey, likeCount=3)
    kept = f"at://{HANDLE}/app.bsky.feed.post/{rkey}"  # what a link was once stored as: the AppView does not find it

    assert dict(publisher.engagement([kept])) == {kept: Counts(likes=3, reposts=0, replies=0, quotes=0)}


def test_bluesky_is_read_25_posts_a_call(bluesky) -> None:
    from bot.bluesky import BlueskyPublisher
    from bot.config import Secret
    from tests.fakes.bluesky_pds import APP_PASSWORD, HANDLE

    publisher = BlueskyPublisher(HANDLE, Secret("BLUESKY_APP_PASSWORD", APP_PASSWORD), service=bluesky.url)
    posted = [publisher.publish(f"Post {n}") for n in range(3)]
    rkey = posted[0].post_id.split()[0].rsplit("/", 1)[1]
    bluesky.set_counts(rkey, likeCount=8)
    unknown = [f"at://{bluesky.did}/app.bsky.feed.post/3k{n:011d}" for n in range(30)]

    found = dict(publisher.engagement([p.post_id for p in posted] + unknown))

    assert found[posted[0].post_id] == Counts(likes=8, reposts=0, replies=0, quotes=0)
    assert set(found) == {p.post_id for p in posted}
    assert [len(c.query.split("uris=")) - 1 for c in bluesky.calls("/xrpc/app.bsky.feed.getPosts")] == [25, 8]


# the deadline, and the words


def test_within_gives_what_came_in_time_and_why_the_rest_did_not() -> None:
    def refused() -> Iterator[int]:
        yield 1
        raise PublishError("X refused it", delivery=Delivery.REFUSED)

    def broken() -> list[int]:
        raise RuntimeError("https://user:secret@example.com")

    held = threading.Event()  # each of the slow read's items waits for it: it is set once the test has its result
    asked: list[int] = []

    def slow() -> Iterator[int]:
        for n in (1, 2, 3):
            asked.append(n)
            held.wait(30)
            yield n

    started = time.monotonic()
    try:
        answers, failures = within({"fast": lambda: [1, 2], "refused": refused, "broken": broken, "slow": slow}, 2)
        assert time.monotonic() - started < 4
    finally:
        held.set()
    assert answers == {"fast": [1, 2], "refused": [1]}  # what a read gave before it failed stands
    assert failures == {"refused": "X refused it", "broken": "an unexpected RuntimeError", "slow": "no answer within 2s"}
    eventually(lambda: not any(t.name == "engagement slow" for t in threading.enumerate()), what="the slow read to stop")
    assert asked == [1]  # past the deadline, nothing more is asked of it


def report(**fields: Any) -> Report:
    start = tomorrow(18) - timedelta(days=1)
    return Report(
        **{"scope": "*", "day": None, "start": start, "end": tomorrow(18), "zone": LA, "handles": ("aplusk",), **fields}
    )


def test_engagement_unavailable_names_the_network_only_when_others_answered() -> None:
    line = Line(
        1, "main", "aplusk", "Hello", AUTHOR, tomorrow(9), networks=("x", "bluesky"), counts=(("x", Counts(1, 0, 0, 0, 5)),)
    )
    both = (("aplusk", "x"), ("aplusk", "bluesky"))
    assert "engagement unavailable on Bluesky" in digest_render.plain(
        report(published=(line,), read=both, unavailable=(("aplusk", "bluesky"),))
    )
    every = digest_render.plain(report(published=(line,), read=both, unavailable=both))
    assert "engagement unavailable\n" in every and "unavailable on" not in every
    assert "unavailable" not in digest_render.plain(report(published=(line,), read=(("aplusk", "x"),)))


def test_engagement_unavailable_names_the_account_in_a_digest_of_several() -> None:
    line = Line(1, "main", "aplusk", "Hello", AUTHOR, tomorrow(9), counts=(("x", Counts(1, 0, 0, 0, 5)),))
    asked = (("aplusk", "x"), ("aplusk_news", "x"), ("aplusk_news", "bluesky"), ("aplusk_eu", "mastodon"))
    several = report(published=(line,), read=asked, handles=("aplusk", "aplusk_news", "aplusk_eu"))
    shown = digest_render.plain(replace(several, unavailable=asked[1:]))
    assert "engagement unavailable for @aplusk_news on X and Bluesky; for @aplusk_eu on Mastodon\n" in shown
    everything = digest_render.plain(replace(several, unavailable=asked))
    assert "engagement unavailable\n" in everything and "unavailable for" not in everything


def test_one_accounts_read_failing_names_that_account_and_the_others_counts_still_show(
    slack, x: FakeX, tmp_path: Path, environ: dict[str, str]
) -> None:
    path = tmp_path / "app.yaml"
    data = json.loads(json.dumps(BASE_CONFIG))
    data["accounts"]["news"] = {**data["accounts"]["main"], "handle": "aplusk_news"}  # both on X, in the top-level digest
    data["default_account"] = "main"
    path.write_text(yaml.safe_dump(data))
    clock = clock_at(tomorrow(10))
    bot = Copydesk(load_config(path, environ), slack, x, clock=clock).start()
    try:
        bot.command(AUTHOR, "to:main Launch day")
        approve(bot, 1)
        bot.command(AUTHOR, "to:news In the news")
        approve(bot, 2)
        for number, likes in ((1, 7), (2, 9)):
            bot.wait_for_state(number, State.PUBLISHED)
            x.set_metrics(post_id(bot, number, "x"), like_count=likes)
        x.fail_lookup(503)  # one read per account: whichever asks first fails, the other answers

        fire(bot, clock)

        assert len(x.lookups()) == 2
        [answered] = {
            e.draft_id for n in (1, 2) for e in bot.ledger.engagement_of(p.id for p in bot.ledger.publications(n)).values()
        }
        failed, likes = ("aplusk_news", 7) if answered == 1 else ("aplusk", 9)
        shown = the_digest(bot)
        assert f"engagement unavailable for @{failed} on X" in shown
        assert f"♥ {likes} · ↻ 0" in shown
    finally:
        bot.stop()
    assert bot.audited() == []


# settings


def load(tmp_path: Path, top: dict[str, Any] | None, account: dict[str, Any] | None = None):
    data = json.loads(json.dumps(BASE_CONFIG))
    data["digest"] = {**data["digest"], **(top or {})}
    if account is not None:
        data["accounts"]["main"]["digest"] = account
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path, {"SLACK_BOT_TOKEN": "xoxb-x", **X_ENV})


def test_metrics_default_on_with_five_seconds_and_an_account_inherits_them(tmp_path: Path) -> None:
    config = load(tmp_path, None)
    assert config.digest is not None
    assert (config.digest.metrics, config.digest.metrics_timeout_seconds) == (True, 5.0)
    inherited = load(tmp_path, {"metrics": False, "metrics_timeout_seconds": 2}, {"at": "09:00"})
    main_digest = inherited.accounts["main"].digest
    assert main_digest is not None and (main_digest.metrics, main_digest.metrics_timeout_seconds) == (False, 2.0)
    own = load(tmp_path, {"metrics": False}, {"metrics": True}).accounts["main"].digest
    assert own is not None and own.metrics is True


@pytest.mark.parametrize(
    ("top", "account", "message"),
    [
        ({"metrics": "yes"}, None, "digest.metrics must be true or false, not 'yes'"),
        ({"metrics_timeout_seconds": 0}, None, "digest.metrics_timeout_seconds must be a positive number, not 0"),
        ({"metrics_timeout_seconds": "5s"}, None, "digest.metrics_timeout_seconds must be a positive number, not '5s'"),
        ({"metrics_timeout_seconds": 120}, None, "digest.metrics_timeout_seconds must be at most 60"),
        (None, {"metrics": 1}, "accounts.main.digest.metrics must be true or false"),
        (None, {"metric": True}, "unknown key 'accounts.main.digest.metric'"),
    ],
)
def test_a_bad_metrics_setting_is_named(tmp_path: Path, top, account, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load(tmp_path, top, account)


def test_the_setting_says_reads_of_x_are_billed() -> None:
    from bot.config import SETTINGS

    [setting] = [s for s in SETTINGS if s.path == "digest.metrics"]
    assert "billed under X's pay-per-use pricing" in setting.help and setting.default is True


def test_a_post_deleted_on_the_only_network_it_reached_keeps_no_link_to_it(make_everywhere) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_everywhere(clock=clock)
    bot.mastodon.answer_next(422, {"error": "Validation failed"})  # Mastodon refuses it: it is out on X alone
    bot.command(AUTHOR, "on:x,mastodon Out on X alone")
    approve(bot, 1)
    bot.wait_for_state(1, State.FAILED)
    on_x = post_id(bot, 1, "x")
    bot.x.posts[[p["id"] for p in bot.x.posts].index(on_x)]["deleted"] = True  # then deleted in X's app

    fire(bot, clock)

    [digest] = bot.slack.posts(DIGEST)
    assert "deleted on X since" in blocks_text(digest)
    assert f"status/{on_x}" not in json.dumps(digest["blocks"])  # no link to a page that is gone, under any name
