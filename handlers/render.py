"""Pure functions from domain views to Slack text and Block Kit; nothing here talks to Slack."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from bot import images, preflight
from bot.config import NETWORKS, Account
from bot.dryrun import not_sent
from bot.legs import Stage, where
from bot.length import BLUESKY_MAX_GRAPHEMES, MAX_WEIGHTED_LENGTH
from bot.model import SYSTEM, Draft, Pause
from bot.networks import MASTODON_URL_CHARACTERS, label, listed
from bot.ports import Announcement, Change, DraftView, Overview
from bot.review import State
from handlers.slack_text import escape

Blocks = list[dict[str, Any]]
SECTION_LIMIT = 3000  # characters in one section block's text
FIELD_LIMIT = 2000  # characters in one of a section's fields

_STATE_WORDS = {
    State.IN_REVIEW: ":hourglass_flowing_sand: In review",
    State.APPROVED: ":white_check_mark: Approved",
    State.REJECTED: ":no_entry_sign: Rejected",
    State.PUBLISHING: ":outbox_tray: Publishing",
    State.PUBLISHED: ":rocket: Published",
    State.FAILED: ":warning: Publishing failed",
    State.HELD: ":raised_hand: Held for a person",
    State.WITHDRAWN: ":leftwards_arrow_with_hook: Withdrawn",
    State.RETRACTED: ":wastebasket: Retracted",
    State.EXPIRED: ":hourglass: Expired",
}

# Buttons on the card; handlers/actions.py binds the same IDs.
APPROVE, REJECT, EDIT, WITHDRAW, PUBLISH_AGAIN, MARK_PUBLISHED, RETRACT = (
    "copydesk_approve",
    "copydesk_reject",
    "copydesk_edit",
    "copydesk_withdraw",
    "copydesk_publish_again",
    "copydesk_mark_published",
    "copydesk_retract",
)
# The App Home's Approve and Reject (handlers/home.py binds them): its block_id names the draft and the version shown.
HOME_APPROVE, HOME_REJECT = "copydesk_home_approve", "copydesk_home_reject"
EDIT_MODAL = "copydesk_edit_modal"
DRAFT_MODAL = "copydesk_draft_modal"
IMAGE_FILETYPES = ("png", "jpg", "jpeg")  # what the form's file picker offers; bot/images.py checks the bytes


def when(moment: datetime | None, *, missing: str = "as soon as it is approved") -> str:
    """A time every reader sees in their own time zone (Slack's date token), with a UTC fallback."""
    if moment is None:
        return missing
    epoch = int(moment.timestamp())
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def goes_out(draft: Draft) -> str:
    """When an approved draft goes: at its time, or after its cooling-off window, which anyone may still stop."""
    if draft.cooling_until is not None:
        return f"goes out {when(draft.due)} unless someone objects"
    return f"goes out {when(draft.publish_at, missing='now')}"


def who(ids: tuple[str, ...] | list[str]) -> str:
    """Users and user groups, as Slack mentions them."""
    mentions = [f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids]
    return ", ".join(mentions[:-1]) + " and " + mentions[-1] if len(mentions) > 1 else "".join(mentions)


def policy_lines(view: DraftView) -> list[str]:
    """What the account's owner and the rules that applied to this version ask, and how far the votes are."""
    draft, lines = view.draft, []
    owner = view.account.owner
    if owner:
        vote = (
            "vetoed (final: only they can lift it)"
            if owner in view.rejecters
            else "approved"
            if owner in view.approvers
            else "has not voted"
        )
        lines.append(f":crown: Owner <@{owner}>: {vote}")
    for asked in draft.policy.applied if draft.policy else ():
        wants = []
        if asked.approvals_required:
            wants.append(f"{asked.approvals_required} approvals")
        if asked.require:
            wants.append(f"incl. {who(asked.require)}" if wants else f"approval of {who(asked.require)}")
        if asked.cooling_off_minutes:
            wants.append(f"{asked.cooling_off_minutes:g} min to think after the quorum")
        so_far = [f"{len(view.approvers)} of {view.needed} so far"] if asked.approvals_required else []
        so_far += [f"waiting for {who([i])}" for i in asked.require if i in view.unmet]
        lines.append(f":scroll: {escape(asked.name)}: {' '.join(wants)}" + (f" — {', '.join(so_far)}" if so_far else ""))
    return lines


def people(user_ids: tuple[str, ...] | list[str]) -> str:
    """<@A>, <@B> and <@C>."""
    mentions = [f"<@{u}>" for u in user_ids]
    if len(mentions) <= 1:
        return "".join(mentions) or "nobody"
    return ", ".join(mentions[:-1]) + " and " + mentions[-1]


def title(view: DraftView) -> str:
    """Draft #12 for @handle."""
    return f"Draft {view.draft.number} for @{view.account.handle}"


def status_line(view: DraftView) -> str:
    """The state and the votes behind it, in one line."""
    draft, needed = view.draft, view.needed
    head = _STATE_WORDS[draft.state]
    if draft.state is State.IN_REVIEW:
        votes = f" — {len(view.approvers)} of {needed} approvals"
        return head + votes + (f": {people(view.approvers)}" if view.approvers else "")
    if draft.state is State.APPROVED and draft.retry_at and view.several and view.legs:
        return f"{head} by {people(view.approvers)} — {where(view.legs)}; trying again {when(draft.retry_at)}"
    if draft.state is State.APPROVED and draft.retry_at:
        return f"{head} by {people(view.approvers)} — {listed(view.networks)} failed; trying again {when(draft.retry_at)}"
    if draft.state is State.APPROVED:
        return f"{head} by {people(view.approvers)} — {goes_out(draft)}"
    if draft.state is State.HELD:
        return f"{head}: {escape(draft.notice or f'check the account on {listed(view.networks)}')}"
    if draft.state is State.REJECTED:
        return f"{head} by {people(view.rejecters)}"
    if draft.state is State.PUBLISHED and view.dry_run and view.publication:  # no link: nothing was sent
        also = f" on {linked(view.links)};" if view.links else ""
        return f"{head}{also} — {not_sent(view.dry_run)} {when(view.publication.finished_at)}"
    if draft.state is State.PUBLISHED and view.several and view.links and view.publication:
        return f"{head} on {linked(view.links)} {when(view.publication.finished_at)}"
    if draft.state is State.PUBLISHED and view.publication and view.publication.url:
        return f"{head} <{view.publication.url}|on {listed(view.networks)}> {when(view.publication.finished_at)}"
    if draft.state is State.RETRACTED and view.dry_run and view.publication and view.publication.retracted_at:
        return f"{head} — {not_sent(view.dry_run)}, so nothing was deleted {when(view.publication.retracted_at)}"
    if draft.state is State.RETRACTED and view.publication and view.publication.retracted_at:
        return f"{head}: deleted from {reached(view)} {when(view.publication.retracted_at)}"
    if draft.state is State.FAILED and view.several and view.legs:
        return f"{head}: {where(view.legs)}"
    if draft.state is State.FAILED and view.publication and view.publication.error:
        return f"{head}: {escape(view.publication.error)}"
    return head


def linked(links: tuple[tuple[str, str], ...]) -> str:
    """<link|X>, <link|Bluesky> and <link|Mastodon>: each network's name, linked to the post there."""
    names = [f"<{escape(url)}|{label(network)}>" for network, url in links]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def reached(view: DraftView) -> str:
    """The networks a draft went out on (X for a draft on X alone): what a retraction deleted it from."""
    out = [leg.network for leg in view.legs if leg.stage is Stage.OUT]
    return listed(view.retracted or out or view.networks)


def not_out(view: DraftView) -> str:
    """The networks a draft has yet to reach, which Publish now sends it to (X for a draft on X alone)."""
    done = {leg.network for leg in view.legs if leg.stage in (Stage.OUT, Stage.RETRACTED)}
    out = ({network for network, _ in view.links} | done) if view.several else set()
    return listed([n for n in view.networks if n not in out] or view.networks)


def network_lines(view: DraftView) -> list[str]:
    """For a draft going to several networks, once publishing began: one line per network, its link or its problem."""
    if not view.several or not (view.legs or view.links):
        return []
    links, legs = dict(view.links), {leg.network: leg for leg in view.legs}
    lines = []
    for network in view.networks:
        name, leg = label(network), legs.get(network)
        if network in links:
            lines.append(f":white_check_mark: {name}: {escape(links[network])}")
        elif network in view.dry_run and leg is not None and leg.stage in (Stage.OUT, Stage.RETRACTED):
            lines.append(f":test_tube: {name}: {not_sent([network])}")
        elif leg is not None and leg.stage is Stage.OUT and network not in view.retracted:
            lines.append(f":white_check_mark: {name}: marked published (no link given)")
        elif leg is None or leg.stage is Stage.PENDING:
            lines.append(f":hourglass_flowing_sand: {name}: not sent yet")
        elif leg.stage in (Stage.OUT, Stage.RETRACTED):
            lines.append(f":wastebasket: {name}: {'deleted' if network in view.retracted else 'not sent (taken back)'}")
        elif leg.stage is Stage.RETRYING:
            why = escape(leg.error or "no reason given")
            lines.append(f":repeat: {name}: retrying {when(leg.retry_at, missing='in the next run')} — {why}")
        else:
            stage = "failed" if leg.stage is Stage.FAILED else "held"
            emoji = ":warning:" if leg.stage is Stage.FAILED else ":raised_hand:"
            lines.append(f"{emoji} {name}: {stage} — {escape(leg.error or 'no reason given')}")
    return lines


def _listing(view: DraftView) -> str:
    """The network lines under a thread reply or a direct message, one a line ("" for a single network)."""
    lines = network_lines(view)
    return "\n" + "\n".join(lines) if lines else ""


def card(view: DraftView, approve: str, reject: str) -> tuple[str, Blocks]:
    """The review card: the text exactly as written, who wrote it, where and when it goes, and its votes."""
    draft = view.draft
    blocks: Blocks = [
        *pause_banner(view),
        *dry_run_banner(view),
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*{title(view)}* ({view.account.name}) · written by <@{draft.author_id}>",
            },
        },
        *verbatim(draft.text),
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{length_text(view)} · publish {when(draft.publish_at)}",
                }
            ],
        },
        *thread_and_images(view),
        *pictures(view),
        *preflight_notes(view),
        {"type": "section", "text": {"type": "mrkdwn", "text": status_line(view)}},
    ]
    if lines := network_lines(view):
        blocks.append(_note("\n".join(lines)))
    if votes := vote_line(view):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": votes}]})
    if lines := policy_lines(view):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line} for line in lines]})
    if draft.notice and draft.state is not State.HELD:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f":information_source: {draft.notice}"}]})
    if draft.state in (State.IN_REVIEW, State.APPROVED, State.REJECTED):
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Editors: react with :{approve}: to approve or :{reject}: to veto, or use the buttons. "
                        f"{view.needed} approval(s) needed; removing a reaction (or pressing "
                        "the same button again) takes the vote back.",
                    }
                ],
            }
        )
    if buttons := _buttons(view):
        # the version rides along: a press on a card whose ts is not stored yet still says which words it was for
        blocks.append({"type": "actions", "block_id": f"draft-{draft.id}-v{draft.version}", "elements": buttons})
    dry = f" ({not_sent(view.dry_run)})" if view.dry_run and draft.state is not State.PUBLISHED else ""
    return f"{title(view)}: {status_line(view)}{dry}", blocks


