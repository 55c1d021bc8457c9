"""Pure functions from a digest Report to Block Kit (with its plain-text fallback) and to terminal text."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from bot.digest import SECTIONS, Line, Report, shorten
from bot.dryrun import not_sent
from bot.engagement import Counts
from bot.networks import label, listed
from handlers.render import FIELD_LIMIT, PRIVATE_NOTE, linked, when, words
from handlers.slack_text import escape

Blocks = list[dict[str, Any]]
EVENT_TYPE = "copydesk_digest"  # the Slack message metadata a digest carries, to be found again after a crash
SHOWN = 15  # lines per section in Slack; the terminal lists everything
FALLBACK_LIMIT = 3000
MAX_BLOCKS = 50  # in one message
PER_BLOCK = 5  # posts in one section block: a section holds ten fields, two a post

# section name, its title, and what the count line calls it
_SECTIONS = (
    ("published", ":rocket: Went out", "published"),
    ("failed", ":warning: Failed", "failed"),
    ("rejected", ":no_entry_sign: Vetoed", "rejected"),
    ("withdrawn", ":leftwards_arrow_with_hook: Withdrawn", "withdrawn"),
    ("retracted", ":wastebasket: Retracted", "retracted"),
    ("expired", ":hourglass: Expired", "expired"),
    ("waiting", ":hourglass_flowing_sand: Waiting for a decision", "waiting"),
    ("scheduled", ":calendar: Scheduled, next 24 hours", "scheduled"),
)
LANDED = ":chart_with_upwards_trend: How yesterday's posts landed"  # the previous window's posts, read again
UNAVAILABLE = "engagement unavailable"
# each count as the digest shows it: ♥ 12 · ↻ 3 · 💬 2 · ❝ 1 · 👁 1,204 (a count the network does not give is left out)
_MARKS = (("likes", "♥"), ("reposts", "↻"), ("replies", "💬"), ("quotes", "❝"), ("impressions", "👁"))


def title(report: Report) -> str:
    """Daily digest · Sun, Mar 8 · @aplusk (the day in the digest's own zone)."""
    what = f"Daily digest · {report.day:%a, %b} {report.day.day}" if report.day else "Digest so far"
    handles = ", ".join(f"@{h}" for h in report.handles)
    return f"{what} · {handles}" if handles else what


def counts_line(report: Report) -> str:
    """2 published · 1 failed · …: every section, so the line reads the same every day."""
    return " · ".join(f"{report.counts[name]} {word}" for name, _, word in _SECTIONS)


def metadata(report: Report) -> dict[str, Any]:
    """What a digest message carries for copydesk to recognise it in the channel's history."""
    payload = {"scope": report.scope, "kind": "daily" if report.day else "on_demand"}
    if report.day:
        payload["day"] = report.day.isoformat()
    return {"event_type": EVENT_TYPE, "event_payload": payload}


# Slack


def digest(report: Report, readable: Collection[str] | None = None) -> tuple[str, Blocks]:
    """The digest message: short lines under a header, readable on a phone; the fallback says it all in plain text.

    With `readable` (the accounts whose text the reader may see, bot.privacy), the other accounts' lines show only numbers.
    """
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title(report)[:150], "emoji": True}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Since {when(report.start)} · {counts_line(report)}"}]},
    ]
    if dry := dry_runs(report):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f":test_tube: {dry}"}]})
    if missing := unavailable(report):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f":warning: {missing}"}]})
    if not report.published:
        blocks.append(_section(f"Nothing went out since {when(report.start)}."))
    for name, heading, _ in _SECTIONS:
        blocks += _slack_section(name, heading, getattr(report, name), readable)
        if name == "published":
            if summary := best_and_totals(report, lambda line: f"{line.number} @{line.handle}"):
                blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": summary}]})
            blocks += _slack_section("landed", LANDED, report.landed, readable)
    return plain(report, mention=lambda u: f"<@{u}>", clean=escape, readable=readable)[:FALLBACK_LIMIT], blocks


def so_far(reports: list[Report], readable: Collection[str]) -> tuple[str, Blocks]:
    """/draft digest: each digest as it stands, one after another, within Slack's 50 blocks; text only of `readable`."""
    texts: list[str] = []
    blocks: Blocks = []
    for report in reports:
        text, more = digest(report, readable)
        texts.append(text)
        blocks += ([{"type": "divider"}] if blocks else []) + more
    if any(not _shown(line, readable) for report in reports for name in (*SECTIONS, "landed") for line in getattr(report, name)):
        texts.append(PRIVATE_NOTE)
        blocks = blocks[: MAX_BLOCKS - 1] + [{"type": "context", "elements": [{"type": "mrkdwn", "text": PRIVATE_NOTE}]}]
    return "\n\n".join(texts)[:FALLBACK_LIMIT], blocks[:MAX_BLOCKS]


