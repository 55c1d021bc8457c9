"""How long X thinks a text is: weighted length with URLs as 23 and most CJK and emoji as 2; and Bluesky: graphemes and bytes."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import regex
from twitter_text import parse_tweet

from bot.errors import BadDraft

MAX_WEIGHTED_LENGTH = 280

# Characters no post needs and that can make it read differently on X than on the card: direction overrides and
# isolates (U+202A-U+202E, U+2066-U+2069), and control characters other than newline and tab (C0, DEL, C1).
REFUSED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_NAMES = (  # Unicode's name aliases: unicodedata.name has none for control characters
    "NULL",
    "START OF HEADING",
    "START OF TEXT",
    "END OF TEXT",
    "END OF TRANSMISSION",
    "ENQUIRY",
    "ACKNOWLEDGE",
    "ALERT",
    "BACKSPACE",
    "CHARACTER TABULATION",
    "LINE FEED",
    "LINE TABULATION",
    "FORM FEED",
    "CARRIAGE RETURN",
    "SHIFT OUT",
    "SHIFT IN",
    "DATA LINK ESCAPE",
    "DEVICE CONTROL ONE",
    "DEVICE CONTROL TWO",
    "DEVICE CONTROL THREE",
    "DEVICE CONTROL FOUR",
    "NEGATIVE ACKNOWLEDGE",
    "SYNCHRONOUS IDLE",
    "END OF TRANSMISSION BLOCK",
    "CANCEL",
    "END OF MEDIUM",
    "SUBSTITUTE",
    "ESCAPE",
    "FILE SEPARATOR",
    "GROUP SEPARATOR",
    "RECORD SEPARATOR",
    "UNIT SEPARATOR",
)


@dataclass(frozen=True)
class Length:
    """A text's weighted length, and whether X would accept it."""

    weighted: int
    valid: bool

    @property
    def excess(self) -> int:
        """How many weighted characters have to go."""
        return max(0, self.weighted - MAX_WEIGHTED_LENGTH)


@lru_cache(maxsize=4096)
def measure(text: str) -> Length:
    """Count `text` the way X counts it (twitter-text v3: emoji-aware); remembered, since parsing is the slow part
    of a /draft and a card, the list and the check before publishing each measure the same texts again."""
    parsed = parse_tweet(text)
    return Length(weighted=parsed.weightedLength, valid=parsed.valid)


def check_postable(text: str, *, what: str = "The text") -> Length:
    """The text's length, or BadDraft naming the count and the excess (and `what` it is) when X would refuse it."""
    length = measure(text)
    if length.excess:
        raise BadDraft(
            f"{what} is {length.weighted}/{MAX_WEIGHTED_LENGTH} as X counts it "
            f"(links count 23, most emoji and CJK characters 2): {length.excess} too many."
        )
    if not length.valid:
        raise BadDraft(f"{what} has characters X does not accept (such as U+FFFE or U+FEFF).")
    return length


def check_characters(text: str, *, what: str = "The text") -> None:
    """Nothing, or BadDraft naming the first refused character and its 1-based position in `text` (and `what` it is)."""
    if found := REFUSED.search(text):
        raise BadDraft(
            f"{what} has {character_name(found[0])} at character {found.start() + 1}. Direction overrides and control "
            "characters are refused: they can make a post read differently on X than on its card. Remove it and send again."
        )


def character_name(char: str) -> str:
    """How a message names a character: its code point and Unicode name, e.g. U+202E RIGHT-TO-LEFT OVERRIDE."""
    code = ord(char)
    name = unicodedata.name(char, None) or (
        _CONTROL_NAMES[code] if code < len(_CONTROL_NAMES) else "DELETE" if code == 0x7F else "C1 CONTROL"
    )
    return f"U+{code:04X} {name}"


BLUESKY_MAX_GRAPHEMES = 300  # app.bsky.feed.post text: maxGraphemes
BLUESKY_MAX_BYTES = 3000  # ... and maxLength, which a lexicon counts in UTF-8 bytes


@dataclass(frozen=True)
class BlueskyLength:
    """A text as Bluesky counts it: grapheme clusters (what a reader sees as one character) and UTF-8 bytes."""

    graphemes: int
    bytes: int

    @property
    def excess(self) -> int:
        """How many graphemes have to go."""
        return max(0, self.graphemes - BLUESKY_MAX_GRAPHEMES)

    @property
    def excess_bytes(self) -> int:
        """How many UTF-8 bytes have to go (300 family emoji fit the graphemes but not the bytes)."""
        return max(0, self.bytes - BLUESKY_MAX_BYTES)


def measure_bluesky(text: str) -> BlueskyLength:
    """Count `text` as the PDS does (unicode-segmenter's extended grapheme clusters); links count in full, since the
    post's text holds the whole address and a link facet only marks it."""
    return BlueskyLength(graphemes=len(regex.findall(r"\X", text)), bytes=len(text.encode("utf-8")))


def check_bluesky(text: str, *, what: str = "The text") -> BlueskyLength:
    """The text's length on Bluesky, or BadDraft naming the count and the excess (and `what` it is) when Bluesky would
    refuse it."""
    length = measure_bluesky(text)
    if length.excess:
        raise BadDraft(
            f"{what} is {length.graphemes}/{BLUESKY_MAX_GRAPHEMES} characters as Bluesky counts them "
            f"(links count in full): {length.excess} too many."
        )
    if length.excess_bytes:
        raise BadDraft(
            f"{what} is {length.bytes}/{BLUESKY_MAX_BYTES} bytes, more than Bluesky stores in one post "
            f"(emoji take several bytes each): {length.excess_bytes} too many."
        )
    return length
