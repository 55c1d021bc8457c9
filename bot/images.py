"""Images that go out with a post: what X accepts (type, size, how many), checked before anything is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.errors import BadImage

MAX_IMAGES = 4  # X: up to 4 photos on one post
MAX_BYTES = 5 * 1024 * 1024  # X: 5 MB per image
# By the file's first bytes, not its name or what Slack says it is.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


@dataclass(frozen=True)
class Image:
    """One image of a draft; `data` is empty when only its description was read (cards, lists)."""

    name: str
    mimetype: str
    size: int
    sha256: str
    data: bytes = field(default=b"", repr=False)
    slack_file_id: str | None = None
    alt: str = ""  # what the image shows, in words: on the card, and X's alt text for it

    @classmethod
    def of(cls, name: str, data: bytes, *, slack_file_id: str | None = None, alt: str = "") -> Image:
        """Check one file and describe it, or raise BadImage saying what X would refuse."""
        label = name or "the file"
        if not data:
            raise BadImage(f"{label} is empty.")
        if len(data) > MAX_BYTES:
            raise BadImage(f"{label} is {_mb(len(data))}; X takes images up to {_mb(MAX_BYTES)}.")
        mimetype = sniff(data)
        if mimetype is None:
            raise BadImage(f"{label} {_NOT_ACCEPTED}")
        return cls(name=name or "image", mimetype=mimetype, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   data=data, slack_file_id=slack_file_id, alt=alt)


ACCEPTED = ("image/png", "image/jpeg", "image/webp")
_NOT_ACCEPTED = "is not a PNG, JPEG or WebP image; X takes only those here (GIFs and videos are not supported yet)."


def check_described(name: str, mimetype: str, size: int) -> None:
    """What a file's description (as Slack gives it, before its bytes are fetched) already shows X would refuse."""
    label = name or "the file"
    if mimetype not in ACCEPTED:
        raise BadImage(f"{label} {_NOT_ACCEPTED}")
    if size > MAX_BYTES:
        raise BadImage(f"{label} is {_mb(size)}; X takes images up to {_mb(MAX_BYTES)}.")


def sniff(data: bytes) -> str | None:
    """The image type by its magic bytes: png, jpeg or webp; None for anything else."""
    for magic, mimetype in _SIGNATURES:
        if data.startswith(magic):
            return mimetype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check(images: Sequence[Image]) -> None:
    """A post's images as a whole: at most four."""
    check_count(len(images))


def check_count(count: int) -> None:
    """At most four images on a post, however many of them are still to be fetched."""
    if count > MAX_IMAGES:
        raise BadImage(f"A post takes at most {MAX_IMAGES} images; this draft would have {count}. Remove some first.")


def summary(images: Sequence[Image]) -> str:
    """'2 images: a.png, b.jpg' for cards and answers; empty when there are none."""
    if not images:
        return ""
    noun = "image" if len(images) == 1 else "images"
    return f"{len(images)} {noun}: {', '.join(i.name for i in images)}"


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
