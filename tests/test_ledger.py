"""The ledger: plain SQLite with self-explaining tables, WAL, foreign keys and migrations from day one."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.errors import LedgerError
from bot.review import Kind, State, Vote
from storage import Ledger
from storage.migrations import names
from tests.support.ledger_file import tamper

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
EVERY_MIGRATION = names()  # in the order they are defined, which is the order they run


@pytest.fixture
def ledger(tmp_path: Path):
    opened = Ledger.open(tmp_path / "ledger.db")
    yield opened
    opened.close()


def add(ledger: Ledger, text: str = "Hello"):
    from bot.content import content_sha256

    return ledger.add_draft(
        account="main",
        author_id="U0A",
        text=text,
        publish_at=None,
        review_channel="C0R",
        origin_channel=None,
        at=NOW,
        content_sha256=content_sha256(text, []),
    )


def test_a_new_ledger_has_the_schema_wal_and_foreign_keys(tmp_path: Path, ledger: Ledger) -> None:
    db = Database(tmp_path / "ledger.db")
    assert set(db.table_names()) >= {
        "drafts",
        "votes",
        "publications",
        "events",
        "slack_events_seen",
        "digests",
        "_sqlite_migrations",
    }
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger.schema_version() == EVERY_MIGRATION
    assert {c.name for c in db["drafts"].columns} >= {"account", "author_user_id", "text", "publish_at", "state", "card_ts"}
    assert {fk.other_table for fk in db["votes"].foreign_keys} == {"drafts"}


def test_foreign_keys_and_states_are_enforced(tmp_path: Path, ledger: Ledger) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        ledger.add_vote(999, Vote("U0E", "x", Kind.REJECT), at=NOW)
    draft = add(ledger)
    with pytest.raises(sqlite3.IntegrityError):  # not even by hand: the schema itself refuses it
        tamper(tmp_path / "ledger.db", "UPDATE drafts SET state = 'limbo' WHERE id = ?", [draft.id])


def test_a_failed_transaction_leaves_nothing_behind(ledger: Ledger) -> None:
    draft = add(ledger)
    with pytest.raises(RuntimeError):
        with ledger.transaction():
            ledger.add_vote(draft.id, Vote("U0E", "white_check_mark", Kind.APPROVE), at=NOW)
            ledger.move(draft.id, State.APPROVED, only_from=[State.IN_REVIEW], at=NOW)
            raise RuntimeError("crash between two writes")
    assert ledger.votes(draft.id) == [] and ledger.draft(draft.id).state is State.IN_REVIEW


def test_reopening_keeps_everything_and_migrates_nothing_twice(tmp_path: Path, ledger: Ledger) -> None:
    add(ledger, "kept")
    ledger.close()
    again = Ledger.open(tmp_path / "ledger.db")
    assert [d.text for d in again.drafts_in([State.IN_REVIEW])] == ["kept"]
    assert again.schema_version() == EVERY_MIGRATION
    again.close()


def test_a_ledger_from_a_newer_copydesk_is_refused(tmp_path: Path, ledger: Ledger) -> None:
    ledger.close()
    db = Database(tmp_path / "ledger.db")
    db["_sqlite_migrations"].insert({"migration_set": "copydesk", "name": "m999_future", "applied_at": "2030"})
    db.close()
    with pytest.raises(LedgerError, match="newer copydesk"):
        Ledger.open(tmp_path / "ledger.db")


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("these are my notes, not a database" * 100)
    with pytest.raises(LedgerError, match="notes.db: cannot be opened as a copydesk ledger"):
        Ledger.open(tmp_path / "notes.db")


def test_move_only_from_the_expected_states(ledger: Ledger) -> None:
    draft = add(ledger)
    assert ledger.move(draft.id, State.APPROVED, only_from=[State.IN_REVIEW], at=NOW)
    assert not ledger.move(draft.id, State.PUBLISHING, only_from=[State.IN_REVIEW], at=NOW)
    assert ledger.draft(draft.id).state is State.APPROVED


def test_the_event_log_is_hash_chained_and_an_edited_or_removed_row_is_named(tmp_path: Path, ledger: Ledger) -> None:
    for text in ("one", "two", "three"):
        add(ledger, text)
    intact = ledger.verify_chain()
    assert (intact.events, intact.first_broken) == (3, None) and len(intact.head) == 64

    tamper(tmp_path / "ledger.db", "UPDATE events SET actor = 'U0FORGER' WHERE id = 2")
    assert ledger.verify_chain().first_broken == 2

    tamper(tmp_path / "ledger.db", "UPDATE events SET actor = 'U0A' WHERE id = 2")
    assert ledger.verify_chain().first_broken is None
    tamper(tmp_path / "ledger.db", "DELETE FROM events WHERE id = 2")
    assert ledger.verify_chain().first_broken == 3


def test_a_first_release_ledger_is_migrated_with_its_rows_kept_and_chained(tmp_path: Path) -> None:
    import sqlite3

    from storage.migrations import migrations

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m002_safety")
    db.execute(
        "INSERT INTO drafts (id, account, author_user_id, text, state, review_channel_id, created_at, updated_at) "
        "VALUES (1, 'main', 'U0A', 'kept', 'approved', 'C0R', '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z')"
    )
    db.execute("INSERT INTO votes VALUES (1, 'U0E', 'white_check_mark', 'approve', '2026-11-01T00:00:00.000Z')")
    db.execute(
        "INSERT INTO events (at, draft_id, actor, action, detail) VALUES ('2026-11-01T00:00:00.000Z', 1, 'U0A', 'drafted', NULL)"
    )
    db.conn.commit()
    db.conn.close()

    reopened = Ledger.open(path)
    try:
        assert reopened.schema_version() == EVERY_MIGRATION
        draft = reopened.draft(1)
        assert draft is not None and (draft.text, draft.state, draft.notice) == ("kept", State.APPROVED, None)
        assert [v.user_id for v in reopened.votes(1)] == ["U0E"]
        assert reopened.verify_chain().first_broken is None
        assert reopened.audit() == []  # the migration recorded a baseline of every draft, its votes and publications
        assert [e.action for e in reopened.events(1)] == ["drafted", "baseline"]
        assert {(v.version, v.content_sha256) for v in reopened.votes(1)} == {(1, draft.content_sha256)} != {(1, "")}
        reopened.move(1, State.HELD, only_from=[State.APPROVED], at=NOW)  # the new states are allowed
        with pytest.raises(sqlite3.IntegrityError):
            reopened.add_vote(99, Vote("U0E", "x", Kind.REJECT), at=NOW)  # foreign keys are back on
    finally:
        reopened.close()


def test_a_backup_is_a_whole_consistent_ledger(tmp_path: Path, ledger: Ledger) -> None:
    add(ledger, "backed up")
    ledger.backup(tmp_path / "copy.db")
    copy = Ledger.open(tmp_path / "copy.db")
    try:
        assert [d.text for d in copy.drafts_in([State.IN_REVIEW])] == ["backed up"]
        assert copy.verify_chain() == ledger.verify_chain()
    finally:
        copy.close()


def test_migrations_run_in_order_and_threads_and_images_come_after_the_safety_release() -> None:
    names = EVERY_MIGRATION
    assert names[:2] == ["m001_initial", "m002_safety"] and names == sorted(names)
    assert "m004_threads_media" in names


def test_a_drafts_images_are_kept_in_order_with_their_bytes(ledger: Ledger) -> None:
    from bot.images import Image

    draft = add(ledger)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 20
    ledger.add_images(draft.id, [Image.of("a.png", png, slack_file_id="F01")], at=NOW)
    ledger.add_images(draft.id, [Image.of("b.png", png + b"b")], at=NOW)
    described = ledger.images(draft.id)
    assert [(i.name, i.size, i.data, i.slack_file_id) for i in described] == [("a.png", 28, b"", "F01"), ("b.png", 29, b"", None)]
    assert [i.data for i in ledger.images(draft.id, with_bytes=True)] == [png, png + b"b"]
    ledger.remove_images(draft.id)
    assert ledger.images(draft.id) == []


def test_a_plain_ledger_is_keyed_only_on_purpose_and_then_opens_only_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "keyed.db"
    plain = Ledger.open(path)
    add(plain, "before the key")
    plain.close()
    key = b"k" * 40

    with pytest.raises(LedgerError, match="run `copydesk ledger key` once"):  # a plain chain may be a rebuilt one
        Ledger.open(path, key=key)
    keyed = Ledger.open(path, key=key, rekey=True)
    assert keyed.chain_mode() == "hmac-sha256" and keyed.verify_chain(key).first_broken is None
    add(keyed, "after the key")
    assert keyed.verify_chain(key).first_broken is None and keyed.verify_chain(None).first_broken == 1
    keyed.close()

    with pytest.raises(LedgerError, match="keyed"):
        Ledger.open(path)
    with pytest.raises(LedgerError, match="not the one"):
        Ledger.open(path, key=b"w" * 40)
    Ledger.open(path, key=key).close()


def test_a_new_ledger_with_a_key_is_keyed_from_its_first_event(tmp_path: Path) -> None:
    key = b"k" * 40
    fresh = Ledger.open(tmp_path / "new.db", key=key)
    add(fresh, "first")
    assert fresh.chain_mode() == "hmac-sha256" and fresh.verify_chain(key).first_broken is None
    fresh.close()


def test_a_broken_plain_chain_is_not_keyed(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    plain = Ledger.open(path)
    add(plain, "changed later")
    tamper(path, "UPDATE events SET actor = 'U0SOMEONE' WHERE id = 1")
    plain.close()

    with pytest.raises(LedgerError, match="changed at event 1"):
        Ledger.open(path, key=b"k" * 40, rekey=True)


def sent_on_one_approval(ledger: Ledger, voter: str, **sending: object) -> tuple[int, int]:
    """A draft with `voter`'s approval in the log, then a `publishing` event that claims `sending`; (draft, publication)."""
    from bot.content import content_sha256

    sha = content_sha256("Sent", [])
    draft = ledger.add_draft(
        account="main",
        author_id="U0A",
        text="Sent",
        publish_at=None,
        review_channel="C0R",
        origin_channel=None,
        at=NOW,
        content_sha256=sha,
    )
    ledger.add_vote(draft.id, Vote(voter, "white_check_mark", Kind.APPROVE, 1, sha), at=NOW)
    ledger.log(
        "vote_added",
        actor=voter,
        at=NOW,
        draft_id=draft.id,
        vote="approve",
        reaction="white_check_mark",
        version=1,
        content_sha256=sha,
    )
    publication = ledger.start_publication(ledger.draft(draft.id), "aplusk", at=NOW)  # type: ignore[arg-type]
    ledger.log(
        "publishing",
        actor="copydesk",
        at=NOW,
        draft_id=draft.id,
        publication_id=publication,
        version=1,
        content_sha256=sha,
        authors=["U0A"],
        self_approval=False,
        **sending,
    )
    return draft.id, publication


def test_audit_names_a_sending_whose_approvals_the_log_does_not_show(ledger: Ledger) -> None:
    draft, publication = sent_on_one_approval(ledger, "U0E1", approvers=["U0E1", "U0E2"], required=2)

    assert ledger.audit() == [
        f"#{draft}: publication {publication} names approvals the log does not show for that content (U0E2) (event 3)"
    ]


def test_audit_names_a_sending_that_counted_someone_who_was_not_an_editor(ledger: Ledger) -> None:
    draft, publication = sent_on_one_approval(ledger, "U0X", approvers=["U0X"], required=1, editors=["U0E1"])

    assert ledger.audit() == [
        f"#{draft}: publication {publication} counted approvals of people who were not editors then (U0X) (event 3)"
    ]
