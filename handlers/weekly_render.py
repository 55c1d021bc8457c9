"""Pure functions from a WeeklyReport to Block Kit (with its plain-text fallback) and to terminal text.

The message says everything the chart shows (a table of the days), so a reader without images loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.digest import shorten
from bot.dryrun import not_sent
from bot.networks import label
from bot.weekly import Day, TopPost, WeeklyReport
from handlers.digest_render import EVENT_TYPE
from handlers.render import FIELD_LIMIT, linked, words
from handlers.slack_text import escape

Blocks = list[dict[str, Any]]
FALLBACK_LIMIT = 3000
UNREAD = "counts not read yet"
NO_COUNTS = "dry run: no counts"  # a day whose posts were all dry runs: nothing was sent, so nothing will be read
MISSING = "No engagement counts were read for this week's posts yet, so its engagement shows as 0."
SOME_DRY_MISSING = "No engagement counts were read for this week's posts yet (a dry run has none), so its engagement shows as 0."
ALL_DRY = "This week's posts were dry runs, sent nowhere: they have no engagement counts."
NOT_ATTACHED = "The chart could not be attached"


def title(report: WeeklyReport) -> str:
    """Weekly report · Mon, Nov 23 · @aplusk (the day it is sent, in the report's own zone)."""
    what = f"Weekly report · {report.day:%a, %b} {report.day.day}" if report.day else "Weekly report so far"
    handles = ", ".join(f"@{h}" for h in report.handles)
    return f"{what} · {handles}" if handles else what


def span(report: WeeklyReport) -> str:
    """Mon Nov 16 – Sun Nov 22: the local days it covers."""
    first, last = report.days[0].day, report.days[-1].day
    return f"{first:%a %b} {first.day} – {last:%a %b} {last.day}"


def totals(report: WeeklyReport) -> str:
    """5 posts · 123 interactions · 4,560 impressions (impressions only where a network gave them)."""
    out = [f"{report.posts} post{'s' if report.posts != 1 else ''}", f"{report.interactions:,} interactions"]
    if report.impressions is not None:
        out.append(f"{report.impressions:,} impressions")
    if report.dry_runs:  # a dry run's posts went nowhere: the report says so wherever its totals are shown
        some = "all" if report.dry_runs == report.posts else f"{report.dry_runs} of them"
        out.append(f"{not_sent(report.dry_networks)} ({some})")
    return " · ".join(out)


def metadata(report: WeeklyReport) -> dict[str, Any]:
    """What the report's message carries for copydesk to recognise it in the channel's history after a crash."""
    payload = {"scope": report.scope, "kind": "weekly" if report.day else "weekly_on_demand"}
    if report.day:
        payload["day"] = report.day.isoformat()
    return {"event_type": EVENT_TYPE, "event_payload": payload}


def filename(report: WeeklyReport) -> str:
    """copydesk-week-2026-11-22.png: named for the week's last day."""
    scope = "" if report.scope == "*" else f"{report.scope}-"
    return f"copydesk-week-{scope}{report.days[-1].day.isoformat()}.png"


def caption(report: WeeklyReport) -> str:
    """What the chart's message says above it."""
    return f":bar_chart: Posts and engagement per day, {span(report)} · {totals(report)}"


def alt_text(report: WeeklyReport) -> str:
    """The chart in words, for screen readers: each day's posts and interactions."""
    days = "; ".join(f"{d.day:%a} {d.posts} posts, {_interactions(d)}" for d in report.days)
    return f"Bar chart of posts and interactions per day, {span(report)}: {days}."[:1000]


# Slack


def weekly(report: WeeklyReport, *, chart_problem: str | None = None) -> tuple[str, Blocks]:
    """The report's message: header, totals, the days as a table, the top posts with links, the people; its fallback
    says the same in plain text. `chart_problem`: why the chart is not there."""
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title(report)[:150], "emoji": True}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{span(report)} · {totals(report)}"}]},
        _section(f"*:date: Per day*\n```\n{table(report)}\n```"),
    ]
    if report.counts_missing:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"_{missing(report)}_"}]})
    blocks.append(_section(f"*:trophy: Top posts ({len(report.top)})*" if report.top else "*:trophy: Top posts*"))
    if not report.top:
        blocks[-1]["text"]["text"] += f"\n{_no_top(report)}"
    for rank, post in enumerate(report.top, 1):
        facts = f"{rank}. {post.number} @{post.handle} · on {linked(post.links) if post.links else 'no link'}"
        facts += f"\n{_counts(post)}\nby <@{post.author}>"
        blocks.append({"type": "section", "fields": [_mrkdwn(facts[:FIELD_LIMIT]), words(f"“{shorten(post.text)}”")]})
    blocks.append(_section(people(report, lambda u: f"<@{u}>")))
    if chart_problem:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"_{chart_note(chart_problem)}_"}]})
    text = plain(report, mention=lambda u: f"<@{u}>", clean=escape, chart_problem=chart_problem)
    return text[:FALLBACK_LIMIT], blocks


