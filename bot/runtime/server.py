"""Serving the app: waitress in HTTP mode (with /healthz and /metrics), or a Socket Mode connection (and, when asked,
/metrics and /healthz on a port of their own)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import waitress
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.builtin.client import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer
from waitress.task import WSGITask

from bot.errors import ConfigError
from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything larger is refused unread
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"

Answering = Callable[[], AbstractContextManager[Any]]  # ListenerPool.answering: held while a Slack request is answered
Clock = Callable[[], float]  # monotonic seconds: what acknowledgement latency is timed with
ARRIVED = "copydesk.arrived"  # the environ key waitress's request arrival is handed to the app under


def wsgi_app(
    app: App,
    health: Callable[[], dict[str, Any]],
    answering: Answering = nullcontext,
    *,
    signing_secret: str | None = None,
    metrics: Metrics | None = None,
    clock: Clock = time.monotonic,
) -> Callable[..., Iterable[bytes]]:
    """Slack's requests on POST /slack/events, a JSON status on GET /healthz, Prometheus's on GET /metrics, 404 elsewhere.

    A body over MAX_BODY is refused with 413 before it is read, and (with `signing_secret`) the signature is checked on
    the raw bytes before anything parses them. Each Slack request is answered inside `answering()`, so work after
    earlier acknowledgements waits for it. The acknowledgement latency in `metrics` runs from the request's arrival (as
    `http_server` stamps it: its wait for a free thread counts, as it does for Slack) to its answer.
    """
    slack = SlackRequestHandler(app, path=SLACK_PATH)
    verifier = SignatureVerifier(signing_secret) if signing_secret else None
    status_pages = operator_app(health, metrics)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        arrived = environ.get(ARRIVED)
        arrived = clock() if arrived is None else arrived  # another WSGI server stamps nothing: from here, then
        if environ.get("PATH_INFO") in (HEALTH_PATH, METRICS_PATH) and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return status_pages(environ, start_response)
        if environ.get("PATH_INFO") == SLACK_PATH and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length > MAX_BODY:
                return _json(start_response, "413 Payload Too Large", {"error": f"Slack's requests are under {MAX_BODY} bytes"})
            raw = environ["wsgi.input"].read(length) if length else b""
            if verifier is not None and not _signed(verifier, raw, environ):
                return _json(start_response, "401 Unauthorized", {"error": "invalid request"})
            environ["wsgi.input"] = io.BytesIO(raw)
            with answering():
                answered = slack(environ, start_response)
            if metrics is not None:
                metrics.acknowledged(clock() - arrived)
            return answered
        with answering():
            return slack(environ, start_response)

    return application


def operator_app(health: Callable[[], dict[str, Any]], metrics: Metrics | None) -> Callable[..., Iterable[bytes]]:
    """GET /healthz (a JSON status) and, given `metrics`, GET /metrics (Prometheus's text format); 404 elsewhere."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            try:
                status, payload = "200 OK", {"status": "ok", **health()}
            except Exception as e:  # a health check reports trouble instead of raising it
                status, payload = "503 Service Unavailable", {"status": "error", "error": type(e).__name__}
            return _json(start_response, status, payload)
        if path == METRICS_PATH and method in ("GET", "HEAD") and metrics is not None:
            try:
                body, content_type = metrics.page()
            except Exception as e:  # the ledger closing under a scrape: the scraper sees the target down, not a trace
                log.warning("/metrics could not be read (%s)", type(e).__name__)
                return _json(start_response, "503 Service Unavailable", {"status": "error", "error": type(e).__name__})
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [body]
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return application


@contextmanager
def serving_operators(application: Callable[..., Iterable[bytes]], *, host: str, port: int) -> Iterator[None]:
    """/metrics and /healthz on a port of their own while the block runs (Socket Mode has no HTTP server otherwise)."""
    try:
        server = waitress.create_server(application, host=host, port=port, threads=2, ident="copydesk")
    except (OSError, OverflowError, ValueError) as e:
        raise ConfigError(f"cannot listen on {host}:{port} for /metrics ({e})") from None
    thread = threading.Thread(target=server.run, name="copydesk-metrics", daemon=True)
    thread.start()
    log.info("metrics on http://%s:%s%s", host, _port(server), METRICS_PATH)
    try:
        yield
    finally:
        server.close()


def _signed(verifier: SignatureVerifier, raw: bytes, environ: dict[str, Any]) -> bool:
    """Slack's signature over the raw bytes, with a timestamp less than five minutes off."""
    timestamp, signature = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""), environ.get("HTTP_X_SLACK_SIGNATURE", "")
    return timestamp.isdigit() and bool(signature) and verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)


