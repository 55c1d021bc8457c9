"""A loopback X API v2: posting, the account's timeline and deleting, with OAuth 1.0a signatures checked as X checks them."""

from __future__ import annotations

import html
import itertools
import re
import threading
import time
from collections import deque
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

from oauthlib.oauth1.rfc5849 import signature

from tests.fakes.http import Call, RecordingServer, Reply

CONSUMER_KEY = "test-consumer-key"
CONSUMER_SECRET = "test-consumer-secret"
ACCESS_TOKEN = "test-access-token"
ACCESS_TOKEN_SECRET = "test-access-token-secret"
OAUTH2_TOKEN = "test-oauth2-user-token"

USER_ID = "2244994945"

X_ENV = {
    "X_CONSUMER_KEY": CONSUMER_KEY,
    "X_CONSUMER_SECRET": CONSUMER_SECRET,
    "X_ACCESS_TOKEN": ACCESS_TOKEN,
    "X_ACCESS_TOKEN_SECRET": ACCESS_TOKEN_SECRET,
}


class FakeX(RecordingServer):
    """Creates posts for correctly signed requests; refuses duplicates and bad signatures as X does."""

    def __init__(self) -> None:
        super().__init__(self._route)
        self.posts: list[dict[str, Any]] = []  # what was created, in order
        self.queued: deque[Reply] = deque()  # canned answers that go first
        self.lost: deque[float] = deque()  # create the post, then answer only after this many seconds
        self.timeline_replies: deque[Reply] = deque()  # canned answers to the timeline lookup
        self.deleted: list[str] = []
        self._ids = itertools.count(1790000000000000001)
        self._lock = threading.Lock()

    def answer_next(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None, *, delay: float = 0.0
    ) -> None:
        """Make the next POST /2/tweets answer this (after `delay` seconds) instead of creating a post."""
        self.queued.append(Reply(status, body, headers or {}, delay))

    def lose_next_answer(self, delay: float) -> None:
        """The next post is created, but X's answer comes only after `delay` seconds (past copydesk's timeout)."""
        self.lost.append(delay)

    def texts(self) -> list[str]:
        with self._lock:
            return [p["text"] for p in self.posts]

    def _route(self, call: Call) -> Reply:
        if not self._authorized(call):
            return Reply(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
        if call.method == "POST" and call.path == "/2/tweets":
            return self._create(call)
        if call.method == "GET" and call.path == "/2/users/me":
            return Reply(200, {"data": {"id": USER_ID, "name": "Test account", "username": "aplusk"}})
        if call.method == "GET" and call.path == f"/2/users/{USER_ID}/tweets":
            return self._timeline(call)
        if call.method == "DELETE" and call.path.startswith("/2/tweets/"):
            return self._delete(call.path.rsplit("/", 1)[1])
        return Reply(404, {"title": "Not Found Error", "status": 404, "detail": call.path, "type": "about:blank"})

    def _create(self, call: Call) -> Reply:
        with self._lock:
            if self.queued:
                return self.queued.popleft()
            delay = self.lost.popleft() if self.lost else 0.0
            text = call.body.get("text", "")
            if any(p["text"] == text for p in self.posts):
                return Reply(403, _problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."))
            post_id = str(next(self._ids))
            self.posts.append({"id": post_id, "text": text, "at": call.at, "body": call.body})
        return Reply(201, {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}}, delay=delay)

    def _timeline(self, call: Call) -> Reply:
        """Newest first, as X shows them back: links shortened to t.co and &, <, > escaped."""
        with self._lock:
            if self.timeline_replies:
                return self.timeline_replies.popleft()
            since = call.body.get("start_time", "")
            shown = [
                {"id": p["id"], "text": re.sub(r"https?://\S+", "https://t.co/AbCdEf1234", html.escape(p["text"], quote=False)),
                 "edit_history_tweet_ids": [p["id"]]}
                for p in reversed(self.posts)
                if not p.get("deleted") and _iso(p["at"]) >= since
            ]
        meta = {"result_count": len(shown), **({"newest_id": shown[0]["id"], "oldest_id": shown[-1]["id"]} if shown else {})}
        return Reply(200, {"data": shown, "meta": meta} if shown else {"meta": meta})

    def _delete(self, post_id: str) -> Reply:
        with self._lock:
            found = [p for p in self.posts if p["id"] == post_id and not p.get("deleted")]
            if not found:
                return Reply(404, _problem(404, "Not Found Error", f"Could not find tweet with id: [{post_id}]."))
            found[0]["deleted"] = True
            self.deleted.append(post_id)
        return Reply(200, {"data": {"deleted": True}})

    def _authorized(self, call: Call) -> bool:
        auth = call.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth == f"Bearer {OAUTH2_TOKEN}"
        if not auth.startswith("OAuth "):
            return False
        params = signature.collect_parameters(uri_query=call.query, headers={"Authorization": auth}, exclude_oauth_signature=True)
        given = dict(signature.collect_parameters(headers={"Authorization": auth}, exclude_oauth_signature=False))
        if given.get("oauth_consumer_key") != CONSUMER_KEY or given.get("oauth_token") != ACCESS_TOKEN:
            return False
        uri = signature.base_string_uri(f"{self.url}{call.path}", call.headers.get("Host"))
        base = signature.signature_base_string(call.method, uri, signature.normalize_parameters(params))
        keys = SimpleNamespace(client_secret=CONSUMER_SECRET, resource_owner_secret=ACCESS_TOKEN_SECRET)
        expected = signature.sign_hmac_sha1_with_client(base, keys)
        return unquote(given.get("oauth_signature", "")) == expected


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}
