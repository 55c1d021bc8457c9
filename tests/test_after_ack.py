"""Work after an acknowledgement waits while Slack's requests are being answered, and runs by the cap at the latest."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.listeners import ListenerPool
from bot.runtime.server import wsgi_app
from tests.support.harness import AUTHOR, REVIEW, Copydesk, signed_headers


@pytest.fixture
def pool() -> Iterator[ListenerPool]:
    made = ListenerPool(max_workers=4, quiet=0.005, cap=30.0)
    yield made
    made.shutdown(wait=True)


def test_work_after_an_ack_waits_until_the_request_being_answered_is_answered(pool: ListenerPool) -> None:
    happened: list[str] = []
    with pool.answering():
        pool.later(happened.append, "card posted")
        # a generous chance to run too early: a gate that did not hold would have let it through by now
        assert not pool.wait_idle(timeout=0.3)
        happened.append("request answered")
    assert pool.wait_idle(timeout=5)
    assert happened == ["request answered", "card posted"]


def test_it_waits_for_every_request_in_flight_not_just_the_one_that_queued_it(pool: ListenerPool) -> None:
    happened: list[str] = []
    second_request_started, second_request_may_end = threading.Event(), threading.Event()

    def another_request() -> None:
        with pool.answering():
            second_request_started.set()
            second_request_may_end.wait(5)
            happened.append("second request answered")

    other = threading.Thread(target=another_request)
    other.start()
    assert second_request_started.wait(5)
    with pool.answering():
        pool.later(happened.append, "card posted")
    assert not pool.wait_idle(timeout=0.3)
    second_request_may_end.set()
    other.join(5)
    assert pool.wait_idle(timeout=5)
    assert happened == ["second request answered", "card posted"]


def test_under_requests_that_never_stop_the_work_still_runs_by_the_cap() -> None:
    capped = ListenerPool(max_workers=2, quiet=0.005, cap=0.3)
    ran = threading.Event()
    try:
        with capped.answering():  # a request that is still being answered when the cap comes
            queued = time.monotonic()
            capped.later(ran.set)
            assert ran.wait(timeout=10), "the work never ran while a request was in flight"
            waited = time.monotonic() - queued
        assert waited >= 0.3
    finally:
        capped.shutdown(wait=True)


def test_shutdown_runs_the_work_still_waiting_for_its_moment(pool: ListenerPool) -> None:
    happened: list[str] = []
    with pool.answering():
        pool.later(happened.append, "card posted")
        pool.shutdown(wait=True)  # a deploy's SIGTERM while a request is answered: nothing is dropped
        assert happened == ["card posted"]


def test_work_that_fails_is_logged_with_its_traceback_and_the_next_still_runs(pool: ListenerPool, caplog) -> None:
    happened: list[str] = []

    def broken() -> None:
        raise RuntimeError("Slack went away")

    with caplog.at_level(logging.ERROR, logger="bot.runtime.listeners"):
        pool.later(broken)
        pool.later(happened.append, "next card posted")
        assert pool.wait_idle(timeout=5)
    assert happened == ["next card posted"]
    [record] = [r for r in caplog.records if r.name == "bot.runtime.listeners"]
    assert "broken" in record.getMessage() and record.exc_info and "Slack went away" in str(record.exc_info[1])


def test_a_draft_over_the_wsgi_server_is_answered_before_its_card_is_posted(bot: Copydesk, tmp_path: Path) -> None:
    """The HTTP path holds the gate: the card (posted by the courier) waits until the response has left the app."""
    order: list[str] = []
    pool = bot.services.listeners
    posted = bot.slack.calls("/api/chat.postMessage")

    def answering():
        return _Recorded(pool.answering(), order, lambda: len(bot.slack.calls("/api/chat.postMessage")) - len(posted))

    application = wsgi_app(bot.app, lambda: {}, answering)
    body = (
        f"command=%2Fdraft&text=Over+WSGI&user_id={AUTHOR}&channel_id=C0GEN&team_id=T0TEAM001"
        f"&response_url={bot.slack.response_url()}&trigger_id=1.2.3"
    )
    headers = {k: v[0] for k, v in signed_headers(body, "application/x-www-form-urlencoded").items()}
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": headers["content-type"],
        "wsgi.input": _Body(body.encode()),
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    }
    statuses: list[str] = []
    answer = b"".join(application(environ, lambda status, _headers: statuses.append(status)))
    assert statuses == ["200 OK"] and answer == b""
    assert bot.services.courier.wait_idle(10) and pool.wait_idle(10)  # the card goes from the outbox, after the answer
    [card] = bot.slack.calls("/api/chat.postMessage")[len(posted) :]
    assert card.body["channel"] == REVIEW
    assert order == ["answering", "answered, 0 cards posted"]


class _Recorded:
    """The pool's answering(), noting how many cards were up when the answer left."""

    def __init__(self, inner, order: list[str], cards) -> None:
        self._inner, self._order, self._cards = inner, order, cards

    def __enter__(self) -> None:
        self._order.append("answering")
        self._inner.__enter__()

    def __exit__(self, *exc) -> None:
        self._order.append(f"answered, {self._cards()} cards posted")
        self._inner.__exit__(*exc)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        chunk, self._data = (self._data, b"") if size < 0 else (self._data[:size], self._data[size:])
        return chunk


def test_the_courier_waiting_for_room_goes_as_soon_as_the_answer_is_given_not_at_the_cap(pool: ListenerPool) -> None:
    """The courier waits in wait_for_room while a request is answered: the answer's end must wake it, queue or not."""
    went = threading.Event()
    with pool.answering():
        courier = threading.Thread(target=lambda: (pool.wait_for_room(30.0), went.set()))
        courier.start()
        assert not went.wait(0.1), "the courier went while a request was being answered"
    assert went.wait(5.0), "the courier waited for its cap although nothing was being answered"
    courier.join()
