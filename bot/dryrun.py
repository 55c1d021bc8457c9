"""A dry run: the Publisher port (bot/ports.py) with nothing behind it, so a team can try the whole loop without keys.

Review behaves as on the real network (its length rule, its links), but no call leaves the process: a post gets a made-up
id that no network would give ("dry-run-…"), no link, and the ledger records it with the outcome `dry_run`.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from bot.engagement import Read
from bot.errors import BadLink
from bot.images import Image
from bot.links import status_id
from bot.networks import DEFAULT_COUNTERS, Count, label, listed
from bot.ports import Posted, XLimits, post_url

PREFIX = "dry-run-"  # every made-up id starts so: X's ids are digits, Bluesky's at:// URIs, Mastodon's digits


def not_sent(networks: Iterable[str]) -> str:
    """What every message about a dry-run post says: "DRY RUN — not sent to X" (or Bluesky, or all its networks)."""
    return f"DRY RUN — not sent to {listed(networks)}"


def is_made_up(post_id: str | None) -> bool:
    """Whether a post id is a dry run's, never a network's."""
    return bool(post_id) and str(post_id).startswith(PREFIX)


class DryRunPublisher:
    """One account's network in a dry run: counts as the network counts, sends nothing, and says so in what it returns."""

    def __init__(self, network: str, handle: str) -> None:
        self.network = network
        self.handle = handle
        self._run = uuid.uuid4().hex[:8]  # made-up ids of two processes never meet
        self._serial = itertools.count(1)

    def _made_up(self, what: str) -> str:
        return f"{PREFIX}{what}-{self._run}-{next(self._serial)}"

    def publish(self, text: str, *, reply_to: str | None = None, media_ids: Sequence[str] = (), key: str | None = None) -> Posted:
        """Nothing is posted: a made-up id, no link."""
        return Posted(post_id=self._made_up(self.network), url="", dry_run=True)

    def upload(self, image: Image) -> str:
        """Nothing is uploaded anywhere: a made-up media id."""
        return self._made_up("media")

    def key_for(self, draft_id: int, version: int, part: int, at: datetime) -> str | None:
        """Nothing is sent, so nothing needs to make a resend the same post."""
        return None

    def count(self, text: str) -> Count:
        """The network's own rule (for Mastodon its default 500 and 23: the instance is not asked in a dry run)."""
        return DEFAULT_COUNTERS[self.network](text)

    def link_id(self, url: str) -> str:
        """As the network reads a link to one of the account's posts (X's rule); Bluesky and Mastodon have none here."""
        if self.network == "x":
            return status_id(url, self.handle)
        raise BadLink(
            f"{label(self.network)} is in dry run for this account: copydesk sent nothing there, so no link names its post. "
            "Mark it published without a link."
        )

    def url_of(self, post_id: str) -> str:
        """The link a person's post on X would have (a dry run's own posts have none)."""
        return post_url(self.handle, post_id) if self.network == "x" and not is_made_up(post_id) else ""

    def find(self, text: str, since: datetime, *, key: str | None = None) -> Posted | None:
        """Certainly absent: nothing was ever sent."""
        return None

    def delete(self, post_id: str) -> None:
        """Nothing to delete: nothing was sent."""

    def limits(self) -> XLimits | None:
        """The network was never asked."""
        return None

    def engagement(self, post_ids: Sequence[str]) -> Iterator[Read]:
        """A post never sent has no counts (the digest never asks: it reads published rows only)."""
        return iter(())
