"""Slack surfaces, one module each: acknowledge, call the desk, render, reply."""

from __future__ import annotations

from slack_bolt import App

from bot.service import Desk
from handlers import actions, commands, events, files, home, views


def register(app: App, desk: Desk) -> None:
    """Attach every listener copydesk has to `app`."""
    commands.register(app, desk)
    events.register(app, desk)
    actions.register(app, desk)
    home.register(app, desk)
    views.register(app, desk)
    files.register(app, desk)
