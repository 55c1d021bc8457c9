"""What an operator graphs: copydesk's own Prometheus registry, its counters, and what is read from the ledger at a scrape."""

from __future__ import annotations

import socket
import threading
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.ports import ApiErrorSeen, by_status
from bot.review import State
from bot.runtime.scheduling import DIGEST, EXPIRE, PUBLISH, REMIND, WEEKLY, PublishScheduler
from storage import Ledger
from storage.scrape import Fresh, ScrapeReader

ACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)  # Slack gives up waiting for an acknowledgement at 3 s
LATENESS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0)
JOB_KINDS = (PUBLISH, REMIND, EXPIRE, DIGEST, WEEKLY)


class Metrics:
    """One registry per running copydesk (never prometheus_client's global one), so tests and apps in one process differ."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._readers: list[ScrapeReader] = []
        self._api_errors = Counter(
            "copydesk_api_errors",
            "Errors answered by (or on the way to) the APIs copydesk calls, each failed request once, by service "
            "(x, bluesky, mastodon, slack) and kind (rate_limited, server_error, refused, timeout, connection, bad_answer).",
            ["service", "kind"],
            registry=self.registry,
        )
        self._ack = Histogram(
            "copydesk_ack_seconds",
            "Seconds from a Slack request arriving to copydesk's acknowledgement of it (Slack waits 3 s).",
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )

    def watch(self, ledger: Ledger, scheduler: PublishScheduler, accounts: Iterable[str]) -> None:
        """Read drafts, votes, publications, lateness and the outbox from the ledger, and the jobs from the scheduler,
        at each scrape, through a read-only connection of the ledger's file (never the bot's own: a scrape makes no vote
        wait), counting only what is new since the previous scrape."""
        reader = ledger.scrape_reader()
        self._readers.append(reader)
        self.registry.register(_Reading(reader, scheduler, tuple(accounts)))

    def stop(self) -> None:
        """Close what the scrapes read the ledger through (before the ledger closes)."""
        for reader in self._readers:
            reader.close()
        self._readers.clear()

    def api_error(self, service: str, kind: str) -> None:
        """One failed request to `service`'s API."""
        self._api_errors.labels(service=service, kind=kind).inc()

    def counter_of(self, service: str) -> ApiErrorSeen:
        """The ApiErrorSeen (bot/ports.py) an adapter of `service` reports its errors to."""
        return lambda kind: self.api_error(service, kind)

    def acknowledged(self, seconds: float) -> None:
        """A Slack request was answered `seconds` after it arrived."""
        self._ack.observe(seconds)

    def slack_errors(self) -> SlackErrors:
        """A retry handler for WebClients (put first) that counts Slack's errors and retries nothing itself."""
        return SlackErrors(self)

    def page(self) -> tuple[bytes, str]:
        """The Prometheus text format of everything, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class SlackErrors(RetryHandler):
    """slack_sdk asks each retry handler about every answer and failure, in order: this one counts, never retries."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=0)
        self._metrics = metrics

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if kind := _slack_kind(response, error):
            self._metrics.api_error("slack", kind)
        return False

    def _can_retry(self, **_: Any) -> bool:
        return False


def _slack_kind(response: HttpResponse | None, error: Exception | None) -> str | None:
    """An HTTP error by its status, `ok: false` as refused, no answer as timeout or connection; None for a success."""
    if response is not None:
        if response.status_code >= 400:
            return by_status(response.status_code)
        return "refused" if isinstance(response.body, dict) and response.body.get("ok") is False else None
    if error is None:
        return None
    reason = error.reason if isinstance(error, URLError) else error
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timeout"
    return "connection" if isinstance(reason, (OSError, RemoteDisconnected)) else "bad_answer"


class _Reading:
    """A collector: the ledger's counts and the scheduler's jobs as they are at the moment of the scrape.

    The counters (votes, publications, lateness) are running totals: each scrape adds what the reader found new since
    the one before, so a scrape costs what happened since, not the whole history.
    """

    def __init__(self, reader: ScrapeReader, scheduler: PublishScheduler, accounts: tuple[str, ...]) -> None:
        self._reader = reader
        self._scheduler = scheduler
        self._accounts = accounts
        self._lock = threading.Lock()  # two scrapes at once: each reads and adds, then copies the totals, alone
        self._votes: Tally[tuple[str, ...]] = Tally()
        self._publications: Tally[tuple[str, ...]] = Tally()
        self._late = [0] * (len(LATENESS_BUCKETS) + 1)  # observations at or under each bucket's bound, then all of them
        self._late_sum = 0.0

    def _totals(self) -> tuple[Fresh, dict[tuple[str, ...], int], dict[tuple[str, ...], int], list[int], float]:
        with self._lock:
            fresh = self._reader.read(LATENESS_BUCKETS)
            self._votes.update(fresh.votes)
            self._publications.update(fresh.publications)
            self._late = [n + new for n, new in zip(self._late, fresh.late, strict=True)]
            self._late_sum += fresh.late_sum
            return fresh, dict(self._votes), dict(self._publications), list(self._late), self._late_sum

    def collect(self) -> Iterator[Metric]:
        fresh, votes, publications, late, late_sum = self._totals()
        drafts = GaugeMetricFamily(
            "copydesk_drafts", "Drafts in the ledger by account and state, now.", labels=["account", "state"]
        )
        every = {(a, s.value): 0 for a in self._accounts for s in State} | fresh.drafts
        for (account, state), n in sorted(every.items()):
            drafts.add_metric([account, state], n)
        yield drafts
        yield _counter(
            "copydesk_votes",
            "Votes cast on drafts by account and vote (approve, reject), from the event log: a withdrawn vote stays counted.",
            ["account", "vote"],
            votes,
        )
        yield _counter(
            "copydesk_publications",
            "Finished publications (each part of a thread on each network) by account, network and outcome "
            "(published, failed, dry_run).",
            ["account", "network", "outcome"],
            publications,
        )
        yield _lateness(late, late_sum)
        outbox = GaugeMetricFamily("copydesk_outbox_pending", "Messages in the ledger's outbox that Slack has not had yet.")
        outbox.add_metric([], fresh.outbox)
        yield outbox
        jobs = GaugeMetricFamily(
            "copydesk_scheduled_jobs",
            "What the scheduler waits to do, by kind (publish, remind, expire, digest, weekly), within its horizon or beyond.",
            labels=["kind"],
        )
        for kind in JOB_KINDS:
            jobs.add_metric([kind], self._scheduler.count(kind))
        yield jobs


def _counter(name: str, documentation: str, labels: list[str], values: dict[tuple[str, ...], int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key, n in sorted(values.items()):
        family.add_metric(list(key), n)
    return family


def _lateness(late: list[int], late_sum: float) -> HistogramMetricFamily:
    """Every post the ledger has seen go out, each observed once, however often it is scraped."""
    buckets = [(str(le), n) for le, n in zip(LATENESS_BUCKETS, late, strict=False)] + [("+Inf", late[-1])]
    family = HistogramMetricFamily(
        "copydesk_publish_lateness_seconds",
        "Seconds from when a post was due (its time, the end of its cooling-off or its approval, whichever was last) "
        "to when its network had it; one observation per post and network.",
    )
    family.add_metric([], buckets, sum_value=late_sum)
    return family
