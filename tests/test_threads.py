"""Threads: lines of --- split a draft into posts, each checked on its own and published as a reply to the one before, once."""

from __future__ import annotations

import time

import pytest

from bot import thread
from bot.errors import BadDraft
from bot.review import State
from tests.fakes.http import Reply
from tests.fakes.slack_api import blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3, REVIEW, Copydesk, MovableClock

FAST_RETRY = {"x_retry": {"first_delay_seconds": 0.05}}
THREAD = "Thread time 🧵\n---\nThe middle of it\n  ---  \nAnd the end https://example.com/end"
PARTS = ["Thread time 🧵", "The middle of it", "And the end https://example.com/end"]


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def posted_ids(bot: Copydesk) -> dict[str, str]:
    return {p["text"]: p["id"] for p in bot.x.posts}


# the syntax


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Just one post", ["Just one post"]),
        ("  kept exactly  \nas written", ["  kept exactly  \nas written"]),  # no separator: not touched
        ("a --- b\n----\n-- -", ["a --- b\n----\n-- -"]),  # only a line of exactly --- separates
        ("one\n---\ntwo", ["one", "two"]),
        ("one\n\n \t---  \n\ntwo\n---\nthree\n", ["one", "two", "three"]),
    ],
)
def test_lines_of_three_dashes_alone_split_a_draft_into_parts(text: str, parts: list[str]) -> None:
    assert thread.split(text) == parts


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("one\n---\n\n---\nthree", "Part 2 of 3 is empty"),
        ("---\none", "Part 1 of 2 is empty"),
        ("one\n---\n" + "x" * 281 + "\n---\nthree", "Part 2 of 3 is 281/280 as X counts it"),
        ("\n---\n".join(f"part {n}" for n in range(26)), "The thread has 26 parts; at most 25"),
        ("More soon\n---\nsomething\n---\nMore soon", "Part 3 of 3 repeats part 1; X refuses the same text twice"),
    ],
)
def test_each_part_is_checked_and_the_error_names_it(text: str, error: str) -> None:
    with pytest.raises(BadDraft, match=error):
        thread.check(text)


def test_a_too_long_part_is_refused_privately_and_nothing_is_stored(bot: Copydesk) -> None:
    response = bot.command(AUTHOR, "Fine first part\n---\n" + "é" * 300)

    assert "Part 2 of 2 is 300/280" in bot.private_answer(response)
    assert bot.ledger.drafts_in(list(State)) == []


# publishing


def test_a_three_part_thread_goes_out_in_order_each_part_replying_to_the_one_before(bot: Copydesk) -> None:
    bot.command(AUTHOR, THREAD)
    card = bot.slack.posts(REVIEW)[0]
    assert ":thread: *1/3* 14/280 · *2/3* 16/280 · *3/3* 35/280" in blocks_text(card)
    assert "a thread of 3 posts" in blocks_text(card)

    approve(bot, 1)

    draft = bot.wait_for_state(1, State.PUBLISHED)
    ids = posted_ids(bot)
    assert bot.x.replies() == [(PARTS[0], None), (PARTS[1], ids[PARTS[0]]), (PARTS[2], ids[PARTS[1]])]
    assert [r.body.get("reply") for r in bot.x.calls("/2/tweets")] == [
        None,
        {"in_reply_to_tweet_id": ids[PARTS[0]]},
        {"in_reply_to_tweet_id": ids[PARTS[1]]},
    ]
    publications = bot.ledger.publications(draft.id)
    assert [(p.part, p.outcome, p.x_post_id) for p in publications] == [(n + 1, "published", ids[t]) for n, t in enumerate(PARTS)]
    first_url = f"https://x.com/aplusk/status/{ids[PARTS[0]]}"
    assert [e.action for e in bot.ledger.events(1)][-6:] == [
        "publishing",
        "part_published",
        "publishing",
        "part_published",
        "publishing",
        "published",
    ]
    assert bot.ledger.events(1)[-1].detail == {
        "x_post_id": ids[PARTS[0]],
        "url": first_url,
        "parts": 3,
        "publication_id": 3,
        "version": 1,
        "content_sha256": draft.content_sha256,
        "last_post_id": ids[PARTS[2]],
    }
    bot.slack.wait_for("/api/chat.postMessage", count=5)
    assert f"is live: {first_url}" in bot.slack.posts(AUTHOR)[-1]["text"]
    assert first_url in blocks_text(bot.slack.updates()[-1])


