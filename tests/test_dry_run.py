"""A dry run: a team tries the whole loop in its Slack with no network keys; nothing reaches X, and every message says so."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml

from bot import chart
from bot.config import Config, load_config
from bot.desk import Clock, utc_now
from bot.errors import ConfigError
from bot.images import Image
from bot.review import State
from bot.runtime.cli import main
from bot.weekly import Day, WeeklyReport
from handlers import weekly_render
from tests.fakes.slack_api import FakeSlack, blocks_text
from tests.fakes.x_api import X_ENV, FakeX
from tests.support.digests import DIGEST, LA, clock_at, fire, move, tomorrow
from tests.support.harness import (
    AUTHOR,
    BASE_CONFIG,
    EDITOR_1,
    EDITOR_2,
    REVIEW,
    Copydesk,
    MovableClock,
    signed_headers,
    write_config,
)
from tests.support.ledger_file import tamper
from tests.support.media import PNG
from tests.support.process import Running, start

DRY = "DRY RUN — not sent to X"
NO_KEYS = {name: "" for name in X_ENV}  # set to nothing: copydesk must not need them


@pytest.fixture
def make_dry(
    slack: FakeSlack, x: FakeX, tmp_path: Path, environ: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[Callable[..., Copydesk]]:
    """Start copydesk for the main account in dry run, with no X keys in its environment at all."""
    started: list[Copydesk] = []
    bare = {k: v for k, v in environ.items() if k not in X_ENV}

    def make(overrides: dict[str, Any] | None = None, *, top: dict[str, Any] | None = None, clock: Clock = utc_now) -> Copydesk:
        config = load_config(write_config(tmp_path / "app.yaml", {"dry_run": True, **(overrides or {})}, top), bare)
        bot = Copydesk(config, slack, x, clock=clock).start()
        started.append(bot)
        return bot

    yield make
    for bot in started:
        bot.stop()
    if started:
        assert started[-1].audited() == [], "the ledger disagrees with its own event log"


def approve(bot: Copydesk, number: int) -> None:
    bot.react(EDITOR_1, "white_check_mark", number)
    bot.react(EDITOR_2, "white_check_mark", number)


def thread_texts(bot: Copydesk, number: int) -> list[str]:
    draft = bot.draft(number)
    assert draft.card_ts
    return [m["text"] for m in bot.slack.thread(REVIEW, draft.card_ts)]


def home_of(bot: Copydesk, user: str) -> str:
    bot.open_home(user)
    return blocks_text(bot.slack.views("views.publish")[-1])


def test_a_dry_run_account_goes_through_the_whole_loop_and_nothing_reaches_x(
    make_dry: Callable[..., Copydesk], x: FakeX, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_dry(clock=clock)
    assert bot.config.accounts["main"].dry_run

    bot.command(AUTHOR, "at:+1h Big news tomorrow. Stay tuned 👀")

    [card] = bot.slack.posts(REVIEW)
    assert DRY in blocks_text(card) and DRY in card["text"]  # while in review too: nobody mistakes the account
    assert any(DRY in r["text"] for r in bot.slack.responses())  # the author's "is in review" answer
    approve(bot, 1)
    assert bot.draft(1).state is State.APPROVED
    assert any("It goes out" in t and DRY in t for t in thread_texts(bot, 1))

    due = bot.services.scheduler.due_at(1)
    assert due is not None
    move(clock, due)
    bot.desk.publishing.publish(1)  # the scheduler's job, at its time
    bot.wait_for_state(1, State.PUBLISHED)
    bot.slack_told()

    assert x.calls() == [] and x.arrived("/2/tweets") == []  # nothing at all reached X
    [publication] = bot.ledger.publications(1)
    assert (publication.outcome, publication.url, publication.error) == ("dry_run", None, None)
    assert publication.x_post_id and publication.x_post_id.startswith("dry-run-")
    redrawn = blocks_text(bot.slack.updates()[-1])
    assert f"Published — {DRY}" in redrawn and "x.com" not in redrawn
    assert any(t.startswith(f":test_tube: {DRY}: it went through review") for t in thread_texts(bot, 1))
    assert bot.slack.posts(AUTHOR)[-1]["text"] == f"Your draft #1 for @aplusk went through the whole loop: {DRY}."
    assert not any("is live" in p["text"] or "x.com" in p["text"] for p in bot.slack.posts())
    assert DRY in home_of(bot, EDITOR_1).split("Went out lately", 1)[1]

    fire(bot, clock)
    [digest] = bot.slack.posts(DIGEST)
    assert f"approved by <@{EDITOR_1}> and <@{EDITOR_2}> · {DRY}" in blocks_text(digest)
    assert DRY in digest["text"] and "<http" not in blocks_text(digest)
    [week] = bot.desk.weekly.weekly_so_far()  # the weekly report counts the post, and says where it did not go
    assert f"1 post · 0 interactions · {DRY} (all)" in weekly_render.plain(week) and not week.top

    db = str(bot.config.db_path)
    assert main(["ledger", "verify", "--db", db]) == 0
    assert main(["ledger", "history", "1", "--db", db]) == 0
    assert "dry_run" in capsys.readouterr().out


def test_a_thread_with_an_image_goes_through_in_dry_run_part_by_part_and_uploads_nothing(
    make_dry: Callable[..., Copydesk], x: FakeX
) -> None:
    bot = make_dry()
    draft = bot.desk.drafting.submit(
        author_id=AUTHOR,
        text="Three things 🧵\n---\n1. Faster search\n---\n2. Dark mode",
        account=None,
        at=None,
        origin_channel=None,
        images=[Image.of("chart.png", PNG, alt="A chart")],
    )
    bot.slack_told()
    approve(bot, draft.id)

    bot.wait_for_state(draft.id, State.PUBLISHED)
    bot.slack_told()

    assert x.calls() == []  # no post, no upload, no alt text
    publications = bot.ledger.publications(draft.id)
    assert [(p.part, p.outcome, p.url) for p in publications] == [
        (1, "dry_run", None),
        (2, "dry_run", None),
        (3, "dry_run", None),
    ]
    assert len({p.x_post_id for p in publications}) == 3  # a made-up id per post
    assert DRY in blocks_text(bot.slack.updates()[-1])


def held_by_a_pause(make_dry: Callable[..., Copydesk]) -> Copydesk:
    """#1, approved for an hour on, held: its time passed while an admin had publishing paused."""
    clock = MovableClock()
    bot = make_dry(clock=clock)
    bot.command(AUTHOR, "at:+1h Held by the pause")
    approve(bot, 1)
    bot.command("U0ADMIN01", "pause checking the tone")
    clock.advance(hours=2)
    bot.command("U0ADMIN01", "resume")
    return bot


