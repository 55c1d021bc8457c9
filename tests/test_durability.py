"""ledger.synchronous: how hard SQLite works to put each commit on disk, from app.yaml to the open connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.review import State
from bot.runtime.app import build_services
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, Copydesk, write_config

NORMAL, FULL = 1, 2  # what PRAGMA synchronous reads back


def synchronous_of(config_top: dict | None, tmp_path: Path, environ: dict[str, str]) -> int:
    services = build_services(load_config(write_config(tmp_path / "app.yaml", top=config_top), environ))
    try:
        return services.ledger.pragma("synchronous")
    finally:
        services.stop()


def test_by_default_the_ledger_syncs_at_checkpoints_which_survives_a_killed_process(tmp_path: Path, environ) -> None:
    assert synchronous_of(None, tmp_path, environ) == NORMAL


@pytest.mark.parametrize("level, expected", [("full", FULL), ("normal", NORMAL), ("FULL", FULL)])
def test_ledger_synchronous_in_app_yaml_reaches_sqlite(level: str, expected: int, tmp_path: Path, environ) -> None:
    assert synchronous_of({"ledger": {"synchronous": level}}, tmp_path, environ) == expected


@pytest.mark.parametrize("ledger", [{"synchronous": "off"}, {"synchronous": 0}, "full"])
def test_a_level_that_could_lose_or_corrupt_the_ledger_is_refused_by_name(ledger, tmp_path: Path, environ) -> None:
    with pytest.raises(ConfigError, match=r"ledger"):
        load_config(write_config(tmp_path / "app.yaml", top={"ledger": ledger}), environ)


def test_off_is_named_with_the_levels_allowed(tmp_path: Path, environ) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(tmp_path / "app.yaml", top={"ledger": {"synchronous": "off"}}), environ)
    assert str(raised.value) == "app.yaml: ledger.synchronous must be normal or full, not 'off'"


def test_the_claim_before_a_post_goes_to_x_is_synced_to_disk_even_with_normal(bot: Copydesk) -> None:
    """A power cut must not undo the claim: the restart would find the draft approved and post it a second time."""
    statements: list[str] = []
    with bot.ledger.trace(statements.append):
        bot.command(AUTHOR, "Claimed on disk before X hears of it")
        bot.react(EDITOR_1, "white_check_mark", 1)
        bot.react(EDITOR_2, "white_check_mark", 1)
        bot.wait_for_state(1, State.PUBLISHED)

    synced = [i for i, sql in enumerate(statements) if sql == "PRAGMA synchronous = FULL"]
    assert len(synced) == 1, "only the claim commits with FULL; drafts, votes and the outbox keep ledger.synchronous"
    claim = statements[synced[0] : statements.index("PRAGMA synchronous = NORMAL", synced[0])]
    assert any(sql.startswith("INSERT INTO publications") or "publications" in sql for sql in claim), claim
    assert bot.ledger.pragma("synchronous") == NORMAL
