"""One approval, every network the account lives on: X, Bluesky and Mastodon, each by its own rules and independently."""

from __future__ import annotations

from collections.abc import Callable

from bot.review import State
from tests.fakes.slack_api import blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, Copydesk, eventually
from tests.support.media import JPEG, PNG
from tests.support.networks import Everywhere

FAST_RETRY = {"x_retry": {"first_delay_seconds": 0.05}}
THREAD = "One: the news\n---\nTwo: the details\n---\nThree: the link https://example.com/more"


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def posts_on(bot: Everywhere) -> dict[str, list[str]]:
    """What each service has, as its own record says."""
    return {"x": bot.x.texts(), "bluesky": bot.bluesky.texts(), "mastodon": bot.mastodon.texts()}


def test_one_approval_puts_the_post_on_all_three_networks_with_every_link_in_slack(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere()
    bot.command(AUTHOR, "We are live everywhere 🚀 https://example.com/launch")
    approve(bot, 1)

    draft = bot.wait_for_state(1, State.PUBLISHED)

    text = "We are live everywhere 🚀 https://example.com/launch"
    assert posts_on(bot) == {"x": [text], "bluesky": [text], "mastodon": [text]}
    live = bot.ledger.live_posts(draft.id)
    assert sorted(live) == ["bluesky", "mastodon", "x"]
    links = {network: parts[1].url for network, parts in live.items()}
    assert links["x"] == f"https://x.com/aplusk/status/{bot.x.posts[0]['id']}"
    assert links["bluesky"].startswith("https://bsky.app/profile/aplusk.bsky.social/post/")
    assert links["mastodon"] == f"{bot.mastodon.url}/@aplusk/{bot.mastodon.statuses[0]['id']}"
    [record] = bot.bluesky.created
    assert record["value"]["facets"][0]["features"][0]["uri"] == "https://example.com/launch"  # a clickable link
    published = bot.ledger.events(1)[-1]
    assert (published.action, published.detail["links"]) == ("published", links)
    bot.slack_told()
    card = blocks_text(bot.slack.updates()[-1])
    assert all(link in card for link in links.values()), card
    thread = " ".join(p["text"] for p in bot.slack.posts(REVIEW) if p.get("thread_ts"))
    assert all(link in thread for link in links.values()), thread


def test_a_three_part_thread_goes_out_in_order_on_each_network_with_its_reply_refs(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere()
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    parts = ["One: the news", "Two: the details", "Three: the link https://example.com/more"]
    x_replies = bot.x.replies()
    assert [t for t, _ in x_replies] == parts
    assert [r for _, r in x_replies] == [None, bot.x.posts[0]["id"], bot.x.posts[1]["id"]]
    masto = bot.mastodon.replies()
    assert [t for t, _ in masto] == parts
    assert [r for _, r in masto] == [None, bot.mastodon.statuses[0]["id"], bot.mastodon.statuses[1]["id"]]
    first, second, third = bot.bluesky.created
    assert [r["value"]["text"] for r in (first, second, third)] == parts
    assert "reply" not in first["value"] or first["value"]["reply"] is None
    assert second["value"]["reply"]["root"]["uri"] == first["uri"] == second["value"]["reply"]["parent"]["uri"]
    assert third["value"]["reply"]["root"]["uri"] == first["uri"]
    assert third["value"]["reply"]["parent"]["uri"] == second["uri"]


def test_images_go_out_with_their_alt_text_on_each_network(make_everywhere: Callable[..., Everywhere]) -> None:
    from bot.images import Image

    bot = make_everywhere()
    pictures = [Image.of("chart.png", PNG, alt="A rising chart"), Image.of("team.jpg", JPEG, alt="The team, smiling")]
    bot.desk.drafting.submit(author_id=AUTHOR, text="Look at this", account=None, at=None, origin_channel=None, images=pictures)
    bot.slack_told()
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    [tweet] = bot.x.calls("/2/tweets")
    assert len(tweet.body["media"]["media_ids"]) == 2
    [record] = bot.bluesky.created
    assert [i["alt"] for i in record["value"]["embed"]["images"]] == ["A rising chart", "The team, smiling"]
    [status] = bot.mastodon.statuses
    assert [bot.mastodon.media[m]["description"] for m in status["media_ids"]] == ["A rising chart", "The team, smiling"]


def test_a_draft_too_long_for_bluesky_alone_is_refused_naming_bluesky_and_by_how_much(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere()
    text = "a" * 250 + " https://example.com/" + "b" * 60  # X counts the link as 23 (274); Bluesky counts it in full

    said = bot.private_answer(bot.command(AUTHOR, text))
    assert "as Bluesky counts them" in said and "too many for Bluesky" in said, said
    assert "331/300" in said, said
    assert bot.ledger.drafts_in(list(State)) == []


def test_on_bluesky_sends_the_draft_to_bluesky_alone(make_everywhere: Callable[..., Everywhere]) -> None:
    bot = make_everywhere()
    bot.command(AUTHOR, "on:bluesky Just for the sky")
    assert bot.draft(1).networks == ("bluesky",)
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    assert posts_on(bot) == {"x": [], "bluesky": ["Just for the sky"], "mastodon": []}


def test_a_429_on_mastodon_waits_for_its_reset_while_x_and_bluesky_go_out(make_everywhere: Callable[..., Everywhere]) -> None:
    bot = make_everywhere()
    bot.mastodon.rate_limit_next(reset_in=1.0)
    bot.command(AUTHOR, "Rate limits are per network")
    approve(bot, 1)

    eventually(lambda: bot.draft(1).state is State.APPROVED and bot.draft(1).retry_at is not None, what="the retry")
    waiting = bot.draft(1)
    assert posts_on(bot) == {"x": ["Rate limits are per network"], "bluesky": ["Rate limits are per network"], "mastodon": []}
    legs = bot.ledger.legs(1)
    assert {n: leg.stage.value for n, leg in legs.items()} == {"x": "out", "bluesky": "out", "mastodon": "retrying"}
    assert legs["mastodon"].retry_at == waiting.retry_at

    bot.wait_for_state(1, State.PUBLISHED)

    assert posts_on(bot)["mastodon"] == ["Rate limits are per network"]
    assert len(bot.x.arrived("/2/tweets")) == 1  # the retry sent Mastodon alone
    assert len(bot.bluesky.creates()) == 1


def test_a_lost_answer_on_each_network_is_found_and_posted_once(make_everywhere: Callable[..., Everywhere]) -> None:
    bot = make_everywhere(top_level={"x_timeout_seconds": 2, **FAST_RETRY})
    bot.x.lose_next_answer(delay=10)
    bot.bluesky.lose_next_answer()
    bot.mastodon.fail_after_posting(503)
    bot.command(AUTHOR, "Did it land everywhere?")
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    assert posts_on(bot) == {
        "x": ["Did it land everywhere?"],
        "bluesky": ["Did it land everywhere?"],
        "mastodon": ["Did it land everywhere?"],
    }
    found = [e.detail for e in bot.ledger.events(1) if e.action == "network_out"]
    assert [d["network"] for d in found] == ["x", "bluesky", "mastodon"]
    assert all(d.get("found_on_account") for d in found[:2])


def test_retract_deletes_the_post_from_every_network_it_reached(make_everywhere: Callable[..., Everywhere]) -> None:
    bot = make_everywhere()
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)

    bot.command(AUTHOR, "retract #1")

    bot.wait_for_state(1, State.RETRACTED)
    assert all(p.get("deleted") for p in bot.x.posts)
    assert bot.bluesky.records == {}
    assert sorted(bot.mastodon.deleted) == sorted(s["id"] for s in bot.mastodon.statuses)
    assert bot.ledger.live_posts(1) == {}


def test_a_failure_on_one_network_leaves_the_others_out_and_says_where_it_is(make_everywhere: Callable[..., Everywhere]) -> None:
    bot = make_everywhere()
    bot.bluesky.answer_next("com.atproto.repo.createRecord", 400, {"error": "InvalidRequest", "message": "Record is invalid"})
    bot.command(AUTHOR, "Partly out")
    approve(bot, 1)

    draft = bot.wait_for_state(1, State.FAILED)

    assert posts_on(bot) == {"x": ["Partly out"], "bluesky": [], "mastodon": ["Partly out"]}
    failed = bot.ledger.events(1)[-1]
    assert failed.detail["networks"] == {"x": "out", "bluesky": "failed", "mastodon": "out"}
    assert failed.detail["error"].startswith("Out on X and Mastodon; not on Bluesky. Bluesky: ")

    bot.command(EDITOR_1, f"retry #{draft.id}")  # Publish now: only the network not out

    bot.wait_for_state(1, State.PUBLISHED)
    assert posts_on(bot) == {"x": ["Partly out"], "bluesky": ["Partly out"], "mastodon": ["Partly out"]}
    assert len(bot.x.arrived("/2/tweets")) == 1 and len(bot.mastodon.calls("/api/v1/statuses")) == 1


def test_the_pause_stops_the_networks_not_yet_sent_and_publish_now_sends_only_those(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere()
    gate = bot.bluesky.hold("/xrpc/com.atproto.repo.createRecord")
    bot.command(AUTHOR, "Paused half-way")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1, settle=False)  # its news waits while a post is on its way
    bot.bluesky.wait_for_held("/xrpc/com.atproto.repo.createRecord")  # X is out; Bluesky's answer is on its way

    bot.command("U0ADMIN01", "pause a crisis", settle=False)  # Slack's news waits while a post is on its way
    eventually(lambda: bot.ledger.current_pause() is not None, what="the pause")
    gate.set()

    eventually(lambda: bot.draft(1).state is State.APPROVED, what="the run stopping at the pause")
    assert posts_on(bot) == {"x": ["Paused half-way"], "bluesky": ["Paused half-way"], "mastodon": []}
    assert {n: leg.stage.value for n, leg in bot.ledger.legs(1).items()} == {"x": "out", "bluesky": "out", "mastodon": "pending"}
    assert bot.ledger.events(1)[-1].action == "networks_paused"

    bot.command("U0ADMIN01", "resume")
    assert bot.draft(1).state is State.HELD  # its time passed while paused: an editor confirms
    bot.command(EDITOR_1, "retry #1")

    bot.wait_for_state(1, State.PUBLISHED)
    assert posts_on(bot) == {"x": ["Paused half-way"], "bluesky": ["Paused half-way"], "mastodon": ["Paused half-way"]}
    assert len(bot.x.arrived("/2/tweets")) == 1 and len(bot.bluesky.creates()) == 1


def test_mastodons_length_is_the_instances_own_read_at_start(make_everywhere: Callable[..., Everywhere], mastodon) -> None:
    mastodon.max_characters, mastodon.characters_reserved_per_url = 100, 30
    bot = make_everywhere()
    text = "m" * 80 + " https://example.com/x"  # 80 + 1 + a link at 30: 111 on this instance (X: 104, Bluesky: 103)

    said = bot.private_answer(bot.command(AUTHOR, text))
    assert "111/100 characters as Mastodon counts them (links count 30" in said and "11 too many for Mastodon" in said, said
    assert bot.ledger.drafts_in(list(State)) == []
    bot.command(AUTHOR, "on:x,bluesky " + text)  # without Mastodon it fits
    assert bot.draft(1).networks == ("x", "bluesky")


def test_an_image_too_big_for_bluesky_is_refused_before_review_naming_bluesky(make_everywhere: Callable[..., Everywhere]) -> None:
    import pytest

    from bot.errors import BadImage
    from bot.images import Image

    bot = make_everywhere()
    big = Image.of("poster.png", PNG[:8] + bytes(1_200_000), alt="A poster")

    with pytest.raises(BadImage, match=r"poster.png is 1,200,008 bytes; Bluesky takes images up to 1,000,000 bytes"):
        bot.desk.drafting.submit(author_id=AUTHOR, text="Big", account=None, at=None, origin_channel=None, images=[big])
    assert bot.ledger.drafts_in(list(State)) == []


def test_a_network_in_doubt_is_held_alone_and_marked_published_with_its_link(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere()
    bot.bluesky.lose_next_answer()  # the record is written, the answer lost
    bot.bluesky.answer_next("com.atproto.repo.getRecord", 502, {"error": "UpstreamFailure", "message": "down"})
    bot.command(AUTHOR, "In doubt on Bluesky")
    approve(bot, 1)

    held = bot.wait_for_state(1, State.HELD)

    assert posts_on(bot) == {
        "x": ["In doubt on Bluesky"],
        "bluesky": ["In doubt on Bluesky"],
        "mastodon": ["In doubt on Bluesky"],
    }
    assert held.may_be_live and held.notice and held.notice.startswith("Out on X and Mastodon; not on Bluesky. Bluesky: ")
    [rkey] = bot.bluesky.records
    link = f"https://bsky.app/profile/aplusk.bsky.social/post/{rkey}"

    bot.command(EDITOR_1, f"mark-published #1 {link}")

    done = bot.wait_for_state(1, State.PUBLISHED)
    assert not done.may_be_live
    assert bot.ledger.live_posts(1)["bluesky"][1].url == link
    assert len(bot.bluesky.creates()) == 1  # nothing was sent again


def test_an_account_on_bluesky_alone_publishes_there_and_its_card_names_bluesky(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    bot = make_everywhere(only=("bluesky",))
    bot.command(AUTHOR, "Only in the sky")
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    assert posts_on(bot) == {"x": [], "bluesky": ["Only in the sky"], "mastodon": []}
    bot.slack_told()
    card = blocks_text(bot.slack.updates()[-1])
    link = bot.ledger.live_posts(1)["bluesky"][1].url
    assert link in card and "on Bluesky" in card and "on X" not in card, card
    assert "as Bluesky counts them" in card or "/300" in card, card
