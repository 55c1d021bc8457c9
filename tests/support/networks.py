"""An account on X, Bluesky and Mastodon at once: the three loopback services and an app.yaml with a networks block."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_config
from bot.desk import Clock, utc_now
from tests.fakes.bluesky_pds import APP_PASSWORD, FakeBluesky
from tests.fakes.mastodon_api import ACCESS_TOKEN, FakeMastodon
from tests.fakes.slack_api import FakeSlack
from tests.fakes.x_api import FakeX
from tests.support.harness import BASE_CONFIG, Copydesk

BLUESKY_HANDLE = "aplusk.bsky.social"
MASTODON_HANDLE = "aplusk@mastodon.example"
NETWORK_ENV = {"BLUESKY_APP_PASSWORD": APP_PASSWORD, "MASTODON_ACCESS_TOKEN": ACCESS_TOKEN}


class Everywhere(Copydesk):
    """A running copydesk whose main account is on X, Bluesky and Mastodon; the fakes of all three are at hand."""

    bluesky: FakeBluesky
    mastodon: FakeMastodon


def networks_block(bluesky: FakeBluesky, mastodon: FakeMastodon, only: tuple[str, ...] = ("x", "bluesky", "mastodon")) -> dict:
    """The issue's example, pointed at the loopback services."""
    block = {
        "x": {"handle": "aplusk"},
        "bluesky": {"handle": BLUESKY_HANDLE, "service": bluesky.url, "credentials": {"app_password": "BLUESKY_APP_PASSWORD"}},
        "mastodon": {
            "handle": MASTODON_HANDLE,
            "instance": mastodon.url,
            "credentials": {"access_token": "MASTODON_ACCESS_TOKEN"},
        },
    }
    return {name: block[name] for name in only}


@pytest.fixture
def bluesky() -> Iterator[FakeBluesky]:
    fake = FakeBluesky().start()
    yield fake
    fake.stop()


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    fake = FakeMastodon().start()
    yield fake
    fake.stop()


@pytest.fixture
def make_everywhere(
    slack: FakeSlack,
    x: FakeX,
    bluesky: FakeBluesky,
    mastodon: FakeMastodon,
    tmp_path: Path,
    environ: dict[str, str],
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., Everywhere]]:
    """Start copydesk for an account on all three networks (or `only` some), with account settings overridden."""
    started: list[Everywhere] = []

    def make(
        overrides: dict[str, Any] | None = None,
        *,
        only: tuple[str, ...] = ("x", "bluesky", "mastodon"),
        top_level: dict[str, Any] | None = None,
        clock: Clock = utc_now,
        jitter: Callable[[], float] = lambda: 1.0,
    ) -> Everywhere:
        data = yaml.safe_load(yaml.safe_dump(BASE_CONFIG))
        main = data["accounts"]["main"]
        del main["handle"]
        main["networks"] = networks_block(bluesky, mastodon, only)
        main.update(overrides or {})
        data.update(top_level or {})
        path = tmp_path / "app.yaml"
        path.write_text(yaml.safe_dump(data))
        config = load_config(path, {**environ, **NETWORK_ENV})
        desk = Everywhere(config, slack, x, clock=clock, jitter=jitter)
        desk.bluesky, desk.mastodon = bluesky, mastodon
        started.append(desk.start())  # type: ignore[arg-type]
        return desk

    yield make
    for desk in started:
        desk.stop()
    if started:
        assert started[-1].audited() == [], "the ledger disagrees with its own event log"


@pytest.fixture
def everywhere(make_everywhere: Callable[..., Everywhere]) -> Everywhere:
    return make_everywhere()
