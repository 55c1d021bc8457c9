"""The X adapter: the Publisher port (bot/ports.py) over tweepy, X's answers mapped to a post or a PublishError."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import tweepy
from twitter_text.extract_urls import extract_urls_with_indices
from urllib3.exceptions import NameResolutionError, NewConnectionError

from bot.config import Account
from bot.engagement import Counts, Read
from bot.errors import Delivery, PublishError
from bot.images import Image
from bot.links import status_id
from bot.networks import Count, count_x
from bot.ports import ApiErrorSeen, Posted, Quota, XLimits, by_status, post_url, reporting, unheard

TWEEPY_HOST = "https://api.twitter.com"  # tweepy.Client hard-codes this in BaseClient.request()
LOOKBACK = 100  # the account's most recent posts searched for one whose outcome is unknown
MEDIA_UPLOAD = "/2/media/upload"  # X's v2 one-shot upload; tweepy 4.x has no call for it
MEDIA_METADATA = "/2/media/metadata"  # X's v2 media metadata: the alt text of an uploaded image
CREATE = "/2/tweets"  # POST: a post; X's answer says what is left of the account's posting limits
LOOKUP_MAX = 100  # GET /2/tweets takes at most 100 ids a request
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"  # a post X does not have (deleted, or never made)


class XSession(requests.Session):
    """A requests session that sends tweepy's calls to `base_url` and never waits forever.

    The host is rewritten in prepare_request, before the OAuth 1.0a signature is made over the URL,
    so what X receives is signed for the host it reaches; a rewrite at the transport would not be.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if isinstance(request.url, str) and request.url.startswith(TWEEPY_HOST):
            request.url = self.base_url + request.url[len(TWEEPY_HOST) :]
        return super().prepare_request(request)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class XPublisher:
    """Posts to one X account through tweepy's v2 Client (POST /2/tweets and friends)."""

    def __init__(self, account: Account, *, base_url: str, timeout: float, errors: ApiErrorSeen = unheard) -> None:
        creds = account.credentials
        self._errors = errors
        on_x = account.on("x")
        self.handle = on_x.handle if on_x else account.handle
        self.network = "x"
        self._user_id: str | None = None
        self._oauth1: tweepy.OAuth1UserHandler | None = None
        if creds.oauth2_access_token is not None:
            self._client = tweepy.Client(bearer_token=creds.oauth2_access_token.reveal())
            self._user_auth = False
        else:
            self._client = tweepy.Client(
                consumer_key=_reveal(creds.consumer_key),
                consumer_secret=_reveal(creds.consumer_secret),
                access_token=_reveal(creds.access_token),
                access_token_secret=_reveal(creds.access_token_secret),
            )
            self._user_auth = True
            self._oauth1 = tweepy.OAuth1UserHandler(
                self._client.consumer_key,
                self._client.consumer_secret,
                self._client.access_token,
                self._client.access_token_secret,
            )
        self._client.session = XSession(base_url, timeout)
        self._limits: XLimits | None = None
        self._client.session.hooks["response"].append(self._heard)

    def publish(self, text: str, *, reply_to: str | None = None, media_ids: Sequence[str] = (), key: str | None = None) -> Posted:
        """Create the post; X's own reason goes into the PublishError when it refuses."""
        with self._mapped("the post", sent_is_unknown=True):
            response = self._client.create_tweet(
                text=text, in_reply_to_tweet_id=reply_to, media_ids=list(media_ids) or None, user_auth=self._user_auth
            )
        try:
            post_id = str(response.data["id"])
        except (TypeError, KeyError):
            raise PublishError(_UNKNOWN.format("X's answer had no post id"), delivery=Delivery.UNKNOWN) from None
        return Posted(post_id=post_id, url=post_url(self.handle, post_id))

    def upload(self, image: Image) -> str:
        """POST /2/media/upload as multipart/form-data, signed the way tweepy signs its own calls, on tweepy's session."""
        with self._mapped(f"the image {image.name}", sent_is_unknown=False):
            if self._oauth1 is not None:
                auth: Any = self._oauth1.apply_auth()  # OAuth 1.0a: a multipart body is not part of the signature
                headers = {"User-Agent": self._client.user_agent}
            else:
                auth, headers = (
                    None,
                    {"User-Agent": self._client.user_agent, "Authorization": f"Bearer {self._client.bearer_token}"},
                )
            with self._client.session.post(
                TWEEPY_HOST + MEDIA_UPLOAD,
                files={"media": (image.name, image.data, image.mimetype)},
                data={"media_category": "tweet_image"},
                headers=headers,
                auth=auth,
            ) as response:
                _raise_for_status(response)
                answer = response.json()
        try:
            media_id = str(answer["data"]["id"])
        except (TypeError, KeyError):
            raise PublishError(f"X's answer to the upload of {image.name} had no media id", delivery=Delivery.NOT_SENT) from None
        if image.alt:
            with self._mapped(f"the alt text of {image.name}", sent_is_unknown=False):
                self._client.request(
                    "POST",
                    MEDIA_METADATA,
                    json={"id": media_id, "metadata": {"alt_text": {"text": image.alt}}},
                    user_auth=self._user_auth,
                )
        return media_id

    def find(self, text: str, since: datetime, *, key: str | None = None) -> Posted | None:
        """Look through the account's own recent posts for this text (X shortens links, so links are compared loosely)."""
        with self._mapped("the lookup of recent posts", sent_is_unknown=True):
            if self._user_id is None:
                self._user_id = str(self._client.get_me(user_auth=self._user_auth).data.id)
            response = self._client.get_users_tweets(
                self._user_id,
                max_results=LOOKBACK,
                start_time=(since - timedelta(minutes=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                tweet_fields=["entities"],  # X shows links as t.co: its entities say what each one stands for
                user_auth=self._user_auth,
            )
        wanted = comparable(text)
        for post in response.data or []:
            if as_posted(post.text, (post.entities or {}).get("urls") or []) == wanted:
                return Posted(post_id=str(post.id), url=post_url(self.handle, str(post.id)))
        return None

    def delete(self, post_id: str) -> None:
        """Take a post down (DELETE /2/tweets/:id)."""
        with self._mapped("the deletion", sent_is_unknown=False):
            try:
                self._client.delete_tweet(post_id, user_auth=self._user_auth)
            except tweepy.NotFound:
                pass  # already gone

    def limits(self) -> XLimits | None:
        """What X said of the account's posting limits when it last answered a post (refusals too); None until then."""
        return self._limits

    def engagement(self, post_ids: Sequence[str]) -> Iterator[Read]:
        """GET /2/tweets?ids=…&tweet.fields=public_metrics, 100 ids a request (each post read is billed); a deleted post is
        in X's `errors` as resource-not-found, not in its `data`: it comes as gone."""
        ids = list(dict.fromkeys(post_ids))
        for start in range(0, len(ids), LOOKUP_MAX):
            with self._mapped("the lookup of the posts' counts", sent_is_unknown=False):
                response = self._client.get_tweets(
                    ids[start : start + LOOKUP_MAX], tweet_fields=["public_metrics"], user_auth=self._user_auth
                )
            for post in response.data or []:
                metrics = post.public_metrics or {}
                yield Read(
                    str(post.id),
                    Counts(
                        likes=metrics.get("like_count"),
                        reposts=metrics.get("retweet_count"),
                        replies=metrics.get("reply_count"),
                        quotes=metrics.get("quote_count"),
                        impressions=metrics.get("impression_count"),
                    ),
                )
            asked = set(ids[start : start + LOOKUP_MAX])
            for error in response.errors or []:
                gone = str(error.get("resource_id") or error.get("value"))
                if error.get("type") == NOT_FOUND and error.get("resource_type") == "tweet" and gone in asked:
                    yield Read(gone, None)

    def key_for(self, draft_id: int, version: int, part: int, at: datetime) -> str | None:
        """X has no idempotency key: a lost answer is looked for on the account (find) before any resend."""
        return None

    def count(self, text: str) -> Count:
        """X's weighted length."""
        return count_x(text)

    def url_of(self, post_id: str) -> str:
        """The public link of one of the account's posts."""
        return post_url(self.handle, post_id)

    def link_id(self, url: str) -> str:
        """The post id in a link to one of the account's posts on X, or BadLink saying what is wrong with it."""
        return status_id(url, self.handle)

    def _heard(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """A hook on tweepy's session: keep the rate-limit headers of X's answers to POST /2/tweets, in memory."""
        request = response.request
        if request.method == "POST" and urlsplit(request.url or "").path == CREATE:
            self._limits = read_limits(response.headers, self._limits)

    @contextmanager
    def _mapped(self, doing: str, *, sent_is_unknown: bool) -> Iterator[None]:
        """Turn tweepy's and requests' exceptions into a PublishError saying whether the post may exist."""
        unknown = Delivery.UNKNOWN if sent_is_unknown else Delivery.NOT_SENT

        def said(what: str) -> str:  # a read or a deletion creates no post: nothing to check for
            return _UNKNOWN.format(what) if sent_is_unknown else what

        try:
            with reporting(self._errors, _kind):
                yield
        except tweepy.TooManyRequests as e:
            reset = _reset_time(e.response)
            raise PublishError(
                f"X is rate limiting @{self.handle} ({_reason(e)})", delivery=Delivery.NOT_SENT, retry_at=reset
            ) from None
        except tweepy.TwitterServerError as e:  # X may have acted before failing: a post is looked for before it is sent again
            raise PublishError(f"X had a server error ({_reason(e)})", delivery=unknown) from None
        except tweepy.HTTPException as e:
            raise PublishError(f"X refused {doing}: {_reason(e)}", delivery=Delivery.REFUSED) from None
        except requests.ConnectTimeout:
            raise PublishError("X could not be reached (connection timed out)", delivery=Delivery.NOT_SENT) from None
        except requests.Timeout:
            raise PublishError(said("X did not answer in time"), delivery=unknown) from None
        except requests.ConnectionError as e:
            if _never_sent(e):
                raise PublishError("X could not be reached", delivery=Delivery.NOT_SENT) from None
            raise PublishError(said("the connection to X broke"), delivery=unknown) from None
        except (requests.RequestException, ValueError, AttributeError):
            # a garbled or cut-off answer: the request did reach X
            raise PublishError(said("X's answer was cut off"), delivery=unknown) from None


_UNKNOWN = "{}; the post may be live: check the account before publishing it again"


def _kind(error: Exception) -> str | None:
    """What /metrics counts an error as (bot/ports.py's reporting); None for what is not an error of X's API."""
    if isinstance(error, tweepy.HTTPException):
        return by_status(error.response.status_code)
    if isinstance(error, requests.Timeout):
        return "timeout"
    if isinstance(error, requests.ConnectionError):
        return "connection"
    if isinstance(error, (requests.RequestException, ValueError, AttributeError)):
        return "bad_answer"
    return None


LINK = "\x00link\x00"  # where a link stood, on both sides of the comparison


def comparable(text: str) -> tuple[str, tuple[str, ...]]:
    """Our text as X will show it back, for comparison: NFC, spacing folded, and each link (bare domains too, found as X
    finds them) set apart with where it points."""
    text = unicodedata.normalize("NFC", text)
    found = extract_urls_with_indices(text)
    for url in reversed(found):
        start, end = url["indices"]
        text = text[:start] + LINK + text[end:]
    return " ".join(text.split()), tuple(_where(u["url"]) for u in found)


def as_posted(text: str, urls: Sequence[dict[str, Any]]) -> tuple[str, tuple[str, ...]]:
    """A post as X returns it, made comparable: t.co links read back through its entities (the link X adds for attached
    media dropped), &, < and > unescaped, NFC."""
    links = []
    for entity in sorted(urls, key=lambda u: u.get("start", 0)):
        short = entity.get("url") or ""
        if entity.get("media_key") or str(entity.get("display_url", "")).startswith(("pic.x.com", "pic.twitter.com")):
            text = text.replace(short, "", 1)
        elif short:
            text = text.replace(short, LINK, 1)
            links.append(_where(entity.get("unwound_url") or entity.get("expanded_url") or short))
    text = unicodedata.normalize("NFC", html.unescape(text))
    return " ".join(text.split()), tuple(links)


def read_limits(headers: Mapping[str, str], before: XLimits | None = None) -> XLimits | None:
    """X's rate-limit headers: x-rate-limit-* (the 15-minute window) and x-user-limit-24hour-* (the user's day), each
    with -limit, -remaining and -reset (epoch seconds); a limit an answer does not mention stays as it was."""
    window = _quota(headers, "x-rate-limit") or (before.window if before else None)
    day = _quota(headers, "x-user-limit-24hour") or (before.day if before else None)
    return XLimits(window, day) if window or day else None


def _quota(headers: Mapping[str, str], prefix: str) -> Quota | None:
    remaining, reset, limit = (headers.get(f"{prefix}-{k}", "").strip() for k in ("remaining", "reset", "limit"))
    if not remaining.isdigit():
        return None
    return Quota(
        int(remaining),
        datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else None,
        int(limit) if limit.isdigit() else None,
    )


def _where(url: str) -> str:
    """A link as both sides can agree on it: without its scheme and a trailing slash."""
    return re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip(), flags=re.IGNORECASE).rstrip("/")


def _never_sent(error: requests.ConnectionError) -> bool:
    """A refused or unresolvable connection: X certainly did not get the request."""
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, (NewConnectionError, NameResolutionError))


def _raise_for_status(response: requests.Response) -> None:
    """The exceptions tweepy's own calls raise for X's answers, so one mapping covers both."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset", "")
        raise tweepy.TooManyRequests(response, reset_time=int(reset) if reset.isdigit() else None)
    if status >= 500:
        raise tweepy.TwitterServerError(response)
    known = {400: tweepy.BadRequest, 401: tweepy.Unauthorized, 403: tweepy.Forbidden, 404: tweepy.NotFound}
    raise known.get(status, tweepy.HTTPException)(response)


def _reset_time(response: requests.Response) -> datetime | None:
    """X names when the limit lifts in x-rate-limit-reset (epoch seconds)."""
    value = response.headers.get("x-rate-limit-reset", "")
    return datetime.fromtimestamp(int(value), UTC) if value.isdigit() else None


def _reveal(secret: Any) -> str:
    assert secret is not None, "config guarantees all four OAuth 1.0a keys"
    return secret.reveal()


def _reason(error: tweepy.HTTPException) -> str:
    """X's own words (the Problem's detail), falling back to the HTTP status."""
    status = error.response.status_code
    messages = "; ".join(m for m in error.api_messages if m)
    return f"{status} {messages}" if messages else f"HTTP {status}"
