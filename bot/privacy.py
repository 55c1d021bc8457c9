"""Who may read an open draft's words: the rule /draft list, /draft digest and the App Home follow.

Pure: the desk hands in the account's editors, the admins, and a way to ask who is in the review channel.
"""

from __future__ import annotations

from collections.abc import Callable, Collection


def may_read(
    viewer: str, *, editors: Collection[str], admins: Collection[str], members: Callable[[], Collection[str] | None]
) -> bool:
    """The account's editors and the admins always; anyone else only as a member of its review channel.

    `members` is asked only when it decides (the channel's members, or None when Slack cannot say): an unknown
    membership shows no text, never text to someone who cannot read the channel.
    """
    if viewer in editors or viewer in admins:
        return True
    found = members()
    return found is not None and viewer in found
