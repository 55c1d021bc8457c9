"""Serving the app: waitress in HTTP mode (with /healthz and /metrics), or a Socket Mode connection (and, when asked,
/metrics and /healthz on a port of their own)."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import threading
import time
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

from bot.runtime.metrics import Metrics

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything larger is refused unread
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"

Answering = Callable[[], AbstractContextManager[Any]]  # ListenerPool.answering: held while a Slack request is answered


def wsgi_app(
    app: App,
    health: Callable[[], dict[str, Any]],
    answering: Answering = nullcontext,
    *,
    signing_secret: str | None = None,
    metrics: Metrics | None = None,
) -> Callable[..., Iterable[bytes]]:
    """Slack's requests on POST /slack/events, a JSON status on GET /healthz, Prometheus's on GET /metrics, 404 elsewhere.

    A body over MAX_BODY is refused with 413 before it is read, and (with `signing_secret`) the signature is checked on
    the raw bytes before anything parses them. Each Slack request is answered inside `answering()`, so work after
    earlier acknowledgements waits for it; the time it took is the acknowledgement latency in `metrics`.
    """
    slack = SlackRequestHandler(app, path=SLACK_PATH)
    verifier = SignatureVerifier(signing_secret) if signing_secret else None
    status_pages = operator_app(health, metrics)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        arrived = time.monotonic()
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
                metrics.acknowledged(time.monotonic() - arrived)
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
    server = waitress.create_server(application, host=host, port=port, threads=2, ident="copydesk")
    thread = threading.Thread(target=server.run, name="copydesk-metrics", daemon=True)
    thread.start()
    log.info("metrics on http://%s:%s%s", host, server.effective_port, METRICS_PATH)
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


def serve_http(application: Callable[..., Iterable[bytes]], *, host: str, port: int, threads: int = 8) -> None:
    """Serve until SIGINT or SIGTERM, then return so the caller can shut down cleanly."""
    server = waitress.create_server(
        application, host=host, port=port, threads=threads, ident="copydesk", max_request_body_size=MAX_BODY
    )  # a chunked body without a length is cut off there too
    try:
        log.info("copydesk listening on http://%s:%s%s (HTTP mode)", host, server.effective_port, SLACK_PATH)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


class _AnsweringSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, answering each envelope inside `answering()` as the HTTP server does."""

    def __init__(self, app: App, app_token: str, answering: Answering, metrics: Metrics | None) -> None:
        super().__init__(app, app_token)
        self._answering = answering
        self._metrics = metrics

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        assert isinstance(client, SocketModeClient)  # Bolt's builtin handler runs only the builtin client
        arrived = time.monotonic()
        with self._answering():
            super().handle(client, req)  # the ack goes back over the socket at its end
        if self._metrics is not None:
            self._metrics.acknowledged(time.monotonic() - arrived)


def serve_socket_mode(app: App, app_token: str, answering: Answering = nullcontext, metrics: Metrics | None = None) -> None:
    """Hold a Socket Mode connection until SIGINT or SIGTERM."""
    handler = _AnsweringSocketModeHandler(app, app_token, answering, metrics)
    try:
        handler.connect()
        log.info("copydesk connected to Slack (Socket Mode)")
        until_stopped()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
