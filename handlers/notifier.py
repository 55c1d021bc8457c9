"""Slack-backed implementations of the domain's Notifier and Directory ports."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digest import Report
from bot.errors import CardNotPosted, DigestNotPosted, SlackUnavailable
from bot.ports import CardRef, Change, DraftView
from handlers import digest_render, render

log = logging.getLogger(__name__)

LINKS_KEPT = 10_000  # card permalinks remembered; beyond that the memory starts over
FIND_PAGES = 5  # pages of channel history searched for a digest whose sending was interrupted


class SlackNotifier:
    """Posts and updates review cards, replies in their threads and messages authors."""

    def __init__(self, client: WebClient, *, approve: str, reject: str) -> None:
        self.client = client
        self.approve = approve
        self.reject = reject
        self._links: dict[CardRef, str] = {}

    def post_card(self, view: DraftView) -> CardRef:
        """Post the card, or raise CardNotPosted with Slack's reason."""
        text, blocks = render.card(view, self.approve, self.reject)
        try:
            response = self.client.chat_postMessage(
                channel=view.account.review_channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as e:
            raise CardNotPosted(str(e.response.get("error") or e.response.status_code)) from None
        return CardRef(channel=response["channel"], ts=response["ts"])

    def permalink(self, card: CardRef) -> str | None:
        """A link to the card, or None when Slack will not give one; a card's link never changes, so it is kept."""
        if (found := self._links.get(card)) is not None:
            return found
        try:
            link = self.client.chat_getPermalink(channel=card.channel, message_ts=card.ts)["permalink"]
        except SlackApiError as e:
            log.warning("no permalink for %s/%s: %s", card.channel, card.ts, e.response.get("error"))
            return None
        if len(self._links) >= LINKS_KEPT:
            self._links.clear()
        self._links[card] = link
        return link

    def refresh(self, view: DraftView, change: Change | None) -> None:
        """Update the card in place; on a state change also reply in its thread and tell the author."""
        draft = view.draft
        assert draft.card_ts is not None
        text, blocks = render.card(view, self.approve, self.reject)
        self.client.chat_update(channel=draft.review_channel, ts=draft.card_ts, text=text, blocks=blocks)
        if change is None:
            return
        self.client.chat_postMessage(
            channel=draft.review_channel, thread_ts=draft.card_ts, text=render.thread_reply(view, change)
        )
        note = render.author_note(view, change)
        if note:
            self.client.chat_postMessage(channel=draft.author_id, text=note)

    def retire_card(self, card: CardRef, view: DraftView, replaced_by: str | None) -> None:
        """Turn an edited draft's old card into a pointer to the new one."""
        text, blocks = render.replaced_card(view, replaced_by)
        self.client.chat_update(channel=card.channel, ts=card.ts, text=text, blocks=blocks)

    def remind(self, view: DraftView, editors: list[str]) -> None:
        """A reply in the card's thread that mentions the editors still to vote."""
        assert view.draft.card_ts is not None
        self.client.chat_postMessage(channel=view.draft.review_channel, thread_ts=view.draft.card_ts, text=render.reminder(view, editors))

    def announce(self, channel: str, text: str) -> None:
        """A message to the whole review channel."""
        self.client.chat_postMessage(channel=channel, text=text)

    def post_digest(self, channel: str, report: Report) -> str:
        """Post a digest with metadata naming its scope and day; DigestNotPosted when Slack refuses it."""
        text, blocks = digest_render.digest(report)
        try:
            response = self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, metadata=digest_render.metadata(report),
                unfurl_links=False, unfurl_media=False,
            )
        except SlackApiError as e:
            raise DigestNotPosted(f"Slack refused the digest in {channel}: {e.response.get('error') or e.response.status_code}") from None
        return str(response["ts"])

    def find_digest(self, channel: str, scope: str, day: date) -> str | None:
        """Look through the channel's latest messages for one carrying the digest's metadata.

        Newest first and bounded (FIND_PAGES), rather than from the claim's time: Slack's timestamps are its clock, not ours.
        """
        wanted = {"scope": scope, "kind": "daily", "day": day.isoformat()}
        cursor = None
        try:
            for _ in range(FIND_PAGES):
                page = self.client.conversations_history(channel=channel, limit=200, include_all_metadata=True, cursor=cursor)
                for message in page.get("messages", []):
                    meta = message.get("metadata") or {}
                    if meta.get("event_type") == digest_render.EVENT_TYPE and meta.get("event_payload") == wanted:
                        return str(message["ts"])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not page.get("has_more") or not cursor:
                    return None
        except SlackApiError as e:
            raise SlackUnavailable(
                f"Slack could not show {channel}'s history ({e.response.get('error')}) to tell whether the digest went out"
            ) from None
        raise SlackUnavailable(f"{channel} has too many newer messages to tell whether the digest went out")


class SlackDirectory:
    """Users' time zones and user groups' members, cached briefly to spare Slack's rate limits.

    When Slack cannot be asked, the last answer it gave is used however old it is: an editor group
    that cannot be read must not silently turn its members' votes away.
    """

    def __init__(self, client: WebClient, *, ttl_seconds: float = 300) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def timezone_of(self, user_id: str) -> ZoneInfo | None:
        """The profile's IANA zone; None when Slack has none or cannot be asked."""
        try:
            name = self._cached(f"tz:{user_id}", lambda: self.client.users_info(user=user_id)["user"].get("tz") or "")
        except SlackApiError as e:
            log.warning("no time zone for %s (%s); using the configured one", user_id, e.response.get("error"))
            return None
        try:
            return ZoneInfo(name) if name else None
        except (ZoneInfoNotFoundError, ValueError):
            return None

    def members_of(self, group_id: str) -> frozenset[str]:
        """The user group's members, or SlackUnavailable when Slack has never been able to say."""
        try:
            return self._cached(
                f"group:{group_id}", lambda: frozenset(self.client.usergroups_users_list(usergroup=group_id)["users"])
            )
        except SlackApiError as e:
            raise SlackUnavailable(
                f"Slack could not say who is in the editor group {group_id} ({e.response.get('error')}); "
                "nothing was counted, try again in a moment."
            ) from None

    def _cached(self, key: str, fetch: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        try:
            value = fetch()
        except SlackApiError as e:
            if hit:
                log.warning("Slack failed (%s); using what it said about %s before", e.response.get("error"), key)
                return hit[1]
            raise
        with self._lock:
            self._cache[key] = (now, value)
        return value
