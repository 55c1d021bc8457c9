"""An operator graphs copydesk's health: /metrics after a short loop, in HTTP mode and on --metrics-port in Socket Mode;
--log-format json; and no secret in either."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.config import load_config
from bot.runtime.logs import JsonFormatter, Redactor, secrets_in
from tests.fakes.slack_api import APP_TOKEN
from tests.fakes.socket_mode import slash_command
from tests.support.harness import (
    AUTHOR,
    BASE_CONFIG,
    EDITOR_1,
    EDITOR_2,
    REVIEW,
    eventually,
    signed_headers,
    write_config,
)
from tests.support.networks import NETWORK_ENV, networks_block
from tests.support.process import ROOT, Running, start
from tests.test_layers import DOMAIN
from tests.test_socket_mode import next_ack

SECRETS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "X_CONSUMER_KEY",
    "X_CONSUMER_SECRET",
    "X_ACCESS_TOKEN",
    "X_ACCESS_TOKEN_SECRET",
)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def running(tmp_path: Path, environ: dict[str, str]) -> Iterator[Running]:
    config = write_config(tmp_path / "app.yaml")
    process = start(["run", "--config", str(config), "--host", "127.0.0.1", "--port", "0", "--log-format", "json"], environ)
    yield Running(process)
    if process.poll() is None:
        process.kill()
        process.wait()


def scrape(url: str) -> tuple[str, Samples]:
    """GET /metrics: the page as text, and each sample by name and labels, parsed as Prometheus parses it."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain; version=")
        page = response.read().decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }
    return page, samples


