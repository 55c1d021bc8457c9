"""The event log's hash chain: each event's hash covers its own fields and the hash before it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64  # what the first event chains to


def event_hash(previous: str, row: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the event exactly as stored, so any later edit shows."""
    fields = [previous, row["id"], row["at"], row["draft_id"], row["actor"], row["action"], row["detail"]]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()
