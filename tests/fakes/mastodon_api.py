"""A loopback Mastodon instance: statuses, media, the account's own timeline and the instance's limits, with Bearer tokens,
scopes, Idempotency-Key and rate-limit headers handled as Mastodon 4.x handles them (see /work/notes/issue14-mastodon.md)."""

from __future__ import annotations

import html
import itertools
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import grapheme

from tests.fakes.http import Call, RecordingServer, Reply
from tests.fakes.x_api import _multipart

ACCESS_TOKEN = "test-mastodon-access-token"
ACCOUNT_ID = "109000000000000001"
USERNAME = "aplusk"
SCOPES = frozenset({"read:accounts", "read:statuses", "write:statuses", "write:media"})  # what the README asks for

MASTODON_ENV = {"MASTODON_ACCESS_TOKEN": ACCESS_TOKEN}

WINDOW_SECONDS, REQUESTS_PER_WINDOW = 5 * 60, 300  # Mastodon's per-account API budget, reported on every authenticated answer
IDEMPOTENCY_SECONDS = 3600  # Mastodon keeps an Idempotency-Key for an hour after the status it made

# The scope each authenticated endpoint needs ("read" and "write" cover their own sub-scopes, as Doorkeeper has it).
_NEEDS = (
    ("GET", re.compile(r"/api/v1/accounts/verify_credentials"), "read:accounts"),
    ("GET", re.compile(r"/api/v1/accounts/[^/]+/statuses"), "read:statuses"),
    ("GET", re.compile(r"/api/v1/statuses/[^/]+/source"), "read:statuses"),
    ("GET", re.compile(r"/api/v1/statuses/[^/]+"), "read:statuses"),
    ("POST", re.compile(r"/api/v1/statuses"), "write:statuses"),
    ("DELETE", re.compile(r"/api/v1/statuses/[^/]+"), "write:statuses"),
    ("POST", re.compile(r"/api/v2/media"), "write:media"),
    ("GET", re.compile(r"/api/v1/media/[^/]+"), "write:media"),
)
_URL = re.compile(r"(?<![\w/])https?://[^\s<>\"]+", re.IGNORECASE)  # simpler than Mastodon's twitter-text regex: plain links only
_MENTION = re.compile(r"(?<![/\w])@([a-z0-9_]+)(?:@([a-z0-9.\-]+[a-z0-9]+))?", re.IGNORECASE)
_TAG = re.compile(r"(?<![/\w])#(\w+)")


