"""Bad input gets a clear private answer and changes nothing: hidden characters, far-off times, links to other posts,
and /draft words in capitals, which are the start of a post."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot import links
from bot.review import State
from tests.fakes.slack_api import blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, Copydesk


def ledger_now(bot: Copydesk) -> tuple[list, list, int]:
    """Everything a refused request must leave as it was: the drafts, the event log and what Slack was sent."""
    return bot.ledger.drafts_in(list(State)), bot.ledger.events(), len(bot.slack.posts())


def form_errors(response) -> dict[str, str]:
    answer = json.loads(response.body)
    assert answer["response_action"] == "errors", answer
    return answer["errors"]


REFUSED = [
    ("Hello \u202eworld", "The text has U+202E RIGHT-TO-LEFT OVERRIDE at character 7"),
    ("\u2066Isolated", "The text has U+2066 LEFT-TO-RIGHT ISOLATE at character 1"),
    ("Popped\u2069", "The text has U+2069 POP DIRECTIONAL ISOLATE at character 7"),
    ("Embedded \u202a here", "U+202A LEFT-TO-RIGHT EMBEDDING at character 10"),
    ("Null\x00byte", "The text has U+0000 NULL at character 5"),
    ("Colour \x1b[31mred", "The text has U+001B ESCAPE at character 8"),
    ("Deleted\x7f", "U+007F DELETE at character 8"),
    ("Next\x85line", "U+0085 C1 CONTROL at character 5"),
    ("Carriage\rreturn", "U+000D CARRIAGE RETURN at character 9"),
    ("First post\n---\nSecond \u202epost\n---\nThird", "Part 2 of 3 has U+202E RIGHT-TO-LEFT OVERRIDE at character 8"),
]


@pytest.mark.parametrize(("text", "says"), REFUSED)
def test_a_hidden_character_in_a_draft_is_named_with_its_place_and_nothing_is_stored(bot: Copydesk, text: str, says: str) -> None:
    response = bot.command(AUTHOR, text)

    answer = bot.private_answer(response)  # ephemeral, to the author alone
    assert says in answer and "Remove it and send again" in answer
    assert ledger_now(bot) == ([], [], 0)


def test_newlines_and_tabs_are_text(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Line one\n\tindented\n---\nPart two\twith a tab")

    assert bot.latest().text == "Line one\n\tindented\n---\nPart two\twith a tab"


def test_the_form_shows_the_character_on_the_text_field_and_stores_nothing(bot: Copydesk) -> None:
    bot.command(AUTHOR, "")

    errors = form_errors(bot.submit_form(AUTHOR, "From the form \u2069"))

    assert list(errors) == ["text"] and "U+2069 POP DIRECTIONAL ISOLATE at character 15" in errors["text"]
    assert ledger_now(bot) == ([], [], 0)


def test_an_edit_is_checked_like_a_new_draft(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Version one")
    before = ledger_now(bot)

    answer = bot.private_answer(bot.command(AUTHOR, "edit #1 Version \x00two"))
    assert "The text has U+0000 NULL at character 9" in answer
    errors = form_errors(bot.submit_edit(AUTHOR, 1, "Version one\n---\n\u202eVersion two"))
    assert list(errors) == ["text"] and "Part 2 of 2 has U+202E RIGHT-TO-LEFT OVERRIDE at character 1" in errors["text"]

    assert ledger_now(bot) == before and bot.draft(1).text == "Version one"


def test_a_time_more_than_a_year_ahead_is_refused_everywhere(bot: Copydesk) -> None:
    answer = bot.private_answer(bot.command(AUTHOR, "at:+366d Next year's news"))
    assert "at:+366d is more than a year ahead" in answer and "within 365 days" in answer
    bot.command(AUTHOR, "")
    far = datetime.now(UTC) + timedelta(days=400)
    errors = form_errors(bot.submit_form(AUTHOR, "Picked too far", when=far))
    assert list(errors) == ["when"] and "is more than a year ahead" in errors["when"]
    assert ledger_now(bot) == ([], [], 0)

    bot.command(AUTHOR, "at:+300d In ten months")
    draft = bot.latest()
    assert draft.text == "In ten months" and draft.publish_at is not None
    assert timedelta(days=299, hours=23) < draft.publish_at - draft.created_at <= timedelta(days=300)

    before = ledger_now(bot)
    assert "more than a year ahead" in bot.private_answer(bot.command(AUTHOR, "edit #1 at:+400d"))
    assert ledger_now(bot) == before


@pytest.fixture
def failed(bot: Copydesk) -> Copydesk:
    """Draft #1, approved, which X refused: an editor may record it as published once they find it on @aplusk."""
    bot.x.answer_next(403, {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Not now."})
    bot.command(AUTHOR, "Looked for on the account")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.wait_for_state(1, State.FAILED)
    bot.slack_told()
    return bot


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://example.com/aplusk/status/1790000000000000001", "is a link to example.com, not to x.com or twitter.com"),
        ("https://x.com.evil.example/aplusk/status/1790000000000000001", "is a link to x.com.evil.example"),
        ("https://x.com:8443/aplusk/status/1790000000000000001", "is a link to x.com:8443"),
        ("http://x.com/aplusk/status/1790000000000000001", "is not an https link"),
        ("https://x.com/someoneelse/status/1790000000000000001", "is a post of @someoneelse, not of @aplusk"),
        ("https://twitter.com/aplusk", "is not a link to a post (…/aplusk/status/…)"),
        ("https://x.com/aplusk/status/1790000000000000001/photo/1", "is not a link to a post"),
        ("https://x.com/i/web/status/1790000000000000001", "is not a link to a post"),
    ],
)
def test_mark_published_takes_only_a_status_link_of_the_accounts_own_handle(failed: Copydesk, url: str, says: str) -> None:
    bot = failed
    before = ledger_now(bot), bot.ledger.publications(1)

    answer = bot.private_answer(bot.command(EDITOR_1, f"mark-published #1 <{url}>"))

    assert says in answer and "https://x.com/aplusk/status/" in answer
    assert (ledger_now(bot), bot.ledger.publications(1)) == before and bot.draft(1).state is State.FAILED


