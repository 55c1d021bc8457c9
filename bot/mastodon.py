"""The Mastodon adapter: the Publisher port (bot/ports.py) over Mastodon.py, the instance's answers mapped to a post or a
PublishError exactly as bot/x.py maps X's.

- At most once: key_for() is the Idempotency-Key of one part of one version of a draft (publish_key); a resend with the same
  key within Mastodon's hour gets the status the first try made instead of a second one, and after a lost answer find()
  looks through the account's own statuses first.
- Length: the instance's own rule (configuration.statuses.max_characters, a link as characters_reserved_per_url), read once
  at start by learn_limits() (Mastodon's 500 and 23 when it cannot be read); count() gives it to the desk.
- The token needs write:statuses write:media read:statuses, and read:accounts for verify_credentials (which find uses to
  know the account's id; without it a real instance answers 403, mapped to REFUSED).
- Rate limits: ratelimit_method="throw" (the default sleeps in this thread, holding up every other network); a 429 is
  NOT_SENT with X-RateLimit-Reset as its retry time. Deletes are limited to 30 per 30 minutes: a 429 there is reported by
  retract as "still on Mastodon".
- Every status goes out visibility="public"; the account's default visibility is not used. Never debug_requests: it prints
  the Authorization header.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
)
from mastodon._url_regex import url_regex  # the URL rule get_status_length uses (private: Mastodon.py is pinned)
from urllib3.exceptions import NameResolutionError, NewConnectionError

from bot.config import Secret
from bot.engagement import Counts, Read
from bot.errors import BadLink, Delivery, PublishError
from bot.images import Image
from bot.networks import Count
from bot.ports import ApiErrorSeen, Posted, Quota, XLimits, by_status, reporting, unheard

LOOKBACK = 40  # statuses per page when looking for one whose outcome is unknown (the API's maximum)
PAGES = 5  # pages looked through at most: 200 statuses
POLL_EVERY = 1.0  # seconds between looks at an upload the instance is still processing
CREATE = "/api/v1/statuses"  # POST: a status; the answer's X-RateLimit-* headers are kept for limits()
HIT = "Hit rate limit."  # MastodonRatelimitError's text for a 429; any other text is a header it could not read
DEFAULT_MAX_CHARACTERS, DEFAULT_URL_CHARACTERS = 500, 23  # Mastodon's own, for an instance that does not say


@dataclass(frozen=True)
class MastodonLimits:
    """How long a status may be on one instance (GET /api/v2/instance, configuration.statuses)."""

    max_characters: int = DEFAULT_MAX_CHARACTERS
    characters_reserved_per_url: int = DEFAULT_URL_CHARACTERS

    def length(self, text: str) -> int:
        """The text's length as this instance counts it."""
        return status_length(text, self.characters_reserved_per_url)

    def over(self, text: str) -> int:
        """By how many characters the text is too long here (0 when it fits)."""
        return max(0, self.length(text) - self.max_characters)


def status_length(text: str, reserved_per_url: int = DEFAULT_URL_CHARACTERS) -> int:
    """Mastodon's StatusLengthValidator: grapheme clusters, a link (with its scheme) as `reserved_per_url`, a mention as
    @username without its domain. Mastodon.py's get_status_length counts a link as 23; an instance that says otherwise is
    corrected by the difference for each link, found with the same regex."""
    length = int(Mastodon.get_status_length(text))
    if reserved_per_url != DEFAULT_URL_CHARACTERS:
        length += (reserved_per_url - DEFAULT_URL_CHARACTERS) * sum(1 for _ in url_regex.finditer(text))
    return length


def publish_key(draft_id: int, version: int, part: int, claimed: datetime | None = None) -> str:
    """The Idempotency-Key of one part of one version of a draft: a new version must never get the old text back. With
    the moment the part was first claimed (stored with the claim and reused for every resend), a second copydesk on
    the same account (staging beside production, a restored ledger) never gets another's status back for its own."""
    stamp = f"-{claimed.astimezone(UTC):%Y%m%dT%H%M%S%f}" if claimed is not None else ""
    return f"copydesk-{draft_id}-v{version}-p{part}{stamp}"


