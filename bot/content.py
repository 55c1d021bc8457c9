"""What an approval is for: one fingerprint over the exact words and images that go to the network."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence

from bot.images import Image
from bot.review import Kind, Rules, Tally, Vote, tally


def content_sha256(text: str, images: Sequence[Image]) -> str:
    """SHA-256 over the text as sent, each image's own SHA-256 in order and its alt text: any change is a new fingerprint."""
    body = {"text": text, "images": [[image.sha256, image.alt] for image in images]}
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def counted(votes: Iterable[Vote], rules: Rules, version: int, sha256: str) -> Tally:
    """The votes that count now: approvals only from today's editors, for exactly this version's content.

    A veto holds whoever cast it (a veto is never lost to an editor list changing); an approval cast for other words,
    other images or by someone no longer an editor counts for nothing.
    """
    return tally(
        v
        for v in votes
        if v.kind is Kind.REJECT
        or (rules.counts(v.user_id, Kind.APPROVE) and v.version == version and v.content_sha256 == sha256)
    )
