"""/draft: acknowledge, turn the command into a desk call, answer privately."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot import commands
from bot.commands import Compose
from bot.service import Desk
from handlers import render
from handlers.slack_text import unescape

COMMAND = "/draft"
DESCRIPTION = "Write a post for the team's X account; editors approve it before it goes out"
USAGE_HINT = "[to:ACCOUNT] [at:WHEN] TEXT  ·  help  ·  list"


def register(app: App, desk: Desk) -> None:
    """Bind /draft to the desk."""

    def draft(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        parsed = commands.parse(unescape(command.get("text", "")))
        if isinstance(parsed, Compose):
            _compose(desk, parsed, command, ack, respond)
        elif parsed.name == "help":
            ack(text=commands.help_text(desk.config.approve_reactions[0], desk.config.reject_reactions[0]), response_type="ephemeral")
        elif parsed.name == "list":
            ack(text=render.pending_list(desk.pending()), response_type="ephemeral")

    app.command(COMMAND)(draft)


def _compose(desk: Desk, parsed: Compose, command: dict[str, Any], ack: Ack, respond: Respond) -> None:
    """Acknowledge at once: checking a draft may ask Slack (time zones, editor groups) and must not
    push the answer past Slack's 3 seconds. What follows answers privately through response_url."""
    ack()
    draft = desk.submit(
        author_id=command["user_id"],
        text=parsed.text,
        account=parsed.account,
        at=parsed.at,
        origin_channel=command.get("channel_id"),
    )
    view, link = desk.open_review(draft.id)
    respond(text=render.in_review(view, link), response_type="ephemeral")
