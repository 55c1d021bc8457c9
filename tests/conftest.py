"""Fixtures: the loopback Slack and X, an app.yaml, and a running copydesk driven by signed requests (tests/support)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, load_config
from bot.desk import Clock, utc_now
from tests.fakes.slack_api import BOT_TOKEN, BOT_USER_ID, FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.fakes.x_api import X_ENV, FakeX
from tests.support.harness import (
    AUTHOR,
    EDITOR_1,
    EDITOR_2,
    EDITOR_3,
    REVIEW,
    SIGNING_SECRET,
    Copydesk,
    write_config,
)
from tests.support.networks import bluesky, everywhere, make_everywhere, mastodon  # noqa: F401  (fixtures)


@pytest.fixture
def socket_mode(slack: FakeSlack) -> Iterator[FakeSocketMode]:
    """Slack's Socket Mode endpoint on loopback, handed out by the fake Slack's apps.connections.open."""
    fake = FakeSocketMode().start()
    slack.socket_url = fake.url
    yield fake
    fake.stop()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.add_channel(REVIEW, [BOT_USER_ID, AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3])  # private; OUTSIDER is not in it
    yield fake
    fake.stop()


@pytest.fixture
def x() -> Iterator[FakeX]:
    fake = FakeX().start()
    yield fake
    fake.stop()


@pytest.fixture
def environ(slack: FakeSlack, x: FakeX, tmp_path: Path) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "X_API_URL": x.url,
        "COPYDESK_DB": str(tmp_path / "ledger.db"),
        **X_ENV,
    }


@pytest.fixture
def config(tmp_path: Path, environ: dict[str, str]) -> Config:
    return load_config(write_config(tmp_path / "app.yaml"), environ)


@pytest.fixture
def bot(config: Config, slack: FakeSlack, x: FakeX, request: pytest.FixtureRequest) -> Iterator[Copydesk]:
    """A running copydesk; afterwards its ledger must pass `copydesk ledger verify`, whatever the test did through Slack."""
    desk = Copydesk(config, slack, x).start()
    yield desk
    desk.stop()
    if not request.node.get_closest_marker("tampered"):
        assert desk.audited() == [], "the ledger disagrees with its own event log"


@pytest.fixture
def make_bot(
    slack: FakeSlack, x: FakeX, tmp_path: Path, environ: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[Any]:
    """Start copydesk with account settings overridden, or a clock of its own; all are stopped afterwards."""
    started: list[Copydesk] = []

    def make(
        overrides: dict[str, Any] | None = None,
        *,
        top: dict[str, Any] | None = None,
        clock: Clock = utc_now,
        env: dict[str, str] | None = None,
        jitter: Callable[[], float] = lambda: 1.0,
    ) -> Copydesk:
        config = load_config(write_config(tmp_path / "app.yaml", overrides, top), {**environ, **(env or {})})
        desk = Copydesk(config, slack, x, clock=clock, jitter=jitter).start()
        started.append(desk)
        return desk

    yield make
    for desk in started:
        desk.stop()
    if started and not request.node.get_closest_marker("tampered"):
        assert started[-1].audited() == [], "the ledger disagrees with its own event log"