def test_pause_retry_and_retract_in_dry_run_say_so_and_send_nothing(make_dry: Callable[..., Copydesk], x: FakeX) -> None:
    bot = held_by_a_pause(make_dry)
    assert bot.draft(1).state is State.HELD  # its time passed during the pause: an editor confirms it

    bot.command(EDITOR_1, "retry #1")
    assert bot.slack.responses()[-1]["text"] == f"#1 is on its way again: {DRY}."
    bot.wait_for_state(1, State.PUBLISHED)

    bot.command(AUTHOR, "retract #1")
    assert bot.slack.responses()[-1]["text"] == f"#1 was a dry run ({DRY}): nothing to delete. It is marked retracted."
    assert bot.draft(1).state is State.RETRACTED
    bot.slack_told()
    assert any(f"it was a dry run ({DRY}), so there was nothing to delete" in t for t in thread_texts(bot, 1))
    assert "so nothing was deleted" in blocks_text(bot.slack.updates()[-1])
    assert x.calls() == []


def with_a_trial_account(tmp_path: Path, environ: dict[str, str]) -> Config:
    """app.yaml with the main account for real and a second one, @aplusk_trial, in a dry run."""
    trial = {**BASE_CONFIG["accounts"]["main"], "handle": "aplusk_trial", "dry_run": True}
    path = write_config(tmp_path / "app.yaml", top={"default_account": "main"})
    data = yaml.safe_load(path.read_text())
    data["accounts"]["trial"] = trial
    path.write_text(yaml.safe_dump(data))
    return load_config(path, environ)