def test_a_thread_that_fails_at_part_2_is_retried_from_part_2_and_never_posts_part_1_again(make_bot) -> None:
    bot = make_bot(top=FAST_RETRY)
    bot.x.answer_for(
        PARTS[1], 503, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503}
    )
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    requested = [c.body["text"] for c in bot.x.calls("/2/tweets")]
    assert requested == [PARTS[0], PARTS[1], PARTS[1], PARTS[2]]  # part 1 once; part 2 twice (the 503, then the retry)
    ids = posted_ids(bot)
    assert bot.x.replies() == [(PARTS[0], None), (PARTS[1], ids[PARTS[0]]), (PARTS[2], ids[PARTS[1]])]
    assert [(p.part, p.outcome) for p in bot.ledger.publications(1)] == [
        (1, "published"),
        (2, "failed"),
        (2, "published"),
        (3, "published"),
    ]
    assert bot.ledger.publications(1)[1].error == (
        "part 2 of 3: X had a server error (503 Service Unavailable); the post is not on the account"
    )  # looked for first


def test_a_part_x_refuses_fails_the_thread_and_publish_now_sends_only_the_rest(bot: Copydesk) -> None:
    bot.x.answer_for(
        PARTS[1],
        403,
        {"title": "Forbidden", "detail": "You are not permitted to perform this action.", "type": "about:blank", "status": 403},
    )
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)
    failed = bot.wait_for_state(1, State.FAILED)
    assert bot.x.texts() == [PARTS[0]]
    assert "part 2 of 3: X refused the post: 403" in (bot.ledger.publications(failed.id)[-1].error or "")

    bot.press(EDITOR_1, "copydesk_publish_again", 1)

    bot.wait_for_state(1, State.PUBLISHED)
    assert [c.body["text"] for c in bot.x.calls("/2/tweets")] == [PARTS[0], PARTS[1], PARTS[1], PARTS[2]]
    ids = posted_ids(bot)
    assert bot.x.replies()[1:] == [(PARTS[1], ids[PARTS[0]]), (PARTS[2], ids[PARTS[1]])]


def test_a_rate_limited_part_waits_for_xs_reset_and_meanwhile_the_text_cannot_change(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    reset = int(time.time()) + 3600
    bot.x.answer_for(
        PARTS[1], 429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    )
    bot.x.for_text[PARTS[1]][0].headers.update({"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"})
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)
    deadline = time.monotonic() + 10
    while bot.draft(1).retry_at is None:
        assert time.monotonic() < deadline, "part 2 was not rescheduled"
        time.sleep(0.005)
    assert bot.draft(1).state is State.APPROVED and bot.x.texts() == [PARTS[0]]

    # Part 1 is out: the text can no longer change under it, nor its images.
    refused = bot.command(AUTHOR, "edit #1 Something else entirely")
    assert "#1 is a thread already on X up to part 1" in bot.private_answer(refused)
    assert bot.draft(1).text == THREAD

    clock.advance(hours=1, minutes=1)
    bot.desk.publishing.publish(1)
    assert bot.draft(1).state is State.PUBLISHED
    ids = posted_ids(bot)
    assert bot.x.replies() == [(PARTS[0], None), (PARTS[1], ids[PARTS[0]]), (PARTS[2], ids[PARTS[1]])]


def test_a_part_whose_answer_was_lost_is_found_on_the_account_and_the_thread_goes_on(make_bot) -> None:
    bot = make_bot(top={"x_timeout_seconds": 0.3, **FAST_RETRY})
    bot.x.lose_answer_for(PARTS[1], delay=5)  # X creates part 2, but its answer never arrives in time
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)

    bot.wait_for_state(1, State.PUBLISHED)

    assert [c.body["text"] for c in bot.x.arrived("/2/tweets")] == PARTS  # nothing sent twice
    ids = posted_ids(bot)
    assert bot.x.replies()[2] == (PARTS[2], ids[PARTS[1]])  # part 3 answers the part 2 that was found
    assert [e.detail.get("found_on_account") for e in bot.ledger.events(1) if e.action == "part_published"] == [None, True]