def dry_run_banner(view: DraftView) -> Blocks:
    """On every card of a dry run, from the first drawing: nobody mistakes the account, or its posts, for a real one."""
    if not view.dry_run:
        return []
    text = (
        f":test_tube: *{not_sent(view.dry_run)}.* This account is in dry run: review, approval and the schedule run as "
        "usual, and nothing is posted."
    )
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]


def verbatim(text: str) -> Blocks:
    """The post exactly as written, for the card and the App Home alike."""
    # plain_text shows the post verbatim: no mrkdwn, no :emoji: conversion. A section holds 3000
    # characters and a post full of links can be longer (X counts each as 23), so it may take several.
    return [
        {"type": "section", "text": {"type": "plain_text", "text": text[i : i + SECTION_LIMIT], "emoji": False}}
        for i in range(0, len(text), SECTION_LIMIT)
    ]


def vote_line(view: DraftView) -> str:
    """The votes the status line does not already show: a veto beside approvals, or who approved a post now out."""
    state = view.draft.state
    shown = (state in (State.IN_REVIEW, State.APPROVED) and not view.rejecters) or (
        state is State.REJECTED and not view.approvers
    )
    if shown:
        return ""
    parts = []
    if view.approvers:
        parts.append(f"Approved by {people(view.approvers)}")
    if view.rejecters:
        parts.append(f"vetoed by {people(view.rejecters)}")
    return "Votes: " + " · ".join(parts) if parts else ""


