"""The App Home: the switch, what waits for this editor's vote, the queue, and what went out lately."""

from __future__ import annotations

from bot.images import Image
from bot.review import State
from handlers import render
from tests.fakes.slack_api import action_ids, blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3, OUTSIDER, REVIEW, Copydesk

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def home_of(bot: Copydesk, user: str) -> dict:
    bot.open_home(user)
    call = bot.slack.calls("/api/views.publish")[-1]
    assert call.body["user_id"] == user
    return bot.slack.views("views.publish")[-1]


def section(home: dict, heading: str) -> str:
    """Everything shown under a heading, up to the next divider (a draft's words are in its section's fields)."""
    blocks = home["blocks"]
    at = next(i for i, b in enumerate(blocks) if b["type"] == "section" and b["text"]["text"].startswith(f"*{heading}"))
    shown = []
    for block in blocks[at + 1 :]:
        if block["type"] == "divider":
            break
        shown += [*([block["text"]["text"]] if "text" in block else []), *(f["text"] for f in block.get("fields", []))]
    return "\n".join(shown)


def test_an_editor_sees_what_waits_for_their_vote_the_queue_and_what_went_out(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Waiting for votes")
    bot.command(AUTHOR, "at:+2d Already approved")
    bot.react(EDITOR_1, "white_check_mark", 2)
    bot.react(EDITOR_2, "white_check_mark", 2)
    bot.command(AUTHOR, "Gone out")
    bot.react(EDITOR_1, "white_check_mark", 3)
    bot.react(EDITOR_2, "white_check_mark", 3)
    published = bot.wait_for_state(3, State.PUBLISHED)

    home = home_of(bot, EDITOR_1)

    assert home["type"] == "home"
    text = blocks_text(home)
    assert "Publishing is on" in text
    assert "*Waiting for your vote (1)*" in text and action_ids(home) == {render.HOME_APPROVE, render.HOME_REJECT}
    assert "*#1* @aplusk" in section(home, "Waiting for your vote")
    card = bot.draft(1).card_ts.replace(".", "")
    assert f"/archives/{REVIEW}/p{card}|its review card>" in text
    assert "Waiting for votes" in section(home, "In review (1)")
    assert "Already approved" in section(home, "Approved and scheduled (1)")
    assert section(home, ":raised_hand: Held for a person (0)") == "_Nothing._"
    went_out = section(home, "Went out lately")
    assert "Gone out" in went_out and bot.ledger.publications(published.id)[-1].url in went_out

    # The author does not vote on their own draft; their home asks nothing of them.
    assert "Waiting for your vote" not in blocks_text(home_of(bot, AUTHOR))


def test_the_card_links_are_asked_of_slack_once(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Linked")
    asked = len(bot.slack.calls("/api/chat.getPermalink"))  # the author's confirmation asked once
    home_of(bot, EDITOR_1)
    home_of(bot, EDITOR_2)
    assert len(bot.slack.calls("/api/chat.getPermalink")) == asked


def test_held_posts_are_flagged_and_long_lists_point_to_draft_list(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Due while paused")
    bot.command("U0ADMIN01", "pause First scare")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.command("U0ADMIN01", "resume")  # its time passed while paused: held for an editor
    assert bot.draft(1).state is State.HELD
    for n in range(render.HOME_LIST_LIMIT + 1):
        bot.command(AUTHOR, f"at:+1d Draft number {n}")
    bot.command("U0ADMIN01", "pause Checking something")

    home = home_of(bot, EDITOR_2)

    assert "Publishing is paused* by <@U0ADMIN01>" in blocks_text(home) and "Checking something" in blocks_text(home)
    assert "*#1*" in section(home, ":raised_hand: Held for a person (1)")
    in_review = section(home, f"In review ({render.HOME_LIST_LIMIT + 1})")
    assert in_review.endswith("…and 1 more: /draft list shows them all.")
    assert len(home["blocks"]) <= 100  # Slack's limit for a view


# voting on the App Home


def votes(bot: Copydesk, number: int) -> list[tuple[str, str, str]]:
    return [(v.user_id, v.reaction, v.kind.value) for v in bot.ledger.votes(number)]


def notice(home: dict) -> str:
    """What the home says at the top, under its header, about the last press on it."""
    return home["blocks"][1]["text"]["text"]


def test_an_editor_approves_on_the_app_home_and_a_second_press_takes_it_back(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Voted from home")
    home_of(bot, EDITOR_1)
    answered = len(bot.slack.responses())

    bot.press_home(EDITOR_1, render.HOME_APPROVE, 1)

    assert votes(bot, 1) == [(EDITOR_1, "button", "approve")]
    assert f"1 of 2 approvals: <@{EDITOR_1}>" in blocks_text(bot.slack.updates()[-1])  # the card, from the outbox
    redrawn = bot.slack.views("views.publish")[-1]
    assert notice(redrawn).startswith("You approved #1: :hourglass_flowing_sand: In review — 1 of 2 approvals")
    assert "Waiting for your vote" not in blocks_text(redrawn) and action_ids(redrawn) == set()

    bot.press_home(EDITOR_1, render.HOME_APPROVE, 1, version=1)  # again, as the home showed it (a double click)

    assert votes(bot, 1) == [] and bot.draft(1).state is State.IN_REVIEW
    assert "0 of 2 approvals" in blocks_text(bot.slack.updates()[-1])
    assert notice(bot.slack.views("views.publish")[-1]).startswith("You took back your vote on #1")
    assert len(bot.slack.responses()) == answered  # a home has no response_url: nothing was sent to one


def test_two_editors_approve_on_their_homes_and_it_is_scheduled_and_a_reject_vetoes(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Two homes")
    bot.command(AUTHOR, "at:+1d Not this one")
    for editor in (EDITOR_1, EDITOR_2):
        home_of(bot, editor)
        bot.press_home(editor, render.HOME_APPROVE, 1)
    home_of(bot, EDITOR_3)
    bot.press_home(EDITOR_3, render.HOME_REJECT, 2)

    assert bot.draft(1).state is State.APPROVED and bot.services.scheduler.due_at(1) == bot.draft(1).publish_at
    assert bot.draft(2).state is State.REJECTED and votes(bot, 2) == [(EDITOR_3, "button", "reject")]
    assert "You vetoed #2" in notice(bot.slack.views("views.publish")[-1])


def test_the_home_shows_whole_what_waits_and_sends_drafts_with_images_to_their_cards(bot: Copydesk) -> None:
    long = "A long post, longer than the 80 characters a queue line shows of it. " * 3
    bot.command(AUTHOR, "at:+1d " + long.strip())
    bot.desk.drafting.submit(
        author_id=AUTHOR,
        text="With a picture",
        account=None,
        at="+1d",
        origin_channel=None,
        images=[Image.of("launch-plan.png", PNG, alt="Timeline diagram")],
    )
    bot.slack_told()

    home = home_of(bot, EDITOR_1)

    assert long.strip() in [b["text"]["text"] for b in home["blocks"] if b.get("text", {}).get("type") == "plain_text"]
    [buttons] = [b for b in home["blocks"] if b["type"] == "actions"]  # only for the draft without images
    assert buttons["block_id"] == "home-draft-1-v1"
    assert "launch-plan.png" in blocks_text(home) and "shown on its review card: see them and vote there" in blocks_text(home)

    bot.press_home(EDITOR_1, render.HOME_APPROVE, 2, version=1)  # a button the Home never offered for it
    assert votes(bot, 2) == [] and "its images are shown there" in notice(bot.slack.views("views.publish")[-1])


def test_the_authors_press_is_refused_and_changes_nothing(make_bot) -> None:
    bot = make_bot({"editors": [AUTHOR, EDITOR_1, EDITOR_2]})  # the author is an editor; self-approval is off
    bot.command(AUTHOR, "at:+1d My own words")
    assert "Waiting for your vote" not in blocks_text(home_of(bot, AUTHOR))
    before = bot.ledger.events(1)

    bot.press_home(AUTHOR, render.HOME_APPROVE, 1, version=1)  # a button their home never offered

    assert votes(bot, 1) == [] and bot.ledger.events(1) == before
    assert "Authors cannot approve their own drafts on main (authors); your vote on #1 is not counted." in notice(
        bot.slack.views("views.publish")[-1]
    )


def test_someone_who_is_not_an_editor_is_refused(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Editors only")
    before = bot.ledger.events(1)

    bot.press_home(OUTSIDER, render.HOME_REJECT, 1, version=1)

    assert votes(bot, 1) == [] and bot.ledger.events(1) == before
    assert "Only the editors of main vote on drafts" in notice(bot.slack.views("views.publish")[-1])


def test_a_press_on_a_home_drawn_before_an_edit_does_not_count_for_the_new_version(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d Old words")
    home_of(bot, EDITOR_1)  # shows version 1
    bot.command(AUTHOR, "edit #1 New words")
    assert bot.draft(1).version == 2
    before = bot.ledger.events(1)

    bot.press_home(EDITOR_1, render.HOME_APPROVE, 1)  # on the stale home: version 1

    assert votes(bot, 1) == [] and bot.ledger.events(1) == before and bot.draft(1).state is State.IN_REVIEW
    redrawn = bot.slack.views("views.publish")[-1]
    assert notice(redrawn) == (
        ":warning: #1 was changed after your App Home showed it; your vote was not counted. Read it as it is now and vote again."
    )
    assert "New words" in blocks_text(redrawn) and "Old words" not in blocks_text(redrawn)
    [buttons] = [b for b in redrawn["blocks"] if b["type"] == "actions"]
    assert buttons["block_id"] == "home-draft-1-v2"

    bot.press_home(EDITOR_1, render.HOME_APPROVE, 1)  # on the new home: counted for version 2
    assert votes(bot, 1) == [(EDITOR_1, "button", "approve")]


def test_a_crowded_home_still_fits_in_one_view() -> None:
    from dataclasses import replace

    from bot.ports import Overview
    from tests.examples import APPROVED, IN_REVIEW, PUBLISHED

    def many(example, count: int, start: int) -> list:
        return [
            replace(example, draft=replace(example.draft, id=n, text=f"{example.draft.text} ({n})\n---\npart two"))
            for n in range(start, start + count)
        ]

    waiting = many(IN_REVIEW, 30, 100)
    held = [replace(v, draft=replace(v.draft, state=State.HELD)) for v in many(APPROVED, 15, 400)]
    crowded = Overview(
        pause=None,
        waiting_for_you=waiting,
        queue=[*waiting, *many(APPROVED, 20, 200), *held],
        recent=many(PUBLISHED, 10, 300),
        card_links={},
        readable=frozenset({"main"}),
    )

    blocks = render.home(crowded, notice="You approved #1.")["blocks"]

    whole = render._home_blocks(crowded, "You approved #1.", render.HOME_VOTE_LIMIT, render.HOME_LIST_LIMIT)
    assert len(whole) > 100 >= len(blocks) > 80  # too many for Slack in full; shortened only as far as needed
    text = blocks_text({"blocks": blocks})
    assert "Waiting for your vote (30)" in text and "more: vote on their cards" in text and "You approved #1." in text
    assert blocks_text({"blocks": blocks[-1:]}).startswith("…and 2 more")  # the last section whole, to its end