def _slack_section(name: str, heading: str, lines: tuple[Line, ...], readable: Collection[str] | None) -> Blocks:
    """One kind of line under its heading, ten fields a block, at most SHOWN lines."""
    blocks: Blocks = []
    fields = [field for line in lines[:SHOWN] for field in _slack_item(name, line, _shown(line, readable))]
    for start in range(0, len(fields), PER_BLOCK * 2):  # the heading on the first block; ten fields a block
        block: dict[str, Any] = _section(f"*{heading} ({len(lines)})*") if start == 0 else {"type": "section"}
        block["fields"] = fields[start : start + PER_BLOCK * 2]
        blocks.append(block)
    if len(lines) > SHOWN:
        blocks.append(_section(f"…and {len(lines) - SHOWN} more: `copydesk digest` lists them all."))
    return blocks


def counts(counted: Counts) -> str:
    """♥ 12 · ↻ 3 · 💬 2 · ❝ 1 · 👁 1,204: the counts a network gave."""
    return " · ".join(f"{mark} {getattr(counted, name):,}" for name, mark in _MARKS if getattr(counted, name) is not None)


def line_counts(line: Line) -> str:
    """How a post landed: its counts (on several networks: X: ♥ 1 · …; Bluesky: ♥ 2 · …), and where it was deleted
    since; empty when nothing was read."""
    said = []
    if len(line.counts) == 1 and not line.several:
        said.append(counts(line.counts[0][1]))
    elif line.counts:
        said.append("; ".join(f"{label(network)}: {counts(counted)}" for network, counted in line.counts))
    if line.gone:
        said.append(f"deleted on {listed(line.gone)} since")
    return "; ".join(said)


def best_and_totals(report: Report, name: Callable[[Line], str]) -> str:
    """Best: #12 @aplusk (17 likes, reposts, replies and quotes) · Total: ♥ …; empty when no post has counts."""
    totals = report.totals
    if totals is None:
        return ""
    best = report.best
    said = f"Best: {name(best)} ({best.interactions:,} likes, reposts, replies and quotes) · " if best else ""
    return f"{said}Total: {counts(totals)}"


def unavailable(report: Report) -> str:
    """ "engagement unavailable"; when others answered, where not ("on Bluesky"; in a digest of several accounts, whose:
    "for @aplusk on X"); empty when every account and network asked answered."""
    if not report.unavailable:
        return ""
    if set(report.unavailable) >= set(report.read):
        return UNAVAILABLE
    failed: dict[str, list[str]] = {}
    for handle, network in report.unavailable:
        failed.setdefault(handle, []).append(network)
    if len(report.handles) <= 1:
        return f"{UNAVAILABLE} on {listed(n for networks in failed.values() for n in networks)}"
    return f"{UNAVAILABLE} for " + "; for ".join(f"@{handle} on {listed(networks)}" for handle, networks in failed.items())


def dry_runs(report: Report) -> str:
    """@aplusk's posts: DRY RUN — not sent to X, for the digest's accounts in a dry run (so even a day with nothing in it
    says so); empty when none is."""
    handles: dict[tuple[str, ...], list[str]] = {}
    for handle, networks in report.dry_runs:
        handles.setdefault(networks, []).append(f"@{handle}'s")
    return " · ".join(f"{_people(them)} posts: {not_sent(networks)}" for networks, them in handles.items())


def _shown(line: Line, readable: Collection[str] | None) -> bool:
    """Whether the reader may see the line's text (None: everyone who sees the digest may)."""
    return readable is None or line.account in readable


def _numbers(section: str, line: Line) -> str:
    """What a reader who may not read the draft learns of it: its state and how many voted, no words and no names; and
    that it goes nowhere, for a dry run."""
    said = _state(section, line)
    return f"{said} · {line.dry}" if line.dry else said


def _state(section: str, line: Line) -> str:
    if section == "waiting":
        return line.note if line.note and line.note.startswith("in review") else "held for a person"
    if section == "published":
        return f"approved by {len(line.people)} editor(s)" + (f"\n{landed}" if (landed := line_counts(line)) else "")
    if section == "scheduled":
        return f"approved by {len(line.people)} editor(s)"
    if section == "landed":
        return line_counts(line) or "landed"
    return section


