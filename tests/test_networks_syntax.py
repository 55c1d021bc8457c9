"""/draft on:NETWORK for an account on several networks: parsed, checked against the account, stored with the draft;
retract and mark-published take an on: too, and say where they acted."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.errors import BadDraft
from bot.review import State
from bot.syntax import Compose, Edit, Named, parse
from tests.fakes.bluesky_pds import FakeBluesky
from tests.fakes.mastodon_api import FakeMastodon
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, Copydesk
from tests.support.networks import Everywhere

# the syntax


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("on:bluesky Hello", Compose("Hello", on=("bluesky",))),
        (
            "to:everywhere on:x,bluesky at:+1h Hello",
            Compose("Hello", account="everywhere", at="+1h", on=("x", "bluesky")),
        ),
        ("at:+1h on:mastodon to:main Hello", Compose("Hello", account="main", at="+1h", on=("mastodon",))),
        ("on:X,Bluesky Hello", Compose("Hello", on=("x", "bluesky"))),  # a network's name as people write it
        ("on:x,x,bluesky Hello", Compose("Hello", on=("x", "bluesky"))),
        ("on:bluesky,x Hello", Compose("Hello", on=("bluesky", "x"))),  # the desk keeps the account's order
        ("Hello on:x", Compose("Hello on:x")),  # only before the text
        ("On: the road again", Compose("On: the road again")),  # lower case only
        ("retract #5", Named("retract", 5)),
        ("retract #5 on:bluesky", Named("retract", 5, "", ("bluesky",))),
        ("retract 5 on:x,mastodon", Named("retract", 5, "", ("x", "mastodon"))),
        ("retract 2 claims we made", Compose("retract 2 claims we made")),
        ("mark-published #6", Named("mark-published", 6)),
        ("mark-published #6 on:bluesky", Named("mark-published", 6, "", ("bluesky",))),
        (
            "mark-published #6 https://bsky.app/profile/a.bsky.social/post/3l on:bluesky",
            Named("mark-published", 6, "https://bsky.app/profile/a.bsky.social/post/3l", ("bluesky",)),
        ),
        (
            "mark-published #6 on:mastodon https://mastodon.social/@a/1",
            Named("mark-published", 6, "https://mastodon.social/@a/1", ("mastodon",)),
        ),
        ("retry #7", Named("retry", 7)),
        ("edit #12 at:+1h Better words", Edit(12, "Better words", "+1h")),
    ],
)
def test_on_is_an_option_like_to_and_at(typed: str, expected: object) -> None:
    assert parse(typed) == expected


KNOWN = "x, bluesky or mastodon"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("on: Hello", f"on: needs the networks, separated by commas: {KNOWN}"),
        ("on:x, Hello", f"on: needs the networks, separated by commas: {KNOWN}"),
        ("on:myspace Hello", f"on: names 'myspace', which is not a network copydesk posts to; use {KNOWN}"),
        ("on:x,Threads Hello", f"on: names 'Threads', which is not a network copydesk posts to; use {KNOWN}"),
        ("on:x on:bluesky Hello", "on: is given twice"),
        ("retract #5 on:", f"on: needs the networks, separated by commas: {KNOWN}"),
        ("retract #5 on:myspace", f"on: names 'myspace', which is not a network copydesk posts to; use {KNOWN}"),
        ("retract #5 on:x on:bluesky", "on: is given twice"),
        ("retract #5 https://x.com/a/status/1", "/draft retract takes a draft number and, to delete it from some"),
        ("mark-published #6 on:x,bluesky", "records one network at a time: /draft mark-published #6 on:x"),
        ("cancel #4 on:x", "/draft cancel takes only a draft number"),
        ("retry #4 on:x", "/draft retry takes only a draft number"),
        ("edit #4 on:x New words", "An edit cannot change the networks a draft goes to"),
    ],
)
def test_a_malformed_on_is_refused_naming_the_networks(typed: str, message: str) -> None:
    with pytest.raises(BadDraft) as raised:
        parse(typed)
    assert message in str(raised.value)


# through the real app: an account on X and Bluesky (Mastodon's instance is asked for its length rule at start)


@pytest.fixture
def masto(mastodon: FakeMastodon) -> FakeMastodon:
    return mastodon


@pytest.fixture
def on_networks(make_everywhere: Callable[..., Everywhere]) -> Callable[..., Everywhere]:
    """Start copydesk with its main account on the named networks (the loopback fakes' base URLs in app.yaml)."""
    return lambda *names: make_everywhere(only=names)


def ledger_now(bot: Copydesk) -> tuple[list, list, int]:
    """Everything a refused request must leave as it was: the drafts, the event log and what Slack was sent."""
    return bot.ledger.drafts_in(list(State)), bot.ledger.events(), len(bot.slack.posts())


def test_on_bluesky_stores_the_draft_for_bluesky_alone(on_networks, bluesky: FakeBluesky) -> None:
    bot = on_networks("x", "bluesky", "mastodon")

    answer = bot.private_answer(bot.command(AUTHOR, "to:main on:bluesky at:+1h Hello, Bluesky"))

    assert "#1" in answer
    draft = bot.draft(1)
    assert (draft.text, draft.networks) == ("Hello, Bluesky", ("bluesky",))
    assert bot.desk.core.networks_of(draft) == ("bluesky",)
    assert bot.x.calls("/2/tweets") == [] and bluesky.texts() == []


def test_on_naming_every_network_of_the_account_is_the_same_as_none(on_networks) -> None:
    bot = on_networks("x", "bluesky")

    bot.command(AUTHOR, "on:bluesky,x at:+1h Everywhere")
    bot.command(AUTHOR, "at:+1h Everywhere too")

    assert [bot.draft(n).networks for n in (1, 2)] == [(), ()]
    assert bot.desk.core.networks_of(bot.draft(1)) == ("x", "bluesky")


def test_on_a_network_the_account_is_not_on_is_refused_privately_and_nothing_is_stored(on_networks) -> None:
    bot = on_networks("x", "bluesky")

    answer = bot.private_answer(bot.command(AUTHOR, "on:x,mastodon Hello"))

    assert answer == "main is not on Mastodon; it posts to X and Bluesky (on:x,bluesky)."
    assert ledger_now(bot) == ([], [], 0)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("on:myspace Hello", f"on: names 'myspace', which is not a network copydesk posts to; use {KNOWN}"),
        ("on: Hello", f"on: needs the networks, separated by commas: {KNOWN}"),
    ],
)
def test_an_unknown_or_empty_on_is_refused_privately_naming_the_networks(on_networks, typed: str, says: str) -> None:
    bot = on_networks("x", "bluesky")

    answer = bot.private_answer(bot.command(AUTHOR, typed))

    assert says in answer
    assert ledger_now(bot) == ([], [], 0)


