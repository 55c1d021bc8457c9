"""The networks a draft goes to, as people read them, and how long a text is on each, as that network counts it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.errors import BadDraft
from bot.length import BLUESKY_MAX_BYTES, BLUESKY_MAX_GRAPHEMES, MAX_WEIGHTED_LENGTH, measure, measure_bluesky

LABELS = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}
MASTODON_MAX_CHARACTERS = 500  # mastodon.social's; an instance says its own in /api/v2/instance
MASTODON_URL_CHARACTERS = 23  # configuration.statuses.characters_reserved_per_url


def label(network: str) -> str:
    """How a message names a network: X, Bluesky, Mastodon."""
    return LABELS.get(network, network)


def listed(networks: Iterable[str]) -> str:
    """X, Bluesky and Mastodon."""
    names = [label(n) for n in networks]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else "no network"


@dataclass(frozen=True)
class Count:
    """A text's length on one network, as that network counts it, and what is over."""

    network: str
    used: int
    limit: int
    how: str  # how the network counts, for a refusal: "links count 23, most emoji and CJK characters 2"
    unit: str = "characters"
    refused: str | None = None  # why the network refuses it whatever its length (bytes over, a character X refuses)

    @property
    def excess(self) -> int:
        return max(0, self.used - self.limit)

    @property
    def fits(self) -> bool:
        return not self.excess and self.refused is None


Counter = Callable[[str], Count]


def count_x(text: str) -> Count:
    """X's weighted length (twitter-text v3)."""
    length = measure(text)
    refused = None if length.valid or length.excess else "it has characters X does not accept (such as U+FFFE or U+FEFF)"
    return Count("x", length.weighted, MAX_WEIGHTED_LENGTH, "links count 23, most emoji and CJK characters 2", refused=refused)


def count_bluesky(text: str) -> Count:
    """Bluesky's graphemes (links in full), and its 3,000 bytes."""
    length = measure_bluesky(text)
    refused = (
        f"it is {length.bytes}/{BLUESKY_MAX_BYTES} bytes, more than Bluesky stores in one post: {length.excess_bytes} too many"
        if length.excess_bytes
        else None
    )
    return Count("bluesky", length.graphemes, BLUESKY_MAX_GRAPHEMES, "links count in full", refused=refused)


_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"(?<![\w@])@(\w+)@[\w.-]+\w")


def mastodon_counter(max_characters: int = MASTODON_MAX_CHARACTERS, per_url: int = MASTODON_URL_CHARACTERS) -> Counter:
    """An instance's rule: its max_characters, a link as characters_reserved_per_url, a remote mention as its name
    (the wiring gives the adapter's exact counter, read from the instance at start; this one stands in without it)."""

    def count(text: str) -> Count:
        shorter = _REMOTE_MENTION.sub(lambda m: "@" + m[1], _URL.sub("x" * per_url, text))
        used = measure_bluesky(shorter).graphemes
        return Count("mastodon", used, max_characters, f"links count {per_url}")

    return count


DEFAULT_COUNTERS: Mapping[str, Counter] = {"x": count_x, "bluesky": count_bluesky, "mastodon": mastodon_counter()}


def check_fits(parts: Sequence[str], counters: Mapping[str, Counter], networks: Sequence[str]) -> None:
    """Nothing, or BadDraft naming the network, the part and by how much a text is over there."""
    for network in networks:
        counter = counters.get(network, DEFAULT_COUNTERS.get(network, count_x))
        for number, part in enumerate(parts, start=1):
            count = counter(part)
            if count.fits:
                continue
            what = f"Part {number} of {len(parts)}" if len(parts) > 1 else "The text"
            if count.excess:
                raise BadDraft(
                    f"{what} is {count.used}/{count.limit} {count.unit} as {label(network)} counts them "
                    f"({count.how}): {count.excess} too many for {label(network)}."
                )
            raise BadDraft(f"{what} cannot go to {label(network)}: {count.refused}.")