def _slack_item(section: str, line: Line, shown: bool = True) -> list[dict[str, Any]]:
    """One post as two fields side by side: when, which and who (mrkdwn), and the start of its words as typed (plain_text);
    for a reader who may not read it, its numbers instead of who and what."""
    link = f" · <{line.url}|on {listed(line.networks)}>" if line.url else ""
    if line.several and line.links:  # one line for the post, a link for each network it went out on
        link = f" · on {linked(line.links)}"
    head = f"• {when(line.at, missing='as soon as possible')} · {line.number} @{line.handle}{link}"
    if not shown:
        return [{"type": "mrkdwn", "text": head}, {"type": "mrkdwn", "text": _numbers(section, line)}]
    facts = f"{head}\n{_who(section, line, lambda u: f'<@{u}>', escape)}"
    if landed := line_counts(line):
        facts += f"\n{landed}"
    facts = facts[:FIELD_LIMIT]
    return [{"type": "mrkdwn", "text": facts}, words(f"“{shorten(line.text)}”")]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# shared by both


def _who(section: str, line: Line, mention: Callable[[str], str], clean: Callable[[str], str]) -> str:
    """The people behind the outcome, and for a dry run (in every section) that it goes nowhere."""
    said = _behind(section, line, mention, clean)
    return f"{said} · {line.dry}" if line.dry else said


def _behind(section: str, line: Line, mention: Callable[[str], str], clean: Callable[[str], str]) -> str:
    """The people behind the outcome: author and approvers, who vetoed, withdrew or retracted, and X's reason."""
    names = lambda: _people([mention(u) for u in line.people])  # noqa: E731
    author = f"by {mention(line.author)}"
    note = f" · {clean(line.note)}" if line.note else ""
    if section == "published":
        return f"{author} · approved by {names()}{note}"
    if section == "failed" and line.several:  # the note names each network and its reason
        return f"{author}{' · ' + clean(shorten(line.note, 200)) if line.note else ''}"
    if section == "failed":
        said = f" · {listed(line.networks)} said: "
        return f"{author}{said + clean(shorten(line.note, 200)) if line.note else ''}"
    if section == "rejected":
        return f"{author} · vetoed by {names()}{note}"
    if section == "withdrawn":
        return f"{author} · withdrawn by {names()}"
    if section == "retracted":
        return f"{author} · retracted by {names()}"
    if section == "scheduled":
        return f"{author} · approved by {names()}"
    if section == "landed":
        return author
    return f"{author}{note}"


def _people(mentions: list[str]) -> str:
    if len(mentions) <= 1:
        return "".join(mentions) or "nobody"
    return ", ".join(mentions[:-1]) + " and " + mentions[-1]


# terminal


def plain(
    report: Report,
    *,
    mention: Callable[[str], str] = str,
    clean: Callable[[str], str] = lambda t: t,
    readable: Collection[str] | None = None,
) -> str:
    """The digest as plain text, times in the digest's zone: for the terminal, and (mentions made Slack's, people's words
    escaped by `clean`) as the Slack message's fallback, which notifications show. With `readable`, the lines of other
    accounts show only numbers, as in `digest`."""
    out = [title(report), f"Since {_local(report.start, report)} · {counts_line(report)}"]
    if dry := dry_runs(report):
        out.append(dry)
    if missing := unavailable(report):
        out.append(missing)
    if not report.published:
        out.append(f"Nothing went out since {_local(report.start, report)}.")
    for name, heading, _ in _SECTIONS:
        out += _plain_section(name, heading, getattr(report, name), report, mention, clean, readable)
        if name == "published":
            if summary := best_and_totals(report, lambda line: f"{line.number} @{line.handle}"):
                out.append(f"  {summary}")
            out += _plain_section("landed", LANDED, report.landed, report, mention, clean, readable)
    return "\n".join(out)


def _plain_section(
    name: str,
    heading: str,
    lines: tuple[Line, ...],
    report: Report,
    mention: Callable[[str], str],
    clean: Callable[[str], str],
    readable: Collection[str] | None,
) -> list[str]:
    if not lines:
        return []
    out = ["", f"{heading.split(' ', 1)[1]} ({len(lines)})"]
    for line in lines:
        link = f"  {line.url}" if line.url else ""
        if line.several and line.links:
            link = "".join(f"  {label(network)}: {url}" for network, url in line.links)
        if not _shown(line, readable):
            numbers = _numbers(name, line).replace("\n", " · ")
            out.append(f"  {_local(line.at, report)}  {line.number} @{line.handle}{link} · {numbers}")
            continue
        out.append(f"  {_local(line.at, report)}  {line.number} @{line.handle}{link}")
        out.append(f'    "{clean(shorten(line.text))}"')
        out.append(f"    {_who(name, line, mention, clean)}")
        if landed := line_counts(line):
            out.append(f"    {landed}")
    return out


def _local(moment: datetime | None, report: Report) -> str:
    if moment is None:
        return "as soon as possible"
    local = moment.astimezone(report.zone)
    return f"{local:%a %b} {local.day} {local:%H:%M %Z}"
