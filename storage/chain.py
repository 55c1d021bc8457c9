"""The event log's hash chain: each event's hash covers its own fields and the hash before it.

Plain SHA-256 shows a change to anyone who did not also recompute every hash after it, which anyone who can write
the file can do. Keyed (HMAC-SHA256 with a secret that is not in the file), only someone holding the secret can.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

GENESIS = "0" * 64  # what the first event chains to
PLAIN = "sha256"
KEYED = "hmac-sha256"


def event_hash(previous: str, row: dict[str, Any], key: bytes | None = None) -> str:
    """The hash over the previous hash and the event exactly as stored, so any later edit shows; keyed when `key` is given."""
    fields = [previous, row["id"], row["at"], row["draft_id"], row["actor"], row["action"], row["detail"]]
    message = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
