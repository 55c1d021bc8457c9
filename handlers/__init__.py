"""Slack surfaces, one module each: acknowledge, call the desk, render, reply."""

from __future__ import annotations

from slack_bolt import App

from bot.desk import Desk
from handlers import actions, commands, events, files, home, views
from handlers.later import Later


def register(app: App, desk: Desk, later: Later) -> None:
    """Attach every listener copydesk has to `app`; `later` runs what follows an acknowledgement."""
    commands.register(app, desk, later)
    events.register(app, desk)
    actions.register(app, desk, later)
    home.register(app, desk, later)
    views.register(app, desk)
    files.register(app, desk)