def _json(start_response: Callable[..., Any], status: str, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def stop_on_signals() -> None:
    """Turn SIGTERM into what Ctrl-C already is, so both unwind through the same clean shutdown."""

    def handle(signum: int, _frame: Any) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handle)


def until_stopped() -> None:
    """Block the main thread until SIGINT or SIGTERM, on whichever thread the kernel delivers it."""
    # A signal delivered to another thread only sets a flag: a main thread parked on a lock never looks at it again, so
    # `threading.Event().wait()` slept through SIGTERM. Python's wakeup fd is written by the C handler in any thread.
    wake, woken = os.pipe()
    os.set_blocking(woken, False)
    previous = signal.set_wakeup_fd(woken)
    try:
        while True:
            os.read(wake, 64)  # returns on any signal; the Python handler then runs here and raises KeyboardInterrupt
    finally:
        signal.set_wakeup_fd(previous)
        os.close(wake)
        os.close(woken)


def http_server(
    application: Callable[..., Iterable[bytes]], *, host: str, port: int, threads: int = 8, clock: Clock = time.monotonic
) -> Any:
    """Waitress, stamping each request's arrival into its environ under ARRIVED (read with `clock`)."""
    server = waitress.create_server(
        application, host=host, port=port, threads=threads, ident="copydesk", max_request_body_size=MAX_BODY
    )  # a chunked body without a length is cut off there too
    channel = _stamping(clock)
    for listener in [server] if isinstance(server, BaseWSGIServer) else list(server.map.values()):
        if isinstance(listener, BaseWSGIServer):  # one per address `host` resolves to
            listener.channel_class = channel
    return server


def _stamping(clock: Clock) -> type[HTTPChannel]:
    """A waitress channel whose requests carry when their first bytes arrived, for their time queued to count."""

    class Parser(HTTPRequestParser):
        def __init__(self, adj: Any) -> None:
            super().__init__(adj)
            self.arrived = clock()  # made when a request's first bytes come in

    class Task(WSGITask):
        def get_environment(self) -> Any:
            environ = super().get_environment()
            environ.setdefault(ARRIVED, getattr(self.request, "arrived", None))
            return environ

    class Channel(HTTPChannel):
        parser_class = Parser
        task_class = Task

    return Channel


def bind(application: Callable[..., Iterable[bytes]], *, host: str, port: int, threads: int = 8) -> Any:
    """The HTTP server, listening from now on; a port taken or impossible is named (ConfigError)."""
    try:
        return http_server(application, host=host, port=port, threads=threads)
    except (OSError, OverflowError, ValueError) as e:
        raise ConfigError(f"cannot listen on {host}:{port} ({e})") from None


def check_free(host: str, port: int) -> None:
    """Bind the port and let it go: a port taken stops copydesk before it starts anything, while Slack's requests are
    still refused (not queued unanswered past Slack's 3 s) until it is ready to answer them."""
    try:
        for family, kind, proto, address in Adjustments(host=host, port=port).listen:  # the addresses waitress will bind
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds it
                probe.bind(address)
    except (OSError, OverflowError, ValueError) as e:
        raise ConfigError(f"cannot listen on {host}:{port} ({e})") from None


