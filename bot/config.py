"""A frozen configuration from app.yaml and the environment, read once at start and never again."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.errors import ConfigError
from bot.policy import Rule, parse_rules
from bot.review import without_skin_tone

SLACK_API_URL = "https://slack.com/api/"
X_API_URL = "https://api.x.com"

DEFAULT_CREDENTIALS = {
    "consumer_key": "X_CONSUMER_KEY",
    "consumer_secret": "X_CONSUMER_SECRET",
    "access_token": "X_ACCESS_TOKEN",
    "access_token_secret": "X_ACCESS_TOKEN_SECRET",
}
OAUTH1_KEYS = tuple(DEFAULT_CREDENTIALS)
OAUTH2_KEY = "oauth2_access_token"
NETWORKS = ("x", "bluesky", "mastodon")  # the networks an account can post to, in the order a draft goes out
BLUESKY_SERVICE = "https://bsky.social"
# What each network's block may hold besides handle and credentials, and the variables its credentials default to.
NETWORK_KEYS = {"x": (), "bluesky": ("service",), "mastodon": ("instance",)}
NETWORK_CREDENTIALS = {
    "x": DEFAULT_CREDENTIALS,
    "bluesky": {"app_password": "BLUESKY_APP_PASSWORD"},
    "mastodon": {"access_token": "MASTODON_ACCESS_TOKEN"},
}


@dataclass(frozen=True)
class Setting:
    """One app.yaml key: where it lives, its default and what it is for (the README is checked against these)."""

    path: str
    default: Any
    help: str


REQUIRED = object()

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "timezone",
        "UTC",
        "IANA zone for times written without an offset by people whose Slack profile has none, and for the digest.",
    ),
    Setting("admins", [], "Slack user IDs who may pause and resume publishing."),
    Setting("default_account", None, "The account a draft goes to when it names none; needed only with several accounts."),
    Setting("x_timeout_seconds", 15, "How long one call to X may take before it is abandoned."),
    Setting(
        "x_retry.first_delay_seconds",
        10,
        "After X fails in a way worth retrying (5xx, unreachable), wait at most this long (half to all of it, at random, so retries spread); doubled each time.",
    ),
    Setting("x_retry.give_up_after_minutes", 30, "Stop retrying a post this long after its first attempt, and mark it failed."),
    Setting(
        "reminders.after_minutes",
        120,
        "How long a draft waits in review before the editors who have not voted are reminded, once, in its card's thread; 0 sends no reminders.",
    ),
    Setting(
        "reactions.approve", ["white_check_mark", "heavy_check_mark"], "Emoji names (without colons) that count as an approval."
    ),
    Setting("reactions.reject", ["x", "no_entry_sign"], "Emoji names that count as a veto."),
    Setting("accounts", REQUIRED, "The accounts this team runs, keyed by the name a draft uses with to:NAME."),
    Setting(
        "accounts.*.network",
        "x",
        "The one network the account is on (x, bluesky or mastodon); leave out when it lists networks instead.",
    ),
    Setting(
        "accounts.*.handle",
        REQUIRED,
        "The account's handle on its one network, without @ (aplusk; aplusk.bsky.social; aplusk@mastodon.social); not with networks.",
    ),
    Setting("accounts.*.service", BLUESKY_SERVICE, "With network: bluesky, the PDS base URL every call uses."),
    Setting("accounts.*.instance", REQUIRED, "With network: mastodon, the instance's base URL every call uses."),
    Setting(
        "accounts.*.networks",
        None,
        "Instead of network, handle and credentials: each network the account is on (x, bluesky, mastodon), with its own handle and credentials. One approval sends a draft to all of them (or those its on: names).",
    ),
    Setting("accounts.*.networks.x", None, "The account on X."),
    Setting("accounts.*.networks.x.handle", REQUIRED, "The X handle without @."),
    Setting(
        "accounts.*.networks.x.credentials",
        dict(DEFAULT_CREDENTIALS),
        "Names of the environment variables holding the X keys, as accounts.*.credentials.",
    ),
    Setting("accounts.*.networks.x.credentials.consumer_key", "X_CONSUMER_KEY", "As accounts.*.credentials.consumer_key."),
    Setting(
        "accounts.*.networks.x.credentials.consumer_secret", "X_CONSUMER_SECRET", "As accounts.*.credentials.consumer_secret."
    ),
    Setting("accounts.*.networks.x.credentials.access_token", "X_ACCESS_TOKEN", "As accounts.*.credentials.access_token."),
    Setting(
        "accounts.*.networks.x.credentials.access_token_secret",
        "X_ACCESS_TOKEN_SECRET",
        "As accounts.*.credentials.access_token_secret.",
    ),
    Setting("accounts.*.networks.x.credentials.oauth2_access_token", None, "As accounts.*.credentials.oauth2_access_token."),
    Setting("accounts.*.networks.bluesky", None, "The account on Bluesky."),
    Setting("accounts.*.networks.bluesky.handle", REQUIRED, "The Bluesky handle, e.g. aplusk.bsky.social."),
    Setting("accounts.*.networks.bluesky.service", BLUESKY_SERVICE, "The PDS base URL every call uses (a proxy works)."),
    Setting(
        "accounts.*.networks.bluesky.credentials",
        dict(NETWORK_CREDENTIALS["bluesky"]),
        "Names of the environment variables holding the Bluesky keys.",
    ),
    Setting(
        "accounts.*.networks.bluesky.credentials.app_password",
        "BLUESKY_APP_PASSWORD",
        "Variable holding an app password (Settings → Privacy and security → App passwords), never the account's own password.",
    ),
    Setting("accounts.*.networks.mastodon", None, "The account on Mastodon."),
    Setting("accounts.*.networks.mastodon.handle", REQUIRED, "The Mastodon handle, e.g. aplusk@mastodon.social."),
    Setting(
        "accounts.*.networks.mastodon.instance",
        REQUIRED,
        "The instance's base URL every call uses, e.g. https://mastodon.social.",
    ),
    Setting(
        "accounts.*.networks.mastodon.credentials",
        dict(NETWORK_CREDENTIALS["mastodon"]),
        "Names of the environment variables holding the Mastodon keys.",
    ),
    Setting(
        "accounts.*.networks.mastodon.credentials.access_token",
        "MASTODON_ACCESS_TOKEN",
        "Variable holding an access token with the scopes write:statuses write:media read:statuses read:accounts.",
    ),
    Setting("accounts.*.review_channel", REQUIRED, "Slack channel ID where review cards are posted; invite the bot there."),
    Setting("accounts.*.editors", REQUIRED, "Slack user IDs (U…/W…) or user group IDs (S…) whose reactions count as votes."),
    Setting("accounts.*.approvals_required", 1, "How many distinct editors must approve before the post is scheduled."),
    Setting("accounts.*.allow_self_approval", False, "Whether the author's own approval counts when the author is an editor."),
    Setting(
        "accounts.*.dry_run",
        False,
        "Run everything as usual but send nothing to the account's networks: each post is recorded as a dry run, and every message says DRY RUN — not sent to X. Needs no network keys (copydesk run --dry-run does this for every account).",
    ),
    Setting(
        "accounts.*.owner",
        None,
        "Slack user ID of the account's owner: their veto is final at any moment before the post goes out (only they lift it, by taking it back), and their approval counts as an editor's.",
    ),
    Setting(
        "accounts.*.cooling_off_minutes",
        0,
        "A draft that reaches its quorum goes out no earlier than this many minutes later (fractions allowed); a veto, or an approval taken back, in that window stops it.",
    ),
    Setting(
        "accounts.*.expire_after_hours",
        None,
        "A draft still in review this many hours after its latest version expires and never goes out (fractions allowed); leave out for no expiry.",
    ),
    Setting(
        "accounts.*.on_missed_time",
        "publish",
        "What happens to a draft still in review when its publish time passes: publish (once approved, at once) or expire.",
    ),
    Setting(
        "accounts.*.rules",
        [],
        "Editorial rules checked against every version of a draft: each has a name, an if (conditions) and a then (effects); see Editorial policy.",
    ),
    Setting(
        "accounts.*.credentials",
        dict(DEFAULT_CREDENTIALS),
        "Names of the environment variables holding the account's keys on its one network (never the keys); X's by default.",
    ),
    Setting(
        "accounts.*.credentials.app_password",
        "BLUESKY_APP_PASSWORD",
        "With network: bluesky, the variable holding the app password.",
    ),
    Setting("accounts.*.credentials.consumer_key", "X_CONSUMER_KEY", "Variable holding the app's API key (OAuth 1.0a)."),
    Setting("accounts.*.credentials.consumer_secret", "X_CONSUMER_SECRET", "Variable holding the app's API key secret."),
    Setting("accounts.*.credentials.access_token", "X_ACCESS_TOKEN", "Variable holding the account's access token."),
    Setting(
        "accounts.*.credentials.access_token_secret",
        "X_ACCESS_TOKEN_SECRET",
        "Variable holding the account's access token secret.",
    ),
    Setting(
        "accounts.*.credentials.oauth2_access_token",
        None,
        "Instead of the four above: variable holding an OAuth 2.0 user access token (scopes tweet.write, tweet.read, users.read, media.write).",
    ),
    Setting(
        "accounts.*.digest",
        None,
        "A daily digest of this account alone, in its own channel and at its own time; the top-level digest then leaves the account out.",
    ),
    Setting("accounts.*.digest.channel", "digest.channel", "Slack channel ID this account's digest is posted to."),
    Setting("accounts.*.digest.at", "digest.at", "Local time (HH:MM, in timezone) this account's digest is posted."),
    Setting(
        "accounts.*.digest.skip_empty",
        "digest.skip_empty",
        "Send no digest for this account on a day when it would list nothing.",
    ),
    Setting(
        "accounts.*.digest.metrics",
        "digest.metrics",
        "Show how this account's posts landed in its digest; each read of X is billed under X's pay-per-use pricing.",
    ),
    Setting(
        "accounts.*.digest.metrics_timeout_seconds",
        "digest.metrics_timeout_seconds",
        "How long this account's digest waits for the networks' counts.",
    ),
    Setting(
        "accounts.*.digest.weekly",
        "digest.weekly",
        "This account's weekly report, in its digest channel; keys left out come from the top-level digest.weekly; null sends none.",
    ),
    Setting("accounts.*.digest.weekly.day", "digest.weekly.day", "Weekday this account's weekly report is posted."),
    Setting(
        "accounts.*.digest.weekly.at",
        "digest.weekly.at",
        "Local time (HH:MM, in timezone) this account's weekly report is posted.",
    ),
    Setting("digest", None, "The daily digest; leave out to send none."),
    Setting("digest.channel", REQUIRED, "Slack channel ID the digest is posted to."),
    Setting("digest.at", "18:00", "Local time (HH:MM, in timezone) the digest is posted."),
    Setting(
        "digest.skip_empty", False, "Send no digest on a day when it would list nothing (else a short 'nothing went out' one)."
    ),
    Setting(
        "digest.metrics",
        True,
        "Read each listed post's likes, reposts, replies, quotes and impressions from its network before the digest goes, "
        "and show them (with the day's best post and the totals, and how the previous digest's posts landed); false reads "
        "nothing. Each read of X is billed under X's pay-per-use pricing: one resource per post read, and a post is read "
        "twice (in its day's digest, and again in the next one's 'how yesterday's posts landed'), at most once an hour.",
    ),
    Setting(
        "digest.metrics_timeout_seconds",
        5,
        "How long the digest waits for the networks' counts (at most 60); past it, or when a network fails or rate-limits "
        'the read, the digest goes without them and says "engagement unavailable".',
    ),
    Setting(
        "digest.weekly",
        None,
        "A weekly report in the digest channel: the 7 days before it, posts and engagement per day (with a chart), the top 3 posts, who wrote and approved most; leave out to send none.",
    ),
    Setting("digest.weekly.day", "monday", "Weekday the weekly report is posted (monday … sunday)."),
    Setting("digest.weekly.at", "09:00", "Local time (HH:MM, in timezone) the weekly report is posted."),
    Setting(
        "preflight.duplicate_days",
        30,
        "A card notes a draft whose text (ignoring case, spaces and links) matches a post of its account published or scheduled in this many days.",
    ),
    Setting(
        "ledger.hmac_key_env",
        None,
        "Name of an environment variable holding a secret (at least 32 characters) that keys the event log's hash chain (HMAC-SHA256): someone who can write the ledger file but lacks the secret cannot rebuild a valid chain. A new ledger is keyed from its first event; an existing plain one with `copydesk ledger key`.",
    ),
    Setting(
        "ledger.synchronous",
        "normal",
        "normal: a commit survives the process being killed, and the last ones may be lost if the machine loses power; full: each commit is on disk before Slack hears back (about 0.5 ms more per change).",
    ),
)

SYNCHRONOUS = ("normal", "full")  # SQLite's PRAGMA synchronous levels that keep a WAL ledger consistent


@dataclass(frozen=True)
class EnvVar:
    """One environment variable copydesk reads at start."""

    name: str
    help: str


ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar("SLACK_BOT_TOKEN", "The bot token (xoxb-…). Always needed."),
    EnvVar("SLACK_SIGNING_SECRET", "Verifies that requests come from Slack. Needed in HTTP mode."),
    EnvVar("SLACK_APP_TOKEN", "App-level token (xapp-…, scope connections:write). When set, copydesk runs in Socket Mode."),
    EnvVar("COPYDESK_CONFIG", "Path of app.yaml (default ./app.yaml)."),
    EnvVar("COPYDESK_DB", "Path of the SQLite ledger (default ./copydesk.db)."),
    EnvVar("SLACK_API_URL", f"Base URL of the Slack Web API (default {SLACK_API_URL})."),
    EnvVar("X_API_URL", f"Base URL of the X API, the part before /2/… (default {X_API_URL})."),
)


@dataclass(frozen=True)
class Secret:
    """A value from the environment that must never be printed: its repr names only the variable."""

    env_name: str
    value: str = field(repr=False, compare=False)

    def __str__(self) -> str:
        return f"<secret {self.env_name}>"

    def reveal(self) -> str:
        """Give the value to the one client that needs it."""
        return self.value


@dataclass(frozen=True)
class XCredentials:
    """OAuth 1.0a user keys, or an OAuth 2.0 user access token."""

    consumer_key: Secret | None = None
    consumer_secret: Secret | None = None
    access_token: Secret | None = None
    access_token_secret: Secret | None = None
    oauth2_access_token: Secret | None = None


@dataclass(frozen=True)
class BlueskyCredentials:
    """An app password: it can post and delete, never change the account's settings."""

    app_password: Secret


