"""The App Home: whether publishing is paused, and what is open, for whoever opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.service import Desk
from handlers import render
from handlers.later import Later

EVENTS = ("app_home_opened",)  # the manifest subscribes to these


def register(app: App, desk: Desk, later: Later) -> None:
    """Publish the home tab each time someone opens it, after Slack has its 200 (drawing it reads Slack for card links)."""

    def opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        later(publish, desk, client, event["user"])

    for name in EVENTS:
        app.event(name)(opened)


def publish(desk: Desk, client: WebClient, user: str) -> None:
    """Draw `user`'s App Home as the ledger is now."""
    client.views_publish(user_id=user, view=render.home(desk.overview(user)))