def test_a_dry_run_account_beside_a_real_one_only_the_real_one_reaches_x(
    slack: FakeSlack, x: FakeX, tmp_path: Path, environ: dict[str, str]
) -> None:
    bot = Copydesk(with_a_trial_account(tmp_path, environ), slack, x).start()  # X's keys are set: the trial leaves them
    try:
        bot.command(AUTHOR, "to:trial Only a rehearsal")
        bot.command(AUTHOR, "to:main The real thing")
        approve(bot, 1)
        approve(bot, 2)
        bot.wait_for_state(1, State.PUBLISHED)
        bot.wait_for_state(2, State.PUBLISHED)
        bot.slack_told()

        assert [c.body["text"] for c in x.calls("/2/tweets")] == ["The real thing"]
        assert [p.outcome for p in bot.ledger.publications(1)] == ["dry_run"]
        [real] = bot.ledger.publications(2)
        assert real.outcome == "published" and real.url == f"https://x.com/aplusk/status/{x.posts[0]['id']}"
        told = [p["text"] for p in bot.slack.posts(AUTHOR)]
        assert f"Your draft #1 for @aplusk_trial went through the whole loop: {DRY}." in told
        assert f"Your draft #2 for @aplusk is live: {real.url}" in told
        assert not any(DRY in p["text"] for p in bot.slack.posts(REVIEW) if "#2" in p["text"])
    finally:
        bot.stop()
    assert bot.audited() == []


def test_an_account_on_every_network_in_dry_run_names_them_all_on_one_line(make_everywhere) -> None:
    bot = make_everywhere({"dry_run": True})
    bot.command(AUTHOR, "Everywhere at once, nowhere really")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)
    bot.slack_told()

    assert bot.x.calls() == [] and bot.bluesky.calls() == [] and bot.mastodon.calls() == []
    assert {p.network: p.outcome for p in bot.ledger.publications(1)} == dict.fromkeys(("x", "bluesky", "mastodon"), "dry_run")
    everywhere = "DRY RUN — not sent to X, Bluesky and Mastodon"
    assert everywhere in blocks_text(bot.slack.updates()[-1])
    assert bot.slack.posts(AUTHOR)[-1]["text"].startswith(f"Your draft #1 for @aplusk went through the whole loop: {everywhere}.")


def test_copydesk_check_passes_without_keys_for_a_dry_run_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], slack: FakeSlack
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("COPYDESK_DB", str(tmp_path / "ledger.db"))
    for name in X_ENV:
        monkeypatch.delenv(name, raising=False)
    real = write_config(tmp_path / "app.yaml")
    assert main(["check", "--config", str(real)]) == 2
    assert "X_CONSUMER_KEY, which is not set" in capsys.readouterr().err

    assert main(["check", "--dry-run", "--config", str(real)]) == 0  # as copydesk run --dry-run will read it
    out = capsys.readouterr().out
    assert f"dry run: {DRY} (no network keys needed)" in out
    assert "digest: C0DIGEST01 at 18:00, no engagement read (a dry run sends nothing, so there is nothing to read)" in out

    dry = write_config(tmp_path / "dry.yaml", {"dry_run": True}, {"digest": {"channel": "C0DIGEST01", "weekly": {}}})
    assert main(["check", "--config", str(dry)]) == 0
    out = capsys.readouterr().out
    assert f"dry run: {DRY} (no network keys needed)" in out
    assert (
        "digest: C0DIGEST01 at 18:00, no engagement read (a dry run sends nothing, so there is nothing to read), "
        "weekly report mondays at 09:00"
    ) in out
    assert "bills" not in out
    assert not (tmp_path / "ledger.db").exists()


@pytest.mark.parametrize("value", ["yes please", 1, None, [True]])
def test_a_dry_run_that_is_not_true_or_false_is_named(tmp_path: Path, environ: dict[str, str], value: Any) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(tmp_path / "app.yaml", {"dry_run": value}), environ)
    assert str(refused.value) == f"app.yaml: accounts.main.dry_run must be true or false, not {value!r}"


def test_a_key_pasted_in_place_of_its_variable_is_refused_in_a_dry_run_too(tmp_path: Path, environ: dict[str, str]) -> None:
    pasted = {"dry_run": True, "credentials": {"consumer_key": "xvz1evFS4wEEPTGEFPHBog"}}
    with pytest.raises(ConfigError, match="never the key itself") as refused:
        load_config(write_config(tmp_path / "app.yaml", pasted), environ)
    assert "xvz1evFS4wEEPTGEFPHBog" not in str(refused.value)