def chart_note(problem: str) -> str:
    """Why the chart is missing, and that nothing is lost by it."""
    return f"{NOT_ATTACHED} ({problem}); the table shows everything it would."


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


# shared by both


def table(report: WeeklyReport) -> str:
    """The days as a fixed-width table: what the chart draws, in numbers."""
    rows = [f"{'':<10}  {'posts':>5}  {'interactions':>12}  {'impressions':>11}"]
    for day in report.days:
        impressions = f"{day.impressions:,}" if day.impressions is not None else "—"
        rows.append(f"{day.day:%a %b} {day.day.day:<2}  {day.posts:>5}  {_interactions(day):>12}  {impressions:>11}")
    return "\n".join(rows)


def _interactions(day: Day) -> str:
    if day.unread:
        return NO_COUNTS if day.only_dry_runs else UNREAD
    return f"{day.interactions:,}"


def missing(report: WeeklyReport) -> str:
    """Why a week's engagement shows as 0: its counts are not read yet, or (a week of dry runs) there are none to read."""
    if report.only_dry_runs:
        return ALL_DRY
    return SOME_DRY_MISSING if report.dry_runs else MISSING


def _counts(post: TopPost) -> str:
    """42 interactions: 30 likes, 5 reposts, 4 replies, 3 quotes · 1,200 impressions."""
    c = post.counts
    parts = [
        f"{n:,} {name}"
        for name, n in (("likes", c.likes), ("reposts", c.reposts), ("replies", c.replies), ("quotes", c.quotes))
        if n is not None
    ]
    said = f"{c.interactions:,} interactions" + (f": {', '.join(parts)}" if parts else "")
    return said + (f" · {c.impressions:,} impressions" if c.impressions is not None else "")


def _no_top(report: WeeklyReport) -> str:
    if not report.posts:
        return "Nothing went out this week."
    if report.only_dry_runs:
        return "None ranked: dry runs have no counts."
    if report.dry_runs:
        return "None ranked: dry runs have no counts, and none were read for the others yet."
    if any(day.read for day in report.days):  # read, then taken back or deleted on their network: never ranked
        return "None ranked: the posts whose counts were read were taken back or deleted since."
    return "None ranked: no counts were read for these posts yet."


def people(report: WeeklyReport, mention: Callable[[str], str]) -> str:
    """Wrote most: @dana (3 posts), @kim (1 post) · Approved most: @sam (4 approvals)."""
    wrote = ", ".join(f"{mention(u)} ({n} post{'s' if n != 1 else ''})" for u, n in report.writers) or "nobody"
    approved = ", ".join(f"{mention(u)} ({n} approval{'s' if n != 1 else ''})" for u, n in report.approvers) or "nobody"
    return f"Wrote most: {wrote}\nApproved most: {approved}"


# terminal


def plain(
    report: WeeklyReport,
    *,
    mention: Callable[[str], str] = str,
    clean: Callable[[str], str] = lambda t: t,
    chart_problem: str | None = None,
) -> str:
    """The report as plain text: for the terminal, and (mentions made Slack's, people's words escaped by `clean`) as the
    Slack message's fallback."""
    out = [
        title(report),
        f"{span(report)} · {totals(report)}",
        "",
        "Per day",
        *(f"  {row}" for row in table(report).splitlines()),
    ]
    if report.counts_missing:
        out.append(missing(report))
    out += ["", "Top posts"]
    if not report.top:
        out.append(f"  {_no_top(report)}")
    for rank, post in enumerate(report.top, 1):
        links = "".join(f"  {label(network)}: {url}" if len(post.links) > 1 else f"  {url}" for network, url in post.links)
        out.append(f"  {rank}. {post.number} @{post.handle} · {_counts(post)}{links}")
        out.append(f'     "{clean(shorten(post.text))}"')
        out.append(f"     by {mention(post.author)}")
    out += ["", *people(report, mention).splitlines()]
    if chart_problem:
        out += ["", chart_note(chart_problem)]
    return "\n".join(out)
