"""The Bluesky adapter: the Publisher port (bot/ports.py) over the atproto SDK's Client, the PDS's answers mapped to a
post or a PublishError, as bot/x.py does for X.

- Post ids: a reply on Bluesky needs strong refs (uri + cid) to the thread's root and to its parent, so Posted.post_id is
  an opaque string this adapter writes and parses (PostRef: "<uri> <cid>", and for a reply " <root uri> <root cid>"); the
  desk passes the previous part's id back as `reply_to` and never builds links from it (Posted.url is bsky.app's).
- At most once: key_for() makes the record key (a TID) once, when the ledger first claims a part; the desk stores it with
  the claim and passes it to every resend, so the PDS keeps one record per key. After a lost answer, find(key=) reads it
  back with getRecord (the PDS reads its own repo: no indexing lag) before anything is sent again.
- Length: bot/networks.py's count_bluesky (300 graphemes, 3,000 UTF-8 bytes; links in full), for the card and /draft;
  publish() refuses a text over either limit before sending. Links become link facets (byte offsets), so they are clickable.
- Images: up to 4 of at most 1,000,000 bytes each (bot/images.py refuses a bigger one before review); upload() returns an
  opaque media id (the blob ref and its alt text, as JSON) that publish() turns into an images embed.
- Errors: a login or session failure is never UNKNOWN (nothing was written); a session the PDS no longer accepts is dropped
  and the next call logs in again. createSession is limited (30 per 5 minutes): the wiring keeps one BlueskyPublisher per
  account for the process's life; it logs in on first use and the SDK refreshes the session itself.
- Secrets: the app password stays a Secret and is revealed only to createSession; the tokens live only inside the SDK's
  Client; no exception text or log record carries either (httpx logs only method, URL and status).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pydantic
from atproto import Client, Request, Session, SessionEvent, client_utils, models
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    InvokeTimeoutError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    RequestException,
    UnauthorizedError,
)

from bot.config import Secret
from bot.engagement import Counts, Read
from bot.errors import BadLink, Delivery, PublishError
from bot.images import BLUESKY_MAX_BYTES as BLUESKY_IMAGE_BYTES
from bot.images import Image
from bot.length import BLUESKY_MAX_BYTES, BLUESKY_MAX_GRAPHEMES, measure_bluesky
from bot.networks import Count, count_bluesky
from bot.ports import ApiErrorSeen, Posted, Quota, XLimits, by_status, reporting, unheard

SERVICE = "https://bsky.social"  # the entryway: it sends the client on to the account's own PDS after login
COLLECTION = "app.bsky.feed.post"
CREATE = "/xrpc/com.atproto.repo.createRecord"  # its answers carry the account's write budget in ratelimit-* headers
GET_POSTS_MAX = 25  # app.bsky.feed.getPosts takes at most 25 URIs a call
LOOKBACK = 100  # the account's most recent records searched for one whose outcome is unknown (listRecords' maximum)
MAX_IMAGE_BYTES = BLUESKY_IMAGE_BYTES  # app.bsky.embed.images: image blob maxSize
SESSION_ERRORS = ("ExpiredToken", "InvalidToken", "AuthMissing")  # the session, not the request, was refused
_S32 = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable, the TID alphabet
_TID_CHARS = frozenset(_S32)


@dataclass(frozen=True)
class PostRef:
    """Where a post is, as a reply must name it (strong refs), carried in Posted.post_id as "<uri> <cid>[ <root uri> <root cid>]"."""

    uri: str
    cid: str
    root_uri: str | None = None  # the thread's first post, when this one is a reply
    root_cid: str | None = None

    def encode(self) -> str:
        """The opaque post id the ledger keeps."""
        return " ".join(p for p in (self.uri, self.cid, self.root_uri, self.root_cid) if p)

    @classmethod
    def parse(cls, post_id: str) -> PostRef:
        """A post id this adapter made (a bare at:// URI too, for a post whose cid is not known)."""
        parts = post_id.split()
        if not parts or not parts[0].startswith("at://") or len(parts) not in (1, 2, 4):
            raise ValueError(f"not a Bluesky post id: {post_id!r}")
        return cls(*parts) if len(parts) != 1 else cls(parts[0], "")

    @property
    def rkey(self) -> str:
        """The record key: the last segment of the URI."""
        return self.uri.rsplit("/", 1)[-1]

    def root(self) -> models.ComAtprotoRepoStrongRef.Main:
        """The strong ref a reply to this post names as its root: this post's root, or the post itself."""
        if self.root_uri and self.root_cid:
            return models.ComAtprotoRepoStrongRef.Main(uri=self.root_uri, cid=self.root_cid)
        return self.strong()

    def strong(self) -> models.ComAtprotoRepoStrongRef.Main:
        return models.ComAtprotoRepoStrongRef.Main(uri=self.uri, cid=self.cid)


def tid(microseconds: int, clock_id: int) -> str:
    """A TID (atproto.com/specs/tid): 53 bits of microseconds since the epoch and a 10-bit clock id, base32-sortable."""
    n = (microseconds << 10) | (clock_id & 0x3FF)
    return "".join(_S32[(n >> (5 * (12 - i))) & 31] for i in range(13))


def record_key(claimed_at: datetime, salt: str) -> str:
    """The record key of one part's post, made once when the ledger claims the part and stored with the claim.

    `salt` names the part (e.g. "draft 12 v3 part 2"): it picks the clock id, so parts claimed in the same microsecond
    still get different keys. The time makes the key sort where the post belongs on the account; createdAt is read back
    from it, so a resend with the same key sends the same record.
    """
    clock_id = int.from_bytes(hashlib.sha256(salt.encode()).digest()[:2], "big") & 0x3FF
    return tid(int(claimed_at.timestamp() * 1_000_000), clock_id)


def key_time(key: str) -> datetime:
    """When a TID says it was made."""
    if len(key) != 13 or not set(key) <= _TID_CHARS or key[0] not in _S32[:16]:
        raise ValueError(f"not a TID: {key!r}")
    n = 0
    for char in key:
        n = n * 32 + _S32.index(char)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=n >> 10)


