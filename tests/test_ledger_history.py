"""`copydesk ledger history ID`: a draft's whole story from the ledger, for people and (--json) for scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.history import assemble
from bot.images import Image
from bot.model import SYSTEM, Draft, Event
from bot.policy import Asked, Policy
from bot.review import State
from bot.runtime import history_render
from bot.runtime.cli import main
from handlers import render
from storage import Ledger
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, EDITOR_3, Copydesk, write_config
from tests.support.media import JPEG, PNG

ADMIN = "U0ADMIN01"  # BASE_CONFIG's admin

FAST_RETRY = {"x_retry": {"first_delay_seconds": 0.05}}
UNAVAILABLE = {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503}


@pytest.fixture
def story(make_bot) -> Copydesk:
    """Through Slack: a draft, votes on it (one taken back), an edit giving version 2, votes on that, and X failing once
    before it takes the post."""
    bot = make_bot(top=FAST_RETRY)
    bot.command(AUTHOR, "First words")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "x", 1)
    bot.react(EDITOR_2, "x", 1, removed=True)
    bot.command(AUTHOR, "edit #1 Second words, better")
    bot.x.answer_next(503, UNAVAILABLE)
    bot.press(EDITOR_1, render.APPROVE, 1)
    bot.react(EDITOR_3, "white_check_mark", 1)
    bot.wait_for_state(1, State.PUBLISHED)
    return bot


def history(bot: Copydesk, *args: str) -> list[str]:
    return ["ledger", "history", *args, "--db", str(bot.config.db_path), "--config", str(bot.config.config_path)]


def hashes(bot: Copydesk) -> dict[int, str]:
    """Each version's fingerprint, as the events that made it recorded it."""
    return {e.detail["version"]: e.detail["content_sha256"] for e in bot.ledger.events(1) if e.action in ("drafted", "edited")}


def test_the_story_of_a_draft_with_two_versions_names_each_with_its_hash_its_votes_and_what_went_out(
    story: Copydesk, capsys
) -> None:
    sha = hashes(story)
    failed, published = story.ledger.publications(1)

    assert main(history(story, "1")) == 0

    out = capsys.readouterr().out
    versions = out[out.index("\nVersions\n") : out.index("\nVotes\n")]
    assert f"version 1: written by {AUTHOR}" in versions and f"content_sha256 {sha[1]}" in versions
    assert f"version 2: edited by {AUTHOR}" in versions and f"content_sha256 {sha[2]}" in versions
    assert "text: First words" in versions and "text: Second words, better" in versions
    votes = out[out.index("\nVotes\n") : out.index("\nRules\n")].splitlines()[2:]
    assert [line.split(" at ")[0].strip() for line in votes] == [
        f"approve by {EDITOR_1} (reaction :white_check_mark:) on version 1",
        f"reject by {EDITOR_2} (reaction :x:) on version 1",
        f"approve by {EDITOR_1} (button) on version 2",
        f"approve by {EDITOR_3} (reaction :white_check_mark:) on version 2",
    ]
    assert [line.rsplit(": ", 1)[1].split(" at ")[0] for line in votes] == [
        "cleared by the next version",
        "taken back",
        "stands",
        "stands",
    ]
    assert "none recorded: no rule applied" in out[out.index("\nRules\n") :]
    publications = out[out.index("\nPublications\n") : out.index("\nEvents\n")]
    assert f"publication {failed.id}: X, part 1, version 2" in publications and ": failed" in publications
    assert "error: X had a server error (503 Service Unavailable)" in publications
    assert f"publication {published.id}: X, part 1, version 2" in publications and ": published" in publications
    assert f"post {published.x_post_id} {published.url}" in publications
    events = out[out.index("\nEvents\n") :].splitlines()[2:]
    assert len(events) == len(story.ledger.events(1))
    assert f"{AUTHOR}  drafted" in events[0] and "vote_removed" in "\n".join(events)
    # times in app.yaml's timezone (America/Los_Angeles), to the second
    drafted = story.ledger.events(1)[0].at.astimezone(ZoneInfo("America/Los_Angeles"))
    assert drafted.strftime("%Y-%m-%d %H:%M:%S %Z") in events[0]
    assert "times in America/Los_Angeles (app.yaml)" in out