@dataclass(frozen=True)
class MastodonCredentials:
    """An access token of an application the account authorised."""

    access_token: Secret


Credentials = XCredentials | BlueskyCredentials | MastodonCredentials


@dataclass(frozen=True)
class Network:
    """One network an account posts to: its handle there, the keys, and the base URL its client calls."""

    name: str  # one of NETWORKS
    handle: str
    credentials: Credentials
    base_url: str | None = None  # Bluesky's service, Mastodon's instance; X's comes from X_API_URL


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # date.weekday() order


@dataclass(frozen=True)
class Weekly:
    """When the weekly report goes: a weekday (0 is Monday, as date.weekday() counts) and a local time."""

    weekday: int
    at: str


@dataclass(frozen=True)
class Digest:
    """Where and when the daily digest goes, and whether a day with nothing to list gets one."""

    channel: str
    at: str
    skip_empty: bool = False
    metrics: bool = field(default_factory=lambda: _default("digest.metrics"))  # read the listed posts' counts
    metrics_timeout_seconds: float = field(default_factory=lambda: float(_default("digest.metrics_timeout_seconds")))
    weekly: Weekly | None = None  # None: no weekly report


@dataclass(frozen=True)
class Account:
    """One X account the team publishes to, with who reviews it and how."""

    name: str
    network: str
    handle: str
    review_channel: str
    editors: tuple[str, ...]
    approvals_required: int
    allow_self_approval: bool
    credentials: XCredentials
    digest: Digest | None = None  # a digest of its own; None: it is in the top-level one
    owner: str | None = None  # their veto is final, and their approval counts as an editor's
    cooling_off_minutes: float = 0.0  # an approved draft waits this long after its quorum
    expire_after_hours: float | None = None  # None: a draft in review never expires
    on_missed_time: str = "publish"  # or "expire": a draft still in review when its time passes
    rules: tuple[Rule, ...] = ()  # bot/policy.py
    networks: tuple[Network, ...] = ()  # where one approval sends a draft, in order; () means X alone, as handle says
    dry_run: bool = False  # nothing is sent to its networks (bot/dryrun.py), and it needs no keys for them

    @property
    def outlets(self) -> tuple[Network, ...]:
        """Every network the account is on, in the order a draft goes out."""
        return self.networks or (Network(self.network, self.handle, self.credentials),)

    @property
    def network_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.outlets)

    def on(self, network: str) -> Network | None:
        """The account on `network`, if it is there."""
        return next((n for n in self.outlets if n.name == network), None)


