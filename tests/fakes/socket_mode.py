"""A loopback Socket Mode endpoint: says hello, pushes envelopes, and collects the app's acks."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

from websockets.sync.server import ServerConnection, serve


def slash_command(envelope_id: str, user: str, text: str, response_url: str) -> dict[str, Any]:
    """The envelope Slack pushes when `user` types `/draft text` in a channel, as Socket Mode delivers it."""
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "command": "/draft",
            "text": text,
            "user_id": user,
            "channel_id": "C0GEN",
            "team_id": "T0TEAM001",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        },
    }


class FakeSocketMode:
    """Slack's side of the WebSocket: every envelope put on `outbox` is sent to the connected app."""

    def __init__(self) -> None:
        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self._server = serve(self._session, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link/?ticket=test&app_id=A0COPYDESK"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._stopped = threading.Event()

    def start(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._server.shutdown()

    def _session(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0COPYDESK"}}))
        receiver = threading.Thread(target=self._receive, args=[connection], daemon=True)
        receiver.start()
        while not self._stopped.is_set():
            try:
                envelope = self.outbox.get(timeout=0.1)
            except queue.Empty:
                continue
            connection.send(json.dumps(envelope))

    def _receive(self, connection: ServerConnection) -> None:
        try:
            for message in connection:
                self.acks.put(json.loads(message))
        except Exception:  # the app hung up: the session is over
            return
