"""What every benchmark stands on: the tests' loopback Slack and X, a real `copydesk run`, signed requests, percentiles."""

from __future__ import annotations

import http.client
import json
import math
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.fakes.x_api import X_ENV, FakeX
from tests.support.harness import AUTHOR, REVIEW, SIGNING_SECRET, write_config
from tests.support.process import Running

ROOT = Path(__file__).resolve().parent.parent
FORM = "application/x-www-form-urlencoded"
T = TypeVar("T")


@dataclass
class Fakes:
    """The loopback Slack and X the tests use, and the environment that points copydesk at them."""

    slack: FakeSlack
    x: FakeX

    def environ(self, db: Path) -> dict[str, str]:
        return {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack.api_url,
            "X_API_URL": self.x.url,
            "COPYDESK_DB": str(db),
            **X_ENV,
        }


@contextmanager
def fakes() -> Iterator[Fakes]:
    slack, x = FakeSlack().start(), FakeX().start()
    try:
        yield Fakes(slack, x)
    finally:
        slack.stop()
        x.stop()


def config_file(folder: Path, **top: Any) -> Path:
    """The tests' app.yaml (one account, three editors, two approvals), with top-level settings changed."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_config(folder / "app.yaml", top=top or None)


def python_env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def spawn(module: str, args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=python_env(env),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )


def copydesk(config: Path, env: dict[str, str]) -> Running:
    """A real `copydesk run` in HTTP mode on a free port, ready once it says where it listens."""
    return Running(
        spawn("bot.runtime.cli", ["run", "--config", str(config), "--host", "127.0.0.1", "--port", "0"], env), ready=READY
    )


READY = r"listening on (http://127\.0\.0\.1:\d+)"


def stop(running: Running) -> None:
    """SIGTERM and wait: the clean shutdown a deploy does."""
    if running.process.poll() is None:
        running.stop()


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc (what the kernel has given it, shared libraries included)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation between two."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
    }


def until(what: str, check: Callable[[], T], timeout: float = 30.0, step: float = 0.002) -> T:
    """Wait, with a deadline, for something another process makes true."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(step)
    return value


def signed(body: str, content_type: str, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """The headers Slack sends: its v0 signature over the timestamp and the exact body."""
    ts = str(int(time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }


def slash_draft(text: str, response_url: str, user: str = AUTHOR) -> str:
    return urlencode(
        {
            "command": "/draft",
            "text": text,
            "user_id": user,
            "channel_id": "C0GEN",
            "team_id": "T0TEAM001",
            "response_url": response_url,
            "trigger_id": f"{secrets.token_hex(8)}.2.3",
        }
    )  # one per /draft, as Slack


def reaction(event_id: str, user: str, ts: str, emoji: str = "white_check_mark", channel: str = REVIEW) -> str:
    return json.dumps(
        {
            "type": "event_callback",
            "event_id": event_id,
            "team_id": "T0TEAM001",
            "api_app_id": "A0COPYDESK",
            "event_time": int(time.time()),
            "event": {
                "type": "reaction_added",
                "user": user,
                "reaction": emoji,
                "item_user": "U0COPYDESK",
                "item": {"type": "message", "channel": channel, "ts": ts},
                "event_ts": f"{time.time():.6f}",
            },
        }
    )


class Connection:
    """One keep-alive HTTP/1.1 connection to a server, as Slack holds one."""

    def __init__(self, url: str) -> None:
        split = urlsplit(url)
        self._conn = http.client.HTTPConnection(split.hostname, split.port, timeout=30)

    def post(self, path: str, body: str, headers: dict[str, str]) -> tuple[int, bytes]:
        self._conn.request("POST", path, body.encode(), headers)
        response = self._conn.getresponse()
        return response.status, response.read()

    def get(self, path: str) -> tuple[int, bytes]:
        self._conn.request("GET", path)
        response = self._conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self._conn.close()


def health(url: str) -> dict[str, Any] | None:
    """GET /healthz, or None while nothing answers on the port yet."""
    conn = Connection(url)
    try:
        status, body = conn.get("/healthz")
        return json.loads(body) if status == 200 else None
    except OSError:
        return None
    finally:
        conn.close()