@dataclass(frozen=True)
class Config:
    """Everything copydesk needs to run, resolved once at start."""

    timezone: ZoneInfo
    admins: tuple[str, ...]
    approve_reactions: tuple[str, ...]
    reject_reactions: tuple[str, ...]
    accounts: Mapping[str, Account]
    default_account: str | None
    digest: Digest | None
    x_timeout_seconds: float
    x_retry_delay_seconds: float
    x_retry_for_minutes: float
    remind_after_minutes: float | None  # None: no reminders
    ledger_synchronous: str  # one of SYNCHRONOUS
    slack_bot_token: Secret
    slack_signing_secret: Secret | None
    slack_app_token: Secret | None
    slack_api_url: str
    x_api_url: str
    db_path: Path
    config_path: Path
    ledger_key: Secret | None = None  # ledger.hmac_key_env's secret: keys the event chain
    duplicate_days: float = 30.0  # preflight.duplicate_days
    dry_run: bool = False  # copydesk run --dry-run: every account sends nothing (each Account's dry_run is then true)

    def account(self, name: str | None) -> Account | None:
        """The named account, or the default one when no name is given."""
        return self.accounts.get(name if name is not None else (self.default_account or ""))


_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_EDITOR = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")


def config_path(environ: Mapping[str, str], override: str | None = None) -> Path:
    """Where app.yaml is: --config, then COPYDESK_CONFIG, then ./app.yaml."""
    return Path(override or environ.get("COPYDESK_CONFIG") or "app.yaml")


