"""Undo Slack's escaping of slash-command text, so what reaches X is what the person typed."""

from __future__ import annotations

import re

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


def _decode_entities(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape(text: str) -> str:
    """Make text safe inside Slack mrkdwn: only &, < and > need it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