def of(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def by(samples: Samples, name: str, label: str) -> dict[str, float]:
    """One metric's nonzero samples by one label's value (the others left out)."""
    return {dict(k)[label]: v for (n, k), v in samples.items() if n == name and v}


def draft(running: Running, slack: Any, text: str) -> str:
    """The author types /draft over HTTP; the ts of its review card."""
    body = urlencode(
        {
            "command": "/draft",
            "text": text,
            "user_id": AUTHOR,
            "channel_id": "C0GEN",
            "team_id": "T0TEAM001",
            "response_url": slack.response_url(),
            "trigger_id": f"{text}.trigger",
        }
    )
    assert running.post("/slack/events", body, signed_headers(body, "application/x-www-form-urlencoded"))[0] == 200
    eventually(lambda: any(text in json.dumps(m.get("blocks")) for m in slack.top_level(REVIEW)), what=f"the card of {text!r}")
    return next(m["ts"] for m in slack.top_level(REVIEW) if text in json.dumps(m.get("blocks")))


def react(running: Running, editor: str, reaction: str, ts: str, event_id: str) -> None:
    event = json.dumps(
        {
            "type": "event_callback",
            "event_id": event_id,
            "team_id": "T0TEAM001",
            "event": {
                "type": "reaction_added",
                "user": editor,
                "reaction": reaction,
                "item": {"type": "message", "channel": REVIEW, "ts": ts},
            },
        }
    )
    assert running.post("/slack/events", event, signed_headers(event, "application/json"))[0] == 200


def test_metrics_after_a_short_loop_count_what_happened_and_hold_no_secret(running: Running, slack, x, environ) -> None:
    slack.fail_next("chat.update", 429, {"Retry-After": "0"})  # the first card redraw is rate limited, then goes
    first = draft(running, slack, "Goes out at once")
    react(running, EDITOR_1, "white_check_mark", first, "EvA1")
    react(running, EDITOR_2, "white_check_mark", first, "EvA2")
    eventually(lambda: x.texts() == ["Goes out at once"], what="the first post on X")

    vetoed = draft(running, slack, "Vetoed")
    react(running, EDITOR_1, "white_check_mark", vetoed, "EvB1")
    react(running, EDITOR_2, "x", vetoed, "EvB2")

    x.answer_next(
        429,
        {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
        {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(4102444800)},  # 2100: the retry waits in the timetable
    )
    limited = draft(running, slack, "Rate limited")
    react(running, EDITOR_1, "white_check_mark", limited, "EvC1")
    react(running, EDITOR_2, "white_check_mark", limited, "EvC2")

    def settled() -> bool:
        _, samples = scrape(running.url)
        return (
            of(samples, "copydesk_publications_total", account="main", network="x", outcome="failed") == 1
            and of(samples, "copydesk_outbox_pending") == 0
            and of(samples, "copydesk_scheduled_jobs", kind="publish") == 1  # its retry planned after its commit
        )

    eventually(settled, what="the rate-limited post failed and Slack told of everything")
    page, samples = scrape(running.url)

    assert by(samples, "copydesk_drafts", "state") == {"published": 1, "rejected": 1, "approved": 1}
    assert of(samples, "copydesk_drafts", account="main", state="in_review") == 0  # every state is there, even at 0
    assert by(samples, "copydesk_votes_total", "vote") == {"approve": 5, "reject": 1}
    assert of(samples, "copydesk_votes_total", account="main", vote="approve") == 5
    assert {k: v for k, v in samples.items() if k[0] == "copydesk_publications_total"} == {
        ("copydesk_publications_total", (("account", "main"), ("network", "x"), ("outcome", "failed"))): 1,
        ("copydesk_publications_total", (("account", "main"), ("network", "x"), ("outcome", "published"))): 1,
    }
    assert of(samples, "copydesk_publish_lateness_seconds_count") == 1
    assert 0 <= of(samples, "copydesk_publish_lateness_seconds_sum") < 10  # due at its approval, out at once
    assert of(samples, "copydesk_publish_lateness_seconds_bucket", le="+Inf") == 1
    assert of(samples, "copydesk_ack_seconds_count") == 9  # three /draft and six reactions, each acknowledged once
    assert 0 < of(samples, "copydesk_ack_seconds_sum") < 9 * 3
    assert {k: v for k, v in samples.items() if k[0] == "copydesk_api_errors_total"} == {
        ("copydesk_api_errors_total", (("kind", "rate_limited"), ("service", "slack"))): 1,
        ("copydesk_api_errors_total", (("kind", "rate_limited"), ("service", "x"))): 1,
    }
    assert of(samples, "copydesk_outbox_pending") == 0
    # the retry after X's reset, the daily digest, and each card's reminder (kept until it wakes and finds nothing to do)
    assert by(samples, "copydesk_scheduled_jobs", "kind") == {"publish": 1, "digest": 1, "remind": 3}

    again = scrape(running.url)[1]  # a scrape reads; it never counts anything twice
    assert {k: v for k, v in again.items() if "ack" not in k[0]} == {k: v for k, v in samples.items() if "ack" not in k[0]}
    assert running.stop() == 0

    lines = [line for line in running.log if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(p) for p in parsed)
    assert any(p["message"].startswith("copydesk listening on http://127.0.0.1:") for p in parsed)
    for name in SECRETS:
        assert environ[name] not in page, name
        assert environ[name] not in "".join(lines), name


def test_a_failing_publication_counts_each_kind_of_x_error(running: Running, slack, x) -> None:
    x.answer_next(503, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503})
    x.answer_next(403, {"title": "Forbidden", "detail": "You are not permitted", "type": "about:blank", "status": 403})
    ts = draft(running, slack, "Unlucky")
    react(running, EDITOR_1, "white_check_mark", ts, "EvD1")
    react(running, EDITOR_2, "white_check_mark", ts, "EvD2")

    def counted() -> bool:
        errors = by(scrape(running.url)[1], "copydesk_api_errors_total", "kind")
        return errors.get("refused", 0) >= 1

    eventually(counted, timeout=20, what="X's refusal counted")
    errors = by(scrape(running.url)[1], "copydesk_api_errors_total", "kind")
    assert errors == {"server_error": 1, "refused": 1}


def socket_run(tmp_path: Path, environ: dict[str, str], *flags: str) -> Running:
    env = {**environ, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""}
    process = start(["run", "--config", str(write_config(tmp_path / "app.yaml")), *flags], env)
    return Running(process, ready=r"connected to Slack \(Socket Mode\)")


def test_socket_mode_serves_metrics_on_the_metrics_port(tmp_path: Path, environ, slack, socket_mode) -> None:
    running = socket_run(tmp_path, environ, "--metrics-port", "0", "--metrics-host", "127.0.0.1")
    try:
        url = running.wait_for_log(r"metrics on (http://127\.0\.0\.1:\d+)/metrics").group(1)
        assert of(scrape(url)[1], "copydesk_ack_seconds_count") == 0
        socket_mode.outbox.put(slash_command("env-cmd-1", AUTHOR, "Through the socket", slack.response_url()))
        assert next_ack(socket_mode, "env-cmd-1") == {"envelope_id": "env-cmd-1"}
        eventually(lambda: of(scrape(url)[1], "copydesk_drafts", account="main", state="in_review") == 1, what="the draft")
        # timed once the ack has left over the socket: a moment after Slack has it
        eventually(lambda: of(scrape(url)[1], "copydesk_ack_seconds_count") == 1, what="the acknowledgement timed")
        with urllib.request.urlopen(url + "/healthz", timeout=10) as response:
            assert json.loads(response.read())["mode"] == "socket"
        assert running.stop() == 0
    finally:
        if running.process.poll() is None:
            running.process.kill()


def test_without_metrics_port_socket_mode_listens_nowhere(tmp_path: Path, environ, slack, socket_mode) -> None:
    running = socket_run(tmp_path, environ)
    try:
        assert listening_ports(running.process.pid) == []
        assert not any("metrics on" in line for line in running.log)
        assert running.stop() == 0
    finally:
        if running.process.poll() is None:
            running.process.kill()


def listening_ports(pid: int) -> list[int]:
    """The TCP ports a process listens on: its socket inodes matched with the kernel's table of listening sockets."""
    inodes = {
        os.readlink(f"/proc/{pid}/fd/{fd}")[len("socket:[") : -1]
        for fd in os.listdir(f"/proc/{pid}/fd")
        if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")
    }
    ports = []
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_an_error_with_a_secret_in_its_exception_is_logged_without_it() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    redactor = Redactor()
    redactor.hide(["xoxb-very-secret-token", "ab"])  # "ab" is too short to blot out: ordinary words stay whole
    handler.addFilter(redactor)
    logger = logging.getLogger("test_operator_metrics.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError("Slack refused Bearer xoxb-very-secret-token")
        except RuntimeError:
            logger.exception(
                "abandoned a call with %s", "xoxb-very-secret-token", extra={"draft_id": 12, "token": "xoxb-very-secret-token"}
            )
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "abandoned a call with <secret>"
    assert record["level"] == "ERROR" and record["logger"] == "test_operator_metrics.redaction"
    assert "RuntimeError: Slack refused Bearer <secret>" in record["exception"]
    assert record["draft_id"] == 12 and record["token"] == "<secret>"
    assert "xoxb-very-secret-token" not in line


def test_every_secret_of_the_config_is_redacted(config) -> None:
    assert {config.slack_bot_token.reveal(), *(s.value for s in _x_keys(config))} <= secrets_in(config)


def test_every_secret_any_network_or_the_ledger_reads_is_redacted(tmp_path: Path, environ, bluesky, mastodon) -> None:
    data = yaml.safe_load(yaml.safe_dump(BASE_CONFIG))
    del data["accounts"]["main"]["handle"]
    data["accounts"]["main"]["networks"] = networks_block(bluesky, mastodon, ("x", "bluesky", "mastodon"))
    data["ledger"] = {"hmac_key_env": "COPYDESK_LEDGER_KEY"}
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(data))
    env = {**environ, **NETWORK_ENV, "SLACK_APP_TOKEN": APP_TOKEN, "COPYDESK_LEDGER_KEY": "k" * 32}
    where = {"SLACK_API_URL", "X_API_URL", "COPYDESK_DB"}  # addresses and paths: every other value here is a secret
    assert {value for name, value in env.items() if name not in where} <= secrets_in(load_config(path, env))


def _x_keys(config) -> list[Any]:
    creds = config.accounts["main"].credentials
    return [creds.consumer_key, creds.consumer_secret, creds.access_token, creds.access_token_secret]


def test_the_domain_never_imports_prometheus_client() -> None:
    probe = (
        f"import sys\nfor name in {DOMAIN!r}: __import__('bot.' + name)\n"
        "print('prometheus_client' in {m.split('.')[0] for m in sys.modules})"
    )
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_bluesky_and_mastodon_errors_are_counted_by_service_and_kind(make_everywhere) -> None:
    bot = make_everywhere()
    bot.bluesky.rate_limit_next("com.atproto.repo.createRecord", int(time.time()) + 3600)
    bot.mastodon.rate_limit_next(reset_in=3600.0)
    bot.command(AUTHOR, "Everywhere but limited")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    eventually(lambda: bot.draft(1).retry_at is not None, what="a planned retry on Bluesky and Mastodon")

    page, _ = bot.services.metrics.page()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(page.decode())
        for s in family.samples
    }
    assert {dict(k)["service"]: (dict(k)["kind"], v) for (n, k), v in samples.items() if n == "copydesk_api_errors_total"} == {
        "bluesky": ("rate_limited", 1),
        "mastodon": ("rate_limited", 1),
    }
    assert by(samples, "copydesk_publications_total", "network") == {"x": 1, "bluesky": 1, "mastodon": 1}