def db_path(environ: Mapping[str, str], override: str | None = None) -> Path:
    """Where the ledger is: --db, then COPYDESK_DB, then ./copydesk.db."""
    return Path(override or environ.get("COPYDESK_DB") or "copydesk.db")


def load_config(path: Path, environ: Mapping[str, str], *, db: Path | None = None, dry_run: bool = False) -> Config:
    """Read app.yaml and the environment into a Config, or raise ConfigError naming the first bad key (`dry_run`: every
    account in dry run, as `copydesk run --dry-run` asks, so none needs its network keys)."""
    raw = _read_yaml(path)
    _reject_unknown_keys(raw)
    where = path.name
    _reject_non_finite(raw, where)
    digest = _digest(raw.get("digest"), where)
    accounts = _accounts(raw.get("accounts"), environ, where, digest, dry_run=dry_run)
    default_account = _default_account(raw.get("default_account"), accounts, where)
    reactions = _mapping(raw.get("reactions", {}), "reactions", where)
    approve = _names(reactions.get("approve", _default("reactions.approve")), "reactions.approve", where)
    reject = _names(reactions.get("reject", _default("reactions.reject")), "reactions.reject", where)
    if set(approve) & set(reject):
        raise ConfigError(
            f"{where}: reactions.approve and reactions.reject share {sorted(set(approve) & set(reject))} "
            "(a skin tone is the same reaction)"
        )
    timeout = raw.get("x_timeout_seconds", _default("x_timeout_seconds"))
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < 3600:
        raise ConfigError(f"{where}: x_timeout_seconds must be a number of seconds between 0 and 3600, not {timeout!r}")
    retry = raw.get("x_retry") or {}
    if not isinstance(retry, dict):
        raise ConfigError(f"{where}: x_retry must be a mapping with first_delay_seconds and give_up_after_minutes")
    delay = _positive(
        retry.get("first_delay_seconds", _default("x_retry.first_delay_seconds")), "x_retry.first_delay_seconds", where
    )
    give_up = _positive(
        retry.get("give_up_after_minutes", _default("x_retry.give_up_after_minutes")), "x_retry.give_up_after_minutes", where
    )
    reminders = raw.get("reminders") or {}
    if not isinstance(reminders, dict):
        raise ConfigError(f"{where}: reminders must be a mapping with after_minutes")
    remind_after = reminders.get("after_minutes", _default("reminders.after_minutes"))
    remind_after = (
        None
        if remind_after == 0 and not isinstance(remind_after, bool)
        else _positive(remind_after, "reminders.after_minutes", where)
    )
    synchronous = _synchronous(raw.get("ledger"), where)
    bot_token = environ.get("SLACK_BOT_TOKEN")
    if not bot_token:
        raise ConfigError("SLACK_BOT_TOKEN is not set: copy the bot token (xoxb-…) from the Slack app's OAuth page")
    return Config(
        timezone=_timezone(raw.get("timezone", _default("timezone")), where),
        admins=tuple(_ids(raw.get("admins", _default("admins")), "admins", where, _USER, "user IDs (U…)")),
        approve_reactions=approve,
        reject_reactions=reject,
        accounts=accounts,
        default_account=default_account,
        digest=digest,
        x_timeout_seconds=float(timeout),
        x_retry_delay_seconds=delay,
        x_retry_for_minutes=give_up,
        remind_after_minutes=remind_after,
        ledger_synchronous=synchronous,
        slack_bot_token=Secret("SLACK_BOT_TOKEN", bot_token),
        slack_signing_secret=_optional_secret(environ, "SLACK_SIGNING_SECRET"),
        slack_app_token=_optional_secret(environ, "SLACK_APP_TOKEN"),
        slack_api_url=_slack_url(environ.get("SLACK_API_URL") or SLACK_API_URL),
        x_api_url=(environ.get("X_API_URL") or X_API_URL).rstrip("/"),
        db_path=db or db_path(environ),
        config_path=path,
        ledger_key=ledger_key(raw.get("ledger"), environ, where),
        duplicate_days=_duplicate_days(raw.get("preflight"), where),
        dry_run=dry_run,
    )


