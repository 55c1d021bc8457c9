"""Open drafts written by the real desk into a ledger before copydesk starts: in review with their cards, or approved.

The desk here has no scheduler and tells neither Slack nor X anything (bench/history's quiet stand-ins): only the
ledger is written, exactly as copydesk writes it, so the copydesk that starts on it has everything to rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.history import FixedClock, UnseenCore, put_up_cards, quiet_desk
from bot.config import Config
from storage import Ledger
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2

APPROVE = "white_check_mark"


@dataclass(frozen=True)
class Seeded:
    in_review: list[str]  # the drafts' texts
    approved: dict[str, datetime]  # text → when it is due


def open_drafts(config: Config, *, in_review: int, due: Sequence[datetime], label: str) -> Seeded:
    """`in_review` drafts with a card and one approval, and one approved draft due at each of `due`."""
    clock = FixedClock(datetime.now(UTC))
    ledger = Ledger.open(config.db_path)
    try:
        desk = quiet_desk(config, ledger, clock, kind=UnseenCore)
        events = 0

        def approve(draft_id: int, editor: str) -> None:
            nonlocal events
            events += 1
            draft = ledger.draft(draft_id)
            assert draft is not None and draft.card_ts is not None
            desk.voting.react(
                user_id=editor,
                reaction=APPROVE,
                channel=draft.review_channel,
                ts=draft.card_ts,
                added=True,
                event_id=f"EvSEED{label}{events:07d}",
            )

        def write(text: str, publish_at: datetime | None) -> int:
            draft = desk.drafting.submit(
                author_id=AUTHOR, text=text, account=None, at=None, origin_channel="C0GEN", publish_at=publish_at
            )
            put_up_cards(desk, draft.id)
            approve(draft.id, EDITOR_1)
            return draft.id

        waiting = [f"Seeded {label} draft {n} waits for its second approval" for n in range(in_review)]
        for text in waiting:
            write(text, None)
        approved = {f"Seeded {label} post {n} due at {when.isoformat()}": when for n, when in enumerate(due)}
        for text, when in approved.items():
            approve(write(text, when), EDITOR_2)
        return Seeded(waiting, approved)
    finally:
        ledger.close()


def empty_ledger(db: Path) -> None:
    """A ledger with its tables and no drafts: what the first start leaves behind."""
    Ledger.open(db).close()