def test_json_carries_the_same_facts_under_stable_names(story: Copydesk, capsys) -> None:
    sha = hashes(story)
    failed, published = story.ledger.publications(1)

    assert main(history(story, "1", "--json")) == 0

    found = json.loads(capsys.readouterr().out)
    assert set(found) >= {"draft", "versions", "votes", "rules", "publications", "events"}
    draft = found["draft"]
    assert (draft["id"], draft["state"], draft["version"], draft["content_sha256"], draft["author_user_id"]) == (
        1,
        "published",
        2,
        sha[2],
        AUTHOR,
    )
    assert [(v["version"], v["action"], v["by"], v["text"], v["content_sha256"]) for v in found["versions"]] == [
        (1, "drafted", AUTHOR, "First words", sha[1]),
        (2, "edited", AUTHOR, "Second words, better", sha[2]),
    ]
    assert [
        (v["by"], v["vote"], v["via"], v["version"], v["content_sha256"], v["ended"], v["stands"]) for v in found["votes"]
    ] == [
        (EDITOR_1, "approve", "reaction", 1, sha[1], "new_version", False),
        (EDITOR_2, "reject", "reaction", 1, sha[1], "taken_back", False),
        (EDITOR_1, "approve", "button", 2, sha[2], None, True),
        (EDITOR_3, "approve", "reaction", 2, sha[2], None, True),
    ]
    assert found["rules"] == [] and found["cooling_off"] == [] and found["expiry"] == []
    assert [(p["id"], p["part"], p["version"], p["outcome"], p["x_post_id"], p["url"]) for p in found["publications"]] == [
        (failed.id, 1, 2, "failed", None, None),
        (published.id, 1, 2, "published", published.x_post_id, published.url),
    ]
    assert found["publications"][0]["error"].startswith("X had a server error")
    logged = story.ledger.events(1)
    assert [(e["id"], e["actor"], e["action"]) for e in found["events"]] == [(e.id, e.actor, e.action) for e in logged]
    assert found["events"][0]["at"] == logged[0].at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


OWNER = "U0OWNER01"
SENSITIVE = {"name": "sensitive topics", "if": {"words": ["coach"]}, "then": {"approvals_required": 3}}


