"""`copydesk ledger backup` and `copydesk ledger verify`: a consistent copy while the bot runs, and proof nobody rewrote history."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.review import State
from bot.runtime.cli import main
from storage import Ledger
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, Copydesk


def test_a_backup_taken_while_the_bot_runs_holds_everything_so_far(bot: Copydesk, tmp_path: Path, capsys) -> None:
    bot.command(AUTHOR, "Keep me safe")
    bot.react(EDITOR_1, "white_check_mark", 1)
    target = tmp_path / "backup" / "copy.db"
    target.parent.mkdir()

    assert main(["ledger", "backup", str(target), "--db", str(bot.config.db_path)]) == 0

    copy = Ledger.open(target)
    try:
        assert [(d.text, d.state) for d in copy.drafts_in(list(State))] == [("Keep me safe", State.IN_REVIEW)]
        assert [v.user_id for v in copy.votes(1)] == [EDITOR_1]
        assert copy.verify_chain().first_broken is None
    finally:
        copy.close()
    assert "backed up to" in capsys.readouterr().out
    assert main(["ledger", "backup", str(target), "--db", str(bot.config.db_path)]) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err


@pytest.mark.tampered
def test_verify_proves_an_untouched_log_and_names_the_first_changed_event(bot: Copydesk, capsys) -> None:
    bot.command(AUTHOR, "On the record")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.wait_for_state(1, State.PUBLISHED)
    db = str(bot.config.db_path)

    assert main(["ledger", "verify", "--db", db]) == 0
    assert "chain intact" in capsys.readouterr().out

    with sqlite3.connect(db) as conn:  # someone quietly rewrites who approved
        conn.execute("UPDATE events SET actor = 'U0SOMEONE' WHERE action = 'vote_added' AND actor = ?", [EDITOR_2])
    assert main(["ledger", "verify", "--db", db]) == 1
    changed = bot.ledger.events(1)
    first = next(e.id for e in changed if e.actor == "U0SOMEONE")
    assert f"event {first} does not match" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["ledger", "verify"], ["ledger", "backup", "somewhere.db"]])
def test_a_missing_ledger_is_named_not_created(tmp_path: Path, capsys, command: list[str]) -> None:
    missing = tmp_path / "nope.db"
    assert main([*command, "--db", str(missing)]) == 2
    assert f"{missing}: there is no ledger here" in capsys.readouterr().err
    assert not missing.exists()
