"""Slack shows it all (issue 14): for an account on X, Bluesky and Mastodon, the card, its thread, the author's DM, the
App Home and the digest name each network's link or problem; the form has a checkbox per network."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.review import State
from handlers import render
from tests.fakes.bluesky_pds import FakeBluesky
from tests.fakes.mastodon_api import FakeMastodon
from tests.fakes.slack_api import action_ids, blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, Copydesk, eventually
from tests.support.networks import NETWORK_ENV, Everywhere, networks_block

TEXT = "We are live https://example.com/launch/today"  # 12 characters and a link of 32: X and Mastodon count it 23
DIGEST = "C0DIGEST01"


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def links_of(bot: Copydesk, number: int) -> dict[str, str]:
    """Each network's link to the post, as the ledger has it."""
    return {network: parts[1].url or "" for network, parts in bot.ledger.live_posts(number).items()}


def thread_of(bot: Copydesk, number: int) -> list[str]:
    draft = bot.draft(number)
    assert draft.card_ts
    return [m["text"] for m in bot.slack.thread(REVIEW, draft.card_ts)]


def out_lines(links: dict[str, str]) -> list[str]:
    names = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}
    return [f":white_check_mark: {names[n]}: {links[n]}" for n in ("x", "bluesky", "mastodon") if n in links]


def errors(response: Any) -> dict[str, str]:
    answer = json.loads(response.body)
    assert answer["response_action"] == "errors", answer
    return answer["errors"]


# the card


def test_the_card_of_a_draft_for_three_networks_shows_its_length_on_each_as_that_network_counts_it(
    everywhere: Everywhere,
) -> None:
    everywhere.command(AUTHOR, TEXT)

    [card] = everywhere.slack.posts(REVIEW)
    assert "X 35/280 · Bluesky 44/300 · Mastodon 35/500 characters as each network counts them" in blocks_text(card)
    assert "as X counts them" not in blocks_text(card)


def test_a_network_whose_limit_fell_below_the_draft_is_flagged_on_the_card(
    make_everywhere: Callable[..., Everywhere],
) -> None:
    first = make_everywhere()
    first.command(AUTHOR, "a" * 100)
    first.stop()
    first.mastodon.max_characters = 80  # the instance lowered its limit; copydesk reads it again at start

    bot = make_everywhere()
    bot.react(EDITOR_1, "white_check_mark", 1)  # the card is drawn again

    assert "X 100/280 · Bluesky 100/300 · Mastodon 100/80 :warning: 20 over" in blocks_text(bot.slack.updates()[-1])


# once it goes out


def test_after_one_approval_the_card_its_thread_and_the_authors_dm_link_each_network(everywhere: Everywhere) -> None:
    bot = everywhere
    bot.command(AUTHOR, TEXT)
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)
    bot.slack_told()

    links = links_of(bot, 1)
    assert sorted(links) == ["bluesky", "mastodon", "x"]
    card = blocks_text(bot.slack.updates()[-1])
    assert f":rocket: Published on <{links['x']}|X>, <{links['bluesky']}|Bluesky> and <{links['mastodon']}|Mastodon>" in card
    assert "\n".join(out_lines(links)) in card
    assert thread_of(bot, 1)[-1] == "\n".join(["Published on X, Bluesky and Mastodon:", *out_lines(links)])
    assert bot.slack.dms(AUTHOR)[-1]["text"] == "\n".join(
        ["Your draft #1 for @aplusk is live on X, Bluesky and Mastodon:", *out_lines(links)]
    )