def _port(server: Any) -> str:
    """The port a server listens on (one address), or each (a host with several addresses, IPv4 and IPv6)."""
    if hasattr(server, "effective_port"):
        return str(server.effective_port)
    return ",".join(str(where[1]) for where in server.effective_listen)


def serve_http(application: Callable[..., Iterable[bytes]], *, host: str, port: int, threads: int = 8) -> None:
    """Serve until SIGINT or SIGTERM, then return so the caller can shut down cleanly."""
    serve_bound(bind(application, host=host, port=port, threads=threads), host=host)


def serve_bound(server: Any, *, host: str) -> None:
    """Serve a bound server until SIGINT or SIGTERM, then close it."""
    try:
        log.info("copydesk listening on http://%s:%s%s (HTTP mode)", host, _port(server), SLACK_PATH)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


ENVELOPE_ID = re.compile(r'"envelope_id"\s*:\s*"([^"\\]+)"')  # a quote typed in a draft arrives escaped: never matched


class _Arrivals:
    """When each envelope came off the socket, until a thread takes it up; bounded, so one never handled is forgotten."""

    def __init__(self, clock: Clock, keep: int = 1024) -> None:
        self._clock = clock
        self._keep = keep
        self._at: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def note(self, raw: str) -> None:
        found = ENVELOPE_ID.search(raw)
        if found is None:
            return  # hello, disconnect: nothing is acknowledged
        at = self._clock()
        with self._lock:
            self._at[found.group(1)] = at
            while len(self._at) > self._keep:
                self._at.popitem(last=False)

    def take(self, envelope_id: str) -> float | None:
        with self._lock:
            return self._at.pop(envelope_id, None)


class _StampingClient(SocketModeClient):
    """slack_sdk's builtin client, noting each envelope's arrival before it queues for a thread of its pool."""

    def __init__(self, *, arrivals: _Arrivals, **options: Any) -> None:
        self.arrivals = arrivals  # before the client's threads start
        super().__init__(**options)

    def enqueue_message(self, message: str) -> None:
        self.arrivals.note(message)
        super().enqueue_message(message)


class AnsweringSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, answering each envelope inside `answering()` as the HTTP server does, and timing
    its acknowledgement from its arrival on the socket (its wait for a thread counts, as it does for Slack)."""

    def __init__(
        self, app: App, app_token: str, answering: Answering, metrics: Metrics | None, clock: Clock = time.monotonic
    ) -> None:
        # SocketModeHandler.__init__ with its defaults, and the client that stamps arrivals
        self.app = app
        self.app_token = app_token
        self.client = _StampingClient(
            arrivals=_Arrivals(clock),
            app_token=app_token,
            logger=app.logger,
            web_client=app.client,
            proxy=app.client.proxy,
            auto_reconnect_enabled=True,
            ping_interval=10,  # Bolt's, not the client's 5 s: a connection is stale after 4 pings unanswered
            receive_buffer_size=1024,
            concurrency=10,
        )
        self.client.socket_mode_request_listeners.append(self.handle)
        self._answering = answering
        self._metrics = metrics
        self._clock = clock

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        assert isinstance(client, _StampingClient)  # the client this handler made
        arrived = client.arrivals.take(req.envelope_id)
        arrived = self._clock() if arrived is None else arrived
        with self._answering():
            super().handle(client, req)  # the ack goes back over the socket at its end
        if self._metrics is not None:
            self._metrics.acknowledged(self._clock() - arrived)


def serve_socket_mode(app: App, app_token: str, answering: Answering = nullcontext, metrics: Metrics | None = None) -> None:
    """Hold a Socket Mode connection until SIGINT or SIGTERM."""
    handler = AnsweringSocketModeHandler(app, app_token, answering, metrics)
    try:
        handler.connect()
        log.info("copydesk connected to Slack (Socket Mode)")
        until_stopped()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
