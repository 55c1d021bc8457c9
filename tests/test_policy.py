"""Editorial policy in app.yaml: the owner's last word, a cooling-off window, rules that ask for more eyes, and blocks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.policy import CONDITIONS
from bot.review import State
from bot.runtime.cli import main
from tests.fakes.slack_api import blocks_text
from tests.support.harness import (
    AUTHOR,
    EDITOR_1,
    EDITOR_2,
    EDITOR_3,
    REVIEW,
    Copydesk,
    MovableClock,
    write_config,
)
from tests.support.media import PNG

OWNER = "U0OWNER01"
ADMIN = "U0ADMIN01"
SENSITIVE = {
    "name": "sensitive topics",
    "if": {"words": ["abuse", "lawsuit", "coach"]},
    "then": {"approvals_required": 3, "require": [OWNER]},
}


def card(bot: Copydesk) -> str:
    return blocks_text(bot.slack.updates()[-1] if bot.slack.updates() else bot.slack.posts(REVIEW)[0])


def actions(bot: Copydesk, draft: int) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in bot.ledger.events(draft)]


# the owner's last word


def test_the_owners_veto_after_the_quorum_is_final_and_only_the_owner_lifts_it(make_bot) -> None:
    bot = make_bot({"owner": OWNER})
    bot.command(AUTHOR, "at:+1d We are thrilled to announce")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    assert bot.draft(1).state is State.APPROVED

    bot.react(OWNER, "x", 1)  # the owner is not among the editors: their vote counts all the same

    assert bot.draft(1).state is State.REJECTED
    assert bot.services.scheduler.due_at(1) is None
    assert f"Owner <@{OWNER}>: vetoed (final: only they can lift it)" in card(bot)
    bot.react(EDITOR_3, "white_check_mark", 1)  # more approvals change nothing
    assert bot.draft(1).state is State.REJECTED

    bot.react(OWNER, "x", 1, removed=True)  # the owner takes it back

    assert bot.draft(1).state is State.APPROVED
    assert f"Owner <@{OWNER}>: has not voted" in card(bot)


def test_the_owners_approval_counts_as_an_editors(make_bot) -> None:
    bot = make_bot({"owner": OWNER})
    bot.command(AUTHOR, "at:+1d Owner-approved")
    bot.react(OWNER, "white_check_mark", 1)
    bot.react(EDITOR_1, "white_check_mark", 1)
    assert bot.draft(1).state is State.APPROVED
    assert f"Owner <@{OWNER}>: approved" in card(bot)


def test_an_edit_does_not_clear_the_owners_veto(make_bot) -> None:
    bot = make_bot({"owner": OWNER})
    bot.command(AUTHOR, "at:+1d First words")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(OWNER, "x", 1)

    bot.command(AUTHOR, "edit #1 Second words")

    draft = bot.draft(1)
    assert draft.version == 2 and draft.state is State.REJECTED
    assert [(v.user_id, v.kind.value) for v in bot.ledger.votes(1)] == [(OWNER, "reject")]  # the approval was cleared
    assert "only they can lift it" in (draft.notice or "")
    edited = [e for e in bot.ledger.events(1) if e.action == "edited"][-1]
    assert edited.detail["votes_kept"] == [[OWNER, "button", "x"]]  # kept as their Reject button on the new card

    refused = bot.press(EDITOR_1, "copydesk_reject", 1)  # another editor's Reject is their own veto, not a way to lift it
    bot.press(EDITOR_1, "copydesk_reject", 1)  # taken back again
    assert bot.draft(1).state is State.REJECTED and refused.status == 200

    bot.press(OWNER, "copydesk_reject", 1)  # the owner presses Reject on the new card: their veto is taken back

    assert bot.draft(1).state is State.IN_REVIEW and bot.ledger.votes(1) == []


def held_by_the_pause(make_bot) -> Copydesk:
    """An approved draft whose time passed during a pause: held for a person once publishing resumes."""
    clock = MovableClock()
    bot = make_bot({"owner": OWNER}, clock=clock)
    bot.command(AUTHOR, "at:+1h Held by the pause")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.command(ADMIN, "pause checking the news")
    clock.advance(hours=2)
    bot.command(ADMIN, "resume")
    return bot


def test_the_owners_veto_rejects_a_held_draft(make_bot) -> None:
    bot = held_by_the_pause(make_bot)
    assert bot.draft(1).state is State.HELD

    bot.react(OWNER, "no_entry_sign", 1)

    assert bot.draft(1).state is State.REJECTED
    assert ("rejected", OWNER) in actions(bot, 1)


# cooling-off


@pytest.fixture
def cooling(make_bot) -> tuple[Copydesk, MovableClock]:
    clock = MovableClock()
    bot = make_bot({"cooling_off_minutes": 30, "owner": OWNER}, clock=clock)
    bot.command(AUTHOR, "Straight after approval")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    return bot, clock


def test_a_quorum_waits_out_the_cooling_off_window_then_goes(cooling) -> None:
    bot, clock = cooling
    draft = bot.draft(1)
    approved = [e for e in bot.ledger.events(1) if e.action == "approved"][-1]
    assert draft.state is State.APPROVED and draft.cooling_until == approved.at + timedelta(minutes=30)
    assert bot.services.scheduler.due_at(1) == draft.cooling_until
    assert "unless someone objects" in card(bot)
    [reply] = [p for p in bot.slack.posts(REVIEW) if p.get("thread_ts")]
    assert "unless someone objects" in reply["text"]

    bot.desk.publishing.publish(1)  # woken early (or by hand): nothing goes before the window ends
    assert bot.x.posts == []

    clock.advance(minutes=31)
    bot.desk.publishing.publish(1)
    assert bot.x.texts() == ["Straight after approval"]


def test_a_veto_in_the_window_stops_it(cooling) -> None:
    bot, _ = cooling
    bot.react(EDITOR_3, "x", 1)
    assert bot.draft(1).state is State.REJECTED and bot.draft(1).cooling_until is None
    assert bot.services.scheduler.due_at(1) is None


def test_an_approval_taken_back_in_the_window_stops_it(cooling) -> None:
    bot, _ = cooling
    bot.react(EDITOR_2, "white_check_mark", 1, removed=True)
    assert bot.draft(1).state is State.IN_REVIEW and bot.draft(1).cooling_until is None
    assert bot.services.scheduler.due_at(1) is None


def test_the_owners_veto_in_the_window_is_final(cooling) -> None:
    bot, _ = cooling
    bot.react(OWNER, "x", 1)
    assert bot.draft(1).state is State.REJECTED


def test_an_admin_skips_the_rest_of_the_window_and_the_ledger_says_who(cooling) -> None:
    bot, _ = cooling
    refused = bot.press(EDITOR_1, "copydesk_publish_again", 1)
    assert "Only admins can skip a cooling-off window" in bot.private_answer(refused)
    assert bot.draft(1).cooling_until is not None

    bot.press(ADMIN, "copydesk_publish_again", 1)

    assert bot.wait_for_state(1, State.PUBLISHED)
    assert ("cooling_off_skipped", ADMIN) in actions(bot, 1)


# rules


def test_a_words_rule_raises_the_quorum_and_requires_the_owner(make_bot) -> None:
    bot = make_bot({"owner": OWNER, "rules": [SENSITIVE]})
    bot.command(AUTHOR, "at:+1d Thanks, Coach, for everything")
    [drafted] = [e for e in bot.ledger.events(1) if e.action == "drafted"]
    assert [r["name"] for r in drafted.detail["policy"]["rules"]] == ["sensitive topics"]

    bot.react(EDITOR_1, "white_check_mark", 1)
    assert f"sensitive topics: 3 approvals incl. <@{OWNER}> — 1 of 3 so far, waiting for <@{OWNER}>" in card(bot)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.react(EDITOR_3, "white_check_mark", 1)
    assert bot.draft(1).state is State.IN_REVIEW  # three approvals, but not the owner's

    bot.react(OWNER, "white_check_mark", 1)
    assert bot.draft(1).state is State.APPROVED


def test_a_draft_the_words_do_not_match_keeps_the_accounts_quorum(make_bot) -> None:
    bot = make_bot({"owner": OWNER, "rules": [SENSITIVE]})
    bot.command(AUTHOR, "at:+1d Coaching clinic on Saturday")  # "coach" as a whole word only
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    assert bot.draft(1).state is State.APPROVED
    assert bot.draft(1).policy is not None and bot.draft(1).policy.applied == ()


def test_a_require_rule_with_a_group_is_met_by_any_one_member(make_bot, slack) -> None:
    slack.groups["S0SENIORS"] = [EDITOR_3]
    rule = {"name": "late night", "if": {"hours": "22:00-07:00"}, "then": {"require": ["S0SENIORS"]}}
    bot = make_bot({"rules": [rule]})
    bot.command(AUTHOR, "at:2027-05-01T23:30-07:00 Up late")  # 23:30 in the config's timezone (PDT)

    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    assert bot.draft(1).state is State.IN_REVIEW
    assert "waiting for <!subteam^S0SENIORS>" in card(bot)

    bot.react(EDITOR_3, "white_check_mark", 1)
    assert bot.draft(1).state is State.APPROVED


@pytest.mark.parametrize(
    ("time", "applies"), [("23:30", True), ("06:59", True), ("07:00", False), ("12:00", False), ("22:00", True)]
)
def test_hours_wrap_midnight(make_bot, time: str, applies: bool) -> None:
    rule = {"name": "late night", "if": {"hours": "22:00-07:00"}, "then": {"require": [EDITOR_3]}}
    bot = make_bot({"rules": [rule]})
    bot.command(AUTHOR, f"at:2027-05-02T{time}-07:00 Timed")
    policy = bot.draft(1).policy
    assert policy is not None and [a.name for a in policy.applied] == (["late night"] if applies else [])


def test_a_block_rule_refuses_the_draft_privately_and_stores_nothing(make_bot) -> None:
    rule = {
        "name": "no endorsements",
        "if": {"pattern": "(?i)\\bvote for\\b"},
        "then": {"block": "Political endorsements are not posted from this account."},
    }
    bot = make_bot({"rules": [rule]})

    response = bot.command(AUTHOR, "Vote for my friend!")

    answer = bot.private_answer(response)
    assert "no endorsements" in answer and "Political endorsements are not posted from this account." in answer
    assert bot.ledger.drafts_in(list(State)) == []


def test_an_edit_is_judged_again_and_a_block_keeps_the_old_version(make_bot) -> None:
    rule = {"name": "no endorsements", "if": {"pattern": "(?i)\\bvote for\\b"}, "then": {"block": "No endorsements."}}
    bot = make_bot({"rules": [rule, SENSITIVE], "owner": OWNER})
    bot.command(AUTHOR, "at:+1d Harmless words")

    refused = bot.command(AUTHOR, "edit #1 Vote for me")
    assert "No endorsements." in bot.private_answer(refused)
    assert bot.draft(1).version == 1 and bot.draft(1).text == "Harmless words"

    bot.command(AUTHOR, "edit #1 About the lawsuit")
    draft = bot.draft(1)
    assert draft.version == 2 and draft.policy is not None and [a.name for a in draft.policy.applied] == ["sensitive topics"]
    [edited] = [e for e in bot.ledger.events(1) if e.action == "edited"]
    assert edited.detail["policy"]["approvals_required"] == 3


def test_a_start_judges_open_drafts_again_under_todays_rules(make_bot, config, tmp_path) -> None:
    bot = make_bot()
    bot.command(AUTHOR, "at:+1d About the lawsuit")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    assert bot.draft(1).state is State.APPROVED
    bot.stop()

    again = make_bot({"owner": OWNER, "rules": [SENSITIVE]})  # the team wrote its policy down meanwhile

    draft = again.draft(1)
    assert draft.state is State.IN_REVIEW and draft.policy is not None
    assert [a.name for a in draft.policy.applied] == ["sensitive topics"]
    assert ("policy_changed", "copydesk") in actions(again, 1)
    assert again.services.scheduler.due_at(1) is None


# bad rules


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"name": "r", "if": {"colour": "red"}, "then": {"approvals_required": 2}}, "'r': unknown condition 'colour'"),
        ({"name": "r", "if": {"pattern": "(unclosed"}, "then": {"approvals_required": 2}}, "'r': if.pattern is not a valid"),
        ({"name": "r", "if": {"links": True}, "then": {"require": ["bob"]}}, "'r': then.require has 'bob'"),
        ({"name": "r", "if": {"links": True}, "then": {"approvals_required": 9}}, "'r': then.approvals_required is 9"),
        ({"name": "r", "if": {"hours": "25:00-07:00"}, "then": {"approvals_required": 2}}, "'r': if.hours must be"),
        ({"name": "r", "if": {"links": True}, "then": {"require": ["U0NOBODY1"]}}, "'r': then.require has U0NOBODY1"),
    ],
)
def test_a_bad_rule_stops_the_start_with_one_line_naming_the_rule_and_key(tmp_path, environ, rule, says) -> None:
    path = write_config(tmp_path / "app.yaml", {"rules": [rule]})
    with pytest.raises(ConfigError) as refused:
        load_config(path, environ)
    message = str(refused.value)
    assert "\n" not in message and "accounts.main.rules" in message and says in message


# the digest


def test_the_digest_names_the_owners_veto_and_a_post_held_back_by_a_require(make_bot) -> None:
    bot = make_bot({"owner": OWNER, "rules": [SENSITIVE]})
    bot.command(AUTHOR, "at:+1d About the lawsuit")
    for editor in (EDITOR_1, EDITOR_2, EDITOR_3):
        bot.react(editor, "white_check_mark", 1)  # three approvals: the quorum, but not the owner's
    bot.command(AUTHOR, "at:+1d Something else")
    bot.react(OWNER, "x", 2)

    [report] = bot.desk.digests.digests_so_far()

    [held] = report.waiting
    assert held.note == "in review, 3 of 3 approvals; held back by sensitive topics: 1 required approval(s) not given"
    [vetoed] = report.rejected
    assert vetoed.note == "the owner's veto: final" and vetoed.people == (OWNER,)


def test_copydesk_check_and_run_refuse_a_bad_rule_in_one_line_and_check_lists_a_good_policy(
    tmp_path, environ, monkeypatch, capsys
) -> None:
    for name, value in {**environ, "COPYDESK_DB": str(tmp_path / "ledger.db")}.items():
        monkeypatch.setenv(name, value)
    bad = write_config(tmp_path / "bad.yaml", {"rules": [{"name": "r", "if": {"colour": "red"}, "then": {"block": "no"}}]})
    for command in ("check", "run"):
        assert main([command, "--config", str(bad)]) == 2
        [line] = capsys.readouterr().err.strip().splitlines()
        assert (
            line
            == "copydesk: bad.yaml: accounts.main.rules 'r': unknown condition 'colour' (one of " + ", ".join(CONDITIONS) + ")"
        )
    assert not (tmp_path / "ledger.db").exists()  # refused before anything was opened

    good = write_config(tmp_path / "good.yaml", {"owner": OWNER, "cooling_off_minutes": 0.5, "rules": [SENSITIVE]})
    assert main(["check", "--config", str(good)]) == 0
    assert f"owner {OWNER}; 0.5 min cooling-off; rules: sensitive topics" in capsys.readouterr().out


# each condition and each effect, as recorded with the version


def rule(condition: dict) -> dict:
    return {"name": "the rule", "if": condition, "then": {"approvals_required": 3}}


@pytest.mark.parametrize(
    ("condition", "matching", "other"),
    [
        ({"words": ["Lawsuit"]}, "The LAWSUIT is settled", "Lawsuits are boring"),
        ({"pattern": "(?i)\\bvote for\\b"}, "Please vote for them", "The vote form"),
        ({"links": True}, "Read https://example.com/a", "No link here"),
        ({"links": False}, "No link here", "Read https://example.com/a"),
        ({"domains": ["example.com"]}, "See news.example.com/x", "See example.org/x"),
        ({"mentions": True}, "Thanks @jack", "Mail me at a@b.com"),
        ({"thread": True}, "Part one\n---\nPart two", "One post"),
        ({"words": ["coach"], "links": True}, "Coach: https://example.com", "Coach, no link"),
    ],
    ids=["words", "pattern", "links", "no-links", "domains", "mentions", "thread", "all-keys"],
)
def test_each_condition_applies_to_the_versions_it_holds_for(make_bot, condition, matching, other) -> None:
    bot = make_bot({"rules": [rule(condition)]})
    bot.command(AUTHOR, f"at:+1d {matching}")
    bot.command(AUTHOR, f"at:+1d {other}")
    recorded = [e.detail["policy"] for e in bot.ledger.events() if e.action == "drafted"]
    assert [[r["name"] for r in p["rules"]] for p in recorded] == [["the rule"], []]
    assert [p["approvals_required"] for p in recorded] == [3, 2]


def test_a_media_rule_applies_to_a_draft_with_images(make_bot) -> None:
    bot = make_bot({"rules": [rule({"media": True})]})
    bot.command(AUTHOR, "")  # the form, with a picture from Slack
    bot.submit_form(AUTHOR, "A picture", files=[bot.slack.add_file("dot.png", PNG)], alt="A red dot")
    bot.command(AUTHOR, "at:+1d No picture")
    assert [[a.name for a in bot.draft(n).policy.applied] for n in (1, 2)] == [["the rule"], []]


def test_a_rules_cooling_off_is_the_highest_asked(make_bot) -> None:
    clock = MovableClock()
    links = {"name": "links", "if": {"links": True}, "then": {"cooling_off_minutes": 15}}
    bot = make_bot({"cooling_off_minutes": 5, "rules": [links]}, clock=clock)
    bot.command(AUTHOR, "Read https://example.com/a")
    bot.command(AUTHOR, "No link")
    for draft in (1, 2):
        bot.react(EDITOR_1, "white_check_mark", draft)
        bot.react(EDITOR_2, "white_check_mark", draft)
    waits = [bot.draft(n).cooling_until - bot.ledger.events(n)[-1].at for n in (1, 2)]
    assert waits == [timedelta(minutes=15), timedelta(minutes=5)]
    assert any("links: 15 min to think after the quorum" in blocks_text(u) for u in bot.slack.updates())


def test_the_owner_lifting_a_veto_on_a_held_draft_puts_it_back_on_hold_not_out(make_bot) -> None:
    bot = held_by_the_pause(make_bot)
    bot.react(OWNER, "x", 1)
    assert bot.draft(1).state is State.REJECTED

    bot.react(OWNER, "x", 1, removed=True)

    assert bot.draft(1).state is State.HELD  # still waiting for an editor to confirm: nothing was sent
    assert bot.services.scheduler.due_at(1) is None and bot.x.posts == []
    assert ("owner_veto_lifted", OWNER) in actions(bot, 1)


def test_a_block_added_later_holds_an_approved_post_at_start_and_publish_now_cannot_send_it(make_bot) -> None:
    bot = make_bot()
    bot.command(AUTHOR, "at:+1d Vote for my friend")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    bot.stop()
    block = {"name": "no endorsements", "if": {"pattern": "(?i)\\bvote for\\b"}, "then": {"block": "No endorsements."}}

    again = make_bot({"rules": [block]})

    draft = again.draft(1)
    assert draft.state is State.HELD and "no endorsements" in (draft.notice or "")
    refused = again.press(EDITOR_1, "copydesk_publish_again", 1)
    assert "cannot go out: The rule 'no endorsements' of main refuses this draft: No endorsements." in again.private_answer(
        refused
    )
    assert again.draft(1).state is State.HELD and again.x.posts == []


def test_a_required_approver_who_left_the_group_before_the_post_went_holds_it(make_bot, slack) -> None:
    slack.groups["S0SENIORS"] = [EDITOR_3]
    seniors = {"name": "seniors", "if": {"words": ["coach"]}, "then": {"require": ["S0SENIORS"]}}
    clock = MovableClock()
    bot = make_bot({"rules": [seniors]}, clock=clock)
    bot.command(AUTHOR, "at:+1h Thanks, coach")
    for editor in (EDITOR_2, EDITOR_3):
        bot.react(editor, "white_check_mark", 1)
    assert bot.draft(1).state is State.APPROVED
    slack.groups["S0SENIORS"] = [EDITOR_1]  # the senior left the group before the post's time
    bot.desk.core.directory.forget()
    clock.advance(hours=2)

    bot.desk.publishing.publish(1)  # the job at its time

    draft = bot.draft(1)
    assert draft.state is State.HELD and "require the approval of S0SENIORS" in (draft.notice or "")
    assert bot.x.posts == []


def test_a_start_gives_an_approved_draft_the_longer_cooling_off_its_rules_now_ask(make_bot) -> None:
    clock = MovableClock()
    bot = make_bot(clock=clock)
    bot.command(AUTHOR, "at:+5m Read https://example.com/a")
    bot.react(EDITOR_1, "white_check_mark", 1)
    bot.react(EDITOR_2, "white_check_mark", 1)
    approved_at = [e.at for e in bot.ledger.events(1) if e.action == "approved"][-1]
    bot.stop()
    links = {"name": "links", "if": {"links": True}, "then": {"cooling_off_minutes": 15}}

    again = make_bot({"rules": [links]}, clock=clock)

    assert again.draft(1).state is State.APPROVED
    assert again.draft(1).cooling_until == approved_at + timedelta(minutes=15)
    assert again.services.scheduler.due_at(1) == approved_at + timedelta(minutes=15)


def test_an_edit_whose_rules_nobody_could_meet_is_refused_and_changes_nothing(make_bot, slack) -> None:
    slack.groups["S0NOBODY"] = []
    impossible = {"name": "impossible", "if": {"words": ["coach"]}, "then": {"require": ["S0NOBODY"]}}
    bot = make_bot({"rules": [impossible]})
    bot.command(AUTHOR, "at:+1d Harmless")

    refused = bot.command(AUTHOR, "edit #1 Thanks, coach")

    assert "would need approvals its editors cannot give" in bot.private_answer(refused)
    assert bot.draft(1).version == 1 and bot.draft(1).text == "Harmless"


def test_after_an_edit_the_owner_lifting_an_old_held_veto_sends_the_new_version_to_review(make_bot) -> None:
    bot = held_by_the_pause(make_bot)
    bot.react(OWNER, "x", 1)  # rejected from held
    bot.command(AUTHOR, "edit #1 at:+1d New words")  # version 2 keeps the owner's veto

    bot.press(OWNER, "copydesk_reject", 1)  # lifted on the new card

    assert bot.draft(1).state is State.IN_REVIEW  # a new version is reviewed, never put on hold unseen


def test_the_history_follows_an_owners_kept_veto_beside_their_own_button_vote(make_bot, capsys) -> None:
    bot = make_bot({"owner": OWNER})
    bot.command(AUTHOR, "at:+1d First words")
    bot.react(OWNER, "x", 1)
    bot.press(OWNER, "copydesk_approve", 1)  # an approval beside their veto, as a button vote
    bot.command(AUTHOR, "edit #1 Second words")
    bot.press(OWNER, "copydesk_reject", 1)  # the kept veto, lifted on the new card

    assert main(["ledger", "history", "1", "--db", str(bot.config.db_path), "--json"]) == 0
    votes = json.loads(capsys.readouterr().out)["votes"]
    assert [(v["vote"], v["version"], v["kept_into"], v["ended"]) for v in votes] == [
        ("reject", 1, [2], "taken_back"),
        ("approve", 1, [], "new_version"),
    ]
