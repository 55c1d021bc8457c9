"""The Slack app manifest, built from what copydesk actually listens to."""

from __future__ import annotations

from typing import Any

from handlers import commands, events, files, home

SCOPES = (
    "chat:write",  # review cards, thread replies, messages to authors
    "commands",  # /draft
    "reactions:read",  # votes
    "users:read",  # authors' time zones
    "usergroups:read",  # editors given as a user group
    "channels:read",  # who is in a public review channel: only they (and editors, admins) see its drafts' text
    "groups:read",  # the same for a private review channel
    *files.SCOPES,  # images shared in a review card's thread; channels:history also lets a digest be found after a crash
    "im:write",  # find the direct-message channel with an author, to look a message up before sending it again
    "im:history",  # and read it: a message to an author whose answer was lost is never sent twice
    "files:write",  # the weekly report's chart (files_upload_v2)
)


def manifest(*, name: str = "copydesk", url: str | None = None) -> dict[str, Any]:
    """Socket Mode when `url` is None; otherwise HTTP mode with Slack calling `url`/slack/events."""
    request_url = f"{url.rstrip('/')}/slack/events" if url else None
    command: dict[str, Any] = {
        "command": commands.COMMAND,
        "description": commands.DESCRIPTION,
        "usage_hint": commands.USAGE_HINT,
        "should_escape": False,
    }
    event_subscriptions: dict[str, Any] = {"bot_events": [*events.EVENTS, *home.EVENTS, *files.SUBSCRIPTIONS]}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if request_url:
        command["url"] = request_url
        event_subscriptions["request_url"] = request_url
        interactivity["request_url"] = request_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Nothing goes out on X until the editors have looked at it.",
        },
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": True, "messages_tab_read_only_enabled": True},
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(SCOPES)}},
        "settings": {
            "event_subscriptions": event_subscriptions,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }
