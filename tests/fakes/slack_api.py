"""A loopback Slack Web API: enough of it for copydesk, strict about tokens and arguments."""

from __future__ import annotations

import itertools
import json
import threading
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
        self.failures: dict[str, str] = {}
        self.socket_url: str | None = None  # what apps.connections.open hands out
        self.http_failures: dict[str, list[Reply]] = {}  # per method: HTTP-level answers that go first (429, 503)
        self.files: dict[str, dict[str, Any]] = {}  # shared files by id: their object as Slack shows it, and their bytes
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel → its top-level messages, oldest first
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
        return [json.loads(c.body["view"]) if isinstance(c.body["view"], str) else c.body["view"] for c in self.calls(f"/api/{method}")]

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
        file = {"id": file_id, "name": name, "title": name, "mimetype": mimetype, "filetype": mimetype.split("/")[-1],
                "size": len(data), "url_private": url, "url_private_download": url + "?download=1"}
        self.files[file_id] = {"file": file, "bytes": data}
        return dict(file)

    def responses(self) -> list[dict[str, Any]]:
        """What was posted to response_urls."""
        return [c.body for c in self.calls() if c.path.startswith("/respond/")]

    # the API

    def _route(self, call: Call) -> Reply:
        if call.path.startswith("/respond/"):
            return Reply(200, b"ok", {"Content-Type": "text/plain"})
        if call.path.startswith("/files-pri/"):
            return self._download(call)
        method = call.path.removeprefix("/api/")
        if method == "apps.connections.open":
            if call.headers.get("Authorization") != f"Bearer {APP_TOKEN}" or not self.socket_url:
                return Reply(200, {"ok": False, "error": "invalid_auth"})
            return Reply(200, {"ok": True, "url": self.socket_url})
        if call.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        with self._lock:
            queued = self.http_failures.get(method)
            if queued:
                return queued.pop(0)
        if method in self.failures:
            return Reply(200, {"ok": False, "error": self.failures[method]})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return Reply(200, {"ok": False, "error": "unknown_method"})
        return Reply(200, handler(call.body))

    def _download(self, call: Call) -> Reply:
        """url_private: the bytes for the bot token; anyone else gets Slack's sign-in page (HTML, status 200), as Slack does."""
        file_id = call.path.split("/")[2].rsplit("-", 1)[-1]
        stored = self.files.get(file_id)
        if call.headers.get("Authorization") != f"Bearer {BOT_TOKEN}" or stored is None:
            return Reply(200, b"<!DOCTYPE html><html>Sign in to Slack</html>", {"Content-Type": "text/html; charset=utf-8"})
        return Reply(200, stored["bytes"], {"Content-Type": stored["file"]["mimetype"]})

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
        ts = self._next_ts()
        message: dict[str, Any] = {"type": "message", "ts": ts, "text": body.get("text"), "user": BOT_USER_ID, "bot_id": "B0COPYDESK"}
        if isinstance(body.get("metadata"), dict):
            message["metadata"] = body["metadata"]
        if not body.get("thread_ts"):  # replies live in their thread, not in the channel's history
            with self._lock:
                self.history.setdefault(body["channel"], []).append(message)
        return {"ok": True, "channel": body["channel"], "ts": ts, "message": {"text": body.get("text"), "ts": ts}}

    def _conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """Newest first, after `oldest`; message metadata only with include_all_metadata, as Slack documents it."""
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(body.get("oldest") or 0)
        with self._lock:
            found = [dict(m) for m in self.history.get(body["channel"], []) if float(m["ts"]) > oldest]
        if body.get("include_all_metadata") not in ("1", "true"):
            for message in found:
                message.pop("metadata", None)
        limit = int(body.get("limit") or 100)
        return {"ok": True, "messages": found[::-1][:limit], "has_more": len(found) > limit, "response_metadata": {"next_cursor": ""}}

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": body["channel"], "ts": body["ts"], "text": body.get("text")}

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
        return {"ok": True, "view": {"id": "V0HOME001"}}

    def _next_ts(self) -> str:
        with self._lock:
            return f"1700000000.{next(self._ts):06d}"


def blocks_text(message: dict[str, Any]) -> str:
    """All the text in a message's blocks, for asserting on what people see."""
    blocks = message.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    parts: list[str] = []
    for block in blocks or []:
        if "text" in block:
            parts.append(block["text"]["text"])
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
