"""Editorial policy: an account's rules (app.yaml `rules:`), checked against every version of a draft.

A rule whose `if` holds for a version asks for more: more approvals, particular approvers, a longer cooling-off, or
refuses the draft outright. What the rules that applied ask is a Policy, recorded with the version it was judged on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from urllib.parse import urlsplit

from twitter_text import extract_urls

from bot import thread
from bot.errors import ConfigError

CONDITIONS = ("words", "pattern", "links", "domains", "mentions", "media", "thread", "hours")
EFFECTS = ("approvals_required", "require", "cooling_off_minutes", "block")
_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_MENTION = re.compile(r"(?:^|[^A-Za-z0-9_!#$%&*@＠])[@＠]([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@＠])")


@dataclass(frozen=True)
class Condition:
    """A rule's `if`: every key given must hold (a key left out holds for anything)."""

    words: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    links: bool | None = None
    domains: tuple[str, ...] = ()
    mentions: bool | None = None
    media: bool | None = None
    thread: bool | None = None
    hours: tuple[time, time] | None = None  # [start, end) in the config's timezone; start > end wraps midnight


@dataclass(frozen=True)
class Effect:
    """A rule's `then`: what it asks of a draft it applies to."""

    approvals_required: int | None = None
    require: tuple[str, ...] = ()  # user IDs, or user group IDs of which one member suffices; each must approve
    cooling_off_minutes: float | None = None
    block: str | None = None  # the draft is refused with this reason


@dataclass(frozen=True)
class Rule:
    """One named rule of an account."""

    name: str
    when: Condition
    then: Effect


@dataclass(frozen=True)
class Subject:
    """What the rules look at in one version of a draft."""

    text: str
    media: bool
    at: datetime  # its publish time (now when it has none), in the config's timezone


@dataclass(frozen=True)
class Asked:
    """What one rule that applied asks, as recorded and shown on the card."""

    name: str
    approvals_required: int | None = None
    require: tuple[str, ...] = ()
    cooling_off_minutes: float | None = None


@dataclass(frozen=True)
class Policy:
    """What the rules that applied to one version ask, together with the account's own settings."""

    applied: tuple[Asked, ...]
    approvals_required: int  # the highest asked, never below the account's own
    require: tuple[str, ...]  # every ID some rule requires among the approvers, in rule order
    cooling_off_minutes: float  # the highest asked, or the account's own

    def to_json(self) -> str:
        """For the ledger: drafts.policy and the events of the version."""
        return json.dumps(self.record(), separators=(",", ":"))

    def record(self) -> dict[str, Any]:
        """The policy as plain data."""
        return {
            "rules": [{k: v for k, v in vars(a).items() if v not in (None, ())} for a in self.applied],
            "approvals_required": self.approvals_required,
            "require": list(self.require),
            "cooling_off_minutes": self.cooling_off_minutes,
        }

    @classmethod
    def from_json(cls, text: str) -> Policy:
        """The policy a version was recorded with."""
        data = json.loads(text)
        applied = tuple(
            Asked(
                name=r["name"],
                approvals_required=r.get("approvals_required"),
                require=tuple(r.get("require", ())),
                cooling_off_minutes=r.get("cooling_off_minutes"),
            )
            for r in data["rules"]
        )
        return cls(applied, data["approvals_required"], tuple(data["require"]), float(data["cooling_off_minutes"]))