def length_text(view: DraftView, *, how: str = " as X counts them") -> str:
    """'123/280 characters as X counts them', or for a thread how many posts it makes; for several networks, its
    length on each as that network counts it."""
    if view.counts:
        shown = f"{counts_text(view)} characters" + (" as each network counts them" if how else "")
        return f"a thread of {len(view.parts)} posts, the longest {shown}" if len(view.parts) > 1 else shown
    if len(view.parts) > 1:
        return f"a thread of {len(view.parts)} posts, each up to {MAX_WEIGHTED_LENGTH} characters{how}"
    return f"{view.length.weighted}/{MAX_WEIGHTED_LENGTH} characters{how}"


def counts_text(view: DraftView) -> str:
    """X 212/280 · Bluesky 230/300 · Mastodon 218/500, with one over its limit (or refused there) flagged."""
    shown = []
    for count in view.counts:
        flag = (
            f" :warning: {count.excess} over" if count.excess else f" :warning: {escape(count.refused)}" if count.refused else ""
        )
        shown.append(f"{label(count.network)} {count.used}/{count.limit}{flag}")
    return " · ".join(shown)


def thread_and_images(view: DraftView) -> Blocks:
    """A thread's parts, numbered with their lengths (and which are on X), and the images that go with the first."""
    lines = []
    if len(view.parts) > 1 and view.counts:  # each network counts its parts its own way: the length line says the longest
        lines.append(f":thread: {len(view.parts)} posts — each part replies to the one before, on every network")
    elif len(view.parts) > 1:
        count = len(view.parts)
        parts = " · ".join(
            f"*{n}/{count}* {length.weighted}/{MAX_WEIGHTED_LENGTH}" + (" :white_check_mark: on X" if n in view.parts_out else "")
            for n, length in enumerate(view.parts, 1)
        )
        lines.append(f":thread: {parts} — each part replies to the one before")
    if view.images:
        where = " (on the first post)" if len(view.parts) > 1 else ""
        lines.append(f":frame_with_picture: {escape(images.summary(view.images))}{where}")
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": line}]} for line in lines]


def pictures(view: DraftView) -> Blocks:
    """Each image as it goes out, on the card itself, titled with its alt text: editors approve what they have seen."""
    blocks: Blocks = []
    for n, image in enumerate(view.images, 1):
        alt = image.alt or image.name
        if images.shown_on_card(image):
            blocks.append(
                {
                    "type": "image",
                    "slack_file": {"id": image.slack_file_id},
                    "alt_text": alt[:2000],
                    "title": {"type": "plain_text", "text": f"{n}. {alt}"[:2000], "emoji": False},
                }
            )
        else:  # kept from before images were shown on cards: its words at least
            blocks.append(
                {
                    "type": "context",
                    "elements": [
                        {"type": "plain_text", "text": f"{n}. {image.name} (not shown here): {alt}"[:2000], "emoji": False}
                    ],
                }
            )
    return blocks


def pause_banner(view: DraftView) -> Blocks:
    """While publishing is paused every card says so, and who paused it and why."""
    if view.pause is None:
        return []
    return [_switch_block(view.pause)]


def words(text: str) -> dict[str, Any]:
    """Words someone typed (a draft, a pause reason), shown exactly: plain_text interprets no Slack markup, no mrkdwn
    formatting and no :emoji: codes."""
    return {"type": "plain_text", "text": text, "emoji": False}


