"""A loopback X API v2: posting, the account's timeline, deleting and the posts' public_metrics, with OAuth 1.0a signatures
checked as X checks them."""

from __future__ import annotations

import html
import itertools
import threading
import time
import unicodedata
from collections import deque
from dataclasses import replace
from email.parser import BytesParser
from email.policy import HTTP
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

from oauthlib.oauth1.rfc5849 import signature
from twitter_text.extract_urls import extract_urls_with_indices

from tests.fakes.http import Call, RecordingServer, Reply

CONSUMER_KEY = "test-consumer-key"
CONSUMER_SECRET = "test-consumer-secret"
ACCESS_TOKEN = "test-access-token"
ACCESS_TOKEN_SECRET = "test-access-token-secret"
OAUTH2_TOKEN = "test-oauth2-user-token"

USER_ID = "2244994945"

# X's posting limits, reported in the headers of every answer to POST /2/tweets (and only reported: none is enforced)
WINDOW_SECONDS, POSTS_PER_WINDOW = 15 * 60, 100  # x-rate-limit-*: requests per user per 15 minutes
DAY_SECONDS, POSTS_PER_DAY = 24 * 60 * 60, 100  # x-user-limit-24hour-*: posts per user per 24 hours
LOOKUP_MAX = 100  # GET /2/tweets: ids takes 1 to 100 values

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
        self.media: dict[str, dict[str, Any]] = {}  # uploaded media by id: bytes, category, type, name
        self.for_text: dict[str, deque[Reply]] = {}  # canned answers to the post of one text (a thread's part 2)
        self.lost_for_text: dict[str, float] = {}  # create the post of this text, then answer only after this many seconds
        self.delete_replies: dict[str, Reply] = {}  # a canned answer, once, to deleting this post
        self.upload_replies: deque[Reply] = deque()  # canned answers to POST /2/media/upload
        self.after_post: deque[Reply] = deque()  # create the post, then answer this instead (X's 5xx after it acted)
        self.limit_headers: list[dict[str, str]] = []  # the rate-limit headers of each answer to POST /2/tweets, in order
        self.metrics: dict[str, dict[str, int]] = {}  # post id -> its public_metrics, as a test sets them (else all 0)
        self.lookup_replies: deque[Reply] = deque()  # canned answers to GET /2/tweets?ids= (a 503, a 429)
        self.lookups_held: list[Call] = []  # lookups waiting for release_lookups()
        self._lookup_gate: threading.Event | None = None
        self._window: tuple[float, int] | None = None  # when the 15-minute window began, and the requests in it
        self._day: float | None = None  # when the 24 hours began
        self._ids = itertools.count(1790000000000000001)
        self._media_ids = itertools.count(1880000000000000001)
        self._lock = threading.Lock()

    def answer_next(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None, *, delay: float = 0.0
    ) -> None:
        """Make the next POST /2/tweets answer this (after `delay` seconds) instead of creating a post."""
        self.queued.append(Reply(status, body, headers or {}, delay))

    def answer_for(self, text: str, status: int, body: dict[str, Any], *, delay: float = 0.0) -> None:
        """Make the next POST /2/tweets of `text` answer this instead of creating a post."""
        self.for_text.setdefault(text, deque()).append(Reply(status, body, {}, delay))

    def fail_after_posting(self, status: int = 503) -> None:
        """The next post is created, then X answers with a server error, as it sometimes does."""
        self.after_post.append(Reply(status, _problem(status, "Service Unavailable", "Service Unavailable")))

    def lose_answer_for(self, text: str, delay: float) -> None:
        """The post of `text` is created, but X's answer comes only after `delay` seconds."""
        self.lost_for_text[text] = delay

    def lose_next_answer(self, delay: float) -> None:
        """The next post is created, but X's answer comes only after `delay` seconds (past copydesk's timeout)."""
        self.lost.append(delay)

    def set_metrics(self, post_id: str, **counts: int) -> None:
        """What X counts for a post: like_count=12, retweet_count=3, reply_count, quote_count, impression_count, …"""
        with self._lock:
            self.metrics[post_id] = {**self.metrics.get(post_id, {}), **counts}

    def fail_lookup(self, status: int = 503, *, reset_in: int = 900) -> None:
        """The next GET /2/tweets?ids= fails: a server error, or (429) X's rate limit with when it lifts."""
        if status == 429:
            headers = {
                "x-rate-limit-limit": "15",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(time.time()) + reset_in),
            }
            self.lookup_replies.append(Reply(429, _problem(429, "Too Many Requests", "Too Many Requests"), headers))
        else:
            self.lookup_replies.append(Reply(status, _problem(status, "Service Unavailable", "Service Unavailable")))

    def hold_lookups(self) -> None:
        """GET /2/tweets?ids= gets no answer until release_lookups() (or the fake stops)."""
        self._lookup_gate = threading.Event()

    def release_lookups(self) -> None:
        if self._lookup_gate is not None:
            self._lookup_gate.set()

    def lookups(self) -> list[Call]:
        """The GET /2/tweets?ids= requests that reached X, answered or not."""
        return [c for c in self.arrived("/2/tweets") if c.method == "GET"]

    def stop(self) -> None:
        self.release_lookups()
        super().stop()

    def texts(self) -> list[str]:
        with self._lock:
            return [p["text"] for p in self.posts]

    def replies(self) -> list[tuple[str, str | None]]:
        """(text, the post it replies to) for every post, in order: how a thread landed."""
        with self._lock:
            return [(p["text"], (p["body"].get("reply") or {}).get("in_reply_to_tweet_id")) for p in self.posts]

    def _route(self, call: Call) -> Reply:
        if not self._authorized(call):
            return Reply(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
        if call.method == "POST" and call.path == "/2/tweets":
            return self._counted(self._create(call))
        if call.method == "GET" and call.path == "/2/tweets":
            return self._lookup(call)
        if call.method == "POST" and call.path == "/2/media/upload":
            return self._upload(call)
        if call.method == "POST" and call.path == "/2/media/metadata":
            return self._metadata(call)
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
            text = call.body.get("text", "")
            if self.for_text.get(text):
                return self.for_text[text].popleft()
            delay = self.lost.popleft() if self.lost else self.lost_for_text.pop(text, 0.0)
            if any(p["text"] == text for p in self.posts):
                return Reply(403, _problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."))
            media_ids = (call.body.get("media") or {}).get("media_ids") or []
            if not text and not media_ids:
                return Reply(
                    400,
                    _problem(
                        400, "Invalid Request", "One or more parameters to your request was invalid: text or media is required."
                    ),
                )
            if unknown := [m for m in media_ids if m not in self.media]:
                return Reply(400, _problem(400, "Invalid Request", f"Your media IDs are invalid: {unknown}."))
            reply_to = (call.body.get("reply") or {}).get("in_reply_to_tweet_id")
            if reply_to is not None and not any(p["id"] == reply_to and not p.get("deleted") for p in self.posts):
                return Reply(
                    400, _problem(400, "Invalid Request", "The post you are replying to has been deleted or is not visible.")
                )
            post_id = str(next(self._ids))
            self.posts.append({"id": post_id, "text": text, "at": call.at, "body": call.body})
            if self.after_post:
                return self.after_post.popleft()
        return Reply(201, {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}}, delay=delay)

    def _counted(self, reply: Reply) -> Reply:
        """X's rate-limit headers on an answer to a post, counting down: every request against the 15-minute window,
        every post created against the user's 24 hours; a canned answer's own headers (a 429's) stand."""
        now = time.time()
        with self._lock:
            start, used = self._window if self._window and now < self._window[0] + WINDOW_SECONDS else (now, 0)
            self._window = (start, used + 1)
            if self._day is None or now >= self._day + DAY_SECONDS:
                self._day = min((p["at"] for p in self.posts if p["at"] > now - DAY_SECONDS), default=now)
            posted = sum(1 for p in self.posts if p["at"] >= self._day)
            headers = {
                "x-rate-limit-limit": str(POSTS_PER_WINDOW),
                "x-rate-limit-remaining": str(max(0, POSTS_PER_WINDOW - used - 1)),
                "x-rate-limit-reset": str(int(start + WINDOW_SECONDS)),
                "x-user-limit-24hour-limit": str(POSTS_PER_DAY),
                "x-user-limit-24hour-remaining": str(max(0, POSTS_PER_DAY - posted)),
                "x-user-limit-24hour-reset": str(int(self._day + DAY_SECONDS)),
                **reply.headers,
            }
            self.limit_headers.append(headers)
        return replace(reply, headers=headers)

    def _upload(self, call: Call) -> Reply:
        """POST /2/media/upload, multipart/form-data: `media` (the bytes) and `media_category`."""
        with self._lock:
            if self.upload_replies:
                return self.upload_replies.popleft()
        fields = _multipart(call)
        media, category = fields.get("media"), fields.get("media_category", (None, b""))[1].decode()
        if media is None or category not in ("tweet_image", "dm_image", "subtitles"):
            return Reply(400, _problem(400, "Invalid Request", "One or more parameters to your request was invalid."))
        with self._lock:
            media_id = str(next(self._media_ids))
            self.media[media_id] = {"bytes": media[1], "category": category, "name": media[0], "type": media[2]}
        return Reply(
            200,
            {
                "data": {
                    "id": media_id,
                    "media_key": f"3_{media_id}",
                    "size": len(media[1]),
                    "expires_after_secs": 86400,
                    "processing_info": {"state": "succeeded"},
                }
            },
        )

    def _metadata(self, call: Call) -> Reply:
        """POST /2/media/metadata, JSON: {"id", "metadata": {"alt_text": {"text"}}}; alt text of up to 1,000 characters."""
        media_id = call.body.get("id")
        text = ((call.body.get("metadata") or {}).get("alt_text") or {}).get("text")
        with self._lock:
            if media_id not in self.media:
                return Reply(400, _problem(400, "Invalid Request", f"The media id {media_id} is not valid."))
            if not isinstance(text, str) or not text or len(text) > 1000:
                return Reply(400, _problem(400, "Invalid Request", "alt_text.text must be 1 to 1000 characters."))
            self.media[media_id]["alt_text"] = text
        return Reply(200, {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": text}}}})

    def _timeline(self, call: Call) -> Reply:
        """Newest first, as X shows them back: NFC, every link (bare domains too) shortened to t.co, a t.co link appended for
        attached media, and &, < and > escaped; the links' entities only when tweet.fields asks for them."""
        with self._lock:
            if self.timeline_replies:
                return self.timeline_replies.popleft()
            since = call.body.get("start_time", "")
            shown = [
                _as_shown(p, "entities" in call.body.get("tweet.fields", ""))
                for p in reversed(self.posts)
                if not p.get("deleted") and _iso(p["at"]) >= since
            ]
        meta = {"result_count": len(shown), **({"newest_id": shown[0]["id"], "oldest_id": shown[-1]["id"]} if shown else {})}
        return Reply(200, {"data": shown, "meta": meta} if shown else {"meta": meta})

    def _lookup(self, call: Call) -> Reply:
        """GET /2/tweets?ids=…&tweet.fields=public_metrics: the posts it has in `data` (in the order asked), each id it
        does not have (never made, or deleted) in `errors`; 1 to 100 ids, else 400."""
        gate = self._lookup_gate
        if gate is not None:
            self.lookups_held.append(call)
            gate.wait(30)
        with self._lock:
            if self.lookup_replies:
                return self.lookup_replies.popleft()
            ids = [i for i in call.body.get("ids", "").split(",") if i]
            if not 1 <= len(ids) <= LOOKUP_MAX:
                return Reply(
                    400,
                    {
                        "errors": [
                            {
                                "parameters": {"ids": [",".join(ids)]},
                                "message": f"The number of values in the `ids` query parameter list [{len(ids)}] is not "
                                f"between 1 and {LOOKUP_MAX}",
                            }
                        ],
                        "title": "Invalid Request",
                        "detail": "One or more parameters to your request was invalid.",
                        "type": "https://api.twitter.com/2/problems/invalid-request",
                    },
                )
            fields = call.body.get("tweet.fields", "").split(",")
            live = {p["id"]: p for p in self.posts if not p.get("deleted")}
            data, errors = [], []
            for post_id in ids:
                if post_id not in live:
                    errors.append(
                        {
                            "value": post_id,
                            "detail": f"Could not find tweet with ids: [{post_id}].",
                            "title": "Not Found Error",
                            "resource_type": "tweet",
                            "parameter": "ids",
                            "resource_id": post_id,
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    )
                    continue
                shown: dict[str, Any] = {"id": post_id, "text": live[post_id]["text"], "edit_history_tweet_ids": [post_id]}
                if "public_metrics" in fields:
                    shown["public_metrics"] = {
                        **dict.fromkeys(
                            ("retweet_count", "reply_count", "like_count", "quote_count", "bookmark_count", "impression_count"),
                            0,
                        ),
                        **self.metrics.get(post_id, {}),
                    }
                data.append(shown)
        return Reply(200, {**({"data": data} if data else {}), **({"errors": errors} if errors else {})})

    def _delete(self, post_id: str) -> Reply:
        with self._lock:
            if post_id in self.delete_replies:
                return self.delete_replies.pop(post_id)
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


def _as_shown(post: dict[str, Any], with_entities: bool) -> dict[str, Any]:
    """One post as X returns it on read-back (GET /2/users/:id/tweets)."""
    text, urls = unicodedata.normalize("NFC", post["text"]), []
    for n, found in enumerate(reversed(extract_urls_with_indices(text))):
        start, end = found["indices"]
        short = f"https://t.co/{post['id'][-6:]}L{n}"
        expanded = found["url"] if "://" in found["url"] else f"http://{found['url']}"
        text = text[:start] + short + text[end:]
        urls.append({"url": short, "expanded_url": expanded, "display_url": found["url"].split("://")[-1][:26]})
    media = (post["body"].get("media") or {}).get("media_ids") or []
    if media:
        short = f"https://t.co/{post['id'][-6:]}M"
        text = f"{text} {short}"
        urls.append(
            {
                "url": short,
                "expanded_url": f"https://x.com/aplusk/status/{post['id']}/photo/1",
                "display_url": f"pic.x.com/{post['id'][-6:]}",
                "media_key": f"3_{media[0]}",
            }
        )
    shown: dict[str, Any] = {"id": post["id"], "text": html.escape(text, quote=False), "edit_history_tweet_ids": [post["id"]]}
    if with_entities and urls:  # X's indices count code points in the unescaped text
        placed = [{**u, "start": text.index(u["url"]), "end": text.index(u["url"]) + len(u["url"])} for u in urls]
        shown["entities"] = {"urls": sorted(placed, key=lambda u: u["start"])}
    return shown


def _multipart(call: Call) -> dict[str, tuple[str | None, bytes, str]]:
    """A multipart/form-data body's fields: name -> (file name, bytes, content type)."""
    kind = call.headers.get("Content-Type", "")
    if not kind.startswith("multipart/form-data"):
        return {}
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + call.raw)
    fields: dict[str, tuple[str | None, bytes, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"", part.get_content_type())
    return fields


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}
