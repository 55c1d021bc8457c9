"""The /draft syntax: subcommands, leading options in any order, and the text kept exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import BadDraft
from bot.syntax import Compose, Edit, Named, parse


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("help", Named("help")),
        ("  list ", Named("list")),
        ("List", Compose("List")),  # command words and options are lower-case only: anything else is a post
        ("help me write this", Compose("help me write this")),
        ("to:main Hello", Compose("Hello", account="main")),
        ("at:+1h to:brand Hello", Compose("Hello", account="brand", at="+1h")),
        ("to:main at:09:00 Hello", Compose("Hello", account="main", at="09:00")),
        ("Note: to:main stays in the text", Compose("Note: to:main stays in the text")),
        ("to:main\nLine one\n\nLine two", Compose("Line one\n\nLine two", account="main")),
        ("Hello to:main", Compose("Hello to:main")),
        ("edit #12 at:+1h Better words", Edit(12, "Better words", "+1h")),
        ("edit 12 Better words", Edit(12, "Better words", None)),
        ("edit #12 at:09:00", Edit(12, None, "09:00")),
        ("edit your copy twice", Compose("edit your copy twice")),
        ("cancel #4", Named("cancel", 4)),
        ("retract 5", Named("retract", 5)),
        ("RETRACT 5", Compose("RETRACT 5")),
        ("Retract 2 claims we made", Compose("Retract 2 claims we made")),
        ("Edit #3 of the newsletter", Compose("Edit #3 of the newsletter")),
        ("Cancel 2 meetings", Compose("Cancel 2 meetings")),
        ("To: the team, thank you", Compose("To: the team, thank you")),
        ("At: noon we launch", Compose("At: noon we launch")),
        ("TO:main Hello", Compose("TO:main Hello")),
        ("to:main At:noon we launch", Compose("At:noon we launch", account="main")),
        ("mark-published #6 https://x.com/a/status/1", Named("mark-published", 6, "https://x.com/a/status/1")),
        ("pause", Named("pause", None, "")),
        ("pause  Breaking news\nhold it", Named("pause", None, "Breaking news\nhold it")),
        ("Pause. Breathe. Then post.", Compose("Pause. Breathe. Then post.")),
        ("resume", Named("resume")),
    ],
)
def test_parse(typed: str, expected: object) -> None:
    assert parse(typed) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [("", "no text"), ("to:main", "no text"), ("to: Hello", "to: needs a value"), ("to:a to:b Hi", "to: is given twice")],
)
def test_parse_errors(typed: str, message: str) -> None:
    with pytest.raises(BadDraft, match=message):
        parse(typed)


words = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1).filter(lambda t: t.strip() and ":" not in t.split()[0])


@given(
    text=words,
    account=st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True),
    at=st.sampled_from(["+1h", "09:00", "2030-01-01T09:00"]),
    account_first=st.booleans(),
)
def test_options_in_any_order_leave_the_text_untouched(text: str, account: str, at: str, account_first: bool) -> None:
    options = [f"to:{account}", f"at:{at}"] if account_first else [f"at:{at}", f"to:{account}"]
    parsed = parse(" ".join(options) + " " + text)
    assert parsed == Compose(text.strip(), account=account, at=at)