def announcement(news: Announcement) -> tuple[str, Blocks]:
    """The pause or the resume, to a whole review channel: the admin's reason as typed (escaped in the fallback)."""
    if news.kind == "paused":
        head = f":octagonal_sign: <@{news.actor}> paused all publishing"
        tail = ". Nothing goes out until an admin types /draft resume."
        text = head + (f": {escape(news.reason)}" if news.reason else "") + tail
        block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": head + (":" if news.reason else tail)}}
        if news.reason:
            block["fields"] = [words(news.reason[:FIELD_LIMIT])]
            return text, [block, {"type": "context", "elements": [{"type": "mrkdwn", "text": tail[2:]}]}]
        return text, [block]
    waiting = f" {news.held} post(s) whose time passed wait for an editor's confirmation on their cards." if news.held else ""
    text = f":arrow_forward: <@{news.actor}> resumed publishing.{waiting}"
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def _button(label: str, action: str, view: DraftView, *, style: str | None = None, confirm: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action,
        "value": str(view.draft.id),
        "text": {"type": "plain_text", "text": label},
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {"type": "mrkdwn", "text": confirm},
            "confirm": {"type": "plain_text", "text": label},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return button


def _buttons(view: DraftView) -> list[dict[str, Any]]:
    """What can be done to the draft now; who may press what is checked when it is pressed."""
    state = view.draft.state
    if state in (State.IN_REVIEW, State.APPROVED, State.REJECTED):
        cooling = state is State.APPROVED and view.draft.cooling_until is not None
        skip = f"Skip the rest of the cooling-off window and send it to {listed(view.networks)} now? (admins only)"
        if view.several and view.links:  # out on some networks, the rest to come: a veto stops the rest; no edit now
            return [
                _button("Approve", APPROVE, view, style="primary"),
                _button("Reject", REJECT, view, style="danger"),
                _button("Retract", RETRACT, view, style="danger", confirm=f"Delete the posts already on {_live_on(view)}?"),
            ]
        return [
            _button("Approve", APPROVE, view, style="primary"),
            _button("Reject", REJECT, view, style="danger"),
            _button("Edit", EDIT, view),
            _button("Withdraw", WITHDRAW, view, confirm="Withdraw this draft? It will not be published."),
            *([_button("Publish now", PUBLISH_AGAIN, view, confirm=skip)] if cooling else []),
        ]
    if state in (State.HELD, State.FAILED):
        return [
            _button(
                "Publish now",
                PUBLISH_AGAIN,
                view,
                style="primary",
                confirm=f"Send this post to {not_out(view)} now? If it is already on the account, mark it published instead.",
            ),
            _button("Mark as published", MARK_PUBLISHED, view),
            _button("Retract", RETRACT, view, style="danger", confirm=f"Delete the parts already on {_live_on(view)}?")
            if view.parts_out or view.links or any(leg.stage is Stage.OUT for leg in view.legs)
            else _button("Withdraw", WITHDRAW, view),
        ]
    if state is State.PUBLISHED and ((view.publication and view.publication.x_post_id) or view.links):
        confirm = (
            f"Retract this dry run? Nothing was sent to {listed(view.dry_run)}, so nothing is deleted."
            if view.dry_run and not view.links
            else f"Delete this post from {_live_on(view)}?"
        )
        return [_button("Retract", RETRACT, view, style="danger", confirm=confirm)]
    return []


def _live_on(view: DraftView) -> str:
    """Where a draft is live now, for a retraction's confirmation (X for a draft on X alone)."""
    return listed([n for n, _ in view.links] if view.several and view.links else view.networks)


def replaced_card(view: DraftView, link: str | None) -> tuple[str, Blocks]:
    """What an edited draft's old card turns into: no votes are counted here any more."""
    where = f"<{link}|the new card>" if link else "the new card"
    text = f"~{title(view)}~ was edited; this version is replaced. Review it on {where}; reactions here no longer count."
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def thread_reply(view: DraftView, change: Change) -> str:
    """What the card's thread hears when the draft changes state."""
    draft = view.draft
    if change.before is State.PUBLISHING and change.after is State.APPROVED and view.several and view.legs:
        again = when(draft.retry_at, missing="now")
        return f"Not out everywhere yet: {where(view.legs)}. Trying again {again}.{_listing(view)}"
    if change.before is State.PUBLISHING and change.after is State.APPROVED and view.publication:
        return (
            f"Attempt failed: {escape(view.last_error or 'unknown reason')}. Trying again {when(draft.retry_at, missing='now')}."
        )
    if change.before in (State.HELD, State.FAILED) and change.after is State.APPROVED:
        if view.several:  # drawn once the run is over: where it was not out then is the ledger's, not the card's now
            return f"<@{change.actor}> sent it again where it was not out: it goes out now."
        return f"<@{change.actor}> sent it to {not_out(view)} again: it goes out now."
    if change.after is State.APPROVED:
        return f"Approved by {people(view.approvers)}. It {goes_out(draft)}.{_dry(view)}"
    if change.after is State.REJECTED:
        return f"Vetoed by {people(view.rejecters)}. It will not be published unless the veto is withdrawn."
    if change.after is State.IN_REVIEW and change.before is State.APPROVED:
        return f"<@{change.actor}> withdrew an approval: back in review and no longer scheduled."
    if change.after is State.IN_REVIEW:
        return f"<@{change.actor}> withdrew the veto: back in review."
    if change.after is State.PUBLISHED and change.actor != SYSTEM:
        link = f": {escape(view.publication.url)}" if view.publication and view.publication.url else ""  # typed by a person
        return f"<@{change.actor}> marked it as published{link}.{_listing(view)}"
    if change.after is State.PUBLISHED and view.dry_run:
        return (
            f":test_tube: {not_sent(view.dry_run)}: it went through review and its time came; nothing was posted.{_listing(view)}"
        )
    if change.after is State.PUBLISHED and view.several and view.links:
        return f"Published on {listed(n for n, _ in view.links)}:{_listing(view)}"
    if change.after is State.PUBLISHED and view.publication:
        return f"Published on {listed(view.networks)}: {view.publication.url}"
    if change.after is State.FAILED and view.several and view.legs:
        return f"Publishing failed: {where(view.legs)}.{_listing(view)}"
    if change.after is State.FAILED and view.publication:
        return f"Publishing failed: {escape(view.publication.error or 'unknown reason')}"
    if change.after is State.HELD:
        return f":raised_hand: Held: {escape(draft.notice or '')} Use the buttons on the card.{_listing(view)}"
    if change.after is State.WITHDRAWN:
        return f"Withdrawn by <@{change.actor}>. It will not be published."
    if change.after is State.RETRACTED and view.dry_run and not view.links:
        return f"Retracted by <@{change.actor}>: it was a dry run ({not_sent(view.dry_run)}), so there was nothing to delete."
    if change.after is State.RETRACTED:
        return f"Retracted by <@{change.actor}>: the post was deleted from {reached(view)}."
    if change.after is State.EXPIRED:
        return f":hourglass: Expired. {escape(draft.notice or '')}".rstrip()
    return status_line(view)


REMINDER_MENTIONS = 15  # beyond this many editors, a count instead of a wall of mentions


def reminder(view: DraftView, editors: list[str]) -> str:
    """The one reminder in a card's thread for the editors who have not voted yet."""
    named = people(editors[:REMINDER_MENTIONS])
    more = f" and {len(editors) - REMINDER_MENTIONS} more editors" if len(editors) > REMINDER_MENTIONS else ""
    needed = view.needed
    return (
        f":bell: {named}{more}: {view.draft.number} still waits for your vote "
        f"({len(view.approvers)} of {needed} approvals). It goes out {when(view.draft.publish_at, missing='as soon as it is approved')}; "
        "approve or veto it on the card above."
    )


def author_note(view: DraftView, change: Change) -> str | None:
    """The direct message the author gets when their draft changes state."""
    subject = f"Your draft {view.draft.number} for @{view.account.handle}"
    if change.before in (State.PUBLISHING, State.HELD, State.FAILED) and change.after is State.APPROVED:
        return None  # a retry: the author hears how it ends
    if change.after is State.APPROVED:
        return f"{subject} was approved by {people(view.approvers)}; it {goes_out(view.draft)}.{_dry(view)}"
    if change.after is State.REJECTED:
        return f"{subject} was vetoed by {people(view.rejecters)}."
    if change.after is State.PUBLISHED and view.dry_run and change.actor == SYSTEM:
        return f"{subject} went through the whole loop: {not_sent(view.dry_run)}.{_listing(view)}"
    if change.after is State.PUBLISHED and view.several and view.links and change.actor == SYSTEM:
        return f"{subject} is live on {listed(n for n, _ in view.links)}:{_listing(view)}"
    if change.after is State.PUBLISHED and view.publication and change.actor == SYSTEM:
        return f"{subject} is live: {view.publication.url}"
    if change.after is State.FAILED and view.several and view.legs:
        return f"{subject} could not be published everywhere: {where(view.legs)}.{_listing(view)}"
    if change.after is State.FAILED and view.publication:
        return f"{subject} could not be published: {escape(view.publication.error or 'unknown reason')}"
    if change.after is State.IN_REVIEW:
        undone = "an approval" if change.before is State.APPROVED else "the veto"
        return f"{subject} is back in review: <@{change.actor}> withdrew {undone}."
    if change.after is State.HELD:
        return f"{subject} is held: {escape(view.draft.notice or '')}{_listing(view)}"
    if change.after is State.RETRACTED and view.several and change.actor != view.draft.author_id:
        return f"{subject} was retracted by <@{change.actor}>: deleted from {reached(view)}."
    if change.after in (State.WITHDRAWN, State.RETRACTED) and change.actor != view.draft.author_id:
        return f"{subject} was {change.after.label} by <@{change.actor}>."
    if change.after is State.EXPIRED:
        return f"{subject} expired. {escape(view.draft.notice or '')}".rstrip()
    return None


def in_review(view: DraftView, link: str | None) -> str:
    """The author's private confirmation once the card is up."""
    where = f"<{link}|its review card>" if link else f"<#{view.draft.review_channel}>"
    return (
        f"{title(view)} is in review: see {where}. {length_text(view, how='')}; publish {when(view.draft.publish_at)}."
        f"{_dry(view)}"
    )


def _dry(view: DraftView) -> str:
    """What ends a message about a draft of a dry run, " DRY RUN — not sent to X." (nothing otherwise)."""
    return f" {not_sent(view.dry_run)}." if view.dry_run else ""


LIST_LIMIT = 45  # drafts drawn in /draft list's blocks (a message holds 50); its fallback text lists them all
PRIVATE_NOTE = (
    "_Drafts for a review channel you are not in show only their numbers; "
    "its members, the account's editors and the admins see their text._"
)


def pending_list(views: list[DraftView], readable: Collection[str] = frozenset()) -> tuple[str, Blocks]:
    """/draft list: what waits for review or for its time; each draft's words as typed (the text, escaped, is the fallback),
    only of the accounts in `readable` (bot.privacy): the others show their numbers."""
    if not views:
        return "Nothing is waiting: no drafts in review and nothing scheduled.", []
    hidden = [PRIVATE_NOTE] if any(view.account.name not in readable for view in views) else []
    lines = [_line(view) if view.account.name in readable else count_line(view) for view in views]
    text = "\n".join(["*Waiting for review or scheduled:*", *lines, *hidden])
    entries = _entries(views, LIST_LIMIT, readable=readable, more=" not shown: Slack takes 50 blocks in one answer")
    return text, [_heading("Waiting for review or scheduled:"), *entries, *(_note(note) for note in hidden)]


def paused_answer(pause: Pause) -> str:
    """What the admin who paused sees."""
    return (
        f":octagonal_sign: Publishing is paused for every account since {when(pause.paused_at)}. "
        "Drafts can still be written and approved; nothing goes out until you type /draft resume."
    )


def resumed_answer(rescheduled: int, held: list[str]) -> str:
    """What the admin who resumed sees."""
    waiting = (
        f" {', '.join(held)} came due while paused and wait for an editor to press Publish now on their cards." if held else ""
    )
    return f":arrow_forward: Publishing resumed; {rescheduled} scheduled post(s) go out at their time.{waiting}"


def edit_modal(view: DraftView) -> dict[str, Any]:
    """The Edit button's modal, prefilled with the draft as it is."""
    draft = view.draft
    return {
        "type": "modal",
        "callback_id": EDIT_MODAL,
        "private_metadata": str(draft.id),
        "title": {"type": "plain_text", "text": f"Edit draft {draft.number}"},
        "submit": {"type": "plain_text", "text": "Save and re-review"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "text",
                "label": {"type": "plain_text", "text": "Post"},
                "hint": {
                    "type": "plain_text",
                    "text": (
                        f"Up to {MAX_WEIGHTED_LENGTH} characters as X counts them. Saving clears every vote."
                        if view.networks == ("x",)
                        else f"As short as each of its networks ({listed(view.networks)}) takes. Saving clears every vote."
                    ),
                },
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "initial_value": draft.text},
            },
            {
                "type": "input",
                "block_id": "at",
                "optional": True,
                "label": {"type": "plain_text", "text": "New time (optional)"},
                "hint": {"type": "plain_text", "text": "Like /draft at:… — 2026-11-22T09:00, 09:00, +2h. Empty keeps the time."},
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
        ],
    }


