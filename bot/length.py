"""How long X thinks a text is: weighted length with URLs as 23 and most CJK and emoji as 2."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from twitter_text import parse_tweet

from bot.errors import BadDraft

MAX_WEIGHTED_LENGTH = 280


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
        raise BadDraft(f"{what} has characters X does not accept (such as U+FFFE or direction overrides).")
    return length
