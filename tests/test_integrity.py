"""What the editors approved is exactly what goes out: votes bound to versions, roles without loopholes, a ledger that proves it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.content import content_sha256
from bot.errors import LedgerError
from bot.review import State
from bot.runtime.cli import main
from handlers import render
from storage import Ledger
from tests.fakes.http import Reply
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3, REVIEW, Copydesk, MovableClock
from tests.support.ledger_file import peek, tamper

ADMIN = "U0ADMIN01"
KEY = "k3y-" + "0123456789abcdef" * 3  # 52 characters
FAST = {"x_timeout_seconds": 2, "x_retry": {"first_delay_seconds": 0.05}}  # X's usual answers fit in 2 s, under load too


def approve(bot: Copydesk, number: int, *editors: str) -> None:
    for editor in editors or (EDITOR_1, EDITOR_2):
        bot.react(editor, "white_check_mark", number)


# a vote counts only for the card and version it was cast on


def test_a_reaction_read_before_an_edit_does_not_count_for_the_edited_words(make_bot) -> None:
    bot = make_bot({"approvals_required": 1})
    bot.command(AUTHOR, "at:+1d Version one")
    old_card = bot.draft(1).card_ts
    read, go = threading.Event(), threading.Event()
    looked_up = bot.ledger.draft_for_card

    def slow_reader(channel: str, ts: str):  # the reaction has found the draft by its card; the edit lands right now
        found = looked_up(channel, ts)
        if ts == old_card and not read.is_set():
            read.set()
            assert go.wait(10)
        return found

    bot.ledger.draft_for_card = slow_reader  # type: ignore[method-assign]
    reacting = threading.Thread(target=lambda: bot.react_on(EDITOR_1, "white_check_mark", REVIEW, old_card, settle=False))
    reacting.start()
    assert read.wait(10)
    bot.command(AUTHOR, "edit #1 Version two, which nobody has read")
    go.set()
    reacting.join(10)
    bot.slack_told()

    draft = bot.draft(1)
    assert (draft.version, draft.state, draft.text) == (2, State.IN_REVIEW, "Version two, which nobody has read")
    assert bot.ledger.votes(1) == []
    assert "vote_added" not in [e.action for e in bot.ledger.events(1)]


def test_a_message_of_another_app_that_claims_to_be_a_card_counts_for_nothing(make_bot) -> None:
    bot = make_bot({"approvals_required": 1})
    bot.command(AUTHOR, "at:+1d The real words")
    claim = {"event_type": "copydesk_card", "event_payload": {"draft_id": 1, "version": 1}}
    forged = bot.slack.post_as_other_app(REVIEW, "Totally different words", claim)

    bot.react_on(EDITOR_1, "white_check_mark", REVIEW, forged)

    assert bot.draft(1).state is State.IN_REVIEW and bot.ledger.votes(1) == []
    assert bot.draft(1).card_ts != forged


def test_a_reaction_on_the_old_card_while_an_edit_is_being_written_counts_for_nothing(make_bot) -> None:
    bot = make_bot({"approvals_required": 1})
    bot.command(AUTHOR, "at:+1d Version one")
    old_card = bot.draft(1).card_ts
    writing, done = threading.Event(), threading.Event()
    rewrite = bot.ledger.rewrite

    def held_open(*args, **kwargs):  # the edit's transaction stays open (the ledger held) until the reaction has come
        rewrite(*args, **kwargs)
        writing.set()
        assert done.wait(10)

    arrived, look_up = threading.Event(), bot.ledger.draft_for_card

    def arriving(channel: str, ts: str):  # the reaction has reached the desk and now waits for the ledger
        arrived.set()
        return look_up(channel, ts)

    bot.ledger.rewrite = held_open  # type: ignore[method-assign]
    bot.ledger.draft_for_card = arriving  # type: ignore[method-assign]
    editing = threading.Thread(target=lambda: bot.command(AUTHOR, "edit #1 Version two, which nobody has read", settle=False))
    editing.start()
    assert writing.wait(10)
    reacting = threading.Thread(target=lambda: bot.react_on(EDITOR_1, "white_check_mark", REVIEW, old_card, settle=False))
    reacting.start()
    assert arrived.wait(10)
    done.set()
    editing.join(10)
    reacting.join(10)
    bot.slack_told()

    draft = bot.draft(1)
    assert (draft.version, draft.state) == (2, State.IN_REVIEW) and bot.ledger.votes(1) == []
    assert "vote_added" not in [e.action for e in bot.ledger.events(1)]


def test_every_vote_and_publication_records_the_version_and_content_it_was_for(bot: Copydesk) -> None:
    bot.command(AUTHOR, "at:+1d First words")
    bot.command(AUTHOR, "edit #1 Second words")
    approve(bot, 1)
    draft = bot.draft(1)
    assert draft.content_sha256 == content_sha256("Second words", [])
    assert {(v.version, v.content_sha256) for v in bot.ledger.votes(1)} == {(2, draft.content_sha256)}
    events = {e.action: e.detail for e in bot.ledger.events(1)}
    assert (events["drafted"]["text"], events["edited"]["after"]) == ("First words", "Second words")
    assert events["edited"]["content_sha256"] == events["vote_added"]["content_sha256"] == draft.content_sha256


def test_a_publication_records_the_content_sent_and_the_approvals_it_was_sent_on(bot: Copydesk) -> None:
    bot.command(AUTHOR, "Out it goes")
    approve(bot, 1)
    draft = bot.wait_for_state(1, State.PUBLISHED)

    [publication] = bot.ledger.publications(1)
    [row] = peek(bot.config.db_path, "SELECT version, content_sha256 FROM publications WHERE id = ?", [publication.id])
    assert tuple(row) == (1, draft.content_sha256)
    sending = next(e.detail for e in bot.ledger.events(1) if e.action == "publishing")
    assert sending["content_sha256"] == draft.content_sha256 and sorted(sending["approvers"]) == [EDITOR_1, EDITOR_2]
    assert (sending["required"], sending["authors"], sending["editors"]) == (2, [AUTHOR], [EDITOR_1, EDITOR_2, EDITOR_3])


# role rules without loopholes


def test_an_admin_who_edits_a_draft_cannot_approve_their_own_version(make_bot) -> None:
    bot = make_bot({"editors": [ADMIN, EDITOR_1], "approvals_required": 1})
    bot.command(AUTHOR, "at:+1d The author's words")
    bot.command(ADMIN, "edit #1 The admin's words")

    bot.react(ADMIN, "white_check_mark", 1)

    assert bot.draft(1).state is State.IN_REVIEW and bot.ledger.votes(1) == []
    assert "whoever changed a draft counts as its author" in bot.slack.ephemerals()[-1]["text"]
    bot.press(ADMIN, render.APPROVE, 1)
    assert bot.draft(1).state is State.IN_REVIEW
    bot.react(EDITOR_1, "white_check_mark", 1)  # someone who did not write it
    assert bot.draft(1).state is State.APPROVED


def failed(make_bot) -> Copydesk:
    bot = make_bot(top=FAST)
    bot.x.answer_next(
        400,
        {
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "about:blank",
            "status": 400,
        },
    )
    bot.command(AUTHOR, "Refused by X once")
    approve(bot, 1)
    bot.wait_for_state(1, State.FAILED)
    return bot


def test_a_veto_on_a_failed_draft_stops_publish_now(make_bot) -> None:
    bot = failed(make_bot)

    bot.react(EDITOR_3, "x", 1)
    refused = bot.press(EDITOR_1, "copydesk_publish_again", 1)

    assert "1 veto" in bot.private_answer(refused)
    assert bot.draft(1).state is State.FAILED and bot.x.texts() == []


def test_an_approval_taken_back_on_a_failed_draft_stops_publish_now(make_bot) -> None:
    bot = failed(make_bot)

    bot.react(EDITOR_2, "white_check_mark", 1, removed=True)
    refused = bot.press(EDITOR_1, "copydesk_publish_again", 1)

    assert "1 of 2" in bot.private_answer(refused)
    assert bot.draft(1).state is State.FAILED and bot.x.texts() == []


def test_an_editor_removed_from_app_yaml_no_longer_counts_after_a_restart(make_bot) -> None:
    first = make_bot()
    first.command(AUTHOR, "at:+1d Approved by someone who left")
    approve(first, 1)
    assert first.draft(1).state is State.APPROVED
    first.stop()

    bot = make_bot({"editors": [EDITOR_2, EDITOR_3]})  # EDITOR_1 left the team

    draft = bot.draft(1)
    assert draft.state is State.IN_REVIEW and "no longer counts" in (draft.notice or "")
    bot.react(EDITOR_3, "white_check_mark", 1)
    assert bot.draft(1).state is State.APPROVED  # EDITOR_2's approval still stands, with EDITOR_3's


@pytest.mark.tampered
def test_nothing_is_sent_when_the_ledger_holds_other_words_than_were_approved(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "at:+1h The approved words")
    approve(bot, 1)
    # someone with the file changes the words after the approval
    tamper(bot.config.db_path, "UPDATE drafts SET text = 'Words nobody approved' WHERE id = 1")

    clock.advance(hours=2)
    bot.desk.publishing.publish(1)  # what the scheduler's job does at the draft's time

    draft = bot.draft(1)
    assert draft.state is State.HELD and "not the content" in (draft.notice or "")
    assert bot.x.calls("/2/tweets") == []


def test_a_held_post_that_may_be_live_cannot_be_withdrawn_only_settled(make_bot) -> None:
    bot = make_bot(top=FAST)
    bot.x.answer_next(201, {"data": {"id": "1", "text": "x"}}, delay=5)  # hangs: X may or may not have it
    bot.x.timeline_replies.append(Reply(500, {"title": "Internal", "status": 500, "type": "about:blank", "detail": "err"}))
    bot.command(AUTHOR, "Maybe out there")
    approve(bot, 1)
    assert bot.wait_for_state(1, State.HELD).may_be_live

    answer = bot.private_answer(bot.command(AUTHOR, "cancel #1"))

    assert "may already be on X" in answer and bot.draft(1).state is State.HELD
    bot.command(EDITOR_1, "mark-published #1 https://x.com/aplusk/status/1790000000000000099")
    assert bot.draft(1).state is State.PUBLISHED and not bot.draft(1).may_be_live


# the ledger proves it


def verify(bot: Copydesk, db: Path, capsys, *extra: str) -> tuple[int, str]:
    code = main(["ledger", "verify", "--db", str(db), *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def published(bot: Copydesk, text: str = "On the record") -> None:
    bot.command(AUTHOR, text)
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    bot.command(AUTHOR, "at:+1d Still in review")
    bot.react(EDITOR_3, "white_check_mark", 2)


def copy_of(bot: Copydesk, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    bot.ledger.backup(target)
    return target


def test_verify_proves_the_tables_agree_with_the_log_and_names_the_draft_someone_changed(
    bot: Copydesk, tmp_path: Path, capsys
) -> None:
    published(bot)
    clean = copy_of(bot, tmp_path, "clean.db")
    code, said = verify(bot, clean, capsys)
    assert code == 0 and "plain SHA-256" in said and "agree with the event log" in said

    cases = {
        "text.db": "UPDATE drafts SET text = 'Something else' WHERE id = 2",
        "vote_added.db": f"INSERT INTO votes (draft_id, user_id, reaction, vote, cast_at, version, content_sha256) "
        f"SELECT 2, '{EDITOR_1}', 'white_check_mark', 'approve', 'now', version, content_sha256 FROM drafts WHERE id = 2",
        "vote_removed.db": f"DELETE FROM votes WHERE draft_id = 2 AND user_id = '{EDITOR_3}'",
        "publication.db": "INSERT INTO publications (draft_id, account, handle, started_at, outcome, version, content_sha256) "
        "VALUES (2, 'main', 'aplusk', 'now', 'published', 1, 'x')",
    }
    for name, change in cases.items():
        tampered = copy_of(bot, tmp_path, name)
        with sqlite3.connect(tampered) as conn:
            conn.execute(change)
        code, said = verify(bot, tampered, capsys)
        assert code == 1 and "#2:" in said, (name, said)
        assert "#1:" not in said, (name, said)


def test_a_keyed_chain_cannot_be_rebuilt_without_the_secret(make_bot, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COPYDESK_LEDGER_KEY", KEY)
    bot = make_bot(top={"ledger": {"hmac_key_env": "COPYDESK_LEDGER_KEY"}}, env={"COPYDESK_LEDGER_KEY": KEY})
    published(bot)
    config = str(tmp_path / "app.yaml")
    assert bot.ledger.chain_mode() == "hmac-sha256"

    code, said = verify(bot, copy_of(bot, tmp_path, "keyed.db"), capsys, "--config", config)
    assert code == 0 and "keyed: HMAC-SHA256 with the secret in COPYDESK_LEDGER_KEY" in said

    forged = copy_of(bot, tmp_path, "forged.db")
    rebuild_without_the_key(forged, "Words nobody approved", plain=False)
    code, said = verify(bot, forged, capsys, "--config", config)
    assert code == 1 and "does not match the chain" in said

    relabelled = copy_of(bot, tmp_path, "relabelled.db")  # and calling the rebuilt chain plain does not help
    rebuild_without_the_key(relabelled, "Words nobody approved")
    code, said = verify(bot, relabelled, capsys, "--config", config)
    assert code == 1 and "rebuilt the chain without the key" in said

    with pytest.raises(LedgerError, match="plain SHA-256"):  # nor does starting copydesk on it with the key: it is refused
        Ledger.open(relabelled, key=KEY.encode())

    monkeypatch.delenv("COPYDESK_LEDGER_KEY")
    code, said = verify(bot, copy_of(bot, tmp_path, "nokey.db"), capsys, "--config", str(tmp_path / "absent.yaml"))
    assert code == 1 and "keyed" in said


def test_a_plain_chain_rebuilt_by_someone_with_the_file_passes_as_the_readme_says(bot: Copydesk, tmp_path: Path, capsys) -> None:
    published(bot)
    forged = copy_of(bot, tmp_path, "forged.db")
    rebuild_without_the_key(forged, "Words nobody approved")
    code, said = verify(bot, forged, capsys)
    assert code == 0 and "anyone who can write the file could" in said  # the limit the README states, and why to key it


def rebuild_without_the_key(path: Path, text: str, *, plain: bool = True) -> None:
    """What someone with write access but no secret can do: change the words everywhere and recompute plain SHA-256."""
    from sqlite_utils import Database

    from storage.chain import GENESIS, event_hash

    db = Database(sqlite3.connect(path))
    sha = content_sha256(text, [])
    db.execute("UPDATE drafts SET text = ?, content_sha256 = ? WHERE id = 2", [text, sha])
    db.execute("UPDATE votes SET content_sha256 = ? WHERE draft_id = 2", [sha])
    for row in list(db.query("SELECT id, detail FROM events WHERE draft_id = 2")):
        detail = (
            (row["detail"] or "").replace(content_sha256("Still in review", []), sha).replace('"Still in review"', f'"{text}"')
        )
        db.execute("UPDATE events SET detail = ? WHERE id = ?", [detail or None, row["id"]])
    previous = GENESIS
    for row in list(db.query("SELECT id, at, draft_id, actor, action, detail FROM events ORDER BY id")):
        previous = event_hash(previous, row)
        db.execute("UPDATE events SET hash = ? WHERE id = ?", [previous, row["id"]])
    if plain:
        db.execute("UPDATE meta SET value = 'sha256' WHERE key = 'chain'")
    db.conn.commit()
    db.conn.close()


def test_copydesk_ledger_key_keys_a_plain_ledger_once_after_checking_it(
    bot: Copydesk, tmp_path: Path, capsys, monkeypatch
) -> None:
    published(bot)
    plain = copy_of(bot, tmp_path, "plain.db")
    config = tmp_path / "keyed.yaml"
    config.write_text("ledger:\n  hmac_key_env: COPYDESK_LEDGER_KEY\n")
    monkeypatch.setenv("COPYDESK_LEDGER_KEY", KEY)

    assert main(["ledger", "key", "--db", str(plain), "--config", str(config)]) == 0
    assert "keyed (HMAC-SHA256 with the secret in COPYDESK_LEDGER_KEY)" in capsys.readouterr().out
    code, said = verify(bot, plain, capsys, "--config", str(config))
    assert code == 0 and "keyed: HMAC-SHA256" in said

    tampered = copy_of(bot, tmp_path, "tampered.db")
    with sqlite3.connect(tampered) as conn:
        conn.execute("UPDATE drafts SET text = 'Something else' WHERE id = 2")
    assert main(["ledger", "key", "--db", str(tampered), "--config", str(config)]) == 2
    assert "is not keyed" in capsys.readouterr().err


def test_an_editor_who_left_can_still_take_back_their_veto(make_bot) -> None:
    first = make_bot()
    first.command(AUTHOR, "at:+1d Vetoed by someone who then left")
    first.react(EDITOR_1, "x", 1)
    assert first.draft(1).state is State.REJECTED
    first.stop()

    bot = make_bot({"editors": [EDITOR_2, EDITOR_3]})
    bot.react(EDITOR_1, "x", 1, removed=True)

    assert bot.ledger.votes(1) == [] and bot.draft(1).state is State.IN_REVIEW


def test_a_post_due_while_slack_cannot_say_who_its_editors_are_waits_and_then_goes(make_bot) -> None:
    clock = MovableClock()
    first = make_bot({"editors": ["S0EDITORS"]}, clock=clock)
    first.slack.groups["S0EDITORS"] = [EDITOR_1, EDITOR_2, EDITOR_3]
    first.command(AUTHOR, "at:+1h Approved by a group")
    approve(first, 1)
    first.stop()
    first.slack.fail_next("usergroups.users.list", 500, times=100)  # down from the start: nothing cached to fall back on

    bot = make_bot({"editors": ["S0EDITORS"]}, clock=clock)
    clock.advance(hours=2)
    bot.desk.publishing.publish(1)  # the job fires: the approvals cannot be judged, so nothing is sent, and it is tried again

    due = bot.services.scheduler.due_at(1)
    assert bot.draft(1).state is State.APPROVED and bot.x.calls("/2/tweets") == []
    assert due is not None and 29 <= (due - clock()).total_seconds() <= 31
    bot.slack.http_failures.pop("usergroups.users.list")
    bot.desk.publishing.publish(1)
    assert bot.draft(1).state is State.PUBLISHED


def test_verify_names_a_draft_whose_card_would_show_another_file_than_its_image(bot: Copydesk, tmp_path: Path, capsys) -> None:
    from bot.images import Image
    from tests.support.media import PNG

    chart = bot.slack.add_file("chart.png", PNG)
    bot.desk.drafting.submit(
        author_id=AUTHOR,
        text="With a chart",
        account=None,
        at="+1d",
        origin_channel=None,
        images=[Image.of("chart.png", PNG, slack_file_id=chart["id"], alt="A chart")],
    )
    bot.slack_told()
    assert verify(bot, copy_of(bot, tmp_path, "clean.db"), capsys)[0] == 0

    swapped = copy_of(bot, tmp_path, "swapped.db")
    with sqlite3.connect(swapped) as conn:  # the bytes sent stay; the picture the editors see is another one
        conn.execute("UPDATE media SET slack_file_id = 'F0SOMETHINGELSE' WHERE draft_id = 1")
    code, said = verify(bot, swapped, capsys)
    assert code == 1 and "#1: the card would show other Slack files" in said


def test_a_post_found_live_after_a_veto_is_recorded_as_it_went_out(make_bot) -> None:
    bot = make_bot(top=FAST)
    bot.x.answer_next(201, {"data": {"id": "1", "text": "x"}}, delay=5)  # hangs: X may or may not have it
    bot.x.timeline_replies.append(Reply(500, {"title": "Internal", "status": 500, "type": "about:blank", "detail": "err"}))
    bot.command(AUTHOR, "Out before the veto")
    approve(bot, 1)
    bot.wait_for_state(1, State.HELD)
    bot.react(EDITOR_3, "x", 1)  # too late to stop what may be out, in time to stop it going again

    assert "1 veto" in bot.private_answer(bot.press(EDITOR_1, "copydesk_publish_again", 1))
    bot.command(EDITOR_1, "mark-published #1 https://x.com/aplusk/status/1790000000000000099")

    assert bot.draft(1).state is State.PUBLISHED
    assert bot.audited() == []  # it went out on the approvals it had when it was sent


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("UPDATE publications SET outcome = 'failed' WHERE draft_id = 1", "is failed in the table, published in the event log"),
        ("UPDATE publications SET x_post_id = '1790000000000000999' WHERE draft_id = 1", "names another post on X"),
        ("DELETE FROM publications WHERE draft_id = 1", "is in the event log but not in the publications table"),
        ("UPDATE publications SET retracted_at = 'now' WHERE draft_id = 1", "is not retracted in the event log"),
    ],
)
def test_verify_names_a_publication_changed_by_hand(bot: Copydesk, tmp_path: Path, capsys, change: str, said: str) -> None:
    published(bot)
    tampered = copy_of(bot, tmp_path, "tampered.db")
    with sqlite3.connect(tampered) as conn:
        conn.execute(change)

    code, out = verify(bot, tampered, capsys)

    assert code == 1 and f"#1: publication 1 {said}" in out


def test_a_draft_copydesk_never_sent_is_not_marked_published_over_a_veto(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "at:+1h Held by the pause")
    approve(bot, 1)
    bot.command(ADMIN, "pause Not now")
    clock.advance(hours=2)
    bot.command(ADMIN, "resume")  # its time passed during the pause: held for a person, never sent
    assert bot.draft(1).state is State.HELD and bot.ledger.publications(1) == []
    bot.react(EDITOR_3, "x", 1)

    answer = bot.private_answer(bot.command(EDITOR_1, "mark-published #1 https://x.com/aplusk/status/1790000000000000099"))

    assert "copydesk never sent #1" in answer and bot.draft(1).state is State.HELD and bot.ledger.publications(1) == []


def test_an_editor_who_left_can_take_back_a_button_vote(make_bot) -> None:
    first = make_bot()
    first.command(AUTHOR, "at:+1d Vetoed with the button")
    first.press(EDITOR_1, render.REJECT, 1)
    assert first.draft(1).state is State.REJECTED
    first.stop()

    bot = make_bot({"editors": [EDITOR_2, EDITOR_3]})
    bot.press(EDITOR_1, render.REJECT, 1)  # the same button again: the vote is taken back

    assert bot.ledger.votes(1) == [] and bot.draft(1).state is State.IN_REVIEW
    bot.press(EDITOR_1, render.REJECT, 1)  # but not cast again
    assert bot.ledger.votes(1) == [] and "Only the editors of main" in bot.slack.responses()[-1]["text"]


def test_copydesk_check_reads_the_chains_mode_from_the_ledger(bot: Copydesk, tmp_path: Path, capsys, monkeypatch) -> None:
    import yaml

    published(bot)
    config = tmp_path / "keyed.yaml"
    config.write_text(
        yaml.safe_dump({**yaml.safe_load((tmp_path / "app.yaml").read_text()), "ledger": {"hmac_key_env": "COPYDESK_LEDGER_KEY"}})
    )
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "COPYDESK_LEDGER_KEY": KEY,
        "COPYDESK_DB": str(bot.config.db_path),
        "X_CONSUMER_KEY": "k",
        "X_CONSUMER_SECRET": "s",
        "X_ACCESS_TOKEN": "t",
        "X_ACCESS_TOKEN_SECRET": "u",
    }.items():
        monkeypatch.setenv(name, value)

    assert main(["check", "--config", str(config)]) == 0
    assert (
        "plain SHA-256, although ledger.hmac_key_env names COPYDESK_LEDGER_KEY: run copydesk ledger key"
        in capsys.readouterr().out
    )