def draft_modal(accounts: list[Account], default: str | None, origin_channel: str | None, zone: str) -> dict[str, Any]:
    """/draft with no text: the same draft as the command, written in a form."""
    blocks: Blocks = [
        {
            "type": "input",
            "block_id": "text",
            "label": {"type": "plain_text", "text": "Post"},
            "hint": {
                "type": "plain_text",
                "text": f"{_length_hint(offered_networks(accounts))} A line of --- alone starts the next post of a thread.",
            },
            "element": {"type": "plain_text_input", "action_id": "value", "multiline": True, "focus_on_load": True},
        },
        {
            "type": "input",
            "block_id": "images",
            "optional": True,
            "label": {"type": "plain_text", "text": "Images (optional)"},
            "hint": {
                "type": "plain_text",
                "text": f"PNG or JPEG, up to {images.MAX_IMAGES}, "
                f"{images.MAX_BYTES // (1024 * 1024)} MB each; they go on the first post, and the editors see them "
                "on the review card.",
            },
            "element": {
                "type": "file_input",
                "action_id": "value",
                "filetypes": list(IMAGE_FILETYPES),
                "max_files": images.MAX_IMAGES,
            },
        },
        {
            "type": "input",
            "block_id": "alt",
            "optional": True,
            "label": {"type": "plain_text", "text": "Alt text (one line per image)"},
            "hint": {
                "type": "plain_text",
                "text": "What each image shows, in order, for people who cannot see it: it goes out "
                f"with the image (up to {images.MAX_ALT:,} characters each). Needed for every image.",
            },
            "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
        },
    ]
    if len(accounts) > 1:
        options = [{"text": {"type": "plain_text", "text": f"@{a.handle} ({a.name})"}, "value": a.name} for a in accounts]
        select: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": options}
        if default is not None:
            select["initial_option"] = next(o for o in options if o["value"] == default)
        blocks.append(
            {"type": "input", "block_id": "account", "label": {"type": "plain_text", "text": "Account"}, "element": select}
        )
    if len(offered := offered_networks(accounts)) > 1:
        blocks.append(networks_input(offered, several_accounts=len(accounts) > 1))
    blocks.append(
        {
            "type": "input",
            "block_id": "when",
            "optional": True,
            "label": {"type": "plain_text", "text": "Publish at (optional)"},
            "hint": {"type": "plain_text", "text": f"In your time zone ({zone}). Empty: as soon as the editors approve it."},
            "element": {"type": "datetimepicker", "action_id": "value"},
        }
    )
    return {
        "type": "modal",
        "callback_id": DRAFT_MODAL,
        "private_metadata": origin_channel or "",
        "title": {"type": "plain_text", "text": "New draft"},
        "submit": {"type": "plain_text", "text": "Send for review"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


NETWORKS_FIELD = "networks"  # the form's checkboxes: handlers/views.py reads the networks checked there


def offered_networks(accounts: list[Account]) -> tuple[str, ...]:
    """The networks the form offers: every network of its accounts, in the order drafts go out (the desk refuses one
    the chosen account is not on)."""
    names = {name for account in accounts for name in account.network_names}
    return tuple(name for name in NETWORKS if name in names)


_LENGTH_RULES = {
    "x": f"X up to {MAX_WEIGHTED_LENGTH} (a link counts 23, most emoji 2)",
    "bluesky": f"Bluesky {BLUESKY_MAX_GRAPHEMES} (links in full)",
    "mastodon": f"Mastodon its instance's limit (a link counts {MASTODON_URL_CHARACTERS})",
}


def _length_hint(offered: tuple[str, ...]) -> str:
    """How long a post may be: X's rule, or each offered network's."""
    if offered in ((), ("x",)):
        return f"Up to {MAX_WEIGHTED_LENGTH} characters as X counts them (a link counts 23, most emoji 2)."
    return f"Each network counts it its own way: {'; '.join(_LENGTH_RULES[n] for n in offered)}."


def networks_input(offered: tuple[str, ...], *, several_accounts: bool) -> dict[str, Any]:
    """A checkbox per network, all checked: the draft goes everywhere unless some are unchecked (like /draft on:)."""
    options = [{"text": {"type": "plain_text", "text": label(name)}, "value": name} for name in offered]
    hint = "Where it goes once approved; uncheck a network to leave it out (like on: in /draft)."
    if several_accounts:
        hint += " Check only networks the chosen account is on."
    return {
        "type": "input",
        "block_id": NETWORKS_FIELD,
        "label": {"type": "plain_text", "text": "Networks"},
        "hint": {"type": "plain_text", "text": hint},
        "element": {"type": "checkboxes", "action_id": "value", "options": options, "initial_options": options},
    }


HOME_HINT = (
    "Write a post with /draft (a form opens) or /draft TEXT. Editors approve or veto on the review card, "
    "with a reaction or its buttons, or here with the buttons under what waits for their vote. "
    "/draft help lists everything."
)
HOME_LIST_LIMIT = 15  # drafts per App Home section; /draft list has them all
HOME_VOTE_LIMIT = 8  # drafts shown whole, with their buttons, under "Waiting for your vote" (a view holds 100 blocks)
VIEW_BLOCKS = 100  # Slack refuses a view with more blocks than this
# Fewer drafts per section, then fewer shown whole, until the Home fits in one view: (vote limit, list limit).
_HOME_FITS = ((HOME_VOTE_LIMIT, HOME_LIST_LIMIT), (HOME_VOTE_LIMIT, 8), (4, 8), (4, 4), (2, 2), (1, 0), (0, 0))


def home(overview: Overview, notice: str | None = None) -> dict[str, Any]:
    """The App Home tab: the switch, what waits for this person's vote (whole, with Approve and Reject), the queue, and
    what went out lately; `notice` says what their last press on it did. Shortened until Slack takes it (100 blocks)."""
    for votes, entries in _HOME_FITS:
        blocks = _home_blocks(overview, notice, votes, entries)
        if len(blocks) <= VIEW_BLOCKS:
            break
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS]}


