"""Publishing to X with tweepy, mapping X's answers to a post id or a PublishError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import requests
import tweepy
from urllib3.exceptions import NameResolutionError, NewConnectionError

from bot.config import Account
from bot.errors import PublishError

TWEEPY_HOST = "https://api.twitter.com"  # tweepy.Client hard-codes this in BaseClient.request()


@dataclass(frozen=True)
class Posted:
    """What X created."""

    post_id: str
    url: str


class Publisher(Protocol):
    """Something that can put a text on one account's timeline."""

    def publish(self, text: str) -> Posted:
        """Post `text`, or raise PublishError."""
        ...


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
        if request.url and request.url.startswith(TWEEPY_HOST):
            request.url = self.base_url + request.url[len(TWEEPY_HOST) :]
        return super().prepare_request(request)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class XPublisher:
    """Posts to one X account through tweepy's v2 Client (POST /2/tweets)."""

    def __init__(self, account: Account, *, base_url: str, timeout: float) -> None:
        creds = account.credentials
        self.handle = account.handle
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
        self._client.session = XSession(base_url, timeout)

    def publish(self, text: str) -> Posted:
        """Create the post; X's own reason goes into the PublishError when it refuses."""
        try:
            response = self._client.create_tweet(text=text, user_auth=self._user_auth)
        except tweepy.TooManyRequests as e:
            raise PublishError(f"X is rate limiting this account ({_reason(e)})", permanent=False) from None
        except tweepy.TwitterServerError as e:
            raise PublishError(f"X had a server error ({_reason(e)})", permanent=False) from None
        except tweepy.HTTPException as e:
            raise PublishError(f"X refused the post: {_reason(e)}", permanent=True) from None
        except requests.ConnectTimeout:
            raise PublishError("X could not be reached (connection timed out)", permanent=False) from None
        except requests.Timeout:
            raise PublishError(_UNKNOWN.format("X did not answer in time"), permanent=True) from None
        except requests.ConnectionError as e:
            if _never_sent(e):
                raise PublishError("X could not be reached", permanent=False) from None
            raise PublishError(_UNKNOWN.format("the connection to X broke"), permanent=True) from None
        except requests.RequestException:
            raise PublishError(_UNKNOWN.format("X's answer was cut off"), permanent=True) from None
        try:
            post_id = str(response.data["id"])
        except (TypeError, KeyError):
            raise PublishError(_UNKNOWN.format("X's answer had no post id"), permanent=True) from None
        return Posted(post_id=post_id, url=post_url(self.handle, post_id))


_UNKNOWN = "{}; the post may be live: check the account before publishing it again"


def _never_sent(error: requests.ConnectionError) -> bool:
    """A refused or unresolvable connection: X certainly did not get the request."""
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, (NewConnectionError, NameResolutionError))


def post_url(handle: str, post_id: str) -> str:
    """The public address of a post."""
    return f"https://x.com/{handle}/status/{post_id}"


def _reveal(secret: Any) -> str:
    assert secret is not None, "config guarantees all four OAuth 1.0a keys"
    return secret.reveal()


def _reason(error: tweepy.HTTPException) -> str:
    """X's own words (the Problem's detail), falling back to the HTTP status."""
    status = error.response.status_code
    messages = "; ".join(m for m in error.api_messages if m)
    return f"{status} {messages}" if messages else f"HTTP {status}"
