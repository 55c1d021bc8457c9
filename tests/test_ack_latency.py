"""copydesk_ack_seconds runs from a request's arrival, as Slack's 3 s does: its wait for a free thread counts."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.runtime.server import ENVELOPE_ID, AnsweringSocketModeHandler, http_server, wsgi_app
from tests.fakes.slack_api import APP_TOKEN
from tests.fakes.socket_mode import FakeSocketMode, slash_command
from tests.support.harness import AUTHOR, Copydesk, eventually, signed_headers
from tests.test_socket_mode import next_ack

LOOP = "waitress-loop"  # the thread that reads requests off the sockets


class SteppedClock:
    """Monotonic seconds that move only when the test says; notes each reading the loop thread makes."""

    def __init__(self) -> None:
        self.now = 0.0
        self.read_by_loop = 0
        self._read = threading.Condition()

    def __call__(self) -> float:
        with self._read:
            if threading.current_thread().name == LOOP:
                self.read_by_loop += 1
                self._read.notify_all()
            return self.now

    def wait_for_loop_readings(self, count: int, timeout: float = 10) -> bool:
        with self._read:
            return self._read.wait_for(lambda: self.read_by_loop >= count, timeout)


def test_a_slack_request_queued_behind_a_busy_thread_counts_its_wait(bot: Copydesk) -> None:
    clock = SteppedClock()

    def health() -> dict[str, Any]:
        # The only thread is busy here until the /draft behind it has arrived (its arrival read the clock); then
        # 4 seconds pass before the thread is free for it.
        assert clock.wait_for_loop_readings(2), "the /draft never arrived"
        clock.now += 4.0
        return {}

    application = wsgi_app(bot.app, health, metrics=bot.services.metrics, clock=clock)
    with serving(http_server(application, host="127.0.0.1", port=0, threads=1, clock=clock)) as port:
        busy = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        busy.request("GET", "/healthz")
        body = (
            f"command=%2Fdraft&text=Behind+a+busy+thread&user_id={AUTHOR}&channel_id=C0GEN&team_id=T0TEAM001"
            f"&response_url={bot.slack.response_url()}&trigger_id=1.2.3"
        )
        headers = {k: v[0] for k, v in signed_headers(body, "application/x-www-form-urlencoded").items()}
        queued = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        queued.request("POST", "/slack/events", body=body, headers=headers)
        assert busy.getresponse().status == 200
        assert queued.getresponse().status == 200
        busy.close()
        queued.close()

    assert ack_seconds(bot) == {"count": 1.0, "sum": 4.0, "le_3": 0.0, "le_5": 1.0}  # over Slack's 3 s: it gave up


class ArrivalClock:
    """Seconds that read 0 on the thread that reads first (the socket's, as the envelope comes in) and 4 on any other:
    4 seconds pass between an envelope's arrival and any thread's work on it."""

    def __init__(self) -> None:
        self._first: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self._first = self._first or threading.current_thread()
            return 0.0 if threading.current_thread() is self._first else 4.0


def test_an_envelope_counts_its_wait_from_the_moment_it_came_off_the_socket(bot: Copydesk, socket_mode: FakeSocketMode) -> None:
    listeners, metrics = bot.services.listeners, bot.services.metrics
    handler = AnsweringSocketModeHandler(bot.app, APP_TOKEN, listeners.answering, metrics, clock=ArrivalClock())
    handler.connect()
    try:
        socket_mode.outbox.put(slash_command("env-cmd-1", AUTHOR, "Behind a busy pool", bot.slack.response_url()))
        assert next_ack(socket_mode, "env-cmd-1") == {"envelope_id": "env-cmd-1"}
        eventually(lambda: ack_seconds(bot)["count"] == 1, what="the acknowledgement timed")
    finally:
        handler.close()

    assert ack_seconds(bot) == {"count": 1.0, "sum": 4.0, "le_3": 0.0, "le_5": 1.0}


def test_an_envelope_is_known_by_its_own_id_not_one_typed_in_a_draft() -> None:
    typed = slash_command("env-real", AUTHOR, 'say "envelope_id": "env-typed"', "https://hooks.slack.test/x")
    payload_first = {"payload": typed["payload"], "envelope_id": "env-real", "type": "slash_commands"}
    for envelope in (typed, payload_first):
        [found] = ENVELOPE_ID.findall(json.dumps(envelope))
        assert found == "env-real"


@contextmanager
def serving(server: Any) -> Iterator[int]:
    thread = threading.Thread(target=server.run, name=LOOP, daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        server.close()
        thread.join(10)


def ack_seconds(bot: Copydesk) -> dict[str, float]:
    page, _ = bot.services.metrics.page()
    [family] = [f for f in text_string_to_metric_families(page.decode()) if f.name == "copydesk_ack_seconds"]
    found = {s.name.removeprefix("copydesk_ack_seconds_"): s for s in family.samples}
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    return {"count": found["count"].value, "sum": found["sum"].value, "le_3": buckets["3.0"], "le_5": buckets["5.0"]}


def test_the_socket_mode_client_is_set_as_bolts_own_handler_sets_it(bot: Copydesk) -> None:
    ours = AnsweringSocketModeHandler(bot.app, APP_TOKEN, bot.services.listeners.answering, bot.services.metrics).client
    bolts = SocketModeHandler(bot.app, APP_TOKEN).client
    try:
        for option in ("ping_interval", "auto_reconnect_enabled", "receive_buffer_size", "proxy", "web_client", "logger"):
            assert getattr(ours, option) == getattr(bolts, option), option
        assert ours.message_workers._max_workers == bolts.message_workers._max_workers  # its concurrency
    finally:
        ours.close()
        bolts.close()
