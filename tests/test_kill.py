"""kill -9 at any moment of the loop, then a restart: no vote is lost and no approved draft is posted twice or silently dropped."""

from __future__ import annotations

import http.client
import json
import random
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode

import pytest
import yaml

from bot import thread
from bot.review import Kind, State
from storage import Ledger
from tests.fakes.bluesky_pds import FakeBluesky
from tests.fakes.http import RecordingServer
from tests.fakes.mastodon_api import FakeMastodon
from tests.fakes.slack_api import FakeSlack, blocks_text
from tests.fakes.x_api import FakeX
from tests.support.harness import AUTHOR, EDITOR_1, EDITOR_2, REVIEW, signed_headers, write_config
from tests.support.networks import NETWORK_ENV, networks_block
from tests.support.process import Launcher, Running, start

APPROVE = "white_check_mark"
EDITORS = (EDITOR_1, EDITOR_2)  # two approvals publish at once (no at:)
SEED = 1009  # the random kill moments and bursts are the same on every run
FORM = "application/x-www-form-urlencoded"
ONE_VOTE = "Standing draft: only one editor ever approves this"
POST_1 = "Post 01: killed right after its /draft got 200"
POST_2 = "Post 02: killed while its card was being posted"
POST_3 = "Post 03: killed while its thread reply was held"
POST_4 = "Post 04: killed right after its second approval got 200"
POST_5 = "Post 05: its card was made but its ts never stored"
POST_7 = "Post 07: killed between its first and its second approval"
POST_8 = "Post 08: killed while X's answer to its post was held"
POST_9 = "Post 09: killed while its card update was held"
THREAD = "Post 06: a thread killed at part 2\n---\nPost 06, part 2\n---\nPost 06, part 3"
THREAD_PARTS = thread.split(THREAD)

T = TypeVar("T")


def until(what: str, condition: Callable[[], T], timeout: float = 10.0) -> T:
    """Poll `condition` until it returns something truthy, or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.01)
    return value


def held(server: RecordingServer, path: str, about: Callable[[dict[str, Any]], bool]) -> None:
    """Wait until a request to `path` that `about` picks out (by card ts or text) is being held: that one, not another draft's."""
    until(
        f"a held request to {path} of the draft in question",
        lambda: [c for c in list(server.held) if c.path == path and about(c.body)],
    )


@dataclass
class Command:
    """A /draft as Slack sent it; Slack never retries a command, so one without a 200 may or may not exist."""

    text: str
    acknowledged: bool = False


@dataclass
class Reaction:
    """A reaction event as Slack sends it: redelivered with the same event_id until it gets a 200."""

    event_id: str
    editor: str
    text: str  # the draft's text: how the test finds the draft in the ledger at the end
    body: str
    deliveries: int = 0
    acknowledged: bool = False


