"""The README's pictures of a card and the App Home, drawn from copydesk's own renderers (test_docs keeps them true).

Run `python -m tests.examples` to rewrite them in README.md after changing how something renders.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Account, XCredentials
from bot.length import measure
from bot.model import Draft, Publication
from bot.ports import DraftView, Overview
from bot.review import State
from handlers import render
from handlers.slack_text import unescape

README = Path(__file__).parent.parent / "README.md"
READER_ZONE = ZoneInfo("America/Los_Angeles")  # Slack shows dates in each reader's zone; ours is here
NAMES = {"U0DANA": "dana", "U0SAM": "sam", "U0LEE": "lee", "U0KIM": "kim"}
EMOJI = {
    "hourglass_flowing_sand": "⏳",
    "white_check_mark": "✅",
    "no_entry_sign": "🚫",
    "x": "❌",
    "rocket": "🚀",
    "raised_hand": "✋",
    "large_green_circle": "🟢",
    "octagonal_sign": "🛑",
    "information_source": "ℹ️",
    "bell": "🔔",
    "warning": "⚠️",
    "outbox_tray": "📤",
    "wastebasket": "🗑️",
    "leftwards_arrow_with_hook": "↩️",
}
MAIN = Account(
    name="main",
    network="x",
    handle="aplusk",
    review_channel="C0REVIEW01",
    editors=("U0SAM", "U0LEE", "U0KIM"),
    approvals_required=2,
    allow_self_approval=False,
    credentials=XCredentials(),
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def draft(number: int, text: str, state: State, publish_at: str | None) -> Draft:
    return Draft(
        id=number,
        account="main",
        author_id="U0DANA",
        text=text,
        publish_at=utc(publish_at) if publish_at else None,
        state=state,
        review_channel="C0REVIEW01",
        card_ts="1763740000.000100",
        origin_channel="C0GENERAL",
        created_at=utc("2026-11-21T18:02:00"),
        updated_at=utc("2026-11-21T18:02:00"),
    )


def view(d: Draft, approvers: tuple[str, ...] = (), publication: Publication | None = None) -> DraftView:
    return DraftView(draft=d, account=MAIN, approvers=approvers, rejecters=(), length=measure(d.text), publication=publication)


IN_REVIEW = view(draft(12, "Big news tomorrow. Stay tuned 👀", State.IN_REVIEW, "2026-11-22T17:00:00"), ("U0SAM",))
APPROVED = view(draft(13, "Thank you all for 10 years of @aplusk 🙏", State.APPROVED, "2026-11-23T02:00:00"), ("U0SAM", "U0KIM"))
PUBLISHED = view(
    draft(11, "We are live on the new site: https://example.com/launch", State.PUBLISHED, None),
    ("U0SAM", "U0LEE"),
    Publication(
        id=7,
        draft_id=11,
        started_at=utc("2026-11-21T16:30:00"),
        finished_at=utc("2026-11-21T16:30:01"),
        outcome="published",
        x_post_id="1790000000000000001",
        url="https://x.com/aplusk/status/1790000000000000001",
        error=None,
    ),
)


def card() -> str:
    return mockup(render.card(IN_REVIEW, "white_check_mark", "x")[1])


def home() -> str:
    overview = Overview(
        pause=None,
        waiting_for_you=[IN_REVIEW],
        queue=[IN_REVIEW, APPROVED],
        recent=[PUBLISHED],
        card_links={12: "https://team.slack.com/archives/C0REVIEW01/p1763740000000100"},
        readable=frozenset({"main"}),
    )
    return mockup(render.home(overview)["blocks"])


EXAMPLES: dict[str, Callable[[], str]] = {"card": card, "home": home}


def mockup(blocks: list[dict[str, Any]]) -> str:
    """Block Kit as a reader sees it, roughly: text, small print, buttons in brackets."""
    lines: list[str] = []
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            lines.append(block["text"]["text"].upper())
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "section":
            lines.extend(_readable(block["text"]["text"]).splitlines())
            lines.extend("    " + f["text"] for f in block.get("fields", []))  # plain_text: shown as it is
        elif kind == "context":
            lines.extend("  " + _readable(e["text"]) for e in block["elements"])
        elif kind == "actions":
            lines.append("  ".join(f"[{e['text']['text']}]" for e in block["elements"]))
    return "\n".join(lines)


def _readable(text: str) -> str:
    text = re.sub(r"<!date\^(\d+)\^[^|>]*\|[^>]*>", lambda m: _slack_date(int(m[1])), text)
    text = re.sub(r"<@(U\w+)>", lambda m: f"@{NAMES.get(m[1], m[1])}", text)
    text = re.sub(r":([a-z_]+):", lambda m: EMOJI.get(m[1], m[0]), text)
    text = re.sub(r"(?<!\w)_([^_\n]+)_(?!\w)", r"\1", re.sub(r"\*([^*\n]+)\*", r"\1", text))
    return unescape(text)


def _slack_date(epoch: int) -> str:
    moment = datetime.fromtimestamp(epoch, READER_ZONE)
    return moment.strftime("%b %-d at %-I:%M %p")


def block(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- example:{name}:start -->\n```\n)(.*?)(```\n<!-- example:{name}:end -->)", re.S)


def write_readme() -> bool:
    """Rewrite every example block in README.md; True when something changed."""
    text = README.read_text(encoding="utf-8")
    new = text
    for name, draw in EXAMPLES.items():
        new = block(name).sub(lambda m, draw=draw: m[1] + draw() + "\n" + m[3], new)
    README.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    sys.exit(print("README.md examples rewritten" if write_readme() else "README.md examples were up to date"))
