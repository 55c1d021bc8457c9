"""Wiring only: a config in, a Bolt app with its desk, ledger and scheduler out."""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

import handlers
from bot.bluesky import BlueskyPublisher
from bot.config import BLUESKY_SERVICE, Account, BlueskyCredentials, Config, MastodonCredentials
from bot.courier import Courier
from bot.desk import Clock, Desk, utc_now
from bot.dryrun import DryRunPublisher
from bot.errors import CopydeskError, LedgerUnwritable, PublishError, SlackUnavailable
from bot.mastodon import MastodonPublisher
from bot.messenger import Messenger, Postings
from bot.ports import Publisher, unheard
from bot.progress import Progress
from bot.runtime.listeners import Gate, ListenerPool
from bot.runtime.metrics import Metrics, SlackErrors
from bot.runtime.scheduling import REMIND, PublishScheduler
from bot.x import XPublisher
from handlers.errors import error_text
from handlers.notifier import SlackDirectory, SlackNotifier
from storage import Ledger

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The long-lived parts of a running copydesk, started and stopped together."""

    config: Config
    ledger: Ledger
    desk: Desk
    scheduler: PublishScheduler
    client: WebClient
    listeners: ListenerPool  # Bolt's listeners and the work after each acknowledgement; drained before the ledger closes
    courier: Courier  # delivers the ledger's outbox to Slack
    metrics: Metrics = field(default_factory=Metrics)  # what /metrics serves
    _catching_up: threading.Thread | None = field(default=None, init=False)
    stopping: threading.Event = field(default_factory=threading.Event, init=False)  # set by stop(): no new report

    def start(self, *, catch_up_aside: bool = False) -> None:
        """Rebuild the schedule from the ledger, then let it fire; the courier takes up what Slack has not heard yet.
        `catch_up_aside`: the reports missed while down go out on a thread of their own (`copydesk run`), so reading
        their counts never holds up the first acknowledgement; else before this returns."""
        recovery = self.desk.recovery.recover()
        log.info(
            "ledger recovered: %d scheduled, %d interrupted, %d cards queued again",
            recovery.scheduled,
            recovery.interrupted,
            recovery.cards_queued,
        )
        if dry := [a.name for a in self.config.accounts.values() if a.dry_run]:
            log.warning("dry run: nothing is sent to the networks of %s (every message says DRY RUN)", ", ".join(dry))
        self.courier.start()
        self.desk.reading.warm_up()  # editor groups asked now, so no vote waits for Slack to list them
        self.scheduler.start()
        if catch_up_aside:
            self._catching_up = threading.Thread(target=self._catch_up_logged, name="copydesk-catch-up", daemon=True)
            self._catching_up.start()
        else:
            self._catch_up()

    def _catch_up(self) -> None:
        """A digest or weekly report missed while down goes out now, once; then each is scheduled."""
        caught_up = self.desk.digests.start_digests(self.stopping.is_set)
        log.info("digests: %d scheduled, %d caught up", len(self.desk.digests.digest_scopes()), caught_up)
        caught_up = self.desk.weekly.start_weekly(self.stopping.is_set)
        log.info("weekly reports: %d scheduled, %d caught up", len(self.desk.weekly.weekly_scopes()), caught_up)

    def _catch_up_logged(self) -> None:
        try:
            self._catch_up()
        except Exception:  # each report's own failures are retried by it; this is the ledger failing under it
            log.exception("the daily digests and weekly reports could not be planned; they are at the next start")

    def stop(self) -> None:
        """Let listeners and posts already on their way finish, then the deliveries under way, then close the ledger."""
        self.stopping.set()  # a catch-up under way finishes the report it is sending, and begins no other
        self.listeners.shutdown(wait=True)
        self.scheduler.shutdown(wait=True)  # nothing more fires, a catch-up under way included
        if self._catching_up is not None:
            self._catching_up.join()  # its reads and posts have deadlines of their own
        self.courier.stop()
        self.metrics.stop()
        self.ledger.close()

    def health(self) -> dict[str, Any]:
        """What /healthz says: the schedule, and what Slack has not heard yet."""
        return {
            "scheduled": self.scheduler.count(),
            "reminders": self.scheduler.count(REMIND),
            "schema": self.ledger.schema_version(),
            "outbox": self.ledger.outbox_health(self.desk.core.clock()),
        }


def slack_client(config: Config, metrics: Metrics | None = None) -> WebClient:
    """The one WebClient, pointed at SLACK_API_URL, retrying what is safe to retry (each error counted first)."""
    return WebClient(
        token=config.slack_bot_token.reveal(),
        base_url=config.slack_api_url,
        timeout=10,
        retry_handlers=[
            *([metrics.slack_errors()] if metrics else []),
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def quick_client(client: WebClient) -> WebClient:
    """For what must be known before an acknowledgement (who is in an editor group): a short timeout, no retries,
    no sleeping out a rate limit, so Slack's 3 seconds always hold."""
    # slack_sdk annotates timeout as int, and hands it to urllib, which takes seconds as a float
    return WebClient(token=client.token, base_url=client.base_url, timeout=1.5, retry_handlers=_counting(client))  # type: ignore[arg-type]