@dataclass(repr=False)
class SlackSide:
    """Plays Slack towards a `copydesk run` that the test kills with SIGKILL and starts again."""

    args: list[str]
    env: dict[str, str]
    slack: FakeSlack
    x: FakeX
    commands: list[Command] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    running: Running | None = None
    launch: Callable[[list[str], dict[str, str]], subprocess.Popen] = start
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def db(self) -> str:
        return self.env["COPYDESK_DB"]

    # the process

    def start(self) -> None:
        """Start copydesk; then, as Slack does, redeliver every event that never got its 200."""
        self.running = Running(self.launch(self.args, self.env))
        for reaction in self.reactions:
            if not reaction.acknowledged:
                self._deliver(reaction)
                assert reaction.acknowledged, (
                    f"the redelivery of {reaction.event_id} ({reaction.editor} on {reaction.text!r}) got no 200"
                )

    def kill(self, moment: str) -> None:
        """SIGKILL: no handler, no clean-up, no checkpoint. Then let the fakes answer again, held requests included."""
        assert self.running is not None and self.running.process.poll() is None, f"copydesk died by itself before: {moment}"
        self.running.process.kill()
        self.running.process.wait(timeout=10)
        self.kills.append(moment)
        for server in (self.slack, self.x):
            for path in list(server.gates):
                server.gates.pop(path).set()
            server.held.clear()

    # Slack → copydesk

    def draft(self, text: str) -> Command:
        """/draft TEXT from the author; acknowledged only once the draft is in the ledger."""
        assert self.running is not None
        command = Command(text)
        with self._lock:
            self.commands.append(command)
            trigger = f"{len(self.commands)}.2.3"  # each /draft has its own: Slack sends one again only with the same
        body = urlencode(
            {
                "command": "/draft",
                "text": text,
                "user_id": AUTHOR,
                "channel_id": "C0GEN",
                "team_id": "T0TEAM001",
                "response_url": self.slack.response_url(),
                "trigger_id": trigger,
            }
        )
        command.acknowledged = self._post(body, FORM)
        return command

    def react(self, editor: str, text: str) -> Reaction:
        """`editor` approves the draft with this text on its review card (the card's ts as the ledger has it)."""
        return self.react_on(editor, text, self.card_ts(text))

    def react_on(self, editor: str, text: str, ts: str) -> Reaction:
        """`editor` approves on the message `ts` (a card copydesk may not know yet)."""
        with self._lock:
            event_id = f"EvKILL{len(self.reactions) + 1:04d}"
            body = json.dumps(
                {
                    "type": "event_callback",
                    "event_id": event_id,
                    "team_id": "T0TEAM001",
                    "api_app_id": "A0COPYDESK",
                    "event_time": int(time.time()),
                    "event": {
                        "type": "reaction_added",
                        "user": editor,
                        "reaction": APPROVE,
                        "item_user": "U0COPYDESK",
                        "item": {"type": "message", "channel": REVIEW, "ts": ts},
                        "event_ts": f"{time.time():.6f}",
                    },
                }
            )
            reaction = Reaction(event_id, editor, text, body)
            self.reactions.append(reaction)
        self._deliver(reaction)
        return reaction

    def card_in_slack(self, text: str) -> str:
        """The ts of the card Slack has for this text, whether or not copydesk heard of it."""
        found = until(
            f"Slack has a card for {text!r}",
            lambda: [m["ts"] for m in self.slack.top_level(REVIEW) if text in json.dumps(m.get("blocks"))],
        )
        assert len(found) == 1, f"{text!r} has {len(found)} cards"
        return found[0]

    def reacted(self, editor: str, text: str) -> bool:
        with self._lock:
            return any(r.editor == editor and r.text == text for r in self.reactions)

    def _deliver(self, reaction: Reaction) -> None:
        reaction.deliveries += 1
        retry = reaction.deliveries - 1
        extra = {"x-slack-retry-num": [str(retry)], "x-slack-retry-reason": ["http_timeout"]} if retry else {}
        reaction.acknowledged = self._post(reaction.body, "application/json", extra)

    def _post(self, body: str, content_type: str, extra: dict[str, list[str]] | None = None) -> bool:
        """True only for an HTTP 200; a refused connection or one cut by the kill is no answer at all."""
        running = self.running
        assert running is not None
        headers = {**signed_headers(body, content_type), **(extra or {})}
        try:
            status, _ = running.post("/slack/events", body, headers)
        except (OSError, http.client.HTTPException):  # URLError, ConnectionResetError, RemoteDisconnected, timeouts
            return False
        return status == 200

    # reading the ledger while copydesk runs (read-only: the process under test owns it)

    def peek(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def state(self, text: str) -> State:
        [row] = self.peek("SELECT state FROM drafts WHERE text = ?", (text,))
        return State(row["state"])

    def expect(self, text: str, state: State, why: str) -> None:
        found = self.state(text)
        assert found is state, f"{text!r} is {found.value} after the restart, not {state.value}: {why}"

    def card_ts(self, text: str) -> str:
        rows = until(
            f"the review card of {text!r} is in the ledger",
            lambda: self.peek("SELECT card_ts FROM drafts WHERE text = ? AND card_ts IS NOT NULL", (text,)),
        )
        return rows[0]["card_ts"]

    def settled(self, texts: list[str]) -> bool:
        """Every one of these drafts has its card and none is still on its way to X."""
        marks = ", ".join("?" for _ in texts)
        rows = self.peek(f"SELECT state, card_ts FROM drafts WHERE text IN ({marks})", tuple(texts))
        return len(rows) == len(texts) and all(r["card_ts"] and r["state"] not in ("approved", "publishing") for r in rows)


def burst(side: SlackSide, rng: random.Random, name: str, stop: threading.Event) -> None:
    """Slack traffic as it comes: new drafts and approvals on cards already up, until copydesk stops answering."""
    made: list[str] = []
    try:
        for step in range(40):
            if stop.is_set():
                return
            open_cards = [
                t
                for t in made
                if not all(side.reacted(e, t) for e in EDITORS)
                and side.peek("SELECT 1 FROM drafts WHERE text = ? AND card_ts IS NOT NULL", (t,))
            ]
            if open_cards and (len(made) >= 6 or rng.random() < 0.6):
                text = rng.choice(open_cards)
                editor = EDITOR_1 if not side.reacted(EDITOR_1, text) else EDITOR_2
                if not side.react(editor, text).acknowledged:
                    return
            elif len(made) < 6:
                text = f"{name} draft {step:02d}: burst traffic"
                made.append(text)
                if not side.draft(text).acknowledged:
                    return
            else:
                time.sleep(0.02)  # the remaining cards are not up yet
    except sqlite3.Error:
        return  # the process was killed under the read


Outcome = Callable[[Ledger, dict[str, Any], list[str]], None]  # the ledger, its drafts by text, and X's posts' texts


class Moment(NamedTuple):
    """How a case reaches its moment, kills copydesk there and starts it again; and what that must leave in the end."""

    reach: Callable[[SlackSide], None]
    outcomes: tuple[Outcome, ...]


def approved_once(side: SlackSide, text: str) -> None:
    """A draft with its card up and one approval: the next one sends it to X."""
    assert side.draft(text).acknowledged
    assert side.react(EDITOR_1, text).acknowledged


def after_draft(side: SlackSide) -> None:
    """The draft is stored and acknowledged; its card may not be up yet."""
    assert side.draft(POST_1).acknowledged
    side.kill("right after a /draft got 200")
    side.start()


def card_post_held(side: SlackSide) -> None:
    """The card is on its way to Slack: the restart must post it."""
    side.slack.hold("/api/chat.postMessage")
    assert side.draft(POST_2).acknowledged
    held(side.slack, "/api/chat.postMessage", lambda body: POST_2 in str(body.get("blocks")))
    side.kill("while the review card's chat.postMessage was held")
    side.start()


def between_approvals(side: SlackSide) -> None:
    """Between the first and the second approval (and one draft that never gets its second)."""
    assert side.draft(POST_7).acknowledged
    assert side.draft(ONE_VOTE).acknowledged
    assert side.react(EDITOR_1, ONE_VOTE).acknowledged
    assert side.react(EDITOR_1, POST_7).acknowledged
    side.kill("between the first and the second approval")
    side.start()


def x_answer_held(side: SlackSide) -> None:
    """X created the post, copydesk never heard back: flagged as held, never posted again."""
    approved_once(side, POST_8)
    side.x.hold("/2/tweets")
    assert side.react(EDITOR_2, POST_8).acknowledged
    side.x.wait_for_held("/2/tweets")
    side.kill("while X's answer to POST /2/tweets was held (X has the post)")
    side.start()
    side.expect(POST_8, State.HELD, "X may have it, so a person must look")


def card_update_held(side: SlackSide) -> None:
    """X answered and the ledger has it; the card update is held."""
    approved_once(side, POST_9)
    side.x.hold("/2/tweets")
    assert side.react(EDITOR_2, POST_9).acknowledged  # its card update went out before the 200
    side.x.wait_for_held("/2/tweets")
    side.slack.hold("/api/chat.update")
    side.x.gates.pop("/2/tweets").set()
    card = side.card_ts(POST_9)
    held(side.slack, "/api/chat.update", lambda body: body.get("ts") == card)
    side.kill("after X answered, while the card's chat.update was held")
    side.start()
    side.expect(POST_9, State.PUBLISHED, "X's answer was recorded before the card update")


def thread_reply_held(side: SlackSide) -> None:
    """The card is updated; the thread reply saying it is live is held."""
    approved_once(side, POST_3)
    side.x.hold("/2/tweets")
    assert side.react(EDITOR_2, POST_3).acknowledged
    side.x.wait_for_held("/2/tweets")
    side.slack.hold("/api/chat.postMessage")
    side.x.gates.pop("/2/tweets").set()
    card = side.card_ts(POST_3)
    held(side.slack, "/api/chat.postMessage", lambda body: body.get("thread_ts") == card)
    side.kill("after publishing, while the thread reply's chat.postMessage was held")
    side.start()
    side.expect(POST_3, State.PUBLISHED, "X's answer was recorded before the thread reply")


def after_second_approval(side: SlackSide) -> None:
    """The second approval is in; publishing races the kill."""
    approved_once(side, POST_4)
    assert side.react(EDITOR_2, POST_4).acknowledged
    side.kill("right after the second approval got 200")
    side.start()


def thread_part_2_answer_lost(side: SlackSide) -> None:
    """A thread: part 1 is out, X created part 2 but its answer is still on the way: held, nothing sent again."""
    side.x.lose_answer_for(THREAD_PARTS[1], delay=60)
    approved_once(side, THREAD)
    assert side.react(EDITOR_2, THREAD).acknowledged
    until(
        "part 2 of the thread reached X",
        lambda: [c for c in side.x.arrived("/2/tweets") if c.body.get("text") == THREAD_PARTS[1]],
    )
    side.kill("while X's answer to part 2 of a thread was on its way (X has parts 1 and 2)")
    side.start()
    side.expect(THREAD, State.HELD, "part 2 may be on X, so a person must look; part 1 is never sent again")


def card_ts_never_stored(side: SlackSide) -> None:
    """Slack created the card but copydesk never heard its ts; an editor reacted the instant it appeared."""
    side.slack.hold("/api/chat.postMessage")
    assert side.draft(POST_5).acknowledged
    held(side.slack, "/api/chat.postMessage", lambda body: POST_5 in str(body.get("blocks")))
    card = side.card_in_slack(POST_5)
    assert side.react_on(EDITOR_1, POST_5, card).acknowledged, "a vote on a card being posted got no 200"
    side.kill("after Slack created the card and an editor voted on it, before its ts was stored")
    side.start()
    assert side.card_ts(POST_5) == card, "the card Slack had was not adopted"


def published(*texts: str) -> Outcome:
    """These drafts end published (on X once and linked once, as the checks before this one made sure)."""

    def outcome(ledger: Ledger, drafts: dict[str, Any], posted: list[str]) -> None:
        for text in texts:
            assert drafts[text].state is State.PUBLISHED, f"{text!r} is {drafts[text].state.value}"

    return outcome


def held_on_x_once(ledger: Ledger, drafts: dict[str, Any], posted: list[str]) -> None:
    """Held where X has the post but copydesk never heard back, and never posted again."""
    assert drafts[POST_8].state is State.HELD
    assert posted.count(POST_8) == 1


def thread_stops_after_part_1(ledger: Ledger, drafts: dict[str, Any], posted: list[str]) -> None:
    """Parts 1 and 2 on X once each, part 3 never; the ledger has part 1 and tells a person about part 2."""
    assert [posted.count(part) for part in THREAD_PARTS] == [1, 1, 0]
    assert sorted(ledger.published_parts(drafts[THREAD].id)) == [1]
    assert (drafts[THREAD].notice or "").startswith("part 2 of 3: publishing was interrupted")


def one_vote_stands(ledger: Ledger, drafts: dict[str, Any], posted: list[str]) -> None:
    """The draft only one editor approved is still in review, with that one vote."""
    assert drafts[ONE_VOTE].state is State.IN_REVIEW and [v.user_id for v in ledger.votes(drafts[ONE_VOTE].id)] == [EDITOR_1]


MOMENTS = [
    pytest.param(Moment(after_draft, (published(POST_1),)), id="after-draft-200"),
    pytest.param(Moment(card_post_held, (published(POST_2),)), id="card-post-held"),
    pytest.param(Moment(between_approvals, (one_vote_stands, published(POST_7))), id="between-approvals"),
    pytest.param(Moment(x_answer_held, (held_on_x_once,)), id="x-answer-held"),
    pytest.param(Moment(card_update_held, (published(POST_9),)), id="card-update-held"),
    pytest.param(Moment(thread_reply_held, (published(POST_3),)), id="thread-reply-held"),
    pytest.param(Moment(after_second_approval, ()), id="after-second-approval-200"),
    pytest.param(Moment(thread_part_2_answer_lost, (thread_stops_after_part_1,)), id="thread-part-2-answer-lost"),
    pytest.param(Moment(card_ts_never_stored, (published(POST_5),)), id="card-ts-never-stored"),
]


@pytest.fixture(scope="module")
def launcher() -> Iterator[Launcher]:
    """Interpreters with copydesk's libraries imported ahead: this module starts copydesk more than twenty times."""
    launcher = Launcher()
    yield launcher
    launcher.close()


@pytest.fixture
def side(tmp_path: Path, environ: dict[str, str], slack: FakeSlack, x: FakeX, launcher: Launcher) -> Iterator[SlackSide]:
    """copydesk running on a ledger of its own, and Slack's side of it; killed afterwards if a case stopped halfway."""
    config = write_config(tmp_path / "app.yaml")
    side = SlackSide(
        ["run", "--config", str(config), "--host", "127.0.0.1", "--port", "0"], environ, slack, x, launch=launcher.start
    )
    side.start()
    yield side
    if side.running is not None and side.running.process.poll() is None:
        side.running.process.kill()
        side.running.process.wait()


@pytest.mark.parametrize("moment", MOMENTS)
def test_kill_9_at_this_moment_loses_no_vote_and_posts_nothing_twice(side: SlackSide, moment: Moment) -> None:
    moment.reach(side)
    assert len(side.kills) == 1, side.kills
    finish(side)
    assert_nothing_lost_or_doubled(side, *moment.outcomes)


def test_kill_9_at_seeded_random_moments_of_bursts_loses_no_vote_and_posts_nothing_twice(side: SlackSide) -> None:
    rng = random.Random(SEED)
    assert side.draft(ONE_VOTE).acknowledged  # standing through the bursts: it must never reach X
    assert side.react(EDITOR_1, ONE_VOTE).acknowledged
    for number in range(4):  # bursts of drafts and approvals, killed after a seeded-random delay
        stop = threading.Event()
        name = f"Burst {number + 1}"
        traffic = threading.Thread(target=burst, args=(side, random.Random(SEED + number), name, stop), daemon=True)
        traffic.start()
        delay = rng.uniform(0.1, 1.0)
        time.sleep(delay)  # the kill's moment is the point: wherever the loop happens to be
        side.kill(f"{name.lower()}: {delay:.2f}s into a burst of drafts and approvals")
        stop.set()
        traffic.join(15)
        assert not traffic.is_alive(), "the burst did not stop after the kill"
        side.start()
    finish(side)
    assert len(side.kills) == 4, side.kills
    assert_nothing_lost_or_doubled(side, one_vote_stands)


def finish(side: SlackSide) -> None:
    """The last run: approve whatever is left (but the one-vote draft), let everything settle, stop cleanly."""
    texts = [r["text"] for r in side.peek("SELECT text FROM drafts ORDER BY id")]
    for text in texts:
        if side.state(text) is State.IN_REVIEW and text != ONE_VOTE:
            for editor in EDITORS:
                if not side.reacted(editor, text):
                    assert side.react(editor, text).acknowledged, f"{editor} on {text!r} got no 200"
    until("every draft has a card and none is approved or publishing", lambda: side.settled(texts), timeout=15)
    until("Slack has heard everything", lambda: side.peek("SELECT COUNT(*) FROM outbox WHERE state != 'sent'")[0][0] == 0)
    assert side.running is not None
    assert side.running.stop() == 0, "".join(side.running.log)


def assert_nothing_lost_or_doubled(side: SlackSide, *outcomes: Outcome) -> None:
    """What the ledger and X's own record say after the kills; then the outcomes the moment must leave."""
    conn = sqlite3.connect(side.db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], "the SQLite file is damaged"
    finally:
        conn.close()

    ledger = Ledger.open(side.db)
    try:
        chain = ledger.verify_chain()
        assert chain.first_broken is None, f"the event log's hash chain breaks at event {chain.first_broken}"
        drafts = {d.text: d for d in ledger.drafts_in(list(State))}
        assert len(drafts) == len(ledger.drafts_in(list(State))), "two drafts share a text: the test's texts must be unique"

        lost = [c.text for c in side.commands if c.acknowledged and c.text not in drafts]
        assert not lost, f"/draft got 200 but the draft is not in the ledger: {lost}"
        unknown = sorted(set(drafts) - {c.text for c in side.commands})
        assert not unknown, f"drafts nobody sent: {unknown}"

        for reaction in side.reactions:
            assert reaction.acknowledged, f"{reaction.event_id} never got its 200 (delivered {reaction.deliveries} times)"
            draft = drafts[reaction.text]
            votes = [(v.user_id, v.kind) for v in ledger.votes(draft.id)]
            assert (reaction.editor, Kind.APPROVE) in votes, (
                f"vote lost: {reaction.event_id} ({reaction.editor} on #{draft.id} {draft.text!r}) got 200 after "
                f"{reaction.deliveries} delivery(ies) but the ledger has only {votes}"
            )

        stuck = [f"#{d.id} {d.text!r}" for d in drafts.values() if d.state is State.PUBLISHING]
        assert not stuck, f"left in state publishing after the restart: {stuck}"

        posted = side.x.texts()
        requested = [c.body.get("text") for c in side.x.arrived("/2/tweets")]  # answered or not
        parts_of = {text: thread.split(text) for text in drafts}  # a single post is its one part
        strangers = sorted(set(posted) - {part for parts in parts_of.values() for part in parts})
        assert not strangers, f"on X but no draft in the ledger has that text: {strangers}"
        for text, draft in drafts.items():
            where = f"#{draft.id} {text!r} ({draft.state.value})"
            approvers = {v.user_id for v in ledger.votes(draft.id) if v.kind is Kind.APPROVE}
            if len(approvers) >= 2:
                assert draft.state in (State.PUBLISHED, State.HELD), f"{where} was approved but is neither published nor flagged"
            if draft.state is State.HELD:
                assert draft.notice, f"{where} is held without a notice telling a person why"
            out = ledger.published_parts(draft.id)
            for number, part in enumerate(parts_of[text], 1):
                on_x, asked = posted.count(part), requested.count(part)
                assert asked <= 1, f"{where} part {number} was sent to X {asked} times"
                assert on_x <= 1, f"{where} part {number} is on X {on_x} times"
                if len(approvers) < 2:
                    assert on_x == 0 and asked == 0, f"{where} is on X with only {sorted(approvers)} approving"
                if draft.state is State.PUBLISHED or number in out:
                    assert on_x == 1, f"{where} part {number} is published in the ledger but X has it {on_x} times"
                    post_id = next(p["id"] for p in side.x.posts if p["text"] == part)
                    recorded = out.get(number)
                    assert recorded and recorded.x_post_id == post_id, f"{where} part {number}: the ledger records {recorded}"

        assert_slack_as_the_ledger_says(side, ledger, drafts)

        for outcome in outcomes:
            outcome(ledger, drafts, posted)
    finally:
        ledger.close()


STATE_SHOWN = {State.IN_REVIEW: "In review", State.PUBLISHED: "Published", State.HELD: "Held for a person"}


def assert_slack_as_the_ledger_says(side: SlackSide, ledger: Ledger, drafts: dict[str, Any]) -> None:
    """One card per draft, showing its state; no thread reply or DM twice; every publication's link in its thread."""
    cards = side.slack.cards(REVIEW)
    for text, draft in drafts.items():
        where = f"#{draft.id} {text!r} ({draft.state.value})"
        assert cards.get(draft.id) == [draft.card_ts], f"{where} has cards {cards.get(draft.id)}, the ledger {draft.card_ts}"
        [card] = [m for m in side.slack.top_level(REVIEW) if m["ts"] == draft.card_ts]
        assert STATE_SHOWN[draft.state] in blocks_text(card), f"{where}: its card does not show its state"
        replies = side.slack.thread(REVIEW, draft.card_ts)
        tags = [(m.get("metadata") or {}).get("event_payload", {}).get("tag") for m in replies]
        assert len(tags) == len(set(tags)), f"{where}: a thread reply went out twice: {[m['text'] for m in replies]}"
        if draft.state is State.PUBLISHED:
            url = ledger.published_parts(draft.id)[1].url
            said = [m["text"] for m in replies if m["text"].startswith("Published on X")]
            assert said == [f"Published on X: {url}"], f"{where}: its thread says {said}"
    dms = side.slack.dms(AUTHOR)
    tags = [(m.get("metadata") or {}).get("event_payload", {}).get("tag") for m in dms]
    assert len(tags) == len(set(tags)), "a direct message went out twice"
    live = [m["text"] for m in dms if " is live: " in m["text"]]
    published = [d for d in drafts.values() if d.state is State.PUBLISHED]
    assert len(live) == len(published), f"{len(published)} published, {len(live)} 'is live' messages: {live}"


EVERYWHERE = "Post 10: killed while Bluesky's answer was held, between X and Mastodon"


def test_kill_9_during_a_publication_on_three_networks_posts_nothing_twice_anywhere(
    tmp_path: Path,
    environ: dict[str, str],
    slack: FakeSlack,
    x: FakeX,
    bluesky: FakeBluesky,
    mastodon: FakeMastodon,
    launcher: Launcher,
) -> None:
    """X is out, Bluesky's answer is held, Mastodon is not tried yet: kill -9. After the restart X and Mastodon have it
    once, Bluesky's post (made before the kill) is held for a person, and Publish now finds it by its record key."""
    data = yaml.safe_load(write_config(tmp_path / "app.yaml").read_text())
    del data["accounts"]["main"]["handle"]
    data["accounts"]["main"]["networks"] = networks_block(bluesky, mastodon)
    config = tmp_path / "app.yaml"
    config.write_text(yaml.safe_dump(data))
    side = SlackSide(
        ["run", "--config", str(config), "--host", "127.0.0.1", "--port", "0"],
        {**environ, **NETWORK_ENV},
        slack,
        x,
        launch=launcher.start,
    )
    side.start()
    try:
        gate = bluesky.hold("/xrpc/com.atproto.repo.createRecord")
        assert side.draft(EVERYWHERE).acknowledged
        for editor in EDITORS:
            assert side.react(editor, EVERYWHERE).acknowledged
        bluesky.wait_for_held("/xrpc/com.atproto.repo.createRecord")
        assert x.texts() == [EVERYWHERE] and mastodon.texts() == []

        side.kill("while Bluesky's answer was held, X out and Mastodon not tried")
        gate.set()  # the PDS answers the dead process: the record is in the repo
        until("the held record is in the repo", lambda: bluesky.texts() == [EVERYWHERE])
        side.start()

        until("Mastodon has it", lambda: mastodon.texts() == [EVERYWHERE])
        until("the draft settles", lambda: side.state(EVERYWHERE) is State.HELD)
        legs = {r["network"]: r["stage"] for r in side.peek("SELECT network, stage FROM legs")}
        assert legs == {"x": "out", "bluesky": "held", "mastodon": "out"}
        assert (x.texts(), bluesky.texts(), mastodon.texts()) == ([EVERYWHERE], [EVERYWHERE], [EVERYWHERE])

        retry = urlencode(
            {
                "command": "/draft",
                "text": "retry #1",
                "user_id": EDITOR_1,
                "channel_id": "C0GEN",
                "team_id": "T0TEAM001",
                "response_url": slack.response_url(),
                "trigger_id": "99.2.3",
            }
        )
        assert side._post(retry, FORM)
        until("Publish now settles Bluesky", lambda: side.state(EVERYWHERE) is State.PUBLISHED)
        assert (x.texts(), bluesky.texts(), mastodon.texts()) == ([EVERYWHERE], [EVERYWHERE], [EVERYWHERE])
        [rkey] = {c.body["rkey"] for c in bluesky.calls("/xrpc/com.atproto.repo.createRecord")}  # one key, every send
        assert len(bluesky.created) == 1
        assert rkey in bluesky.records
    finally:
        if side.running is not None and side.running.process.poll() is None:
            assert side.running.stop() == 0, "".join(side.running.log)
