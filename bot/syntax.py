"""The /draft syntax: subcommands, and the leading to:ACCOUNT / on:NETWORK / at:WHEN options of a new draft."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.config import NETWORKS
from bot.errors import BadDraft


@dataclass(frozen=True)
class Subcommand:
    """A /draft word that is not a draft, with the help line it shows."""

    name: str
    usage: str
    help: str


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("help", "/draft help", "Show this help."),
    Subcommand("list", "/draft list", "Show the drafts waiting for review, scheduled to go out or held for a person."),
    Subcommand(
        "edit",
        "/draft edit #ID [at:WHEN] NEW TEXT",
        "Change a draft that has not gone out (author or admin); its votes are cleared and it is reviewed again.",
    ),
    Subcommand(
        "drop-images",
        "/draft drop-images #ID",
        "Remove every image from a draft that has not gone out (author or admin); its votes are cleared.",
    ),
    Subcommand("cancel", "/draft cancel #ID", "Withdraw a draft before it goes out (author or admin)."),
    Subcommand(
        "retract",
        "/draft retract #ID [on:NETWORK[,NETWORK…]]",
        "Delete a published post from every network it reached, or only from those on: names (author, editors or admins).",
    ),
    Subcommand(
        "retry",
        "/draft retry #ID",
        "Send a held or failed draft again, to the networks it is not out on yet, or confirm one held by a pause "
        "(editors or admins).",
    ),
    Subcommand(
        "mark-published",
        "/draft mark-published #ID [URL] [on:NETWORK]",
        "Record a held draft as published after finding it live (editors or admins); for an account on several "
        "networks, the link or on:NETWORK says where.",
    ),
    Subcommand(
        "digest",
        "/draft digest",
        "Show, privately, the digest so far: what went out, failed or waits since the last daily digest.",
    ),
    Subcommand("pause", "/draft pause [REASON]", "Stop all publishing for every account at once (admins)."),
    Subcommand(
        "resume",
        "/draft resume",
        "Publish again; posts whose time passed while paused wait for an editor's confirmation (admins).",
    ),
)

OPTIONS = {
    "to": "to:ACCOUNT — the account to post to (needed only when the team runs several).",
    "on": f"on:NETWORK[,NETWORK…] — only some of the account's networks ({', '.join(NETWORKS)}), e.g. on:x,bluesky. "
    "Without it the post goes to every network the account is on.",
    "at": "at:WHEN — when to post: 2026-11-22T09:00 (your Slack time zone), 2026-11-22T09:00-08:00, "
    "09:00 (the next 09:00), +30m, +2h, +1d. Without it the post goes out as soon as it is approved.",
}

_OPTION = re.compile(r"(?P<name>[A-Za-z]+):(?P<value>\S*)(?:\s+|$)")  # only lower-case names are options: "To: …" is text


@dataclass(frozen=True)
class Compose:
    """A new draft: the text as written, and the options that came before it."""

    text: str
    account: str | None = None
    at: str | None = None
    on: tuple[str, ...] = ()  # the networks its on: named, in the order written; () for all of the account's


@dataclass(frozen=True)
class Named:
    """A subcommand such as help or list, with the draft it is about and what followed."""

    name: str
    draft_id: int | None = None
    rest: str = ""
    on: tuple[str, ...] = ()  # retract and mark-published: the networks their on: named


@dataclass(frozen=True)
class Edit:
    """/draft edit #ID: the new text and time, each None when unchanged."""

    draft_id: int
    text: str | None
    at: str | None


# Every word is lower-case only, so a post may begin with "Retract 2 claims…" or "List:" and is then a draft.
_BARE = {"help", "list", "resume", "digest"}  # the whole text is the word
_ON_DRAFT = re.compile(r"(?P<name>cancel|retract|retry|mark-published|drop-images)\s+#?(?P<id>[0-9]+)(?:\s+(?P<rest>\S+))?")
# retract and mark-published take an on: beside what they took before ("retract 2 claims we made" stays a post)
_SETTLE_ON = re.compile(r"(?P<name>retract|mark-published)\s+#?(?P<id>[0-9]+)\s+(?P<rest>\S+\s+\S+)")
_EDIT = re.compile(r"edit\s+#?(?P<id>[0-9]+)(?:\s+|$)")
_PAUSE = re.compile(r"pause(?:\s+(?P<reason>.*))?", re.S)


def parse(text: str) -> Compose | Named | Edit:
    """Split what followed /draft into a subcommand or a draft; the draft's text is kept exactly."""
    stripped = text.strip()
    if stripped in _BARE:
        return Named(stripped)
    if about := _about_draft(stripped):
        return about
    if match := _EDIT.match(stripped):
        return _edit(int(match["id"]), stripped[match.end() :])
    if match := _PAUSE.fullmatch(stripped):
        return Named("pause", None, (match["reason"] or "").strip())
    return _compose(text.lstrip())


