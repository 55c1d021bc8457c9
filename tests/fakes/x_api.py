"""A loopback X API v2: POST /2/tweets with OAuth 1.0a signatures checked as X checks them."""

from __future__ import annotations

import itertools
import threading
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
        self._ids = itertools.count(1790000000000000001)
        self._lock = threading.Lock()

    def answer_next(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None, *, delay: float = 0.0
    ) -> None:
        """Make the next POST /2/tweets answer this (after `delay` seconds) instead of creating a post."""
        self.queued.append(Reply(status, body, headers or {}, delay))

    def texts(self) -> list[str]:
        with self._lock:
            return [p["text"] for p in self.posts]

    def _route(self, call: Call) -> Reply:
        if not self._authorized(call):
            return Reply(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
        if call.method == "POST" and call.path == "/2/tweets":
            return self._create(call)
        return Reply(404, {"title": "Not Found Error", "status": 404, "detail": call.path, "type": "about:blank"})

    def _create(self, call: Call) -> Reply:
        with self._lock:
            if self.queued:
                return self.queued.popleft()
            text = call.body.get("text", "")
            if any(p["text"] == text for p in self.posts):
                return Reply(403, _problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."))
            post_id = str(next(self._ids))
            self.posts.append({"id": post_id, "text": text, "at": call.at, "body": call.body})
        return Reply(201, {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}})

    def _authorized(self, call: Call) -> bool:
        auth = call.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth == f"Bearer {OAUTH2_TOKEN}"
        if not auth.startswith("OAuth "):
            return False
        params = signature.collect_parameters(headers={"Authorization": auth}, exclude_oauth_signature=True)
        given = dict(signature.collect_parameters(headers={"Authorization": auth}, exclude_oauth_signature=False))
        if given.get("oauth_consumer_key") != CONSUMER_KEY or given.get("oauth_token") != ACCESS_TOKEN:
            return False
        uri = signature.base_string_uri(f"{self.url}{call.path}", call.headers.get("Host"))
        base = signature.signature_base_string(call.method, uri, signature.normalize_parameters(params))
        keys = SimpleNamespace(client_secret=CONSUMER_SECRET, resource_owner_secret=ACCESS_TOKEN_SECRET)
        expected = signature.sign_hmac_sha1_with_client(base, keys)
        return unquote(given.get("oauth_signature", "")) == expected


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}
