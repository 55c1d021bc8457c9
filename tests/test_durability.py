"""ledger.synchronous: how hard SQLite works to put each commit on disk, from app.yaml to the open connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_services
from bot.config import load_config
from bot.errors import ConfigError
from tests.conftest import write_config

NORMAL, FULL = 1, 2  # what PRAGMA synchronous reads back


def synchronous_of(config_top: dict | None, tmp_path: Path, environ: dict[str, str]) -> int:
    services = build_services(load_config(write_config(tmp_path / "app.yaml", top=config_top), environ))
    try:
        return services.ledger._db.execute("PRAGMA synchronous").fetchone()[0]
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
