"""Slack-backed implementations of the domain's Notifier and Directory ports."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.digest import Report
from bot.errors import DigestNotPosted, SlackFailed, SlackUnavailable
from bot.images import Image
from bot.ports import Announcement, CardMark, CardRef, Change, DraftView
from bot.weekly import WeeklyReport
from handlers import digest_render, files, render, weekly_render

log = logging.getLogger(__name__)

LINKS_KEPT = 10_000  # card permalinks remembered; beyond that the memory starts over
FIND_PAGES = 5  # pages of channel history searched for a digest whose sending was interrupted
MEMBERS_PAGE = 200  # channel members asked per conversations.members call


CARD_EVENT = "copydesk_card"  # the metadata a review card carries: its draft and version
MESSAGE_EVENT = "copydesk_message"  # the metadata every other outbox message carries: its tag
FIND_AFTER = 100  # messages a page, after a weekly report, looked through for its chart (a restart, a lost answer)
SHARE_WAITS = (0.25, 0.5, 1.0, 1.5)  # seconds between looks for a chart Slack may still be sharing (3.25 s in all)
# Slack's errors that no second try can mend; anything else (not_in_channel, ratelimited, a 5xx) is tried again later.
PERMANENT = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "is_archived",
        "user_not_found",
        "cannot_dm_bot",
        "user_disabled",
    }
)


class SlackNotifier:
    """Posts and updates review cards, replies in their threads and messages authors.

    `poster` makes the outbox's calls and posts the digests and weekly reports: it retries nothing itself, because a
    message Slack answered with a 5xx (or never answered) may be there, and is looked up (by its tag, by its metadata)
    before it is sent again. `client` (with the usual retries) serves reads.
    """

    def __init__(self, client: WebClient, *, approve: str, reject: str, poster: WebClient | None = None) -> None:
        self.client = client
        self.poster = poster or client
        self.approve = approve
        self.reject = reject
        self._links: dict[CardRef, str] = {}
        self._ims: dict[str, str] = {}  # user → their direct-message channel with the bot
        self._bot_id: str | None = None  # copydesk's own bot id (auth.test): only its own messages are cards or tagged

    def post_card(self, view: DraftView) -> CardRef:
        """Post the card with metadata naming its draft and version, so it is known before its ts is stored."""
        text, blocks = render.card(view, self.approve, self.reject)
        metadata = {"event_type": CARD_EVENT, "event_payload": {"draft_id": view.draft.id, "version": view.draft.version}}
        response = self._call(
            "chat_postMessage",
            channel=view.account.review_channel,
            text=text,
            blocks=blocks,
            metadata=metadata,
            unfurl_links=False,
            unfurl_media=False,
        )
        return CardRef(channel=response["channel"], ts=response["ts"])

    def find_card(self, channel: str, draft_id: int, version: int) -> CardRef | None:
        """The card of that draft version among the channel's latest messages (a try whose answer was lost)."""
        for message in self._looked_up(self._history(channel)):
            mark = _card_mark(message) if self._own(message) else None
            if mark is not None and mark.draft_id == draft_id and mark.version == version:
                return CardRef(channel, str(message["ts"]))
        return None

    def card_mark(self, channel: str, ts: str) -> CardMark | None:
        """Read the one message `ts` with its metadata; a thread reply or another app's message is no card."""
        page = self._call(
            "conversations_history", channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1, include_all_metadata=True
        )
        for message in page.get("messages", []):
            if message.get("ts") == ts:
                return _card_mark(message) if self._own(message) else None  # metadata anyone's app could have written
        return None

    def _own(self, message: dict[str, Any]) -> bool:
        """Whether copydesk posted the message: another app may post the same metadata, and a vote must not follow it."""
        if self._bot_id is None:
            self._bot_id = str(self._call("auth_test").get("bot_id") or "")
        return bool(self._bot_id) and message.get("bot_id") == self._bot_id

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

    def redraw(self, card: CardRef, view: DraftView) -> None:
        """Update the card in place."""
        text, blocks = render.card(view, self.approve, self.reject)
        self._call("chat_update", channel=card.channel, ts=card.ts, text=text, blocks=blocks)

    def reply(self, card: CardRef, view: DraftView, change: Change, tag: str) -> None:
        """A reply in the card's thread saying what changed."""
        self._post(tag, channel=card.channel, thread_ts=card.ts, text=render.thread_reply(view, change))

    def remind(self, card: CardRef, view: DraftView, editors: list[str], tag: str) -> None:
        """A reply in the card's thread that mentions the editors still to vote."""
        self._post(tag, channel=card.channel, thread_ts=card.ts, text=render.reminder(view, editors))

    def tell_author(self, view: DraftView, change: Change, tag: str) -> None:
        """A direct message to the author, when the change is news to them."""
        note = render.author_note(view, change)
        if note:
            self._post(tag, channel=view.draft.author_id, text=note)

    def confirm(self, view: DraftView, link: str | None, tag: str) -> None:
        """The author's direct message once the card of a draft written in the form is up."""
        self._post(tag, channel=view.draft.author_id, text=render.in_review(view, link))

    def retire_card(self, card: CardRef, view: DraftView, replaced_by: str | None) -> None:
        """Turn an edited draft's old card into a pointer to the new one."""
        text, blocks = render.replaced_card(view, replaced_by)
        self._call("chat_update", channel=card.channel, ts=card.ts, text=text, blocks=blocks)

    def fetch_image(self, file: Mapping[str, Any]) -> Image:
        """Download with the bot token (handlers.files.download), on the client that retries what is safe to retry."""
        return files.download(self.client, dict(file))

    def tell_privately(self, user: str, text: str, tag: str, *, channel: str | None = None, thread_ts: str | None = None) -> None:
        """An ephemeral message in the channel (or its thread), or a direct message."""
        if channel:
            self._call("chat_postEphemeral", channel=channel, user=user, text=text, thread_ts=thread_ts)
        else:
            self._post(tag, channel=user, text=text)

    def note(self, card: CardRef, text: str) -> None:
        """A plain reply in the card's thread, outside the outbox."""
        self._call("chat_postMessage", channel=card.channel, thread_ts=card.ts, text=text)

    def announce(self, channel: str, announcement: Announcement, tag: str) -> None:
        """A message to the whole review channel; the admin's reason is shown as typed, never as Slack markup."""
        if announcement.text is not None:
            self._post(tag, channel=channel, text=announcement.text)
            return
        text, blocks = render.announcement(announcement)
        self._post(tag, channel=channel, text=text, blocks=blocks)

    def find_tagged(self, channel: str, tag: str, *, thread_ts: str | None = None) -> bool:
        """Look for the tag among the thread's replies, the channel's latest messages, or the user's direct messages."""
        if thread_ts is not None:
            messages = self._pages("conversations_replies", channel=channel, ts=thread_ts)
        else:
            messages = self._dm_history(channel) if channel[:1] in ("U", "W") else self._history(channel)
        return any(_tag(message) == tag and self._own(message) for message in self._looked_up(messages))

    def _looked_up(self, messages: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Messages from a lookup; an app installed without the scope to look (im:history…) cannot look: it sends,
        with a warning, rather than hold everything behind it for a day."""
        try:
            yield from messages
        except SlackFailed as e:
            if e.code not in ("missing_scope", "not_in_channel"):
                raise
            log.warning("could not look for an earlier try (%s): sending it; reinstall the app with the manifest's scopes", e)

    def _post(self, tag: str, **message: Any) -> None:
        self._call(
            "chat_postMessage",
            metadata={"event_type": MESSAGE_EVENT, "event_payload": {"tag": tag}},
            unfurl_links=False,
            unfurl_media=False,
            **message,
        )

    def _im(self, user: str) -> str:
        if user not in self._ims:
            self._ims[user] = self._call("conversations_open", users=user)["channel"]["id"]
        return self._ims[user]

    def _dm_history(self, user: str) -> Iterator[dict[str, Any]]:
        """The bot's direct messages with `user`, newest first (opened lazily, inside the lookup)."""
        yield from self._history(self._im(user))

    def _history(self, channel: str) -> Iterator[dict[str, Any]]:
        return self._pages("conversations_history", channel=channel)

    def _pages(self, method: str, **args: Any) -> Iterator[dict[str, Any]]:
        """Newest first for a channel, oldest first for a thread; FIND_PAGES pages at most."""
        cursor = None
        for _ in range(FIND_PAGES):
            page = self._call(method, limit=200, include_all_metadata=True, cursor=cursor, **args)
            yield from page.get("messages", [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return

    def _call(self, method: str, **args: Any) -> Any:
        """One Web API call from the outbox, its failure as SlackFailed (with Slack's Retry-After on a 429)."""
        try:
            return getattr(self.poster, method)(**args)
        except SlackApiError as e:
            error = e.response.get("error") if isinstance(e.response.data, dict) else None
            status = e.response.status_code
            wait = e.response.headers.get("Retry-After") or e.response.headers.get("retry-after") if status == 429 else None
            raise SlackFailed(
                f"Slack's {method.replace('_', '.', 1)} said {error or f'HTTP {status}'}",
                code=error,
                permanent=error in PERMANENT,
                retry_after=float(wait) if wait and wait.isdigit() else None,
            ) from None

    def post_digest(self, channel: str, report: Report) -> str:
        """Post a digest with metadata naming its scope and day; DigestNotPosted when Slack refuses it."""
        text, blocks = digest_render.digest(report)
        return self._post_report(channel, "the digest", text, blocks, digest_render.metadata(report))

    def post_weekly(self, channel: str, report: WeeklyReport, chart: bytes | None) -> str:
        """Post the weekly report's message (metadata as a digest's), then its chart right under it in the channel.

        The message is what is recorded and found again after a crash. A chart Slack will not take is noted on the message;
        the report itself never waits on it.
        """
        text, blocks = weekly_render.weekly(report, chart_problem=None if chart else "it could not be drawn")
        ts = self._post_report(channel, "the weekly report", text, blocks, weekly_render.metadata(report))
        if chart is not None:
            self._attach_chart(channel, ts, report, chart)
        return ts

    def _post_report(self, channel: str, what: str, text: str, blocks: list[dict[str, Any]], metadata: dict[str, Any]) -> str:
        """One report's message, found again by its metadata. DigestNotPosted when Slack refused it (ok: false, or a
        429: it did nothing); SlackUnavailable when its answer was a 5xx or never came, so it may be in the channel."""
        try:
            response = self.poster.chat_postMessage(
                channel=channel, text=text, blocks=blocks, metadata=metadata, unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as e:
            status = e.response.status_code
            if status in (200, 429):
                raise DigestNotPosted(f"Slack refused {what} in {channel}: {e.response.get('error') or status}") from None
            raise SlackUnavailable(
                f"Slack answered HTTP {status} to {what} in {channel}: it may be there all the same; look before posting it again"
            ) from None
        except (SlackClientError, OSError, HTTPException) as e:  # the connection dropped or timed out: sent, no answer
            raise SlackUnavailable(
                f"Slack did not answer {what} in {channel} ({type(e).__name__}): it may be there all the same; look before "
                "posting it again"
            ) from None
        return str(response["ts"])

    def finish_weekly(self, channel: str, ts: str, report: WeeklyReport, chart: bytes | None) -> None:
        """After a restart found the report's message: its chart, unless Slack already shows it under the message (or
        cannot show whether it does: a second chart is worse than none, and the report says so)."""
        if chart is None:
            return
        try:
            if self._chart_shown(channel, ts, report):
                return
        except ChartUnknown as e:
            log.warning("whether the weekly chart is in %s could not be told (%s); not attached again", channel, e)
            self._say_chart_missing(channel, ts, report, f"Slack could not show whether it is there ({e})")
            return
        self._attach_chart(channel, ts, report, chart)

    def _chart_shown(self, channel: str, ts: str, report: WeeklyReport) -> bool:
        """Whether the report's chart (by its file name) is among the messages from the report's on; ChartUnknown when
        Slack cannot show it, or more came after the report than FIND_PAGES pages hold."""
        name = weekly_render.filename(report)
        cursor = None
        try:
            for _ in range(FIND_PAGES):  # everything after the message, newest first, page by page, as find_digest looks
                page = self.client.conversations_history(
                    channel=channel, oldest=ts, inclusive=True, limit=FIND_AFTER, cursor=cursor
                )
                messages: list[dict[str, Any]] = page.get("messages", [])
                if any(f.get("name") == name for m in messages for f in m.get("files") or []):
                    return True
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not page.get("has_more") or not cursor:
                    return False
        except SlackApiError as e:
            raise ChartUnknown(f"Slack said {e.response.get('error') or e.response.status_code}") from None
        except (SlackClientError, OSError, HTTPException) as e:
            raise ChartUnknown(type(e).__name__) from None
        raise ChartUnknown(f"more than {FIND_PAGES * FIND_AFTER} messages came after the report")

    def _attach_chart(self, channel: str, ts: str, report: WeeklyReport, chart: bytes) -> None:
        """files_upload_v2 (getUploadURLExternal, the bytes, completeUploadExternal), not retried: a share Slack answered
        with a 5xx (or never answered) is looked for under the report before it is called missing there."""
        try:
            self.poster.files_upload_v2(
                channel=channel,
                file=chart,
                filename=weekly_render.filename(report),
                title=weekly_render.title(report),
                alt_txt=weekly_render.alt_text(report),
                initial_comment=weekly_render.caption(report),
                request_file_info=False,  # shared already: a files.info that failed would call a chart there missing
            )
            return
        except SlackApiError as e:
            problem = f"Slack said {e.response.get('error') or e.response.status_code}"
            refused = e.response.status_code == 200  # ok: false: Slack did not share it
        except HTTPError as e:  # the upload URL refused the bytes: nothing was shared; the URL itself is never repeated
            problem, refused = f"the upload failed with HTTP {e.code}", True
        except (SlackClientError, OSError, HTTPException) as e:  # a connection dropped or timed out, at any step
            problem, refused = f"the upload failed ({type(e).__name__})", False
        if not refused and self._shown_after_all(channel, ts, report, problem):
            return
        log.warning("the weekly chart was not attached in %s (%s); the report's text stands alone", channel, problem)
        self._say_chart_missing(channel, ts, report, problem)

    def _shown_after_all(self, channel: str, ts: str, report: WeeklyReport, problem: str) -> bool:
        """Whether a chart whose upload ended without a proper answer is under the report anyway (Slack shared it).
        Slack shares a completed upload asynchronously, so it is looked for again for a few seconds before it is not."""
        try:
            shown = self._chart_shown(channel, ts, report)
            for wait in SHARE_WAITS:
                if shown:
                    break
                time.sleep(wait)
                shown = self._chart_shown(channel, ts, report)
        except ChartUnknown as e:
            log.warning(
                "the weekly chart's upload in %s ended with %s, and whether it is there could not be told (%s)",
                channel,
                problem,
                e,
            )
            return False
        if shown:
            log.info("the weekly chart's upload in %s ended with %s, but Slack shows it under the report", channel, problem)
        return shown

    def _say_chart_missing(self, channel: str, ts: str, report: WeeklyReport, problem: str) -> None:
        """The report's message says its chart is not there, and why: its table holds everything the chart shows."""
        text, blocks = weekly_render.weekly(report, chart_problem=problem)
        try:
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as e:
            log.warning("the weekly report in %s could not say its chart is missing: %s", channel, e.response.get("error"))

    def find_digest(self, channel: str, scope: str, day: date, kind: str = "daily") -> str | None:
        """Look through the channel's latest messages for one carrying the digest's (or weekly report's) metadata.

        Newest first and bounded (FIND_PAGES), rather than from the claim's time: Slack's timestamps are its clock, not ours.
        """
        wanted = {"scope": scope, "kind": kind, "day": day.isoformat()}
        what = "weekly report" if kind == "weekly" else "digest"
        cursor = None
        try:
            for _ in range(FIND_PAGES):
                page = self.client.conversations_history(channel=channel, limit=200, include_all_metadata=True, cursor=cursor)
                messages: list[dict[str, Any]] = page.get("messages", [])
                for message in messages:
                    meta = message.get("metadata") or {}
                    if meta.get("event_type") == digest_render.EVENT_TYPE and meta.get("event_payload") == wanted:
                        return str(message["ts"])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not page.get("has_more") or not cursor:
                    return None
        except SlackApiError as e:
            raise SlackUnavailable(
                f"Slack could not show {channel}'s history ({e.response.get('error')}) to tell whether the {what} went out"
            ) from None
        raise SlackUnavailable(f"{channel} has too many newer messages to tell whether the {what} went out")


class ChartUnknown(Exception):
    """Whether the weekly chart is under its report cannot be told; the message says why."""


def _card_mark(message: dict[str, Any]) -> CardMark | None:
    meta = message.get("metadata") or {}
    payload = meta.get("event_payload") or {}
    if meta.get("event_type") != CARD_EVENT:
        return None
    try:
        return CardMark(int(payload["draft_id"]), int(payload["version"]))
    except (KeyError, TypeError, ValueError):
        return None


def _tag(message: dict[str, Any]) -> str | None:
    meta = message.get("metadata") or {}
    return (meta.get("event_payload") or {}).get("tag") if meta.get("event_type") == MESSAGE_EVENT else None


class SlackDirectory:
    """Users' time zones and user groups' members, cached to keep Slack off the path of an acknowledgement.

    An answer older than `ttl_seconds` is still used at once, and asked again through `refresh` (after the
    acknowledgement); only what was never asked waits for Slack, on a client that neither retries nor sleeps out a rate
    limit. When Slack cannot be asked, the last answer it gave is used however old it is: an editor group that cannot
    be read must not silently turn its members' votes away.
    """

    def __init__(
        self, client: WebClient, *, ttl_seconds: float = 300, refresh: Callable[[Callable[[], None]], None] | None = None
    ) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self._refresh = refresh or (lambda ask: ask())
        self._cache: dict[str, tuple[float, Any]] = {}
        self._asking: set[str] = set()  # stale keys being asked again
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

    def members_of_channel(self, channel_id: str) -> frozenset[str]:
        """The channel's members, every page of them; SlackUnavailable when Slack cannot say (not in it, missing scope).

        A stale answer is used while it is asked again, but one Slack then cannot confirm is forgotten: who may read a
        channel's drafts is never taken from an answer Slack has stopped giving.
        """
        try:
            return self._cached(f"channel:{channel_id}", lambda: self._channel_members(channel_id), keep_on_failure=False)
        except (SlackApiError, OSError) as e:
            error = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
            raise SlackUnavailable(f"Slack could not say who is in {channel_id} ({error})") from None

    def _channel_members(self, channel_id: str) -> frozenset[str]:
        members: set[str] = set()
        cursor = None
        while True:
            page = self.client.conversations_members(channel=channel_id, limit=MEMBERS_PAGE, cursor=cursor)
            members.update(page.get("members", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return frozenset(members)

    def forget(self) -> None:
        """Drop every answer, so the next question about each waits for Slack as after a restart: for tests of a first
        question, and for a caller that must not use an answer Slack may have changed since (a group just edited)."""
        with self._lock:
            self._cache.clear()

    def _cached(self, key: str, fetch: Callable[[], Any], *, keep_on_failure: bool = True) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            stale = hit is not None and now - hit[0] >= self.ttl and key not in self._asking
            if stale:
                self._asking.add(key)
        if hit is None:
            return self._ask(key, fetch)
        if stale:
            self._refresh(lambda: self._ask_again(key, fetch, keep_on_failure))
        return hit[1]

    def _ask(self, key: str, fetch: Callable[[], Any]) -> Any:
        value = fetch()
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def _ask_again(self, key: str, fetch: Callable[[], Any], keep_on_failure: bool = True) -> None:
        """Refresh a stale answer; if Slack fails, the old one stays (or, without `keep_on_failure`, is forgotten)."""
        try:
            self._ask(key, fetch)
        except (SlackApiError, OSError) as e:
            error = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
            if keep_on_failure:
                log.warning("Slack failed (%s); using what it said about %s before", error, key)
            else:
                log.warning("Slack failed (%s); forgetting what it said about %s", error, key)
                with self._lock:
                    self._cache.pop(key, None)
        finally:
            with self._lock:
                self._asking.discard(key)
