"""Images that go out with a post: what X accepts (type, size, how many), checked before anything is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.errors import BadAltText, BadDraft, BadImage
from bot.length import check_characters

MAX_IMAGES = 4  # X: up to 4 photos on one post
MAX_BYTES = 5 * 1024 * 1024  # X: 5 MB per image
MAX_ALT = 1000  # X: alt text of up to 1,000 characters
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
        return cls(
            name=name or "image",
            mimetype=mimetype,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
            slack_file_id=slack_file_id,
            alt=alt,
        )


# X takes WebP too, but Slack cannot show a WebP image on the review card, and editors approve what they can see.
ACCEPTED = ("image/png", "image/jpeg")
_NOT_ACCEPTED = (
    "is not a PNG or JPEG image; only those go out here, because the editors must see each image on the review "
    "card and Slack shows no other kind there (WebP, GIFs and videos are not supported)."
)


def check_described(name: str, mimetype: str, size: int) -> None:
    """What a file's description (as Slack gives it, before its bytes are fetched) already shows X would refuse."""
    label = name or "the file"
    if mimetype not in ACCEPTED:
        raise BadImage(f"{label} {_NOT_ACCEPTED}")
    if size > MAX_BYTES:
        raise BadImage(f"{label} is {_mb(size)}; X takes images up to {_mb(MAX_BYTES)}.")


def sniff(data: bytes) -> str | None:
    """The image type by its magic bytes: png or jpeg; None for anything else."""
    for magic, mimetype in _SIGNATURES:
        if data.startswith(magic):
            return mimetype
    return None


def check(images: Sequence[Image]) -> None:
    """A post's images as a whole: at most four."""
    check_count(len(images))


def check_new(images: Sequence[Image]) -> None:
    """Images about to join a draft: at most four, each described in words (its alt text)."""
    check_count(len(images))
    for image in images:
        check_alt(image.name, image.alt)


def check_alt(name: str, alt: str) -> None:
    """Every image says what it shows, for people who cannot see it (X's alt text), within X's limit and in plain words."""
    if not alt.strip():
        raise BadAltText(f"{name} has no alt text: say in words what it shows (one line per image, in order).")
    if len(alt) > MAX_ALT:
        raise BadAltText(f"The alt text of {name} is {len(alt):,} characters; X takes up to {MAX_ALT:,}.")
    try:
        check_characters(alt, what=f"The alt text of {name}")
    except BadDraft as e:
        raise BadAltText(str(e)) from None


def alt_lines(text: str, names: Sequence[str]) -> list[str]:
    """Alt texts written one line per image, in order (a single image takes the whole text); BadAltText when they do not
    match the images."""
    if len(names) == 1:
        return [" ".join(text.split())]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != len(names):
        raise BadAltText(
            f"{len(names)} images need {len(names)} lines of alt text, one per image in order "
            f"({', '.join(names)}); there {'is' if len(lines) == 1 else 'are'} {len(lines)}."
        )
    return lines


BLUESKY_MAX_BYTES = 1_000_000  # app.bsky.embed.images: an image blob's maxSize


def check_networks(images: Sequence[Image], networks: Sequence[str]) -> None:
    """Images a network of the draft would refuse, named before anyone votes (X's own limits are checked on arrival)."""
    if "bluesky" not in networks:
        return
    for image in images:
        if image.size > BLUESKY_MAX_BYTES:
            raise BadImage(
                f"{image.name} is {image.size:,} bytes; Bluesky takes images up to {BLUESKY_MAX_BYTES:,} bytes. Use a "
                "smaller image, or leave Bluesky out with on: (e.g. on:x,mastodon)."
            )


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


def change_record(before: Sequence[Image], after: Sequence[Image]) -> dict[str, list[Any]]:
    """What the event log keeps of a change of a draft's images: names before and after, and what the after ones are."""
    return {
        "before": [i.name for i in before],
        "after": [i.name for i in after],
        "sha256": [i.sha256 for i in after],
        "alt": [i.alt for i in after],
        "files": [i.slack_file_id for i in after],
    }


def shown_on_card(image: Image) -> bool:
    """Whether Slack can show the image on the card itself (a Slack file of a kind its image block takes)."""
    return bool(image.slack_file_id) and image.mimetype in ACCEPTED


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