def _home_blocks(overview: Overview, notice: str | None, vote_limit: int, list_limit: int) -> Blocks:
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "copydesk"}},
        *([{"type": "section", "text": {"type": "mrkdwn", "text": notice}}] if notice else []),
        _switch_block(overview.pause),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": HOME_HINT}]},
    ]
    waiting = [v for v in overview.waiting_for_you if v.account.name in overview.readable]  # an editor reads them all
    if waiting:
        blocks += [{"type": "divider"}, _heading(f"Waiting for your vote ({len(waiting)})")]
        for view in waiting[:vote_limit]:
            blocks += _to_vote(view, overview.card_links.get(view.draft.id))
        if len(waiting) > vote_limit:
            more = f"…and {len(waiting) - vote_limit} more: vote on their cards; /draft list shows them all."
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    sections = (
        ("In review", [v for v in overview.queue if v.draft.state is State.IN_REVIEW]),
        ("Approved and scheduled", [v for v in overview.queue if v.draft.state is State.APPROVED]),
        (":raised_hand: Held for a person", [v for v in overview.queue if v.draft.state is State.HELD]),
        ("Went out lately", overview.recent),
    )
    for heading, views in sections:
        blocks += [{"type": "divider"}, _heading(f"{heading} ({len(views)})" if heading != "Went out lately" else heading)]
        blocks += _entries(views, list_limit, readable=overview.readable) or [
            {"type": "section", "text": {"type": "mrkdwn", "text": "_Nothing._"}}
        ]
    if any(v.account.name not in overview.readable for v in (*overview.queue, *overview.recent)):
        blocks.append(_note(PRIVATE_NOTE))
    return blocks


