"""Images from Slack: files shared in a review card's thread attach to its draft; `download` serves the modals too."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import images
from bot.desk import Desk
from bot.errors import BadImage, SlackUnavailable
from bot.images import MAX_BYTES, Image
from handlers import slack_text

# Slack sends a file shared in a channel's thread as a `message` event (subtype file_share); the app
# subscribes to these (public and private channels) and needs the history and files:read scopes for them.
SUBSCRIPTIONS = ("message.channels", "message.groups")
SCOPES = ("channels:history", "groups:history", "files:read")


def register(app: App, desk: Desk) -> None:
    """Attach images shared in a review card's thread to its draft (author or admin, before it goes out)."""
    shares = ThreadShares(desk)
    app.event("message", matchers=[with_files])(shares.shared)
    app.event("message")(other_message)  # after the one above: Bolt runs the first listener that matches


class ThreadShares:
    """Files shared in a review card's thread: checked from Slack's description before the 200, fetched after it."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def shared(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """Before the 200, only what Slack's event already says: whose draft, who shares, what the files claim to be.
        The courier fetches them afterwards (kept in the outbox meanwhile, so a crash loses none)."""
        desk = self.desk
        thread_ts, files = event.get("thread_ts"), [f for f in event.get("files") or [] if _is_image(f)]
        if not thread_ts or not files or not event.get("user"):
            return
        draft = desk.media.draft_on_card(event["channel"], thread_ts)
        if draft is None:
            return  # a thread that is not a review card's
        desk.core.check_can_edit(draft, event["user"], "attach images to")  # who asks, before what they sent is judged
        for file in files:
            described(file)
        files = described_in_words(files, slack_text.typed(event.get("text") or ""))
        desk.media.attach_later(
            draft.id, event["user"], files, event_id=body.get("event_id"), channel=event["channel"], thread_ts=thread_ts
        )


def other_message(event: dict[str, Any]) -> None:
    """Every other message in the review channels arrives too (the subscription is per channel): nothing to do."""


def with_files(event: dict[str, Any]) -> bool:
    """A message that carries files (subtype file_share, though some clients send files without it)."""
    return bool(event.get("files"))


def described_in_words(shared: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """Each file with its alt text (`alt_txt`, as Slack names a file's): the lines written with them, one per image in
    order, else what Slack already has for the file; BadAltText when an image would go out undescribed."""
    names = [_name(f) for f in shared]
    alts = images.alt_lines(text, names) if text.strip() else [str(f.get("alt_txt") or "") for f in shared]
    for name, alt in zip(names, alts, strict=True):
        images.check_alt(name, alt)
    return [{**f, "alt_txt": alt} for f, alt in zip(shared, alts, strict=True)]


def _name(file: dict[str, Any]) -> str:
    return str(file.get("name") or file.get("title") or file.get("id") or "image")


def described(file: dict[str, Any]) -> None:
    """What the file's description already shows X would refuse (BadImage), before a byte of it is fetched."""
    images.check_described(
        file.get("name") or file.get("title") or file.get("id") or "image",
        str(file.get("mimetype") or ""),
        int(file.get("size") or 0),
    )


def download(client: WebClient, file: dict[str, Any]) -> Image:
    """A Slack file object (from an event, or a file_input's state) as a checked Image, fetched with the bot's token."""
    alt = str(file.get("alt_txt") or "")  # as the person wrote it with the file (described_in_words)
    if not file.get("url_private"):
        try:
            file = client.files_info(file=file["id"])["file"]
        except SlackApiError as e:
            raise BadImage(
                f"Slack would not show copydesk the file {file.get('name') or file.get('id')} ({e.response.get('error')})."
            ) from None
    name = file.get("name") or file.get("title") or file.get("id") or "image"
    if (file.get("size") or 0) > MAX_BYTES:
        raise BadImage(f"{name} is {file['size'] / 1024 / 1024:.1f} MB; X takes images up to {MAX_BYTES / 1024 / 1024:.1f} MB.")
    url = file.get("url_private_download") or file["url_private"]
    if file.get("is_external") or urlsplit(url).netloc not in _slack_hosts(client):
        # a remote file's url_private is someone else's server: the bot token must never go there
        raise BadImage(f"{name} is not stored in Slack; upload the image itself to the card's thread.")
    try:
        # requests drops the Authorization header if Slack ever redirects to another host
        with requests.get(
            url, headers={"Authorization": f"Bearer {client.token}"}, timeout=client.timeout, stream=True
        ) as response:
            if response.status_code >= 500 or response.status_code == 429:  # Slack's trouble, not the file's: later
                raise SlackUnavailable(
                    f"{name} could not be downloaded from Slack (HTTP {response.status_code}); try again in a moment."
                )
            if response.status_code != 200 or response.headers.get("Content-Type", "").startswith("text/html"):
                raise BadImage(
                    f"Slack would not let copydesk download {name} (HTTP {response.status_code}); "
                    "the app needs the files:read scope."
                )
            data = response.raw.read(MAX_BYTES + 1, decode_content=True)
    except requests.RequestException as e:
        raise SlackUnavailable(
            f"{name} could not be downloaded from Slack ({type(e).__name__}); try again in a moment."
        ) from None
    return Image.of(name, data, slack_file_id=file.get("id"), alt=alt)


def _slack_hosts(client: WebClient) -> set[str]:
    """Where Slack keeps files: files.slack.com, or the host SLACK_API_URL points at (a test's loopback Slack)."""
    return {"files.slack.com", urlsplit(client.base_url).netloc}


def _is_image(file: dict[str, Any]) -> bool:
    """Only image files count; a PDF shared in the discussion is not meant for the post."""
    return str(file.get("mimetype", "")).startswith("image/")