def page_samples(page: bytes) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(page.decode())
        for s in family.samples
    }


def test_a_vote_is_acknowledged_while_a_scrape_is_held_mid_query(bot) -> None:
    bot.command(AUTHOR, "Voted on mid-scrape")
    bot.react(EDITOR_1, "white_check_mark", 1)
    metrics = bot.services.metrics
    [reader] = metrics._readers  # the scrape's own read-only connection: held inside its query, it stops there
    inside, release = threading.Event(), threading.Event()
    deadline = time.monotonic() + 20

    selects: list[str] = []

    def held() -> int:
        if selects:  # inside a SELECT, its read transaction open (BEGIN alone takes no snapshot yet)
            inside.set()
            release.wait(max(0.0, deadline - time.monotonic()))  # called again and again: one deadline for all of them
        return 0  # carry on

    reader._conn.set_trace_callback(lambda sql: selects.append(sql) if sql.startswith("SELECT") else None)
    reader._conn.set_progress_handler(held, 1)
    pages: list[bytes] = []
    scrape = threading.Thread(target=lambda: pages.append(metrics.page()[0]))
    scrape.start()
    try:
        assert inside.wait(10), "the scrape never reached its query"
        response = bot.react(EDITOR_2, "white_check_mark", 1)  # signed, through the Bolt app, as Slack sends it
        assert response.status == 200
        assert scrape.is_alive() and not release.is_set()  # acknowledged while the scrape was still in its query
        assert bot.draft(1).state.value == "published" and [v.user_id for v in bot.ledger.votes(1)] == [EDITOR_1, EDITOR_2]
    finally:
        release.set()
        scrape.join(10)
    assert not scrape.is_alive() and len(pages) == 1
    reader._conn.set_progress_handler(None, 1)  # once it is idle: its owner thread may be in SQLite until then
    reader._conn.set_trace_callback(None)
    assert of(page_samples(pages[0]), "copydesk_votes_total", account="main", vote="approve") in (1, 2)  # its own moment
    after = page_samples(metrics.page()[0])
    assert of(after, "copydesk_votes_total", account="main", vote="approve") == 2  # the vote made meanwhile, once
    assert of(after, "copydesk_publications_total", account="main", network="x", outcome="published") == 1
    assert of(after, "copydesk_publish_lateness_seconds_count") == 1
    assert page_samples(metrics.page()[0]) == after | {
        k: v for k, v in page_samples(metrics.page()[0]).items() if k[0].startswith("copydesk_ack")
    }


def test_an_exception_nothing_caught_is_one_json_line_with_its_secrets_blotted_out() -> None:
    crash = (
        "from bot.runtime import logs; import threading\n"
        "redactor = logs.configure('json'); redactor.hide({'xoxb-crash-secret'})\n"
        "thread = threading.Thread(target=lambda: 1 / 0, name='worker'); thread.start(); thread.join()\n"
        "raise RuntimeError('Slack said no to xoxb-crash-secret')\n"
    )
    done = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 1
    in_thread, in_main = [json.loads(line) for line in done.stderr.strip().splitlines()]
    assert (in_thread["level"], in_thread["message"]) == ("CRITICAL", "uncaught ZeroDivisionError in thread worker")
    assert (in_main["level"], in_main["message"]) == ("CRITICAL", "uncaught RuntimeError")
    assert "Slack said no to <secret>" in in_main["exception"] and "xoxb-crash-secret" not in done.stderr