def outbox_client(client: WebClient) -> WebClient:
    """The same Slack, retrying nothing: a post may have landed despite a 5xx, so the courier looks first, then retries."""
    return WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout, retry_handlers=_counting(client))


def _counting(client: WebClient) -> list[RetryHandler]:
    """Of a client's retry handlers, the one counting errors for /metrics (it never retries)."""
    return [handler for handler in client.retry_handlers if isinstance(handler, SlackErrors)]


def publishers_of(account: Account, config: Config, metrics: Metrics | None = None) -> dict[str, Publisher]:
    """One adapter per network the account is on, kept for the process's life (Bluesky logs in once; Mastodon's length
    rule is read from its instance now, or Mastodon's own 500 is used, said in the log)."""
    made: dict[str, Publisher] = {}
    counted = metrics.counter_of if metrics else lambda _service: unheard
    for network in account.outlets:
        if account.dry_run:  # nothing leaves the process, and no key is read
            made[network.name] = DryRunPublisher(network.name, network.handle)
        elif network.name == "x":
            made["x"] = XPublisher(account, base_url=config.x_api_url, timeout=config.x_timeout_seconds, errors=counted("x"))
        elif isinstance(network.credentials, BlueskyCredentials):
            made["bluesky"] = BlueskyPublisher(
                network.handle,
                network.credentials.app_password,
                service=network.base_url or BLUESKY_SERVICE,
                timeout=config.x_timeout_seconds,
                errors=counted("bluesky"),
            )
        elif isinstance(network.credentials, MastodonCredentials):
            mastodon = MastodonPublisher(
                network.handle,
                network.base_url or "",
                network.credentials.access_token,
                timeout=config.x_timeout_seconds,
                errors=counted("mastodon"),
            )
            try:
                mastodon.learn_limits()
            except PublishError as e:
                log.warning("%s: the length rule of %s could not be read (%s); 500 is used", account.name, network.base_url, e)
            made["mastodon"] = mastodon
    return made


