"""Threads: a draft whose text has lines of `---` alone is several posts, each a reply to the one before."""

from __future__ import annotations

import re

from bot.errors import BadDraft
from bot.length import Length, check_characters, check_postable, measure

MAX_PARTS = 25  # a thread longer than this is a blog post; X itself allows 25 in its composer
_SEPARATOR = re.compile(r"^[ \t]*---[ \t]*$", re.M)


def split(text: str) -> list[str]:
    """The posts a draft's text makes, in order; without a separator line the text is one post, exactly as written."""
    if not _SEPARATOR.search(text):
        return [text]
    return [part.strip() for part in _SEPARATOR.split(text)]


def check(text: str, *, on_x: bool = True) -> list[Length]:
    """Each part's length on X, or BadDraft naming the part that is empty, too long, one too many, or has a refused
    character (a draft that does not go to X is not measured against X's 280: bot/networks.py measures it)."""
    parts = split(text)
    count = len(parts)
    if count > MAX_PARTS:
        raise BadDraft(f"The thread has {count} parts; at most {MAX_PARTS} go out as one thread. Split it into two drafts.")
    for number, typed in enumerate(_typed_parts(text), 1):
        check_characters(typed, what=f"Part {number} of {count}" if count > 1 else "The text")
    if count == 1:
        return [check_postable(text) if on_x else measure(text)]
    lengths = []
    for number, part in enumerate(parts, 1):
        if not part:
            raise BadDraft(
                f"Part {number} of {count} is empty: a line of --- separates two posts, so remove the extra one "
                "(or the one at the start or end)."
            )
        lengths.append(check_postable(part, what=f"Part {number} of {count}") if on_x else measure(part))
        if part in parts[: number - 1]:
            # X refuses a duplicate, and a lost answer is looked for on the account by its text
            raise BadDraft(f"Part {number} of {count} repeats part {parts.index(part) + 1}; X refuses the same text twice.")
    return lengths


def _typed_parts(text: str) -> list[str]:
    """Each part as typed, before it is trimmed, from the line after its separator: what a position counts in."""
    typed = _SEPARATOR.split(text)
    return typed[:1] + [part.removeprefix("\n") for part in typed[1:]]