def test_mark_published_reads_the_post_id_from_the_link_whatever_the_handles_case(failed: Copydesk) -> None:
    bot = failed

    answer = bot.private_answer(
        bot.command(EDITOR_1, "mark-published #1 <https://mobile.twitter.com/APlusK/status/1790000000000000042?s=20>")
    )

    assert "#1 is recorded as published" in answer
    assert bot.draft(1).state is State.PUBLISHED
    publication = bot.ledger.publications(1)[-1]
    assert (publication.x_post_id, publication.url) == ("1790000000000000042", "https://x.com/aplusk/status/1790000000000000042")


@pytest.mark.parametrize("text", ["To: the team, thank you for a wonderful year", "At: noon we launch", "Retract 2", "List"])
def test_a_post_may_begin_with_a_draft_word_in_capitals(bot: Copydesk, text: str) -> None:
    bot.command(AUTHOR, "An earlier post")
    bot.command(AUTHOR, "And another")

    answer = bot.private_answer(bot.command(AUTHOR, text))

    assert "Draft #3 for @aplusk is in review" in answer
    assert bot.draft(3).text == text and bot.draft(3).account == "main" and bot.draft(3).publish_at is None
    assert text in blocks_text(bot.slack.posts(REVIEW)[-1])
    assert [bot.draft(n).state for n in (1, 2)] == [State.IN_REVIEW, State.IN_REVIEW]  # "Retract 2" touched nothing


def test_help_says_the_words_count_only_in_lower_case(bot: Copydesk) -> None:
    answer = bot.private_answer(bot.command(AUTHOR, "help"))
    assert "count only in lower case" in answer and "To:" in answer and "Retract 2" in answer


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/aplusk/status/123",
        "https://twitter.com/aplusk/status/123/",
        "https://www.x.com/APLUSK/status/123",
        "https://mobile.twitter.com/aplusk/status/123?s=20&t=abc",
        "https://X.COM/aplusk/status/123#reply",
        " https://x.com/aplusk/status/123 ",
    ],
)
def test_every_form_of_a_status_link_on_x_gives_its_post_id(url: str) -> None:
    assert links.status_id(url, "aplusk") == "123"