def test_a_part_in_doubt_is_held_and_a_person_settles_it_part_by_part(make_bot) -> None:
    bot = make_bot(top={"x_timeout_seconds": 0.3, **FAST_RETRY})
    bot.x.lose_answer_for(PARTS[1], delay=5)
    bot.x.timeline_replies.append(
        Reply(503, {"title": "Service Unavailable", "status": 503, "type": "about:blank", "detail": "down"})
    )
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)

    held = bot.wait_for_state(1, State.HELD)
    assert (held.notice or "").startswith("part 2 of 3: X did not answer in time")
    assert bot.x.texts() == PARTS[:2]

    # Part 3 must reply to part 2, so marking part 2 needs its link.
    refused = bot.press(EDITOR_1, "copydesk_mark_published", 1)
    assert "Part 2 of 3 of #1 is followed by more parts" in bot.private_answer(refused)
    part_2 = posted_ids(bot)[PARTS[1]]
    bot.command(EDITOR_1, f"mark-published #1 <https://x.com/aplusk/status/{part_2}>")
    draft = bot.draft(1)
    assert draft.state is State.HELD and "Part 2 of 3 marked as published" in (draft.notice or "")
    assert "*2/3* 16/280 :white_check_mark: on X" in blocks_text(bot.slack.updates()[-1])

    bot.press(EDITOR_2, "copydesk_publish_again", 1)

    bot.wait_for_state(1, State.PUBLISHED)
    assert bot.x.replies() == [(PARTS[0], None), (PARTS[1], posted_ids(bot)[PARTS[0]]), (PARTS[2], part_2)]
    assert len(bot.x.arrived("/2/tweets")) == 3


def test_the_pause_stops_a_thread_between_two_parts_and_it_goes_on_only_when_an_editor_confirms(bot: Copydesk) -> None:
    gate = bot.x.hold("/2/tweets")
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)
    bot.x.wait_for_held("/2/tweets")  # part 1 is with X

    bot.command("U0ADMIN01", "pause Wrong thread")
    gate.set()
    bot.x.gates.pop("/2/tweets")

    stopped = bot.wait_for_state(1, State.APPROVED)
    assert bot.x.texts() == [PARTS[0]] and stopped.first_attempt_at is None
    assert bot.services.scheduler.due_at(1) is None
    bot.command("U0ADMIN01", "resume")
    assert bot.draft(1).state is State.HELD  # its time passed while paused

    bot.press(EDITOR_1, "copydesk_publish_again", 1)

    bot.wait_for_state(1, State.PUBLISHED)
    assert bot.x.texts() == PARTS and len(bot.x.calls("/2/tweets")) == 3


def test_retracting_a_thread_deletes_every_part_last_first(bot: Copydesk) -> None:
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    ids = posted_ids(bot)

    bot.command(AUTHOR, "retract #1")

    assert bot.draft(1).state is State.RETRACTED
    assert bot.x.deleted == [ids[PARTS[2]], ids[PARTS[1]], ids[PARTS[0]]]
    assert all(p.retracted_at for p in bot.ledger.publications(1))
    assert bot.ledger.events(1)[-1].detail == {"x_post_id": ids[PARTS[0]], "parts": 3}


def test_a_retraction_that_fails_half_way_deletes_only_what_is_left_when_tried_again(bot: Copydesk) -> None:
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    ids = posted_ids(bot)
    bot.x.delete_replies[ids[PARTS[1]]] = Reply(
        503, {"title": "Service Unavailable", "status": 503, "type": "about:blank", "detail": "Service Unavailable"}
    )

    response = bot.command(EDITOR_1, "retract #1")

    assert "part 2 of #1 is still on X: X had a server error" in bot.private_answer(response)
    assert bot.draft(1).state is State.PUBLISHED and bot.x.deleted == [ids[PARTS[2]]]
    bot.command(EDITOR_1, "retract #1")
    assert bot.draft(1).state is State.RETRACTED
    assert [c.path.rsplit("/", 1)[1] for c in bot.x.calls() if c.method == "DELETE"] == [
        ids[PARTS[2]],
        ids[PARTS[1]],
        ids[PARTS[1]],
        ids[PARTS[0]],
    ]


def test_a_thread_stopped_after_part_1_goes_on_from_part_2_after_a_restart(config, slack, x) -> None:
    clock = MovableClock()
    first = Copydesk(config, slack, x, clock=clock).start()
    reset = int(time.time()) + 3600
    x.answer_for(
        PARTS[1], 429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    )
    x.for_text[PARTS[1]][0].headers["x-rate-limit-reset"] = str(reset)
    first.command(AUTHOR, THREAD)
    approve(first, 1)
    deadline = time.monotonic() + 10
    while first.draft(1).retry_at is None:
        assert time.monotonic() < deadline, "part 2 was not rescheduled"
        time.sleep(0.005)
    first.stop()

    clock.advance(hours=1, minutes=1)  # down past X's reset: the start-up picks the thread up where it stopped
    second = Copydesk(config, slack, x, clock=clock).start()
    try:
        second.wait_for_state(1, State.PUBLISHED)
    finally:
        second.stop()
    assert [c.body["text"] for c in x.calls("/2/tweets")] == [PARTS[0], PARTS[1], PARTS[1], PARTS[2]]
    ids = posted_ids(second)
    assert x.replies() == [(PARTS[0], None), (PARTS[1], ids[PARTS[0]]), (PARTS[2], ids[PARTS[1]])]


