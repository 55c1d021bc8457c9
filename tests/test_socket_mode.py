"""`copydesk run --socket`: no public URL, Slack's envelopes arrive over a WebSocket and are acked."""

from __future__ import annotations

import ctypes
import json
import os
import queue
import signal
import time
from pathlib import Path

from tests.fakes.slack_api import APP_TOKEN
from tests.fakes.socket_mode import FakeSocketMode, slash_command
from tests.support.harness import AUTHOR, REVIEW, write_config
from tests.support.process import Running, start


def test_a_draft_arrives_over_socket_mode_and_is_acknowledged(tmp_path: Path, environ, slack, socket_mode) -> None:
    env = {**environ, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""}  # Socket Mode needs no signing secret
    process = start(["run", "--config", str(write_config(tmp_path / "app.yaml"))], env)
    running = Running(process, ready=r"connected to Slack \(Socket Mode\)")
    try:
        draft_over_the_socket(socket_mode, slack)
        assert running.stop() == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_stop_signal_the_kernel_hands_to_any_thread_still_stops_it(tmp_path: Path, environ, slack, socket_mode) -> None:
    env = {**environ, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""}
    process = start(["run", "--config", str(write_config(tmp_path / "app.yaml"))], env)
    running = Running(process, ready=r"connected to Slack \(Socket Mode\)")
    try:
        draft_over_the_socket(socket_mode, slack)  # by its card, the main thread is long parked waiting for a signal
        [thread, *_] = [int(t) for t in os.listdir(f"/proc/{process.pid}/task") if int(t) != process.pid]
        # `kill` lets the kernel pick any thread that does not block the signal; this picks one that is not the main one
        assert ctypes.CDLL(None, use_errno=True).tgkill(process.pid, thread, signal.SIGTERM) == 0
        assert process.wait(timeout=30) == 0
        running.wait_for_log(r"received SIGTERM: stopping")
        running.wait_for_log(r"copydesk stopped")
    finally:
        if process.poll() is None:
            process.kill()


def draft_over_the_socket(socket_mode: FakeSocketMode, slack) -> None:
    socket_mode.outbox.put(slash_command("env-cmd-1", AUTHOR, "Through the socket", slack.response_url()))
    assert next_ack(socket_mode, "env-cmd-1") == {"envelope_id": "env-cmd-1"}
    [card] = slack.wait_for("/api/chat.postMessage")
    assert card.body["channel"] == REVIEW and "Through the socket" in json.dumps(card.body["blocks"])


def next_ack(fake: FakeSocketMode, envelope_id: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            ack = fake.acks.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no ack for {envelope_id} within {timeout}s") from None
        if ack.get("envelope_id") == envelope_id:
            return ack