def _about_draft(text: str) -> Named | None:
    """cancel, retract, retry, mark-published or drop-images #ID, with what each may take after it; None: not one."""
    match = _ON_DRAFT.fullmatch(text)
    if match is None:
        match = _SETTLE_ON.fullmatch(text)
        if match is None or not any(word.startswith("on:") for word in match["rest"].split()):
            return None
    name, draft_id = match["name"], int(match["id"])
    words = (match["rest"] or "").split()
    on = [word for word in words if word.startswith("on:")]
    others = [word for word in words if not word.startswith("on:")]
    if name not in ("retract", "mark-published") and words:
        raise BadDraft(f"/draft {name} takes only a draft number, e.g. /draft {name} #12")
    if name == "retract" and others:
        raise BadDraft(
            "/draft retract takes a draft number and, to delete it from some networks only, on:NETWORK: "
            "/draft retract #12, or /draft retract #12 on:bluesky"
        )
    if len(on) > 1:
        raise BadDraft("on: is given twice; give it once, e.g. on:x,bluesky")
    networks = parse_networks(on[0].removeprefix("on:")) if on else ()
    if name == "mark-published" and len(networks) > 1:
        raise BadDraft(f"/draft mark-published records one network at a time: /draft mark-published #{draft_id} on:{networks[0]}")
    return Named(name, draft_id, others[0] if others else "", networks)


def parse_networks(value: str) -> tuple[str, ...]:
    """on:x,bluesky → ("x", "bluesky"); BadDraft naming the networks copydesk posts to for anything else."""
    written = [name.strip() for name in value.split(",")]
    known = f"{', '.join(NETWORKS[:-1])} or {NETWORKS[-1]}"
    if not all(written):
        raise BadDraft(f"on: needs the networks, separated by commas: {known}, e.g. on:x,bluesky")
    if unknown := [name for name in written if name.lower() not in NETWORKS]:
        raise BadDraft(f"on: names {unknown[0]!r}, which is not a network copydesk posts to; use {known}, e.g. on:x,bluesky")
    return tuple(dict.fromkeys(name.lower() for name in written))


def _edit(draft_id: int, text: str) -> Edit:
    changed = _compose(text, allow_empty=True)
    if changed.account:
        raise BadDraft("An edit cannot move a draft to another account; withdraw it and write a new one.")
    if changed.on:
        raise BadDraft("An edit cannot change the networks a draft goes to; withdraw it and write a new one with on:.")
    if not changed.text.strip() and not changed.at:
        raise BadDraft(f"Say what changes: /draft edit #{draft_id} NEW TEXT, or /draft edit #{draft_id} at:WHEN.")
    return Edit(draft_id, changed.text or None, changed.at)


def _compose(text: str, *, allow_empty: bool = False) -> Compose:
    options: dict[str, str] = {}
    position = 0
    while match := _OPTION.match(text, position):
        name = match["name"]
        if name not in OPTIONS:
            break  # "Note: …" and "To: …" are the start of the text, not options
        if name in options:
            raise BadDraft(f"{name}: is given twice; give it once, before the text")
        if not match["value"] and name != "on":  # an empty on: is told the networks there are
            raise BadDraft(f"{name}: needs a value, e.g. {OPTIONS[name].split(' — ')[0]}")
        options[name] = match["value"]
        position = match.end()
    body = text[position:]
    if not body.strip() and not allow_empty:
        raise BadDraft("The draft has no text. Write it after the options: /draft to:main at:+1h Hello!")
    on = parse_networks(options["on"]) if "on" in options else ()
    return Compose(text=body.rstrip() if body.strip() else "", account=options.get("to"), at=options.get("at"), on=on)


def help_text(approve: str, reject: str) -> str:
    """The usage shown by /draft help, built from the command table so it cannot drift."""
    lines = [
        "*/draft [to:ACCOUNT] [at:WHEN] TEXT* — write a post; it goes to the account's editors for review "
        "(and, once approved, to every network the account is on, or those on: names).",
        *(f"• {line}" for line in OPTIONS.values()),
        "• A line of --- alone splits the text into a thread: each part is a post replying to the one before (up to 25).",
        "• Images (up to 4 PNG or JPEG): share them in the review card's thread before the draft goes out, with one line "
        "per image saying what it shows (its alt text, which goes to X with it).",
        "• X does not know Slack users, channels or @here: write an X handle as it is on X (@handle), and links as their "
        "address. The form (/draft with no text) keeps the text exactly as typed.",
        *(f"*{s.usage}* — {s.help}" for s in SUBCOMMANDS),
        f"Editors approve with :{approve}: and veto with :{reject}: on the review card; "
        "removing the reaction takes the vote back.",
        "Options and command words count only in lower case: /draft To: the team… or /draft Retract 2 claims… is a post. "
        "A post that starts with one of them in lower case takes an option first, e.g. /draft to:main pause for a moment…",
    ]
    return "\n".join(lines)