def _to_vote(view: DraftView, link: str | None) -> Blocks:
    """One draft that waits for this editor: all of it, as its card shows it, and Approve and Reject for this version."""
    draft = view.draft
    head = (
        f"• *{draft.number}* @{view.account.handle} by <@{draft.author_id}> — {status_line(view)}"
        f" · publish {when(draft.publish_at)}"
    )
    small = length_text(view) + (f" · <{link}|its review card>" if link else "")
    if view.images or not draft.card_ts:  # its images are seen on the card only; no card yet, nothing to vote on here
        why = "it has images, shown on its review card: see them and vote there" if view.images else "its card is not up yet"
        return [
            {"type": "section", "text": {"type": "mrkdwn", "text": head}},
            *verbatim(draft.text),
            *thread_and_images(view),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{small} · {why}"}]},
        ]
    buttons = [
        {
            "type": "button",
            "action_id": HOME_APPROVE,
            "value": str(draft.id),
            "style": "primary",
            "text": {"type": "plain_text", "text": "Approve"},
        },
        {
            "type": "button",
            "action_id": HOME_REJECT,
            "value": str(draft.id),
            "style": "danger",
            "text": {"type": "plain_text", "text": "Reject"},
        },
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        *verbatim(draft.text),
        *thread_and_images(view),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": small}]},
        # the version rides along: a press counts only while it is still the draft's current one
        {"type": "actions", "block_id": home_block(draft.id, draft.version), "elements": buttons},
    ]


def home_block(draft_id: int, version: int) -> str:
    """The App Home's vote buttons' block_id: the draft and the version they were shown with."""
    return f"home-draft-{draft_id}-v{version}"


def home_vote(block_id: str) -> tuple[int, int] | None:
    """The draft and version an App Home vote button was shown with; None for any other block."""
    found = re.fullmatch(r"home-draft-(\d+)-v(\d+)", block_id)
    return (int(found[1]), int(found[2])) if found else None


def _switch_block(pause: Pause | None) -> dict[str, Any]:
    """Whether publishing is on; when paused, by whom and since when, and the reason as typed."""
    if pause is None:
        return {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":large_green_circle: Publishing is on. Admins can stop it at once with /draft pause REASON.",
            },
        }
    head = f":octagonal_sign: *Publishing is paused* by <@{pause.paused_by}> since {when(pause.paused_at)}"
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": head + (":" if pause.reason else "")}}
    if pause.reason:
        block["fields"] = [words(pause.reason[:FIELD_LIMIT])]
    return block


