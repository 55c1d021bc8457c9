"""Links people paste to say where a post is on X: only a status link of the account's own handle is taken."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bot.errors import BadLink

HOSTS = frozenset(f"{prefix}{domain}" for prefix in ("", "www.", "mobile.") for domain in ("x.com", "twitter.com"))
_STATUS = re.compile(r"/(?P<handle>[A-Za-z0-9_]{1,15})/status/(?P<id>[0-9]{1,20})/?")


def status_id(url: str, handle: str) -> str:
    """The post id in `url`, or BadLink naming what is wrong: not https, another host, not a post, another handle."""
    example = f"https://x.com/{handle}/status/1234567890"
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
        plain = parts.netloc.lower().rstrip(".") == host  # no user, password or port hiding the real host
    except ValueError:
        raise BadLink(f"{url} is not a link; give the post's link, e.g. {example}") from None
    if parts.scheme != "https":
        raise BadLink(f"{url} is not an https link; give the post's link on X, e.g. {example}")
    if host not in HOSTS or not plain:
        raise BadLink(
            f"{url} is a link to {parts.netloc or 'nowhere'}, not to x.com or twitter.com; give the post's link on X, "
            f"e.g. {example}"
        )
    found = _STATUS.fullmatch(parts.path)
    if not found:
        raise BadLink(
            f"{url} is not a link to a post (…/{handle}/status/…); open the post on X and copy its link, e.g. {example}"
        )
    if found["handle"].lower() != handle.lower():
        raise BadLink(
            f"{url} is a post of @{found['handle']}, not of @{handle}, the account this draft is for; "
            f"give the link of the post on @{handle}, e.g. {example}"
        )
    return found["id"]
