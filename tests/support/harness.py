"""The harness tests drive copydesk with: a running copydesk as Slack sees it, signed requests, the people, app.yaml."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.config import Config
from bot.desk import Clock, utc_now
from bot.model import Draft
from bot.review import State
from bot.runtime.app import Services, build_services, create_app
from tests.fakes.slack_api import FakeSlack
from tests.fakes.x_api import FakeX

SIGNING_SECRET = "test-signing-secret"


AUTHOR = "U0AUTHOR1"


EDITOR_1 = "U0EDITOR1"


EDITOR_2 = "U0EDITOR2"


EDITOR_3 = "U0EDITOR3"


OUTSIDER = "U0OUTSIDE"


REVIEW = "C0REVIEW01"


BASE_CONFIG: dict[str, Any] = {
    "timezone": "America/Los_Angeles",
    "admins": ["U0ADMIN01"],
    "accounts": {
        "main": {
            "handle": "aplusk",
            "review_channel": REVIEW,
            "editors": [EDITOR_1, EDITOR_2, EDITOR_3],
            "approvals_required": 2,
            "allow_self_approval": False,
        }
    },
    "digest": {"channel": "C0DIGEST01", "at": "18:00"},
}


def write_config(path: Path, overrides: dict[str, Any] | None = None, top: dict[str, Any] | None = None) -> Path:
    """app.yaml from BASE_CONFIG, with the main account's and top-level settings overridden for one test."""
    data = json.loads(json.dumps(BASE_CONFIG))
    data["accounts"]["main"].update(overrides or {})
    data.update(top or {})
    path.write_text(yaml.safe_dump(data))
    return path


