"""A recording HTTP server on 127.0.0.1:0, shared by the Slack and X fakes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Call:
    """One request as it reached the fake."""

    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    raw: bytes
    at: float = field(default_factory=time.time)
    query: str = ""  # the raw query string: OAuth 1.0a signs its parameters too


@dataclass
class Reply:
    """What the fake answers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # a slow or hanging server: wait this long before answering
    drop: bool = False  # close the connection instead of answering (the server acted; its answer is lost)


class RecordingServer:
    """Serves `route(call) -> Reply` on a free loopback port and records every call."""

    def __init__(self, route: Callable[[Call], Reply]) -> None:
        self._route = route
        self._calls: list[Call] = []  # recorded once answered
        self._arrived: list[Call] = []  # recorded on arrival, answered or not
        self._changed = threading.Condition()
        self._released = threading.Event()  # set on stop, so a hanging reply never outlives the test
        self.gates: dict[str, threading.Event] = {}  # requests to these paths wait until the event is set
        self.held: list[Call] = []
        self.cut_off: list[str] = []  # paths of requests whose body never fully arrived
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in separate writes; with Nagle's algorithm on, the body waited for the
            # client's delayed ACK (40 ms on Linux) on kept-alive connections, which no real API server does.
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if len(raw) < length:  # the client died mid-request: a real server never acts on half a body
                    self.close_connection = True
                    with outer._changed:
                        outer.cut_off.append(urlsplit(self.path).path)
                    return
                split = urlsplit(self.path)
                call = Call(
                    self.command, split.path, _parse(split.query, raw, self.headers), dict(self.headers), raw, query=split.query
                )
                with outer._changed:
                    outer._arrived.append(call)
                reply = outer._route(call)
                if reply.delay:
                    outer._released.wait(reply.delay)
                if (gate := outer.gates.get(call.path)) is not None:
                    with outer._changed:
                        outer.held.append(call)
                        outer._changed.notify_all()
                    gate.wait(30)
                with outer._changed:
                    outer._calls.append(call)
                    outer._changed.notify_all()
                if reply.drop:
                    self.close_connection = True
                    return
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body or {}).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.headers.pop("Content-Type", "application/json; charset=utf-8"))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> RecordingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        for gate in self.gates.values():
            gate.set()
        self.server.shutdown()
        self.server.server_close()

    def hold(self, path: str) -> threading.Event:
        """Keep requests to `path` unanswered until the returned event is set."""
        self.gates[path] = threading.Event()
        return self.gates[path]

    def wait_for_held(self, path: str, timeout: float = 10.0) -> Call:
        """Block until a request to `path` is being held."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (found := [c for c in self.held if c.path == path]):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no request to {path} was held within {timeout}s")
                self._changed.wait(left)
            return found[0]

    def arrived(self, path: str) -> list[Call]:
        """Requests to `path` that reached the fake, including those still waiting for their answer."""
        with self._changed:
            return [c for c in self._arrived if c.path == path]

    def calls(self, path: str | None = None) -> list[Call]:
        """Recorded calls, all or to one path, in arrival order."""
        with self._changed:
            return [c for c in self._calls if path is None or c.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until `count` calls reached `path`, or fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self._calls if c.path == path]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{path}: expected {count} call(s), got {len(found)} within {timeout}s")
                self._changed.wait(left)


def _parse(query: str, raw: bytes, headers: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict(parse_qsl(query))
    kind = headers.get("Content-Type", "")
    if raw and "json" in kind:
        body.update(json.loads(raw))
    elif raw and "x-www-form-urlencoded" in kind:
        try:
            body.update(parse_qsl(raw.decode()))
        except UnicodeDecodeError:  # bytes sent with urllib's default content type (a file to Slack's upload URL)
            pass
    return body
