"""Undo Slack's escaping of slash-command text, so what reaches X is what the person typed; escape what copydesk shows."""

from __future__ import annotations

import re

from bot.errors import DisguisedLink, SlackMention

# <https://a.b|a.b>, <@U123|name>, <#C123|general>, <!here>, <!subteam^S123|@team>, <!date^…|fallback>
_ENTITY = re.compile(r"<([^<>]*)>")


def unescape(text: str) -> str:
    """Turn Slack's markup back into plain text: links, mentions and &amp; &lt; &gt;."""
    return _decode_entities(_ENTITY.sub(_plain, text))


def _plain(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        special = target[1:].split("^")[0]
        return label or f"@{special}"
    return label or target  # a link: Slack shows the label the person typed, else the address


def typed(text: str) -> str:
    """A draft's words from /draft, as typed: refuses Slack markup whose meaning X would not see (mentions, links
    whose words are not their address); links Slack made of a typed address stay as typed."""
    for match in _ENTITY.finditer(text):
        _refuse_if_not_typed(match.group(1))
    return unescape(text)


_SCHEMES = ("https://", "http://", "mailto:")  # what Slack puts before an address or an e-mail someone typed bare


def _refuse_if_not_typed(inner: str) -> None:
    target, _, label = inner.partition("|")
    shown = escape(_decode_entities(label))
    if target.startswith("@"):
        who = f"@{shown}" if label else f"<{target}>"  # Slack shows the person's name
        raise SlackMention(
            f"X does not know Slack users: {who} would reach nobody there. Write the X handle instead, "
            "as it is on X (e.g. @handle), typed without picking anyone from Slack's list."
        )
    if target.startswith("#"):
        raise SlackMention(
            f"#{shown or escape(target[1:])} is a Slack channel, which means nothing on X. For a hashtag, "
            "type it without picking the channel from Slack's list, or write the draft in the form "
            "(/draft with no text), which keeps it as typed."
        )
    if target.startswith("!"):
        special = target[1:].split("^")[0]
        what = (
            f"the Slack user group {shown or escape(target[1:].split('^')[-1])}"
            if special == "subteam"
            else f"@{escape(special)}"
        )
        raise SlackMention(f"{what[0].upper()}{what[1:]} notifies people in Slack and means nothing on X; leave it out.")
    address, words = _decode_entities(target), _decode_entities(label)
    if label and words != address and not any(address == scheme + words for scheme in _SCHEMES):
        raise DisguisedLink(
            f"The link “{escape(words)}” leads to {escape(address)}, not to what it says. X shows a link's "
            f"address, not words over it: write the address itself, e.g. {escape(address)}"
        )


def _decode_entities(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape(text: str) -> str:
    """Make text safe inside Slack mrkdwn: only &, < and > need it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