def test_a_429_on_mastodon_shows_on_the_card_beside_the_links_of_x_and_bluesky(everywhere: Everywhere) -> None:
    bot = everywhere
    bot.mastodon.rate_limit_next(reset_in=600)  # long enough to look at the card while it waits
    bot.command(AUTHOR, TEXT)
    approve(bot, 1)

    eventually(lambda: bot.draft(1).state is State.APPROVED and bot.draft(1).retry_at is not None, what="the retry")
    bot.slack_told()

    links = links_of(bot, 1)
    assert sorted(links) == ["bluesky", "x"]
    retry = render.when(bot.ledger.legs(1)["mastodon"].retry_at)
    waiting = f":repeat: Mastodon: retrying {retry} — Mastodon is rate limiting @aplusk@mastodon.example"
    card = bot.slack.updates()[-1]
    assert "\n".join([*out_lines(links), waiting]) in blocks_text(card)
    assert "out on X and Bluesky; not on Mastodon; trying again" in blocks_text(card)
    assert action_ids(card) == {render.APPROVE, render.REJECT, render.RETRACT}  # out somewhere: nothing to edit or withdraw
    assert thread_of(bot, 1)[-1] == "\n".join(
        [
            f"Not out everywhere yet: out on X and Bluesky; not on Mastodon. Trying again {render.when(bot.draft(1).retry_at)}.",
            *out_lines(links),
            waiting,
        ]
    )


def test_a_failure_on_bluesky_is_named_on_the_card_in_the_thread_and_in_the_dm_and_retract_names_where_it_was(
    everywhere: Everywhere,
) -> None:
    bot = everywhere
    bot.bluesky.answer_next("com.atproto.repo.createRecord", 400, {"error": "InvalidRequest", "message": "Record is invalid"})
    bot.command(AUTHOR, TEXT)
    approve(bot, 1)

    bot.wait_for_state(1, State.FAILED)
    bot.slack_told()

    links = links_of(bot, 1)
    error = bot.ledger.legs(1)["bluesky"].error
    assert error and "Record is invalid" in error
    lines = [out_lines(links)[0], f":warning: Bluesky: failed — {error}", out_lines(links)[1]]
    card = bot.slack.updates()[-1]
    assert ":warning: Publishing failed: out on X and Mastodon; not on Bluesky" in blocks_text(card)
    assert "\n".join(lines) in blocks_text(card)
    publish_now = next(
        e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"] if e["text"]["text"] == "Publish now"
    )
    assert publish_now["confirm"]["text"]["text"].startswith("Send this post to Bluesky now?")
    assert thread_of(bot, 1)[-1] == "\n".join(["Publishing failed: out on X and Mastodon; not on Bluesky.", *lines])
    assert bot.slack.dms(AUTHOR)[-1]["text"] == "\n".join(
        ["Your draft #1 for @aplusk could not be published everywhere: out on X and Mastodon; not on Bluesky.", *lines]
    )

    bot.command(EDITOR_1, "retract #1")

    bot.wait_for_state(1, State.RETRACTED)
    bot.slack_told()
    assert thread_of(bot, 1)[-1] == f"Retracted by <@{EDITOR_1}>: the post was deleted from X and Mastodon."
    assert bot.slack.dms(AUTHOR)[-1]["text"] == (
        f"Your draft #1 for @aplusk was retracted by <@{EDITOR_1}>: deleted from X and Mastodon."
    )


# the App Home and the digest


def test_the_app_home_lists_a_post_out_on_three_networks_once_with_a_link_for_each(everywhere: Everywhere) -> None:
    bot = everywhere
    bot.command(AUTHOR, TEXT)
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    links = links_of(bot, 1)

    bot.open_home(EDITOR_1)

    home = bot.slack.views("views.publish")[-1]["blocks"]
    at = next(i for i, b in enumerate(home) if b.get("text", {}).get("text") == "*Went out lately*")
    [entry] = [b for b in home[at + 1 :] if b["type"] == "section" and "#1" in b["text"]["text"]]
    linked = f"<{links['x']}|X>, <{links['bluesky']}|Bluesky> and <{links['mastodon']}|Mastodon>"
    assert f"— :rocket: Published on {linked}" in entry["text"]["text"]