def post_link(handle: str, rkey: str) -> str:
    """The public address of a post in the Bluesky app."""
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


class BlueskyPublisher:
    """Posts to one Bluesky account through the atproto SDK's Client, logged in once with an app password."""

    def __init__(
        self,
        handle: str,
        app_password: Secret,
        *,
        service: str = SERVICE,
        timeout: float = 10.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        errors: ApiErrorSeen = unheard,
    ) -> None:
        self.handle = handle
        self.network = "bluesky"
        self._errors = errors
        self._password = app_password
        self._now = now
        self._did: str | None = None  # set by a session (created or refreshed); None: log in before the next call
        self._lock = threading.Lock()
        self._limits: XLimits | None = None
        request = Request(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), event_hooks={"response": [self._heard]})
        self._client = Client(base_url=service, request=request)
        self._client.on_session_change(self._on_session)

    def publish(self, text: str, *, reply_to: str | None = None, media_ids: Sequence[str] = (), key: str | None = None) -> Posted:
        """Create the post under the record key `key` (see record_key: the same for every resend of a part, so the PDS
        keeps one); without a key, one is made now and a resend could post twice."""
        length = measure_bluesky(text)
        if length.excess or length.excess_bytes:
            raise PublishError(
                f"Bluesky takes {BLUESKY_MAX_GRAPHEMES} characters and {BLUESKY_MAX_BYTES} bytes; this text is "
                f"{length.graphemes} characters and {length.bytes} bytes",
                delivery=Delivery.REFUSED,
            )
        rkey = key or record_key(self._now(), text)
        parent = PostRef.parse(reply_to) if reply_to else None
        record = models.AppBskyFeedPost.Record(
            text=text,
            created_at=key_time(rkey).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            facets=client_utils.detect_facets(text) or None,  # links (and #tags) by byte offsets, so they can be clicked
            reply=models.AppBskyFeedPost.ReplyRef(root=parent.root(), parent=parent.strong()) if parent else None,
            embed=_images(media_ids),
        )
        repo = self._ready()
        with self._mapped("the post", sent_is_unknown=True):
            answer = self._client.app.bsky.feed.post.create(repo, record, rkey=rkey)
        ref = PostRef(answer.uri, answer.cid, *((parent.root().uri, parent.root().cid) if parent else ()))
        return Posted(post_id=ref.encode(), url=post_link(self.handle, ref.rkey))

    def upload(self, image: Image) -> str:
        """uploadBlob; the media id is the blob's ref with the image's alt text (JSON), for publish() to embed."""
        if image.size > MAX_IMAGE_BYTES or len(image.data) > MAX_IMAGE_BYTES:
            raise PublishError(
                f"{image.name} is {image.size:,} bytes; Bluesky takes images up to {MAX_IMAGE_BYTES:,} bytes",
                delivery=Delivery.REFUSED,
            )
        self._ready()
        with self._mapped(f"the image {image.name}", sent_is_unknown=False):
            blob = self._client.upload_blob(image.data).blob
        return json.dumps(
            {"ref": str(blob.cid), "mimeType": blob.mime_type, "size": blob.size, "alt": image.alt}, separators=(",", ":")
        )

    def lookup(self, key: str) -> Posted | None:
        """The post made under record key `key`, None when certainly absent (getRecord: the PDS reads its own repo);
        PublishError when Bluesky cannot tell."""
        repo = self._ready()
        with self._mapped("the lookup of the post", sent_is_unknown=True):
            try:
                found = self._client.com.atproto.repo.get_record(
                    models.ComAtprotoRepoGetRecord.Params(repo=repo, collection=COLLECTION, rkey=key)
                )
            except BadRequestError as e:
                if _error_name(e) == "RecordNotFound":
                    return None
                raise
        return self._posted(found.uri, found.cid or "", found.value)

    def find(self, text: str, since: datetime, *, key: str | None = None) -> Posted | None:
        """The post made under `key` when there is one (certain: getRecord), else the account's own recent post of this
        text (listRecords, newest first), made after `since`."""
        if key:
            return self.lookup(key)
        repo = self._ready()
        with self._mapped("the lookup of recent posts", sent_is_unknown=True):
            answer = self._client.com.atproto.repo.list_records(
                models.ComAtprotoRepoListRecords.Params(repo=repo, collection=COLLECTION, limit=LOOKBACK)
            )
        after = since - timedelta(minutes=1)
        for record in answer.records:
            value = record.value
            if _created(value) >= after and getattr(value, "text", None) == text:
                return self._posted(record.uri, record.cid, value)
        return None

    def delete(self, post_id: str) -> None:
        """deleteRecord: "delete a record, or ensure it doesn't exist", so a post already gone counts as deleted."""
        ref = PostRef.parse(post_id)
        repo = self._ready()
        with self._mapped("the deletion", sent_is_unknown=False):
            self._client.app.bsky.feed.post.delete(repo, ref.rkey)

    def key_for(self, draft_id: int, version: int, part: int, at: datetime) -> str | None:
        """The record key of one part, made when the ledger first claims it (the desk reuses it for every resend)."""
        return record_key(at, f"draft {draft_id} v{version} part {part}")

    def count(self, text: str) -> Count:
        """Bluesky's graphemes and bytes."""
        return count_bluesky(text)

    def url_of(self, post_id: str) -> str:
        """The public link of one of the account's posts (bsky.app, by the handle or DID its URI names)."""
        ref = PostRef.parse(post_id)
        actor = ref.uri.removeprefix("at://").split("/", 1)[0]
        return post_link(self.handle if actor == self._did else actor, ref.rkey)

    def link_id(self, url: str) -> str:
        """The post id (an at:// URI) a link to one of the account's posts names: https://bsky.app/profile/<handle>/post/<rkey>
        or the at:// URI itself; BadLink saying what is wrong otherwise."""
        example = f"https://bsky.app/profile/{self.handle}/post/3l…"
        found = re.fullmatch(
            r"(?:https://bsky\.app/profile/|at://)(?P<actor>[^/\s]+)/(?:post|app\.bsky\.feed\.post)/(?P<rkey>[A-Za-z0-9._:~-]+)/?",
            url.strip(),
        )
        if not found:
            raise BadLink(f"{url} is not a link to a post on Bluesky; open the post and copy its link, e.g. {example}")
        actor = found["actor"].lower()
        if actor != self.handle.lower() and actor != (self._did or "").lower():
            raise BadLink(
                f"{url} is a post of {found['actor']}, not of @{self.handle}; give the link of the post on @{self.handle}"
            )
        return f"at://{self._did_of(actor)}/{COLLECTION}/{found['rkey']}"

    def _did_of(self, actor: str) -> str:
        """The account's DID for its handle or DID (lower case), as the AppView names posts; the handle when no session can
        be had now (engagement swaps it then)."""
        if actor != self.handle.lower():
            return self._did or actor
        try:
            return self._ready()
        except PublishError:
            return self.handle

    def limits(self) -> XLimits | None:
        """The write budget Bluesky reported with its last answer to createRecord (ratelimit-*); None until then."""
        return self._limits

    def engagement(self, post_ids: Sequence[str]) -> Iterator[Read]:
        """app.bsky.feed.getPosts, 25 URIs a call: likes, reposts, replies and quotes (Bluesky counts no impressions). It
        looks URIs up as given and answers in the DID form, so a URI naming the account by its handle (a link marked
        published by an older copydesk) is asked for by its DID; a post not in the answer is left out (deleted, or not
        indexed yet: Bluesky does not say which)."""
        if not post_ids:
            return
        did = self._ready()
        by_uri: dict[str, list[str]] = {}
        for post_id in dict.fromkeys(post_ids):
            by_uri.setdefault(self._by_did(PostRef.parse(post_id).uri, did), []).append(post_id)
        uris = list(by_uri)
        for start in range(0, len(uris), GET_POSTS_MAX):
            with self._mapped("the lookup of the posts' counts", sent_is_unknown=False):
                answer = self._client.get_posts(uris[start : start + GET_POSTS_MAX])
            for post in answer.posts:
                counts = Counts(
                    likes=post.like_count, reposts=post.repost_count, replies=post.reply_count, quotes=post.quote_count
                )
                for post_id in by_uri.get(post.uri, []):
                    yield Read(post_id, counts)

    def _by_did(self, uri: str, did: str) -> str:
        """The URI with the account's handle, where it names the account by it, swapped for its DID."""
        actor, _, rest = uri.removeprefix("at://").partition("/")
        return f"at://{did}/{rest}" if actor.lower() == self.handle.lower() else uri

    def _ready(self) -> str:
        """The account's DID, logging in first when there is no session (once per process; the SDK refreshes it)."""
        with self._lock:
            if self._did is None:
                with self._mapped(f"the login of @{self.handle}", sent_is_unknown=False):
                    self._client.login(self.handle, self._password.reveal(), fetch_bsky_profile=False)
            if self._did is None:
                raise PublishError(f"Bluesky's answer to the login of @{self.handle} had no DID", delivery=Delivery.NOT_SENT)
            return self._did

    def _on_session(self, event: SessionEvent, session: Session) -> None:
        """The SDK made or refreshed the session: keep only the DID (the tokens stay inside the client)."""
        self._did = session.did

    def _posted(self, uri: str, cid: str, value: Any) -> Posted:
        reply = getattr(value, "reply", None)
        root = (reply.root.uri, reply.root.cid) if reply is not None else ()
        ref = PostRef(uri, cid, *root)
        return Posted(post_id=ref.encode(), url=post_link(self.handle, ref.rkey))

    def _heard(self, response: httpx.Response) -> None:
        """An httpx hook: keep the ratelimit-* headers of the PDS's answers to createRecord, in memory."""
        if response.request.method == "POST" and response.request.url.path == CREATE:
            self._limits = read_limits(response.headers, self._limits)

    @contextmanager
    def _mapped(self, doing: str, *, sent_is_unknown: bool) -> Iterator[None]:
        """Turn the SDK's and httpx's exceptions into a PublishError saying whether the post may exist."""
        unknown = Delivery.UNKNOWN if sent_is_unknown else Delivery.NOT_SENT

        def said(what: str) -> str:  # a read or a deletion creates no post: nothing to check for
            return _UNKNOWN.format(what) if sent_is_unknown else what

        try:
            with reporting(self._errors, _kind):
                yield
        except RateLimitExceededError as e:
            raise PublishError(
                f"Bluesky is rate limiting @{self.handle} ({_reason(e)})", delivery=Delivery.NOT_SENT, retry_at=self._reset(e)
            ) from None
        except (UnauthorizedError, BadRequestError) as e:  # checked before anything is written
            if _error_name(e) in SESSION_ERRORS:
                self._did = None  # log in again next time
                raise PublishError(
                    f"Bluesky no longer accepts copydesk's session for @{self.handle} ({_reason(e)}); it logs in again",
                    delivery=Delivery.NOT_SENT,
                ) from None
            raise PublishError(f"Bluesky refused {doing}: {_reason(e)}", delivery=Delivery.REFUSED) from None
        except InvokeTimeoutError as e:
            if isinstance(e.__cause__, (httpx.ConnectTimeout, httpx.PoolTimeout)):
                raise PublishError("Bluesky could not be reached (connection timed out)", delivery=Delivery.NOT_SENT) from None
            raise PublishError(said("Bluesky did not answer in time"), delivery=unknown) from None
        except NetworkError as e:  # a transport failure, or 409/413/502, which the SDK raises alike
            status = e.response.status_code if e.response is not None else None
            if status == 413:
                raise PublishError(f"Bluesky refused {doing}: {_reason(e)}", delivery=Delivery.REFUSED) from None
            if status is not None:  # 409 (a record already under that key) or 502: look before sending again
                raise PublishError(said(f"Bluesky answered {_reason(e)}"), delivery=unknown) from None
            if isinstance(e.__cause__, httpx.ConnectError):
                raise PublishError("Bluesky could not be reached", delivery=Delivery.NOT_SENT) from None
            raise PublishError(said("the connection to Bluesky broke"), delivery=unknown) from None
        except RequestException as e:
            status = e.response.status_code if e.response is not None else 0
            if status >= 500:  # the PDS may have written before failing (a duplicate key answers 500 too)
                raise PublishError(said(f"Bluesky had a server error ({_reason(e)})"), delivery=unknown) from None
            raise PublishError(f"Bluesky refused {doing}: {_reason(e)}", delivery=Delivery.REFUSED) from None
        except httpx.UnsupportedProtocol:
            raise PublishError("Bluesky's service address is not an http(s) URL", delivery=Delivery.REFUSED) from None
        except httpx.HTTPError:  # escapes the SDK raw: the server dropped the connection after the request went
            raise PublishError(said("the connection to Bluesky broke"), delivery=unknown) from None
        except (AtProtocolError, pydantic.ValidationError, ValueError, AttributeError):  # a garbled or cut-off answer
            raise PublishError(said("Bluesky's answer could not be read"), delivery=unknown) from None

    def _reset(self, error: RateLimitExceededError) -> datetime | None:
        """When Bluesky lets the account try again: ratelimit-reset, else retry-after seconds from now."""
        if error.reset_at is not None:
            return error.reset_at
        return self._now() + timedelta(seconds=error.retry_after) if error.retry_after is not None else None