def paused_after_part_one(bot: Copydesk) -> None:
    """The thread is approved; the pause comes while X holds part 1, so the thread stops there, approved, part 1 out."""
    gate = bot.x.hold("/2/tweets")
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)
    bot.x.wait_for_held("/2/tweets")
    bot.command("U0ADMIN01", "pause Wrong thread")
    gate.set()
    bot.x.gates.pop("/2/tweets")
    bot.wait_for_state(1, State.APPROVED)


def test_a_thread_stopped_part_way_keeps_a_veto_cannot_be_withdrawn_and_its_live_parts_can_be_retracted(bot: Copydesk) -> None:
    paused_after_part_one(bot)
    [live] = [p["id"] for p in bot.x.posts]

    vetoed = bot.react(EDITOR_3, "x", 1)
    assert vetoed.status == 200 and bot.draft(1).state is State.APPROVED  # part 1 is out: no veto can unpublish it…
    assert [(v.user_id, v.kind.value) for v in bot.ledger.votes(1)][-1] == (EDITOR_3, "reject")  # …but it is kept
    withdrawn = bot.command(AUTHOR, "cancel #1")
    assert "already on X up to part 1" in bot.private_answer(withdrawn) and bot.draft(1).state is State.APPROVED

    retracted = bot.command(AUTHOR, "retract #1")

    assert "deleted from X" in bot.private_answer(retracted)
    assert bot.draft(1).state is State.RETRACTED and bot.x.deleted == [live]
    assert [e.action for e in bot.ledger.events(1)][-2:] == ["part_retracted", "retracted"]
    bot.command("U0ADMIN01", "resume")
    assert bot.draft(1).state is State.RETRACTED and bot.x.texts() == [PARTS[0]]  # nothing more goes out


def test_a_published_thread_is_one_line_of_the_digest_linked_to_its_first_post(bot: Copydesk) -> None:
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)

    [report] = bot.desk.digests.digests_so_far()

    [line] = report.published
    first = bot.ledger.published_parts(1)[1]
    assert (line.draft_id, line.url, line.note) == (1, first.url, "a thread of 3 posts")
    assert report.counts["published"] == 1


def test_a_thread_begun_before_the_digests_window_is_still_linked_to_its_first_post(bot: Copydesk) -> None:
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    parts = bot.ledger.published_parts(1)

    [report] = bot.desk.digests.digests_so_far(parts[2].finished_at)  # part 1 went out just before the window

    [line] = report.published
    assert (line.url, line.note) == (parts[1].url, "a thread of 3 posts")


def test_a_veto_on_a_thread_paused_part_way_holds_its_next_part(bot: Copydesk) -> None:
    paused_after_part_one(bot)

    bot.react(EDITOR_3, "x", 1)
    bot.command("U0ADMIN01", "resume")

    bot.wait_for_state(1, State.HELD)  # its time passed during the pause: an editor must confirm
    refused = bot.press(EDITOR_1, "copydesk_publish_again", 1)

    assert "1 veto" in bot.private_answer(refused) and bot.draft(1).state is State.HELD
    assert bot.x.texts() == [PARTS[0]]  # part 2 never went


def test_a_vetoed_thread_paused_part_way_stays_retractable_across_a_restart(config, slack, x) -> None:
    first = Copydesk(config, slack, x).start()
    try:
        paused_after_part_one(first)
        first.react(EDITOR_3, "x", 1)
    finally:
        first.stop()

    second = Copydesk(config, slack, x).start()  # the start counts the votes again: a thread partly out stays as it is
    try:
        assert second.draft(1).state is State.APPROVED
        assert "deleted from X" in second.private_answer(second.command(AUTHOR, "retract #1"))
        assert second.draft(1).state is State.RETRACTED and second.audited() == []
    finally:
        second.stop()


def test_a_veto_while_a_thread_goes_out_stops_its_next_part(bot: Copydesk) -> None:
    gate = bot.x.hold("/2/tweets")
    bot.command(AUTHOR, THREAD)
    approve(bot, 1)
    bot.x.wait_for_held("/2/tweets")  # part 1 is with X: the thread is going out
    assert bot.draft(1).state is State.PUBLISHING

    bot.react(EDITOR_3, "x", 1)
    gate.set()
    bot.x.gates.pop("/2/tweets")

    draft = bot.wait_for_state(1, State.HELD)
    assert "Part 2 of 3 was not sent" in (draft.notice or "") and "veto" in (draft.notice or "")
    assert bot.x.texts() == [PARTS[0]]
    assert "deleted from X" in bot.private_answer(bot.command(AUTHOR, "retract #1"))
