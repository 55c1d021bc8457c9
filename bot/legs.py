"""One approval, several networks: where each network's post is (a leg), and what that makes of the draft.

Each network goes out on its own: a failure on one never blocks, delays or repeats another. A run of the publishing job
tries every leg that is due; the draft's state follows from its legs once none is left to try now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from bot.networks import label, listed
from bot.review import State


class Stage(Enum):
    """Where one network's post of a draft is."""

    PENDING = "pending"  # to be sent in the next run
    OUT = "out"  # every part is on the network
    RETRYING = "retrying"  # the network asked to wait (a rate limit, a 5xx); tried again at retry_at
    FAILED = "failed"  # the network refused it, or it gave up retrying: a person may send it again
    HELD = "held"  # whether the network has it is unknown, or copydesk stopped it: a person settles it
    RETRACTED = "retracted"  # deleted from the network by a person (or never to be sent there): final


@dataclass(frozen=True)
class Leg:
    """One network's post of one draft: its stage, and why it is not out when it is not."""

    network: str
    stage: Stage
    retry_at: datetime | None = None
    error: str | None = None
    may_be_live: bool = False  # held after a request went out: the network may have it

    def due(self, now: datetime, tolerance: timedelta = timedelta(0)) -> bool:
        """Whether a run starting now sends it."""
        if self.stage is Stage.PENDING:
            return True
        return self.stage is Stage.RETRYING and (self.retry_at is None or self.retry_at - now <= tolerance)


def ordered(legs: Mapping[str, Leg], networks: Iterable[str]) -> list[Leg]:
    """The legs in the order the account lists its networks (a leg without a row yet is pending)."""
    return [legs.get(n) or Leg(n, Stage.PENDING) for n in networks]


def waiting(legs: Iterable[Leg]) -> list[Leg]:
    """The legs a later run still sends by itself."""
    return [leg for leg in legs if leg.stage in (Stage.PENDING, Stage.RETRYING)]


def next_try(legs: Iterable[Leg]) -> datetime | None:
    """When the next run is due: the soonest retry (None: at once, a leg is pending)."""
    times = [leg.retry_at for leg in waiting(legs)]
    return None if not times or None in times else min(t for t in times if t is not None)


def outcome(legs: Iterable[Leg]) -> State:
    """The draft's state once no leg is left to try now: out everywhere, or waiting, held or failed somewhere."""
    legs = list(legs)
    if waiting(legs):
        return State.APPROVED
    if all(leg.stage in (Stage.OUT, Stage.RETRACTED) for leg in legs):  # nothing left to send: out, or taken back
        return State.PUBLISHED if any(leg.stage is Stage.OUT for leg in legs) else State.RETRACTED
    if any(leg.stage is Stage.HELD for leg in legs):
        return State.HELD
    return State.FAILED


def where(legs: Iterable[Leg]) -> str:
    """Everywhere, partly or nowhere, in words: "out on X and Bluesky; not on Mastodon"."""
    legs = list(legs)
    out = [leg.network for leg in legs if leg.stage is Stage.OUT]
    back = [leg.network for leg in legs if leg.stage is Stage.RETRACTED]
    rest = [leg.network for leg in legs if leg.stage not in (Stage.OUT, Stage.RETRACTED)]
    if not rest and not back:
        return "out everywhere"
    if not out and not back:
        return "out nowhere yet"
    said = [f"out on {listed(out)}"] if out else []
    said += [f"not on {listed(rest)}"] if rest else []
    said += [f"taken back from {listed(back)}"] if back else []
    return "; ".join(said)


def sentence(words: str) -> str:
    """Words as a sentence of their own: "Out on X; not on Mastodon." """
    return words[:1].upper() + words[1:] + "."


def reasons(legs: Iterable[Leg]) -> str:
    """Why the legs that are not out are not, each named: "Mastodon: rate limited (…)"."""
    shown = (leg for leg in legs if leg.stage not in (Stage.OUT, Stage.RETRACTED) and leg.error)
    return "; ".join(f"{label(leg.network)}: {plain(leg.error or '')}" for leg in shown)


def plain(error: str) -> str:
    """A network's own words, with nothing a chat message could read as markup (a link, a mention, @channel)."""
    return error.replace("<", "‹").replace(">", "›")