def _default(path: str) -> Any:
    return next(s.default for s in SETTINGS if s.path == path)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (set COPYDESK_CONFIG or pass --config)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path.name}: not valid YAML{line}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name}: expected a mapping of settings at the top level")
    return raw


def _reject_unknown_keys(raw: dict[str, Any]) -> None:
    """Catch typos such as approval_required before they silently fall back to a default."""
    parts = (s.path.split(".") for s in SETTINGS)
    known = {".".join(p[:i]) for p in parts for i in range(1, len(p) + 1)}

    def walk(node: Any, prefix: str, pattern: str) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            shown = f"{prefix}{key}"
            if pattern == "accounts.":
                walk(value, f"{shown}.", "accounts.*.")
                continue
            if f"{pattern}{key}" not in known:
                _misplaced_network_key(pattern, key, shown, known)
                raise ConfigError(f"app.yaml: unknown key {shown!r}")
            walk(value, f"{shown}.", f"{pattern}{key}.")

    walk(raw, "", "")


def _misplaced_network_key(pattern: str, key: str, shown: str, known: set[str]) -> None:
    """A key that is not unknown, only in the wrong network's block (or a network copydesk does not post to): say so."""
    if pattern == "accounts.*.networks.":
        _known_network(key, shown, "app.yaml")
    if not pattern.startswith("accounts.*.networks."):
        return
    network, _, rest = pattern.removeprefix("accounts.*.networks.").partition(".")
    owners = [other for other in NETWORKS if other != network and f"accounts.*.networks.{other}.{rest}{key}" in known]
    if owners:
        raise ConfigError(f"app.yaml: {shown} belongs to {' or '.join(owners)}, not {network}")


def _reject_non_finite(node: Any, where: str, key: str = "") -> None:
    """YAML reads .inf and .nan as numbers; no setting means them, and every comparison with nan is false."""
    if isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"{where}: {key} is {node}, which is not a finite number")
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for name, value in items:
        _reject_non_finite(value, where, f"{key}[{name}]" if isinstance(node, list) else f"{key}.{name}" if key else str(name))


def _mapping(value: Any, key: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key} must be a mapping")
    return value


def _names(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip(":") for v in value):
        raise ConfigError(f"{where}: {key} must be a non-empty list of emoji names")
    for name in value:
        _no_whitespace(name, key, where, "an emoji name")
    return tuple(dict.fromkeys(without_skin_tone(v.strip(":")) for v in value))  # a skin tone counts as its reaction


def _ids(value: Any, key: str, where: str, pattern: re.Pattern[str], kind: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key} must be a list of Slack {kind}")
    for item in value:
        _no_whitespace(item, key, where, "a Slack ID")
        if not isinstance(item, str) or not pattern.fullmatch(item):
            raise ConfigError(f"{where}: {key} has {item!r}, which is not a Slack {kind}")
    return value


def _no_whitespace(value: Any, key: str, where: str, kind: str) -> None:
    """A stray space or line break in an ID would never match what Slack sends: name it rather than let it fail quietly."""
    if isinstance(value, str) and any(c.isspace() for c in value):
        raise ConfigError(f"{where}: {key} has {value!r}, with whitespace in it; {kind} has none")