def test_help_lists_on(on_networks) -> None:
    bot = on_networks("x", "bluesky")

    answer = bot.private_answer(bot.command(AUTHOR, "help"))

    assert "*/draft [to:ACCOUNT] [at:WHEN] TEXT*" in answer and "or those on: names" in answer
    assert "on:NETWORK[,NETWORK…] — only some of the account's networks (x, bluesky, mastodon), e.g. on:x,bluesky." in answer
    assert "/draft retract #ID [on:NETWORK[,NETWORK…]]" in answer and "or only from those on: names" in answer


def test_retract_on_one_network_says_where_it_is_gone_and_where_it_still_is(on_networks, bluesky: FakeBluesky) -> None:
    bot = on_networks("x", "bluesky")
    bot.command(AUTHOR, "Out on two networks")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.wait_for_state(1, State.PUBLISHED)
    assert bluesky.texts() == ["Out on two networks"] and len(bot.x.posts) == 1

    answer = bot.private_answer(bot.command(EDITOR_1, "retract #1 on:bluesky"))

    assert answer == "#1 is deleted from Bluesky; it is still on X."
    assert bot.draft(1).state is State.PUBLISHED
    assert [n for n, _ in bot.desk.reading.view(1).links] == ["x"]

    answer = bot.private_answer(bot.command(EDITOR_1, "retract #1"))

    assert answer == "#1 is deleted from X and marked retracted."
    assert bot.draft(1).state is State.RETRACTED


def test_retract_on_a_network_the_draft_never_went_to_is_refused_privately(on_networks) -> None:
    bot = on_networks("x", "bluesky")
    bot.command(AUTHOR, "on:x Only on X")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.wait_for_state(1, State.PUBLISHED)
    bot.slack_told()  # the thread reply and the author's message about it are delivered after it went out
    before = ledger_now(bot)

    answer = bot.private_answer(bot.command(EDITOR_1, "retract #1 on:bluesky"))

    assert answer == "#1 does not go to Bluesky; it goes to X."
    assert ledger_now(bot) == before


def test_mark_published_on_one_network_and_retry_name_the_networks_not_out_yet(
    on_networks, bluesky: FakeBluesky, masto: FakeMastodon
) -> None:
    bot = on_networks("x", "bluesky", "mastodon")
    bluesky.answer_next("com.atproto.repo.createRecord", 400, {"error": "InvalidRequest", "message": "Record is invalid"})
    masto.answer_next(422, {"error": "Validation failed: Text is invalid"})
    bot.command(AUTHOR, "Out on X first")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.wait_for_state(1, State.FAILED)
    assert (len(bot.x.posts), bluesky.texts(), masto.texts()) == (1, [], [])

    answer = bot.private_answer(bot.command(EDITOR_1, "mark-published #1 on:mastodon"))

    assert answer == "#1 is recorded as published on Mastodon; /draft retry #1 sends what is not out yet."
    assert bot.draft(1).state is State.FAILED

    answer = bot.private_answer(bot.command(EDITOR_1, "retry #1"))

    assert answer == "#1 is on its way again to Bluesky."
    bot.wait_for_state(1, State.PUBLISHED)
    assert (len(bot.x.posts), bluesky.texts(), masto.texts()) == (1, ["Out on X first"], [])


def test_an_x_only_account_hears_what_it_always_did_and_may_name_x(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Only on X")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.wait_for_state(1, State.PUBLISHED)

    assert bot.private_answer(bot.command(EDITOR_1, "retract #1 on:bluesky")) == "#1 does not go to Bluesky; it goes to X."
    assert bot.draft(1).state is State.PUBLISHED
    assert bot.private_answer(bot.command(EDITOR_1, "retract #1 on:x")) == "#1 is deleted from X and marked retracted."
    assert bot.draft(1).state is State.RETRACTED and bot.x.deleted == [bot.x.posts[0]["id"]]
