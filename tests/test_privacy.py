"""Open drafts are read only by those who can read their review channel, the account's editors and the admins."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient

from bot.errors import SlackUnavailable
from bot.images import Image
from bot.privacy import may_read
from handlers.notifier import MEMBERS_PAGE, SlackDirectory
from tests.fakes.slack_api import BOT_TOKEN, BOT_USER_ID, FakeSlack, blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, OUTSIDER, REVIEW, Copydesk

ADMIN = "U0ADMIN01"
MEMBER = "U0MEMBER1"  # in the review channel, neither editor nor admin
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SECRET = "Secret launch on Friday"


def secret_draft(make_bot, slack: FakeSlack) -> Copydesk:
    """A private review channel with the bot and one member (no editor, no admin, not even the author) and a draft
    with an image in it."""
    slack.add_channel(REVIEW, [BOT_USER_ID, MEMBER])
    bot = make_bot()
    bot.desk.drafting.submit(
        author_id=AUTHOR,
        text=SECRET,
        account=None,
        at="+1d",
        origin_channel=None,
        images=[Image.of("launch-plan.png", PNG, alt="Timeline diagram")],
    )
    bot.slack_told()
    bot.react(EDITOR_1, "white_check_mark", 1)
    return bot


def home_text(bot: Copydesk, user: str) -> str:
    bot.open_home(user)
    return blocks_text(bot.slack.views("views.publish")[-1])


def listing(bot: Copydesk, user: str) -> str:
    return bot.private_answer(bot.command(user, "list"))


def digest_so_far(bot: Copydesk, user: str) -> str:
    response = bot.command(user, "digest")
    body = json.loads(response.body)
    return body["text"] + "\n" + blocks_text(body)  # the fallback text and the blocks alike


SURFACES = {"list": listing, "home": home_text, "digest": digest_so_far}


# the rule


def test_editors_and_admins_always_read_and_anyone_else_only_as_a_member() -> None:
    asked: list[str] = []

    def members() -> frozenset[str]:
        asked.append("asked")
        return frozenset({MEMBER})

    rule = dict(editors={EDITOR_1}, admins={ADMIN}, members=members)
    assert may_read(EDITOR_1, **rule) and may_read(ADMIN, **rule) and asked == []  # Slack is not asked for them
    assert may_read(MEMBER, **rule) and not may_read(OUTSIDER, **rule)
    assert not may_read(MEMBER, editors=set(), admins=set(), members=lambda: None)  # Slack could not say: no text


# each surface, each reader


@pytest.mark.parametrize("surface", list(SURFACES))
def test_someone_outside_a_private_review_channel_sees_numbers_not_text(make_bot, slack, surface: str) -> None:
    bot = secret_draft(make_bot, slack)
    before = bot.ledger.events(1)

    seen = SURFACES[surface](bot, OUTSIDER)

    assert SECRET not in seen and "launch-plan" not in seen and "launch" not in seen.lower() and "Timeline diagram" not in seen
    assert "#1" in seen and "in review" in seen.lower()
    if surface != "digest":
        assert "*#1* · main · in review · 1/2 approvals · 1 image(s) · due " in seen
    assert "only their numbers" in seen
    assert bot.ledger.events(1) == before  # asking changes nothing


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("reader", [MEMBER, EDITOR_2, ADMIN], ids=["channel member", "editor", "admin"])
def test_a_channel_member_an_editor_and_an_admin_read_the_text(make_bot, slack, surface: str, reader: str) -> None:
    bot = secret_draft(make_bot, slack)

    seen = SURFACES[surface](bot, reader)

    assert SECRET in seen and "only their numbers" not in seen


@pytest.mark.parametrize("error", ["missing_scope", "not_in_channel", "ratelimited"])
def test_when_slack_cannot_say_who_is_in_the_channel_only_editors_and_admins_read(make_bot, slack, error: str) -> None:
    slack.failures["conversations.members"] = error
    bot = secret_draft(make_bot, slack)

    for surface in SURFACES.values():
        assert SECRET not in surface(bot, MEMBER)
        assert SECRET in surface(bot, EDITOR_2) and SECRET in surface(bot, ADMIN)


def test_a_public_review_channel_is_read_by_its_members_only_too(make_bot, slack) -> None:
    slack.add_channel(REVIEW, [MEMBER], private=False)  # the bot need not be in a public channel to list it
    bot = make_bot()
    bot.command(AUTHOR, SECRET)

    assert SECRET in listing(bot, MEMBER)
    assert SECRET not in listing(bot, OUTSIDER)


def test_the_member_list_is_asked_of_slack_once_and_then_kept(make_bot, slack) -> None:
    bot = secret_draft(make_bot, slack)
    asked = len(slack.calls("/api/conversations.members"))  # at start, with the editor groups
    for _ in range(3):
        listing(bot, OUTSIDER)
        home_text(bot, MEMBER)
    assert len(slack.calls("/api/conversations.members")) == asked == 1


# the directory against the fake Slack


def directory(slack: FakeSlack, ttl: float = 300) -> SlackDirectory:
    return SlackDirectory(WebClient(token=BOT_TOKEN, base_url=slack.api_url), ttl_seconds=ttl)


def test_every_page_of_a_big_channel_is_read(slack) -> None:
    people = [f"U{n:08d}" for n in range(2 * MEMBERS_PAGE + 50)]
    slack.add_channel("C0BIG0001", [BOT_USER_ID, *people])

    assert directory(slack).members_of_channel("C0BIG0001") == {BOT_USER_ID, *people}

    calls = slack.calls("/api/conversations.members")
    assert [c.body.get("cursor") for c in calls] == [None, str(MEMBERS_PAGE), str(2 * MEMBERS_PAGE)]


@pytest.mark.parametrize(("channel", "error"), [("C0UNKNOWN", "channel_not_found"), ("G0NOTIN01", "not_in_channel")])
def test_a_channel_slack_will_not_list_is_named(slack, channel: str, error: str) -> None:
    slack.add_channel("G0NOTIN01", [MEMBER])  # private, and the bot is not in it
    with pytest.raises(SlackUnavailable, match=f"{channel} \\({error}\\)"):
        directory(slack).members_of_channel(channel)


def test_a_member_list_slack_stops_confirming_is_forgotten(slack) -> None:
    slack.add_channel(REVIEW, [BOT_USER_ID, MEMBER])
    stale = directory(slack, ttl=0)  # every answer is stale at once: asked again each time
    assert MEMBER in stale.members_of_channel(REVIEW)

    slack.failures["conversations.members"] = "missing_scope"
    assert MEMBER in stale.members_of_channel(REVIEW)  # the stale answer, while it is asked again (and Slack fails)
    with pytest.raises(SlackUnavailable):
        stale.members_of_channel(REVIEW)  # forgotten: never kept on an answer Slack no longer gives
