"""Named exceptions for what users and operators can get wrong; each message is fit to show them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum


class CopydeskError(Exception):
    """Base of every error whose message is meant for the person who caused it."""


class ConfigError(CopydeskError):
    """app.yaml or the environment cannot make a working configuration."""


class LedgerError(CopydeskError):
    """The ledger database cannot be opened or is not a copydesk ledger."""


class LedgerInUse(LedgerError):
    """Another copydesk is running on this ledger: a second writer would schedule and tell Slack everything twice."""


class LedgerUnwritable(LedgerError):
    """The ledger refused a change (disk full, a read-only file): nothing of that change was stored."""


class BadDraft(CopydeskError):
    """A /draft command that cannot become a draft (empty, too long, bad option)."""


class RuleBlocks(BadDraft):
    """One of the account's editorial rules refuses the draft (its `block`); nothing is stored."""


class BadTime(BadDraft):
    """An at: time that cannot be read, does not exist or has passed."""


class UnknownAccount(BadDraft):
    """A to: account that app.yaml does not define."""


class BadImage(BadDraft):
    """An image X would not take (type, size, how many), or one that could not be fetched from Slack."""


class BadAltText(BadImage):
    """An image without words for what it shows, or with alt text X would refuse."""


class BadLink(CopydeskError):
    """A link to a post on X that is not one: another host, another account's post, or no post at all."""


class SlackMention(BadDraft):
    """A /draft text naming a Slack user, channel or group (@here too): X knows none of them, so it would mean nothing there."""


class DisguisedLink(BadDraft):
    """A /draft link whose words name another address than it leads to: X would show the address, not the words."""


class Unchanged(CopydeskError):
    """An edit with the text and time the draft already has: nothing changes, its votes stand."""


class UnknownDraft(CopydeskError):
    """A draft number that the ledger does not hold."""


class NotAllowed(CopydeskError):
    """Someone asked for something their role does not permit."""


class SlackUnavailable(CopydeskError):
    """Slack could not tell us something we need to decide (such as who is in an editor group)."""


class CardNotPosted(CopydeskError):
    """The draft is saved but Slack would not take its review card."""


class DigestNotPosted(CopydeskError):
    """Slack refused the digest (not in the channel, no such channel): it certainly was not posted."""


class WrongState(CopydeskError):
    """The draft is not in a state where that can be done (editing a published post, retrying a scheduled one)."""


class Paused(CopydeskError):
    """Publishing is paused, and what was asked would publish."""


class Delivery(Enum):
    """What a failed call to X tells us about whether the post exists."""

    NOT_SENT = "not_sent"  # refused connection, 5xx, 429: certainly not posted, safe to try again
    REFUSED = "refused"  # X answered no (400, 401, 403): trying again will not help
    UNKNOWN = "unknown"  # sent, but the answer never came: it may be live


class PublishError(Exception):
    """X refused or could not be reached; `delivery` says whether the post may exist, `retry_at` when X allows another try."""

    def __init__(self, reason: str, *, delivery: Delivery, retry_at: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delivery = delivery
        self.retry_at = retry_at


class AlreadySubmitted(CopydeskError):
    """The same form arrived twice (Slack retries a slow submission; people press twice): it made one draft."""


class SlackFailed(Exception):
    """Slack did not take a message: `permanent` when trying again cannot help, `retry_after` when Slack named a wait."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None, code: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.code = code  # Slack's error code, when it gave one