class Copydesk:
    """A running copydesk as Slack sees it: signed commands and events go in, the fakes record what comes out."""

    def __init__(
        self,
        config: Config,
        slack: FakeSlack,
        x: FakeX,
        *,
        clock: Clock = utc_now,
        jitter: Callable[[], float] = lambda: 1.0,
    ):
        self.config = config
        self.slack = slack
        self.x = x
        self.services: Services = build_services(config, clock=clock, jitter=jitter)  # no jitter: retries at known times
        self.app: App = create_app(self.services)
        self.desk = self.services.desk
        self.ledger = self.services.ledger
        self._events = 0
        self._count_lock = threading.Lock()  # events may be sent from the fakes' threads (a reaction the instant a card exists)
        self._answered_before = 0

    def start(self) -> Copydesk:
        self.services.start()
        return self

    def stop(self) -> None:
        self.services.stop()

    def audited(self) -> list[str]:
        """What `copydesk ledger verify` would find wrong with this bot's ledger (reopened: it may be closed by now)."""
        from storage import Ledger

        ledger = Ledger.open_readonly(self.config.db_path)
        try:
            broken = ledger.verify_chain(self.config.ledger_key.reveal().encode() if self.config.ledger_key else None)
            return [f"chain broken at event {broken.first_broken}"] * (broken.first_broken is not None) + ledger.audit()
        finally:
            ledger.close()

    def crash(self) -> None:
        """Die as a killed process would: the scheduler and the courier stop, what Slack was not told stays in the outbox."""
        self.services.scheduler.shutdown()
        self.services.courier.stop()
        self.ledger.close()

    # Slack → copydesk

    def command(
        self,
        user: str,
        text: str,
        *,
        channel: str = "C0GENERAL",
        settle: bool = True,
        trigger_id: str | None = None,
        retry: int | None = None,
    ) -> BoltResponse:
        """`user` types `/draft text` in `channel` (Slack sending it again carries the same trigger_id and a retry number)."""
        with self._count_lock:
            self._events += 1
            number = self._events
        body = urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": "T0TEAM001",
                "team_domain": "copydesk-test",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/draft",
                "text": text,
                "api_app_id": "A0COPYDESK",
                "is_enterprise_install": "false",
                "response_url": self.slack.response_url(),
                "trigger_id": trigger_id or f"{number}.456.abc",
            }
        )
        extra = {"x-slack-retry-num": [str(retry)], "x-slack-retry-reason": ["http_timeout"]} if retry else {}
        return self.dispatch(body, "application/x-www-form-urlencoded", extra, settle=settle)

    def react(
        self,
        user: str,
        reaction: str,
        draft: Draft | int,
        *,
        removed: bool = False,
        event_id: str | None = None,
        retry: int | None = None,
        settle: bool = True,
    ) -> BoltResponse:
        """`user` adds (or removes) `reaction` on the draft's review card."""
        card = self.ledger.draft(draft if isinstance(draft, int) else draft.id)
        assert card is not None and card.card_ts, "the draft has no card to react on"
        return self.react_on(
            user, reaction, card.review_channel, card.card_ts, removed=removed, event_id=event_id, retry=retry, settle=settle
        )

    def react_on(
        self,
        user: str,
        reaction: str,
        channel: str,
        ts: str,
        *,
        removed: bool = False,
        event_id: str | None = None,
        retry: int | None = None,
        settle: bool = True,
    ) -> BoltResponse:
        with self._count_lock:
            self._events += 1
            number = self._events
        event = {
            "type": "reaction_removed" if removed else "reaction_added",
            "user": user,
            "reaction": reaction,
            "item_user": "U0COPYDESK",
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": f"{time.time():.6f}",
        }
        envelope = {
            "token": "legacy-verification-token",
            "team_id": "T0TEAM001",
            "api_app_id": "A0COPYDESK",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{number:08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0TEAM001", "user_id": "U0COPYDESK", "is_bot": True, "is_enterprise_install": False}],
        }
        extra = {"x-slack-retry-num": [str(retry)], "x-slack-retry-reason": ["http_timeout"]} if retry else {}
        return self.dispatch(json.dumps(envelope), "application/json", extra, settle=settle)

    def press(
        self,
        user: str,
        action_id: str,
        draft: Draft | int,
        *,
        card_ts: str | None = None,
        version: int | None = None,
        settle: bool = True,
    ) -> BoltResponse:
        """`user` clicks a button on the draft's review card (or on another card of it: `card_ts`, showing `version`)."""
        card = self.ledger.draft(draft if isinstance(draft, int) else draft.id)
        assert card is not None
        if card_ts:
            card = replace(card, card_ts=card_ts, version=version or card.version)
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM001"},
            "api_app_id": "A0COPYDESK",
            "team": {"id": "T0TEAM001", "domain": "copydesk-test"},
            "channel": {"id": card.review_channel, "name": "review"},
            "container": {"type": "message", "message_ts": card.card_ts, "channel_id": card.review_channel},
            "message": {"ts": card.card_ts, "text": "card"},
            "trigger_id": "1234.5678.trigger",
            "response_url": self.slack.response_url("action"),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": f"draft-{card.id}-v{card.version}",
                    "value": str(card.id),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self.dispatch(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", settle=settle)

    def press_home(self, user: str, action_id: str, draft: int, *, version: int | None = None) -> BoltResponse:
        """`user` clicks a button of `draft` on the App Home copydesk last published for them (or, with `version`, on a
        home showing that version of it); a home's button has no message and no response_url."""
        views = [
            json.loads(c.body["view"]) if isinstance(c.body["view"], str) else c.body["view"]
            for c in self.slack.calls("/api/views.publish")
            if c.body["user_id"] == user
        ]
        block_id = f"home-draft-{draft}-v{version}"
        if version is None:
            assert views, f"copydesk has drawn no App Home for {user}"
            block_id = next(
                b["block_id"]
                for b in views[-1]["blocks"]
                if b["type"] == "actions" and b["block_id"].startswith(f"home-draft-{draft}-v")
            )
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM001"},
            "api_app_id": "A0COPYDESK",
            "team": {"id": "T0TEAM001", "domain": "copydesk-test"},
            "container": {"type": "view", "view_id": "V0HOME001"},
            "view": {"id": "V0HOME001", "type": "home", "blocks": views[-1]["blocks"] if views else []},
            "trigger_id": "1234.5678.trigger",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": str(draft),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self.dispatch(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def submit_edit(self, user: str, draft: int, text: str, at: str = "") -> BoltResponse:
        """`user` saves the Edit modal of `draft` with this text and time."""
        values = {
            "text": {"value": {"type": "plain_text_input", "value": text}},
            "at": {"value": {"type": "plain_text_input", "value": at or None}},
        }
        return self._submit_view(user, "copydesk_edit_modal", str(draft), values)

    def submit_form(
        self,
        user: str,
        text: str,
        *,
        account: str | None = None,
        when: datetime | None = None,
        channel: str = "C0GENERAL",
        view: dict[str, Any] | None = None,
        files: list[dict[str, Any]] | None = None,
        alt: str | None = None,
        networks: list[str] | None = None,
    ) -> BoltResponse:
        """`user` fills in the new-draft modal (the one `view`, as copydesk opened it) and presses Send for review; with
        `networks`, only those of its network checkboxes are left checked (otherwise they stay as the form opened)."""
        opened = view or self.slack.views()[-1]
        blocks = {b["block_id"] for b in opened["blocks"]}
        values: dict[str, Any] = {"text": {"value": {"type": "plain_text_input", "value": text}}}
        if "account" in blocks:
            chosen = {"text": {"type": "plain_text", "text": account}, "value": account} if account else None
            values["account"] = {"value": {"type": "static_select", "selected_option": chosen}}
        values["when"] = {"value": {"type": "datetimepicker", "selected_date_time": int(when.timestamp()) if when else None}}
        values["images"] = {"value": {"type": "file_input", "files": files or []}}
        values["alt"] = {"value": {"type": "plain_text_input", "value": alt}}
        if "networks" in blocks:
            boxes = next(b for b in opened["blocks"] if b["block_id"] == "networks")["element"]
            checked = boxes.get("initial_options", []) if networks is None else boxes["options"]
            picked = [o for o in checked if networks is None or o["value"] in networks]
            values["networks"] = {"value": {"type": "checkboxes", "selected_options": picked}}
        return self._submit_view(user, opened["callback_id"], opened.get("private_metadata", channel), values)

    def _submit_view(self, user: str, callback_id: str, metadata: str, values: dict[str, Any]) -> BoltResponse:
        """A modal's view_submission, as Slack sends it when `user` presses its submit button."""
        payload = {
            "type": "view_submission",
            "user": {"id": user, "team_id": "T0TEAM001"},
            "api_app_id": "A0COPYDESK",
            "team": {"id": "T0TEAM001", "domain": "copydesk-test"},
            "trigger_id": "1234.5678.trigger",
            "view": {
                "id": "V0MODAL01",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": metadata,
                "state": {"values": values},
            },
        }
        return self.dispatch(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def share_files(
        self,
        user: str,
        draft: Draft | int,
        files: list[dict[str, Any]],
        *,
        text: str = "",
        event_id: str | None = None,
        subtype: str | None = "file_share",
    ) -> BoltResponse:
        """`user` shares `files` (from slack.add_file) in the reply thread of the draft's review card."""
        card = self.ledger.draft(draft if isinstance(draft, int) else draft.id)
        assert card is not None and card.card_ts, "the draft has no card to share files under"
        self._events += 1
        event = {
            "type": "message",
            "subtype": subtype,
            "user": user,
            "text": text,
            "files": files,
            "channel": card.review_channel,
            "channel_type": "channel",
            "thread_ts": card.card_ts,
            "ts": f"{time.time():.6f}",
            "event_ts": f"{time.time():.6f}",
        }
        if subtype is None:
            del event["subtype"]
        envelope = {
            "token": "legacy-verification-token",
            "team_id": "T0TEAM001",
            "api_app_id": "A0COPYDESK",
            "type": "event_callback",
            "event": event,
            "event_id": event_id or f"Ev{self._events:08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0TEAM001", "user_id": "U0COPYDESK", "is_bot": True, "is_enterprise_install": False}],
        }
        return self.dispatch(json.dumps(envelope), "application/json")

    def open_home(self, user: str, *, settle: bool = True) -> BoltResponse:
        """`user` opens copydesk's App Home."""
        self._events += 1
        envelope = {
            "team_id": "T0TEAM001",
            "api_app_id": "A0COPYDESK",
            "type": "event_callback",
            "event_id": f"Ev{self._events:08d}",
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0HOME001",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0TEAM001", "user_id": "U0COPYDESK", "is_bot": True, "is_enterprise_install": False}],
        }
        return self.dispatch(json.dumps(envelope), "application/json", settle=settle)

    def dispatch(
        self, body: str, content_type: str, extra: dict[str, list[str]] | None = None, *, settle: bool = True
    ) -> BoltResponse:
        """Sign `body` exactly as Slack does, hand it to the Bolt app, and (unless told not to) let work after the ack finish."""
        headers = signed_headers(body, content_type)
        headers.update(extra or {})
        self._answered_before = len(self.slack.responses())
        response = self.app.dispatch(BoltRequest(body=body, headers=headers))
        if settle:
            assert self.services.listeners.wait_idle(10), "work after the acknowledgement did not finish"
            self.slack_told()  # and what the desk queued for Slack (a vote by button redraws its card from there)
            assert self.desk.progress.wait_unwatched(10), "an answer waiting for a card was never given"
            assert self.services.listeners.wait_idle(10), "the answer handed on once the card was up did not finish"
        return response

    # reading back

    def private_answer(self, response: BoltResponse) -> str:
        """What only the sender of the last request saw: the ephemeral acknowledgement, or what came through response_url."""
        sent = [r for r in self.slack.responses()[self._answered_before :] if r.get("response_type") == "ephemeral"]
        if response.body:
            answer = json.loads(response.body)
            assert answer.get("response_type") == "ephemeral", answer
            sent.insert(0, answer)
        assert len(sent) == 1, f"expected one private answer, got {sent}"
        return sent[0]["text"]

    def draft(self, number: int) -> Draft:
        found = self.ledger.draft(number)
        assert found is not None
        return found

    def slack_told(self) -> None:
        """Wait until Slack has heard everything the ledger's outbox holds that is due now (the courier delivers it)."""
        assert self.services.courier.wait_idle(10), "the outbox was not delivered to Slack"

    def wait_for_state(self, number: int, state: State, timeout: float = 10.0) -> Draft:
        """The scheduler publishes on its own thread: wait (with a deadline) until the ledger shows `state`."""
        deadline = time.monotonic() + timeout
        while (draft := self.draft(number)).state is not state:
            if time.monotonic() > deadline:
                raise AssertionError(f"#{number} is {draft.state.value}, not {state.value}, after {timeout}s")
            time.sleep(0.005)
        return draft

    def latest(self) -> Draft:
        return self.ledger.drafts_in(list(State))[-1]


def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "the condition") -> None:
    """Wait, with a deadline, for something another thread (the scheduler's) makes true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.005)


def signed_headers(
    body: str, content_type: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, list[str]]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "content-type": [content_type],
        "x-slack-request-timestamp": [ts],
        "x-slack-signature": [signature],
    }


class MovableClock:
    """Real time plus an offset the test moves forward: the desk's notion of now, while APScheduler keeps real time."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


def at(text: str) -> datetime:
    """An aware UTC datetime from ISO text."""
    return datetime.fromisoformat(text).astimezone(UTC)
