"""Named exceptions for what users and operators can get wrong; each message is fit to show them."""


class CopydeskError(Exception):
    """Base of every error whose message is meant for the person who caused it."""


class ConfigError(CopydeskError):
    """app.yaml or the environment cannot make a working configuration."""


class LedgerError(CopydeskError):
    """The ledger database cannot be opened or is not a copydesk ledger."""


class BadDraft(CopydeskError):
    """A /draft command that cannot become a draft (empty, too long, bad option)."""


class BadTime(BadDraft):
    """An at: time that cannot be read, does not exist or has passed."""


class UnknownAccount(BadDraft):
    """A to: account that app.yaml does not define."""


class UnknownDraft(CopydeskError):
    """A draft number that the ledger does not hold."""


class NotAllowed(CopydeskError):
    """Someone asked for something their role does not permit."""


class SlackUnavailable(CopydeskError):
    """Slack could not tell us something we need to decide (such as who is in an editor group)."""


class CardNotPosted(CopydeskError):
    """The draft is saved but Slack would not take its review card."""


class PublishError(Exception):
    """X refused or could not be reached; `permanent` says whether trying again could help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
