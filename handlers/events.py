"""Reactions on review cards: each one is a vote, or taking one back."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.desk import Desk

# The manifest subscribes to exactly these, so the two cannot drift apart.
EVENTS = ("reaction_added", "reaction_removed")


def register(app: App, desk: Desk) -> None:
    """Bind reaction events to the desk's vote counting."""
    reactions = Reactions(desk)
    for name in EVENTS:
        app.event(name)(reactions.counted)


class Reactions:
    """A reaction added or removed on a message: the desk decides whether it is a vote on a card."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def counted(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        item = event.get("item", {})
        if item.get("type") != "message":
            return
        self.desk.voting.react(
            user_id=event["user"],
            reaction=event["reaction"],
            channel=item["channel"],
            ts=item["ts"],
            added=event["type"] == "reaction_added",
            event_id=body.get("event_id"),
        )