class MastodonPublisher:
    """Posts to one Mastodon account through Mastodon.py, on the instance at `instance` (any base URL: a proxy, a fake)."""

    def __init__(
        self,
        handle: str,
        instance: str,
        access_token: Secret,
        *,
        timeout: float,
        poll_every: float = POLL_EVERY,
        errors: ApiErrorSeen = unheard,
    ) -> None:
        self.handle = handle  # user@host
        self._errors = errors
        self.instance = instance.rstrip("/")
        self.timeout = timeout
        self._poll_every = poll_every
        self._account_id: str | None = None
        self.network = "mastodon"
        self.rule = MastodonLimits()  # the instance's length rule: learn_limits() reads it at start
        self._limits: XLimits | None = None
        self._lock = threading.Lock()  # Mastodon.py keeps rate-limit state on the client: one call at a time
        session = requests.Session()
        session.hooks["response"].append(self._heard)
        # "throw": the default "wait" sleeps in this thread on a 429 (up to 5 minutes a try), holding up every other network.
        # No mastodon_version: the media calls find the version themselves (GET /api/v1/instance/), and /api/v2/media.
        # Never debug_requests: it prints the Authorization header.
        self._api = Mastodon(
            access_token=access_token.reveal(),
            api_base_url=self.instance,
            ratelimit_method="throw",
            request_timeout=timeout,
            session=session,
            user_agent="copydesk",
        )

    def __repr__(self) -> str:
        return f"MastodonPublisher({self.handle!r}, {self.instance!r})"

    def publish(self, text: str, *, reply_to: str | None = None, media_ids: Sequence[str] = (), key: str | None = None) -> Posted:
        """Create the status (public, a reply to `reply_to`, with uploaded media); `key` is sent as its Idempotency-Key.

        The caller derives `key` from the draft, its version and the part (publish_key): for an hour after a try that
        reached the instance, a resend with the same key gets the status that try made instead of making a second one.
        """
        with self._mapped("the post", sent_is_unknown=True):
            status = self._api.status_post(
                text, in_reply_to_id=reply_to, media_ids=list(media_ids) or None, visibility="public", idempotency_key=key
            )
        try:
            return self._posted(status)
        except (TypeError, KeyError, AttributeError):
            raise PublishError(_UNKNOWN.format("Mastodon's answer had no status id"), delivery=Delivery.UNKNOWN) from None

    def upload(self, image: Image) -> str:
        """POST /api/v2/media with the alt text as its description; waits (within the timeout) for one still processing."""
        doing = f"the image {image.name}"
        with self._mapped(doing, sent_is_unknown=False):
            media = self._api.media_post(
                image.data, mime_type=image.mimetype, description=image.alt or None, file_name=image.name
            )
            deadline = time.monotonic() + self.timeout
            while media.get("url") is None:  # 202: the instance processes it; a status with it now would be refused
                if time.monotonic() + self._poll_every > deadline:
                    raise PublishError(
                        f"Mastodon was still processing {image.name} after {self.timeout:g}s", delivery=Delivery.NOT_SENT
                    )
                time.sleep(self._poll_every)
                media = self._api.media(media["id"])
        try:
            return str(media["id"])
        except (TypeError, KeyError):
            raise PublishError(
                f"Mastodon's answer to the upload of {image.name} had no media id", delivery=Delivery.NOT_SENT
            ) from None

    def find(self, text: str, since: datetime, *, key: str | None = None) -> Posted | None:
        """Look through the account's own statuses since `since` for this text: their HTML read back as text, or failing
        that their source (GET /api/v1/statuses/:id/source, the text exactly as it was sent)."""
        wanted, plain = comparable(text), _folded(text)
        exact = wanted == plain  # no remote mention: the HTML says all the text said
        with self._mapped("the lookup of recent posts", sent_is_unknown=True):
            candidates = list(self._since(since - timedelta(minutes=1)))
            alike = [s for s in candidates if from_html(s["content"]) == wanted]
            if exact and alike:
                return self._posted(alike[0])
            for status in alike + [s for s in candidates if s not in alike]:  # @bob@a and @bob@b both read back as @bob
                source = self._source(status["id"])
                matches = status in alike if source is None else _folded(source) == plain  # no source (< 3.5): the HTML must do
                if matches:
                    return self._posted(status)
        return None

    def delete(self, post_id: str) -> None:
        """Take a status down (DELETE /api/v1/statuses/:id); one already gone counts as deleted."""
        with self._mapped("the deletion", sent_is_unknown=False):
            try:
                self._api.status_delete(post_id)
            except MastodonNotFoundError:
                pass

    def limits(self) -> XLimits | None:
        """What the instance said of the account's rate limit when it last answered a post; None until then."""
        return self._limits

    def engagement(self, post_ids: Sequence[str]) -> Iterator[Read]:
        """GET /api/v1/statuses/:id for each, one at a time as the caller asks (what every Mastodon version offers):
        favourites, reblogs and replies (no quotes, no impressions); a status the instance answers 404 for is gone."""
        for post_id in dict.fromkeys(post_ids):
            with self._mapped("the lookup of the posts' counts", sent_is_unknown=False):
                try:
                    status = self._api.status(post_id)
                except MastodonNotFoundError:
                    status = None
            if status is None:
                yield Read(post_id, None)
                continue
            yield Read(
                post_id,
                Counts(
                    likes=status.get("favourites_count"),
                    reposts=status.get("reblogs_count"),
                    replies=status.get("replies_count"),
                ),
            )

    def key_for(self, draft_id: int, version: int, part: int, at: datetime) -> str | None:
        """The Idempotency-Key of one part of one version of a draft."""
        return publish_key(draft_id, version, part, at)

    def count(self, text: str) -> Count:
        """The instance's length rule, as read at start (Mastodon's own 500 and 23 until then)."""
        rule = self.rule
        return Count(
            "mastodon",
            rule.length(text),
            rule.max_characters,
            f"links count {rule.characters_reserved_per_url}, a mention its name without the domain",
        )

    def learn_limits(self) -> MastodonLimits:
        """Read the instance's length rule once, at start; PublishError when it cannot be read (the default stays)."""
        self.rule = self.instance_limits()
        return self.rule

    def url_of(self, post_id: str) -> str:
        """The public link of one of the account's statuses on its instance."""
        return f"{self.instance}/@{self.handle.split('@')[0]}/{post_id}"

    def link_id(self, url: str) -> str:
        """The status id a link to one of the account's statuses names (https://<instance>/@<user>/<id>), or BadLink."""
        example = f"{self.instance}/@{self.handle.split('@')[0]}/1234567890"
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            raise BadLink(f"{url} is not a link; give the status's link, e.g. {example}") from None
        found = re.fullmatch(r"/@(?P<user>[A-Za-z0-9_]+)(?:@[^/]+)?/(?P<id>[0-9]{1,30})/?", parts.path)
        if parts.scheme not in ("https", "http") or parts.netloc.lower() != urlsplit(self.instance).netloc.lower() or not found:
            raise BadLink(
                f"{url} is not a link to a status on {self.instance}; open the status and copy its link, e.g. {example}"
            )
        if found["user"].lower() != self.handle.split("@")[0].lower():
            raise BadLink(f"{url} is a status of @{found['user']}, not of @{self.handle}")
        return found["id"]

    def instance_limits(self) -> MastodonLimits:
        """The instance's status length rules (GET /api/v2/instance), read at start."""
        with self._mapped("the instance's limits", sent_is_unknown=False):
            statuses = ((self._api.instance_v2().get("configuration") or {}).get("statuses")) or {}
        return MastodonLimits(
            int(statuses.get("max_characters") or DEFAULT_MAX_CHARACTERS),
            int(statuses.get("characters_reserved_per_url") or DEFAULT_URL_CHARACTERS),
        )

    def _source(self, status_id: str) -> str | None:
        """The text a status was posted with; None when the instance cannot say (deleted meanwhile, older than 3.5)."""
        try:
            return str(self._api.status_source(status_id)["text"])
        except MastodonNotFoundError:
            return None

    def _since(self, after: datetime) -> Iterator[Any]:
        """The account's statuses created after `after`, newest first (replies too: a thread's parts are replies)."""
        if self._account_id is None:
            self._account_id = str(self._api.account_verify_credentials()["id"])
        max_id = None
        for _ in range(PAGES):
            page = self._api.account_statuses(self._account_id, exclude_reblogs=True, limit=LOOKBACK, max_id=max_id)
            for status in page:
                if _aware(status["created_at"]) < after:
                    return
                yield status
            if len(page) < LOOKBACK:
                return
            max_id = page[-1]["id"]

    def _posted(self, status: Any) -> Posted:
        post_id = str(status["id"])
        return Posted(post_id=post_id, url=str(status.get("url") or f"{self.instance}/@{self.handle.split('@')[0]}/{post_id}"))

    def _heard(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """A hook on the client's session: keep the rate-limit headers of the instance's answers to a post, in memory."""
        request = response.request
        if request.method == "POST" and urlsplit(request.url or "").path.rstrip("/").endswith(CREATE):
            self._limits = read_limits(response.headers) or self._limits

    @contextmanager
    def _mapped(self, doing: str, *, sent_is_unknown: bool) -> Iterator[None]:
        """Turn Mastodon.py's exceptions into a PublishError saying whether the post may exist (as bot/x.py does for X)."""
        unknown = Delivery.UNKNOWN if sent_is_unknown else Delivery.NOT_SENT

        def said(what: str) -> str:  # a read or a deletion creates no post: nothing to check for
            return _UNKNOWN.format(what) if sent_is_unknown else what

        with self._lock:
            self._api.ratelimit_reset = None  # only this call's answer may say when the limit lifts
            try:
                with reporting(self._errors, _kind):
                    yield
            except PublishError:
                raise
            except MastodonRatelimitError as e:
                if str(e) != HIT:  # a rate-limit header it could not read, on an answer that may say it worked
                    raise PublishError(said("Mastodon's answer could not be read"), delivery=unknown) from None
                raise PublishError(
                    f"Mastodon is rate limiting @{self.handle}", delivery=Delivery.NOT_SENT, retry_at=self._reset()
                ) from None
            except MastodonServerError as e:  # the instance may have acted before failing
                raise PublishError(f"Mastodon had a server error ({_reason(e)})", delivery=unknown) from None
            except MastodonAPIError as e:
                if not isinstance(_status(e), int):  # a 2xx whose body was not JSON: it did reach the instance
                    raise PublishError(said("Mastodon's answer was cut off"), delivery=unknown) from None
                raise PublishError(f"Mastodon refused {doing}: {_reason(e)}", delivery=Delivery.REFUSED) from None
            except MastodonNetworkError as e:
                if _never_sent(e):
                    raise PublishError("Mastodon could not be reached", delivery=Delivery.NOT_SENT) from None
                if isinstance(e.__context__, requests.Timeout):
                    raise PublishError(said("Mastodon did not answer in time"), delivery=unknown) from None
                raise PublishError(said("the connection to Mastodon broke"), delivery=unknown) from None
            except MastodonIllegalArgumentError as e:  # refused by the client before anything was sent
                raise PublishError(f"Mastodon.py refused {doing}: {e}", delivery=Delivery.REFUSED) from None
            except (MastodonError, ValueError, KeyError, TypeError, AttributeError):
                raise PublishError(said("Mastodon's answer could not be read"), delivery=unknown) from None

    def _reset(self) -> datetime | None:
        """When the limit lifts: Mastodon.py read X-RateLimit-Reset into the local clock (None: the instance did not say)."""
        reset = self._api.ratelimit_reset
        return datetime.fromtimestamp(reset, UTC) if reset else None


_UNKNOWN = "{}; the post may be live: check the account before publishing it again"


def _kind(error: Exception) -> str | None:
    """What /metrics counts an error as (bot/ports.py's reporting); None for what is not an error of the instance's API."""
    if isinstance(error, MastodonRatelimitError):
        return "rate_limited" if str(error) == HIT else "bad_answer"
    if isinstance(error, MastodonNetworkError):
        return "timeout" if isinstance(error.__context__, requests.Timeout) else "connection"
    if isinstance(error, MastodonAPIError):
        return by_status(_status(error)) if isinstance(_status(error), int) else "bad_answer"
    if isinstance(error, (PublishError, MastodonIllegalArgumentError)):
        return None  # decided here, before anything was sent
    if isinstance(error, (MastodonError, ValueError, KeyError, TypeError, AttributeError)):
        return "bad_answer"
    return None


_MENTION = re.compile(r"(^|[^/\w])@([a-z0-9_]+)@[a-z0-9.\-]+[a-z0-9]+", re.IGNORECASE)  # get_status_length's, domain dropped


def comparable(text: str) -> str:
    """Our text as the instance's HTML reads back: a remote mention without its domain, NFC, spacing folded."""
    return _folded(_MENTION.sub(r"\1@\2", text))


def from_html(content: str) -> str:
    """A status's `content` as text: <br> a line break, a new <p> a blank line, tags dropped, entities read, spacing folded."""
    reader = _Text()
    reader.feed(content)
    reader.close()
    return _folded("".join(reader.parts))


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _folded(text: str) -> str:
    """NFC, every run of spacing one space: what both sides can agree on."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def read_limits(headers: Any) -> XLimits | None:
    """Mastodon's X-RateLimit-Limit, -Remaining and -Reset (ISO 8601, or epoch seconds on GoToSocial): the account's window."""
    remaining, limit, reset = (str(headers.get(f"X-RateLimit-{k}", "")).strip() for k in ("Remaining", "Limit", "Reset"))
    if not remaining.isdigit():
        return None
    return XLimits(Quota(int(remaining), _when(reset), int(limit) if limit.isdigit() else None), None)


def _when(value: str) -> datetime | None:
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    try:
        return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _status(error: MastodonAPIError) -> Any:
    """The HTTP status Mastodon.py puts second in an API error's arguments (a message there: not an HTTP error)."""
    return error.args[1] if len(error.args) > 1 else None


def _reason(error: MastodonAPIError) -> str:
    """The instance's own words (its `error` field), after the HTTP status."""
    status, message = _status(error), error.args[3] if len(error.args) > 3 else None
    return f"{status} {message}" if message else f"HTTP {status}"


def _never_sent(error: MastodonNetworkError) -> bool:
    """A refused or unresolvable connection, or one never made in time: the instance certainly did not get the request."""
    cause = error.__context__
    if isinstance(cause, requests.ConnectTimeout):
        return True
    if not isinstance(cause, requests.ConnectionError):
        return False
    inner = cause.args[0] if cause.args else None
    return isinstance(getattr(inner, "reason", inner), (NewConnectionError, NameResolutionError))
