"""The /draft syntax: subcommands, and the leading to:ACCOUNT / at:WHEN options of a new draft."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import BadDraft


@dataclass(frozen=True)
class Subcommand:
    """A /draft word that is not a draft, with the help line it shows."""

    name: str
    usage: str
    help: str


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("help", "/draft help", "Show this help."),
    Subcommand("list", "/draft list", "Show the drafts waiting for review or scheduled to go out."),
)

OPTIONS = {
    "to": "to:ACCOUNT — the account to post to (needed only when the team runs several).",
    "at": "at:WHEN — when to post: 2026-11-22T09:00 (your Slack time zone), 2026-11-22T09:00-08:00, "
    "09:00 (the next 09:00), +30m, +2h, +1d. Without it the post goes out as soon as it is approved.",
}

_OPTION = re.compile(r"(?P<name>[A-Za-z]+):(?P<value>\S*)(?:\s+|$)")


@dataclass(frozen=True)
class Compose:
    """A new draft: the text as written, and the options that came before it."""

    text: str
    account: str | None = None
    at: str | None = None


@dataclass(frozen=True)
class Named:
    """A subcommand such as help or list."""

    name: str


def parse(text: str) -> Compose | Named:
    """Split what followed /draft into a subcommand or a draft; the draft's text is kept exactly."""
    stripped = text.strip()
    if stripped.lower() in {s.name for s in SUBCOMMANDS}:
        return Named(stripped.lower())
    return _compose(text.lstrip())


def _compose(text: str) -> Compose:
    options: dict[str, str] = {}
    position = 0
    while match := _OPTION.match(text, position):
        name = match["name"].lower()
        if name not in OPTIONS:
            break  # "Note: …" is the start of the text, not an option
        if name in options:
            raise BadDraft(f"{name}: is given twice; give it once, before the text")
        if not match["value"]:
            raise BadDraft(f"{name}: needs a value, e.g. {OPTIONS[name].split(' — ')[0]}")
        options[name] = match["value"]
        position = match.end()
    body = text[position:]
    if not body.strip():
        raise BadDraft("The draft has no text. Write it after the options: /draft to:main at:+1h Hello!")
    return Compose(text=body.rstrip(), account=options.get("to"), at=options.get("at"))


def help_text(approve: str, reject: str) -> str:
    """The usage shown by /draft help, built from the command table so it cannot drift."""
    lines = [
        "*/draft [to:ACCOUNT] [at:WHEN] TEXT* — write a post; it goes to the account's editors for review.",
        *(f"• {line}" for line in OPTIONS.values()),
        *(f"*{s.usage}* — {s.help}" for s in SUBCOMMANDS),
        f"Editors approve with :{approve}: and veto with :{reject}: on the review card; "
        "removing the reaction takes the vote back.",
    ]
    return "\n".join(lines)
