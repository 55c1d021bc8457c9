"""A loopback Bluesky PDS: the XRPC calls the atproto SDK makes to post, read back and delete, with auth checked as the
reference PDS checks it (bluesky-social/atproto packages/pds/src/auth-verifier.ts).

- Sessions are HS256 JWTs (scope com.atproto.appPass or com.atproto.refresh); a refresh rotates the refresh token.
- createSession answers without a didDoc, so the SDK keeps calling this server (with one it moves to the PDS it names).
- A PDS's own calls answer 400 ExpiredToken / InvalidToken for a bad token; app.bsky calls (proxied to the AppView
  on the real service) answer 401 for the same; no token at all is 401 AuthMissing.
- A record's rkey is the client's when it sends one; a duplicate answers 500 InternalServerError, as the reference PDS
  does today (indigo issue #873), or `duplicate_status` (409 RecordAlreadyExists, as the cirrus PDS does).
- The request log never holds the app password: createSession's `password` is redacted once it has been checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.http import Call, RecordingServer, Reply

HANDLE = "aplusk.bsky.social"
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"  # an app password's shape: four groups of four
ACCESS_SECONDS = 2 * 60 * 60  # the reference PDS: access tokens live 120 minutes
REFRESH_SECONDS = 90 * 24 * 60 * 60  # ... and refresh tokens 90 days
POST = "app.bsky.feed.post"
RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")  # the generic record-key syntax, all the reference PDS checks
GET_POSTS_MAX = 25  # app.bsky.feed.getPosts: uris takes at most 25
WRITE_POINTS, WRITE_WINDOW, CREATE_POINTS = 5000, 3600, 3  # docs.bsky.app rate limits: 5,000 points an hour, a create 3
_SECRET = b"fake-pds-jwt-secret"
_PDS_AUTH = 400  # InvalidRequestError: what the PDS answers for its own calls
_APPVIEW_AUTH = 401  # AuthRequiredError: what the AppView answers for app.bsky calls


class FakeBluesky(RecordingServer):
    """One account's repo on a PDS: sessions, posts by rkey, blobs, and faults on demand."""

    def __init__(self, *, handle: str = HANDLE, did: str = DID, password: str = APP_PASSWORD) -> None:
        super().__init__(self._route)
        self.handle, self.did, self._password = handle, did, password
        self.access_seconds = ACCESS_SECONDS  # set below 15 minutes and the SDK refreshes before every call
        self.duplicate_status = 500  # what a createRecord of an existing rkey answers; 409 as cirrus does
        self.records: dict[str, dict[str, Any]] = {}  # rkey -> {uri, cid, value, at}: the posts in the repo now
        self.created: list[dict[str, Any]] = []  # every post ever created, in order (deleted ones too)
        self.deleted: list[str] = []  # rkeys deleted
        self.blobs: dict[str, dict[str, Any]] = {}  # cid -> {bytes, mimeType, size}
        self.queued: dict[str, deque[Reply]] = {}  # nsid -> canned answers that go first (a 429, a 5xx)
        self.counts: dict[str, dict[str, int]] = {}  # rkey -> likeCount, repostCount, replyCount, quoteCount (else 0)
        self.after_create: deque[Reply] = deque()  # create the record, then answer this instead (5xx, a dropped connection)
        self._refresh_ok: set[str] = set()  # the jti of each refresh token not yet rotated away
        self._jti = itertools.count(1)
        self._window_start = 0.0  # when the hour of the write budget began
        self._lock = threading.Lock()

    # faults on demand

    def answer_next(self, nsid: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        """Make the next call of `nsid` answer this instead of doing anything."""
        with self._lock:
            self.queued.setdefault(nsid, deque()).append(Reply(status, body, headers or {}))

    def rate_limit_next(self, nsid: str, reset: int, *, policy: str = "5000;w=3600") -> None:
        """The next call of `nsid` is refused with 429 and the ratelimit-* headers, the limit lifting at `reset` (epoch s)."""
        headers = {"ratelimit-limit": policy.split(";")[0], "ratelimit-remaining": "0", "ratelimit-reset": str(reset)}
        self.answer_next(nsid, 429, _error("RateLimitExceeded", "Rate Limit Exceeded"), {**headers, "ratelimit-policy": policy})

    def fail_after_creating(self, status: int = 500) -> None:
        """The next createRecord writes the record, then answers a server error."""
        with self._lock:
            self.after_create.append(Reply(status, _error("InternalServerError", "Internal Server Error")))

    def lose_next_answer(self) -> None:
        """The next createRecord writes the record, then the connection drops before any answer."""
        with self._lock:
            self.after_create.append(Reply(drop=True))

    def set_counts(self, rkey: str, **counts: int) -> None:
        """What the AppView counts for a post: likeCount=4, repostCount=1, replyCount, quoteCount."""
        with self._lock:
            self.counts[rkey] = {**self.counts.get(rkey, {}), **counts}

    # what tests read

    def texts(self) -> list[str]:
        """The texts of the posts in the repo now, oldest rkey first."""
        with self._lock:
            return [r["value"]["text"] for _, r in sorted(self.records.items())]

    def creates(self, rkey: str | None = None) -> list[Call]:
        """The createRecord calls that were answered (for one rkey)."""
        return [c for c in self.calls(_path("com.atproto.repo.createRecord")) if rkey is None or c.body.get("rkey") == rkey]

    def sessions_created(self) -> int:
        return len(self.calls(_path("com.atproto.server.createSession")))

    def sessions_refreshed(self) -> int:
        return len(self.calls(_path("com.atproto.server.refreshSession")))

    # the server

    def _route(self, call: Call) -> Reply:
        nsid = call.path.removeprefix("/xrpc/")
        with self._lock:
            if self.queued.get(nsid):
                return self.queued[nsid].popleft()
        handler = _ROUTES.get((call.method, nsid))
        if handler is None:
            return Reply(404 if call.method == "GET" else 501, _error("MethodNotImplemented", "Method Not Implemented"))
        return handler(self, call)

    def _create_session(self, call: Call) -> Reply:
        identifier, password = call.body.get("identifier"), call.body.get("password")
        call.body["password"] = "<redacted>"
        call.raw = json.dumps(call.body).encode()
        if identifier not in (self.handle, self.did) or not hmac.compare_digest(str(password), self._password):
            return Reply(401, _error("AuthenticationRequired", "Invalid identifier or password"))
        return Reply(200, self._session())

    def _refresh_session(self, call: Call) -> Reply:
        claims = self._verify(call, "com.atproto.refresh", _PDS_AUTH)
        if isinstance(claims, Reply):
            return claims
        with self._lock:
            if claims.get("jti") not in self._refresh_ok:
                return Reply(400, _error("ExpiredToken", "Token has been revoked"))
            self._refresh_ok.discard(claims["jti"])
        return Reply(200, self._session())

    def _session(self) -> dict[str, Any]:
        """A new session: an access token and a refresh token (no didDoc: the client stays on this server)."""
        now = int(time.time())
        jti = f"refresh-{next(self._jti)}"
        with self._lock:
            self._refresh_ok.add(jti)
        access = _jwt(
            {"typ": "at+jwt"}, {"scope": "com.atproto.appPass", "sub": self.did, "iat": now, "exp": now + self.access_seconds}
        )
        refresh = _jwt(
            {"typ": "refresh+jwt"},
            {"scope": "com.atproto.refresh", "sub": self.did, "iat": now, "exp": now + REFRESH_SECONDS, "jti": jti},
        )
        return {"did": self.did, "handle": self.handle, "accessJwt": access, "refreshJwt": refresh, "active": True}

    def _get_profile(self, call: Call) -> Reply:
        if isinstance(claims := self._verify(call, "com.atproto.appPass", _APPVIEW_AUTH), Reply):
            return claims
        if call.body.get("actor") not in (self.handle, self.did):
            return Reply(400, _error("InvalidRequest", "Profile not found"))
        return Reply(200, {"did": self.did, "handle": self.handle, "displayName": "Test account"})

    def _upload_blob(self, call: Call) -> Reply:
        if isinstance(claims := self._verify(call, "com.atproto.appPass", _PDS_AUTH), Reply):
            return claims
        kind = _sniff(call.raw) or call.headers.get("Content-Type", "application/octet-stream")
        cid = _cid(call.raw, codec=0x55)
        with self._lock:
            self.blobs[cid] = {"bytes": call.raw, "mimeType": kind, "size": len(call.raw)}
        return Reply(200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": kind, "size": len(call.raw)}})

    def _create_record(self, call: Call) -> Reply:
        if isinstance(claims := self._verify(call, "com.atproto.appPass", _PDS_AUTH), Reply):
            return claims
        body = call.body
        if body.get("repo") not in (self.did, self.handle):
            return Reply(401, _error("AuthenticationRequired", "Authentication Required"))
        record = body.get("record")
        if body.get("collection") != POST or not isinstance(record, dict) or record.get("$type") != POST:
            return Reply(400, _error("InvalidRequest", "Only app.bsky.feed.post records are kept by this fake"))
        if problem := self._invalid_post(record):
            return Reply(400, _error("InvalidRecord", problem))
        rkey = body.get("rkey") or _tid(int(time.time() * 1_000_000), 0)
        if not RKEY.match(rkey) or rkey in (".", ".."):
            return Reply(400, _error("InvalidRequest", f"Invalid record key: {rkey}"))
        with self._lock:
            if rkey in self.records:
                if self.duplicate_status == 409:
                    return Reply(409, _error("RecordAlreadyExists", f"Record already exists: {rkey}"))
                return Reply(500, _error("InternalServerError", "Internal Server Error"))
            uri = f"at://{self.did}/{POST}/{rkey}"
            cid = _cid(json.dumps(record, sort_keys=True).encode(), codec=0x71)
            stored = {"uri": uri, "cid": cid, "value": record, "at": call.at, "rkey": rkey}
            self.records[rkey] = stored
            self.created.append(stored)
            if self.after_create:
                return self.after_create.popleft()
        rev = _tid(int(time.time() * 1_000_000), 1)
        commit = {"cid": _cid(rev.encode(), 0x71), "rev": rev}
        return Reply(200, {"uri": uri, "cid": cid, "commit": commit, "validationStatus": "valid"}, self._budget(call.at))

    def _budget(self, now: float) -> dict[str, str]:
        """The account's hourly write budget after a create (3 of its 5,000 points), in the ratelimit-* headers."""
        with self._lock:
            start = self._window_start if now < self._window_start + WRITE_WINDOW else now
            self._window_start = start
            used = sum(CREATE_POINTS for r in self.created if r["at"] >= start)
        return {
            "ratelimit-limit": str(WRITE_POINTS),
            "ratelimit-remaining": str(max(0, WRITE_POINTS - used)),
            "ratelimit-reset": str(int(start + WRITE_WINDOW)),
            "ratelimit-policy": f"{WRITE_POINTS};w={WRITE_WINDOW}",
        }

    def _invalid_post(self, record: dict[str, Any]) -> str | None:
        """What the PDS's lexicon validation refuses: a text over 3000 bytes, a reply to nothing, an unknown blob."""
        text = record.get("text")
        if not isinstance(text, str) or len(text.encode()) > 3000:
            return "Invalid app.bsky.feed.post record: Record/text must not be longer than 3000 characters"
        reply = record.get("reply")
        if reply is not None:
            for part in ("root", "parent"):
                ref = reply.get(part) or {}
                if not (isinstance(ref.get("uri"), str) and isinstance(ref.get("cid"), str)):
                    return f'Invalid app.bsky.feed.post record: Record/reply/{part} must have the property "cid"'
        for image in ((record.get("embed") or {}).get("images")) or []:
            link = ((image.get("image") or {}).get("ref") or {}).get("$link")
            if link not in self.blobs:
                return f"Could not find blob: {link}"
        return None

    def _get_record(self, call: Call) -> Reply:
        if isinstance(claims := self._verify(call, "com.atproto.appPass", _PDS_AUTH), Reply):
            return claims
        rkey = call.body.get("rkey", "")
        with self._lock:
            found = self.records.get(rkey) if call.body.get("collection") == POST else None
        if found is None:
            uri = f"at://{call.body.get('repo')}/{call.body.get('collection')}/{rkey}"
            return Reply(400, _error("RecordNotFound", f"Could not locate record: {uri}"))
        return Reply(200, {"uri": found["uri"], "cid": found["cid"], "value": found["value"]})

    def _list_records(self, call: Call) -> Reply:
        """Newest rkey first (reverse=true: oldest first), `limit` at a time from after `cursor`."""
        if isinstance(claims := self._verify(call, "com.atproto.appPass", _PDS_AUTH), Reply):
            return claims
        limit = min(int(call.body.get("limit", 50)), 100)
        reverse = str(call.body.get("reverse", "false")).lower() == "true"
        cursor = call.body.get("cursor")
        with self._lock:
            keys = sorted(self.records, reverse=not reverse) if call.body.get("collection") == POST else []
            if cursor:
                keys = [k for k in keys if (k > cursor if reverse else k < cursor)]
            page = [
                {"uri": self.records[k]["uri"], "cid": self.records[k]["cid"], "value": self.records[k]["value"]}
                for k in keys[:limit]
            ]
        return Reply(200, {"records": page, **({"cursor": keys[limit - 1]} if len(keys) > limit else {})})

    def _delete_record(self, call: Call) -> Reply:
        if isinstance(claims := self._verify(call, "com.atproto.appPass", _PDS_AUTH), Reply):
            return claims
        if call.body.get("repo") not in (self.did, self.handle):
            return Reply(401, _error("AuthenticationRequired", "Authentication Required"))
        rkey = call.body.get("rkey", "")
        with self._lock:
            if self.records.pop(rkey, None) is None:
                return Reply(200, {})  # "delete a record, or ensure it doesn't exist"
            self.deleted.append(rkey)
        rev = _tid(int(time.time() * 1_000_000), 2)
        return Reply(200, {"commit": {"cid": _cid(rev.encode(), 0x71), "rev": rev}})

    def _author_feed(self, call: Call) -> Reply:
        if isinstance(claims := self._verify(call, "com.atproto.appPass", _APPVIEW_AUTH), Reply):
            return claims
        limit = min(int(call.body.get("limit", 50)), 100)
        with self._lock:
            posts = sorted(self.records.values(), key=lambda r: r["rkey"], reverse=True)[:limit]
            author = {"did": self.did, "handle": self.handle}
            feed = [
                {"post": {"uri": r["uri"], "cid": r["cid"], "author": author, "record": r["value"], "indexedAt": _iso(r["at"])}}
                for r in posts
            ]
        return Reply(200, {"feed": feed})

    def _get_posts(self, call: Call) -> Reply:
        """app.bsky.feed.getPosts (the AppView, through the PDS): a PostView with its counts for each URI it has, in the
        order asked; a deleted or unknown post is left out; more than 25 URIs is 400."""
        if isinstance(claims := self._verify(call, "com.atproto.appPass", _APPVIEW_AUTH), Reply):
            return claims
        uris = parse_qs(call.query).get("uris", [])
        if len(uris) > GET_POSTS_MAX:
            return Reply(400, _error("InvalidRequest", f"Error: uris must not have more than {GET_POSTS_MAX} elements"))
        author = {"did": self.did, "handle": self.handle}
        with self._lock:
            by_uri = {r["uri"]: r for r in self.records.values()}
            posts = [
                {
                    "uri": r["uri"],
                    "cid": r["cid"],
                    "author": author,
                    "record": r["value"],
                    "indexedAt": _iso(r["at"]),
                    **{k: 0 for k in ("likeCount", "repostCount", "replyCount", "quoteCount")},
                    **self.counts.get(r["rkey"], {}),
                }
                for r in (by_uri[u] for u in uris if u in by_uri)
            ]
        return Reply(200, {"posts": posts})

    def _verify(self, call: Call, scope: str, status: int) -> dict[str, Any] | Reply:
        """The bearer token's claims, or the answer the PDS (400) or the AppView (`status` 401) gives for a bad one."""
        auth = bearer(call)
        if not auth.startswith("Bearer "):
            return Reply(401, _error("AuthMissing", "Authentication Required"))
        claims = _verified(auth.removeprefix("Bearer "))
        if claims is None:
            return Reply(status, _error("InvalidToken", "Token could not be verified"))
        if claims.get("exp", 0) <= time.time():
            return Reply(status, _error("ExpiredToken", "Token has expired"))
        if claims.get("scope") != scope or claims.get("sub") != self.did:
            return Reply(status, _error("InvalidToken", "Bad token scope"))
        return claims


_ROUTES = {
    ("POST", "com.atproto.server.createSession"): FakeBluesky._create_session,
    ("POST", "com.atproto.server.refreshSession"): FakeBluesky._refresh_session,
    ("GET", "app.bsky.actor.getProfile"): FakeBluesky._get_profile,
    ("POST", "com.atproto.repo.uploadBlob"): FakeBluesky._upload_blob,
    ("POST", "com.atproto.repo.createRecord"): FakeBluesky._create_record,
    ("GET", "com.atproto.repo.getRecord"): FakeBluesky._get_record,
    ("GET", "com.atproto.repo.listRecords"): FakeBluesky._list_records,
    ("POST", "com.atproto.repo.deleteRecord"): FakeBluesky._delete_record,
    ("GET", "app.bsky.feed.getAuthorFeed"): FakeBluesky._author_feed,
    ("GET", "app.bsky.feed.getPosts"): FakeBluesky._get_posts,
}


def bearer(call: Call) -> str:
    """The call's Authorization header, whatever its case (the SDK sends `authorization` on refreshSession)."""
    return next((v for k, v in call.headers.items() if k.lower() == "authorization"), "")


def _path(nsid: str) -> str:
    return f"/xrpc/{nsid}"


def _error(name: str, message: str) -> dict[str, str]:
    return {"error": name, "message": message}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing = f"{_b64(json.dumps({'alg': 'HS256', **header}).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing}.{_b64(hmac.new(_SECRET, signing.encode(), hashlib.sha256).digest())}"


def _verified(token: str) -> dict[str, Any] | None:
    """A token's claims when this server signed it; None for anything else."""
    try:
        signing, signature = token.rsplit(".", 1)
        expected = _b64(hmac.new(_SECRET, signing.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            return None
        payload = signing.split(".", 1)[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, IndexError):
        return None
    return claims if isinstance(claims, dict) else None


def _cid(data: bytes, codec: int) -> str:
    """A CIDv1 (sha2-256) in base32, as a PDS names a record (dag-cbor, 0x71: bafyrei…) or a blob (raw, 0x55: bafkrei…)."""
    return "b" + base64.b32encode(bytes([1, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()).decode().lower().rstrip("=")


def _tid(microseconds: int, clock_id: int) -> str:
    """A TID as the PDS makes one for a record key or a commit's rev."""
    n = (microseconds << 10) | (clock_id & 0x3FF)
    return "".join("234567abcdefghijklmnopqrstuvwxyz"[(n >> (5 * (12 - i))) & 31] for i in range(13))


def _sniff(data: bytes) -> str | None:
    """The PDS sniffs an upload's type from its bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))
