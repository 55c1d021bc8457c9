"""/draft: check and store fast, acknowledge, then do the slow part (Slack cards, X) after the acknowledgement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import syntax
from bot.desk import Desk
from bot.dryrun import not_sent
from bot.legs import Stage
from bot.networks import label, listed
from bot.review import State
from bot.syntax import Compose, Edit, Named
from handlers import digest_render, render
from handlers.errors import answered_privately
from handlers.later import Later
from handlers.slack_text import typed, unescape

COMMAND = "/draft"
DESCRIPTION = "Write a post for the team's X account; editors approve it before it goes out"
USAGE_HINT = (
    "[to:ACCOUNT] [at:WHEN] TEXT (or nothing, for a form)  ·  help  ·  list  ·  digest  ·  edit #ID  ·  cancel #ID  ·  pause"
)


FollowUp = Callable[[], None]  # what the acknowledging step hands on, to run after Slack has its answer


def register(app: App, desk: Desk, later: Later) -> None:
    """Bind /draft to the desk: `check` answers within Slack's 3 seconds and returns what follows after it, if anything."""
    app.command(COMMAND)(DraftCommand(desk, later).acknowledge)


class DraftCommand:
    """/draft and its subcommands: what is decided before the acknowledgement, and what follows it."""

    def __init__(self, desk: Desk, later: Later) -> None:
        self.desk = desk
        self.later = later

    def acknowledge(self, ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        """Bolt's listener: answer, then hand on the follow-up the answer asked for."""
        follow_up = self.check(ack, command, respond, client)
        if follow_up is not None:
            follow_up()

    def check(self, ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> FollowUp | None:
        """Everything that decides the answer, and every ledger write a later crash must not lose, happens here."""
        desk, user = self.desk, command["user_id"]
        if not command.get("text", "").strip():
            ack()  # the form opens right after, within the trigger's three seconds
            return lambda: self.later(self._privately, respond, self._open_form, command, client)
        parsed = _parse(command.get("text", ""))
        if isinstance(parsed, Compose):
            # Slack sends a slow /draft again (X-Slack-Retry-Num) with the same trigger_id: it makes one draft
            once = f"command:{command['trigger_id']}" if command.get("trigger_id") else None
            draft = desk.drafting.submit(
                author_id=user,
                text=parsed.text,
                account=parsed.account,
                at=parsed.at,
                origin_channel=command.get("channel_id"),
                once=once,
                on=parsed.on or None,
            )
            ack()  # the link to its card follows privately once the card is up, holding no thread meanwhile
            answer = lambda: self.later(self._privately, respond, self._card_link, draft.id, respond)  # noqa: E731
            return lambda: self.later(desk.drafting.watch_card, draft.id, answer)
        if isinstance(parsed, Edit):
            draft = desk.drafting.edit(parsed.draft_id, user, text=parsed.text, at=parsed.at)  # its new card is queued with it
            ack(text=f"{draft.number} is edited; its votes are cleared and a new card is on its way.", response_type="ephemeral")
        elif parsed.name == "drop-images":
            assert parsed.draft_id is not None
            draft = desk.media.set_images(parsed.draft_id, user, [])
            ack(
                text=f"{draft.number} has no images now; its votes are cleared and a new card is on its way.",
                response_type="ephemeral",
            )
        elif parsed.name == "help":
            ack(
                text=syntax.help_text(desk.core.config.approve_reactions[0], desk.core.config.reject_reactions[0]),
                response_type="ephemeral",
            )
        elif parsed.name == "list":
            text, blocks = render.pending_list(desk.reading.pending(), desk.reading.readable(user))
            ack(text=text, blocks=blocks or None, response_type="ephemeral")
        elif parsed.name == "digest":
            text, blocks = digest_render.so_far(desk.digests.digests_so_far(), desk.reading.readable(user))
            ack(text=text, blocks=blocks, response_type="ephemeral")
        elif parsed.name == "pause":
            pause = desk.control.pause(user, parsed.rest or None)  # in force, and its news for Slack queued, before this answer
            ack(text=render.paused_answer(pause), response_type="ephemeral")
        elif parsed.name == "resume":
            resumed = desk.control.resume(user)
            ack(text=render.resumed_answer(resumed.rescheduled, [d.number for d in resumed.held]), response_type="ephemeral")
        else:
            ack()  # withdraw, retract, retry, mark-published: they talk to Slack or X, so after the ack
            return lambda: self.later(self._privately, respond, self._on_draft, parsed, user, respond)
        return None

    @staticmethod
    def _privately(respond: Respond, step: Callable[..., None], *args: Any) -> None:
        """A follow-up, with whatever goes wrong in it told privately to the person who typed the command."""
        with answered_privately(lambda text: respond(text=text, response_type="ephemeral")):
            step(*args)

    def _open_form(self, command: dict[str, Any], client: WebClient) -> None:
        accounts = list(self.desk.core.config.accounts.values())
        zone = self.desk.core.zone_of(command["user_id"]).key
        modal = render.draft_modal(accounts, self.desk.core.config.default_account, command.get("channel_id"), zone)
        client.views_open(trigger_id=command["trigger_id"], view=modal)

    def _card_link(self, draft_id: int, respond: Respond) -> None:
        view, link = self.desk.drafting.card_link(draft_id)  # the courier has posted it (or Slack refused it)
        respond(text=render.in_review(view, link), response_type="ephemeral")

    def _on_draft(self, parsed: Named, user: str, respond: Respond) -> None:
        respond(text=_on_draft(self.desk, parsed, user), response_type="ephemeral")


def _parse(text: str) -> Compose | Named | Edit:
    """Slack's text as typed: subcommands take it as it comes, a draft's words must mean on X what they show in Slack."""
    parsed = syntax.parse(unescape(text))
    return syntax.parse(typed(text)) if isinstance(parsed, (Compose, Edit)) else parsed


class OnDraft(Protocol):
    """A subcommand about one draft: what it did, as its answer says (`rest`: a link; `on`: the networks named)."""

    def __call__(self, desk: Desk, draft_id: int, user: str, rest: str | None, on: tuple[str, ...] = ()) -> str: ...


def _withdraw(desk: Desk, draft_id: int, user: str, rest: str | None, on: tuple[str, ...] = ()) -> str:
    return f"{desk.drafting.withdraw(draft_id, user).number} is withdrawn; it will not be published."


def _retract(desk: Desk, draft_id: int, user: str, rest: str | None, on: tuple[str, ...] = ()) -> str:
    """Deleted from where it was (an X-only account hears what it always did), and whether it is still anywhere."""
    networks = desk.core.networks_of(desk.core.draft(draft_id))
    if dry := _dry_only(desk, draft_id):  # nothing was sent: nothing is deleted
        draft = desk.settling.retract(draft_id, user, on=on)
        return f"{draft.number} was a dry run ({not_sent(dry)}): nothing to delete. It is marked retracted."
    if len(networks) == 1:
        return f"{desk.settling.retract(draft_id, user, on=on).number} is deleted from {label(networks[0])} and marked retracted."
    before = _live(desk, draft_id)
    draft = desk.settling.retract(draft_id, user, on=on)
    left = _live(desk, draft_id)
    gone = [n for n in before if n not in left] or [n for n in networks if n not in left and (not on or n in on)]
    if draft.state is State.RETRACTED:
        return f"{draft.number} is deleted from {listed(gone)} and marked retracted."
    if left:
        return f"{draft.number} is deleted from {listed(gone)}; it is still on {listed(left)}."
    return f"{draft.number} is deleted from {listed(gone)}. {draft.notice or ''}".strip()


def _publish_again(desk: Desk, draft_id: int, user: str, rest: str | None, on: tuple[str, ...] = ()) -> str:
    """On its way again: to the networks it is not out on (read first: the scheduler may be quicker than the answer)."""
    networks = desk.core.networks_of(desk.core.draft(draft_id))
    out = _out(desk, draft_id, taken_back=True) if len(networks) > 1 else ()
    draft = desk.settling.publish_again(draft_id, user)
    if dry := desk.reading.view(draft_id).dry_run:
        return f"{draft.number} is on its way again: {not_sent(dry)}."
    if len(networks) == 1:
        return f"{draft.number} is on its way to {label(networks[0])} again."
    return f"{draft.number} is on its way again to {listed([n for n in networks if n not in out])}."


def _mark_published(desk: Desk, draft_id: int, user: str, rest: str | None, on: tuple[str, ...] = ()) -> str:
    """Recorded as published; for a draft not yet out everywhere, where it was recorded and what sends the rest."""
    several = len(desk.core.networks_of(desk.core.draft(draft_id))) > 1
    before = _out(desk, draft_id) if several else ()
    draft = desk.settling.mark_published(draft_id, user, rest, network=on[0] if on else None)
    if not several or draft.state is State.PUBLISHED:
        return f"{draft.number} is recorded as published."
    found = list(on) or [n for n in _out(desk, draft_id) if n not in before]
    where = f" on {label(found[0])}" if len(found) == 1 else ""
    return f"{draft.number} is recorded as published{where}; /draft retry {draft.number} sends what is not out yet."


def _dry_only(desk: Desk, draft_id: int) -> tuple[str, ...]:
    """The networks of a draft that went through only in a dry run (no real link anywhere): () when any post is real."""
    view = desk.reading.view(draft_id)
    return view.dry_run if view.dry_run and not view.links else ()


def _live(desk: Desk, draft_id: int) -> tuple[str, ...]:
    """The networks a draft's post is live on (not retracted), by the links its view shows."""
    return tuple(network for network, _ in desk.reading.view(draft_id).links)


def _out(desk: Desk, draft_id: int, *, taken_back: bool = False) -> tuple[str, ...]:
    """The networks a draft is out on (sent, or marked published with or without a link), by its legs; with
    `taken_back`, those it was retracted from too (Publish now sends neither)."""
    done = (Stage.OUT, Stage.RETRACTED) if taken_back else (Stage.OUT,)
    return tuple(leg.network for leg in desk.reading.view(draft_id).legs if leg.stage in done)


# One table for what the subcommands about one draft do, and what they answer: /draft NAME #ID and the card's buttons.
ON_DRAFT: dict[str, OnDraft] = {
    "cancel": _withdraw,
    "retract": _retract,
    "retry": _publish_again,
    "mark-published": _mark_published,
}


def _on_draft(desk: Desk, parsed: Named, user: str) -> str:
    """The subcommands about one draft, each answered with what it did."""
    assert parsed.draft_id is not None
    return ON_DRAFT[parsed.name](desk, parsed.draft_id, user, parsed.rest or None, parsed.on)
