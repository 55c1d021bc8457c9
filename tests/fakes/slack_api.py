"""A loopback Slack Web API: enough of it for copydesk, strict about tokens and arguments."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from typing import Any

from tests.fakes.http import Call, RecordingServer, Reply

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
BOT_USER_ID = "U0COPYDESK"
TEAM_DOMAIN = "copydesk-test"


class FakeSlack(RecordingServer):
    """Plays slack.com/api/* and the response_url endpoint; failures can be injected per method."""

    def __init__(self) -> None:
        super().__init__(self._route)
        self.timezones: dict[str, str] = {}
        self.groups: dict[str, list[str]] = {}
        self.channels: dict[str, dict[str, Any]] = {}  # channel → {"members": [...], "private": bool}: add_channel
        self.failures: dict[str, str] = {}
        self.socket_url: str | None = None  # what apps.connections.open hands out
        self.http_failures: dict[str, list[Reply]] = {}  # per method: HTTP-level answers that go first (429, 503)
        self.files: dict[str, dict[str, Any]] = {}  # shared files by id: their object as Slack shows it, and their bytes
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel → its top-level messages, oldest first
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (channel, parent ts) → its replies, oldest first
        self.after_success: dict[str, list[Reply]] = {}  # per method: do the work, then answer this (a 5xx after posting)
        self.on_message: list[Any] = []  # called with each new top-level message the instant it exists, before the answer
        self.down: Reply | None = None  # an outage: every Web API call gets this answer (503, or 429 with Retry-After)
        self.files_down = False  # the file host answers 503
        self.uploads: dict[str, dict[str, Any]] = {}  # files.getUploadURLExternal's file id → its name, length and bytes
        self._shares_held: list[tuple[str, dict[str, Any]]] | None = None  # hold_shares(): completed, not shown yet
        self.upload_refused: int | None = None  # the upload URL answers this status instead of taking the bytes
        self.answer_if: list[tuple[str, Any, Reply]] = []  # (method, which bodies, answer): once, for the first body it fits
        self._holds: dict[str, tuple[threading.Event, Callable[[dict[str, Any]], bool]]] = {}  # hold_next's, per method
        self._held: list[threading.Event] = []
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.url}/respond/{name}"

    # what copydesk said

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """chat.postMessage bodies, optionally only those to one channel (or user, for DMs)."""
        return [c.body for c in self.calls("/api/chat.postMessage") if channel in (None, c.body.get("channel"))]

    def updates(self) -> list[dict[str, Any]]:
        return [c.body for c in self.calls("/api/chat.update")]

    def ephemerals(self) -> list[dict[str, Any]]:
        return [c.body for c in self.calls("/api/chat.postEphemeral")]

    def views(self, method: str = "views.open") -> list[dict[str, Any]]:
        """The views copydesk opened or published, parsed."""
        return [
            json.loads(c.body["view"]) if isinstance(c.body["view"], str) else c.body["view"]
            for c in self.calls(f"/api/{method}")
        ]

    def hold_next(self, method: str, when: Callable[[dict[str, Any]], bool] = lambda _body: True) -> None:
        """The next call of `method` (whose body is `when`) gets no answer until release(): the moment to kill copydesk
        between two calls."""
        with self._lock:
            self._holds[method] = (threading.Event(), when)

    def holding(self) -> int:
        """How many calls are being held unanswered right now (hold_next)."""
        with self._lock:
            return len(self._held)

    def release(self) -> None:
        """Let every held call go (with an error: the process that made it is gone)."""
        with self._lock:
            held, self._held = self._held, []
        for gate in held:
            gate.set()

    def stop(self) -> None:
        self.release()
        super().stop()

    def fail_next(self, method: str, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer the next `times` calls of `method` at the HTTP level, as Slack does when rate limiting (429) or down (5xx)."""
        with self._lock:
            self.http_failures.setdefault(method, []).extend(
                Reply(status, {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}, dict(headers or {}))
                for _ in range(times)
            )

    def add_file(self, name: str, data: bytes, mimetype: str = "image/png") -> dict[str, Any]:
        """A file someone uploaded to Slack: its object as events and file_input states carry it."""
        file_id = f"F0FILE{next(self._file_ids):04d}"
        url = f"{self.url}/files-pri/T0TEAM001-{file_id}/{name}"
        file = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": mimetype.split("/")[-1],
            "size": len(data),
            "url_private": url,
            "url_private_download": url + "?download=1",
        }
        self.files[file_id] = {"file": file, "bytes": data}
        return dict(file)

    def add_channel(self, channel: str, members: list[str], *, private: bool = True) -> None:
        """A channel and who is in it (the bot too, if BOT_USER_ID is among them): what conversations.members answers."""
        with self._lock:
            self.channels[channel] = {"members": list(members), "private": private}

    def responses(self) -> list[dict[str, Any]]:
        """What was posted to response_urls."""
        return [c.body for c in self.calls() if c.path.startswith("/respond/")]

    # the API

    def _route(self, call: Call) -> Reply:
        if call.path.startswith("/respond/"):
            return Reply(200, b"ok", {"Content-Type": "text/plain"})
        if call.path.startswith("/files-pri/"):
            return self._download(call)
        if call.path.startswith("/upload/v1/"):
            return self._upload(call)
        method = call.path.removeprefix("/api/")
        if method == "apps.connections.open":
            if call.headers.get("Authorization") != f"Bearer {APP_TOKEN}" or not self.socket_url:
                return Reply(200, {"ok": False, "error": "invalid_auth"})
            return Reply(200, {"ok": True, "url": self.socket_url})
        if call.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        with self._lock:
            gate = None
            if method in self._holds and self._holds[method][1](call.body):
                gate = self._holds.pop(method)[0]
                self._held.append(gate)
        if gate is not None:  # held open: the caller waits, as on a slow Slack, until release() (or the fake stops)
            gate.wait(30)
            return Reply(200, {"ok": False, "error": "internal_error"})  # whoever waited is gone by then (killed)
        with self._lock:
            if self.down is not None:
                return Reply(self.down.status, self.down.body, dict(self.down.headers))
            fitting = next((rule for rule in self.answer_if if rule[0] == method and rule[1](call.body)), None)
            if fitting is not None:
                self.answer_if.remove(fitting)
                return fitting[2]
            queued = self.http_failures.get(method)
            if queued:
                return queued.pop(0)
        if method in self.failures:
            return Reply(200, {"ok": False, "error": self.failures[method]})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return Reply(200, {"ok": False, "error": "unknown_method"})
        answer = handler(call.body)
        with self._lock:
            after = self.after_success.get(method)
            if after and answer.get("ok"):
                return after.pop(0)  # it was done, but the answer says otherwise
        return Reply(200, answer)

    def fail_once_if(self, method: str, which: Any, status: int = 503) -> None:
        """The first call of `method` whose body `which` picks out is answered `status` (and not acted on)."""
        with self._lock:
            self.answer_if.append((method, which, Reply(status, {"ok": False, "error": "internal_error"})))

    def outage(self, status: int = 503, retry_after: int | None = None) -> None:
        """Slack is down (5xx) or rate limiting everything (429) until `restore()`."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.down = Reply(status, {"ok": False, "error": "ratelimited" if status == 429 else "service_unavailable"}, headers)

    def restore(self) -> None:
        self.down = None

    def fail_after_success(self, method: str, status: int = 500, times: int = 1) -> None:
        """The next `times` calls of `method` do their work, then answer `status`, as a Slack having a bad moment can."""
        with self._lock:
            self.after_success.setdefault(method, []).extend(
                Reply(status, {"ok": False, "error": "internal_error"}) for _ in range(times)
            )

    def drop_after_success(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` do their work, then the connection closes without an answer."""
        with self._lock:
            self.after_success.setdefault(method, []).extend(Reply(drop=True) for _ in range(times))

    def post_as_other_app(self, channel: str, text: str, metadata: dict[str, Any] | None = None) -> str:
        """Another app in the channel posts a message (with whatever metadata it likes); its ts."""
        ts = self._next_ts()
        message = {"type": "message", "ts": ts, "text": text, "user": "U0OTHERBOT", "bot_id": "B0OTHERAPP", "app_id": "A0OTHER"}
        if metadata:
            message["metadata"] = metadata
        with self._lock:
            self.history.setdefault(channel, []).append(message)
        return ts

    def top_level(self, channel: str) -> list[dict[str, Any]]:
        """The channel's messages as Slack keeps them (with their blocks and metadata), oldest first."""
        with self._lock:
            return [dict(m) for m in self.history.get(channel, [])]

    def cards(self, channel: str) -> dict[int, list[str]]:
        """Review cards in the channel by draft: the ts of every card message each draft has."""
        found: dict[int, list[str]] = {}
        for message in self.top_level(channel):
            meta = message.get("metadata") or {}
            if meta.get("event_type") == "copydesk_card":
                found.setdefault(int(meta["event_payload"]["draft_id"]), []).append(message["ts"])
        return found

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The replies in a message's thread, oldest first."""
        with self._lock:
            return [dict(m) for m in self.threads.get((channel, ts), [])]

    def dms(self, user: str) -> list[dict[str, Any]]:
        """The direct messages the bot sent to `user`, oldest first."""
        return self.top_level(_im(user))

    def _download(self, call: Call) -> Reply:
        """url_private: the bytes for the bot token; anyone else gets Slack's sign-in page (HTML, status 200), as Slack does."""
        if self.files_down:
            return Reply(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"})
        file_id = call.path.split("/")[2].rsplit("-", 1)[-1]
        stored = self.files.get(file_id)
        if call.headers.get("Authorization") != f"Bearer {BOT_TOKEN}" or stored is None:
            return Reply(200, b"<!DOCTYPE html><html>Sign in to Slack</html>", {"Content-Type": "text/html; charset=utf-8"})
        return Reply(200, stored["bytes"], {"Content-Type": stored["file"]["mimetype"]})

    def uploaded(self) -> list[dict[str, Any]]:
        """Files shared through files.completeUploadExternal, oldest first: their object as Slack shows it, and their bytes."""
        with self._lock:
            return [dict(u) for u in self.uploads.values() if u.get("shared")]

    def _files_getUploadURLExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        """Step 1 of an upload: a URL on this fake that takes the bytes, and the file's id."""
        length = str(body.get("length") or "")
        if not body.get("filename") or not length.isdigit() or int(length) < 1:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F0UPLD{next(self._file_ids):04d}"
        with self._lock:
            self.uploads[file_id] = {"id": file_id, "filename": body["filename"], "length": int(length), "bytes": None}
            self.uploads[file_id]["alt_txt"] = body.get("alt_txt")
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _upload(self, call: Call) -> Reply:
        """Step 2: the bytes, POSTed to the URL step 1 gave (no token: the URL is the permission), as Slack's file host."""
        file_id = call.path.removeprefix("/upload/v1/")
        with self._lock:
            pending = self.uploads.get(file_id)
            if self.upload_refused is not None:
                return Reply(self.upload_refused, b"upload failed", {"Content-Type": "text/plain"})
            if call.method != "POST" or pending is None or pending["bytes"] is not None:
                return Reply(404, b"not found", {"Content-Type": "text/plain"})
            pending["bytes"] = call.raw
        return Reply(200, f"OK - {len(call.raw)}".encode(), {"Content-Type": "text/plain"})

    def _files_completeUploadExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        """Step 3: the uploaded files are made real and, with channel_id, shared there in one message, as Slack does."""
        try:
            wanted = json.loads(body.get("files") or "")
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(wanted, list) or not wanted or not all(isinstance(f, dict) and f.get("id") for f in wanted):
            return {"ok": False, "error": "invalid_arguments"}
        channel, ts = body.get("channel_id"), self._next_ts()
        done: list[dict[str, Any]] = []
        with self._lock:
            for item in wanted:
                pending = self.uploads.get(item["id"])
                if pending is None or pending["bytes"] is None or pending.get("shared"):
                    return {"ok": False, "error": "file_not_found"}
                if len(pending["bytes"]) != pending["length"]:
                    return {"ok": False, "error": "file_upload_size_mismatch"}
            for item in wanted:
                pending = self.uploads[item["id"]]
                data = pending["bytes"]
                png = data.startswith(b"\x89PNG\r\n\x1a\n")  # Slack knows a file's type by its bytes, not its name
                url = f"{self.url}/files-pri/T0TEAM001-{item['id']}/{pending['filename']}"
                file = {
                    "id": item["id"],
                    "name": pending["filename"],
                    "title": item.get("title") or pending["filename"],
                    "mimetype": "image/png" if png else "application/octet-stream",
                    "filetype": "png" if png else "binary",
                    "size": len(data),
                    "url_private": url,
                    "url_private_download": url + "?download=1",
                    "user": BOT_USER_ID,
                    "channels": [channel] if channel else [],
                }
                if pending.get("alt_txt"):
                    file["alt_txt"] = pending["alt_txt"]
                pending.update(shared=True, file=file, channel=channel, thread_ts=body.get("thread_ts"))
                self.files[item["id"]] = {"file": file, "bytes": data}
                done.append(file)
            if channel:  # one file-share message in the channel (or the thread), with the comment as its text
                message = {
                    "type": "message",
                    "ts": ts,
                    "text": body.get("initial_comment") or "",
                    "files": [dict(f) for f in done],
                    "upload": True,
                    "user": BOT_USER_ID,
                    "display_as_bot": False,
                }
                if body.get("thread_ts"):
                    message["thread_ts"] = body["thread_ts"]
                if self._shares_held is not None:  # Slack shares a completed upload asynchronously: a moment later
                    self._shares_held.append((channel, message))
                else:
                    self._share(channel, message)
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in done]}

    def hold_shares(self) -> None:
        """Completed uploads are not shown in their channel until release_shares(): Slack shares them asynchronously."""
        with self._lock:
            self._shares_held = []

    def release_shares(self) -> None:
        """The held shares show now, each with a ts of now (so the channel's history stays in time order)."""
        with self._lock:
            held, self._shares_held = self._shares_held or [], None
        for channel, message in held:
            message["ts"] = self._next_ts()
            with self._lock:
                self._share(channel, message)

    def _share(self, channel: str, message: dict[str, Any]) -> None:
        """The file-share message in the channel or its thread (the lock held)."""
        if message.get("thread_ts"):
            self.threads.setdefault((channel, message["thread_ts"]), []).append(message)
        else:
            self.history.setdefault(channel, []).append(message)

    def _files_info(self, body: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(body.get("file", ""))
        return {"ok": True, "file": stored["file"]} if stored else {"ok": False, "error": "file_not_found"}

    def _auth_test(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Copydesk Test",
            "user": "copydesk",
            "team_id": "T0TEAM001",
            "user_id": BOT_USER_ID,
            "bot_id": "B0COPYDESK",
        }

    def _chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel") or not (body.get("text") or body.get("blocks")):
            return {"ok": False, "error": "no_text" if body.get("channel") else "channel_not_found"}
        if problem := self._invalid_blocks(body.get("blocks")):
            return {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": [problem]}}
        channel = _im(body["channel"]) if body["channel"][:1] in ("U", "W") else body["channel"]  # a user ID means a DM
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "text": body.get("text"),
            "user": BOT_USER_ID,
            "bot_id": "B0COPYDESK",
        }
        if body.get("blocks"):
            message["blocks"] = json.loads(body["blocks"]) if isinstance(body["blocks"], str) else body["blocks"]
        if body.get("metadata"):
            message["metadata"] = json.loads(body["metadata"]) if isinstance(body["metadata"], str) else body["metadata"]
        with self._lock:
            if body.get("thread_ts"):  # replies live in their thread, not in the channel's history
                message["thread_ts"] = body["thread_ts"]
                self.threads.setdefault((channel, body["thread_ts"]), []).append(message)
            else:
                self.history.setdefault(channel, []).append(message)
            hooks = list(self.on_message) if not body.get("thread_ts") else []
        for hook in hooks:  # the message exists now: Slack may deliver events about it before copydesk hears the answer
            hook(channel, dict(message))
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text"), "ts": ts}}

    def _conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        users = str(body.get("users") or "")
        if not users or "," in users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": _im(users)}}

    def _conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Newest first, between `oldest` and `latest` (inclusive on request); metadata only with include_all_metadata."""
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        oldest, latest = float(body.get("oldest") or 0), float(body.get("latest") or "inf")
        inclusive = body.get("inclusive") in ("1", "true", True)
        with self._lock:
            found = [
                dict(m)
                for m in self.history.get(body["channel"], [])
                if (oldest <= float(m["ts"]) <= latest if inclusive else oldest < float(m["ts"]) < latest)
            ]
        return self._page(found[::-1], body)

    def _conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        """The parent, then its replies, oldest first (as Slack lists a thread)."""
        channel, ts = body.get("channel"), body.get("ts")
        with self._lock:
            parent = next((dict(m) for m in self.history.get(channel or "", []) if m["ts"] == ts), None)
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            found = [parent, *(dict(m) for m in self.threads.get((channel, ts), []))]  # type: ignore[arg-type]
        return self._page(found, body)

    def _page(self, found: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
        if body.get("include_all_metadata") not in ("1", "true", True):
            for message in found:
                message.pop("metadata", None)
        start = int(body.get("cursor") or 0)
        limit = int(body.get("limit") or 100)
        page, more = found[start : start + limit], len(found) > start + limit
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        """The message changes in place, as the channel's history then shows it."""
        if problem := self._invalid_blocks(body.get("blocks")):
            return {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": [problem]}}
        with self._lock:
            found = next((m for m in self.history.get(body.get("channel") or "", []) if m["ts"] == body.get("ts")), None)
            if found is None:
                return {"ok": False, "error": "message_not_found"}
            found["text"] = body.get("text")
            if body.get("blocks"):
                found["blocks"] = json.loads(body["blocks"]) if isinstance(body["blocks"], str) else body["blocks"]
        return {"ok": True, "channel": body["channel"], "ts": body["ts"], "text": body.get("text")}

    def _invalid_blocks(self, blocks: Any) -> str | None:
        """What Slack refuses in image blocks: no alt text, or a Slack file it does not have or cannot show (PNG, JPEG, GIF)."""
        for block in (json.loads(blocks) if isinstance(blocks, str) else blocks) or []:
            if block.get("type") != "image":
                continue
            if not block.get("alt_text") or len(block["alt_text"]) > 2000:
                return "[ERROR] must provide alt_text of 1 to 2000 characters [json-pointer:/blocks/image/alt_text]"
            source = block.get("slack_file") or {}
            if bool(block.get("image_url")) == bool(source) or (source and bool(source.get("id")) == bool(source.get("url"))):
                return "[ERROR] must provide exactly one of image_url or slack_file (with id or url) [json-pointer:/blocks/image]"
            file = self.files.get(source.get("id") or "")
            if source and (file is None or file["file"]["mimetype"] not in ("image/png", "image/jpeg", "image/gif")):
                return "[ERROR] invalid slack_file [json-pointer:/blocks/image/slack_file]"
        return None

    def _chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_getPermalink(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = body["channel"], body["message_ts"]
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user: dict[str, Any] = {"id": body["user"], "name": body["user"].lower(), "is_bot": False}
        if body["user"] in self.timezones:
            user["tz"] = self.timezones[body["user"]]
        return {"ok": True, "user": user}

    def _conversations_members(self, body: dict[str, Any]) -> dict[str, Any]:
        """Paginated as Slack does (a cursor until next_cursor is empty); a private channel only for a bot that is in it."""
        with self._lock:
            channel = self.channels.get(body.get("channel") or "")
            if channel is None:
                return {"ok": False, "error": "channel_not_found"}
            if channel["private"] and BOT_USER_ID not in channel["members"]:
                return {"ok": False, "error": "not_in_channel"}
            members = list(channel["members"])
        start, limit = int(body.get("cursor") or 0), int(body.get("limit") or 100)
        more = len(members) > start + limit
        return {
            "ok": True,
            "members": members[start : start + limit],
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _usergroups_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        if body["usergroup"] not in self.groups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": self.groups[body["usergroup"]]}

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return {"ok": True, "view": {"id": "V0MODAL01"}}

    def _views_publish(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("user_id"):
            return {"ok": False, "error": "invalid_arguments"}
        view = json.loads(body["view"]) if isinstance(body.get("view"), str) else body.get("view") or {}
        if len(view.get("blocks") or []) > 100:  # Slack's limit for a view
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": ["[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]},
            }
        return {"ok": True, "view": {"id": "V0HOME001"}}

    def _next_ts(self) -> str:
        with self._lock:
            return f"1700000000.{next(self._ts):06d}"


def _im(user: str) -> str:
    """The bot's direct-message channel with a user, as Slack names it."""
    return "D" + user[1:]


def blocks_text(message: dict[str, Any]) -> str:
    """All the text in a message's blocks, for asserting on what people see."""
    blocks = message.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    parts: list[str] = []
    for block in blocks or []:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(field["text"] for field in block.get("fields", []))
        for element in block.get("elements", []):
            text = element.get("text", "")
            parts.append(text["text"] if isinstance(text, dict) else text)  # a button's label is an object
    return "\n".join(parts)


def action_ids(message: dict[str, Any]) -> set[str]:
    """The buttons a message offers."""
    blocks = message.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return {e["action_id"] for b in blocks or [] if b.get("type") == "actions" for e in b["elements"]}