_UNKNOWN = "{}; the post may be live: check the account before publishing it again"


def _kind(error: Exception) -> str | None:
    """What /metrics counts an error as (bot/ports.py's reporting); None for what is not an error of the PDS's API."""
    if isinstance(error, InvokeTimeoutError):
        return "timeout"
    if isinstance(error, RequestErrorBase) and error.response is not None:
        return by_status(error.response.status_code)
    if isinstance(error, (NetworkError, httpx.HTTPError)):
        return "connection"
    if isinstance(error, (AtProtocolError, pydantic.ValidationError, ValueError, AttributeError)):
        return "bad_answer"
    return None


def read_limits(headers: Mapping[str, str], before: XLimits | None = None) -> XLimits | None:
    """Bluesky's ratelimit-limit, -remaining and -reset (epoch seconds) as the port's limits (the hourly write budget
    in `window`); an answer without them leaves what was known."""
    remaining, reset, limit = (headers.get(f"ratelimit-{k}", "").strip() for k in ("remaining", "reset", "limit"))
    if not remaining.isdigit():
        return before
    quota = Quota(
        int(remaining),
        datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else None,
        int(limit) if limit.isdigit() else None,
    )
    return XLimits(window=quota, day=before.day if before else None)


def _images(media_ids: Sequence[str]) -> models.AppBskyEmbedImages.Main | None:
    """The images embed for uploaded blobs, each with its alt text."""
    if not media_ids:
        return None
    images = []
    for media_id in media_ids:
        blob = json.loads(media_id)
        ref = models.blob_ref.BlobRef(
            mime_type=blob["mimeType"], size=blob["size"], ref=models.blob_ref.IpldLink(link=blob["ref"])
        )
        images.append(models.AppBskyEmbedImages.Image(alt=blob.get("alt") or "", image=ref))
    return models.AppBskyEmbedImages.Main(images=images)


def _created(value: Any) -> datetime:
    """A record's createdAt; the epoch when it has none that can be read."""
    try:
        return datetime.fromisoformat(str(value.created_at).replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return datetime.fromtimestamp(0, UTC)


def _error_name(error: RequestErrorBase) -> str | None:
    content = error.response.content if error.response is not None else None
    return getattr(content, "error", None)


def _reason(error: RequestErrorBase) -> str:
    """The PDS's own words (its error name and message), falling back to the HTTP status."""
    if error.response is None:
        return type(error).__name__
    content = error.response.content
    words = ": ".join(str(w) for w in (getattr(content, "error", None), getattr(content, "message", None)) if w)
    return f"{error.response.status_code} {words}" if words else f"HTTP {error.response.status_code}"
