"""`copydesk run` as a real process: waitress on a port, signed requests over HTTP, /healthz, a clean SIGTERM."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.review import State
from storage import Ledger
from tests.fakes.slack_api import blocks_text
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, eventually, signed_headers, write_config
from tests.support.process import Running, start


@pytest.fixture
def running(tmp_path: Path, environ: dict[str, str]) -> Iterator[Running]:
    config = write_config(tmp_path / "app.yaml")
    process = start(["run", "--config", str(config), "--host", "127.0.0.1", "--port", "0"], environ)
    yield Running(process)
    if process.poll() is None:
        process.kill()
        process.wait()


def test_the_real_server_takes_a_signed_draft_over_http_and_stops_cleanly_on_sigterm(running: Running, slack, environ) -> None:
    status, health = running.get("/healthz")
    assert status == 200 and health["status"] == "ok" and health["mode"] == "http"
    assert health["outbox"] == {"pending": 0, "oldest_seconds": 0.0, "gave_up": 0}

    body = urlencode(
        {
            "command": "/draft",
            "text": "Over the wire &amp; back",
            "user_id": AUTHOR,
            "channel_id": "C0GEN",
            "team_id": "T0TEAM001",
            "response_url": slack.response_url(),
            "trigger_id": "1.2.3",
        }
    )
    status, _ = running.post("/slack/events", body, signed_headers(body, "application/x-www-form-urlencoded"))
    assert status == 200
    [card] = slack.wait_for("/api/chat.postMessage")
    assert card.body["channel"] == REVIEW and "Over the wire & back" in json.dumps(card.body["blocks"], ensure_ascii=False)

    assert running.stop() == 0
    ledger = Ledger.open(environ["COPYDESK_DB"])
    assert [(d.text, d.state) for d in ledger.drafts_in(list(State))] == [("Over the wire & back", State.IN_REVIEW)]
    ledger.close()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(
            lambda body: signed_headers(body, "application/x-www-form-urlencoded", secret="not-the-secret"), id="wrong-secret"
        ),
        pytest.param(
            lambda body: signed_headers(body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 600), id="stale"
        ),
        pytest.param(lambda body: {"content-type": ["application/x-www-form-urlencoded"]}, id="unsigned"),
    ],
)
def test_requests_not_signed_by_slack_are_refused_and_change_nothing(running: Running, slack, environ, headers) -> None:
    body = urlencode({"command": "/draft", "text": "forged", "user_id": AUTHOR, "response_url": slack.response_url()})
    status, _ = running.post("/slack/events", body, headers(body))
    assert status == 401
    assert slack.calls("/api/chat.postMessage") == []
    running.stop()
    ledger = Ledger.open(environ["COPYDESK_DB"])
    assert ledger.drafts_in(list(State)) == []
    ledger.close()


def test_a_bad_config_stops_the_start_with_one_clear_line(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path / "app.yaml", {"approvals_required": 9})
    process = start(["run", "--config", str(config), "--port", "0"], environ)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert err.strip().splitlines()[-1] == (
        "copydesk: app.yaml: accounts.main.approvals_required is 9 but only 3 editor(s) are listed"
    )


def test_with_json_logs_the_line_that_stops_the_start_is_json_too(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path / "app.yaml", {"approvals_required": 9})
    process = start(["run", "--config", str(config), "--port", "0", "--log-format", "json"], environ)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 2
    lines = [json.loads(line) for line in err.strip().splitlines()]  # every line one JSON object, a shipper's to parse
    assert lines[-1]["level"] == "ERROR" and lines[-1]["message"] == (
        "copydesk: app.yaml: accounts.main.approvals_required is 9 but only 3 editor(s) are listed"
    )


@pytest.mark.parametrize("flag", ["--port", "--metrics-port"])
def test_a_port_already_taken_stops_the_start_before_anything_runs(tmp_path: Path, environ, slack, flag: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        ports = {"--port": "0", "--metrics-host": "127.0.0.1", flag: str(port)}
        args = ["run", "--config", str(write_config(tmp_path / "app.yaml")), "--host", "127.0.0.1"]
        process = start([*args, *(x for pair in ports.items() for x in pair)], environ)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert err.strip().splitlines()[-1].startswith(f"copydesk: cannot listen on 127.0.0.1:{port}")
    assert "ledger recovered" not in err and "Traceback" not in err  # it never started: nothing recovered, sent or planned
    assert {c.path for c in slack.calls()} <= {"/api/auth.test"}  # only Bolt's check of its token, as the app is made


def test_an_address_it_cannot_listen_on_stops_the_start_with_one_clear_line(tmp_path: Path, environ, slack) -> None:
    args = ["run", "--config", str(write_config(tmp_path / "app.yaml")), "--host", "a..b", "--port", "0"]
    process = start(args, environ)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert err.strip().splitlines()[-1].startswith("copydesk: cannot listen on a..b:0")
    assert "ledger recovered" not in err and "Traceback" not in err


def test_a_whole_loop_over_http_leaves_no_secret_in_the_log_or_the_ledger(running: Running, slack, x, environ) -> None:
    body = urlencode(
        {
            "command": "/draft",
            "text": "Secrets stay secret",
            "user_id": AUTHOR,
            "channel_id": "C0GEN",
            "team_id": "T0TEAM001",
            "response_url": slack.response_url(),
            "trigger_id": "1.2.3",
        }
    )
    running.post("/slack/events", body, signed_headers(body, "application/x-www-form-urlencoded"))
    ts = slack.wait_for("/api/chat.getPermalink")[0].body["message_ts"]  # the card's ts
    x.answer_next(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
    for number, editor in enumerate((EDITOR_1, EDITOR_2)):
        event = json.dumps(
            {
                "type": "event_callback",
                "event_id": f"EvHTTP{number}",
                "team_id": "T0TEAM001",
                "event": {
                    "type": "reaction_added",
                    "user": editor,
                    "reaction": "white_check_mark",
                    "item": {"type": "message", "channel": REVIEW, "ts": ts},
                },
            }
        )
        assert running.post("/slack/events", event, signed_headers(event, "application/json"))[0] == 200
    x.wait_for("/2/tweets")
    eventually(lambda: any("Publishing failed" in blocks_text(u) for u in slack.updates()), what="the failure shown on the card")
    assert running.stop() == 0

    written = "".join(running.log).encode() + b"".join(
        p.read_bytes() for p in Path(environ["COPYDESK_DB"]).parent.glob("ledger.db*")
    )
    assert b"Secrets stay secret" in written  # the ledger was read
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "X_CONSUMER_KEY",
        "X_CONSUMER_SECRET",
        "X_ACCESS_TOKEN",
        "X_ACCESS_TOKEN_SECRET",
    ):
        assert environ[name].encode() not in written, name


def test_a_ledger_that_cannot_be_opened_stops_the_start_with_one_clear_line(tmp_path: Path, environ: dict[str, str]) -> None:
    config = write_config(tmp_path / "app.yaml")
    garbage = tmp_path / "not-a-ledger.db"
    garbage.write_bytes(b"this is not SQLite" * 100)
    process = start(["run", "--config", str(config), "--db", str(garbage), "--port", "0"], environ)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert err.strip().splitlines()[-1] == f"copydesk: {garbage}: cannot be opened as a copydesk ledger (file is not a database)"
    assert garbage.read_bytes() == b"this is not SQLite" * 100


def test_a_second_copydesk_on_the_same_ledger_is_refused_at_once_and_the_first_goes_on(
    running: Running, tmp_path: Path, environ: dict[str, str]
) -> None:
    config = str(tmp_path / "app.yaml")
    db = environ["COPYDESK_DB"]
    refused = f"copydesk: {db} is in use by process {running.process.pid}; run one copydesk per ledger (stop that one first)"
    for args in (["run", "--config", config, "--host", "127.0.0.1", "--port", "0"], ["digest", "--post", "--config", config]):
        second = start(args, environ)
        _, err = second.communicate(timeout=20)
        assert (second.returncode, err.strip().splitlines()) == (1, [refused]), args

    assert running.get("/healthz")[0] == 200  # the first one never noticed
    for args in (["digest", "--config", config], ["ledger", "verify"], ["ledger", "backup", str(tmp_path / "copy.db")]):
        beside = start(args, environ)
        _, err = beside.communicate(timeout=20)
        assert beside.returncode == 0, (args, err)
    assert running.stop() == 0
    again = start(["run", "--config", config, "--host", "127.0.0.1", "--port", "0"], environ)
    Running(again).stop()  # the lock went with the first process


def test_a_body_over_a_mebibyte_is_refused_with_413_before_it_is_read(running: Running) -> None:
    host, port = running.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: copydesk\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n"
        )  # and not one byte of the body: a server that read it would hang
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert running.get("/healthz")[0] == 200


def test_the_signature_is_checked_before_the_body_is_parsed(running: Running, slack) -> None:
    garbage = "payload=%7Bnot json at all"
    status, body = running.post(
        "/slack/events",
        garbage,
        {
            "content-type": ["application/x-www-form-urlencoded"],
            "x-slack-request-timestamp": [str(int(time.time()))],
            "x-slack-signature": ["v0=" + "0" * 64],
        },
    )
    assert (status, json.loads(body)) == (401, {"error": "invalid request"})
    assert not any("Traceback" in line for line in running.log)
    signed = urlencode(
        {
            "command": "/draft",
            "text": "Still fine",
            "user_id": AUTHOR,
            "channel_id": "C0GEN",
            "team_id": "T0TEAM001",
            "response_url": slack.response_url(),
            "trigger_id": "1.2.3",
        }
    )
    assert running.post("/slack/events", signed, signed_headers(signed, "application/x-www-form-urlencoded"))[0] == 200