def test_the_digest_has_one_line_for_a_post_on_three_networks_with_a_link_for_each(everywhere: Everywhere) -> None:
    bot = everywhere
    bot.command(AUTHOR, TEXT)
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    links = links_of(bot, 1)
    assert len([p for p in bot.ledger.publications(1) if p.outcome == "published"]) == 3  # a row per network

    bot.desk.digests.post_digests_now()

    [message] = bot.slack.posts(DIGEST)
    shown = blocks_text(message)
    assert ":rocket: Went out (1)" in shown and shown.count("#1 @aplusk") == 1
    assert f"#1 @aplusk · on <{links['x']}|X>, <{links['bluesky']}|Bluesky> and <{links['mastodon']}|Mastodon>" in shown
    assert f"#1 @aplusk  X: {links['x']}  Bluesky: {links['bluesky']}  Mastodon: {links['mastodon']}" in message["text"]
    assert message["text"].count("#1 @aplusk") == 1


# the form


def test_the_form_offers_a_checkbox_per_network_all_checked_and_stores_the_ones_left_checked(everywhere: Everywhere) -> None:
    bot = everywhere
    bot.command(AUTHOR, "")

    [form] = bot.slack.views()
    assert [b["block_id"] for b in form["blocks"]] == ["text", "images", "alt", "networks", "when"]
    boxes = form["blocks"][3]["element"]
    assert boxes["type"] == "checkboxes"
    assert [(o["value"], o["text"]["text"]) for o in boxes["options"]] == [
        ("x", "X"),
        ("bluesky", "Bluesky"),
        ("mastodon", "Mastodon"),
    ]
    assert boxes["initial_options"] == boxes["options"]
    assert "Bluesky 300 (links in full)" in form["blocks"][0]["hint"]["text"]

    done = bot.submit_form(AUTHOR, "Only for the sky", networks=["bluesky"])

    assert done.status == 200 and not done.body
    assert bot.draft(1).networks == ("bluesky",)


def test_a_form_with_no_network_checked_is_refused_under_the_checkboxes_and_one_with_all_goes_everywhere(
    everywhere: Everywhere,
) -> None:
    everywhere.command(AUTHOR, "")

    refused = errors(everywhere.submit_form(AUTHOR, "Nowhere to go", networks=[]))

    assert refused == {"networks": "Check at least one network for the post to go to."}
    assert everywhere.ledger.drafts_in(list(State)) == [] and everywhere.slack.posts(REVIEW) == []

    everywhere.submit_form(AUTHOR, "Everywhere, as the form opened")
    assert everywhere.draft(1).networks == ()  # every network checked: the draft follows the account


def test_with_several_accounts_the_form_offers_every_network_and_refuses_one_the_chosen_account_is_not_on(
    make_bot: Callable[..., Copydesk], bluesky: FakeBluesky, mastodon: FakeMastodon
) -> None:
    accounts = {
        "main": {"review_channel": REVIEW, "editors": [EDITOR_1], "networks": networks_block(bluesky, mastodon)},
        "news": {"handle": "aplusk_news", "review_channel": REVIEW, "editors": [EDITOR_1]},
    }
    bot = make_bot(top={"accounts": accounts}, env=NETWORK_ENV)
    bot.command(AUTHOR, "")
    [form] = bot.slack.views()
    boxes = next(b for b in form["blocks"] if b["block_id"] == "networks")
    assert [o["value"] for o in boxes["element"]["options"]] == ["x", "bluesky", "mastodon"]

    refused = errors(bot.submit_form(AUTHOR, "Breaking", account="news", networks=["bluesky"]))

    assert refused == {"networks": "news is not on Bluesky; it posts to X (on:x)."}
    assert bot.ledger.drafts_in(list(State)) == []

    bot.submit_form(AUTHOR, "Breaking", account="news")  # every box checked: news posts where it posts
    assert (bot.draft(1).account, bot.draft(1).networks) == ("news", ())
