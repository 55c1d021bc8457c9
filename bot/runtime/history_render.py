"""`copydesk ledger history` for people: a draft's story in sections, each in time order, times in the config's zone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.history import Attempt, CastVote, History, Judgement, Timing, Version
from bot.networks import label

LONG_DETAIL = frozenset({"text", "policy"})  # shown in their own sections, not on the event's line (nor an edit's words)
SHORT = 72  # a value on an event's line is cut to this many characters
HASH = re.compile(r"[0-9a-f]{64}")  # a SHA-256, as the ledger writes fingerprints
When = Callable[[datetime], str]  # how a time reads


def plain(story: History, zone: ZoneInfo | None, why_utc: str | None = None) -> str:
    """The whole story as text: `zone` from app.yaml, or None for UTC (`why_utc` says why app.yaml was not used)."""
    when = _clock(zone)
    draft = story.draft
    times = f"times in {zone.key} (app.yaml)" if zone else f"times in UTC{f' ({why_utc})' if why_utc else ''}"
    lines = [
        f"{draft.number} for {draft.account}, written by {draft.author_id} at {when(draft.created_at)}",
        f"now {draft.state.label}, at version {draft.version}"
        + (f", to go out at {when(draft.publish_at)}" if draft.publish_at else "")
        + (f", cooling off until {when(draft.cooling_until)}" if draft.cooling_until else "")
        + f"; {times}",
    ]
    sections = [
        ("Versions", [line for v in story.versions for line in _version(v, when)]),
        ("Votes", [_vote(v, when) for v in story.votes]),
        ("Rules", [line for j in story.rules for line in _judgement(j, when)]),
        ("Cooling-off and expiry", [_timing(t, when) for t in [*story.cooling_off, *story.expiry]]),
        ("Publications", [line for p in story.publications for line in _attempt(p, when)]),
        ("Events", [_event(e.id, e.at, e.actor, e.action, e.detail, when) for e in story.events]),
    ]
    empty = {
        "Votes": "none",
        "Rules": "none recorded: no rule applied to any version (or the account has none)",
        "Cooling-off and expiry": "none",
        "Publications": "none: it was never sent to X",
    }
    for title, body in sections:
        lines += ["", title, *(body or [f"  {empty.get(title, 'none')}"])]
    return "\n".join(lines)


def _clock(zone: ZoneInfo | None) -> When:
    """How a time reads: local with its zone's abbreviation, or UTC ISO 8601."""

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    def utc(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    return local if zone else utc


def _version(v: Version, when: When) -> list[str]:
    number = f"version {v.version}" if v.version is not None else "an edit (from before versions were counted)"
    made = {
        "drafted": "written",
        "edited": "edited",
        "images_changed": "images changed",
        "baseline": "recorded as it stood (a ledger from before fingerprints)",
    }
    lines = [f"  {number}: {made.get(v.action, v.action)} by {v.by} at {when(v.at)}"]
    lines.append(f"    content_sha256 {v.content_sha256 or '(none: from before content fingerprints)'}")
    if v.publish_at:
        lines.append(f"    to go out at {when(v.publish_at)}")
    if v.text is None:
        lines.append("    text: (not recorded)")
    else:
        first, *rest = v.text.split("\n")
        lines += [f"    text: {first}", *(f"          {line}" for line in rest)]
    for image in v.images or []:
        alt = f', alt "{image["alt"]}"' if image.get("alt") else ""
        lines.append(f"    image: {image.get('name') or '(name not recorded)'} sha256 {image.get('sha256')}{alt}")
    if v.policy is not None:
        lines.append(f"    rules: {_asked(v.policy)}")
    return lines


def _vote(v: CastVote, when: When) -> str:
    how = "button" if v.via == "button" else f"reaction :{v.reaction}:"
    cast = f"at {when(v.cast_at)}" if v.cast_at else "before the log recorded votes"
    version = f"version {v.version}" if v.version is not None else "a version not recorded"
    ended = {
        None: "stands",
        "taken_back": f"taken back at {when(v.ended_at)}" if v.ended_at else "taken back",
        "new_version": f"cleared by the next version at {when(v.ended_at)}" if v.ended_at else "cleared by the next version",
        "not_standing_at_baseline": "no longer standing when the ledger's baseline was taken",
    }[v.ended]
    kept = f"; kept into version {', '.join(str(k) for k in v.kept_into)}" if v.kept_into else ""
    return f"  {v.vote} by {v.by} ({how}) on {version} {cast}{kept}: {ended}"


def _judgement(j: Judgement, when: When) -> list[str]:
    of = f"version {j.version}" if j.version is not None else "the draft"
    source = "judged again at a start under app.yaml then" if j.source == "policy_changed" else f"when {j.source}"
    asked = {"rules": j.rules, "approvals_required": j.approvals_required, "require": j.require}
    return [f"  {of}, {source} ({when(j.at)}): {_asked({**asked, 'cooling_off_minutes': j.cooling_off_minutes})}"]


def _asked(policy: dict[str, Any]) -> str:
    """What the rules that applied asked, rule by rule, and what they asked together."""
    rules = policy.get("rules") or []
    if not rules:
        return "no rule applied"
    each = "; ".join(f"{r.get('name', '?')}: {_effects(r)}" for r in rules)
    return f"{each} (together: {_effects(policy)})"


def _effects(asked: dict[str, Any]) -> str:
    found = []
    if asked.get("approvals_required") is not None:
        found.append(f"{asked['approvals_required']} approval(s)")
    if asked.get("require"):
        found.append(f"approval by {', '.join(asked['require'])}")
    if asked.get("cooling_off_minutes"):
        found.append(f"{asked['cooling_off_minutes']:g} minute(s) cooling-off")
    return ", ".join(found) or "nothing more"


def _timing(t: Timing, when: When) -> str:
    version = f" (version {t.version})" if t.version is not None else ""
    if t.action == "approved":
        until = f"goes out no earlier than {when(t.until)}" if t.until else "a cooling-off window began"
        return f"  approved at {when(t.at)}{version}: {until} unless someone objects"
    if t.action == "cooling_off_skipped":
        until = f"; the window was to end at {when(t.until)}" if t.until else ""
        return f"  cooling-off skipped by {t.by} at {when(t.at)}{version}{until}"
    return f"  expired at {when(t.at)}{version}{f': {t.reason}' if t.reason else ''}"


def _attempt(p: Attempt, when: When) -> list[str]:
    version = f"version {p.version}" if p.version is not None else "a version not recorded"
    lines = [f"  publication {p.id}: {label(p.network)}, part {p.part}, {version}, started at {when(p.started_at)}: {p.outcome}"]
    lines.append(f"    content_sha256 {p.content_sha256 or '(none: from before content fingerprints)'}")
    if p.finished_at:
        lines.append(f"    finished at {when(p.finished_at)}")
    if p.x_post_id or p.url:
        lines.append(f"    post {p.x_post_id or '?'} {p.url or ''}".rstrip())
    if p.error:
        lines.append(f"    error: {p.error}")
    if p.retracted_at:
        lines.append(f"    retracted (deleted from {label(p.network)}) at {when(p.retracted_at)}")
    return lines


def _event(number: int, at: datetime, actor: str, action: str, detail: dict[str, Any], when: When) -> str:
    skip = LONG_DETAIL | ({"before", "after"} if action == "edited" else set())
    said = [f"{k}={_short(v)}" for k, v in sorted(detail.items()) if k not in skip and v not in (None, [], {}, "")]
    if isinstance(detail.get("policy"), dict):
        said.append("rules=" + (",".join(r.get("name", "?") for r in detail["policy"].get("rules", [])) or "none"))
    return f"  {when(at)}  {actor}  {action}" + (f"  ({' '.join(said)})" if said else "") + f"  [event {number}]"


def _short(value: Any) -> str:
    """A value on an event's line: a fingerprint by its first 12 digits (the Versions section has it whole), the rest cut."""
    if isinstance(value, str) and HASH.fullmatch(value):
        return value[:12] + "…"
    if isinstance(value, list):
        text = ",".join("/".join(map(str, v)) if isinstance(v, list) else str(v) for v in value)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= SHORT else text[: SHORT - 1] + "…"