class Blocked(Exception):
    """A rule refuses the draft: raised with the rule's reason (bot.errors.RuleBlocked tells the person)."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


# what a text contains


def links_in(text: str) -> list[str]:
    """The links in a text, as X finds them (a bare example.com is a link too)."""
    return [url for part in thread.split(text) for url in extract_urls(part)]


def domains_in(text: str) -> list[str]:
    """The domains linked, lower case, each once, in order."""
    found: dict[str, None] = {}
    for url in links_in(text):
        host = urlsplit(url if "://" in url else f"http://{url}").hostname
        if host:
            found[host.lower().rstrip(".")] = None
    return list(found)


def mentions_in(text: str) -> list[str]:
    """Who the text @-mentions, each once, in order (without the @)."""
    return list(dict.fromkeys(m.group(1) for m in _MENTION.finditer(text)))


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


def _within(moment: time, hours: tuple[time, time]) -> bool:
    start, end = hours
    return start <= moment < end if start <= end else moment >= start or moment < end


# judging a version


def holds(condition: Condition, subject: Subject) -> bool:
    """Whether every key of the condition holds for the version."""
    text = subject.text
    checks = [
        not condition.words or any(_has_word(text, w) for w in condition.words),
        condition.pattern is None or condition.pattern.search(text) is not None,
        condition.links is None or bool(links_in(text)) is condition.links,
        not condition.domains or any(d == want or d.endswith(f".{want}") for d in domains_in(text) for want in condition.domains),
        condition.mentions is None or bool(mentions_in(text)) is condition.mentions,
        condition.media is None or subject.media is condition.media,
        condition.thread is None or (len(thread.split(text)) > 1) is condition.thread,
        condition.hours is None or _within(subject.at.time().replace(tzinfo=None), condition.hours),
    ]
    return all(checks)


def judge(rules: Sequence[Rule], subject: Subject, *, approvals_required: int, cooling_off_minutes: float) -> Policy:
    """What the rules ask of this version; Blocked (the first blocking rule) when one refuses it."""
    matching = [rule for rule in rules if holds(rule.when, subject)]
    for rule in matching:
        if rule.then.block:
            raise Blocked(rule.name, rule.then.block)
    needed = max([approvals_required, *(r.then.approvals_required or 0 for r in matching)])
    cooling = max([cooling_off_minutes, *(r.then.cooling_off_minutes or 0 for r in matching)])
    require = tuple(dict.fromkeys(i for r in matching for i in r.then.require))
    applied = tuple(Asked(r.name, r.then.approvals_required, r.then.require, r.then.cooling_off_minutes) for r in matching)
    return Policy(applied, needed, require, float(cooling))


# reading app.yaml


def parse_rules(value: Any, key: str, where: str) -> tuple[Rule, ...]:
    """An account's `rules:` list, or ConfigError naming the rule and the key that is wrong."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key} must be a list of rules, each with a name, an if and a then")
    rules: list[Rule] = []
    for index, raw in enumerate(value):
        at = f"{key}[{index}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: {at} must be a mapping with name, if and then")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: {at}.name is missing: every rule needs a name, shown on the cards it applies to")
        named = f"{key} {name!r}"
        if name in {r.name for r in rules}:
            raise ConfigError(f"{where}: {named}: two rules share this name")
        unknown = sorted(set(raw) - {"name", "if", "then"})
        if unknown:
            raise ConfigError(f"{where}: {named}: unknown key {unknown[0]!r} (a rule has name, if and then)")
        rules.append(Rule(name, _condition(raw.get("if"), named, where), _effect(raw.get("then"), named, where)))
    return tuple(rules)


def _condition(raw: Any, named: str, where: str) -> Condition:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}: {named}: if must be a mapping of conditions ({', '.join(CONDITIONS)})")
    for key in raw:
        if key not in CONDITIONS:
            raise ConfigError(f"{where}: {named}: unknown condition {key!r} (one of {', '.join(CONDITIONS)})")
    found: dict[str, Any] = {}
    for key in ("links", "mentions", "media", "thread"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ConfigError(f"{where}: {named}: if.{key} must be true or false, not {raw[key]!r}")
            found[key] = raw[key]
    for key in ("words", "domains"):
        if key in raw:
            items = raw[key]
            if not isinstance(items, list) or not items or not all(isinstance(i, str) and i.strip() for i in items):
                raise ConfigError(f"{where}: {named}: if.{key} must be a non-empty list of words")
            found[key] = tuple(i.strip().lower() if key == "domains" else i.strip() for i in items)
    if "pattern" in raw:
        try:
            found["pattern"] = re.compile(str(raw["pattern"]))
        except re.error as e:
            raise ConfigError(f"{where}: {named}: if.pattern is not a valid regular expression ({e})") from None
    if "hours" in raw:
        match = _HOURS.fullmatch(str(raw["hours"]))
        if not match:
            raise ConfigError(f"{where}: {named}: if.hours must be HH:MM-HH:MM (e.g. 22:00-07:00), not {raw['hours']!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if (h1, m1) == (h2, m2):
            raise ConfigError(f"{where}: {named}: if.hours starts and ends at the same minute")
        found["hours"] = (time(h1, m1), time(h2, m2))
    return Condition(**found)


def _effect(raw: Any, named: str, where: str) -> Effect:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}: {named}: then must be a mapping of effects ({', '.join(EFFECTS)})")
    for key in raw:
        if key not in EFFECTS:
            raise ConfigError(f"{where}: {named}: unknown effect {key!r} (one of {', '.join(EFFECTS)})")
    found: dict[str, Any] = {}
    if "approvals_required" in raw:
        n = raw["approvals_required"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{where}: {named}: then.approvals_required must be a whole number of at least 1, not {n!r}")
        found["approvals_required"] = n
    if "require" in raw:
        ids = raw["require"] if isinstance(raw["require"], list) else [raw["require"]]
        for item in ids:
            if not isinstance(item, str) or not _ID.fullmatch(item):
                raise ConfigError(
                    f"{where}: {named}: then.require has {item!r}, which is neither a Slack user (U…/W…) nor a user group (S…)"
                )
        found["require"] = tuple(dict.fromkeys(ids))
    if "cooling_off_minutes" in raw:
        minutes = raw["cooling_off_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes < 0:
            raise ConfigError(f"{where}: {named}: then.cooling_off_minutes must be a number of minutes, not {minutes!r}")
        found["cooling_off_minutes"] = float(minutes)
    if "block" in raw:
        if not isinstance(raw["block"], str) or not raw["block"].strip():
            raise ConfigError(f"{where}: {named}: then.block must be the reason given to the author")
        found["block"] = raw["block"].strip()
    return Effect(**found)
