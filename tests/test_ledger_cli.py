"""`copydesk ledger backup` and `copydesk ledger verify`: a consistent copy while the bot runs, and proof nobody rewrote history."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


NOBODY = 65534  # a user who owns none of it, as a teammate reading the team's ledger would be


@contextmanager
def as_nobody() -> Iterator[None]:
    """This process acting as another user than the ledger's owner (the test runs as root to be able to), briefly."""
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="only root can run a command as another user")


@AS_ROOT
@pytest.mark.parametrize(
    ("folder", "owner", "said"),
    [
        (0o1777, 0, "would leave its -wal and -shm files owned by you"),  # someone else's, in a folder anyone writes
        (0o755, NOBODY, "where you cannot write"),  # one's own, in a folder one cannot write
    ],
)
def test_a_ledger_no_copydesk_has_open_is_not_read_where_reading_would_leave_files_or_fail(
    capsys, folder: int, owner: int, said: str
) -> None:
    with closed_ledger() as shared:
        os.chown(shared / "ledger.db", owner, owner)
        shared.chmod(folder)
        with as_nobody():
            refused = main(["ledger", "verify", "--db", str(shared / "ledger.db")])
        assert refused == 2
        told = capsys.readouterr().err
        assert "no copydesk has this ledger open" in told and said in told and "(copydesk ledger backup)" in told
        assert sorted(os.listdir(shared)) == ["copy.db", "ledger.db"]  # no file left for the owner's copydesk to trip on


@AS_ROOT
def test_a_backup_reads_anywhere_as_anyone(capsys) -> None:
    with closed_ledger() as shared:
        with as_nobody():
            copied = main(["ledger", "verify", "--db", str(shared / "copy.db")])
        assert copied == 0
        assert "chain intact" in capsys.readouterr().out
        assert sorted(os.listdir(shared)) == ["copy.db", "ledger.db"]


@contextmanager
def closed_ledger() -> Iterator[Path]:
    """A ledger and its backup in a folder others may read (not write), its copydesk stopped cleanly: no -wal, no -shm."""
    shared = Path(tempfile.mkdtemp(prefix="copydesk-shared-"))
    try:
        shared.chmod(0o755)
        ledger = Ledger.open(shared / "ledger.db")
        ledger.backup(shared / "copy.db")
        ledger.close()
        assert sorted(os.listdir(shared)) == ["copy.db", "ledger.db"]
        yield shared
    finally:
        shutil.rmtree(shared)
