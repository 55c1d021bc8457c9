"""Buttons on review cards, and the Edit modal: the same desk calls, and the same rules, as the commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.errors import BadTime
from bot.review import Kind
from bot.service import Desk
from handlers import home, render
from handlers.errors import answered_privately, error_text
from handlers.slack_text import unescape


BUTTONS = (
    render.APPROVE, render.REJECT, render.EDIT, render.WITHDRAW, render.PUBLISH_AGAIN, render.MARK_PUBLISHED, render.RETRACT,
)


def register(app: App, desk: Desk) -> None:
    """Bind the card's buttons and the Edit modal's submission."""

    def ack_only(ack: Ack) -> None:
        ack()

    def pressed(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        """After the ack: do what the button says, answering only the person who pressed it."""
        action = body["actions"][0]
        user, draft_id = body["user"]["id"], int(action["value"])
        tell = _teller(user, respond if body.get("response_url") else None, client)
        with answered_privately(tell):
            if action["action_id"] == render.EDIT:
                view = desk.view(draft_id)
                desk.check_can_edit(view.draft, user)
                client.views_open(trigger_id=body["trigger_id"], view=render.edit_modal(view))
                return
            tell(_press(desk, action["action_id"], draft_id, user))
        if (body.get("view") or {}).get("type") == "home":
            home.publish(desk, client, user)  # the App Home shows the press's result at once

    for action_id in BUTTONS:
        app.action(action_id)(ack=ack_only, lazy=[pressed])

    def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
        """Checked before the modal closes, so a mistake shows on the field it belongs to."""
        values = view["state"]["values"]
        text = unescape(values["text"]["value"].get("value") or "")
        at = (values["at"]["value"].get("value") or "").strip() or None
        try:
            draft, old_card = desk.edit(int(view["private_metadata"]), body["user"]["id"], text=text, at=at)
        except BadTime as e:
            ack(response_action="errors", errors={"at": str(e)})
            return
        except Exception as e:  # a modal has nowhere else to show it: on the text field, in the error's words
            ack(response_action="errors", errors={"text": error_text(e)})
            return
        context["draft_id"], context["old_card"] = draft.id, old_card
        ack()

    def repost(context: BoltContext) -> None:
        if "draft_id" in context:
            desk.replace_card(context["draft_id"], context.get("old_card"))

    app.view(render.EDIT_MODAL)(ack=submitted, lazy=[repost])


def _teller(user: str, respond: Respond | None, client: WebClient) -> Callable[[str], None]:
    """A card's press is answered in the channel, visible to the presser only; the App Home has no channel, so a DM."""
    if respond is not None:
        return lambda text: respond(text=text, response_type="ephemeral", replace_original=False)
    return lambda text: client.chat_postMessage(channel=user, text=text)


def _press(desk: Desk, action_id: str, draft_id: int, user: str) -> str:
    if action_id in (render.APPROVE, render.REJECT):
        kind = Kind.APPROVE if action_id == render.APPROVE else Kind.REJECT
        stands = desk.vote_by_button(draft_id, user, kind)
        view = desk.view(draft_id)
        did = ("approved" if kind is Kind.APPROVE else "vetoed") if stands else "took back your vote on"
        return f"You {did} {view.draft.number}: {render.status_line(view)}"
    if action_id == render.WITHDRAW:
        return f"{desk.withdraw(draft_id, user).number} is withdrawn; it will not be published."
    if action_id == render.PUBLISH_AGAIN:
        return f"{desk.publish_again(draft_id, user).number} is on its way to X."
    if action_id == render.MARK_PUBLISHED:
        return f"{desk.mark_published(draft_id, user, None).number} is recorded as published."
    return f"{desk.retract(draft_id, user).number} is deleted from X and marked retracted."
