"""The App Home: whether publishing is paused, and what is open, for whoever opens it; editors vote on it too."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.desk import Desk
from bot.errors import CopydeskError, WrongState
from bot.review import Kind
from handlers import render
from handlers.errors import error_text
from handlers.later import Later

EVENTS = ("app_home_opened",)  # the manifest subscribes to these


def register(app: App, desk: Desk, later: Later) -> None:
    """Publish the home tab each time someone opens it, after Slack has its 200 (drawing it reads Slack for card links)."""
    home = AppHome(desk, later)
    for name in EVENTS:
        app.event(name)(home.opened)
    for action_id in (render.HOME_APPROVE, render.HOME_REJECT):
        app.action(action_id)(home.vote)


class AppHome:
    """The App Home's listeners: drawn after the acknowledgement, votes counted before it."""

    def __init__(self, desk: Desk, later: Later) -> None:
        self.desk = desk
        self.later = later

    def opened(self, event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        self.later(publish, self.desk, client, event["user"])

    def vote(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Approve or Reject under "Waiting for your vote": in the ledger (or refused) before Slack hears back, like the
        card's; then the home is drawn again, saying what the press did (a home has no response_url to answer on)."""
        user, action = body["user"]["id"], body["actions"][0]
        kind = Kind.APPROVE if action["action_id"] == render.HOME_APPROVE else Kind.REJECT
        try:
            shown = render.home_vote(action.get("block_id") or "")
            if shown is None:
                raise WrongState("This button does not say which version of the draft it was for; open the App Home again.")
            stands, _change = self.desk.voting.vote_by_button(shown[0], user, kind, card_ts=None, version=shown[1])
            outcome: tuple[int, bool] | str = (shown[0], stands)
        except CopydeskError as e:  # a home has no response_url: the answer is drawn on it (ours go to app.error)
            outcome = error_text(e)
        ack()
        self.later(voted, self.desk, client, user, kind, outcome)


def voted(desk: Desk, client: WebClient, user: str, kind: Kind, outcome: tuple[int, bool] | str) -> None:
    """After the ack: the voter's home again, with what their press did (or why it was refused) at the top."""
    if isinstance(outcome, str):
        notice = f":warning: {outcome}"
    else:
        draft_id, stands = outcome
        view = desk.reading.view(draft_id)
        did = ("approved" if kind is Kind.APPROVE else "vetoed") if stands else "took back your vote on"
        notice = f"You {did} {view.draft.number}: {render.status_line(view)}"
    publish(desk, client, user, notice)


def publish(desk: Desk, client: WebClient, user: str, notice: str | None = None) -> None:
    """Draw `user`'s App Home as the ledger is now."""
    client.views_publish(user_id=user, view=render.home(desk.reading.overview(user), notice))