def build_services(
    config: Config, *, client: WebClient | None = None, clock: Clock = utc_now, jitter: Callable[[], float] = random.random
) -> Services:
    """Open the ledger and build the desk with its Slack, X and scheduler collaborators (`jitter`: 0 to 1, spreads retries)."""
    metrics = Metrics()
    client = client or slack_client(config, metrics)
    key = config.ledger_key.reveal().encode() if config.ledger_key else None
    ledger = Ledger.open(config.db_path, synchronous=config.ledger_synchronous, key=key)
    notifier = SlackNotifier(
        client, approve=config.approve_reactions[0], reject=config.reject_reactions[0], poster=outbox_client(client)
    )
    postings, progress = Postings(), Progress()
    listeners = ListenerPool(max_workers=10)
    publishing = Gate()  # held around each post on its way to X: Slack's news waits meanwhile, so posts due together go together
    scheduler = PublishScheduler(publishing=publishing.held)  # first: the desk is built around it, and registers its jobs
    desk = Desk.build(
        config,
        ledger,
        publishers={name: publishers_of(account, config, metrics) for name, account in config.accounts.items()},
        notifier=notifier,
        directory=SlackDirectory(quick_client(client), refresh=listeners.later),
        scheduler=scheduler,
        clock=clock,
        postings=postings,
        progress=progress,
        jitter=jitter,
    )
    metrics.watch(ledger, scheduler, config.accounts)
    scheduler.register(
        publish=desk.publishing.publish,
        remind=desk.reminders.remind,
        digest=desk.digests.run_digest,
        expire=desk.expiry.expire,
        weekly=desk.weekly.run_weekly,
    )
    messenger = Messenger(
        ledger,
        notifier,
        view=desk.reading.view,
        card_view=desk.reading.card,
        clock=clock,
        postings=postings,
        card_posted=desk.reminders.schedule_reminder,
        reaction=desk.voting.settle_reaction,
        attach=desk.media.settle_attachment,
    )
    courier = Courier(
        ledger, messenger.deliver, clock=clock, room=(listeners.wait_for_room, publishing.wait_for_room), progress=progress
    )
    return Services(
        config=config,
        ledger=ledger,
        desk=desk,
        scheduler=scheduler,
        client=client,
        listeners=listeners,
        courier=courier,
        metrics=metrics,
    )


def create_app(services: Services) -> App:
    """A Bolt app with every listener bound to the desk and one error handler for all of them.

    Listeners run before the HTTP response: a vote is in the ledger before Slack hears 200 (so a crash
    makes Slack redeliver it), and nothing polls for ack(). Slow work is handed to `listeners.later`, which
    starts it once the requests being answered leave room (never Bolt's lazy listeners: they deep-copy each request).
    """
    secret = services.config.slack_signing_secret
    app = App(
        client=services.client,
        signing_secret=secret.reveal() if secret else None,
        request_verification_enabled=secret is not None,
        process_before_response=True,  # always: a vote is in the ledger before Slack hears 200
        listener_executor=services.listeners,
    )
    handlers.register(app, services.desk, services.listeners.later)
    app.error(handle_error)
    return app


def handle_error(
    error: Exception, body: dict[str, Any], request: BoltRequest, response: BoltResponse | None, respond: Any, client: WebClient
) -> BoltResponse | None:
    """Answer the person privately: the error's own words for their mistakes, a reference for ours."""
    transient = isinstance(error, (SlackUnavailable, LedgerUnwritable)) or not isinstance(error, CopydeskError)
    if body.get("type") == "event_callback" and transient and response is not None:
        # Nothing was stored (the event is marked seen in the vote's own transaction): a 500 makes
        # Slack deliver it again, when it may succeed.
        log.warning(
            "event %s not handled (%s); Slack will redeliver it",
            body.get("event_id"),
            type(error).__name__,
            exc_info=not isinstance(error, CopydeskError),
        )
        return BoltResponse(status=500, body="")
    text = error_text(error)
    acknowledged = request.context.ack.response is not None
    if "command" in body and not acknowledged and response is not None:
        # Not yet acknowledged: the answer travels in the HTTP response itself, shown only to them.
        return BoltResponse(
            status=200,
            body=json.dumps({"response_type": "ephemeral", "text": text}),
            headers={"content-type": "application/json;charset=utf-8"},
        )
    _tell_privately(text, body, respond, client)
    return BoltResponse(status=200, body="") if response is not None else None


def _tell_privately(text: str, body: dict[str, Any], respond: Any, client: WebClient) -> None:
    if body.get("response_url"):
        respond(text=text, response_type="ephemeral", replace_original=False)
        return
    event = body.get("event") or {}
    channel = (event.get("item") or {}).get("channel") or event.get("channel")
    if channel and event.get("user"):
        client.chat_postEphemeral(channel=channel, user=event["user"], text=text)
