"""2. From the last approving reaction reaching copydesk to its POST /2/tweets reaching X; the first reaction is sent the
instant the card appears at the fake Slack, and a post that never reaches X fails the run."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    FORM,
    READY,
    Connection,
    Fakes,
    config_file,
    copydesk,
    reaction,
    signed,
    slash_draft,
    spawn,
    stop,
    summary,
    until,
)
from bench.load import run_load
from bench.report import Figure, Section
from bot.runtime.server import SLACK_PATH
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2
from tests.support.process import Running


def run(workdir: Path, fakes: Fakes, *, quick: bool = False) -> Section:
    """One draft at a time: /draft, its card, a first approval, then the timed second one."""
    samples = 20 if quick else 200
    db = workdir / "approval.db"
    env = fakes.environ(db)
    floor = Running(spawn("bench.floor_app", [], env), ready=READY)
    try:
        run_load(floor.url, SLACK_PATH, 1, 20, "approval floor warm-up", fakes.slack.response_url("bench"))
        bare = summary(run_load(floor.url, SLACK_PATH, 1, samples, "approval floor", fakes.slack.response_url("bench")))
    finally:
        floor.process.terminate()
        floor.process.wait(15)

    bot = copydesk(config_file(workdir / "approval", reminders={"after_minutes": 0}), env)
    conn = Connection(bot.url)
    latencies = []
    told = dms(fakes)  # the fakes are shared by the whole run
    posted = len(fakes.x.calls("/2/tweets"))
    appeared: dict[str, str] = {}
    changed = threading.Condition()

    def on_card(channel: str, message: dict[str, Any]) -> None:
        """The card exists at Slack (its answer not yet sent to copydesk): the editor may react from now on."""
        if (message.get("metadata") or {}).get("event_type") == "copydesk_card":
            with changed:
                appeared[json.dumps(message.get("blocks"))] = message["ts"]
                changed.notify_all()

    def card_of(text: str) -> str:
        with changed:
            assert changed.wait_for(lambda: any(text in blocks for blocks in appeared), timeout=10), f"no card for {text!r}"
            return next(ts for blocks, ts in appeared.items() if text in blocks)

    fakes.slack.on_message.append(on_card)
    try:
        for n in range(samples + 5):
            text = f"Approval benchmark post {n}"
            body = slash_draft(text, fakes.slack.response_url("bench"))
            assert conn.post(SLACK_PATH, body, signed(body, FORM))[0] == 200
            ts = card_of(text)  # the instant the card appears: copydesk may not have stored its ts yet
            first = reaction(f"EvBENCH{n:05d}A", EDITOR_1, ts)
            assert conn.post(SLACK_PATH, first, signed(first, "application/json"))[0] == 200
            last = reaction(f"EvBENCH{n:05d}B", EDITOR_2, ts)
            headers = signed(last, "application/json")
            began = time.time()
            assert conn.post(SLACK_PATH, last, headers)[0] == 200
            # blocks on the fake's condition instead of polling it: the fake stamps the arrival in this process
            call = fakes.x.wait_for("/2/tweets", posted + n + 1, timeout=10)[-1]
            assert call.body.get("text") == text
            if n >= 5:  # the first few warm copydesk up
                latencies.append((call.at - began) * 1000)
            # the card, its thread and the author hear of it after X: let that finish before the next sample
            until("the author told of the post", lambda n=n: dms(fakes) >= told + 2 * (n + 1), timeout=10)
    finally:
        fakes.slack.on_message.remove(on_card)
        conn.close()
        stop(bot)
    mine = summary(latencies)
    return Section(
        "Approval to post",
        [Figure("approval → POST /2/tweets p99", mine["p99"], "bare Bolt ack p50, 1 sender", bare["p50"], 2.0)],
        details={"approval_to_post_ms": mine, "bare_bolt_ack_ms": bare},
    )


def dms(fakes: Fakes) -> int:
    """Messages to the author: one when a draft is approved, one when it is published."""
    return sum(1 for c in fakes.slack.calls("/api/chat.postMessage") if c.body.get("channel") == AUTHOR)
