"""The editorial desk: small services composed by constructor, each taking exactly what it uses.

`Desk` is only their composition; handlers and jobs call the service that owns what they ask for
(`desk.voting.react`, `desk.publishing.publish`, ...). Every state change goes through `Core.deciding`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Config
from bot.desk.control import Control, Resumed
from bot.desk.core import EARLY_TOLERANCE, Clock, Core, utc_now
from bot.desk.digests import Digests, Sending
from bot.desk.drafting import Drafting
from bot.desk.expiry import Expiry
from bot.desk.media import Media
from bot.desk.publishing import Publishing
from bot.desk.reading import Reading
from bot.desk.recovery import Recovering, Recovery
from bot.desk.reminders import Reminders
from bot.desk.settling import Settling
from bot.desk.voting import Voting
from bot.desk.weekly import Weekly
from bot.messenger import Postings
from bot.ports import Directory, Notifier, Publishers, Schedule
from bot.progress import Progress

if TYPE_CHECKING:
    from storage.ledger import Ledger

__all__ = ["Clock", "Desk", "EARLY_TOLERANCE", "Recovery", "Resumed", "utc_now"]


@dataclass(frozen=True)
class Desk:
    """The domain every Slack handler and scheduler job calls into: one attribute per service."""

    core: Core
    reading: Reading
    drafting: Drafting
    voting: Voting
    media: Media
    publishing: Publishing
    settling: Settling
    control: Control
    reminders: Reminders
    digests: Digests
    weekly: Weekly  # the weekly report, claimed like the daily digest
    recovery: Recovering
    expiry: Expiry
    postings: Postings  # cards on their way to Slack: a reaction on an unknown message waits for them
    progress: Progress  # told after each outbox delivery: an answer waiting for a card waits on it

    @classmethod
    def build(
        cls,
        config: Config,
        ledger: Ledger,
        *,
        publishers: Publishers,
        notifier: Notifier,
        directory: Directory,
        scheduler: Schedule | None = None,
        clock: Clock = utc_now,
        postings: Postings | None = None,
        progress: Progress | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> Desk:
        """Every service around one Core (`jitter`: 0 to 1, spreads the retries of posts that failed together)."""
        core = Core(config, ledger, directory=directory, scheduler=scheduler, clock=clock)
        return cls.around(core, publishers=publishers, notifier=notifier, postings=postings, progress=progress, jitter=jitter)

    @classmethod
    def around(
        cls,
        core: Core,
        *,
        publishers: Publishers,
        notifier: Notifier,
        postings: Postings | None = None,
        progress: Progress | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> Desk:
        """The services composed around a given Core (a benchmark's quieter one, say)."""
        postings, progress = postings or Postings(), progress or Progress()
        core.counters = {account: {n: p.count for n, p in on.items()} for account, on in publishers.items()}
        reading = Reading(core, notifier=notifier, publishers=publishers)
        voting = Voting(core, postings=postings)
        publishing = Publishing(core, publishers=publishers, notifier=notifier, jitter=jitter)
        reminders = Reminders(core)
        expiry = Expiry(core)
        core.planners.append(expiry.plan)  # core.plan: after a new draft, a new version or a change of state
        sending = Sending(core, notifier=notifier)  # the daily digest and the weekly report, claimed one at a time
        return cls(
            core=core,
            reading=reading,
            drafting=Drafting(core, reading=reading, notifier=notifier, progress=progress),
            voting=voting,
            media=Media(core),
            publishing=publishing,
            settling=Settling(core, publishers=publishers),
            control=Control(core),
            reminders=reminders,
            digests=Digests(core, notifier=notifier, sending=sending, publishers=publishers),
            weekly=Weekly(core, notifier=notifier, sending=sending),
            recovery=Recovering(core, voting=voting, publishing=publishing, reminders=reminders, expiry=expiry),
            expiry=expiry,
            postings=postings,
            progress=progress,
        )
