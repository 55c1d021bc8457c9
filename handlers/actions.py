"""Buttons on review cards, and the Edit modal: the same desk calls, and the same rules, as the commands."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.desk import Desk
from bot.errors import BadTime, Unchanged
from bot.review import Kind
from handlers import render
from handlers.commands import ON_DRAFT
from handlers.errors import answered_privately, error_text
from handlers.later import Later

# The card's buttons that do what a /draft subcommand about one draft does (handlers.commands.ON_DRAFT).
BUTTONS = {
    render.WITHDRAW: "cancel",
    render.PUBLISH_AGAIN: "retry",
    render.MARK_PUBLISHED: "mark-published",
    render.RETRACT: "retract",
}


def register(app: App, desk: Desk, later: Later) -> None:
    """Bind the card's buttons and the Edit modal's submission."""
    actions = CardActions(desk, later)
    for action_id in (render.EDIT, *BUTTONS):
        app.action(action_id)(actions.ack_then_press)
    for action_id in (render.APPROVE, render.REJECT):
        app.action(action_id)(actions.vote)
    app.view(render.EDIT_MODAL)(actions.submitted)


class CardActions:
    """What a press on a card does: votes before the acknowledgement, everything else after it."""

    def __init__(self, desk: Desk, later: Later) -> None:
        self.desk = desk
        self.later = later

    def ack_then_press(self, ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        self.later(self.pressed, body, respond, client)

    def pressed(self, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        """After the ack: do what the button says, answering only the person who pressed it."""
        action = body["actions"][0]
        user, draft_id = body["user"]["id"], int(action["value"])
        tell = lambda text: respond(text=text, response_type="ephemeral", replace_original=False)  # noqa: E731
        with answered_privately(tell):
            if action["action_id"] == render.EDIT:
                view = self.desk.reading.view(draft_id)
                self.desk.core.check_can_edit(view.draft, user)
                client.views_open(trigger_id=body["trigger_id"], view=render.edit_modal(view))
                return
            tell(ON_DRAFT[BUTTONS[action["action_id"]]](self.desk, draft_id, user, None))

    def vote(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        """Approve or Reject: the vote is in the ledger before Slack hears back, like a reaction's; what it did follows."""
        action = body["actions"][0]
        kind = Kind.APPROVE if action["action_id"] == render.APPROVE else Kind.REJECT
        card_ts = (body.get("container") or {}).get("message_ts")
        shown = re.fullmatch(r"draft-\d+-v(\d+)", action.get("block_id") or "")  # the version the card showed
        draft_id = int(action["value"])
        stands, _change = self.desk.voting.vote_by_button(
            draft_id, body["user"]["id"], kind, card_ts=card_ts, version=int(shown[1]) if shown else None
        )
        ack()
        self.later(self.voted, draft_id, kind, stands, respond)

    def voted(self, draft_id: int, kind: Kind, stands: bool, respond: Respond) -> None:
        """After the ack: the voter hears what their press did (the card is redrawn from the desk's queue)."""
        view = self.desk.reading.view(draft_id)
        did = ("approved" if kind is Kind.APPROVE else "vetoed") if stands else "took back your vote on"
        respond(
            text=f"You {did} {view.draft.number}: {render.status_line(view)}", response_type="ephemeral", replace_original=False
        )

    def submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Checked before the modal closes, so a mistake shows on the field it belongs to."""
        values = view["state"]["values"]
        text = values["text"]["value"].get("value") or ""  # as typed: a form sends no Slack markup
        at = (values["at"]["value"].get("value") or "").strip() or None
        try:
            self.desk.drafting.edit(int(view["private_metadata"]), body["user"]["id"], text=text, at=at)  # its new card is queued
        except Unchanged:
            ack()  # saved as it was: the form closes and nothing changes, votes included
            return
        except BadTime as e:
            ack(response_action="errors", errors={"at": str(e)})
            return
        except Exception as e:  # a modal has nowhere else to show it: on the text field, in the error's words
            ack(response_action="errors", errors={"text": error_text(e)})
            return
        ack()