def test_copydesk_run_dry_run_makes_every_account_dry(
    slack: FakeSlack, x: FakeX, tmp_path: Path, environ: dict[str, str]
) -> None:
    path = write_config(tmp_path / "app.yaml")
    data = yaml.safe_load(path.read_text())
    data["accounts"]["other"] = {**BASE_CONFIG["accounts"]["main"], "handle": "other_account"}
    data["default_account"] = "main"
    path.write_text(yaml.safe_dump(data))
    env = {**environ, **NO_KEYS, "COPYDESK_CONFIG": str(path)}
    running = Running(start(["run", "--dry-run", "--port", "0", "--host", "127.0.0.1"], env))
    try:
        running.wait_for_log(r"dry run: nothing is sent to the networks of main, other")
        body = urlencode(
            {
                "team_id": "T0TEAM001",
                "channel_id": "C0GENERAL",
                "user_id": AUTHOR,
                "command": "/draft",
                "text": "to:other A first try",
                "response_url": slack.response_url(),
                "trigger_id": "1.456.abc",
            }
        )
        status, _ = running.post("/slack/events", body, signed_headers(body, "application/x-www-form-urlencoded"))
        assert status == 200
        [card] = slack.wait_for("/api/chat.postMessage")
        assert DRY in json.dumps(card.body, ensure_ascii=False)
    finally:
        assert running.stop() == 0
    assert x.calls() == []


# switching an account in or out of its dry run


def restart(bot: Copydesk, path: Path, environ: dict[str, str], *, dry: bool, clock: Clock = utc_now) -> Copydesk:
    """Stop copydesk and start it again on the same ledger, with the account's dry run switched on or off."""
    bot.stop()
    data = yaml.safe_load(path.read_text())
    data["accounts"]["main"]["dry_run"] = dry
    path.write_text(yaml.safe_dump(data))
    return Copydesk(load_config(path, environ), bot.slack, bot.x, clock=clock).start()


def test_a_rehearsal_approved_in_a_dry_run_is_held_not_sent_once_the_account_posts_for_real(
    make_dry: Callable[..., Copydesk], x: FakeX, tmp_path: Path, environ: dict[str, str]
) -> None:
    clock = MovableClock()
    bot = make_dry(clock=clock)
    bot.command(AUTHOR, "at:+1h Rehearsal, approved under a DRY RUN banner")
    approve(bot, 1)
    assert bot.draft(1).state is State.APPROVED

    bot = restart(bot, tmp_path / "app.yaml", environ, dry=False, clock=clock)  # the keys are set: it posts for real now
    try:
        clock.advance(hours=2)
        bot.desk.publishing.publish(1)  # its time came
        held = bot.wait_for_state(1, State.HELD)
        assert x.calls() == []  # the rehearsal never reaches X
        assert "it was written in a dry run, and @aplusk now posts to X for real" in (held.notice or "")
        bot.slack_told()
        assert DRY in blocks_text(bot.slack.updates()[-1])  # its card still says what it was approved as

        bot.command(EDITOR_1, "retry #1")  # Publish now holds it again: nothing of a rehearsal is ever sent
        assert bot.wait_for_state(1, State.HELD) and x.calls() == []
    finally:
        bot.stop()


def test_a_real_draft_is_held_not_used_up_when_copydesk_runs_in_a_dry_run(
    slack: FakeSlack, x: FakeX, tmp_path: Path, environ: dict[str, str]
) -> None:
    clock = MovableClock()
    path = write_config(tmp_path / "app.yaml")
    bot = Copydesk(load_config(path, environ), slack, x, clock=clock).start()
    bot.command(AUTHOR, "at:+1h The real announcement")
    approve(bot, 1)

    bot = restart(bot, path, {k: v for k, v in environ.items() if k not in X_ENV}, dry=True, clock=clock)
    try:
        clock.advance(hours=2)
        bot.desk.publishing.publish(1)
        held = bot.wait_for_state(1, State.HELD)
        assert "written to go to X for real, and copydesk runs @aplusk in a dry run now" in (held.notice or "")
        assert bot.ledger.publications(1) == []  # not recorded as a dry run: it still waits to go for real
    finally:
        bot.stop()

    bot = restart(bot, path, environ, dry=False, clock=clock)
    try:
        bot.command(EDITOR_1, "retry #1")  # run for real again, a person sends it
        bot.wait_for_state(1, State.PUBLISHED)
        assert [c.body["text"] for c in x.calls("/2/tweets")] == ["The real announcement"]
    finally:
        bot.stop()