def _timezone(value: Any, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: timezone {value!r} is not an IANA time zone (e.g. America/Los_Angeles)") from None


def _accounts(
    value: Any, environ: Mapping[str, str], where: str, digest: Digest | None, *, dry_run: bool = False
) -> dict[str, Account]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{where}: accounts must define at least one account")
    return {str(name): _account(str(name), body, environ, where, digest, dry_run=dry_run) for name, body in value.items()}


def _account(
    name: str, body: Any, environ: Mapping[str, str], where: str, digest: Digest | None, *, dry_run: bool = False
) -> Account:
    key = f"accounts.{name}"
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(f"{where}: {key}: an account name may use letters, digits, - and _ only")
    body = _mapping(body, key, where)
    dry = body.get("dry_run", _default("accounts.*.dry_run"))
    if not isinstance(dry, bool):
        raise ConfigError(f"{where}: {key}.dry_run must be true or false, not {dry!r}")
    dry = dry or dry_run
    networks = _networks(body, {} if dry else environ, key, where, read_keys=not dry)  # a dry run reads no key, set or not
    for required in ("review_channel", "editors"):
        if required not in body:
            raise ConfigError(f"{where}: {key}.{required} is missing")
    channel = body["review_channel"]
    _no_whitespace(channel, f"{key}.review_channel", where, "a Slack ID")
    if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
        raise ConfigError(f"{where}: {key}.review_channel {channel!r} is not a Slack channel ID (C… or G…)")
    editors = _ids(body["editors"], f"{key}.editors", where, _EDITOR, "user or user group IDs (U…, W… or S…)")
    if not editors:
        raise ConfigError(f"{where}: {key}.editors is empty: name at least one editor")
    required = body.get("approvals_required", _default("accounts.*.approvals_required"))
    if isinstance(required, bool) or not isinstance(required, int) or required < 1:
        raise ConfigError(f"{where}: {key}.approvals_required must be a whole number of at least 1")
    has_groups = any(e.startswith("S") for e in editors)
    if not has_groups and required > len(set(editors)):
        raise ConfigError(f"{where}: {key}.approvals_required is {required} but only {len(set(editors))} editor(s) are listed")
    self_approval = body.get("allow_self_approval", _default("accounts.*.allow_self_approval"))
    if not isinstance(self_approval, bool):
        raise ConfigError(f"{where}: {key}.allow_self_approval must be true or false")
    owner = body.get("owner", _default("accounts.*.owner"))
    if owner is not None:
        _no_whitespace(owner, f"{key}.owner", where, "a Slack ID")
        if not isinstance(owner, str) or not _USER.fullmatch(owner):
            raise ConfigError(f"{where}: {key}.owner {owner!r} is not a Slack user ID (U… or W…)")
    cooling = _minutes(
        body.get("cooling_off_minutes", _default("accounts.*.cooling_off_minutes")), f"{key}.cooling_off_minutes", where
    )
    expire = body.get("expire_after_hours", _default("accounts.*.expire_after_hours"))
    expire = None if expire is None else _positive(expire, f"{key}.expire_after_hours", where)
    missed = body.get("on_missed_time", _default("accounts.*.on_missed_time"))
    if missed not in ("publish", "expire"):
        raise ConfigError(f"{where}: {key}.on_missed_time must be publish or expire, not {missed!r}")
    rules = parse_rules(body.get("rules", None), f"{key}.rules", where)
    voters = {*editors, *([owner] if owner else [])}
    _check_reachable(rules, voters, owner, f"{key}.rules", where)
    first = networks[0]
    return Account(
        name=name,
        network=first.name,
        handle=first.handle,
        networks=networks,
        review_channel=channel,
        editors=tuple(dict.fromkeys(editors)),
        approvals_required=required,
        allow_self_approval=self_approval,
        credentials=next((n.credentials for n in networks if isinstance(n.credentials, XCredentials)), XCredentials()),
        digest=_digest(body["digest"], where, key=f"{key}.digest", inherit=digest) if "digest" in body else None,
        owner=owner,
        cooling_off_minutes=cooling,
        expire_after_hours=expire,
        on_missed_time=missed,
        rules=rules,
        dry_run=dry,
    )


def _check_reachable(rules: tuple[Rule, ...], voters: set[str], owner: str | None, key: str, where: str) -> None:
    """A rule that asks for more approvers than the account can ever have would hold its drafts forever: refuse it now.

    With an editor group among the editors, who is in it is only known to Slack, so only what is certain is checked.
    """
    if any(v.startswith("S") for v in voters):
        return
    for rule in rules:
        needed = rule.then.approvals_required
        if needed is not None and needed > len(voters):
            raise ConfigError(
                f"{where}: {key} {rule.name!r}: then.approvals_required is {needed} but only {len(voters)} "
                "editor(s) (with the owner) can approve"
            )
        for user in rule.then.require:
            if not user.startswith("S") and user not in voters:
                raise ConfigError(
                    f"{where}: {key} {rule.name!r}: then.require has {user}, who is neither an editor of the account "
                    "nor its owner, so their approval would never count"
                )


def _minutes(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{where}: {key} must be a number of minutes (0 or more), not {value!r}")
    return float(value)


def _duplicate_days(value: Any, where: str) -> float:
    body = _mapping(value if value is not None else {}, "preflight", where)
    return _positive(body.get("duplicate_days", _default("preflight.duplicate_days")), "preflight.duplicate_days", where)


def _networks(
    body: dict[str, Any], environ: Mapping[str, str], key: str, where: str, *, read_keys: bool = True
) -> tuple[Network, ...]:
    """The networks block, or the one network of the single-network form (network, handle, credentials); `read_keys` False
    (a dry run): the credentials name their variables, which are neither required nor read."""
    if "networks" not in body:
        if "handle" not in body:
            raise ConfigError(f"{where}: {key}.handle is missing")
        name = body.get("network", _default("accounts.*.network"))
        _known_network(name, f"{key}.network", where)
        return (_network(str(name), body, environ, key, where, single=True, read_keys=read_keys),)
    single = [k for k in ("network", "handle", "credentials", "service", "instance") if k in body]
    if single:
        raise ConfigError(f"{where}: {key} lists networks, so {key}.{single[0]} belongs inside one of them")
    block = _mapping(body["networks"], f"{key}.networks", where)
    if not block:
        raise ConfigError(f"{where}: {key}.networks is empty: name at least one of {', '.join(NETWORKS)}")
    for name in block:
        _known_network(name, f"{key}.networks.{name}", where)
    return tuple(
        _network(
            name,
            _mapping(block[name], f"{key}.networks.{name}", where),
            environ,
            f"{key}.networks.{name}",
            where,
            read_keys=read_keys,
        )
        for name in NETWORKS
        if name in block
    )


def _known_network(name: Any, key: str, where: str) -> None:
    if name not in NETWORKS:
        raise ConfigError(f"{where}: {key}: {name!r} is not a network copydesk posts to ({', '.join(NETWORKS)})")


def _network(
    name: str,
    body: dict[str, Any],
    environ: Mapping[str, str],
    key: str,
    where: str,
    *,
    single: bool = False,
    read_keys: bool = True,
) -> Network:
    """One network's handle, base URL and credentials; a key of another network is named as such."""
    for other, keys in NETWORK_KEYS.items():
        for misplaced in keys:
            if other != name and misplaced in body:
                raise ConfigError(f"{where}: {key}.{misplaced} belongs to {other}, not {name}")
    if "handle" not in body:
        raise ConfigError(f"{where}: {key}.handle is missing")
    handle = _network_handle(name, body["handle"], f"{key}.handle", where)
    creds = body.get("credentials")
    names = dict(NETWORK_CREDENTIALS[name]) if creds is None else _mapping(creds, f"{key}.credentials", where)
    allowed = {*NETWORK_CREDENTIALS[name], *([OAUTH2_KEY] if name == "x" else [])}
    for wrong in sorted(set(names) - allowed):
        owners = [n for n, c in NETWORK_CREDENTIALS.items() if wrong in c or (n == "x" and wrong == OAUTH2_KEY)]
        belongs = f"belongs to {' or '.join(owners)}, not {name}" if owners else f"is not a {name} credential"
        raise ConfigError(f"{where}: {key}.credentials.{wrong} {belongs}")
    if name == "x":
        return Network(name, handle, _credentials(creds, environ, f"{key}.credentials", where, read_keys=read_keys))
    if name == "mastodon" and "instance" not in body:  # what the file lacks is said before what the environment lacks
        raise ConfigError(f"{where}: {key}.instance is missing: the Mastodon instance's base URL, e.g. https://mastodon.social")
    names = {**NETWORK_CREDENTIALS[name], **names}
    secrets = {k: _env_secret(environ, v, f"{key}.credentials.{k}", where, required=read_keys) for k, v in names.items()}
    if name == "bluesky":
        service = _base_url(body.get("service", BLUESKY_SERVICE), f"{key}.service", where)
        return Network(name, handle, BlueskyCredentials(**secrets), base_url=service)
    return Network(name, handle, MastodonCredentials(**secrets), base_url=_base_url(body["instance"], f"{key}.instance", where))


_BLUESKY_HANDLE = re.compile(r"^(?=.{3,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
_MASTODON_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,30}(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?$")


def _network_handle(network: str, value: Any, key: str, where: str) -> str:
    handle = value.lstrip("@") if isinstance(value, str) else ""
    if network == "bluesky":
        handle = handle.lower()
    pattern, example = {
        "x": (_HANDLE, "an X handle (letters, digits and _, at most 15)"),
        "bluesky": (_BLUESKY_HANDLE, "a Bluesky handle such as aplusk.bsky.social"),
        "mastodon": (_MASTODON_HANDLE, "a Mastodon handle such as aplusk@mastodon.social"),
    }[network]
    if not pattern.fullmatch(handle):
        raise ConfigError(f"{where}: {key} {value!r} is not {example}")
    return handle


def _base_url(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", value):
        raise ConfigError(f"{where}: {key} {value!r} is not a base URL such as https://mastodon.social")
    return value.rstrip("/")


def _credentials(value: Any, environ: Mapping[str, str], key: str, where: str, *, read_keys: bool = True) -> XCredentials:
    names = dict(DEFAULT_CREDENTIALS) if value is None else _mapping(value, key, where)
    if OAUTH2_KEY in names:
        if set(names) & set(OAUTH1_KEYS):
            raise ConfigError(f"{where}: {key}: give either {OAUTH2_KEY} or the four OAuth 1.0a keys, not both")
        return XCredentials(
            oauth2_access_token=_env_secret(environ, names[OAUTH2_KEY], f"{key}.{OAUTH2_KEY}", where, required=read_keys)
        )
    names = {**DEFAULT_CREDENTIALS, **names}
    return XCredentials(**{k: _env_secret(environ, names[k], f"{key}.{k}", where, required=read_keys) for k in OAUTH1_KEYS})


def _env_secret(environ: Mapping[str, str], name: Any, key: str, where: str, *, required: bool = True) -> Secret:
    """The variable's value; with `required` False (a dry run), only its name is checked and nothing is read."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigError(f"{where}: {key} must name an environment variable, e.g. X_CONSUMER_KEY")
    value = environ.get(name) if required else None
    if not value and (len(name) > 64 or not name.isupper()):  # likely a key pasted in place of its variable's name
        raise ConfigError(
            f"{where}: {key} names an environment variable that is not set; it must be the variable's name "
            "(e.g. X_CONSUMER_KEY), never the key itself"
        )
    if not required:
        return Secret(name, "")  # never revealed: a dry run's adapter sends nothing
    if not value:
        raise ConfigError(f"{where}: {key} names the environment variable {name}, which is not set")
    return Secret(name, value)


def _optional_secret(environ: Mapping[str, str], name: str) -> Secret | None:
    value = environ.get(name)
    return Secret(name, value) if value else None


def _default_account(value: Any, accounts: Mapping[str, Account], where: str) -> str | None:
    if value is None:
        return next(iter(accounts)) if len(accounts) == 1 else None
    if value not in accounts:
        raise ConfigError(f"{where}: default_account {value!r} is not one of the accounts ({', '.join(accounts)})")
    return str(value)


def _digest(value: Any, where: str, *, key: str = "digest", inherit: Digest | None = None) -> Digest | None:
    """The top-level digest, or an account's own, whose missing keys come from the top-level one."""
    if value is None and key == "digest":
        return None
    body = _mapping(value if value is not None else {}, key, where)
    channel = body.get("channel", inherit.channel if inherit else None)
    if channel is None:
        also = "" if key == "digest" else " (and there is no top-level digest.channel to use)"
        raise ConfigError(f"{where}: {key}.channel is missing{also}")
    _no_whitespace(channel, f"{key}.channel", where, "a Slack ID")
    if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
        raise ConfigError(f"{where}: {key}.channel {channel!r} is not a Slack channel ID (C… or G…)")
    at = str(body.get("at", inherit.at if inherit else _default("digest.at")))
    if not _CLOCK.fullmatch(at):
        raise ConfigError(f'{where}: {key}.at {at!r} is not a time of day like "18:00"')
    skip_empty = body.get("skip_empty", inherit.skip_empty if inherit else _default("digest.skip_empty"))
    if not isinstance(skip_empty, bool):
        raise ConfigError(f"{where}: {key}.skip_empty must be true or false")
    metrics = body.get("metrics", inherit.metrics if inherit else _default("digest.metrics"))
    if not isinstance(metrics, bool):
        raise ConfigError(f"{where}: {key}.metrics must be true or false, not {metrics!r}")
    wait = body.get(
        "metrics_timeout_seconds",
        inherit.metrics_timeout_seconds if inherit else _default("digest.metrics_timeout_seconds"),
    )
    if _positive(wait, f"{key}.metrics_timeout_seconds", where) > MAX_METRICS_WAIT:
        raise ConfigError(
            f"{where}: {key}.metrics_timeout_seconds must be at most {MAX_METRICS_WAIT} (the digest waits no longer), not {wait!r}"
        )
    inherited = inherit.weekly if inherit else None
    weekly = _weekly(body["weekly"], where, f"{key}.weekly", inherited) if "weekly" in body else inherited
    return Digest(
        channel=channel, at=at, skip_empty=skip_empty, metrics=metrics, metrics_timeout_seconds=float(wait), weekly=weekly
    )


MAX_METRICS_WAIT = 60  # seconds: a digest is never held up longer than this for its counts


def _weekly(value: Any, where: str, key: str, inherit: Weekly | None) -> Weekly | None:
    """digest.weekly: {day, at}; null sends none, and an account's keys left out come from the top-level one."""
    if value is None:
        return None
    body = _mapping(value, key, where)
    day = body.get("day", WEEKDAYS[inherit.weekday] if inherit else _default("digest.weekly.day"))
    if not isinstance(day, str) or day.strip().lower() not in WEEKDAYS:
        raise ConfigError(f"{where}: {key}.day {day!r} is not a day of the week (monday … sunday)")
    at = str(body.get("at", inherit.at if inherit else _default("digest.weekly.at")))
    if not _CLOCK.fullmatch(at):
        raise ConfigError(f'{where}: {key}.at {at!r} is not a time of day like "09:00"')
    return Weekly(weekday=WEEKDAYS.index(day.strip().lower()), at=at)


MIN_KEY_CHARS = 32  # a chain key shorter than this could be guessed
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def chain_key(path: Path, environ: Mapping[str, str]) -> Secret | None:
    """For `copydesk ledger verify`: only app.yaml's ledger.hmac_key_env is read, so verify works with any app.yaml."""
    if not path.exists():
        return None
    raw = _read_yaml(path)
    return ledger_key(raw.get("ledger"), environ, path.name)


def timezone_in(path: Path) -> ZoneInfo:
    """For `copydesk ledger history`: only app.yaml's timezone is read (ConfigError when it cannot be), never a secret."""
    return _timezone(_read_yaml(path).get("timezone", _default("timezone")), path.name)


def ledger_key(value: Any, environ: Mapping[str, str], where: str) -> Secret | None:
    """The chain's secret, from the variable ledger.hmac_key_env names; ConfigError when it is named but unusable."""
    name = _mapping(value if value is not None else {}, "ledger", where).get("hmac_key_env", _default("ledger.hmac_key_env"))
    if name is None:
        return None
    if not isinstance(name, str) or not _ENV_NAME.match(name):
        raise ConfigError(f"{where}: ledger.hmac_key_env must name an environment variable, not {name!r}")
    secret = environ.get(name, "")
    if len(secret) < MIN_KEY_CHARS:
        state = "is not set" if not secret else f"holds fewer than {MIN_KEY_CHARS} characters"
        raise ConfigError(
            f"{where}: ledger.hmac_key_env names {name}, which {state}; put a long random secret there "
            "(and keep it: without it the ledger cannot be written or verified)"
        )
    return Secret(name, secret)


def _synchronous(value: Any, where: str) -> str:
    """How hard SQLite works to have each commit on disk: normal or full, nothing SQLite would take less safely."""
    ledger = _mapping(value if value is not None else {}, "ledger", where)
    level = ledger.get("synchronous", _default("ledger.synchronous"))
    if not isinstance(level, str) or level.lower() not in SYNCHRONOUS:
        raise ConfigError(f"{where}: ledger.synchronous must be normal or full, not {level!r}")
    return level.lower()


def _slack_url(url: str) -> str:
    """slack_sdk joins method names onto the base URL, which therefore has to end in a slash."""
    return url if url.endswith("/") else url + "/"


def _positive(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where}: {key} must be a positive number, not {value!r}")
    return float(value)
