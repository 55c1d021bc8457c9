"""Buttons on review cards, and the Edit modal: the same desk calls, and the same rules, as the commands."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.errors import BadTime, Unchanged
from bot.review import Kind
from bot.service import Desk
from handlers import render
from handlers.errors import answered_privately, error_text
from handlers.later import Later


def register(app: App, desk: Desk, later: Later) -> None:
    """Bind the card's buttons and the Edit modal's submission."""

    def ack_then_press(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        later(pressed, body, respond, client)

    def pressed(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        """After the ack: do what the button says, answering only the person who pressed it."""
        action = body["actions"][0]
        user, draft_id = body["user"]["id"], int(action["value"])
        tell = lambda text: respond(text=text, response_type="ephemeral", replace_original=False)  # noqa: E731
        with answered_privately(tell):
            if action["action_id"] == render.EDIT:
                view = desk.view(draft_id)
                desk.check_can_edit(view.draft, user)
                client.views_open(trigger_id=body["trigger_id"], view=render.edit_modal(view))
                return
            tell(_press(desk, action["action_id"], draft_id, user))

    for action_id in (render.EDIT, render.WITHDRAW, render.PUBLISH_AGAIN, render.MARK_PUBLISHED, render.RETRACT):
        app.action(action_id)(ack_then_press)

    def vote(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        """Approve or Reject: the vote is in the ledger before Slack hears back, like a reaction's."""
        action = body["actions"][0]
        kind = Kind.APPROVE if action["action_id"] == render.APPROVE else Kind.REJECT
        card_ts = (body.get("container") or {}).get("message_ts")
        shown = re.fullmatch(r"draft-\d+-v(\d+)", action.get("block_id") or "")  # the version the card showed
        stands, change = desk.vote_by_button(
            int(action["value"]), body["user"]["id"], kind, card_ts=card_ts, version=int(shown[1]) if shown else None
        )
        context["vote"] = (kind, stands, change)
        ack()

    def voted(body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        """After the ack: the voter hears what their press did (the card is redrawn from the desk's queue)."""
        if "vote" not in context:
            return
        kind, stands, _change = context["vote"]
        draft_id = int(body["actions"][0]["value"])
        view = desk.view(draft_id)
        did = ("approved" if kind is Kind.APPROVE else "vetoed") if stands else "took back your vote on"
        respond(
            text=f"You {did} {view.draft.number}: {render.status_line(view)}", response_type="ephemeral", replace_original=False
        )

    def vote_then_show(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        try:
            vote(ack, body, context)
        finally:
            if "vote" in context:
                later(voted, body, context, respond)

    for action_id in (render.APPROVE, render.REJECT):
        app.action(action_id)(vote_then_show)

    def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Checked before the modal closes, so a mistake shows on the field it belongs to."""
        values = view["state"]["values"]
        text = values["text"]["value"].get("value") or ""  # as typed: a form sends no Slack markup
        at = (values["at"]["value"].get("value") or "").strip() or None
        try:
            desk.edit(int(view["private_metadata"]), body["user"]["id"], text=text, at=at)  # its new card is queued with it
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

    app.view(render.EDIT_MODAL)(submitted)


def _press(desk: Desk, action_id: str, draft_id: int, user: str) -> str:
    if action_id == render.WITHDRAW:
        return f"{desk.withdraw(draft_id, user).number} is withdrawn; it will not be published."
    if action_id == render.PUBLISH_AGAIN:
        return f"{desk.publish_again(draft_id, user).number} is on its way to X."
    if action_id == render.MARK_PUBLISHED:
        return f"{desk.mark_published(draft_id, user, None).number} is recorded as published."
    return f"{desk.retract(draft_id, user).number} is deleted from X and marked retracted."