def test_the_rules_the_owners_veto_and_the_cooling_off_the_bot_recorded_are_in_the_story(make_bot, capsys) -> None:
    bot = make_bot({"owner": OWNER, "cooling_off_minutes": 30, "rules": [SENSITIVE]})
    bot.command(AUTHOR, "The coach speaks")
    bot.press(OWNER, render.REJECT, 1)
    bot.command(AUTHOR, "edit #1 The coach speaks, kindly")  # the owner's veto outlives the edit
    bot.press(OWNER, render.REJECT, 1)  # and only the owner lifts it
    for editor in (OWNER, EDITOR_1, EDITOR_2):
        bot.press(editor, render.APPROVE, 1)
    assert bot.draft(1).cooling_until is not None
    bot.command(ADMIN, "retry #1")  # Publish now: the admin skips the rest of the window
    bot.wait_for_state(1, State.PUBLISHED)
    db, config = str(bot.config.db_path), str(bot.config.config_path)

    assert main(["ledger", "history", "#1", "--db", db, "--config", config, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    asked = [{"name": "sensitive topics", "approvals_required": 3}]
    assert [
        (j["version"], j["source"], j["rules"], j["approvals_required"], j["cooling_off_minutes"]) for j in found["rules"]
    ] == [
        (1, "drafted", asked, 3, 30.0),
        (2, "edited", asked, 3, 30.0),
    ]
    assert [(v["by"], v["vote"], v["version"], v["kept_into"], v["ended"]) for v in found["votes"]] == [
        (OWNER, "reject", 1, [2], "taken_back"),  # kept by the edit, then taken back by the owner
        (OWNER, "approve", 2, [], None),
        (EDITOR_1, "approve", 2, [], None),
        (EDITOR_2, "approve", 2, [], None),
    ]
    window = bot.ledger.events(1)
    [approved] = [e for e in window if e.action == "approved"]
    assert [(t["action"], t["by"], t["until"], t["version"]) for t in found["cooling_off"]] == [
        ("approved", EDITOR_2, approved.detail["cooling_until"], 2),
        ("cooling_off_skipped", ADMIN, approved.detail["cooling_until"], 2),
    ]

    assert main(["ledger", "history", "1", "--db", db, "--config", config]) == 0
    out = capsys.readouterr().out
    assert "version 2, when edited (" in out and "sensitive topics: 3 approval(s) (together: 3 approval(s), 30 minute(s)" in out
    assert f"reject by {OWNER} (button) on version 1 at " in out and "; kept into version 2: taken back at " in out
    assert f"cooling-off skipped by {ADMIN} at" in out
    assert "goes out no earlier than" in out


def test_a_hash_sign_names_the_same_draft(story: Copydesk, capsys) -> None:
    assert main(history(story, "1")) == 0
    plain = capsys.readouterr().out
    assert main(history(story, "#1")) == 0
    assert capsys.readouterr().out == plain


def test_an_unknown_draft_is_one_clear_line_and_exit_1(story: Copydesk, capsys) -> None:
    assert main(history(story, "#42")) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"copydesk: {story.config.db_path}: there is no draft #42 in this ledger\n"


def test_a_number_that_is_not_one_is_refused_by_name(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["ledger", "history", "twelve", "--db", str(tmp_path / "ledger.db")])
    assert exit_.value.code == 2
    assert "'twelve' is not a draft number; give it as 12 or #12" in capsys.readouterr().err


def test_a_missing_ledger_is_named_not_created(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.db"
    assert main(["ledger", "history", "1", "--db", str(missing)]) == 2
    assert f"{missing}: there is no ledger here" in capsys.readouterr().err
    assert not missing.exists()


def test_without_a_readable_app_yaml_the_times_are_utc_and_it_says_why(story: Copydesk, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "elsewhere.yaml"
    assert main(["ledger", "history", "1", "--db", str(story.config.db_path), "--config", str(missing)]) == 0
    out = capsys.readouterr().out
    assert f"times in UTC ({missing}: no such file" in out
    first = story.ledger.events(1)[0].at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    assert first in out


def test_every_policy_event_is_told_at_its_time_in_the_configs_zone(tmp_path: Path, capsys) -> None:
    """Each event of the editorial policy, at known times: a version's rules, a start judging them again (policy_changed),
    a cooling-off window set and skipped, and expiry; written through the ledger's own verbs, as the desk writes them."""
    db = tmp_path / "ledger.db"
    ledger = Ledger.open(db)
    at = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    sensitive = Asked("sensitive topics", approvals_required=3, require=("U0OWNER01",))
    links = Asked("links", cooling_off_minutes=15.0)
    ledger.add_draft(
        account="main",
        author_id=AUTHOR,
        text="The coach, a lawsuit: https://example.com",
        publish_at=None,
        review_channel="C0REVIEW01",
        origin_channel=None,
        at=at,
        content_sha256="a" * 64,
        policy=Policy((sensitive, links), 3, ("U0OWNER01",), 15.0),
    )
    ledger.log(
        "policy_changed", actor=SYSTEM, at=at + timedelta(hours=1), draft_id=1, policy=Policy((links,), 2, (), 15.0).record()
    )
    ledger.log("approved", actor=EDITOR_1, at=at + timedelta(hours=2), draft_id=1, cooling_until="2026-11-20T19:15:00+00:00")
    ledger.log(
        "cooling_off_skipped",
        actor="U0ADMIN01",
        at=at + timedelta(hours=2, minutes=5),
        draft_id=1,
        was_until="2026-11-20T19:15:00.000Z",
    )
    ledger.log("expired", actor=SYSTEM, at=at + timedelta(hours=3), draft_id=1, reason="still in review 1 hour after its version")
    ledger.close()
    config = tmp_path / "app.yaml"
    config.write_text("timezone: Europe/Berlin\n")

    assert main(["ledger", "history", "1", "--db", str(db), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    rules = out[out.index("\nRules\n") : out.index("\nCooling-off and expiry\n")]
    assert (
        "version 1, when drafted (2026-11-20 18:00:00 CET): sensitive topics: 3 approval(s), approval by U0OWNER01; "
        "links: 15 minute(s) cooling-off (together: 3 approval(s), approval by U0OWNER01, 15 minute(s) cooling-off)"
    ) in rules
    assert "version 1, judged again at a start under app.yaml then (2026-11-20 19:00:00 CET): links:" in rules
    timing = out[out.index("\nCooling-off and expiry\n") : out.index("\nPublications\n")]
    assert "approved at 2026-11-20 20:00:00 CET (version 1): goes out no earlier than 2026-11-20 20:15:00 CET" in timing
    assert "cooling-off skipped by U0ADMIN01 at 2026-11-20 20:05:00 CET" in timing
    assert "expired at 2026-11-20 21:00:00 CET (version 1): still in review 1 hour after its version" in timing
    assert "rules: sensitive topics:" in out[out.index("\nVersions\n") : out.index("\nVotes\n")]

    assert main(["ledger", "history", "1", "--db", str(db), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(j["source"], [r["name"] for r in j["rules"]], j["approvals_required"], j["require"]) for j in found["rules"]] == [
        ("drafted", ["sensitive topics", "links"], 3, ["U0OWNER01"]),
        ("policy_changed", ["links"], 2, []),
    ]
    assert found["draft"]["policy"]["rules"][0] == {"name": "sensitive topics", "approvals_required": 3, "require": ["U0OWNER01"]}
    assert [(t["action"], t["by"], t["until"]) for t in found["cooling_off"]] == [
        ("approved", EDITOR_1, "2026-11-20T19:15:00.000Z"),
        ("cooling_off_skipped", "U0ADMIN01", "2026-11-20T19:15:00.000Z"),
    ]
    assert [(t["by"], t["reason"], t["version"]) for t in found["expiry"]] == [
        (SYSTEM, "still in review 1 hour after its version", 1)
    ]


def test_each_version_names_its_images_and_the_fingerprint_that_covers_them(bot: Copydesk, capsys) -> None:
    bot.desk.drafting.submit(
        author_id=AUTHOR,
        text="Sales doubled",
        account=None,
        at=None,
        origin_channel=None,
        images=[Image.of("chart.png", PNG, alt="The sales chart")],
    )  # the form's images join version 1 before its card is up
    bot.slack_told()
    first = bot.draft(1).content_sha256
    photo = bot.slack.add_file("photo.jpg", JPEG, mimetype="image/jpeg")
    bot.share_files(AUTHOR, 1, [photo], text="The team at the launch")  # a new version: version 2

    assert main(history(bot, "1", "--json")) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(v["version"], v["action"], v["text"], v["content_sha256"]) for v in found["versions"]] == [
        (1, "drafted", "Sales doubled", first),
        (2, "images_changed", "Sales doubled", bot.draft(1).content_sha256),
    ]
    assert [[(i["name"], i["alt"]) for i in v["images"]] for v in found["versions"]] == [
        [("chart.png", "The sales chart")],
        [("chart.png", "The sales chart"), ("photo.jpg", "The team at the launch")],
    ]
    assert [i["sha256"] for i in found["versions"][1]["images"]] == [i.sha256 for i in bot.ledger.images(1)]

    assert main(history(bot, "1")) == 0
    out = capsys.readouterr().out
    assert "image: photo.jpg sha256 " in out and 'alt "The team at the launch"' in out
    assert f"version 2: images changed by {AUTHOR}" in out


def test_a_start_that_judges_the_rules_again_is_in_the_story(slack, x, tmp_path: Path, environ, capsys) -> None:
    careful = {
        "name": "coach, carefully",
        "if": {"words": ["coach"]},
        "then": {"approvals_required": 3, "cooling_off_minutes": 10},
    }
    for rules in ([SENSITIVE], [careful], []):  # app.yaml changed twice while copydesk was down
        config = load_config(write_config(tmp_path / "app.yaml", {"rules": rules}), environ)
        desk = Copydesk(config, slack, x).start()
        if rules == [SENSITIVE]:
            desk.command(AUTHOR, "The coach speaks")
        desk.stop()

    assert main(["ledger", "history", "1", "--db", str(config.db_path), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(j["version"], j["source"], j["by"], [r["name"] for r in j["rules"]]) for j in found["rules"]] == [
        (1, "drafted", AUTHOR, ["sensitive topics"]),
        (1, "policy_changed", SYSTEM, ["coach, carefully"]),
        (1, "policy_changed", SYSTEM, []),  # no rule applies any more
    ]
    assert found["draft"]["policy"] is None

    assert main(["ledger", "history", "1", "--db", str(config.db_path), "--config", str(config.config_path)]) == 0
    rules = capsys.readouterr().out.split("\nRules\n")[1].split("\n\n")[0].splitlines()
    assert [line.split(" (")[0].strip() for line in rules] == [
        "version 1, when drafted",
        "version 1, judged again at a start under app.yaml then",
        "version 1, judged again at a start under app.yaml then",
    ]
    assert rules[1].endswith(
        "coach, carefully: 3 approval(s), 10 minute(s) cooling-off (together: 3 approval(s), 10 minute(s) cooling-off)"
    )
    assert rules[2].endswith("no rule applied")


def test_a_ledger_from_before_versions_and_fingerprints_is_told_as_far_as_it_goes() -> None:
    """Old events lack versions and fingerprints; the migration's baseline says what stood then. Nothing is made up."""
    at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    sha = "b" * 64
    logged = [
        (AUTHOR, "drafted", {"account": "main", "text": "Old words"}),
        (EDITOR_1, "vote_added", {"vote": "approve", "reaction": "white_check_mark"}),
        (AUTHOR, "edited", {"before": "Old words", "after": "New words"}),
        (EDITOR_2, "vote_added", {"vote": "approve", "reaction": "white_check_mark"}),
        (
            SYSTEM,
            "baseline",
            {
                "version": 1,
                "content_sha256": sha,
                "text": "New words",
                "images": [],
                "votes": [[EDITOR_2, "white_check_mark", "approve"], [EDITOR_3, "x", "reject"]],
            },
        ),
    ]
    events = [Event(i, at + timedelta(minutes=i), 1, actor, action, d) for i, (actor, action, d) in enumerate(logged, 1)]
    draft = Draft(1, "main", AUTHOR, "New words", None, State.REJECTED, "C0REVIEW01", None, None, at, at, content_sha256=sha)

    story = assemble(draft, events, [])

    assert [(v.version, v.action, v.text, v.content_sha256) for v in story.versions] == [
        (1, "drafted", "Old words", None),
        (None, "edited", "New words", None),
        (1, "baseline", "New words", sha),
    ]
    assert [(v.by, v.vote, v.version, v.cast_at is not None, v.ended) for v in story.votes] == [
        (EDITOR_1, "approve", None, True, "new_version"),
        (EDITOR_2, "approve", None, True, None),
        (EDITOR_3, "reject", 1, False, None),  # cast before votes were logged: the baseline is all the log knows
    ]
    told = history_render.plain(story, None)
    assert "an edit (from before versions were counted): edited by" in told
    assert "content_sha256 (none: from before content fingerprints)" in told
    assert f"reject by {EDITOR_3} (reaction :x:) on version 1 before the log recorded votes: stands" in told
    assert "times in UTC" in told and "2025-03-01T09:01:00Z" in told
