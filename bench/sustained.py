"""6. Sustained load: 20 /draft a second for a minute, each card voted on the instant it appears at the fake Slack.

It reports the votes lost (any is a failure) and how long a /draft takes until its card is visible in Slack, against
the acknowledgement of a bare Bolt app deployed the conventional way (gunicorn, four workers) under the same pacing,
in the same run.
"""

from __future__ import annotations

import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    FORM,
    ROOT,
    Connection,
    Fakes,
    config_file,
    copydesk,
    python_env,
    reaction,
    signed,
    slash_draft,
    stop,
    summary,
    until,
)
from bench.report import Figure, Section
from bot.runtime.server import SLACK_PATH
from tests.support.harness import EDITOR_1
from tests.support.process import Running

RATE = 20  # /draft per second
GUNICORN_READY = r"Listening at: (http://127\.0\.0\.1:\d+)"


def paced(url: str, texts: list[str], response_url: str, sent: dict[str, float], errors: list[str]) -> None:
    """One /draft every 1/RATE seconds, on the schedule (a late one does not push the rest back)."""
    conn = Connection(url)
    start = time.perf_counter()
    try:
        for n, text in enumerate(texts):
            wait = start + n / RATE - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            body = slash_draft(text, response_url)
            sent[text] = time.perf_counter()
            status, answer = conn.post(SLACK_PATH, body, signed(body, FORM))
            if status != 200:
                errors.append(f"/draft {status} {answer[:100]!r}")
    finally:
        conn.close()


def floor(fakes: Fakes, workdir: Path, seconds: float) -> dict[str, float]:
    """The bare Bolt app under gunicorn with four workers, at the same pace: its acknowledgement latencies."""
    process = Running(_spawn_gunicorn(fakes.environ(workdir / "floor.db")), ready=GUNICORN_READY)
    try:
        latencies: list[float] = []
        conn = Connection(process.url)
        start = time.perf_counter()
        try:
            for n in range(int(seconds * RATE)):
                wait = start + n / RATE - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                body = slash_draft(f"floor {n}", fakes.slack.response_url("bench"))
                began = time.perf_counter()
                assert conn.post(SLACK_PATH, body, signed(body, FORM))[0] == 200
                latencies.append((time.perf_counter() - began) * 1000)
        finally:
            conn.close()
        return summary(latencies[RATE:])  # the first second warms the workers up
    finally:
        process.process.terminate()
        process.process.wait(15)


def _spawn_gunicorn(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "4",
            "--bind",
            "127.0.0.1:0",
            "--log-level",
            "info",
            "bench.floor_app:from_environ()",
        ],
        env=python_env(env),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )


def run(workdir: Path, fakes: Fakes, *, quick: bool = False) -> Section:
    seconds = 5 if quick else 60
    bare = floor(fakes, workdir, min(seconds, 20))
    db = workdir / "sustained.db"
    bot = copydesk(config_file(workdir / "sustained", reminders={"after_minutes": 0}), fakes.environ(db))
    texts = [f"Sustained load post {n:05d}" for n in range(seconds * RATE)]
    number = {text: n for n, text in enumerate(texts)}
    sent: dict[str, float] = {}
    visible: dict[str, float] = {}
    votes: queue.Queue[tuple[str, str] | None] = queue.Queue()
    acknowledged: list[tuple[str, str]] = []
    errors: list[str] = []

    def on_card(channel: str, message: dict[str, Any]) -> None:
        """The card exists at Slack: note when, and vote on it at once (before copydesk has heard its ts)."""
        if (message.get("metadata") or {}).get("event_type") != "copydesk_card":
            return
        text = next((b["text"]["text"] for b in message.get("blocks") or [] if b.get("text", {}).get("type") == "plain_text"), "")
        if text in sent:
            visible[text] = time.perf_counter()
            votes.put((text, message["ts"]))

    def voter() -> None:
        conn = Connection(bot.url)
        try:
            while (item := votes.get()) is not None:
                text, ts = item
                body = reaction(f"EvSUSTAIN{number[text]:05d}", EDITOR_1, ts)
                status, answer = conn.post(SLACK_PATH, body, signed(body, "application/json"))
                (acknowledged.append(item) if status == 200 else errors.append(f"reaction {status} {answer[:100]!r}"))
        finally:
            conn.close()

    fakes.slack.on_message.append(on_card)
    voters = [threading.Thread(target=voter, daemon=True) for _ in range(4)]
    for thread in voters:
        thread.start()
    try:
        paced(bot.url, texts, fakes.slack.response_url("bench"), sent, errors)
        until("every card visible", lambda: len(visible) == len(texts), timeout=120)
        for _ in voters:
            votes.put(None)
        for thread in voters:
            thread.join(60)
        until("the outbox emptied", lambda: _pending(db) == 0, timeout=120)
        lost = _lost(db, acknowledged)
    finally:
        fakes.slack.on_message.remove(on_card)
        stop(bot)
    if errors:
        raise RuntimeError(f"{len(errors)} request(s) were not answered 200: {errors[:3]}")
    latency = summary([(visible[t] - sent[t]) * 1000 for t in texts[RATE:]])
    return Section(
        "Sustained load",
        [
            Figure(
                f"votes lost, {len(acknowledged)} cast the instant their card appeared",
                lost,
                "none may be lost",
                1,
                0,
                unit="votes",
            ),
            Figure(
                f"/draft → card visible p50, {RATE}/s for {seconds} s",
                latency["p50"],
                "bare Bolt ack p50 (gunicorn, 4 workers)",
                bare["p50"],
                3.0,
            ),
            Figure(
                f"/draft → card visible p99, {RATE}/s for {seconds} s",
                latency["p99"],
                "bare Bolt ack p99 (gunicorn, 4 workers)",
                bare["p99"],
                3.0,
            ),
        ],
        details={
            "draft_to_card_visible_ms": latency,
            "bare_bolt_gunicorn_ack_ms": bare,
            "votes_cast": len(acknowledged),
            "votes_lost": lost,
        },
    )


def _read(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _pending(db: Path) -> int:
    return _read(db, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'")[0][0]


def _lost(db: Path, acknowledged: list[tuple[str, str]]) -> int:
    """Votes Slack got a 200 for that the ledger does not hold."""
    counted = {
        row[0]
        for row in _read(db, "SELECT d.text FROM votes v JOIN drafts d ON d.id = v.draft_id WHERE v.user_id = ?", (EDITOR_1,))
    }
    return sum(1 for text, _ in acknowledged if text not in counted)
