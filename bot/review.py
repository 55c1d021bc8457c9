"""The editorial rules: whose reaction counts, and what a set of votes decides."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    """Where a draft is in its life; the ledger stores these words."""

    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    HELD = "held"  # a person must decide: X may have the post, or its time passed during a pause
    WITHDRAWN = "withdrawn"
    RETRACTED = "retracted"  # published, then deleted from X
    EXPIRED = "expired"  # still in review when its time ran out (expire_after_hours, on_missed_time: expire): never goes out

    @property
    def label(self) -> str:
        """The state in words: in review, held, ..."""
        return self.value.replace("_", " ")


# Until publishing starts, a draft's state is whatever its votes decide.
UNDECIDED = frozenset({State.IN_REVIEW, State.APPROVED, State.REJECTED})
# What /draft list and the pause touch: everything not yet settled, including what waits for a person.
OPEN = (State.IN_REVIEW, State.APPROVED, State.HELD)
# The `reaction` a vote cast with the card's Approve or Reject button is stored under (not an emoji name).
BUTTON = "button"
# What the author (or an admin) may still edit.
EDITABLE = frozenset({State.IN_REVIEW, State.APPROVED, State.REJECTED})


class Kind(StrEnum):
    """What a reaction means."""

    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class Vote:
    """One editor's reaction on a card."""

    user_id: str
    reaction: str
    kind: Kind
    version: int | None = None  # the version of the draft the card showed when it was cast
    content_sha256: str | None = None  # and that version's content (bot/content.py): the vote is for exactly that


@dataclass(frozen=True)
class Requirement:
    """A rule's `require`: one user, or a user group of which one member suffices, must be among the approvers."""

    id: str  # U…/W… or S…
    members: frozenset[str]


@dataclass(frozen=True)
class Rules:
    """Who may vote on one draft and how many approvals it needs (with its rules' effects applied)."""

    author_id: str
    editors: frozenset[str]  # the owner among them
    approvals_required: int
    allow_self_approval: bool
    revisers: frozenset[str] = frozenset()  # whoever else changed its text or images, at any version: authors of it too
    owner: str | None = None  # their veto is final: it survives an edit, and rejects a held or failed draft too
    require: tuple[Requirement, ...] = ()

    def missing(self, approvers: Iterable[str]) -> tuple[Requirement, ...]:
        """The requirements none of `approvers` meets."""
        who = set(approvers)
        return tuple(r for r in self.require if not r.members & who)

    @property
    def authors(self) -> frozenset[str]:
        """Who wrote the words and images under review: the author, and whoever changed them since."""
        return frozenset({self.author_id, *self.revisers})

    def counts(self, user_id: str, kind: Kind) -> bool:
        """Whether this user's reaction of this kind is a vote."""
        if user_id not in self.editors:
            return False
        return kind is Kind.REJECT or user_id not in self.authors or self.allow_self_approval

    def reachable(self) -> bool:
        """Whether enough editors other than a barred author exist to ever approve, meeting every requirement."""
        voters = self.editors if self.allow_self_approval else self.editors - self.authors
        return len(voters) >= self.approvals_required and not self.missing(voters)


@dataclass(frozen=True)
class Tally:
    """The distinct editors approving and rejecting."""

    approvers: tuple[str, ...]
    rejecters: tuple[str, ...]


_SKIN_TONE = re.compile(r"::skin-tone-\d$")


def without_skin_tone(reaction: str) -> str:
    """The reaction a name means: `+1::skin-tone-2` is `+1`."""
    return _SKIN_TONE.sub("", reaction)


def reaction_kind(reaction: str, approve: Iterable[str], reject: Iterable[str]) -> Kind | None:
    """Approve, reject or nothing; a skin tone does not change what a reaction means."""
    name = without_skin_tone(reaction)
    if name in approve:
        return Kind.APPROVE
    if name in reject:
        return Kind.REJECT
    return None


def tally(votes: Iterable[Vote]) -> Tally:
    """Count each voter once per kind, in the order they voted.

    Only votes that counted when they were cast are stored, so they are not judged again against
    today's editor list: a lookup that fails later must not make a veto disappear.
    """
    approvers: dict[str, None] = {}
    rejecters: dict[str, None] = {}
    for vote in votes:
        (approvers if vote.kind is Kind.APPROVE else rejecters)[vote.user_id] = None
    return Tally(tuple(approvers), tuple(rejecters))


def decide(counted: Tally, rules: Rules) -> State:
    """One veto rejects; a quorum of approvals that meets every requirement approves; otherwise it stays in review."""
    if counted.rejecters:
        return State.REJECTED
    if len(counted.approvers) >= rules.approvals_required and not rules.missing(counted.approvers):
        return State.APPROVED
    return State.IN_REVIEW