class FakeMastodon(RecordingServer):
    """One account (@aplusk) on a Mastodon instance; what it created stays in `statuses` and `media` for assertions."""

    def __init__(self) -> None:
        super().__init__(self._route)
        self.token = ACCESS_TOKEN
        self.scopes: frozenset[str] = SCOPES
        self.version = "4.3.0"
        self.max_characters = 500  # configuration.statuses.max_characters
        self.characters_reserved_per_url = 23  # configuration.statuses.characters_reserved_per_url
        self.idempotency_seconds: float = IDEMPOTENCY_SECONDS
        self.statuses: list[dict[str, Any]] = []  # what was created, in order (deleted ones stay, marked)
        self.media: dict[str, dict[str, Any]] = {}  # uploaded media by id: bytes, name, type, description, ready, status
        self.deleted: list[str] = []
        self.queued: deque[Reply] = deque()  # canned answers to POST /api/v1/statuses that go first (nothing is created)
        self.after_post: deque[Reply] = deque()  # create the status, then answer this instead (a 5xx after it acted)
        self.lost: deque[float] = deque()  # create the status, then answer only after this many seconds
        self.garbled: deque[str] = deque()  # create the status, then answer 200 with this unreadable X-RateLimit-Reset
        self.limited: dict[str, deque[float]] = {}  # path -> 429s to answer, each resetting after this many seconds
        self.upload_replies: deque[Reply] = deque()  # canned answers to POST /api/v2/media
        self.counts: dict[str, dict[str, int]] = {}  # status id -> favourites_count, reblogs_count, replies_count (else 0)
        self.processing: deque[int] = deque()  # the next uploads answer 202, ready after this many polls answered 206
        self._keys: dict[tuple[str, str], tuple[str, float]] = {}  # (account, Idempotency-Key) -> (status id, stored at)
        self._window: tuple[float, int] | None = None
        self._ids = itertools.count(110000000000000001)
        self._media_ids = itertools.count(110500000000000001)
        self._lock = threading.Lock()

    # --- controls -------------------------------------------------------------------------------------------------

    def answer_next(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None, *, delay: float = 0.0
    ) -> None:
        """Make the next POST /api/v1/statuses answer this (after `delay` seconds) instead of creating a status."""
        self.queued.append(Reply(status, body, dict(headers or {}), delay))

    def rate_limit_next(self, reset_in: float = 120.0, path: str = "/api/v1/statuses") -> None:
        """The next request to `path` is refused with a 429 whose X-RateLimit-Reset is `reset_in` seconds away."""
        self.limited.setdefault(path, deque()).append(reset_in)

    def fail_after_posting(self, status: int = 503) -> None:
        """The next status is created, then the instance answers with a server error."""
        self.after_post.append(Reply(status, {"error": "Service Unavailable"}))

    def lose_next_answer(self, delay: float) -> None:
        """The next status is created, but the answer comes only after `delay` seconds (past the client's timeout)."""
        self.lost.append(delay)

    def garble_next_answer(self, reset: str = "soon") -> None:
        """The next status is created and answered 200, with an X-RateLimit-Reset the client cannot read."""
        self.garbled.append(reset)

    def process_next_upload(self, polls: int = 1) -> None:
        """The next upload answers 202 (url null) and is ready only after `polls` lookups answered 206."""
        self.processing.append(polls)

    def set_counts(self, status_id: str, **counts: int) -> None:
        """How a status landed: favourites_count=7, reblogs_count=2, replies_count=1."""
        with self._lock:
            self.counts[status_id] = {**self.counts.get(status_id, {}), **counts}

    # --- assertions -----------------------------------------------------------------------------------------------

    def texts(self) -> list[str]:
        """The text of every status created, in order (deleted ones too)."""
        with self._lock:
            return [s["text"] for s in self.statuses]

    def replies(self) -> list[tuple[str, str | None]]:
        """(text, the status it replies to) for every status, in order: how a thread landed."""
        with self._lock:
            return [(s["text"], s["in_reply_to_id"]) for s in self.statuses]

    def status(self, status_id: str) -> dict[str, Any]:
        with self._lock:
            return next(s for s in self.statuses if s["id"] == status_id)

    # --- routes ---------------------------------------------------------------------------------------------------

    def _route(self, call: Call) -> Reply:
        path, method = call.path.rstrip("/"), call.method
        if method == "GET" and path == "/api/v1/instance":
            return Reply(200, self._instance_v1())
        if method == "GET" and path == "/api/v2/instance":
            return Reply(200, self._instance_v2())
        if (refused := self._refused(call, path)) is not None:
            return refused
        with self._lock:
            if self.limited.get(path):
                return self._too_many(self.limited[path].popleft())
        reply = self._authenticated(call, path)
        return reply if reply.status == 429 or "X-RateLimit-Reset" in reply.headers else self._counted(reply)

    def _authenticated(self, call: Call, path: str) -> Reply:
        method, parts = call.method, path.strip("/").split("/")
        if method == "GET" and path == "/api/v1/accounts/verify_credentials":
            return Reply(200, {**self._account(), "source": {"privacy": "public", "sensitive": False, "note": ""}})
        if method == "POST" and path == "/api/v1/statuses":
            return self._create(call)
        if method == "POST" and path == "/api/v2/media":
            return self._upload(call)
        if method == "GET" and parts[:3] == ["api", "v1", "media"] and len(parts) == 4:
            return self._media_lookup(parts[3])
        if method == "GET" and parts[:3] == ["api", "v1", "accounts"] and parts[4:] == ["statuses"]:
            return self._timeline(parts[3], parse_qs(call.query))
        if method == "GET" and parts[:3] == ["api", "v1", "statuses"] and parts[4:] == ["source"]:
            found = self._live(parts[3])
            return Reply(200, {"id": found["id"], "text": found["text"], "spoiler_text": ""}) if found else _not_found()
        if method == "DELETE" and parts[:3] == ["api", "v1", "statuses"] and len(parts) == 4:
            return self._delete(parts[3])
        if method == "GET" and parts[:3] == ["api", "v1", "statuses"] and len(parts) == 4:
            with self._lock:
                found = self._live(parts[3])
                return Reply(200, self._shown(found)) if found else _not_found()
        return _not_found()

    def _refused(self, call: Call, path: str) -> Reply | None:
        """401 without the right Bearer token, 403 when the token lacks the endpoint's scope: Doorkeeper's answers."""
        if call.headers.get("Authorization", "") != f"Bearer {self.token}":
            return Reply(401, {"error": "The access token is invalid"})
        need = next((scope for m, pattern, scope in _NEEDS if m == call.method and pattern.fullmatch(path)), None)
        if need is not None and not ({need, need.split(":")[0]} & self.scopes):
            return Reply(403, {"error": "This action is outside the authorized scopes"})
        return None

    def _create(self, call: Call) -> Reply:
        """POST /api/v1/statuses, form-encoded; an Idempotency-Key seen in the last hour gives back the status it made."""
        form = {k: v for k, v in parse_qs(call.raw.decode(), keep_blank_values=True).items()}
        text = (form.get("status") or [""])[0]
        reply_to = (form.get("in_reply_to_id") or [None])[0] or None
        media_ids = form.get("media_ids[]") or []
        key = call.headers.get("Idempotency-Key")
        with self._lock:
            if self.queued:
                return self.queued.popleft()
            if key and (earlier := self._keys.get((ACCOUNT_ID, key))):
                status_id, stored = earlier
                found = self._live(status_id)
                if found is not None and time.time() - stored < self.idempotency_seconds:
                    return Reply(200, self._shown(found))
                del self._keys[(ACCOUNT_ID, key)]
            if refusal := self._invalid(text, reply_to, media_ids):
                return Reply(422, {"error": refusal})
            status_id = str(next(self._ids))
            status = {
                "id": status_id,
                "text": text,
                "at": call.at,
                "in_reply_to_id": reply_to,
                "media_ids": list(media_ids),
                "visibility": (form.get("visibility") or ["public"])[0],
                "key": key,
                "deleted": False,
            }
            self.statuses.append(status)
            for media_id in media_ids:
                self.media[media_id]["status"] = status_id
            if key:
                self._keys[(ACCOUNT_ID, key)] = (status_id, time.time())
            if self.after_post:
                return self.after_post.popleft()
            if self.garbled:
                return Reply(200, self._shown(status), {"X-RateLimit-Reset": self.garbled.popleft()})
            delay = self.lost.popleft() if self.lost else 0.0
            return Reply(200, self._shown(status), delay=delay)

    def _invalid(self, text: str, reply_to: str | None, media_ids: list[str]) -> str | None:
        """Why Mastodon would answer 422, if it would (called under the lock)."""
        if not text.strip() and not media_ids:
            return "Validation failed: Text can't be blank"
        if (length := self._length(text)) > self.max_characters:
            return f"Validation failed: Text character limit of {self.max_characters} exceeded ({length})"
        if len(media_ids) > 4:
            return "Validation failed: You can't attach more than 4 files"
        attachable = [m for m in media_ids if m in self.media and self.media[m].get("status") is None]
        if missing := [m for m in media_ids if m not in attachable]:
            return f"Media with ID(s) {', '.join(missing)} not found"
        if any(not self.media[m]["ready"] for m in media_ids):
            return "Cannot attach files that have not finished processing. Try again in a moment!"
        if reply_to is not None and self._live(reply_to) is None:
            return "Validation failed: the status you are replying to is no longer available"
        return None

    def _length(self, text: str) -> int:
        """StatusLengthValidator: grapheme clusters, each link as characters_reserved_per_url, each mention without its domain."""
        countable = _URL.sub("x" * self.characters_reserved_per_url, text)
        countable = _MENTION.sub(lambda m: "@" + m.group(1), countable)
        return int(grapheme.length(countable))

    def _upload(self, call: Call) -> Reply:
        """POST /api/v2/media, multipart/form-data: `file`, `description` (and `focus`); 200 when processed, 202 when not yet."""
        with self._lock:
            if self.upload_replies:
                return self.upload_replies.popleft()
        fields = _multipart(call)
        file = fields.get("file")
        if file is None or not file[1]:
            return Reply(422, {"error": "Validation failed: File can't be blank"})
        if not file[2].startswith("image/"):
            return Reply(422, {"error": "Validation failed: File content type is invalid"})
        description = fields["description"][1].decode() if "description" in fields else None
        with self._lock:
            media_id = str(next(self._media_ids))
            polls = self.processing.popleft() if self.processing else None
            self.media[media_id] = {
                "bytes": file[1],
                "name": file[0],
                "type": file[2],
                "description": description,
                "ready": polls is None,
                "polls_left": polls or 0,
                "status": None,
            }
            return Reply(200 if polls is None else 202, self._attachment(media_id))

    def _media_lookup(self, media_id: str) -> Reply:
        """GET /api/v1/media/:id: 206 while it is being processed, 200 once it is ready."""
        with self._lock:
            media = self.media.get(media_id)
            if media is None:
                return _not_found()
            if not media["ready"]:
                if media["polls_left"] > 0:
                    media["polls_left"] -= 1
                    return Reply(206, self._attachment(media_id))
                media["ready"] = True
            return Reply(200, self._attachment(media_id))

    def _timeline(self, account_id: str, query: dict[str, list[str]]) -> Reply:
        """GET /api/v1/accounts/:id/statuses: newest first, `limit` (20, at most 40), `max_id` and `since_id`."""
        if account_id != ACCOUNT_ID:
            return _not_found()
        limit = min(int((query.get("limit") or ["20"])[0]), 40)
        max_id, since_id = (query.get("max_id") or [None])[0], (query.get("since_id") or [None])[0]
        with self._lock:
            shown = [
                self._shown(s)
                for s in reversed(self.statuses)
                if not s["deleted"]
                and (max_id is None or int(s["id"]) < int(max_id))
                and (since_id is None or int(s["id"]) > int(since_id))
            ]
        return Reply(200, shown[:limit])

    def _delete(self, status_id: str) -> Reply:
        """DELETE /api/v1/statuses/:id: the deleted status with its source text; 404 once it is gone."""
        with self._lock:
            found = self._live(status_id)
            if found is None:
                return _not_found()
            found["deleted"] = True
            self.deleted.append(status_id)
            return Reply(200, {**self._shown(found), "text": found["text"]})

    def _too_many(self, reset_in: float) -> Reply:
        """Rack::Attack's throttled answer: 429 with the window's headers, the reset in ISO 8601 with microseconds."""
        return Reply(
            429,
            {"error": "Too many requests"},
            {
                "X-RateLimit-Limit": str(REQUESTS_PER_WINDOW),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": _iso(time.time() + reset_in),
            },
        )

    def _counted(self, reply: Reply) -> Reply:
        """The per-account rate-limit headers Mastodon puts on every authenticated answer, counting down in a 5-minute window."""
        now = time.time()
        with self._lock:
            start, used = self._window if self._window and now < self._window[0] + WINDOW_SECONDS else (now, 0)
            self._window = (start, used + 1)
        reply.headers.update(
            {
                "X-RateLimit-Limit": str(REQUESTS_PER_WINDOW),
                "X-RateLimit-Remaining": str(max(0, REQUESTS_PER_WINDOW - used - 1)),
                "X-RateLimit-Reset": _iso(start + WINDOW_SECONDS),
            }
        )
        return reply

    # --- entities -------------------------------------------------------------------------------------------------

    def _live(self, status_id: str) -> dict[str, Any] | None:
        return next((s for s in self.statuses if s["id"] == status_id and not s["deleted"]), None)

    def _instance_v1(self) -> dict[str, Any]:
        host = self.url.split("://", 1)[1]
        return {"uri": host, "title": "Fake Mastodon", "version": self.version, "urls": {}}

    def _instance_v2(self) -> dict[str, Any]:
        host = self.url.split("://", 1)[1]
        return {
            "domain": host,
            "title": "Fake Mastodon",
            "version": self.version,
            "api_versions": {"mastodon": 2},
            "configuration": {
                "statuses": {
                    "max_characters": self.max_characters,
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": self.characters_reserved_per_url,
                },
                "media_attachments": {"description_limit": 1500},
            },
        }

    def _account(self) -> dict[str, Any]:
        return {
            "id": ACCOUNT_ID,
            "username": USERNAME,
            "acct": USERNAME,
            "display_name": "Test account",
            "url": f"{self.url}/@{USERNAME}",
            "created_at": "2022-11-01T00:00:00.000Z",
            "locked": False,
            "bot": False,
            "note": "",
            "avatar": f"{self.url}/avatars/original/missing.png",
            "header": f"{self.url}/headers/original/missing.png",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": sum(1 for s in self.statuses if not s["deleted"]),
            "emojis": [],
            "fields": [],
        }

    def _attachment(self, media_id: str) -> dict[str, Any]:
        media = self.media[media_id]
        url = f"{self.url}/system/media_attachments/{media_id}/original.png" if media["ready"] else None
        return {
            "id": media_id,
            "type": "image",
            "url": url,
            "preview_url": url,
            "remote_url": None,
            "text_url": None,
            "meta": {},
            "description": media["description"],
            "blurhash": None,
        }

    def _shown(self, status: dict[str, Any]) -> dict[str, Any]:
        """A status as the API shows it: `content` is the server's HTML, never the text that was sent."""
        reply_to = status["in_reply_to_id"]
        return {
            "id": status["id"],
            "created_at": _iso(status["at"], 3),
            "in_reply_to_id": reply_to,
            "in_reply_to_account_id": ACCOUNT_ID if reply_to else None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": status["visibility"],
            "language": "en",
            "uri": f"{self.url}/users/{USERNAME}/statuses/{status['id']}",
            "url": f"{self.url}/@{USERNAME}/{status['id']}",
            "content": self._html(status["text"]),
            "account": self._account(),
            "media_attachments": [self._attachment(m) for m in status["media_ids"]],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "reblog": None,
            "card": None,
            "poll": None,
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            **self.counts.get(status["id"], {}),
        }

    def _html(self, text: str) -> str:
        """Mastodon's TextFormatter, in short: escaped, links and mentions and hashtags as anchors, paragraphs, <br />."""
        paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
        return "".join(f"<p>{'<br />'.join(self._linked(line) for line in p.split(chr(10)))}</p>" for p in paragraphs)

    def _linked(self, line: str) -> str:
        out, at = [], 0
        pattern = re.compile(f"{_URL.pattern}|{_MENTION.pattern}|{_TAG.pattern}", re.IGNORECASE)
        for m in pattern.finditer(line):
            out.append(html.escape(line[at : m.start()], quote=False))
            token, at = m.group(0), m.end()
            if token.startswith("@"):
                user = m.group(1)
                href = f"https://{m.group(2)}/@{user}" if m.group(2) else f"{self.url}/@{user}"
                out.append(f'<span class="h-card"><a href="{href}" class="u-url mention">@<span>{user}</span></a></span>')
            elif token.startswith("#"):
                out.append(
                    f'<a href="{self.url}/tags/{m.group(3)}" class="mention hashtag" rel="tag">#<span>{m.group(3)}</span></a>'
                )
            else:
                scheme, rest = token.split("://", 1)
                shown, hidden = rest[:30], rest[30:]
                out.append(
                    f'<a href="{html.escape(token)}" target="_blank" rel="nofollow noopener noreferrer">'
                    f'<span class="invisible">{scheme}://</span><span class="{"ellipsis" if hidden else ""}">'
                    f'{html.escape(shown, quote=False)}</span><span class="invisible">{html.escape(hidden, quote=False)}</span></a>'
                )
        out.append(html.escape(line[at:], quote=False))
        return "".join(out)


def _not_found() -> Reply:
    return Reply(404, {"error": "Record not found"})


def _iso(epoch: float, digits: int = 6) -> str:
    """Mastodon's timestamps: ISO 8601 in UTC, with fractions of a second (milliseconds on entities, microseconds on resets)."""
    stamp = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return stamp[: len(stamp) - 6 + digits] + "Z"
