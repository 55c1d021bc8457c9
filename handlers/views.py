"""The new-draft modal's submission: the same draft as /draft TEXT (and images), with mistakes shown on their fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App

from bot.desk import Desk
from bot.errors import AlreadySubmitted, BadAltText, BadDraft, BadImage, BadTime, CopydeskError, UnknownAccount
from handlers import files, render
from handlers.errors import error_text


def register(app: App, desk: Desk) -> None:
    """Bind the new-draft modal (opened by /draft with no text)."""
    app.view(render.DRAFT_MODAL)(DraftForm(desk).submitted)


class DraftForm:
    """The new-draft modal's submission, checked before the modal closes."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def submitted(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Stored before the modal closes (its card, and the author's message saying where it is, queued with it);
        a mistake keeps the form open with the reason under its field."""
        values = view["state"]["values"]
        picked = (values.get("when") or {}).get("value", {}).get("selected_date_time")
        chosen = ((values.get("account") or {}).get("value", {}).get("selected_option") or {}).get("value")
        shared = (values.get("images") or {}).get("value", {}).get("files") or []
        alt = (values.get("alt") or {}).get("value", {}).get("value") or ""  # as typed: a form sends no Slack markup
        try:
            on = self._networks(values, chosen)
        except CopydeskError as e:  # no network checked, or one the account is not on: said under the checkboxes
            ack(response_action="errors", errors={render.NETWORKS_FIELD: error_text(e)})
            return
        try:
            for file in shared:  # what Slack says of them; their bytes are fetched after the form has closed
                files.described(file)
            shared = files.described_in_words(shared, alt) if shared else []
            self.desk.drafting.submit(
                author_id=body["user"]["id"],
                text=values["text"]["value"].get("value") or "",  # as typed: a form sends no Slack markup
                account=chosen,
                at=None,
                publish_at=datetime.fromtimestamp(int(picked), UTC) if picked else None,
                origin_channel=view.get("private_metadata") or None,
                fetch=shared,
                once=f"view:{view['id']}" if view.get("id") else None,
                confirm=True,
                on=on,
            )
        except AlreadySubmitted:
            ack()  # the first submission made the draft; this one only closes the form
            return
        except Exception as e:  # every error belongs to a field of the form
            ack(response_action="errors", errors={_field(e, "account" in values): error_text(e)})
            return
        ack()

    def _networks(self, values: dict[str, Any], chosen: str | None) -> list[str] | None:
        """The networks checked, as /draft's on: (None: every one offered is checked, or the form offers no choice);
        BadDraft when none is, or the chosen account is not on one checked."""
        field = values.get(render.NETWORKS_FIELD)
        if field is None:
            return None
        checked = [option["value"] for option in field.get("value", {}).get("selected_options") or []]
        if not checked:
            raise BadDraft("Check at least one network for the post to go to.")
        config = self.desk.core.config
        if set(render.offered_networks(list(config.accounts.values()))) <= set(checked):
            return None
        try:
            account = self.desk.core.account(chosen)
        except UnknownAccount:
            return checked  # said under the account field, where it belongs
        self.desk.core.choose_networks(account, checked)  # the desk's own refusal, shown here rather than under the text
        return checked


def _field(error: Exception, has_account: bool) -> str:
    if isinstance(error, BadTime):
        return "when"
    if isinstance(error, BadAltText):
        return "alt"
    if isinstance(error, BadImage):
        return "images"
    if isinstance(error, UnknownAccount) and has_account:
        return "account"
    return "text"
