"""Slack's escaped slash-command text back to what the person typed."""

from __future__ import annotations

import pytest

from handlers.slack_text import escape, unescape


@pytest.mark.parametrize(
    ("slack_sent", "typed"),
    [
        ("Q&amp;A &lt;3 &gt;_&lt;", "Q&A <3 >_<"),
        ("&amp;lt; stays literal", "&lt; stays literal"),
        ("see <https://example.com/a?b=1&amp;c=2>", "see https://example.com/a?b=1&c=2"),
        ("see <http://example.com|example.com>", "see example.com"),
        ("hi <@U0FRIEND|dana> in <#C0GEN|general>", "hi @dana in #general"),
        ("hi <@U0FRIEND>", "hi @U0FRIEND"),
        ("<!here> and <!subteam^S0TEAM|@editors>", "@here and @editors"),
        ("no markup at all 😀", "no markup at all 😀"),
    ],
)
def test_unescape(slack_sent: str, typed: str) -> None:
    assert unescape(slack_sent) == typed


def test_escape_is_the_inverse_for_plain_text() -> None:
    text = "a & b < c > d"
    assert unescape(escape(text)) == text
