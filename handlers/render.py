"""Pure functions from domain views to Slack text and Block Kit; nothing here talks to Slack."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bot.length import MAX_WEIGHTED_LENGTH
from bot.ports import Change, DraftView
from bot.review import State
from handlers.slack_text import escape

Blocks = list[dict[str, Any]]
SECTION_LIMIT = 3000  # characters in one section block's text

_STATE_WORDS = {
    State.IN_REVIEW: ":hourglass_flowing_sand: In review",
    State.APPROVED: ":white_check_mark: Approved",
    State.REJECTED: ":no_entry_sign: Rejected",
    State.PUBLISHING: ":outbox_tray: Publishing",
    State.PUBLISHED: ":rocket: Published",
    State.FAILED: ":warning: Publishing failed",
}


def when(moment: datetime | None, *, missing: str = "as soon as it is approved") -> str:
    """A time every reader sees in their own time zone (Slack's date token), with a UTC fallback."""
    if moment is None:
        return missing
    epoch = int(moment.timestamp())
    fallback = moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


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
    draft, needed = view.draft, view.account.approvals_required
    head = _STATE_WORDS[draft.state]
    if draft.state is State.IN_REVIEW:
        votes = f" — {len(view.approvers)} of {needed} approvals"
        return head + votes + (f": {people(view.approvers)}" if view.approvers else "")
    if draft.state is State.APPROVED:
        return f"{head} by {people(view.approvers)} — goes out {when(draft.publish_at, missing='now')}"
    if draft.state is State.REJECTED:
        return f"{head} by {people(view.rejecters)}"
    if draft.state is State.PUBLISHED and view.publication and view.publication.url:
        return f"{head} <{view.publication.url}|on X> {when(view.publication.finished_at)}"
    if draft.state is State.FAILED and view.publication and view.publication.error:
        return f"{head}: {escape(view.publication.error)}"
    return head


def card(view: DraftView, approve: str, reject: str) -> tuple[str, Blocks]:
    """The review card: the text exactly as written, who wrote it, where and when it goes, and its votes."""
    draft = view.draft
    blocks: Blocks = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*{title(view)}* ({view.account.name}) · written by <@{draft.author_id}>",
            },
        },
        # plain_text shows the post verbatim: no mrkdwn, no :emoji: conversion. A section holds 3000
        # characters and a post full of links can be longer (X counts each as 23), so it may take several.
        *(
            {"type": "section", "text": {"type": "plain_text", "text": draft.text[i : i + SECTION_LIMIT], "emoji": False}}
            for i in range(0, len(draft.text), SECTION_LIMIT)
        ),
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{view.length.weighted}/{MAX_WEIGHTED_LENGTH} characters as X counts them"
                    f" · publish {when(draft.publish_at)}",
                }
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": status_line(view)}},
    ]
    if draft.state in (State.IN_REVIEW, State.APPROVED, State.REJECTED):
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Editors: react with :{approve}: to approve or :{reject}: to veto. "
                        f"{view.account.approvals_required} approval(s) needed; removing a reaction takes the vote back.",
                    }
                ],
            }
        )
    return f"{title(view)}: {status_line(view)}", blocks


def thread_reply(view: DraftView, change: Change) -> str:
    """What the card's thread hears when the draft changes state."""
    draft = view.draft
    if change.after is State.APPROVED:
        return f"Approved by {people(view.approvers)}. It goes out {when(draft.publish_at, missing='now')}."
    if change.after is State.REJECTED:
        return f"Vetoed by {people(view.rejecters)}. It will not be published unless the veto is withdrawn."
    if change.after is State.IN_REVIEW and change.before is State.APPROVED:
        return f"<@{change.actor}> withdrew an approval: back in review and no longer scheduled."
    if change.after is State.IN_REVIEW:
        return f"<@{change.actor}> withdrew the veto: back in review."
    if change.after is State.PUBLISHED and view.publication:
        return f"Published on X: {view.publication.url}"
    if change.after is State.FAILED and view.publication:
        return f"Publishing failed: {escape(view.publication.error or 'unknown reason')}"
    return status_line(view)


def author_note(view: DraftView, change: Change) -> str | None:
    """The direct message the author gets when their draft changes state."""
    subject = f"Your draft {view.draft.number} for @{view.account.handle}"
    if change.after is State.APPROVED:
        return f"{subject} was approved by {people(view.approvers)}; it goes out {when(view.draft.publish_at, missing='now')}."
    if change.after is State.REJECTED:
        return f"{subject} was vetoed by {people(view.rejecters)}."
    if change.after is State.PUBLISHED and view.publication:
        return f"{subject} is live: {view.publication.url}"
    if change.after is State.FAILED and view.publication:
        return f"{subject} could not be published: {escape(view.publication.error or 'unknown reason')}"
    if change.after is State.IN_REVIEW:
        undone = "an approval" if change.before is State.APPROVED else "the veto"
        return f"{subject} is back in review: <@{change.actor}> withdrew {undone}."
    return None


def in_review(view: DraftView, link: str | None) -> str:
    """The author's private confirmation once the card is up."""
    where = f"<{link}|its review card>" if link else f"<#{view.draft.review_channel}>"
    return (
        f"{title(view)} is in review: see {where}. "
        f"{view.length.weighted}/{MAX_WEIGHTED_LENGTH} characters; publish {when(view.draft.publish_at)}."
    )


def pending_list(views: list[DraftView]) -> str:
    """/draft list: what waits for review or for its time."""
    if not views:
        return "Nothing is waiting: no drafts in review and nothing scheduled."
    lines = ["*Waiting for review or scheduled:*"]
    for view in views:
        excerpt = view.draft.text if len(view.draft.text) <= 80 else view.draft.text[:79] + "…"
        lines.append(
            f"• *{view.draft.number}* @{view.account.handle} by <@{view.draft.author_id}> — "
            f"{status_line(view)} · publish {when(view.draft.publish_at)}\n    “{escape(excerpt)}”"
        )
    return "\n".join(lines)