def _heading(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}}


def _line(view: DraftView) -> str:
    """One draft in a list, as mrkdwn (for a fallback text): its facts, and the start of its text escaped."""
    return f"{_facts(view)}\n    “{escape(_excerpt(view))}”"


def _facts(view: DraftView) -> str:
    """Number, account, author, state and time of a draft in a list."""
    draft = view.draft
    when_line = "" if draft.state in (State.APPROVED, State.PUBLISHED) else f" · publish {when(draft.publish_at)}"
    if view.several and view.links and draft.state is not State.PUBLISHED:  # out on some networks: link each
        when_line += f" · out on {linked(view.links)}"
    if view.dry_run and draft.state not in (State.PUBLISHED, State.RETRACTED):  # those say it in their status line
        when_line += f" · {not_sent(view.dry_run)}"
    return f"• *{draft.number}* @{view.account.handle} by <@{draft.author_id}> — {status_line(view)}{when_line}"


def _excerpt(view: DraftView) -> str:
    text = view.draft.text
    return text if len(text) <= 80 else text[:79] + "…"


def _entries(
    views: list[DraftView],
    limit: int,
    *,
    links: dict[int, str] | None = None,
    more: str = ": /draft list shows them all",
    readable: Collection[str] = frozenset(),
) -> Blocks:
    """A list of drafts, one section each: the facts in mrkdwn, the start of the words as typed in a plain_text field;
    only numbers for a draft of an account not in `readable` (bot.privacy)."""
    blocks: Blocks = []
    for view in views[:limit]:
        if view.account.name not in readable:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": count_line(view)}})
            continue
        link = (links or {}).get(view.draft.id)
        facts = _facts(view) + (f"\n    <{link}|Read it and vote on its card>" if link else "")
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": facts[:SECTION_LIMIT]},
                "fields": [words(f"“{_excerpt(view)}”")],
            }
        )
    if len(views) > limit:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"…and {len(views) - limit} more{more}."}})
    return blocks


def _note(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def count_line(view: DraftView) -> str:
    """One draft for someone who may not read it (bot.privacy): its number, account, state, votes and time; no words."""
    draft = view.draft
    parts = [f"• *{draft.number}*", view.account.name, draft.state.label]
    if draft.state in (State.IN_REVIEW, State.APPROVED, State.REJECTED):
        parts.append(f"{len(view.approvers)}/{view.needed} approvals")
    if len(view.parts) > 1:
        parts.append(f"a thread of {len(view.parts)} posts")
    if view.images:
        parts.append(f"{len(view.images)} image(s)")
    if view.dry_run:
        parts.append(not_sent(view.dry_run))
    if draft.state is State.PUBLISHED and view.several and view.links and view.publication:
        parts.append(f"on {linked(view.links)} {when(view.publication.finished_at)}")
    elif draft.state is State.PUBLISHED and view.publication and view.publication.url:
        parts.append(f"<{view.publication.url}|on {listed(view.networks)}> {when(view.publication.finished_at)}")
    elif draft.state in (State.IN_REVIEW, State.APPROVED, State.HELD):
        parts.append(f"due {when(draft.publish_at, missing='as soon as it is approved')}")
    return " · ".join(parts)


# pre-flight notes (bot/preflight.py)

NOTES_LISTED = 10  # domains or handles named in one note; the rest are counted


def preflight_notes(view: DraftView) -> Blocks:
    """The card's pre-flight notes, one context block from the first render: what to know before voting; none blocks."""
    if not view.notes:
        return []
    lines = [":mag: *Pre-flight* (notes only: nothing here stops the draft)", *(_preflight_line(n, view) for n in view.notes)]
    return [_note("\n".join(lines))]


def _preflight_line(note: preflight.Note, view: DraftView) -> str:
    if isinstance(note, preflight.Duplicate):
        where = (
            f"which went out {when(note.at)}"
            if note.published
            else f"approved to go out {when(note.at, missing='as soon as it can')}"
        )
        return f":repeat: *Duplicate:* the same words (ignoring case, spaces and links) as #{note.draft_id}, {where}." + (
            " X refuses a post that duplicates one of the account's." if "x" in view.networks else ""
        )
    if isinstance(note, preflight.Links):
        return (
            f":link: *Links* to {_listed(note.domains)}. X's pay-per-use pricing charges more for a post with a link "
            "than for one without."
        )
    if isinstance(note, preflight.Mentions):
        return f":speech_balloon: *Mentions* {_listed(tuple(f'@{h}' for h in note.handles))} on X."
    if isinstance(note, preflight.Budget):
        line = f":bar_chart: *Budget:* @{view.account.handle} put {note.posted} post(s) on X in the last 24 hours"
        left = [
            f"{q.remaining}{f' of {q.limit}' if q.limit is not None else ''} left {span} (until {when(q.resets, missing='X did not say')})"
            for q, span in ((note.window, "in this 15-minute window"), (note.day, "in 24 hours"))
            if q is not None
        ]
        return line + (f"; X last reported {' and '.join(left)}." if left else ".")
    start, end = (t.strftime("%H:%M") for t in note.hours)
    moment = f"{'Its time' if note.timed else 'Now'}, {note.at:%H:%M %Z},"
    return f":crescent_moon: *Hours:* {moment} is inside {start}–{end}, the hours of the rule “{escape(note.rule)}”."


def _listed(names: tuple[str, ...]) -> str:
    """`a`, `b` and 3 more: names shown as code, so Slack turns none of them into a link or a mention."""
    shown = ", ".join(f"`{escape(n)}`" for n in names[:NOTES_LISTED])
    return shown + (f" and {len(names) - NOTES_LISTED} more" if len(names) > NOTES_LISTED else "")