def test_retract_never_calls_a_network_for_a_dry_run_and_refuses_a_real_post_it_cannot_delete(
    slack: FakeSlack, x: FakeX, tmp_path: Path, environ: dict[str, str]
) -> None:
    path = write_config(tmp_path / "app.yaml")
    bot = Copydesk(load_config(path, environ), slack, x).start()
    bot.command(AUTHOR, "Really sent")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)

    bot = restart(bot, path, environ, dry=True)
    try:
        # a trigger and event ids the first run did not use (Slack's are unique; the harness counts per run)
        bot.command(AUTHOR, "A rehearsal", trigger_id="after-the-switch")
        bot.react(EDITOR_1, "white_check_mark", 2, event_id="Ev-after-the-switch-1")
        bot.react(EDITOR_2, "white_check_mark", 2, event_id="Ev-after-the-switch-2")
        bot.wait_for_state(2, State.PUBLISHED)
        bot.command(AUTHOR, "retract #1")  # a dry run deletes nothing: it must not say the real post is gone
        said = bot.slack.responses()[-1]["text"]
        assert "#1 is really on X, and copydesk runs @aplusk in a dry run now" in said
        assert bot.draft(1).state is State.PUBLISHED and x.deleted == []
    finally:
        bot.stop()

    bot = restart(bot, path, environ, dry=False)
    try:
        deletes_before = len(x.calls())
        bot.command(AUTHOR, "retract #2")  # the rehearsal's made-up id never goes to X, even now the account is real
        assert bot.draft(2).state is State.RETRACTED
        assert len(x.calls()) == deletes_before and x.deleted == []
        bot.command(AUTHOR, "retract #1")  # and the real post is deleted for real
        assert bot.draft(1).state is State.RETRACTED and len(x.deleted) == 1
    finally:
        bot.stop()


def test_marking_a_dry_run_published_without_a_link_keeps_it_a_dry_run(make_dry: Callable[..., Copydesk]) -> None:
    bot = held_by_a_pause(make_dry)
    assert bot.draft(1).state is State.HELD

    bot.command(EDITOR_1, "mark-published #1")
    assert bot.draft(1).state is State.PUBLISHED
    assert [p.outcome for p in bot.ledger.publications(1)] == ["dry_run"]
    bot.slack_told()
    assert DRY in blocks_text(bot.slack.updates()[-1])


def test_ledger_verify_names_a_rehearsal_turned_real_by_hand(make_dry: Callable[..., Copydesk], capsys) -> None:
    bot = make_dry()
    bot.command(AUTHOR, "Only a rehearsal")
    db = str(bot.config.db_path)
    assert main(["ledger", "verify", "--db", db]) == 0

    tamper(db, "UPDATE drafts SET dry_run = 0 WHERE id = 1")  # someone with the file makes the rehearsal go out for real

    capsys.readouterr()
    assert main(["ledger", "verify", "--db", db]) == 1
    said = capsys.readouterr()
    assert "#1: it is not a dry run in the drafts table, but the event log says otherwise" in said.out + said.err
    tamper(db, "UPDATE drafts SET dry_run = 1 WHERE id = 1")  # put back, so the fixture's own audit passes


# the digest and the weekly report of a dry run


