"""The ledger is the source of truth: a restart rebuilds the schedule and never posts anything twice."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bot.config import load_config
from bot.review import State
from tests.fakes.slack_api import action_ids, blocks_text
from tests.support.digests import LA, clock_at
from tests.support.harness import (
    AUTHOR,
    EDITOR_1,
    EDITOR_2,
    REVIEW,
    Copydesk,
    MovableClock,
    eventually,
    signed_headers,
    write_config,
)
from tests.support.ledger_file import peek
from tests.support.process import Running, start

FORM, JSON = "application/x-www-form-urlencoded", "application/json"


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def command(user: str, text: str, response_url: str) -> dict[str, str]:
    """/draft as Slack sends it to a `copydesk run` process."""
    return {
        "command": "/draft",
        "text": text,
        "user_id": user,
        "channel_id": "C0GENERAL",
        "team_id": "T0TEAM001",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def reaction(user: str, channel: str, ts: str, event_id: str) -> dict[str, Any]:
    """An approval on the card at (channel, ts) as Slack sends it to a `copydesk run` process."""
    event = {
        "type": "reaction_added",
        "user": user,
        "reaction": "white_check_mark",
        "item_user": "U0COPYDESK",
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }
    return {
        "type": "event_callback",
        "event_id": event_id,
        "team_id": "T0TEAM001",
        "api_app_id": "A0COPYDESK",
        "event_time": int(time.time()),
        "event": event,
    }


def signed_post(running: Running, content_type: str, body: str) -> int:
    """Sign `body` as Slack does and send it to the process; its HTTP status."""
    status, _ = running.post("/slack/events", body, signed_headers(body, content_type))
    return status


def test_a_pending_schedule_is_rebuilt_after_a_restart(config, slack, x) -> None:
    first = Copydesk(config, slack, x).start()
    first.command(AUTHOR, "at:+2h See you in two hours")
    approve(first, 1)
    due = first.draft(1).publish_at
    first.stop()

    second = Copydesk(config, slack, x).start()
    try:
        assert second.services.scheduler.due_at(1) == due
        assert second.draft(1).state is State.APPROVED
        assert x.calls("/2/tweets") == []
    finally:
        second.stop()


def test_a_post_that_fell_due_while_down_goes_out_once_on_start(config, slack, x) -> None:
    first = Copydesk(config, slack, x).start()
    first.command(AUTHOR, "at:+1h Missed my slot")
    approve(first, 1)
    first.stop()

    later = MovableClock()
    later.advance(hours=2)
    second = Copydesk(config, slack, x, clock=later).start()
    try:
        second.wait_for_state(1, State.PUBLISHED)
        assert x.texts() == ["Missed my slot"]
    finally:
        second.stop()
    third = Copydesk(config, slack, x, clock=later).start()
    third.stop()
    assert len(x.calls("/2/tweets")) == 1


def test_a_publication_cut_off_by_a_crash_is_flagged_not_repeated(config, slack, x, tmp_path: Path, environ) -> None:
    first = Running(start(["run", "--config", str(tmp_path / "app.yaml"), "--host", "127.0.0.1", "--port", "0"], environ))
    try:
        assert signed_post(first, FORM, urlencode(command(AUTHOR, "Did this go out?", slack.response_url()))) == 200
        eventually(
            lambda: bool(peek(config.db_path, "SELECT 1 FROM drafts WHERE id = 1 AND card_ts IS NOT NULL")), what="the card"
        )
        [(channel, card_ts)] = peek(config.db_path, "SELECT review_channel_id, card_ts FROM drafts WHERE id = 1")
        x.hold("/2/tweets")
        for number, editor in enumerate((EDITOR_1, EDITOR_2), 1):
            assert signed_post(first, JSON, json.dumps(reaction(editor, channel, card_ts, f"EvCUT{number}"))) == 200
        x.wait_for_held("/2/tweets")  # copydesk claimed the post and asked X; X has it, its answer is on its way
        first.process.kill()  # the process dies (SIGKILL: no clean-up) before X answers
        first.process.wait(timeout=10)
    finally:
        if first.process.poll() is None:
            first.process.kill()
            first.process.wait(timeout=10)
    x.gates.pop("/2/tweets").set()  # X answers a connection nobody holds any more

    second = Copydesk(config, slack, x).start()
    try:
        draft = second.draft(1)
        assert draft.state is State.HELD
        [publication] = second.ledger.publications(1)
        assert publication.outcome == "failed" and "interrupted" in (publication.error or "")
        assert second.services.scheduler.due_at(1) is None
        second.slack_told()
        assert len(x.arrived("/2/tweets")) == 1  # the one the crash cut off: nothing went to X again
        assert "publishing was interrupted" in [p for p in slack.posts(REVIEW) if p.get("thread_ts")][-1]["text"]
        card = slack.updates()[-1]
        assert "check the account on X" in blocks_text(card)
        assert {"copydesk_publish_again", "copydesk_mark_published"} <= action_ids(card)
    finally:
        second.stop()


def test_a_card_that_never_reached_slack_is_posted_on_start(config, slack, x) -> None:
    first = Copydesk(config, slack, x).start()
    slack.failures["chat.postMessage"] = "not_in_channel"
    first.command(AUTHOR, "Waiting for a channel")
    assert first.draft(1).card_ts is None
    first.stop()

    del slack.failures["chat.postMessage"]
    second = Copydesk(config, slack, x).start()
    try:
        second.slack_told()  # a start tries again at once what Slack would not take before
        assert second.draft(1).card_ts is not None
        assert "Waiting for a channel" in str(slack.posts(REVIEW)[-1]["blocks"])
    finally:
        second.stop()


def test_a_digest_missed_while_down_never_holds_up_the_first_acknowledgement(tmp_path: Path, environ, slack, x) -> None:
    """Its counts are read aside: copydesk answers Slack while X has not answered that read yet."""
    now = datetime.now(LA)
    digest = {"channel": "C0DIGEST01", "at": f"{now - timedelta(hours=1):%H:%M}", "metrics_timeout_seconds": 30}
    path = write_config(tmp_path / "app.yaml", top={"digest": digest})
    config = load_config(path, environ)
    before = Copydesk(config, slack, x, clock=clock_at(now - timedelta(hours=2))).start()
    before.command(AUTHOR, "Out before the digest's time")
    approve(before, 1)
    before.wait_for_state(1, State.PUBLISHED)
    before.stop()

    x.hold_lookups()  # the missed digest's read of the counts gets no answer
    process = start(["run", "--config", str(path), "--host", "127.0.0.1", "--port", "0"], environ)
    try:
        running = Running(process)
        eventually(lambda: len(x.lookups()) == 1, what="the missed digest reading its counts")
        body = urlencode(command(AUTHOR, "Answered while the counts are read", slack.response_url()))
        assert signed_post(running, FORM, body) == 200
        assert not any("caught up" in line for line in running.log)  # answered while the catch-up still waits for X
        x.release_lookups()
        eventually(lambda: len(slack.top_level("C0DIGEST01")) == 1, what="the missed digest in its channel")
        [sent] = slack.top_level("C0DIGEST01")
        assert "Out before the digest's time" in json.dumps(sent["blocks"])
        running.wait_for_log(r"digests: 1 scheduled, 1 caught up")
        assert running.stop() == 0
    finally:
        x.release_lookups()
        if process.poll() is None:
            process.kill()