def test_a_dry_run_digest_says_so_on_every_line_and_in_its_header(
    slack: FakeSlack, x: FakeX, tmp_path: Path, environ: dict[str, str]
) -> None:
    clock = clock_at(tomorrow(10))
    bot = Copydesk(with_a_trial_account(tmp_path, environ), slack, x, clock=clock).start()
    try:
        bot.command(AUTHOR, "to:trial at:+20h Due tomorrow morning, in rehearsal")
        approve(bot, 1)
        bot.command(AUTHOR, "to:trial Waiting for a second look")
        bot.command(AUTHOR, "to:main at:+20h Due tomorrow morning, for real")
        approve(bot, 3)

        fire(bot, clock)
    finally:
        bot.stop()

    [digest] = slack.posts(DIGEST)
    shown = blocks_text(digest)
    assert f"@aplusk_trial's posts: {DRY}" in shown and f"@aplusk_trial's posts: {DRY}" in digest["text"]
    assert "@aplusk's" not in shown  # the real account is not in a dry run
    assert f"approved by <@{EDITOR_1}> and <@{EDITOR_2}> · {DRY}" in shown  # scheduled: it will go nowhere
    assert f"in review, 0 of 2 approvals · {DRY}" in shown  # waiting
    assert f"approved by <@{EDITOR_1}> and <@{EDITOR_2}>\n“Due tomorrow morning, for real”" in shown  # the real one's
    assert digest["text"].count(DRY) == 3  # the fallback says it too: the header and both of the trial's lines
    assert x.calls("/2/tweets") == []


def test_a_dry_run_digest_on_a_day_when_nothing_happened_still_says_dry_run(make_dry: Callable[..., Copydesk]) -> None:
    clock = clock_at(tomorrow(10))
    bot = make_dry(clock=clock)

    fire(bot, clock)

    [digest] = bot.slack.posts(DIGEST)
    assert "Nothing went out" in blocks_text(digest)
    assert f"@aplusk's posts: {DRY}" in blocks_text(digest) and f"@aplusk's posts: {DRY}" in digest["text"]


def test_a_week_of_dry_runs_says_they_have_no_counts_and_never_promises_them(make_dry: Callable[..., Copydesk]) -> None:
    bot = make_dry()
    bot.command(AUTHOR, "Only a rehearsal")
    approve(bot, 1)
    bot.wait_for_state(1, State.PUBLISHED)

    [week] = bot.desk.weekly.weekly_so_far()
    text, blocks = weekly_render.weekly(week)
    for shown in (weekly_render.plain(week), text, blocks_text({"blocks": blocks})):
        assert "dry run: no counts" in shown  # its day in the table
        assert "This week's posts were dry runs, sent nowhere: they have no engagement counts." in shown
        assert "None ranked: dry runs have no counts." in shown
        assert "not read yet" not in shown and "were read for" not in shown  # nothing will ever be read for them
    assert chart.title(week).endswith(f" · {DRY} (all)")  # the chart's own title says so too
    assert chart.draw(week).startswith(chart.PNG_SIGNATURE)


def test_a_week_of_dry_runs_and_real_posts_not_read_yet_tells_them_apart() -> None:
    start = tomorrow(0)
    days = (
        Day(start.date(), posts=1, interactions=0, impressions=None, read=0, dry_runs=1),
        Day(start.date() + timedelta(days=1), posts=2, interactions=0, impressions=None, read=0, dry_runs=1),
    )
    week = WeeklyReport("*", None, start, start + timedelta(days=2), LA, ("aplusk",), days, dry_runs=2, dry_networks=("x",))

    shown = weekly_render.plain(week)
    dry_day, mixed_day = shown.split("Per day", 1)[1].splitlines()[2:4]
    assert "dry run: no counts" in dry_day and "counts not read yet" in mixed_day  # the real post's counts may come
    assert "No engagement counts were read for this week's posts yet (a dry run has none)" in shown
    assert "None ranked: dry runs have no counts, and none were read for the others yet." in shown
    assert chart.title(week).endswith(f" · {DRY} (2 of them)")


def test_copydesk_check_says_only_the_real_accounts_counts_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], environ: dict[str, str]
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COPYDESK_DB", str(tmp_path / "ledger.db"))
    path = write_config(tmp_path / "app.yaml", top={"default_account": "main"})
    data = yaml.safe_load(path.read_text())
    data["accounts"]["trial"] = {**BASE_CONFIG["accounts"]["main"], "handle": "aplusk_trial", "dry_run": True}
    path.write_text(yaml.safe_dump(data))

    assert main(["check", "--config", str(path)]) == 0
    assert (
        "digest: C0DIGEST01 at 18:00, engagement read from the networks (X bills each read), "
        "not for @aplusk_trial (a dry run: nothing to read)"
    ) in capsys.readouterr().out
